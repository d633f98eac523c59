"""Hypothesis strategies shared by the kernel tests of the order, shape and EWM
statistics."""

import numpy as np
from hypothesis import strategies as st

CLOSED = ["left", "right", "both", "neither"]


def kernel_params(default_stats, **kwargs):
    """Keyword arguments of the kernels' entry point: defaults, then ``kwargs``."""
    params = dict(
        n_lags=1,
        closed="right",
        stats=default_stats,
        min_periods=1,
        ddof=1,
        fill_value=np.nan,
        out_rows=None,
    )
    params.update(kwargs)
    return params


@st.composite
def sorted_panels(draw, max_rows=40):
    """Sorted rows of 1-3 groups with ties, gaps, NaN runs and context rows.

    Returns ``(values, times, group_starts, out_rows, n_out)``; values come in
    several scales and, sometimes, from a small set so that windows hold ties.
    """
    n_rows = draw(st.integers(1, max_rows))
    n_columns = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if draw(st.booleans()):
        values = rng.normal(size=(n_rows, n_columns)) * 10.0 ** rng.integers(-3, 4)
    else:
        # few distinct values: ties and constant windows
        values = rng.integers(0, 3, size=(n_rows, n_columns)).astype(np.float64)
    values += draw(st.sampled_from([0.0, 1e3]))
    nan_rate = draw(st.sampled_from([0.0, 0.2, 0.6, 1.0]))
    values[rng.random(values.shape) < nan_rate] = np.nan
    n_groups = draw(st.integers(1, 3))
    cuts = np.sort(rng.integers(0, n_rows + 1, size=n_groups - 1))
    group_starts = np.concatenate([[0], cuts, [n_rows]]).astype(np.int64)
    times = np.empty(n_rows, np.int64)
    max_step = draw(st.integers(0, 5))  # 0 makes every row of a group a tie
    for lo, hi in zip(group_starts[:-1], group_starts[1:], strict=True):
        steps = rng.integers(0, max_step + 1, size=hi - lo)
        times[lo:hi] = rng.integers(-50, 50) + np.cumsum(steps)
    emitted = rng.random(n_rows) >= draw(st.sampled_from([0.0, 0.3]))
    out_rows = np.full(n_rows, -1, np.int64)
    out_rows[emitted] = rng.permutation(int(emitted.sum()))
    return values, times, group_starts, out_rows, int(emitted.sum())


window_specs = st.lists(
    st.tuples(st.sampled_from(["rows", "time"]), st.integers(1, 9)),
    min_size=1,
    max_size=3,
)
