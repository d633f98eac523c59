"""utils._time: times, groups and grids against pandas and naive loops."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_multigran.utils._time import (
    as_pandas,
    as_times,
    datetime_ns,
    factorize_groups,
    fill_grid,
    grid_positions,
    most_common_step,
    parse_datetime_text,
)


def test_datetime_ns_is_utc_nanoseconds():
    aware = pd.date_range("2024-03-31", periods=5, freq="h", tz="Europe/Paris")
    expected = [int(t.tz_convert("UTC").value) for t in aware]
    assert datetime_ns(aware).tolist() == expected
    naive = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 01:00"]).as_unit("s")
    assert datetime_ns(naive).tolist() == [t.value for t in naive]
    with_nat = pd.DatetimeIndex(["2024-01-01", None])
    assert datetime_ns(with_nat)[1] == np.iinfo(np.int64).min


def test_as_times_and_its_errors():
    values, is_datetime = as_times(pd.Series([3, 1, 2]))
    assert not is_datetime
    assert values.dtype == np.float64
    values, is_datetime = as_times(
        pd.date_range("2024-01-01", periods=2, freq="D", tz="UTC")
    )
    assert is_datetime
    assert values.dtype == "datetime64[ns]"
    with pytest.raises(ValueError, match="time has a missing value at row 1"):
        as_times([1.0, np.nan])
    with pytest.raises(TypeError, match="when must hold datetimes or numbers"):
        as_times(["a", "b"], "when")


def test_factorize_groups_order_of_appearance_and_missing():
    codes, keys = factorize_groups(
        np.array(["b", "a", "b"], dtype=object), lambda row: f"row {row}"
    )
    assert codes.tolist() == [0, 1, 0]
    assert list(keys) == ["b", "a"]
    assert codes.dtype == np.int64
    with pytest.raises(ValueError, match="^row 2$"):
        factorize_groups(
            np.array(["b", "a", None], dtype=object), lambda row: f"row {row}"
        )


@settings(deadline=None, max_examples=100)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 30)),
        min_size=1,
        max_size=40,
        unique=True,
    )
)
def test_most_common_step_matches_a_counter(rows):
    rows = sorted(rows)
    codes = np.array([c for c, _ in rows])
    ns = np.array([t for _, t in rows], dtype=np.int64) * 1000
    spacings = [
        (b[1] - a[1]) * 1000
        for a, b in zip(rows[:-1], rows[1:], strict=True)
        if a[0] == b[0]
    ]
    if not spacings:
        assert most_common_step(ns, codes) is None
        return
    counts = {s: spacings.count(s) for s in spacings}
    top = max(counts.values())
    assert most_common_step(ns, codes) == min(s for s in counts if counts[s] == top)


def test_fill_grid_matches_pandas_reindex():
    frame = pd.DataFrame(
        {
            "t": pd.to_datetime(
                ["2024-01-01 00:00", "2024-01-01 03:00", "2024-01-01 01:00"]
            ),
            "g": ["a", "a", "b"],
            "v": [1.0, 2.0, 3.0],
        }
    )
    codes = np.array([0, 0, 1])
    filled = fill_grid(frame, "t", "g", codes, pd.Timedelta("1h").value)
    a = frame[frame["g"] == "a"].set_index("t")
    a = a.reindex(pd.date_range(a.index[0], a.index[-1], freq="h"))
    assert filled["v"].tolist()[:4] == pytest.approx(a["v"].tolist(), nan_ok=True)
    assert filled["g"].tolist() == ["a"] * 4 + ["b"]
    assert filled.columns.tolist() == ["t", "g", "v"]


def test_grid_positions_calendar_and_off_grid():
    months = pd.to_datetime(["2024-03-01", "2024-01-01", "2024-02-01"])
    codes = np.zeros(3, dtype=np.int64)
    assert grid_positions(months, codes, "MS").tolist() == [2, 0, 1]
    hours = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 01:30"])
    with pytest.raises(ValueError, match="at row 1 is not on the grid of freq='h'"):
        grid_positions(hours, np.zeros(2, dtype=np.int64), "1h")


def test_parse_datetime_text_messages():
    def line(row):
        return int(row) + 2

    parsed = parse_datetime_text(
        pd.Series(["2024-01-01 00:00+01:00", "2024-01-01 00:00+00:00"]), "x", line
    )
    assert parsed.tolist() == [
        pd.Timestamp("2023-12-31 23:00"),
        pd.Timestamp("2024-01-01 00:00"),
    ]
    with pytest.raises(ValueError, match=r"^x: cannot parse 'soon' \(line 3\)"):
        parse_datetime_text(pd.Series(["2024-01-01", "soon"]), "x", line)
    with pytest.raises(ValueError, match="x has an empty time at line 2"):
        parse_datetime_text(pd.Series([None, "2024-01-01"]), "x", line)
    with pytest.raises(ValueError, match="x holds numbers"):
        parse_datetime_text(pd.Series([1, 2]), "x", line)
    with pytest.raises(
        ValueError,
        match=r"x mixes times with a UTC offset \(line 3: '2024-01-01 01:00\+01:00'\) "
        r"and without one \(line 2: '2024-01-01 00:00'\)",
    ):
        parse_datetime_text(
            pd.Series(["2024-01-01 00:00", "2024-01-01 01:00+01:00"]), "x", line
        )
    # dates alone, and Z for UTC, are not mistaken for offsets
    dates = parse_datetime_text(pd.Series(["2024-01-01", "2024-01-02"]), "x", line)
    assert dates.tolist() == list(pd.to_datetime(["2024-01-01", "2024-01-02"]))
    zulu = parse_datetime_text(
        pd.Series(["2024-01-01T00:00Z", "2024-01-01T01:00+00:00"]), "x", line
    )
    assert zulu.tolist() == list(
        pd.to_datetime(["2024-01-01 00:00", "2024-01-01 01:00"])
    )


def test_as_pandas_keeps_polars_time_zone():
    pl = pytest.importorskip("polars")
    times = pl.datetime_range(
        pl.datetime(2024, 3, 30), pl.datetime(2024, 4, 1), "6h", eager=True
    ).dt.replace_time_zone("Europe/Berlin")
    frame = as_pandas(pl.DataFrame({"t": times, "x": [1.0] * len(times)}))
    assert str(frame["t"].dt.tz) == "Europe/Berlin"
    assert frame["t"].iloc[0] == pd.Timestamp("2024-03-30", tz="Europe/Berlin")
    assert frame["x"].dtype == np.float64
