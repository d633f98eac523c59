"""CalendarFeatures against a naive reference built on datetime and zoneinfo."""

import datetime
import math
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import FeatureUnion

from sklearn_multigran import CalendarFeatures, GranularityTransformer

ZONES = [
    "Europe/Berlin",
    "America/Santiago",  # southern-hemisphere DST
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Asia/Kathmandu",  # a 45-minute offset
    "Africa/Cairo",  # DST transitions at midnight
    "Pacific/Chatham",  # +12:45 / +13:45
]


def naive_terms(instants, period_seconds, n_terms, zone):
    """sin/cos of the wall-clock phase, one Python datetime at a time."""
    rows = []
    for instant in instants:
        wall = instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        seconds = (wall - datetime.datetime(1970, 1, 1)).total_seconds()
        phase = (seconds % period_seconds) / period_seconds
        row = []
        for k in range(1, n_terms + 1):
            row += [
                math.sin(2 * math.pi * k * phase),
                math.cos(2 * math.pi * k * phase),
            ]
        rows.append(row)
    return np.array(rows)


@pytest.mark.parametrize("zone", ZONES)
def test_daily_terms_follow_the_wall_clock_across_dst(zone):
    # every 15 minutes over two years: each DST change of these zones in 2023-2024
    times = pd.date_range("2023-01-01", "2025-01-01", freq="15min", tz="UTC")
    frame = pd.DataFrame({"load": np.zeros(len(times))}, index=times)
    out = CalendarFeatures(("1D", "7D"), n_terms=2, tz=zone).fit_transform(frame)
    instants = times.to_pydatetime()
    expected = np.hstack(
        [
            naive_terms(instants, 86_400, 2, zone),
            naive_terms(instants, 7 * 86_400, 2, zone),
        ]
    )
    np.testing.assert_allclose(out, expected, atol=1e-9)


def test_indicators_match_the_wall_clock_fields():
    zone = "America/Santiago"
    times = pd.date_range("2024-01-01", periods=2000, freq="7h", tz="UTC")
    calendar = CalendarFeatures(
        ("1D",), n_terms=1, indicators=("hour", "day_of_week", "month"), tz=zone
    )
    out = calendar.set_output(transform="pandas").fit_transform(
        pd.DataFrame(index=times)
    )
    for column, instant in zip(range(len(times)), times.to_pydatetime(), strict=True):
        wall = instant.astimezone(ZoneInfo(zone))
        row = out.iloc[column]
        hours = row.filter(like="__hour_")
        assert hours.sum() == 1
        assert hours[f"index__hour_{wall.hour}"] == 1
        days = row.filter(like="__day_of_week_")
        assert days.sum() == 1
        assert days[f"index__day_of_week_{wall.weekday()}"] == 1
        months = row.filter(like="__month_")
        assert months.sum() == 1
        assert months[f"index__month_{wall.month}"] == 1


def test_naive_times_are_read_as_wall_clock():
    times = pd.date_range("2024-03-30", periods=96, freq="h")  # naive, over a DST day
    out = CalendarFeatures(("1D",), n_terms=1, tz="Europe/Berlin").fit_transform(
        pd.DataFrame({"t": times}), None
    )
    hours = times.hour + times.minute / 60
    np.testing.assert_allclose(out[:, 0], np.sin(2 * np.pi * hours / 24), atol=1e-12)
    np.testing.assert_allclose(out[:, 1], np.cos(2 * np.pi * hours / 24), atol=1e-12)


def test_numeric_times_give_the_closed_form_for_every_column(rng):
    X = rng.uniform(-1e4, 1e4, size=(50, 2))
    out = CalendarFeatures((24, 7), n_terms=(2, 1)).fit_transform(X)
    expected = []
    for j in range(2):
        for period, n_terms in ((24, 2), (7, 1)):
            for k in range(1, n_terms + 1):
                expected.append(np.sin(2 * np.pi * k * X[:, j] / period))
                expected.append(np.cos(2 * np.pi * k * X[:, j] / period))
    np.testing.assert_allclose(out, np.column_stack(expected), atol=1e-9)


@settings(max_examples=50, deadline=None)
@given(
    start=st.integers(-(10**17), 10**17),
    shift=st.integers(-1000, 1000),
)
def test_whole_periods_later_gives_the_same_terms(start, shift):
    day = 86_400 * 10**9
    times = pd.DatetimeIndex(np.array([start, start + shift * day], "datetime64[ns]"))
    out = CalendarFeatures(("1D",), n_terms=3).fit_transform(pd.DataFrame(index=times))
    np.testing.assert_allclose(out[0], out[1], atol=1e-12)


