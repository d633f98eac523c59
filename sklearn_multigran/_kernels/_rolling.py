"""Trailing-window accumulators: every statistic, granularity and lag in one pass.

numba only: no pandas, no scikit-learn. The Python side (``_dispatch.py``) sorts the
rows, converts dtypes and allocates ``out``; the kernels here are loops that write into
it.

Layout of the work
------------------
Rows are sorted by (group, time, input position). Each (granularity, lag) pair is a
*window*: for row ``i`` it covers the sorted rows ``[s, e)`` of ``i``'s group. Both ends
move forward monotonically inside a group, so every window keeps running accumulators
and visits each row once when it enters and once when it leaves: O(n) per window
whatever its length, and no window is ever materialised.

Numerical choices
-----------------
* Values enter the accumulators shifted by a constant ``K`` (the first finite value of
  the chunk's group, per column). For data like ``1e9 + noise`` the shifted values are
  small, so neither the sum nor the running mean loses the noise to cancellation.
  ``x - K`` is exact whenever ``K/2 <= x <= 2K`` (Sterbenz), the usual case here.
* Sums are compensated with Knuth's branch-free TwoSum; adding and removing a value
  are the same operation with opposite signs.
* Variance uses Welford's update extended to removal (as pandas' ``roll_var``): the
  running sum of squared deviations ``m2`` never forms a difference of two large sums
  of squares. Rounding can still leave ``m2`` slightly below zero after removals, so it
  is clamped at zero when read; a window that empties resets its state exactly.
* Running updates still accumulate rounding over millions of rows, so each window
  rebuilds its sums and moments from its own rows, around its newest value, every
  time its rows have all been replaced (amortised O(1) per row). The error then
  never carries over more than one window: std stays at 1e-15 relative on a 2M-step
  random walk at 1e6, where pandas' ``rolling().std()`` is off by 1e-7.
* Min and max split the window in two: an older part summarised by suffix extremes
  (rebuilt right to left each time the older part has left the window) and a newer
  part summarised by running extremes. A query is one ``min`` of two numbers and an
  update needs no data-dependent loop, where a monotonic deque mispredicts a branch
  on most pushes: on a random walk this measured 3x faster than a deque.
* A constant window (one value, or equal values only: tracked by the run of equal
  values ending at the newest one) reports that value as its mean and exactly 0 as
  its variance, instead of whatever rounding left in the accumulators.
"""

import numpy as np
from numba import njit, prange

from sklearn_multigran._config import NUMBA_CACHE

STAT_CODES = {
    "mean": 0,
    "std": 1,
    "var": 2,
    "min": 3,
    "max": 4,
    "sum": 5,
    "count": 6,
    "first": 7,
    "last": 8,
}


@njit(cache=NUMBA_CACHE, nogil=True, inline="always")
def _two_sum(total, compensation, x):
    """Add ``x`` to a compensated sum with Knuth's branch-free TwoSum.

    Neumaier's variant branches on ``|total| >= |x|``, which data make
    unpredictable; TwoSum spends three more flops and never mispredicts.
    """
    t = total + x
    virtual = t - total
    compensation += (total - (t - virtual)) + (x - virtual)
    return t, compensation


@njit(cache=NUMBA_CACHE, nogil=True)
def max_window_rows(times, group_starts, is_time, sizes, n_lags, closed_both_extra):
    """An upper bound on the number of rows any window can hold (deque capacity).

    A time window spans at most ``size`` time units, so all its rows lie in
    ``[t_j, t_j + size]`` for its first row ``j``; a two-pointer sweep finds the
    largest such count.
    """
    bound = 1
    for g in range(sizes.shape[0]):
        size = sizes[g]
        if not is_time[g]:
            bound = max(bound, size + closed_both_extra)
            continue
        for k in range(group_starts.shape[0] - 1):
            g0 = group_starts[k]
            g1 = group_starts[k + 1]
            e = g0
            for j in range(g0, g1):
                if e < j:
                    e = j
                while e < g1 and times[e] - times[j] <= size:
                    e += 1
                bound = max(bound, e - j)
    return bound


