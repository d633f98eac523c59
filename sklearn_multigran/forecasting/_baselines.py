"""Simple forecasters on the shared base: repeat-last, seasonal naive, ridge-NLinear.

They are the baselines ``MultiGranularityForecaster`` is measured against, with the
same input, origins, intervals and output, so that a comparison differs only in the
model.
"""

import numbers

import numpy as np
from sklearn.linear_model import Ridge

from sklearn_multigran.forecasting._base import (
    _BaseForecaster,
    _ffill,
    _steps_per_year,
    _targets,
    _windows,
)
from sklearn_multigran.utils._compat import Interval, StrOptions

__all__ = ["NaiveForecaster", "WindowRidgeForecaster"]

_SHARED_PARAMS = """\
    time_column : str, default=None
        Column of a DataFrame holding the times (datetimes). None: the frame's
        ``DatetimeIndex``.
    target : str, default=None
        Column to forecast. None: the only column left besides ``time_column``,
        ``group_column`` and ``covariates``.
    group_column : str, default=None
        Column naming the series of a panel (several series stacked, rows in any
        order). Each series is scaled by its own mean and standard deviation of the
        fitted rows before the model sees it, and forecasts are scaled back.
    covariates : list of str, default=None
        Columns whose past is known at each origin. Read and checked, but unused by
        this model.
    freq : str or pandas offset, default=None
        Step of the grid. Default: inferred from the times (``pandas.infer_freq``
        on the longest series, else the most common spacing). Missing times inside
        a series are gaps: NaN rows, forward-filled by the model.
    calibration_size : "auto" or int, default="auto"
        Forecast origins per series kept for the conformal intervals of
        ``predict_interval``: the model is fitted on the rows before them, their
        absolute residuals are kept per step, and the model is refitted on
        everything. "auto": the last 20% of each series' origins, at most 5000;
        0: no intervals (and a single fit)."""

_SHARED_ATTRIBUTES = """\
    freq_ : pandas offset
        Step of the grid.
    steps_per_day_, steps_per_week_ : int or None
        Grid steps in a day and in a week, None when the step does not divide
        them (or divides a day once: a daily grid has no daily cycle).
    series_lengths_ : ndarray of shape (n_series_,)
        Steps of each fitted series on its grid, gaps included.
    series_keys_ : ndarray or None
        Keys of the series of a panel, None for a single series.
    n_series_ : int
        Number of series.
    scale_mean_, scale_std_ : ndarray of shape (n_series_,)
        Level and spread each series is scaled by (mean and standard deviation of
        its fitted values, the spread floored at 1e-8 times max(1, level)).
    calibration_residuals_ : ndarray of shape (n_calibration, horizon) or None
        Absolute residuals (scaled units) of the calibration origins, per step.
    history_ : tuple
        The fitted series, scaled, on their grids (``predict()`` without ``X``
        forecasts from their ends)."""


def _season(forecaster, season, param="season"):
    """Resolve a season ("auto" or int) against the fitted grid."""
    if season != "auto":
        return int(season)
    for period in (
        forecaster.steps_per_day_,
        forecaster.steps_per_week_,
        _steps_per_year(forecaster.freq_),
    ):
        if period is not None:
            return period
    raise ValueError(
        f"{param}='auto' found no cycle in the grid of freq="
        f"{forecaster.freq_.freqstr!r} (no whole number of steps per day, week or "
        f"year); pass {param}=<steps per cycle>."
    )


