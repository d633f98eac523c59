"""Single-pass input checks: infinite values, and rows already in (group, time) order.

numba only: no pandas, no scikit-learn. Each check reads its arrays once and builds
no temporary array, where the numpy expressions they replace build a boolean array
per comparison: on 10M rows, 2.5 ms against 7.5 ms for scikit-learn's infinity test,
2.7 ms against 4.0 ms for one series' order, 5 ms against 28 ms for a panel's.

The loops have no early exit: the common answer (no infinity, already sorted) needs
every row anyway, and a test inside the loop keeps the compiler from vectorising it
(an exit per block of 4,096 rows measured 6x slower).
"""

import numpy as np

from sklearn_multigran._kernels._cache import kernel


@kernel(nogil=True)
def has_infinity(values):
    """Whether the 1-D float64 ``values`` hold ``inf`` or ``-inf`` (not NaN)."""
    found = False
    for i in range(values.shape[0]):
        found |= np.abs(values[i]) == np.inf
    return found


@kernel(nogil=True)
def is_sorted_by_group_and_time(times, codes):
    """Whether rows are ordered by (``codes``, ``times``), ties allowed.

    ``codes`` is ``None`` for a single group: numba then compiles the loop without
    it, and no array of zeros is read.
    """
    ordered = True
    for i in range(1, times.shape[0]):
        in_order = times[i] >= times[i - 1]
        if codes is not None:
            in_order = (codes[i] > codes[i - 1]) | (
                (codes[i] == codes[i - 1]) & in_order
            )
        ordered &= in_order
    return ordered