# slots of a sweep's state between blocks of rows (see ``window_sweep``)
_I_GROUP, _I_G0, _I_G1, _I_S, _I_E, _I_COUNT, _I_FIRST, _I_LAST = range(8)
_I_BOUNDARY, _I_SAME_RUN = 8, 9
_N_ISTATE = 10
_F_TOTAL, _F_COMPENSATION, _F_MEAN, _F_M2, _F_SHIFT, _F_NEWER_MIN = range(6)
_F_NEWER_MAX = 6
_N_FSTATE = 7


@njit(cache=NUMBA_CACHE, nogil=True)
def window_sweep(
    x,
    times,
    group_starts,
    is_time,
    size,
    lag,
    left_closed,
    right_closed,
    stat_codes,
    min_periods,
    ddof,
    fill_value,
    out_rows,
    out,
    first_col,
    col_step,
    row_lo,
    row_hi,
    istate,
    fstate,
    min_suffix,
    max_suffix,
):
    """Every statistic of one window (granularity, lag) over one column, one sweep.

    Writes statistic ``k`` of sorted row ``i`` to ``out[out_rows[i], first_col + k *
    col_step]``, for the sorted rows ``[row_lo, row_hi)``. ``out_rows[i] == -1``
    marks a context row (history from ``fit``) that feeds windows but is not
    emitted.

    The sweep resumes from ``istate``/``fstate`` and leaves its state there, so a
    driver can run all sweeps block by block over the same rows; ``istate[_I_G1] ==
    -1`` starts afresh, reading rows before ``row_lo`` as window context. Inside,
    the state lives in scalars, which the compiler keeps in registers: fusing all
    windows into one loop over rows with the state in arrays indexed by window
    measured 5x slower. ``min_suffix``/``max_suffix`` have a power-of-two length of
    at least the largest window's row count.
    """
    need_sum = False
    need_var = False
    need_min = False
    need_max = False
    need_first = False
    for code in stat_codes:
        need_sum |= code == 0 or code == 5
        need_var |= code == 1 or code == 2
        need_min |= code == 3
        need_max |= code == 4
        need_first |= code == 7
    n_stats = stat_codes.shape[0]
    # a power-of-two ring lets a bit mask replace a modulo
    mask = max(min_suffix.shape[0], max_suffix.shape[0]) - 1

    group = istate[_I_GROUP]
    g0 = istate[_I_G0]
    g1 = istate[_I_G1]
    if g1 < 0:
        group = np.searchsorted(group_starts, row_lo, side="right") - 1
    cur_s = istate[_I_S]
    cur_e = istate[_I_E]
    count = istate[_I_COUNT]
    first = istate[_I_FIRST]
    last = istate[_I_LAST]
    # rows [s, boundary) of the window are summarised by the suffix arrays, rows
    # [boundary, e) by the running extremes of the newer part
    boundary = istate[_I_BOUNDARY]
    same_run = istate[_I_SAME_RUN]
    total = fstate[_F_TOTAL]
    compensation = fstate[_F_COMPENSATION]
    mean = fstate[_F_MEAN]
    m2 = fstate[_F_M2]
    shift = fstate[_F_SHIFT]
    newer_min = fstate[_F_NEWER_MIN]
    newer_max = fstate[_F_NEWER_MAX]
    for i in range(row_lo, row_hi):
        if i >= g1:
            # entering a group, or the chunk: restart the window and its pointers
            while i >= group_starts[group + 1]:
                group += 1
            g0 = group_starts[group]
            g1 = group_starts[group + 1]
            start = g0
            if is_time:
                # binary search, so a chunk deep in a long group does not rescan it
                lo = times[i] - (lag + 1) * size
                start = g0 + np.searchsorted(times[g0:g1], lo, side="left")
            cur_s = start
            cur_e = start
            count = 0
            shift = 0.0
            for j in range(start, g1):
                if not np.isnan(x[j]):
                    shift = x[j]
                    break

        # window bounds [s, e) of row i; both only move forward inside a group
        if is_time:
            hi = times[i] - lag * size
            lo = hi - size
            s = cur_s
            if left_closed:
                while s < g1 and times[s] < lo:
                    s += 1
            else:
                while s < g1 and times[s] <= lo:
                    s += 1
            e = max(cur_e, s)
            if right_closed:
                while e < g1 and times[e] <= hi:
                    e += 1
            else:
                while e < g1 and times[e] < hi:
                    e += 1
        else:
            end = i - lag * size
            s = max(end - size + (0 if left_closed else 1), g0)
            e = max(end + (1 if right_closed else 0), s)

        if s >= cur_e or count == 0:
            # disjoint from (or nothing kept of) the previous window: start afresh
            # rather than removing and re-adding, which only accumulates rounding
            cur_s = s
            cur_e = max(cur_e, s)
            count = 0
            total = 0.0
            compensation = 0.0
            mean = 0.0
            m2 = 0.0
            boundary = s
            newer_min = np.inf
            newer_max = -np.inf
            same_run = 0
            first = s
        # remove the rows that left, then add those that entered, so the deques
        # never hold more than one window's rows
        for j in range(cur_s, s):
            v = x[j]
            if np.isnan(v):
                continue
            count -= 1
            if count == 0:
                total = 0.0
                compensation = 0.0
                mean = 0.0
                m2 = 0.0
                continue
            v -= shift
            if need_sum:
                total, compensation = _two_sum(total, compensation, -v)
            if need_var:
                delta = v - mean
                mean -= delta * (1.0 / count)
                m2 -= delta * (v - mean)
        for j in range(cur_e, e):
            v = x[j]
            if np.isnan(v):
                continue
            newer_min = min(newer_min, v)
            newer_max = max(newer_max, v)
            # the run of equal values ending at the newest one: once it covers the
            # whole window the window is constant, and its variance is exactly 0
            # whatever rounding the removals left in m2 (pandas does the same)
            if count > 0 and v == x[last]:
                same_run += 1
            else:
                same_run = 1
            last = j
            count += 1
            v -= shift
            if need_sum:
                total, compensation = _two_sum(total, compensation, v)
            if need_var:
                # the reciprocal depends on the count only, so the division runs
                # beside the chain of dependent updates of the mean, not inside it
                delta = v - mean
                mean += delta * (1.0 / count)
                m2 += delta * (v - mean)
        if s >= boundary and (need_min or need_max or need_sum or need_var):
            # The older part has left: rebuild the window's summary from its rows,
            # right to left. Min and max need it (the whole window becomes the
            # older part); the sums and moments are recomputed fresh, around the
            # newest value, so the rounding of past removals never outlives one
            # window (on a 2M-step random walk this kept std at 1e-10 relative
            # where running updates alone drifted to 1e-8). Each row is read once
            # more per window length: amortised O(1) per row.
            new_shift = x[last] if count > 0 else shift
            running_min = np.inf
            running_max = -np.inf
            n_valid = 0
            total = 0.0
            compensation = 0.0
            mean = 0.0
            m2 = 0.0
            for j in range(e - 1, s - 1, -1):
                v = x[j]
                if not np.isnan(v):
                    running_min = min(running_min, v)
                    running_max = max(running_max, v)
                    n_valid += 1
                    v -= new_shift
                    total, compensation = _two_sum(total, compensation, v)
                    delta = v - mean
                    mean += delta * (1.0 / n_valid)
                    m2 += delta * (v - mean)
                if need_min:
                    min_suffix[j & mask] = running_min
                if need_max:
                    max_suffix[j & mask] = running_max
            shift = new_shift
            boundary = e
            newer_min = np.inf
            newer_max = -np.inf
        cur_s = s
        cur_e = e

        dest = out_rows[i]
        if dest < 0:
            continue
        if need_first and count > 0:
            first = max(first, s)
            while np.isnan(x[first]):
                first += 1
        enough = count >= min_periods and count > 0
        for k in range(n_stats):
            code = stat_codes[k]
            if code == 6:
                result = float(count)
            elif code == 5:
                if count >= min_periods:
                    result = total + compensation + count * shift if count > 0 else 0.0
                else:
                    result = fill_value
            elif not enough:
                result = fill_value
            elif code == 0:
                if same_run >= count:
                    result = x[last]
                else:
                    result = shift + (total + compensation) / count
            elif code == 1 or code == 2:
                if count <= ddof:
                    result = fill_value
                elif same_run >= count:
                    result = 0.0
                else:
                    result = max(m2, 0.0) / (count - ddof)
                    if code == 1:
                        result = np.sqrt(result)
            elif code == 3:
                result = min(min_suffix[s & mask], newer_min)
            elif code == 4:
                result = max(max_suffix[s & mask], newer_max)
            elif code == 7:
                result = x[first]
            else:
                result = x[last]
            out[dest, first_col + k * col_step] = result

    istate[_I_GROUP] = group
    istate[_I_G0] = g0
    istate[_I_G1] = g1
    istate[_I_S] = cur_s
    istate[_I_E] = cur_e
    istate[_I_COUNT] = count
    istate[_I_FIRST] = first
    istate[_I_LAST] = last
    istate[_I_BOUNDARY] = boundary
    istate[_I_SAME_RUN] = same_run
    fstate[_F_TOTAL] = total
    fstate[_F_COMPENSATION] = compensation
    fstate[_F_MEAN] = mean
    fstate[_F_M2] = m2
    fstate[_F_SHIFT] = shift
    fstate[_F_NEWER_MIN] = newer_min
    fstate[_F_NEWER_MAX] = newer_max


