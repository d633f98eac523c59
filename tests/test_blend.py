import numpy as np
import pytest
from numpy.testing import assert_allclose

from sklearn_multigran._blend import blend_gram, sharing_root, split_coefficients


def augmentation_matrix(sharing, n_blocks, n_per_block, n_free):
    """T such that Z @ T = [s sum_g Z_g, (1 - s) Z_1, ..., (1 - s) Z_G, Z_free]."""
    p, G = n_per_block, n_blocks
    T = np.zeros((G * p + n_free, p + G * p + n_free))
    eye = np.eye(p)
    for g in range(G):
        rows = slice(g * p, (g + 1) * p)
        T[rows, :p] = sharing * eye
        T[rows, p + g * p : p + (g + 1) * p] = (1 - sharing) * eye
    T[G * p :, p + G * p :] = np.eye(n_free)
    return T


CASES = [
    (s, G, p, q)
    for s in (0.0, 0.3, 0.5, 0.99, 1.0)
    for G, p, q in ((2, 3, 0), (3, 2, 2), (4, 1, 1))
]


@pytest.mark.parametrize(("sharing", "G", "p", "q"), CASES)
def test_root_squares_to_t_t_transpose(sharing, G, p, q):
    R = sharing_root(sharing, G, p, q)
    T = augmentation_matrix(sharing, G, p, q)
    assert_allclose(R, R.T)
    assert_allclose(R @ R, T @ T.T, atol=1e-14)
    # a square root that is also positive semi-definite
    assert np.linalg.eigvalsh(R).min() > -1e-14


def test_root_without_blocks_is_identity():
    assert_allclose(sharing_root(0.5, 0, 0, 4), np.eye(4))


@pytest.mark.parametrize(("sharing", "G", "p", "q"), CASES)
def test_blend_gram_is_gram_of_z_r(sharing, G, p, q, rng):
    Z = rng.standard_normal((20, G * p + q))
    y = rng.standard_normal((20, 2))
    K, c = blend_gram(Z.T @ Z, Z.T @ y, sharing, G, p)
    ZR = Z @ sharing_root(sharing, G, p, q)
    assert_allclose(K, ZR.T @ ZR, atol=1e-12)
    assert_allclose(c, ZR.T @ y, atol=1e-12)


@pytest.mark.parametrize(("sharing", "G", "p", "q"), CASES)
def test_split_is_the_minimum_norm_augmented_solution(sharing, G, p, q, rng):
    # For gamma in the range of R (where every ridge solution on Z R lies), theta is
    # the minimum-norm vector with T theta = R gamma: it satisfies the equation, lies
    # in the row space of T, and carries the same penalty |theta| = |gamma|.
    R = sharing_root(sharing, G, p, q)
    T = augmentation_matrix(sharing, G, p, q)
    gamma = (R @ rng.standard_normal((G * p + q, 2))).T
    shared, own, free, effective = split_coefficients(gamma, sharing, G, p)
    assert shared.shape == (2, p)
    assert own.shape == (2, G, p)
    assert free.shape == (2, q)
    theta = np.concatenate([shared, own.reshape(2, -1), free], axis=1)
    assert_allclose(theta @ T.T, gamma @ R, atol=1e-12)
    assert_allclose(effective, gamma @ R, atol=1e-12)
    theta_min_norm = gamma @ R @ np.linalg.pinv(T).T
    assert_allclose(theta, theta_min_norm, atol=1e-10)
    assert_allclose(np.linalg.norm(theta, axis=1), np.linalg.norm(gamma, axis=1))


def test_split_extremes(rng):
    gamma = rng.standard_normal((1, 7))
    shared, own, _, _ = split_coefficients(gamma, 0.0, 3, 2)
    assert_allclose(shared, 0.0)
    gamma_shared = (sharing_root(1.0, 3, 2, 1) @ gamma.T).T
    _, own, _, effective = split_coefficients(gamma_shared, 1.0, 3, 2)
    assert_allclose(own, 0.0, atol=1e-15)
    blocks = effective[0, :6].reshape(3, 2)
    assert_allclose(blocks, np.broadcast_to(blocks[0], (3, 2)))


def test_split_without_blocks_returns_free_only(rng):
    gamma = rng.standard_normal((2, 3))
    shared, own, free, effective = split_coefficients(gamma, 0.5, 0, 0)
    assert shared.shape == (2, 0)
    assert own.shape == (2, 0, 0)
    assert_allclose(free, gamma)
    assert_allclose(effective, gamma)
