"""GranularityTransformer: trailing-window statistics at several granularities."""

import numbers
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from sklearn_multigran._granularity import calendar_period, parse_granularities
from sklearn_multigran._kernels._bucket import bucket_sweeps
from sklearn_multigran._kernels._dispatch import (
    _read_only,
    any_infinite,
    group_end_rows,
    rows_in_order,
    window_statistics,
)
from sklearn_multigran._kernels._dispatch_stats import (
    FIXED_STATISTICS,
    check_statistic,
    is_extra_statistic,
    quantile_level,
)
from sklearn_multigran._kernels._rolling import STAT_CODES
from sklearn_multigran.utils._compat import (
    Interval,
    StrOptions,
    _fit_context,
    check_feature_names,
    check_feature_names_in,
    check_n_features,
    validate_data,
)
from sklearn_multigran.utils._time import as_pandas, datetime_ns, factorize_groups

_STATS = (*STAT_CODES, *FIXED_STATISTICS)
# EWM statistics weigh the whole past: the history kept for them reaches this many
# half-lives beyond their largest lag, where the weights left out sum to less than
# 2^-64 of those kept (below float64's resolution of the result)
_EWM_HALF_LIVES = 64
_DAY_NS = 86_400 * 10**9
# the longest day (a 25-hour DST day; zones have skipped or doubled up to a day
# at most), week and month, for the history calendar lags reach back to
_LONGEST_PERIOD_NS = {"day": 2 * _DAY_NS, "week": 8 * _DAY_NS, "month": 32 * _DAY_NS}
# how pandas' int64 view of datetimes holds NaT
_NAT = np.iinfo(np.int64).min


