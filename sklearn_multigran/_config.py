"""Knobs read once from the environment.

``SKLEARN_MULTIGRAN_NUM_THREADS``
    Threads the numba kernels may use (default 1). Parallel kernels are compiled only
    when this is above 1, so the default keeps the cold first call small.
``SKLEARN_MULTIGRAN_CACHE``
    Set to ``1`` to let numba cache compiled kernels on disk. Off by default: numba's
    cache is written next to the installed sources, which fails on read-only installs,
    and we do not want a half-written cache file to be read by a concurrent process.
"""

import os


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


NUM_THREADS = _read_int("SKLEARN_MULTIGRAN_NUM_THREADS", 1)
NUMBA_CACHE = os.environ.get("SKLEARN_MULTIGRAN_CACHE", "0") == "1"
