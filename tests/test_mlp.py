"""Tests of the blended-network solvers in ``sklearn_multigran._mlp``."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from sklearn_multigran import _mlp

LOSSES = ["squared_error", "binary_log_loss", "log_loss"]
ACTIVATIONS = ["relu", "tanh", "logistic", "identity"]


def _targets(rng, loss, n, n_outputs=3):
    if loss == "squared_error":
        return rng.normal(size=(n, 2))
    if loss == "binary_log_loss":
        return (rng.random((n, 1)) > 0.5).astype(float)
    return np.eye(n_outputs)[rng.integers(0, n_outputs, n)]


def _fit(Xb, Xf, Y, sample_weight=None, **params):
    defaults = dict(
        loss="squared_error",
        hidden_layer_sizes=(8,),
        activation="relu",
        solver="lbfgs",
        sharing=0.5,
        alpha=1e-3,
        fit_intercept=True,
        max_iter=200,
        tol=1e-4,
        learning_rate_init=1e-3,
        batch_size="auto",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=0,
        verbose=0,
    )
    return _mlp.fit_network(Xb, Xf, Y, sample_weight, **{**defaults, **params})


def _blocks(rng, n=40, n_blocks=3, p=4, q=2):
    return rng.normal(size=(n_blocks, n, p)), rng.normal(size=(n, q))


# --- gradients -----------------------------------------------------------------------


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sharing", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("hidden", [(), (4,), (3, 5)])
def test_gradient_matches_finite_differences(rng, loss, activation, sharing, hidden):
    Xb, Xf = _blocks(rng, n=7, p=3)
    Y = _targets(rng, loss, 7)
    sample_weight = rng.random(7) + 0.5
    layout = _mlp.Layout(3, (3, *hidden, Y.shape[1]), 2, sharing, True)
    theta = rng.normal(scale=0.5, size=layout.size)
    grad = np.empty(layout.size)
    args = (layout, activation, loss, 0.7, Xb, Xf, Y, sample_weight)
    _mlp.loss_grad(theta, *args, grad)

    # central differences: truncation error ~ h^2, far below the tolerance
    h = 1e-6
    numeric = np.empty(layout.size)
    scratch = np.empty(layout.size)
    for i in range(layout.size):
        step = np.zeros(layout.size)
        step[i] = h
        up = _mlp.loss_grad(theta + step, *args, scratch)
        down = _mlp.loss_grad(theta - step, *args, scratch)
        numeric[i] = (up - down) / (2 * h)
    assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("loss", LOSSES)
def test_loss_matches_its_definition(rng, loss):
    # J = sum_i w_i loss_i / sum(w) + alpha / (2 sum(w)) * |weights|^2, by hand
    Xb, Xf = _blocks(rng, n=9, p=2)
    Y = _targets(rng, loss, 9)
    w = rng.random(9) + 0.1
    s, alpha = 0.25, 0.9
    layout = _mlp.Layout(3, (2, 5, Y.shape[1]), 2, s, True)
    theta = rng.normal(size=layout.size)
    value = _mlp.loss_grad(
        theta, layout, "tanh", loss, alpha, Xb, Xf, Y, w, np.empty(layout.size)
    )

    k = Y.shape[1]
    n_weights = 10 + 5 * k  # W0 (2, 5), W1 (5, k), then the hidden bias b0 (5,)
    raw = np.zeros_like(Y)
    for g in range(3):
        unit = s * layout.shared(theta) + (1 - s) * layout.own(theta)[g]
        W0, W1 = unit[:10].reshape(2, 5), unit[10:n_weights].reshape(5, k)
        raw += np.tanh(Xb[g] @ W0 + unit[n_weights:]) @ W1
    B = layout.free_coef(theta)
    raw += Xf @ B + layout.intercept(theta)
    weights = [layout.shared(theta)[:n_weights], layout.own(theta)[:, :n_weights], B]
    if loss == "squared_error":
        sample_loss = 0.5 * ((Y - raw) ** 2).sum(axis=1)
    elif loss == "binary_log_loss":
        p = 1 / (1 + np.exp(-raw[:, 0]))
        sample_loss = -(Y[:, 0] * np.log(p) + (1 - Y[:, 0]) * np.log(1 - p))
    else:
        p = np.exp(raw) / np.exp(raw).sum(axis=1, keepdims=True)
        sample_loss = -(Y * np.log(p)).sum(axis=1)
    penalty = sum((v**2).sum() for v in weights)
    expected = w @ sample_loss / w.sum() + alpha / (2 * w.sum()) * penalty
    assert_allclose(value, expected, rtol=1e-12)


# --- one block: exactly scikit-learn's MLP -------------------------------------------


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
@pytest.mark.parametrize("activation", ["relu", "logistic"])
def test_one_block_is_mlpregressor(rng, solver, activation):
    # Same objective, packing, initial draws and optimiser: the same fit, to rounding.
    X = rng.normal(size=(120, 5))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    ref = MLPRegressor(
        hidden_layer_sizes=(6,),
        activation=activation,
        solver=solver,
        alpha=1e-3,
        max_iter=15,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(X, y)
        fit = _fit(
            X[None],
            np.empty((120, 0)),
            y[:, None],
            hidden_layer_sizes=(6,),
            activation=activation,
            solver=solver,
            max_iter=15,
        )
    attributes = _mlp.network_attributes(fit)
    assert fit.n_iter == ref.n_iter_
    assert_allclose(fit.loss, ref.loss_, rtol=1e-10)
    for ours, theirs in zip(attributes["coefs_"], ref.coefs_, strict=True):
        assert_allclose(ours[0], theirs, rtol=1e-8, atol=1e-12)
    assert_allclose(attributes["intercepts_"][0][0], ref.intercepts_[0], atol=1e-12)
    assert_allclose(attributes["intercepts_"][1], ref.intercepts_[1], atol=1e-12)


def test_one_block_is_mlpclassifier(rng):
    # MLPClassifier clips probabilities at eps where we use the logits: the same up
    # to that clipping, which these well-behaved data never reach.
    X = rng.normal(size=(100, 4))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    ref = MLPClassifier(
        hidden_layer_sizes=(5,), solver="lbfgs", alpha=1e-2, max_iter=20
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.set_params(random_state=0).fit(X, y)
        fit = _fit(
            X[None],
            np.empty((100, 0)),
            y[:, None].astype(float),
            loss="binary_log_loss",
            hidden_layer_sizes=(5,),
            alpha=1e-2,
            max_iter=20,
        )
    assert_allclose(fit.loss, ref.loss_, rtol=1e-9)
    coefs = _mlp.network_attributes(fit)["coefs_"]
    assert_allclose(coefs[0][0], ref.coefs_[0], rtol=1e-7, atol=1e-10)


# --- no hidden layer: Ridge and LogisticRegression -----------------------------------


def test_linear_squared_error_is_ridge(rng):
    # 0.5 mean squared error + alpha / (2n) |w|^2 is Ridge's objective divided by 2n.
    X = rng.normal(size=(50, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0] + rng.normal(size=50)
    w = rng.random(50) + 0.5
    fit = _fit(
        np.empty((0, 50, 0)),
        X,
        y[:, None],
        w,
        hidden_layer_sizes=(),
        alpha=3.0,
        tol=1e-12,
    )
    ridge = Ridge(alpha=3.0).fit(X, y, sample_weight=w)
    attributes = _mlp.network_attributes(fit)
    assert_allclose(attributes["free_coef_"][0], ridge.coef_, atol=1e-7)
    assert_allclose(attributes["intercepts_"][-1][0], ridge.intercept_, atol=1e-7)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_linear_log_loss_is_logistic_regression(rng, n_classes):
    # alpha = 1 / C, and LogisticRegression's L-BFGS settings for the convex case.
    X = rng.normal(size=(80, 3))
    y = rng.integers(0, n_classes, 80)
    X[:, 0] += y
    w = rng.random(80) + 0.5
    if n_classes == 2:
        loss, Y = "binary_log_loss", y[:, None].astype(float)
    else:
        loss, Y = "log_loss", np.eye(n_classes)[y]
    fit = _fit(
        np.empty((0, 80, 0)),
        X,
        Y,
        w,
        loss=loss,
        hidden_layer_sizes=(),
        alpha=2.0,
        tol=1e-10,
        max_iter=1000,
    )
    ref = LogisticRegression(C=0.5, tol=1e-10, max_iter=1000).fit(X, y, w)
    attributes = _mlp.network_attributes(fit)
    assert_allclose(attributes["free_coef_"], ref.coef_, atol=1e-6)
    assert_allclose(attributes["intercepts_"][-1], ref.intercept_, atol=1e-6)


# --- sharing -------------------------------------------------------------------------


def _single_network(coefs, intercepts, g):
    """Block g's blended network as a one-block weight list."""
    return [W[g : g + 1] for W in coefs], [c[g : g + 1, None] for c in intercepts]


