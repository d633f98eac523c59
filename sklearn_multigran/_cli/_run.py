"""Running the comparison: the forecasters on the same forecast-origin folds.

Modelling is the library's: :class:`MultiGranularityForecaster` and the baselines
of ``sklearn_multigran.forecasting`` (repeat-last, seasonal naive, ridge on the raw
window), folds from :class:`HorizonTimeSeriesSplit`. What is here is the CLI's
bookkeeping: which models, which folds, the scores and what the report shows.

* Folds are cut on origin *times* (with ``--group``, all series of a timestamp fall
  in the same fold): the last ``TEST_SHARE`` of the times are split into
  ``--splits`` consecutive test blocks. For each block every model is fitted on
  the rows up to the block's first origin, so its last training target is that
  origin's own value, strictly before the first target the block forecasts, and
  then forecasts from every origin of the block with the history up to it.
* Gaps in the grid are rows of NaN; the forecasters forward-fill their inputs,
  and truths that are NaN are left out of the scores of every model alike.
* The forecaster's choices (lookback, families, alpha, rank) and each family's
  share are those of its fit on the last fold; that fit also keeps calibration
  origins, for the 90% intervals drawn in the plot and their coverage.
"""

import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sklearn_multigran._cli._read import CLIError, Series
from sklearn_multigran.forecasting import (
    HorizonTimeSeriesSplit,
    MultiGranularityForecaster,
    NaiveForecaster,
    WindowRidgeForecaster,
)

DEFAULT_HORIZON = 24
DEFAULT_SPLITS = 3
# Share of the times whose origins are test origins, split into --splits blocks.
TEST_SHARE = 0.4
# Progress lines go to stderr once a run has lasted this long (seconds): a long fit
# reports its stages, a short one stays quiet.
PROGRESS_AFTER = 3.0
# Forecast paths drawn in the plot, one horizon apart, ending at the last origin.
PLOT_PATHS = 4
FORECASTER = "MultiGranularityForecaster"


@dataclass
class ForecastResult:
    """Everything the report and the plot show.

    Attributes
    ----------
    series : Series
        The data forecast.
    horizon : int
        Steps ahead.
    scores : pandas.DataFrame
        One row per model: ``model``, ``mse`` and ``mae`` (means over the folds of
        the mean over test origins and steps ahead), ``fit_seconds`` (mean per
        fold) and ``best`` (the lowest MSE).
    fold_scores : pandas.DataFrame
        ``model``, ``fold``, ``mse``, ``mae``, one row per model and fold.
    folds : list of tuple
        ``(first_test_time, n_test_origins)`` per fold.
    choices : dict
        The forecaster's choices on the last fold: ``lookback``, ``families``,
        ``alpha``, ``target_rank``, ``shares`` (family -> share of the forecast)
        and ``selection`` (its ``selection_`` table).
    coverage : float
        Share of the last fold's truths inside the forecaster's 90% intervals.
    plot_truth : pandas.Series
        The plotted series around its last forecasts (time index).
    plot_forecasts : pandas.DataFrame
        ``model``, ``origin``, ``time``, ``prediction``, ``lower``, ``upper`` (the
        bounds for the forecaster only) of the plotted forecasts.
    plot_group : object
        Series key of the plot (None without ``--group``).
    n_origins : int
        Test origins over all folds.
    left_out : list of tuple
        ``(key, n_rows)`` of the series of a panel too short to forecast from.
    seconds : float
        Wall time of :func:`run_forecast`.
    """

    series: Series
    horizon: int
    scores: pd.DataFrame
    fold_scores: pd.DataFrame
    folds: list
    choices: dict
    coverage: float
    plot_truth: pd.Series
    plot_forecasts: pd.DataFrame
    plot_group: object
    n_origins: int
    seconds: float
    left_out: list = field(default_factory=list)


class _Progress:
    """Time-stamped progress lines on stderr, so that stdout stays the report.

    ``after`` seconds: lines are printed once the run has lasted that long, always
    for 0, never for None. A time rule rather than a size rule, because the first
    run of a process also pays numba's compilation.
    """

    def __init__(self, after=PROGRESS_AFTER, stream=None):
        self.after = after
        self.stream = sys.stderr if stream is None else stream
        self.start = time.perf_counter()

    def __call__(self, message):
        elapsed = time.perf_counter() - self.start
        if self.after is not None and elapsed >= self.after:
            print(f"[{elapsed:6.1f} s] {message}", file=self.stream, flush=True)


