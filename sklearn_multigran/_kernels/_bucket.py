"""Calendar-bucket reductions: statistics per period and per "period so far".

Rows come sorted by (group, time, position) with an int64 period id each (days,
weeks or months numbered consecutively, so period ``p - k`` is the k-th period
before ``p`` whether or not it holds rows). For every row, lag 0 reduces the rows
of its own period before it (``closed_right``: up to and including its time; rows
sharing a timestamp go in or out together) and lag ``k >= 1`` the whole period
``p - k`` of the same group. One pass per column and group reduces every period
once; lag 0 reads the running accumulators, lags ``k >= 1`` a per-period table.

Means and squared deviations are Welford's updates (no cancellation of large
means); sums are plain running sums, as the rolling kernels' "sum".

Statistic codes are ``_rolling.STAT_CODES``: mean 0, std 1, var 2, min 3, max 4,
sum 5, count 6, first 7, last 8. Nothing here imports pandas or scikit-learn.
"""

import math

import numpy as np

from sklearn_multigran._kernels._cache import kernel

# accumulator slots: count, mean, M2, min, max, sum, first, last
_N_ACC = 8


@kernel(nogil=True)
def _finish(acc, code, min_periods, ddof, fill_value):
    """One statistic from an accumulator (NaN rules as the rolling kernels)."""
    n = acc[0]
    if code == 6:
        return n
    if code == 5:
        return acc[5] if n >= min_periods else fill_value
    if n < min_periods or n == 0:
        return fill_value
    if code == 0:
        return acc[1]
    if code == 1 or code == 2:
        if n <= ddof:
            return fill_value
        var = max(acc[2], 0.0) / (n - ddof)
        return math.sqrt(var) if code == 1 else var
    if code == 3:
        return acc[3]
    if code == 4:
        return acc[4]
    if code == 7:
        return acc[6]
    return acc[7]


@kernel(nogil=True)
def _reset(acc):
    acc[0] = 0.0
    acc[1] = 0.0
    acc[2] = 0.0
    acc[3] = np.inf
    acc[4] = -np.inf
    acc[5] = 0.0
    acc[6] = np.nan
    acc[7] = np.nan


@kernel(nogil=True)
def _add(acc, x):
    if x != x:  # NaN is skipped
        return
    n = acc[0] + 1.0
    delta = x - acc[1]
    acc[1] += delta / n
    acc[2] += delta * (x - acc[1])
    acc[0] = n
    if x < acc[3]:
        acc[3] = x
    if x > acc[4]:
        acc[4] = x
    acc[5] += x
    if n == 1.0:
        acc[6] = x
    acc[7] = x


@kernel(nogil=True)
def bucket_sweeps(
    columns,
    times,
    periods,
    group_starts,
    lags,
    stat_codes,
    first_col,
    closed_right,
    min_periods,
    ddof,
    fill_value,
    out_rows,
    out,
):
    """Write every (column, statistic, lag) of one calendar granularity into ``out``.

    Parameters
    ----------
    columns : ndarray of shape (n_columns, n_rows), float64
    times, periods : ndarray of shape (n_rows,), int64
        Sorted rows; ``periods`` is non-decreasing within each group.
    group_starts : ndarray of shape (n_groups + 1,), int64
    lags : ndarray of shape (n_lags,), int64
        Distinct lag indices >= 0, in output order.
    stat_codes : ndarray of shape (n_stats,), int64
    first_col : int
        Output column of (column 0, statistic 0, lag 0); column ``c``, statistic
        ``s``, lag position ``j`` goes to ``first_col + (c * n_stats + s) * n_lags
        + j``.
    closed_right : bool
        Whether lag 0 includes the rows at the row's own time.
    out_rows : ndarray of shape (n_rows,) or (0,), int64
        Output row of each sorted row (-1: context, not written); empty: identity.
    out : ndarray of shape (n_out, n_features), float64
    """
    n_columns = columns.shape[0]
    n_stats = stat_codes.shape[0]
    n_lags = lags.shape[0]
    identity = out_rows.shape[0] == 0
    acc = np.empty(_N_ACC)
    for g in range(group_starts.shape[0] - 1):
        lo = group_starts[g]
        hi = group_starts[g + 1]
        if hi <= lo:
            continue
        # the group's periods: runs of equal id
        n_seg = 1
        for i in range(lo + 1, hi):
            if periods[i] != periods[i - 1]:
                n_seg += 1
        seg_start = np.empty(n_seg + 1, np.int64)
        seg_period = np.empty(n_seg, np.int64)
        s = 0
        seg_start[0] = lo
        seg_period[0] = periods[lo]
        for i in range(lo + 1, hi):
            if periods[i] != periods[i - 1]:
                s += 1
                seg_start[s] = i
                seg_period[s] = periods[i]
        seg_start[n_seg] = hi
        # for each segment and lag k >= 1, the segment of period p - k (or -1)
        lag_seg = np.full((n_seg, n_lags), -1, np.int64)
        for s in range(n_seg):
            for j in range(n_lags):
                k = lags[j]
                if k == 0:
                    continue
                target = seg_period[s] - k
                r = s - 1
                # periods strictly increase: at most k segments back
                while r >= 0 and seg_period[r] > target:
                    r -= 1
                if r >= 0 and seg_period[r] == target:
                    lag_seg[s, j] = r
        finished = np.empty((n_seg, n_stats))
        # a period without rows: the statistics of nothing (count 0, sum 0 with
        # min_periods=0, else fill_value)
        empty = np.empty(n_stats)
        _reset(acc)
        for m in range(n_stats):
            empty[m] = _finish(acc, stat_codes[m], min_periods, ddof, fill_value)
        for c in range(n_columns):
            x = columns[c]
            base = first_col + c * n_stats * n_lags
            # whole periods first: lag k >= 1 reads them
            for s in range(n_seg):
                _reset(acc)
                for i in range(seg_start[s], seg_start[s + 1]):
                    _add(acc, x[i])
                for m in range(n_stats):
                    finished[s, m] = _finish(
                        acc, stat_codes[m], min_periods, ddof, fill_value
                    )
            for s in range(n_seg):
                _reset(acc)
                a = seg_start[s]
                b = seg_start[s + 1]
                i = a
                while i < b:
                    # one run of rows sharing a timestamp
                    e = i + 1
                    while e < b and times[e] == times[i]:
                        e += 1
                    if closed_right:
                        for q in range(i, e):
                            _add(acc, x[q])
                    for q in range(i, e):
                        row = q if identity else out_rows[q]
                        if row < 0:
                            continue
                        for j in range(n_lags):
                            if lags[j] == 0:
                                for m in range(n_stats):
                                    code = stat_codes[m]
                                    out[row, base + m * n_lags + j] = _finish(
                                        acc, code, min_periods, ddof, fill_value
                                    )
                            else:
                                r = lag_seg[s, j]
                                for m in range(n_stats):
                                    value = finished[r, m] if r >= 0 else empty[m]
                                    out[row, base + m * n_lags + j] = value
                    if not closed_right:
                        for q in range(i, e):
                            _add(acc, x[q])
                    i = e