def test_full_sharing_is_one_network(rng):
    Xb, Xf = _blocks(rng)
    y = np.tanh(Xb[:, :, 0]).sum(axis=0, keepdims=True).T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = _fit(Xb, Xf, y, sharing=1.0, max_iter=30)
    attributes = _mlp.network_attributes(fit)
    for W, S, V in zip(
        attributes["coefs_"],
        attributes["shared_coefs_"],
        attributes["own_coefs_"],
        strict=True,
    ):
        assert_array_equal(W, np.broadcast_to(S, W.shape))  # identical in every block
        assert not V.any()
    for c, S in zip(
        attributes["intercepts_"][:-1], attributes["shared_intercepts_"], strict=True
    ):
        assert_array_equal(c, np.broadcast_to(S, c.shape))
    # one network f applied to every block and summed
    shared = [S[None] for S in attributes["shared_coefs_"]]
    hidden = [c[None, None] for c in attributes["shared_intercepts_"]]
    per_block = [
        _mlp.block_outputs(shared, hidden, "relu", Xb[g : g + 1]) for g in range(3)
    ]
    raw = _mlp.predict_raw(fit.theta, fit.layout, "relu", Xb, Xf)
    expected = sum(per_block)[0] + Xf @ attributes["free_coef_"].T
    assert_allclose(raw, expected + attributes["intercepts_"][-1], rtol=1e-12)


