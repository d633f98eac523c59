"""make_horizon_targets and horizon_frame against naive loops and pandas."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_multigran import GranularityTransformer, MultiGranularityRegressor
from sklearn_multigran.forecasting import (
    LastValueRelative,
    horizon_frame,
    make_horizon_targets,
)

# --------------------------------------------------------------------------------------
# Naive twins: a dict from (group, time) to value, one Python lookup per target
# --------------------------------------------------------------------------------------


def naive_horizon_targets(values, horizon, times=None, groups=None, step=1, start=1):
    """Row i, column j: the value at ``times[i] + (start + j) * step`` in its group."""
    n = len(values)
    groups = [0] * n if groups is None else list(groups)
    if times is None:
        counters, times = {}, []
        for g in groups:
            times.append(counters.get(g, 0))
            counters[g] = counters.get(g, 0) + 1
        step = 1
    lookup = {(g, t): v for g, t, v in zip(groups, times, values, strict=True)}
    out = np.full((n, horizon), np.nan)
    for i in range(n):
        for j in range(horizon):
            key = (groups[i], times[i] + (start + j) * step)
            out[i, j] = lookup.get(key, np.nan)
    return out


def naive_complete(Y):
    return np.array([all(not np.isnan(v) for v in row) for row in Y])


def _grouped_frame(rng, n_groups=3, lengths=(7, 12, 9), shuffle=True):
    parts = []
    for g, length in zip(range(n_groups), lengths, strict=True):
        parts.append(
            pd.DataFrame(
                {
                    "series": f"s{g}",
                    "ts": pd.date_range("2024-03-30 20:00", periods=length, freq="1h"),
                    "y": rng.normal(size=length),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    if shuffle:
        frame = frame.iloc[rng.permutation(len(frame))]
    return frame


# --------------------------------------------------------------------------------------
# make_horizon_targets
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("horizon", [1, 3, 8])
def test_targets_single_series_match_pandas_shift(rng, horizon):
    y = pd.Series(rng.normal(size=20), name="load")
    Y, complete = make_horizon_targets(y, horizon)
    expected = pd.concat(
        {f"load_h{h}": y.shift(-h) for h in range(1, horizon + 1)}, axis=1
    )
    pd.testing.assert_frame_equal(Y, expected)
    np.testing.assert_array_equal(complete, expected.notna().all(axis=1).to_numpy())
    assert complete.sum() == len(y) - horizon


@pytest.mark.parametrize("start", [0, 1, 3])
def test_targets_start_matches_pandas_shift(rng, start):
    frame = _grouped_frame(rng)
    Y, complete = make_horizon_targets(frame, 4, time="ts", group="series", start=start)
    by_time = frame.sort_values(["series", "ts"])
    shifted = {
        f"y_h{h}": by_time.groupby("series")["y"].shift(-h)
        for h in range(start, start + 4)
    }
    expected = pd.DataFrame(shifted).loc[frame.index]
    pd.testing.assert_frame_equal(Y, expected)
    np.testing.assert_array_equal(complete, expected.notna().all(axis=1).to_numpy())


def test_targets_array_in_array_out(rng):
    y = rng.normal(size=10)
    Y, complete = make_horizon_targets(y, 4)
    assert isinstance(Y, np.ndarray)
    np.testing.assert_array_equal(Y, naive_horizon_targets(y, 4))
    np.testing.assert_array_equal(complete, naive_complete(Y))
    Y_list, _ = make_horizon_targets(list(y), 4)
    np.testing.assert_array_equal(Y_list, Y)


def test_targets_groups_without_time_match_groupby_shift(rng):
    groups = rng.choice(["a", "b", "c"], size=30)
    y = rng.normal(size=30)
    Y, complete = make_horizon_targets(y, 3, group=groups)
    frame = pd.DataFrame({"g": groups, "y": y})
    expected = np.column_stack(
        [frame.groupby("g")["y"].shift(-h).to_numpy() for h in (1, 2, 3)]
    )
    np.testing.assert_array_equal(Y, expected)
    np.testing.assert_array_equal(Y, naive_horizon_targets(y, 3, groups=groups))
    np.testing.assert_array_equal(complete, naive_complete(expected))


@pytest.mark.parametrize("horizon", [1, 2, 6])
def test_targets_frame_with_time_and_group_in_any_order(rng, horizon):
    frame = _grouped_frame(rng)
    Y, complete = make_horizon_targets(
        frame, horizon, target="y", time="ts", group="series"
    )
    expected = naive_horizon_targets(
        frame["y"].to_numpy(),
        horizon,
        times=list(frame["ts"]),
        groups=frame["series"].to_numpy(),
        step=pd.Timedelta("1h"),
    )
    assert list(Y.columns) == [f"y_h{h}" for h in range(1, horizon + 1)]
    pd.testing.assert_index_equal(Y.index, frame.index)
    np.testing.assert_array_equal(Y.to_numpy(), expected)
    np.testing.assert_array_equal(complete, naive_complete(expected))


def test_targets_time_arrays_with_one_dimensional_y(rng):
    frame = _grouped_frame(rng)
    Y_frame, _ = make_horizon_targets(frame, 2, target="y", time="ts", group="series")
    Y, _ = make_horizon_targets(
        frame["y"].to_numpy(), 2, time=frame["ts"], group=frame["series"].to_numpy()
    )
    np.testing.assert_array_equal(Y, Y_frame.to_numpy())


def test_targets_target_inferred_when_one_value_column(rng):
    frame = _grouped_frame(rng)
    Y, _ = make_horizon_targets(frame, 2, time="ts", group="series")
    assert list(Y.columns) == ["y_h1", "y_h2"]


def test_targets_numeric_time_and_calendar_freq(rng):
    times = np.array([10, 30, 20, 0, 40])
    y = rng.normal(size=5)
    Y, _ = make_horizon_targets(y, 2, time=times)
    np.testing.assert_array_equal(
        Y, naive_horizon_targets(y, 2, times=list(times), step=10)
    )

    months = pd.date_range("2023-11-01", periods=6, freq="MS")
    Y, complete = make_horizon_targets(
        pd.Series(y[:5].tolist() + [7.0]), 2, time=months
    )
    expected = naive_horizon_targets(
        y[:5].tolist() + [7.0], 2, times=list(months), step=pd.offsets.MonthBegin(1)
    )
    np.testing.assert_array_equal(Y.to_numpy(), expected)
    assert complete.tolist() == [True] * 4 + [False] * 2


def test_targets_gap_raises_and_nan_mode_matches_naive(rng):
    times = pd.to_datetime(
        ["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 03:00", "2024-01-01 04:00"]
    )
    y = np.array([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(
        ValueError, match=r"gap .* 01:00.* 03:00.*1 missing.*on_gap='nan'"
    ):
        make_horizon_targets(y, 1, time=times, freq="1h")
    Y, complete = make_horizon_targets(y, 2, time=times, freq="1h", on_gap="nan")
    expected = naive_horizon_targets(y, 2, times=list(times), step=pd.Timedelta("1h"))
    np.testing.assert_array_equal(Y, expected)
    np.testing.assert_array_equal(complete, [False, False, False, False])
    assert Y[0, 0] == 2.0
    assert np.isnan(Y[1, 0])
    assert Y[1, 1] == 3.0


def test_targets_start_zero_includes_the_row_itself():
    Y, complete = make_horizon_targets(np.arange(5.0), 5, start=0)
    np.testing.assert_array_equal(Y[0], np.arange(5.0))
    assert complete.tolist() == [True, False, False, False, False]


def test_targets_nan_values_make_rows_incomplete():
    y = np.array([1.0, np.nan, 3.0, 4.0, 5.0])
    _, complete = make_horizon_targets(y, 1)
    assert complete.tolist() == [False, True, True, True, False]


def test_targets_group_gap_message_names_group():
    frame = pd.DataFrame(
        {"g": ["a", "a", "b", "b", "b"], "t": [0, 1, 0, 1, 3], "y": np.arange(5.0)}
    )
    with pytest.raises(ValueError, match=r"gap in group 'b'"):
        make_horizon_targets(frame, 1, target="y", time="t", group="g", freq=1)


TARGET_ERRORS = [
    ({"horizon": 0}, ValueError, "horizon must be >= 1"),
    ({"horizon": 2.0}, TypeError, "horizon must be a positive integer"),
    ({"horizon": True}, TypeError, "horizon must be a positive integer"),
    ({"horizon": 5}, ValueError, r"horizon=5 is longer than the data.*horizon <= 4"),
    ({"horizon": 1, "y": []}, ValueError, "y is empty"),
    ({"horizon": 9}, ValueError, r"longest series has 5 steps"),
    ({"time": [0, 1, 2]}, ValueError, "time has 3 values but the data has 5 rows"),
    ({"group": ["a"] * 6}, ValueError, "group has 6 values but the data has 5 rows"),
    ({"time": "t"}, ValueError, "time='t' is a column name, but the data is not"),
    ({"group": [None, "a", "a", "a", "a"]}, ValueError, "group has a missing value"),
    ({"time": [0, 1, 1, 2, 3]}, ValueError, "appears twice"),
    ({"time": [0, 1, 2, 3, 4.5]}, ValueError, "not on the grid of step 1.0"),
    ({"time": ["a", "b", "c", "d", "e"]}, TypeError, "time must hold datetimes or"),
    ({"time": [0, 1, 2, 3, 4], "freq": -1}, ValueError, "must be a positive number"),
    ({"on_gap": "drop"}, ValueError, "on_gap must be 'raise' or 'nan'"),
    ({"start": -1}, ValueError, "start must be a non-negative integer"),
    ({"horizon": 4, "start": 2}, ValueError, r"no row has 5 steps.*horizon <= 3"),
    ({"horizon": 6, "start": 0}, ValueError, "longest series has 5 steps"),
    ({"target": "y"}, ValueError, "target is only used when y is a DataFrame"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), TARGET_ERRORS)
def test_targets_errors(kwargs, error, match):
    kwargs = {"horizon": 1, "y": np.arange(5.0), **kwargs}
    with pytest.raises(error, match=match):
        make_horizon_targets(**kwargs)


def test_targets_frame_errors():
    frame = pd.DataFrame({"t": [0, 1, 2], "a": [1.0, 2, 3], "b": [4.0, 5, 6]})
    with pytest.raises(ValueError, match=r"several value columns \['a', 'b'\]"):
        make_horizon_targets(frame, 1, time="t")
    with pytest.raises(ValueError, match="target='c' is not a column of y"):
        make_horizon_targets(frame, 1, target="c")
    with pytest.raises(ValueError, match="time='x' is not a column"):
        make_horizon_targets(frame, 1, target="a", time="x")
    times = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 01:30"])
    with pytest.raises(ValueError, match=r"01:30:00 at row 2 is not on the grid"):
        make_horizon_targets(frame["a"], 1, time=times, freq="1h")
    with pytest.raises(ValueError, match="freq='fortnight' is not a pandas frequency"):
        make_horizon_targets(frame["a"], 1, time=times, freq="fortnight")
    with pytest.raises(ValueError, match="Cannot infer freq"):
        make_horizon_targets(frame["a"], 1, time=[0, 0, 0], group=["a", "b", "c"])


# --------------------------------------------------------------------------------------
# horizon_frame
# --------------------------------------------------------------------------------------


def test_horizon_frame_round_trip_matches_lookup(rng):
    frame = _grouped_frame(rng)
    Y, complete = make_horizon_targets(frame, 3, target="y", time="ts", group="series")
    long = horizon_frame(
        Y.to_numpy()[complete],
        frame["ts"].to_numpy()[complete],
        group=frame["series"][complete],
    )
    assert list(long.columns) == ["series", "origin", "horizon", "target_time", "value"]
    assert len(long) == 3 * complete.sum()
    keys = zip(frame["series"], frame["ts"], strict=True)
    lookup = dict(zip(keys, frame["y"], strict=True))
    for row in long.itertuples(index=False):
        assert row.target_time == row.origin + row.horizon * pd.Timedelta("1h")
        assert row.value == lookup[(row.series, row.target_time)]


def test_horizon_frame_numeric_and_calendar_steps():
    long = horizon_frame([[1.0, 2.0], [3.0, 4.0]], [0, 5], freq=5)
    assert long["target_time"].tolist() == [5, 10, 10, 15]
    assert long["horizon"].tolist() == [1, 2, 1, 2]
    long = horizon_frame([[1.0, 2.0], [3.0, 4.0]], [0, 5], freq=5, start=0)
    assert long["target_time"].tolist() == [0, 5, 5, 10]
    assert long["horizon"].tolist() == [0, 1, 0, 1]
    assert list(long.columns) == ["origin", "horizon", "target_time", "value"]

    origins = pd.DatetimeIndex(["2024-01-01", "2024-02-01"])
    long = horizon_frame(np.ones((2, 2)), origins, freq="MS")
    assert list(long["target_time"]) == list(
        pd.to_datetime(["2024-02-01", "2024-03-01", "2024-03-01", "2024-04-01"])
    )
    long = horizon_frame(
        np.arange(3.0), origins[:1].repeat(3), group=[1, 2, 3], freq="D"
    )
    assert long["group"].tolist() == [1, 2, 3]
    assert (long["target_time"] == pd.Timestamp("2024-01-02")).all()


def test_horizon_frame_keeps_time_zone_and_explicit_freq():
    origins = pd.date_range("2024-03-30 00:00", periods=2, freq="1D", tz="Europe/Paris")
    long = horizon_frame(np.zeros((2, 3)), origins, freq="1h")
    assert long["origin"].dt.tz is not None
    expected = [o + h * pd.Timedelta("1h") for o in origins for h in (1, 2, 3)]
    assert list(long["target_time"]) == expected
    # Without freq, the daily origins would be read as a daily series.
    inferred = horizon_frame(np.zeros((2, 1)), origins)
    assert inferred["target_time"][0] == origins[0] + pd.Timedelta("1D")


HORIZON_FRAME_ERRORS = [
    ({"time": [0, 1, 2]}, "time has 3 values but the data has 2 rows"),
    ({"group": ["a"]}, "group has 1 values but the data has 2 rows"),
    ({"time": [0, 0], "group": ["a", "b"]}, "Cannot infer freq"),
    ({"predictions": np.ones((2, 2, 2))}, r"must be \(n_rows, horizon\)"),
    ({"predictions": np.ones((2, 0))}, "has no columns"),
    ({"predictions": np.ones((0, 2)), "time": []}, "has no rows"),
    ({"freq": "fortnight", "time": pd.date_range("2024", periods=2)}, "not a pandas"),
    ({"time": None}, "time is required"),
    ({"start": -2}, "start must be a non-negative integer"),
]


@pytest.mark.parametrize(("kwargs", "match"), HORIZON_FRAME_ERRORS)
def test_horizon_frame_errors(kwargs, match):
    kwargs = {"predictions": np.ones((2, 2)), "time": [0, 1], **kwargs}
    with pytest.raises(ValueError, match=match):
        horizon_frame(**kwargs)


# --------------------------------------------------------------------------------------
# Property: any groups, any order, any gaps
# --------------------------------------------------------------------------------------


@st.composite
def _panels(draw):
    n_groups = draw(st.integers(1, 3))
    groups, times = [], []
    for g in range(n_groups):
        own = draw(st.sets(st.integers(0, 15), min_size=1, max_size=10))
        groups += [g] * len(own)
        times += sorted(own)
    order = draw(st.permutations(range(len(times))))
    values = draw(
        st.lists(
            st.floats(-1e3, 1e3, allow_nan=False),
            min_size=len(times),
            max_size=len(times),
        )
    )
    return (
        np.asarray(values),
        np.asarray(times)[list(order)],
        np.asarray(groups)[list(order)],
    )


@settings(max_examples=60, deadline=None)
@given(panel=_panels(), horizon=st.integers(1, 4), start=st.integers(0, 2))
def test_targets_match_naive_lookup_with_gaps(panel, horizon, start):
    values, times, groups = panel
    spans = [np.ptp(times[groups == g]) + 1 for g in np.unique(groups)]
    kwargs = {"time": times, "group": groups, "freq": 1, "on_gap": "nan"}
    if start + horizon - 1 >= max(spans):
        with pytest.raises(ValueError, match="longer than the data"):
            make_horizon_targets(values, horizon, start=start, **kwargs)
        return
    Y, complete = make_horizon_targets(values, horizon, start=start, **kwargs)
    expected = naive_horizon_targets(
        values, horizon, list(times), list(groups), start=start
    )
    np.testing.assert_array_equal(Y, expected)
    np.testing.assert_array_equal(complete, naive_complete(expected))


# --------------------------------------------------------------------------------------
# With the package's estimators
# --------------------------------------------------------------------------------------


def test_direct_forecaster_with_transformer_and_regressor(rng):
    y = pd.Series(
        rng.normal(size=300).cumsum(),
        index=pd.date_range("2024-01-01", periods=300, freq="h"),
        name="load",
    )
    gt = GranularityTransformer((1, 4), stats=("mean",), n_lags=3, closed="right")
    features = gt.set_output(transform="pandas").fit_transform(y.to_frame())
    Y, complete = make_horizon_targets(y, 6, time=y.index)
    complete &= features.notna().all(axis=1).to_numpy()
    model = LastValueRelative(
        MultiGranularityRegressor(sharing=0.5),
        last_value_column="load__1__mean__lag0",
    ).fit(features[complete], Y[complete])
    # The feature names reach the inner model, which finds its two blocks.
    assert model.regressor_.n_blocks_ == 2
    # The last rows have no complete targets but can be forecast.
    last = features.iloc[[-1]]
    long = horizon_frame(model.predict(last), last.index, freq="h")
    assert long["target_time"].tolist() == list(
        pd.date_range(y.index[-1], periods=7, freq="h")[1:]
    )
    # A level shift of the history shifts the forecast by the same amount.
    shifted = gt.fit_transform((y + 50.0).to_frame())
    np.testing.assert_allclose(
        model.predict(shifted.iloc[[-1]]), model.predict(last) + 50.0
    )
