"""Closed-form solvers for the linear submodels; they return arrays, not estimators.

A fit is one pass over the data to get the means (:func:`weighted_means`), one pass
to accumulate the Gram matrix of the centred features and targets
(:func:`gram_statistics`), then dense algebra on matrices of the size of the number
of features, however many sharing and alpha candidates are tried (:func:`solve_blend`,
:func:`candidate_scores`).

Every function here trusts its caller (the estimator validated the data): ``X`` is a 2-D
float array that may hold NaN but no inf, ``Y`` is a 2-D float64 array, weights are
non-negative with a positive sum.
"""

import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
from scipy import linalg
from scipy.linalg.blas import dsyrk
from threadpoolctl import ThreadpoolController

from sklearn_multigran._blend import apply_root, blend_gram, blend_kernel

# Rows per chunk in the passes over X: about 4 MiB of float64 per chunk buffer, so the
# centred copy stays in cache between being written and being read by the BLAS call,
# and the full-size centred copy that Ridge makes is never needed.
_CHUNK_BYTES = 1 << 22

# Chunks per task of the threaded passes (map_row_tasks): 32 MiB of X, enough work per
# task (tens of ms) that the pool's overhead vanishes, and enough tasks from a few
# hundred thousand rows on that the threads share the work evenly.
_CHUNKS_PER_TASK = 8

#: Candidates for ``sharing="auto"``: 0, 0.1, ..., 1. Built as k / 10 so that the
#: reported ``sharing_`` is the decimal a user would type, not linspace's 0.7000...01.
SHARING_GRID = np.arange(11) / 10

#: Candidates for ``alpha="auto"``, as multiples of the sum of the sample weights (the
#: number of samples when unweighted). The features are standardised, so the diagonal
#: of the Gram matrix is about that sum and ``alpha / n_samples`` is the scale-free
#: strength of the penalty: this grid runs from essentially unpenalised (1e-6) to
#: strong shrinkage (100), half a decade apart.
ALPHA_GRID = np.logspace(-6, 2, 17)


# The algebra after the Gram pass is on matrices of a few hundred rows. Threaded BLAS
# only costs there: measured on 2 busy cores, a 120 x 120 eigh took 220 ms with two
# OpenBLAS threads and 6 ms with one. (sklearn's Ridge has the same small solve but
# does it once; we do it once per sharing candidate.)
def _one_blas_thread():
    return _blas_controller().limit(limits=1, user_api="blas")


@functools.cache
def _blas_controller():
    # Building a controller scans the loaded libraries (a few ms, read from /proc):
    # more than a whole dual fit of 50 rows. BLAS is loaded with numpy and scipy,
    # before this module, so one scan serves the process.
    return ThreadpoolController()


