"""Generators of regression problems whose true coefficients are known."""

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state


def make_multigranularity_regression(
    n_samples=200,
    *,
    n_blocks=3,
    n_features_per_block=10,
    n_free=0,
    sharing=0.5,
    block_correlation=0.5,
    noise=1.0,
    as_frame=False,
    random_state=None,
):
    """Generate a regression problem with partly shared coefficients per block.

    The features come in ``n_blocks`` aligned blocks of ``n_features_per_block``
    columns, one block per granularity, followed by ``n_free`` free columns. Position
    ``k`` of every block measures the same quantity, so the blocks are correlated:
    ``X_g = sqrt(c) U + sqrt(1 - c) E_g`` with ``U`` common to all blocks, ``E_g``
    the block's own, both standard normal, and ``c = block_correlation``. Free
    columns are independent standard normal.

    The coefficients follow the model of
    :class:`~sklearn_multigran.MultiGranularityRegressor`:
    ``W_g = sharing * S + (1 - sharing) * V_g`` with ``S`` and ``V_g`` standard
    normal, and ``B`` standard normal for the free columns. The target is
    ``y = sum_g X_g W_g + X_free B + noise * e`` with ``e`` standard normal, and no
    intercept.

    Parameters
    ----------
    n_samples : int, default=200
    n_blocks : int, default=3
    n_features_per_block : int, default=10
    n_free : int, default=0
    sharing : float in [0, 1], default=0.5
        0 draws independent coefficients per block; 1 the same for every block.
    block_correlation : float in [0, 1], default=0.5
        Correlation between the aligned columns of two blocks.
    noise : float, default=1.0
        Standard deviation of the Gaussian noise added to ``y``.
    as_frame : bool, default=False
        If True, return ``X`` as a DataFrame whose block columns are named
        ``x{k}__g{g}__mean__lag0`` (so that ``blocks="auto"`` finds the blocks) and
        free columns ``free{j}``, and ``y`` as a Series named ``"y"``.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray or DataFrame of shape (n_samples, n_features)
        ``n_features = n_blocks * n_features_per_block + n_free``. Block ``g`` is
        columns ``g * n_features_per_block`` to ``(g + 1) * n_features_per_block - 1``;
        free columns come last.
    y : ndarray or Series of shape (n_samples,)
    truth : Bunch
        ``coef`` (one per column of ``X``), ``shared`` (``S``, shape
        ``(n_features_per_block,)``), ``own`` (``V_g``, shape
        ``(n_blocks, n_features_per_block)``), ``free`` (``B``), ``sharing`` and
        ``intercept`` (0.0).

    Examples
    --------
    >>> from sklearn_multigran.datasets import make_multigranularity_regression
    >>> X, y, truth = make_multigranularity_regression(
    ...     100, n_blocks=2, n_features_per_block=3, n_free=1, random_state=0
    ... )
    >>> X.shape, y.shape, truth.coef.shape
    ((100, 7), (100,), (7,))
    >>> bool(abs(y - X @ truth.coef).std() < 1.5)
    True
    """
    rng = check_random_state(random_state)
    p = n_features_per_block
    common = rng.standard_normal((n_samples, p))
    blocks = [
        np.sqrt(block_correlation) * common
        + np.sqrt(1.0 - block_correlation) * rng.standard_normal((n_samples, p))
        for _ in range(n_blocks)
    ]
    free_X = rng.standard_normal((n_samples, n_free))
    X = np.hstack([*blocks, free_X])

    shared = rng.standard_normal(p)
    own = rng.standard_normal((n_blocks, p))
    free = rng.standard_normal(n_free)
    coef = np.concatenate([(sharing * shared + (1.0 - sharing) * own).ravel(), free])
    y = X @ coef + noise * rng.standard_normal(n_samples)
    truth = Bunch(
        coef=coef,
        shared=shared,
        own=own,
        free=free,
        sharing=float(sharing),
        intercept=0.0,
    )
    if as_frame:
        columns = [
            f"x{k}__g{g}__mean__lag0" for g in range(n_blocks) for k in range(p)
        ] + [f"free{j}" for j in range(n_free)]
        X = pd.DataFrame(X, columns=columns)
        y = pd.Series(y, name="y")
    return X, y, truth
