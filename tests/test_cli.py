"""``python -m sklearn_multigran`` end to end: the report, the errors, the files."""

import contextlib
import io
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

from sklearn_multigran import __main__ as entry_point
from sklearn_multigran._cli import DEFAULT_OUTPUT, PROG, main
from tests._cli_data import SPLITS, csv_args, hourly_frame

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "data.csv"
    hourly_frame().to_csv(path, index=False)
    return path


def assert_png(path):
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_MAGIC
    height, width, channels = imread(path).shape
    assert (height, width, channels) == (450, 1000, 4)


def test_console_script_entry_point_is_main():
    # pyproject declares sklearn-multigran = "sklearn_multigran.__main__:main"
    assert entry_point.main is main


# --------------------------------------------------------------------------------------
# The default run: what the README's first command does
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """``main([])`` once, in an empty working directory: (exit code, stdout, dir)."""
    directory = tmp_path_factory.mktemp("default")
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as patch,
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        patch.chdir(directory)
        code = main([])
    return code, stdout.getvalue(), stderr.getvalue(), directory


def test_default_run_prints_the_report_and_writes_the_plot(default_run):
    code, out, err, directory = default_run
    assert code == 0
    assert "[" not in out  # progress, if any, goes to stderr
    assert out.startswith("Forecast of 'load' from the embedded default")
    assert "horizon 24 steps (6h)" in out
    table = dict(
        re.findall(
            r"^  (repeat last|MultiGranularityForecaster|ridge on the raw "
            r"window|seasonal naive \((?:day|week)\))\s+([\d.]+)",
            out,
            flags=re.M,
        )
    )
    assert len(table) == 5
    # the forecaster is far better than carrying the last value forward
    assert float(table["MultiGranularityForecaster"]) < float(table["repeat last"]) / 5
    assert "90% intervals held" in out
    shares = [int(s) for s in re.findall(r"^  \w+\s+(\d+)%$", out, flags=re.M)]
    assert shares
    assert abs(sum(shares) - 100) <= len(shares)  # rounded percentages
    assert f"Wrote the plot of the held-out forecasts to {DEFAULT_OUTPUT}." in out
    assert_png(directory / DEFAULT_OUTPUT)


# --------------------------------------------------------------------------------------
# Bad input: one line on stderr naming the column, exit status 2
# --------------------------------------------------------------------------------------


def _set(row, column, value):
    def change(frame):
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame

    return change


@pytest.mark.parametrize(
    ("change", "extra", "message"),
    [
        (
            None,
            ["--time", "date"],
            r"--time 'date' is not a column of data\.csv; its columns are when, value, "
            r"temp\.",
        ),
        (None, ["--target", "OT"], r"--target 'OT' is not a column of data\.csv"),
        (None, ["--group", "site"], r"--group 'site' is not a column"),
        (None, ["--covariates", "humidity"], r"--covariates 'humidity' is not a "),
        (
            _set(7, "when", "yesterday"),
            [],
            r"--time 'when': cannot parse 'yesterday' \(line 9\) as a time",
        ),
        (_set(0, "when", "17"), [], r"--time 'when': cannot parse '17' \(line 2\)"),
        (_set(3, "when", None), [], r"--time 'when' has an empty time at line 5"),
        (
            _set(9, "value", "n/a?"),
            [],
            r"--target 'value' is not numeric: 'n/a\?' at line 11",
        ),
        (
            _set(4, "temp", "warm"),
            ["--covariates", "temp"],
            r"--covariates 'temp' is not numeric: 'warm' at line 6",
        ),
        (
            _set(5, "when", "2024-03-01 00:00"),
            [],
            r"--time 'when' has 2024-03-01 00:00:00 twice \(lines 2 and 7\)",
        ),
        (
            _set(5, "when", "2024-03-01 05:30"),
            [],
            r"--time 'when' is not on a regular grid: 2024-03-01 05:30:00 \(line 7\)",
        ),
        (
            lambda frame: frame.iloc[:15],
            [],
            r"'value' has 15 steps, too few for --horizon 6 and --splits 3",
        ),
        (None, ["--target", "when"], r"column 'when' is given for two roles"),
    ],
)
def test_bad_input_is_one_line_naming_the_column(
    tmp_path, capsys, change, extra, message
):
    frame = hourly_frame()
    path = tmp_path / "data.csv"
    (frame if change is None else change(frame)).to_csv(path, index=False)
    with pytest.raises(SystemExit) as exit_info:
        main(csv_args(path, "--no-plot", *extra))
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert re.match(rf"{re.escape(PROG)}: error: {message}", captured.err)


def test_missing_file_and_missing_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit, match="2"):
        main(csv_args(tmp_path / "nope.csv"))
    assert "--csv" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):
        main(["--csv", str(tmp_path / "nope.csv"), "--time", "when"])
    assert "--csv needs --time and --target" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):
        main(["--families", "median"])
    assert "invalid choice: 'median'" in capsys.readouterr().err


# --------------------------------------------------------------------------------------
# Output: nothing is overwritten without --force
# --------------------------------------------------------------------------------------


def test_explicit_output_is_refused_before_the_fit_unless_forced(csv, capsys):
    output = csv.parent / "plot.png"
    output.write_bytes(b"keep me")
    with pytest.raises(SystemExit, match="2"):
        main(csv_args(csv, "--output", str(output)))
    captured = capsys.readouterr()
    assert captured.out == ""  # refused up front, not after a long fit
    assert "plot.png exists; pass --force to overwrite it" in captured.err
    assert output.read_bytes() == b"keep me"

    assert main(csv_args(csv, "--output", str(output), "--force")) == 0
    assert_png(output)