def _chunk_rows(n_columns):
    return max(1, _CHUNK_BYTES // (8 * max(n_columns, 1)))


def _blas_threads():
    """The number of threads BLAS may use now (``threadpoolctl`` limits included)."""
    counts = [
        lib.num_threads
        for lib in _blas_controller().select(user_api="blas").lib_controllers
    ]
    return max(counts, default=1)


def map_row_tasks(task, n_samples, step):
    """``[task(rows) for rows in tasks]`` over row ranges, on BLAS's threads.

    The passes over ``X`` are a long series of small BLAS calls (one per chunk of
    ``step`` rows, sized to stay in cache), which BLAS cannot usefully thread: a
    ``syrk`` of 4,000 x 121 is too small to split. So the chunks are grouped into
    tasks of ``_CHUNKS_PER_TASK`` chunks that run on a thread pool as large as the
    BLAS thread count (numpy and BLAS release the GIL), each BLAS call on one
    thread. The tasks, and so the summation order of their partial results, depend
    on the data's size alone, never on the number of threads or their schedule:
    the caller merges the returned list in its order, and a fit is bit-identical on
    one thread and on many.

    Parameters
    ----------
    task : callable
        ``task(range_of_rows)``; it is called concurrently, so it must only read
        shared data and return its own result.
    n_samples, step : int
        Rows in all, rows per chunk.

    Returns
    -------
    results : list
        One per task, in row order.
    """
    per_task = _CHUNKS_PER_TASK * step
    tasks = [
        range(start, min(start + per_task, n_samples))
        for start in range(0, n_samples, per_task)
    ]
    n_threads = min(_blas_threads(), len(tasks)) if len(tasks) > 1 else 1
    if n_threads == 1:
        return [task(rows) for rows in tasks]
    # One BLAS thread per call: the pool is the parallelism. threadpoolctl's limit
    # is process-wide, so it also holds in the pool's threads.
    with _one_blas_thread(), ThreadPoolExecutor(max_workers=n_threads) as pool:
        return list(pool.map(task, tasks))


def has_nan(X):
    """Whether ``X`` (finite but for NaN) holds a NaN, without a mask if it has none.

    NaN propagates through a sum and the estimators' validation has refused inf, so a
    sum that is not NaN proves there is none, at the cost of one read of ``X`` and no
    allocation (a mask costs ``n * p`` bytes and a pass more). A sum that overflows to
    ``inf - inf`` only sends us to the exact check, never past it.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isnan(X.sum())) and bool(np.isnan(X).any())


def impute(X, mean):
    """``X`` with NaN replaced by ``mean``; ``X`` itself when it has none."""
    if has_nan(X):
        X = np.where(np.isnan(X), mean, X)
    return X


def weighted_means(X, sample_weight):
    """Column means over the observed (non-NaN) entries, with their weight.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    mean : ndarray of shape (n_features,)
        Zero for a column with no observed entry.
    observed_weight : ndarray of shape (n_features,)
        Sum of the weights of the observed entries of each column.
    has_nan : bool
    """
    n_samples, n_features = X.shape
    step = _chunk_rows(n_features)

    def task(rows):
        total = np.zeros(n_features)
        unobserved = np.zeros(n_features)
        has_nan = False
        for start in range(rows.start, rows.stop, step):
            stop = min(start + step, rows.stop)
            block = X[start:stop]
            w = None if sample_weight is None else sample_weight[start:stop]
            part = block.sum(axis=0, dtype=np.float64) if w is None else w @ block
            if np.isnan(part).any():
                # NaN propagates through the sums, so the cheap sum doubles as a NaN
                # probe and only chunks that hold NaN pay for the mask.
                has_nan = True
                missing = np.isnan(block)
                filled = np.where(missing, 0.0, block)
                if w is None:
                    part = filled.sum(axis=0, dtype=np.float64)
                    unobserved += missing.sum(axis=0)
                else:
                    part = w @ filled
                    unobserved += w @ missing
            total += part
        return total, unobserved, has_nan

    parts = map_row_tasks(task, n_samples, step)
    total = np.zeros(n_features)
    observed = np.full(
        n_features,
        float(n_samples if sample_weight is None else sample_weight.sum()),
    )
    has_nan = False
    for part, unobserved, part_has_nan in parts:  # in row order: deterministic
        total += part
        observed -= unobserved
        has_nan |= part_has_nan
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(observed > 0, total / observed, 0.0)
    return mean, observed, has_nan


class GramStatistics(NamedTuple):
    """Sufficient statistics of a weighted ridge on standardised features.

    ``gram`` and ``cross`` are for the standardised features, centred when the model
    fits an intercept and only scaled otherwise; ``y_sq`` is the matching weighted sum
    of squares of each target (centred or not).
    """

    mean: np.ndarray
    scale: np.ndarray
    y_mean: np.ndarray
    gram: np.ndarray
    cross: np.ndarray
    y_sq: np.ndarray
    sum_weights: float


def _standard_scale(var, mean, n_seen):
    # StandardScaler's rule: a variance within the error bound of the two-pass
    # algorithm (Chan, Golub & LeVeque) is a constant column and gets scale 1.
    eps = np.finfo(np.float64).eps
    constant = var <= n_seen * eps * var + (n_seen * mean * eps) ** 2
    scale = np.sqrt(var)
    scale[constant] = 1.0
    return scale


def gram_statistics(X, Y, sample_weight, fit_intercept):
    """One pass over the data for the Gram matrix of standardised features.

    NaN in ``X`` are imputed with the column's training mean, i.e. they are 0 once
    standardised; means and variances are over observed entries only, as in
    ``StandardScaler``.

    The variance and the Gram matrix come from sums of products of *centred* values
    (the two-pass algorithm), not from ``X^T X - n mean mean^T``: the latter loses
    every digit when the mean is large against the spread, as it is for timestamps or
    prices. Centring a chunk at a time keeps the extra memory to one small buffer; the
    products are a BLAS ``syrk`` on ``[X - mean, Y - y_mean]``, which also yields the
    cross-products with the targets in the same call.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_targets)
    sample_weight : ndarray of shape (n_samples,) or None
    fit_intercept : bool

    Returns
    -------
    stats : GramStatistics
    """
    n_samples, n_features = X.shape
    n_targets = Y.shape[1]
    mean, observed, has_nan = weighted_means(X, sample_weight)
    if sample_weight is None:
        sum_weights = float(n_samples)
        y_mean = Y.mean(axis=0)
        sqrt_w = None
    else:
        sum_weights = float(sample_weight.sum())
        y_mean = sample_weight @ Y / sum_weights
        sqrt_w = np.sqrt(sample_weight)

    width = n_features + n_targets
    step = _chunk_rows(width)
    buffers = threading.local()

    def task(rows):
        # one chunk buffer per thread, reused by its tasks
        buffer = getattr(buffers, "buffer", None)
        if buffer is None:
            buffer = buffers.buffer = np.empty((min(step, n_samples), width))
        # Fortran order so that syrk accumulates in place (overwrite_c) without
        # copies.
        moments = np.zeros((width, width), order="F")
        for start in range(rows.start, rows.stop, step):
            stop = min(start + step, rows.stop)
            buf = buffer[: stop - start]
            np.subtract(X[start:stop], mean, out=buf[:, :n_features])
            if has_nan:
                np.copyto(buf[:, :n_features], 0.0, where=np.isnan(buf[:, :n_features]))
            np.subtract(Y[start:stop], y_mean, out=buf[:, n_features:])
            if sqrt_w is not None:
                buf *= sqrt_w[start:stop, None]
            # buf.T is an F-ordered view, so dsyrk reads it without a copy; it fills
            # the upper triangle only.
            moments = dsyrk(1.0, buf.T, beta=1.0, c=moments, trans=0, overwrite_c=1)
        return moments

    parts = map_row_tasks(task, n_samples, step)
    moments = parts[0]
    for part in parts[1:]:  # in row order: deterministic
        moments += part
    moments = np.triu(moments) + np.triu(moments, 1).T

    xx = moments[:n_features, :n_features]
    xy = moments[:n_features, n_features:]
    yy = np.diag(moments[n_features:, n_features:]).copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(observed > 0, np.diag(xx) / observed, 0.0)
    scale = _standard_scale(var, mean, observed)
    if not fit_intercept:
        # Uncentred moments from centred ones. Adding the rank-one term loses nothing
        # (no cancellation), and it stays exact with imputed NaN because the imputed
        # entries equal the mean, so the centred columns still sum to zero.
        xx = xx + sum_weights * np.outer(mean, mean)
        xy = xy + sum_weights * np.outer(mean, y_mean)
        yy = yy + sum_weights * y_mean**2
    gram = xx / np.outer(scale, scale)
    cross = xy / scale[:, None]
    return GramStatistics(mean, scale, y_mean, gram, cross, yy, sum_weights)


def solve_blend(gram, cross, sharing, alpha, n_blocks, n_per_block):
    """Solve the ridge on the equivalent design ``Z R`` for one (sharing, alpha).

    Parameters
    ----------
    gram : ndarray of shape (P, P)
        Block-major Gram matrix of the standardised features.
    cross : ndarray of shape (P, n_targets)
    sharing : float in [0, 1]
    alpha : float > 0
    n_blocks, n_per_block : int

    Returns
    -------
    gamma : ndarray of shape (n_targets, P)
        Pass to :func:`~sklearn_multigran._blend.split_coefficients`.
    """
    with _one_blas_thread():
        blended, rhs = blend_gram(gram, cross, sharing, n_blocks, n_per_block)
        blended[np.diag_indices_from(blended)] += alpha
        # alpha > 0 makes the system positive definite; Cholesky is what Ridge's
        # default dense solver uses too.
        return linalg.solve(blended, rhs, assume_a="pos").T


def reduce_target_rank(gamma, cross, sharing, n_blocks, n_per_block, rank):
    """Project a ridge solution on ``Z R`` to the best one of rank ``rank``.

    Reduced-rank ridge regression (Mukherjee & Zhu, 2011): among coefficient
    matrices ``gamma`` of rank at most ``r``, the penalised squared error
    ``|Y - Z R gamma^T|^2 + alpha |gamma|^2`` is least at ``V_r V_r^T gamma_hat``,
    where ``gamma_hat`` is the full-rank solution and ``V_r`` holds the ``r``
    leading eigenvectors of the fitted values' cross-product on the augmented data
    ``[Z R; sqrt(alpha) I]``,

    ``F = gamma_hat (R K R + alpha I) gamma_hat^T = gamma_hat R c``

    (the second form because ``gamma_hat`` solves the normal equations), so ``F``
    comes from the Gram statistics alone. The problem is a least-squares one in the
    augmented data, which is why the Eckart-Young truncation of its fitted values is
    exact.

    Parameters
    ----------
    gamma : ndarray of shape (n_targets, P)
        Full-rank solution from :func:`solve_blend`.
    cross : ndarray of shape (P, n_targets)
        ``Z^T W y``, block-major, as passed to :func:`solve_blend`.
    sharing : float in [0, 1]
    n_blocks, n_per_block : int
    rank : int >= 1
        At least ``n_targets`` leaves ``gamma`` as it is.

    Returns
    -------
    gamma : ndarray of shape (n_targets, P)
        The rank-``min(rank, n_targets)`` solution.
    components : ndarray of shape (min(rank, n_targets), n_targets)
        Orthonormal rows spanning the targets' subspace, leading first.
    """
    n_targets = gamma.shape[0]
    rank = min(rank, n_targets)
    with _one_blas_thread():
        blended_cross = apply_root(cross, sharing, n_blocks, n_per_block)
        fitted_cross = gamma @ blended_cross
        # symmetric in exact arithmetic; average away the rounding for eigh
        fitted_cross = 0.5 * (fitted_cross + fitted_cross.T)
        _, eigvecs = linalg.eigh(
            fitted_cross, subset_by_index=[n_targets - rank, n_targets - 1]
        )
    components = eigvecs[:, ::-1].T
    return components.T @ (components @ gamma), components


def _candidate_spectra(stats_gram, cross, sharings, n_blocks, n_per_block):
    """Yield the eigenvalues of ``R K R`` and the squared cross-products in its basis.

    One eigendecomposition per sharing candidate serves every alpha and both
    criteria: a ridge's fitted values, residuals, hat matrix and evidence are all
    rational functions of ``alpha`` in this basis.
    """
    for sharing in sharings:
        blended, rhs = blend_gram(stats_gram, cross, sharing, n_blocks, n_per_block)
        eigvals, eigvecs = linalg.eigh(blended)
        # Rounding can leave tiny negative eigenvalues on a singular Gram matrix.
        eigvals = np.clip(eigvals, 0.0, None)
        yield eigvals, (eigvecs.T @ rhs) ** 2, None


def candidate_scores(
    stats_gram,
    cross,
    y_sq,
    sum_weights,
    fit_intercept,
    sharings,
    alphas,
    n_blocks,
    n_per_block,
    criteria=("gcv", "evidence"),
):
    """Model-selection criteria for every (sharing, alpha) pair, one pass.

    One eigendecomposition of the blended Gram matrix per sharing candidate serves
    every alpha and every criterion: ``"gcv"``, generalised cross-validation (lower
    is better, see :func:`_gcv_of_spectrum`), and ``"evidence"``, the log marginal
    likelihood (higher is better, see :func:`_evidence_of_spectrum`).

    Parameters
    ----------
    stats_gram : ndarray of shape (P, P)
        Block-major Gram matrix of the standardised (centred if ``fit_intercept``)
        features.
    cross : ndarray of shape (P, n_targets)
    y_sq : ndarray of shape (n_targets,)
        Weighted sum of squares of the (centred if ``fit_intercept``) targets.
    sum_weights : float
    fit_intercept : bool
    sharings, alphas : ndarray of shape (n_sharing,) and (n_alpha,)
    n_blocks, n_per_block : int
    criteria : tuple of {"gcv", "evidence"}, default=("gcv", "evidence")

    Returns
    -------
    scores : list of ndarray of shape (n_sharing, n_alpha, n_targets)
        One per criterion, in the order of ``criteria``. GCV is ``inf`` where
        ``df >= N``; the evidence is ``nan`` everywhere when ``n <= 0`` (one unit of
        weight or less with an intercept), where the restricted likelihood does not
        exist.
    """
    with _one_blas_thread():
        spectra = _candidate_spectra(stats_gram, cross, sharings, n_blocks, n_per_block)
        return _scores_of_spectra(
            spectra, len(sharings), alphas, y_sq, sum_weights, fit_intercept, criteria
        )


def _scores_of_spectra(
    spectra, n_sharings, alphas, y_sq, sum_weights, fit_intercept, criteria
):
    criteria = [_CRITERIA[name] for name in criteria]
    alphas = np.asarray(alphas, dtype=np.float64)
    scores = [np.empty((n_sharings, len(alphas), len(y_sq))) for _ in criteria]
    for i, (eigvals, d_sq, t_sq) in enumerate(spectra):
        for out, criterion in zip(scores, criteria, strict=True):
            out[i] = criterion(
                eigvals, d_sq, alphas, y_sq, sum_weights, fit_intercept, t_sq
            )
    return scores


# --- the dual: fewer samples than features -----------------------------------------
#
# With n < P rows the ridge on Z R has at most n non-zero eigenvalues, those of the
# n x n kernel Z R R Z^T (weighted), and every quantity the criteria and the solution
# need lives in that n-dimensional space: the squared cross-products in the primal
# eigenbasis are d_j^2 = lam_j (u_j^T y)^2 for the kernel's eigenvectors u_j, and zero
# for the other P - n directions, which add nothing to df, RSS, Q or the determinant.
# So the scores are those of the primal, from one n x n eigendecomposition per sharing
# candidate, and the solution is gamma = R Z^T (K + alpha I)^{-1} y (the kernel form
# of ridge, as Ridge's "cholesky" solver uses when n < p). Cost: O(n^2 P) for the
# kernels once, against O(n P^2 + P^3) for the primal's Gram matrix and its
# eigendecompositions: 974 s at P = 6,000, n = 50 with "auto" before this.


class DualStatistics(NamedTuple):
    """The standardised design itself, for the dual (kernel) form.

    ``design`` is ``sqrt(w) * Z`` in the input's column order (no block-major copy:
    ``order`` gives that order, and only ``P``-vectors are ever permuted), ``Z`` the
    standardised features (centred if the model has an intercept, NaN imputed with
    the mean, i.e. 0 once centred); ``target`` is ``sqrt(w) * y`` (centred if so);
    ``kernels`` are ``(sum_g Z_g Z_g^T, (sum_g Z_g)(sum_g Z_g)^T, Z_f Z_f^T)`` of
    ``design``; ``cross`` is block-major; ``mean`` and ``scale`` are in the input's
    column order, as in :class:`GramStatistics`.
    """

    mean: np.ndarray
    scale: np.ndarray
    y_mean: np.ndarray
    design: np.ndarray
    order: np.ndarray
    target: np.ndarray
    kernels: tuple
    cross: np.ndarray
    y_sq: np.ndarray
    sum_weights: float


def _columns(design, columns):
    """``design[:, columns]``: a view when the columns are a contiguous run."""
    if (
        len(columns)
        and columns[-1] - columns[0] == len(columns) - 1
        and np.array_equal(columns, np.arange(columns[0], columns[-1] + 1))
    ):
        return design[:, columns[0] : columns[-1] + 1]
    return design[:, columns]


def dual_statistics(X, Y, sample_weight, fit_intercept, order, n_blocks, n_per_block):
    """Standardise ``X`` into the design of the dual, and its kernels.

    The same means, scales and imputation as :func:`gram_statistics`, which the
    primal path uses; only the design is kept instead of its Gram matrix. The design
    stays in the input's column order: a kernel does not depend on the order of its
    columns, so only the sum over the blocks needs the alignment, and it reads each
    block in place (a view when its columns are contiguous).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_targets)
    sample_weight : ndarray of shape (n_samples,) or None
    fit_intercept : bool
    order : ndarray of int
        The block-major column order (blocks, then free columns).
    n_blocks, n_per_block : int

    Returns
    -------
    stats : DualStatistics
    """
    n_samples = X.shape[0]
    mean, observed, has_nan = weighted_means(X, sample_weight)
    if sample_weight is None:
        sum_weights = float(n_samples)
        y_mean = Y.mean(axis=0)
        sqrt_w = None
    else:
        sum_weights = float(sample_weight.sum())
        y_mean = sample_weight @ Y / sum_weights
        sqrt_w = np.sqrt(sample_weight)[:, None]

    design = np.subtract(X, mean, dtype=np.float64)  # the one copy of X
    if has_nan:
        np.copyto(design, 0.0, where=np.isnan(design))
    if sqrt_w is not None:
        design *= sqrt_w
    squares = np.einsum("ij,ij->j", design, design)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(observed > 0, squares / observed, 0.0)
    scale = _standard_scale(var, mean, observed)

    target = Y - y_mean if fit_intercept else Y.copy()
    if not fit_intercept:
        # uncentred, NaN still imputed with the mean: add the mean back
        design += mean if sqrt_w is None else sqrt_w * mean
    design /= scale
    if sqrt_w is not None:
        target *= sqrt_w
    y_sq = np.einsum("ij,ij->j", target, target)

    n_block_cols = n_blocks * n_per_block
    free_columns = order[n_block_cols:]
    free = _columns(design, free_columns)
    free_kernel = free @ free.T
    if n_blocks:
        if len(free_columns):
            blocks = _columns(design, np.sort(order[:n_block_cols]))
            blocks_kernel = blocks @ blocks.T
        else:
            blocks_kernel = design @ design.T
        per_block = [
            _columns(design, order[g * n_per_block : (g + 1) * n_per_block])
            for g in range(n_blocks)
        ]
        summed = np.add(per_block[0], per_block[1])
        for block in per_block[2:]:
            summed += block
        kernels = (blocks_kernel, summed @ summed.T, free_kernel)
    else:
        zero = np.zeros((n_samples, n_samples))
        kernels = (zero, zero, free_kernel)
    cross = (design.T @ target)[order]
    return DualStatistics(
        mean, scale, y_mean, design, order, target, kernels, cross, y_sq, sum_weights
    )


def _dual_spectra(kernels, target, sharings):
    """Eigenvalues and squared projections of the target for every sharing at once.

    One batched call to LAPACK's divide-and-conquer ``syevd`` (``numpy.linalg.eigh``
    on the stack of blended kernels) instead of one scipy call per candidate: at
    n = 50 the per-call overhead was a third of the decomposition's cost.

    Returns
    -------
    eigvals : ndarray of shape (n_sharing, n)
    d_sq, t_sq : ndarray of shape (n_sharing, n, n_targets)
    """
    blocks, summed, free = kernels
    sharings = np.asarray(sharings, dtype=np.float64)[:, None, None]
    stack = (1 - sharings) ** 2 * blocks + sharings**2 * summed + free
    eigvals, eigvecs = np.linalg.eigh(stack)
    # The kernel is singular (rank n - 1 with an intercept, less with sharing
    # 1), and eigh returns its zero eigenvalues as rounding noise of the order
    # of n eps lam_max. Against a small alpha that noise is not small: it moves
    # df by lam / alpha, which GCV's (1 - df / N)^2 amplifies where df nears N
    # (a relative 2e-5 on 15 rows). Below the noise level, zero is the answer.
    noise = (
        eigvals.shape[-1] * np.finfo(np.float64).eps * np.maximum(eigvals[:, -1:], 0.0)
    )
    eigvals = np.where(eigvals > noise, eigvals, 0.0)
    t_sq = (np.swapaxes(eigvecs, 1, 2) @ target) ** 2
    return eigvals, eigvals[:, :, None] * t_sq, t_sq


def dual_candidate_scores(
    stats, fit_intercept, sharings, alphas, criteria=("gcv", "evidence")
):
    """:func:`candidate_scores` from the n x n kernel (see the dual's notes above).

    Parameters
    ----------
    stats : DualStatistics
    fit_intercept : bool
    sharings, alphas : ndarray
    criteria : tuple of {"gcv", "evidence"}

    Returns
    -------
    scores : list of ndarray of shape (n_sharing, n_alpha, n_targets)
        Equal to :func:`candidate_scores`' to rounding.
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    with _one_blas_thread():
        eigvals, d_sq, t_sq = _dual_spectra(stats.kernels, stats.target, sharings)
        # every sharing in one broadcast call of each criterion
        return [
            _CRITERIA[name](
                eigvals,
                d_sq,
                alphas,
                stats.y_sq,
                stats.sum_weights,
                fit_intercept,
                t_sq,
            )
            for name in criteria
        ]


def solve_blend_dual(stats, sharing, alpha, n_blocks, n_per_block):
    """:func:`solve_blend` in kernel form: ``gamma = R Z^T (K + alpha I)^{-1} y``.

    Returns
    -------
    gamma : ndarray of shape (n_targets, P)
    """
    with _one_blas_thread():
        kernel = blend_kernel(stats.kernels, sharing)
        kernel[np.diag_indices_from(kernel)] += alpha
        dual_coef = linalg.solve(
            kernel, stats.target, assume_a="pos", check_finite=False
        )
        back = (stats.design.T @ dual_coef)[stats.order]
        return apply_root(back, sharing, n_blocks, n_per_block).T


def _gcv_of_spectrum(
    eigvals, d_sq, alphas, y_sq, sum_weights, fit_intercept, t_sq=None
):
    """Generalised cross-validation score of every alpha, for one sharing.

    For the linear smoother ``y_hat = H y`` of a weighted ridge,

    ``GCV = (RSS / N) / (1 - df / N) ** 2``,  with ``df = trace(H)``

    (Golub, Heath & Wahba, 1979), where ``RSS`` is the weighted residual sum of
    squares, ``N`` the sum of the weights and ``df`` counts the intercept as one.
    GCV is the leave-one-out error of the problem rotated so that every sample has the
    same leverage; unlike exact leave-one-out it needs no per-sample leverage, so it
    comes from the Gram matrix alone. One eigendecomposition of ``R K R`` per sharing
    candidate gives every alpha at the cost of a vector operation:

    ``df = sum_j lam_j / (lam_j + alpha)``,
    ``RSS = y_sq - sum_j d_j^2 (lam_j + 2 alpha) / (lam_j + alpha)^2``,

    with ``lam`` the eigenvalues and ``d`` the cross-products ``R Z^T W y`` in the
    eigenbasis. With frequency weights ``N`` makes integer weights equivalent to
    repeated rows. A pair with ``df >= N`` has no finite score and gets ``inf``.

    The RSS formula subtracts from the total sum of squares, so when the fit is almost
    exact its relative error grows like ``eps * y_sq / RSS``; that only blurs the
    comparison between near-perfect candidates.

    Here for one sharing: ``eigvals`` are ``lam``, ``d_sq`` the ``d_j^2`` (the dual
    passes every sharing at once, stacked on a leading axis of ``eigvals``, ``d_sq``
    and ``t_sq``, and gets that axis first in the result). The dual
    also passes ``t_sq``, the squared targets in the kernel's eigenbasis, a full
    basis of the samples' space (``d_j^2 = lam_j t_j``, ``sum_j t_j = y_sq``): then
    ``RSS = sum_j t_j alpha^2 / (lam_j + alpha)^2``, with no cancellation.
    """
    lam = eigvals[..., None, :]
    shrink = 1.0 / (lam + alphas[:, None])  # (..., n_alpha, P)
    df = (lam * shrink).sum(axis=-1) + fit_intercept
    if t_sq is None:
        explained = ((lam + 2 * alphas[:, None]) * shrink**2) @ d_sq
        rss = np.clip(y_sq - explained, 0.0, None)
    else:
        # the dual's full basis of the targets' space: no subtraction, no lost digits
        rss = (alphas[:, None] * shrink) ** 2 @ t_sq
    denominator = (1.0 - df / sum_weights) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        score = (rss / sum_weights) / denominator[..., None]
    score[df >= sum_weights] = np.inf
    return score


def _evidence_of_spectrum(
    eigvals, d_sq, alphas, y_sq, sum_weights, fit_intercept, t_sq=None
):
    """Log marginal likelihood (evidence) of every alpha, for one sharing.

    The penalised fit is the posterior mode of the Gaussian model ``y = A theta +
    intercept + e``, ``e ~ N(0, sigma^2 I)``, with the prior ``theta ~ N(0, sigma^2 /
    alpha I)`` on the augmented coefficients ``theta = (S, V_1, ..., V_G, B)`` and a
    flat prior on the intercept. Integrating ``theta`` out, the targets are Gaussian
    with covariance ``sigma^2 (I + A A^T / alpha)``; type-II maximum likelihood
    (MacKay 1992; what :class:`~sklearn.linear_model.BayesianRidge` maximises)
    chooses the hyperparameters that make the observed targets most probable. Here
    ``sigma^2`` is profiled out in closed form, leaving for each target

    ``log L = -(n / 2) (log(2 pi Q / n) + 1) - (1 / 2) sum_j log(1 + lam_j / alpha)``,

    ``Q = y_sq - sum_j d_j^2 / (lam_j + alpha)``, the penalised residual sum of
    squares at the optimum, with ``lam``, ``d`` as in :func:`_gcv_of_spectrum` and
    ``n`` the sum of the weights, less one with an intercept: the flat prior on the
    intercept makes this the likelihood of the ``n - 1`` contrasts orthogonal to the
    constant
    (restricted maximum likelihood, Patterson & Thompson 1971). With frequency
    weights, integer weights are repeated rows exactly.

    Why not only GCV: with about as many coefficients as rows, GCV's denominator
    ``(1 - df / n)^2`` makes it erratic. On 40 rows of 3 blocks of 10 features
    (``make_multigranularity_regression``, noise 3) it picked ``alpha <= 1e-3 n``,
    an almost unpenalised fit, for 1.5% of the draws and ``alpha < 0.05 n`` for 5%,
    where the evidence never went below ``0.03 n`` (the prior's own value is
    ``0.22 n``). Wahba (1985) compares the two criteria: the evidence is the better
    when the Gaussian model holds, GCV stays asymptotically optimal for the
    prediction error without it. The evidence stays defined with fewer rows than
    features, and its determinant term charges a candidate for the freedom it gives
    the coefficients.

    With the dual's ``t_sq`` (see :func:`_gcv_of_spectrum`),
    ``Q = sum_j t_j alpha / (lam_j + alpha)``, exact also where the fit interpolates.
    """
    n_eff = sum_weights - fit_intercept
    if n_eff <= 0:
        return np.full((*eigvals.shape[:-1], len(alphas), len(y_sq)), np.nan)
    # Q is a difference of sums, like GCV's RSS: keep it positive when the fit is
    # (almost) exact, so the logarithm stays finite (a constant target then scores
    # every candidate by its determinant alone, and the strongest penalty wins).
    floor = np.maximum(np.finfo(np.float64).eps * y_sq, np.finfo(np.float64).tiny)
    lam = eigvals[..., None, :]
    shrink = 1.0 / (lam + alphas[:, None])  # (..., n_alpha, P)
    if t_sq is None:
        penalised_rss = np.maximum(y_sq - shrink @ d_sq, floor)
    else:
        penalised_rss = np.maximum((alphas[:, None] * shrink) @ t_sq, floor)
    log_det = np.log1p(lam / alphas[:, None]).sum(axis=-1)
    return -0.5 * (
        n_eff * (np.log(2 * np.pi * penalised_rss / n_eff) + 1.0) + log_det[..., None]
    )


_CRITERIA = {"gcv": _gcv_of_spectrum, "evidence": _evidence_of_spectrum}
