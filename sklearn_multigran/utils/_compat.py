"""The one module that imports private or version-dependent scikit-learn names."""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import _check_feature_names as check_feature_names
from sklearn.utils.validation import _check_feature_names_in as check_feature_names_in
from sklearn.utils.validation import _check_n_features as check_n_features
from sklearn.utils.validation import validate_data

__all__ = [
    "_fit_context",
    "HasMethods",
    "Interval",
    "StrOptions",
    "check_feature_names",
    "check_feature_names_in",
    "check_n_features",
    "validate_data",
]
