"""EWM mean and std against their naive twin and pandas' ``ewm``."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_multigran._kernels._dispatch_stats import window_statistics_extra
from tests._reference import naive_window_statistics_extra
from tests._strategies import CLOSED, kernel_params, sorted_panels, window_specs

EWM_STATS = ["ewm_mean", "ewm_std"]
HOUR = 3600 * 10**9


def _params(**kwargs):
    return kernel_params(EWM_STATS, **kwargs)


@settings(max_examples=150, deadline=None)
@given(
    panel=sorted_panels(),
    windows=window_specs,
    n_lags=st.integers(1, 3),
    closed=st.sampled_from(CLOSED),
    stats=st.lists(st.sampled_from(EWM_STATS), min_size=1, max_size=2, unique=True),
    min_periods=st.integers(0, 3),
    ddof=st.integers(0, 1),
)
def test_ewm_matches_naive_loop(
    panel, windows, n_lags, closed, stats, min_periods, ddof
):
    values, times, group_starts, out_rows, n_out = panel
    params = _params(
        n_lags=n_lags,
        closed=closed,
        stats=stats,
        min_periods=min_periods,
        ddof=ddof,
        fill_value=-99.0,
        out_rows=out_rows,
        n_out=n_out,
    )
    expected = naive_window_statistics_extra(
        values, times, group_starts, windows, **params
    )
    got = window_statistics_extra(values, times, group_starts, windows, **params)
    np.testing.assert_array_equal(got == -99.0, expected == -99.0)
    # the std of nearly equal values is a small difference of rounded terms in
    # the twin (sum(w (x - mean)^2) with a rounded mean): bound it by the data
    scale = np.nanmax(np.abs(values), initial=1.0)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-7 * scale)


def _irregular(rng, n_rows, nan_rate=0.05):
    times = (
        np.datetime64("2024-01-01", "ns").astype(np.int64)
        + np.cumsum(rng.integers(1, 240, size=n_rows)) * 60 * 10**9
    )
    values = 50 + np.cumsum(rng.normal(size=n_rows))
    values[rng.random(n_rows) < nan_rate] = np.nan
    return values, times


@pytest.mark.parametrize("min_periods", [0, 1, 5])
def test_ewm_mean_matches_pandas_times(rng, min_periods):
    values, times = _irregular(rng, 2000)
    got = window_statistics_extra(
        values[:, None],
        times,
        np.array([0, len(values)]),
        [("time", HOUR), ("time", 24 * HOUR)],
        **_params(stats=["ewm_mean"], min_periods=min_periods, n_out=len(values)),
    )
    stamps = pd.to_datetime(times, unit="ns")
    for g, halflife in enumerate(["1h", "1D"]):
        expected = (
            pd.Series(values)
            .ewm(halflife=halflife, times=stamps, min_periods=min_periods)
            .mean()
        )
        np.testing.assert_allclose(got[:, g], expected.to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("halflife", [1, 7, 60])
def test_ewm_rows_match_pandas_halflife(rng, halflife):
    values, times = _irregular(rng, 1500, nan_rate=0.1)
    got = window_statistics_extra(
        values[:, None],
        times,
        np.array([0, len(values)]),
        [("rows", halflife)],
        **_params(n_out=len(values)),
    )
    ewm = pd.Series(values).ewm(halflife=halflife)
    np.testing.assert_allclose(got[:, 0], ewm.mean().to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(got[:, 1], ewm.std().to_numpy(), rtol=1e-9)


def test_ewm_std_matches_pandas_on_evenly_spaced_times(rng):
    n_rows = 1500
    values = 10 + np.cumsum(rng.normal(size=n_rows))
    values[rng.random(n_rows) < 0.05] = np.nan
    times = np.arange(n_rows, dtype=np.int64) * 60 * 10**9
    got = window_statistics_extra(
        values[:, None],
        times,
        np.array([0, n_rows]),
        [("time", HOUR)],
        **_params(n_out=n_rows),
    )
    # pandas 2.3's ewm(times=...).std() drops the times and uses com=1 (it equals
    # ewm(com=1).std()), so the reference is the row half-life: on a 1-minute grid,
    # 60 rows are the same half-life as "1h"
    ewm_rows = pd.Series(values).ewm(halflife=60)
    np.testing.assert_allclose(got[:, 1], ewm_rows.std().to_numpy(), rtol=1e-9)
    biased = window_statistics_extra(
        values[:, None],
        times,
        np.array([0, n_rows]),
        [("time", HOUR)],
        **_params(stats=["ewm_std"], ddof=0, n_out=n_rows),
    )
    np.testing.assert_allclose(
        biased[:, 0], np.sqrt(ewm_rows.var(bias=True).to_numpy()), rtol=1e-9
    )


@pytest.mark.parametrize("closed", CLOSED)
def test_lags_and_closed_read_pandas_as_of_the_reference_time(rng, closed):
    # lag k of row i: pandas' value at the last row with t <= t_i - k g (or < for
    # the strict past), from a plain searchsorted
    values, times = _irregular(rng, 1200)
    n_lags = 4
    got = window_statistics_extra(
        values[:, None],
        times,
        np.array([0, len(values)]),
        [("time", HOUR)],
        **_params(stats=["ewm_mean"], closed=closed, n_lags=n_lags, n_out=len(values)),
    )
    stamps = pd.to_datetime(times, unit="ns")
    expected_at = pd.Series(values).ewm(halflife="1h", times=stamps).mean().to_numpy()
    side = "right" if closed in ("right", "both") else "left"
    for lag in range(n_lags):
        last = np.searchsorted(times, times - lag * HOUR, side=side) - 1
        expected = np.where(last >= 0, expected_at[np.maximum(last, 0)], np.nan)
        np.testing.assert_allclose(got[:, lag], expected, rtol=1e-12)


@pytest.mark.parametrize("closed", CLOSED)
@pytest.mark.parametrize("windows", [[("time", HOUR)], [("rows", 30)]])
def test_a_late_tie_hands_the_group_to_the_general_loop(rng, closed, windows):
    # the mean's one pass stops at a group's first tied time and the general loop
    # writes the whole group again, context rows skipped; the other group keeps
    # its one pass
    n_rows = 600
    values, times = _irregular(rng, n_rows)
    group_starts = np.array([0, 250, n_rows])
    times[248] = times[247]
    n_context = 40
    out_rows = np.full(n_rows, -1, np.int64)
    out_rows[n_context:] = rng.permutation(n_rows - n_context)
    params = _params(
        stats=["ewm_mean"],
        closed=closed,
        out_rows=out_rows,
        n_out=n_rows - n_context,
    )
    got = window_statistics_extra(
        values[:, None], times, group_starts, windows, **params
    )
    expected = naive_window_statistics_extra(
        values[:, None], times, group_starts, windows, **params
    )
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_groups_match_pandas_groupby_ewm(rng):
    sizes = [300, 1, 200]
    values, times = _irregular(rng, sum(sizes))
    group_starts = np.concatenate([[0], np.cumsum(sizes)])
    # each group's own clock, starting anywhere
    for lo, hi in zip(group_starts[:-1], group_starts[1:], strict=True):
        times[lo:hi] -= times[lo] - rng.integers(0, 10**12)
    got = window_statistics_extra(
        values[:, None],
        times,
        group_starts,
        [("time", HOUR)],
        **_params(stats=["ewm_mean"], n_out=len(values)),
    )
    for lo, hi in zip(group_starts[:-1], group_starts[1:], strict=True):
        expected = (
            pd.Series(values[lo:hi])
            .ewm(halflife="1h", times=pd.to_datetime(times[lo:hi], unit="ns"))
            .mean()
        )
        np.testing.assert_allclose(got[lo:hi, 0], expected.to_numpy(), rtol=1e-12)


def test_ewm_keeps_the_digits_of_a_large_offset(rng):
    n_rows = 5000
    values = 1e9 + np.cumsum(rng.normal(size=n_rows)) * 1e-3
    # the values' own digits below 1e9, exactly (Sterbenz)
    noise = values - 1e9
    times = np.arange(n_rows, dtype=np.int64)
    got = window_statistics_extra(
        values[:, None],
        times,
        np.array([0, n_rows]),
        [("rows", 50)],
        **_params(n_out=n_rows),
    )
    centred = window_statistics_extra(
        noise[:, None],
        times,
        np.array([0, n_rows]),
        [("rows", 50)],
        **_params(n_out=n_rows),
    )
    # ewm(x + c) = ewm(x) + c and std(x + c) = std(x): the mean kept relative to
    # the first value is rounded at 1e9 once (half an ulp, 6e-8); the std, from
    # deviations, keeps the noise's digits
    np.testing.assert_allclose(got[:, 0] - 1e9, centred[:, 0], atol=1.2e-7)
    np.testing.assert_allclose(got[1:, 1], centred[1:, 1], rtol=1e-6)
