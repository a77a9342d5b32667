"""Where numba keeps the compiled kernels' cache (``cache=True``) of this distribution.

In a source checkout (an editable install or a run from the repository) numba's default is
right: ``__pycache__`` next to each module.  In an installed copy it is not: the cache files would
land in ``site-packages/{pgm,samplers,estimators}/__pycache__``, which ``pip uninstall`` does not
remove, and the leftover ``samplers/`` directory is then imported as an empty namespace package
ahead of a later editable install (``module 'samplers' has no attribute 'sample'``).

:func:`install` therefore puts a cache locator in front of numba's own ones that sends the kernels
of an *installed* copy to the user's cache directory (``$XDG_CACHE_HOME/pgmc/numba``, by default
``~/.cache/pgmc/numba``; ``%LOCALAPPDATA%\\pgmc\\numba`` on Windows), one sub-directory per
installed source directory.  ``NUMBA_CACHE_DIR``, when set, wins as usual; functions of other
packages are untouched.
"""

import os
import sys

__all__ = ["install", "is_checkout", "cache_root"]

#: the directory that holds the three packages (a checkout's root, or ``site-packages``)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = tuple(os.path.join(ROOT, name) + os.sep for name in ("pgm", "samplers", "estimators"))


def is_checkout():
    """True when the packages are imported from a source tree (it holds ``pyproject.toml``)."""
    return os.path.exists(os.path.join(ROOT, "pyproject.toml"))


def cache_root():
    """The per-user directory that holds an installed copy's numba cache."""
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = os.environ["LOCALAPPDATA"]
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pgmc", "numba")


def install():
    """Register the locator (once) unless this is a checkout or ``NUMBA_CACHE_DIR`` is set.

    Returns the locator class registered, or None.
    """
    if is_checkout() or os.environ.get("NUMBA_CACHE_DIR"):
        return None
    from numba.core import caching

    # numba >= 0.61 dropped the leading underscores of these names
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
    user_locator = getattr(caching, "UserProvidedCacheLocator", None) or caching._UserProvidedCacheLocator
    for cls in impl._locator_classes:
        if cls.__name__ == "InstalledPackageLocator":
            return cls

    class InstalledPackageLocator(user_locator):
        """numba's user-directory locator, rooted at :func:`cache_root`, for our modules only."""

        def __init__(self, py_func, py_file):
            super().__init__(py_func, py_file)
            self._cache_path = os.path.join(cache_root(), self.get_suitable_cache_subpath(py_file))

        @classmethod
        def from_function(cls, py_func, py_file):
            if not os.path.abspath(py_file).startswith(PACKAGES):
                return None
            # skip the parent's "is NUMBA_CACHE_DIR set" test: go to the source-file mixin
            return super(user_locator, cls).from_function(py_func, py_file)

    impl._locator_classes.insert(0, InstalledPackageLocator)
    return InstalledPackageLocator
