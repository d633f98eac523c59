"""Rolling order statistics: exact medians and quantiles of trailing windows.

numba only: no pandas, no scikit-learn. Same window contract as ``_rolling.py``: rows
sorted by (group, time, input position); row ``j`` is in row ``i``'s window when
``key(i) - lo_offset < key(j) <= key(i) - hi_offset`` (``key`` the time for a time
window, the sorted row for a row window); NaN skipped; fewer than ``min_periods``
values (or none) give ``fill_value``; ``out_rows[i] == -1`` marks a context row.

The structure
-------------
Counts over the *ranks* of the values: a row entering its window sets the bit of
its rank, a row leaving clears it, and the ``k``-th smallest value is the ``k``-th
set bit. A Fenwick tree (binary indexed tree) of the bit counts per 64-rank word
finds the word in ``log2(words)`` steps, and dropping set bits finds the rank within
it; the next order statistic (for an interpolation) is the next set bit. Ties need
nothing special: equal values get distinct, adjacent ranks.

Ranks are local (see ``quantile_sweeps``): blocks of ``B >= w`` rows, each sorted
once, and the ranks of two consecutive blocks, so the tree and the bitmap hold
``2 B`` ranks and stay in cache, and every operation is O(log w). Ranking the whole
group at once measured 3x slower on 1M rows (a descent became a chain of cache
misses), and a tree over single ranks rather than 64-rank words 1.25x slower.

Why this structure: an indexable skip list chases pointers through a heap of nodes,
and a pair of heaps with lazy deletion serves one quantile level per pair and grows
with the deleted entries it has not yet popped; the counts here are plain int32 and
bits, and one structure serves every level. A sorted buffer with binary insertion
(polars, bottleneck's ``move_median``) is O(w) per row: fast for short windows, but
it moves ``w / 2`` values per row on a day of minutes.

Windows of at most a few hundred rows (``_dispatch_stats._BUFFER_ROWS``) skip the
tree for a sorted buffer of their values (``_buffer_sweep``): O(w) per row in
principle, but with ``w`` bounded and the values in cache it measured faster there;
beyond, the tree's O(log w) wins.

Interpolation follows numpy's default (``method="linear"``) to the bit: the virtual
index ``(n - 1) q`` and its ``_lerp``, which interpolates from the nearer
neighbour; ``median`` is the mean of the two middle values as ``np.median`` computes
it, which can differ from ``q=0.5`` in the last bit.
"""

import math

import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from sklearn_multigran._kernels._cache import kernel


@kernel(nogil=True, inline="always")
def _tree_add(tree, m, rank, delta):
    """Add ``delta`` at 0-based ``rank`` of a 1-based Fenwick tree of ``m`` leaves."""
    p = rank + 1
    while p <= m:
        tree[p] += delta
        p += p & -p


@kernel(nogil=True, inline="always")
def _tree_kth(tree, m, top, k):
    """The 0-based rank of the ``k``-th (1-based) counted leaf; ``top``: the
    largest power of two below the tree's size ``m`` (itself a power of two).

    Branch-free: whether to step right depends on the data and would mispredict
    half the time; selects compile to conditional moves.
    """
    pos = 0
    step = top
    while step > 0:
        nxt = pos + step
        count = tree[nxt]
        right = count < k
        pos = nxt if right else pos
        k = k - count if right else k
        step >>= 1
    return pos


@kernel(nogil=True, inline="always")
def _select(word_tree, n_words, top, bits, k):
    """The ``k``-th (1-based) counted rank: the tree finds its word of 64 ranks,
    then the word's set bits are dropped one by one down to the one wanted."""
    pos = 0
    step = top
    while step > 0:
        nxt = pos + step
        count = word_tree[nxt]
        right = count < k
        pos = nxt if right else pos
        k = k - count if right else k
        step >>= 1
    w = bits[pos]
    for _ in range(k - 1):
        w &= w - np.uint64(1)
    return (pos << 6) + int(trailing_zeros(w))


