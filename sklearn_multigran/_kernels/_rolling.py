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
* Sums use Neumaier's compensated summation; adding and removing a value are the same
  operation with opposite signs.
* Variance uses Welford's update extended to removal (as pandas' ``roll_var``): the
  running sum of squared deviations ``m2`` never forms a difference of two large sums
  of squares. Rounding can still leave ``m2`` slightly below zero after removals, so it
  is clamped at zero when read; a window that empties resets its state exactly.
* Min and max use monotonic deques (ring buffers of row indices), amortised O(1).
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


@njit(cache=NUMBA_CACHE, nogil=True)
def _neumaier_add(total, compensation, x):
    t = total + x
    if abs(total) >= abs(x):
        compensation += (total - t) + x
    else:
        compensation += (x - t) + total
    return t, compensation


@njit(cache=NUMBA_CACHE, nogil=True)
def _window_bounds(
    times, i, g0, g1, is_time, size, lag, left_closed, right_closed, ptr_s, ptr_e
):
    """Sorted-row bounds ``[s, e)`` of row ``i``'s window inside group ``[g0, g1)``.

    For time windows ``ptr_s``/``ptr_e`` are the previous bounds of the same window:
    the moving pointers only advance. Row windows follow pandas' ``closed`` rule on
    row positions: ``size`` rows for "left"/"right", ``size + 1`` for "both",
    ``size - 1`` for "neither", clipped at the start of the group.
    """
    if is_time:
        hi = times[i] - lag * size
        lo = hi - size
        s = ptr_s
        if left_closed:
            while s < g1 and times[s] < lo:
                s += 1
        else:
            while s < g1 and times[s] <= lo:
                s += 1
        e = max(ptr_e, s)
        if right_closed:
            while e < g1 and times[e] <= hi:
                e += 1
        else:
            while e < g1 and times[e] < hi:
                e += 1
        return s, e
    end = i - lag * size
    s = end - size + (0 if left_closed else 1)
    e = end + (1 if right_closed else 0)
    s = max(s, g0)
    e = max(e, s)
    return s, e


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
    capacity,
):
    """Every statistic of one window (granularity, lag) over one column, in one sweep.

    Writes statistic ``k`` of sorted row ``i`` to ``out[out_rows[i], first_col + k *
    col_step]``, for the sorted rows ``[row_lo, row_hi)``; rows before ``row_lo`` are
    read as window context, so chunks of one sweep are independent. ``out_rows[i] ==
    -1`` marks a context row (history from ``fit``) that feeds windows but is not
    emitted.

    The state of the sweep lives in scalars, which the compiler keeps in registers:
    fusing all windows into one loop over rows, with the state in arrays indexed by
    window, measured 5x slower for the same work.
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

    # a power-of-two ring lets a bit mask replace the modulo, which costs more than
    # the rest of a deque step
    cap = 1
    if need_min or need_max:
        while cap < capacity:
            cap *= 2
    mask = cap - 1
    min_buf = np.empty(cap if need_min else 1, np.int64)
    max_buf = np.empty(cap if need_max else 1, np.int64)

    group = np.searchsorted(group_starts, row_lo, side="right") - 1
    g0 = -1
    g1 = -1
    cur_s = 0
    cur_e = 0
    count = 0
    total = 0.0
    compensation = 0.0
    mean = 0.0
    m2 = 0.0
    shift = 0.0
    first = 0
    last = 0
    min_head = 0
    min_tail = 0
    max_head = 0
    max_tail = 0
    same_run = 0
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
            min_head = 0
            min_tail = 0
            max_head = 0
            max_tail = 0
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
                t = total - v
                if abs(total) >= abs(v):
                    compensation += (total - t) - v
                else:
                    compensation += (-v - t) + total
                total = t
            if need_var:
                delta = v - mean
                mean -= delta / count
                m2 -= delta * (v - mean)
        if need_min:
            while min_head < min_tail and min_buf[min_head & mask] < s:
                min_head += 1
        if need_max:
            while max_head < max_tail and max_buf[max_head & mask] < s:
                max_head += 1
        for j in range(cur_e, e):
            v = x[j]
            if np.isnan(v):
                continue
            if need_min:
                while min_tail > min_head and v <= x[min_buf[(min_tail - 1) & mask]]:
                    min_tail -= 1
                min_buf[min_tail & mask] = j
                min_tail += 1
            if need_max:
                while max_tail > max_head and v >= x[max_buf[(max_tail - 1) & mask]]:
                    max_tail -= 1
                max_buf[max_tail & mask] = j
                max_tail += 1
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
                t = total + v
                if abs(total) >= abs(v):
                    compensation += (total - t) + v
                else:
                    compensation += (v - t) + total
                total = t
            if need_var:
                delta = v - mean
                mean += delta / count
                m2 += delta * (v - mean)
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
                result = x[min_buf[min_head & mask]]
            elif code == 4:
                result = x[max_buf[max_head & mask]]
            elif code == 7:
                result = x[first]
            else:
                result = x[last]
            out[dest, first_col + k * col_step] = result


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
    """All sweeps (granularity x lag x column x row chunk) shared out among threads.

    Chunks may cut through a group: each rebuilds its window from the rows before
    it, which costs one window's length per chunk.
    """
    n_columns = columns.shape[0]
    n_granularities = sizes.shape[0]
    n_chunks = chunk_starts.shape[0] - 1
    n_stats = stat_codes.shape[0]
    n_tasks = n_granularities * n_lags * n_columns * n_chunks
    for task in prange(n_tasks):
        chunk = task % n_chunks
        rest = task // n_chunks
        c = rest % n_columns
        rest //= n_columns
        lag = rest % n_lags
        g = rest // n_lags
        first_col = ((g * n_columns + c) * n_stats) * n_lags + lag
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
            first_col,
            n_lags,
            chunk_starts[chunk],
            chunk_starts[chunk + 1],
            capacity,
        )
