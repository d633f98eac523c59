"""GranularityTransformer's order, shape and EWM statistics, in any mix with the rest.

Each against its naive twin (``tests/_reference.py``) and pandas.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_multigran._transformer import GranularityTransformer
from tests._reference import naive_mixed_transform
from tests.test_transformer import granularity_lists, panels

STAT_POOL = (
    "mean",
    "std",
    "min",
    "count",
    "last",
    "median",
    "q0.1",
    "q0.75",
    "slope",
    "skew",
    "kurt",
    "ewm_mean",
    "ewm_std",
)


def _windows(transformer):
    return [(g.kind, g.size) for g in transformer.granularities_]


@settings(max_examples=40, deadline=None)
@given(
    frame=panels(max_rows=30),
    granularities=granularity_lists,
    stats=st.lists(st.sampled_from(STAT_POOL), min_size=1, max_size=5, unique=True),
    n_lags=st.integers(1, 3),
    closed=st.sampled_from(["left", "right", "both", "neither"]),
    min_periods=st.integers(0, 2),
    ddof=st.integers(0, 1),
    grouped=st.booleans(),
)
def test_any_mix_of_statistics_matches_the_naive_twins(
    frame, granularities, stats, n_lags, closed, min_periods, ddof, grouped
):
    transformer = GranularityTransformer(
        granularities,
        stats=stats,
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
    expected = naive_mixed_transform(
        frame[["x", "y"]].to_numpy(),
        frame["time"].to_numpy().astype("datetime64[ns]").astype(np.int64),
        groups,
        _windows(transformer),
        n_lags=n_lags,
        closed=closed,
        stats=stats,
        min_periods=min_periods,
        ddof=ddof,
        fill_value=-1.0,
    )
    assert got.shape == expected.shape
    assert len(transformer.get_feature_names_out()) == got.shape[1]
    # skew and kurt of nearly equal values divide rounding by rounding: compare
    # them on windows whose spread is well above the values' rounding
    scale = np.nanmax(np.abs(frame[["x", "y"]].to_numpy()), initial=1.0)
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-9 * scale**2)


def _irregular(rng, n_rows=400):
    index = pd.DatetimeIndex(
        pd.Timestamp("2024-03-01")
        + pd.to_timedelta(np.cumsum(rng.integers(1, 9, size=n_rows)), unit="min")
    )
    frame = pd.DataFrame({"v": rng.normal(size=n_rows) + 10.0}, index=index)
    frame.iloc[rng.random(n_rows) < 0.05, 0] = np.nan
    return frame


@pytest.mark.parametrize("closed", ["left", "right", "both", "neither"])
@pytest.mark.parametrize(
    ("stat", "method"),
    [
        ("median", lambda r: r.median()),
        ("q0.9", lambda r: r.quantile(0.9)),
        ("skew", lambda r: r.skew()),
        ("kurt", lambda r: r.kurt()),
    ],
)
def test_order_and_shape_statistics_match_pandas_rolling(rng, closed, stat, method):
    """Time windows against ``rolling("30min")``, row windows against ``rolling(6)``
    shifted for the lags."""
    frame = _irregular(rng)
    got = (
        GranularityTransformer(("30min", 6), stats=(stat,), n_lags=2, closed=closed)
        .set_output(transform="pandas")
        .fit_transform(frame)
    )
    min_periods = {"skew": 3, "kurt": 4}.get(stat, 1)
    roll = frame["v"].rolling("30min", closed=closed, min_periods=min_periods)
    np.testing.assert_allclose(
        got[f"v__30min__{stat}__lag0"], method(roll), rtol=1e-8, atol=1e-8
    )
    for lag in range(2):
        roll = frame["v"].rolling(6, closed=closed, min_periods=min_periods)
        np.testing.assert_allclose(
            got[f"v__6__{stat}__lag{lag}"],
            method(roll).shift(6 * lag),
            rtol=1e-8,
            atol=1e-8,
        )


def test_slope_matches_polyfit_on_every_window(rng):
    frame = _irregular(rng, 200)
    got = (
        GranularityTransformer(("1h",), stats=("slope",), closed="right")
        .set_output(transform="pandas")
        .fit_transform(frame)["v__1h__slope__lag0"]
        .to_numpy()
    )
    # whole minutes: the window bounds compare exactly
    minutes = ((frame.index - frame.index[0]) // pd.Timedelta("1min")).to_numpy()
    hours = minutes / 60.0
    values = frame["v"].to_numpy()
    for i in range(len(frame)):
        inside = (
            (minutes > minutes[i] - 60) & (minutes <= minutes[i]) & ~np.isnan(values)
        )
        if np.unique(hours[inside]).size < 2:
            assert np.isnan(got[i])
            continue
        expected = np.polyfit(hours[inside], values[inside], 1)[0]
        np.testing.assert_allclose(got[i], expected, rtol=1e-9, atol=1e-12)


def test_ewm_mean_matches_pandas_with_times(rng):
    """Lag 0 with closed="right" is pandas' value at the row; lag 1 is it as of one
    half-life earlier, i.e. at the last row at or before then."""
    frame = _irregular(rng).dropna()
    got = (
        GranularityTransformer(("1h",), stats=("ewm_mean",), n_lags=2, closed="right")
        .set_output(transform="pandas")
        .fit_transform(frame)
    )
    mean = frame["v"].ewm(halflife=pd.Timedelta("1h"), times=frame.index).mean()
    np.testing.assert_allclose(got["v__1h__ewm_mean__lag0"], mean, rtol=1e-10)
    earlier = frame.index.searchsorted(frame.index - pd.Timedelta("1h"), "right") - 1
    valid = earlier >= 0
    np.testing.assert_allclose(
        got["v__1h__ewm_mean__lag1"].to_numpy()[valid],
        mean.to_numpy()[earlier[valid]],
        rtol=1e-10,
    )
    assert np.isnan(got["v__1h__ewm_mean__lag1"].to_numpy()[~valid]).all()


@pytest.mark.parametrize("ddof", [0, 1])
def test_ewm_std_on_even_rows_matches_pandas(rng, ddof):
    """On a regular grid a half-life of "1h" is one of 6 rows, and pandas' std
    (``bias=True`` for ddof=0, its bias correction otherwise) applies."""
    index = pd.date_range("2024-01-01", periods=300, freq="10min")
    frame = pd.DataFrame({"v": rng.normal(size=300) + 5.0}, index=index)
    got = (
        GranularityTransformer(("1h",), stats=("ewm_std",), closed="right", ddof=ddof)
        .set_output(transform="pandas")
        .fit_transform(frame)
    )
    expected = frame["v"].ewm(halflife=6).std(bias=ddof == 0)
    if ddof == 0:
        # one value: pandas says 0, and one value has no spread either way
        expected.iloc[0] = got.iloc[0, 0]
    np.testing.assert_allclose(got["v__1h__ewm_std__lag0"], expected, rtol=1e-9)


def test_ewm_in_rows_on_plain_arrays_matches_pandas(rng):
    values = rng.normal(size=(300, 2))
    got = GranularityTransformer((5,), stats=("ewm_mean", "median")).fit_transform(
        values
    )
    frame = pd.DataFrame(values)
    for c in range(2):
        expected = frame[c].ewm(halflife=5).mean().shift(1)
        np.testing.assert_allclose(got[:, 2 * c], expected, rtol=1e-10)
        median = frame[c].rolling(5, closed="left", min_periods=1).median()
        np.testing.assert_allclose(got[:, 2 * c + 1], median, rtol=1e-12)


def test_unsorted_grouped_rows_come_back_in_input_order(rng):
    frame = _irregular(rng, 120).reset_index(names="time")
    frame["series"] = rng.choice(["a", "b"], size=len(frame))
    transformer = GranularityTransformer(
        ("20min", 3),
        stats=("q0.25", "ewm_mean", "slope", "max"),
        time_column="time",
        group_column="series",
    )
    ordered = transformer.fit_transform(frame)
    shuffle = rng.permutation(len(frame))
    np.testing.assert_array_equal(
        transformer.fit_transform(frame.iloc[shuffle]), ordered[shuffle]
    )


def test_polars_input_matches_pandas(rng):
    import polars as pl

    frame = _irregular(rng, 100).reset_index(names="time")
    transformer = GranularityTransformer(
        ("1h", 4), stats=("median", "kurt", "ewm_std"), time_column="time", n_lags=2
    )
    np.testing.assert_array_equal(
        transformer.fit_transform(pl.from_pandas(frame)),
        transformer.fit_transform(frame),
    )


@pytest.mark.parametrize("granularities", [("1h",), (6,)])
def test_ewm_after_fit_matches_the_whole_series(rng, granularities):
    """The history kept for EWM reaches far enough that transform's later rows get
    the whole series' values (to rounding)."""
    index = pd.date_range("2024-01-01", periods=2000, freq="10min")
    frame = pd.DataFrame({"v": rng.normal(size=2000).cumsum()}, index=index)
    transformer = GranularityTransformer(
        granularities, stats=("ewm_mean", "ewm_std", "median"), n_lags=2, ddof=1
    )
    whole = transformer.fit_transform(frame)
    transformer.fit(frame.iloc[:1500])
    np.testing.assert_allclose(
        transformer.transform(frame.iloc[1500:]), whole[1500:], rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize(
    ("stats", "match"),
    [
        (("q1.5",), r"'q1\.5' has level 1\.5; the level must lie strictly between"),
        (("q0",), r"'q0' has level 0\.0"),
        (("qnan",), r"'qnan' has level nan"),
        (("median", "q0.5"), r"same statistic twice \(\['median', 'q0\.5'\]\)"),
        (("q0.9", "q0.90"), r"same statistic twice"),
        (("ewm_mean", "ewm_mean"), r"same statistic twice"),
        (("mode",), r"unknown statistics \['mode'\].*'q<level>'"),
        (("qx",), r"unknown statistics \['qx'\]"),
        ((), r"is empty"),
    ],
)
def test_bad_statistics_errors_name_them(stats, match):
    with pytest.raises(ValueError, match=match):
        GranularityTransformer((2,), stats=stats).fit(np.zeros((3, 1)))


# Lag lists
# --------------------------------------------------------------------------------------

lag_lists = st.one_of(
    st.integers(1, 3),
    st.lists(st.integers(0, 5), min_size=1, max_size=3, unique=True),
)


def _lag_lists(lags, granularities):
    """The lag indices each granularity gets, read from the ``lags`` parameter."""

    def one(spec):
        return list(range(spec)) if isinstance(spec, int) else list(spec)

    if isinstance(lags, dict):
        return [one(lags[g]) if g in lags else [0] for g in granularities]
    return [one(lags)] * len(granularities)


@settings(max_examples=40, deadline=None)
@given(
    frame=panels(max_rows=30),
    granularities=granularity_lists,
    stats=st.lists(st.sampled_from(STAT_POOL), min_size=1, max_size=4, unique=True),
    lags=st.one_of(lag_lists, st.data()),
    closed=st.sampled_from(["left", "right", "both", "neither"]),
    grouped=st.booleans(),
)
def test_lag_lists_match_the_naive_twins(
    frame, granularities, stats, lags, closed, grouped
):
    if not isinstance(lags, (int, list)):
        # a dict over some of the granularities
        keys = lags.draw(st.lists(st.sampled_from(granularities), unique=True))
        lags = {key: lags.draw(lag_lists) for key in keys}
    transformer = GranularityTransformer(
        granularities,
        stats=stats,
        lags=lags,
        closed=closed,
        time_column="time",
        group_column="series" if grouped else None,
        fill_value=-1.0,
    )
    got = transformer.fit_transform(frame if grouped else frame.drop(columns="series"))
    groups = frame["series"].tolist() if grouped else [None] * len(frame)
    lag_lists_ = _lag_lists(lags, granularities)
    expected = naive_mixed_transform(
        frame[["x", "y"]].to_numpy(),
        frame["time"].to_numpy().astype("datetime64[ns]").astype(np.int64),
        groups,
        _windows(transformer),
        lags=lag_lists_,
        closed=closed,
        stats=stats,
        min_periods=1,
        ddof=0,
        fill_value=-1.0,
    )
    names = [
        f"{column}__{transformer.granularities_[g].name}__{stat}__lag{lag}"
        for g in range(len(granularities))
        for column in ("x", "y")
        for stat in stats
        for lag in lag_lists_[g]
    ]
    assert list(transformer.get_feature_names_out()) == names
    scale = np.nanmax(np.abs(frame[["x", "y"]].to_numpy()), initial=1.0)
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-9 * scale**2)


