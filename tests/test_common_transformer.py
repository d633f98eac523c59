"""scikit-learn's estimator checks on GranularityTransformer."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_multigran._transformer import GranularityTransformer

# Row order is the time axis: reordering rows, or transforming a subset, changes
# which past a row sees, so these two checks cannot hold for a window transformer.
EXPECTED_FAILED_CHECKS = {
    "check_methods_sample_order_invariance": "row order is the time axis",
    "check_methods_subset_invariance": "a row's windows depend on the rows before it",
}


@parametrize_with_checks(
    [
        GranularityTransformer(granularities=(2, 3)),
        GranularityTransformer(
            granularities=(1, 4), stats=("sum", "count", "last"), n_lags=2
        ),
    ],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
