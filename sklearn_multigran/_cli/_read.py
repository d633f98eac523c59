"""Reading the user's data: the CSV, its columns, a regular time grid.

Every problem is a :class:`CLIError` naming the option, the column, the line of the
CSV and the value, which ``main`` prints as one line. Times and grids are parsed by
``utils._time``, as the library parses them.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sklearn_multigran._granularity import duration_alias
from sklearn_multigran.utils._time import (
    fill_grid,
    most_common_step,
    parse_datetime_text,
)

# The embedded default: eight weeks of 15-minute rows, so that the first training
# fold already holds more than a week.
DEFAULT_SERIES_ROWS = 96 * 7 * 8


class CLIError(ValueError):
    """A problem with the user's input, reported as one line without a traceback."""


@dataclass
class Series:
    """A series on a regular time grid, ready to forecast.

    Attributes
    ----------
    frame : pandas.DataFrame
        Rows sorted by group (in order of first appearance), then time, one per grid
        step; steps missing from the input are rows of NaN values.
    time, target : str
        Column names.
    group : str or None
        Column naming each row's series.
    covariates : list of str
        Further numeric columns to compute features of.
    step : pandas.Timedelta
        Grid step.
    source : str
        Where the data came from, for the report.
    n_missing : int
        Rows added for grid steps absent from the input.
    """

    frame: pd.DataFrame
    time: str
    target: str
    group: str | None
    covariates: list
    step: pd.Timedelta
    source: str
    n_missing: int = 0


def embedded_default():
    """The series the main job runs on without ``--csv``.

    Eight weeks of a generated 15-minute load series with daily and weekly cycles,
    a slow trend and AR(1) noise (``make_seasonal_series(5376, random_state=0)``),
    as the frame a CSV would give: columns ``time``, ``load``, ``temperature``.
    """
    from sklearn_multigran.datasets import make_seasonal_series

    series = make_seasonal_series(DEFAULT_SERIES_ROWS, random_state=0)
    return series.rename_axis("time").reset_index()


def _line(position):
    """CSV line of a 0-based data row: the header is line 1."""
    return int(position) + 2


def _show_columns(columns):
    columns = [str(c) for c in columns]
    shown = ", ".join(columns[:20])
    return shown + (f", ... ({len(columns)} in all)" if len(columns) > 20 else "")


