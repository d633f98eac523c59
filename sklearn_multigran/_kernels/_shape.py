"""Rolling shape statistics: least-squares slope, skewness and excess kurtosis.

numba only: no pandas, no scikit-learn. Same window contract as ``_rolling.py``: rows
sorted by (group, time, input position); row ``j`` is in row ``i``'s window when
``key(i) - lo_offset < key(j) <= key(i) - hi_offset``; NaN skipped; fewer than
``min_periods`` values (or none) give ``fill_value``; ``out_rows[i] == -1`` marks a
context row that feeds windows but is not emitted.

Numerical choices
-----------------
Both kernels keep running power sums of *shifted* values, added when a row enters
and subtracted when it leaves (the moments with Knuth's TwoSum compensation):

* The shifts are a time (the window's right end, ``u = (key - t_ref) / size``) and a
  value (the newest value of the window) taken at a *rebuild*: whenever every row
  present at the previous rebuild has left, the sums are recomputed from the window
  as it is. Each row is re-read at most once, so the cost stays O(1) per row, and
  the shifts never lag more than about one window behind the data: for ``1e9 +
  noise`` the sums hold the noise, and ``u`` stays within about one window of 0.
* A row leaves by subtracting exactly the rounded term it added (the shifts have not
  changed since, or the sums were rebuilt), and the rebuild bounds the rounding a
  sum gathers to the few window lengths of adds and subtracts since the last one:
  O(w eps) relative to the sums, whatever the length of the series. The slope's
  sums are plain: compensating them measured 1.7x slower for no error the tests
  can see. The moments keep TwoSum, since their centred values cancel more (skew
  of near-symmetric data). An empty window resets the sums to exact zeros and
  takes its next value as the shift.
* The "two stacks" suffix summaries of ``_rolling.py`` avoid subtraction altogether
  but need a ring of 4-5 sums per row and a merge of two shifted frames per query;
  for 4 power sums the compensated subtraction is simpler, and with the rebuild it
  is checked against exact rational arithmetic in the tests.
* Centred moments come from the shifted sums by the binomial expansion; with the
  shift a value of the window the expansion cancels little (for a slope, the
  cancellation factor is about ``(|u - mean u| / spread of u)^2``, a few units).
* A window whose non-NaN values are all equal (a run of equal values reaching back
  past its first row) has no skewness or kurtosis: ``fill_value``, as scipy's NaN,
  rather than pandas' 0 that comes out of its rounding.

Slope is in value units per granularity: per ``size`` time units for time windows
(the slope per time unit times ``size``), per row for row windows, whose abscissa is
the row's position. It needs two distinct times among the window's values.
"""

import math

import numpy as np

from sklearn_multigran._kernels._cache import kernel


@kernel(nogil=True, inline="always")
def _two_sum(total, compensation, x):
    """Add ``x`` to a compensated sum with Knuth's branch-free TwoSum."""
    t = total + x
    virtual = t - total
    compensation += (total - (t - virtual)) + (x - virtual)
    return t, compensation


@kernel(nogil=True)
def slope_sweeps(
    x,
    times,
    group_starts,
    is_time,
    sizes,
    lo_offsets,
    hi_offsets,
    cols,
    min_periods,
    fill_value,
    out_rows,
    out,
):
    """Least-squares slope of one column against time over several windows.

    ``is_time``, ``sizes``, ``lo_offsets``, ``hi_offsets`` and ``cols`` (the output
    column) are per window (granularity x lag). The slope is
    ``sum((u - mean u)(y - mean y)) / sum((u - mean u)^2)`` with ``u`` the time in
    units of ``size`` (time windows) or the row position (row windows).
    """
    identity_rows = out_rows.shape[0] == 0
    fewest = max(min_periods, 2)
    for task in range(lo_offsets.shape[0]):
        timed = is_time[task]
        scale = 1.0 / sizes[task] if timed else 1.0
        lo_offset = lo_offsets[task]
        hi_offset = hi_offsets[task]
        col = cols[task]
        for grp in range(group_starts.shape[0] - 1):
            g0 = group_starts[grp]
            g1 = group_starts[grp + 1]
            s = g0
            e = g0
            first = g0
            last = g0 - 1
            rebuilt_end = g0
            count = 0
            t_ref = 0
            y_ref = 0.0
            su = sy = suu = suy = 0.0
            for i in range(g0, g1):
                key_i = times[i] if timed else i
                lo = key_i - lo_offset
                hi = key_i - hi_offset
                while s < g1 and (times[s] if timed else s) <= lo:
                    if s < e and not np.isnan(x[s]):
                        u = (times[s] - t_ref if timed else s - t_ref) * scale
                        y = x[s] - y_ref
                        su -= u
                        sy -= y
                        suu -= u * u
                        suy -= u * y
                        count -= 1
                    s += 1
                if e < s:
                    e = s
                while e < g1 and (times[e] if timed else e) <= hi:
                    v = x[e]
                    if not np.isnan(v):
                        if count == 0:
                            # an empty window: exact zeros, shifted to this row
                            t_ref = times[e] if timed else e
                            y_ref = v
                            su = sy = suu = suy = 0.0
                        u = (times[e] - t_ref if timed else e - t_ref) * scale
                        y = v - y_ref
                        su += u
                        sy += y
                        suu += u * u
                        suy += u * y
                        count += 1
                        last = e
                    e += 1
                if s >= rebuilt_end and count > 0:
                    # every row of the last rebuild has left: re-shift to this window
                    t_ref = hi
                    y_ref = x[last]
                    su = sy = suu = suy = 0.0
                    for j in range(s, e):
                        if not np.isnan(x[j]):
                            u = (times[j] - t_ref if timed else j - t_ref) * scale
                            y = x[j] - y_ref
                            su += u
                            sy += y
                            suu += u * u
                            suy += u * y
                    rebuilt_end = e
                dest = i if identity_rows else out_rows[i]
                if dest < 0:
                    continue
                if count < fewest:
                    out[dest, col] = fill_value
                    continue
                first = max(first, s)
                while np.isnan(x[first]):
                    first += 1
                if (times[first] if timed else first) == (
                    times[last] if timed else last
                ):
                    # one distinct time: no line to fit
                    out[dest, col] = fill_value
                    continue
                n_inv = 1.0 / count
                u_total = su
                mean_u = u_total * n_inv
                sxx = suu - u_total * mean_u
                sxy = suy - sy * mean_u
                out[dest, col] = sxy / sxx if sxx > 0.0 else fill_value


