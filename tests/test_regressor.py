import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy.linalg import null_space
from scipy.optimize import minimize, minimize_scalar
from scipy.stats import multivariate_normal
from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import sklearn_multigran
from sklearn_multigran import (
    MultiGranularityMLPRegressor,
    MultiGranularityRegressor,
    _regressor,
)
from sklearn_multigran.datasets import make_multigranularity_regression

TOL = {"rtol": 1e-8, "atol": 1e-8}


def _problem(rng, n=60, G=3, p=3, q=2, n_targets=None, offset=True):
    # Blocks on different scales and offsets, so that the standardisation matters.
    n_features = G * p + q
    X = rng.standard_normal((n, n_features)) * rng.uniform(0.2, 5, n_features)
    if offset:
        X += rng.uniform(-10, 10, n_features)
    coef = rng.standard_normal((n_features, n_targets or 1))
    Y = X @ coef + rng.standard_normal((n, n_targets or 1)) + 3.0
    return X, (Y[:, 0] if n_targets is None else Y)


def _blocks(G, p):
    return [list(range(g * p, (g + 1) * p)) for g in range(G)]


def augmented(Z, sharing, G, p):
    blocks = [Z[:, g * p : (g + 1) * p] for g in range(G)]
    return np.hstack(
        [sharing * sum(blocks), *[(1 - sharing) * b for b in blocks], Z[:, G * p :]]
    )


# --- independent references --------------------------------------------------------


@pytest.mark.parametrize("blocks", [3, "list"])
def test_sharing_zero_is_standard_scaler_then_ridge(blocks, rng):
    X, y = _problem(rng, q=0)
    blocks = _blocks(3, 3) if blocks == "list" else blocks
    reg = MultiGranularityRegressor(sharing=0.0, alpha=2.0, blocks=blocks).fit(X, y)
    ref = make_pipeline(StandardScaler(), Ridge(alpha=2.0)).fit(X, y)
    assert_allclose(reg.predict(X), ref.predict(X), **TOL)
    assert_allclose(reg.coef_ * reg.scale_, ref[-1].coef_, **TOL)
    assert_allclose(reg.own_coef_.ravel(), ref[-1].coef_, **TOL)
    assert_allclose(reg.shared_coef_, 0.0)


def test_sharing_one_is_ridge_on_the_sum_of_standardised_blocks(rng):
    G, p, q = 3, 3, 2
    X, y = _problem(rng, G=G, p=p, q=q)
    reg = MultiGranularityRegressor(sharing=1.0, alpha=2.0, blocks=_blocks(G, p))
    reg.fit(X, y)
    Z = StandardScaler().fit_transform(X)
    summed = np.hstack(
        [sum(Z[:, g * p : (g + 1) * p] for g in range(G)), Z[:, G * p :]]
    )
    ridge = Ridge(alpha=2.0).fit(summed, y)
    assert_allclose(reg.predict(X), ridge.predict(summed), **TOL)
    assert_allclose(reg.shared_coef_, ridge.coef_[:p], **TOL)
    assert_allclose(reg.free_coef_, ridge.coef_[p:], **TOL)
    assert_allclose(reg.own_coef_, 0.0, atol=1e-12)


