"""Running the comparison: features, targets, folds, fits and scores.

Modelling is the library's: ``GranularityTransformer`` features, targets from
``make_horizon_targets``, folds from ``HorizonTimeSeriesSplit`` and
``MultiGranularityRegressor``. What is here is the CLI's own choice of candidates
and the bookkeeping the report shows.

* Features and targets are computed once for the whole series. The windows are
  trailing (``closed="right"``: row ``t``'s windows end at ``t`` and include its own
  value, the last observation), so a row's features do not depend on which rows
  are in a fold: per-fold refits of the transformer would give the same numbers.
  The targets ``y[t+1..t+H]`` lie strictly after them.
* Folds are cut on origin *times* (with ``--group``, all series of a timestamp fall
  in the same fold); a training origin is kept only if its last target is before
  the first test origin: without that the last training rows would have been
  fitted on the values the test rows forecast.
* Gaps in the grid are rows of NaN, so "``k`` rows back" is "``k`` steps back".
  Origins whose raw window, last value or targets touch a NaN are dropped for all
  models alike; the multi-granularity windows skip NaN.
"""

import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sklearn_multigran._cli._read import CLIError, Series
from sklearn_multigran._granularity import duration_alias
from sklearn_multigran.forecasting import (
    HorizonTimeSeriesSplit,
    horizon_frame,
    make_horizon_targets,
)

# Default windows, in steps of the series: the last value, a short block and a long
# one. On 15-minute data they are 15min, 1h and 6h, on hourly data 1h, 4h and 1D.
DEFAULT_GRANULARITY_STEPS = (1, 4, 24)
DEFAULT_LAGS = 8
DEFAULT_HORIZON = 24
DEFAULT_SPLITS = 5
SHARING_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
STATS = ("mean", "std", "var", "min", "max", "sum", "count", "first", "last")
# Plain ridge's penalties, on standardised columns: from almost none to strong, a
# decade apart. Each costs RidgeCV an O(n L^2) pass for its leave-one-out errors;
# 17 values changed the default run's ridge MSE by about 1% for 40% more time.
RIDGE_ALPHAS = np.logspace(-3, 5, 9)
# Progress lines go to stderr once a run has lasted this long (seconds): a long fit
# reports its stages, a short one stays quiet.
PROGRESS_AFTER = 3.0
# Forecast paths drawn in the plot, one horizon apart, ending at the last origin.
PLOT_PATHS = 4


@dataclass
class ForecastResult:
    """Everything the report and the plot show.

    Attributes
    ----------
    series : Series
        The data forecast.
    horizon : int
        Steps ahead.
    granularities : list of str
        Feature windows, coarsest last.
    n_lags : int
        Windows per granularity.
    window : int
        Rows of history each origin's features reach, the raw window of plain ridge.
    scores : pandas.DataFrame
        One row per model: ``model``, ``sharing`` (NaN for the baselines), ``mse``
        and ``mae`` (means over the folds of the mean over test origins and steps
        ahead) and ``chosen``.
    fold_scores : pandas.DataFrame
        ``model``, ``sharing``, ``fold``, ``mse``, ``mae``, one row per model and fold.
    folds : list of tuple of ndarray
        ``(train_rows, test_rows)`` per fold, positions in ``series.frame``.
    sharing, alpha : float
        The chosen sharing, and the alpha that ``alpha="auto"`` picked for it on
        the last training fold.
    criterion : str
        How ``alpha="auto"`` chose it (the regressor's ``criterion``).
    contributions : pandas.DataFrame
        Per granularity (then "other columns" if any): the mean absolute
        contribution to the forecasts of the held-out fold, measured from the
        training mean, and its share of their sum.
    plot_truth : pandas.Series
        The plotted series around its last forecasts (time index).
    plot_forecasts : pandas.DataFrame
        ``horizon_frame`` output of those forecasts with a ``model`` column.
    plot_group : object
        Series key of the plot (None without ``--group``).
    stats : tuple of str
        Window statistics.
    n_origins : int
        Rows with a full history window and all ``horizon`` targets.
    left_out : list of tuple
        ``(key, n_rows)`` of the series of a panel with no such row: too short
        (or too gappy) for one forecast origin, so in no fold.
    seconds : float
        Wall time of :func:`run_forecast`.
    """

    series: Series
    horizon: int
    granularities: list
    n_lags: int
    window: int
    scores: pd.DataFrame
    fold_scores: pd.DataFrame
    folds: list
    sharing: float
    alpha: float
    contributions: pd.DataFrame
    plot_truth: pd.Series
    plot_forecasts: pd.DataFrame
    plot_group: object
    stats: tuple
    n_origins: int
    seconds: float
    left_out: list = field(default_factory=list)
    criterion: str = "evidence"


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