@kernel(nogil=True, inline="always")
def _quantile_plan(count, q, midpoint):
    """Which order statistics numpy's quantile ``q`` of ``count`` values reads.

    Returns ``(k, mode, gamma)``: the ``k``-th smallest (1-based) alone (mode 0),
    the mean of the ``k``-th and ``k + 1``-th as ``np.median`` (mode 1), or their
    linear interpolation at ``gamma`` (mode 2).
    """
    if midpoint:
        half = count // 2
        if count % 2 == 1:
            return half + 1, 0, 0.0
        return half, 1, 0.5
    # numpy's virtual index for method="linear"
    virtual = (count - 1) * q
    if virtual >= count - 1:
        return count, 0, 0.0
    previous = math.floor(virtual)
    return int(previous) + 1, 2, virtual - previous


@kernel(nogil=True, inline="always")
def _combine(a, b, mode, gamma):
    """The quantile from order statistics ``a`` and ``b`` (see ``_quantile_plan``)."""
    if mode == 0:
        return a
    if mode == 1:
        # np.median: the mean of the two middle values, (a + b) / 2
        return (a + b) * 0.5
    # numpy's _lerp: from the nearer end, so gamma = 1 returns b exactly
    diff = b - a
    if gamma >= 0.5:
        return b - diff * (1.0 - gamma)
    return a + diff * gamma


@kernel(nogil=True, inline="always")
def _next_present(bits, rank):
    """The smallest counted rank above ``rank``, from the bitmap of counted ranks.

    The second order statistic of an interpolation is the successor of the first:
    a word scan (the window fills a good share of its pair's ranks, so it is most
    often in the same word) instead of a second descent of the tree.
    """
    q = rank + 1
    word = q >> 6
    w = bits[word] >> np.uint64(q & 63)
    if w != 0:
        return q + int(trailing_zeros(w))
    word += 1
    while bits[word] == 0:
        word += 1
    return (word << 6) + int(trailing_zeros(bits[word]))


@kernel(nogil=True, inline="always")
def _quantile_of(tree, m, top, bits, ranked, count, q, midpoint):
    """numpy's linear quantile ``q`` (or its median) of the ``count`` counted values."""
    k, mode, gamma = _quantile_plan(count, q, midpoint)
    rank = _select(tree, m, top, bits, k)
    a = ranked[rank]
    b = ranked[_next_present(bits, rank)] if mode > 0 else a
    return _combine(a, b, mode, gamma)


@kernel(nogil=True, inline="always")
def _lower_bound(buffer, count, v):
    """The first index of the sorted ``buffer[:count]`` whose value is >= ``v``."""
    base = 0
    size = count
    while size > 1:
        half = size >> 1
        base = base + half if buffer[base + half - 1] < v else base
        size -= half
    return base + (1 if size == 1 and buffer[base] < v else 0)


