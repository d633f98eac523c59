"""Multi-granularity time-series features and models for scikit-learn.

``GranularityTransformer`` turns time-ordered rows into window statistics at several
granularities; the models learn one submodel per granularity whose coefficients blend
a shared set with their own, ``W_g = sharing * W_shared + (1 - sharing) * W_g_own``.
"""

from sklearn_multigran._calendar import CalendarFeatures
from sklearn_multigran._classifier import MultiGranularityClassifier
from sklearn_multigran._granularity import CalendarPeriod
from sklearn_multigran._mlp_classifier import MultiGranularityMLPClassifier
from sklearn_multigran._mlp_regressor import MultiGranularityMLPRegressor
from sklearn_multigran._pipeline import make_multigranularity_pipeline
from sklearn_multigran._regressor import MultiGranularityRegressor
from sklearn_multigran._transformer import GranularityTransformer
from sklearn_multigran.forecasting import (
    LastValueRelative,
    MultiGranularityForecaster,
    horizon_frame,
    make_horizon_targets,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "CalendarFeatures",
    "CalendarPeriod",
    "GranularityTransformer",
    "LastValueRelative",
    "MultiGranularityClassifier",
    "MultiGranularityForecaster",
    "MultiGranularityMLPClassifier",
    "MultiGranularityMLPRegressor",
    "MultiGranularityRegressor",
    "__version__",
    "horizon_frame",
    "make_horizon_targets",
    "make_multigranularity_pipeline",
]
