"""The main job: a direct multi-horizon forecast of a CSV, end to end.

``python -m sklearn_multigran --csv FILE --time COL --target COL`` reads a series
(several, stacked, with ``--group``), puts it on a regular time grid, and compares by
time-series cross-validation

* repeat-last: the last observed value for every step ahead;
* plain ridge: ``StandardScaler`` + ``RidgeCV`` on the raw window of the last ``L``
  values of the target, ``L`` the reach of the multi-granularity features;
* ``MultiGranularityRegressor(alpha="auto")`` on ``GranularityTransformer`` features
  of the target (and ``--covariates``), one candidate per value of ``sharing``.

Every model is scored on the same rows and folds, so the table compares like with
like; the best ``sharing`` is the one with the lowest mean MSE over the folds, as
``GridSearchCV(scoring="neg_mean_squared_error", cv=...)`` would pick it. The
plot and the contribution shares show the last fold as forecast by the models
fitted before it; its scores also count in the choice of ``sharing``, so that view
is optimistic by one choice among five values.

The package is plumbing over the library, one stage per module: ``_read`` (the CSV
and its checks), ``_run`` (the comparison, returning a :class:`ForecastResult`),
``_report`` (the text and the plot) and ``_main`` (the arguments). The stages
return data, so tests check numbers rather than parse stdout.
"""

from sklearn_multigran._cli._main import DEFAULT_OUTPUT, PROG, build_parser, main
from sklearn_multigran._cli._read import (
    CLIError,
    Series,
    embedded_default,
    read_csv,
    validate_frame,
)
from sklearn_multigran._cli._report import format_report, plot_forecast
from sklearn_multigran._cli._run import (
    RIDGE_ALPHAS,
    SHARING_GRID,
    ForecastResult,
    default_granularities,
    parse_granularity_args,
    run_forecast,
)

__all__ = [
    "DEFAULT_OUTPUT",
    "PROG",
    "RIDGE_ALPHAS",
    "SHARING_GRID",
    "CLIError",
    "ForecastResult",
    "Series",
    "build_parser",
    "default_granularities",
    "embedded_default",
    "format_report",
    "main",
    "parse_granularity_args",
    "plot_forecast",
    "read_csv",
    "run_forecast",
    "validate_frame",
]