@kernel(nogil=True)
def _buffer_sweep(
    x,
    times,
    g0,
    g1,
    timed,
    lo_offset,
    hi_offset,
    capacity,
    levels,
    midpoint,
    cols,
    min_periods,
    fill_value,
    out_rows,
    out,
):
    """Quantiles of one window over one group, from a sorted buffer of its values.

    For short windows (at most ``buffer_rows``): a row entering or leaving shifts
    up to ``capacity`` values, O(w), and a quantile reads the buffer directly. In
    steady state one value leaves and one enters per row; the entering one walks
    from the leaving one's slot to its own, so the cost is their distance in rank.
    On 1M rows of a 1-minute random walk this measured faster than the tree up to
    windows of about 300 rows (2x at 15 rows, 1.6x at 120, 1.2x at 240; 0.8x at
    480), where shifting a few cache-resident values beats the tree's block sorts
    and its chains of dependent loads.
    """
    n_levels = levels.shape[0]
    identity_rows = out_rows.shape[0] == 0
    fewest = max(min_periods, 1)
    buffer = np.empty(capacity + 1)
    count = 0
    s = g0
    e = g0
    for i in range(g0, g1):
        key_i = times[i] if timed else i
        lo = key_i - lo_offset
        hi = key_i - hi_offset
        # A value leaving leaves a hole: its slot keeps the stale value (the
        # buffer stays sorted) until a value entering fills it, shifting only the
        # values between the two slots; in steady state one leaves and one enters
        # per row, and on a random walk they are close in rank.
        hole = -1
        while s < g1 and (times[s] if timed else s) <= lo:
            if s < e:
                v = x[s]
                if not np.isnan(v):
                    if hole >= 0:
                        for k in range(hole, count - 1):
                            buffer[k] = buffer[k + 1]
                        count -= 1
                    # an equal value is the same value: the first one will do
                    hole = _lower_bound(buffer, count, v)
            s += 1
        if e < s:
            e = s
        while e < g1 and (times[e] if timed else e) <= hi:
            v = x[e]
            if not np.isnan(v):
                if hole < 0:
                    pos = _lower_bound(buffer, count, v)
                    for k in range(count, pos, -1):
                        buffer[k] = buffer[k - 1]
                    buffer[pos] = v
                    count += 1
                else:
                    # walk the hole to the new value's place, as insertion sort
                    # does: no search, and only the values in between move
                    k = hole
                    if k > 0 and buffer[k - 1] > v:
                        while k > 0 and buffer[k - 1] > v:
                            buffer[k] = buffer[k - 1]
                            k -= 1
                    else:
                        while k < count - 1 and buffer[k + 1] < v:
                            buffer[k] = buffer[k + 1]
                            k += 1
                    buffer[k] = v
                    hole = -1
            e += 1
        if hole >= 0:
            for k in range(hole, count - 1):
                buffer[k] = buffer[k + 1]
            count -= 1
        dest = i if identity_rows else out_rows[i]
        if dest < 0:
            continue
        if count < fewest:
            for k in range(n_levels):
                out[dest, cols[k]] = fill_value
            continue
        for k in range(n_levels):
            rank, mode, gamma = _quantile_plan(count, levels[k], midpoint[k])
            a = buffer[rank - 1]
            b = buffer[rank] if mode > 0 else a
            out[dest, cols[k]] = _combine(a, b, mode, gamma)


@kernel(nogil=True)
def _max_window_rows(times, g0, g1, timed, lo_offset, hi_offset):
    """The most rows any window of the group's rows [g0, g1) holds (two pointers)."""
    most = 0
    s = g0
    e = g0
    for i in range(g0, g1):
        key_i = times[i] if timed else i
        while s < g1 and (times[s] if timed else s) <= key_i - lo_offset:
            s += 1
        e = max(e, s)
        while e < g1 and (times[e] if timed else e) <= key_i - hi_offset:
            e += 1
        most = max(most, e - s)
    return most


# runs sorted by insertion before the merges of ``_sort_block``
_RUN = 16


@kernel(nogil=True)
def _sort_block(x, start, stop, rows, values, spare_rows, spare_values):
    """The non-NaN rows of ``x[start:stop]`` and their values, in value order.

    Writes them to the front of ``rows`` and ``values`` (``spare_*``: scratch of
    the same size); returns how many. A bottom-up merge sort that moves values and
    rows together: numba's ``np.argsort`` goes through the permutation for every
    comparison and measured 2x slower on blocks of 256 to 2048 values.
    """
    m = 0
    for j in range(start, stop):
        if not np.isnan(x[j]):
            values[m] = x[j]
            rows[m] = j
            m += 1
    for lo in range(0, m, _RUN):
        hi = min(lo + _RUN, m)
        for a in range(lo + 1, hi):
            v = values[a]
            r = rows[a]
            b = a - 1
            while b >= lo and values[b] > v:
                values[b + 1] = values[b]
                rows[b + 1] = rows[b]
                b -= 1
            values[b + 1] = v
            rows[b + 1] = r
    width = _RUN
    src_v, src_r, dst_v, dst_r = values, rows, spare_values, spare_rows
    passes = 0
    while width < m:
        for lo in range(0, m, 2 * width):
            mid = min(lo + width, m)
            hi = min(lo + 2 * width, m)
            p = lo
            q = mid
            for out in range(lo, hi):
                # branch-free: which side goes next is a coin toss on random data
                a = src_v[min(p, mid - 1)]
                b = src_v[min(q, hi - 1)]
                ra = src_r[min(p, mid - 1)]
                rb = src_r[min(q, hi - 1)]
                first = (q >= hi) | ((p < mid) & (a <= b))
                dst_v[out] = a if first else b
                dst_r[out] = ra if first else rb
                p += first
                q += not first
        src_v, src_r, dst_v, dst_r = dst_v, dst_r, src_v, src_r
        width *= 2
        passes += 1
    if passes % 2 == 1:
        values[:m] = src_v[:m]
        rows[:m] = src_r[:m]
    return m


