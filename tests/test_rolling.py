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
from tests._reference import (
    exact_window_moments,
    naive_window_members,
    naive_window_statistics,
    round_exact,
    sqrt_exact,
)

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


# --- values near the float64 range: right, or inf exactly where the truth overflows

_EPS = np.finfo(np.float64).eps
_TINY = 2.0**-1074  # the smallest subnormal
_FLOAT_MAX = np.finfo(np.float64).max


def _assert_close_to_exact(got, exact, *, rtol, atol):
    """``got`` within ``rtol * |exact| + atol`` of the Fraction ``exact``; an
    infinite ``got`` only where ``exact`` is (within rtol) beyond float max."""
    assert not math.isnan(got), round_exact(exact)
    if math.isinf(got):
        assert (got > 0) == (exact > 0), (got, round_exact(exact))
        assert abs(exact) >= Fraction(_FLOAT_MAX) * (1 - rtol), (got, exact)
        return
    assert abs(Fraction(got) - exact) <= rtol * abs(exact) + Fraction(atol), (
        got,
        round_exact(exact),
    )


def _assert_window_stat(got, window, stat, ddof):
    """One statistic of one non-empty window against exact rationals."""
    n = len(window)
    if stat == "count":
        assert got == n
        return
    if stat in ("min", "max", "first", "last"):
        expected = {
            "min": min(window),
            "max": max(window),
            "first": window[0],
            "last": window[-1],
        }[stat]
        assert got == expected
        return
    total, mean, var = exact_window_moments(window, ddof)
    if stat in ("std", "var") and var is None:
        assert math.isnan(got)  # the fill value
        return
    # compensated sums: as if summed in twice the precision, so a bound of a few
    # ulps of the result plus eps**2 times the magnitudes summed (cancellation);
    # subnormals are rounded to absolute multiples of the smallest one
    magnitudes = sum((abs(Fraction(v)) for v in window), Fraction(0))
    if stat in ("sum", "mean"):
        exact = total if stat == "sum" else mean
        scale = 1 if stat == "sum" else Fraction(1, n)
        atol = float(4 * n * Fraction(_EPS) ** 2 * magnitudes * scale) + 4 * _TINY
        _assert_close_to_exact(got, exact, rtol=4 * _EPS, atol=atol)
    elif stat == "var":
        _assert_close_to_exact(got, var, rtol=8 * _EPS, atol=4 * (n + 2) * _TINY)
    else:
        # std is the square root of the rounded var where that is finite (so it
        # underflows with it), and of the exact var where var overflows
        rounded = round_exact(var)
        expected = math.sqrt(rounded) if math.isfinite(rounded) else sqrt_exact(var)
        if math.isinf(expected):
            assert got == math.inf
            return
        # var within a few smallest subnormals moves its root by their root
        atol = math.sqrt(4 * (n + 2) * _TINY)
        assert abs(got - expected) <= 4 * _EPS * expected + atol, (got, expected)


def _check_against_exact(
    values, times, windows, n_lags, closed, stats, ddof, n_threads=None
):
    n_rows = len(values)
    group_starts = np.array([0, n_rows])
    got = window_statistics(
        values[:, None],
        times,
        group_starts,
        windows,
        n_lags=n_lags,
        closed=closed,
        stats=stats,
        min_periods=1,
        ddof=ddof,
        fill_value=np.nan,
        out_rows=None,
        n_out=n_rows,
        n_threads=n_threads,
    )
    per_granularity = len(stats) * n_lags
    for i in range(n_rows):
        for g, (kind, size) in enumerate(windows):
            for lag in range(n_lags):
                members = naive_window_members(
                    times, 0, n_rows, i, kind, size, lag, closed
                )
                window = [float(v) for v in values[members] if not np.isnan(v)]
                for k, stat in enumerate(stats):
                    value = got[i, g * per_granularity + k * n_lags + lag]
                    if not window:
                        if stat == "count":
                            assert value == 0.0
                        else:
                            # the fill value: fewer than min_periods=1 values
                            assert math.isnan(value)
                        continue
                    _assert_window_stat(value, window, stat, ddof)


# the variants of the sweep: sums only, sums and squares, extremes, all
_VARIANT_STATS = [ALL_STATS, ["mean", "sum"], ["std"], ["var", "min", "first"]]


@pytest.mark.parametrize("stats", _VARIANT_STATS)
@pytest.mark.parametrize("kind", ["rows", "time"])
@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        # the cases of issue 13: std was NaN, mean -inf and sum NaN
        ([1e300, 2e300], {"mean": 1.5e300, "sum": 3e300, "std": 5e299, "var": np.inf}),
        ([1.7e308, -1.7e308], {"mean": 0.0, "sum": 0.0, "std": 1.7e308, "var": np.inf}),
        ([1.7e308, 1.7e308], {"mean": 1.7e308, "sum": np.inf, "std": 0.0, "var": 0.0}),
        ([-1.7e308, -1.7e308], {"mean": -1.7e308, "sum": -np.inf, "var": 0.0}),
    ],
)
def test_values_near_float_max_are_right_or_inf(pair, expected, kind, stats):
    values = np.array([np.nan, *pair])
    times = np.array([0, 3, 4])
    got = window_statistics(
        values[:, None],
        times,
        np.array([0, 3]),
        [(kind, 2)],
        n_lags=1,
        closed="right",
        stats=stats,
        min_periods=1,
        ddof=0,
        fill_value=np.nan,
        out_rows=None,
        n_out=3,
    )
    for k, stat in enumerate(stats):
        if stat in expected:
            assert got[2, k] == expected[stat], stat
        _assert_window_stat(got[2, k], pair, stat, 0)


