"""The CLI's comparison against an independent computation on the same folds."""

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_multigran import GranularityTransformer, MultiGranularityRegressor
from sklearn_multigran._cli import (
    RIDGE_ALPHAS,
    SHARING_GRID,
    default_granularities,
    main,
    run_forecast,
    validate_frame,
)
from tests._cli_data import (
    HORIZON,
    LAGS,
    N_ROWS,
    SPLITS,
    WINDOW,
    csv_args,
    hourly_frame,
)


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "data.csv"
    hourly_frame().to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------------------
# Numbers: the table against an independent computation on the same folds
# --------------------------------------------------------------------------------------


def hand_folds(n_origins, n_splits=SPLITS):
    """TimeSeriesSplit's test blocks of ``n_origins`` consecutive origins, and the
    origins before each block whose targets all end before its first origin."""
    size = n_origins // (n_splits + 1)
    folds = []
    for i in range(n_splits):
        start = n_origins - (n_splits - i) * size
        folds.append((np.arange(start - HORIZON), np.arange(start, start + size)))
    return folds


def test_scores_match_a_hand_computation_on_the_same_folds(csv, capsys):
    assert main(csv_args(csv, "--no-plot")) == 0
    out = capsys.readouterr().out

    y = hourly_frame()["value"].to_numpy()
    origins = np.arange(WINDOW - 1, N_ROWS - HORIZON)  # full window, all H targets
    steps = np.arange(1, HORIZON + 1)
    Y = y[origins[:, None] + steps]
    W = y[origins[:, None] - np.arange(WINDOW)[::-1]]  # oldest first
    last, ridge = [], []
    for train, test in hand_folds(len(origins)):
        error = Y[test] - y[origins[test], None]
        last.append((np.mean(error**2), np.mean(np.abs(error))))
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS))
        error = Y[test] - model.fit(W[train], Y[train]).predict(W[test])
        ridge.append((np.mean(error**2), np.mean(np.abs(error))))
    last_mse, last_mae = np.mean(last, axis=0)
    ridge_mse, ridge_mae = np.mean(ridge, axis=0)

    row = re.search(r"repeat last value\s+([\d.]+)\s+([\d.]+)", out)
    np.testing.assert_allclose(
        [float(v) for v in row.groups()], [last_mse, last_mae], atol=5e-5
    )
    row = re.search(
        rf"plain ridge on the last {WINDOW} values\s+([\d.]+)\s+([\d.]+)", out
    )
    np.testing.assert_allclose(
        [float(v) for v in row.groups()], [ridge_mse, ridge_mae], atol=5e-5
    )

    # and at full precision, from the returned data
    series = validate_frame(hourly_frame(), time="when", target="value")
    result = run_forecast(series, horizon=HORIZON, n_lags=LAGS, n_splits=SPLITS)
    # (floats: a row of a frame with a text column comes back as objects)
    scores = result.scores.set_index("model")[["mse", "mae"]].astype(float)
    np.testing.assert_allclose(
        scores.loc["repeat last"], [last_mse, last_mae], rtol=1e-12
    )
    np.testing.assert_allclose(
        scores.loc["plain ridge"], [ridge_mse, ridge_mae], rtol=1e-9
    )
    for (train, test), (hand_train, hand_test) in zip(
        result.folds, hand_folds(len(origins)), strict=True
    ):
        np.testing.assert_array_equal(train, origins[hand_train])
        np.testing.assert_array_equal(test, origins[hand_test])


def test_sharing_is_the_choice_of_grid_search_on_the_same_folds():
    frame = hourly_frame()
    series = validate_frame(frame, time="when", target="value")
    result = run_forecast(series, horizon=HORIZON, n_lags=LAGS, n_splits=SPLITS)

    features = GranularityTransformer(
        default_granularities(series.step),
        stats=("mean",),
        n_lags=LAGS,
        closed="right",
        time_column="when",
    ).set_output(transform="pandas")
    X = features.fit_transform(series.frame[["when", "value"]])
    y = series.frame["value"].to_numpy()
    Y = np.zeros((len(y), HORIZON))  # the last rows are in no fold
    for h in range(1, HORIZON + 1):
        Y[:-h, h - 1] = y[h:]
    search = GridSearchCV(
        MultiGranularityRegressor(alpha="auto"),
        {"sharing": list(SHARING_GRID)},
        cv=result.folds,
        scoring="neg_mean_squared_error",
    ).fit(X, Y)
    assert search.best_params_["sharing"] == result.sharing
    mse = result.scores.loc[result.scores["model"] == "multi-granularity", "mse"]
    np.testing.assert_allclose(-search.cv_results_["mean_test_score"], mse, rtol=1e-9)


def test_groups_pool_one_model_and_folds_never_see_their_test_targets():
    parts = []
    for seed, site in enumerate(["north", "south"]):
        part = hourly_frame(seed=seed)
        part["site"] = site
        parts.append(part.drop(index=range(200, 203)))  # a three-hour gap
    frame = pd.concat(parts).sample(frac=1.0, random_state=0)  # rows in any order
    first_site = frame["site"].iloc[0]
    series = validate_frame(
        frame, time="when", target="value", group="site", covariates=["temp"]
    )
    assert series.n_missing == 6
    result = run_forecast(series, horizon=HORIZON, n_lags=LAGS, n_splits=SPLITS)

    times = series.frame["when"].to_numpy()
    sites = series.frame["site"].to_numpy()
    step = np.timedelta64(1, "h")
    for train, test in result.folds:
        assert times[train].max() + HORIZON * step < times[test].min()
        assert set(sites[test]) == {"north", "south"}  # cut on times, not rows
    assert result.plot_group == first_site
    assert set(result.plot_forecasts["model"]) == {"multi-granularity", "plain ridge"}
    assert result.plot_forecasts.groupby("origin").size().eq(2 * HORIZON).all()
