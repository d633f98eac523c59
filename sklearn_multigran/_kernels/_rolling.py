"""Trailing-window accumulators: every statistic, granularity and lag in one pass.

numba only: no pandas, no scikit-learn. The Python side (``_dispatch.py``) sorts the
rows, converts dtypes and allocates ``out``; the kernels here are loops that write into
it.

Layout of the work
------------------
Rows are sorted by (group, time, input position). Each (granularity, lag) pair is a
*window*: for row ``i`` it covers the sorted rows ``[s, e)`` of ``i``'s group. Both ends
move forward monotonically inside a group, and no window is ever materialised.

Every window splits its rows in two, the "two stacks" of a sliding-window
aggregation: an older part ``[s, boundary)`` summarised by *suffix summaries* (for
each row, the count, mean, squared deviations, sum, min and max of the rows from it
to the boundary), and a newer part ``[boundary, e)`` summarised by running ones. A
row entering updates the newer summary; a row leaving costs nothing (``s`` moves
on, and the suffix summary at the new ``s`` already excludes it); a query merges
the suffix summary at ``s`` with the newer one. When ``s`` passes the boundary,
the whole window becomes the older part: its suffix summaries are rebuilt right to
left, each row once per window length, so the work stays O(n) per window whatever
its length. Rows leaving never subtract anything, so there is nothing for
rounding to build up in, and no data-dependent loop (a monotonic deque for min and
max mispredicted a branch on most pushes and measured 3x slower on a random walk).

Numerical choices
-----------------
* Values enter the summaries shifted by ``K``, the newest value at the last rebuild,
  which stays inside the window until the next one. For data like ``1e9 + noise``
  the shifted values are small, so no summary loses the noise to cancellation;
  ``x - K`` is exact whenever ``K/2 <= x <= 2K`` (Sterbenz).
* Means and squared deviations follow Welford's update (adding only), merged with
  Chan, Golub and LeVeque's formula ``m2 = m2_a + m2_b + delta^2 n_a n_b / n``: a
  sum of non-negative terms, so a variance is never negative, and equal values
  give exactly ``m2 = 0`` (and their own value as the mean). Std stays at 1e-15
  relative on a 2M-step random walk at 1e6, where pandas' ``rolling().std()`` is
  off by 1e-7.
* Sums are compensated with Knuth's branch-free TwoSum.
* ``1 / k`` comes from a table rather than a division: a load in place of a
  long-latency instruction in the chain of dependent updates.
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
def max_window_rows(
    times, group_starts, is_time, sizes, n_lags, closed_both_extra, row_lo, row_hi
):
    """An upper bound on the rows any window of the sorted rows [row_lo, row_hi) holds.

    A row window of ``size`` rows holds at most ``size`` (+1 for closed="both").
    A time window spans at most ``size`` time units, so all its rows lie in
    ``[t_j, t_j + size]`` for its first row ``j``; a two-pointer sweep over the
    rows where those windows can start finds the largest such count. A longer
    window holds every shorter one that ends where it ends, so only the longest
    time window needs the sweep.
    """
    bound = 1
    longest = -1
    for g in range(sizes.shape[0]):
        if not is_time[g]:
            bound = max(bound, sizes[g] + closed_both_extra)
        elif longest < 0 or sizes[g] > sizes[longest]:
            longest = g
    if longest < 0 or row_lo >= row_hi:
        return bound
    size = sizes[longest]
    k = np.searchsorted(group_starts, row_lo, side="right") - 1
    # the windows of row_lo reach (n_lags + 1) windows back into its group
    g0 = group_starts[k]
    reach = times[row_lo] - (n_lags + 1) * size
    first = g0 + np.searchsorted(times[g0:row_lo], reach, side="left")
    while k < group_starts.shape[0] - 1 and group_starts[k] < row_hi:
        g1 = group_starts[k + 1]
        e = first
        for j in range(first, min(g1, row_hi)):
            if e < j:
                e = j
            while e < g1 and times[e] - times[j] <= size:
                e += 1
            bound = max(bound, e - j)
        k += 1
        first = g1
    return bound
    size = sizes[longest]
    # the first row of a window before row_lo can lie a window back; starting a
    # window length early covers it (windows never cross a group start)
    first = (
        np.searchsorted(times[:row_lo], times[row_lo] - size, side="left")
        if row_lo < row_hi
        else row_lo
    )
    k = np.searchsorted(group_starts, first, side="right") - 1
    while k < group_starts.shape[0] - 1 and group_starts[k] < row_hi:
        g0 = max(group_starts[k], first)
        g1 = group_starts[k + 1]
        last = min(g1, row_hi)
        e = g0
        for j in range(g0, last):
            if e < j:
                e = j
            while e < g1 and times[e] - times[j] <= size:
                e += 1
            bound = max(bound, e - j)
        k += 1
    return bound
    size = sizes[longest]
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
_I_GROUP, _I_G0, _I_G1, _I_S, _I_E, _I_FIRST, _I_LAST, _I_BOUNDARY = range(8)
_I_NEWER_COUNT = 8
_N_ISTATE = 9
_F_SHIFT, _F_NEWER_MEAN, _F_NEWER_M2, _F_NEWER_MIN, _F_NEWER_MAX = range(5)
_F_NEWER_SUM, _F_NEWER_COMPENSATION = 5, 6
_N_FSTATE = 7
# fields of a row's suffix summary in a sweep's ring (see ``window_sweep``)
_R_COUNT, _R_MEAN, _R_M2, _R_MIN, _R_MAX, _R_SUM = range(6)
_N_RINGS = 6


@njit(cache=NUMBA_CACHE, nogil=True, inline="always")
def _welford_add(count, mean, m2, v, reciprocals):
    """Add ``v`` to the ``count`` values of mean ``mean`` and squared deviations ``m2``.

    ``count`` is the count after the addition; ``reciprocals[k]`` is ``1 / k``: a
    load in place of a division, off the chain of dependent updates of the mean.
    """
    delta = v - mean
    mean += delta * reciprocals[count]
    m2 += delta * (v - mean)
    return mean, m2


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
    ring,
    reciprocals,
):
    """Every statistic of one window (granularity, lag) over one column, one sweep.

    Writes statistic ``k`` of sorted row ``i`` to ``out[out_rows[i], first_col + k *
    col_step]``, for the sorted rows ``[row_lo, row_hi)``; an empty ``out_rows``
    maps row ``i`` to output row ``i``. ``out_rows[i] == -1`` marks a context row
    (history from ``fit``) that feeds windows but is not emitted.

    The window ``[s, e)`` is split at ``boundary``: the older rows ``[s,
    boundary)`` are summarised by suffix summaries in ``ring`` (one per row,
    computed right to left when the window last became all older part), the
    newer rows ``[boundary, e)`` by running ones. A row entering updates the newer
    summary; a row leaving costs nothing; a query merges two summaries. Nothing
    is ever subtracted, so no rounding from past removals can build up.

    The sweep resumes from ``istate``/``fstate`` and leaves its state there, so a
    driver can run all sweeps block by block over the same rows; ``istate[_I_G1] ==
    -1`` starts afresh, reading rows before ``row_lo`` as window context. Inside,
    the state lives in scalars, which the compiler keeps in registers: fusing all
    windows into one loop over rows with the state in arrays indexed by window
    measured 5x slower. ``ring`` has a power-of-two length of at least the
    largest window's row count, and ``reciprocals`` (``1 / k`` at ``k``) one more
    entry than it.
    """
    need_sum = False
    need_moments = False
    need_min = False
    need_max = False
    need_first = False
    for code in stat_codes:
        need_sum |= code == 5
        need_moments |= code == 0 or code == 1 or code == 2
        need_min |= code == 3
        need_max |= code == 4
        need_first |= code == 7
    # the output column of each statistic, -1 when not requested; every statistic
    # but count and sum is ``fill_value`` for a window with too few values
    cols = np.full(9, -1, np.int64)
    for k in range(stat_codes.shape[0]):
        cols[stat_codes[k]] = first_col + k * col_step
    col_mean, col_std, col_var = cols[0], cols[1], cols[2]
    col_min, col_max, col_sum, col_count = cols[3], cols[4], cols[5], cols[6]
    col_first, col_last = cols[7], cols[8]
    identity_rows = out_rows.shape[0] == 0
    # a power-of-two ring lets a bit mask replace a modulo
    mask = ring.shape[0] - 1

    group = istate[_I_GROUP]
    g0 = istate[_I_G0]
    g1 = istate[_I_G1]
    if g1 < 0:
        group = np.searchsorted(group_starts, row_lo, side="right") - 1
    cur_s = istate[_I_S]
    cur_e = istate[_I_E]
    first = istate[_I_FIRST]
    last = istate[_I_LAST]
    boundary = istate[_I_BOUNDARY]
    newer_count = istate[_I_NEWER_COUNT]
    # values enter the summaries minus ``shift``, the newest value at the last
    # rebuild, which stays inside the window until the next one
    shift = fstate[_F_SHIFT]
    newer_mean = fstate[_F_NEWER_MEAN]
    newer_m2 = fstate[_F_NEWER_M2]
    newer_min = fstate[_F_NEWER_MIN]
    newer_max = fstate[_F_NEWER_MAX]
    newer_sum = fstate[_F_NEWER_SUM]
    newer_compensation = fstate[_F_NEWER_COMPENSATION]
    # Row j is in row i's window when lo < key(j) <= hi, with key(j) the time of j
    # for a time window and j itself for a row window (whose size counts rows):
    # one pair of comparisons then serves every ``closed``.
    hi_offset = lag * size + (0 if right_closed else 1)
    lo_offset = (lag + 1) * size + (1 if left_closed else 0)
    for i in range(row_lo, row_hi):
        key_i = times[i] if is_time else i
        hi = key_i - hi_offset
        lo = key_i - lo_offset
        if i >= g1:
            # entering a group, or the chunk: restart the window and its pointers
            while i >= group_starts[group + 1]:
                group += 1
            g0 = group_starts[group]
            g1 = group_starts[group + 1]
            if is_time:
                # binary search, so a chunk deep in a long group does not rescan it
                start = g0 + np.searchsorted(times[g0:g1], lo, side="right")
            else:
                start = min(max(lo + 1, g0), g1)
            cur_s = start
            cur_e = start
            boundary = start
            newer_count = 0
            # nothing of another series may reach this one's results, not even
            # through the rounding of its shift
            shift = 0.0

        # both ends only move forward inside a group; rows leaving cost nothing
        s = cur_s
        while s < g1 and (times[s] if is_time else s) <= lo:
            s += 1
        e = max(cur_e, s)
        while e < g1 and (times[e] if is_time else e) <= hi:
            v = x[e]
            e += 1
            if np.isnan(v):
                continue
            last = e - 1
            newer_count += 1
            newer_min = min(newer_min, v)
            newer_max = max(newer_max, v)
            v -= shift
            if need_moments:
                newer_mean, newer_m2 = _welford_add(
                    newer_count, newer_mean, newer_m2, v, reciprocals
                )
            if need_sum:
                newer_sum, newer_compensation = _two_sum(
                    newer_sum, newer_compensation, v
                )
        if s >= boundary:
            # The older part has left: the whole window becomes the older part.
            # Summarise every suffix of it, right to left, around its newest value.
            # Each row is read once more per window length: amortised O(1).
            if e > s and not np.isnan(x[last]) and last >= s:
                shift = x[last]
            n_valid = 0
            mean = 0.0
            m2 = 0.0
            suffix_min = np.inf
            suffix_max = -np.inf
            total = 0.0
            compensation = 0.0
            for j in range(e - 1, s - 1, -1):
                v = x[j]
                if not np.isnan(v):
                    n_valid += 1
                    suffix_min = min(suffix_min, v)
                    suffix_max = max(suffix_max, v)
                    v -= shift
                    if need_moments:
                        mean, m2 = _welford_add(n_valid, mean, m2, v, reciprocals)
                    if need_sum:
                        total, compensation = _two_sum(total, compensation, v)
                r = j & mask
                ring[r, _R_COUNT] = n_valid
                ring[r, _R_MEAN] = mean
                ring[r, _R_M2] = m2
                ring[r, _R_MIN] = suffix_min
                ring[r, _R_MAX] = suffix_max
                ring[r, _R_SUM] = total + compensation
            boundary = e
            newer_count = 0
            newer_mean = 0.0
            newer_m2 = 0.0
            newer_min = np.inf
            newer_max = -np.inf
            newer_sum = 0.0
            newer_compensation = 0.0
        cur_s = s
        cur_e = e

        dest = i if identity_rows else out_rows[i]
        if dest < 0:
            continue
        r = s & mask
        older_count = int(ring[r, _R_COUNT]) if s < boundary else 0
        count = older_count + newer_count
        if col_count >= 0:
            out[dest, col_count] = count
        if col_sum >= 0:
            if count < min_periods:
                out[dest, col_sum] = fill_value
            elif count == 0:
                out[dest, col_sum] = 0.0
            else:
                older_sum = ring[r, _R_SUM] if older_count > 0 else 0.0
                out[dest, col_sum] = (older_sum + (newer_sum + newer_compensation)) + (
                    count * shift
                )
        if count < min_periods or count == 0:
            for col in (
                col_mean,
                col_std,
                col_var,
                col_min,
                col_max,
                col_first,
                col_last,
            ):
                if col >= 0:
                    out[dest, col] = fill_value
            continue
        if need_moments:
            # merge the two summaries (Chan et al.): every term is non-negative,
            # and two parts holding one value give exactly that mean and m2 = 0
            if older_count == 0:
                mean = newer_mean
                m2 = newer_m2
            elif newer_count == 0:
                mean = ring[r, _R_MEAN]
                m2 = ring[r, _R_M2]
            else:
                older_mean = ring[r, _R_MEAN]
                delta = newer_mean - older_mean
                weight = newer_count * reciprocals[count]
                mean = older_mean + delta * weight
                m2 = ring[r, _R_M2] + newer_m2 + delta * delta * older_count * weight
            if col_mean >= 0:
                # m2 == 0: equal values only (Welford keeps m2 exactly 0 on them),
                # whose mean is exactly that value whatever the shift's rounding
                out[dest, col_mean] = x[last] if m2 == 0.0 else shift + mean
            if col_var >= 0 or col_std >= 0:
                if count <= ddof:
                    var = fill_value
                    std = fill_value
                else:
                    var = m2 * reciprocals[count - ddof]
                    std = np.sqrt(var)
                if col_var >= 0:
                    out[dest, col_var] = var
                if col_std >= 0:
                    out[dest, col_std] = std
        if col_min >= 0:
            older_min = ring[r, _R_MIN] if older_count > 0 else np.inf
            out[dest, col_min] = min(older_min, newer_min)
        if col_max >= 0:
            older_max = ring[r, _R_MAX] if older_count > 0 else -np.inf
            out[dest, col_max] = max(older_max, newer_max)
        if col_first >= 0:
            first = max(first, s)
            while np.isnan(x[first]):
                first += 1
            out[dest, col_first] = x[first]
        if col_last >= 0:
            out[dest, col_last] = x[last]

    istate[_I_GROUP] = group
    istate[_I_G0] = g0
    istate[_I_G1] = g1
    istate[_I_S] = cur_s
    istate[_I_E] = cur_e
    istate[_I_FIRST] = first
    istate[_I_LAST] = last
    istate[_I_BOUNDARY] = boundary
    istate[_I_NEWER_COUNT] = newer_count
    fstate[_F_SHIFT] = shift
    fstate[_F_NEWER_MEAN] = newer_mean
    fstate[_F_NEWER_M2] = newer_m2
    fstate[_F_NEWER_MIN] = newer_min
    fstate[_F_NEWER_MAX] = newer_max
    fstate[_F_NEWER_SUM] = newer_sum
    fstate[_F_NEWER_COMPENSATION] = newer_compensation


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
):
    """All sweeps (granularity x lag x column) over sorted rows [row_lo, row_hi).

    The sweeps advance together, block by block; rows before ``row_lo`` are window
    context, so drivers may split the rows into independent chunks.
    """
    n_columns = columns.shape[0]
    n_granularities = sizes.shape[0]
    n_stats = stat_codes.shape[0]
    n_tasks = n_granularities * n_lags * n_columns
    # a ring of every window's rows; chunks size their own, in parallel
    capacity = max_window_rows(
        times,
        group_starts,
        is_time,
        sizes,
        n_lags,
        1 if left_closed and right_closed else 0,
        row_lo,
        row_hi,
    )
    cap = 1
    while cap < capacity:
        cap *= 2
    istate = np.zeros((n_tasks, _N_ISTATE), np.int64)
    istate[:, _I_G1] = -1
    fstate = np.zeros((n_tasks, _N_FSTATE))
    rings = np.empty((n_tasks, cap, _N_RINGS))
    reciprocals = 1.0 / np.arange(cap + 1.0)
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
                rings[task],
                reciprocals,
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
        )