def test_default_output_is_kept_and_the_run_still_succeeds(csv, capsys, monkeypatch):
    monkeypatch.chdir(csv.parent)
    (csv.parent / DEFAULT_OUTPUT).write_bytes(b"an earlier plot")
    assert main(csv_args(csv)) == 0
    out = capsys.readouterr().out
    assert f"Kept the existing {DEFAULT_OUTPUT}; pass --force" in out
    assert (csv.parent / DEFAULT_OUTPUT).read_bytes() == b"an earlier plot"

    assert main(csv_args(csv, "--force")) == 0
    assert_png(csv.parent / DEFAULT_OUTPUT)


def test_without_matplotlib_the_report_still_prints(csv, capsys, monkeypatch):
    monkeypatch.chdir(csv.parent)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    with pytest.raises(SystemExit, match="2"):
        main(csv_args(csv, "--output", "plot.png"))
    assert "pip install 'sklearn-multigran[plot]'" in capsys.readouterr().err
    assert main(csv_args(csv)) == 0
    captured = capsys.readouterr()
    assert "matplotlib is not installed" in captured.err
    assert "Test error" in captured.out
    assert not (csv.parent / DEFAULT_OUTPUT).exists()


def test_progress_goes_to_stderr(csv, capsys):
    assert main(csv_args(csv, "--no-plot", "-v")) == 0
    captured = capsys.readouterr()
    assert re.search(
        rf"^\[\s*[\d.]+ s\] fold {SPLITS} of {SPLITS} scored",
        captured.err,
        flags=re.M,
    )
    assert "] fold" not in captured.out
    assert main(csv_args(csv, "--no-plot")) == 0  # short: silent
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------------------
# Inputs that used to end in a traceback or a silent drop
# --------------------------------------------------------------------------------------


def _fails_with(capsys, argv, message):
    """``main(argv)`` exits 2 with one line on stderr matching ``message``."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert re.match(rf"{re.escape(PROG)}: error: {message}", captured.err), captured.err


def test_series_shorter_than_the_horizon_is_one_line(tmp_path, capsys):
    path = tmp_path / "short.csv"
    hourly_frame(n_rows=10).to_csv(path, index=False)
    argv = ["--csv", str(path), "--time", "when", "--target", "value", "--no-plot"]
    _fails_with(
        capsys,
        argv,
        r"--horizon 24 is longer than the data: the longest series of short\.csv "
        r"has 10 steps.*use --horizon <= 9",
    )
    path = tmp_path / "data.csv"
    hourly_frame().to_csv(path, index=False)
    argv = ["--csv", str(path), "--time", "when", "--target", "value", "--no-plot"]
    _fails_with(capsys, [*argv, "--horizon", "5000"], r"--horizon 5000 is longer")


def test_header_only_csv_says_it_has_no_rows(tmp_path, capsys):
    path = tmp_path / "empty.csv"
    path.write_text("when,value\n")
    _fails_with(
        capsys,
        ["--csv", str(path), "--time", "when", "--target", "value"],
        r"empty\.csv has no data rows, only a header",
    )


def test_output_that_is_a_directory_is_refused_even_with_force(csv, capsys):
    _fails_with(
        capsys,
        csv_args(csv, "--output", str(csv.parent), "--force"),
        rf"--output {re.escape(str(csv.parent))} is a directory; name a file",
    )


def test_unwritable_output_directory_is_refused_before_the_run(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        target = locked
        try:
            (locked / "probe").touch()  # root writes anyway: use /sys instead
            (locked / "probe").unlink()
            target = Path("/sys")
        except PermissionError:
            pass
        if target == Path("/sys") and not target.is_dir():
            pytest.skip("no unwritable directory to try")
        path = tmp_path / "data.csv"
        hourly_frame().to_csv(path, index=False)
        _fails_with(
            capsys,
            csv_args(path, "--output", str(target / "plot.png")),
            rf"--output {re.escape(str(target))}/plot\.png: cannot write in ",
        )
    finally:
        locked.chmod(0o700)


def test_output_format_follows_its_suffix(csv, capsys):
    output = csv.parent / "plot.pdf"
    assert main(csv_args(csv, "--output", str(output))) == 0
    assert output.read_bytes()[:5] == b"%PDF-"
    output = csv.parent / "plot.svg"
    assert main(csv_args(csv, "--output", str(output))) == 0
    assert b"<svg" in output.read_bytes()[:500]
    capsys.readouterr()
    _fails_with(
        capsys,
        csv_args(csv, "--output", str(csv.parent / "plot.xyz")),
        r"--output .*plot\.xyz: matplotlib cannot write \.xyz files; use one of .*"
        r"\.pdf",
    )


def test_panel_series_too_short_for_an_origin_are_named(tmp_path, capsys):
    long = hourly_frame().assign(site="north")
    short = hourly_frame(n_rows=15, seed=1).assign(site="tiny")
    path = tmp_path / "panel.csv"
    pd.concat([long, short]).to_csv(path, index=False)
    assert main(csv_args(path, "--group", "site", "--no-plot")) == 0
    out = capsys.readouterr().out
    assert "left out: series 'tiny' (15 rows), too short to forecast from" in out
    assert "'north'" not in out.split("left out:")[1].splitlines()[0]
