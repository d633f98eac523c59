"""Direct multi-horizon forecasting with the multi-granularity features.

* :func:`make_horizon_targets` and :func:`horizon_frame`: the ``(n_rows, H)`` target
  matrix aligned with the transformer's rows, and ``predict`` output as a long
  frame;
* :class:`LastValueRelative`: a regressor on targets (and features) taken relative
  to the last observed value;
* :class:`HorizonTimeSeriesSplit`: time-series folds of forecast origins whose
  training targets never reach the test block;
* :func:`block_standard_error`, :func:`select_one_standard_error` and
  :func:`reduced_rank_coef`, :func:`predict_at_rank`: choosing among forecasters
  on validation origins, and a fitted model's forecasts at a lower target rank;
* :class:`NaiveForecaster` and :class:`WindowRidgeForecaster`: repeat-last,
  seasonal naive and ridge on the last window, forecasters taking a series or a
  panel and returning forecasts (and conformal intervals) as a long frame.
"""

from sklearn_multigran.forecasting._baselines import (
    NaiveForecaster,
    WindowRidgeForecaster,
)
from sklearn_multigran.forecasting._forecaster import MultiGranularityForecaster
from sklearn_multigran.forecasting._horizon import horizon_frame, make_horizon_targets
from sklearn_multigran.forecasting._relative import LastValueRelative
from sklearn_multigran.forecasting._selection import (
    block_standard_error,
    predict_at_rank,
    reduced_rank_coef,
    select_one_standard_error,
)
from sklearn_multigran.forecasting._split import HorizonTimeSeriesSplit

__all__ = [
    "HorizonTimeSeriesSplit",
    "LastValueRelative",
    "MultiGranularityForecaster",
    "NaiveForecaster",
    "WindowRidgeForecaster",
    "block_standard_error",
    "horizon_frame",
    "make_horizon_targets",
    "predict_at_rank",
    "reduced_rank_coef",
    "select_one_standard_error",
]
