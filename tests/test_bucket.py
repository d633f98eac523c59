"""Calendar buckets ("day", "week", "month", ``CalendarPeriod``) against zoneinfo.

The oracle (``_reference.naive_calendar_buckets``) reads every time with
``datetime.astimezone(ZoneInfo(zone))`` and groups rows by their local date, so it
shares nothing with the pandas conversion and the numba kernel under test. Rows are
sampled around every UTC-offset transition from 1990 to 2035 of each zone, found by
zoneinfo alone.
"""

import datetime
import zoneinfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_multigran import CalendarPeriod, GranularityTransformer
from tests._reference import naive_calendar_buckets

ZONES = (
    "Africa/Cairo",
    "Pacific/Chatham",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "America/Santiago",
    "Asia/Kolkata",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "America/Havana",
    "Asia/Tehran",
    "UTC",
)
STATS = ("mean", "std", "min", "max", "sum", "count", "first", "last")
LAGS = (0, 1, 2)
_NS = 10**9
_UTC = datetime.timezone.utc


def transitions(zone, first_year=1990, last_year=2035):
    """UTC seconds of every offset change of ``zone`` in the years, by bisection."""
    info = zoneinfo.ZoneInfo(zone)

    def offset(seconds):
        return (
            datetime.datetime.fromtimestamp(seconds, _UTC).astimezone(info).utcoffset()
        )

    start = int(datetime.datetime(first_year, 1, 1, tzinfo=_UTC).timestamp())
    stop = int(datetime.datetime(last_year + 1, 1, 1, tzinfo=_UTC).timestamp())
    found = []
    step = 86_400 // 2  # no zone changes its offset twice within half a day
    lo = start
    before = offset(lo)
    for hi in range(start + step, stop + 1, step):
        after = offset(hi)
        if after != before:
            a, b = lo, hi
            while b - a > 1:
                mid = (a + b) // 2
                if offset(mid) == before:
                    a = mid
                else:
                    b = mid
            found.append(b)
        lo, before = hi, after
    return found


def sample_times(zone, step_s, reach_s, every=1):
    """UTC ns of rows every ``step_s`` within ``reach_s`` of each transition, plus
    each local midnight nearby (zoneinfo's reading of it, fold 0)."""
    info = zoneinfo.ZoneInfo(zone)
    points = set()
    moments = transitions(zone)[::every] or [
        int(datetime.datetime(2020, 3, 1, tzinfo=_UTC).timestamp())
    ]
    for moment in moments:
        points.update(range(moment - reach_s, moment + reach_s, step_s))
        local = datetime.datetime.fromtimestamp(moment, _UTC).astimezone(info)
        for days in (-1, 0, 1):
            day = local.date() + datetime.timedelta(days=days)
            midnight = datetime.datetime(day.year, day.month, day.day, tzinfo=info)
            points.add(int(midnight.timestamp()))
            points.add(int(midnight.timestamp()) - 1)
    return np.array(sorted(points), dtype=np.int64) * _NS


def _values(n_rows, seed, n_columns=1):
    rng = np.random.default_rng(seed)
    values = rng.normal(100.0, 10.0, (n_rows, n_columns))
    values[rng.random((n_rows, n_columns)) < 0.05] = np.nan
    return values


def _frame(times_ns, values, zone):
    index = pd.DatetimeIndex(times_ns.view("datetime64[ns]"))
    if zone is not None:
        index = index.tz_localize("UTC").tz_convert(zone)
    return pd.DataFrame(
        values, columns=[f"x{c}" for c in range(values.shape[1])], index=index
    )


def _check_zone(zone, times_ns, unit, week_start, closed="left"):
    values = _values(len(times_ns), seed=len(times_ns))
    rng = np.random.default_rng(1)
    order = rng.permutation(len(times_ns))  # unsorted input
    X = _frame(times_ns[order], values[order], zone)
    spec = (
        unit if week_start == "monday" else CalendarPeriod(unit, week_start=week_start)
    )
    gt = GranularityTransformer((spec,), stats=STATS, lags=list(LAGS), closed=closed)
    got = gt.fit_transform(X)
    want = naive_calendar_buckets(
        values[order],
        times_ns[order],
        [None] * len(order),
        unit,
        zone,
        week_start=week_start,
        lags=LAGS,
        stats=STATS,
        closed=closed,
    )
    assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("zone", ZONES)
def test_every_transition_against_zoneinfo(zone):
    times_ns = sample_times(zone, step_s=3600 + 17 * 60, reach_s=36 * 3600)
    for unit, week_start in (
        ("day", "monday"),
        ("week", "sunday"),
        ("month", "monday"),
    ):
        _check_zone(zone, times_ns, unit, week_start)


