"""The CLI's comparison against an independent computation on the same folds."""

import re

import numpy as np
import pandas as pd
import pytest

from sklearn_multigran._cli import main, run_forecast, validate_frame
from sklearn_multigran._cli._run import TEST_SHARE
from sklearn_multigran.forecasting import WindowRidgeForecaster
from tests._cli_data import HORIZON, N_ROWS, SPLITS, csv_args, hourly_frame


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "data.csv"
    hourly_frame().to_csv(path, index=False)
    return path


def hand_blocks(n_times, n_splits=SPLITS):
    """The test origins of each block: the last ``n_splits`` blocks of
    ``int(TEST_SHARE * n_times / n_splits)`` origins among those with all targets."""
    size = int(TEST_SHARE * n_times / n_splits)
    end = n_times - HORIZON
    return [
        np.arange(end - (n_splits - i) * size, end - (n_splits - i - 1) * size)
        for i in range(n_splits)
    ]


def test_scores_match_a_hand_computation_on_the_same_folds(csv, capsys):
    assert main(csv_args(csv, "--no-plot")) == 0
    out = capsys.readouterr().out

    frame = hourly_frame()
    y = frame["value"].to_numpy()
    times = pd.DatetimeIndex(pd.to_datetime(frame["when"]))
    steps = np.arange(1, HORIZON + 1)
    last, ridge = [], []
    for block in hand_blocks(N_ROWS):
        error = y[block[:, None] + steps] - y[block, None]  # repeat-last by hand
        last.append((np.mean(error**2), np.mean(np.abs(error))))
        # the ridge baseline refitted on the rows up to the block's first origin
        history = pd.Series(y[: block[0] + 1], index=times[: block[0] + 1])
        model = WindowRidgeForecaster(HORIZON, calibration_size=0).fit(history)
        out_ = model.predict(pd.Series(y, index=times), origins=times[block])
        error = out_["prediction"].to_numpy() - y[(block[:, None] + steps).ravel()]
        ridge.append((np.mean(error**2), np.mean(np.abs(error))))
    last_mse, last_mae = np.mean(last, axis=0)
    ridge_mse, ridge_mae = np.mean(ridge, axis=0)

    row = re.search(r"^  repeat last\s+([\d.]+)\s+([\d.]+)", out, flags=re.M)
    np.testing.assert_allclose(
        [float(v) for v in row.groups()], [last_mse, last_mae], atol=5e-5
    )
    row = re.search(r"ridge on the raw window\s+([\d.]+)\s+([\d.]+)", out)
    np.testing.assert_allclose(
        [float(v) for v in row.groups()], [ridge_mse, ridge_mae], atol=5e-5
    )

    # and at full precision, from the returned data
    series = validate_frame(frame, time="when", target="value")
    result = run_forecast(series, horizon=HORIZON, n_splits=SPLITS)
    scores = result.scores.set_index("model")[["mse", "mae"]].astype(float)
    np.testing.assert_allclose(
        scores.loc["repeat last"], [last_mse, last_mae], rtol=1e-12
    )
    np.testing.assert_allclose(
        scores.loc["ridge on the raw window"], [ridge_mse, ridge_mae], rtol=1e-9
    )
    assert [first for first, _ in result.folds] == [
        times[b[0]] for b in hand_blocks(N_ROWS)
    ]


def test_a_fold_is_scored_without_the_data_after_its_block():
    frame = hourly_frame()
    series = validate_frame(frame, time="when", target="value")
    result = run_forecast(series, horizon=HORIZON, n_splits=SPLITS)
    block = hand_blocks(N_ROWS)[0]
    changed = frame.copy()
    after = block[-1] + HORIZON + 1  # past the first block's last target
    changed.loc[after:, "value"] = 1e3 * np.arange(len(frame) - after)
    series = validate_frame(changed, time="when", target="value")
    again = run_forecast(series, horizon=HORIZON, n_splits=SPLITS)
    first = result.fold_scores[result.fold_scores["fold"] == 0]
    first_again = again.fold_scores[again.fold_scores["fold"] == 0]
    np.testing.assert_array_equal(first["mse"], first_again["mse"])
    assert not np.array_equal(
        result.fold_scores["mse"].to_numpy(), again.fold_scores["mse"].to_numpy()
    )


def test_groups_pool_one_model_and_the_plot_shows_one_series():
    parts = []
    for seed, site in enumerate(["north", "south"]):
        part = hourly_frame(seed=seed)
        part["site"] = site
        parts.append(part.drop(index=range(200, 203)))  # a three-hour gap
    frame = pd.concat(parts).sample(frac=1.0, random_state=0)  # rows in any order
    series = validate_frame(
        frame, time="when", target="value", group="site", covariates=["temp"]
    )
    assert series.n_missing == 6
    result = run_forecast(series, horizon=HORIZON, n_splits=SPLITS)
    assert result.plot_group in {"north", "south"}
    assert set(result.plot_forecasts["model"]) == {
        "MultiGranularityForecaster",
        "ridge on the raw window",
    }
    assert result.plot_forecasts.groupby(["model", "origin"]).size().eq(HORIZON).all()
    ours = result.plot_forecasts[
        result.plot_forecasts["model"] == "MultiGranularityForecaster"
    ]
    assert (ours["lower"] <= ours["prediction"]).all()
    assert (ours["prediction"] <= ours["upper"]).all()
    # both series are test series of every block (cut on times, not rows)
    assert result.n_origins == sum(n for _, n in result.folds)