def test_phase_is_exact_far_from_1970():
    # 2200-01-01 06:00 is a quarter of a day: sin 1, cos 0, to the last bit or so
    times = pd.DatetimeIndex(["2200-01-01 06:00", "1800-01-01 18:00"])
    out = CalendarFeatures(("1D",), n_terms=1).fit_transform(pd.DataFrame(index=times))
    np.testing.assert_allclose(out, [[1.0, 0.0], [-1.0, 0.0]], atol=1e-15)


def test_missing_times_give_missing_rows():
    times = pd.Series(pd.to_datetime(["2024-01-01 06:00", None, "2024-01-01 12:00"]))
    out = CalendarFeatures(("1D",), n_terms=1, indicators=("hour",)).fit_transform(
        pd.DataFrame({"t": times})
    )
    assert np.isnan(out[1]).all()
    assert not np.isnan(out[[0, 2]]).any()


def test_beside_granularity_transformer_in_a_feature_union():
    times = pd.date_range("2024-01-01", periods=200, freq="h")
    frame = pd.DataFrame({"load": np.arange(200.0)}, index=times)
    union = FeatureUnion(
        [
            ("windows", GranularityTransformer(("1h", "1D"), stats=("mean",))),
            ("calendar", CalendarFeatures(("1D",), n_terms=1)),
        ]
    ).set_output(transform="pandas")
    out = union.fit_transform(frame)
    assert list(out.columns[-2:]) == [
        "calendar__index__1D__sin1",
        "calendar__index__1D__cos1",
    ]
    hours = times.hour.to_numpy()
    np.testing.assert_allclose(
        out["calendar__index__1D__cos1"], np.cos(2 * np.pi * hours / 24), atol=1e-12
    )


def test_on_a_time_column_in_a_column_transformer():
    frame = pd.DataFrame(
        {
            "when": pd.date_range("2024-01-01", periods=48, freq="h"),
            "load": np.arange(48.0),
        }
    )
    ct = ColumnTransformer(
        [("calendar", CalendarFeatures(("1D",), n_terms=1), ["when"])],
        remainder="passthrough",
    ).set_output(transform="pandas")
    out = ct.fit_transform(frame)
    assert list(out.columns) == [
        "calendar__when__1D__sin1",
        "calendar__when__1D__cos1",
        "remainder__load",
    ]
    hours = frame["when"].dt.hour.to_numpy()
    np.testing.assert_allclose(
        out["calendar__when__1D__sin1"], np.sin(2 * np.pi * hours / 24), atol=1e-12
    )


def test_polars_input_matches_pandas():
    pl = pytest.importorskip("polars")
    times = pd.date_range("2024-01-01", periods=30, freq="5h")
    frame = pd.DataFrame({"when": times, "load": np.arange(30.0)})
    calendar = CalendarFeatures(
        ("1D", "7D"), indicators=("day_of_week",), time_column="when"
    )
    np.testing.assert_array_equal(
        calendar.fit_transform(pl.from_pandas(frame)), calendar.fit_transform(frame)
    )


@pytest.mark.parametrize(
    ("params", "X", "match"),
    [
        ({"periods": ("1D",)}, np.zeros((3, 1)), r"periods \['1D'\] need datetimes"),
        ({"periods": (24,), "indicators": ("hour",)}, np.zeros((3, 1)), "indicators"),
        ({"periods": (24,)}, "frame", r"periods \['24'\] are ints"),
        ({"periods": ()}, "frame", "periods is empty"),
        ({"periods": ("soon",)}, "frame", "periods contains 'soon'"),
        ({"n_terms": (1, 2, 3)}, "frame", r"one such int per period \(2 periods\)"),
        (
            {"indicators": "hour"},
            "frame",
            "'indicators' parameter .* must be an array-like",
        ),
        ({"indicators": ("minute",)}, "frame", r"unknown names \['minute'\]"),
        ({"time_column": "nope"}, "frame", "time_column='nope' is not a column"),
        ({"time_column": "load"}, "frame", "holds float64, not datetimes"),
    ],
)
def test_bad_parameters_get_errors_that_name_them(params, X, match):
    if isinstance(X, str):
        X = pd.DataFrame(
            {"load": [1.0, 2.0]}, index=pd.date_range("2024-01-01", periods=2, freq="h")
        )
    with pytest.raises(ValueError, match=match):
        CalendarFeatures(**params).fit(X)


def test_mixed_columns_without_a_time_column_are_refused():
    frame = pd.DataFrame(
        {"when": pd.date_range("2024-01-01", periods=3, freq="h"), "load": [1.0, 2, 3]}
    )
    with pytest.raises(ValueError, match="pass time_column"):
        CalendarFeatures().fit(frame)
