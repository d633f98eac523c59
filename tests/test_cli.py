"""The main job, ``python -m sklearn_multigran``, on small generated CSVs."""

import contextlib
import io
import re
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_multigran import GranularityTransformer, MultiGranularityRegressor
from sklearn_multigran import __main__ as entry_point
from sklearn_multigran._cli import (
    DEFAULT_OUTPUT,
    PROG,
    RIDGE_ALPHAS,
    SHARING_GRID,
    default_granularities,
    main,
    run_forecast,
    validate_frame,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Small enough to fit in a blink: 1h steps, windows of 1h, 4h and 1D with two lags
# (48 rows of history), six steps ahead.
N_ROWS, HORIZON, LAGS, WINDOW, SPLITS = 400, 6, 2, 48, 5
FAST = ["--horizon", str(HORIZON), "--lags", str(LAGS), "--splits", str(SPLITS)]


def hourly_frame(n_rows=N_ROWS, seed=0):
    """A daily cycle plus noise, and a temperature column, as a CSV would hold it."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2024-03-01", periods=n_rows, freq="h")
    hours = np.arange(n_rows)
    return pd.DataFrame(
        {
            "when": times.strftime("%Y-%m-%d %H:%M"),
            "value": 5 + np.sin(2 * np.pi * hours / 24) + rng.normal(0, 0.2, n_rows),
            "temp": 12 + np.cos(2 * np.pi * hours / 24) + rng.normal(0, 0.1, n_rows),
        }
    )


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "data.csv"
    hourly_frame().to_csv(path, index=False)
    return path


def csv_args(path, *extra):
    return ["--csv", str(path), "--time", "when", "--target", "value", *FAST, *extra]


def assert_png(path):
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_MAGIC
    height, width, channels = imread(path).shape
    assert (height, width, channels) == (450, 1000, 4)


def test_console_script_entry_point_is_main():
    # pyproject declares sklearn-multigran = "sklearn_multigran.__main__:main"
    assert entry_point.main is main


# --------------------------------------------------------------------------------------
# The default run: what the README's first command does
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """``main([])`` once, in an empty working directory: (exit code, stdout, dir)."""
    directory = tmp_path_factory.mktemp("default")
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as patch,
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        patch.chdir(directory)
        code = main([])
    return code, stdout.getvalue(), stderr.getvalue(), directory


def test_default_run_prints_the_report_and_writes_the_plot(default_run):
    code, out, err, directory = default_run
    assert code == 0
    assert "[" not in out  # progress, if any, goes to stderr
    assert out.startswith("Forecast of 'load' from the embedded default")
    assert "horizon 24 steps (6h)" in out
    assert "windows of 15min, 1h, 6h" in out
    table = dict(
        re.findall(
            r"^  (repeat last value|multi-granularity, sharing=\S+)"
            r"\s+([\d.]+)",
            out,
            flags=re.M,
        )
    )
    assert len(table) == 1 + len(SHARING_GRID)
    chosen = re.search(r"sharing=(\S+)\s+([\d.]+)\s+[\d.]+\s+<- chosen", out)
    assert chosen is not None
    # the seasonal model is far better than carrying the last value forward
    assert float(chosen.group(2)) < float(table["repeat last value"]) / 5
    shares = [
        int(s)
        for s in re.findall(r"^  (?:15min|1h|6h)\s+[\d.]+\s+(\d+)%", out, flags=re.M)
    ]
    assert len(shares) == 3
    assert abs(sum(shares) - 100) <= 2  # rounded percentages
    assert f"Wrote the plot of the held-out forecasts to {DEFAULT_OUTPUT}." in out
    assert_png(directory / DEFAULT_OUTPUT)


# --------------------------------------------------------------------------------------
# Numbers: the table against an independent computation on the same folds
# --------------------------------------------------------------------------------------


def hand_folds(n_origins, n_splits=SPLITS):
    """TimeSeriesSplit's test blocks of ``n_origins`` consecutive origins, and the
    origins before each block whose targets end at its first origin."""
    size = n_origins // (n_splits + 1)
    folds = []
    for i in range(n_splits):
        start = n_origins - (n_splits - i) * size
        folds.append((np.arange(start - HORIZON + 1), np.arange(start, start + size)))
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
    scores = result.scores.set_index("model")
    np.testing.assert_allclose(
        scores.loc["repeat last", ["mse", "mae"]], [last_mse, last_mae], rtol=1e-12
    )
    np.testing.assert_allclose(
        scores.loc["plain ridge", ["mse", "mae"]], [ridge_mse, ridge_mae], rtol=1e-9
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
        assert times[train].max() + HORIZON * step <= times[test].min()
        assert set(sites[test]) == {"north", "south"}  # cut on times, not rows
    assert result.plot_group == first_site
    assert set(result.plot_forecasts["model"]) == {"multi-granularity", "plain ridge"}
    assert result.plot_forecasts.groupby("origin").size().eq(2 * HORIZON).all()


# --------------------------------------------------------------------------------------
# Bad input: one line on stderr naming the column, exit status 2
# --------------------------------------------------------------------------------------


def _set(row, column, value):
    def change(frame):
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame

    return change


@pytest.mark.parametrize(
    ("change", "extra", "message"),
    [
        (
            None,
            ["--time", "date"],
            r"--time 'date' is not a column of data\.csv; its columns are when, value, "
            r"temp\.",
        ),
        (None, ["--target", "OT"], r"--target 'OT' is not a column of data\.csv"),
        (None, ["--group", "site"], r"--group 'site' is not a column"),
        (None, ["--covariates", "humidity"], r"--covariates 'humidity' is not a "),
        (
            _set(7, "when", "yesterday"),
            [],
            r"--time 'when': cannot parse 'yesterday' \(line 9\) as a time",
        ),
        (_set(0, "when", "17"), [], r"--time 'when': cannot parse '17' \(line 2\)"),
        (_set(3, "when", None), [], r"--time 'when' has an empty time at line 5"),
        (
            _set(9, "value", "n/a?"),
            [],
            r"--target 'value' is not numeric: 'n/a\?' at line 11",
        ),
        (
            _set(4, "temp", "warm"),
            ["--covariates", "temp"],
            r"--covariates 'temp' is not numeric: 'warm' at line 6",
        ),
        (
            _set(5, "when", "2024-03-01 00:00"),
            [],
            r"--time 'when' has 2024-03-01 00:00:00 twice \(lines 2 and 7\)",
        ),
        (
            _set(5, "when", "2024-03-01 05:30"),
            [],
            r"--time 'when' is not on a regular grid: 2024-03-01 05:30:00 \(line 7\)",
        ),
        (
            lambda frame: frame.iloc[:100],
            [],
            r"too few rows: the 100 rows of data\.csv",
        ),
        (None, ["--target", "when"], r"column 'when' is given for two roles"),
    ],
)
def test_bad_input_is_one_line_naming_the_column(
    tmp_path, capsys, change, extra, message
):
    frame = hourly_frame()
    path = tmp_path / "data.csv"
    (frame if change is None else change(frame)).to_csv(path, index=False)
    with pytest.raises(SystemExit) as exit_info:
        main(csv_args(path, "--no-plot", *extra))
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert re.match(rf"{re.escape(PROG)}: error: {message}", captured.err)


def test_missing_file_and_missing_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit, match="2"):
        main(csv_args(tmp_path / "nope.csv"))
    assert "--csv" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):
        main(["--csv", str(tmp_path / "nope.csv"), "--time", "when"])
    assert "--csv needs --time and --target" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):
        main(["--stats", "median"])
    assert "invalid choice: 'median'" in capsys.readouterr().err


# --------------------------------------------------------------------------------------
# Output: nothing is overwritten without --force
# --------------------------------------------------------------------------------------


def test_explicit_output_is_refused_before_the_fit_unless_forced(csv, capsys):
    output = csv.parent / "plot.png"
    output.write_bytes(b"keep me")
    with pytest.raises(SystemExit, match="2"):
        main(csv_args(csv, "--output", str(output)))
    captured = capsys.readouterr()
    assert captured.out == ""  # refused up front, not after a long fit
    assert "plot.png exists; pass --force to overwrite it" in captured.err
    assert output.read_bytes() == b"keep me"

    assert main(csv_args(csv, "--output", str(output), "--force")) == 0
    assert_png(output)


def test_default_output_is_kept_and_the_run_still_succeeds(csv, capsys, monkeypatch):
    monkeypatch.chdir(csv.parent)
    (csv.parent / DEFAULT_OUTPUT).write_bytes(b"an earlier plot")
    assert main(csv_args(csv)) == 0
    out = capsys.readouterr().out
    assert f"Kept the existing {DEFAULT_OUTPUT}; pass --force" in out
    assert (csv.parent / DEFAULT_OUTPUT).read_bytes() == b"an earlier plot"

    assert main(csv_args(csv, "--force")) == 0
    assert_png(csv.parent / DEFAULT_OUTPUT)


def test_without_matplotlib_the_report_still_prints(csv, capsys, monkeypatch):
    monkeypatch.chdir(csv.parent)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    with pytest.raises(SystemExit, match="2"):
        main(csv_args(csv, "--output", "plot.png"))
    assert "pip install 'sklearn-multigran[plot]'" in capsys.readouterr().err
    assert main(csv_args(csv)) == 0
    captured = capsys.readouterr()
    assert "matplotlib is not installed" in captured.err
    assert "Cross-validated error" in captured.out
    assert not (csv.parent / DEFAULT_OUTPUT).exists()


def test_progress_goes_to_stderr(csv, capsys):
    assert main(csv_args(csv, "--no-plot", "-v")) == 0
    captured = capsys.readouterr()
    assert re.search(
        rf"^\[\s*[\d.]+ s\] fold {SPLITS}/{SPLITS}: trained on",
        captured.err,
        flags=re.M,
    )
    assert "] fold" not in captured.out
    assert main(csv_args(csv, "--no-plot")) == 0  # short: silent
    assert capsys.readouterr().err == ""
