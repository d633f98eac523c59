"""The main job: a direct multi-horizon forecast of a CSV, end to end.

``python -m sklearn_multigran --csv FILE --time COL --target COL`` reads a series
(several, stacked, with ``--group``), puts it on a regular time grid, and compares on
the same forecast-origin folds (consecutive test blocks over the last 40% of the
times, every model refitted on the rows up to each block's first origin)

* repeat-last, and the seasonal naive forecasts a day and a week back;
* ridge on the raw window minus the last value (``WindowRidgeForecaster``,
  "ridge-NLinear");
* ``MultiGranularityForecaster``, whose features (and whether ``--covariates``
  enter) are chosen from the data on a holdout of each fit's own training origins.

The forecaster's choices, each family's share of the forecast and the 90%
intervals drawn in the plot come from its fit on the last block.

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
from sklearn_multigran._cli._run import ForecastResult, run_forecast

__all__ = [
    "DEFAULT_OUTPUT",
    "PROG",
    "CLIError",
    "ForecastResult",
    "Series",
    "build_parser",
    "embedded_default",
    "format_report",
    "main",
    "plot_forecast",
    "read_csv",
    "run_forecast",
    "validate_frame",
]
