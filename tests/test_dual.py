"""The dual (kernel) solvers give the primal's fits and scores."""

import numpy as np
import pytest

from sklearn_multigran._blend import sharing_root
from sklearn_multigran._dual import (
    apply_root,
    candidate_scores_dual,
    design_statistics,
    kernel_parts,
    solve_blend_dual,
)
from sklearn_multigran._linear import candidate_scores, gram_statistics, solve_blend

N_BLOCKS, N_PER_BLOCK, N_FREE = 3, 20, 7


def problem(rng, n_samples, n_targets, nan, weighted, offset):
    P = N_BLOCKS * N_PER_BLOCK + N_FREE
    X = offset + rng.normal(size=(n_samples, P)) * rng.uniform(0.1, 10, P)
    if nan:
        X[rng.uniform(size=X.shape) < 0.1] = np.nan
    Y = rng.normal(size=(n_samples, n_targets)) + 3.0
    w = rng.uniform(0.2, 3.0, n_samples) if weighted else None
    return X, Y, w


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("nan", [False, True])
@pytest.mark.parametrize("sharing", [0.0, 0.3, 1.0])
def test_dual_solution_is_the_primal_one(rng, fit_intercept, weighted, nan, sharing):
    X, Y, w = problem(rng, 25, 2, nan, weighted, offset=100.0)
    primal = gram_statistics(X, Y, w, fit_intercept)
    dual = design_statistics(X, Y, w, fit_intercept)
    np.testing.assert_allclose(dual.mean, primal.mean, rtol=1e-12)
    np.testing.assert_allclose(dual.scale, primal.scale, rtol=1e-10)
    np.testing.assert_allclose(dual.y_sq, primal.y_sq, rtol=1e-10)
    # the design's Gram matrix is the primal's
    np.testing.assert_allclose(
        dual.design.T @ dual.design, primal.gram, atol=1e-9 * primal.sum_weights
    )
    alpha = 0.7
    expected = solve_blend(
        primal.gram, primal.cross, sharing, alpha, N_BLOCKS, N_PER_BLOCK
    )
    parts = kernel_parts(dual.design, N_BLOCKS, N_PER_BLOCK)
    got = solve_blend_dual(
        dual.design, dual.targets, parts, sharing, alpha, N_BLOCKS, N_PER_BLOCK
    )
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_samples", [5, 40])
def test_dual_scores_are_the_primal_ones(rng, fit_intercept, n_samples):
    X, Y, w = problem(rng, n_samples, 3, nan=True, weighted=True, offset=-5.0)
    primal = gram_statistics(X, Y, w, fit_intercept)
    dual = design_statistics(X, Y, w, fit_intercept)
    sharings = np.array([0.0, 0.25, 0.5, 1.0])
    alphas = np.logspace(-3, 3, 7) * primal.sum_weights
    expected = candidate_scores(
        primal.gram,
        primal.cross,
        primal.y_sq,
        primal.sum_weights,
        fit_intercept,
        sharings,
        alphas,
        N_BLOCKS,
        N_PER_BLOCK,
    )
    got = candidate_scores_dual(
        kernel_parts(dual.design, N_BLOCKS, N_PER_BLOCK),
        dual.targets,
        dual.y_sq,
        dual.sum_weights,
        fit_intercept,
        sharings,
        alphas,
    )
    # GCV's residuals are a difference of sums: where the fit is almost exact both
    # forms carry an absolute error of about eps * y_sq (see _gcv_of_spectrum)
    gcv_atol = 1e-10 * primal.y_sq.max() / primal.sum_weights
    for name, e, g, atol in zip(
        ("gcv", "evidence"), expected, got, (gcv_atol, 0.0), strict=True
    ):
        finite = np.isfinite(e)
        np.testing.assert_array_equal(np.isfinite(g), finite, err_msg=name)
        np.testing.assert_allclose(
            g[finite], e[finite], rtol=1e-8, atol=atol, err_msg=name
        )


def test_without_blocks_the_dual_is_sklearn_ridge(rng):
    from sklearn.linear_model import Ridge

    X = rng.normal(size=(12, 50))
    y = rng.normal(size=12)
    dual = design_statistics(X, y[:, None], None, True)
    parts = kernel_parts(dual.design, 0, 0)
    gamma = solve_blend_dual(dual.design, dual.targets, parts, 0.0, 2.0, 0, 0)
    coef = gamma[0] / dual.scale
    ridge = Ridge(alpha=2.0).fit((X - X.mean(0)) / X.std(0), y)
    np.testing.assert_allclose(gamma[0], ridge.coef_, rtol=1e-9)
    assert coef.shape == (50,)


@pytest.mark.parametrize(("n_blocks", "n_per_block", "n_free"), [(3, 4, 2), (0, 0, 5)])
@pytest.mark.parametrize("sharing", [0.0, 0.6, 1.0])
def test_apply_root_is_the_root_matrix_product(
    rng, n_blocks, n_per_block, n_free, sharing
):
    vectors = rng.normal(size=(n_blocks * n_per_block + n_free, 3))
    root = sharing_root(sharing, n_blocks, n_per_block, n_free)
    np.testing.assert_allclose(
        apply_root(vectors, sharing, n_blocks, n_per_block), root @ vectors, atol=1e-14
    )
