import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.linalg import null_space
from sklearn.linear_model import BayesianRidge, Ridge
from sklearn.preprocessing import StandardScaler

from sklearn_multigran import _linear
from sklearn_multigran._blend import sharing_root
from sklearn_multigran._linear import (
    candidate_scores,
    gram_statistics,
    solve_blend,
    weighted_means,
)


def gcv_scores(*args):
    return candidate_scores(*args, criteria=("gcv",))[0]


def log_evidence(*args):
    return candidate_scores(*args, criteria=("evidence",))[0]


def augmented(Z, sharing, G, p):
    """The augmented design built explicitly, block-major Z."""
    blocks = [Z[:, g * p : (g + 1) * p] for g in range(G)]
    return np.hstack(
        [sharing * sum(blocks), *[(1 - sharing) * b for b in blocks], Z[:, G * p :]]
    )


def _problem(rng, n=40, G=3, p=2, q=1, n_targets=1):
    X = rng.standard_normal((n, G * p + q)) * rng.uniform(0.5, 3, G * p + q) + 2.0
    Y = X @ rng.standard_normal((G * p + q, n_targets)) + rng.standard_normal(
        (n, n_targets)
    )
    return X, Y


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("with_nan", [False, True])
def test_gram_statistics_match_standard_scaler(weighted, with_nan, rng):
    X, Y = _problem(rng, n_targets=2)
    if with_nan:
        X[rng.uniform(size=X.shape) < 0.1] = np.nan
    w = rng.uniform(0.5, 2.0, len(X)) if weighted else None
    stats = gram_statistics(X, Y, w, fit_intercept=True)

    scaler = StandardScaler().fit(X, sample_weight=w)
    Z = np.nan_to_num(scaler.transform(X), nan=0.0)
    w_ = np.ones(len(X)) if w is None else w
    y_mean = np.average(Y, axis=0, weights=w_)
    assert_allclose(stats.mean, scaler.mean_, rtol=1e-12)
    assert_allclose(stats.scale, scaler.scale_, rtol=1e-12)
    assert_allclose(stats.y_mean, y_mean, rtol=1e-12)
    assert_allclose(stats.gram, Z.T @ (w_[:, None] * Z), rtol=1e-10, atol=1e-10)
    assert_allclose(stats.cross, Z.T @ (w_[:, None] * (Y - y_mean)), atol=1e-10)
    assert_allclose(stats.y_sq, w_ @ (Y - y_mean) ** 2, rtol=1e-12)
    assert stats.sum_weights == pytest.approx(w_.sum())


@pytest.mark.parametrize("with_nan", [False, True])
def test_gram_statistics_without_intercept_are_uncentred(with_nan, rng):
    X, Y = _problem(rng)
    if with_nan:
        X[rng.uniform(size=X.shape) < 0.1] = np.nan
    stats = gram_statistics(X, Y, None, fit_intercept=False)
    scaler = StandardScaler().fit(X)
    Z = np.nan_to_num(scaler.transform(X), nan=0.0) + scaler.mean_ / scaler.scale_
    assert_allclose(stats.gram, Z.T @ Z, rtol=1e-10)
    assert_allclose(stats.cross, Z.T @ Y, rtol=1e-10)
    assert_allclose(stats.y_sq, (Y**2).sum(axis=0), rtol=1e-12)


def test_gram_statistics_chunking_does_not_change_results(monkeypatch, rng):
    X, Y = _problem(rng, n=50)
    X[rng.uniform(size=X.shape) < 0.05] = np.nan
    w = rng.uniform(0.5, 2.0, len(X))
    whole = gram_statistics(X, Y, w, True)
    monkeypatch.setattr(_linear, "_CHUNK_BYTES", 8 * 7 * (X.shape[1] + 1))
    chunked = gram_statistics(X, Y, w, True)
    for a, b in zip(whole, chunked, strict=True):
        assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_threads", [2, 3])
def test_threaded_passes_are_bit_identical_to_one_thread(monkeypatch, n_threads, rng):
    # Small chunks and tasks so that 50 rows make 13 tasks; the threads' partial sums
    # are merged in row order, so the result cannot depend on the threads.
    X, Y = _problem(rng, n=50, n_targets=2)
    X[rng.uniform(size=X.shape) < 0.05] = np.nan
    w = rng.uniform(0.5, 2.0, len(X))
    monkeypatch.setattr(_linear, "_CHUNK_BYTES", 8 * 2 * (X.shape[1] + 2))
    monkeypatch.setattr(_linear, "_CHUNKS_PER_TASK", 2)
    monkeypatch.setattr(_linear, "_blas_threads", lambda: 1)
    serial = gram_statistics(X, Y, w, True)
    calls = []
    monkeypatch.setattr(_linear, "_blas_threads", lambda: calls.append(1) or n_threads)
    threaded = gram_statistics(X, Y, w, True)
    assert calls  # the pool was used
    for a, b in zip(serial, threaded, strict=True):
        np.testing.assert_array_equal(a, b)
    # and both are the StandardScaler reference
    scaler = StandardScaler().fit(X, sample_weight=w)
    Z = np.nan_to_num(scaler.transform(X), nan=0.0)
    assert_allclose(threaded.gram, Z.T @ (w[:, None] * Z), rtol=1e-10, atol=1e-10)


