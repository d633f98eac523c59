"""Naive, obviously correct twins of the fast code, with the same signatures.

Modelled on stumpy's ``tests/naive.py``: every window is materialised and reduced with
plain numpy, so the code is slow but can be checked by reading it.
"""

import numpy as np

STAT_FUNCS = {
    "mean": lambda v, ddof: v.mean(),
    "std": lambda v, ddof: v.std(ddof=ddof),
    "var": lambda v, ddof: v.var(ddof=ddof),
    "min": lambda v, ddof: v.min(),
    "max": lambda v, ddof: v.max(),
    "sum": lambda v, ddof: v.sum(),
    "first": lambda v, ddof: v[0],
    "last": lambda v, ddof: v[-1],
}


def naive_window_members(times, lo_group, hi_group, i, kind, size, lag, closed):
    """Sorted-row indices in the window of row ``i`` (a naive scan of its group)."""
    left = closed in ("left", "both")
    right = closed in ("right", "both")
    members = []
    for j in range(lo_group, hi_group):
        if kind == "rows":
            # position relative to the row the window is anchored on
            end = i - lag * size
            start = end - size
            inside = (start < j if not left else start <= j) and (
                j <= end if right else j < end
            )
        else:
            hi = times[i] - lag * size
            lo = hi - size
            inside = (times[j] >= lo if left else times[j] > lo) and (
                times[j] <= hi if right else times[j] < hi
            )
        if inside:
            members.append(j)
    return members


def naive_window_statistics(
    values,
    times,
    group_starts,
    windows,
    *,
    n_lags,
    closed,
    stats,
    min_periods,
    ddof,
    fill_value,
    out_rows,
    n_out,
):
    """Same contract as ``sklearn_multigran._kernels._dispatch.window_statistics``."""
    values = np.asarray(values, dtype=np.float64)
    n_rows, n_columns = values.shape
    n_stats = len(stats)
    per_granularity = n_columns * n_stats * n_lags
    out = np.full((n_out, len(windows) * per_granularity), np.nan)
    for group in range(len(group_starts) - 1):
        lo_group, hi_group = group_starts[group], group_starts[group + 1]
        for i in range(lo_group, hi_group):
            if out_rows[i] < 0:
                continue
            for g, (kind, size) in enumerate(windows):
                for lag in range(n_lags):
                    members = naive_window_members(
                        times, lo_group, hi_group, i, kind, size, lag, closed
                    )
                    for c in range(n_columns):
                        window = values[members, c]
                        window = window[~np.isnan(window)]
                        for s, stat in enumerate(stats):
                            col = g * per_granularity + c * n_stats * n_lags
                            col += s * n_lags + lag
                            out[out_rows[i], col] = _naive_stat(
                                window, stat, min_periods, ddof, fill_value
                            )
    return out


def _naive_stat(window, stat, min_periods, ddof, fill_value):
    n = len(window)
    if stat == "count":
        return float(n)
    if stat == "sum":
        return window.sum() if n >= min_periods else fill_value
    if n == 0 or n < min_periods:
        return fill_value
    if stat in ("std", "var") and n <= ddof:
        return fill_value
    return STAT_FUNCS[stat](window, ddof)


def naive_transform(values, times, groups, windows, **params):
    """GranularityTransformer's contract on raw rows, with a plain Python sort.

    ``values`` (n, C) in input order, ``times`` int64, ``groups`` hashable keys;
    rows are ordered by (group, time, input position) with ``sorted``, and the
    result comes back in input order.
    """
    n_rows = len(times)
    group_ids = {}
    for key in groups:
        group_ids.setdefault(key, len(group_ids))
    order = sorted(range(n_rows), key=lambda r: (group_ids[groups[r]], times[r], r))
    sorted_groups = [group_ids[groups[r]] for r in order]
    group_starts = [0] + [
        k for k in range(1, n_rows) if sorted_groups[k] != sorted_groups[k - 1]
    ]
    group_starts.append(n_rows)
    return naive_window_statistics(
        np.asarray(values, dtype=np.float64)[order],
        np.asarray(times, dtype=np.int64)[order],
        np.asarray(group_starts),
        windows,
        out_rows=np.asarray(order),
        n_out=n_rows,
        **params,
    )
