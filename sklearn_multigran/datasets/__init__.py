"""Data generators with known ground truth, and loaders that need no network."""

from sklearn_multigran.datasets._generators import make_multigranularity_regression
from sklearn_multigran.datasets._seasonal import make_seasonal_series

__all__ = ["make_multigranularity_regression", "make_seasonal_series"]
