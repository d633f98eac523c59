"""scikit-learn's estimator checks for MultiGranularityClassifier, both submodels.

No expected failures and no tags set to skip checks. The MLP runs with a small
``max_iter`` to keep the checks fast; its L-BFGS then stops on the iteration cap, and
the ``ConvergenceWarning`` it rightly issues is the one warning let through.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_multigran import MultiGranularityClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@parametrize_with_checks(
    [
        MultiGranularityClassifier(),
        MultiGranularityClassifier(
            "mlp", hidden_layer_sizes=(8,), max_iter=50, random_state=0
        ),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
