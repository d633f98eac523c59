"""The command line: arguments, the run, one-line errors.

Only plumbing: reading is ``_read``, the comparison ``_run``, the text and the
plot ``_report``.
"""

import argparse
import sys
import tempfile
from pathlib import Path

from sklearn_multigran._cli._read import (
    CLIError,
    embedded_default,
    read_csv,
    validate_frame,
)
from sklearn_multigran._cli._report import format_report, plot_forecast
from sklearn_multigran._cli._run import (
    DEFAULT_HORIZON,
    DEFAULT_SPLITS,
    PROGRESS_AFTER,
    _Progress,
    run_forecast,
)
from sklearn_multigran.forecasting._forecaster import FAMILIES

PROG = "python -m sklearn_multigran"
DEFAULT_OUTPUT = "sklearn_multigran_forecast.png"


def build_parser():
    """The argument parser of ``python -m sklearn_multigran``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Forecast a time series H steps ahead with MultiGranularityForecaster "
            "(features, lookback and penalty chosen from the data), compare it on "
            "the same forecast-origin folds with repeat-last, seasonal naive and "
            "ridge on the raw window, and plot held-out forecasts with their 90% "
            "intervals. Without --csv it runs on the "
            "embedded default: eight weeks of a generated 15-minute load series "
            "with daily and weekly cycles (columns time, load, temperature)."
        ),
        epilog=(
            "Example: %(prog)s --csv ETTh1.csv --time date --target OT --horizon 24. "
            "The report goes to stdout; progress lines go to stderr once a run has "
            f"lasted {PROGRESS_AFTER:g} s."
        ),
    )
    data = parser.add_argument_group("data")
    data.add_argument("--csv", metavar="FILE", help="CSV file with a header row")
    data.add_argument(
        "--time",
        metavar="COL",
        help="column of timestamps on a regular grid (default for the embedded "
        "series: time)",
    )
    data.add_argument(
        "--target",
        metavar="COL",
        help="numeric column to forecast (default for the embedded series: load)",
    )
    data.add_argument(
        "--group",
        metavar="COL",
        help="column naming the series of each row: one model is fitted to all "
        "series, the plot shows the first",
    )
    data.add_argument(
        "--covariates",
        nargs="+",
        default=[],
        metavar="COL",
        help="further numeric columns whose windows are features (default: none, "
        "only the target's own history)",
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--horizon",
        type=int,
        default=DEFAULT_HORIZON,
        metavar="H",
        help=f"steps ahead (default {DEFAULT_HORIZON})",
    )
    model.add_argument(
        "--lookback",
        type=int,
        metavar="L",
        help="steps of raw window (default: chosen from the data, a week on "
        "sub-daily grids unless another length wins on the holdout)",
    )
    model.add_argument(
        "--families",
        nargs="+",
        choices=FAMILIES,
        metavar="FAMILY",
        help=f"feature families beside the window, among {', '.join(FAMILIES)} "
        "(default: chosen from the data)",
    )
    model.add_argument(
        "--splits",
        type=int,
        default=DEFAULT_SPLITS,
        metavar="N",
        help=f"consecutive test blocks over the last 40%% of the times (default "
        f"{DEFAULT_SPLITS}); the models fitted before the last one forecast it for "
        "the plot",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--output",
        metavar="FILE",
        help=f"where to write the plot, in the format its suffix names (.png, .pdf, "
        f".svg, ...). Default: {DEFAULT_OUTPUT} in the working "
        "directory, written only if absent (an existing one is kept, the run still "
        "succeeds); an explicit --output that exists is an error. --force "
        "overwrites either",
    )
    output.add_argument(
        "--force", action="store_true", help="overwrite an existing plot file"
    )
    output.add_argument(
        "--no-plot", action="store_true", help="print the report, write no plot"
    )
    chatter = output.add_mutually_exclusive_group()
    chatter.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help=f"print progress from the start, not after {PROGRESS_AFTER:g} s",
    )
    chatter.add_argument(
        "-q", "--quiet", action="store_true", help="never print progress"
    )
    return parser


def _fail(message):
    """Report a problem with the input as one line on stderr; exit status 2."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _plot_target(args):
    """``(path, overwrite)``, or ``(None, False)`` for no plot; checked before the
    fit, so that a long run does not end in a refusal."""
    if args.no_plot:
        return None, False
    explicit = args.output is not None
    path = Path(args.output if explicit else DEFAULT_OUTPUT)
    if path.is_dir():
        _fail(
            f"--output {path} is a directory; name a file in it, e.g. "
            f"--output {path / DEFAULT_OUTPUT}."
        )
    if not path.parent.is_dir():
        _fail(f"--output {path}: the directory {path.parent} does not exist.")
    if path.exists() and not args.force:
        if explicit:
            _fail(f"--output {path} exists; pass --force to overwrite it.")
        return None, False  # the default file is kept; main says so
    try:
        # a real write, not os.access: permissions are not the only reason (a
        # read-only file system; root passes every access check)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        _fail(
            f"--output {path}: cannot write in {path.parent} ({exc.strerror}); "
            "pass --output in a directory you can write, or --no-plot."
        )
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        message = (
            "matplotlib is not installed, so there is no plot; install it with "
            "pip install 'sklearn-multigran[plot]'"
        )
        if explicit:
            _fail(message + ".")
        print(f"note: {message}.", file=sys.stderr)
        return None, False
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = path.suffix.lower().lstrip(".")
    if suffix and suffix not in formats:
        _fail(
            f"--output {path}: matplotlib cannot write .{suffix} files; use one of "
            f"{', '.join('.' + name for name in sorted(formats))}."
        )
    return path, args.force


