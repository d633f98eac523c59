"""The numba window kernels against their naive twin, pandas, and numerical stress."""

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_multigran._kernels import _dispatch
from sklearn_multigran._kernels._dispatch import window_statistics
from sklearn_multigran._kernels._rolling import STAT_CODES, max_window_rows
from tests._reference import naive_window_statistics

ALL_STATS = list(STAT_CODES)
CLOSED = ["left", "right", "both", "neither"]


@st.composite
def sorted_panels(draw):
    """Sorted rows of 1-3 groups with ties, gaps, NaN runs and context rows."""
    n_rows = draw(st.integers(1, 40))
    n_columns = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n_rows, n_columns)) * 10.0 ** rng.integers(-3, 4)
    nan_rate = draw(st.sampled_from([0.0, 0.2, 0.6, 1.0]))
    values[rng.random(values.shape) < nan_rate] = np.nan
    n_groups = draw(st.integers(1, 3))
    cuts = np.sort(rng.integers(0, n_rows + 1, size=n_groups - 1))
    group_starts = np.concatenate([[0], cuts, [n_rows]]).astype(np.int64)
    times = np.empty(n_rows, np.int64)
    max_step = draw(st.integers(0, 5))  # 0 makes every row of a group a tie
    for lo, hi in zip(group_starts[:-1], group_starts[1:], strict=True):
        steps = rng.integers(0, max_step + 1, size=hi - lo)
        times[lo:hi] = rng.integers(-50, 50) + np.cumsum(steps)
    emitted = rng.random(n_rows) >= draw(st.sampled_from([0.0, 0.3]))
    out_rows = np.full(n_rows, -1, np.int64)
    out_rows[emitted] = rng.permutation(int(emitted.sum()))
    return values, times, group_starts, out_rows, int(emitted.sum())


window_specs = st.lists(
    st.tuples(st.sampled_from(["rows", "time"]), st.integers(1, 9)),
    min_size=1,
    max_size=3,
)


@settings(max_examples=150, deadline=None)
@given(
    panel=sorted_panels(),
    windows=window_specs,
    n_lags=st.integers(1, 3),
    closed=st.sampled_from(CLOSED),
    stats=st.lists(st.sampled_from(ALL_STATS), min_size=1, max_size=9, unique=True),
    min_periods=st.integers(0, 3),
    ddof=st.integers(0, 2),
    n_threads=st.sampled_from([1, 2]),
)
def test_kernel_matches_naive_loop(
    panel, windows, n_lags, closed, stats, min_periods, ddof, n_threads
):
    values, times, group_starts, out_rows, n_out = panel
    params = dict(
        n_lags=n_lags,
        closed=closed,
        stats=stats,
        min_periods=min_periods,
        ddof=ddof,
        fill_value=-99.0,
        out_rows=out_rows,
        n_out=n_out,
    )
    expected = naive_window_statistics(values, times, group_starts, windows, **params)
    # tiny chunks, so the threaded path cuts through groups and windows
    old = _dispatch._MIN_ROWS_PER_CHUNK
    _dispatch._MIN_ROWS_PER_CHUNK = 1
    try:
        got = window_statistics(
            values, times, group_starts, windows, n_threads=n_threads, **params
        )
    finally:
        _dispatch._MIN_ROWS_PER_CHUNK = old
    # a running variance carries rounding of the values it has seen, so its error
    # scales with the data's square, not with the (possibly tiny) window variance
    scale = np.nanmax(np.abs(values), initial=1.0)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12 * scale**2)


def _pandas_rolling(series, window, closed, stat, min_periods, ddof):
    roll = series.rolling(window, closed=closed, min_periods=min_periods)
    if stat in ("std", "var"):
        return getattr(roll, stat)(ddof=ddof)
    if stat in ("first", "last"):
        # pandas' rolling first/last do not skip NaN; the nearest non-NaN value at
        # either end of the window does
        return roll.apply(
            lambda w: (
                w[~np.isnan(w)][0 if stat == "first" else -1]
                if (~np.isnan(w)).sum() >= max(min_periods, 1)
                else np.nan
            ),
            raw=True,
        )
    return getattr(roll, stat)()


@pytest.mark.parametrize("closed", CLOSED)
@pytest.mark.parametrize("kind", ["rows", "time"])
@pytest.mark.parametrize("stat", ALL_STATS)
def test_kernel_matches_pandas_rolling(rng, closed, kind, stat):
    n_rows = 300
    values = rng.normal(size=n_rows) * 5 + 100
    values[rng.random(n_rows) < 0.1] = np.nan
    # strictly increasing irregular times: pandas cuts ties by position
    times = np.cumsum(rng.integers(1, 4, size=n_rows)).astype(np.int64)
    size = 7
    ddof = 1
    index = pd.to_datetime(times, unit="s")
    series = pd.Series(values, index=index)
    window = pd.Timedelta(seconds=size) if kind == "time" else size
    min_periods = 1 if stat != "count" else 0
    n_lags = 2 if kind == "rows" else 1
    got = window_statistics(
        values[:, None],
        times * 10**9 if kind == "time" else times,
        np.array([0, n_rows]),
        [(kind, size * 10**9 if kind == "time" else size)],
        n_lags=n_lags,
        closed=closed,
        stats=[stat],
        min_periods=min_periods,
        ddof=ddof,
        fill_value=np.nan,
        out_rows=np.arange(n_rows),
        n_out=n_rows,
    )
    expected = _pandas_rolling(series, window, closed, stat, min_periods, ddof)
    if stat == "count":
        expected = expected.fillna(0.0)
    np.testing.assert_allclose(got[:, 0], expected.to_numpy(), rtol=1e-10, atol=1e-10)
    if kind == "rows":
        # a lag of one window is pandas' shift by the window's row count
        lagged = expected.shift(size)
        if stat == "count":
            lagged = lagged.fillna(0.0)
        np.testing.assert_allclose(got[:, 1], lagged.to_numpy(), rtol=1e-10, atol=1e-10)


