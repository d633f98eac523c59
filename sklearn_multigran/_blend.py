r"""The sharing maths: ``W_g = s * S + (1 - s) * V_g`` (numpy only).

Standardised features come in ``G`` aligned blocks ``Z_1, ..., Z_G`` of ``p`` columns
each, followed by ``q`` free columns ``Z_f``. Every function here expects the columns in
that *block-major* order and does not check it. With sharing ``s``, the model is a ridge
regression on the augmented design

.. math::

    A = [s \textstyle\sum_g Z_g,\ (1 - s) Z_1,\ \dots,\ (1 - s) Z_G,\ Z_f]
      = Z T, \qquad \theta = (S, V_1, \dots, V_G, B),

where ``T`` is the ``(Gp + q) x (p + Gp + q)`` matrix that builds ``A`` from ``Z``. The
effective coefficients are ``beta = T theta``, that is ``W_g = s S + (1 - s) V_g`` on
block ``g`` and ``B`` on the free columns.

The augmented design has ``p`` more columns than ``Z`` and is singular at ``s = 0`` and
``s = 1``. We never build it: a ridge fit depends on its design only through
``A A^T = Z (T T^T) Z^T`` (fitted values, residuals, hat matrix and penalty at the
optimum all do), and ``Sigma = T T^T`` has the symmetric square root

.. math::

    R = (1 - s) I + \left(\sqrt{(1 - s)^2 + G s^2} - (1 - s)\right) J

on the blocks (``J`` averages over the ``G`` blocks at each position) and the identity
on the free columns. So the augmented ridge is the ordinary ridge on ``Z R``, whose Gram
matrix ``R K R`` has the size of ``K = Z^T W Z`` and is a few small dense products away
from it for every ``s``. :func:`split_coefficients` maps its solution ``gamma`` back to
``S``, ``V_g`` and ``B``.
"""

import numpy as np


def _root_scales(sharing, n_blocks):
    # R scales the block-mean direction by r_mean and every deviation from the block
    # mean by r_dev; both stay well defined (r_mean >= sqrt(G / (G + 1))) for all s.
    r_dev = 1.0 - sharing
    r_mean = np.sqrt(r_dev**2 + n_blocks * sharing**2)
    return r_mean, r_dev


def sharing_root(sharing, n_blocks, n_per_block, n_free):
    """Symmetric square root ``R`` of ``T T^T`` for block-major columns.

    Parameters
    ----------
    sharing : float in [0, 1]
    n_blocks, n_per_block, n_free : int
        ``G``, ``p`` and ``q``. With ``n_blocks < 2`` pass ``n_blocks=0`` and put every
        column in ``n_free``.

    Returns
    -------
    root : ndarray of shape (G * p + q, G * p + q)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_multigran._blend import sharing_root
    >>> R = sharing_root(1.0, 2, 1, 1)
    >>> R
    array([[0.70710678, 0.70710678, 0.        ],
           [0.70710678, 0.70710678, 0.        ],
           [0.        , 0.        , 1.        ]])
    >>> np.allclose(R @ R, [[1, 1, 0], [1, 1, 0], [0, 0, 1]])  # s^2 + (1 - s)^2 delta
    True
    """
    n_block_cols = n_blocks * n_per_block
    root = np.eye(n_block_cols + n_free)
    if n_blocks:
        r_mean, r_dev = _root_scales(sharing, n_blocks)
        # J = (1 1^T / G) kron I_p: average over blocks at each aligned position.
        mean_op = np.kron(
            np.full((n_blocks, n_blocks), 1.0 / n_blocks), np.eye(n_per_block)
        )
        root[:n_block_cols, :n_block_cols] = (
            r_dev * np.eye(n_block_cols) + (r_mean - r_dev) * mean_op
        )
    return root


def apply_root(V, sharing, n_blocks, n_per_block):
    """``R @ V`` without forming ``R`` (whose size is the number of features squared).

    Parameters
    ----------
    V : ndarray of shape (P, k)
        Block-major rows.
    sharing : float in [0, 1]
    n_blocks, n_per_block : int

    Returns
    -------
    RV : ndarray of shape (P, k)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_multigran._blend import apply_root, sharing_root
    >>> V = np.arange(6.0).reshape(3, 2)
    >>> np.allclose(apply_root(V, 0.3, 2, 1), sharing_root(0.3, 2, 1, 1) @ V)
    True
    """
    out = np.array(V, dtype=np.float64, copy=True)
    if n_blocks:
        n_block_cols = n_blocks * n_per_block
        r_mean, r_dev = _root_scales(sharing, n_blocks)
        blocks = out[:n_block_cols].reshape(n_blocks, n_per_block, -1)
        mean = blocks.mean(axis=0)
        blocks *= r_dev
        blocks += (r_mean - r_dev) * mean
    return out