def default_granularities(step):
    """``DEFAULT_GRANULARITY_STEPS`` steps of ``step``, as duration strings."""
    return [duration_alias(k * step.value) for k in DEFAULT_GRANULARITY_STEPS]


def parse_granularity_args(specs, step):
    """Granularities of ``--granularities``: durations, or ints counting steps.

    Returns duration strings; raises :class:`CLIError` on a spec that is neither.
    """
    out = []
    for spec in specs:
        if spec.isdigit() and int(spec) > 0:
            out.append(duration_alias(int(spec) * step.value))
            continue
        try:
            duration = pd.Timedelta(spec)
        except ValueError:
            duration = pd.NaT
        if duration is pd.NaT or duration <= pd.Timedelta(0):
            raise CLIError(
                f"--granularities {spec!r} is neither a positive duration such as "
                "15min, 1h or 1D nor a positive number of steps."
            )
        out.append(spec)
    return out


def _window_rows(granularities, n_lags, step):
    """Rows of history the longest window reaches: its lag ``n_lags - 1`` included."""
    longest = max(pd.Timedelta(g) for g in granularities)
    return max(1, math.ceil(n_lags * longest / step))


def _raw_windows(values, group_starts, window):
    """``(n_rows, window)`` last values of each row's series, oldest first; NaN before
    the series starts."""
    out = np.full((len(values), window), np.nan)
    for lo, hi in zip(group_starts[:-1], group_starts[1:], strict=True):
        padded = np.concatenate([np.full(window - 1, np.nan), values[lo:hi]])
        out[lo:hi] = np.lib.stride_tricks.sliding_window_view(padded, window)
    return out


def _scores(y_true, y_pred):
    error = y_pred - y_true
    return float(np.mean(error**2)), float(np.mean(np.abs(error)))


