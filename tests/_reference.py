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


# Order, shape and EWM statistics (``_kernels/_dispatch_stats.py``)
# --------------------------------------------------------------------------------------


def _naive_quantile(window, stat):
    if stat == "median":
        return np.median(window)
    return np.quantile(window, float(stat[1:]))


def _naive_slope(t, y, kind, size):
    """Least-squares slope in exact rational arithmetic, per ``size`` for time."""
    from fractions import Fraction

    t = [Fraction(int(v)) for v in t]
    y = [Fraction(float(v)) for v in y]
    n = len(t)
    t_mean = sum(t) / n
    y_mean = sum(y) / n
    sxx = sum((a - t_mean) ** 2 for a in t)
    sxy = sum((a - t_mean) * (b - y_mean) for a, b in zip(t, y, strict=True))
    slope = sxy / sxx
    return float(slope * size) if kind == "time" else float(slope)


def _naive_moments(window):
    """Exact biased central moments m2, m3, m4 of ``window`` (as Fractions)."""
    from fractions import Fraction

    y = [Fraction(float(v)) for v in window]
    n = len(y)
    mean = sum(y) / n
    return tuple(sum((v - mean) ** p for v in y) / n for p in (2, 3, 4))


def _naive_shape(window, times, stat, kind, size, min_periods, fill_value):
    n = len(window)
    if stat == "slope":
        if n < max(min_periods, 2) or len(set(times.tolist())) < 2:
            return fill_value
        return _naive_slope(times, window, kind, size)
    need = 3 if stat == "skew" else 4
    if n < max(min_periods, need) or np.all(window == window[0]):
        return fill_value
    m2, m3, m4 = _naive_moments(window)
    if stat == "skew":
        # scipy.stats.skew(bias=False): sqrt(n (n - 1)) / (n - 2) * m3 / m2^1.5
        return np.sqrt(n * (n - 1.0)) / (n - 2.0) * float(m3) / float(m2) ** 1.5
    # scipy.stats.kurtosis(bias=False): ((n + 1) g2 + 6) (n - 1) / ((n - 2) (n - 3))
    g2 = m4 / m2**2 - 3
    return float(((n + 1) * g2 + 6) * (n - 1) / ((n - 2) * (n - 3)))


def _naive_ewm(values, keys, included, stat, size, min_periods, ddof, fill_value):
    """EWM mean/std over ``included`` rows, weights 2^(-(newest key - key) / size)."""
    members = [j for j in included if not np.isnan(values[j])]
    if len(members) == 0 or len(members) < min_periods:
        return fill_value
    x = values[members]
    k = keys[members].astype(np.float64)
    # weights relative to the newest key: the ratio is what matters, and this one
    # cannot underflow to 0 / 0
    w = 0.5 ** ((k.max() - k) / size)
    mean = np.sum(w * x) / np.sum(w)
    if stat == "ewm_mean":
        return mean
    var = np.sum(w * (x - mean) ** 2) / np.sum(w)
    if ddof != 0:
        denominator = np.sum(w) ** 2 - np.sum(w**2)
        if denominator <= 0:
            return fill_value
        var *= np.sum(w) ** 2 / denominator
    return np.sqrt(var)


