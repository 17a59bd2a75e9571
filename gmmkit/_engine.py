"""Runs the Numba kernels: lazy per-family loading, row-chunk threading, BLAS limits.

The kernels release the GIL and take a row range, so parallelism is one level
only: a thread pool made once runs the same compiled kernel on row chunks, each
chunk with its own accumulators, while BLAS is held at one thread for the
whole fit (OpenBLAS threads busy-wait after each call and steal the cores the
EM pass needs). Small problems run serially in the calling thread.
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

logger = logging.getLogger("gmmkit")

# Below this many multiply-adds per pass, threads cost more than they save
# (benchmarks/tune_parallel.py, 2 cores: 0.3-0.9x at 3e5, 1.05-1.37x at 1e6, 1.5-2x at 2e6).
PARALLEL_MIN_WORK = 1_000_000

_families = {}
_pool = None
_controller = None
_announced = set()


def n_threads():
    """Worker threads for row chunks: $GMMKIT_NUM_THREADS, else the usable cores."""
    env = os.environ.get("GMMKIT_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def thread_pool():
    """The process's worker threads for row chunks (made once; ``n_threads()`` of them).
    Apps that split their own work into chunks use it too: one level of parallelism."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=n_threads(), thread_name_prefix="gmmkit")
    return _pool


_limit_depth = 0
_force_serial = 0
_lock = threading.Lock()


@contextlib.contextmanager
def blas_single_thread(openmp=False):
    """Hold BLAS/LAPACK (and OpenMP if asked) at one thread; re-entrant, and only the
    outermost call pays for it (controller made once; each limit costs ~4 ms)."""
    global _controller, _limit_depth
    with _lock:
        outer = _limit_depth == 0
        _limit_depth += 1
    try:
        if not outer:
            yield
            return
        if openmp:
            # sklearn's OpenMP runtime loads with sklearn.cluster: look again
            import sklearn.cluster  # noqa: F401
            from threadpoolctl import ThreadpoolController

            controller = ThreadpoolController()
        else:
            if _controller is None:
                _controller = _shared_controller()
            controller = _controller
        with controller.limit(limits=1, user_api=None if openmp else "blas"):
            yield
    finally:
        with _lock:
            _limit_depth -= 1


def _shared_controller():
    # scikit-learn keeps one controller for its own BLAS limits (KMeans init makes it):
    # sharing it saves a second scan of the loaded libraries (~25 ms of cold start)
    try:
        from sklearn.utils.parallel import _get_threadpool_controller

        return _get_threadpool_controller()
    except ImportError:  # private helper moved: make our own
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController()


@contextlib.contextmanager
def serial_only():
    """Run every kernel in the calling thread (when the caller parallelises itself)."""
    global _force_serial
    with _lock:
        _force_serial += 1
    try:
        yield
    finally:
        with _lock:
            _force_serial -= 1


def kernels():
    """The kernel module, imported (and its kernels loaded or compiled) on first use."""
    mod = _families.get("em")
    if mod is None:
        mod = importlib.import_module("gmmkit._kernels.em")
        _families["em"] = mod
    return mod


def announce_compile(disp, dtype, what="EM kernels", seconds="10-20"):
    """Tell the user once when the kernels behind dispatcher ``disp`` are about to be
    compiled rather than loaded from Numba's cache."""
    key = (what, np.dtype(dtype).name)
    if key in _announced:
        return
    _announced.add(key)
    sigs = getattr(disp, "signatures", None)
    if sigs is None or any(key[1] in str(sig[0]) for sig in sigs):  # NUMBA_DISABLE_JIT, or compiled
        return
    if not _in_cache(disp, key[1]):
        logger.warning("gmmkit: compiling the %s for %s (first run only, ~%s s; cached afterwards)",
                       what, key[1], seconds)


def _in_cache(disp, dtype_name):
    """Whether Numba's cache index holds a version of ``disp`` whose first argument
    has this dtype (the index lists every cached signature). Uses Numba's private
    cache layout: if that changes, assume cached and say nothing."""
    try:
        cache_file = disp._cache._cache_file
        if not os.path.exists(cache_file._index_path):
            return False
        return any(dtype_name in str(key[0][0]) for key in cache_file._load_index())
    except Exception:  # noqa: BLE001 - any change in Numba's internals: stay quiet
        return True


def _chunks(n, n_chunks):
    return [(c * n // n_chunks, (c + 1) * n // n_chunks) for c in range(n_chunks)]


def use_parallel(n_rows, work_per_row):
    return _force_serial == 0 and n_threads() > 1 and n_rows * work_per_row >= PARALLEL_MIN_WORK


def _block_size(K, D, itemsize=8):
    """Rows per kernel block: keep the (K+1) x block and D x block buffers in L1/L2
    (float32 buffers are half the size, so twice the rows: measured ~5% on W2)."""
    return int(min(256, max(16, (131072 // itemsize // (K + D + 2)) // 8 * 8)))


def _as(a, X):
    # kernels compute in the data's dtype: a float64 constant would promote float32 loops
    return np.ascontiguousarray(a, dtype=X.dtype)


def em_pass(X, sw, shift, means, prec, logc, log_noise, parallel):
    """One fused E+M-statistics pass. Returns (sum w log p, nk (K+1), sx (K,D), sxx).

    ``prec`` is in the kernel layout of the covariance type's family: (K, D, D)
    upper-triangular factors (sxx then (K, D, D) upper-triangular) or (K, 1, D)
    inverse standard deviations (sxx (K, 1, D)); see :mod:`gmmkit._covariance`."""
    mod = kernels()
    announce_compile(mod.em_range, X.dtype)
    K, D = means.shape
    sxx_shape = (K,) + prec.shape[1:]
    n_chunks = n_threads() if parallel else 1
    nk = np.zeros((n_chunks, K + 1))
    sx = np.zeros((n_chunks, K, D))
    sxx = np.zeros((n_chunks,) + sxx_shape)
    args = (shift, means, prec, _as(logc, X), float(log_noise))
    block = _block_size(K, D, X.dtype.itemsize)
    if n_chunks == 1:
        ll = mod.em_range(X, sw, 0, X.shape[0], *args, nk[0], sx[0], sxx[0], block)
    else:
        futs = [
            thread_pool().submit(mod.em_range, X, sw, lo, hi, *args, nk[c], sx[c], sxx[c], block)
            for c, (lo, hi) in enumerate(_chunks(X.shape[0], n_chunks))
        ]
        ll = sum(f.result() for f in futs)
    return ll, nk.sum(axis=0), sx.sum(axis=0), sxx.sum(axis=0)


def score_pass(X, shift, means, prec, logc, log_noise, *, resp_cols=0, labels=False,
               parallel=False):
    """Per-row log-density, and optionally responsibilities (N, resp_cols) and labels."""
    mod = kernels()
    announce_compile(mod.em_range, X.dtype)
    N = X.shape[0]
    K, D = means.shape
    out_lse = np.empty(N)
    out_resp = np.empty((N if resp_cols else 0, max(resp_cols, 1)))
    out_label = np.empty(N if labels else 0, dtype=np.int64)
    args = (shift, means, prec, _as(logc, X), float(log_noise), out_lse, out_resp,
            out_label, _block_size(K, D, X.dtype.itemsize))
    if not parallel:
        mod.score_range(X, 0, N, *args)
    else:
        futs = [thread_pool().submit(mod.score_range, X, lo, hi, *args)
                for lo, hi in _chunks(N, 4 * n_threads())]
        for f in futs:
            f.result()
    return out_lse, (out_resp if resp_cols else None), (out_label if labels else None)