def run_forecast(
    series,
    *,
    horizon=DEFAULT_HORIZON,
    granularities=None,
    n_lags=DEFAULT_LAGS,
    stats=("mean",),
    n_splits=DEFAULT_SPLITS,
    sharing_grid=SHARING_GRID,
    progress=None,
):
    """Cross-validate the forecasters on ``series`` and forecast its held-out fold.

    Parameters
    ----------
    series : Series
        From :func:`validate_frame`.
    horizon : int, default=24
        Steps ahead.
    granularities : list of str, default=None
        Feature windows; by default :func:`default_granularities` of the step.
    n_lags : int, default=8
        Windows per granularity.
    stats : tuple of str, default=("mean",)
        Window statistics.
    n_splits : int, default=5
        Folds of ``TimeSeriesSplit``.
    sharing_grid : sequence of float, default=(0, 0.25, 0.5, 0.75, 1)
        Candidate values of ``sharing``.
    progress : callable, default=None
        Called with one line of progress at each stage.

    Returns
    -------
    result : ForecastResult

    Raises
    ------
    CLIError
        When the series is too short for the horizon, the windows and the folds.
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    from sklearn_multigran import GranularityTransformer, MultiGranularityRegressor

    progress = progress or (lambda message: None)
    start = time.perf_counter()
    frame, step = series.frame, series.step
    if granularities is None:
        granularities = default_granularities(step)
    if len(granularities) < 2:
        # one block: the model is a ridge regression, sharing has nothing to blend
        sharing_grid = (0.0,)
    window = _window_rows(granularities, n_lags, step)
    # before the features, which cost a compilation on a process's first run
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

    columns = [series.time, *([series.group] if series.group else [])]
    columns += [series.target, *series.covariates]
    transformer = GranularityTransformer(
        granularities,
        stats=stats,
        n_lags=n_lags,
        closed="right",
        time_column=series.time,
        group_column=series.group,
    ).set_output(transform="pandas")
    try:
        X = transformer.fit_transform(frame[columns])
    except ValueError as exc:  # e.g. an unknown --stats
        raise CLIError(f"features: {exc}") from None
    progress(
        f"features: {X.shape[1]} columns of {len(X)} rows (numba compiles its "
        "kernels on a process's first run)"
    )

    y = frame[series.target].to_numpy()
    groups = frame[series.group] if series.group else None
    Y, complete = make_horizon_targets(
        y, horizon, time=frame[series.time], group=groups, freq=step, on_gap="nan"
    )
    if groups is None:
        group_starts = np.array([0, len(frame)])
    else:
        codes = pd.factorize(groups)[0]
        group_starts = np.r_[0, np.flatnonzero(np.diff(codes)) + 1, len(frame)]
    windows = _raw_windows(y, group_starts, window)
    usable = complete & ~np.isnan(windows).any(axis=1)
    left_out = []  # (key, rows) of the series with no usable origin
    if groups is not None:
        for key, lo, hi in zip(
            groups.iloc[group_starts[:-1]],
            group_starts[:-1],
            group_starts[1:],
            strict=True,
        ):
            if not usable[lo:hi].any():
                left_out.append((key, int(hi - lo)))
    origin_times = frame[series.time].to_numpy().view(np.int64)
    n_times = len(np.unique(origin_times[usable]))
    needed = 2 * horizon * (n_splits + 1)
    if n_times < needed:
        raise CLIError(
            f"too few rows: the {len(frame)} rows of {series.source} give {n_times} "
            f"forecast origins (times with {window} steps of history and {horizon} "
            f"ahead), and {n_splits} folds need {needed} (2 x horizon x (splits + "
            "1)); use a longer series or lower --horizon, --lags or --splits."
        )
    rows = np.flatnonzero(usable)
    splitter = HorizonTimeSeriesSplit(n_splits, horizon=horizon, freq=step)
    origins = pd.DataFrame(index=pd.DatetimeIndex(frame[series.time].iloc[rows]))
    try:
        folds = [(rows[tr], rows[te]) for tr, te in splitter.split(origins)]
    except ValueError as exc:
        raise CLIError(
            f"{exc} (the {len(rows)} usable origins of {series.source})"
        ) from None

    # One BLAS thread: the matrices are small (at most a few hundred columns), and
    # threaded eigh/gemm on them ran the default job 4-5 times slower on a busy
    # two-core machine (threads spin waiting for each other).
    with threadpool_limits(limits=1, user_api="blas"):
        rows = []  # (model, sharing, fold, mse, mae)
        for k, (train, test) in enumerate(folds):
            last = np.repeat(y[test, None], horizon, axis=1)
            rows.append(("repeat last", np.nan, k, *_scores(Y[test], last)))
            ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS))
            ridge.fit(windows[train], Y[train])
            prediction = ridge.predict(windows[test])
            rows.append(("plain ridge", np.nan, k, *_scores(Y[test], prediction)))
            models = {}
            for sharing in map(float, sharing_grid):
                model = MultiGranularityRegressor(sharing=sharing, alpha="auto")
                model.fit(X.iloc[train], Y[train])
                prediction = model.predict(X.iloc[test])
                rows.append(
                    ("multi-granularity", sharing, k, *_scores(Y[test], prediction))
                )
                models[sharing] = model
            progress(
                f"fold {k + 1}/{len(folds)}: trained on {len(train)} origins, "
                f"scored {len(test)}"
            )
        fold_scores = pd.DataFrame(
            rows, columns=["model", "sharing", "fold", "mse", "mae"]
        )
        scores = (
            fold_scores.groupby(["model", "sharing"], sort=False, dropna=False)[
                ["mse", "mae"]
            ]
            .mean()
            .reset_index()
        )
        is_model = scores["model"] == "multi-granularity"
        best = scores.loc[is_model, "mse"].idxmin()  # the first of equal scores
        scores["chosen"] = scores.index == best
        sharing = float(scores.loc[best, "sharing"])
        # The held-out view: the last fold, forecast by the models fitted before it.
        model, test = models[sharing], folds[-1][1]
        contributions = _contribution_shares(model, X.iloc[test])
        plot_truth, plot_forecasts, plot_group = _plot_data(
            series,
            test,
            horizon,
            {
                "multi-granularity": model.predict(X.iloc[test]),
                "plain ridge": ridge.predict(windows[test]),
            },
        )
    progress("cross-validation and held-out forecasts done")
    return ForecastResult(
        series=series,
        horizon=horizon,
        granularities=list(granularities),
        n_lags=n_lags,
        window=window,
        scores=scores,
        fold_scores=fold_scores,
        folds=folds,
        sharing=sharing,
        alpha=float(model.alpha_),
        criterion=str(model.criterion),
        contributions=contributions,
        plot_truth=plot_truth,
        plot_forecasts=plot_forecasts,
        plot_group=plot_group,
        stats=tuple(stats),
        n_origins=int(usable.sum()),
        left_out=left_out,
        seconds=time.perf_counter() - start,
    )


def _contribution_shares(model, X):
    """Mean absolute contribution of each granularity, measured from the training
    mean.

    ``predict_contributions`` gives ``X_g @ coef_g``, whose level is arbitrary (the
    intercept absorbs it); subtracting the contributions at the training means
    leaves what each granularity moves the forecast by. Averaged over rows and
    steps ahead.
    """
    terms = model.predict_contributions(X)
    at_mean = pd.DataFrame(model.mean_[None, :], columns=X.columns)
    terms = terms - model.predict_contributions(at_mean)
    size = np.abs(terms).mean(axis=tuple(range(terms.ndim - 1)))
    names = list(model.block_names_) or ["all features"]
    if len(model.block_names_) and len(model.free_columns_):
        names.append("other columns")
    else:
        size = size[: len(names)] if len(model.block_names_) else size[-1:]
    total = size.sum()
    share = size / total if total > 0 else np.zeros_like(size)
    return pd.DataFrame({"granularity": names, "mean_abs": size, "share": share})


def _plot_data(series, test, horizon, predictions):
    """The plotted series' last ``PLOT_PATHS`` forecasts, one horizon apart, and its
    truth from ``2 * horizon`` steps before the first of them."""
    frame, step = series.frame, series.step
    times = frame[series.time].to_numpy()
    in_group = np.ones(len(test), dtype=bool)
    group = None
    if series.group:
        group = frame[series.group].iloc[test[0]]
        in_group = (frame[series.group].iloc[test] == group).to_numpy()
    candidates = np.flatnonzero(in_group)
    last = times[test[candidates[-1]]]
    wanted = last - np.arange(PLOT_PATHS)[::-1] * horizon * step
    picks = candidates[np.isin(times[test[candidates]], wanted)]
    origins = times[test[picks]]
    forecasts = []
    for name, values in predictions.items():
        long = horizon_frame(values[picks], origins, freq=step)
        long.insert(0, "model", name)
        forecasts.append(long)
    rows = np.ones(len(frame), dtype=bool)
    if series.group:
        rows = (frame[series.group] == group).to_numpy()
    shown = rows & (times >= origins[0] - 2 * horizon * step)
    shown &= times <= origins[-1] + horizon * step
    truth = pd.Series(
        frame.loc[shown, series.target].to_numpy(),
        index=pd.DatetimeIndex(times[shown], name=series.time),
        name=series.target,
    )
    return truth, pd.concat(forecasts, ignore_index=True), group
