"""MultiGranularityForecaster: features, their choice and the model, from the data.

The forecaster is a direct multi-output linear model in the NLinear form (inputs
and targets relative to the value at the origin) over a superset of feature
*families* made by :class:`~sklearn_multigran.GranularityTransformer` and
:class:`~sklearn_multigran.CalendarFeatures`, fitted by
:class:`~sklearn_multigran.MultiGranularityRegressor`. What enters the model is
chosen on a holdout of the last training origins of each series.

How the choice is made (and why it needs no refits)
--------------------------------------------------
Every candidate model is ridge on a column subset of one superset matrix ``Z``
(standardised with the training rows' mean and spread). With the training Gram
``G = Z^T Z``, cross-moments ``C = Z^T Y`` and the holdout's ``G_v``, ``C_v`` and
``|Y_v|^2``, the holdout squared error of a subset ``S`` at penalty ``alpha`` is

``|Y_v|^2 - 2 tr(W^T C_v[S]) + tr(W^T G_v[S, S] W)``

with ``W = (G[S, S] + alpha I)^-1 C[S]``,

and with ``G[S, S] = Q diag(lam) Q^T`` every alpha costs ``O(|S|^2)`` once
``Q^T C``, ``Q^T C_v`` and ``Q^T G_v Q`` are formed: one eigendecomposition per
subset serves the whole alpha grid. Only the winning alpha of each subset is
turned into per-origin holdout errors, for the gate.

The gate is conservative: a candidate replaces the current model only when its
holdout error is lower by more than ``n_se`` block standard errors of the paired
per-origin difference (:func:`block_standard_error`, blocks of at least a day of
origins, so that neighbouring overlapping targets do not pass for independent
evidence). A plain "lower holdout error" rule overfits the holdout.
"""

import numbers
import time
import warnings

import numpy as np
import pandas as pd
from scipy import linalg

from sklearn_multigran._calendar import CalendarFeatures
from sklearn_multigran._regressor import MultiGranularityRegressor
from sklearn_multigran._transformer import GranularityTransformer
from sklearn_multigran.forecasting._base import (
    _BaseForecaster,
    _ffill,
    _steps_per_year,
    _targets,
    _windows,
)
from sklearn_multigran.forecasting._baselines import (
    _SHARED_ATTRIBUTES,
    _SHARED_PARAMS,
)
from sklearn_multigran.forecasting._selection import block_standard_error
from sklearn_multigran.utils._compat import Interval, StrOptions

__all__ = ["MultiGranularityForecaster"]

#: The feature families, in the order the forward selection lists them.
FAMILIES = ("seasonal", "stats", "calendar", "level", "shape", "covariates")
# reach of a feature that reads the whole past (exponentially weighted means)
_UNBOUNDED = np.iinfo(np.int64).max
# at most this many columns in the default window (the longest lookback tried
# without max_lookback)
_MAX_WINDOW = 1024


def _relative_to_last(block, last):
    """``block - last`` with NaN (no history yet) read as "equal to the last"."""
    out = block - last[:, None]
    out[np.isnan(out)] = 0.0
    return out


def _largest_divisor(n, at_most):
    """Largest divisor of ``n`` that is at most ``at_most`` (at least 1)."""
    for g in range(max(1, min(n, at_most)), 0, -1):
        if n % g == 0:
            return g
    return 1


