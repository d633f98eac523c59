"""The single-pass input checks against numpy and a naive loop."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_multigran._kernels._dispatch import any_infinite, rows_in_order

SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e308, -1e308, 5e-324]


# numba compiles on the first example: no deadline
@settings(deadline=None)
@given(
    st.lists(st.sampled_from(SPECIAL) | st.floats(allow_nan=False, width=64)),
    st.sampled_from(["C", "F"]),
    st.integers(1, 3),
)
def test_any_infinite_matches_numpy(values, order, n_columns):
    flat = np.array(values + [0.0] * (-len(values) % n_columns), dtype=np.float64)
    array = np.asarray(flat.reshape(-1, n_columns), order=order)
    assert any_infinite(array) == bool(np.isinf(array).any())


def _naive_in_order(times, codes):
    keys = list(zip(codes, times, strict=True))
    return all(keys[i - 1] <= keys[i] for i in range(1, len(keys)))


# int64's extremes stand for NaT and for times far out; ties are frequent
times_strategy = st.lists(
    st.sampled_from([np.iinfo(np.int64).min, np.iinfo(np.int64).max, 0, 1])
    | st.integers(-3, 3),
    max_size=30,
)


# numba compiles on the first example: no deadline
@settings(deadline=None)
@given(times_strategy, st.data())
def test_rows_in_order_matches_naive_loop(times, data):
    times = np.array(times, dtype=np.int64)
    # mostly sorted input, the case the transformer checks for
    if data.draw(st.booleans()):
        times = np.sort(times)
    n = len(times)
    codes = np.array(
        data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), np.int64
    )
    if data.draw(st.booleans()):
        codes = np.sort(codes)
    assert rows_in_order(times) == _naive_in_order(times, np.zeros_like(times))
    assert rows_in_order(times, codes) == _naive_in_order(times, codes)


def test_checks_accept_any_layout_and_read_only_arrays():
    # an F-ordered frame-like block and a read-only view, as pandas hands them over
    values = np.asfortranarray(np.arange(12.0).reshape(4, 3))
    values[2, 1] = np.inf
    view = values.view()
    view.flags.writeable = False
    assert any_infinite(view)
    assert any_infinite(view[:, [0, 2]]) is False  # a copy, and no inf left
    times = np.arange(5, dtype=np.int64)[::-1]
    assert not rows_in_order(times)
    assert np.array_equal(times, [4, 3, 2, 1, 0])
