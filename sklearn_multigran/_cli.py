"""The main job: a direct multi-horizon forecast of a CSV, end to end.

``python -m sklearn_multigran --csv FILE --time COL --target COL`` reads a series
(several, stacked, with ``--group``), puts it on a regular time grid, and compares by
time-series cross-validation

* repeat-last: the last observed value for every step ahead;
* plain ridge: ``StandardScaler`` + ``RidgeCV`` on the raw window of the last ``L``
  values of the target, ``L`` the reach of the multi-granularity features;
* ``MultiGranularityRegressor(alpha="auto")`` on ``GranularityTransformer`` features
  of the target (and ``--covariates``), one candidate per value of ``sharing``.

Every model is scored on the same rows and folds, so the table compares like with
like; the best ``sharing`` is the one with the lowest mean MSE over the folds, as
``GridSearchCV(scoring="neg_mean_squared_error", cv=...)`` would pick it. The
plot and the contribution shares show the last fold as forecast by the models
fitted before it; its scores also count in the choice of ``sharing``, so that view
is optimistic by one choice among five values.

Design notes, the why:

* Features and targets are computed once for the whole series. The windows are
  trailing (``closed="right"``: row ``t``'s windows end at ``t`` and include its own
  value, the last observation), so a row's features do not depend on which rows
  are in a fold: per-fold refits of the transformer would give the same numbers.
  The targets ``y[t+1..t+H]`` (``make_horizon_targets``) lie strictly after them.
* Folds are cut on origin *times* (with ``--group``, all series of a timestamp fall
  in the same fold) by ``TimeSeriesSplit``; a training origin is kept only if its
  last target is at or before the first test origin, which is ``gap = H - 1``
  for a plain series: without it the last training rows would have been fitted on
  the values the test rows forecast.
* Gaps in the grid become rows of NaN, so "``k`` rows back" is "``k`` steps back".
  Origins whose raw window, last value or targets touch a NaN are dropped for all
  models alike; the multi-granularity windows skip NaN.
* The functions return data (:class:`ForecastResult`), :func:`format_report` and
  :func:`plot_forecast` render it, and :func:`main` is only the argument plumbing,
  so tests check numbers rather than parse stdout.
"""

import argparse
import math
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sklearn_multigran._granularity import duration_alias

PROG = "python -m sklearn_multigran"
DEFAULT_OUTPUT = "sklearn_multigran_forecast.png"
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
# The embedded default: eight weeks of 15-minute rows, so that the first training
# fold already holds more than a week.
DEFAULT_SERIES_ROWS = 96 * 7 * 8


class CLIError(ValueError):
    """A problem with the user's input, reported as one line without a traceback."""


# --------------------------------------------------------------------------------------
# Reading the data
# --------------------------------------------------------------------------------------


@dataclass
class Series:
    """A series on a regular time grid, ready to forecast.

    Attributes
    ----------
    frame : pandas.DataFrame
        Rows sorted by group (in order of first appearance), then time, one per grid
        step; steps missing from the input are rows of NaN values.
    time, target : str
        Column names.
    group : str or None
        Column naming each row's series.
    covariates : list of str
        Further numeric columns to compute features of.
    step : pandas.Timedelta
        Grid step.
    source : str
        Where the data came from, for the report.
    n_missing : int
        Rows added for grid steps absent from the input.
    """

    frame: pd.DataFrame
    time: str
    target: str
    group: str | None
    covariates: list
    step: pd.Timedelta
    source: str
    n_missing: int = 0


def embedded_default():
    """The series the main job runs on without ``--csv``.

    Eight weeks of a generated 15-minute load series with daily and weekly cycles,
    a slow trend and AR(1) noise (``make_seasonal_series(5376, random_state=0)``),
    as the frame a CSV would give: columns ``time``, ``load``, ``temperature``.
    """
    from sklearn_multigran.datasets import make_seasonal_series

    series = make_seasonal_series(DEFAULT_SERIES_ROWS, random_state=0)
    return series.rename_axis("time").reset_index()


def _line(position):
    """CSV line of a 0-based data row: the header is line 1."""
    return int(position) + 2


def _show_columns(columns):
    columns = [str(c) for c in columns]
    shown = ", ".join(columns[:20])
    return shown + (f", ... ({len(columns)} in all)" if len(columns) > 20 else "")


