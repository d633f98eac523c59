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
each row, the count, sum, sum of squares, min and max of the rows from it to the
boundary), and a newer part ``[boundary, e)`` summarised by running ones. A
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
* Each part of a window sums its values minus a shift that is one of its own values
  (the newest at the rebuild for the older part, the first to enter for the newer
  one), so for data like ``1e9 + noise`` the sums hold the noise, not the offset,
  and a level shift across a gap is measured from the new level. ``x - K`` is exact
  whenever ``K/2 <= x <= 2K`` (Sterbenz).
* A part keeps its count, compensated sum (Knuth's branch-free TwoSum) and sum of
  squares of the shifted values. With the shift one of the part's values, the sum
  of squares is at most ``count + 1`` times the squared deviations it yields, so
  ``squares - total^2 / count`` cancels little; the two parts merge exactly (the
  newer part's sums moved to the older part's shift), and a variance is clamped
  at 0, never negative. Std stays at 2e-15 relative on a 2M-step random walk at
  1e6, where pandas' ``rolling().std()`` is off by 1e-7. Power sums rather than
  Welford's update: one dependent add per value instead of three, and the sum
  statistic comes with them.
* A window whose minimum equals its maximum holds equal values: its mean is
  exactly that value and its variance exactly 0, whatever the rounding.
* ``1 / k`` comes from a table rather than a division.
"""

import math

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
_N_STATS = len(STAT_CODES)


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


# rows per binary search in ``max_window_rows``
_BOUND_RUN = 256


@njit(cache=NUMBA_CACHE, nogil=True)
def max_window_rows(
    times, group_starts, is_time, sizes, n_lags, closed_both_extra, row_lo, row_hi
):
    """An upper bound on the rows any window of the sorted rows [row_lo, row_hi) holds.

    A row window of ``size`` rows holds at most ``size`` (+1 for closed="both").
    A time window spans at most ``size`` time units, so all its rows lie in
    ``[t_j, t_j + size]`` for its first row ``j``. For the first rows ``j`` of a
    run of ``_BOUND_RUN`` rows starting at ``b``, those rows all lie in ``[b,
    e)``, with ``e`` the end of the last one's span: one binary search per run
    bounds them all, at most ``_BOUND_RUN - 1`` rows too high. A longer window
    holds every shorter one that ends where it ends, so only the longest time
    window needs the search.
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
        stop = min(g1, row_hi)
        for run_start in range(first, stop, _BOUND_RUN):
            run_last = min(run_start + _BOUND_RUN, stop) - 1
            end = run_last + np.searchsorted(
                times[run_last:g1], times[run_last] + size, side="right"
            )
            bound = max(bound, end - run_start)
        k += 1
        first = g1
    return bound


# slots of a sweep's state between blocks of rows (see ``window_sweep``)
_I_GROUP, _I_G1, _I_S, _I_E, _I_FIRST, _I_LAST, _I_BOUNDARY = range(7)
_I_NEWER_COUNT = 7
_N_ISTATE = 8
_F_OLDER_SHIFT, _F_NEWER_SHIFT, _F_NEWER_SUM, _F_NEWER_COMPENSATION = range(4)
_F_NEWER_SQUARES, _F_NEWER_MIN, _F_NEWER_MAX = 4, 5, 6
_N_FSTATE = 7
# fields of a row's suffix summary in a sweep's ring (see ``window_sweep``)
_R_COUNT, _R_SUM, _R_SQUARES, _R_MIN, _R_MAX = range(5)
_N_RINGS = 5


def requested_statistics(stats):
    """The ``requested`` argument of the sweeps for the statistic names ``stats``.

    ``True`` at the code of each statistic asked for, ``None`` elsewhere. numba
    types the tuple element by element, so every set of statistics gets its own
    compiled sweeps (compiled on first use, about as long as the first call of all),
    and each writes its statistics with no test at run time.
    """
    codes = {STAT_CODES[stat] for stat in stats}
    return tuple(True if code in codes else None for code in range(_N_STATS))


@njit(cache=NUMBA_CACHE, nogil=True, inline="always")
def _squared_deviations(count, total, squares, reciprocals):
    """Mean and sum of squared deviations of ``count`` values from their sums.

    The values are shifted by one of themselves, so ``squares`` is at most
    ``count + 1`` times the result (``(K - mean)^2`` is one of its terms) and
    the subtraction loses no more than that; rounding can still leave it a hair
    below zero, so it is clamped.
    """
    mean = total * reciprocals[count]
    return mean, max(squares - total * mean, 0.0)


@njit(cache=NUMBA_CACHE, nogil=True)
def window_sweep(
    x,
    times,
    group_starts,
    is_time,
    lo_offset,
    hi_offset,
    stat_cols,
    requested,
    min_periods,
    ddof,
    fill_value,
    out_rows,
    out,
    row_lo,
    row_hi,
    istate,
    fstate,
    ring,
    reciprocals,
):
    """Every statistic of one window (granularity, lag) over one column, one sweep.

    Writes statistic ``code`` of sorted row ``i`` to ``out[out_rows[i],
    stat_cols[code]]`` (``STAT_CODES``; -1 when not requested), for the sorted rows
    ``[row_lo, row_hi)``; an empty ``out_rows`` maps row ``i`` to output row ``i``.
    ``out_rows[i] == -1`` marks a context row (history from ``fit``) that feeds
    windows but is not emitted. ``requested`` holds, for every code, ``True`` when
    that statistic is requested and ``None`` when not: a tuple of types, so numba
    compiles one sweep per set of statistics, each without the tests and the code
    of the statistics it does not emit (see ``requested_statistics``). Row ``j`` is
    in row ``i``'s window when ``key(i) - lo_offset < key(j) <= key(i) -
    hi_offset``, with ``key`` the time for a time window and the row itself for a
    row window: one pair of comparisons serves every ``closed``.

    The window ``[s, e)`` is split at ``boundary``: the older rows ``[s,
    boundary)`` are summarised by suffix summaries in ``ring`` (one per row,
    computed right to left when the window last became all older part), the
    newer rows ``[boundary, e)`` by running ones. A row entering updates the newer
    summary; a row leaving costs nothing; a query merges two summaries. Nothing
    is ever subtracted from a running sum, so no rounding from past removals can
    build up.

    The sweep resumes from ``istate``/``fstate`` and leaves its state there, so a
    driver can run all sweeps block by block over the same rows; ``istate[_I_G1] ==
    -1`` starts afresh, reading rows before ``row_lo`` as window context. Inside,
    the state lives in scalars, which the compiler keeps in registers: fusing all
    windows into one loop over rows with the state in arrays indexed by window
    measured 5x slower. The loops over rows test no runtime option: every summary
    is kept whatever the statistics asked for, because a flag tested per row (even
    a perfectly predicted one) measured dearer than the work it would save; the
    statistics written are fixed when the sweep is compiled.
    ``ring`` has a power-of-two length of at least the largest window's row
    count, and ``reciprocals`` (``1 / k`` at ``k``) one more entry than it.
    """
    col_mean = stat_cols[0]
    col_std = stat_cols[1]
    col_var = stat_cols[2]
    col_min = stat_cols[3]
    col_max = stat_cols[4]
    col_sum = stat_cols[5]
    col_count = stat_cols[6]
    col_first = stat_cols[7]
    col_last = stat_cols[8]
    # constants once compiled (``x is not None`` on a None or bool type), so each
    # test below vanishes with its branch: 6% faster than testing the columns
    want_mean = requested[0] is not None
    want_std = requested[1] is not None
    want_var = requested[2] is not None
    want_min = requested[3] is not None
    want_max = requested[4] is not None
    want_sum = requested[5] is not None
    want_count = requested[6] is not None
    want_first = requested[7] is not None
    want_last = requested[8] is not None
    identity_rows = out_rows.shape[0] == 0
    # one comparison for "fewer than min_periods values, or none" (two measured
    # 2% dearer)
    fewest = max(min_periods, 1)
    # a power-of-two ring lets a bit mask replace a modulo
    mask = ring.shape[0] - 1

    group = istate[_I_GROUP]
    g1 = istate[_I_G1]
    if g1 < 0:
        group = np.searchsorted(group_starts, row_lo, side="right") - 1
    s = istate[_I_S]
    e = istate[_I_E]
    first = istate[_I_FIRST]
    last = istate[_I_LAST]
    boundary = istate[_I_BOUNDARY]
    newer_count = istate[_I_NEWER_COUNT]
    # Each part sums its values minus a shift that is one of its own values (the
    # newest at the rebuild for the older part, the first for the newer one), so
    # for data like 1e9 + noise the sums hold the noise, not the offset.
    older_shift = fstate[_F_OLDER_SHIFT]
    newer_shift = fstate[_F_NEWER_SHIFT]
    newer_sum = fstate[_F_NEWER_SUM]
    newer_compensation = fstate[_F_NEWER_COMPENSATION]
    newer_squares = fstate[_F_NEWER_SQUARES]
    newer_min = fstate[_F_NEWER_MIN]
    newer_max = fstate[_F_NEWER_MAX]
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
                s = g0 + np.searchsorted(times[g0:g1], lo, side="right")
            else:
                s = min(max(lo + 1, g0), g1)
            e = s
            boundary = s
            newer_count = 0

        # both ends only move forward inside a group; rows leaving cost nothing
        while s < g1 and (times[s] if is_time else s) <= lo:
            s += 1
        if e < s:
            e = s
        while e < g1 and (times[e] if is_time else e) <= hi:
            v = x[e]
            e += 1
            if np.isnan(v):
                continue
            last = e - 1
            newer_count += 1
            newer_min = min(newer_min, v)
            newer_max = max(newer_max, v)
            newer_shift = v if newer_count == 1 else newer_shift
            v -= newer_shift
            newer_sum, newer_compensation = _two_sum(newer_sum, newer_compensation, v)
            newer_squares += v * v
        if s >= boundary:
            # The older part has left: the whole window becomes the older part.
            # Summarise every suffix of it, right to left, around its newest value.
            # Each row is read once more per window length: amortised O(1).
            # (``last`` is the newest non-NaN row entered; before any, it may be a
            # NaN row of the state's start)
            older_shift = x[last] if last >= s and not np.isnan(x[last]) else 0.0
            n_valid = 0
            total = 0.0
            compensation = 0.0
            squares = 0.0
            suffix_min = np.inf
            suffix_max = -np.inf
            for j in range(e - 1, s - 1, -1):
                v = x[j]
                if not np.isnan(v):
                    n_valid += 1
                    suffix_min = min(suffix_min, v)
                    suffix_max = max(suffix_max, v)
                    v -= older_shift
                    total, compensation = _two_sum(total, compensation, v)
                    squares += v * v
                r = j & mask
                ring[r, _R_COUNT] = n_valid
                ring[r, _R_SUM] = total + compensation
                ring[r, _R_SQUARES] = squares
                ring[r, _R_MIN] = suffix_min
                ring[r, _R_MAX] = suffix_max
            boundary = e
            newer_count = 0
            newer_sum = 0.0
            newer_compensation = 0.0
            newer_squares = 0.0
            newer_min = np.inf
            newer_max = -np.inf

        dest = i if identity_rows else out_rows[i]
        if dest < 0:
            continue
        r = s & mask
        older_count = int(ring[r, _R_COUNT]) if s < boundary else 0
        count = older_count + newer_count
        if want_count:
            out[dest, col_count] = count
        if count < fewest:
            # every statistic but count is ``fill_value`` for too few values, and
            # the sum of no values is 0
            mean = std = var = window_min = window_max = fill_value
            first_value = last_value = fill_value
            total = 0.0 if count >= min_periods else fill_value
        else:
            # Merge the two parts in the older part's frame: shifting the newer sums
            # by ``d`` is exact algebra, and both shifts are values of the window,
            # so no sum holds much more than the spread it measures.
            newer_total = newer_sum + newer_compensation
            if older_count > 0:
                d = newer_shift - older_shift
                total = ring[r, _R_SUM] + (newer_total + newer_count * d)
                squares = ring[r, _R_SQUARES] + (
                    newer_squares + d * (2.0 * newer_total + newer_count * d)
                )
                window_min = min(ring[r, _R_MIN], newer_min)
                window_max = max(ring[r, _R_MAX], newer_max)
                shift = older_shift
            else:
                total = newer_total
                squares = newer_squares
                window_min = newer_min
                window_max = newer_max
                shift = newer_shift
            mean, m2 = _squared_deviations(count, total, squares, reciprocals)
            mean += shift
            total += count * shift
            if window_min == window_max:
                # equal values: exactly their value and no spread, whatever the
                # rounding
                mean = window_min
                m2 = 0.0
            if count <= ddof:
                var = fill_value
                std = fill_value
            elif want_var or want_std:
                var = m2 * reciprocals[count - ddof]
                std = math.sqrt(var)
            else:
                var = std = fill_value
            if want_first:
                first = max(first, s)
                while np.isnan(x[first]):
                    first += 1
                first_value = x[first]
            else:
                first_value = fill_value
            last_value = x[last] if want_last else fill_value
        if want_sum:
            out[dest, col_sum] = total
        if want_mean:
            out[dest, col_mean] = mean
        if want_var:
            out[dest, col_var] = var
        if want_std:
            out[dest, col_std] = std
        if want_min:
            out[dest, col_min] = window_min
        if want_max:
            out[dest, col_max] = window_max
        if want_first:
            out[dest, col_first] = first_value
        if want_last:
            out[dest, col_last] = last_value

    istate[_I_GROUP] = group
    istate[_I_G1] = g1
    istate[_I_S] = s
    istate[_I_E] = e
    istate[_I_FIRST] = first
    istate[_I_LAST] = last
    istate[_I_BOUNDARY] = boundary
    istate[_I_NEWER_COUNT] = newer_count
    fstate[_F_OLDER_SHIFT] = older_shift
    fstate[_F_NEWER_SHIFT] = newer_shift
    fstate[_F_NEWER_SUM] = newer_sum
    fstate[_F_NEWER_COMPENSATION] = newer_compensation
    fstate[_F_NEWER_SQUARES] = newer_squares
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
    requested,
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
    # per sweep: its window's bounds (see ``window_sweep``) and output columns
    lo_offsets = np.empty(n_tasks, np.int64)
    hi_offsets = np.empty(n_tasks, np.int64)
    stat_cols = np.full((n_tasks, _N_STATS), -1, np.int64)
    for task in range(n_tasks):
        c = task % n_columns
        lag = (task // n_columns) % n_lags
        g = task // (n_columns * n_lags)
        hi_offsets[task] = lag * sizes[g] + (0 if right_closed else 1)
        lo_offsets[task] = (lag + 1) * sizes[g] + (1 if left_closed else 0)
        first_col = ((g * n_columns + c) * n_stats) * n_lags + lag
        for k in range(n_stats):
            stat_cols[task, stat_codes[k]] = first_col + k * n_lags
    for block_lo in range(row_lo, row_hi, _BLOCK_ROWS):
        block_hi = min(block_lo + _BLOCK_ROWS, row_hi)
        for task in range(n_tasks):
            g = task // (n_columns * n_lags)
            window_sweep(
                columns[task % n_columns],
                times,
                group_starts,
                is_time[g],
                lo_offsets[task],
                hi_offsets[task],
                stat_cols[task],
                requested,
                min_periods,
                ddof,
                fill_value,
                out_rows,
                out,
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
    requested,
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
            requested,
            min_periods,
            ddof,
            fill_value,
            out_rows,
            out,
            chunk_starts[k],
            chunk_starts[k + 1],
        )