def read_csv(path, columns):
    """Read ``columns`` of the CSV at ``path``; a :class:`CLIError` names what fails.

    Every column is read as text, so the checks of :func:`validate_frame` see the
    values as written and can quote the first bad one.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise CLIError(f"--csv {path}: the file {what}.")
    try:
        header = pd.read_csv(path, nrows=0).columns
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise CLIError(f"--csv {path}: not a readable CSV file ({e}).") from None
    missing = [(option, name) for option, name in columns if name not in header]
    if missing:
        option, name = missing[0]
        raise CLIError(
            f"{option} {name!r} is not a column of {path.name}; its columns are "
            f"{_show_columns(header)}."
        )
    names = list(dict.fromkeys(name for _, name in columns))
    try:
        return pd.read_csv(
            path, usecols=names, dtype=str, keep_default_na=True, na_values=[""]
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CLIError(f"--csv {path}: not a readable CSV file ({exc}).") from None


def _parse_times(raw, option, name):
    """Datetimes of the text column ``raw``; the error quotes the first bad value."""
    try:
        return parse_datetime_text(raw, f"{option} {name!r}", _line)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _parse_numbers(raw, option, name):
    """Float64 values of a text column; empty cells are NaN, anything else fails."""
    values = pd.to_numeric(raw, errors="coerce").astype(np.float64)
    bad = (values.isna() & raw.notna()).to_numpy() | np.isinf(values.to_numpy())
    if bad.any():
        row = int(np.argmax(bad))
        raise CLIError(
            f"{option} {name!r} is not numeric: {raw.iloc[row]!r} at line "
            f"{_line(row)}; the column must hold numbers (empty cells are missing "
            "values)."
        )
    return values


def validate_frame(
    frame, *, time, target, group=None, covariates=(), source="the data"
):
    """Check and parse a raw frame, then put it on a regular time grid.

    Parameters
    ----------
    frame : pandas.DataFrame
        Raw rows, e.g. :func:`read_csv`'s text columns, in any order.
    time, target : str
        Column of timestamps and column to forecast.
    group : str, default=None
        Column naming the series of each row.
    covariates : sequence of str, default=()
        Further numeric columns to compute features of.
    source : str, default="the data"
        Where the frame came from, for the report and the errors.

    Returns
    -------
    series : Series

    Raises
    ------
    CLIError
        Naming the column (and the line and value) of the first problem: a missing
        column, an empty or unparseable time, a non-numeric value, a timestamp that
        appears twice in a series, times off a regular grid.
    """
    columns = [("--time", time), ("--target", target)]
    columns += [("--group", group)] if group is not None else []
    columns += [("--covariates", name) for name in covariates]
    for option, name in columns:
        if name not in frame.columns:
            raise CLIError(
                f"{option} {name!r} is not a column of {source}; its columns are "
                f"{_show_columns(frame.columns)}."
            )
    names = [name for _, name in columns]
    if len(set(names)) != len(names):
        repeated = next(name for name in names if names.count(name) > 1)
        raise CLIError(
            f"column {repeated!r} is given for two roles; --time, --target, --group "
            "and --covariates must name different columns."
        )
    if not len(frame):
        raise CLIError(
            f"{source} has no data rows, only a header; a forecast needs a series "
            "of at least a few hundred rows."
        )
    frame = frame.reset_index(drop=True)
    out = pd.DataFrame({time: _parse_times(frame[time], "--time", time)})
    if group is not None:
        empty = frame[group].isna().to_numpy()
        if empty.any():
            raise CLIError(
                f"--group {group!r} is empty at line {_line(np.argmax(empty))}; every "
                "row must name its series."
            )
        out[group] = frame[group].to_numpy()
    for option, name in columns[1:]:
        if option != "--group":
            out[name] = _parse_numbers(frame[name], option, name)

    # stable sort by (group in order of appearance, time): positions then read as
    # "steps back" within a series
    codes = pd.factorize(out[group])[0] if group is not None else np.zeros(len(out))
    order = np.lexsort((out[time].to_numpy(), codes))
    out = out.iloc[order].reset_index(drop=True)
    codes = codes[order]
    ns = out[time].to_numpy().view(np.int64)
    same = codes[1:] == codes[:-1]
    diffs = np.diff(ns)
    twice = same & (diffs == 0)
    if twice.any():
        k = int(np.argmax(twice))
        where = f" in series {out[group].iloc[k]!r}" if group is not None else ""
        raise CLIError(
            f"--time {time!r} has {out[time].iloc[k]} twice{where} (lines "
            f"{_line(order[k])} and {_line(order[k + 1])}); keep one row per time "
            "and series, e.g. by aggregating the duplicates."
        )
    steps = diffs[same]
    step = most_common_step(ns, codes)
    if step is None:
        raise CLIError(
            f"--time {time!r} has a single row per series; a forecast needs a series."
        )
    off_grid = same & (diffs % step != 0)
    if off_grid.any():
        k = int(np.argmax(off_grid)) + 1
        raise CLIError(
            f"--time {time!r} is not on a regular grid: {out[time].iloc[k]} (line "
            f"{_line(order[k])}) is not a whole number of {duration_alias(step)} "
            "steps after the time before it; resample the data to one step first."
        )
    n_missing = int((steps // step - 1).sum())
    if n_missing > len(out):
        raise CLIError(
            f"--time {time!r}: most of the grid of {duration_alias(step)} steps is "
            f"missing ({n_missing} missing rows for {len(out)} present); resample "
            "the data to its actual step first."
        )
    if n_missing:
        out = fill_grid(out, time, group, codes, step)
    return Series(
        frame=out,
        time=time,
        target=target,
        group=group,
        covariates=list(covariates),
        step=pd.Timedelta(step, "ns"),
        source=source,
        n_missing=n_missing,
    )