# Rows per block: every sweep passes over one block before the next, so the block's
# output rows (block x features x 8 bytes) are written while they sit in cache,
# instead of each sweep streaming the whole output through memory once more.
_BLOCK_ROWS = 2048


@njit(cache=NUMBA_CACHE, nogil=True)
def window_sweeps(
    columns,
    times,
    group_starts,
    is_time,
    sizes,
    n_lags,
    left_closed,
    right_closed,
    stat_codes,
    min_periods,
    ddof,
    fill_value,
    out_rows,
    out,
    row_lo,
    row_hi,
    capacity,
):
    """All sweeps (granularity x lag x column) over sorted rows [row_lo, row_hi).

    The sweeps advance together, block by block; rows before ``row_lo`` are window
    context, so drivers may split the rows into independent chunks.
    """
    n_columns = columns.shape[0]
    n_granularities = sizes.shape[0]
    n_stats = stat_codes.shape[0]
    n_tasks = n_granularities * n_lags * n_columns
    need_extremes = False
    for code in stat_codes:
        need_extremes |= code == 3 or code == 4
    cap = 1
    while need_extremes and cap < capacity:
        cap *= 2
    istate = np.zeros((n_tasks, _N_ISTATE), np.int64)
    istate[:, _I_G1] = -1
    fstate = np.zeros((n_tasks, _N_FSTATE))
    suffixes = np.empty((n_tasks, 2, cap))
    for block_lo in range(row_lo, row_hi, _BLOCK_ROWS):
        block_hi = min(block_lo + _BLOCK_ROWS, row_hi)
        for task in range(n_tasks):
            c = task % n_columns
            lag = (task // n_columns) % n_lags
            g = task // (n_columns * n_lags)
            window_sweep(
                columns[c],
                times,
                group_starts,
                is_time[g],
                sizes[g],
                lag,
                left_closed,
                right_closed,
                stat_codes,
                min_periods,
                ddof,
                fill_value,
                out_rows,
                out,
                ((g * n_columns + c) * n_stats) * n_lags + lag,
                n_lags,
                block_lo,
                block_hi,
                istate[task],
                fstate[task],
                suffixes[task, 0],
                suffixes[task, 1],
            )


@njit(cache=NUMBA_CACHE, parallel=True)
def window_sweeps_parallel(
    columns,
    times,
    group_starts,
    is_time,
    sizes,
    n_lags,
    left_closed,
    right_closed,
    stat_codes,
    min_periods,
    ddof,
    fill_value,
    out_rows,
    out,
    chunk_starts,
    capacity,
):
    """``window_sweeps`` over row chunks shared out among threads.

    Chunks may cut through a group: each rebuilds its windows from the rows before
    it, which costs one window's length per chunk.
    """
    for k in prange(chunk_starts.shape[0] - 1):
        window_sweeps(
            columns,
            times,
            group_starts,
            is_time,
            sizes,
            n_lags,
            left_closed,
            right_closed,
            stat_codes,
            min_periods,
            ddof,
            fill_value,
            out_rows,
            out,
            chunk_starts[k],
            chunk_starts[k + 1],
            capacity,
        )
