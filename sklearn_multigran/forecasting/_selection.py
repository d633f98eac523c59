"""Choosing among forecasters on validation origins, and forecasts at lower ranks.

Two procedures of the ETT benchmark that any direct forecaster can use:

* the one-standard-error rule on blocks of forecast origins
  (:func:`select_one_standard_error`, with :func:`block_standard_error`): keep the
  simplest candidate whose validation error is within ``n_se`` standard errors of
  the lowest (Hastie, Tibshirani and Friedman, *The Elements of Statistical
  Learning*, 2nd ed., sec. 7.10). Consecutive origins share all but one row of
  history and most of their targets, so their errors are far from independent:
  the standard error comes from the means of non-overlapping blocks of origins
  (a week of them, say), which are roughly independent;
* the reduced-rank projection of a fitted ``MultiGranularityRegressor``
  (:func:`reduced_rank_coef`, :func:`predict_at_rank`): a model fitted once with
  ``target_rank=n_targets`` keeps every target component, and its rank-``r`` fit
  is its full-rank fit projected, around the training mean of the targets, on the
  leading ``r`` components. One fit then scores every rank.
"""

import numbers

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "block_standard_error",
    "predict_at_rank",
    "reduced_rank_coef",
    "select_one_standard_error",
]


def _check_block(block, n):
    if isinstance(block, bool) or not isinstance(block, numbers.Integral):
        raise TypeError(f"block must be an integer (origins per block), got {block!r}.")
    if block < 1 or n // block < 2:
        raise ValueError(
            f"block={block} leaves {max(n // max(block, 1), 0)} whole blocks of "
            f"{n} origins; the standard error needs at least 2: use "
            f"block <= {max(n // 2, 1)}."
        )


def block_standard_error(diff, block):
    """Standard error of ``diff.mean()`` from non-overlapping blocks of origins.

    The first ``len(diff) // block`` whole blocks of ``block`` consecutive values
    are averaged; the standard error is the standard deviation of the block means
    (``ddof=1``) over the square root of their number. The remainder at the end is
    left out.

    Parameters
    ----------
    diff : array-like of shape (n_origins,)
        Per-origin values in time order, e.g. the paired difference of two models'
        validation errors.
    block : int
        Consecutive origins per block, at least 1 and at most ``n_origins // 2``.

    Returns
    -------
    se : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_multigran.forecasting import block_standard_error
    >>> block_standard_error(np.array([1.0, 1.0, 3.0, 3.0]), 2)  # means 1 and 3
    1.0
    """
    diff = np.asarray(diff, dtype=np.float64)
    if diff.ndim != 1:
        raise ValueError(f"diff must be one-dimensional, got shape {diff.shape}.")
    _check_block(block, len(diff))
    n_blocks = len(diff) // block
    means = diff[: n_blocks * block].reshape(n_blocks, block).mean(axis=1)
    return float(means.std(ddof=1) / np.sqrt(n_blocks))


def select_one_standard_error(errors, *, block, n_se=1.0):
    """The simplest candidate within ``n_se`` block standard errors of the lowest.

    Parameters
    ----------
    errors : array-like of shape (n_candidates, n_origins)
        Validation error of each candidate at each forecast origin (e.g. the MSE
        over its horizon), origins in time order, the same origins for all.
        Candidates are ordered from the simplest to the most complex.
    block : int
        Consecutive origins per block for :func:`block_standard_error`.
    n_se : float, default=1.0
        How many standard errors of its paired difference to the lowest a simpler
        candidate may lose by.

    Returns
    -------
    index : int
        Row of the chosen candidate: the first (simplest) whose mean error exceeds
        the lowest mean by at most ``n_se`` standard errors of their paired
        per-origin difference.
    z : float
        Its excess over the lowest in standard errors (0 for the lowest itself).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_multigran.forecasting import select_one_standard_error
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.normal(size=40)
    >>> errors = np.array([1.02 + noise, 1.0 + noise + rng.normal(0, 0.3, 40)])
    >>> index, z = select_one_standard_error(errors, block=4)
    >>> int(index), bool(z <= 1.0)  # the simpler one, within a standard error
    (0, True)
    """
    errors = np.asarray(errors, dtype=np.float64)
    if errors.ndim != 2 or not errors.shape[0]:
        raise ValueError(
            "errors must be (n_candidates, n_origins) with at least one candidate, "
            f"got shape {errors.shape}."
        )
    if isinstance(n_se, bool) or not isinstance(n_se, numbers.Real) or n_se < 0:
        raise ValueError(f"n_se must be a non-negative number, got n_se={n_se!r}.")
    _check_block(block, errors.shape[1])
    best = int(np.argmin(errors.mean(axis=1)))
    for index in range(best):
        diff = errors[index] - errors[best]
        se = block_standard_error(diff, block)
        if diff.mean() <= n_se * se:
            return index, float(diff.mean() / se) if se > 0 else 0.0
    return best, 0.0


# --------------------------------------------------------------------------------------
# Reduced-rank projection of a fitted model
# --------------------------------------------------------------------------------------