@pytest.mark.parametrize("sharing", [0.0, 0.25, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_any_sharing_is_ridge_on_the_explicit_augmented_design(
    sharing, fit_intercept, rng
):
    G, p, q = 3, 3, 2
    X, y = _problem(rng, G=G, p=p, q=q)
    reg = MultiGranularityRegressor(
        sharing=sharing, alpha=3.0, blocks=_blocks(G, p), fit_intercept=fit_intercept
    ).fit(X, y)
    Z = StandardScaler(with_mean=fit_intercept).fit_transform(X)
    A = augmented(Z, sharing, G, p)
    ridge = Ridge(alpha=3.0, fit_intercept=fit_intercept).fit(A, y)
    assert_allclose(reg.predict(X), ridge.predict(A), **TOL)
    assert_allclose(reg.shared_coef_, ridge.coef_[:p], **TOL)
    assert_allclose(reg.own_coef_.ravel(), ridge.coef_[p : p + G * p], **TOL)
    assert_allclose(reg.free_coef_, ridge.coef_[p + G * p :], **TOL)
    if not fit_intercept:
        assert reg.intercept_ == 0.0


def test_closed_form_minimises_the_objective(rng):
    # The objective written directly in terms of S, V_g, B and the intercept, and
    # minimised numerically: no augmented design, no Gram matrix.
    G, p, q, s, alpha = 3, 2, 1, 0.6, 5.0
    X, y = _problem(rng, n=40, G=G, p=p, q=q)
    w = rng.uniform(0.5, 2.0, len(y))
    Z = StandardScaler().fit(X, sample_weight=w).transform(X)
    Zb = Z[:, : G * p].reshape(len(y), G, p)

    def objective(params):
        S, V = params[:p], params[p : p + G * p].reshape(G, p)
        B, b0 = params[p + G * p : -1], params[-1]
        W = s * S + (1 - s) * V
        resid = y - np.einsum("ngk,gk->n", Zb, W) - Z[:, G * p :] @ B - b0
        value = w @ resid**2 + alpha * (S @ S + (V * V).sum() + B @ B)
        d = -2 * w * resid
        dW = np.einsum("n,ngk->gk", d, Zb)
        grad = np.concatenate(
            [
                s * dW.sum(axis=0) + 2 * alpha * S,
                ((1 - s) * dW + 2 * alpha * V).ravel(),
                Z[:, G * p :].T @ d + 2 * alpha * B,
                [d.sum()],
            ]
        )
        return value, grad

    n_params = p + G * p + q + 1
    result = minimize(
        objective,
        np.zeros(n_params),
        jac=True,
        method="L-BFGS-B",
        options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10_000},
    )
    reg = MultiGranularityRegressor(sharing=s, alpha=alpha, blocks=_blocks(G, p))
    reg.fit(X, y, sample_weight=w)
    theta = np.concatenate([reg.shared_coef_, reg.own_coef_.ravel(), reg.free_coef_])
    assert_allclose(theta, result.x[:-1], rtol=1e-5, atol=1e-6)
    assert objective(np.append(theta, result.x[-1]))[0] <= result.fun * (1 + 1e-10)


def test_gcv_scores_equal_the_hat_matrix_formula(rng):
    G, p, q = 2, 2, 1
    X, y = _problem(rng, n=25, G=G, p=p, q=q)
    reg = MultiGranularityRegressor(
        sharing="auto", alpha="auto", blocks=_blocks(G, p), criterion="gcv"
    )
    reg.fit(X, y)
    # both tables are kept; the criterion decides which one picks
    assert reg.log_evidence_.shape == (11, 17)
    assert reg.gcv_scores_.shape == (11, 17)
    assert_allclose(reg.sharing_candidates_, np.linspace(0, 1, 11), atol=1e-15)
    assert_allclose(reg.alpha_candidates_, 25 * np.logspace(-6, 2, 17))
    best = np.unravel_index(np.argmin(reg.gcv_scores_), reg.gcv_scores_.shape)
    assert (reg.sharing_, reg.alpha_) == (
        reg.sharing_candidates_[best[0]],
        reg.alpha_candidates_[best[1]],
    )
    Z = StandardScaler().fit_transform(X)
    n = len(y)
    for i, j in [(0, 0), (3, 8), (10, 16), best]:
        s, a = reg.sharing_candidates_[i], reg.alpha_candidates_[j]
        A = augmented(Z, s, G, p)
        # column k of the hat matrix = Ridge's fitted values for y = e_k
        H = Ridge(alpha=a).fit(A, np.eye(n)).predict(A).T
        gcv = np.mean((y - H @ y) ** 2) / (1 - np.trace(H) / n) ** 2
        assert reg.gcv_scores_[i, j] == pytest.approx(gcv, rel=1e-8)


def gaussian_log_evidence(A, y, alpha, fit_intercept):
    """Brute force: the density of y when theta ~ N(0, sigma^2 / alpha), maximised
    over sigma^2 numerically. With an intercept, that of the n - 1 contrasts Q^T y
    orthogonal to the constant (a flat prior on the intercept)."""
    if fit_intercept:
        Q = null_space(np.ones((1, len(y))))
        A, y = Q.T @ A, Q.T @ y
    shape = np.eye(len(y)) + A @ A.T / alpha

    def negative(log_var):
        return -multivariate_normal.logpdf(y, cov=np.exp(log_var) * shape)

    log_var = np.log(np.mean(y**2))
    result = minimize_scalar(negative, bounds=(log_var - 15, log_var + 5))
    return -result.fun


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_log_evidence_is_the_gaussian_marginal_likelihood(fit_intercept, rng):
    G, p, q = 2, 2, 1
    X, y = _problem(rng, n=25, G=G, p=p, q=q)
    reg = MultiGranularityRegressor(
        sharing="auto", alpha="auto", blocks=_blocks(G, p), fit_intercept=fit_intercept
    )
    reg.fit(X, y)
    assert reg.gcv_scores_.shape == (11, 17)
    assert reg.log_evidence_.shape == (11, 17)
    best = np.unravel_index(np.argmax(reg.log_evidence_), reg.log_evidence_.shape)
    assert (reg.sharing_, reg.alpha_) == (
        reg.sharing_candidates_[best[0]],
        reg.alpha_candidates_[best[1]],
    )
    Z = StandardScaler(with_mean=fit_intercept).fit_transform(X)
    for i, j in [(0, 0), (3, 8), (10, 16), best]:
        s, a = reg.sharing_candidates_[i], reg.alpha_candidates_[j]
        expected = gaussian_log_evidence(augmented(Z, s, G, p), y, a, fit_intercept)
        assert reg.log_evidence_[i, j] == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize(
    "params",
    [
        {"sharing": 0.3, "alpha": 2.0},
        {"sharing": "auto", "alpha": "auto"},
        {"sharing": "auto", "alpha": "auto", "criterion": "gcv"},
        {"sharing": 0.7, "alpha": 1.0, "fit_intercept": False},
        {"sharing": "auto", "alpha": "auto", "target_rank": 2},
    ],
)
def test_sample_weights_equal_row_repetition(params, rng):
    X, y = _problem(rng, n=30, G=2, p=2, q=1, n_targets=4)
    X[rng.uniform(size=X.shape) < 0.05] = np.nan
    w = rng.integers(0, 4, len(y))
    reg = MultiGranularityRegressor(blocks=_blocks(2, 2), **params)
    weighted = clone(reg).fit(X, y, sample_weight=w)
    repeated = clone(reg).fit(np.repeat(X, w, axis=0), np.repeat(y, w, axis=0))
    assert (weighted.sharing_, weighted.alpha_) == (repeated.sharing_, repeated.alpha_)
    assert_allclose(weighted.coef_, repeated.coef_, **TOL)
    assert_allclose(weighted.intercept_, repeated.intercept_, **TOL)
    if "auto" in params.values():
        scores = "gcv_scores_" if params.get("criterion") == "gcv" else "log_evidence_"
        assert_allclose(getattr(weighted, scores), getattr(repeated, scores), rtol=1e-8)


def test_multi_output_equals_per_target_fits(rng):
    X, Y = _problem(rng, n_targets=3)
    params = {"sharing": 0.4, "alpha": 2.0, "blocks": _blocks(3, 3)}
    reg = MultiGranularityRegressor(**params).fit(X, Y)
    assert reg.coef_.shape == (3, X.shape[1])
    assert reg.shared_coef_.shape == (3, 3)
    assert reg.own_coef_.shape == (3, 3, 3)
    assert reg.free_coef_.shape == (3, 2)
    assert reg.intercept_.shape == (3,)
    for t in range(3):
        single = MultiGranularityRegressor(**params).fit(X, Y[:, t])
        assert_allclose(reg.coef_[t], single.coef_, **TOL)
        assert_allclose(reg.intercept_[t], single.intercept_, **TOL)
        assert_allclose(reg.own_coef_[t], single.own_coef_, **TOL)
    # "auto" picks one (sharing, alpha) for all targets: by the joint likelihood of
    # independent targets (the sum of their log evidence), or the mean GCV score.
    for criterion, scores, combine in [
        ("evidence", "log_evidence_", np.sum),
        ("gcv", "gcv_scores_", np.mean),
    ]:
        auto = MultiGranularityRegressor(
            sharing="auto", alpha="auto", blocks=_blocks(3, 3), criterion=criterion
        )
        per_target = [getattr(clone(auto).fit(X, Y[:, t]), scores) for t in range(3)]
        fitted = getattr(auto.fit(X, Y), scores)
        assert_allclose(fitted, combine(per_target, axis=0), rtol=1e-10)


def test_contributions_sum_to_the_prediction(rng):
    X, Y = _problem(rng, n_targets=2)
    X[rng.uniform(size=X.shape) < 0.05] = np.nan
    reg = MultiGranularityRegressor(blocks=_blocks(3, 3)).fit(X, Y)
    contributions = reg.predict_contributions(X)
    assert contributions.shape == (len(X), 2, 4)
    assert_allclose(contributions.sum(axis=-1) + reg.intercept_, reg.predict(X), **TOL)
    reg1 = MultiGranularityRegressor(blocks=_blocks(3, 3)).fit(X, Y[:, 0])
    c1 = reg1.predict_contributions(X)
    assert c1.shape == (len(X), 4)
    assert_allclose(c1.sum(axis=1) + reg1.intercept_, reg1.predict(X), **TOL)
    # block g's term only involves block g's columns
    X2 = X.copy()
    X2[:, 3:6] += 1.0
    delta = reg1.predict_contributions(X2) - c1
    assert_allclose(delta[:, [0, 2, 3]], 0.0, atol=1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_input_unit_coefficients_match_the_standardised_ones(fit_intercept, rng):
    G, p, q = 3, 3, 2
    X, y = _problem(rng, G=G, p=p, q=q)
    reg = MultiGranularityRegressor(
        sharing=0.35, blocks=_blocks(G, p), fit_intercept=fit_intercept
    ).fit(X, y)
    s = reg.sharing_
    W = s * reg.shared_coef_ + (1 - s) * reg.own_coef_
    beta = np.concatenate([W.ravel(), reg.free_coef_])
    Z = StandardScaler(with_mean=fit_intercept).fit_transform(X)
    offset = y.mean() if fit_intercept else 0.0
    assert_allclose(Z @ beta + offset, reg.predict(X), **TOL)
    assert_allclose(X @ reg.coef_ + reg.intercept_, reg.predict(X), **TOL)


def test_nan_is_imputed_with_the_standardised_training_mean(rng):
    X, y = _problem(rng, q=0)
    X[rng.uniform(size=X.shape) < 0.1] = np.nan
    reg = MultiGranularityRegressor(sharing=0.0, alpha=2.0, blocks=3).fit(X, y)
    ref = make_pipeline(
        StandardScaler(),
        SimpleImputer(strategy="constant", fill_value=0.0),
        Ridge(alpha=2.0),
    ).fit(X, y)
    assert_allclose(reg.predict(X), ref.predict(X), **TOL)
    X_test = X[:5].copy()
    X_test[:, 0] = np.nan
    assert_allclose(reg.predict(X_test), ref.predict(X_test), **TOL)
    assert_allclose(reg.mean_, np.nanmean(X, axis=0), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_targets", [1, 2])
def test_predict_imputes_only_where_nan_is(dtype, n_targets, rng):
    # predict multiplies X as it is and redoes only the rows that hold a NaN: the
    # result must be the dense formula on the imputed X, row by row, with NaN in
    # some rows only, in every column, or nowhere.
    X, Y = _problem(rng, q=0, n_targets=None if n_targets == 1 else n_targets)
    reg = MultiGranularityRegressor(blocks=3).fit(X, Y)
    for pattern in ["none", "some rows", "all rows"]:
        X_test = X[:30].astype(dtype)
        if pattern == "some rows":
            X_test[[2, 7, 8], rng.integers(0, X.shape[1], 3)] = np.nan
        elif pattern == "all rows":
            X_test[:, 4] = np.nan
        filled = np.where(np.isnan(X_test), reg.mean_, X_test.astype(np.float64))
        expected = filled @ reg.coef_.T + reg.intercept_
        assert_allclose(reg.predict(X_test), expected, rtol=1e-6, atol=1e-6)


def test_fewer_than_two_blocks_is_standard_scaler_then_ridge(rng):
    X, y = _problem(rng)
    ref = make_pipeline(StandardScaler(), Ridge(alpha=0.7)).fit(X, y)
    for blocks in ["auto", 1, [list(range(5))]]:
        reg = MultiGranularityRegressor(sharing=0.8, alpha=0.7, blocks=blocks)
        reg.fit(X, y)
        assert (reg.n_blocks_, reg.block_names_, reg.sharing_) == (0, [], 0.0)
        assert_allclose(reg.predict(X), ref.predict(X), **TOL)
        assert_allclose(reg.free_coef_, ref[-1].coef_, **TOL)
    auto = MultiGranularityRegressor(sharing="auto").fit(X, y)
    assert auto.sharing_candidates_.tolist() == [0.0]


def test_float32_input_matches_float64(rng):
    X, y = _problem(rng)
    X32 = X.astype(np.float32)
    reg32 = MultiGranularityRegressor(blocks=_blocks(3, 3)).fit(X32, y)
    reg64 = MultiGranularityRegressor(blocks=_blocks(3, 3)).fit(
        X32.astype(np.float64), y
    )
    assert_allclose(reg32.coef_, reg64.coef_, rtol=1e-10)
    assert reg32.predict(X32).dtype == np.float64


# --- blocks from column names --------------------------------------------------------


def test_blocks_auto_from_dataframe_names(rng):
    # The 1D block is written in another order than the 1h block, a calendar column
    # sits in between, and one 1h feature has no 1D partner.
    X, y = _problem(rng, n=50, G=2, p=3, q=0)
    names = [
        "ct__OT__1h__mean__lag0",
        "ct__OT__1h__max__lag0",
        "ct__OT__1h__min__lag1",
        "ct__OT__1D__min__lag1",
        "ct__OT__1D__mean__lag0",
        "ct__OT__1D__max__lag0",
    ]
    frame = pd.DataFrame(X, columns=names)
    frame.insert(3, "hour", rng.integers(0, 24, len(y)).astype(float))
    frame["ct__OT__1h__std__lag0"] = rng.standard_normal(len(y))
    reg = MultiGranularityRegressor(sharing=0.5).fit(frame, y)
    assert reg.n_blocks_ == 2
    assert reg.block_names_ == ["1h", "1D"]
    assert [c.tolist() for c in reg.block_columns_] == [[0, 1, 2], [5, 6, 4]]
    assert reg.free_columns_.tolist() == [3, 7]
    explicit = MultiGranularityRegressor(sharing=0.5, blocks=[[0, 1, 2], [5, 6, 4]])
    explicit.fit(frame.to_numpy(), y)
    assert_allclose(reg.coef_, explicit.coef_, **TOL)
    assert reg.feature_names_in_.tolist() == frame.columns.tolist()


def test_generator_frame_is_found_by_auto_blocks():
    X, y, truth = make_multigranularity_regression(
        80, n_blocks=3, n_features_per_block=2, n_free=1, as_frame=True, random_state=0
    )
    reg = MultiGranularityRegressor().fit(X, y)
    assert (reg.n_blocks_, reg.free_columns_.tolist()) == (3, [6])


@pytest.mark.parametrize(
    ("params", "n_features", "match"),
    [
        ({"blocks": 4}, 6, r"blocks=4 must divide .* n_features=6"),
        ({"blocks": [[0, 1], [2]]}, 6, r"blocks\[0\] has 2, blocks\[1\] has 1"),
        ({"blocks": [[0, 1], [2, 7]]}, 6, r"blocks\[1\] holds column indices \[7\]"),
    ],
)
def test_block_errors(params, n_features, match, rng):
    X = rng.standard_normal((10, n_features))
    with pytest.raises(ValueError, match=match):
        MultiGranularityRegressor(**params).fit(X, X[:, 0])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"sharing": 1.5}, "'sharing' parameter"),
        ({"sharing": "shared"}, "'sharing' parameter"),
        ({"alpha": 0.0}, "'alpha' parameter"),
        ({"blocks": "granularity"}, "'blocks' parameter"),
        ({"blocks": 0}, "'blocks' parameter"),
        ({"criterion": "loo"}, "'criterion' parameter"),
        ({"target_rank": 0}, "'target_rank' parameter"),
        ({"target_rank": 1.5}, "'target_rank' parameter"),
    ],
)
def test_parameter_errors(params, match, rng):
    X = rng.standard_normal((10, 4))
    with pytest.raises(InvalidParameterError, match=match):
        MultiGranularityRegressor(**params).fit(X, X[:, 0])


