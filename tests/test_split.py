"""HorizonTimeSeriesSplit against TimeSeriesSplit, a naive loop and a property."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score

from sklearn_multigran.forecasting import HorizonTimeSeriesSplit


def naive_folds(times, n_splits, reach):
    """Python loop: the last ``n_splits`` blocks of distinct times, and the rows
    whose last target ``reach(time)`` is strictly before a block's first time."""
    distinct = sorted(set(times))
    size = len(distinct) // (n_splits + 1)
    folds = []
    for k in range(n_splits):
        block = distinct[len(distinct) - (n_splits - k) * size :][:size]
        train = [i for i, t in enumerate(times) if reach(t) < block[0]]
        test = [i for i, t in enumerate(times) if block[0] <= t <= block[-1]]
        folds.append((train, test))
    return folds


def as_lists(cv, X):
    return [(train.tolist(), test.tolist()) for train, test in cv.split(X)]


@pytest.mark.parametrize(("horizon", "gap"), [(1, 0), (6, 0), (3, 2)])
def test_positions_match_time_series_split_with_a_gap_of_the_reach(horizon, gap):
    X = np.zeros((60, 2))
    ours = as_lists(HorizonTimeSeriesSplit(4, horizon=horizon, gap=gap), X)
    theirs = as_lists(TimeSeriesSplit(4, gap=horizon + gap), X)
    assert ours == theirs


def test_panel_in_any_order_matches_a_naive_loop(rng):
    times = pd.date_range("2024-01-01", periods=40, freq="h")
    parts = [
        pd.DataFrame({"when": times, "site": "a"}),
        pd.DataFrame({"when": times[5:33], "site": "b"}),  # shorter series
        pd.DataFrame({"when": times.delete([20, 21, 22]), "site": "c"}),  # a gap
    ]
    frame = pd.concat(parts).sample(frac=1.0, random_state=0).reset_index(drop=True)
    cv = HorizonTimeSeriesSplit(3, horizon=4, time="when")
    step = pd.Timedelta("1h")
    expected = naive_folds(list(frame["when"]), 3, lambda t: t + 4 * step)
    assert as_lists(cv, frame) == expected
    for train, test in cv.split(frame):
        assert frame["when"][train].max() + 4 * step < frame["when"][test].min()


def test_datetime_index_numeric_column_and_calendar_steps():
    index = pd.date_range("2020-01-01", periods=30, freq="MS")
    frame = pd.DataFrame({"x": np.arange(30.0)}, index=index)
    cv = HorizonTimeSeriesSplit(3, horizon=2)
    months = pd.offsets.MonthBegin()
    assert as_lists(cv, frame) == naive_folds(list(index), 3, lambda t: t + 2 * months)
    numeric = pd.DataFrame({"t": np.arange(30) * 0.5, "x": 0.0})
    cv = HorizonTimeSeriesSplit(3, horizon=2, time="t")
    assert as_lists(cv, numeric) == naive_folds(
        list(numeric["t"]), 3, lambda t: t + 2 * 0.5
    )
    # an explicit freq wins over the inferred one
    cv = HorizonTimeSeriesSplit(3, horizon=1, time="t", freq=2.0)
    assert as_lists(cv, numeric) == naive_folds(list(numeric["t"]), 3, lambda t: t + 2)


def test_polars_frames_give_the_folds_of_pandas():
    pl = pytest.importorskip("polars")
    times = pd.date_range("2024-01-01", periods=30, freq="h")
    frame = pd.DataFrame({"when": times, "x": np.arange(30.0)})
    cv = HorizonTimeSeriesSplit(3, horizon=2, time="when")
    assert as_lists(cv, pl.DataFrame(frame)) == as_lists(cv, frame)
    with pytest.raises(ValueError, match="time='t' is not a column of X"):
        next(HorizonTimeSeriesSplit(3, horizon=2, time="t").split(pl.DataFrame(frame)))


def test_time_zones_are_absolute_time():
    index = pd.date_range("2024-03-30", periods=48, freq="h", tz="Europe/Paris")
    frame = pd.DataFrame({"x": 0.0}, index=index)
    naive = frame.tz_convert("UTC").tz_localize(None)
    cv = HorizonTimeSeriesSplit(3, horizon=5)
    assert as_lists(cv, frame) == as_lists(cv, naive)


@st.composite
def panels(draw):
    n_series = draw(st.integers(1, 4))
    step = draw(st.sampled_from([1, 2, 5]))
    rows = []
    for _ in range(n_series):
        first = draw(st.integers(0, 10))
        length = draw(st.integers(1, 30))
        keep = draw(st.lists(st.booleans(), min_size=length, max_size=length))
        rows += [(first + k) * step for k in range(length) if keep[k]]
    order = draw(st.permutations(range(len(rows))))
    return np.asarray(rows, dtype=np.int64)[list(order)], step


