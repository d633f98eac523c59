"""Direct multi-horizon forecasting: the target matrix and the long frame.

A direct multi-output forecaster regresses the next ``H`` values of a series on the
features of the current row. With ``GranularityTransformer`` and any multi-output
regressor:

* :func:`make_horizon_targets` builds the ``(n_rows, H)`` target matrix aligned with
  the input rows (row ``t`` holds ``y[t+1], ..., y[t+H]`` of the same group) and the
  mask of rows whose ``H`` targets all exist;
* :func:`horizon_frame` turns ``predict`` output back into a long
  ``(origin, horizon, target_time, value)`` frame;
* ``LastValueRelative`` (in ``_relative.py``) fits a regressor on targets taken
  relative to the last observed value.

Design: :func:`make_horizon_targets` returns ``(Y, complete)`` and never drops rows.
Dropping would break the row alignment with the transformer's output, so the caller
subsets both with the same mask, ``model.fit(Xt[complete], Y[complete])``, and keeps
the incomplete rows (the most recent ones) for forecasting. A ``(Y, mask)`` pair is
the shape of ``numpy.histogram``-like helpers and needs no new class to learn.
"""

import numbers

import numpy as np
import pandas as pd

from sklearn_multigran.utils._time import (
    as_times,
    column_or_array,
    describe_group,
    factorize_groups,
    fixed_step_ns,
    grid_positions,
    grid_step,
    show_time,
)

__all__ = ["horizon_frame", "make_horizon_targets"]


def _check_horizon(horizon):
    if isinstance(horizon, bool) or not isinstance(horizon, numbers.Integral):
        raise TypeError(
            f"horizon must be a positive integer (the number of steps ahead), got "
            f"{horizon!r} of type {type(horizon).__name__}."
        )
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got horizon={horizon}.")
    return int(horizon)


def _group_codes(groups):
    """Integer codes and keys of ``groups``, ``(None, None)`` without groups."""
    if groups is None:
        return None, None
    return factorize_groups(
        groups,
        lambda row: f"group has a missing value at row {row}; every row needs a group.",
    )


# --------------------------------------------------------------------------------------
# make_horizon_targets
# --------------------------------------------------------------------------------------