def test_no_sharing_is_independent_networks(rng):
    Xb, Xf = _blocks(rng)
    y = np.tanh(Xb[:, :, 0]).sum(axis=0, keepdims=True).T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = _fit(Xb, Xf, y, sharing=0.0, max_iter=30)
    attributes = _mlp.network_attributes(fit)
    assert not any(S.any() for S in attributes["shared_coefs_"])
    assert not any(S.any() for S in attributes["shared_intercepts_"])
    for W, V in zip(attributes["coefs_"], attributes["own_coefs_"], strict=True):
        assert_array_equal(W, V)
    # the sum of G separate networks, each seeing only its block
    total = Xf @ attributes["free_coef_"].T + attributes["intercepts_"][-1]
    for g in range(3):
        coefs, hidden = _single_network(
            attributes["coefs_"], attributes["intercepts_"][:-1], g
        )
        total = total + _mlp.block_outputs(coefs, hidden, "relu", Xb[g : g + 1])[0]
    assert_allclose(_mlp.predict_raw(fit.theta, fit.layout, "relu", Xb, Xf), total)


@pytest.mark.parametrize("sharing", [0.2, 0.5, 0.8])
def test_optimum_balances_shared_and_own(rng, sharing):
    # Stationarity in S and V_g: alpha S = -s sum_g dL/dW_g and
    # alpha V_g = -(1 - s) dL/dW_g, hence S = s / (1 - s) * sum_g V_g at the optimum,
    # for every weight. Shown on the convex (linear) case, which L-BFGS solves to tol;
    # the MLP's gradient obeys the same chain rule (test_gradient_*).
    Xb, Xf = _blocks(rng, n=30, p=2)
    y = np.tanh(Xb[:, :, 0]).sum(axis=0, keepdims=True).T + 0.1 * Xf[:, :1]
    fit = _fit(
        Xb,
        Xf,
        y,
        sharing=sharing,
        hidden_layer_sizes=(),
        alpha=1.0,
        tol=1e-12,
        max_iter=5000,
    )
    attributes = _mlp.network_attributes(fit)
    for S, V in zip(attributes["shared_coefs_"], attributes["own_coefs_"], strict=True):
        assert_allclose(
            S, sharing / (1 - sharing) * V.sum(axis=0), rtol=1e-6, atol=1e-9
        )


