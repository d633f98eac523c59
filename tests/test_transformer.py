"""GranularityTransformer against naive loops and pandas, its properties and errors."""

import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_validate
from sklearn.pipeline import Pipeline

from sklearn_multigran._transformer import GranularityTransformer
from tests._reference import naive_transform

MINUTE = 60 * 10**9
ALL_STATS = ("mean", "std", "var", "min", "max", "sum", "count", "first", "last")


@st.composite
def panels(draw, max_rows=40):
    """A DataFrame with a time and a group column: unsorted, ties, gaps, NaN."""
    n_rows = draw(st.integers(1, max_rows))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_groups = draw(st.integers(1, 3))
    max_step = draw(st.integers(0, 20))
    times = np.cumsum(rng.integers(0, max_step + 1, size=n_rows)) * MINUTE
    values = rng.normal(size=(n_rows, 2)) * 100
    values[rng.random(values.shape) < draw(st.sampled_from([0.0, 0.3]))] = np.nan
    frame = pd.DataFrame(
        {
            "time": pd.to_datetime(times, unit="ns"),
            "series": rng.choice(["a", "b", "c"][:n_groups], size=n_rows),
            "x": values[:, 0],
            "y": values[:, 1],
        }
    )
    if draw(st.booleans()):
        frame = frame.iloc[rng.permutation(n_rows)].reset_index(drop=True)
    return frame


granularity_lists = st.lists(
    st.one_of(
        st.integers(1, 6),
        st.sampled_from(["5min", "15min", "1h", "7min", "90min"]),
    ),
    min_size=1,
    max_size=3,
    unique=True,
)


def _windows(transformer):
    return [(g.kind, g.size) for g in transformer.granularities_]


@settings(max_examples=100, deadline=None)
@given(
    frame=panels(),
    granularities=granularity_lists,
    n_lags=st.integers(1, 3),
    closed=st.sampled_from(["left", "right", "both", "neither"]),
    min_periods=st.integers(0, 2),
    ddof=st.integers(0, 1),
    grouped=st.booleans(),
)
def test_matches_naive_loop(
    frame, granularities, n_lags, closed, min_periods, ddof, grouped
):
    transformer = GranularityTransformer(
        granularities,
        stats=ALL_STATS,
        n_lags=n_lags,
        closed=closed,
        time_column="time",
        group_column="series" if grouped else None,
        min_periods=min_periods,
        ddof=ddof,
        fill_value=-1.0,
    )
    got = transformer.fit_transform(frame if grouped else frame.drop(columns="series"))
    groups = frame["series"].tolist() if grouped else [None] * len(frame)
    expected = naive_transform(
        frame[["x", "y"]].to_numpy(),
        frame["time"].to_numpy().astype("datetime64[ns]").astype(np.int64),
        groups,
        _windows(transformer),
        n_lags=n_lags,
        closed=closed,
        stats=ALL_STATS,
        min_periods=min_periods,
        ddof=ddof,
        fill_value=-1.0,
    )
    # a running variance carries rounding of the values it has seen, so its error
    # scales with the data's square, not with the (possibly tiny) window variance
    scale = np.nanmax(np.abs(frame[["x", "y"]].to_numpy()), initial=1.0)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12 * scale**2)