def main(argv=None):
    """Run the main job; ``argv`` defaults to the command line. Returns 0.

    Problems with the arguments or the data end the run with one line on stderr
    and ``SystemExit(2)``.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.horizon < 1:
        parser.error(f"--horizon must be at least 1, got {args.horizon}")
    if args.lookback is not None and args.lookback < 2:
        parser.error(f"--lookback must be at least 2, got {args.lookback}")
    if args.splits < 2:
        parser.error(f"--splits must be at least 2, got {args.splits}")
    if args.csv is not None and (args.time is None or args.target is None):
        parser.error("--csv needs --time and --target: the columns of times and values")
    path, overwrite = _plot_target(args)

    time_column = args.time or "time"
    target = args.target or "load"
    progress = _Progress(0 if args.verbose else None if args.quiet else PROGRESS_AFTER)
    try:
        if args.csv is None:
            frame = embedded_default()
            source = (
                "the embedded default (a generated 15-minute load series with daily "
                "and weekly cycles)"
            )
        else:
            columns = [("--time", time_column), ("--target", target)]
            columns += [("--group", args.group)] if args.group else []
            columns += [("--covariates", name) for name in args.covariates]
            frame = read_csv(args.csv, columns)
            source = Path(args.csv).name
        series = validate_frame(
            frame,
            time=time_column,
            target=target,
            group=args.group,
            covariates=args.covariates,
            source=source,
        )
        progress(f"read {len(series.frame)} rows of {source}")
        result = run_forecast(
            series,
            horizon=args.horizon,
            n_splits=args.splits,
            families=args.families or "auto",
            lookback=args.lookback or "auto",
            progress=progress,
        )
    except CLIError as exc:
        _fail(str(exc))
    print(format_report(result))
    if path is not None:
        plot_forecast(result, path, overwrite=overwrite)
        print(f"\nWrote the plot of the held-out forecasts to {path}.")
    elif not args.no_plot and args.output is None and Path(DEFAULT_OUTPUT).exists():
        print(
            f"\nKept the existing {DEFAULT_OUTPUT}; pass --force to overwrite it or "
            "--output to write elsewhere."
        )
    print(f"Done in {result.seconds:.1f} s.")
    return 0
