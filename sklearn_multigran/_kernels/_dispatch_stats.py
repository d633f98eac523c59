"""Python side of the order, shape and EWM kernels: names, offsets, output layout.

Same contract as ``_dispatch.window_statistics`` (sorted rows, int64 times, group
starts, ``(kind, size)`` windows, ``out_rows``), for the statistics

* ``"median"`` and ``"q<level>"`` (``"q0.1"``, ``"q0.99"``: any level in (0, 1)),
  numpy's default linear interpolation;
* ``"slope"``: least-squares slope against time, per granularity;
* ``"skew"``, ``"kurt"``: pandas' (and scipy's ``bias=False``) sample skewness and
  excess kurtosis;
* ``"ewm_mean"``, ``"ewm_std"``: exponentially weighted over the whole past of the
  group, with the granularity as the half-life.

Nothing here imports pandas or scikit-learn.
"""

import math

import numpy as np

from sklearn_multigran._kernels._ewm import ewm_sweeps
from sklearn_multigran._kernels._order import quantile_sweeps
from sklearn_multigran._kernels._shape import moment_sweeps, slope_sweeps

# Windows of at most this many rows take the sorted buffer rather than the tree
# (see ``_order._buffer_sweep``); read at each call, so tests can force either
_BUFFER_ROWS = 256

FIXED_STATISTICS = ("median", "slope", "skew", "kurt", "ewm_mean", "ewm_std")


def quantile_level(stat):
    """The level of a statistic name ``"q<level>"``, or None if it is not one."""
    if not isinstance(stat, str) or not stat.startswith("q"):
        return None
    try:
        level = float(stat[1:])
    except ValueError:
        return None
    return level


def check_statistic(stat):
    """Raise a ValueError naming ``stat`` unless this module computes it."""
    if stat in FIXED_STATISTICS:
        return
    level = quantile_level(stat)
    if level is None:
        raise ValueError(
            f"Unknown statistic {stat!r}; expected one of {list(FIXED_STATISTICS)} "
            "or a quantile 'q<level>' such as 'q0.1'."
        )
    if not (0.0 < level < 1.0) or math.isnan(level):
        raise ValueError(
            f"Quantile statistic {stat!r} has level {level}; the level must lie "
            "strictly between 0 and 1, e.g. 'q0.9'."
        )


def _read_only(array, dtype):
    """A C-contiguous, read-only view (one compiled variant, as ``_dispatch``)."""
    view = np.ascontiguousarray(array, dtype=dtype).view()
    view.flags.writeable = False
    return view


def window_statistics_extra(
    values,
    times,
    group_starts,
    windows,
    *,
    n_lags=1,
    lags=None,
    closed,
    stats,
    min_periods,
    ddof,
    fill_value,
    out_rows,
    n_out,
):
    """Order, shape and EWM statistics of sorted rows, every granularity and lag.

    Parameters
    ----------
    values : ndarray of shape (n_rows, n_columns)
        Rows sorted by (group, time, input position). NaN values are skipped.
    times : ndarray of shape (n_rows,), int64
        Sorted within each group, in the unit of the time-window sizes. Ignored by
        row windows.
    group_starts : ndarray of shape (n_groups + 1,), int64
        Start of each group in the sorted rows, then ``n_rows``.
    windows : sequence of (kind, size)
        ``kind`` is ``"rows"`` or ``"time"``. For ``ewm_*`` the size is the
        half-life.
    n_lags : int, default=1
        Lags ``0 .. n_lags - 1`` of every window when ``lags`` is None. Lag ``k``
        is the window moved back by ``k`` times its size (for ``ewm_*``: the value
        as of ``t - k * size``).
    lags : sequence of sequences of int, default=None
        Each window's lag indices, in output order; overrides ``n_lags``.
    closed : {"left", "right", "both", "neither"}
        Which ends of the window are included; for ``ewm_*`` only the right end
        matters ("left"/"neither": the strict past).
    stats : sequence of str
        See the module docstring; ``check_statistic`` validates a name.
    min_periods : int
        Fewer non-NaN values yield ``fill_value`` (for ``ewm_*``: fewer seen).
    ddof : int
        Only ``ewm_std`` reads it: 0 is the uncorrected weighted variance, any
        other value pandas' bias correction.
    fill_value : float
    out_rows : ndarray of shape (n_rows,), int64, or None
        Output row of each sorted row; -1 marks a context row. ``None``: identity.
    n_out : int

    Returns
    -------
    out : ndarray of shape (n_out, n_columns * len(stats) * n_window_lags)
        Granularity-major, then column, statistic and lag, as ``window_statistics``.
    """
    for stat in stats:
        check_statistic(stat)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"values must be 2-D, got shape {values.shape}.")
    if lags is None:
        lags = [np.arange(n_lags, dtype=np.int64) for _ in windows]
    lags = [np.asarray(lag, dtype=np.int64).reshape(-1) for lag in lags]
    n_features = values.shape[1] * len(stats) * sum(len(lag) for lag in lags)
    out = np.empty((n_out, n_features))
    if values.shape[0] == 0 or n_features == 0:
        return out
    fill_extra_statistics(
        out,
        values,
        _read_only(times, np.int64),
        _read_only(group_starts, np.int64),
        windows,
        lags,
        closed=closed,
        stats=list(stats),
        min_periods=min_periods,
        ddof=ddof,
        fill_value=fill_value,
        out_rows=_read_only(np.empty(0) if out_rows is None else out_rows, np.int64),
    )
    return out