def make_horizon_targets(
    y,
    horizon,
    *,
    target=None,
    time=None,
    group=None,
    freq=None,
    on_gap="raise",
    start=1,
):
    """Target matrix of a direct ``horizon``-step forecaster, aligned with the rows.

    Row ``t`` of the result holds the next ``horizon`` values of ``y`` after row
    ``t`` in the same group: ``y[t + 1], ..., y[t + horizon]`` in time order. Rows
    keep the input order (the order ``GranularityTransformer`` returns), so the
    result lines up with the transformer's output row for row. Targets that would
    run past the end of a group, or that are missing, are NaN; ``complete`` marks
    the rows with all ``horizon`` targets, the ones to fit on.

    Parameters
    ----------
    y : array-like of shape (n_rows,), pandas.Series or pandas.DataFrame
        The series. For a DataFrame, ``target`` names the value column and
        ``time`` / ``group`` may be column names.
    horizon : int
        Number of steps ahead, ``H >= 1``.
    target : str, default=None
        Value column when ``y`` is a DataFrame. May be omitted when the frame has
        exactly one column besides ``time`` and ``group``.
    time : str or array-like of shape (n_rows,), default=None
        Time of each row (datetimes or numbers). With ``time``, steps are counted on
        the regular grid of ``freq``: the target ``h`` steps after a row is the value
        at ``time + h * freq`` in its group, and rows may come in any order. Without
        ``time``, the rows of each group are taken to be consecutive and in time
        order.
    group : str or array-like of shape (n_rows,), default=None
        Series identifier; targets never cross groups.
    freq : str, pandas offset, Timedelta or number, default=None
        Grid step of ``time``. Default: the smallest step between two times of the
        same group. Calendar offsets such as ``'MS'`` are supported.
    on_gap : {"raise", "nan"}, default="raise"
        What to do when the grid has a gap (a missing time inside a group):
        ``"raise"`` raises a ``ValueError`` naming the gap; ``"nan"`` leaves the
        targets at missing times NaN, so rows whose horizon crosses the gap are
        incomplete.
    start : int, default=1
        Steps from the row to the first target: column ``j`` holds the value
        ``start + j`` steps after the row. Use 1 when the row's features include
        its own value (``GranularityTransformer(closed="right")``), 0 when they
        stop before it (the transformer's default ``closed="left"``): the row's own
        value is then the first one the model has not seen. Either way no target is
        a value the features of its row contain.

    Returns
    -------
    Y : ndarray of shape (n_rows, horizon) or pandas.DataFrame
        ``Y[t, j]`` is the value ``start + j`` steps after row ``t``. A DataFrame
        (same index as ``y``, columns ``{name}_h{start}``, ...,
        ``{name}_h{start + horizon - 1}``) when ``y`` is a pandas object, an
        ndarray otherwise.
    complete : ndarray of shape (n_rows,), dtype=bool
        Rows whose ``horizon`` targets all exist and are not NaN.

    Raises
    ------
    ValueError
        If ``start + horizon - 1`` steps do not fit in the longest group, if
        lengths differ, if
        a group has duplicate or off-grid times, or if the grid has a gap and
        ``on_gap="raise"``.

    See Also
    --------
    horizon_frame : Turn ``predict`` output into a long frame.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_multigran.forecasting import make_horizon_targets
    >>> Y, complete = make_horizon_targets(np.arange(5.0), 2)
    >>> Y
    array([[ 1.,  2.],
           [ 2.,  3.],
           [ 3.,  4.],
           [ 4., nan],
           [nan, nan]])
    >>> complete
    array([ True,  True,  True, False, False])

    Groups and times, in any row order; targets stay inside each group and the
    result keeps the input rows:

    >>> import pandas as pd
    >>> days = ["2024-01-03", "2024-01-02", "2024-01-01", "2024-01-01", "2024-01-02"]
    >>> frame = pd.DataFrame(
    ...     {
    ...         "shop": ["a", "b", "a", "b", "a"],
    ...         "day": pd.to_datetime(days),
    ...         "sales": [3.0, 20.0, 1.0, 10.0, 2.0],
    ...     }
    ... )
    >>> Y, complete = make_horizon_targets(
    ...     frame, 1, target="sales", time="day", group="shop"
    ... )
    >>> Y
       sales_h1
    0       NaN
    1       NaN
    2       2.0
    3      20.0
    4       3.0
    >>> complete
    array([False, False,  True,  True,  True])
    """
    horizon = _check_horizon(horizon)
    if isinstance(start, bool) or not isinstance(start, numbers.Integral) or start < 0:
        raise ValueError(
            f"start must be a non-negative integer (1: the step after the row), got "
            f"start={start!r}."
        )
    reach = int(start) + horizon - 1  # steps to the last target
    if on_gap not in ("raise", "nan"):
        raise ValueError(f"on_gap must be 'raise' or 'nan', got on_gap={on_gap!r}.")

    index, name = None, None
    if isinstance(y, pd.DataFrame):
        used = {c for c in (time, group) if isinstance(c, str)}
        if target is None:
            rest = [c for c in y.columns if c not in used]
            if len(rest) != 1:
                raise ValueError(
                    "y is a DataFrame with several value columns "
                    f"{rest}; pass target=<column name>."
                )
            target = rest[0]
        if target not in y.columns:
            raise ValueError(
                f"target={target!r} is not a column of y; columns are "
                f"{list(y.columns)}."
            )
        values = y[target]
        index, name = y.index, target
    elif isinstance(y, pd.Series):
        if target is not None:
            raise ValueError("target is only used when y is a DataFrame; drop it.")
        values = y
        index, name = y.index, (y.name if y.name is not None else "y")
    else:
        if target is not None:
            raise ValueError("target is only used when y is a DataFrame; drop it.")
        values = y
    try:
        values = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError("y must hold numbers (float-convertible values).") from exc
    if values.ndim != 1:
        raise ValueError(
            f"y must be one-dimensional (one series, stacked by group), got shape "
            f"{values.shape}; pass a DataFrame with target=... for several columns."
        )
    n_rows = len(values)
    if n_rows == 0:
        raise ValueError("y is empty; targets need at least horizon + 1 rows.")
    times = column_or_array(y, time, "time", n_rows)
    groups = column_or_array(y, group, "group", n_rows)
    codes, keys = _group_codes(groups)
    if codes is None:
        codes = np.zeros(n_rows, dtype=np.int64)

    if times is None:
        # Rows of a group are consecutive steps in input order.
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1]
        pos_sorted = np.arange(n_rows) - np.repeat(
            starts, np.diff(np.r_[starts, n_rows])
        )
    else:
        pos = grid_positions(times, codes, freq)
        order = np.lexsort((np.arange(n_rows), pos, codes))
        sorted_codes = codes[order]
        pos_sorted = pos[order]
        same = sorted_codes[1:] == sorted_codes[:-1]
        step = np.diff(pos_sorted)
        dup = same & (step == 0)
        if dup.any():
            k = int(np.flatnonzero(dup)[0])
            raise ValueError(
                f"time {show_time(times, order[k])} appears twice"
                f"{describe_group(keys, sorted_codes[k])}"
                f" (rows {order[k]} and {order[k + 1]}); targets need one row per time "
                "step and group: aggregate the duplicates first."
            )
        gap = same & (step > 1)
        if gap.any() and on_gap == "raise":
            k = int(np.flatnonzero(gap)[0])
            raise ValueError(
                f"time has a gap{describe_group(keys, sorted_codes[k])} between "
                f"{show_time(times, order[k])} and {show_time(times, order[k + 1])} "
                f"({int(step[k]) - 1} "
                "missing steps); fill the missing steps, or pass on_gap='nan' to make "
                "the targets that fall in the gap NaN."
            )

    # Horizon against the longest group, measured on the grid.
    first = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], n_rows]
    spans = pos_sorted[ends - 1] - pos_sorted[starts] + 1
    if reach >= spans.max():
        longest = int(spans.max())
        raise ValueError(
            f"horizon={horizon} is longer than the data: the longest series has "
            f"{longest} steps, so no row has {reach} steps after it; use "
            f"horizon <= {max(longest - start, 0)} or pass more history."
        )

    values_sorted = values[order]
    steps = np.arange(start, reach + 1)
    group_of = np.repeat(np.arange(len(starts)), ends - starts)
    offset_in_group = pos_sorted - pos_sorted[starts][group_of]
    if spans.sum() <= 4 * n_rows:
        # Lay each group on its dense grid, followed by `reach` NaNs so that no
        # window reaches into the next group; missing steps (gaps) stay NaN. The
        # target h steps after a row is then h cells further right.
        dense_start = np.r_[0, np.cumsum(spans + reach)[:-1]]
        dense = np.full(int((spans + reach).sum()), np.nan)
        at = dense_start[group_of] + offset_in_group
        dense[at] = values_sorted
        windows = np.lib.stride_tricks.sliding_window_view(dense, reach + 1)
        Y_sorted = windows[at, start:]
    else:
        # Sparse grid (few rows over a long span): look each step up instead.
        width = int(offset_in_group.max()) + reach + 1
        key = group_of * width + offset_in_group
        Y_sorted = np.full((n_rows, horizon), np.nan)
        for j, h in enumerate(steps):
            at = np.searchsorted(key, key + h)
            hit = at < n_rows
            hit[hit] = key[at[hit]] == key[hit] + h
            Y_sorted[hit, j] = values_sorted[at[hit]]

    Y = np.empty_like(Y_sorted)
    Y[order] = Y_sorted
    complete = ~np.isnan(Y).any(axis=1)
    if index is not None:
        Y = pd.DataFrame(Y, index=index, columns=[f"{name}_h{h}" for h in steps])
    return Y, complete


