"""MultiGranularityClassifier against scikit-learn's logistic regression and MLP."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_multigran import MultiGranularityClassifier, MultiGranularityMLPClassifier

BLOCKS = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


def _data(rng, n=150, n_classes=3, labels=None):
    """Three aligned blocks of three columns and one free column."""
    common = rng.normal(size=(n, 3))
    X = np.hstack([common + 0.7 * rng.normal(size=(n, 3)) for _ in range(3)])
    X = np.hstack([X, rng.normal(size=(n, 1))])
    X = X * [1, 2, 3, 1, 2, 3, 1, 2, 3, 5] + 10  # scales and offsets to undo
    score = common[:, 0] - common[:, 1] + 0.5 * rng.normal(size=n)
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))
    if labels is not None:
        y = np.asarray(labels)[y]
    return X, y


def _fit_quiet(estimator, X, y, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y, **fit_params)


def _logistic(X, y, alpha, sample_weight=None, class_weight=None):
    """StandardScaler then LogisticRegression(C = 1 / alpha), to convergence."""
    pipe = make_pipeline(
        StandardScaler(),
        LogisticRegression(
            C=1 / alpha, tol=1e-10, max_iter=10_000, class_weight=class_weight
        ),
    )
    return pipe.fit(
        X,
        y,
        standardscaler__sample_weight=sample_weight,
        logisticregression__sample_weight=sample_weight,
    )


def _in_input_units(pipe):
    scaler, logistic = pipe[0], pipe[-1]
    coef = logistic.coef_ / scaler.scale_
    return coef, logistic.intercept_ - coef @ scaler.mean_


# --- linear: LogisticRegression ----------------------------------------------------


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("blocks", ["auto", BLOCKS])
def test_linear_matches_logistic_regression(rng, n_classes, blocks):
    # Without blocks, or with sharing = 0 (W_g = V_g, each penalised once), the linear
    # classifier is logistic regression on the standardised columns, alpha = 1 / C.
    X, y = _data(rng, n_classes=n_classes)
    w = rng.random(len(y)) + 0.5
    clf = MultiGranularityClassifier(blocks=blocks, sharing=0.0, alpha=2.0, tol=1e-10)
    clf.set_params(max_iter=10_000).fit(X, y, sample_weight=w)
    coef, intercept = _in_input_units(_logistic(X, y, 2.0, sample_weight=w))
    assert clf.coef_.shape == (1 if n_classes == 2 else n_classes, 10)
    assert_allclose(clf.coef_, coef, atol=1e-6)
    assert_allclose(clf.intercept_, intercept, atol=1e-6)
    ref = _logistic(X, y, 2.0, sample_weight=w)
    assert_allclose(clf.predict_proba(X), ref.predict_proba(X), atol=1e-7)
    assert_allclose(clf.decision_function(X), ref.decision_function(X), atol=1e-6)


def test_full_sharing_is_logistic_regression_on_the_summed_blocks(rng):
    # s = 1: W_g = S for every block, so the logits are (sum_g Z_g) S + Z_free B + b.
    X, y = _data(rng)
    clf = MultiGranularityClassifier(blocks=BLOCKS, sharing=1.0, alpha=0.5, tol=1e-10)
    clf.fit(X, y)
    Z = (X - clf.mean_) / clf.scale_
    summed = np.hstack([Z[:, 0:3] + Z[:, 3:6] + Z[:, 6:9], Z[:, 9:]])
    ref = LogisticRegression(C=2.0, tol=1e-10, max_iter=10_000).fit(summed, y)
    assert_allclose(clf.shared_coef_, ref.coef_[:, :3], atol=1e-6)
    assert_allclose(clf.free_coef_, ref.coef_[:, 3:], atol=1e-6)
    assert not clf.own_coef_.any()
    assert_allclose(clf.coef_[:, 0:3] * clf.scale_[0:3], clf.shared_coef_, atol=1e-12)


def test_class_weight_matches_logistic_regression(rng):
    # class weights multiply the sample weights in the loss, as in LogisticRegression
    X, y = _data(rng, n=100, n_classes=2)
    y[:30] = 0  # unbalanced
    w = rng.random(100) + 0.5
    clf = MultiGranularityClassifier(class_weight={0: 0.3, 1: 2.0}, tol=1e-10)
    clf.fit(X, y, sample_weight=w)
    ref = _logistic(X, y, 1.0, sample_weight=w, class_weight={0: 0.3, 1: 2.0})
    coef, intercept = _in_input_units(ref)
    assert_allclose(clf.coef_, coef, atol=1e-6)
    assert_allclose(clf.intercept_, intercept, atol=1e-6)
    balanced = MultiGranularityClassifier(class_weight="balanced", tol=1e-10).fit(X, y)
    ref = _logistic(X, y, 1.0, class_weight="balanced")
    assert_allclose(balanced.coef_, _in_input_units(ref)[0], atol=1e-6)


def test_sample_weights_equal_row_repetition(rng):
    X, y = _data(rng, n=60)
    w = rng.integers(0, 3, 60)
    weighted = MultiGranularityClassifier(blocks=BLOCKS, tol=1e-8).fit(X, y, w)
    repeated = MultiGranularityClassifier(blocks=BLOCKS, tol=1e-8).fit(
        np.repeat(X, w, axis=0), np.repeat(y, w)
    )
    assert_allclose(weighted.coef_, repeated.coef_, atol=1e-5)


def test_string_labels_and_output_shapes(rng):
    X, y = _data(rng, labels=["low", "mid", "high"])
    clf = MultiGranularityClassifier(blocks=BLOCKS).fit(X, y)
    assert_array_equal(clf.classes_, ["high", "low", "mid"])
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert_allclose(np.exp(clf.predict_log_proba(X)), proba)
    assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert clf.decision_function(X).shape == (150, 3)
    assert clf.shared_coef_.shape == (3, 3)
    assert clf.own_coef_.shape == (3, 3, 3)
    assert clf.free_coef_.shape == (3, 1)
    assert clf.score(X, y) > 0.7


def test_binary_is_one_logit(rng):
    X, y = _data(rng, n_classes=2, labels=["no", "yes"])
    for model in [MultiGranularityClassifier, MultiGranularityMLPClassifier]:
        clf = _fit_quiet(model(blocks=BLOCKS, max_iter=30), X, y)
        decision = clf.decision_function(X)
        assert decision.shape == (150,)
        assert_allclose(clf.predict_proba(X)[:, 1], 1 / (1 + np.exp(-decision)))
        assert_array_equal(clf.predict(X), np.where(decision > 0, "yes", "no"))


def test_nan_is_imputed_with_the_training_mean(rng):
    X, y = _data(rng)
    X[::5, 4] = np.nan
    for model in [MultiGranularityClassifier, MultiGranularityMLPClassifier]:
        clf = _fit_quiet(model(blocks=BLOCKS, max_iter=20), X, y)
        filled = np.where(np.isnan(X), clf.mean_, X)
        assert_allclose(clf.decision_function(X), clf.decision_function(filled))


# --- MLP: MLPClassifier -------------------------------------------------------------


@pytest.mark.parametrize("n_classes", [2, 3])
def test_one_block_mlp_is_mlpclassifier(rng, n_classes):
    # Without blocks the MLP is MLPClassifier on standardised columns: same draws,
    # same objective (ours from the logits, theirs from probabilities clipped at eps,
    # which these data never reach), same L-BFGS. A short run keeps rounding from
    # growing into a different local optimum.
    X, y = _data(rng, n_classes=n_classes)
    params = dict(hidden_layer_sizes=(6,), alpha=0.1, max_iter=30, random_state=0)
    ref = make_pipeline(StandardScaler(), MLPClassifier(solver="lbfgs", **params))
    clf = MultiGranularityMLPClassifier(**params)
    _fit_quiet(ref, X, y)
    _fit_quiet(clf, X, y)
    assert_allclose(clf.loss_, ref[-1].loss_, rtol=1e-8)
    assert_allclose(clf.predict_proba(X), ref.predict_proba(X), atol=1e-8)


def test_mlp_full_sharing_gives_identical_weights_in_every_block(rng):
    X, y = _data(rng)
    clf = _fit_quiet(
        MultiGranularityMLPClassifier(blocks=BLOCKS, sharing=1.0, max_iter=20),
        X,
        y,
    )
    for W, V in zip(clf.coefs_, clf.own_coefs_, strict=True):
        assert_array_equal(W, np.broadcast_to(W[0], W.shape))
        assert not V.any()


def test_mlp_no_sharing_has_no_shared_part(rng):
    X, y = _data(rng)
    clf = _fit_quiet(
        MultiGranularityMLPClassifier(blocks=BLOCKS, sharing=0.0, max_iter=20),
        X,
        y,
    )
    assert not any(S.any() for S in clf.shared_coefs_)
    for W, V in zip(clf.coefs_, clf.own_coefs_, strict=True):
        assert_array_equal(W, V)


def test_mlp_adam_early_stopping_on_validation_accuracy(rng):
    X, y = _data(rng, n=400)
    clf = MultiGranularityMLPClassifier(
        blocks=BLOCKS,
        solver="adam",
        early_stopping=True,
        learning_rate_init=0.01,
        n_iter_no_change=5,
        max_iter=300,
        random_state=0,
    ).fit(X, y)
    assert clf.n_iter_ < 300
    assert len(clf.validation_scores_) == clf.n_iter_
    # accuracies of a stratified 40-sample split
    assert all(round(40 * s) == 40 * s for s in np.round(clf.validation_scores_, 12))
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_same_random_state_gives_bit_identical_fits(rng):
    X, y = _data(rng)
    params = dict(blocks=BLOCKS, solver="adam", max_iter=3, random_state=7)
    a = _fit_quiet(MultiGranularityMLPClassifier(**params), X, y)
    b = _fit_quiet(MultiGranularityMLPClassifier(**params), X, y)
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))


# --- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "params", "match"),
    [
        (
            MultiGranularityClassifier,
            dict(sharing="auto"),
            r"sharing='auto' needs the closed form.*GridSearchCV",
        ),
        (
            MultiGranularityClassifier,
            dict(alpha="auto"),
            r"alpha='auto' needs the closed form.*GridSearchCV",
        ),
        (
            MultiGranularityMLPClassifier,
            dict(sharing="auto"),
            r"sharing='auto' needs the closed form.*GridSearchCV",
        ),
        (
            MultiGranularityMLPClassifier,
            dict(hidden_layer_sizes=[]),
            r"hidden_layer_sizes=\[\] must hold one or more positive integers",
        ),
    ],
)
def test_parameter_errors(model, params, match, rng):
    X, y = _data(rng, n=30)
    with pytest.raises(ValueError, match=match):
        model(**params).fit(X, y)


@pytest.mark.parametrize(
    "name",
    ["hidden_layer_sizes", "activation", "solver", "batch_size", "random_state"],
)
def test_linear_classifier_takes_no_network_parameter(name):
    # L-BFGS from zero on a convex loss: the MLP's and Adam's knobs would be ignored.
    assert name not in MultiGranularityClassifier().get_params()
    assert name in MultiGranularityMLPClassifier().get_params()


def test_one_class_is_refused(rng):
    X, _ = _data(rng, n=10)
    with pytest.raises(ValueError, match="at least two classes; got one class: 'a'"):
        MultiGranularityClassifier().fit(X, ["a"] * 10)
