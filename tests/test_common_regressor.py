"""scikit-learn's estimator checks, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_multigran import MultiGranularityRegressor

# The checks pass plain arrays (or DataFrames with names like "col_0"), so blocks="auto"
# finds no blocks there; blocks=1 takes the same path by the positional route. The
# blocked maths is covered by tests/test_regressor.py against independent references.
ESTIMATORS = [
    MultiGranularityRegressor(),
    MultiGranularityRegressor(sharing="auto", alpha="auto"),
    MultiGranularityRegressor(sharing=0.3, alpha=0.5, blocks=1, fit_intercept=False),
    MultiGranularityRegressor(alpha="auto", target_rank=1),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
