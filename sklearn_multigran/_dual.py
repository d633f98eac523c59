r"""The blended ridge in its dual (kernel) form, for fewer rows than features.

The primal solvers (:mod:`sklearn_multigran._linear`) work on the ``P x P`` Gram
matrix of the standardised features: ``O(n P^2)`` to build it and ``O(P^3)`` per
sharing candidate to factor it, whatever the number of rows ``n``. With ``n < P``
the same fit and the same model-selection scores come from ``n x n`` matrices.

With ``Z`` the standardised (weighted, centred) block-major design and ``R`` the
symmetric square root of the sharing map (:mod:`sklearn_multigran._blend`), the
ridge on ``Z R`` has the solution

.. math::

    \gamma = R Z^T (M + \alpha I)^{-1} y, \qquad M = Z R^2 Z^T,

the push-through identity ``(R K R + \alpha I)^{-1} R Z^T = R Z^T (M + \alpha
I)^{-1}``. ``R^2 = (1 - s)^2 I + ((1 - s)^2 + G s^2 - (1 - s)^2) J`` on the blocks
(``J`` averages the ``G`` blocks at each aligned position) and ``I`` on the free
columns, so

.. math::

    M(s) = (1 - s)^2 Z_b Z_b^T + s^2 (\textstyle\sum_g Z_g)(\sum_g Z_g)^T + Z_f Z_f^T,

three ``n x n`` products formed once, then blended for every sharing at the cost of
two scaled additions. The nonzero eigenvalues of ``M`` are those of ``R K R``, and
with ``M = U \mathrm{diag}(\mu) U^T`` the cross-products in the primal eigenbasis
are ``d_j^2 = \mu_j (u_j^T y)^2``; the primal's other ``P - n`` eigenvalues are zero
and add nothing to the residuals, the degrees of freedom or the log determinant. So
one ``n x n`` eigendecomposition per sharing gives every alpha's GCV and evidence
exactly as the primal computes them (:func:`sklearn_multigran._linear._gcv_of_spectrum`,
:func:`~sklearn_multigran._linear._evidence_of_spectrum`).

Every function here trusts its caller, as in ``_linear``.
"""

from typing import NamedTuple

import numpy as np
from scipy import linalg

from sklearn_multigran._blend import _root_scales
from sklearn_multigran._linear import (
    _CRITERIA,
    _one_blas_thread,
    _standard_scale,
    weighted_means,
)


class DesignStatistics(NamedTuple):
    """The standardised design itself, for the dual solvers.

    ``design`` is ``Z``: the columns in the caller's (block-major) order, NaN imputed
    with the training mean, centred when the model fits an intercept, divided by
    ``scale`` and multiplied row-wise by the square root of the weights; ``targets``
    likewise for ``Y``. ``y_sq`` is ``targets``' column sums of squares.
    """

    mean: np.ndarray
    scale: np.ndarray
    y_mean: np.ndarray
    design: np.ndarray
    targets: np.ndarray
    y_sq: np.ndarray
    sum_weights: float


def design_statistics(X, Y, sample_weight, fit_intercept):
    """Standardise ``X`` and ``Y`` as ``_linear.gram_statistics`` does.

    The means, scales and the implied Gram matrix ``design.T @ design`` are those of
    ``gram_statistics`` (the same two-pass centring, the same rule for constant
    columns), so a primal and a dual fit solve the same problem.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_targets)
    sample_weight : ndarray of shape (n_samples,) or None
    fit_intercept : bool

    Returns
    -------
    stats : DesignStatistics
    """
    n_samples = X.shape[0]
    mean, observed, has_nan = weighted_means(X, sample_weight)
    if sample_weight is None:
        sum_weights = float(n_samples)
        y_mean = Y.mean(axis=0)
    else:
        sum_weights = float(sample_weight.sum())
        y_mean = sample_weight @ Y / sum_weights
    centred = np.subtract(X, mean, dtype=np.float64)
    if has_nan:
        centred[np.isnan(centred)] = 0.0
    targets = Y - y_mean
    if sample_weight is not None:
        root_w = np.sqrt(sample_weight)[:, None]
        centred *= root_w
        targets *= root_w
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(
            observed > 0, np.einsum("ij,ij->j", centred, centred) / observed, 0.0
        )
    scale = _standard_scale(var, mean, observed)
    if not fit_intercept:
        # uncentred values, as the primal's uncentred moments: the imputed entries
        # are the mean, so adding it back restores them exactly
        shift = mean if sample_weight is None else root_w * mean
        centred += shift
        targets += y_mean if sample_weight is None else root_w * y_mean
    centred /= scale
    y_sq = np.einsum("ij,ij->j", targets, targets)
    return DesignStatistics(mean, scale, y_mean, centred, targets, y_sq, sum_weights)


