"""Rendering a :class:`ForecastResult`: the report's text and the plot."""

import math
from pathlib import Path

import numpy as np
import pandas as pd

from sklearn_multigran._granularity import duration_alias


def _describe_step(steps, step):
    return f"{steps} steps ({duration_alias(steps * step.value)})"


def _decimals(values):
    """Decimals that show four significant digits of the smallest of ``values`` that
    is not negligible (at least a thousandth of the largest)."""
    values = np.abs(values[np.isfinite(values)])
    largest = values.max(initial=0.0)
    if largest == 0:
        return 4
    smallest = values[values >= largest * 1e-3].min()
    return int(np.clip(3 - math.floor(math.log10(smallest)), 0, 6))


def format_report(result):
    """The report printed on stdout, as one string."""
    series, scores, choices = result.series, result.scores, result.choices
    frame, step = series.frame, series.step
    times = frame[series.time]
    data = f"  {len(frame)} rows"
    if series.group:
        data += f" of {frame[series.group].nunique()} series (one model for all)"
    data += f", one every {duration_alias(step.value)}, {times.min()} to {times.max()}"
    if series.n_missing:
        data += f"; {series.n_missing} missing steps filled with NaN"
    if result.left_out:
        shown = ", ".join(f"{key!r} ({rows} rows)" for key, rows in result.left_out)
        data += (
            f"\n  left out: series {shown}, too short to forecast from "
            f"(fewer than {3 * result.horizon + 2} rows for horizon {result.horizon})"
        )
    covariates = (
        f"; covariates {', '.join(series.covariates)} offered to the forecaster"
        if series.covariates
        else ""
    )
    first = result.folds[0][0]
    lines = [
        f"Forecast of {series.target!r} from {series.source}",
        data,
        f"  horizon {_describe_step(result.horizon, step)}; {result.n_origins} test "
        f"origins in {len(result.folds)} consecutive blocks from {first}, each "
        "model refitted on the rows up to its block's first origin" + covariates,
        "",
        "Test error (mean over blocks of the mean over origins and steps ahead)",
    ]
    width = max(len(name) for name in scores["model"]) + 2
    mse = _decimals(scores["mse"].to_numpy())
    mae = _decimals(scores["mae"].to_numpy())
    lines.append(f"  {'model':<{width}}{'MSE':>12}{'MAE':>12}{'fit (s)':>10}")
    for row in scores.itertuples():
        mark = "  <- lowest" if row.best else ""
        lines.append(
            f"  {row.model:<{width}}{row.mse:>12.{mse}f}{row.mae:>12.{mae}f}"
            f"{row.fit_seconds:>10.2f}{mark}"
        )
    rank = choices["target_rank"]
    families = ", ".join(choices["families"]) or "none beyond the window"
    lines += [
        "",
        "MultiGranularityForecaster's choices (last block's fit, on a holdout of its "
        "training origins):",
        f"  window of {_describe_step(choices['lookback'], step)}; families: "
        f"{families}; alpha={choices['alpha']:.3g}; target rank "
        + ("full" if rank is None else str(rank)),
        f"  90% intervals held {result.coverage:.1%} of the last block's truths",
        "Share of the forecast by family (mean |coefficient| x spread of each column)",
    ]
    for name, share in choices["shares"].items():
        lines.append(f"  {name:<14}{share:>8.0%}")
    return "\n".join(lines)


def plot_forecast(result, path, *, overwrite=False):
    """Draw the held-out forecasts against the truth and save them.

    The format is the one the suffix of ``path`` names (PNG without a suffix).

    Uses ``matplotlib.figure.Figure`` without pyplot, so no display and no global
    backend are involved. Opens ``path`` exclusively unless ``overwrite``.
    """
    from matplotlib.figure import Figure

    series = result.series
    figure = Figure(figsize=(10, 4.5), layout="constrained")
    ax = figure.subplots()
    truth = result.plot_truth
    ax.plot(truth.index, truth.to_numpy(), color="black", lw=1.4, label="truth")
    forecasts = result.plot_forecasts
    ours = forecasts[forecasts["model"] == "MultiGranularityForecaster"]
    ridge = forecasts[forecasts["model"] == "ridge on the raw window"]
    for k, (_, part) in enumerate(ours.groupby("origin", sort=True)):
        ax.fill_between(
            part["time"],
            part["lower"],
            part["upper"],
            color="tab:blue",
            alpha=0.2,
            label="90% interval" if k == 0 else None,
        )
        ax.plot(
            part["time"],
            part["prediction"],
            color="tab:blue",
            lw=2.0,
            label="MultiGranularityForecaster" if k == 0 else None,
        )
    for k, (_, part) in enumerate(ridge.groupby("origin", sort=True)):
        ax.plot(
            part["time"],
            part["prediction"],
            color="tab:orange",
            lw=1.2,
            ls="--",
            label="ridge on the raw window" if k == 0 else None,
        )
    origins = forecasts["origin"].unique()
    at = truth.reindex(pd.DatetimeIndex(origins))
    ax.plot(
        at.index, at.to_numpy(), "o", color="tab:blue", ms=5, label="forecast origin"
    )
    where = f", series {result.plot_group!r}" if result.plot_group is not None else ""
    n_paths = len(origins)
    ax.set_title(
        f"{series.target}{where}: forecasts up to "
        f"{_describe_step(result.horizon, series.step)} ahead from {n_paths} "
        f"origin{'s' if n_paths > 1 else ''} of the last test block"
    )
    ax.set_xlabel(f"{series.time} (step {duration_alias(series.step.value)})")
    ax.set_ylabel(f"{series.target} (units of the data)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    # the format the suffix names (main checked that matplotlib writes it)
    kind = Path(path).suffix.lower().lstrip(".") or "png"
    with open(path, "wb" if overwrite else "xb") as stream:
        figure.savefig(stream, format=kind, dpi=100)
    return Path(path)