@settings(max_examples=60, deadline=None)
@given(
    n_rows=st.integers(1, 1500),
    n_groups=st.integers(1, 4),
    max_step=st.integers(0, 4),
    sizes=st.lists(st.integers(0, 60), min_size=1, max_size=3),
    n_lags=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_ring_bound_covers_every_window(
    n_rows, n_groups, max_step, sizes, n_lags, seed
):
    """The ring's size bound against a naive count of every window's rows."""
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.integers(0, n_rows + 1, size=n_groups - 1))
    group_starts = np.concatenate([[0], cuts, [n_rows]]).astype(np.int64)
    times = np.empty(n_rows, np.int64)
    for lo, hi in zip(group_starts[:-1], group_starts[1:], strict=True):
        times[lo:hi] = np.cumsum(rng.integers(0, max_step + 1, size=hi - lo))
    row_lo, row_hi = np.sort(rng.integers(0, n_rows + 1, size=2))
    sizes = np.array(sizes, np.int64)
    bound = max_window_rows(
        times, group_starts, np.ones(len(sizes), bool), sizes, n_lags, 1, row_lo, row_hi
    )
    largest = 0
    group_of = np.searchsorted(group_starts, np.arange(n_rows), side="right") - 1
    for i in range(row_lo, row_hi):
        in_group = times[group_starts[group_of[i]] : group_starts[group_of[i] + 1]]
        for size in sizes:
            for lag in range(n_lags):
                # closed="both", the widest of the four
                hi = times[i] - lag * size
                lo = hi - size
                largest = max(largest, int(((in_group >= lo) & (in_group <= hi)).sum()))
    assert bound >= largest


def _row_window_of_one_series(values, size, stats, *, min_periods=1, ddof):
    """``window_statistics`` of one series, one row window of ``size``, lag 0,
    closed="right"."""
    n_rows = len(values)
    return window_statistics(
        np.reshape(values, (n_rows, 1)),
        np.arange(n_rows),
        np.array([0, n_rows]),
        [("rows", size)],
        n_lags=1,
        closed="right",
        stats=stats,
        min_periods=min_periods,
        ddof=ddof,
        fill_value=np.nan,
        out_rows=None,
        n_out=n_rows,
    )


def test_variance_accurate_for_large_offset(rng):
    """1e9 + noise: the naive sum-of-squares formula loses every digit here."""
    n_rows, size = 20_000, 50
    values = 1e9 + rng.normal(size=n_rows)
    got = _row_window_of_one_series(values, size, ["var", "mean"], ddof=1)
    windows = np.lib.stride_tricks.sliding_window_view(values, size)
    # two-pass variance of each window on exactly representable deviations
    expected_var = windows.var(axis=1, ddof=1)
    np.testing.assert_allclose(got[size - 1 :, 0], expected_var, rtol=1e-6)
    np.testing.assert_allclose(got[size - 1 :, 1], windows.mean(axis=1), rtol=1e-15)


