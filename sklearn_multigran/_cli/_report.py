"""Rendering a :class:`ForecastResult`: the report's text and the plot."""

import math
from pathlib import Path

import numpy as np
import pandas as pd

from sklearn_multigran._granularity import duration_alias

_CRITERIA = {
    "evidence": "the evidence (marginal likelihood)",
    "gcv": "generalised cross-validation",
}


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
    series, scores = result.series, result.scores
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
            f"\n  left out: series {shown}, too short for one forecast origin "
            f"({result.window} steps of history and {result.horizon} ahead, no NaN)"
        )
    lines = [
        f"Forecast of {series.target!r} from {series.source}",
        data,
        f"  horizon {_describe_step(result.horizon, step)}, "
        f"{result.n_origins} forecast origins in {len(result.folds)} time-series "
        "folds",
        f"  features: {', '.join(result.stats)} of "
        f"{', '.join([series.target, *series.covariates])} over windows of "
        f"{', '.join(result.granularities)}",
        f"  ending at the origin, {result.n_lags} lags each "
        f"(history of {_describe_step(result.window, step)})",
        "",
        "Cross-validated error (mean over folds, origins and steps ahead)",
    ]
    labels = {
        "repeat last": "repeat last value",
        "plain ridge": f"plain ridge on the last {result.window} values",
    }
    rows = [
        (labels.get(row.model) or f"multi-granularity, sharing={row.sharing:.2f}", row)
        for row in scores.itertuples()
    ]
    width = max(len(label) for label, _ in rows) + 2
    mse = _decimals(scores["mse"].to_numpy())
    mae = _decimals(scores["mae"].to_numpy())
    lines.append(f"  {'model':<{width}}{'MSE':>12}{'MAE':>12}")
    for label, row in rows:
        mark = "  <- chosen" if row.chosen else ""
        lines.append(
            f"  {label:<{width}}{row.mse:>12.{mse}f}{row.mae:>12.{mae}f}{mark}"
        )
    contributions = result.contributions
    size = _decimals(contributions["mean_abs"].to_numpy())
    lines += [
        "",
        f"Chosen: sharing={result.sharing:.2f} (lowest mean MSE), then alpha="
        f"{result.alpha:.3g} by {_CRITERIA.get(result.criterion, result.criterion)}",
        "Contributions to the held-out forecasts (the last fold), measured from the "
        "training mean",
        f"  {'granularity':<14}{'mean |contribution|':>20}{'share':>8}",
    ]
    for row in contributions.itertuples():
        lines.append(
            f"  {row.granularity:<14}{row.mean_abs:>20.{size}f}{row.share:>8.0%}"
        )
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
    styles = {
        "multi-granularity": {"color": "tab:blue", "lw": 2.0, "ls": "-"},
        "plain ridge": {"color": "tab:orange", "lw": 1.2, "ls": "--"},
    }
    forecasts = result.plot_forecasts
    for name, style in styles.items():
        label = (
            f"multi-granularity (sharing={result.sharing:.2f})"
            if name == "multi-granularity"
            else f"plain ridge (last {result.window} values)"
        )
        for k, (_, path_) in enumerate(
            forecasts[forecasts["model"] == name].groupby("origin", sort=True)
        ):
            ax.plot(
                path_["target_time"],
                path_["value"],
                label=label if k == 0 else None,
                **style,
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
        f"origin{'s' if n_paths > 1 else ''} in the held-out fold"
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