# --------------------------------------------------------------------------------------
# horizon_frame
# --------------------------------------------------------------------------------------


def horizon_frame(predictions, time, *, group=None, freq=None, start=1):
    """Long frame of direct multi-horizon predictions.

    Parameters
    ----------
    predictions : array-like of shape (n_rows, horizon)
        ``predict`` output of a direct forecaster: column ``j`` is the forecast
        ``start + j`` steps after the row (the layout of
        :func:`make_horizon_targets`). A 1-D array is a single step.
    time : array-like of shape (n_rows,)
        Time of each predicted row, the forecast origin (datetimes or numbers).
    group : array-like of shape (n_rows,), default=None
        Series identifier of each row; becomes a column (named after the Series
        when ``group`` is a named ``pandas.Series``, else ``"group"``).
    freq : str, pandas offset, Timedelta or number, default=None
        Step of the series, to compute ``target_time``. Default: inferred from
        ``time`` as in :func:`make_horizon_targets`, which is right only when the
        origins of a group are consecutive steps; pass ``freq`` when forecasting
        from a subsample of origins (e.g. one origin a day on hourly data).
    start : int, default=1
        Steps from the origin to the first column, as in
        :func:`make_horizon_targets`.

    Returns
    -------
    pandas.DataFrame
        One row per (row, step), in input row order then step:
        ``[group,] origin, horizon, target_time, value`` where
        ``target_time = origin + horizon * freq``.

    See Also
    --------
    make_horizon_targets : The target matrix in the same layout.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn_multigran.forecasting import horizon_frame
    >>> origins = pd.date_range("2024-01-01", periods=2, freq="h")
    >>> horizon_frame(np.array([[1.0, 2.0], [3.0, 4.0]]), origins)
                   origin  horizon         target_time  value
    0 2024-01-01 00:00:00        1 2024-01-01 01:00:00    1.0
    1 2024-01-01 00:00:00        2 2024-01-01 02:00:00    2.0
    2 2024-01-01 01:00:00        1 2024-01-01 02:00:00    3.0
    3 2024-01-01 01:00:00        2 2024-01-01 03:00:00    4.0
    """
    values = np.asarray(predictions, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(
            f"predictions must be (n_rows, horizon), got shape {values.shape}."
        )
    n_rows, horizon = values.shape
    if horizon == 0:
        raise ValueError("predictions has no columns; expected one per step ahead.")
    if n_rows == 0:
        raise ValueError("predictions has no rows; expected one per forecast origin.")
    group_name = group.name if isinstance(group, pd.Series) and group.name else "group"
    times = column_or_array(None, time, "time", n_rows)
    if times is None:
        raise ValueError("time is required: the origin of each predicted row.")
    groups = column_or_array(None, group, "group", n_rows)
    codes, _ = _group_codes(groups)
    if codes is None:
        codes = np.zeros(n_rows, dtype=np.int64)
    values_t, is_datetime = as_times(times)
    step = grid_step(values_t, is_datetime, codes, freq)

    if isinstance(start, bool) or not isinstance(start, numbers.Integral) or start < 0:
        raise ValueError(f"start must be a non-negative integer, got start={start!r}.")
    steps = np.arange(start, start + horizon)
    h_col = np.tile(steps, n_rows)
    if is_datetime:
        # The original index keeps a time zone, if any.
        origin = pd.DatetimeIndex(times).repeat(horizon)
        step_ns = fixed_step_ns(step)
        if step_ns is not None:
            target_time = origin + h_col * pd.Timedelta(step_ns, "ns")
        else:
            # Calendar offsets (month starts, business days) have no fixed length.
            target_time = pd.Series(origin)
            for h in steps:
                at = h_col == h
                target_time[at] = origin[at] + h * step
            target_time = pd.DatetimeIndex(target_time)
    else:
        origin = np.repeat(np.asarray(times), horizon)
        target_time = origin + h_col * step
    columns = {}
    if groups is not None:
        columns[group_name] = np.repeat(groups, horizon)
    columns["origin"] = origin
    columns["horizon"] = h_col
    columns["target_time"] = target_time
    columns["value"] = values.ravel()
    return pd.DataFrame(columns)