def test_variance_accurate_after_a_level_shift_across_a_gap(rng):
    """1e9 + noise, a gap of NaN, then noise around 0: no window may measure the
    new level's spread from a value of the old one (which rounds the noise away)."""
    size = 15
    values = np.concatenate(
        [
            1e9 + rng.normal(size=100),
            np.full(size - 3, np.nan),
            rng.normal(size=100) * 1e-3,
            np.full(size + 4, np.nan),
            -1e9 + rng.normal(size=100),
        ]
    )
    n_rows = len(values)
    got = _row_window_of_one_series(
        values, size, ["var", "mean", "sum"], min_periods=2, ddof=1
    )
    for i in range(size - 1, n_rows):
        window = values[i - size + 1 : i + 1]
        window = window[~np.isnan(window)]
        if len(window) < 2:
            assert np.isnan(got[i]).all()
            continue
        # two-pass on the window's own values
        np.testing.assert_allclose(got[i, 0], window.var(ddof=1), rtol=1e-9)
        np.testing.assert_allclose(got[i, 1], window.mean(), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(got[i, 2], math.fsum(window), rtol=1e-13, atol=1e-12)


def test_variance_never_negative_and_zero_on_constant(rng):
    # long constant stretches after wild values stress the removal updates
    values = np.repeat(rng.normal(size=50) * 10.0 ** rng.integers(-8, 8, 50), 100)
    got = _row_window_of_one_series(values, 30, ["var", "std"], ddof=0)
    assert (got >= 0).all()
    constant = np.lib.stride_tricks.sliding_window_view(values, 30)
    constant = np.ptp(constant, axis=1) == 0
    assert (got[29:][constant] == 0).all()


@pytest.mark.parametrize(
    "stats",
    [["mean", "var", "sum"], ["mean", "var", "min", "max"], ["mean"], ["var"]],
)
def test_equal_values_give_exactly_their_value_and_no_spread(rng, stats):
    """Whether or not the sweep keeps the extremes (which set this outright), a
    window of equal values has exactly that mean and zero variance: both parts'
    shifts are values of the window, so the shifted sums are exact zeros."""
    levels = rng.normal(size=40) * 10.0 ** rng.integers(-300, 300, 40)
    values = np.repeat(levels, 37)
    values[rng.random(values.size) < 0.2] = np.nan
    got = _row_window_of_one_series(values, 9, stats, ddof=0)
    windows = np.lib.stride_tricks.sliding_window_view(values, 9)
    constant = np.array([len(set(w[~np.isnan(w)])) == 1 for w in windows], dtype=bool)
    level = np.array(
        [w[~np.isnan(w)][0] if c else 0 for w, c in zip(windows, constant, strict=True)]
    )
    if "mean" in stats:
        np.testing.assert_array_equal(
            got[8:, stats.index("mean")][constant], level[constant]
        )
    if "var" in stats:
        np.testing.assert_array_equal(got[8:, stats.index("var")][constant], 0.0)


def test_single_value_std_is_exactly_zero():
    values = np.array([[np.nan], [3.3], [np.nan], [1e300]])
    got = _row_window_of_one_series(values, 2, ["std", "mean", "count"], ddof=0)
    np.testing.assert_array_equal(
        got, [[np.nan, np.nan, 0], [0, 3.3, 1], [0, 3.3, 1], [0, 1e300, 1]]
    )


@pytest.mark.parametrize(
    ("times", "group_starts", "size"),
    [
        # 3 * 2**62 itself passes int64's largest value
        ([0, 1], [0, 2], 2**62),
        # the extreme time is the first of a later group, far from the data's ends:
        # -2**62 + 10 - 3 * 2**61 passes int64's smallest value
        ([0, -(2**62) + 10, 5], [0, 1, 3], 2**61),
    ],
)
def test_time_reach_beyond_int64_is_an_error(times, group_starts, size):
    with pytest.raises(ValueError, match="n_lags=3"):
        window_statistics(
            np.zeros((len(times), 1)),
            np.array(times),
            np.array(group_starts),
            [("time", size)],
            n_lags=3,
            closed="left",
            stats=["mean"],
            min_periods=1,
            ddof=0,
            fill_value=np.nan,
            out_rows=None,
            n_out=len(times),
        )


@pytest.mark.slow
@pytest.mark.parametrize("n_threads", [1, 2])
def test_large_series_matches_pandas_with_threads(n_threads):
    """Two million rows: real chunk boundaries, windows of thousands of rows."""
    rng = np.random.default_rng(7)
    n_rows = 2_000_000
    values = rng.normal(size=n_rows).cumsum() + 1e6
    values[rng.random(n_rows) < 0.01] = np.nan
    index = pd.Timestamp("2020-01-01") + pd.to_timedelta(np.arange(n_rows), "min")
    series = pd.Series(values, index=index)
    got = window_statistics(
        values[:, None],
        index.as_unit("ns").asi8,
        np.array([0, n_rows]),
        [("time", pd.Timedelta("1D").value), ("time", pd.Timedelta("15min").value)],
        n_lags=1,
        closed="right",
        stats=["mean", "std", "min", "max"],
        min_periods=1,
        ddof=1,
        fill_value=np.nan,
        out_rows=np.arange(n_rows),
        n_out=n_rows,
        n_threads=n_threads,
    )
    for g, window in enumerate(["1D", "15min"]):
        roll = series.rolling(window, closed="right", min_periods=1)
        for k, expected in enumerate([roll.mean(), None, roll.min(), roll.max()]):
            if expected is not None:
                np.testing.assert_allclose(
                    got[:, g * 4 + k], expected.to_numpy(), rtol=1e-12
                )
        # pandas' rolling std drifts by ~1e-7 relative on this random walk far from
        # zero; an exact rational two-pass variance on sampled rows is the oracle,
        # which the kernels match to rounding
        for i in rng.integers(0, n_rows, size=10):
            start = index.searchsorted(index[i] - pd.Timedelta(window), side="right")
            window_values = values[start : i + 1]
            window_values = window_values[~np.isnan(window_values)]
            if len(window_values) < 2:
                continue
            exact = [Fraction(v) for v in window_values]
            mean = sum(exact) / len(exact)
            var = sum((v - mean) ** 2 for v in exact) / (len(exact) - 1)
            np.testing.assert_allclose(got[i, g * 4 + 1], float(var) ** 0.5, rtol=1e-12)
