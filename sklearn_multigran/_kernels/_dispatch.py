"""Python side of the kernels: dtypes, contiguity, output allocation, kernel choice.

Nothing here imports pandas or scikit-learn; callers (the transformer) validate user
input first and hand over plain arrays.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from sklearn_multigran._config import NUM_THREADS
from sklearn_multigran._kernels._checks import has_infinity, is_sorted_by_group_and_time
from sklearn_multigran._kernels._dispatch_stats import fill_extra_statistics
from sklearn_multigran._kernels._rolling import (
    N_FSTATE,
    N_ISTATE,
    N_RINGS,
    START_SLOT,
    STAT_CODES,
    max_window_rows,
    sweep_variant,
    window_sweeps,
)

# Below this many rows per chunk, a chunk's start (rebuilding its windows from the
# rows before it, a call from Python) costs more than splitting saves.
_MIN_ROWS_PER_CHUNK = 50_000
# Chunks per thread: threads take the next chunk when they finish one, so a thread
# that loses its core to another process holds up the call by one chunk, not by
# its whole share (one static chunk per thread made 2 threads slower than 1 on a
# loaded machine).
_CHUNKS_PER_THREAD = 6


def _read_only(array, dtype):
    """A C-contiguous, read-only view of ``array`` (copied only to get there).

    The kernels only read their inputs. numba types read-only arrays (pandas'
    copy-on-write views) apart from writable ones and would compile every kernel
    twice if it saw both, so every input is handed over read-only: one compiled
    version, and no copy of a view that is already contiguous.
    """
    view = np.ascontiguousarray(array, dtype=dtype).view()
    view.flags.writeable = False
    return view


def any_infinite(values):
    """Whether ``values`` (any shape, any memory order) hold ``inf`` or ``-inf``."""
    # ravel in memory order: a view of a C- or F-ordered array, no copy
    return bool(has_infinity(_read_only(np.ravel(values, order="K"), np.float64)))


def rows_in_order(times, codes=None):
    """Whether rows are sorted by (``codes``, ``times``); ``codes=None``: one group."""
    if codes is not None:
        codes = _read_only(codes, np.int64)
    return bool(is_sorted_by_group_and_time(_read_only(times, np.int64), codes))


def group_end_rows(group_starts):
    """The first and the last sorted row of every non-empty group."""
    nonempty = group_starts[:-1] < group_starts[1:]
    return group_starts[:-1][nonempty], group_starts[1:][nonempty] - 1


def window_statistics(
    values,
    times,
    group_starts,
    windows,
    *,
    n_lags=1,
    lags=None,
    closed,
    stats,
    min_periods,
    ddof,
    fill_value,
    out_rows,
    n_out,
    n_threads=None,
):
    """Trailing-window statistics of sorted rows, every granularity and lag at once.

    The one entry the transformer calls: each statistic goes to its kernel family
    (the rolling accumulators of ``_rolling`` for ``STAT_CODES``, the order, shape
    and EWM kernels of ``_dispatch_stats`` for the others), all writing into one
    output in the documented order.

    Parameters
    ----------
    values : ndarray of shape (n_rows, n_columns)
        Rows sorted by (group, time, input position). NaN values are skipped.
    times : ndarray of shape (n_rows,), int64
        Sorted within each group; in the unit of the time-window sizes (nanoseconds
        for the transformer). Ignored by row windows.
    group_starts : ndarray of shape (n_groups + 1,), int64
        Start of each group in the sorted rows, then ``n_rows``.
    windows : sequence of (kind, size)
        ``kind`` is ``"rows"`` (``size`` rows) or ``"time"`` (``size`` time units).
    n_lags : int, default=1
        Lags ``0 .. n_lags - 1`` of every window, when ``lags`` is None. Lag ``k``
        is the window moved back by ``k`` times its size.
    lags : sequence of sequences of int, default=None
        The lag indices of each window, in output order (distinct, non-negative);
        overrides ``n_lags``.
    closed : {"left", "right", "both", "neither"}
        Which ends of the window are included, as in pandas.
    stats : sequence of str
        Keys of ``STAT_CODES`` and names ``_dispatch_stats.check_statistic``
        accepts, in any mix; the output follows their order.
    min_periods, ddof : int
        Fewer than ``min_periods`` non-NaN values (or no more than ``ddof`` for std
        and var) yield ``fill_value``; ``count`` never does.
    fill_value : float
    out_rows : ndarray of shape (n_rows,), int64, or None
        Output row of each sorted row; -1 marks a context row, read by windows but
        not emitted. ``None`` sends sorted row ``i`` to output row ``i``.
    n_out : int
        Number of output rows; ``out_rows`` maps onto ``range(n_out)``.
    n_threads : int, default=None
        ``None`` reads ``SKLEARN_MULTIGRAN_NUM_THREADS`` (default 1).

    Returns
    -------
    out : ndarray of shape (n_out, n_columns * len(stats) * n_window_lags)
        ``n_window_lags`` is the number of (window, lag) pairs. Granularity-major,
        then column, statistic and lag.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"values must be 2-D, got shape {values.shape}.")
    n_rows, n_columns = values.shape
    times = _read_only(times, np.int64)
    group_starts = _read_only(group_starts, np.int64)
    # an empty array tells the kernels that sorted row i is output row i
    out_rows = _read_only(np.empty(0) if out_rows is None else out_rows, np.int64)
    is_time = _read_only([kind == "time" for kind, _ in windows], np.bool_)
    sizes = _read_only([int(size) for _, size in windows], np.int64)
    lags = _lag_arrays(len(windows), n_lags, lags)
    stats = list(stats)
    rolling = [(k, stat) for k, stat in enumerate(stats) if stat in STAT_CODES]
    stat_codes = _read_only([STAT_CODES[stat] for _, stat in rolling], np.int64)
    stat_positions = _read_only([k for k, _ in rolling], np.int64)
    left_closed = closed in ("left", "both")
    right_closed = closed in ("right", "both")

    n_features = n_columns * len(stats) * sum(len(lag) for lag in lags)
    out = np.empty((n_out, n_features), dtype=np.float64)
    if n_rows == 0 or n_features == 0:
        return out
    # the windows reach back as far as the largest lag's (an upper bound for
    # granularities with fewer lags)
    n_lags = max((int(lag.max()) + 1 for lag in lags if len(lag)), default=1)

    if is_time.any():
        # The kernels' time arithmetic must stay inside int64: the widest offset
        # (n_lags * size + 1, the oldest lag's open left end) must fit, and so must
        # the earliest time minus it (``t - lo_offset`` in the sweeps and in
        # ``max_window_rows``); ``t + size`` there saturates, so needs no bound.
        longest = int(sizes[is_time].max())
        offset = n_lags * longest + 1
        int64_max = int(np.iinfo(np.int64).max)
        # times are sorted within each group: its first rows bound them from below
        firsts, _ = group_end_rows(group_starts)
        earliest = int(times[firsts].min())
        if offset > int64_max or earliest - offset < -int64_max - 1:
            raise ValueError(
                f"the longest time granularity ({longest} time units, "
                f"{longest / 86_400e9:.6g} days of nanoseconds) times n_lags={n_lags} "
                f"reaches {offset - 1} time units back from the earliest time "
                f"{earliest}, beyond what int64 nanoseconds can hold (about 292 "
                "years either side of 1970); use shorter granularities or fewer lags."
            )
    if len(rolling) < len(stats):
        fill_extra_statistics(
            out,
            values,
            times,
            group_starts,
            windows,
            lags,
            closed=closed,
            stats=stats,
            min_periods=min_periods,
            ddof=ddof,
            fill_value=fill_value,
            out_rows=out_rows,
        )
    if not rolling:
        return out
    # one contiguous array per column: every sweep streams a single column (one
    # column in rows is already one, and is not copied)
    columns = _read_only(values.T, np.float64)
    n_threads = NUM_THREADS if n_threads is None else n_threads
    n_chunks = 1
    if n_threads > 1:
        n_chunks = min(n_threads * _CHUNKS_PER_THREAD, n_rows // _MIN_ROWS_PER_CHUNK)
        n_chunks = max(n_chunks, 1)
    tasks = _sweep_tasks(
        is_time,
        sizes,
        lags,
        n_columns,
        len(stats),
        stat_codes,
        stat_positions,
        left_closed,
        right_closed,
    )
    bound_args = (
        times,
        group_starts,
        is_time,
        sizes,
        n_lags,
        1 if left_closed and right_closed else 0,
    )

    def run_chunk(row_lo, row_hi):
        # a ring holds every window's rows; each chunk sizes its own
        capacity = max_window_rows(*bound_args, row_lo, row_hi)
        cap = 1 << max(int(capacity) - 1, 0).bit_length()
        n_tasks = tasks[0].shape[0]
        istate = np.zeros((n_tasks, N_ISTATE), np.int64)
        istate[:, START_SLOT] = -1  # every sweep starts afresh
        window_sweeps(
            columns,
            times,
            group_starts,
            *tasks,
            *sweep_variant([stat for _, stat in rolling]),
            min_periods,
            ddof,
            float(fill_value),
            out_rows,
            out,
            row_lo,
            row_hi,
            istate,
            np.zeros((n_tasks, N_FSTATE)),
            np.empty((n_tasks, cap, N_RINGS)),
            _reciprocals(cap),
        )

    if n_chunks == 1:
        run_chunk(0, n_rows)
        return out
    bounds = np.linspace(0, n_rows, n_chunks + 1).astype(np.int64).tolist()
    # the sweeps release the GIL: threads share out the chunks as they finish them
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        for future in [
            pool.submit(run_chunk, lo, hi)
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
        ]:
            future.result()
    return out


def _reciprocals(cap):
    """``1 / k`` for ``k`` in ``0 .. cap`` (``inf`` at 0, never read)."""
    with np.errstate(divide="ignore"):
        return 1.0 / np.arange(cap + 1.0)


def _lag_arrays(n_windows, n_lags, lags):
    """Each window's lag indices as an int64 array (``range(n_lags)`` by default)."""
    if lags is None:
        return [np.arange(n_lags, dtype=np.int64) for _ in range(n_windows)]
    if len(lags) != n_windows:
        raise ValueError(f"lags has {len(lags)} lists for {n_windows} windows.")
    return [np.asarray(lag, dtype=np.int64).reshape(-1) for lag in lags]


def feature_offsets(lag_counts, n_columns, n_stats):
    """First output column of each window: ``n_columns * n_stats`` per lag before."""
    per_lag = n_columns * n_stats
    return np.concatenate([[0], np.cumsum(lag_counts)[:-1]]).astype(np.int64) * per_lag


def _sweep_tasks(
    is_time,
    sizes,
    lags,
    n_columns,
    n_stats,
    stat_codes,
    stat_positions,
    left_closed,
    right_closed,
):
    """Per sweep (granularity x lag x column): window kind, bounds, first column.

    ``lags`` holds each granularity's lag indices; ``stat_codes`` are the rolling
    statistics asked for and ``stat_positions`` their places among all
    ``n_stats`` statistics. Returns ``(is_time_of, lo_offsets, hi_offsets,
    stat_cols)`` as ``window_sweeps`` takes them; see there for the bounds.
    """
    counts = np.array([len(lag) for lag in lags], dtype=np.int64)
    offsets = feature_offsets(counts, n_columns, n_stats)
    g = np.repeat(np.arange(len(lags)), counts * n_columns)
    # lag index j of granularity g, then column c: the order of the sweeps
    j = np.concatenate(
        [np.repeat(np.arange(n), n_columns) for n in counts] or [np.zeros(0, int)]
    ).astype(np.int64)
    c = np.concatenate(
        [np.tile(np.arange(n_columns), n) for n in counts] or [np.zeros(0, int)]
    ).astype(np.int64)
    lag = np.repeat(np.concatenate(lags).astype(np.int64), n_columns)
    hi_offsets = lag * sizes[g] + (0 if right_closed else 1)
    lo_offsets = (lag + 1) * sizes[g] + (1 if left_closed else 0)
    # granularity-major, then column, statistic and lag
    n_lags_of = counts[g]
    first_cols = offsets[g] + c * n_stats * n_lags_of + j
    cols = np.full((first_cols.shape[0], len(STAT_CODES)), -1, np.int64)
    for code, k in zip(stat_codes, stat_positions, strict=True):
        cols[:, code] = first_cols + k * n_lags_of
    return (
        _read_only(is_time[g], np.bool_),
        _read_only(lo_offsets, np.int64),
        _read_only(hi_offsets, np.int64),
        _read_only(cols, np.int64),
    )