def _cycle(step, period):
    """Steps of ``step`` in ``period`` (a Timedelta), or None if not a whole >= 2."""
    count, remainder = divmod(period.value, step.value)
    return int(count) if remainder == 0 and count >= 2 else None


def _models(series, horizon, *, families, lookback):
    """``name -> factory(calibrated)`` of the compared forecasters, simplest first."""
    common = {
        "time_column": series.time,
        "target": series.target,
        "group_column": series.group,
        "freq": pd.tseries.frequencies.to_offset(series.step).freqstr,
    }
    day = _cycle(series.step, pd.Timedelta("1D"))
    week = _cycle(series.step, pd.Timedelta("7D"))
    models = {
        "repeat last": lambda c: NaiveForecaster(horizon, calibration_size=0, **common)
    }
    for name, season in (("day", day), ("week", week)):
        if season is not None:
            models[f"seasonal naive ({name})"] = lambda c, m=season: NaiveForecaster(
                horizon, strategy="seasonal", season=m, calibration_size=0, **common
            )
    models["ridge on the raw window"] = lambda c: WindowRidgeForecaster(
        horizon, calibration_size=0, **common
    )
    models[FORECASTER] = lambda c: MultiGranularityForecaster(
        horizon,
        families=families,
        lookback=lookback,
        covariates=list(series.covariates) or None,
        calibration_size="auto" if c else 0,
        **common,
    )
    return models


def _truth(series, frame):
    """The target at each row of a forecast frame (NaN where the data has none)."""
    data = series.frame
    if series.group:
        index = pd.MultiIndex.from_arrays([data[series.group], data[series.time]])
        wanted = pd.MultiIndex.from_arrays([frame[series.group], frame["time"]])
    else:
        index, wanted = (
            pd.DatetimeIndex(data[series.time]),
            pd.DatetimeIndex(frame["time"]),
        )
    values = pd.Series(data[series.target].to_numpy(float), index=index)
    return values.reindex(wanted).to_numpy()


def _scores(truth, prediction):
    ok = ~np.isnan(truth)
    error = prediction[ok] - truth[ok]
    return float(np.mean(error**2)), float(np.mean(np.abs(error)))