# --- drivers -------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_same_random_state_is_bit_identical(rng, solver):
    Xb, Xf = _blocks(rng)
    y = rng.normal(size=(40, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = _fit(Xb, Xf, y, solver=solver, max_iter=5, random_state=3)
        b = _fit(Xb, Xf, y, solver=solver, max_iter=5, random_state=3)
        c = _fit(Xb, Xf, y, solver=solver, max_iter=5, random_state=4)
    assert_array_equal(a.theta, b.theta)
    assert a.loss_curve == b.loss_curve
    assert not np.array_equal(a.theta, c.theta)


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_convergence_warning_at_max_iter(rng, solver):
    Xb, Xf = _blocks(rng)
    y = rng.normal(size=(40, 1))
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        fit = _fit(Xb, Xf, y, solver=solver, max_iter=3)
    assert fit.n_iter == 3
    assert len(fit.loss_curve) == 3
    assert fit.best_loss == min(fit.loss_curve)
    assert fit.loss_curve[-1] == fit.loss  # the curve ends at the returned iterate


def test_adam_stops_on_flat_loss(rng):
    Xb, Xf = _blocks(rng)
    y = rng.normal(size=(40, 1))
    fit = _fit(Xb, Xf, y, solver="adam", tol=10.0, n_iter_no_change=2, max_iter=50)
    # the first epoch sets best_loss; as in MLPRegressor, stopping takes *more* than
    # n_iter_no_change epochs without improvement
    assert fit.n_iter == 4


def test_early_stopping_keeps_best_validation_score(rng):
    Xb, Xf = _blocks(rng, n=200)
    y = Xb[:, :, 0].sum(axis=0)[:, None] + 0.1 * rng.normal(size=(200, 1))
    fit = _fit(
        Xb,
        Xf,
        y,
        solver="adam",
        early_stopping=True,
        n_iter_no_change=3,
        learning_rate_init=0.05,
        max_iter=200,
        batch_size=32,
    )
    assert fit.n_iter < 200
    assert len(fit.validation_scores) == fit.n_iter
    assert fit.best_validation_score == max(fit.validation_scores)
    assert fit.best_validation_score > 0.9


def test_early_stopping_needs_two_validation_samples(rng):
    Xb, Xf = _blocks(rng, n=10)
    with pytest.raises(ValueError, match="validation_fraction"):
        _fit(Xb, Xf, rng.normal(size=(10, 1)), solver="adam", early_stopping=True)


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_verbose_prints_one_line_per_iteration(rng, solver, capsys):
    Xb, Xf = _blocks(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = _fit(
            Xb, Xf, rng.normal(size=(40, 1)), solver=solver, max_iter=4, verbose=1
        )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert lines[-1] == f"Iteration 4, loss = {fit.loss_curve[-1]:.8f}"


# --- data ----------------------------------------------------------------------------


def test_standardization_is_standard_scaler(rng):
    X = rng.normal(loc=1e6, size=(30, 3))
    w = rng.random(30)
    X[[1, 5], 0] = np.nan
    X[:, 2] = 7.0  # constant: scale 1
    mean, scale = _mlp.standardization(X, w)
    ref = StandardScaler().fit(X, sample_weight=w)
    assert_allclose(mean, ref.mean_, rtol=1e-12)
    assert_allclose(scale, ref.scale_, rtol=1e-9)


def test_network_inputs_layouts(rng):
    X = rng.normal(size=(5, 5))
    X[0, 1] = np.nan
    mean, scale = X[1:].mean(axis=0), np.full(5, 2.0)
    Xb, Xf = _mlp.network_inputs(
        X,
        [np.array([0, 1]), np.array([2, 3])],
        np.array([4]),
        mean,
        mean,
        scale,
        one_block=True,
    )
    assert Xb.shape == (2, 5, 2)
    assert Xf.shape == (5, 1)
    assert Xb[0, 0, 1] == 0.0  # NaN imputed with the mean
    assert_allclose(Xb[1], (X[:, 2:4] - mean[2:4]) / 2)
    Xb, Xf = _mlp.network_inputs(X, [], np.arange(5), mean, mean, scale, one_block=True)
    assert Xb.shape == (1, 5, 5)
    assert Xf.shape == (5, 0)
    Xb, Xf = _mlp.network_inputs(
        X, [], np.arange(5), mean, mean, scale, one_block=False
    )
    assert Xb.shape == (0, 5, 0)
    assert Xf.shape == (5, 5)