@pytest.mark.parametrize(
    ("sample_weight", "match"),
    [
        (-np.ones(10), "non-negative"),
        (np.zeros(10), "at least one non-zero weight"),
        (np.ones(9), r"sample_weight.shape == \(9,\), expected \(10,\)"),
    ],
)
def test_sample_weight_errors(sample_weight, match, rng):
    X = rng.standard_normal((10, 4))
    with pytest.raises(ValueError, match=match):
        MultiGranularityRegressor().fit(X, X[:, 0], sample_weight=sample_weight)


@pytest.mark.parametrize("criterion", ["evidence", "gcv"])
def test_auto_with_too_few_samples_says_so(criterion, rng):
    X = rng.standard_normal((1, 4))
    with pytest.raises(ValueError, match=f"criterion='{criterion}'.*n_samples=1"):
        MultiGranularityRegressor(alpha="auto", criterion=criterion).fit(X, [1.0])
    # fixed values fit a single sample, as Ridge does
    reg = MultiGranularityRegressor().fit(X, [1.0])
    assert_allclose(reg.predict(X), [1.0])


# --- reduced target rank ------------------------------------------------------------


def _augmented_ridge(X, Y, sharing, alpha, G, p, fit_intercept):
    """The explicit augmented design of the blend, centred, and its ridge solution."""
    Z = StandardScaler(with_mean=fit_intercept).fit_transform(X)
    A = augmented(Z, sharing, G, p)
    y_mean = Y.mean(axis=0) if fit_intercept else np.zeros(Y.shape[1])
    A = A - A.mean(axis=0) if fit_intercept else A
    ridge = Ridge(alpha=alpha, fit_intercept=False).fit(A, Y - y_mean)
    return A, y_mean, ridge.coef_.T  # (n_aug, n_targets)