def run_forecast(
    series,
    *,
    horizon=DEFAULT_HORIZON,
    n_splits=DEFAULT_SPLITS,
    families="auto",
    lookback="auto",
    progress=None,
):
    """Score the forecasters on the same forecast-origin folds of ``series``.

    Parameters
    ----------
    series : Series
        From ``validate_frame``.
    horizon : int, default=24
        Steps ahead.
    n_splits : int, default=3
        Test blocks, each ``TEST_SHARE / n_splits`` of the times.
    families, lookback
        Passed to :class:`MultiGranularityForecaster`.
    progress : callable, default=None
        Called with one-line messages as the run goes.

    Returns
    -------
    ForecastResult
    """
    progress = progress or (lambda message: None)
    start = time.perf_counter()
    frame = series.frame
    lengths = (
        frame.groupby(series.group, sort=False).size()
        if series.group
        else pd.Series([len(frame)])
    )
    if horizon >= lengths.max():
        longest = int(lengths.max())
        raise CLIError(
            f"--horizon {horizon} is longer than the data: the longest series of "
            f"{series.source} has {longest} steps, so no time has {horizon} steps "
            f"after it; use --horizon <= {max(longest - 1, 1)} or a longer series."
        )
    left_out = []
    if series.group:
        sizes = frame.groupby(series.group, sort=False).size()
        short = sizes[sizes < 3 * horizon + 2]
        left_out = [(key, int(rows)) for key, rows in short.items()]
        frame = frame[~frame[series.group].isin(short.index)]
        if frame.empty:
            raise CLIError(
                f"every series has fewer than {3 * horizon + 2} rows, too short for "
                f"--horizon {horizon}; pass a shorter --horizon or longer series."
            )
        series = Series(**{**vars(series), "frame": frame.reset_index(drop=True)})
        frame = series.frame
    times = np.unique(frame[series.time].to_numpy())
    n_origins = len(times) - horizon
    test_size = int(TEST_SHARE * len(times) / n_splits)
    if n_origins < 2 * horizon + 2 or test_size < 1:
        raise CLIError(
            f"{series.target!r} has {len(times)} steps, too few for --horizon "
            f"{horizon} and --splits {n_splits} (at least {3 * horizon + 2} steps and "
            "one test origin per fold); pass a shorter --horizon, fewer --splits or "
            "a longer series."
        )
    splitter = HorizonTimeSeriesSplit(n_splits, horizon=horizon, test_size=test_size)
    origin_times = pd.DataFrame(index=pd.DatetimeIndex(times[:n_origins]))
    try:
        folds = [test for _, test in splitter.split(origin_times)]
    except ValueError as exc:
        raise CLIError(f"--splits {n_splits}: {exc}") from None
    models = _models(series, horizon, families=families, lookback=lookback)
    rows, fold_info, last = [], [], {}
    for k, test in enumerate(folds):
        first = pd.Timestamp(times[test[0]])
        history = frame[frame[series.time] <= first]
        origins = pd.DatetimeIndex(times[test])
        fold_info.append((first, len(test)))
        final = k == len(folds) - 1
        for name, factory in models.items():
            calibrated = final and name == FORECASTER
            model = factory(calibrated)
            t0 = time.perf_counter()
            try:
                model.fit(history)
            except ValueError as exc:
                raise CLIError(f"fold {k + 1} ({name}): {exc}") from None
            seconds = time.perf_counter() - t0
            if calibrated:
                out = model.predict_interval(frame, origins=origins, coverage=0.9)
            else:
                out = model.predict(frame, origins=origins)
            truth = _truth(series, out)
            mse, mae = _scores(truth, out["prediction"].to_numpy())
            rows.append((name, k, mse, mae, seconds))
            if final:
                last[name] = (model, out, truth)
        progress(f"fold {k + 1} of {len(folds)} scored (test from {first})")
    fold_scores = pd.DataFrame(
        rows, columns=["model", "fold", "mse", "mae", "fit_seconds"]
    )
    scores = fold_scores.groupby("model", sort=False)[
        ["mse", "mae", "fit_seconds"]
    ].mean()
    scores = scores.reset_index()
    scores["best"] = scores["mse"] == scores["mse"].min()
    forecaster, bands, truth = last[FORECASTER]
    ok = ~np.isnan(truth)
    inside = (bands["lower"].to_numpy() <= truth) & (truth <= bands["upper"].to_numpy())
    choices = {
        "lookback": forecaster.lookback_,
        "families": list(forecaster.families_),
        "alpha": forecaster.alpha_,
        "target_rank": forecaster.target_rank_,
        "shares": dict(forecaster.family_shares_),
        "selection": forecaster.selection_,
    }
    plot_truth, plot_forecasts, group = _plot_data(
        series, horizon, bands, last["ridge on the raw window"][1]
    )
    return ForecastResult(
        series=series,
        horizon=horizon,
        scores=scores,
        fold_scores=fold_scores,
        folds=fold_info,
        choices=choices,
        coverage=float(inside[ok].mean()) if ok.any() else float("nan"),
        plot_truth=plot_truth,
        plot_forecasts=plot_forecasts,
        plot_group=group,
        n_origins=sum(n for _, n in fold_info),
        seconds=time.perf_counter() - start,
        left_out=left_out,
    )


def _plot_data(series, horizon, bands, ridge):
    """The plotted series' last ``PLOT_PATHS`` forecasts, one horizon apart, and its
    truth from ``2 * horizon`` steps before the first of them."""
    frame, step = series.frame, series.step
    group = None
    if series.group:
        group = bands[series.group].iloc[-1]
        bands = bands[bands[series.group] == group]
        ridge = ridge[ridge[series.group] == group]
        frame = frame[frame[series.group] == group]
    last = bands["origin"].max()
    wanted = [last - k * horizon * step for k in range(PLOT_PATHS)][::-1]
    wanted = [t for t in wanted if t >= bands["origin"].min()]
    parts = []
    for name, out in ((FORECASTER, bands), ("ridge on the raw window", ridge)):
        part = out[out["origin"].isin(wanted)]
        columns = ["origin", "time", "prediction"]
        columns += ["lower", "upper"] if name == FORECASTER else []
        part = part[columns].copy()
        part.insert(0, "model", name)
        parts.append(part)
    times = pd.DatetimeIndex(frame[series.time])
    origin0 = pd.Timestamp(wanted[0])
    if times.tz is not None and origin0.tz is None:
        origin0 = origin0.tz_localize(times.tz)
    shown = (times >= origin0 - 2 * horizon * step) & (
        times <= pd.Timestamp(wanted[-1]) + horizon * step
    )
    truth = pd.Series(
        frame.loc[shown, series.target].to_numpy(),
        index=pd.DatetimeIndex(times[shown], name=series.time),
        name=series.target,
    )
    return truth, pd.concat(parts, ignore_index=True), group
