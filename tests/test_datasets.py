import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from sklearn_multigran.datasets import make_multigranularity_regression


def test_shapes_and_truth():
    X, y, truth = make_multigranularity_regression(
        50, n_blocks=4, n_features_per_block=3, n_free=2, sharing=0.3, random_state=0
    )
    assert X.shape == (50, 14)
    assert y.shape == (50,)
    assert truth.shared.shape == (3,)
    assert truth.own.shape == (4, 3)
    assert truth.free.shape == (2,)
    expected = np.concatenate(
        [(0.3 * truth.shared + 0.7 * truth.own).ravel(), truth.free]
    )
    assert_allclose(truth.coef, expected)
    assert (truth.sharing, truth.intercept) == (0.3, 0.0)


def test_noise_free_target_is_exactly_linear():
    X, y, truth = make_multigranularity_regression(30, noise=0.0, random_state=1)
    assert_allclose(y, X @ truth.coef)


@pytest.mark.parametrize(("sharing", "identical"), [(1.0, True), (0.0, False)])
def test_sharing_extremes(sharing, identical):
    _, _, truth = make_multigranularity_regression(
        10, n_blocks=3, sharing=sharing, random_state=2
    )
    W = truth.coef.reshape(3, -1)
    assert np.allclose(W, W[0]) == identical


def test_block_correlation():
    X, _, _ = make_multigranularity_regression(
        20_000,
        n_blocks=2,
        n_features_per_block=1,
        block_correlation=0.8,
        random_state=3,
    )
    assert np.corrcoef(X.T)[0, 1] == pytest.approx(0.8, abs=0.02)
    assert X.std(axis=0) == pytest.approx([1.0, 1.0], abs=0.02)


def test_seeded_and_as_frame():
    a = make_multigranularity_regression(20, n_free=1, random_state=4)
    b = make_multigranularity_regression(20, n_free=1, random_state=4, as_frame=True)
    assert isinstance(b[0], pd.DataFrame)
    assert isinstance(b[1], pd.Series)
    assert_allclose(a[0], b[0].to_numpy())
    assert_allclose(a[1], b[1].to_numpy())
    assert b[0].columns[[0, 10, -1]].tolist() == [
        "x0__g0__mean__lag0",
        "x0__g1__mean__lag0",
        "free0",
    ]