class _Design:
    """The superset of candidate columns, family by family.

    ``columns`` maps a family to a list of ``(name, reach)``; ``build(values,
    covariates, times, origins)`` returns the ``(len(origins), n_columns)``
    matrix of one series in the order of ``names``. ``reach`` is how many steps
    before the origin a column reads (``L - 1`` for a window of ``L`` values).
    """

    def __init__(self, forecaster, n_covariates, knots):
        f = forecaster
        H = f.horizon
        self.horizon = H
        self.day = f._cycle_
        self.week = f._long_cycle_
        self.window = f._window_max_
        self.n_covariates = n_covariates
        self.families = {}
        # the window: lags 1..window-1 relative to the origin's value, the NLinear
        # inputs (lag 0 is the origin itself: 0 once relative)
        self.families["window"] = [
            (f"window__lag{k}", k) for k in range(1, self.window)
        ]
        # bounded columns read at most this far back (max_lookback, and the data:
        # at least two thirds of the longest series left for training origins)
        limit = min(f._reach_limit_, f._data_reach_)
        day, week = self.day, self.week
        # seasonal: the H steps that start where the forecast starts, k weeks back
        # (k = 2..4; k = 1 lies inside a week-long window), as means over g steps
        # so that a long horizon does not cost H columns per week
        self.seasonal_step = 1
        self.seasonal_lags = []
        if week is not None:
            g = _largest_divisor(week, max(1, H // 24))
            self.seasonal_step = g
            lags = []
            for k in (2, 3, 4):
                # lags below 0 would read after the origin (a horizon longer
                # than k weeks): those steps are inside the window already
                block = [
                    k * week // g - j
                    for j in range(1, -(-H // g) + 1)
                    if k * week // g - j >= 0
                ]
                if not block:
                    continue
                # the column at lag m reads back to m * g + g - 1 steps
                if max(block) * g + g - 1 <= limit:
                    lags += block
            self.seasonal_lags = sorted(set(lags))
        self.families["seasonal"] = [
            (f"seasonal__{g}__lag{m}", m * g + g - 1)
            for g in [self.seasonal_step]
            for m in self.seasonal_lags
        ]
        # stats: mean, std, min and max over a sixth of the cycle and the cycle,
        # 6 and 7 lags (the last cycle and the last long cycle, hour by hour)
        self.stat_lags = {}
        short = day // 6 if day is not None and day >= 12 else None
        for g, n_lags in ((short, 6), (day, 7)):
            if g is None or g < 2:
                continue
            lags = [k for k in range(n_lags) if (k + 1) * g - 1 <= limit]
            if lags:
                self.stat_lags[g] = lags
        self.families["stats"] = [
            (f"stats__{g}__{stat}__lag{k}", (k + 1) * g - 1)
            for g, lags in self.stat_lags.items()
            for stat in ("mean", "std", "min", "max")
            for k in lags
        ]
        # calendar: Fourier terms of the origin's time and their products with the
        # origin's value (an amplitude that follows the level)
        self.calendar = f._calendar_periods()
        n_terms = 3
        names = []
        for p in self.calendar:
            for k in range(1, n_terms + 1):
                names += [f"sin_{p}_{k}", f"cos_{p}_{k}"]
        self.calendar_names = names
        self.families["calendar"] = [(f"calendar__{n}", 0) for n in names] + [
            (f"calendar__{n}__x_last", 0) for n in names
        ]
        # level: the origin's value itself, and exponentially weighted means over
        # the past (half-lives a cycle and a long cycle) relative to it
        self.ewm = [
            g for g in (day, week) if g is not None and f._reach_limit_ == _UNBOUNDED
        ]
        self.families["level"] = [("level__last", 0)] + [
            (f"level__ewm_{g}", _UNBOUNDED) for g in self.ewm
        ]
        # shape: hinges max(0, x - knot) of the origin's value and of the last
        # cycle's mean at the fitted values' deciles, so that the expected change
        # can bend with the level (bounded series, saturation, a power curve)
        self.knots = knots
        self.families["shape"] = [(f"shape__last__{k}", 0) for k in range(len(knots))]
        if day is not None and day >= 2 and day - 1 <= limit:
            self.families["shape"] += [
                (f"shape__{day}__mean__{k}", day - 1) for k in range(len(knots))
            ]
        # covariates: each one's last values and its means over the last cycles
        self.cov_window = min(day or 24, 48, limit + 1)
        self.cov_day_lags = (
            [k for k in range(7) if (k + 1) * day - 1 <= limit]
            if day is not None and day >= 2
            else []
        )
        cov = []
        for c in f.covariates[:n_covariates] if n_covariates else []:
            cov += [(f"covariates__{c}__lag{k}", k) for k in range(self.cov_window)]
            cov += [
                (f"covariates__{c}__{day}__mean__lag{k}", (k + 1) * day - 1)
                for k in self.cov_day_lags
            ]
        self.families["covariates"] = cov
        self.names = [n for fam in self.families.values() for n, _ in fam]
        self.reach = np.array(
            [r for fam in self.families.values() for _, r in fam], dtype=np.int64
        )
        self.slices = {}
        start = 0
        for name, fam in self.families.items():
            self.slices[name] = np.arange(start, start + len(fam))
            start += len(fam)

    def build(self, values, covariates, times, origins):
        """Superset matrix of one series at ``origins`` (positions, sorted).

        Returns ``(matrix, last)``, ``last`` the forward-filled value at each
        origin (what the columns and the targets are relative to).
        """
        filled = _ffill(values)
        last = filled[origins]
        parts = []
        # window: the same values as GranularityTransformer([1], stats=["mean"],
        # lags=range(window), closed="right"), read at the origins only
        W = _windows(filled, origins, self.window)[:, :-1][:, ::-1]
        parts.append(_relative_to_last(W, last))
        column = filled[:, None]
        if self.seasonal_lags:
            g = self.seasonal_step
            seasonal = GranularityTransformer(
                [g], stats=["mean"], lags=self.seasonal_lags, closed="right"
            ).fit_transform(column)[origins]
            parts.append(_relative_to_last(seasonal, last))
        else:
            parts.append(np.empty((len(origins), 0)))
        stats = []
        if self.stat_lags:
            # both granularities in one sweep; the columns come granularity by
            # granularity, then statistic, then lag
            block = GranularityTransformer(
                list(self.stat_lags),
                stats=["mean", "std", "min", "max"],
                lags=self.stat_lags,
                closed="right",
            ).fit_transform(column)[origins]
            start = 0
            for lags in self.stat_lags.values():
                for s in range(4):
                    part = block[:, start : start + len(lags)]
                    start += len(lags)
                    if s == 1:  # std: a spread, not relative to the level
                        part = np.nan_to_num(part, nan=0.0)
                    else:
                        part = _relative_to_last(part, last)
                    stats.append(part)
        parts.append(np.hstack(stats) if stats else np.empty((len(origins), 0)))
        fourier = (
            CalendarFeatures(periods=self.calendar, n_terms=3)
            .fit_transform(pd.DataFrame(index=times[origins]))
            .astype(np.float64)
        )
        parts += [fourier, fourier * last[:, None]]
        level = [last[:, None]]
        if self.ewm:
            ewm = GranularityTransformer(
                self.ewm, stats=["ewm_mean"], lags=[0], closed="right"
            ).fit_transform(column)[origins]
            level.append(_relative_to_last(ewm, last))
        parts.append(np.hstack(level))
        hinges = [np.maximum(last[:, None] - self.knots, 0.0)]
        if len(self.families["shape"]) > len(self.knots):
            means = GranularityTransformer(
                [self.day], stats=["mean"], lags=[0], closed="right"
            ).fit_transform(column)[origins]
            hinges.append(np.maximum(np.nan_to_num(means, nan=0.0) - self.knots, 0.0))
        parts.append(np.hstack(hinges))
        if self.n_covariates:
            cov = []
            for c in range(self.n_covariates):
                x = _ffill(covariates[:, c])
                cov.append(
                    np.nan_to_num(
                        _windows(x, origins, self.cov_window)[:, ::-1], nan=0.0
                    )
                )
                if self.cov_day_lags:
                    means = GranularityTransformer(
                        [self.day],
                        stats=["mean"],
                        lags=self.cov_day_lags,
                        closed="right",
                    ).fit_transform(x[:, None])[origins]
                    cov.append(np.nan_to_num(means, nan=0.0))
            parts.append(np.hstack(cov))
        return np.hstack(parts), last


class _Holdout:
    """Gram statistics of the training and holdout origins, standardised."""

    def __init__(self, X_train, Y_train, X_val, Y_val):
        self.mean = X_train.mean(axis=0)
        std = X_train.std(axis=0)
        self.scale = np.where(std > 0, std, 1.0)
        self.y_mean = Y_train.mean(axis=0)
        Z = (X_train - self.mean) / self.scale
        Zv = (X_val - self.mean) / self.scale
        Yc = Y_train - self.y_mean
        self.Yv = Y_val - self.y_mean
        self.G = Z.T @ Z
        self.C = Z.T @ Yc
        self.Gv = Zv.T @ Zv
        self.Cv = Zv.T @ self.Yv
        self.yy = float(np.sum(self.Yv**2))
        self.Zv = Zv
        self.n_train = len(Z)
        self.n_val, self.horizon = self.Yv.shape

    def score(self, columns, alphas):
        """Best alpha for a column subset, its holdout MSE and per-origin errors.

        Returns ``(alpha, mse, errors, coef, path)``: the chosen alpha, its
        holdout MSE, its per-origin errors, ``coef`` of shape
        ``(len(columns), horizon)`` on the standardised scale, and the holdout
        MSE of every alpha.
        """
        ix = np.ix_(columns, columns)
        lam, Q = linalg.eigh(self.G[ix], driver="evd")
        lam = np.clip(lam, 0.0, None)
        B = Q.T @ self.C[columns]
        E = Q.T @ self.Cv[columns]
        M = Q.T @ self.Gv[ix] @ Q
        cross = np.sum(B * E, axis=1)
        quad = M * (B @ B.T)
        total = np.empty(len(alphas))
        for k, alpha in enumerate(alphas):
            d = 1.0 / (lam + alpha)
            total[k] = self.yy - 2.0 * d @ cross + d @ quad @ d
        mse = total / (self.n_val * self.horizon)
        # ties (a flat criterion) go to the strongest penalty
        best = int(np.flatnonzero(mse <= mse.min() * (1 + 1e-12))[-1])
        coef = Q @ (B / (lam + alphas[best])[:, None])
        errors = np.mean((self.Yv - self.Zv[:, columns] @ coef) ** 2, axis=1)
        return float(alphas[best]), float(mse[best]), errors, coef, mse


class MultiGranularityForecaster(_BaseForecaster):
    """Multi-horizon forecaster whose features, lookback and penalty come from the data.

    A direct linear model: at each forecast origin, features of the past (the
    raw window, the same hours weeks back, window statistics at two
    granularities, calendar terms, the level, the covariates' past), all relative
    to the value at the origin, map to the next ``horizon`` values minus that
    value. The columns are made by :class:`~sklearn_multigran.GranularityTransformer`
    and :class:`~sklearn_multigran.CalendarFeatures`; the model is a
    :class:`~sklearn_multigran.MultiGranularityRegressor`. One model serves all
    series of a panel, each scaled by its own level and spread.

    The lookback, the feature families, ``alpha`` and the target rank are chosen
    on a holdout of the last training origins of each series, each change
    against the current model passing a one-standard-error gate, all from one
    Gram matrix of the superset of columns (no refits); the model is then
    refitted on every origin. The user guide (``doc/forecasting.md``) has the
    details; ``selection_`` records every candidate's score and decision.

    Parameters
    ----------
    horizon : int
        Number of steps forecast from each origin.
    lookback : "auto" or int, default="auto"
        Length of the raw window. "auto": chosen among a cycle, two cycles, a
        long cycle and two long cycles (a day, two days, a week and two weeks on
        sub-daily grids), starting from a long cycle, within ``max_lookback``.
    max_lookback : int or None, default=None
        No feature reads more than ``max_lookback - 1`` steps before the origin
        (the exponentially weighted means, which read the whole past, are then
        left out). None: no bound beyond the data.
    families : "auto" or list of str, default="auto"
        Feature families beside the window, among "seasonal" (the horizon's
        steps 2 to 4 long cycles back), "stats" (mean, std, min and max over a
        sixth of a cycle and a cycle, with lags), "calendar" (Fourier terms of
        the origin's time in the periods of the grid, and their products with
        the origin's value), "level" (the origin's value and exponentially
        weighted means) and "covariates" (each covariate's last values and its
        means over the last cycles). "auto": forward selection through the gate.
        A list: exactly those families.
    alpha : "auto" or float, default="auto"
        L2 penalty on the standardised features (not divided by the number of
        rows, as in :class:`~sklearn_multigran.MultiGranularityRegressor`).
        "auto": the lowest holdout error on a grid of ``n_train * 10**k``.
    target_rank : "auto", int or None, default="auto"
        Rank of the coefficient matrix over the horizon (reduced-rank ridge).
        "auto": the rank with the lowest holdout error replaces the full rank
        only through the gate. None: full rank.
    sharing : float in [0, 1], default=0.0
        Blend of the coefficients of matching statistics across the two
        granularities of the "stats" family, as in
        :class:`~sklearn_multigran.MultiGranularityRegressor` (0: independent).
    validation_size : float, default=0.2
        Share of each series' training origins held out for the choices.
    n_se : float, default=1.0
        Standard errors a candidate must win by to be taken.
    verbose : int, default=0
        Print the choices as they are made (1), or nothing (0).
    {shared}

    Attributes
    ----------
    lookback_ : int
        Window length used.
    families_ : list of str
        Families beside the window in the model.
    alpha_ : float
        L2 penalty of the final model.
    target_rank_ : int or None
        Rank of the final model's coefficients (None: full).
    feature_names_ : ndarray of str
        Columns of the final model.
    selection_ : pandas.DataFrame
        One row per candidate scored on the holdout: ``stage``, ``candidate``,
        ``alpha``, ``holdout_mse``, ``z`` (its gain over the current model in
        block standard errors) and ``accepted``.
    family_shares_ : dict
        Each family's share of the forecast: the mean absolute contribution of
        its columns over the training origins and steps, over the sum of all.
    regressor_ : MultiGranularityRegressor
        The final model, on the chosen columns (relative targets).
    {attributes}

    See Also
    --------
    WindowRidgeForecaster : Ridge on the raw window alone ("ridge-NLinear").

    Examples
    --------
    >>> from sklearn_multigran.datasets import make_seasonal_series
    >>> from sklearn_multigran import MultiGranularityForecaster
    >>> series = make_seasonal_series(96 * 28, random_state=0)["load"]
    >>> f = MultiGranularityForecaster(4).fit(series)
    >>> f.lookback_, f.families_, f.target_rank_
    (672, ['level'], 2)
    >>> f.predict().round({"prediction": 2})
                   origin  step                time  prediction
    0 2024-01-28 23:45:00     1 2024-01-29 00:00:00       10.28
    1 2024-01-28 23:45:00     2 2024-01-29 00:15:00       10.51
    2 2024-01-28 23:45:00     3 2024-01-29 00:30:00       10.74
    3 2024-01-28 23:45:00     4 2024-01-29 00:45:00       10.96
    """

    _parameter_constraints = {
        **_BaseForecaster._parameter_constraints,
        "lookback": [
            StrOptions({"auto"}),
            Interval(numbers.Integral, 2, None, closed="left"),
        ],
        "max_lookback": [Interval(numbers.Integral, 2, None, closed="left"), None],
        "families": [StrOptions({"auto"}), list, tuple],
        "alpha": [
            StrOptions({"auto"}),
            Interval(numbers.Real, 0, None, closed="neither"),
        ],
        "target_rank": [
            StrOptions({"auto"}),
            Interval(numbers.Integral, 1, None, closed="left"),
            None,
        ],
        "sharing": [Interval(numbers.Real, 0, 1, closed="both")],
        "validation_size": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_se": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        horizon,
        *,
        lookback="auto",
        max_lookback=None,
        families="auto",
        alpha="auto",
        target_rank="auto",
        sharing=0.0,
        validation_size=0.2,
        n_se=1.0,
        verbose=0,
        time_column=None,
        target=None,
        group_column=None,
        covariates=None,
        freq=None,
        calibration_size="auto",
    ):
        self.horizon = horizon
        self.lookback = lookback
        self.max_lookback = max_lookback
        self.families = families
        self.alpha = alpha
        self.target_rank = target_rank
        self.sharing = sharing
        self.validation_size = validation_size
        self.n_se = n_se
        self.verbose = verbose
        self.time_column = time_column
        self.target = target
        self.group_column = group_column
        self.covariates = covariates
        self.freq = freq
        self.calibration_size = calibration_size

    # ----------------------------------------------------------------------------------
    # The grid's cycles and what they allow
    # ----------------------------------------------------------------------------------

    def _calendar_periods(self):
        """Fourier periods of the grid: a day and a week, or a week and a year."""
        if self.steps_per_day_ is not None:
            return ("1D", "7D")
        if self.steps_per_week_ is not None:  # a daily grid
            return ("7D", "365.2425D")
        return ("365.2425D",)

    def _resolve_cycles(self):
        """Set ``_cycle_``, ``_long_cycle_``, the lookback candidates and limits."""
        day, week = self.steps_per_day_, self.steps_per_week_
        year = _steps_per_year(self.freq_)
        if day is None:
            # a daily grid: the week is the cycle; monthly, quarterly: the year
            day, week = (week, None) if week is not None else (year, None)
        self._cycle_, self._long_cycle_ = day, week
        longest = int(self.series_lengths_.max())
        # at least a third of the longest series left for training origins
        data_cap = max(2, (longest - self.horizon) // 3)
        limit = _UNBOUNDED if self.max_lookback is None else int(self.max_lookback) - 1
        self._reach_limit_ = limit
        self._data_reach_ = data_cap - 1
        cap = min(data_cap, limit + 1 if limit != _UNBOUNDED else _MAX_WINDOW)
        base = [c for c in (day, week) if c is not None] or [24]
        # a cycle, two cycles, a long cycle, two long cycles: those the data and
        # max_lookback allow (max_lookback itself is a candidate too)
        candidates = sorted(
            {max(2, m * c) for c in base for m in (1, 2) if max(2, m * c) <= cap}
            | ({cap} if self.max_lookback is not None else set())
        ) or [cap]
        if self.lookback != "auto":
            lookback = int(self.lookback)
            if self.max_lookback is not None and lookback > self.max_lookback:
                raise ValueError(
                    f"lookback={lookback} reads further back than max_lookback="
                    f"{self.max_lookback}; lower lookback or raise max_lookback."
                )
            candidates = [lookback]
        self._lookbacks_ = candidates
        # the model a change must beat: a long cycle of window (NLinear's week)
        reference = week if week is not None else (2 * day if day else 24)
        self._reference_lookback_ = min(candidates, key=lambda c: abs(c - reference))
        self._window_max_ = max(candidates)

    # ----------------------------------------------------------------------------------
    # Fit
    # ----------------------------------------------------------------------------------

    def _say(self, message):
        if self.verbose:
            print(f"[MultiGranularityForecaster] {message}", flush=True)

    def _rows(self, values, covariates, times, design, first):
        """Superset rows, targets and origins of every series (training origins)."""
        H = self.horizon
        X, Y, origins = [], [], []
        for s, v in enumerate(values):
            o = np.arange(min(first, max(len(v) - H - 1, 0)), len(v) - H)
            if not len(o):
                origins.append(o)
                continue
            cov = None if covariates is None else covariates[s]
            block, last = design.build(v, cov, times[s], o)
            target = _targets(v, o, H) - last[:, None]
            keep = ~np.isnan(target).any(axis=1)
            X.append(block[keep])
            Y.append(target[keep])
            origins.append(o[keep])
        return X, Y, origins

    def _fit_series(self, values, covariates, times):
        started = time.perf_counter()
        self._resolve_cycles()
        n_cov = 0 if covariates is None else covariates[0].shape[1]
        every = np.concatenate(values)
        knots = np.nanquantile(every, np.linspace(0.1, 0.9, 9))
        design = _Design(self, n_cov, np.unique(knots))
        first = self._window_max_ - 1
        X, Y, origins = self._rows(values, covariates, times, design, first)
        if sum(len(x) for x in X) < 4:
            raise ValueError(
                f"horizon={self.horizon} leaves too few training origins "
                f"({sum(len(x) for x in X)}); pass more history or a shorter horizon."
            )
        self._say(
            f"{sum(len(x) for x in X)} origins x {len(design.names)} candidate "
            f"columns built in {time.perf_counter() - started:.1f} s"
        )
        # holdout: the last validation_size of each series' origins; training
        # origins whose targets reach the holdout are left out
        train, val = [], []
        for x, y, o in zip(X, Y, origins, strict=True):
            if not len(o):
                continue
            cut = o[-1] - int(round(self.validation_size * (o[-1] - o[0] + 1))) + 1
            is_val = o >= cut
            is_train = o + self.horizon <= cut
            train.append((x[is_train], y[is_train]))
            val.append((x[is_val], y[is_val]))
        X_train = np.concatenate([t[0] for t in train])
        X_val = np.concatenate([t[0] for t in val])
        if len(X_train) < 4 or len(X_val) < 4:
            raise ValueError(
                f"validation_size={self.validation_size} leaves {len(X_train)} "
                f"training and {len(X_val)} holdout origins; pass more history."
            )
        stats = _Holdout(
            X_train,
            np.concatenate([t[1] for t in train]),
            X_val,
            np.concatenate([t[1] for t in val]),
        )
        self._select(design, stats)
        self._say(f"choices made in {time.perf_counter() - started:.1f} s")

        # the final model, on every origin
        columns = self._columns_
        X_all = np.concatenate(X)[:, columns]
        Y_all = np.concatenate(Y)
        names = np.asarray(design.names, dtype=object)[columns]
        self.feature_names_ = names
        blocks = self._blocks(names)
        if self.sharing > 0 and blocks is None:
            warnings.warn(
                f"sharing={self.sharing} has no effect: the chosen families "
                f"({['window', *self.families_]}) have no statistic at two "
                "granularities to share; add 'stats' to families or set sharing=0.",
                UserWarning,
                stacklevel=3,
            )
        self.regressor_ = MultiGranularityRegressor(
            sharing=self.sharing,
            alpha=self.alpha_,
            blocks="auto" if blocks is None else blocks,
            target_rank=self.target_rank_,
        ).fit(X_all, Y_all)
        self._design_ = design
        # each family's share of the (relative) forecast: the spread of each column
        # times the mean size of its coefficients over the steps
        contributions = X_all.std(axis=0) * np.abs(self.regressor_.coef_).mean(axis=0)
        shares = {}
        for fam in ["window", *self.families_]:
            mask = np.array([n.startswith(fam + "__") for n in names])
            shares[fam] = float(contributions[mask].sum())
        total = sum(shares.values()) or 1.0
        self.family_shares_ = {k: v / total for k, v in shares.items()}
        self._say(f"fitted in {time.perf_counter() - started:.1f} s")

    @staticmethod
    def _blocks(names):
        """Blocks of the "stats" family: a statistic and lag at each granularity."""
        by_key = {}
        for i, name in enumerate(names):
            if name.startswith("stats__"):
                _, g, stat, lag = name.split("__")
                by_key.setdefault((stat, lag), []).append((int(g), i))
        grans = sorted({g for v in by_key.values() for g, _ in v})
        keys = [k for k, v in by_key.items() if len(v) == len(grans)]
        if len(grans) < 2 or not keys:
            return None
        return [[dict(by_key[k])[g] for k in keys] for g in grans]

    def _select(self, design, stats):
        """Choose lookback, families, alpha and rank on the holdout."""
        H = self.horizon
        n_train = stats.n_train
        alphas = (
            np.array([float(self.alpha)])
            if self.alpha != "auto"
            else n_train * np.logspace(-6, 1, 29)
        )
        block = max(H, self._cycle_ or 1, stats.n_val // 50)
        block = max(1, min(block, stats.n_val // 2))
        rows = []

        def gate(stage, current, candidates):
            """The candidate that beats ``current`` by the most, through the gate."""
            best, best_z = None, 0.0
            for label, cols, result in candidates:
                diff = current[2] - result[2]
                se = block_standard_error(diff, block)
                z = diff.mean() / se if se > 0 else (np.inf if diff.mean() > 0 else 0.0)
                rows.append([stage, label, result[0], result[1], float(z), False])
                if z > self.n_se and (best is None or result[1] < best[2][1]):
                    best, best_z = (label, cols, result), z
            if best is not None:
                for row in rows:
                    if row[0] == stage and row[1] == best[0]:
                        row[5] = True
                self._say(f"{stage}: {best[0]} (z={best_z:.1f})")
            return best

        window = design.slices["window"]

        def window_cols(L):
            return window[: L - 1]

        # 1. lookback, from the reference window
        ref_L = self._reference_lookback_
        cols = window_cols(ref_L)
        current = stats.score(cols, alphas)
        rows.append(["lookback", f"window {ref_L}", current[0], current[1], 0.0, True])
        lookback = ref_L
        others = [c for c in self._lookbacks_ if c != ref_L]
        if others:
            tried = [
                (f"window {L}", window_cols(L), stats.score(window_cols(L), alphas))
                for L in others
            ]
            best = gate("lookback", current, tried)
            if best is not None:
                for row in rows:
                    if row[0] == "lookback" and row[1] == f"window {ref_L}":
                        row[5] = False
                lookback = int(best[0].split()[1])
                cols, current = best[1], best[2]
        self.lookback_ = lookback

        # 2. families, forward
        available = [f for f in FAMILIES if len(design.slices[f])]
        if self.families == "auto":
            chosen, remaining = [], list(available)
            round_ = 1
            while remaining:
                tried = [
                    (fam, np.concatenate([cols, design.slices[fam]]), None)
                    for fam in remaining
                ]
                tried = [(f, c, stats.score(c, alphas)) for f, c, _ in tried]
                best = gate(f"families {round_}", current, tried)
                if best is None:
                    break
                chosen.append(best[0])
                remaining.remove(best[0])
                cols, current = best[1], best[2]
                round_ += 1
        else:
            unknown = [f for f in self.families if f not in FAMILIES]
            if unknown:
                raise ValueError(
                    f"families: {unknown[0]!r} is not a family; choose among "
                    f"{list(FAMILIES)} or pass families='auto'."
                )
            chosen = [f for f in FAMILIES if f in self.families]
            missing = [f for f in chosen if f not in available]
            if missing:
                raise ValueError(
                    f"families: {missing[0]!r} has no column for this data (no "
                    "covariates, no cycle in the grid, or max_lookback too short); "
                    "leave it out."
                )
            cols = np.concatenate([cols] + [design.slices[f] for f in chosen])
            current = stats.score(cols, alphas)
            rows.append(
                [
                    "families",
                    "+".join(chosen) or "window",
                    current[0],
                    current[1],
                    0.0,
                    True,
                ]
            )
        self.families_ = chosen
        self.alpha_ = current[0]
        self._columns_ = np.asarray(cols)

        # 3. target rank, from full rank
        rank = None
        if self.target_rank == "auto" and H > 1:
            coef = current[3]
            fitted = coef.T @ stats.C[cols]
            _, vecs = linalg.eigh(0.5 * (fitted + fitted.T))
            vecs = vecs[:, ::-1]
            pred = stats.Zv[:, cols] @ coef
            tried = []
            for r in sorted({1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48} & set(range(1, H))):
                V = vecs[:, :r]
                errors = np.mean((stats.Yv - pred @ V @ V.T) ** 2, axis=1)
                tried.append(
                    (
                        f"rank {r}",
                        cols,
                        (current[0], float(errors.mean()), errors, None),
                    )
                )
            best = gate("target rank", current, tried)
            if best is not None:
                rank = int(best[0].split()[1])
        elif self.target_rank not in ("auto", None):
            rank = int(self.target_rank)
        self.target_rank_ = rank
        self.selection_ = pd.DataFrame(
            rows,
            columns=["stage", "candidate", "alpha", "holdout_mse", "z", "accepted"],
        )

    # ----------------------------------------------------------------------------------
    # Forecast
    # ----------------------------------------------------------------------------------

    def _forecast(self, values, covariates, times, origins):
        design = self._design_
        out = []
        for s, (v, o) in enumerate(zip(values, origins, strict=True)):
            if not len(o):
                out.append(np.empty((0, self.horizon)))
                continue
            cov = None if covariates is None else covariates[s]
            X, last = design.build(v, cov, times[s], o)
            X = X[:, self._columns_]
            pred = self.regressor_.predict(X).reshape(len(o), self.horizon)
            out.append(pred + last[:, None])
        return out


MultiGranularityForecaster.__doc__ = MultiGranularityForecaster.__doc__.replace(
    "{shared}", _SHARED_PARAMS
).replace("{attributes}", _SHARED_ATTRIBUTES)