@pytest.mark.parametrize("closed", ["left", "right", "both", "neither"])
@pytest.mark.parametrize("stat", ["mean", "std", "var", "min", "max", "sum", "count"])
def test_matches_pandas_rolling(rng, closed, stat):
    """Time windows against ``rolling("15min")``; row windows against ``rolling(4)``
    with ``shift`` for the lags."""
    n_rows = 500
    index = pd.DatetimeIndex(
        pd.Timestamp("2024-03-01")
        + pd.to_timedelta(np.cumsum(rng.integers(1, 9, size=n_rows)), unit="min")
    )
    frame = pd.DataFrame({"v": rng.normal(size=n_rows) + 10.0}, index=index)
    frame.iloc[rng.random(n_rows) < 0.05, 0] = np.nan
    transformer = GranularityTransformer(
        ("15min", 4), stats=(stat,), n_lags=3, closed=closed, ddof=1
    ).set_output(transform="pandas")
    got = transformer.fit_transform(frame)

    def rolled(window):
        roll = frame["v"].rolling(window, closed=closed, min_periods=1)
        result = roll.std(ddof=1) if stat == "std" else None
        result = roll.var(ddof=1) if stat == "var" else result
        result = getattr(roll, stat)() if result is None else result
        return result.fillna(0.0) if stat == "count" else result

    np.testing.assert_allclose(
        got[f"v__15min__{stat}__lag0"], rolled("15min"), rtol=1e-10, atol=1e-10
    )
    for lag in range(3):
        expected = rolled(4).shift(4 * lag)
        if stat == "count":
            expected = expected.fillna(0.0)
        np.testing.assert_allclose(
            got[f"v__4__{stat}__lag{lag}"], expected, rtol=1e-10, atol=1e-10
        )


