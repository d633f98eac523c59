"""The forecaster API shared by the baselines and ``MultiGranularityForecaster``.

``_BaseForecaster`` owns everything a forecaster has to get right apart from its
model: reading a pandas Series or a (pandas or polars) frame, the regular grid and
its gaps, the series of a panel, their scaling, forecast origins, conformal
intervals and the long output frame. A subclass sees clean float arrays.

The contract for subclasses
---------------------------
A subclass implements two methods and nothing else of the API:

``_fit_series(self, values, covariates, times)``
    ``values`` is a list with one 1-D float64 array per series: the target on the
    series' regular grid from its first to its last time, scaled by the series'
    own level and spread (``(y - mean) / std`` of the fitted rows, so 0 is the
    series' mean), with NaN at missing times. ``covariates`` is None or a list of
    ``(len(values[s]), n_covariates)`` float64 arrays scaled the same way, column
    by column. ``times`` is a list of ``pandas.DatetimeIndex``: the grid of each
    series in the data's time zone, continued ``horizon`` steps past its end
    (``len(values[s]) + horizon`` times), for calendar features of the origins
    and of the targets. Fit the model and store what is learned in attributes
    ending in ``_``. It is called twice per ``fit``: first on the series cut
    before the calibration origins, then on everything; the second call must
    replace everything the first one set.

``_forecast(self, values, covariates, times, origins)``
    ``values``, ``covariates`` and ``times`` as above (scaled with the fitted
    scale; possibly other data than fitted), ``origins`` a list with one sorted
    int64 array of positions per series. Return a list with one
    ``(len(origins[s]), horizon)`` float64 array per series: row ``i`` is the
    forecast of the ``horizon`` steps after position ``origins[s][i]``, in scaled
    units. The forecast from origin ``o`` may read ``values[s][:o + 1]`` and the
    same rows of the covariates (times are known in advance, all of them), and
    nothing after: the arrays are cut after the last origin before the call, and
    a property test checks the rest. NaN must be handled (``_ffill`` below).

During both calls the grid is known from ``self.freq_``, ``self.steps_per_day_``
and ``self.steps_per_week_``, ``self.series_lengths_`` holds the lengths of the
whole fitted series (so that choices such as a window length can be made once, the
same in both calls), and ``self.horizon`` is the number of steps.
``_windows``, ``_targets`` and ``_ffill`` build the matrices most models need; a
model on the raw last-``L`` window is then a few lines (see ``_baselines.py``).

A new time helper lives here rather than in ``utils._time``: ``_steps_per``, the
number of grid steps in a day or a week.
"""

import contextlib
import math
import numbers
from abc import abstractmethod

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from sklearn_multigran.utils._compat import Interval, StrOptions, _fit_context
from sklearn_multigran.utils._time import (
    as_pandas,
    as_times,
    calendar_freq,
    factorize_groups,
    fixed_step_ns,
    grid_positions,
    grid_step,
    most_common_step,
)

__all__ = ["_BaseForecaster"]

_DAY = pd.Timedelta("1D").value
_WEEK = pd.Timedelta("7D").value
# Share of each series' forecast origins kept for the conformal residuals when
# calibration_size="auto", and the most origins kept per series: a few thousand
# residuals pin a 90% quantile to about a point of coverage.
_CALIBRATION_SHARE = 0.2
_CALIBRATION_MAX = 5000
# A spread below this share of the level (or of 1) is treated as this: a constant
# series is then forecast as its level instead of dividing by zero.
_STD_FLOOR = 1e-8


# --------------------------------------------------------------------------------------
# Array helpers for subclasses (they assume 1-D float64 values and int64 origins)
# --------------------------------------------------------------------------------------


def _ffill(values, fill=0.0):
    """Forward-fill NaN of a 1-D array; NaN before the first value become ``fill``.

    Causal: the filled value at row ``t`` depends on rows ``<= t`` only. With
    scaled values, ``fill=0`` is the series' mean.
    """
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    if not missing.any():
        return values.copy()
    last_seen = np.where(~missing, np.arange(len(values)), -1)
    np.maximum.accumulate(last_seen, out=last_seen)
    out = np.where(last_seen >= 0, values[np.maximum(last_seen, 0)], fill)
    return out


