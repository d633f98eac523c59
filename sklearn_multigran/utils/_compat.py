"""The one module that imports private or version-dependent scikit-learn names."""

from sklearn.utils._param_validation import Interval, StrOptions  # noqa: F401
from sklearn.utils.validation import validate_data  # noqa: F401