def read_csv(path, columns):
    """Read ``columns`` of the CSV at ``path``; a :class:`CLIError` names what fails.

    Every column is read as text, so the checks of :func:`validate_frame` see the
    values as written and can quote the first bad one.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise CLIError(f"--csv {path}: the file {what}.")
    try:
        header = pd.read_csv(path, nrows=0).columns
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise CLIError(f"--csv {path}: not a readable CSV file ({e}).") from None
    missing = [(option, name) for option, name in columns if name not in header]
    if missing:
        option, name = missing[0]
        raise CLIError(
            f"{option} {name!r} is not a column of {path.name}; its columns are "
            f"{_show_columns(header)}."
        )
    names = list(dict.fromkeys(name for _, name in columns))
    try:
        return pd.read_csv(
            path, usecols=names, dtype=str, keep_default_na=True, na_values=[""]
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CLIError(f"--csv {path}: not a readable CSV file ({exc}).") from None


def _parse_times(raw, option, name):
    """Datetimes of the text column ``raw``; the error quotes the first bad value."""
    if pd.api.types.is_numeric_dtype(raw.dtype):
        raise CLIError(
            f"{option} {name!r} holds numbers (first {raw.iloc[0]!r}), not timestamps; "
            "the column must hold dates or times such as 2024-01-01 12:00."
        )
    empty = raw.isna().to_numpy()
    if empty.any():
        raise CLIError(
            f"{option} {name!r} has an empty time at line {_line(np.argmax(empty))}; "
            "drop that row or fill in its time."
        )
    try:
        with warnings.catch_warnings():
            # pandas warns when it parses element by element; the check below is
            # what matters
            warnings.filterwarnings("ignore", "Could not infer format", UserWarning)
            # utc=True: offsets such as +01:00 may differ between rows (daylight
            # saving time); naive times stay as written
            times = pd.to_datetime(raw, errors="coerce", utc=True)
    except (ValueError, TypeError, OverflowError) as exc:
        raise CLIError(f"{option} {name!r}: cannot parse the times ({exc}).") from None
    bad = times.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        hint = (
            f"the first value {raw.iloc[0]!r} set the expected format"
            if row
            else "the column must hold dates or times such as 2024-01-01 12:00"
        )
        raise CLIError(
            f"{option} {name!r}: cannot parse {raw.iloc[row]!r} (line {_line(row)}) "
            f"as a time; {hint}."
        )
    times = times.dt.tz_localize(None)
    return times.astype("datetime64[ns]")


def _parse_numbers(raw, option, name):
    """Float64 values of a text column; empty cells are NaN, anything else fails."""
    values = pd.to_numeric(raw, errors="coerce").astype(np.float64)
    bad = (values.isna() & raw.notna()).to_numpy() | np.isinf(values.to_numpy())
    if bad.any():
        row = int(np.argmax(bad))
        raise CLIError(
            f"{option} {name!r} is not numeric: {raw.iloc[row]!r} at line "
            f"{_line(row)}; the column must hold numbers (empty cells are missing "
            "values)."
        )
    return values


def validate_frame(
    frame, *, time, target, group=None, covariates=(), source="the data"
):
    """Check and parse a raw frame, then put it on a regular time grid.

    Parameters
    ----------
    frame : pandas.DataFrame
        Raw rows, e.g. :func:`read_csv`'s text columns, in any order.
    time, target : str
        Column of timestamps and column to forecast.
    group : str, default=None
        Column naming the series of each row.
    covariates : sequence of str, default=()
        Further numeric columns to compute features of.
    source : str, default="the data"
        Where the frame came from, for the report and the errors.

    Returns
    -------
    series : Series

    Raises
    ------
    CLIError
        Naming the column (and the line and value) of the first problem: a missing
        column, an empty or unparseable time, a non-numeric value, a timestamp that
        appears twice in a series, times off a regular grid.
    """
    columns = [("--time", time), ("--target", target)]
    columns += [("--group", group)] if group is not None else []
    columns += [("--covariates", name) for name in covariates]
    for option, name in columns:
        if name not in frame.columns:
            raise CLIError(
                f"{option} {name!r} is not a column of {source}; its columns are "
                f"{_show_columns(frame.columns)}."
            )
    names = [name for _, name in columns]
    if len(set(names)) != len(names):
        repeated = next(name for name in names if names.count(name) > 1)
        raise CLIError(
            f"column {repeated!r} is given for two roles; --time, --target, --group "
            "and --covariates must name different columns."
        )
    frame = frame.reset_index(drop=True)
    out = pd.DataFrame({time: _parse_times(frame[time], "--time", time)})
    if group is not None:
        empty = frame[group].isna().to_numpy()
        if empty.any():
            raise CLIError(
                f"--group {group!r} is empty at line {_line(np.argmax(empty))}; every "
                "row must name its series."
            )
        out[group] = frame[group].to_numpy()
    for option, name in columns[1:]:
        if option != "--group":
            out[name] = _parse_numbers(frame[name], option, name)

    # stable sort by (group in order of appearance, time): positions then read as
    # "steps back" within a series
    codes = pd.factorize(out[group])[0] if group is not None else np.zeros(len(out))
    order = np.lexsort((out[time].to_numpy(), codes))
    out = out.iloc[order].reset_index(drop=True)
    codes = codes[order]
    ns = out[time].to_numpy().view(np.int64)
    same = codes[1:] == codes[:-1]
    diffs = np.diff(ns)
    twice = same & (diffs == 0)
    if twice.any():
        k = int(np.argmax(twice))
        where = f" in series {out[group].iloc[k]!r}" if group is not None else ""
        raise CLIError(
            f"--time {time!r} has {out[time].iloc[k]} twice{where} (lines "
            f"{_line(order[k])} and {_line(order[k + 1])}); keep one row per time "
            "and series, e.g. by aggregating the duplicates."
        )
    steps = diffs[same]
    if not len(steps):
        raise CLIError(
            f"--time {time!r} has a single row per series; a forecast needs a series."
        )
    values, counts = np.unique(steps, return_counts=True)
    step = int(values[np.argmax(counts)])  # the most common spacing
    off_grid = same & (diffs % step != 0)
    if off_grid.any():
        k = int(np.argmax(off_grid)) + 1
        raise CLIError(
            f"--time {time!r} is not on a regular grid: {out[time].iloc[k]} (line "
            f"{_line(order[k])}) is not a whole number of {duration_alias(step)} "
            "steps after the time before it; resample the data to one step first."
        )
    n_missing = int((steps // step - 1).sum())
    if n_missing > len(out):
        raise CLIError(
            f"--time {time!r}: most of the grid of {duration_alias(step)} steps is "
            f"missing ({n_missing} missing rows for {len(out)} present); resample "
            "the data to its actual step first."
        )
    if n_missing:
        out = _fill_grid(out, time, group, codes, step)
    return Series(
        frame=out,
        time=time,
        target=target,
        group=group,
        covariates=list(covariates),
        step=pd.Timedelta(step, "ns"),
        source=source,
        n_missing=n_missing,
    )


def _fill_grid(frame, time, group, codes, step):
    """Insert rows of NaN for the grid steps missing inside each series."""
    pieces = []
    for code in np.unique(codes):
        part = frame[codes == code].set_index(time)
        grid = pd.date_range(part.index[0], part.index[-1], freq=pd.Timedelta(step))
        part = part.reindex(grid).rename_axis(time)
        if group is not None:
            part[group] = frame.loc[codes == code, group].iloc[0]
        pieces.append(part.reset_index())
    return pd.concat(pieces, ignore_index=True)[frame.columns]


# --------------------------------------------------------------------------------------
# The forecast
# --------------------------------------------------------------------------------------


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


def time_series_folds(origin_times, usable, horizon, step, n_splits):
    """``TimeSeriesSplit`` folds of the usable rows, cut on their times.

    The test rows of a fold are those whose time is in a ``TimeSeriesSplit`` test
    block of the sorted distinct times; its training rows are the usable rows whose
    last target, ``time + horizon * step``, is at or before the block's first time.

    Returns a list of ``(train_rows, test_rows)`` arrays of row positions.
    """
    from sklearn.model_selection import TimeSeriesSplit

    rows = np.flatnonzero(usable)
    times = origin_times[rows]
    distinct = np.unique(times)
    folds = []
    for _, test in TimeSeriesSplit(n_splits).split(distinct):
        first, last = distinct[test[0]], distinct[test[-1]]
        train = rows[times + horizon * step <= first]
        folds.append((train, rows[(times >= first) & (times <= last)]))
    return folds


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

    from sklearn_multigran._regressor import MultiGranularityRegressor
    from sklearn_multigran._transformer import GranularityTransformer
    from sklearn_multigran.forecasting import make_horizon_targets

    progress = progress or (lambda message: None)
    start = time.perf_counter()
    frame, step = series.frame, series.step
    if granularities is None:
        granularities = default_granularities(step)
    if len(granularities) < 2:
        # one block: the model is a ridge regression, sharing has nothing to blend
        sharing_grid = (0.0,)
    window = _window_rows(granularities, n_lags, step)

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
    folds = time_series_folds(origin_times, usable, horizon, step.value, n_splits)

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
        contributions=contributions,
        plot_truth=plot_truth,
        plot_forecasts=plot_forecasts,
        plot_group=plot_group,
        stats=tuple(stats),
        n_origins=int(usable.sum()),
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
    from sklearn_multigran.forecasting import horizon_frame

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


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def _describe_step(steps, step):
    return f"{steps} steps ({duration_alias(steps * step.value)})"


def _decimals(values):
    """Decimals that show four significant digits of the smallest of ``values`` that
    is not negligible (at least a thousandth of the largest)."""
    values = np.abs(values[np.isfinite(values)])
    largest = values.max(initial=0.0)
    if largest == 0:
        return 4
    smallest = values[values >= largest * 1e-3].min()
    return int(np.clip(3 - math.floor(math.log10(smallest)), 0, 6))


def format_report(result):
    """The report printed on stdout, as one string."""
    series, scores = result.series, result.scores
    frame, step = series.frame, series.step
    times = frame[series.time]
    data = f"  {len(frame)} rows"
    if series.group:
        data += f" of {frame[series.group].nunique()} series (one model for all)"
    data += f", one every {duration_alias(step.value)}, {times.min()} to {times.max()}"
    if series.n_missing:
        data += f"; {series.n_missing} missing steps filled with NaN"
    lines = [
        f"Forecast of {series.target!r} from {series.source}",
        data,
        f"  horizon {_describe_step(result.horizon, step)}, "
        f"{result.n_origins} forecast origins in {len(result.folds)} time-series "
        "folds",
        f"  features: {', '.join(result.stats)} of "
        f"{', '.join([series.target, *series.covariates])} over windows of "
        f"{', '.join(result.granularities)}",
        f"  ending at the origin, {result.n_lags} lags each "
        f"(history of {_describe_step(result.window, step)})",
        "",
        "Cross-validated error (mean over folds, origins and steps ahead)",
    ]
    labels = {
        "repeat last": "repeat last value",
        "plain ridge": f"plain ridge on the last {result.window} values",
    }
    rows = [
        (labels.get(row.model) or f"multi-granularity, sharing={row.sharing:.2f}", row)
        for row in scores.itertuples()
    ]
    width = max(len(label) for label, _ in rows) + 2
    mse = _decimals(scores["mse"].to_numpy())
    mae = _decimals(scores["mae"].to_numpy())
    lines.append(f"  {'model':<{width}}{'MSE':>12}{'MAE':>12}")
    for label, row in rows:
        mark = "  <- chosen" if row.chosen else ""
        lines.append(
            f"  {label:<{width}}{row.mse:>12.{mse}f}{row.mae:>12.{mae}f}{mark}"
        )
    contributions = result.contributions
    size = _decimals(contributions["mean_abs"].to_numpy())
    lines += [
        "",
        f"Chosen: sharing={result.sharing:.2f} (lowest mean MSE), then alpha="
        f"{result.alpha:.3g} by generalised cross-validation",
        "Contributions to the held-out forecasts (the last fold), measured from the "
        "training mean",
        f"  {'granularity':<14}{'mean |contribution|':>20}{'share':>8}",
    ]
    for row in contributions.itertuples():
        lines.append(
            f"  {row.granularity:<14}{row.mean_abs:>20.{size}f}{row.share:>8.0%}"
        )
    return "\n".join(lines)


def plot_forecast(result, path, *, overwrite=False):
    """Draw the held-out forecasts against the truth and save them as a PNG.

    Uses ``matplotlib.figure.Figure`` without pyplot, so no display and no global
    backend are involved. Opens ``path`` exclusively unless ``overwrite``.
    """
    from matplotlib.figure import Figure

    series = result.series
    figure = Figure(figsize=(10, 4.5), layout="constrained")
    ax = figure.subplots()
    truth = result.plot_truth
    ax.plot(truth.index, truth.to_numpy(), color="black", lw=1.4, label="truth")
    styles = {
        "multi-granularity": {"color": "tab:blue", "lw": 2.0, "ls": "-"},
        "plain ridge": {"color": "tab:orange", "lw": 1.2, "ls": "--"},
    }
    forecasts = result.plot_forecasts
    for name, style in styles.items():
        label = (
            f"multi-granularity (sharing={result.sharing:.2f})"
            if name == "multi-granularity"
            else f"plain ridge (last {result.window} values)"
        )
        for k, (_, path_) in enumerate(
            forecasts[forecasts["model"] == name].groupby("origin", sort=True)
        ):
            ax.plot(
                path_["target_time"],
                path_["value"],
                label=label if k == 0 else None,
                **style,
            )
    origins = forecasts["origin"].unique()
    at = truth.reindex(pd.DatetimeIndex(origins))
    ax.plot(
        at.index, at.to_numpy(), "o", color="tab:blue", ms=5, label="forecast origin"
    )
    where = f", series {result.plot_group!r}" if result.plot_group is not None else ""
    n_paths = len(origins)
    ax.set_title(
        f"{series.target}{where}: forecasts up to "
        f"{_describe_step(result.horizon, series.step)} ahead from {n_paths} "
        f"origin{'s' if n_paths > 1 else ''} in the held-out fold"
    )
    ax.set_xlabel(f"{series.time} (step {duration_alias(series.step.value)})")
    ax.set_ylabel(f"{series.target} (units of the data)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    with open(path, "wb" if overwrite else "xb") as stream:
        figure.savefig(stream, format="png", dpi=100)
    return Path(path)


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def build_parser():
    """The argument parser of ``python -m sklearn_multigran``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Forecast a time series H steps ahead with multi-granularity window "
            "features and MultiGranularityRegressor, choose its sharing by "
            "time-series cross-validation, compare it with repeat-last and plain "
            "ridge, and plot held-out forecasts. Without --csv it runs on the "
            "embedded default: eight weeks of a generated 15-minute load series "
            "with daily and weekly cycles (columns time, load, temperature)."
        ),
        epilog=(
            "Example: %(prog)s --csv ETTh1.csv --time date --target OT --horizon 24. "
            "The report goes to stdout; progress lines go to stderr once a run has "
            f"lasted {PROGRESS_AFTER:g} s."
        ),
    )
    data = parser.add_argument_group("data")
    data.add_argument("--csv", metavar="FILE", help="CSV file with a header row")
    data.add_argument(
        "--time",
        metavar="COL",
        help="column of timestamps on a regular grid (default for the embedded "
        "series: time)",
    )
    data.add_argument(
        "--target",
        metavar="COL",
        help="numeric column to forecast (default for the embedded series: load)",
    )
    data.add_argument(
        "--group",
        metavar="COL",
        help="column naming the series of each row: one model is fitted to all "
        "series, the plot shows the first",
    )
    data.add_argument(
        "--covariates",
        nargs="+",
        default=[],
        metavar="COL",
        help="further numeric columns whose windows are features (default: none, "
        "only the target's own history)",
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--horizon",
        type=int,
        default=DEFAULT_HORIZON,
        metavar="H",
        help=f"steps ahead (default {DEFAULT_HORIZON})",
    )
    model.add_argument(
        "--granularities",
        nargs="+",
        metavar="G",
        help="window lengths: durations such as 15min, 1h, 1D, or numbers of steps "
        "(default: 1, 4 and 24 steps)",
    )
    model.add_argument(
        "--lags",
        type=int,
        default=DEFAULT_LAGS,
        metavar="K",
        help=f"windows per granularity, each one granularity further back (default "
        f"{DEFAULT_LAGS})",
    )
    model.add_argument(
        "--stats",
        nargs="+",
        default=["mean"],
        choices=STATS,
        metavar="STAT",
        help=f"window statistics among {', '.join(STATS)} (default: mean)",
    )
    model.add_argument(
        "--splits",
        type=int,
        default=DEFAULT_SPLITS,
        metavar="N",
        help=f"TimeSeriesSplit folds (default {DEFAULT_SPLITS}); the models fitted "
        "before the last one forecast it for the plot and the contributions",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--output",
        metavar="PNG",
        help=f"where to write the plot. Default: {DEFAULT_OUTPUT} in the working "
        "directory, written only if absent (an existing one is kept, the run still "
        "succeeds); an explicit --output that exists is an error. --force "
        "overwrites either",
    )
    output.add_argument(
        "--force", action="store_true", help="overwrite an existing plot file"
    )
    output.add_argument(
        "--no-plot", action="store_true", help="print the report, write no plot"
    )
    chatter = output.add_mutually_exclusive_group()
    chatter.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help=f"print progress from the start, not after {PROGRESS_AFTER:g} s",
    )
    chatter.add_argument(
        "-q", "--quiet", action="store_true", help="never print progress"
    )
    return parser