def test_gram_statistics_survive_a_large_offset(rng):
    # X^T X - n mean mean^T would lose all digits here (mean/std = 1e8).
    X, Y = _problem(rng)
    stats = gram_statistics(X, Y, None, True)
    shifted = gram_statistics(X + 1e8, Y, None, True)
    assert_allclose(shifted.gram, stats.gram, rtol=1e-6)
    assert_allclose(shifted.cross, stats.cross, rtol=1e-6)


def test_constant_and_all_nan_columns(rng):
    X = np.column_stack(
        [rng.standard_normal(10), np.full(10, 0.1), np.full(10, np.nan)]
    )
    stats = gram_statistics(X, rng.standard_normal((10, 1)), None, True)
    assert_allclose(stats.scale[1:], 1.0)
    assert_allclose(stats.mean[1:], [0.1, 0.0])
    assert_allclose(stats.gram[1:, 1:], 0.0, atol=1e-25)


def test_weighted_means_report_nan(rng):
    X = rng.standard_normal((6, 2))
    X[1, 0] = np.nan
    w = np.arange(1.0, 7.0)
    mean, observed, has_nan = weighted_means(X, w)
    assert has_nan
    keep = ~np.isnan(X[:, 0])
    assert_allclose(mean, [np.average(X[keep, 0], weights=w[keep]), w @ X[:, 1] / 21])
    assert_allclose(observed, [19.0, 21.0])


@pytest.mark.parametrize("sharing", [0.0, 0.4, 1.0])
def test_solve_blend_equals_ridge_on_augmented_design(sharing, rng):
    G, p, q = 3, 2, 1
    X, Y = _problem(rng, G=G, p=p, q=q, n_targets=2)
    stats = gram_statistics(X, Y, None, True)
    gamma = solve_blend(stats.gram, stats.cross, sharing, 2.5, G, p)
    beta = gamma @ sharing_root(sharing, G, p, q)
    Z = StandardScaler().fit_transform(X)
    ridge = Ridge(alpha=2.5).fit(augmented(Z, sharing, G, p), Y)
    assert_allclose(
        (Z - Z.mean(0)) @ beta.T,
        ridge.predict(augmented(Z, sharing, G, p)) - Y.mean(0),
        atol=1e-10,
    )


def hat_matrix(A, alpha, fit_intercept):
    """Column j of the hat matrix is Ridge's fitted values for y = e_j."""
    n = len(A)
    ridge = Ridge(alpha=alpha, fit_intercept=fit_intercept).fit(A, np.eye(n))
    return ridge.predict(A).T


def gcv_from_hat(H, y):
    n = len(y)
    return np.mean((y - H @ y) ** 2) / (1 - np.trace(H) / n) ** 2


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gcv_scores_equal_the_hat_matrix_formula(fit_intercept, rng):
    G, p, q = 2, 3, 1
    X, Y = _problem(rng, n=30, G=G, p=p, q=q, n_targets=2)
    stats = gram_statistics(X, Y, None, fit_intercept)
    sharings, alphas = np.array([0.0, 0.3, 1.0]), np.array([0.1, 3.0, 100.0])
    scores = gcv_scores(
        stats.gram,
        stats.cross,
        stats.y_sq,
        stats.sum_weights,
        fit_intercept,
        sharings,
        alphas,
        G,
        p,
    )
    Z = StandardScaler(with_mean=fit_intercept).fit_transform(X)
    for i, s in enumerate(sharings):
        for j, a in enumerate(alphas):
            H = hat_matrix(augmented(Z, s, G, p), a, fit_intercept)
            for t in range(Y.shape[1]):
                assert scores[i, j, t] == pytest.approx(
                    gcv_from_hat(H, Y[:, t]), rel=1e-9
                )


