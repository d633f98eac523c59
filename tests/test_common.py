"""scikit-learn's estimator checks over every public estimator, found by discovery.

Every ``BaseEstimator`` subclass exported by ``sklearn_multigran`` or one of its public
subpackages is checked, with the instances of ``INSTANCES`` (small, fast parameters);
an estimator without an entry there fails ``test_every_estimator_has_instances``, so a
new one cannot slip past the checks. Expected failures are declared with their reason;
there are two, both of the transformer, whose row order is its time axis.
"""

import importlib
import inspect
import pkgutil

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator
from sklearn.linear_model import Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

import sklearn_multigran


def _public_estimators():
    """``{name: class}`` of the estimators in the public namespaces."""
    modules = [sklearn_multigran]
    for info in pkgutil.iter_modules(sklearn_multigran.__path__):
        if info.ispkg and not info.name.startswith("_"):
            modules.append(importlib.import_module(f"sklearn_multigran.{info.name}"))
    found = {}
    for module in modules:
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseEstimator)
                and not inspect.isabstract(obj)
            ):
                found[name] = obj
    return found


ESTIMATORS = _public_estimators()
_mlp = dict(hidden_layer_sizes=(8,), max_iter=50, random_state=0)

# The checks pass plain arrays (or DataFrames with names like "col_0"), so
# blocks="auto" finds no blocks; blocks=1 takes the same path by the positional route.
# The blocked maths is covered by the estimators' own tests against independent
# references. Small max_iter keeps the MLP checks fast; L-BFGS then stops on the cap
# and rightly warns (one of the two warnings let through, below).
INSTANCES = {
    "GranularityTransformer": lambda cls: [
        cls(granularities=(2, 3)),
        cls(granularities=(1, 4), stats=("sum", "count", "last"), n_lags=2),
        cls(granularities=(3,), stats=("median", "q0.9", "slope", "skew", "ewm_std")),
    ],
    "LastValueRelative": lambda cls: [cls(Ridge())],
    "MultiGranularityRegressor": lambda cls: [
        cls(),
        cls(sharing="auto", alpha="auto"),
        cls(sharing=0.3, alpha=0.5, blocks=1, fit_intercept=False),
        cls(alpha="auto", target_rank=1),
    ],
    "MultiGranularityMLPRegressor": lambda cls: [
        cls(**_mlp),
        # Full-batch Adam: with minibatches, weights cannot equal repeated rows,
        # which check_sample_weight_equivalence_on_dense_data asks for.
        cls(
            **_mlp,
            solver="adam",
            batch_size=1000,
            learning_rate_init=0.05,
            sharing=0.2,
            fit_intercept=False,
        ),
    ],
    "MultiGranularityClassifier": lambda cls: [cls()],
    "MultiGranularityMLPClassifier": lambda cls: [cls(**_mlp)],
    # numeric times, each column its own: the checks' arrays are such times
    "CalendarFeatures": lambda cls: [cls(periods=(24, 7), n_terms=2)],
}

# Forecasters take a time-indexed series in fit and return a long frame of
# forecasts from predict: not the (X, y) -> array contract the checks test. They get
# the checks of the parameter API only, in test_forecasters_follow_the_parameter_api.
FORECASTERS = {
    "MultiGranularityForecaster",
    "NaiveForecaster",
    "WindowRidgeForecaster",
}

# Row order is the time axis: reordering rows, or transforming a subset, changes
# which past a row sees, so these two checks cannot hold for a window transformer.
EXPECTED_FAILED_CHECKS = {
    "GranularityTransformer": {
        "check_methods_sample_order_invariance": "row order is the time axis",
        "check_methods_subset_invariance": (
            "a row's windows depend on the rows before it"
        ),
    },
}


def _instances():
    return [
        estimator
        for name, cls in sorted(ESTIMATORS.items())
        if name in INSTANCES
        for estimator in INSTANCES[name](cls)
    ]


def test_every_estimator_has_instances():
    assert set(ESTIMATORS) == set(INSTANCES) | FORECASTERS


@pytest.mark.parametrize("name", sorted(FORECASTERS))
def test_forecasters_follow_the_parameter_api(name):
    from sklearn.utils.estimator_checks import (
        check_get_params_invariance,
        check_no_attributes_set_in_init,
        check_parameters_default_constructible,
        check_set_params,
    )

    estimator = ESTIMATORS[name](horizon=3)
    for check in (
        check_parameters_default_constructible,
        check_get_params_invariance,
        check_set_params,
        check_no_attributes_set_in_init,
    ):
        check(name, estimator)
    assert sklearn.base.clone(estimator).get_params() == estimator.get_params()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
# The checks' small random data often score best on an edge of the alpha grid, which
# the regressor rightly warns about (tested in test_regressor.py).
@pytest.mark.filterwarnings("ignore:alpha='auto' chose:UserWarning")
@parametrize_with_checks(
    _instances(),
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(
        type(est).__name__, {}
    ),
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "name",
    [
        "MultiGranularityRegressor",
        "MultiGranularityMLPRegressor",
        "MultiGranularityClassifier",
        "MultiGranularityMLPClassifier",
    ],
)
def test_skip_parameter_validation_is_honoured(name):
    # fit_intercept=1 is refused by the "boolean" constraint but acts as True: under
    # skip_parameter_validation=True, fit must not validate, and must fit as usual.
    cls = ESTIMATORS[name]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 6))
    y = X[:, 0] - X[:, 3] + 0.1 * rng.standard_normal(60)
    if "Classifier" in name:
        y = (y > 0).astype(int)
    params = dict(blocks=3, **(_mlp if "MLP" in name else {}))
    with pytest.raises(ValueError, match="'fit_intercept' parameter"):
        cls(fit_intercept=1, **params).fit(X, y)
    reference = cls(fit_intercept=True, **params).fit(X, y)
    with sklearn.config_context(skip_parameter_validation=True):
        unchecked = cls(fit_intercept=1, **params).fit(X, y)
        valid = cls(fit_intercept=True, **params).fit(X, y)
    for fitted in (unchecked, valid):
        assert_array_equal(fitted.predict(X), reference.predict(X))