def _windows(values, origins, length):
    """Matrix ``(len(origins), length)``: row i is ``values[o - length + 1 : o + 1]``.

    ``o = origins[i]``; positions before 0 are NaN. The last column is the value
    at the origin.
    """
    padded = np.concatenate([np.full(length - 1, np.nan), values])
    view = np.lib.stride_tricks.sliding_window_view(padded, length)
    return view[origins]


def _targets(values, origins, horizon):
    """Matrix ``(len(origins), horizon)``: row i is ``values[o + 1 : o + horizon + 1]``.

    Positions past the end are NaN.
    """
    padded = np.concatenate([values, np.full(horizon, np.nan)])
    view = np.lib.stride_tricks.sliding_window_view(padded, horizon)
    return view[np.asarray(origins) + 1]


def _steps_per(step, period_ns):
    """Grid steps in ``period_ns`` nanoseconds, or None if the step does not divide it.

    Calendar offsets (month starts, business days) have no fixed length: None.
    A result of 1 (a daily grid has no daily cycle) is None too.
    """
    step_ns = fixed_step_ns(step)
    if step_ns is None:
        return None
    count, remainder = divmod(period_ns, step_ns)
    return int(count) if remainder == 0 and count >= 2 else None


def _steps_per_year(step):
    """12 for monthly, 4 for quarterly and 52 for weekly grids; None otherwise."""
    name = type(step).__name__
    if name.startswith(("Month", "BusinessMonth", "SemiMonth")):
        return 24 if name.startswith("SemiMonth") else 12
    if name.startswith(("Quarter", "BQuarter")):
        return 4
    if name == "Week" or fixed_step_ns(step) == 7 * 86_400 * 10**9:
        return 52
    return None


class _Series:
    """What the reader makes of the input: one regular-grid array per series.

    ``keys`` (None for a single series), ``values`` and ``covariates`` (lists,
    unscaled, NaN at gaps), ``starts`` (int64 ns, UTC, the first time of each
    series), ``step`` (a pandas offset) and ``tz``.
    """

    def __init__(self, keys, values, covariates, starts, step, tz):
        self.keys = keys
        self.values = values
        self.covariates = covariates
        self.starts = starts
        self.step = step
        self.tz = tz