def _fail(message):
    """Report a problem with the input as one line on stderr; exit status 2."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _plot_target(args):
    """``(path, overwrite)``, or ``(None, False)`` for no plot; checked before the
    fit, so that a long run does not end in a refusal."""
    if args.no_plot:
        return None, False
    explicit = args.output is not None
    path = Path(args.output if explicit else DEFAULT_OUTPUT)
    if not path.parent.is_dir():
        _fail(f"--output {path}: the directory {path.parent} does not exist.")
    if path.exists() and not args.force:
        if explicit:
            _fail(f"--output {path} exists; pass --force to overwrite it.")
        return None, False  # the default file is kept; main says so
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        message = (
            "matplotlib is not installed, so there is no plot; install it with "
            "pip install 'sklearn-multigran[plot]'"
        )
        if explicit:
            _fail(message + ".")
        print(f"note: {message}.", file=sys.stderr)
        return None, False
    return path, args.force


def main(argv=None):
    """Run the main job; ``argv`` defaults to the command line. Returns 0.

    Problems with the arguments or the data end the run with one line on stderr
    and ``SystemExit(2)``.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.horizon < 1:
        parser.error(f"--horizon must be at least 1, got {args.horizon}")
    if args.lags < 1:
        parser.error(f"--lags must be at least 1, got {args.lags}")
    if args.splits < 2:
        parser.error(f"--splits must be at least 2, got {args.splits}")
    if args.csv is not None and (args.time is None or args.target is None):
        parser.error("--csv needs --time and --target: the columns of times and values")
    path, overwrite = _plot_target(args)

    time_column = args.time or "time"
    target = args.target or "load"
    progress = _Progress(0 if args.verbose else None if args.quiet else PROGRESS_AFTER)
    try:
        if args.csv is None:
            frame = embedded_default()
            source = (
                "the embedded default (a generated 15-minute load series with daily "
                "and weekly cycles)"
            )
        else:
            columns = [("--time", time_column), ("--target", target)]
            columns += [("--group", args.group)] if args.group else []
            columns += [("--covariates", name) for name in args.covariates]
            frame = read_csv(args.csv, columns)
            source = Path(args.csv).name
        series = validate_frame(
            frame,
            time=time_column,
            target=target,
            group=args.group,
            covariates=args.covariates,
            source=source,
        )
        progress(f"read {len(series.frame)} rows of {source}")
        granularities = None
        if args.granularities:
            granularities = parse_granularity_args(args.granularities, series.step)
        result = run_forecast(
            series,
            horizon=args.horizon,
            granularities=granularities,
            n_lags=args.lags,
            stats=tuple(args.stats),
            n_splits=args.splits,
            progress=progress,
        )
    except CLIError as exc:
        _fail(str(exc))
    print(format_report(result))
    if path is not None:
        plot_forecast(result, path, overwrite=overwrite)
        print(f"\nWrote the plot of the held-out forecasts to {path}.")
    elif not args.no_plot and args.output is None and Path(DEFAULT_OUTPUT).exists():
        print(
            f"\nKept the existing {DEFAULT_OUTPUT}; pass --force to overwrite it or "
            "--output to write elsewhere."
        )
    print(f"Done in {result.seconds:.1f} s.")
    return 0