class NaiveForecaster(_BaseForecaster):
    """Repeat the last value, or the value one season back.

        * ``strategy="last"``: every step is the last observed value at the origin;
        * ``strategy="seasonal"``: step ``h`` is the value ``season * ceil(h / season)``
          steps before the time it forecasts, the same time of day (or week) in the
          last observed cycle.

        Missing values are forward-filled first (causally: a forecast from an origin
        reads rows up to it only). Each series of a panel is forecast on its own.

        Parameters
        ----------
        horizon : int
            Number of steps forecast from each origin.
        strategy : {"last", "seasonal"}, default="last"
            Repeat the last value, or the last season.
        season : "auto" or int, default="auto"
            Steps per season for ``strategy="seasonal"``. "auto": the steps in a day
            when the grid has a daily cycle (24 for hourly, 144 for 10-minute data),
            else in a week (7 for daily data), else in a year (12 for monthly, 4 for
            quarterly data). Pass ``steps_per_week_`` for a week back on hourly data.
    {shared}

        Attributes
        ----------
        season_ : int or None
            Steps per season used (None for ``strategy="last"``).
    {attributes}

        See Also
        --------
        WindowRidgeForecaster : Ridge on the last window, relative to the last value.

        Examples
        --------
        >>> from sklearn_multigran.datasets import make_seasonal_series
        >>> from sklearn_multigran.forecasting import NaiveForecaster
        >>> series = make_seasonal_series(96 * 7, random_state=0)["load"]
        >>> naive = NaiveForecaster(3, strategy="seasonal").fit(series)
        >>> naive.season_
        96
        >>> naive.predict().round({"prediction": 3})
                       origin  step                time  prediction
        0 2024-01-07 23:45:00     1 2024-01-08 00:00:00       9.051
        1 2024-01-07 23:45:00     2 2024-01-08 00:15:00       8.962
        2 2024-01-07 23:45:00     3 2024-01-08 00:30:00       9.228
    """

    _parameter_constraints = {
        **_BaseForecaster._parameter_constraints,
        "strategy": [StrOptions({"last", "seasonal"})],
        "season": [
            StrOptions({"auto"}),
            Interval(numbers.Integral, 1, None, closed="left"),
        ],
    }

    def __init__(
        self,
        horizon,
        *,
        strategy="last",
        season="auto",
        time_column=None,
        target=None,
        group_column=None,
        covariates=None,
        freq=None,
        calibration_size="auto",
    ):
        self.horizon = horizon
        self.strategy = strategy
        self.season = season
        self.time_column = time_column
        self.target = target
        self.group_column = group_column
        self.covariates = covariates
        self.freq = freq
        self.calibration_size = calibration_size

    def _fit_series(self, values, covariates, times):
        self.season_ = None if self.strategy == "last" else _season(self, self.season)

    def _forecast(self, values, covariates, times, origins):
        steps = np.arange(1, self.horizon + 1)
        out = []
        for v, o in zip(values, origins, strict=True):
            filled = _ffill(v)
            if self.strategy == "last":
                out.append(np.repeat(filled[o][:, None], self.horizon, axis=1))
                continue
            m = self.season_
            back = o[:, None] + steps - m * np.ceil(steps / m).astype(np.int64)
            # before the first season: the series' mean (0 once scaled)
            out.append(np.where(back >= 0, filled[np.maximum(back, 0)], 0.0))
        return out


def _alpha_path(X_train, Y_train, X_val, Y_val, alphas):
    """Validation MSE of ridge (with intercept) for each alpha, from one SVD.

    With ``Xc = U S V^T`` the centred training matrix, the ridge coefficients are
    ``V diag(s / (s^2 + alpha)) U^T Yc`` for every alpha (as sklearn's ``Ridge``
    with ``fit_intercept=True``), so one SVD serves the whole grid: each alpha then
    costs ``O(n_val * rank * horizon)``.
    """
    x_mean, y_mean = X_train.mean(axis=0), Y_train.mean(axis=0)
    U, s, Vt = np.linalg.svd(X_train - x_mean, full_matrices=False)
    UtY = U.T @ (Y_train - y_mean)
    B = (X_val - x_mean) @ Vt.T
    resid0 = Y_val - y_mean
    scores = np.empty(len(alphas))
    for k, alpha in enumerate(alphas):
        d = s / (s**2 + alpha)
        scores[k] = np.mean((resid0 - (B * d) @ UtY) ** 2)
    return scores


