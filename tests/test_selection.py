"""The one-standard-error gate and the reduced-rank projection, against references."""

import statistics

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from sklearn_multigran import LastValueRelative, MultiGranularityRegressor
from sklearn_multigran.forecasting import (
    block_standard_error,
    predict_at_rank,
    reduced_rank_coef,
    select_one_standard_error,
)

# --------------------------------------------------------------------------------------
# Naive twins: Python loops and the statistics module
# --------------------------------------------------------------------------------------


def naive_block_se(diff, block):
    n_blocks = len(diff) // block
    means = [sum(diff[k * block : (k + 1) * block]) / block for k in range(n_blocks)]
    return statistics.stdev(means) / n_blocks**0.5


def naive_one_se(errors, block, n_se):
    means = [sum(row) / len(row) for row in errors]
    best = min(range(len(errors)), key=lambda k: (means[k], k))
    for k in range(len(errors)):
        if k == best:
            return k
        diff = [a - b for a, b in zip(errors[k], errors[best], strict=True)]
        if sum(diff) / len(diff) <= n_se * naive_block_se(diff, block):
            return k
    raise AssertionError("unreachable")


@settings(deadline=None, max_examples=100)
@given(
    values=st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=4, max_size=60),
    block=st.integers(1, 10),
)
def test_block_standard_error_matches_statistics(values, block):
    if len(values) // block < 2:
        with pytest.raises(ValueError, match="the standard error needs at least 2"):
            block_standard_error(values, block)
        return
    assert_allclose(
        block_standard_error(values, block),
        naive_block_se(values, block),
        rtol=1e-9,
        atol=1e-9,
    )


@settings(deadline=None, max_examples=100)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_candidates=st.integers(1, 5),
    n_origins=st.integers(8, 50),
    block=st.integers(1, 4),
    n_se=st.sampled_from([0.0, 0.5, 1.0, 2.0]),
)
def test_one_standard_error_matches_a_naive_loop(
    seed, n_candidates, n_origins, block, n_se
):
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=n_origins)
    errors = (
        shared
        + rng.normal(0, 0.3, (n_candidates, n_origins))
        + rng.uniform(0, 0.2, (n_candidates, 1))
    )
    index, z = select_one_standard_error(errors, block=block, n_se=n_se)
    assert index == naive_one_se(errors.tolist(), block, n_se)
    assert z <= n_se + 1e-12
    best = int(np.argmin(errors.mean(axis=1)))
    if index != best:
        diff = errors[index] - errors[best]
        assert_allclose(z, diff.mean() / naive_block_se(list(diff), block))


def test_one_standard_error_keeps_the_simpler_of_two_near_ties():
    rng = np.random.default_rng(1)
    base = rng.normal(size=200)
    simple = base + 0.01
    # lower on average by 0.02, but half a unit up or down block by block: far
    # within one standard error (about 0.11 over 20 blocks of 10)
    swing = np.repeat(np.tile([0.5, -0.5], 10), 10)
    noisy = base - 0.01 + swing
    index, z = select_one_standard_error(np.array([simple, noisy]), block=10)
    assert index == 0
    assert_allclose(z, 0.02 / naive_block_se(list(simple - noisy), 10))
    clearly = base - 1.0  # far better
    index, z = select_one_standard_error(np.array([simple, clearly]), block=10)
    assert (index, z) == (1, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"errors": np.ones(5), "block": 1}, ValueError, r"\(n_candidates, n_origins"),
        ({"errors": np.ones((2, 5)), "block": 3}, ValueError, "block=3 leaves 1"),
        ({"errors": np.ones((2, 5)), "block": 2.0}, TypeError, "block must be an"),
        ({"errors": np.ones((2, 6)), "block": 2, "n_se": -1}, ValueError, "n_se"),
    ],
)
def test_selection_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        select_one_standard_error(**kwargs)


# --------------------------------------------------------------------------------------
# Reduced rank: one full-rank fit gives every rank's fit
# --------------------------------------------------------------------------------------


