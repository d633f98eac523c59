"""HorizonTimeSeriesSplit: time-series folds of forecast origins.

``TimeSeriesSplit`` cuts on row positions and knows nothing of targets. A direct
forecaster's row ``t`` has targets up to ``t + horizon * step``: the last training
rows before a test block would have been fitted on values inside it. This splitter
cuts on *times* (so that every series of a panel has a timestamp in the same fold)
and drops from each training set the rows whose last target is not strictly before
the test block's first time.
"""

import numbers
import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator

from sklearn_multigran.utils._time import (
    as_pandas,
    as_times,
    fixed_step_ns,
    grid_step,
)

__all__ = ["HorizonTimeSeriesSplit"]


def _check_int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer >= {low}, got {value!r} of type "
            f"{type(value).__name__}."
        )
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {name}={value}.")


class HorizonTimeSeriesSplit(BaseCrossValidator):
    """Time-series cross-validator of forecast origins, cut on their times.

    The distinct times of the rows are split as ``TimeSeriesSplit`` splits rows:
    ``n_splits`` consecutive test blocks at the end, each fold training on what
    comes before its block. A row is a forecast origin whose targets reach
    ``horizon`` steps after its time (the layout of ``make_horizon_targets`` with
    ``start=1``); a training row is kept only if its last target time,
    ``time + (horizon + gap) * step``, falls strictly before the test block's
    first time. All rows of a timestamp (every series of a panel) fall on the same
    side, whatever the row order.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    horizon : int
        Steps ahead of the last target of each row, at least 1.
    gap : int, default=0
        Further steps between a training row's last target and the test block, as
        ``TimeSeriesSplit``'s ``gap`` (there in rows, here in steps of time).
    time : str, default=None
        Column of ``X`` (a pandas or polars DataFrame) holding each row's time,
        datetimes or numbers. When None, the ``DatetimeIndex`` of ``X`` if it has
        one, else the row positions (one step per row).
    freq : str, pandas offset, Timedelta or number, default=None
        The step of the times. Default: inferred from the distinct times
        (``pandas.infer_freq``, else the smallest spacing); 1 for positions.
    test_size : int, default=None
        Distinct times per test block. Default ``n_times // (n_splits + 1)``.

    See Also
    --------
    sklearn.model_selection.TimeSeriesSplit : The same blocks, cut on rows.
    make_horizon_targets : The targets whose reach the splitter respects.

    Notes
    -----
    With ``GranularityTransformer(closed="right")`` features and
    ``make_horizon_targets(start=1)`` targets, a training row whose last target is
    the test block's first time would be allowed by leakage alone (that value is
    an input of the first test rows, not a target). The splitter still drops it:
    no training target lies in the test block's time span.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_multigran.forecasting import HorizonTimeSeriesSplit
    >>> cv = HorizonTimeSeriesSplit(3, horizon=2)
    >>> for train, test in cv.split(np.zeros((12, 1))):
    ...     print(train, test)
    [0] [3 4 5]
    [0 1 2 3] [6 7 8]
    [0 1 2 3 4 5 6] [ 9 10 11]

    A panel, rows in any order: every series of a time is on the same side.

    >>> import pandas as pd
    >>> frame = pd.DataFrame(
    ...     {
    ...         "day": pd.date_range("2024-01-01", periods=4, freq="D").repeat(2),
    ...         "shop": ["a", "b"] * 4,
    ...     }
    ... )
    >>> cv = HorizonTimeSeriesSplit(2, horizon=1, time="day")
    >>> [(train.tolist(), test.tolist()) for train, test in cv.split(frame)]
    [([0, 1], [4, 5]), ([0, 1, 2, 3], [6, 7])]
    """

    def __init__(
        self, n_splits=5, *, horizon, gap=0, time=None, freq=None, test_size=None
    ):
        # Validated here, as scikit-learn's splitters do: a splitter is not
        # cloned, and a bad one should fail where it is written.
        _check_int(n_splits, "n_splits", 2)
        _check_int(horizon, "horizon", 1)
        _check_int(gap, "gap", 0)
        if test_size is not None:
            _check_int(test_size, "test_size", 1)
        if time is not None and not isinstance(time, str):
            raise TypeError(
                f"time must be a column name (str) or None, got {time!r} of type "
                f"{type(time).__name__}."
            )
        if freq is not None:
            numeric = isinstance(freq, numbers.Real) and not isinstance(freq, bool)
            if numeric and freq <= 0:
                raise ValueError(f"freq must be positive, got freq={freq!r}.")
            if not numeric:
                try:
                    pd.tseries.frequencies.to_offset(freq)
                except (TypeError, ValueError) as exc:
                    raise ValueError(
                        f"freq={freq!r} is neither a positive number nor a pandas "
                        "frequency; pass e.g. '15min', '1h', '1D', 'MS' or 1."
                    ) from exc
        self.n_splits = n_splits
        self.horizon = horizon
        self.gap = gap
        self.time = time
        self.freq = freq
        self.test_size = test_size

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of folds.

        Parameters
        ----------
        X, y, groups : object
            Ignored, exist for API compatibility.

        Returns
        -------
        n_splits : int
        """
        return self.n_splits

    def split(self, X, y=None, groups=None):
        """Indices of the training and test rows of each fold.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            The rows; their times come from ``time``, the ``DatetimeIndex`` or
            the positions.
        y : array-like of shape (n_samples,), default=None
            Ignored.
        groups : array-like of shape (n_samples,), default=None
            Ignored: folds are cut on times, so every series of a time falls in
            the same fold whatever its group.

        Yields
        ------
        train : ndarray
            Positions of the training rows, sorted.
        test : ndarray
            Positions of the test rows, sorted.
        """
        if groups is not None:
            warnings.warn(
                f"The groups parameter is ignored by {type(self).__name__}: all rows "
                "of a time fall in the same fold.",
                UserWarning,
                stacklevel=2,
            )
        values, is_datetime, step = self._times(X)
        reach = self._last_target(values, is_datetime, step)
        distinct = np.unique(values)
        n_times = len(distinct)
        test_size = (
            self.test_size
            if self.test_size is not None
            else n_times // (self.n_splits + 1)
        )
        if test_size < 1 or n_times - test_size * self.n_splits < 1:
            raise ValueError(
                f"n_splits={self.n_splits} test blocks of "
                f"{max(test_size, 1)} times need more than "
                f"{self.n_splits * max(test_size, 1)} distinct times, but X has "
                f"{n_times}; lower n_splits or test_size, or pass more rows."
            )
        starts = range(n_times - self.n_splits * test_size, n_times, test_size)
        for k, start in enumerate(starts):
            first, last = distinct[start], distinct[start + test_size - 1]
            train = np.flatnonzero(reach < first)
            if not len(train):
                raise ValueError(
                    f"fold {k} has no training rows: the targets of every row "
                    f"before its first test time {self._show(first, is_datetime)} "
                    f"reach into it with horizon={self.horizon} and gap={self.gap}; "
                    "lower n_splits, horizon or gap, or pass more rows."
                )
            test = np.flatnonzero((values >= first) & (values <= last))
            yield train, test

    @staticmethod
    def _show(value, is_datetime):
        return str(pd.Timestamp(value)) if is_datetime else repr(float(value))

    def _times(self, X):
        """``(values, is_datetime, step)``: each row's time and the grid step."""
        if self.time is not None:
            X = as_pandas(X, [self.time])
            if not isinstance(X, pd.DataFrame):
                raise ValueError(
                    f"time={self.time!r} names a column, but X is a "
                    f"{type(X).__name__}; pass a pandas DataFrame, or time=None to "
                    "use the DatetimeIndex or the row positions."
                )
            if self.time not in X.columns:
                raise ValueError(
                    f"time={self.time!r} is not a column of X; columns are "
                    f"{list(X.columns)[:20]}."
                )
            raw, param = X[self.time], f"time={self.time!r}"
        elif isinstance(getattr(X, "index", None), pd.DatetimeIndex):
            raw, param = X.index, "the DatetimeIndex of X"
        else:
            n_rows = X.shape[0] if hasattr(X, "shape") else len(X)
            freq = 1.0 if self.freq is None else self.freq
            values = np.arange(n_rows, dtype=np.float64)
            return values, False, grid_step(values, False, None, freq, "position")
        values, is_datetime = as_times(raw, param)
        codes = np.zeros(len(values), dtype=np.int64)
        return values, is_datetime, grid_step(values, is_datetime, codes, self.freq)

    def _last_target(self, values, is_datetime, step):
        """Time of each row's last target, ``horizon + gap`` steps after it."""
        steps = self.horizon + self.gap
        if not is_datetime:
            return values + steps * step
        step_ns = fixed_step_ns(step)
        if step_ns is not None:
            return values + np.timedelta64(steps * step_ns, "ns")
        # calendar offsets (month starts, business days) have no fixed length
        return (pd.DatetimeIndex(values) + steps * step).to_numpy()