def _inner_regressor(estimator):
    """The fitted ``MultiGranularityRegressor`` and whether it is wrapped."""
    check_is_fitted(estimator)
    inner = getattr(estimator, "regressor_", None)
    wrapped = inner is not None
    inner = inner if wrapped else estimator
    if not hasattr(inner, "target_components_"):
        raise ValueError(
            f"{type(inner).__name__} has no target_components_: fit it with "
            "target_rank=n_targets (the full-rank fit, which keeps every target "
            "component) to project it on lower ranks."
        )
    return inner, wrapped


def _target_mean(inner):
    """The centre of the projection: the training mean of the targets, or 0.

    Without an intercept the targets are not centred, so the components span
    the uncentred fitted values and the projection is around 0.
    """
    coef = np.atleast_2d(inner.coef_)
    if not getattr(inner, "fit_intercept", True):
        return np.zeros(coef.shape[0])
    return np.atleast_1d(inner.intercept_) + coef @ inner.mean_


def _projection(inner, rank):
    components = inner.target_components_
    n = len(components)
    if isinstance(rank, bool) or not isinstance(rank, numbers.Integral):
        raise TypeError(f"rank must be an integer, got {rank!r}.")
    if not 1 <= rank <= n:
        raise ValueError(
            f"rank={rank} is outside [1, {n}], the target components the model "
            f"kept (it was fitted with target_rank={inner.target_rank})."
        )
    V = components[:rank]
    return V.T @ V


def reduced_rank_coef(regressor, rank):
    """Coefficients and intercept of a fitted model's rank-``rank`` fit.

    With ``P = V_r^T V_r`` the projection on the leading ``rank`` rows of
    ``target_components_`` and ``m = intercept_ + coef_ @ mean_`` the training mean
    of the targets (0 with ``fit_intercept=False``), the rank-``rank`` fit is
    ``coef = P @ coef_`` and ``intercept = m + P @ (intercept_ - m)``: its
    predictions are
    ``m + (predict(X) - m) @ P``. That is what
    ``MultiGranularityRegressor(target_rank=rank)`` fits, at the ``sharing`` and
    ``alpha`` chosen at full rank.

    Parameters
    ----------
    regressor : MultiGranularityRegressor
        Fitted with ``target_rank`` at least ``rank`` (``target_rank=n_targets``
        keeps every component) and a 2-D target.
    rank : int
        At least 1, at most ``len(regressor.target_components_)``.

    Returns
    -------
    coef : ndarray of shape (n_targets, n_features)
    intercept : ndarray of shape (n_targets,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_multigran import MultiGranularityRegressor
    >>> from sklearn_multigran.forecasting import reduced_rank_coef
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 4))
    >>> Y = X @ rng.normal(size=(4, 3))
    >>> full = MultiGranularityRegressor(alpha=1.0, target_rank=3).fit(X, Y)
    >>> coef, intercept = reduced_rank_coef(full, 1)
    >>> int(np.linalg.matrix_rank(coef))
    1
    """
    inner, _ = _inner_regressor(regressor)
    coef = np.atleast_2d(inner.coef_)
    intercept = np.atleast_1d(inner.intercept_)
    P = _projection(inner, rank)
    target_mean = _target_mean(inner)
    return P @ coef, target_mean + P @ (intercept - target_mean)


def predict_at_rank(estimator, X, rank):
    """Predictions of a fitted model's rank-``rank`` fit, from one ``predict``.

    ``m + (estimator.predict(X) - m) @ P`` with ``m`` and ``P`` as in
    :func:`reduced_rank_coef`. ``predict`` handles NaN in ``X`` as the model
    does, so this is also right where ``X @ coef.T + intercept`` is not. A
    ``LastValueRelative`` around the model is projected around the last value of
    each row plus ``m``, which is the projection of its inner model's fit.

    Parameters
    ----------
    estimator : MultiGranularityRegressor or LastValueRelative
        Fitted as for :func:`reduced_rank_coef` (the inner regressor of a
        ``LastValueRelative``).
    X : array-like of shape (n_samples, n_features)
    rank : int or sequence of int
        One rank, or several: the model predicts once and each rank is a
        projection of that prediction.

    Returns
    -------
    ndarray of shape (n_samples, n_targets), or a list of them for several ranks

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_multigran import MultiGranularityRegressor
    >>> from sklearn_multigran.forecasting import predict_at_rank
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 4))
    >>> Y = X @ rng.normal(size=(4, 3))
    >>> full = MultiGranularityRegressor(alpha=1.0, target_rank=3).fit(X, Y)
    >>> one = MultiGranularityRegressor(alpha=1.0, target_rank=1).fit(X, Y)
    >>> bool(np.allclose(predict_at_rank(full, X, 1), one.predict(X)))
    True
    """
    inner, wrapped = _inner_regressor(estimator)
    single = not np.iterable(rank)
    ranks = [rank] if single else list(rank)
    projections = [_projection(inner, r) for r in ranks]
    full = np.asarray(estimator.predict(X), dtype=np.float64)
    if full.ndim != 2:
        raise ValueError(
            "the model predicts one target; a rank below the number of targets "
            "needs a 2-D target."
        )
    centre = np.broadcast_to(_target_mean(inner), full.shape)
    if wrapped:
        # LastValueRelative adds each row's last value back to the inner fit
        last = estimator._last_values(X)
        centre = centre + last[:, None]
    out = [centre + (full - centre) @ P for P in projections]
    return out[0] if single else out