def is_extra_statistic(stat):
    """Whether this module computes ``stat`` (a name it accepts, valid or not)."""
    return stat in FIXED_STATISTICS or quantile_level(stat) is not None


def fill_extra_statistics(
    out,
    values,
    times,
    group_starts,
    windows,
    lags,
    *,
    closed,
    stats,
    min_periods,
    ddof,
    fill_value,
    out_rows,
):
    """Write the statistics of ``stats`` this module computes into ``out``.

    ``stats`` may mix in others (``_rolling``'s), whose columns are left alone:
    the layout counts every statistic. ``times``, ``group_starts`` and
    ``out_rows`` are read-only int64 arrays (``out_rows`` empty for the identity);
    ``lags`` holds each window's lag indices (int64 arrays). Output column of
    window ``g``, column ``c``, statistic ``k`` and lag index ``j``:
    ``offset[g] + (c * n_stats + k) * n_lags[g] + j``, the layout of
    ``window_statistics``.
    """
    n_rows, n_columns = values.shape
    n_stats = len(stats)
    counts = np.array([len(lag) for lag in lags], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    offsets *= n_columns * n_stats
    task_g = np.repeat(np.arange(len(windows)), counts)
    task_lag = np.concatenate(lags).astype(np.int64)
    task_j = np.concatenate([np.arange(n) for n in counts]).astype(np.int64)
    is_time = np.array([kind == "time" for kind, _ in windows], dtype=np.bool_)
    sizes = np.array([int(size) for _, size in windows], dtype=np.int64)
    left = 1 if closed in ("left", "both") else 0
    right = 0 if closed in ("right", "both") else 1
    # (granularity, lag) bounds, the same as ``_rolling.window_sweeps``
    hi_offsets = task_lag * sizes[task_g] + right
    lo_offsets = (task_lag + 1) * sizes[task_g] + left
    task_is_time = _read_only(is_time[task_g], np.bool_)
    task_sizes = _read_only(sizes[task_g], np.int64)
    task_hi = _read_only(hi_offsets, np.int64)
    task_lo = _read_only(lo_offsets, np.int64)

    def columns_of(c, k):
        """Output column of every (granularity, lag) task for column c, stat k."""
        return offsets[task_g] + (c * n_stats + k) * counts[task_g] + task_j

    order_k = [
        k
        for k, stat in enumerate(stats)
        if stat == "median" or quantile_level(stat) is not None
    ]
    levels = np.array(
        [0.5 if stats[k] == "median" else quantile_level(stats[k]) for k in order_k]
    )
    midpoint = np.array([stats[k] == "median" for k in order_k], dtype=np.bool_)
    k_of = {stat: k for k, stat in enumerate(stats)}
    none = np.full(len(task_g), -1, np.int64)
    fill_value = float(fill_value)
    for c in range(n_columns):
        x = _read_only(values[:, c], np.float64)
        common = (x, times, group_starts)
        if order_k:
            cols = np.stack([columns_of(c, k) for k in order_k], axis=1)
            quantile_sweeps(
                *common,
                task_is_time,
                task_lo,
                task_hi,
                levels,
                midpoint,
                _read_only(cols, np.int64),
                min_periods,
                fill_value,
                out_rows,
                out,
                _BUFFER_ROWS,
            )
        if "slope" in k_of:
            slope_sweeps(
                *common,
                task_is_time,
                task_sizes,
                task_lo,
                task_hi,
                _read_only(columns_of(c, k_of["slope"]), np.int64),
                min_periods,
                fill_value,
                out_rows,
                out,
            )
        if "skew" in k_of or "kurt" in k_of:
            skew = columns_of(c, k_of["skew"]) if "skew" in k_of else none
            kurt = columns_of(c, k_of["kurt"]) if "kurt" in k_of else none
            moment_sweeps(
                *common,
                task_is_time,
                task_lo,
                task_hi,
                _read_only(skew, np.int64),
                _read_only(kurt, np.int64),
                min_periods,
                fill_value,
                out_rows,
                out,
            )
        if "ewm_mean" in k_of or "ewm_std" in k_of:
            mean = columns_of(c, k_of["ewm_mean"]) if "ewm_mean" in k_of else none
            std = columns_of(c, k_of["ewm_std"]) if "ewm_std" in k_of else none
            for g in range(len(windows)):
                # one granularity per call, its lags smallest first: the kernel
                # stores each row's state as its first lag includes the row, and
                # the further lags read those states back
                tasks = np.flatnonzero(task_g == g)
                tasks = tasks[np.argsort(task_lag[tasks], kind="stable")]
                if not len(tasks):
                    continue
                ewm_sweeps(
                    *common,
                    _read_only(is_time[g : g + 1], np.bool_),
                    _read_only(sizes[g : g + 1], np.int64),
                    _read_only(hi_offsets[tasks][None, :], np.int64),
                    _read_only(mean[tasks][None, :], np.int64),
                    _read_only(std[tasks][None, :], np.int64),
                    ddof == 0,
                    min_periods,
                    fill_value,
                    out_rows,
                    out,
                )