def _rank_objective(A, Yc, alpha, theta):
    return ((Yc - A @ theta) ** 2).sum() + alpha * (theta**2).sum()


@pytest.mark.parametrize("sharing", [0.0, 0.4, 1.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("rank", [1, 2, 4])
def test_target_rank_is_the_truncated_svd_of_the_augmented_fit(
    sharing, fit_intercept, rank, rng
):
    # Mukherjee & Zhu's recipe written out: ridge on the explicit augmented design,
    # SVD of its fitted values on the data stacked with sqrt(alpha) I, keep the
    # leading r right singular vectors.
    G, p, q, alpha = 3, 2, 2, 4.0
    X, Y = _problem(rng, n=50, G=G, p=p, q=q, n_targets=6)
    reg = MultiGranularityRegressor(
        sharing=sharing,
        alpha=alpha,
        blocks=_blocks(G, p),
        fit_intercept=fit_intercept,
        target_rank=rank,
    ).fit(X, Y)
    A, y_mean, theta = _augmented_ridge(X, Y, sharing, alpha, G, p, fit_intercept)
    stacked = np.vstack([A, np.sqrt(alpha) * np.eye(A.shape[1])])
    _, _, Vt = np.linalg.svd(stacked @ theta, full_matrices=False)
    projector = Vt[:rank].T @ Vt[:rank]
    assert_allclose(reg.predict(X), y_mean + A @ theta @ projector, **TOL)
    components = reg.target_components_
    assert components.shape == (rank, 6)
    assert_allclose(components @ components.T, np.eye(rank), atol=1e-10)
    assert_allclose(components.T @ components, projector, atol=1e-8)
    assert np.linalg.matrix_rank(reg.coef_, tol=1e-8) == rank
    theta_r = np.concatenate(
        [reg.shared_coef_, reg.own_coef_.reshape(6, -1), reg.free_coef_], axis=1
    ).T
    assert_allclose(theta_r, theta @ projector, **TOL)


@pytest.mark.parametrize("rank", [1, 3])
def test_target_rank_minimises_the_objective_among_low_rank_fits(rank, rng):
    # Alternating least squares on theta = U W^T, a search that knows nothing of
    # eigenvectors, reaches the same minimum, and no random rank-r projection of the
    # full fit does better.
    G, p, q, sharing, alpha = 2, 3, 1, 0.5, 2.0
    X, Y = _problem(rng, n=40, G=G, p=p, q=q, n_targets=5)
    Y = Y + 3 * rng.standard_normal(Y.shape)
    reg = MultiGranularityRegressor(
        sharing=sharing, alpha=alpha, blocks=_blocks(G, p), target_rank=rank
    ).fit(X, Y)
    A, y_mean, theta = _augmented_ridge(X, Y, sharing, alpha, G, p, True)
    Yc = Y - y_mean
    theta_r = np.concatenate(
        [reg.shared_coef_, reg.own_coef_.reshape(5, -1), reg.free_coef_], axis=1
    ).T
    ours = _rank_objective(A, Yc, alpha, theta_r)

    W = np.linalg.qr(rng.standard_normal((5, rank)))[0]
    penalised = A.T @ A + alpha * np.eye(A.shape[1])
    for _ in range(2000):
        U = np.linalg.solve(penalised, A.T @ Yc @ W)
        W, R = np.linalg.qr(np.linalg.solve(U.T @ penalised @ U, U.T @ A.T @ Yc).T)
    als = _rank_objective(A, Yc, alpha, np.linalg.solve(penalised, A.T @ Yc @ W) @ W.T)
    assert ours <= als * (1 + 1e-10)
    assert_allclose(ours, als, rtol=1e-7)
    for _ in range(20):
        Q = np.linalg.qr(rng.standard_normal((5, rank)))[0]
        assert ours <= _rank_objective(A, Yc, alpha, theta @ Q @ Q.T)
    assert ours >= _rank_objective(A, Yc, alpha, theta)


def test_lower_ranks_project_the_full_fit_on_its_leading_components(rng):
    # One fit with every component gives every lower rank: the leading r profiles do
    # not depend on r.
    X, Y = _problem(rng, n=50, n_targets=7)
    params = {"sharing": "auto", "alpha": "auto", "blocks": _blocks(3, 3)}
    full = MultiGranularityRegressor(target_rank=7, **params).fit(X, Y)
    plain = MultiGranularityRegressor(**params).fit(X, Y)
    assert_allclose(full.predict(X), plain.predict(X), **TOL)
    y_mean = Y.mean(axis=0)
    for rank in range(1, 7):
        reg = MultiGranularityRegressor(target_rank=rank, **params).fit(X, Y)
        # "auto" is chosen at full rank, whatever the rank
        assert (reg.sharing_, reg.alpha_) == (plain.sharing_, plain.alpha_)
        V = full.target_components_[:rank]
        assert_allclose(
            reg.predict(X), y_mean + (plain.predict(X) - y_mean) @ V.T @ V, **TOL
        )


def test_target_rank_with_one_target_changes_nothing(rng):
    X, y = _problem(rng)
    reg = MultiGranularityRegressor(blocks=_blocks(3, 3), target_rank=1).fit(X, y)
    ref = MultiGranularityRegressor(blocks=_blocks(3, 3)).fit(X, y)
    assert_allclose(reg.predict(X), ref.predict(X), **TOL)
    assert_allclose(np.abs(reg.target_components_), [[1.0]])


@pytest.mark.parametrize(
    "name",
    ["hidden_layer_sizes", "solver", "batch_size", "max_iter", "random_state"],
)
def test_linear_regressor_takes_no_network_parameter(name):
    # Closed form: an MLP parameter here would be silently ignored.
    assert name not in MultiGranularityRegressor().get_params()
    assert name in MultiGranularityMLPRegressor().get_params()


@pytest.mark.parametrize("name", ["criterion", "target_rank"])
def test_mlp_regressor_takes_no_closed_form_parameter(name):
    assert name not in MultiGranularityMLPRegressor().get_params()


# --- recovery of partly shared coefficients ------------------------------------------


def test_tuned_sharing_recovers_partly_shared_coefficients_better():
    # Small n, true sharing 0.7: the GCV-tuned model should beat both extremes at
    # recovering the coefficients, on average over a few draws.
    errors = {"auto": [], 0.0: [], 1.0: []}
    for seed in range(5):
        X, y, truth = make_multigranularity_regression(
            60,
            n_blocks=3,
            n_features_per_block=8,
            sharing=0.7,
            noise=2.0,
            random_state=seed,
        )
        for sharing in errors:
            reg = MultiGranularityRegressor(sharing=sharing, alpha="auto", blocks=3)
            reg.fit(X, y)
            errors[sharing].append(np.linalg.norm(reg.coef_ - truth.coef))
    mean = {k: np.mean(v) for k, v in errors.items()}
    assert mean["auto"] < mean[0.0]
    assert mean["auto"] < mean[1.0]


# --- pipeline helper -----------------------------------------------------------------

# Looked up beside the imported package: an editable install's finder would resolve a
# submodule in the developer's working tree even when testing another checkout.
HAS_TRANSFORMER = Path(sklearn_multigran.__file__).with_name("_transformer.py").exists()


@pytest.mark.skipif(
    not HAS_TRANSFORMER,
    reason="GranularityTransformer (sklearn_multigran._transformer) is not written yet",
)
def test_pipeline_routes_parameters_and_finds_the_blocks():
    from sklearn_multigran import make_multigranularity_pipeline

    pipe = make_multigranularity_pipeline(
        ("1h", "1D"),
        stats=("mean", "max"),
        n_lags=2,
        time_column="time",
        sharing="auto",
        alpha=3.0,
    )
    params = pipe.get_params()
    assert params["features__stats"] == ("mean", "max")
    assert params["features__n_lags"] == 2
    assert (params["model__sharing"], params["model__alpha"]) == ("auto", 3.0)

    rng = np.random.default_rng(0)
    n = 24 * 30
    frame = pd.DataFrame(
        {
            "time": pd.date_range("2024-01-01", periods=n, freq="h"),
            "OT": np.cumsum(rng.standard_normal(n)),
        }
    )
    y = frame["OT"].shift(-1).ffill().to_numpy()
    pipe.fit(frame, y)
    model = pipe.named_steps["model"]
    assert model.block_names_ == ["1h", "1D"]
    assert model.n_blocks_ == 2
    assert np.isfinite(pipe.predict(frame)).all()


# --- choosing on a flat criterion ----------------------------------------------------


def test_alpha_on_the_edge_of_its_grid_warns():
    # n=3 rows, 6 features: the evidence rises towards the weakest penalty, whose fit
    # interpolates the training rows; the choice sits on the grid's floor.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 6))
    y = X[:, 0] + 0.1 * rng.standard_normal(3)
    with pytest.warns(UserWarning, match=r"alpha_=3e-06, the smallest.*interpolate"):
        reg = MultiGranularityRegressor(alpha="auto", blocks=3).fit(X, y)
    assert reg.alpha_ == reg.alpha_candidates_[0] == 3e-6


@pytest.mark.parametrize("criterion", ["evidence", "gcv"])
def test_exact_ties_go_to_the_strongest_penalty_and_the_most_sharing(criterion, rng):
    # Constant features: every candidate fits the same constant, so both criteria
    # are flat over the whole grid; the simplest model must win, not the first.
    X = np.full((20, 6), 2.0)
    y = rng.standard_normal(20)
    with pytest.warns(UserWarning, match="the largest candidate"):
        reg = MultiGranularityRegressor(
            "auto", alpha="auto", blocks=3, criterion=criterion
        ).fit(X, y)
    assert reg.alpha_ == 20 * 100.0  # sum of weights x the grid's top
    assert reg.sharing_ == 1.0
    assert_allclose(reg.predict(X), np.full(20, y.mean()))


def test_no_edge_warning_inside_the_grid(rng):
    X, y = _problem(rng, n=200, q=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg = MultiGranularityRegressor(alpha="auto", blocks=3).fit(X, y)
    assert reg.alpha_candidates_[0] < reg.alpha_ < reg.alpha_candidates_[-1]


# --- fewer samples than features: the dual --------------------------------------------


def _primal(monkeypatch):
    monkeypatch.setattr(_regressor, "_use_dual", lambda n_samples, n_features: False)


def _dual_problem(rng, fit_intercept, weighted, with_nan):
    # 15 rows, 3 blocks of 8 and 2 free columns: P = 26 > n, so the fit goes through
    # the 15 x 15 kernel, not the 26 x 26 Gram matrix of the primal.
    X, Y = _problem(rng, n=15, G=3, p=8, q=2, n_targets=2)
    if with_nan:
        X[rng.uniform(size=X.shape) < 0.05] = np.nan
    w = rng.uniform(0.5, 2.0, len(X)) if weighted else np.ones(len(X))
    return X, Y, w


def _augmented_scores(X, Y, w, fit_intercept, sharing, alphas):
    """GCV and log evidence from the SVD of the augmented design, built explicitly.

    The SVD keeps every digit where the fit interpolates (an inverse of the kernel
    would not): with ``A = U S V^T`` and ``t = (U^T y)^2``, ``Q = sum t alpha / (s^2 +
    alpha)`` and ``RSS = sum t alpha^2 / (s^2 + alpha)^2``.
    """
    scaler = StandardScaler().fit(X, sample_weight=w)
    mean, scale = scaler.mean_, scaler.scale_
    filled = np.where(np.isnan(X), mean, X)
    Z = (filled - mean) / scale if fit_intercept else filled / scale
    A = augmented(Z, sharing, 3, 8)
    y = Y - np.average(Y, axis=0, weights=w) if fit_intercept else Y
    A, y = np.sqrt(w)[:, None] * A, np.sqrt(w)[:, None] * y
    N, n_eff = w.sum(), w.sum() - fit_intercept
    U, singular, _ = np.linalg.svd(A)  # n < P: U is a full basis, n values
    lam, t = singular**2, (U.T @ y) ** 2
    gcv, evidence = [], []
    for alpha in alphas:
        q = (alpha / (lam + alpha)) @ t
        rss = (alpha / (lam + alpha)) ** 2 @ t
        df = np.sum(lam / (lam + alpha)) + fit_intercept
        log_det = np.sum(np.log1p(lam / alpha))
        gcv.append(np.mean(rss / N / (1 - df / N) ** 2) if df < N else np.inf)
        evidence.append(
            np.sum(-0.5 * (n_eff * (np.log(2 * np.pi * q / n_eff) + 1) + log_det))
        )
    return np.array(gcv), np.array(evidence)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("with_nan", [False, True])
@pytest.mark.parametrize(
    "params", [dict(sharing=0.3, alpha=2.0), dict(sharing=1.0, alpha=0.05)]
)
def test_dual_fit_equals_the_primal(
    monkeypatch, fit_intercept, weighted, with_nan, params, rng
):
    X, Y, w = _dual_problem(rng, fit_intercept, weighted, with_nan)
    model = MultiGranularityRegressor(
        blocks=_blocks(3, 8), fit_intercept=fit_intercept, target_rank=1, **params
    )
    dual = clone(model).fit(X, Y, sample_weight=w)
    _primal(monkeypatch)
    primal = clone(model).fit(X, Y, sample_weight=w)
    tol = dict(rtol=1e-8, atol=1e-10)
    for name in ["coef_", "intercept_", "shared_coef_", "own_coef_", "free_coef_"]:
        assert_allclose(getattr(dual, name), getattr(primal, name), **tol)
    assert_allclose(dual.mean_, primal.mean_, rtol=1e-12)
    assert_allclose(dual.scale_, primal.scale_, rtol=1e-12)
    assert_allclose(
        np.abs(dual.target_components_), np.abs(primal.target_components_), **tol
    )


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("with_nan", [False, True])
def test_dual_scores_equal_the_augmented_ridge(
    monkeypatch, fit_intercept, weighted, with_nan, rng
):
    X, Y, w = _dual_problem(rng, fit_intercept, weighted, with_nan)
    model = MultiGranularityRegressor(
        "auto", alpha="auto", blocks=_blocks(3, 8), fit_intercept=fit_intercept
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a choice on the grid's edge
        dual = clone(model).fit(X, Y, sample_weight=w)
        _primal(monkeypatch)
        primal = clone(model).fit(X, Y, sample_weight=w)
    alphas = dual.alpha_candidates_
    for i in [0, 4, 10]:
        gcv, evidence = _augmented_scores(
            X, Y, w, fit_intercept, dual.sharing_candidates_[i], alphas
        )
        assert_allclose(dual.gcv_scores_[i], gcv, rtol=1e-8)
        assert_allclose(dual.log_evidence_[i], evidence, rtol=1e-9)
    # The primal's scores subtract from the total sum of squares and lose digits
    # where the fit (almost) interpolates, at the weak end of the grid; elsewhere
    # the two agree.
    strong = alphas >= 1e-2 * w.sum()
    assert_allclose(
        dual.log_evidence_[:, strong], primal.log_evidence_[:, strong], rtol=1e-8
    )
    assert_allclose(
        dual.gcv_scores_[:, strong], primal.gcv_scores_[:, strong], rtol=1e-8
    )


def test_dual_without_blocks_is_standard_scaler_then_ridge(rng):
    X, y = _problem(rng, n=20, G=10, p=4, q=0)
    ref = make_pipeline(StandardScaler(), Ridge(alpha=0.7)).fit(X, y)
    reg = MultiGranularityRegressor(alpha=0.7).fit(X, y)
    assert_allclose(reg.predict(X), ref.predict(X), **TOL)
    assert_allclose(reg.coef_, ref[-1].coef_ / ref[0].scale_, **TOL)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("sharing", [0.3, "auto"])
def test_dual_with_interleaved_blocks_equals_the_primal(
    monkeypatch, fit_intercept, sharing, rng
):
    # The dual keeps the design in the input's column order and reads the blocks in
    # place: shuffled columns, with the free ones among them, must give the same fit
    # as the primal, which permutes its Gram matrix to block-major order. (A fixed,
    # moderate alpha: at the grid's floor the primal's own solve is too
    # ill-conditioned to check 1e-8 against.)
    X, Y, w = _dual_problem(rng, fit_intercept, weighted=True, with_nan=True)
    perm = rng.permutation(X.shape[1])
    where = np.argsort(perm)  # input column of original column k
    blocks = [where[cols].tolist() for cols in _blocks(3, 8)]
    model = MultiGranularityRegressor(
        sharing, alpha=2.0, blocks=blocks, fit_intercept=fit_intercept
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a choice on the grid's edge
        dual = clone(model).fit(X[:, perm], Y, sample_weight=w)
        contiguous = clone(model).set_params(blocks=_blocks(3, 8))
        contiguous.fit(X, Y, sample_weight=w)
        _primal(monkeypatch)
        primal = clone(model).fit(X[:, perm], Y, sample_weight=w)
    tol = dict(rtol=1e-8, atol=1e-10)
    assert (dual.sharing_, dual.alpha_) == (primal.sharing_, primal.alpha_)
    for name in ["coef_", "intercept_", "shared_coef_", "own_coef_", "free_coef_"]:
        assert_allclose(getattr(dual, name), getattr(primal, name), **tol)
    assert_allclose(dual.coef_, contiguous.coef_[:, perm], **tol)
    if sharing == "auto":  # every sharing candidate's scores, in one batch
        assert_allclose(dual.log_evidence_, primal.log_evidence_, rtol=1e-8)
        assert_allclose(dual.gcv_scores_, primal.gcv_scores_, rtol=1e-8)
        assert_allclose(dual.log_evidence_, contiguous.log_evidence_, rtol=1e-10)
        assert_allclose(dual.gcv_scores_, contiguous.gcv_scores_, rtol=1e-10)
