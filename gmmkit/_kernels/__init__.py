"""Numba kernels of the EM engine (only ``@njit`` code lives in this package).

Importing this package installs gmmkit's cache locator for Numba's on-disk cache:

- **Salted stamps.** Numba keys each kernel on its own source file only, so an
  edit to a helper in another module (``_common.py``) would silently reuse stale
  machine code. Here every kernel's cache stamp is the hash of *all* kernel
  modules together.
- **Never next to an installed package.** Numba's default writes ``__pycache__``
  files beside the source, i.e. into ``site-packages``; ``pip uninstall`` does not
  remove them, and the left-over ``gmmkit_apps/`` directory then shadows an
  editable install of the same project as an empty namespace package. The cache
  goes to ``$NUMBA_CACHE_DIR`` if set, else Numba's user-wide cache directory.

Apps with kernels of their own register their kernel module with
:func:`register_kernel_module`. Its stamp is that file's hash together with the core
kernels' stamp: a kernel that calls a core ``@njit`` function (``diag_logp``,
``exp_block``) has that function's machine code compiled into its own cache entry, and
Numba does not look at a callee's source when it checks a cache entry.
"""
import hashlib
import logging
import os
import tempfile

_HERE = os.path.dirname(os.path.abspath(__file__))
_SALTS = {}  # kernel source file -> cache stamp
_CORE = []  # the core kernels' stamp, once computed
_TEMP_NOTED = []  # the temp-folder fallback is announced once per process


def _hash_files(paths, extra=""):
    h = hashlib.sha256(b"gmmkit-kernels-v1" + extra.encode())
    for path in sorted(paths):
        with open(path, "rb") as fh:
            h.update(os.path.basename(path).encode() + b"\0" + fh.read())
    return h.hexdigest()


def register_kernel_module(path, salt=None):
    """Cache the ``@njit(cache=True)`` functions of the module at ``path`` with gmmkit's
    locator (user-wide cache, stamped with ``salt``, default the file's content hash
    combined with the core kernels' stamp, so that an edit to a core function the module
    calls recompiles it too). Call it at the top of the kernel module, before its
    decorators run."""
    path = os.path.abspath(path)
    _SALTS[path] = salt or _hash_files([path], extra=_core_salt())
    _install_locator()


def _install_locator():
    from numba.core import caching

    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
    if any(getattr(c, "_gmmkit_salted", False) for c in impl._locator_classes):
        return

    class _Salted:
        """Applies to registered kernel modules only; stamps them with their salt."""

        _gmmkit_salted = True

        def get_source_stamp(self):
            return _SALTS[os.path.abspath(self._py_file)]

        @classmethod
        def from_function(cls, py_func, py_file):
            if os.path.abspath(py_file) not in _SALTS:
                return None
            return super().from_function(py_func, py_file)

    class _TempCacheLocator(caching.UserWideCacheLocator):
        """Last resort when the user cache folder cannot be written (a read-only home, a
        container): a per-user folder under the system's temporary directory."""

        def __init__(self, py_func, py_file):
            super().__init__(py_func, py_file)
            root = os.path.join(tempfile.gettempdir(), f"gmmkit-numba-cache-{os.getuid()}")
            self._cache_path = os.path.join(root, self.get_suitable_cache_subpath(py_file))

        @classmethod
        def from_function(cls, py_func, py_file):
            found = super().from_function(py_func, py_file)
            if found is not None and not _TEMP_NOTED:
                _TEMP_NOTED.append(True)
                logging.getLogger("gmmkit").warning(
                    "gmmkit: Numba's cache folder is not writable; compiled kernels are cached in %s "
                    "(set NUMBA_CACHE_DIR to choose a folder)", os.path.dirname(found._cache_path))
            return found

    # NUMBA_CACHE_DIR if set, else the user cache, else a temp folder; never InTreeCacheLocator
    bases = (caching.UserProvidedCacheLocator, caching.UserWideCacheLocator, _TempCacheLocator)
    salted = [type("Salted" + b.__name__, (_Salted, b), {}) for b in bases]
    impl._locator_classes = salted + list(impl._locator_classes)


def _core_files():
    return [os.path.join(_HERE, n) for n in os.listdir(_HERE) if n.endswith(".py")]


def _core_salt():
    if not _CORE:
        _CORE.append(_hash_files(_core_files()))
    return _CORE[0]


def _register_core():
    for path in _core_files():
        register_kernel_module(path, _core_salt())


_register_core()
