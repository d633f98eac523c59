"""Rolling slope, skewness and kurtosis against exact sums, polyfit, scipy, pandas."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from sklearn_multigran._kernels._dispatch_stats import window_statistics_extra
from tests._reference import (
    _naive_slope,
    naive_window_members,
    naive_window_statistics_extra,
)
from tests._strategies import CLOSED, kernel_params, sorted_panels, window_specs

SHAPE_STATS = ["slope", "skew", "kurt"]


def _params(**kwargs):
    return kernel_params(SHAPE_STATS, **kwargs)


@settings(max_examples=200, deadline=None)
@given(
    panel=sorted_panels(),
    windows=window_specs,
    n_lags=st.integers(1, 3),
    closed=st.sampled_from(CLOSED),
    stats=st.lists(st.sampled_from(SHAPE_STATS), min_size=1, max_size=3, unique=True),
    min_periods=st.integers(0, 5),
)
def test_shape_matches_exact_naive_loop(
    panel, windows, n_lags, closed, stats, min_periods
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
    got = window_statistics_extra(values, times, group_starts, windows, **params)
    # the same windows are undefined in both
    np.testing.assert_array_equal(got == -99.0, expected == -99.0)
    # The twin is exact (rational arithmetic). A window's slope, skew or kurt can
    # be near 0 by cancellation, where only an absolute bound makes sense: rounding
    # of the shifted sums is relative to the data's spread, and skew and kurt are
    # scale-free and bounded by the window length.
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-7)


def _slope_references(values, times, size, closed):
    """np.polyfit and exact rational slopes on every window, per ``size``."""
    fitted = np.full(len(values), np.nan)
    exact = np.full(len(values), np.nan)
    for i in range(len(values)):
        members = naive_window_members(
            times, 0, len(values), i, "time", size, 0, closed
        )
        t = times[members]
        y = values[members]
        keep = ~np.isnan(y)
        if len(np.unique(t[keep])) >= 2:
            # centred, scaled times and centred values keep polyfit well conditioned
            u = (t[keep] - t[keep].mean()) / size
            fitted[i] = np.polyfit(u, y[keep] - y[keep].mean(), 1)[0]
            exact[i] = _naive_slope(t[keep], y[keep], "time", size)
    return fitted, exact


@pytest.mark.parametrize("closed", CLOSED)
def test_slope_matches_polyfit_on_irregular_nanosecond_times(rng, closed):
    n_rows = 500
    size = 3600 * 10**9
    # irregular 1-minute-ish stamps in 2024, in ns: 1.7e18, far beyond float64's
    # exact integers, where uncentred sums of t and t^2 would be meaningless
    times = (
        np.datetime64("2024-03-01", "ns").astype(np.int64)
        + np.cumsum(rng.integers(1, 180, size=n_rows)) * 10**9
        + rng.integers(0, 10**9, size=n_rows)
    )
    values = 1e6 + np.cumsum(rng.normal(size=n_rows))
    values[rng.random(n_rows) < 0.05] = np.nan
    got = window_statistics_extra(
        values[:, None],
        times,
        np.array([0, n_rows]),
        [("time", size)],
        **_params(stats=["slope"], closed=closed, n_out=n_rows),
    )[:, 0]
    fitted, exact = _slope_references(values, times, size, closed)
    # polyfit's least squares round at about 1e-16 |y| / spread(u): 1e-8 relative
    # on a few-point window of values at 1e6; the exact slope is matched far closer
    np.testing.assert_allclose(got, fitted, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(got, exact, rtol=1e-12, atol=1e-12)


def test_slope_of_a_line_is_its_slope(rng):
    # y = 3 + 2 u exactly, u the time in hours: slope 2 per hour, per row 2 / 60
    n_rows = 300
    minutes = np.cumsum(rng.integers(1, 5, size=n_rows))
    times = minutes.astype(np.int64) * 60 * 10**9
    values = 3.0 + 2.0 * minutes / 60.0
    got = window_statistics_extra(
        values[:, None],
        times,
        np.array([0, n_rows]),
        [("time", 3600 * 10**9)],
        **_params(stats=["slope"], n_out=n_rows),
    )[:, 0]
    np.testing.assert_allclose(got[1:], 2.0, rtol=1e-12)
    assert np.isnan(got[0])  # one time: no line


def test_row_slope_is_per_row(rng):
    n_rows = 200
    values = rng.normal(size=n_rows)
    got = window_statistics_extra(
        values[:, None],
        np.zeros(n_rows, np.int64),  # row windows ignore times
        np.array([0, n_rows]),
        [("rows", 10)],
        **_params(stats=["slope"], n_out=n_rows),
    )[:, 0]
    for i in range(9, n_rows):
        expected = np.polyfit(np.arange(10.0), values[i - 9 : i + 1], 1)[0]
        np.testing.assert_allclose(got[i], expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("closed", CLOSED)
@pytest.mark.parametrize("kind", ["rows", "time"])
def test_skew_kurt_match_scipy_on_each_window(rng, closed, kind):
    n_rows, size = 300, 12
    values = rng.gamma(2.0, size=n_rows) + 50.0
    values[rng.random(n_rows) < 0.1] = np.nan
    times = np.cumsum(rng.integers(1, 3, size=n_rows)).astype(np.int64)
    got = window_statistics_extra(
        values[:, None],
        times,
        np.array([0, n_rows]),
        [(kind, size)],
        **_params(stats=["skew", "kurt"], closed=closed, n_out=n_rows),
    )
    for i in range(n_rows):
        members = naive_window_members(times, 0, n_rows, i, kind, size, 0, closed)
        window = values[members]
        window = window[~np.isnan(window)]
        skew = sps.skew(window, bias=False) if len(window) >= 3 else np.nan
        kurt = sps.kurtosis(window, bias=False) if len(window) >= 4 else np.nan
        np.testing.assert_allclose(got[i], [skew, kurt], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", ["rows", "time"])
def test_skew_kurt_match_pandas_rolling(rng, kind):
    n_rows, size = 500, 20
    values = rng.standard_t(5, size=n_rows)
    values[rng.random(n_rows) < 0.05] = np.nan
    times = np.cumsum(rng.integers(1, 3, size=n_rows)).astype(np.int64)
    got = window_statistics_extra(
        values[:, None],
        times,
        np.array([0, n_rows]),
        [(kind, size)],
        **_params(stats=["skew", "kurt"], min_periods=4, n_out=n_rows),
    )
    index = pd.to_datetime(times, unit="ns") if kind == "time" else None
    roll = pd.Series(values, index=index).rolling(
        f"{size}ns" if kind == "time" else size, min_periods=4
    )
    # pandas' moments are accurate on centred data of unit scale
    np.testing.assert_allclose(got[:, 0], roll.skew().to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(got[:, 1], roll.kurt().to_numpy(), rtol=1e-8)


def test_shape_stays_accurate_on_a_large_offset(rng):
    # a random walk at 1e9: the shifted sums hold the noise, not the offset
    n_rows, size = 20_000, 500
    values = 1e9 + np.cumsum(rng.normal(size=n_rows)) * 1e-3
    times = np.arange(n_rows, dtype=np.int64)
    got = window_statistics_extra(
        values[:, None],
        times,
        np.array([0, n_rows]),
        [("time", size)],
        **_params(n_out=n_rows),
    )
    rows = rng.choice(np.arange(size, n_rows), size=30, replace=False)
    for i in rows:
        window = values[i - size + 1 : i + 1]
        t = np.arange(size) / size
        expected = [
            np.polyfit(t - t.mean(), window - window.mean(), 1)[0],
            sps.skew(window - window.mean(), bias=False),
            sps.kurtosis(window - window.mean(), bias=False),
        ]
        np.testing.assert_allclose(got[i], expected, rtol=1e-7)


def test_constant_windows_have_no_skew_or_kurt():
    values = np.array([1.0, 2.0, 3.0, 5.0, 5.0, 5.0, 5.0, 5.0, np.nan, 5.0, 5.0])
    n_rows = len(values)
    got = window_statistics_extra(
        values[:, None],
        np.arange(n_rows, dtype=np.int64),
        np.array([0, n_rows]),
        [("rows", 4)],
        **_params(stats=["skew", "kurt"], n_out=n_rows),
    )
    # rows 6.. see only 5.0: undefined, not the 0 that rounding would give
    assert np.isnan(got[6:]).all()
    np.testing.assert_allclose(got[3, 0], sps.skew(values[:4], bias=False))