def equalising_rotation(H):
    """Orthogonal Q with diag(Q H Q^T) constant, by Givens rotations (Chan & Li).

    Each rotation mixes a coordinate above the mean diagonal with one below it and
    sets the first exactly to the mean, so n - 1 rotations suffice.
    """
    n = len(H)
    target = np.trace(H) / n
    Q, M = np.eye(n), H.copy()
    for _ in range(n):
        excess = np.diag(M) - target
        i, j = np.argmax(excess), np.argmin(excess)
        if excess[i] < 1e-14:
            break
        # new M_ii = (M_ii - 2 t M_ij + t^2 M_jj) / (1 + t^2) = target, solved for t
        a, b, c = M[j, j] - target, -2 * M[i, j], M[i, i] - target
        t = (-b - np.sqrt(b * b - 4 * a * c)) / (2 * a)
        cos = 1 / np.sqrt(1 + t * t)
        rot = np.eye(n)
        rot[[i, i, j, j], [i, j, i, j]] = cos, -t * cos, t * cos, cos
        M, Q = rot @ M @ rot.T, rot @ Q
    return Q


def test_gcv_equals_brute_force_leave_one_out_of_the_rotated_problem(rng):
    # GCV is, by construction (Golub, Heath & Wahba 1979), the leave-one-out error of
    # the problem rotated so that all samples have the same leverage. The rotation
    # leaves the ridge fit unchanged, so brute-force leave-one-out refits of sklearn's
    # Ridge on the rotated augmented design must reproduce our score.
    G, p, q = 2, 2, 1
    X, Y = _problem(rng, n=24, G=G, p=p, q=q)
    y = Y[:, 0]
    stats = gram_statistics(X, Y, None, fit_intercept=False)
    Z = StandardScaler(with_mean=False).fit_transform(X)
    for sharing, alpha in [(0.0, 0.5), (0.6, 2.0), (1.0, 10.0)]:
        score = gcv_scores(
            stats.gram,
            stats.cross,
            stats.y_sq,
            stats.sum_weights,
            False,
            [sharing],
            [alpha],
            G,
            p,
        )[0, 0, 0]
        A = augmented(Z, sharing, G, p)
        Q = equalising_rotation(hat_matrix(A, alpha, fit_intercept=False))
        A_rot, y_rot = Q @ A, Q @ y
        errors = []
        for k in range(len(y)):
            keep = np.arange(len(y)) != k
            ridge = Ridge(alpha=alpha, fit_intercept=False).fit(
                A_rot[keep], y_rot[keep]
            )
            errors.append(y_rot[k] - ridge.predict(A_rot[k : k + 1])[0])
        assert score == pytest.approx(np.mean(np.square(errors)), rel=1e-8)


def test_gcv_is_inf_without_enough_observations():
    gram = np.zeros((2, 2))
    scores = gcv_scores(
        gram, np.zeros((2, 1)), np.ones(1), 1.0, True, [0.0], [1.0], 0, 0
    )
    assert np.isinf(scores).all()


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(
    ("sharing", "n"),
    [(0.0, 40), (0.4, 40), (1.0, 40), (0.4, 9)],  # n=9: fewer rows than features
)
def test_log_evidence_peaks_where_bayesian_ridge_converges(
    fit_intercept, sharing, n, rng
):
    # BayesianRidge without hyperpriors maximises the same marginal likelihood over
    # the noise and coefficient precisions by MacKay's fixed point. On the explicit
    # augmented design its penalty ratio lambda_ / alpha_ must be where our evidence
    # peaks, and its log marginal likelihood our value there. A flat prior on the
    # intercept is ML on the n - 1 contrasts orthogonal to the constant.
    G, p, q = 3, 3, 1
    X, Y = _problem(rng, n=n, G=G, p=p, q=q)
    y = Y[:, 0]
    stats = gram_statistics(X, Y, None, fit_intercept)
    A = augmented(
        StandardScaler(with_mean=fit_intercept).fit_transform(X), sharing, G, p
    )
    if fit_intercept:
        contrasts = null_space(np.ones((1, n))).T
        A, y = contrasts @ A, contrasts @ y
    bayes = BayesianRidge(
        fit_intercept=False,
        alpha_1=0.0,
        alpha_2=0.0,
        lambda_1=0.0,
        lambda_2=0.0,
        tol=1e-13,
        max_iter=100_000,
        compute_score=True,
    ).fit(A, y)
    ratio = bayes.lambda_ / bayes.alpha_
    evidence = log_evidence(
        stats.gram,
        stats.cross,
        stats.y_sq,
        stats.sum_weights,
        fit_intercept,
        [sharing],
        ratio * np.array([1.0, 0.97, 1.03]),
        G,
        p,
    )[0, :, 0]
    assert evidence[0] == pytest.approx(bayes.scores_[-1], rel=1e-9)
    assert evidence[0] > evidence[1:].max()


def test_log_evidence_is_nan_without_a_contrast():
    evidence = log_evidence(
        np.zeros((2, 2)), np.zeros((2, 1)), np.ones(1), 1.0, True, [0.0], [1.0], 0, 0
    )
    assert np.isnan(evidence).all()