def blend_kernel(kernels, sharing):
    """``Z R R Z^T`` from the three kernels of :func:`~._linear.dual_statistics`.

    With ``R^2 = (1 - s)^2 I + G s^2 J`` on the blocks and ``I`` on the free columns,
    the augmented design's kernel is
    ``(1 - s)^2 sum_g Z_g Z_g^T + s^2 (sum_g Z_g)(sum_g Z_g)^T + Z_f Z_f^T``:
    the kernel of ``A = [s sum_g Z_g, (1 - s) Z_1, ..., (1 - s) Z_G, Z_f]`` itself.

    Parameters
    ----------
    kernels : tuple of 3 ndarray of shape (n, n)
        ``(sum_g Z_g Z_g^T, (sum_g Z_g)(sum_g Z_g)^T, Z_f Z_f^T)``.
    sharing : float in [0, 1]

    Returns
    -------
    kernel : ndarray of shape (n, n)
    """
    blocks, summed, free = kernels
    return (1 - sharing) ** 2 * blocks + sharing**2 * summed + free


def blend_gram(gram, cross, sharing, n_blocks, n_per_block):
    """Gram matrix and cross-products of the equivalent design ``Z R``.

    Parameters
    ----------
    gram : ndarray of shape (P, P)
        ``K = Z^T W Z`` with block-major columns, ``P = G * p + q``.
    cross : ndarray of shape (P, n_targets)
        ``Z^T W y``.
    sharing : float in [0, 1]
    n_blocks, n_per_block : int

    Returns
    -------
    blended_gram : ndarray of shape (P, P)
        ``R K R``.
    blended_cross : ndarray of shape (P, n_targets)
        ``R Z^T W y``.
    """
    n_free = gram.shape[0] - n_blocks * n_per_block
    root = sharing_root(sharing, n_blocks, n_per_block, n_free)
    return root @ gram @ root, root @ cross


def split_coefficients(gamma, sharing, n_blocks, n_per_block):
    """Map a solution of the ridge on ``Z R`` back to ``S``, ``V_g``, ``B``.

    The ridge solution ``theta`` of the augmented problem is the one of minimum norm
    among those with ``T theta = beta = R gamma``. Writing ``m`` for the block mean of
    ``gamma`` at each position, it is ``S = s G m / r``, ``V_g = (1 - s) m / r +
    (gamma_g - m)`` and ``B = gamma_f``, with ``r = sqrt((1 - s)^2 + G s^2)``. There is
    no division by ``1 - s``, so ``s = 1`` needs no special case (the deviations
    ``gamma_g - m`` are then zero, as ``R`` removes them).

    Parameters
    ----------
    gamma : ndarray of shape (n_targets, P)
        Coefficients of the ridge on ``Z R``, block-major columns.
    sharing : float in [0, 1]
    n_blocks, n_per_block : int

    Returns
    -------
    shared : ndarray of shape (n_targets, p)
    own : ndarray of shape (n_targets, G, p)
    free : ndarray of shape (n_targets, q)
    effective : ndarray of shape (n_targets, P)
        ``beta``: ``s S + (1 - s) V_g`` on block ``g``, ``B`` on the free columns.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_multigran._blend import sharing_root, split_coefficients
    >>> gamma = np.array([[1.0, 3.0, 5.0]])
    >>> shared, own, free, beta = split_coefficients(gamma, 0.5, 2, 1)
    >>> np.allclose(beta, gamma @ sharing_root(0.5, 2, 1, 1))
    True
    >>> np.allclose(beta[:, :2], 0.5 * shared + 0.5 * own[:, :, 0])
    True
    """
    n_targets = gamma.shape[0]
    n_block_cols = n_blocks * n_per_block
    free = gamma[:, n_block_cols:].copy()
    if not n_blocks:
        empty = np.zeros((n_targets, 0))
        return empty, np.zeros((n_targets, 0, 0)), free, free.copy()
    r_mean, r_dev = _root_scales(sharing, n_blocks)
    blocks = gamma[:, :n_block_cols].reshape(n_targets, n_blocks, n_per_block)
    mean = blocks.mean(axis=1)
    shared = (sharing * n_blocks / r_mean) * mean
    own = (r_dev / r_mean) * mean[:, None, :] + (blocks - mean[:, None, :])
    effective = np.concatenate(
        [(sharing * shared[:, None, :] + r_dev * own).reshape(n_targets, -1), free],
        axis=1,
    )
    return shared, own, free, effective
