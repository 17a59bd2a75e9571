"""Numba kernels of the EM engine (only ``@njit`` code lives in this package).

Importing this package installs a salted cache locator: Numba's on-disk cache
keys each kernel on its own source file only, so an edit to a helper in another
module (``_common.py``) would silently reuse stale machine code. Here every
kernel's cache stamp is the hash of *all* kernel modules together.
"""
import hashlib
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def _kernel_sources_hash():
    h = hashlib.sha256(b"gmmkit-kernels-v1")
    for name in sorted(os.listdir(_HERE)):
        if name.endswith(".py"):
            with open(os.path.join(_HERE, name), "rb") as fh:
                h.update(name.encode() + b"\0" + fh.read())
    return h.hexdigest()


def _install_salted_locator():
    try:
        from numba.core import caching
    except ImportError:  # pragma: no cover - numba always has it today
        return
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")
    if any(getattr(c, "_gmmkit_salted", False) for c in impl._locator_classes):
        return
    salt = _kernel_sources_hash()

    class _Salted:
        """Applies to gmmkit's kernel modules only; stamps them with ``salt``."""

        _gmmkit_salted = True

        def get_source_stamp(self):
            return salt

        @classmethod
        def from_function(cls, py_func, py_file):
            if os.path.dirname(os.path.abspath(py_file)) != _HERE:
                return None
            return super().from_function(py_func, py_file)

    # NUMBA_CACHE_DIR if set, else the package's __pycache__, else the user cache.
    bases = (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator,
             caching.UserWideCacheLocator)
    salted = [type("Salted" + b.__name__, (_Salted, b), {}) for b in bases]
    impl._locator_classes = salted + list(impl._locator_classes)


_install_salted_locator()