class WindowRidgeForecaster(_BaseForecaster):
    """Ridge on the raw last window, relative to the last value ("ridge-NLinear").

        The direct linear model of NLinear (Zeng et al., AAAI 2023) fitted in closed
        form: the inputs at origin ``t`` are the last ``lookback`` values minus the
        value at ``t``, the ``horizon`` targets are the next values minus it too, and
        one multi-output ``sklearn.linear_model.Ridge`` maps the first to the second.
        One model serves every series of a panel (each scaled by its own level and
        spread); missing values are forward-filled, and training origins with a
        missing target are left out.

        ``alpha`` is chosen on a holdout of the last training origins of each series
        (``validation_size``; training origins whose targets reach the holdout are
        left out), by validation MSE, and the model is then refitted on all origins.
        One SVD of the window matrix gives the holdout error of every alpha.

        Parameters
        ----------
        horizon : int
            Number of steps forecast from each origin.
        lookback : "auto" or int, default="auto"
            Window length. "auto": a week of steps when the grid has a daily cycle (168
            hourly, 672 for 15-minute, 1008 for 10-minute data); otherwise two seasons
            (``NaiveForecaster``'s "auto" season: a week, a year) but at least 24
            steps; in both cases at most half the rows of the longest series left
            after the horizon.
        alphas : float or array-like of float, default=None
            Ridge penalties tried (on scaled values). None: ``np.logspace(-3, 5, 17)``.
        validation_size : float, default=0.2
            Share of each series' training origins held out to choose alpha.
    {shared}

        Attributes
        ----------
        lookback_ : int
            Window length used.
        alpha_ : float
            The chosen penalty.
        alphas_ : ndarray
            The penalties tried.
        validation_scores_ : ndarray of shape (len(alphas_),) or None
            Holdout MSE (scaled units) of each alpha; None when one alpha is given.
        ridge_ : Ridge
            The model refitted on all origins: ``window - last -> targets - last``.
    {attributes}

        See Also
        --------
        NaiveForecaster : Repeat-last and seasonal naive forecasts.

        Examples
        --------
        >>> from sklearn_multigran.datasets import make_seasonal_series
        >>> from sklearn_multigran.forecasting import WindowRidgeForecaster
        >>> series = make_seasonal_series(96 * 14, random_state=0)["load"]
        >>> ridge = WindowRidgeForecaster(4, lookback=96).fit(series)
        >>> ridge.lookback_, ridge.alpha_
        (96, 1000.0)
        >>> ridge.predict_interval().round({"prediction": 2, "lower": 2, "upper": 2})
                       origin  step                time  prediction  lower  upper
        0 2024-01-14 23:45:00     1 2024-01-15 00:00:00       10.21   9.70  10.73
        1 2024-01-14 23:45:00     2 2024-01-15 00:15:00       10.38   9.74  11.03
        2 2024-01-14 23:45:00     3 2024-01-15 00:30:00       10.56   9.80  11.31
        3 2024-01-14 23:45:00     4 2024-01-15 00:45:00       10.72   9.91  11.54
    """

    _parameter_constraints = {
        **_BaseForecaster._parameter_constraints,
        "lookback": [
            StrOptions({"auto"}),
            Interval(numbers.Integral, 1, None, closed="left"),
        ],
        "alphas": [Interval(numbers.Real, 0, None, closed="left"), "array-like", None],
        "validation_size": [Interval(numbers.Real, 0, 1, closed="neither")],
    }

    def __init__(
        self,
        horizon,
        *,
        lookback="auto",
        alphas=None,
        validation_size=0.2,
        time_column=None,
        target=None,
        group_column=None,
        covariates=None,
        freq=None,
        calibration_size="auto",
    ):
        self.horizon = horizon
        self.lookback = lookback
        self.alphas = alphas
        self.validation_size = validation_size
        self.time_column = time_column
        self.target = target
        self.group_column = group_column
        self.covariates = covariates
        self.freq = freq
        self.calibration_size = calibration_size

    def _resolve_lookback(self, longest):
        if self.lookback != "auto":
            return int(self.lookback)
        if self.steps_per_day_ is not None and self.steps_per_week_ is not None:
            lookback = self.steps_per_week_
        else:
            try:
                lookback = max(24, 2 * _season(self, "auto"))
            except ValueError:
                lookback = 24
        return max(1, min(lookback, (longest - self.horizon) // 2))

    def _design(self, values, lookback):
        """Training windows and targets (relative to the last value) per series."""
        horizon = self.horizon
        parts = []
        for v in values:
            origins = np.arange(lookback - 1, len(v) - horizon)
            filled = _ffill(v)
            W = _windows(filled, origins, lookback)
            last = W[:, -1:]
            Y = _targets(v, origins, horizon) - last
            keep = ~np.isnan(Y).any(axis=1)
            parts.append((origins[keep], (W - last)[keep], Y[keep]))
        return parts

    def _fit_series(self, values, covariates, times):
        longest = max(len(v) for v in values)
        # the same window in the calibration fit and the final one: the cap is
        # half of the whole fitted series
        self.lookback_ = lookback = self._resolve_lookback(self.series_lengths_.max())
        parts = self._design(values, lookback)
        n_rows = sum(len(p[0]) for p in parts)
        if n_rows < 2:
            raise ValueError(
                f"lookback={lookback} and horizon={self.horizon} leave {n_rows} "
                "training windows; lower lookback or horizon, or pass more history "
                f"(the longest series has {longest} steps)."
            )
        alphas = self.alphas
        if alphas is None:
            alphas = np.logspace(-3, 5, 17)
        self.alphas_ = np.atleast_1d(np.asarray(alphas, dtype=np.float64))
        self.validation_scores_ = None
        if len(self.alphas_) == 1:
            self.alpha_ = float(self.alphas_[0])
        else:
            train, val = [], []
            for origins, W, Y in parts:
                if not len(origins):
                    continue
                span = origins[-1] - origins[0] + 1
                cut = origins[-1] - int(round(self.validation_size * span)) + 1
                is_val = origins >= cut
                # a training target must not reach the first holdout origin's targets
                is_train = origins + self.horizon <= cut
                train.append((W[is_train], Y[is_train]))
                val.append((W[is_val], Y[is_val]))
            X_train = np.concatenate([t[0] for t in train])
            X_val = np.concatenate([t[0] for t in val])
            if len(X_train) < 2 or not len(X_val):
                raise ValueError(
                    f"validation_size={self.validation_size} leaves "
                    f"{len(X_train)} training and {len(X_val)} holdout windows to "
                    "choose alpha; pass more history or a single alpha."
                )
            self.validation_scores_ = _alpha_path(
                X_train,
                np.concatenate([t[1] for t in train]),
                X_val,
                np.concatenate([t[1] for t in val]),
                self.alphas_,
            )
            # ties (flat scores) go to the strongest penalty
            best = np.flatnonzero(
                self.validation_scores_ <= self.validation_scores_.min()
            )[-1]
            self.alpha_ = float(self.alphas_[best])
        X = np.concatenate([p[1] for p in parts])
        Y = np.concatenate([p[2] for p in parts])
        self.ridge_ = Ridge(alpha=self.alpha_).fit(X, Y)

    def _forecast(self, values, covariates, times, origins):
        out = []
        for v, o in zip(values, origins, strict=True):
            if not len(o):
                out.append(np.empty((0, self.horizon)))
                continue
            W = _windows(_ffill(v), o, self.lookback_)
            # before the first value, the window reads the series' mean (0)
            W = np.nan_to_num(W, nan=0.0)
            last = W[:, -1:]
            out.append(self.ridge_.predict(W - last).reshape(len(o), -1) + last)
        return out


for _cls in (NaiveForecaster, WindowRidgeForecaster):
    _cls.__doc__ = _cls.__doc__.replace("{shared}", _SHARED_PARAMS).replace(
        "{attributes}", _SHARED_ATTRIBUTES
    )
del _cls
