"""CalendarFeatures: Fourier terms and indicators of the clock and the calendar."""

import datetime
import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from sklearn_multigran._granularity import parse_granularities
from sklearn_multigran.utils._compat import (
    Interval,
    _fit_context,
    check_feature_names,
    check_n_features,
    validate_data,
)
from sklearn_multigran.utils._time import as_pandas

# the categories of each indicator, fixed so that every fit makes the same columns
_INDICATORS = {
    "hour": range(24),
    "day_of_week": range(7),  # Monday is 0, as in pandas
    "month": range(1, 13),
}
_INDEX_SOURCE = "index"


class CalendarFeatures(TransformerMixin, BaseEstimator):
    """Fourier terms of given periods, and hour, weekday and month indicators.

    For every period ``P`` and harmonic ``k = 1, ..., n_terms`` the output holds
    ``sin(2 pi k phase)`` and ``cos(2 pi k phase)``, where ``phase`` is the position
    of the row's time inside its period: ``(t mod P) / P``. Durations read the wall
    clock, so ``"1D"`` terms follow the time of day and ``"7D"`` terms the time of
    week, also across daylight saving time changes (a 23-hour day still spans one
    full daily cycle, and 09:00 has the same terms every day). Sums of these terms
    can model any smooth periodic profile, which is what a linear model needs to
    follow demand that follows the clock.

    Use it beside :class:`GranularityTransformer` in a
    :class:`~sklearn.pipeline.FeatureUnion` (both read the same DataFrame), or on a
    time column in a :class:`~sklearn.compose.ColumnTransformer`.

    Parameters
    ----------
    periods : list or tuple of str, pandas.Timedelta or int, default=("1D", "7D")
        Periods of the Fourier terms. A duration (``"1D"``, ``"12h"``,
        ``pd.Timedelta(days=7)``) needs datetimes; an int ``k`` is a period of ``k``
        units of numeric times (for example time steps in a plain array).

    n_terms : int or list of int, default=3
        Harmonics of each period: one int for all, or one per period.

    indicators : list or tuple of {"hour", "day_of_week", "month"}, default=()
        One-hot indicators of the wall clock's hour (0-23), day of the week
        (Monday is 0) and month (1-12); every category gets a column, whether or
        not the data hold it. They need datetimes.

    time_column : str, default=None
        Column of a DataFrame holding the times. When None, the times are the
        ``DatetimeIndex`` of a DataFrame if it has one, else every column of ``X``
        (all datetimes, or all numbers), each with its own terms.

    tz : str or tzinfo, default=None
        Time zone of the wall clock. Tz-aware times are converted to it (None:
        their own zone); naive times are read as wall-clock times as they are.

    Attributes
    ----------
    periods_ : list of Granularity
        Parsed periods, ``(name, kind, size)`` with ``kind`` "time" (``size`` in
        nanoseconds) or "rows" (``size`` in units of numeric times).

    n_terms_ : list of int
        Harmonics of each period.

    time_sources_ : list of str
        Where the times are read: ``"index"`` for the ``DatetimeIndex``, else
        column names (``x0``, ``x1``, ... for arrays).

    n_features_in_ : int
        Number of input columns.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the input columns, when ``X`` has string column names.

    See Also
    --------
    GranularityTransformer : Window statistics at several granularities.
    sklearn.preprocessing.SplineTransformer : Periodic splines of numeric features.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_multigran import CalendarFeatures
    >>> times = pd.date_range("2024-03-30 23:00", periods=3, freq="6h", tz="UTC")
    >>> frame = pd.DataFrame({"load": [1.0, 2.0, 3.0]}, index=times)
    >>> calendar = CalendarFeatures(("1D",), n_terms=1, tz="Europe/Berlin")
    >>> calendar.set_output(transform="pandas").fit_transform(frame).round(3)
                               index__1D__sin1  index__1D__cos1
    2024-03-30 23:00:00+00:00            0.000            1.000
    2024-03-31 05:00:00+00:00            0.966           -0.259
    2024-03-31 11:00:00+00:00           -0.259           -0.966
    """

    _parameter_constraints: dict = {
        "periods": ["array-like"],
        "n_terms": [Interval(numbers.Integral, 1, None, closed="left"), "array-like"],
        "indicators": ["array-like"],
        "time_column": [str, None],
        "tz": [str, datetime.tzinfo, None],
    }

    def __init__(
        self,
        periods=("1D", "7D"),
        *,
        n_terms=3,
        indicators=(),
        time_column=None,
        tz=None,
    ):
        self.periods = periods
        self.n_terms = n_terms
        self.indicators = indicators
        self.time_column = time_column
        self.tz = tz

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters and find the time source of ``X``.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            A DataFrame with a ``DatetimeIndex`` or ``time_column``, or columns
            that are all datetimes or all numbers.

        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        periods = parse_granularities(self.periods, param="periods")
        n_terms = self._check_n_terms(periods)
        indicators = self._check_indicators()
        sources, times = self._read_times(X, reset=True)
        is_datetime = isinstance(times[0], pd.DatetimeIndex)
        durations = [p.name for p in periods if p.kind == "time"]
        counts = [p.name for p in periods if p.kind == "rows"]
        if is_datetime and counts:
            raise ValueError(
                f"periods {counts} are ints, but the times are datetimes; give "
                "the periods as durations such as '1D' or '7D'."
            )
        if not is_datetime and (durations or indicators):
            what = f"periods {durations}" if durations else f"indicators {indicators}"
            raise ValueError(
                f"{what} need datetimes, but the times of X are numbers; pass a "
                "DataFrame with a DatetimeIndex or a time_column, or give periods "
                "as ints in the unit of the numeric times."
            )
        self.periods_ = periods
        self.n_terms_ = n_terms
        self.time_sources_ = sources
        return self

    def transform(self, X):
        """Fourier terms and indicators of every row's time.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            With the same time source as in ``fit``.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features_out)
            Float64, in the order of ``get_feature_names_out``. NaN or NaT times
            give NaN rows.
        """
        check_is_fitted(self)
        _, times = self._read_times(X, reset=False)
        columns = []
        for source_times in times:
            columns.extend(self._terms(source_times))
        if not columns:
            return np.empty((_n_rows(X), 0))
        return np.column_stack(columns)

    def get_feature_names_out(self, input_features=None):
        """Names ``{source}__{period}__sin{k}``, ``..cos{k}``, ``{source}__hour_{h}``.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Only checked against the names seen in ``fit``.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        if input_features is not None:
            input_features = np.asarray(input_features, dtype=object)
            expected = getattr(self, "feature_names_in_", None)
            if expected is not None and not np.array_equal(input_features, expected):
                raise ValueError(
                    "input_features is not equal to feature_names_in_; pass the "
                    "names seen in fit or None."
                )
        names = []
        for source in self.time_sources_:
            for period, n_terms in zip(self.periods_, self.n_terms_, strict=True):
                for k in range(1, n_terms + 1):
                    names.append(f"{source}__{period.name}__sin{k}")
                    names.append(f"{source}__{period.name}__cos{k}")
            for indicator in self.indicators:
                names.extend(
                    f"{source}__{indicator}_{c}" for c in _INDICATORS[indicator]
                )
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags

    def _check_n_terms(self, periods):
        if isinstance(self.n_terms, numbers.Integral):
            return [int(self.n_terms)] * len(periods)
        n_terms = list(self.n_terms)
        if len(n_terms) != len(periods) or not all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1
            for n in n_terms
        ):
            raise ValueError(
                f"n_terms={self.n_terms!r} must be an int >= 1 or one such int per "
                f"period ({len(periods)} periods)."
            )
        return [int(n) for n in n_terms]

    def _check_indicators(self):
        indicators = list(self.indicators)
        unknown = [name for name in indicators if name not in _INDICATORS]
        if unknown:
            raise ValueError(
                f"indicators={self.indicators!r} has unknown names {unknown}; "
                f"choose among {list(_INDICATORS)}."
            )
        if len(set(indicators)) != len(indicators):
            raise ValueError(
                f"indicators={self.indicators!r} names an indicator twice; list "
                "each once."
            )
        return indicators

    def _read_times(self, X, reset):
        """The time sources' names and their times (DatetimeIndex or float array)."""
        X = as_pandas(X)
        if isinstance(X, pd.Series) and self.time_column is None:
            X = X.to_frame()
        if not isinstance(X, pd.DataFrame):
            if self.time_column is not None:
                raise ValueError(
                    f"time_column={self.time_column!r} needs a pandas or polars "
                    f"DataFrame, but X is a {type(X).__name__}; pass a DataFrame or "
                    "set time_column=None."
                )
            array = np.asarray(X)
            if array.dtype.kind == "M":
                X = pd.DataFrame(array.reshape(len(array), -1))
            else:
                values = validate_data(
                    self, X, reset=reset, dtype=np.float64, ensure_all_finite=False
                )
                if np.isinf(values).any():
                    raise ValueError(
                        "X holds inf, which is no time; use finite numbers or NaN."
                    )
                names = [f"x{j}" for j in range(values.shape[1])]
                return names, list(values.T)
        check_feature_names(self, X, reset=reset)
        check_n_features(self, X, reset=reset)
        if self.time_column is not None:
            if self.time_column not in X.columns:
                raise ValueError(
                    f"time_column={self.time_column!r} is not a column of X; columns "
                    f"are {list(X.columns)[:20]}."
                )
            column = X[self.time_column]
            if not pd.api.types.is_datetime64_any_dtype(column):
                raise ValueError(
                    f"time_column={self.time_column!r} holds {column.dtype}, not "
                    "datetimes; convert it with pandas.to_datetime first."
                )
            return [str(self.time_column)], [self._wall_clock(column)]
        if isinstance(X.index, pd.DatetimeIndex):
            return [_INDEX_SOURCE], [self._wall_clock(X.index)]
        if X.shape[1] == 0:
            raise ValueError(
                "X has no column and no DatetimeIndex: there are no times to read."
            )
        kinds = [pd.api.types.is_datetime64_any_dtype(X[c]) for c in X.columns]
        if all(kinds):
            return [str(c) for c in X.columns], [
                self._wall_clock(X[c]) for c in X.columns
            ]
        numeric = [
            pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])
            for c in X.columns
        ]
        if not all(numeric):
            bad = [c for c, ok in zip(X.columns, numeric, strict=True) if not ok]
            raise ValueError(
                f"columns {bad[:5]} of X are neither datetimes nor numbers, and X has "
                "no DatetimeIndex; pass time_column, or only time columns."
            )
        if any(kinds):
            raise ValueError(
                "X mixes datetime and numeric columns and has no DatetimeIndex; "
                "pass time_column to say which column holds the times."
            )
        values = X.to_numpy(dtype=np.float64)
        if np.isinf(values).any():
            raise ValueError(
                "X holds inf, which is no time; use finite numbers or NaN."
            )
        return [str(c) for c in X.columns], list(values.T)

    def _wall_clock(self, times):
        """The wall-clock times of ``times`` in ``tz``, as a naive DatetimeIndex."""
        times = pd.DatetimeIndex(times)
        if times.tz is not None:
            if self.tz is not None:
                times = times.tz_convert(self.tz)
            times = times.tz_localize(None)
        return times.as_unit("ns")

    def _terms(self, times):
        """The columns of one time source: Fourier terms, then indicators."""
        is_datetime = isinstance(times, pd.DatetimeIndex)
        missing = times.isna() if is_datetime else np.isnan(times)
        columns = []
        for period, n_terms in zip(self.periods_, self.n_terms_, strict=True):
            if is_datetime:
                # integer nanoseconds modulo the period: exact, whatever the epoch
                # distance, where a float division would lose the phase of times
                # far from 1970
                phase = np.mod(times.asi8, period.size) / period.size
            else:
                phase = np.mod(times, period.size) / period.size
            angle = 2 * np.pi * phase
            for k in range(1, n_terms + 1):
                for term in (np.sin(k * angle), np.cos(k * angle)):
                    term[missing] = np.nan
                    columns.append(term)
        for indicator in self.indicators:
            values = np.asarray(getattr(times, indicator), dtype=np.float64)
            for category in _INDICATORS[indicator]:
                column = (values == category).astype(np.float64)
                column[missing] = np.nan
                columns.append(column)
        return columns


def _n_rows(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)