@settings(deadline=None, max_examples=200)
@given(
    panel=panels(),
    n_splits=st.integers(2, 5),
    horizon=st.integers(1, 6),
    gap=st.integers(0, 3),
)
def test_no_training_target_reaches_the_test_block(panel, n_splits, horizon, gap):
    times, step = panel
    frame = pd.DataFrame({"t": times})
    cv = HorizonTimeSeriesSplit(n_splits, horizon=horizon, gap=gap, time="t", freq=step)
    n_times = len(np.unique(times))
    size = n_times // (n_splits + 1)
    if size < 1 or n_times - size * n_splits < 1:
        with pytest.raises(ValueError, match="distinct times"):
            list(cv.split(frame))
        return
    expected = naive_folds(list(times), n_splits, lambda t: t + (horizon + gap) * step)
    if any(not train for train, _ in expected):
        with pytest.raises(ValueError, match="no training rows"):
            list(cv.split(frame))
        return
    folds = list(cv.split(frame))
    assert [(a.tolist(), b.tolist()) for a, b in folds] == expected
    assert len(folds) == cv.get_n_splits() == n_splits
    tested = np.concatenate([test for _, test in folds])
    assert len(np.unique(tested)) == len(tested)  # test blocks do not overlap
    assert len(np.unique(times[tested])) == n_splits * size
    for train, test in folds:
        first = times[test].min()
        assert (times[train] + (horizon + gap) * step < first).all()
        # every row of a test time is in the test block: no panel is cut
        assert set(np.flatnonzero(np.isin(times, times[test]))) == set(test)
        # and every row that can train does
        assert set(np.flatnonzero(times + (horizon + gap) * step < first)) == set(train)


def test_usable_as_cv_in_grid_search(rng):
    index = pd.date_range("2024-01-01", periods=200, freq="h")
    X = pd.DataFrame(rng.normal(size=(200, 3)), index=index)
    y = X.to_numpy() @ [1.0, -2.0, 0.5] + rng.normal(0, 0.1, 200)
    cv = HorizonTimeSeriesSplit(4, horizon=6)
    search = GridSearchCV(
        Ridge(), {"alpha": [0.1, 10.0]}, cv=cv, scoring="neg_mean_squared_error"
    ).fit(X, y)
    for k, alpha in enumerate([0.1, 10.0]):
        manual = []
        for train, test in cv.split(X):
            model = Ridge(alpha=alpha).fit(X.iloc[train], y[train])
            manual.append(np.mean((model.predict(X.iloc[test]) - y[test]) ** 2))
        np.testing.assert_allclose(
            -search.cv_results_["mean_test_score"][k], np.mean(manual)
        )
    scores = cross_val_score(Ridge(), X, y, cv=cv)
    assert len(scores) == 4


INIT_ERRORS = [
    ({"n_splits": 1, "horizon": 2}, ValueError, "n_splits must be >= 2"),
    ({"n_splits": 2.5, "horizon": 2}, TypeError, "n_splits must be an integer"),
    ({"horizon": 0}, ValueError, "horizon must be >= 1, got horizon=0"),
    ({"horizon": True}, TypeError, "horizon must be an integer"),
    ({"horizon": 2, "gap": -1}, ValueError, "gap must be >= 0"),
    ({"horizon": 2, "test_size": 0}, ValueError, "test_size must be >= 1"),
    ({"horizon": 2, "time": 3}, TypeError, "time must be a column name"),
    ({"horizon": 2, "freq": "often"}, ValueError, "freq='often' is neither"),
    ({"horizon": 2, "freq": -1.0}, ValueError, "freq must be positive"),
]


@pytest.mark.parametrize(("params", "error", "match"), INIT_ERRORS)
def test_parameters_are_validated_at_construction(params, error, match):
    with pytest.raises(error, match=match):
        HorizonTimeSeriesSplit(**params)


def test_split_errors_name_the_problem():
    with pytest.raises(TypeError, match="missing 1 required keyword-only"):
        HorizonTimeSeriesSplit(3)
    cv = HorizonTimeSeriesSplit(3, horizon=2, time="when")
    with pytest.raises(ValueError, match="time='when' names a column, but X is a"):
        next(cv.split(np.zeros((10, 1))))
    with pytest.raises(ValueError, match=r"time='when' is not a column of X"):
        next(cv.split(pd.DataFrame({"t": range(10)})))
    with pytest.raises(ValueError, match="need more than 15 distinct times"):
        next(HorizonTimeSeriesSplit(5, horizon=1, test_size=3).split(np.zeros((12, 1))))
    with pytest.raises(ValueError, match="fold 0 has no training rows"):
        list(HorizonTimeSeriesSplit(3, horizon=10).split(np.zeros((12, 1))))
    with pytest.warns(UserWarning, match="groups parameter is ignored"):
        next(HorizonTimeSeriesSplit(3, horizon=1).split(np.zeros((12, 1)), groups=[0]))


def test_repr_shows_the_parameters():
    shown = repr(HorizonTimeSeriesSplit(3, horizon=24, gap=1))
    assert shown.startswith("HorizonTimeSeriesSplit(")
    for param in ("n_splits=3", "horizon=24", "gap=1", "time=None", "freq=None"):
        assert param in shown
