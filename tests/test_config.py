"""Where the kernels' disk cache goes, read from the environment (no compiling)."""

import shutil
from pathlib import Path

import pytest

from sklearn_multigran import _config


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "SKLEARN_MULTIGRAN_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return monkeypatch


def test_numba_cache_dir_first(clean_env, tmp_path):
    clean_env.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = Path(_config._cache_dir())
    assert path.parent == tmp_path / "numba" / "sklearn-multigran"
    assert path.is_dir()


def test_then_xdg_cache_home_then_home(clean_env, tmp_path):
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert Path(_config._cache_dir()).parent == tmp_path / "xdg/sklearn-multigran/numba"
    # the XDG specification ignores a relative path
    clean_env.setenv("XDG_CACHE_HOME", "relative/cache")
    assert (
        Path(_config._cache_dir()).parent
        == tmp_path / "home/.cache/sklearn-multigran/numba"
    )


@pytest.mark.parametrize("value", ["0", "false", "OFF", " no "])
def test_switched_off(clean_env, value):
    clean_env.setenv("SKLEARN_MULTIGRAN_CACHE", value)
    assert _config._cache_dir() is None


def test_nowhere_to_write_means_no_cache(clean_env, tmp_path):
    # a home that is a file: nothing can be made under it, even by root
    (tmp_path / "home").write_text("")
    assert _config._cache_dir() is None
    clean_env.setenv("NUMBA_CACHE_DIR", str(tmp_path / "home" / "numba"))
    assert _config._cache_dir() is None


def test_directory_is_named_after_the_kernel_sources(clean_env, tmp_path):
    kernels = tmp_path / "kernels"
    shutil.copytree(_config._KERNELS_DIR, kernels)
    clean_env.setattr(_config, "_KERNELS_DIR", kernels)
    before = _config._sources_digest()
    assert _config._sources_digest() == before
    rolling = kernels / "_rolling.py"
    rolling.write_text(rolling.read_text() + "\n# edited\n")
    assert _config._sources_digest() != before


@pytest.mark.parametrize(
    ("raw", "message"),
    [("two", "must be a positive integer"), ("0", "must be >= 1")],
)
def test_thread_count_errors_name_the_variable(monkeypatch, raw, message):
    monkeypatch.setenv("SKLEARN_MULTIGRAN_NUM_THREADS", raw)
    with pytest.raises(ValueError, match=f"SKLEARN_MULTIGRAN_NUM_THREADS='{raw}'"):
        _config._read_int("SKLEARN_MULTIGRAN_NUM_THREADS", 1)
    with pytest.raises(ValueError, match=message):
        _config._read_int("SKLEARN_MULTIGRAN_NUM_THREADS", 1)