@settings(max_examples=50, deadline=None)
@given(frame=panels(), cut=st.floats(0.0, 1.0), granularities=granularity_lists)
def test_appending_later_rows_never_changes_earlier_features(frame, cut, granularities):
    frame = frame.sort_values("time", kind="stable").reset_index(drop=True)
    transformer = GranularityTransformer(
        granularities,
        stats=ALL_STATS,
        n_lags=2,
        time_column="time",
        group_column="series",
        closed="right",
    )
    # only rows strictly after the prefix: a row tied with the prefix's last time
    # belongs to its window under closed="right"
    n_prefix = int(cut * len(frame))
    later = frame["time"] > frame["time"].iloc[max(n_prefix - 1, 0)]
    prefix = frame.iloc[:n_prefix]
    extended = pd.concat([prefix, frame[later]])
    if n_prefix == 0:
        return
    short = transformer.fit_transform(prefix)
    full = transformer.fit_transform(extended)
    np.testing.assert_allclose(full[:n_prefix], short, rtol=1e-12, atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(frame=panels(), pick=st.floats(0.0, 1.0), granularities=granularity_lists)
def test_left_closed_rows_never_see_the_present_or_future(frame, pick, granularities):
    """Changing any value at or after time t leaves row t's features unchanged."""
    transformer = GranularityTransformer(
        granularities,
        stats=ALL_STATS,
        n_lags=2,
        time_column="time",
        group_column="series",
    )
    row = int(pick * (len(frame) - 1))
    t = frame["time"].iloc[row]
    changed = frame.copy()
    future = changed["time"] >= t
    changed.loc[future, ["x", "y"]] = changed.loc[future, ["x", "y"]] * -3.0 + 1e6
    before = transformer.fit_transform(frame)
    after = transformer.fit_transform(changed)
    at_t = (frame["time"] == t).to_numpy()
    if any(isinstance(g, int) for g in granularities):
        # row windows count positions, so a tied row later in the input is future
        # only in time; restrict to the first row at t in sorted order
        at_t = np.zeros(len(frame), bool)
        ordered = frame.sort_values(["series", "time"], kind="stable")
        firsts = ordered[ordered["time"] == t].groupby("series").head(1).index
        at_t[firsts] = True
    np.testing.assert_array_equal(before[at_t], after[at_t])


def _series(rng, n_rows, freq="1h", start="2024-01-01"):
    index = pd.date_range(start, periods=n_rows, freq=freq)
    trend = np.sin(np.arange(n_rows) * 2 * np.pi / 24)
    return pd.DataFrame(
        {
            "load": trend + rng.normal(size=n_rows) * 0.1,
            "temp": rng.normal(size=n_rows),
        },
        index=index,
    )


@pytest.mark.parametrize("closed", ["left", "both"])
def test_transform_after_fit_sees_fitted_history(rng, closed):
    frame = _series(rng, 400)
    transformer = GranularityTransformer(
        ("3h", "1D", 5),
        stats=("mean", "min", "last", "count"),
        n_lags=3,
        closed=closed,
    )
    whole = transformer.fit_transform(frame)
    transformer.fit(frame.iloc[:300])
    # equal up to rounding: the two runs split their windows into summaries at
    # different rows; the values are of order one, hence the absolute tolerance
    np.testing.assert_allclose(
        transformer.transform(frame.iloc[300:]), whole[300:], rtol=1e-12, atol=1e-14
    )
    # only as much history as the longest window reaches is kept
    assert len(transformer.history_times_) <= 3 * 24 + 1


def test_rows_inside_the_fitted_span_warn_that_they_cannot_see_history(rng):
    # the README's old trap: the last day of the fitted series, transformed alone
    frame = _series(rng, 400)
    transformer = GranularityTransformer(("3h", "1D"), stats=("mean",), n_lags=2)
    whole = transformer.fit_transform(frame)
    with pytest.warns(UserWarning, match=r"inside the fitted span .* whole series"):
        alone = transformer.transform(frame.iloc[-24:])
    # what the warning is about: the first rows' windows miss the fitted past
    assert not np.allclose(alone[:5], whole[-24:-19], equal_nan=True)


@pytest.mark.parametrize(
    "rows", [slice(None), slice(0, 250), slice(300, None)], ids=["all", "head", "after"]
)
def test_the_fitted_series_again_or_later_rows_do_not_warn(rng, rows):
    frame = _series(rng, 400)
    transformer = GranularityTransformer(("3h", "1D"), stats=("mean",), n_lags=2)
    transformer.fit(frame.iloc[:300])
    # warnings are errors in the test suite
    transformer.transform(frame.iloc[rows])


def test_overlap_warning_names_the_series(rng):
    parts = []
    for name in ["north", "south"]:
        part = _series(rng, 100).reset_index(names="time")
        part["site"] = name
        parts.append(part)
    panel = pd.concat(parts, ignore_index=True)
    transformer = GranularityTransformer(
        ("3h",), time_column="time", group_column="site"
    ).fit(panel)
    assert transformer.first_fitted_times_ == {
        "north": pd.Timestamp("2024-01-01").value,
        "south": pd.Timestamp("2024-01-01").value,
    }
    late_south = panel[(panel["site"] == "north") | (panel.index >= 150)]
    with pytest.warns(UserWarning, match="of series 'south' starting at"):
        transformer.transform(late_south)


def test_history_with_a_gap_still_sees_only_the_past(rng):
    frame = _series(rng, 300)
    transformer = GranularityTransformer(("6h", "1D"), stats=("mean", "max"))
    transformer.fit(frame.iloc[:200])
    got = transformer.transform(frame.iloc[210:])
    # the same as computing on the fitted rows followed by the new ones
    joined = pd.concat([frame.iloc[:200], frame.iloc[210:]])
    expected = clone(transformer).fit_transform(joined)[200:]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_history_is_per_series(rng):
    frames = []
    for name in ["north", "south"]:
        part = _series(rng, 100).reset_index(names="time")
        part["site"] = name
        frames.append(part)
    panel = pd.concat(frames, ignore_index=True)
    transformer = GranularityTransformer(
        ("2h", "12h"), time_column="time", group_column="site", n_lags=2
    )
    whole = transformer.fit_transform(panel)
    fit_rows = panel["time"] < panel["time"].iloc[70]
    # "south" goes on after the fit; "north" is transformed from its start again
    new_rows = ~fit_rows & (panel["site"] == "south") | (panel["site"] == "north")
    transformer.fit(panel[fit_rows])
    got = transformer.transform(panel[new_rows])
    south = (panel["site"] == "south")[new_rows].to_numpy()
    np.testing.assert_allclose(got[south], whole[new_rows.to_numpy()][south])
    north_alone = clone(transformer).fit_transform(panel[panel["site"] == "north"])
    np.testing.assert_allclose(got[~south], north_alone)


def test_time_series_split_pipeline_matches_precomputed_features(rng):
    frame = _series(rng, 600)
    y = frame["load"].shift(-1).bfill().ffill().to_numpy()
    features = GranularityTransformer(("3h", "12h", "1D"), fill_value=0.0)
    pipeline = Pipeline([("features", features), ("ridge", Ridge())])
    cv = TimeSeriesSplit(n_splits=4)
    search = GridSearchCV(pipeline, {"ridge__alpha": [0.1, 10.0]}, cv=cv)
    search.fit(frame, y)

    precomputed = clone(features).fit_transform(frame)
    for k, alpha in enumerate([0.1, 10.0]):
        reference = cross_validate(Ridge(alpha=alpha), precomputed, y, cv=cv)
        np.testing.assert_allclose(
            [search.cv_results_[f"split{i}_test_score"][k] for i in range(4)],
            reference["test_score"],
            rtol=1e-10,
        )


def test_pickle_and_clone_round_trip(rng):
    frame = _series(rng, 100)
    transformer = GranularityTransformer(("2h", 3), n_lags=2).fit(frame.iloc[:80])
    restored = pickle.loads(pickle.dumps(transformer))
    np.testing.assert_array_equal(
        restored.transform(frame.iloc[80:]), transformer.transform(frame.iloc[80:])
    )
    assert clone(transformer).get_params() == transformer.get_params()


def test_feature_names_and_order(rng):
    frame = _series(rng, 50)
    transformer = GranularityTransformer(
        ("2h", pd.Timedelta(minutes=90), 3), stats=("max", "mean"), n_lags=2
    ).set_output(transform="pandas")
    out = transformer.fit_transform(frame)
    names = [
        f"{column}__{g}__{stat}__lag{lag}"
        for g in ["2h", "90min", "3"]
        for column in ["load", "temp"]
        for stat in ["max", "mean"]
        for lag in range(2)
    ]
    assert list(out.columns) == names
    assert out.index.equals(frame.index)
    np.testing.assert_allclose(
        out["temp__2h__max__lag1"],
        frame["temp"]
        .rolling("2h", closed="left")
        .max()
        .shift(freq="2h")
        .reindex(frame.index),
    )


def test_unsorted_input_comes_back_in_input_order(rng):
    frame = _series(rng, 120)
    shuffled = frame.iloc[rng.permutation(len(frame))]
    transformer = GranularityTransformer(("2h", "1D", 4))
    np.testing.assert_allclose(
        transformer.fit_transform(shuffled),
        pd.DataFrame(transformer.fit_transform(frame), index=frame.index)
        .loc[shuffled.index]
        .to_numpy(),
    )


def test_ties_enter_time_windows_together():
    index = pd.DatetimeIndex(["2024-01-01 00:00"] * 2 + ["2024-01-01 00:10"] * 2)
    frame = pd.DataFrame({"v": [1.0, 2.0, 3.0, 4.0]}, index=index)
    out = GranularityTransformer(
        ("10min",), stats=("sum", "first", "last"), closed="right"
    ).fit_transform(frame)
    # both rows at 00:10 see both of their tied rows; first/last by input order
    np.testing.assert_array_equal(out[2:], [[7.0, 3.0, 4.0], [7.0, 3.0, 4.0]])
    np.testing.assert_array_equal(out[:2], [[3.0, 1.0, 2.0], [3.0, 1.0, 2.0]])


def test_polars_input_matches_pandas(rng):
    import polars as pl

    frame = _series(rng, 60).reset_index(names="time")
    transformer = GranularityTransformer(("2h", 3), time_column="time")
    np.testing.assert_array_equal(
        transformer.fit_transform(pl.from_pandas(frame)),
        transformer.fit_transform(frame),
    )


def test_timezone_aware_index_uses_absolute_time(rng):
    frame = _series(rng, 48)
    aware = frame.tz_localize("Europe/Paris")
    transformer = GranularityTransformer(("3h",))
    np.testing.assert_array_equal(
        transformer.fit_transform(aware), transformer.fit_transform(frame)
    )


def _frame():
    index = pd.date_range("2024-01-01", periods=5, freq="1h")
    return pd.DataFrame({"v": np.arange(5.0), "tag": list("aabbc")}, index=index)


@pytest.mark.parametrize(
    ("params", "make_X", "match"),
    [
        ({"granularities": ("1h",)}, lambda: np.ones((5, 2)), "need a time source"),
        (
            {"granularities": ("1h",)},
            lambda: _frame().reset_index(drop=True)[["v"]],
            "no DatetimeIndex and time_column is None",
        ),
        ({"granularities": ("60min", "1h")}, lambda: _frame()[["v"]], "same window"),
        ({"granularities": (0,)}, lambda: np.ones((5, 2)), "positive number of rows"),
        ({"granularities": ("-1h",)}, lambda: _frame()[["v"]], "must be positive"),
        ({"granularities": ("soon",)}, lambda: _frame()[["v"]], "not a duration"),
        ({"granularities": "1h"}, lambda: _frame()[["v"]], "must be an instance"),
        ({"n_lags": 0}, lambda: _frame()[["v"]], "'n_lags' parameter"),
        ({"stats": ("mean", "mode")}, lambda: _frame()[["v"]], r"\['mode'\]"),
        ({"stats": ()}, lambda: _frame()[["v"]], r"stats=\(\) is empty; pass at"),
        ({"closed": "past"}, lambda: _frame()[["v"]], "'closed' parameter"),
        ({}, _frame, r"Columns \['tag'\] of X are not numeric"),
        ({"group_column": "site"}, _frame, "group_column='site' is not a column"),
        ({"time_column": "v"}, _frame, "time_column='v' holds float64"),
        ({"group_column": "tag"}, lambda: np.ones((5, 2)), "needs a pandas or polars"),
    ],
)
def test_bad_input_errors_name_the_parameter(params, make_X, match):
    with pytest.raises(ValueError, match=match):
        GranularityTransformer(**params).fit(make_X())


def test_bad_rows_errors_name_the_column():
    frame = _frame().reset_index(names="when")
    frame.loc[3, "when"] = pd.NaT
    with pytest.raises(
        ValueError, match=r"time_column='when' has NaT \(first at row 3"
    ):
        GranularityTransformer(time_column="when", group_column="tag").fit(frame)
    frame = _frame()
    frame.loc[frame.index[2], "tag"] = None
    with pytest.raises(ValueError, match="group_column='tag' is missing at row 2"):
        GranularityTransformer(group_column="tag").fit(frame)
    frame = _frame()[["v"]]
    frame.iloc[1, 0] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        GranularityTransformer().fit(frame)
    with pytest.raises(ValueError, match="0 sample"):
        GranularityTransformer().fit(_frame()[["v"]].iloc[:0])


@pytest.mark.parametrize("position", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("shuffled", [False, True])
def test_nat_error_gives_the_input_row(position, shuffled):
    # NaT is found after sorting, where it leads its series: the row named must
    # still be the input's, whatever the order and the series
    frame = _frame().reset_index(names="when")
    if shuffled:
        frame = frame.iloc[[3, 0, 4, 2, 1]].reset_index(drop=True)
    frame.loc[position, "when"] = pd.NaT
    message = rf"has NaT \(first at row {position}\)"
    with pytest.raises(ValueError, match="time_column='when' " + message):
        GranularityTransformer(time_column="when", group_column="tag").fit(frame)
    indexed = frame.set_index("when")[["v"]]
    with pytest.raises(ValueError, match="the DatetimeIndex of X " + message):
        GranularityTransformer().fit(indexed)


def test_nat_error_in_transform_counts_rows_of_the_input_not_the_history():
    # series "a" picks up its fitted tail as context rows ahead of the input;
    # the NaT of series "b" must still be named by its row in the input
    times = pd.date_range("2024-01-01", periods=10, freq="1h")
    fitted = pd.DataFrame({"when": times, "tag": "a", "v": np.arange(10.0)})
    gt = GranularityTransformer(("3h",), time_column="when", group_column="tag")
    gt.fit(fitted)
    later = pd.DataFrame(
        {
            "when": list(pd.date_range("2024-01-01 10:00", periods=3, freq="1h"))
            + [pd.Timestamp("2024-01-01"), pd.NaT],
            "tag": ["a", "a", "a", "b", "b"],
            "v": np.arange(5.0),
        }
    )
    with pytest.raises(ValueError, match=r"has NaT \(first at row 4\)"):
        gt.transform(later)


@pytest.mark.parametrize("as_frame", [True, False])
def test_infinity_error_names_row_and_column(as_frame):
    values = np.zeros((6, 3))
    values[4, 1] = -np.inf
    values[5, 0] = np.inf
    values[1, 2] = np.nan  # NaN is allowed
    X = pd.DataFrame(values, columns=["a", "b", "c"]) if as_frame else values
    column = "'b'" if as_frame else "1"
    with pytest.raises(
        ValueError,
        match=rf"Input X contains infinity \(first at row 4, column {column}\)",
    ):
        GranularityTransformer((2,)).fit(X)


# --------------------------------------------------------------------------------------
# Time zones, lazy frames, windows beyond int64
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("aware_in", ["fit", "transform"])
def test_mixing_aware_and_naive_times_is_an_error_naming_fit(aware_in):
    frame = _frame()[["v"]]
    aware = frame.tz_localize("UTC")
    later = frame.set_axis(frame.index + pd.Timedelta("5h"))
    fit_X, new_X = (aware, later) if aware_in == "fit" else (frame, later)
    if aware_in == "transform":
        new_X = later.tz_localize("Europe/Paris")
    gt = GranularityTransformer(("2h",)).fit(fit_X)
    seen = "times aware of time zone 'UTC'" if aware_in == "fit" else "naive times"
    with pytest.raises(ValueError, match=f"but fit saw {seen}"):
        gt.transform(new_X)
    # the same awareness on both sides joins the history, in absolute time
    same = later.tz_localize("UTC") if aware_in == "fit" else later
    reference = GranularityTransformer(("2h",)).fit_transform(pd.concat([fit_X, same]))[
        len(fit_X) :
    ]
    np.testing.assert_array_equal(gt.transform(same), reference)
    assert gt.time_zone_ == ("UTC" if aware_in == "fit" else None)


def test_aware_times_in_other_zones_are_the_same_instants():
    frame = _frame()[["v"]].tz_localize("UTC")
    later = frame.set_axis(frame.index + pd.Timedelta("5h")).tz_convert("Asia/Tokyo")
    gt = GranularityTransformer(("2h",)).fit(frame)
    reference = GranularityTransformer(("2h",)).fit_transform(
        pd.concat([frame, later.tz_convert("UTC")])
    )[len(frame) :]
    np.testing.assert_array_equal(gt.transform(later), reference)


def test_polars_lazy_frame_is_refused_by_name():
    pl = pytest.importorskip("polars")
    lazy = pl.DataFrame({"v": [1.0, 2.0, 3.0]}).lazy()
    with pytest.raises(TypeError, match=r"polars LazyFrame.*X\.collect\(\)"):
        GranularityTransformer((2,)).fit(lazy)


def test_window_reach_beyond_int64_is_a_clear_error_for_any_lag_count():
    frame = _frame()[["v"]]
    # from 2024, 36500 days (100 years) fit in int64 nanoseconds twice but not
    # three times: lags 0 and 1 work (tests/test_rolling.py), 3 or more are refused
    for n_lags in (3, 5):
        with pytest.raises(ValueError, match="beyond what int64 nanoseconds can hold"):
            GranularityTransformer(("36500D",), n_lags=n_lags).fit_transform(frame)