class _BaseForecaster(BaseEstimator):
    """Base of the direct forecasters: input, grid, scaling, origins and output.

    Not for direct use: subclasses implement ``_fit_series`` and ``_forecast``
    (the module docstring states the contract) and document the shared
    parameters below in their own docstrings.

    Parameters
    ----------
    horizon : int
        Number of steps forecast from each origin.
    time_column : str, default=None
        Column of a DataFrame holding the times (datetimes). None: the frame's
        ``DatetimeIndex``.
    target : str, default=None
        Column to forecast. None: the only column left besides ``time_column``,
        ``group_column`` and ``covariates``.
    group_column : str, default=None
        Column naming the series of a panel (several series stacked, rows in any
        order). Each series is scaled by its own mean and standard deviation.
    covariates : list of str, default=None
        Columns whose past is known at each origin; passed to the model scaled
        per series.
    freq : str or pandas offset, default=None
        Step of the grid. Default: inferred from the times (``pandas.infer_freq``
        on the longest series, else the most common spacing).
    calibration_size : "auto" or int, default="auto"
        Forecast origins per series kept for the conformal intervals: the model
        is fitted on the rows before them, their residuals are kept, and the model
        is fitted again on everything. "auto": 20% of each series' origins, at
        most 5000; 0: no intervals (and a single fit).
    """

    _parameter_constraints = {
        "horizon": [Interval(numbers.Integral, 1, None, closed="left")],
        "time_column": [str, None],
        "target": [str, None],
        "group_column": [str, None],
        "covariates": [list, tuple, None],
        "freq": [str, pd.DateOffset, pd.Timedelta, None],
        "calibration_size": [
            StrOptions({"auto"}),
            Interval(numbers.Integral, 0, None, closed="left"),
        ],
    }

    # ----------------------------------------------------------------------------------
    # The subclass interface
    # ----------------------------------------------------------------------------------

    @abstractmethod
    def _fit_series(self, values, covariates, times):
        """Fit on scaled per-series arrays; see the module docstring."""

    @abstractmethod
    def _forecast(self, values, covariates, times, origins):
        """Forecasts (scaled) from each origin; see the module docstring."""

    # ----------------------------------------------------------------------------------
    # Reading the input
    # ----------------------------------------------------------------------------------

    def _columns(self, X):
        """Resolve ``(times, target, groups, covariates, target_name)`` of ``X``."""
        covariates = list(self.covariates) if self.covariates is not None else []
        X = as_pandas(X)
        if isinstance(X, pd.Series):
            for name in ("time_column", "group_column"):
                if getattr(self, name) is not None:
                    raise ValueError(
                        f"{name}={getattr(self, name)!r} names a column, but X is a "
                        "pandas Series; pass a DataFrame with that column, or "
                        f"{name}=None."
                    )
            if covariates:
                raise ValueError(
                    f"covariates={covariates!r} name columns, but X is a pandas "
                    "Series; pass a DataFrame holding the target and the covariates."
                )
            if not isinstance(X.index, pd.DatetimeIndex):
                raise TypeError(
                    "X is a pandas Series without a DatetimeIndex; index it by its "
                    "times (series.index = pd.to_datetime(times)) or pass a DataFrame "
                    "with time_column=<column of times>."
                )
            return X.index, X, None, None, X.name if X.name is not None else "y"
        if not isinstance(X, pd.DataFrame):
            raise TypeError(
                "X must be a pandas Series with a DatetimeIndex or a pandas or "
                f"polars DataFrame, got {type(X).__name__}."
            )
        columns = list(X.columns)

        def column(name, param):
            if name not in columns:
                raise ValueError(
                    f"{param}={name!r} is not a column of X; columns are "
                    f"{columns[:30]}."
                )
            return X[name]

        if self.time_column is not None:
            times = column(self.time_column, "time_column")
        elif isinstance(X.index, pd.DatetimeIndex):
            times = X.index
        else:
            raise ValueError(
                "X has no time: pass time_column=<column of datetimes>, or index the "
                "frame by its times (frame.set_index(<column>))."
            )
        groups = (
            None
            if self.group_column is None
            else column(self.group_column, "group_column")
        )
        target = self.target
        if target is None:
            used = {self.time_column, self.group_column, *covariates}
            rest = [c for c in columns if c not in used]
            if len(rest) != 1:
                raise ValueError(
                    f"X has {len(rest)} columns besides the time, group and "
                    f"covariates ({rest[:30]}); pass target=<the column to forecast>."
                )
            target = rest[0]
        y = column(target, "target")
        for name in covariates:
            column(name, "covariates")
        cov = X[covariates] if covariates else None
        return times, y, groups, cov, target

    @staticmethod
    def _numbers(column, param):
        """A column as float64 (NaN for missing), or a TypeError naming ``param``."""
        dtype = column.dtype
        if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(
            dtype
        ):
            raise TypeError(
                f"{param} must hold numbers, got dtype {dtype}; convert it first "
                "(e.g. pd.to_numeric(frame[column], errors='coerce'))."
            )
        return column.to_numpy(dtype=np.float64, na_value=np.nan)

    def _time_index(self, times):
        """``(DatetimeIndex, tz)`` of the times, refusing anything else by name."""
        param = (
            f"time_column={self.time_column!r}"
            if self.time_column is not None
            else "the index of X"
        )
        index = pd.Index(times)
        if not isinstance(index, pd.DatetimeIndex):
            raise TypeError(
                f"{param} must hold datetimes, got dtype {index.dtype}; parse them "
                "first with pd.to_datetime (pass utc=True when the times carry "
                "different UTC offsets or time zones)."
            )
        return index, param

    def _read(self, X, *, fitting):
        """A ``_Series`` of ``X`` (see its docstring); ``fitting`` infers the grid."""
        times, y, groups, cov, target_name = self._columns(X)
        y = self._numbers(y, f"target={target_name!r}")
        if cov is not None:
            cov = np.column_stack(
                [self._numbers(cov[c], f"covariates column {c!r}") for c in cov]
            )
        index, param = self._time_index(times)
        n_rows = len(y)
        if n_rows == 0:
            raise ValueError("X has no rows; a forecaster needs a history.")
        tz = index.tz
        if not fitting and (tz is None) != (self.tz_ is None):
            raise ValueError(
                f"{param} is {'naive' if tz is None else f'in time zone {tz}'}, but "
                f"the forecaster was fitted on "
                f"{'naive times' if self.tz_ is None else f'times in {self.tz_}'}; "
                "pass times the same way (tz_localize / tz_convert them)."
            )
        values, _ = as_times(index, param)
        if groups is None:
            codes, keys = np.zeros(n_rows, dtype=np.int64), None
        else:
            codes, keys = factorize_groups(
                groups,
                lambda row: (
                    f"group_column={self.group_column!r} has a missing value at row "
                    f"{row}; every row needs a series key."
                ),
            )
        freq = self.freq if fitting else self.freq_
        if fitting and freq is None:
            step = self._infer_step(values, codes, param)
        else:
            step = grid_step(values, True, codes, freq, param)
        try:
            pos = grid_positions(values, codes, step, param)
        except ValueError as exc:
            raise ValueError(
                f"{exc} The forecaster needs times on a regular grid: resample "
                f"irregular times first, e.g. series.resample({step.freqstr!r})."
                "mean()."
            ) from None
        order = np.lexsort((pos, codes))
        codes_s, pos_s = codes[order], pos[order]
        dup = (codes_s[1:] == codes_s[:-1]) & (pos_s[1:] == pos_s[:-1])
        if dup.any():
            row = order[int(np.flatnonzero(dup)[0])]
            where = "" if keys is None else f" in series {keys[codes[row]]!r}"
            raise ValueError(
                f"{param} has the time {index[row]} twice{where}; a forecaster needs "
                "one row per time and series: aggregate the duplicates first, e.g. "
                "frame.groupby([time, group]).mean()."
            )
        n_series = 1 if keys is None else len(keys)
        bounds = np.searchsorted(codes_s, np.arange(n_series + 1))
        series_values, series_cov, starts = [], [], []
        ns = values.view(np.int64)
        for s in range(n_series):
            rows = order[bounds[s] : bounds[s + 1]]
            offset = pos[rows] - pos[rows[0]]
            span = int(offset[-1]) + 1
            if span > 2 * len(rows) + 10:
                raise ValueError(
                    f"{param}: {len(rows)} rows spread over {span} steps of "
                    f"freq={step.freqstr!r}"
                    + ("" if keys is None else f" in series {keys[s]!r}")
                    + "; the times look irregular. Resample them to a regular "
                    "grid first, e.g. series.resample('1h').mean(), or pass freq."
                )
            dense = np.full(span, np.nan)
            dense[offset] = y[rows]
            series_values.append(dense)
            if cov is not None:
                dense_cov = np.full((span, cov.shape[1]), np.nan)
                dense_cov[offset] = cov[rows]
                series_cov.append(dense_cov)
            starts.append(ns[rows[0]])
        return _Series(
            keys,
            series_values,
            series_cov if cov is not None else None,
            np.asarray(starts, dtype=np.int64),
            step,
            tz,
        )

    @staticmethod
    def _infer_step(values, codes, param):
        """``pandas.infer_freq`` on the longest series, else the most common step."""
        inferred = calendar_freq(values, codes)
        if inferred is not None:
            return inferred
        order = np.lexsort((values.view(np.int64), codes))
        step = most_common_step(values.view(np.int64)[order], codes[order])
        if step is None:
            raise ValueError(
                f"{param}: cannot infer the step, no series has two different "
                "times; pass freq, e.g. freq='1h'."
            )
        return pd.tseries.frequencies.to_offset(pd.Timedelta(step, "ns"))

    # ----------------------------------------------------------------------------------
    # fit
    # ----------------------------------------------------------------------------------

    def _scaled(self, data):
        """Values and covariates of ``data`` scaled by the fitted per-series scale."""
        index = self._series_index(data.keys)
        values = [
            (v - self.scale_mean_[i]) / self.scale_std_[i]
            for v, i in zip(data.values, index, strict=True)
        ]
        covariates = None
        if data.covariates is not None:
            covariates = [
                (c - self.covariate_mean_[i]) / self.covariate_std_[i]
                for c, i in zip(data.covariates, index, strict=True)
            ]
        return values, covariates, index

    def _series_index(self, keys):
        """Position of each series of new data among the fitted series."""
        if keys is None:  # a single series (group_column is None)
            return np.zeros(1, dtype=np.int64)
        fitted = pd.Index(self.series_keys_)
        index = fitted.get_indexer(pd.Index(keys))
        if (index < 0).any():
            unseen = pd.Index(keys)[index < 0][0]
            raise ValueError(
                f"group_column={self.group_column!r}: series {unseen!r} was not "
                f"seen in fit (fitted series: {list(fitted[:10])}); fit on it too."
            )
        return index

    @staticmethod
    def _scale(arrays):
        """Per-series (per-column) nan-mean and floored nan-std of ``arrays``."""
        mean = np.array([np.nanmean(a, axis=0) for a in arrays])
        std = np.array([np.nanstd(a, axis=0) for a in arrays])
        floor = _STD_FLOOR * np.maximum(1.0, np.abs(mean))
        return mean, np.maximum(np.nan_to_num(std), floor)

    def _calibration_counts(self, lengths):
        """Calibration origins of each series: the last ones with all targets."""
        horizon = self.horizon
        usable = np.maximum(lengths - horizon, 0)
        if self.calibration_size == "auto":
            wanted = np.minimum(
                np.rint(_CALIBRATION_SHARE * usable).astype(np.int64), _CALIBRATION_MAX
            )
        else:
            wanted = np.full(len(lengths), int(self.calibration_size))
        # keep at least horizon + 1 rows before the first calibration origin
        return np.clip(np.minimum(wanted, lengths - 2 * horizon - 1), 0, None)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the forecaster on the history ``X``.

        Parameters
        ----------
        X : pandas.Series or DataFrame (pandas or polars)
            A Series with a DatetimeIndex, or a frame with ``time_column``,
            ``target`` and optionally ``group_column`` and ``covariates``. Times
            must lie on a regular grid; missing times inside a series are gaps,
            read as NaN rows, as are NaN targets.
        y : None
            Ignored: the target is a column of ``X``.

        Returns
        -------
        self : object
        """
        data = self._read(X, fitting=True)
        lengths = np.array([len(v) for v in data.values])
        if lengths.max() <= self.horizon:
            raise ValueError(
                f"horizon={self.horizon} is longer than the data: the longest series "
                f"has {lengths.max()} steps; use horizon < {lengths.max()} or pass "
                "more history."
            )
        for s, v in enumerate(data.values):
            if np.isnan(v).all():
                name = "the series" if data.keys is None else f"series {data.keys[s]!r}"
                raise ValueError(
                    f"target: {name} has no value (all NaN); drop it or fill it."
                )
        self.freq_ = data.step
        self.tz_ = data.tz
        self.series_keys_ = None if data.keys is None else np.asarray(data.keys)
        self.n_series_ = len(data.values)
        self.steps_per_day_ = _steps_per(data.step, _DAY)
        self.steps_per_week_ = _steps_per(data.step, _WEEK)
        self.scale_mean_, self.scale_std_ = self._scale(data.values)
        if data.covariates is not None:
            self.covariate_mean_, self.covariate_std_ = self._scale(data.covariates)
        values, covariates, _ = self._scaled(data)
        times = self._grid_times(data.starts, lengths + self.horizon)

        self.series_lengths_ = lengths
        counts = self._calibration_counts(lengths)
        if counts.sum() > 0:
            # Split conformal: fit on the rows up to each series' first calibration
            # origin (no training target reaches a calibration target), forecast
            # from the calibration origins with the whole history before them.
            cuts = lengths - self.horizon - counts
            self._fit_series(
                [v[: c + 1] for v, c in zip(values, cuts, strict=True)],
                None
                if covariates is None
                else [a[: c + 1] for a, c in zip(covariates, cuts, strict=True)],
                [t[: c + 1 + self.horizon] for t, c in zip(times, cuts, strict=True)],
            )
            origins = [
                np.arange(c, n - self.horizon)
                for c, n in zip(cuts, lengths, strict=True)
            ]
            forecasts = self._forecast_cut(values, covariates, times, origins)
            residuals = [
                np.abs(_targets(v, o, self.horizon) - f)
                for v, o, f in zip(values, origins, forecasts, strict=True)
            ]
            self.calibration_residuals_ = np.concatenate(residuals)
        else:
            self.calibration_residuals_ = None
        self._fit_series(values, covariates, times)
        self.history_ = (values, covariates)
        self.history_starts_ = data.starts
        return self

    # ----------------------------------------------------------------------------------
    # predict
    # ----------------------------------------------------------------------------------

    def _forecast_cut(self, values, covariates, times, origins):
        """``_forecast`` on the arrays cut after each series' last origin."""
        ends = [int(o[-1]) + 1 if len(o) else 0 for o in origins]
        values = [v[:e] for v, e in zip(values, ends, strict=True)]
        times = [t[: e + self.horizon] for t, e in zip(times, ends, strict=True)]
        if covariates is not None:
            covariates = [c[:e] for c, e in zip(covariates, ends, strict=True)]
        forecasts = self._forecast(values, covariates, times, origins)
        return [np.asarray(f, dtype=np.float64) for f in forecasts]

    def _origin_positions(self, origins, lengths, starts, keys):
        """Positions of the requested origins in each series."""
        if origins is None:
            return [np.array([n - 1], dtype=np.int64) for n in lengths]
        if isinstance(origins, str):
            if origins != "all":
                raise ValueError(
                    f"origins={origins!r} is not understood; pass 'all', None or "
                    "a list of times."
                )
            return [np.arange(n, dtype=np.int64) for n in lengths]
        index = pd.DatetimeIndex(pd.Index(np.atleast_1d(origins)))
        if (index.tz is None) != (self.tz_ is None):
            raise ValueError(
                "origins are "
                + ("naive" if index.tz is None else f"in time zone {index.tz}")
                + " but the data's times are "
                + ("naive" if self.tz_ is None else f"in {self.tz_}")
                + "; pass origins the same way."
            )
        ns = np.unique(as_times(index, "origins")[0].view(np.int64))
        result, used = [], np.zeros(len(ns), dtype=bool)
        for n, start in zip(lengths, starts, strict=True):
            pos = self._positions_of(ns, start, n)
            inside = pos >= 0
            used |= inside
            result.append(pos[inside])
        if not used.all():
            bad = pd.Timestamp(ns[np.argmin(used)])
            first = min(self._time_of(s, 0) for s in starts)
            last = max(
                self._time_of(s, n - 1) for s, n in zip(starts, lengths, strict=True)
            )
            raise ValueError(
                f"origins: {bad} is not a time of the data on its grid "
                f"(freq={self.freq_.freqstr!r}) between {first} and {last}"
                + ("" if keys is None else " in any series")
                + "; pass origins inside the data of X."
            )
        return result

    def _positions_of(self, ns, start, n):
        """Grid positions of times ``ns`` in a series of ``n`` steps; -1 if outside."""
        step = fixed_step_ns(self.freq_)
        if step is not None:
            pos, rem = np.divmod(ns - start, step)
            ok = (rem == 0) & (pos >= 0) & (pos < n)
        else:
            grid = pd.date_range(pd.Timestamp(start), periods=n, freq=self.freq_)
            pos = grid.get_indexer(pd.DatetimeIndex(ns))
            ok = pos >= 0
        return np.where(ok, pos, -1).astype(np.int64)

    def _grid_times(self, starts, lengths):
        """The grid of each series as a DatetimeIndex in the data's time zone."""
        out = []
        for start, n in zip(starts, lengths, strict=True):
            grid = self._time_of(start, np.arange(n))
            if self.tz_ is not None:
                grid = grid.tz_localize("UTC").tz_convert(self.tz_)
            out.append(grid)
        return out

    def _time_of(self, start, positions):
        """Times (UTC-naive) at grid ``positions`` of a series starting at ``start``."""
        positions = np.asarray(positions)
        step = fixed_step_ns(self.freq_)
        if step is not None:
            out = (start + positions.astype(np.int64) * step).astype("datetime64[ns]")
            return pd.DatetimeIndex(out) if positions.ndim else pd.Timestamp(out)
        grid = pd.date_range(
            pd.Timestamp(start), periods=int(np.max(positions)) + 1, freq=self.freq_
        )
        return grid[positions]

    def _predict_scaled(self, X, origins):
        """``(index, positions, forecasts_scaled, starts, keys)`` for predict."""
        check_is_fitted(self)
        if X is None:
            if origins is not None:
                raise ValueError(
                    "origins need the data to forecast from: pass X with origins, or "
                    "neither for the steps after the end of the fitted data."
                )
            values, covariates = self.history_
            starts = self.history_starts_
            index = np.arange(self.n_series_)
            keys = self.series_keys_
        else:
            data = self._read(X, fitting=False)
            values, covariates, index = self._scaled(data)
            starts, keys = data.starts, data.keys
        lengths = np.array([len(v) for v in values])
        positions = self._origin_positions(origins, lengths, starts, keys)
        times = self._grid_times(starts, lengths + self.horizon)
        forecasts = self._forecast_cut(values, covariates, times, positions)
        return index, positions, forecasts, starts, keys

    def _frame(self, index, positions, columns, starts, keys):
        """The long output frame, sorted by (series, origin, step)."""
        horizon = self.horizon
        order = np.arange(len(index))
        if keys is not None:
            # keys of mixed types cannot be sorted: first appearance
            with contextlib.suppress(TypeError):
                order = np.argsort(np.asarray(keys), kind="stable")
        parts = []
        steps = np.arange(1, horizon + 1)
        for s in order:
            pos = positions[s]
            if not len(pos):
                continue
            grid = self._time_of(starts[s], np.arange(int(pos.max()) + horizon + 1))
            part = {}
            if keys is not None:
                part[self.group_column] = np.repeat(
                    np.asarray(keys, dtype=object)[s : s + 1], len(pos) * horizon
                )
            part["origin"] = grid[np.repeat(pos, horizon)]
            part["step"] = np.tile(steps, len(pos))
            part["time"] = grid[(pos[:, None] + steps).ravel()]
            for name, values in columns.items():
                part[name] = values[s].ravel()
            parts.append(pd.DataFrame(part))
        frame = pd.concat(parts, ignore_index=True)
        if self.tz_ is not None:
            for name in ("origin", "time"):
                frame[name] = frame[name].dt.tz_localize("UTC").dt.tz_convert(self.tz_)
        return frame

    def predict(self, X=None, *, origins=None):
        """Forecast ``horizon`` steps from each origin.

        Parameters
        ----------
        X : pandas.Series or DataFrame, default=None
            The history to forecast from, read as in ``fit`` (same columns, same
            series; the fitted scale of each series is used). None: the fitted
            data.
        origins : None, "all" or array-like of datetimes, default=None
            The forecast origins. None: the last time of each series (the
            ``horizon`` steps after the end of the data). "all": every time of
            every series of ``X``. Times: each one in every series of ``X`` whose
            span holds it; a forecast from origin ``t`` reads only the rows of
            ``X`` at or before ``t``. Needs ``X``.

        Returns
        -------
        pandas.DataFrame
            One row per (series, origin, step), sorted by them: the group column
            (panels only), ``origin``, ``step`` (1 to ``horizon``), ``time``
            (``origin + step * freq_``) and ``prediction``.
        """
        index, positions, forecasts, starts, keys = self._predict_scaled(X, origins)
        columns = {
            "prediction": [
                f * self.scale_std_[i] + self.scale_mean_[i]
                for f, i in zip(forecasts, index, strict=True)
            ]
        }
        return self._frame(index, positions, columns, starts, keys)

    def _quantiles(self, coverage):
        """Conformal half-widths (scaled units) per step, for one coverage level."""
        residuals = self.calibration_residuals_
        out = np.empty(self.horizon)
        for h in range(self.horizon):
            r = np.sort(residuals[:, h][~np.isnan(residuals[:, h])])
            n = len(r)
            # the finite-sample correction of split conformal prediction: the
            # ceil((n + 1) * coverage)-th smallest residual; infinite when n is too
            # small for the coverage asked
            k = math.ceil((n + 1) * coverage)
            out[h] = r[k - 1] if 1 <= k <= n else np.inf
        return out

    def predict_interval(self, X=None, *, origins=None, coverage=0.9):
        """Forecasts with split-conformal prediction intervals.

        The half-width of step ``h`` is the ``ceil((n + 1) * coverage)``-th
        smallest absolute residual of step ``h`` over the ``n`` calibration
        origins kept in ``fit`` (in each series' scaled units, so each series'
        interval follows its own spread); infinite when ``n`` is too small for
        ``coverage``. Residuals of neighbouring origins are dependent, so the
        coverage is that of exchangeable data only approximately.

        Parameters
        ----------
        X, origins
            As in :meth:`predict`.
        coverage : float or list of float, default=0.9
            Nominal coverage, in (0, 1).

        Returns
        -------
        pandas.DataFrame
            The frame of :meth:`predict` with ``lower`` and ``upper`` columns, or,
            for a list of coverages, ``lower_{c}`` and ``upper_{c}`` for each
            (``c`` as ``f"{c:g}"``, e.g. ``lower_0.9``).
        """
        check_is_fitted(self)
        levels = [coverage] if np.ndim(coverage) == 0 else list(coverage)
        for c in levels:
            if isinstance(c, bool) or not isinstance(c, numbers.Real) or not 0 < c < 1:
                raise ValueError(
                    f"coverage must be a number in (0, 1) or a list of them, got "
                    f"{c!r}; e.g. coverage=0.9."
                )
        if self.calibration_residuals_ is None:
            raise ValueError(
                "no calibration residuals: the forecaster was fitted with "
                "calibration_size=0, or on series shorter than 2 * horizon + 2 "
                "steps; refit with calibration_size='auto' on more history."
            )
        index, positions, forecasts, starts, keys = self._predict_scaled(X, origins)
        means = [
            f * self.scale_std_[i] + self.scale_mean_[i]
            for f, i in zip(forecasts, index, strict=True)
        ]
        columns = {"prediction": means}
        for c in levels:
            half = self._quantiles(c)
            width = [half * self.scale_std_[i] for i in index]
            suffix = "" if np.ndim(coverage) == 0 else f"_{c:g}"
            columns[f"lower{suffix}"] = [
                m - w for m, w in zip(means, width, strict=True)
            ]
            columns[f"upper{suffix}"] = [
                m + w for m, w in zip(means, width, strict=True)
            ]
        return self._frame(index, positions, columns, starts, keys)