@pytest.mark.slow
@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("closed", ["left", "right"])
def test_every_transition_15min_against_zoneinfo(zone, closed):
    # 15-minute rows within 6 hours of every transition: the fine grid where the
    # local clock jumps (the day-long neighbourhoods are the fast test's)
    times_ns = sample_times(zone, step_s=900, reach_s=6 * 3600)
    for unit, week_start in (
        ("day", "monday"),
        ("week", "monday"),
        ("week", "wednesday"),
        ("month", "monday"),
    ):
        _check_zone(zone, times_ns, unit, week_start, closed)


def test_transitions_found():
    # Berlin: two a year; Kolkata: none; Cairo's 2023 return to DST included
    assert len(transitions("Europe/Berlin")) == 2 * 46
    assert transitions("Asia/Kolkata") == []
    cairo = [
        datetime.datetime.fromtimestamp(s, _UTC).year
        for s in transitions("Africa/Cairo")
    ]
    assert 2023 in cairo


def test_dst_days_are_one_day():
    # Berlin's 23-hour 2024-03-31 and 25-hour 2024-10-27 are one day each
    for day, hours in (("2024-03-31", 23), ("2024-10-27", 25)):
        index = pd.date_range(day, periods=hours + 1, freq="h", tz="Europe/Berlin")
        X = pd.DataFrame({"x": np.ones(hours + 1)}, index=index)
        gt = GranularityTransformer(("day",), stats=("count",), lags=[0, 1])
        out = gt.fit_transform(X)
        assert_array_equal(out[:, 0], np.r_[np.arange(hours), 0])
        assert out[-1, 1] == hours


def test_closed_right_and_ties():
    index = pd.DatetimeIndex(
        ["2024-01-01 10:00", "2024-01-01 10:00", "2024-01-01 11:00", "2024-01-02 00:00"]
    )
    X = pd.DataFrame({"x": [1.0, 2.0, 4.0, 8.0]}, index=index)
    left = GranularityTransformer(("day",), stats=("sum", "last"), lags=[0, 1])
    nan = np.nan
    assert_array_equal(
        left.fit_transform(X),
        [
            [nan, nan, nan, nan],
            [nan, nan, nan, nan],
            [3.0, nan, 2.0, nan],
            [nan, 7.0, nan, 4.0],
        ],
    )
    right = GranularityTransformer(("day",), stats=("sum",), lags=[0], closed="right")
    assert_array_equal(right.fit_transform(X)[:, 0], [3.0, 3.0, 7.0, 8.0])


def test_naive_times_with_tz_read_as_written():
    wall = pd.date_range("2024-03-30 20:00", periods=40, freq="90min")
    values = _values(40, seed=3)
    X = pd.DataFrame({"x": values[:, 0]}, index=wall)
    berlin = GranularityTransformer(
        (CalendarPeriod("day", tz="Europe/Berlin"),), stats=STATS, lags=list(LAGS)
    )
    want = naive_calendar_buckets(
        values,
        wall.as_unit("ns").asi8,
        [None] * 40,
        "day",
        None,
        lags=LAGS,
        stats=STATS,
    )
    assert_allclose(berlin.fit_transform(X), want, rtol=1e-12)
    # aware times in another zone are converted to tz's calendar
    aware = X.tz_localize("UTC")
    got = GranularityTransformer(
        (CalendarPeriod("day", tz="Asia/Kathmandu"),), stats=STATS, lags=list(LAGS)
    ).fit_transform(aware)
    want = naive_calendar_buckets(
        values,
        aware.index.as_unit("ns").asi8,
        [None] * 40,
        "day",
        "Asia/Kathmandu",
        lags=LAGS,
        stats=STATS,
    )
    assert_allclose(got, want, rtol=1e-12)


def test_groups_polars_and_history():
    pl = pytest.importorskip("polars")
    rng = np.random.default_rng(5)
    n = 600
    times = (
        np.datetime64("2024-01-25", "ns")
        + np.sort(rng.integers(0, 60 * 86_400, n)).astype("timedelta64[s]")
    ).astype("datetime64[ns]")
    groups = rng.choice(["a", "b", "c"], n)
    values = _values(n, seed=6, n_columns=2)
    X = pd.DataFrame(
        {"when": times, "series": groups, "u": values[:, 0], "v": values[:, 1]}
    )
    specs = ("day", "week", "month", "6h")
    gt = GranularityTransformer(
        specs,
        stats=("mean", "max", "count"),
        lags=[0, 2],
        time_column="when",
        group_column="series",
    )
    got = gt.fit_transform(X)
    names = gt.get_feature_names_out()
    assert names[0] == "u__day__mean__lag0"
    assert "v__month__count__lag2" in names
    assert "u__week__max__lag0" in names
    for k, unit in enumerate(("day", "week", "month")):
        want = naive_calendar_buckets(
            values,
            times.astype(np.int64),
            list(groups),
            unit,
            None,
            lags=(0, 2),
            stats=("mean", "max", "count"),
        )
        assert_allclose(got[:, 12 * k : 12 * (k + 1)], want, rtol=1e-12)
    polars_out = gt.fit_transform(
        pl.DataFrame(
            {"when": times, "series": groups, "u": values[:, 0], "v": values[:, 1]}
        )
    )
    assert_array_equal(polars_out, got)
    # transform with fitted history: the later rows see the fitted periods
    cut = X["when"] < np.datetime64("2024-03-01")
    gt.fit(X[cut])
    assert_allclose(gt.transform(X[~cut]), got[~cut.to_numpy()], rtol=1e-12)


