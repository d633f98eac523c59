"""Rolling medians and quantiles against their naive twin, numpy, pandas and polars."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_multigran._kernels import _dispatch_stats
from sklearn_multigran._kernels._dispatch_stats import (
    check_statistic,
    window_statistics_extra,
)
from tests._reference import naive_window_statistics_extra
from tests._strategies import CLOSED, kernel_params, sorted_panels, window_specs

ORDER_STATS = ["median", "q0.1", "q0.5", "q0.9", "q0.37", "q0.999"]


def _params(**kwargs):
    return kernel_params(["median"], **kwargs)


@settings(max_examples=150, deadline=None)
@given(
    panel=sorted_panels(),
    windows=window_specs,
    n_lags=st.integers(1, 3),
    closed=st.sampled_from(CLOSED),
    stats=st.lists(st.sampled_from(ORDER_STATS), min_size=1, max_size=4, unique=True),
    min_periods=st.integers(0, 3),
    buffer_rows=st.sampled_from([0, 64]),
)
def test_quantiles_match_naive_loop(
    panel, windows, n_lags, closed, stats, min_periods, buffer_rows
):
    values, times, group_starts, out_rows, n_out = panel
    params = _params(
        n_lags=n_lags,
        closed=closed,
        stats=stats,
        min_periods=min_periods,
        fill_value=-99.0,
        out_rows=out_rows,
        n_out=n_out,
    )
    expected = naive_window_statistics_extra(
        values, times, group_starts, windows, **params
    )
    # 0 sends every window to the tree (in blocks of 16 rows), 64 to the buffer
    old = _dispatch_stats._BUFFER_ROWS
    _dispatch_stats._BUFFER_ROWS = buffer_rows
    try:
        got = window_statistics_extra(values, times, group_starts, windows, **params)
    finally:
        _dispatch_stats._BUFFER_ROWS = old
    # the same two order statistics and numpy's own interpolation: to the bit
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("size", [1000, 50])
def test_long_windows_match_numpy_on_strided_views(rng, size):
    # windows far longer than the hypothesis panels: a random walk with ties
    n_rows = 6000
    values = np.round(np.cumsum(rng.normal(size=n_rows)), 1)
    times = np.arange(n_rows, dtype=np.int64)
    got = window_statistics_extra(
        values[:, None],
        times,
        np.array([0, n_rows]),
        [("rows", size)],
        **_params(stats=["median", "q0.1", "q0.9"], n_out=n_rows),
    )
    windows = np.lib.stride_tricks.sliding_window_view(values, size)
    np.testing.assert_array_equal(got[size - 1 :, 0], np.median(windows, axis=1))
    for col, q in ((1, 0.1), (2, 0.9)):
        np.testing.assert_array_equal(
            got[size - 1 :, col], np.quantile(windows, q, axis=1)
        )


@pytest.mark.parametrize("closed", CLOSED)
@pytest.mark.parametrize("kind", ["rows", "time"])
def test_median_and_quantile_match_pandas_rolling(rng, closed, kind):
    n_rows = 400
    values = rng.normal(size=n_rows) * 5 + 100
    values[rng.random(n_rows) < 0.1] = np.nan
    # strictly increasing irregular times: pandas cuts ties by position
    times = np.cumsum(rng.integers(1, 4, size=n_rows)).astype(np.int64)
    size = 9
    got = window_statistics_extra(
        values[:, None],
        times,
        np.array([0, n_rows]),
        [(kind, size)],
        **_params(closed=closed, stats=["median", "q0.25"], n_out=n_rows),
    )
    index = pd.to_datetime(times, unit="ns") if kind == "time" else None
    series = pd.Series(values, index=index)
    window = f"{size}ns" if kind == "time" else size
    roll = series.rolling(window, closed=closed, min_periods=1)
    np.testing.assert_allclose(got[:, 0], roll.median().to_numpy(), rtol=1e-15)
    np.testing.assert_allclose(
        got[:, 1], roll.quantile(0.25).to_numpy(), rtol=1e-14, atol=0
    )


def test_median_matches_polars_by_time(rng):
    pl = pytest.importorskip("polars")
    n_rows = 2000
    values = 100 + np.cumsum(rng.normal(size=n_rows))
    values[rng.random(n_rows) < 0.05] = np.nan
    times = np.cumsum(rng.integers(1, 90, size=n_rows)).astype(np.int64) * 10**9
    got = window_statistics_extra(
        values[:, None],
        times,
        np.array([0, n_rows]),
        [("time", 3600 * 10**9)],
        **_params(stats=["median", "q0.9"], n_out=n_rows),
    )
    frame = pl.DataFrame(
        {"t": pl.Series(times).cast(pl.Datetime("ns")), "x": values}
    ).with_columns(pl.col("x").fill_nan(None))
    theirs = frame.select(
        pl.col("x").rolling_median_by("t", window_size="1h"),
        pl.col("x")
        .rolling_quantile_by(
            "t", window_size="1h", quantile=0.9, interpolation="linear"
        )
        .alias("q"),
    )
    np.testing.assert_allclose(got[:, 0], theirs["x"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(got[:, 1], theirs["q"].to_numpy(), rtol=1e-12)


def test_groups_do_not_leak(rng):
    # two groups with far apart levels: no window of the second sees the first
    values = np.concatenate([rng.normal(size=50), 1e6 + rng.normal(size=50)])
    times = np.tile(np.arange(50, dtype=np.int64), 2)
    got = window_statistics_extra(
        values[:, None],
        times,
        np.array([0, 50, 100]),
        [("time", 1000)],
        **_params(stats=["median"], n_out=100),
    )
    expected = np.concatenate(
        [
            [np.median(values[: i + 1]) for i in range(50)],
            [np.median(values[50 : 51 + i]) for i in range(50)],
        ]
    )
    np.testing.assert_array_equal(got[:, 0], expected)


@pytest.mark.parametrize(
    ("stat", "match"),
    [
        ("q1.5", r"'q1.5' has level 1.5; the level must lie strictly between 0"),
        ("q0", r"'q0' has level 0.0"),
        ("qnan", r"'qnan' has level nan"),
        ("quartile", r"Unknown statistic 'quartile'.*'q0.1'"),
        ("mediane", r"Unknown statistic 'mediane'"),
    ],
)
def test_bad_statistic_names_are_named(stat, match):
    with pytest.raises(ValueError, match=match):
        check_statistic(stat)
