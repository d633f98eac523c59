"""MultiGranularityMLPRegressor: the blended networks behind the estimator.

The solver's maths is tested in tests/test_mlp.py; here, the estimator's handling of
blocks, scaling, shapes and parameters, and its equivalences with scikit-learn.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_multigran import MultiGranularityMLPRegressor
from sklearn_multigran.datasets import make_multigranularity_regression


def _mlp(**params):
    defaults = dict(hidden_layer_sizes=(8,), max_iter=50, random_state=0)
    return MultiGranularityMLPRegressor(**{**defaults, **params})


def _data(rng, n=120, n_blocks=3, p=3, n_free=1):
    X, y, _ = make_multigranularity_regression(
        n,
        n_blocks=n_blocks,
        n_features_per_block=p,
        n_free=n_free,
        noise=0.1,
        random_state=int(rng.integers(1 << 31)),
    )
    return X, y


def _fit_quiet(estimator, X, y, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y, **fit_params)


def test_one_block_reaches_mlpregressor_test_score():
    X, y = make_friedman1(600, noise=0.5, random_state=0)
    train, test = slice(0, 400), slice(400, None)
    ref = make_pipeline(
        StandardScaler(),
        MLPRegressor(
            hidden_layer_sizes=(16,),
            alpha=1.0,
            solver="lbfgs",
            max_iter=100,
            random_state=0,
        ),
    )
    ours = _mlp(hidden_layer_sizes=(16,), alpha=1.0, max_iter=100)
    _fit_quiet(ref, X[train], y[train])
    _fit_quiet(ours, X[train], y[train])
    ref_score = ref.score(X[test], y[test])
    assert ref_score > 0.8
    assert ours.score(X[test], y[test]) >= ref_score - 1e-6
    # Not only the score: with one block it is the same network, to rounding. (Over
    # a few hundred L-BFGS iterations, rounding differences in the scaling grow
    # into different local optima of equal quality, hence the short run.)
    assert_allclose(ours.predict(X[test]), ref.predict(X[test]), rtol=1e-6, atol=1e-6)


def test_full_sharing_gives_identical_weights_in_every_block(rng):
    X, y = _data(rng)
    reg = _fit_quiet(_mlp(sharing=1.0, blocks=[[0, 1, 2], [3, 4, 5], [6, 7, 8]]), X, y)
    assert reg.n_blocks_ == 3
    for W, S, V in zip(reg.coefs_, reg.shared_coefs_, reg.own_coefs_, strict=True):
        assert_array_equal(W, np.broadcast_to(S, W.shape))
        assert not V.any()
    for c in reg.intercepts_[:-1]:
        assert_array_equal(c, np.broadcast_to(c[0], c.shape))


def test_no_sharing_gives_independent_block_networks(rng):
    # s = 0: each block's contribution is its own network of its own columns only,
    # so changing one block's inputs moves that block's contribution alone.
    X, y = _data(rng)
    reg = _fit_quiet(_mlp(sharing=0.0, blocks=3, max_iter=20), X[:, :9], y)
    assert not any(S.any() for S in reg.shared_coefs_)
    before = reg.predict_contributions(X[:10, :9])
    changed = X[:10, :9].copy()
    changed[:, 3:6] += 1.0
    after = reg.predict_contributions(changed)
    assert_array_equal(after[:, [0, 2, 3]], before[:, [0, 2, 3]])
    assert not np.allclose(after[:, 1], before[:, 1])


def test_contributions_sum_to_the_prediction(rng):
    X, y = _data(rng)
    for blocks, n_columns in [([[0, 1, 2], [3, 4, 5], [6, 7, 8]], 4), ("auto", 1)]:
        reg = _fit_quiet(_mlp(blocks=blocks, max_iter=10), X, y)
        contributions = reg.predict_contributions(X[:7])
        assert contributions.shape == (7, n_columns)
        assert_allclose(contributions.sum(axis=1) + reg.intercept_, reg.predict(X[:7]))


def test_multi_output_shapes(rng):
    X, y = _data(rng)
    Y = np.c_[y, -y]
    reg = _fit_quiet(_mlp(blocks=[[0, 1, 2], [3, 4, 5], [6, 7, 8]], max_iter=10), X, Y)
    assert reg.predict(X[:4]).shape == (4, 2)
    assert reg.predict_contributions(X[:4]).shape == (4, 2, 4)
    assert reg.coefs_[-1].shape == (3, 8, 2)
    assert reg.free_coef_.shape == (2, 1)


def test_nan_is_imputed_with_the_training_mean(rng):
    X, y = _data(rng)
    X[::7, 2] = np.nan
    reg = _fit_quiet(_mlp(blocks=[[0, 1, 2], [3, 4, 5], [6, 7, 8]], max_iter=10), X, y)
    filled = np.where(np.isnan(X), reg.mean_, X)
    assert_array_equal(reg.predict(X), reg.predict(filled))


def test_sample_weights_equal_row_repetition(rng):
    X, y = _data(rng, n=40)
    w = rng.integers(0, 3, 40)
    params = dict(blocks=[[0, 1, 2], [3, 4, 5], [6, 7, 8]], max_iter=20)
    weighted = _fit_quiet(_mlp(**params), X, y, sample_weight=w)
    repeated = _fit_quiet(_mlp(**params), np.repeat(X, w, axis=0), np.repeat(y, w))
    assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_same_random_state_gives_bit_identical_fits(rng, solver):
    X, y = _data(rng)
    a = _fit_quiet(_mlp(solver=solver, max_iter=5), X, y)
    b = _fit_quiet(_mlp(solver=solver, max_iter=5), X, y)
    assert_array_equal(a.predict(X), b.predict(X))
    assert a.loss_curve_ == b.loss_curve_


def test_convergence_warning_and_verbose(rng, capsys):
    X, y = _data(rng)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        reg = _mlp(solver="adam", max_iter=3, verbose=1).fit(X, y)
    assert reg.n_iter_ == 3
    assert capsys.readouterr().out.count("loss = ") == 3


def test_early_stopping_records_validation_scores(rng):
    X, y = _data(rng, n=300)
    reg = _mlp(
        solver="adam", early_stopping=True, learning_rate_init=0.01, max_iter=500
    ).fit(X, y)
    assert reg.n_iter_ < 500
    assert len(reg.validation_scores_) == reg.n_iter_
    assert reg.best_validation_score_ == max(reg.validation_scores_)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (dict(sharing="auto"), r"sharing='auto' needs the closed form.*GridSearchCV"),
        (dict(alpha="auto"), r"alpha='auto' needs the closed form.*GridSearchCV"),
        (dict(hidden_layer_sizes=()), r"hidden_layer_sizes=\(\) must hold"),
        (dict(hidden_layer_sizes=(4, 0)), r"hidden_layer_sizes=\(4, 0\) must hold"),
    ],
)
def test_parameter_errors(params, match, rng):
    X, y = _data(rng, n=20)
    with pytest.raises(ValueError, match=match):
        _mlp(**params).fit(X, y)