def _problem(rng, n=80, n_features=9, n_targets=6):
    X = rng.normal(size=(n, n_features))
    low = rng.normal(size=(n_features, 2)) @ rng.normal(size=(2, n_targets))
    Y = X @ low + rng.normal(0, 0.5, (n, n_targets)) + 3.0
    columns = [f"x__{g}__mean__lag{k}" for g in ("1h", "4h", "1D") for k in range(3)]
    return pd.DataFrame(X, columns=columns), Y


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_lower_ranks_equal_the_models_own_reduced_rank_fit(rng, fit_intercept):
    X, Y = _problem(rng)
    params = {"sharing": 0.5, "alpha": 3.0, "fit_intercept": fit_intercept}
    full = MultiGranularityRegressor(target_rank=6, **params).fit(X, Y)
    ranks = [1, 2, 3, 6]
    predictions = predict_at_rank(full, X, ranks)
    for rank, predicted in zip(ranks, predictions, strict=True):
        own = MultiGranularityRegressor(target_rank=rank, **params).fit(X, Y)
        coef, intercept = reduced_rank_coef(full, rank)
        assert_allclose(predicted, own.predict(X), rtol=1e-8, atol=1e-8)
        assert_allclose(X.to_numpy() @ coef.T + intercept, own.predict(X), atol=1e-8)
        assert np.linalg.matrix_rank(coef, tol=1e-8) == rank
    # the full rank leaves the model as it is
    coef, intercept = reduced_rank_coef(full, 6)
    assert_allclose(coef, full.coef_, atol=1e-10)
    assert_allclose(intercept, full.intercept_, atol=1e-10)


def test_projection_is_numpys_around_the_training_mean(rng):
    # the closed form, in numpy: the rank-r fit's predictions are the full fit's,
    # centred at the training mean of the targets, projected on the leading r
    # right singular vectors of the augmented fitted values
    X, Y = _problem(rng)
    alpha = 2.0
    full = MultiGranularityRegressor(sharing=1.0, alpha=alpha, target_rank=6)
    full.fit(X, Y)
    Xc = X.to_numpy() - X.to_numpy().mean(axis=0)
    Xc /= Xc.std(axis=0)  # the model's internal standardisation
    Yc = Y - Y.mean(axis=0)
    # sharing=1: one coefficient vector for all blocks, i.e. ridge on the block sum
    # of the standardised columns
    Z = sum(Xc[:, 3 * g : 3 * g + 3] for g in range(3))
    B = np.linalg.solve(Z.T @ Z + alpha * np.eye(3), Z.T @ Yc)
    fitted = np.vstack([Z @ B, np.sqrt(alpha) * B])  # augmented fitted values
    V = np.linalg.svd(fitted, full_matrices=False)[2]
    assert_allclose(full.predict(X), Y.mean(axis=0) + Z @ B, atol=1e-8)
    for rank in (1, 2):
        expected = Y.mean(axis=0) + Z @ B @ V[:rank].T @ V[:rank]
        assert_allclose(predict_at_rank(full, X, rank), expected, atol=1e-8)


def test_last_value_relative_is_projected_around_the_last_value(rng):
    X, Y = _problem(rng)
    model = LastValueRelative(
        MultiGranularityRegressor(alpha=1.0, target_rank=6), last_value_column=0
    ).fit(X, Y)
    last = X.iloc[:, 0].to_numpy()
    relative = X.sub(last, axis=0)
    inner = MultiGranularityRegressor(alpha=1.0, target_rank=2).fit(
        relative, Y - last[:, None]
    )
    assert_allclose(
        predict_at_rank(model, X, 2),
        inner.predict(relative) + last[:, None],
        rtol=1e-8,
        atol=1e-8,
    )


def test_projection_errors(rng):
    X, Y = _problem(rng)
    plain = MultiGranularityRegressor(alpha=1.0).fit(X, Y)
    with pytest.raises(ValueError, match="has no target_components_: fit it with"):
        predict_at_rank(plain, X, 1)
    some = MultiGranularityRegressor(alpha=1.0, target_rank=3).fit(X, Y)
    with pytest.raises(ValueError, match=r"rank=4 is outside \[1, 3\]"):
        reduced_rank_coef(some, 4)
    with pytest.raises(TypeError, match="rank must be an integer"):
        predict_at_rank(some, X, 1.5)