def test_feature_names_and_errors():
    period = CalendarPeriod("week", tz="Europe/Berlin", week_start="sunday")
    X = pd.DataFrame({"x": [1.0, 2.0]}, index=pd.date_range("2024-01-01", periods=2))
    gt = GranularityTransformer(("day", "1D", period), stats=("mean",)).fit(X)
    assert list(gt.get_feature_names_out()) == [
        "x__day__mean__lag0",
        "x__1D__mean__lag0",
        "x__week-sunday@Europe/Berlin__mean__lag0",
    ]
    with pytest.raises(ValueError, match="unit='year' is not a calendar period"):
        CalendarPeriod("year")
    with pytest.raises(ValueError, match="tz='Mars/Base' is not an IANA"):
        CalendarPeriod("day", tz="Mars/Base")
    with pytest.raises(ValueError, match="week_start='someday'"):
        CalendarPeriod("week", week_start="someday")
    with pytest.raises(ValueError, match="need a time source"):
        GranularityTransformer(("day",)).fit(np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"\['median'\], which calendar periods"):
        GranularityTransformer(("day",), stats=("median",)).fit(X)
    assert CalendarPeriod("day") == CalendarPeriod("day")
    assert repr(period) == (
        "CalendarPeriod('week', tz='Europe/Berlin', week_start='sunday')"
    )


@settings(max_examples=60)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_rows=st.integers(1, 60),
    unit=st.sampled_from(["day", "week", "month"]),
    week_start=st.sampled_from(["monday", "thursday", "sunday"]),
    zone=st.sampled_from([None, "America/Havana", "Pacific/Chatham"]),
    closed=st.sampled_from(["left", "right", "both", "neither"]),
    min_periods=st.integers(0, 3),
    ddof=st.integers(0, 1),
    lags=st.lists(st.integers(0, 4), min_size=1, max_size=3, unique=True),
)
def test_property_against_oracle(
    seed, n_rows, unit, week_start, zone, closed, min_periods, ddof, lags
):
    # ties, gaps of empty periods, groups, NaN runs and unsorted rows
    rng = np.random.default_rng(seed)
    start = np.datetime64("2023-10-20", "s").astype(np.int64)
    spread = int(rng.choice([3, 40, 200])) * 86_400
    times = (start + rng.integers(0, spread // 3600, n_rows) * 3600) * _NS
    groups = rng.choice(["a", "b"], n_rows)
    values = rng.integers(0, 4, (n_rows, 1)).astype(np.float64)
    values[rng.random((n_rows, 1)) < 0.3] = np.nan
    index = pd.DatetimeIndex(times.view("datetime64[ns]"))
    if zone is not None:
        index = index.tz_localize("UTC").tz_convert(zone)
    X = pd.DataFrame({"g": groups, "x": values[:, 0]}, index=index)
    week_start = week_start if unit == "week" else "monday"
    gt = GranularityTransformer(
        (CalendarPeriod(unit, week_start=week_start),),
        stats=STATS,
        lags=lags,
        closed=closed,
        group_column="g",
        min_periods=min_periods,
        ddof=ddof,
        fill_value=-1.0,
    )
    want = naive_calendar_buckets(
        values,
        times,
        list(groups),
        unit,
        zone,
        week_start=week_start,
        lags=lags,
        stats=STATS,
        closed=closed,
        min_periods=min_periods,
        ddof=ddof,
        fill_value=-1.0,
    )
    assert_allclose(gt.fit_transform(X), want, rtol=1e-9, atol=1e-9)


def test_polars_aware_times_use_their_zone():
    pl = pytest.importorskip("polars")
    times = pl.datetime_range(
        pl.datetime(2024, 3, 30), pl.datetime(2024, 4, 1), "6h", eager=True
    ).dt.replace_time_zone("Europe/Berlin")
    frame = pl.DataFrame({"t": times, "x": np.arange(len(times), dtype=float)})
    gt = GranularityTransformer(("day",), stats=("count", "sum"), time_column="t")
    want = naive_calendar_buckets(
        np.arange(len(times), dtype=float)[:, None],
        times.dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
        .cast(pl.Int64)
        .to_numpy()
        * 1000,
        [None] * len(times),
        "day",
        "Europe/Berlin",
        stats=("count", "sum"),
    )
    assert_array_equal(gt.fit_transform(frame), want)
    assert gt.time_zone_ == "Europe/Berlin"