_EXTREME_VALUES = st.one_of(
    st.floats(1e308, _FLOAT_MAX),
    st.floats(-_FLOAT_MAX, -1e308),
    st.floats(5e299, 2e300),
    st.floats(-2e300, -5e299),
    st.floats(-1e-308, 1e-308),  # subnormals and zeros
    st.sampled_from([np.nan, 1.0, -3.5, 1e154, 2e-160]),
)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(_EXTREME_VALUES, min_size=1, max_size=12),
    steps=st.lists(st.integers(0, 3), min_size=12, max_size=12),
    windows=st.lists(
        st.tuples(st.sampled_from(["rows", "time"]), st.integers(1, 6)),
        min_size=1,
        max_size=2,
    ),
    n_lags=st.integers(1, 2),
    closed=st.sampled_from(CLOSED),
    stats=st.lists(st.sampled_from(ALL_STATS), min_size=1, max_size=9, unique=True),
    ddof=st.integers(0, 1),
)
def test_values_near_the_float64_range_match_exact_rationals(
    values, steps, windows, n_lags, closed, stats, ddof
):
    """Every statistic, window kind and sweep variant, against exact rationals, on
    values near +-1.7e308, +-1e300 and subnormals: never NaN, inf only where the
    true value overflows."""
    values = np.array(values)
    times = np.cumsum(steps[: len(values)]).astype(np.int64)
    _check_against_exact(values, times, windows, n_lags, closed, stats, ddof)


# --- time windows as long as int64 nanoseconds allow

_CENTURY = pd.Timedelta("36500D").value


def _time_window_statistics(values, times, size, n_lags, stats=("mean", "count")):
    return window_statistics(
        values[:, None],
        times,
        np.array([0, len(times)]),
        [("time", size)],
        n_lags=n_lags,
        closed="left",
        stats=list(stats),
        min_periods=1,
        ddof=0,
        fill_value=np.nan,
        out_rows=None,
        n_out=len(times),
    )


@pytest.mark.parametrize("n_lags", [1, 2])
def test_hundred_year_window_on_2020_data(rng, n_lags):
    """36500 days and 2020 reach back to 1920 (or 1820): inside int64 nanoseconds,
    which the old bound (reach + extent < 2**62) refused."""
    index = pd.date_range("2020-01-01", periods=60, freq="37h")
    values = rng.normal(size=60)
    times = index.as_unit("ns").asi8
    got = _time_window_statistics(values, times, _CENTURY, n_lags)
    roll = pd.Series(values, index=index).rolling("36500D", closed="left")
    mean = roll.mean().to_numpy()
    np.testing.assert_allclose(got[:, 0], mean, rtol=1e-12, atol=1e-15)
    # (pandas counts no rows as NaN)
    np.testing.assert_array_equal(got[:, n_lags], roll.count().fillna(0).to_numpy())
    expected = naive_window_statistics(
        values[:, None],
        times,
        np.array([0, 60]),
        [("time", _CENTURY)],
        n_lags=n_lags,
        closed="left",
        stats=["mean", "count"],
        min_periods=1,
        ddof=0,
        fill_value=np.nan,
        out_rows=np.arange(60),
        n_out=60,
    )
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_hundred_year_window_beyond_int64_names_granularity_and_lags():
    times = pd.date_range("2020-01-01", periods=5, freq="D").as_unit("ns").asi8
    # three centuries back from 2020 is 1720, before int64 nanoseconds begin (1677)
    with pytest.raises(ValueError, match=r"36500 days.*n_lags=3.*fewer lags"):
        _time_window_statistics(np.zeros(5), times, _CENTURY, 3)


def test_time_reach_bound_is_exact():
    """The earliest time minus the widest offset (n_lags * size + 1) may be int64's
    smallest value, and not one below."""
    size, n_lags = 2**60, 3
    earliest = -(2**63) + n_lags * size + 1
    times = np.array([earliest, earliest + 1, earliest + size])
    got = _time_window_statistics(np.array([1.0, 2.0, 4.0]), times, size, n_lags)
    expected = naive_window_statistics(
        np.array([[1.0], [2.0], [4.0]]),
        times,
        np.array([0, 3]),
        [("time", size)],
        n_lags=n_lags,
        closed="left",
        stats=["mean", "count"],
        min_periods=1,
        ddof=0,
        fill_value=np.nan,
        out_rows=np.arange(3),
        n_out=3,
    )
    np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="n_lags=3"):
        _time_window_statistics(np.zeros(3), times - 1, size, n_lags)


def test_values_near_float_max_in_threaded_chunks(rng, monkeypatch):
    """The fallback reads its window from the whole column, so chunks that cut
    through windows (as the threaded path does) change nothing."""
    monkeypatch.setattr(_dispatch, "_MIN_ROWS_PER_CHUNK", 1)
    n_rows = 120
    values = rng.choice([1.7e308, -1.7e308, 1e300, 2e300, 1.0], size=n_rows)
    values = values * rng.uniform(0.5, 1.0, size=n_rows)
    values[rng.random(n_rows) < 0.1] = np.nan
    times = np.cumsum(rng.integers(0, 3, size=n_rows))
    _check_against_exact(
        values, times, [("rows", 4), ("time", 5)], 2, "both", ALL_STATS, 1, 2
    )
