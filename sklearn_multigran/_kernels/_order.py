"""Rolling order statistics: exact medians and quantiles of trailing windows.

numba only: no pandas, no scikit-learn. Same window contract as ``_rolling.py``: rows
sorted by (group, time, input position); row ``j`` is in row ``i``'s window when
``key(i) - lo_offset < key(j) <= key(i) - hi_offset`` (``key`` the time for a time
window, the sorted row for a row window); NaN skipped; fewer than ``min_periods``
values (or none) give ``fill_value``; ``out_rows[i] == -1`` marks a context row.

The structure
-------------
A Fenwick tree (binary indexed tree) of counts over the *ranks* of the group's
non-NaN values, ranked once per group and column by one sort. A row entering its
window adds 1 at its rank, a row leaving subtracts 1, and the ``k``-th smallest value
of the window is found by one descent of the tree from its top power of two: each
O(log m) for a group of ``m`` values, with no data-dependent memory layout to
maintain. Ties need nothing special: equal values get distinct, adjacent ranks.

Why this structure: an indexable skip list chases pointers through a heap of nodes,
and a pair of heaps with lazy deletion serves one quantile level per pair and grows
with the deleted entries it has not yet popped; the tree's counts are plain int32,
its upper levels stay in cache, and one tree serves every level. A sorted buffer with
binary insertion (polars, bottleneck's ``move_median``) is O(w) per row: fast for
short windows, but it moves ``w / 2`` values per row on a day of minutes. The tree
costs ``log2(m)`` steps whatever the window, so short windows pay for the long group:
the price of one structure for every window length.

Interpolation follows numpy's default (``method="linear"``) to the bit: the virtual
index ``(n - 1) q`` and its ``_lerp``, which interpolates from the nearer
neighbour; ``median`` is the mean of the two middle values as ``np.median`` computes
it, which can differ from ``q=0.5`` in the last bit.
"""

import math

import numpy as np
from numba import njit

from sklearn_multigran._config import NUMBA_CACHE


@njit(cache=NUMBA_CACHE, nogil=True, inline="always")
def _tree_add(tree, m, rank, delta):
    """Add ``delta`` at 0-based ``rank`` of a 1-based Fenwick tree of ``m`` leaves."""
    p = rank + 1
    while p <= m:
        tree[p] += delta
        p += p & -p


@njit(cache=NUMBA_CACHE, nogil=True, inline="always")
def _tree_kth(tree, m, top, k):
    """The 0-based rank of the ``k``-th (1-based) counted leaf; ``top``: the
    largest power of two not above ``m``."""
    pos = 0
    step = top
    while step > 0:
        nxt = pos + step
        if nxt <= m and tree[nxt] < k:
            pos = nxt
            k -= tree[nxt]
        step >>= 1
    return pos


@njit(cache=NUMBA_CACHE, nogil=True, inline="always")
def _quantile_of(tree, m, top, ranked, count, q, midpoint):
    """numpy's linear quantile ``q`` (or its median) of the ``count`` counted values."""
    if midpoint:
        half = count // 2
        if count % 2 == 1:
            return ranked[_tree_kth(tree, m, top, half + 1)]
        a = ranked[_tree_kth(tree, m, top, half)]
        b = ranked[_tree_kth(tree, m, top, half + 1)]
        # np.median: the mean of the two middle values, (a + b) / 2
        return (a + b) * 0.5
    # numpy's virtual index for method="linear"
    virtual = (count - 1) * q
    if virtual >= count - 1:
        return ranked[_tree_kth(tree, m, top, count)]
    previous = math.floor(virtual)
    gamma = virtual - previous
    k = int(previous) + 1
    a = ranked[_tree_kth(tree, m, top, k)]
    b = ranked[_tree_kth(tree, m, top, k + 1)]
    # numpy's _lerp: from the nearer end, so gamma = 1 returns b exactly
    diff = b - a
    if gamma >= 0.5:
        return b - diff * (1.0 - gamma)
    return a + diff * gamma


@njit(cache=NUMBA_CACHE, nogil=True)
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

    One group at a time: its non-NaN values are sorted once, and each window sweeps
    the group with its own tree (cleared between windows), so memory is one group's
    ranks and one tree whatever the number of windows.
    """
    n_rows = x.shape[0]
    n_tasks = lo_offsets.shape[0]
    n_levels = levels.shape[0]
    identity_rows = out_rows.shape[0] == 0
    fewest = max(min_periods, 1)
    rank = np.empty(n_rows, np.int64)
    ranked = np.empty(n_rows)
    tree = np.zeros(n_rows + 1, np.int32)
    for grp in range(group_starts.shape[0] - 1):
        g0 = group_starts[grp]
        g1 = group_starts[grp + 1]
        if g1 <= g0:
            continue
        # ranks of the group's non-NaN values: one sort per group and column
        m = 0
        for j in range(g0, g1):
            if not np.isnan(x[j]):
                ranked[m] = x[j]
                rank[m] = j
                m += 1
        order = np.argsort(ranked[:m])
        rows_of = rank[:m].copy()
        values = ranked[:m].copy()
        for j in range(g0, g1):
            rank[j - g0] = -1
        for r in range(m):
            ranked[r] = values[order[r]]
            rank[rows_of[order[r]] - g0] = r
        top = 1
        while top * 2 <= m:
            top *= 2
        for task in range(n_tasks):
            timed = is_time[task]
            lo_offset = lo_offsets[task]
            hi_offset = hi_offsets[task]
            tree[: m + 1] = 0
            s = g0
            e = g0
            count = 0
            for i in range(g0, g1):
                key_i = times[i] if timed else i
                lo = key_i - lo_offset
                hi = key_i - hi_offset
                # both ends only move forward; only rows that entered may leave
                while s < g1 and (times[s] if timed else s) <= lo:
                    if s < e and rank[s - g0] >= 0:
                        _tree_add(tree, m, rank[s - g0], -1)
                        count -= 1
                    s += 1
                if e < s:
                    e = s
                while e < g1 and (times[e] if timed else e) <= hi:
                    if rank[e - g0] >= 0:
                        _tree_add(tree, m, rank[e - g0], 1)
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
                        tree, m, top, ranked, count, levels[k], midpoint[k]
                    )