def naive_window_statistics_extra(
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
    """Same contract as ``_kernels._dispatch_stats.window_statistics_extra``."""
    values = np.asarray(values, dtype=np.float64)
    n_rows, n_columns = values.shape
    if out_rows is None:
        out_rows = np.arange(n_rows)
    n_stats = len(stats)
    per_granularity = n_columns * n_stats * n_lags
    out = np.full((n_out, len(windows) * per_granularity), np.nan)
    right = closed in ("right", "both")
    for group in range(len(group_starts) - 1):
        lo_group, hi_group = group_starts[group], group_starts[group + 1]
        for i in range(lo_group, hi_group):
            if out_rows[i] < 0:
                continue
            for g, (kind, size) in enumerate(windows):
                keys = times if kind == "time" else np.arange(n_rows)
                for lag in range(n_lags):
                    members = naive_window_members(
                        times, lo_group, hi_group, i, kind, size, lag, closed
                    )
                    # the whole past up to tau = key(i) - lag * size
                    tau = keys[i] - lag * size
                    past = [
                        j
                        for j in range(lo_group, hi_group)
                        if (keys[j] <= tau if right else keys[j] < tau)
                    ]
                    for c in range(n_columns):
                        column = values[:, c]
                        keep = [j for j in members if not np.isnan(column[j])]
                        window = column[keep]
                        for s, stat in enumerate(stats):
                            col = g * per_granularity + c * n_stats * n_lags
                            col += s * n_lags + lag
                            if stat.startswith("ewm_"):
                                value = _naive_ewm(
                                    column,
                                    keys,
                                    past,
                                    stat,
                                    size,
                                    min_periods,
                                    ddof,
                                    fill_value,
                                )
                            elif stat == "median" or stat.startswith("q"):
                                value = (
                                    _naive_quantile(window, stat)
                                    if len(window) >= max(min_periods, 1)
                                    else fill_value
                                )
                            else:
                                value = _naive_shape(
                                    window,
                                    keys[keep],
                                    stat,
                                    kind,
                                    size,
                                    min_periods,
                                    fill_value,
                                )
                            out[out_rows[i], col] = value
    return out


# Any mix of statistics, assembled one statistic at a time
# --------------------------------------------------------------------------------------


def naive_mixed_window_statistics(
    values, times, group_starts, windows, *, lags=None, **params
):
    """``window_statistics`` for any mix of statistics, one naive twin per statistic.

    Each statistic is computed alone by its family's twin (over lags ``0 .. L``,
    ``L`` the largest asked for), then its lags are placed at their columns of the
    documented layout (granularity, column, statistic, lag). ``lags``: each
    window's list of lag indices; None takes ``range(n_lags)``.
    """
    stats = list(params.pop("stats"))
    n_lags = params.pop("n_lags", 1)
    if lags is None:
        lags = [list(range(n_lags)) for _ in windows]
    n_twin_lags = max(max(lag) for lag in lags) + 1
    n_columns = np.asarray(values).shape[1]
    n_stats = len(stats)
    out = np.full(
        (params["n_out"], n_columns * n_stats * sum(len(lag) for lag in lags)), np.nan
    )
    for k, stat in enumerate(stats):
        twin = (
            naive_window_statistics
            if stat in STAT_FUNCS or stat == "count"
            else naive_window_statistics_extra
        )
        alone = twin(
            values,
            times,
            group_starts,
            windows,
            stats=[stat],
            n_lags=n_twin_lags,
            **params,
        )
        col = 0
        for g in range(len(windows)):
            for c in range(n_columns):
                for s in range(n_stats):
                    for lag in lags[g]:
                        if s == k:
                            out[:, col] = alone[
                                :, (g * n_columns + c) * n_twin_lags + lag
                            ]
                        col += 1
    return out


def naive_mixed_transform(values, times, groups, windows, **params):
    """``naive_transform`` for any mix of statistics."""
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
    return naive_mixed_window_statistics(
        np.asarray(values, dtype=np.float64)[order],
        np.asarray(times, dtype=np.int64)[order],
        np.asarray(group_starts),
        windows,
        out_rows=np.asarray(order),
        n_out=n_rows,
        **params,
    )


def exact_window_moments(window, ddof):
    """Exact ``sum``, ``mean`` and ``var`` of the non-NaN float ``window``, as
    ``fractions.Fraction`` (``var`` is None for no more than ``ddof`` values).

    Every float is a rational, so these are the true values of the window, for an
    oracle that no overflow, cancellation or rounding can touch.
    """
    from fractions import Fraction

    exact = [Fraction(v) for v in window]
    n = len(exact)
    total = sum(exact, Fraction(0))
    mean = total / n
    var = sum((v - mean) ** 2 for v in exact) / (n - ddof) if n > ddof else None
    return total, mean, var


def round_exact(value):
    """``value`` (a Fraction) rounded to float64, or +-inf where it overflows."""
    import math

    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def sqrt_exact(value):
    """The square root of the Fraction ``value`` to a rounding, or inf where it
    overflows: scaled by an even power of two first, so no step overflows."""
    import math
    from fractions import Fraction

    if value == 0:
        return 0.0
    k = (value.numerator.bit_length() - value.denominator.bit_length()) // 2
    root = math.sqrt(float(value / Fraction(4) ** k))
    try:
        return math.ldexp(root, k)
    except OverflowError:
        return math.inf


# Calendar buckets (``_kernels/_bucket.py``), by zoneinfo's datetime arithmetic
# --------------------------------------------------------------------------------------

_WEEKDAY_NAMES = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)


def naive_local_date(t_ns, zone):
    """The local calendar date of ``t_ns``: UTC ns read in ``zone``, or naive ns."""
    import datetime
    import zoneinfo

    seconds, rest = divmod(int(t_ns), 10**9)
    if zone is None:
        moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(
            seconds=seconds, microseconds=rest // 1000
        )
    else:
        moment = datetime.datetime.fromtimestamp(
            seconds, datetime.timezone.utc
        ).astimezone(zoneinfo.ZoneInfo(zone))
    return moment.date()


def naive_period(date, unit, week_start="monday"):
    """A period key comparable by subtraction: (day ordinal, week start, month)."""
    import datetime

    if unit == "day":
        return date.toordinal()
    if unit == "week":
        back = (date.weekday() - _WEEKDAY_NAMES.index(week_start)) % 7
        start = date - datetime.timedelta(days=back)
        # the week's first day, tagged so that it never equals a day key
        return (start.toordinal(), "week")
    return date.year * 12 + date.month - 1


def _period_back(key, unit, k):
    if unit == "week":
        return (key[0] - 7 * k, "week")
    return key - k


def naive_calendar_buckets(
    values,
    times,
    groups,
    unit,
    zone,
    *,
    week_start="monday",
    lags=(0,),
    stats=("mean",),
    closed="left",
    min_periods=1,
    ddof=0,
    fill_value=np.nan,
):
    """GranularityTransformer's calendar buckets, row by row, in input order.

    ``times`` are UTC ns read in ``zone`` (None: naive wall-clock ns). Lag 0 is
    the row's own local period before it (up to and including its time for
    ``closed`` "right"/"both"); lag ``k`` the whole ``k``-th previous period of
    the same group. Output columns by column, statistic, lag.
    """
    values = np.asarray(values, dtype=np.float64)
    n_rows, n_columns = values.shape
    keys = [naive_period(naive_local_date(t, zone), unit, week_start) for t in times]
    members = {}
    for r in range(n_rows):
        members.setdefault((groups[r], keys[r]), []).append(r)
    out = np.empty((n_rows, n_columns * len(stats) * len(lags)))
    for r in range(n_rows):
        col = 0
        for c in range(n_columns):
            for stat in stats:
                for k in lags:
                    if k == 0:
                        rows = [
                            q
                            for q in members[(groups[r], keys[r])]
                            if times[q] < times[r]
                            or (closed in ("right", "both") and times[q] == times[r])
                        ]
                    else:
                        back = _period_back(keys[r], unit, k)
                        rows = members.get((groups[r], back), [])
                    window = values[sorted(rows, key=lambda q: (times[q], q)), c]
                    window = window[~np.isnan(window)]
                    out[r, col] = _naive_stat(
                        window, stat, min_periods, ddof, fill_value
                    )
                    col += 1
    return out
