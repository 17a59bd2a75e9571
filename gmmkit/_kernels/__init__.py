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
    salt = _kernel_sources_hash()

    class _SaltedLocator(caching.InTreeCacheLocator):
        """In-tree cache for gmmkit kernels, stamped with every kernel module's hash."""

        def get_source_stamp(self):
            return salt

        @classmethod
        def from_function(cls, py_func, py_file):
            if os.path.dirname(os.path.abspath(py_file)) != _HERE:
                return None
            return super().from_function(py_func, py_file)

    class _SaltedUserWideLocator(caching.UserWideCacheLocator):
        """Fallback when the package folder is read-only (system installs)."""

        def get_source_stamp(self):
            return salt

        @classmethod
        def from_function(cls, py_func, py_file):
            if os.path.dirname(os.path.abspath(py_file)) != _HERE:
                return None
            return super().from_function(py_func, py_file)

    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")
    if not any(getattr(c, "__name__", "") == "_SaltedLocator" for c in impl._locator_classes):
        impl._locator_classes = [_SaltedLocator, _SaltedUserWideLocator] + list(impl._locator_classes)


_install_salted_locator()