# Fewest rows per block: smaller blocks would spend more on sorting calls than
# they save on the tree's depth (log2 of 2 blocks: 9 levels at 256)
_MIN_BLOCK = 16  # 2**4: ``shift`` in ``quantile_sweeps`` starts at 4


@kernel(nogil=True)
def quantile_sweeps(
    x,
    times,
    group_starts,
    is_time,
    lo_offsets,
    hi_offsets,
    levels,
    midpoint,
    cols,
    min_periods,
    fill_value,
    out_rows,
    out,
    buffer_rows,
):
    """Quantiles of one column over several windows (granularity x lag).

    Parameters
    ----------
    x : ndarray of shape (n_rows,)
        One column of the sorted rows.
    is_time, lo_offsets, hi_offsets : ndarray of shape (n_tasks,)
        Each window's kind and bounds (see the module docstring).
    levels, midpoint : ndarray of shape (n_levels,)
        Quantile levels in (0, 1); ``midpoint`` marks a median (``np.median``'s
        mean of the middle pair rather than the interpolation at 0.5).
    cols : ndarray of shape (n_tasks, n_levels)
        Output column of each window's each level.
    buffer_rows : int
        Windows of at most this many rows (in a group) use ``_buffer_sweep``.

    Ranks are local. The group is cut into blocks of ``B`` rows, ``B`` a power of
    two no smaller than the longest window; a window then lies within two
    consecutive blocks, from the block of its first row. The tree ranks the values
    of that pair of blocks (merged from the blocks' own sorted orders, each block
    sorted once), so it counts ``2 B`` ranks (in ``2 B / 64`` words): it stays in
    L1/L2 cache and its depth is ``log2(2 B / 64)``, not ``log2`` of the group.
    When the window's first row moves into the next block, the next pair is
    merged and the tree rebuilt from the window's rows in O(B): O(1) per row.
    Ranking the whole group instead (one sort, one tree of the group's size)
    measured 3x slower on 1M rows, each descent a chain of cache misses.
    """
    n_tasks = lo_offsets.shape[0]
    n_levels = levels.shape[0]
    identity_rows = out_rows.shape[0] == 0
    fewest = max(min_periods, 1)
    for task in range(n_tasks):
        timed = is_time[task]
        lo_offset = lo_offsets[task]
        hi_offset = hi_offsets[task]
        for grp in range(group_starts.shape[0] - 1):
            g0 = group_starts[grp]
            g1 = group_starts[grp + 1]
            if g1 <= g0:
                continue
            longest = _max_window_rows(times, g0, g1, timed, lo_offset, hi_offset)
            if longest <= buffer_rows:
                _buffer_sweep(
                    x,
                    times,
                    g0,
                    g1,
                    timed,
                    lo_offset,
                    hi_offset,
                    longest,
                    levels,
                    midpoint,
                    cols[task],
                    min_periods,
                    fill_value,
                    out_rows,
                    out,
                )
                continue
            block = _MIN_BLOCK
            shift = 4
            while block < longest:
                block *= 2
                shift += 1
            first_rows = np.empty(block, np.int64)
            first_values = np.empty(block)
            second_rows = np.empty(block, np.int64)
            second_values = np.empty(block)
            spare_rows = np.empty(block, np.int64)
            spare_values = np.empty(block)
            pair_rank = np.empty(2 * block, np.int64)
            ranked = np.empty(2 * block)
            # counts per word of 64 ranks: a tree of 2 * block / 64 leaves, whose
            # descents and updates are 6 steps shorter than a tree of ranks
            n_words = max(1, 2 * block // 64)
            tree = np.zeros(n_words + 1, np.int32)
            # which ranks are counted, 64 to a word (and a spare word)
            bits = np.zeros(2 * block // 64 + 2, np.uint64)
            pair_block = -2
            pair_start = g0
            m_second = 0
            # the tree has n_words leaves, a power of two, whatever the pair
            # holds: empty leaves count 0, and descents need no bound test
            m = n_words
            top = n_words // 2
            s = g0
            e = g0
            count = 0
            for i in range(g0, g1):
                key_i = times[i] if timed else i
                lo = key_i - lo_offset
                hi = key_i - hi_offset
                # both ends only move forward; only rows that entered may leave
                while s < g1 and (times[s] if timed else s) <= lo:
                    if s < e:
                        r = pair_rank[s - pair_start]
                        if r >= 0:
                            _tree_add(tree, m, r >> 6, -1)
                            bits[r >> 6] &= ~(np.uint64(1) << np.uint64(r & 63))
                            count -= 1
                    s += 1
                if e < s:
                    e = s
                # a shift, not an integer division (tens of cycles, every row)
                b = (s - g0) >> shift
                if s < g1 and b != pair_block:
                    # the window starts in a new block: rank the pair (b, b + 1)
                    a0 = g0 + b * block
                    a1 = min(a0 + block, g1)
                    a2 = min(a1 + block, g1)
                    if b == pair_block + 1:
                        first_rows, second_rows = second_rows, first_rows
                        first_values, second_values = second_values, first_values
                        m_first = m_second
                    else:
                        m_first = _sort_block(
                            x,
                            a0,
                            a1,
                            first_rows,
                            first_values,
                            spare_rows,
                            spare_values,
                        )
                    m_second = _sort_block(
                        x, a1, a2, second_rows, second_values, spare_rows, spare_values
                    )
                    pair_rank[: a2 - a0] = -1
                    p = 0
                    q = 0
                    for r in range(m_first + m_second):
                        if q >= m_second or (
                            p < m_first and first_values[p] <= second_values[q]
                        ):
                            ranked[r] = first_values[p]
                            pair_rank[first_rows[p] - a0] = r
                            p += 1
                        else:
                            ranked[r] = second_values[q]
                            pair_rank[second_rows[q] - a0] = r
                            q += 1
                    pair_block = b
                    pair_start = a0
                    # the window's rows into a fresh tree, built in O(m)
                    tree[: m + 1] = 0
                    bits[:] = 0
                    for j in range(s, e):
                        r = pair_rank[j - a0]
                        if r >= 0:
                            tree[(r >> 6) + 1] += 1
                            bits[r >> 6] |= np.uint64(1) << np.uint64(r & 63)
                    for leaf in range(1, m + 1):
                        parent = leaf + (leaf & -leaf)
                        if parent <= m:
                            tree[parent] += tree[leaf]
                while e < g1 and (times[e] if timed else e) <= hi:
                    r = pair_rank[e - pair_start]
                    if r >= 0:
                        _tree_add(tree, m, r >> 6, 1)
                        bits[r >> 6] |= np.uint64(1) << np.uint64(r & 63)
                        count += 1
                    e += 1
                dest = i if identity_rows else out_rows[i]
                if dest < 0:
                    continue
                if count < fewest:
                    for k in range(n_levels):
                        out[dest, cols[task, k]] = fill_value
                    continue
                for k in range(n_levels):
                    out[dest, cols[task, k]] = _quantile_of(
                        tree, m, top, bits, ranked, count, levels[k], midpoint[k]
                    )
