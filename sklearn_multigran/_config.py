"""Knobs read once from the environment.

``SKLEARN_MULTIGRAN_NUM_THREADS``
    Threads the numba kernels may use (default 1).
``SKLEARN_MULTIGRAN_CACHE``
    ``0`` turns off the disk cache of compiled kernels; it is on by default. The
    kernels are cached in ``$NUMBA_CACHE_DIR/sklearn-multigran`` when numba's own
    cache directory is set, else in ``$XDG_CACHE_HOME/sklearn-multigran/numba``
    (``~/.cache/sklearn-multigran/numba`` without ``XDG_CACHE_HOME``), in a
    subdirectory named after the kernels' sources and numba's version, so a
    cache written by other kernels is never read. Where no such directory can be
    written, the kernels compile in memory, silently.
"""

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

_KERNELS_DIR = Path(__file__).resolve().parent / "_kernels"


def _read_int(name, default):
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(
            f"Environment variable {name}={raw!r} must be a positive integer."
        ) from None
    if value < 1:
        raise ValueError(f"Environment variable {name}={raw!r} must be >= 1.")
    return value


def _cache_base():
    """The directory the cache goes under, before it is known to be writable."""
    numba_dir = os.environ.get("NUMBA_CACHE_DIR", "")
    if numba_dir:
        return Path(numba_dir) / "sklearn-multigran"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "sklearn-multigran" / "numba"
    # expanduser leaves "~" alone when there is no home at all: not absolute
    home = os.path.expanduser("~")
    if not os.path.isabs(home):
        return None
    return Path(home) / ".cache" / "sklearn-multigran" / "numba"


def _sources_digest():
    """A digest of the kernels' sources and numba's version.

    numba keys its cache on each source file's content, but a kernel compiled
    with another module's function inlined would not notice that module change;
    a directory per digest of every kernel source cannot be read by other ones.
    """
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256()
    with contextlib.suppress(PackageNotFoundError):
        digest.update(version("numba").encode())
    for path in sorted(_KERNELS_DIR.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_dir():
    """The writable cache directory of the kernels, or None (cache off)."""
    if os.environ.get("SKLEARN_MULTIGRAN_CACHE", "1").strip().lower() in (
        "0",
        "false",
        "no",
        "off",
    ):
        return None
    try:
        base = _cache_base()
        if base is None:
            return None
        path = base / _sources_digest()
        path.mkdir(parents=True, exist_ok=True)
        # writable? (a directory made by someone else may not be)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return None
    return str(path)


NUM_THREADS = _read_int("SKLEARN_MULTIGRAN_NUM_THREADS", 1)
CACHE_DIR = _cache_dir()
