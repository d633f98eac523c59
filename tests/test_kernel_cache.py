"""The kernels' disk cache, in fresh processes: on by default, never in the way.

Every case copies the package into a temporary directory and runs it in a child
interpreter with its own environment, so no cache of the test run is shared.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sklearn_multigran
from tests._reference import naive_window_statistics

PACKAGE = Path(sklearn_multigran.__file__).resolve().parent

# A child: transform a fixed series with the statistics of two summary families,
# print where the kernels came from and the output.
CHILD = r"""
import json, sys
import numpy as np
import sklearn_multigran
from sklearn_multigran._config import CACHE_DIR
from sklearn_multigran._kernels._cache import CACHE
from sklearn_multigran._kernels._dispatch import window_statistics

rng = np.random.default_rng(0)
values = rng.normal(size=(300, 1)) * 10 + 100
values[rng.random(300) < 0.1] = np.nan
out = window_statistics(
    values, np.arange(300), np.array([0, 300]), [("rows", 7), ("rows", 30)],
    n_lags=2, closed="right", stats=["mean", "std", "min", "last"], min_periods=1,
    ddof=1, fill_value=np.nan, out_rows=None, n_out=300,
)
print(json.dumps({
    "file": sklearn_multigran.__file__, "cache": CACHE, "cache_dir": CACHE_DIR,
    "out": out.tolist(),
}))
"""


def _expected():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(300, 1)) * 10 + 100
    values[rng.random(300) < 0.1] = np.nan
    return naive_window_statistics(
        values,
        np.arange(300),
        np.array([0, 300]),
        [("rows", 7), ("rows", 30)],
        n_lags=2,
        closed="right",
        stats=["mean", "std", "min", "last"],
        min_periods=1,
        ddof=1,
        fill_value=np.nan,
        out_rows=np.arange(300),
        n_out=300,
    )


def _install(tmp_path, name="site"):
    """A copy of the package under ``tmp_path / name``, without compiled files."""
    site = tmp_path / name
    shutil.copytree(
        PACKAGE,
        site / "sklearn_multigran",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return site


def _env(site, **overrides):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NUMBA_", "SKLEARN_MULTIGRAN_", "XDG_"))
    }
    env["PYTHONPATH"] = str(site)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


def _start(site, **env):
    return subprocess.Popen(
        [sys.executable, "-c", CHILD],
        env=_env(site, **env),
        cwd=site,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(process, site):
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    result = json.loads(stdout.strip().splitlines()[-1])
    # the copy ran, not the installed package
    assert Path(result["file"]).resolve().is_relative_to(site.resolve())
    result["out"] = np.array(result["out"], dtype=float)
    return result


def _run(site, **env):
    return _result(_start(site, **env), site)


def _cache_files(directory):
    return sorted(p for p in Path(directory).rglob("*") if p.suffix in (".nbi", ".nbc"))


def test_cache_on_by_default_under_xdg_cache_home(tmp_path):
    site = _install(tmp_path)
    first = _run(site, XDG_CACHE_HOME=tmp_path / "xdg", HOME=tmp_path / "home")
    assert first["cache"]
    assert Path(first["cache_dir"]).is_relative_to(tmp_path / "xdg")
    written = _cache_files(tmp_path / "xdg")
    assert written
    np.testing.assert_allclose(first["out"], _expected(), rtol=1e-12)
    # a second process loads them: same bytes out, no new file
    second = _run(site, XDG_CACHE_HOME=tmp_path / "xdg", HOME=tmp_path / "home")
    np.testing.assert_array_equal(second["out"], first["out"])
    assert _cache_files(tmp_path / "xdg") == written
    # nothing was written next to the sources
    assert not list((site / "sklearn_multigran").rglob("*.nb[ic]"))


@pytest.mark.slow
def test_cache_follows_numba_cache_dir_then_home(tmp_path):
    site = _install(tmp_path)
    numba_dir = tmp_path / "numba"
    result = _run(site, NUMBA_CACHE_DIR=numba_dir, XDG_CACHE_HOME=tmp_path / "xdg")
    assert Path(result["cache_dir"]).is_relative_to(numba_dir / "sklearn-multigran")
    assert _cache_files(numba_dir)
    assert not (tmp_path / "xdg").exists()
    home = tmp_path / "home"
    result = _run(site, HOME=home)
    assert Path(result["cache_dir"]).is_relative_to(home / ".cache")


def test_cache_off(tmp_path):
    site = _install(tmp_path)
    result = _run(site, SKLEARN_MULTIGRAN_CACHE=0, XDG_CACHE_HOME=tmp_path / "xdg")
    assert not result["cache"]
    assert result["cache_dir"] is None
    assert not (tmp_path / "xdg").exists()
    np.testing.assert_allclose(result["out"], _expected(), rtol=1e-12)


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root writes through read-only permissions",
)
def test_read_only_install_without_writable_home_imports_and_runs(tmp_path):
    site = _install(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    for path in [site, *site.rglob("*"), home]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        result = _run(site, HOME=home, XDG_CACHE_HOME=None, NUMBA_CACHE_DIR=None)
    finally:
        for path in [site, *site.rglob("*"), home]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert not result["cache"]
    np.testing.assert_allclose(result["out"], _expected(), rtol=1e-12)


def test_read_only_install_without_writable_home_as_root_too(tmp_path):
    """Where permissions cannot stop the writer, a home that is a file does."""
    site = _install(tmp_path)
    home = tmp_path / "home"
    home.write_text("not a directory")
    result = _run(site, HOME=home, XDG_CACHE_HOME=None, NUMBA_CACHE_DIR=None)
    assert not result["cache"]
    np.testing.assert_allclose(result["out"], _expected(), rtol=1e-12)


@pytest.mark.slow
def test_four_processes_compiling_into_one_empty_cache(tmp_path):
    site = _install(tmp_path)
    xdg = tmp_path / "xdg"
    processes = [_start(site, XDG_CACHE_HOME=xdg) for _ in range(4)]
    results = [_result(process, site) for process in processes]
    for result in results:
        np.testing.assert_array_equal(result["out"], results[0]["out"])
    np.testing.assert_allclose(results[0]["out"], _expected(), rtol=1e-12)
    # and what they left behind loads and gives the same again
    again = _run(site, XDG_CACHE_HOME=xdg)
    np.testing.assert_array_equal(again["out"], results[0]["out"])


@pytest.mark.slow
def test_cache_of_other_kernel_sources_is_never_used(tmp_path):
    site = _install(tmp_path)
    xdg = tmp_path / "xdg"
    before = _run(site, XDG_CACHE_HOME=xdg)
    rolling = site / "sklearn_multigran" / "_kernels" / "_rolling.py"
    source = rolling.read_text()
    # a kernel that answers differently: the mean of every window plus one
    edited = source.replace(
        "out[dest, col_mean] = mean\n", "out[dest, col_mean] = mean + 1.0\n"
    )
    assert edited != source
    stamp = rolling.stat()
    rolling.write_text(edited)
    # keep the modification time: only the content says the kernels changed
    os.utime(rolling, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    after = _run(site, XDG_CACHE_HOME=xdg)
    assert after["cache_dir"] != before["cache_dir"]
    mean_columns = [0, 1, 8, 9]  # granularity, statistic (mean first), lag
    np.testing.assert_allclose(
        after["out"][:, mean_columns], before["out"][:, mean_columns] + 1.0
    )
    others = np.setdiff1d(np.arange(before["out"].shape[1]), mean_columns)
    np.testing.assert_array_equal(after["out"][:, others], before["out"][:, others])
    # numba's own key on the source file's content says the same, with our
    # directory per digest out of the way: one cache directory for both versions
    shared = tmp_path / "shared"
    rolling.write_text(source)
    original = _run(site, NUMBA_CACHE_DIR=shared)
    cache_dir = Path(original["cache_dir"])
    rolling.write_text(edited)
    # the edited sources, pointed at the directory the original ones wrote
    config = site / "sklearn_multigran" / "_config.py"
    config.write_text(
        config.read_text().replace(
            "CACHE_DIR = _cache_dir()", f"CACHE_DIR = {str(cache_dir)!r}"
        )
    )
    edited_run = _run(site, NUMBA_CACHE_DIR=shared)
    assert edited_run["cache_dir"] == original["cache_dir"]
    np.testing.assert_allclose(
        edited_run["out"][:, mean_columns], original["out"][:, mean_columns] + 1.0
    )
