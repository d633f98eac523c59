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
  exactly that value and its variance exactly 0. Both shifts are values of the
  window, so equal values shift to exact zeros and the sums give this on their
  own; the sweeps that keep the extremes also set it outright.
* Near the float64 range the shifted sums overflow (``1.7e308 - (-1.7e308)``, the
  square of 1e300), and ``inf - inf`` would make a NaN of a statistic whose true
  value is finite. A query whose sums or shift reach ``2**900`` (squares
  ``2**1000``), or are not finite, summarises its window again with the values
  divided by a power of two (exact), by a compensated two-pass, and scales back:
  every statistic is then right, or inf exactly where its true value overflows
  (the var of ``[1.7e308, -1.7e308]`` is inf, its std 1.7e308). The test is one
  predicted branch per query on ordinary data; such windows pay O(window) each.
  Subnormal data need no fallback: the sums keep them to a few multiples of the
  smallest subnormal, and std is the root of the var so rounded.
* ``1 / k`` comes from a table rather than a division.

Compiled variants
-----------------
The work follows the statistics asked for: a sweep keeps the count always, the
shifted sums only for count/sum/mean, their squares only for var/std, and the
extremes only for min/max (first and last cost a pointer each). Which of the three
summaries a sweep keeps is fixed when it is compiled, by three arguments that are
``None`` or ``True`` (numba prunes the branches on ``is None`` before typing), so
there are at most six compiled variants of the sweep and of its driver, each
compiled in well under a second, where one per set of statistics (511) each cost
four seconds. Which of the statistics of its family a sweep writes is a run-time
test of its output column: perfectly predicted, and after the arithmetic.
Nothing is allocated in the kernels: the Python side (``_dispatch.py``) does it,
which keeps numpy's array functions out of what numba compiles.
"""

import math

import numpy as np

from sklearn_multigran._kernels._cache import kernel

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
# the statistics each summary serves (count, first and last need none)
SUM_STATS = frozenset({"mean", "std", "var", "sum"})
SQUARE_STATS = frozenset({"std", "var"})
EXTREME_STATS = frozenset({"min", "max"})


@kernel(nogil=True, inline="always")
def _two_sum(total, compensation, x):
    """Add ``x`` to a compensated sum with Knuth's branch-free TwoSum.

    Neumaier's variant branches on ``|total| >= |x|``, which data make
    unpredictable; TwoSum spends three more flops and never mispredicts.
    """
    t = total + x
    virtual = t - total
    compensation += (total - (t - virtual)) + (x - virtual)
    return t, compensation


@kernel(nogil=True)
def search_right(a, lo, hi, value):
    """The first ``k`` in ``[lo, hi)`` with ``a[k] > value``, or ``hi``.

    ``a[lo:hi]`` is sorted. A loop rather than ``np.searchsorted``, whose generic
    implementation took most of a second to compile; one function for every
    search (``a[k] >= v`` is ``a[k] > v - 1`` on integers), with no constant
    argument, so numba compiles it once.
    """
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] <= value:
            lo = mid + 1
        else:
            hi = mid
    return lo


# rows per binary search in ``max_window_rows``
_BOUND_RUN = 256
_INT64_MAX = np.iinfo(np.int64).max


@kernel(nogil=True)
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
    n_groups = group_starts.shape[0] - 1
    k = search_right(group_starts, group_starts[0], n_groups + 1, row_lo) - 1
    # the windows of row_lo reach n_lags windows back into its group: their rows
    # lie at or after ``reach`` (``reach - 1`` is the sweeps' widest ``t -
    # lo_offset``, which the Python side checked fits int64)
    g0 = group_starts[k]
    reach = times[row_lo] - n_lags * size
    first = search_right(times, g0, row_lo, reach - 1)
    while k < n_groups and group_starts[k] < row_hi:
        g1 = group_starts[k + 1]
        stop = min(g1, row_hi)
        for run_start in range(first, stop, _BOUND_RUN):
            run_last = min(run_start + _BOUND_RUN, stop) - 1
            # saturated: ``t + size`` may pass int64's largest value, which every
            # time is at most
            t_last = times[run_last]
            span_end = t_last + size if t_last <= _INT64_MAX - size else _INT64_MAX
            end = search_right(times, run_last, g1, span_end)
            bound = max(bound, end - run_start)
        k += 1
        first = g1
    return bound


# slots of a sweep's state between blocks of rows (see ``window_sweep``)
_I_GROUP, _I_G1, _I_S, _I_E, _I_FIRST, _I_LAST, _I_BOUNDARY = range(7)
_I_NEWER_COUNT = 7
N_ISTATE = 8
# -1 in this slot starts a sweep afresh
START_SLOT = _I_G1
_F_OLDER_SHIFT, _F_NEWER_SHIFT, _F_NEWER_SUM, _F_NEWER_COMPENSATION = range(4)
_F_NEWER_SQUARES, _F_NEWER_MIN, _F_NEWER_MAX = 4, 5, 6
N_FSTATE = 7
# fields of a row's suffix summary in a sweep's ring (see ``window_sweep``)
_R_COUNT, _R_SUM, _R_SQUARES, _R_MIN, _R_MAX = range(5)
N_RINGS = 5


def sweep_variant(stats):
    """The ``(sums, squares, extremes)`` arguments of the sweeps for ``stats``.

    Each is ``True`` when a statistic asked for needs that summary and ``None``
    when none does: numba compiles one sweep per combination (six are possible:
    squares come with sums), each without the work of the summaries it skips.
    """
    stats = set(stats)
    return (
        True if stats & SUM_STATS else None,
        True if stats & SQUARE_STATS else None,
        True if stats & EXTREME_STATS else None,
    )


@kernel(nogil=True, inline="always")
def _squared_deviations(count, total, squares, reciprocals):
    """Mean and sum of squared deviations of ``count`` values from their sums.

    The values are shifted by one of themselves, so ``squares`` is at most
    ``count + 1`` times the result (``(K - mean)^2`` is one of its terms) and
    the subtraction loses no more than that; rounding can still leave it a hair
    below zero, so it is clamped.
    """
    mean = total * reciprocals[count]
    return mean, max(squares - total * mean, 0.0)


# Beyond these the power sums may have overflowed (or may yet, in ``total + count *
# shift``): the window is summarised again, scaled (see ``_scaled_moments``). Far
# above any ordinary data, so the test costs a predicted branch per row.
_LARGE = 2.0**900
_SQUARES_TO_SUMS = 2.0**-100  # squares count against 2**1000


@kernel(nogil=True)
def _scaled_moments(x, s, e, count, reciprocals):
    """Sum, mean and scaled squared deviations of the non-NaN ``x[s:e]``, scaled.

    The fallback for windows whose values come near the float64 range, where the
    shifted power sums overflow (``1.7e308 - (-1.7e308)``, or squares of 1e300).
    The values are divided by ``2**k``, the power of two above the largest
    magnitude: exact (bar values below ``2**(k - 1074)``, negligible next to the
    largest), so nothing can overflow. A two-pass over the window then gives the
    compensated sum and the squared deviations from the mean, corrected by the
    deviations' own sum (Bjorck); sum and mean are scaled back, the deviations
    are returned scaled by ``4**-k`` with ``k``, for the caller to turn into
    ``var`` (inf where it overflows) and ``std``. O(window) per call: only
    windows that need it pay. Infinite values are left unscaled, and give what
    arithmetic on them gives (an infinite sum and mean, a NaN spread, as pandas).
    """
    largest = 0.0
    for j in range(s, e):
        v = x[j]
        if not np.isnan(v):
            largest = max(largest, abs(v))
    k = math.frexp(largest)[1] if largest < np.inf else 0
    total = 0.0
    compensation = 0.0
    for j in range(s, e):
        v = x[j]
        if not np.isnan(v):
            total, compensation = _two_sum(total, compensation, math.ldexp(v, -k))
    total += compensation
    if not largest < np.inf:
        # TwoSum's compensation of an infinite sum is NaN: sum plainly
        total = 0.0
        for j in range(s, e):
            if not np.isnan(x[j]):
                total += x[j]
    mean = total * reciprocals[count]
    m2 = 0.0
    deviations = 0.0
    for j in range(s, e):
        v = x[j]
        if not np.isnan(v):
            d = math.ldexp(v, -k) - mean
            m2 += d * d
            deviations += d
    m2 = max(m2 - deviations * deviations * reciprocals[count], 0.0)
    return math.ldexp(total, k), math.ldexp(mean, k), m2, k


# Rows per block: every sweep passes over one block before the next, so the block's
# output rows (block x features x 8 bytes) are written while they sit in cache,
# instead of each sweep streaming the whole output through memory once more.
BLOCK_ROWS = 2048


@kernel(nogil=True)
def window_sweeps(
    columns,
    times,
    group_starts,
    is_time_of,
    lo_offsets,
    hi_offsets,
    stat_cols,
    sums,
    squares,
    extremes,
    min_periods,
    ddof,
    fill_value,
    out_rows,
    out,
    row_lo,
    row_hi,
    istate,
    fstate,
    rings,
    reciprocals,
):
    """All sweeps (granularity x lag x column) over sorted rows [row_lo, row_hi).

    Sweep ``task`` computes every statistic of one window (granularity, lag) over
    column ``task % n_columns``: it writes statistic ``code`` of sorted row ``i``
    to ``out[out_rows[i], stat_cols[task, code]]`` (``STAT_CODES``; -1 when not
    requested); an empty ``out_rows`` maps row ``i`` to output row ``i``.
    ``out_rows[i] == -1`` marks a context row (history from ``fit``) that feeds
    windows but is not emitted. ``sums``, ``squares`` and ``extremes`` are
    ``None`` or ``True`` (see ``sweep_variant``): the summaries kept, fixed when
    the sweeps are compiled. Row ``j`` is in row ``i``'s window when ``key(i) -
    lo_offsets[task] < key(j) <= key(i) - hi_offsets[task]``, with ``key`` the
    time for a time window (``is_time_of[task]``) and the row itself for a row
    window: one pair of comparisons serves every ``closed``.

    The window ``[s, e)`` is split at ``boundary``: the older rows ``[s,
    boundary)`` are summarised by suffix summaries in ``rings[task]`` (one per
    row, computed right to left when the window last became all older part), the
    newer rows ``[boundary, e)`` by running ones. A row entering updates the newer
    summary; a row leaving costs nothing; a query merges two summaries. Nothing
    is ever subtracted from a running sum, so no rounding from past removals can
    build up.

    The sweeps advance together, block by block, so a block's output rows are
    written while they sit in cache. Each leaves its state in ``istate[task]`` /
    ``fstate[task]`` between blocks and resumes from it; ``istate[task,
    START_SLOT] == -1`` starts afresh, reading rows before ``row_lo`` as window
    context, so drivers may split the rows into independent chunks. Inside a
    block, the state lives in scalars, which the compiler keeps in registers:
    fusing all windows into one loop over rows with the state in arrays indexed
    by window measured 5x slower. The loops over rows test no run-time option
    before the arithmetic: a flag tested per row (even a perfectly predicted one)
    measured dearer than the work it would save, so the summaries kept are
    compile-time choices; only the stores test their column. One function holds
    both loops: a sweep compiled apart from its driver doubled the functions to
    compile. Each ring has a power-of-two length of at least the largest window's
    row count, and ``reciprocals`` (``1 / k`` at ``k``) one more entry than it.
    """
    n_columns = columns.shape[0]
    n_tasks = stat_cols.shape[0]
    identity_rows = out_rows.shape[0] == 0
    # one comparison for "fewer than min_periods values, or none" (two measured
    # 2% dearer)
    fewest = max(min_periods, 1)
    # a power-of-two ring lets a bit mask replace a modulo
    mask = rings.shape[1] - 1
    n_bounds = group_starts.shape[0]
    for block_lo in range(row_lo, row_hi, BLOCK_ROWS):
        block_hi = min(block_lo + BLOCK_ROWS, row_hi)
        for task in range(n_tasks):
            x = columns[task % n_columns]
            is_time = is_time_of[task]
            lo_offset = lo_offsets[task]
            hi_offset = hi_offsets[task]
            task_cols = stat_cols[task]
            state_i = istate[task]
            state_f = fstate[task]
            ring = rings[task]
            col_mean = task_cols[0]
            col_std = task_cols[1]
            col_var = task_cols[2]
            col_min = task_cols[3]
            col_max = task_cols[4]
            col_sum = task_cols[5]
            col_count = task_cols[6]
            col_first = task_cols[7]
            col_last = task_cols[8]

            group = state_i[_I_GROUP]
            g1 = state_i[_I_G1]
            if g1 < 0:
                group = search_right(group_starts, group_starts[0], n_bounds, block_lo)
                group -= 1
            s = state_i[_I_S]
            e = state_i[_I_E]
            first = state_i[_I_FIRST]
            last = state_i[_I_LAST]
            boundary = state_i[_I_BOUNDARY]
            newer_count = state_i[_I_NEWER_COUNT]
            # Each part sums its values minus a shift that is one of its own values (the
            # newest at the rebuild for the older part, the first for the newer one), so
            # for data like 1e9 + noise the sums hold the noise, not the offset.
            older_shift = state_f[_F_OLDER_SHIFT]
            newer_shift = state_f[_F_NEWER_SHIFT]
            newer_sum = state_f[_F_NEWER_SUM]
            newer_compensation = state_f[_F_NEWER_COMPENSATION]
            newer_squares = state_f[_F_NEWER_SQUARES]
            newer_min = state_f[_F_NEWER_MIN]
            newer_max = state_f[_F_NEWER_MAX]
            for i in range(block_lo, block_hi):
                key_i = times[i] if is_time else i
                hi = key_i - hi_offset
                lo = key_i - lo_offset
                if i >= g1:
                    # entering a group, or the chunk: restart the window
                    while i >= group_starts[group + 1]:
                        group += 1
                    g0 = group_starts[group]
                    g1 = group_starts[group + 1]
                    if is_time:
                        # binary search: a chunk deep in a long group does not
                        # rescan it
                        s = search_right(times, g0, g1, lo)
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
                    if extremes is not None:
                        newer_min = min(newer_min, v)
                        newer_max = max(newer_max, v)
                    if sums is not None:
                        newer_shift = v if newer_count == 1 else newer_shift
                        v -= newer_shift
                        newer_sum, newer_compensation = _two_sum(
                            newer_sum, newer_compensation, v
                        )
                        if squares is not None:
                            newer_squares += v * v
                if s >= boundary:
                    # The older part has left: the whole window becomes the older
                    # part. Summarise every suffix of it, right to left, around its
                    # newest value. Each row is read once more per window length:
                    # amortised O(1). (``last`` is the newest non-NaN row entered;
                    # before any, it may be a NaN row of the state's start.)
                    older_shift = (
                        x[last] if last >= s and not np.isnan(x[last]) else 0.0
                    )
                    n_valid = 0
                    total = 0.0
                    compensation = 0.0
                    sum_squares = 0.0
                    suffix_min = np.inf
                    suffix_max = -np.inf
                    for j in range(e - 1, s - 1, -1):
                        v = x[j]
                        if not np.isnan(v):
                            n_valid += 1
                            if extremes is not None:
                                suffix_min = min(suffix_min, v)
                                suffix_max = max(suffix_max, v)
                            if sums is not None:
                                v -= older_shift
                                total, compensation = _two_sum(total, compensation, v)
                                if squares is not None:
                                    sum_squares += v * v
                        r = j & mask
                        ring[r, _R_COUNT] = n_valid
                        if sums is not None:
                            ring[r, _R_SUM] = total + compensation
                            if squares is not None:
                                ring[r, _R_SQUARES] = sum_squares
                        if extremes is not None:
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
                if col_count >= 0:
                    out[dest, col_count] = count
                if count < fewest:
                    # every statistic but count is ``fill_value`` for too few
                    # values, and the sum of no values is 0
                    if col_sum >= 0:
                        out[dest, col_sum] = 0.0 if count >= min_periods else fill_value
                    if col_mean >= 0:
                        out[dest, col_mean] = fill_value
                    if col_var >= 0:
                        out[dest, col_var] = fill_value
                    if col_std >= 0:
                        out[dest, col_std] = fill_value
                    if col_min >= 0:
                        out[dest, col_min] = fill_value
                    if col_max >= 0:
                        out[dest, col_max] = fill_value
                    if col_first >= 0:
                        out[dest, col_first] = fill_value
                    if col_last >= 0:
                        out[dest, col_last] = fill_value
                    continue
                if extremes is not None:
                    if older_count > 0:
                        window_min = min(ring[r, _R_MIN], newer_min)
                        window_max = max(ring[r, _R_MAX], newer_max)
                    else:
                        window_min = newer_min
                        window_max = newer_max
                    if col_min >= 0:
                        out[dest, col_min] = window_min
                    if col_max >= 0:
                        out[dest, col_max] = window_max
                if sums is not None:
                    # Merge the two parts in the older part's frame: shifting the
                    # newer sums by ``d`` is exact algebra, and both shifts are
                    # values of the window, so no sum holds much more than the
                    # spread it measures.
                    newer_total = newer_sum + newer_compensation
                    if older_count > 0:
                        d = newer_shift - older_shift
                        total = ring[r, _R_SUM] + (newer_total + newer_count * d)
                        shift = older_shift
                        if squares is not None:
                            sum_squares = ring[r, _R_SQUARES] + (
                                newer_squares
                                + d * (2.0 * newer_total + newer_count * d)
                            )
                    else:
                        total = newer_total
                        shift = newer_shift
                        if squares is not None:
                            sum_squares = newer_squares
                    # NaN fails the comparisons too: an overflow anywhere in the
                    # sums (inf, or inf - inf) sends the window to the fallback
                    magnitude = abs(total) + abs(shift)
                    if squares is not None:
                        # one comparison for both (two measured dearer)
                        magnitude += sum_squares * _SQUARES_TO_SUMS
                    scale = 0
                    if magnitude < _LARGE:
                        if squares is not None:
                            mean, m2 = _squared_deviations(
                                count, total, sum_squares, reciprocals
                            )
                        else:
                            mean = total * reciprocals[count]
                            m2 = 0.0
                        window_sum = total + count * shift
                        mean += shift
                    else:
                        window_sum, mean, m2, scale = _scaled_moments(
                            x, s, e, count, reciprocals
                        )
                    # (nested: numba prunes a branch on ``extremes is not None``
                    # alone, and ``window_min`` exists only then)
                    if extremes is not None:  # noqa: SIM102
                        if window_min == window_max:
                            # equal values: exactly their value and no spread (the
                            # shifted sums are then exact zeros anyway)
                            mean = window_min
                            m2 = 0.0
                    if col_sum >= 0:
                        out[dest, col_sum] = window_sum
                    if col_mean >= 0:
                        out[dest, col_mean] = mean
                    if squares is not None:
                        if count <= ddof:
                            var = fill_value
                            std = fill_value
                        else:
                            var = m2 * reciprocals[count - ddof]
                            std = math.sqrt(var)
                            if scale != 0:
                                # m2 is scaled by 4**-scale; where var overflows,
                                # std (at most the largest magnitude) does not
                                std = math.ldexp(std, scale)
                                var = math.ldexp(var, 2 * scale)
                                if var < np.inf:
                                    std = math.sqrt(var)
                        if col_var >= 0:
                            out[dest, col_var] = var
                        if col_std >= 0:
                            out[dest, col_std] = std
                if col_first >= 0:
                    first = max(first, s)
                    while np.isnan(x[first]):
                        first += 1
                    out[dest, col_first] = x[first]
                if col_last >= 0:
                    out[dest, col_last] = x[last]

            state_i[_I_GROUP] = group
            state_i[_I_G1] = g1
            state_i[_I_S] = s
            state_i[_I_E] = e
            state_i[_I_FIRST] = first
            state_i[_I_LAST] = last
            state_i[_I_BOUNDARY] = boundary
            state_i[_I_NEWER_COUNT] = newer_count
            state_f[_F_OLDER_SHIFT] = older_shift
            state_f[_F_NEWER_SHIFT] = newer_shift
            state_f[_F_NEWER_SUM] = newer_sum
            state_f[_F_NEWER_COMPENSATION] = newer_compensation
            state_f[_F_NEWER_SQUARES] = newer_squares
            state_f[_F_NEWER_MIN] = newer_min
            state_f[_F_NEWER_MAX] = newer_max