@pytest.mark.parametrize("closed", ["left", "right"])
def test_seasonal_lags_match_pandas_shifted_windows(rng, closed):
    """On a 15-minute grid, lag k of "1h" is ``rolling("1h")`` shifted by 4 k rows,
    and lag k of 4 rows is ``rolling(4)`` shifted by 4 k rows."""
    index = pd.date_range("2024-01-01", periods=24 * 4 * 10, freq="15min")
    frame = pd.DataFrame({"v": rng.normal(size=len(index))}, index=index)
    frame.iloc[rng.random(len(frame)) < 0.05, 0] = np.nan
    lags = {"1h": [0, 1, 24, 168 // 24 * 24], 4: [3, 0]}
    got = (
        GranularityTransformer(
            ("1h", 4), stats=("mean", "max", "median"), lags=lags, closed=closed
        )
        .set_output(transform="pandas")
        .fit_transform(frame)
    )
    for window, name in (("1h", "1h"), (4, "4")):
        roll = frame["v"].rolling(window, closed=closed, min_periods=1)
        for stat, method in (("mean", roll.mean), ("max", roll.max)):
            rolled = method()
            for lag in lags[window]:
                np.testing.assert_allclose(
                    got[f"v__{name}__{stat}__lag{lag}"],
                    rolled.shift(4 * lag),
                    rtol=1e-12,
                    atol=1e-12,
                )
        rolled = roll.median()
        for lag in lags[window]:
            np.testing.assert_allclose(
                got[f"v__{name}__median__lag{lag}"], rolled.shift(4 * lag), rtol=1e-12
            )
    assert list(got.columns[-6:]) == [
        "v__4__mean__lag3",
        "v__4__mean__lag0",
        "v__4__max__lag3",
        "v__4__max__lag0",
        "v__4__median__lag3",
        "v__4__median__lag0",
    ]


@pytest.mark.parametrize("stats", [("mean", "min"), ("ewm_mean", "q0.5")])
def test_history_reaches_the_largest_lag(rng, stats):
    index = pd.date_range("2024-01-01", periods=24 * 20, freq="1h")
    frame = pd.DataFrame({"v": rng.normal(size=len(index))}, index=index)
    transformer = GranularityTransformer(
        ("1h", 2), stats=stats, lags={"1h": [0, 24, 168], 2: 3}
    )
    whole = transformer.fit_transform(frame)
    transformer.fit(frame.iloc[:300])
    np.testing.assert_allclose(
        transformer.transform(frame.iloc[300:]), whole[300:], rtol=1e-12, atol=1e-12
    )


def test_lag_lists_on_plain_arrays_are_rows(rng):
    values = rng.normal(size=(50, 1))
    got = GranularityTransformer((3,), stats=("sum",), lags=[2, 0]).fit_transform(
        values
    )
    rolled = pd.Series(values[:, 0]).rolling(3, closed="left", min_periods=1).sum()
    np.testing.assert_allclose(got[:, 0], rolled.shift(6), rtol=1e-12)
    np.testing.assert_allclose(got[:, 1], rolled, rtol=1e-12)


def test_an_int_lags_is_n_lags():
    X = np.arange(20.0).reshape(10, 2)
    np.testing.assert_array_equal(
        GranularityTransformer((2,), lags=3).fit_transform(X),
        GranularityTransformer((2,), n_lags=3).fit_transform(X),
    )


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (
            {"n_lags": 2, "lags": [0, 1]},
            r"n_lags=2 and lags=\[0, 1\] are both set",
        ),
        ({"lags": {"2h": [0]}}, r"lags has the key '2h', which is not one of"),
        ({"lags": [0, -1]}, r"lags=\[0, -1\] holds \[-1\], which are not lag"),
        ({"lags": [0, 0]}, r"lags=\[0, 0\] lists a lag twice"),
        ({"lags": []}, r"non-empty list of lag indices"),
        ({"lags": [True]}, r"holds \[True\]"),
        ({"lags": {"1h": 0}}, r"lags\['1h'\]=0 counts lags and must be at least 1"),
        ({"lags": {"1h": "24"}}, r"lags\['1h'\]='24' must be a count"),
        ({"lags": 0}, r"'lags' parameter"),
    ],
)
def test_bad_lags_errors_name_the_parameter(params, match):
    index = pd.date_range("2024-01-01", periods=5, freq="1h")
    X = pd.DataFrame({"v": np.arange(5.0)}, index=index)
    with pytest.raises(ValueError, match=match):
        GranularityTransformer(("1h", 3), **params).fit(X)


@pytest.mark.parametrize("granularity", [3, "20min"])
def test_unsorted_lag_lists_match_the_naive_twins_for_every_statistic(rng, granularity):
    frame = _irregular(rng, 80).reset_index(names="time")
    transformer = GranularityTransformer(
        (granularity,), stats=STAT_POOL, lags=[4, 0, 2], time_column="time"
    )
    got = transformer.fit_transform(frame)
    expected = naive_mixed_transform(
        frame[["v"]].to_numpy(),
        frame["time"].to_numpy().astype("datetime64[ns]").astype(np.int64),
        [None] * len(frame),
        _windows(transformer),
        lags=[[4, 0, 2]],
        closed="left",
        stats=STAT_POOL,
        min_periods=1,
        ddof=0,
        fill_value=np.nan,
    )
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-9)