@kernel(nogil=True)
def moment_sweeps(
    x,
    times,
    group_starts,
    is_time,
    lo_offsets,
    hi_offsets,
    skew_cols,
    kurt_cols,
    min_periods,
    fill_value,
    out_rows,
    out,
):
    """Sample skewness and excess kurtosis (pandas' and scipy's ``bias=False``).

    ``skew_cols``/``kurt_cols`` hold each window's output column, -1 when that
    statistic is not asked for. With ``m_k`` the biased central moments of ``n``
    values, skewness is ``sqrt(n (n - 1)) / (n - 2) * m3 / m2^1.5`` (needs 3 values)
    and excess kurtosis ``(n - 1) / ((n - 2) (n - 3)) * ((n + 1) m4 / m2^2 - 3 (n -
    1))`` (needs 4).
    """
    identity_rows = out_rows.shape[0] == 0
    for task in range(lo_offsets.shape[0]):
        timed = is_time[task]
        lo_offset = lo_offsets[task]
        hi_offset = hi_offsets[task]
        skew_col = skew_cols[task]
        kurt_col = kurt_cols[task]
        for grp in range(group_starts.shape[0] - 1):
            g0 = group_starts[grp]
            g1 = group_starts[grp + 1]
            s = g0
            e = g0
            first = g0
            last = g0 - 1
            # first row of the run of equal values ending at ``last``
            run_start = g0
            rebuilt_end = g0
            count = 0
            shift = 0.0
            s1 = c1 = s2 = c2 = s3 = c3 = s4 = c4 = 0.0
            for i in range(g0, g1):
                key_i = times[i] if timed else i
                lo = key_i - lo_offset
                hi = key_i - hi_offset
                while s < g1 and (times[s] if timed else s) <= lo:
                    if s < e and not np.isnan(x[s]):
                        y = x[s] - shift
                        y2 = y * y
                        s1, c1 = _two_sum(s1, c1, -y)
                        s2, c2 = _two_sum(s2, c2, -y2)
                        s3, c3 = _two_sum(s3, c3, -(y2 * y))
                        s4, c4 = _two_sum(s4, c4, -(y2 * y2))
                        count -= 1
                    s += 1
                if e < s:
                    e = s
                while e < g1 and (times[e] if timed else e) <= hi:
                    v = x[e]
                    if not np.isnan(v):
                        if count == 0:
                            shift = v
                            s1 = c1 = s2 = c2 = s3 = c3 = s4 = c4 = 0.0
                        if last < g0 or v != x[last]:
                            run_start = e
                        y = v - shift
                        y2 = y * y
                        s1, c1 = _two_sum(s1, c1, y)
                        s2, c2 = _two_sum(s2, c2, y2)
                        s3, c3 = _two_sum(s3, c3, y2 * y)
                        s4, c4 = _two_sum(s4, c4, y2 * y2)
                        count += 1
                        last = e
                    e += 1
                if s >= rebuilt_end and count > 0:
                    shift = x[last]
                    s1 = c1 = s2 = c2 = s3 = c3 = s4 = c4 = 0.0
                    for j in range(s, e):
                        if not np.isnan(x[j]):
                            y = x[j] - shift
                            y2 = y * y
                            s1, c1 = _two_sum(s1, c1, y)
                            s2, c2 = _two_sum(s2, c2, y2)
                            s3, c3 = _two_sum(s3, c3, y2 * y)
                            s4, c4 = _two_sum(s4, c4, y2 * y2)
                    rebuilt_end = e
                dest = i if identity_rows else out_rows[i]
                if dest < 0:
                    continue
                skew = kurt = fill_value
                if count >= max(min_periods, 3):
                    first = max(first, s)
                    while np.isnan(x[first]):
                        first += 1
                if count >= max(min_periods, 3) and run_start > first:
                    n = float(count)
                    a = (s1 + c1) / n
                    b2 = (s2 + c2) / n
                    b3 = (s3 + c3) / n
                    aa = a * a
                    m2 = b2 - aa
                    m3 = b3 - 3.0 * a * b2 + 2.0 * aa * a
                    if m2 > 0.0:
                        skew = math.sqrt(n * (n - 1.0)) / (n - 2.0) * m3 / m2**1.5
                        if count >= max(min_periods, 4):
                            b4 = (s4 + c4) / n
                            m4 = b4 - 4.0 * a * b3 + 6.0 * aa * b2 - 3.0 * aa * aa
                            kurt = (
                                (n - 1.0)
                                / ((n - 2.0) * (n - 3.0))
                                * ((n + 1.0) * m4 / (m2 * m2) - 3.0 * (n - 1.0))
                            )
                if skew_col >= 0:
                    out[dest, skew_col] = skew
                if kurt_col >= 0:
                    out[dest, kurt_col] = kurt