class GranularityTransformer(TransformerMixin, BaseEstimator):
    """Trailing-window statistics of every column at several granularities and lags.

    Rows are time steps. For every row and every granularity ``g`` the transformer
    computes statistics (mean, std, min, max, ...) of each numeric column over the
    window ``[t - g, t)`` and its lagged copies ``[t - (k + 1) g, t - k g)``, all in
    one numba sweep per window. With the default ``closed="left"`` a row never sees
    its own values, so the target's own history can go into ``X`` without leaking.

    Read more in the :ref:`User Guide <granularity_transformer>`.

    Parameters
    ----------
    granularities : list or tuple of int, str or pandas.Timedelta, \
            default=("1h", "1D")
        Window lengths. An int ``k`` counts rows (``k`` rows for ``closed`` "left" or
        "right", ``k + 1`` for "both", ``k - 1`` for "neither", as pandas). A string
        such as ``"15min"`` or a ``Timedelta`` is a duration, which needs a time
        source: a DataFrame with a ``DatetimeIndex``, or ``time_column``.
        ``"day"``, ``"week"`` and ``"month"`` (or a :class:`CalendarPeriod` for
        another zone or week start) are calendar periods in the times' zone: lag
        0 is the row's period so far, lag ``k`` the ``k``-th previous whole
        period. They take the statistics "mean" to "last" of ``stats``.

    stats : list or tuple of str, default=("mean", "std", "min", "max")
        Statistics, in any mix and order (the output follows it):

        - "mean", "std", "var", "min", "max", "sum", "count", "first", "last";
        - "median" and quantiles "q<level>" for any level in (0, 1), such as
          "q0.9" (numpy's default linear interpolation);
        - "slope": least-squares slope of the values against time inside the
          window, in value units per granularity (per row for ints);
        - "skew", "kurt": sample skewness and excess kurtosis, as pandas;
        - "ewm_mean", "ewm_std": exponentially weighted over the whole past of
          the series (not just the window), with the granularity as the
          half-life, as pandas ``ewm(halflife=g, times=t)``; lag ``k`` is the
          value as of ``t - k g``. "ewm_std" follows ``ddof``: 0 is the
          uncorrected weighted std (pandas' ``bias=True``), 1 pandas' default
          bias correction.

        NaN values are skipped by all of them.

    n_lags : int, default=1
        Windows per granularity: lags ``0 .. n_lags - 1``. Lag ``k`` is the lag-0
        window moved back by ``k`` granularities: in time for durations (gaps in
        the data stay gaps), in rows for ints.

    lags : int, list of int or dict, default=None
        Which lags each granularity gets, instead of ``n_lags``: an int ``n``
        (lags ``0 .. n - 1``, as ``n_lags``), a list of distinct lag indices such
        as ``[0, 1, 2, 24, 168]`` for ``"1h"`` (the last three hours, the same
        hour yesterday and a week ago: seasonal windows), or a dict from
        granularities, as written in ``granularities``, to either; granularities
        the dict leaves out get lag 0 only. The output follows each list's
        order. None uses ``n_lags``; setting both is an error.

    closed : {"left", "right", "both", "neither"}, default="left"
        Which ends of the window are included, as in pandas. "left" is the strict
        past ``[t - g, t)``; "right" is ``(t - g, t]``, pandas' default.

    time_column : str, default=None
        Column of a DataFrame holding the timestamps. When None, a
        ``DatetimeIndex`` is the time source if there is one.

    group_column : str, default=None
        Column of a DataFrame naming the series each row belongs to. Windows never
        cross series.

    min_periods : int, default=1
        Any statistic but "count" over fewer non-NaN values yields ``fill_value``.

    fill_value : float, default=np.nan
        Value of a statistic whose window holds too few values. The default NaN
        marks them; estimators that refuse NaN (such as ``Ridge``) want a number.

    ddof : int, default=0
        Delta degrees of freedom of "std" and "var"; a window with no more than
        ``ddof`` values yields ``fill_value``. For "ewm_std", any non-zero value
        selects pandas' bias correction.

    Attributes
    ----------
    granularities_ : list of Granularity
        Parsed granularities: ``(name, kind, size)`` with ``kind`` "rows" or "time"
        and ``size`` in rows or nanoseconds.

    lags_ : list of tuple of int
        The lag indices of each granularity, in output order.

    n_features_in_ : int
        Number of input columns, the time and group columns included.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the input columns, when ``X`` has string column names.

    history_values_ : ndarray of shape (n_history, n_value_columns)
        The last rows of each series seen in ``fit``, as much as the longest window
        reaches back (for "ewm_mean" and "ewm_std", 64 half-lives beyond the
        largest lag, where the weights left out fall below float64's resolution).
        ``transform`` prepends them to series whose rows all come after the fitted
        data, so their first windows see the fitted past. Empty without a time
        source.

    history_times_ : ndarray of shape (n_history,)
        Timestamps (int64 nanoseconds since the epoch, UTC) of ``history_values_``.

    history_groups_ : ndarray of shape (n_history,)
        Series key of each history row (all None without ``group_column``).

    first_fitted_times_ : dict
        The first fitted timestamp (int64 nanoseconds, UTC) of each series, by
        series key (None without ``group_column``); empty without a time source.
        ``transform`` warns when a series' new rows start after it but not after
        the series' last fitted time: their windows would need fitted rows that are
        not kept.

    time_zone_ : str or None
        Time zone of the fitted times (``"UTC"``, ``"Europe/Paris"``), None for
        naive times or without a time source. ``transform`` refuses naive times
        after aware ones and the reverse.

    See Also
    --------
    pandas.DataFrame.rolling : One statistic and one window per call.

    Notes
    -----
    Rows are ordered stably by (group, time, input position) and the output comes
    back in the input's row order. A duration window takes rows that share a
    timestamp in or out together (pandas cuts ties by position); int windows count
    rows in sorted order, and "first"/"last" break ties by input position.

    Output columns are granularity-major: every feature of the first granularity,
    then the second; within one, by column, statistic, then lag. Feature names are
    ``{column}__{granularity}__{stat}__lag{k}``.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn_multigran import GranularityTransformer
    >>> index = pd.date_range("2024-01-01", periods=6, freq="30min")
    >>> X = pd.DataFrame({"load": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]}, index=index)
    >>> gt = GranularityTransformer(("1h", 3), stats=("mean", "max"))
    >>> gt.set_output(transform="pandas").fit_transform(X)
                         load__1h__mean__lag0  ...  load__3__max__lag0
    2024-01-01 00:00:00                   NaN  ...                 NaN
    2024-01-01 00:30:00                   1.0  ...                 1.0
    2024-01-01 01:00:00                   1.5  ...                 2.0
    2024-01-01 01:30:00                   2.5  ...                 3.0
    2024-01-01 02:00:00                   3.5  ...                 4.0
    2024-01-01 02:30:00                   4.5  ...                 5.0
    <BLANKLINE>
    [6 rows x 4 columns]
    """

    _parameter_constraints: dict = {
        "granularities": [list, tuple],
        "stats": [list, tuple],
        "n_lags": [Interval(numbers.Integral, 1, None, closed="left")],
        "lags": [
            None,
            Interval(numbers.Integral, 1, None, closed="left"),
            list,
            tuple,
            dict,
        ],
        "closed": [StrOptions({"left", "right", "both", "neither"})],
        "time_column": [str, None],
        "group_column": [str, None],
        "min_periods": [Interval(numbers.Integral, 0, None, closed="left")],
        "fill_value": [numbers.Real],
        "ddof": [Interval(numbers.Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        granularities=("1h", "1D"),
        *,
        stats=("mean", "std", "min", "max"),
        n_lags=1,
        lags=None,
        closed="left",
        time_column=None,
        group_column=None,
        min_periods=1,
        fill_value=np.nan,
        ddof=0,
    ):
        self.granularities = granularities
        self.stats = stats
        self.n_lags = n_lags
        self.lags = lags
        self.closed = closed
        self.time_column = time_column
        self.group_column = group_column
        self.min_periods = min_periods
        self.fill_value = fill_value
        self.ddof = ddof

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the input and keep the tail of every series for ``transform``.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Time-ordered rows (in any row order when a time source is given).

        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        self._fit(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit to ``X`` and return its window statistics, reading ``X`` once.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Time-ordered rows (in any row order when a time source is given).

        y : None
            Ignored.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features_out)
            Float64 features, granularity-major; see ``get_feature_names_out``.
        """
        values, times, order, group_starts = self._fit(X)
        return self._window_statistics(values, times, order, group_starts, None)

    def _fit(self, X):
        """Validate ``X``, keep the history; return sorted-row info.

        The parameters were validated by ``_fit_context`` on ``fit`` or
        ``fit_transform``.
        """
        granularities = parse_granularities(self.granularities)
        self._check_stats()
        if self.time_column is not None and self.time_column == self.group_column:
            raise ValueError(
                f"time_column and group_column are both {self.time_column!r}; they "
                "must name two different columns."
            )
        values, times, codes, keys, time_source = self._read_input(
            X, granularities, True
        )
        order, group_starts = _sort_rows(times, codes, len(keys))
        _check_no_nat(times, order, group_starts, time_source, 0)
        self._check_calendar_stats(granularities)
        self.granularities_ = granularities
        self.lags_ = self._check_lags(granularities)
        self._store_history(
            values, times, codes, keys, time_source, order, group_starts
        )
        return values, times, order, group_starts

    def transform(self, X):
        """Window statistics of every row, in the input's row order.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Rows to transform. Rows of a series that all come after the last
            timestamp fitted for that series see the fitted rows as their past.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features_out)
            Float64 features, granularity-major; see ``get_feature_names_out``.
        """
        check_is_fitted(self)
        values, times, codes, keys, time_source = self._read_input(
            X, self.granularities_, False
        )
        n_rows = values.shape[0]
        context, context_codes = self._context_rows(times, codes, keys, time_source)
        if context is not None:
            values = np.concatenate([self.history_values_[context], values])
            times = np.concatenate([self.history_times_[context], times])
            codes = np.concatenate([context_codes, codes])
            out_rows = np.concatenate(
                [np.full(int(context.sum()), -1, np.int64), np.arange(n_rows)]
            )
        else:
            out_rows = None
        order, group_starts = _sort_rows(times, codes, len(keys))
        # (after the NaT check, as rows with NaT could not pick up context)
        _check_no_nat(times, order, group_starts, time_source, len(times) - n_rows)
        return self._window_statistics(values, times, order, group_starts, out_rows)

    def _window_statistics(self, values, times, order, group_starts, out_rows):
        """Run the kernels on rows put in (group, time, position) order by ``order``.

        ``out_rows`` gives each input row's output row (-1 for history rows);
        ``None`` means row ``i`` to output row ``i``.
        """
        n_out = len(times) if out_rows is None else int((out_rows >= 0).sum())
        if order is not None:
            values = values[order]
            times = times[order]
            out_rows = order if out_rows is None else out_rows[order]
        is_calendar = [g.kind == "calendar" for g in self.granularities_]
        plain = [k for k, calendar in enumerate(is_calendar) if not calendar]
        n_columns = values.shape[1]
        n_stats = len(self.stats)
        widths = [n_columns * n_stats * len(lags) for lags in self.lags_]
        if not any(is_calendar):
            return self._plain_statistics(
                values, times, group_starts, plain, out_rows, n_out
            )
        out = np.empty((n_out, sum(widths)), dtype=np.float64)
        starts = np.concatenate([[0], np.cumsum(widths)]).astype(int)
        if plain:
            block = self._plain_statistics(
                values, times, group_starts, plain, out_rows, n_out
            )
            offset = 0
            for k in plain:
                out[:, starts[k] : starts[k + 1]] = block[
                    :, offset : offset + widths[k]
                ]
                offset += widths[k]
        if not len(times) or not sum(widths):
            return out
        columns = _read_only(values.T, np.float64)
        times = _read_only(times, np.int64)
        group_starts = _read_only(group_starts, np.int64)
        out_rows = _read_only(np.empty(0) if out_rows is None else out_rows, np.int64)
        stat_codes = _read_only([STAT_CODES[stat] for stat in self.stats], np.int64)
        for k, calendar in enumerate(is_calendar):
            if not calendar:
                continue
            period = calendar_period(self.granularities[k])
            periods = _read_only(period.period_ids(times, self.time_zone_), np.int64)
            bucket_sweeps(
                columns,
                times,
                periods,
                group_starts,
                _read_only(self.lags_[k], np.int64),
                stat_codes,
                int(starts[k]),
                self.closed in ("right", "both"),
                self.min_periods,
                self.ddof,
                float(self.fill_value),
                out_rows,
                out,
            )
        return out

    def _plain_statistics(self, values, times, group_starts, which, out_rows, n_out):
        """The duration and row granularities ``which`` (indices), by the kernels."""
        return window_statistics(
            values,
            times,
            group_starts,
            [(self.granularities_[k].kind, self.granularities_[k].size) for k in which],
            lags=[self.lags_[k] for k in which],
            closed=self.closed,
            stats=list(self.stats),
            min_periods=self.min_periods,
            ddof=self.ddof,
            fill_value=self.fill_value,
            out_rows=out_rows,
            n_out=n_out,
        )

    def get_feature_names_out(self, input_features=None):
        """Names of the output features, ``{column}__{granularity}__{stat}__lag{k}``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input column names; by default ``feature_names_in_``, or ``x0``, ``x1``,
            ... when the input had none.

        Returns
        -------
        feature_names_out : ndarray of str objects
            Granularity-major; within a granularity by column, statistic, lag.
        """
        check_is_fitted(self, "granularities_")
        input_features = check_feature_names_in(self, input_features)
        skip = {self.time_column, self.group_column} - {None}
        columns = [str(name) for name in input_features if name not in skip]
        names = [
            f"{column}__{granularity.name}__{stat}__lag{lag}"
            for granularity, lags in zip(self.granularities_, self.lags_, strict=True)
            for column in columns
            for stat in self.stats
            for lag in lags
        ]
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _check_lags(self, granularities):
        """Each granularity's lag indices, from ``lags`` or ``n_lags``."""
        if self.lags is None:
            return [tuple(range(self.n_lags))] * len(granularities)
        if self.n_lags != 1:
            raise ValueError(
                f"n_lags={self.n_lags!r} and lags={self.lags!r} are both set; give "
                "the lags one way: lags alone (an int is a count, as n_lags), or "
                "n_lags alone with lags=None."
            )
        if not isinstance(self.lags, dict):
            return [self._lag_list(self.lags, "lags")] * len(granularities)
        found = [False] * len(granularities)
        out = [(0,)] * len(granularities)
        for key, spec in self.lags.items():
            # as written in granularities, or by the granularity's name
            matches = [
                k
                for k, (written, g) in enumerate(
                    zip(self.granularities, granularities, strict=True)
                )
                if (type(key) is type(written) and key == written)
                or (isinstance(key, str) and key == g.name)
            ]
            if not matches:
                raise ValueError(
                    f"lags has the key {key!r}, which is not one of granularities="
                    f"{self.granularities!r}; key the dict by granularities as "
                    "written there."
                )
            for k in matches:
                if found[k]:
                    raise ValueError(
                        f"lags gives granularity {self.granularities[k]!r} twice; "
                        "give each granularity one entry."
                    )
                found[k] = True
                out[k] = self._lag_list(spec, f"lags[{key!r}]")
        return out

    @staticmethod
    def _lag_list(spec, param):
        """A tuple of lag indices from an int count or a list of indices."""
        if isinstance(spec, numbers.Integral) and not isinstance(spec, bool):
            if spec < 1:
                raise ValueError(
                    f"{param}={spec!r} counts lags and must be at least 1; pass a "
                    "list such as [0] for given lag indices."
                )
            return tuple(range(int(spec)))
        if not isinstance(spec, (list, tuple)) or not spec:
            raise ValueError(
                f"{param}={spec!r} must be a count of lags (int) or a non-empty "
                "list of lag indices such as [0, 1, 24]."
            )
        bad = [
            lag
            for lag in spec
            if not isinstance(lag, numbers.Integral) or isinstance(lag, bool) or lag < 0
        ]
        if bad:
            raise ValueError(
                f"{param}={spec!r} holds {bad}, which are not lag indices; lags "
                "are integers >= 0 (0 is the window ending at the row)."
            )
        lags = tuple(int(lag) for lag in spec)
        if len(set(lags)) != len(lags):
            raise ValueError(f"{param}={spec!r} lists a lag twice; list each lag once.")
        return lags

    def _check_calendar_stats(self, granularities):
        """Calendar periods take the rolling statistics only (for now)."""
        calendar = [g.name for g in granularities if g.kind == "calendar"]
        other = [stat for stat in self.stats if stat not in STAT_CODES]
        if calendar and other:
            raise ValueError(
                f"stats={self.stats!r} has {other}, which calendar periods "
                f"{calendar} do not compute yet; calendar periods take "
                f"{list(STAT_CODES)}. Use a separate transformer for the others."
            )

    def _check_stats(self):
        stats = list(self.stats)
        choices = f"{list(_STATS)} or a quantile 'q<level>' such as 'q0.9'"
        if not stats:
            raise ValueError(
                f"stats={self.stats!r} is empty; pass at least one statistic among "
                f"{choices}."
            )
        unknown = [
            stat
            for stat in stats
            if not isinstance(stat, str)
            or (stat not in STAT_CODES and not is_extra_statistic(stat))
        ]
        if unknown:
            raise ValueError(
                f"stats={self.stats!r} has unknown statistics {unknown}; choose "
                f"among {choices}."
            )
        for stat in stats:
            if stat not in STAT_CODES:
                try:
                    check_statistic(stat)
                except ValueError as error:
                    raise ValueError(f"stats={self.stats!r}: {error}") from None
        # "median" is "q0.5", and "q0.9" is "q0.90": the same feature twice
        keys = [
            ("q", 0.5 if stat == "median" else quantile_level(stat))
            if stat == "median" or stat not in STAT_CODES and stat[0] == "q"
            else stat
            for stat in stats
        ]
        if len(set(keys)) != len(keys):
            twice = sorted(
                {
                    stat
                    for stat, key in zip(stats, keys, strict=True)
                    if keys.count(key) > 1
                }
            )
            raise ValueError(
                f"stats={self.stats!r} names the same statistic twice ({twice}); "
                "list each once."
            )

    def _read_input(self, X, granularities, reset):
        """Validate ``X`` and split it into values, int64 ns times and group keys.

        Returns ``(values, times, codes, keys, time_source)``: ``codes`` numbers
        each row's series (0 for all without ``group_column``) and ``keys[code]`` is
        its key. ``time_source`` names where the times came from, for error messages;
        without one it is None and ``times`` is the row position, so only row
        windows are meaningful. NaT stays in ``times`` as int64's minimum, for
        ``_check_no_nat`` to find after sorting.
        """
        if reset:
            self.time_zone_ = None  # until a time source says otherwise
        # polars frames go through pandas: one copy, and one code path to test
        X = as_pandas(X)
        if not isinstance(X, pd.DataFrame):
            for param in ("time_column", "group_column"):
                if getattr(self, param) is not None:
                    raise ValueError(
                        f"{param}={getattr(self, param)!r} needs a pandas or polars "
                        f"DataFrame, but X is a {type(X).__name__}; pass a "
                        f"DataFrame or set {param}=None."
                    )
            values = validate_data(
                self, X, reset=reset, dtype=np.float64, ensure_all_finite=False
            )
            _check_no_infinity(values, None)
            times = np.arange(values.shape[0], dtype=np.int64)
            codes = np.zeros(values.shape[0], dtype=np.int64)
            self._require_time_source(granularities, False)
            return values, times, codes, np.array([None], dtype=object), None

        check_feature_names(self, X, reset=reset)
        check_n_features(self, X, reset=reset)
        special = [
            column
            for column in (self.time_column, self.group_column)
            if column is not None
        ]
        missing = [column for column in special if column not in X.columns]
        if missing:
            param = "time_column" if missing[0] == self.time_column else "group_column"
            raise ValueError(
                f"{param}={missing[0]!r} is not a column of X; columns are "
                f"{list(X.columns)[:20]}."
            )
        if self.time_column is not None:
            raw_times = X[self.time_column]
            source = f"time_column={self.time_column!r}"
            if not pd.api.types.is_datetime64_any_dtype(raw_times):
                raise ValueError(
                    f"{source} holds {raw_times.dtype}, not datetimes; convert it "
                    "with pandas.to_datetime first."
                )
            raw_times = pd.DatetimeIndex(raw_times)
        elif isinstance(X.index, pd.DatetimeIndex):
            raw_times = X.index
            source = "the DatetimeIndex of X"
        else:
            raw_times = None
        if raw_times is not None:
            self._check_time_zone(raw_times.tz, source, reset)
            times = datetime_ns(raw_times)
        else:
            self._require_time_source(granularities, True)
            times = np.arange(len(X), dtype=np.int64)
            source = None

        value_columns = [column for column in X.columns if column not in special]
        not_numeric = [
            column
            for column in value_columns
            if not (
                pd.api.types.is_numeric_dtype(X[column])
                or pd.api.types.is_bool_dtype(X[column])
            )
        ]
        if not_numeric:
            raise ValueError(
                f"Columns {not_numeric} of X are not numeric; drop or encode them, "
                "or name them as time_column / group_column."
            )
        frame = X[value_columns]
        if all(dtype == np.float64 for dtype in frame.dtypes):
            # NaN is already numpy's missing float: a view of the data, no copy
            values = frame.to_numpy()
        else:
            values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
        values = check_array(
            values,
            ensure_all_finite=False,
            ensure_min_features=0,
            input_name="X",
            estimator=self,
        )
        _check_no_infinity(values, value_columns)

        if self.group_column is not None:
            # factorize the column itself: far cheaper than hashing objects
            codes, keys = factorize_groups(
                X[self.group_column],
                lambda row: (
                    f"group_column={self.group_column!r} is missing at row {row}; "
                    "every row must name its series."
                ),
            )
            keys = np.asarray(keys, dtype=object)
        else:
            codes = np.zeros(len(X), dtype=np.int64)
            keys = np.array([None], dtype=object)
        return values, times, codes, keys, source

    def _check_time_zone(self, tz, source, reset):
        """Keep the awareness of the fitted times; refuse mixing it in transform.

        Aware times are compared in UTC, naive ones as written: mixing them would
        read naive times as UTC and join them to the history silently.
        """
        if reset:
            self.time_zone_ = None if tz is None else str(tz)
            return
        fitted = getattr(self, "time_zone_", None)
        if (tz is None) == (fitted is None) or not len(self.history_times_):
            return
        if tz is None:
            raise ValueError(
                f"{source} holds naive times, but fit saw times aware of time zone "
                f"{fitted!r}; localize these the same way (e.g. "
                f"Series.dt.tz_localize({fitted!r})), or fit on naive times."
            )
        raise ValueError(
            f"{source} holds times aware of time zone {str(tz)!r}, but fit saw naive "
            "times; make both naive (e.g. Series.dt.tz_convert(None)) or both aware "
            "before fitting."
        )

    def _require_time_source(self, granularities, is_frame):
        durations = [g.name for g in granularities if g.kind != "rows"]
        if durations:
            where = (
                "X has no DatetimeIndex and time_column is None"
                if is_frame
                else "X is an array without timestamps"
            )
            raise ValueError(
                f"granularities {durations} are durations or calendar periods, "
                "which need a time "
                f"source, but {where}: pass a DataFrame with a DatetimeIndex, set "
                "time_column, or give the windows as row counts (ints)."
            )

    def _store_history(
        self, values, times, codes, keys, time_source, order, group_starts
    ):
        """Keep, per series, the rows the longest window can reach from its end."""
        keep = np.zeros(0, dtype=np.int64)
        self.first_fitted_times_ = {}
        if time_source is not None and len(times):
            sorted_times = times if order is None else times[order]
            # group k of the sorted rows is series code k
            self.first_fitted_times_ = {
                keys[k]: int(sorted_times[lo])
                for k, (lo, hi) in enumerate(
                    zip(group_starts[:-1], group_starts[1:], strict=True)
                )
                if hi > lo
            }
            # lag k of a window starts k + 1 windows back (EWM reaches
            # _EWM_HALF_LIVES half-lives further); one more row for closed="both"
            ewm = any(stat in ("ewm_mean", "ewm_std") for stat in self.stats)
            extra = _EWM_HALF_LIVES - 1 if ewm else 0
            reach = {"rows": 0, "time": 0}
            for g, lags, spec in zip(
                self.granularities_, self.lags_, self.granularities, strict=True
            ):
                windows_back = max(lags) + 1 + extra
                if g.kind == "calendar":
                    # whole periods back to the oldest lag's start: the longest
                    # day, week or month, plus a day for offset changes
                    longest = _LONGEST_PERIOD_NS[calendar_period(spec).unit]
                    size = windows_back * longest + _DAY_NS
                    reach["time"] = max(reach["time"], size)
                    continue
                reach[g.kind] = max(reach[g.kind], windows_back * g.size)
            row_reach = reach["rows"] + 1
            time_reach = reach["time"]
            tails = []
            for lo, hi in zip(group_starts[:-1], group_starts[1:], strict=True):
                first = max(lo, hi - row_reach)
                # (Python ints: a reach beyond int64 leaves the kernels to refuse
                # it with their message, instead of overflowing here)
                cutoff = max(int(sorted_times[hi - 1]) - time_reach, _NAT + 1)
                first = min(
                    first, lo + np.searchsorted(sorted_times[lo:hi], cutoff, "left")
                )
                tails.append(np.arange(first, hi) if order is None else order[first:hi])
            keep = np.concatenate(tails)
            if order is not None:
                # in input order, as a mask would give them (rows already in
                # order give their tails in order: no sort, 0.12 s on a panel of
                # 1,000 series)
                keep = np.sort(keep)
        self.history_values_ = values[keep]
        self.history_times_ = times[keep]
        self.history_groups_ = keys[codes[keep]]

    def _context_rows(self, times, codes, keys, time_source):
        """History rows to prepend, and their series codes in the new input.

        A series gets its fitted tail when all its new rows come after the last
        fitted timestamp of that series; otherwise it is transformed on its own.
        Returns ``(None, None)`` when no history applies.
        """
        if time_source is None or not len(self.history_times_) or not len(times):
            return None, None
        if self.group_column is None:
            history_codes = np.zeros(len(self.history_times_), dtype=np.int64)
        else:
            history_codes = pd.Index(keys).get_indexer(self.history_groups_)
        present = history_codes >= 0
        last_fitted = np.full(len(keys), np.iinfo(np.int64).min)
        np.maximum.at(last_fitted, history_codes[present], self.history_times_[present])
        first_new = np.full(len(keys), np.iinfo(np.int64).max)
        np.minimum.at(first_new, codes, times)
        later = first_new > last_fitted
        self._warn_overlap(first_new, last_fitted, keys)
        context = present & later[np.maximum(history_codes, 0)]
        if not context.any():
            return None, None
        return context, history_codes[context]

    def _warn_overlap(self, first_new, last_fitted, keys):
        """Warn when new rows start inside a series' fitted span, after its start.

        Such rows are transformed on their own (the fitted tail would repeat or
        interleave them), so their first windows miss the fitted rows before them.
        Rows that start at or before the series' first fitted time (the fitted
        series again, say) see their own past and are not warned about.
        """
        first_fitted = self.first_fitted_times_
        for code, key in enumerate(keys):
            start = first_fitted.get(key)
            if start is None or not start < first_new[code] <= last_fitted[code]:
                continue
            which = "" if self.group_column is None else f" of series {key!r}"
            warnings.warn(
                f"transform got rows{which} starting at "
                f"{pd.Timestamp(int(first_new[code]))}, inside the fitted span "
                f"({pd.Timestamp(start)} to {pd.Timestamp(int(last_fitted[code]))}): "
                "their windows cannot see the fitted rows before them, which the "
                "transformer does not keep, so their first features differ from "
                "those of the whole series. Transform the whole series and take "
                "the rows you need, or pass only rows after the fitted span.",
                UserWarning,
                # the caller of transform (through set_output's wrapper)
                stacklevel=5,
            )
            return


def _sort_rows(times, codes, n_groups):
    """Stable order by (group code, time, position) and the group starts after it.

    Returns ``order=None`` when the rows are already in that order (time-ordered
    rows, series stacked one after another), which saves a gather of every array.
    """
    n_rows = len(times)
    if n_groups == 1:
        group_starts = np.array([0, n_rows], dtype=np.int64)
        if rows_in_order(times):
            return None, group_starts
        return np.argsort(times, kind="stable"), group_starts
    counts = np.bincount(codes, minlength=n_groups)
    group_starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    if rows_in_order(times, codes):
        return None, group_starts
    return np.lexsort((times, codes)), group_starts


def _check_no_nat(times, order, group_starts, time_source, n_context):
    """Raise if a time is NaT, which ``times`` holds as int64's minimum.

    The minimum sorts first, so after ordering by (group, time) a NaT can only be
    a series' first row: the sortedness pass (needed anyway) makes a pass of its
    own unnecessary. ``n_context`` history rows precede the input's rows.
    """
    if time_source is None or not len(times):
        return
    firsts, _ = group_end_rows(group_starts)
    leading = times[firsts] if order is None else times[order[firsts]]
    if (leading == _NAT).any():
        position = int(np.flatnonzero(times == _NAT)[0]) - n_context
        raise ValueError(
            f"{time_source} has NaT (first at row {position}); drop those rows "
            "or fill in their times."
        )


def _check_no_infinity(values, columns):
    """Raise, naming the first row and column, if ``values`` hold inf or -inf.

    One pass without temporaries (scikit-learn's ``ensure_all_finite="allow-nan"``
    makes two); the message starts as scikit-learn's does.
    """
    if not any_infinite(values):
        return
    row, column = (int(k[0]) for k in np.nonzero(np.isinf(values)))
    name = str(column) if columns is None else repr(columns[column])
    raise ValueError(
        f"Input X contains infinity (first at row {row}, column {name}); NaN marks "
        "a missing value and is skipped, but inf is not allowed: replace it, for "
        "example with NaN."
    )
