"""The kernels' disk cache: numba's, pointed at our own directory.

numba's ``cache=True`` writes next to the sources unless ``NUMBA_CACHE_DIR`` is
set, and raises "no locator available" at import where it can write nowhere (a
read-only install run by a user with no writable home). Setting numba's global
cache directory would move every other package's cache too. Instead, a locator of
our own goes first in numba's list and claims only the functions defined in this
directory, placing them in ``_config.CACHE_DIR``; numba's locators still serve
everything else. When the directory is None, or numba's internals are not the
ones this was written for, or the user overrides numba's locators, the kernels
are compiled in memory. No kernel is compiled at import either way.
"""

import os

from numba import njit

from sklearn_multigran._config import CACHE_DIR

_HERE = os.path.dirname(os.path.abspath(__file__))


def _register_locator(cache_dir):
    """Put a locator for this directory's functions first; whether it is there."""
    if cache_dir is None:
        return False
    try:
        from numba.core import caching
        from numba.core import config as numba_config

        if numba_config.CACHE_LOCATOR_CLASSES:
            # the user's list replaces numba's own: ours would not be consulted
            return False
        impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
        base = caching._CacheLocator
        mixin = caching._SourceFileBackedLocatorMixin
    except (ImportError, AttributeError):
        return False

    class _KernelCacheLocator(mixin, base):
        """Caches the functions of ``sklearn_multigran/_kernels`` in ``cache_dir``."""

        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno

        def get_cache_path(self):
            return cache_dir

        @classmethod
        def from_function(cls, py_func, py_file):
            if os.path.dirname(os.path.abspath(py_file)) != _HERE:
                return None
            # checks the directory is still writable; None passes to numba's own
            return super().from_function(py_func, py_file)

    impl._locator_classes.insert(0, _KernelCacheLocator)
    return True


CACHE = _register_locator(CACHE_DIR)


def kernel(**options):
    """``numba.njit(**options)``, cached on disk when the cache is on.

    Should numba find no place for the cache after all, the function is compiled
    in memory rather than failing the import.
    """

    def decorate(func):
        if CACHE:
            try:
                return njit(cache=True, **options)(func)
            except RuntimeError:  # numba's "no locator available"
                pass
        return njit(**options)(func)

    return decorate