class KernelParts(NamedTuple):
    """The three ``n x n`` products that every sharing's ``M(s)`` blends."""

    blocks: np.ndarray  # Z_b Z_b^T
    block_sum: np.ndarray  # (sum_g Z_g)(sum_g Z_g)^T
    free: np.ndarray  # Z_f Z_f^T


def kernel_parts(design, n_blocks, n_per_block):
    """The products of :class:`KernelParts` for a block-major ``design``."""
    n_block_cols = n_blocks * n_per_block
    with _one_blas_thread():
        Zb = design[:, :n_block_cols]
        Zf = design[:, n_block_cols:]
        blocks = Zb @ Zb.T
        if n_blocks:
            summed = Zb.reshape(len(design), n_blocks, n_per_block).sum(axis=1)
            block_sum = summed @ summed.T
        else:
            block_sum = np.zeros_like(blocks)
        free = Zf @ Zf.T
    return KernelParts(blocks, block_sum, free)


def blended_kernel(parts, sharing):
    """``M(s) = Z R^2 Z^T`` from the kernel parts."""
    return (
        (1.0 - sharing) ** 2 * parts.blocks + sharing**2 * parts.block_sum + parts.free
    )


def solve_blend_dual(design, targets, parts, sharing, alpha, n_blocks, n_per_block):
    """Same contract as :func:`~sklearn_multigran._linear.solve_blend`, from ``Z``.

    Returns
    -------
    gamma : ndarray of shape (n_targets, P)
    """
    with _one_blas_thread():
        kernel = blended_kernel(parts, sharing)
        kernel[np.diag_indices_from(kernel)] += alpha
        dual = linalg.solve(kernel, targets, assume_a="pos")
        return apply_root(design.T @ dual, sharing, n_blocks, n_per_block).T


def apply_root(vectors, sharing, n_blocks, n_per_block):
    """``R @ vectors`` without forming the ``P x P`` matrix ``R``.

    ``R = r_dev I + (r_mean - r_dev) J`` on the block rows and ``I`` on the free
    ones (:func:`~sklearn_multigran._blend.sharing_root`); ``J`` replaces each block's
    entry by the mean over the blocks at its position. ``O(P)`` per column, where
    ``R @ v`` would cost ``O(P^2)`` and ``R`` itself ``8 P^2`` bytes.
    """
    out = np.array(vectors, dtype=np.float64)
    if not n_blocks:
        return out
    r_mean, r_dev = _root_scales(sharing, n_blocks)
    n_block_cols = n_blocks * n_per_block
    blocks = out[:n_block_cols].reshape(n_blocks, n_per_block, -1)
    mean = blocks.mean(axis=0)
    blocks *= r_dev
    blocks += (r_mean - r_dev) * mean
    return out


def candidate_scores_dual(
    parts,
    targets,
    y_sq,
    sum_weights,
    fit_intercept,
    sharings,
    alphas,
    criteria=("gcv", "evidence"),
):
    """Same contract as :func:`~sklearn_multigran._linear.candidate_scores`.

    One ``n x n`` eigendecomposition of ``M(s)`` per sharing candidate.
    """
    criteria = [_CRITERIA[name] for name in criteria]
    alphas = np.asarray(alphas, dtype=np.float64)
    scores = [
        np.empty((len(sharings), len(alphas), targets.shape[1])) for _ in criteria
    ]
    with _one_blas_thread():
        for i, sharing in enumerate(sharings):
            eigvals, eigvecs = linalg.eigh(blended_kernel(parts, sharing))
            eigvals = np.clip(eigvals, 0.0, None)
            d_sq = eigvals[:, None] * (eigvecs.T @ targets) ** 2
            for out, criterion in zip(scores, criteria, strict=True):
                out[i] = criterion(
                    eigvals, d_sq, alphas, y_sq, sum_weights, fit_intercept
                )
    return scores
