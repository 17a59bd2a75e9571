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
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

logger = logging.getLogger("gmmkit")

# Below this many multiply-adds per pass, threads cost more than they save.
PARALLEL_MIN_WORK = 2_000_000

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


def _thread_pool():
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
        from threadpoolctl import ThreadpoolController

        if openmp:
            # sklearn's OpenMP runtime loads with sklearn.cluster: look again
            import sklearn.cluster  # noqa: F401

            controller = ThreadpoolController()
        else:
            if _controller is None:
                _controller = ThreadpoolController()
            controller = _controller
        with controller.limit(limits=1, user_api=None if openmp else "blas"):
            yield
    finally:
        with _lock:
            _limit_depth -= 1


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


def kernels(family: str):
    """The kernel module of a family ('full' or 'diag'), imported on first use."""
    mod = _families.get(family)
    if mod is None:
        mod = importlib.import_module(f"gmmkit._kernels.{family}")
        _families[family] = mod
    return mod


def _announce_compile(mod, name, dtype):
    """Tell the user once when a kernel is about to be compiled rather than loaded."""
    key = (mod.__name__, np.dtype(dtype).name)
    if key in _announced:
        return
    _announced.add(key)
    disp = getattr(mod, name)
    if disp.signatures:
        return
    try:
        cached = os.path.exists(disp._cache._cache_file._index_path)
    except AttributeError:  # private Numba layout changed: say nothing
        return
    if not cached:
        logger.warning(
            "gmmkit: compiling the %s EM kernels for %s (first run only, ~10-20 s; cached afterwards)",
            mod.__name__.rsplit(".", 1)[-1], np.dtype(dtype).name,
        )


def _chunks(n, n_chunks):
    return [(c * n // n_chunks, (c + 1) * n // n_chunks) for c in range(n_chunks)]


def use_parallel(n_rows, work_per_row):
    return _force_serial == 0 and n_threads() > 1 and n_rows * work_per_row >= PARALLEL_MIN_WORK


def em_pass(family, X, sw, shift, means, prec, logc, log_noise, parallel):
    """One fused E+M-statistics pass. Returns (sum w log p, nk (K+1), sx (K,D), sxx)."""
    mod = kernels(family)
    _announce_compile(mod, "em_range", X.dtype)
    K, D = means.shape
    sxx_shape = (K, D, D) if family == "full" else (K, D)
    n_chunks = n_threads() if parallel else 1
    nk = np.zeros((n_chunks, K + 1))
    sx = np.zeros((n_chunks, K, D))
    sxx = np.zeros((n_chunks,) + sxx_shape)
    args = (shift, means, prec, logc, float(log_noise))
    if n_chunks == 1:
        ll = mod.em_range(X, sw, 0, X.shape[0], *args, nk[0], sx[0], sxx[0])
    else:
        futs = [
            _thread_pool().submit(mod.em_range, X, sw, lo, hi, *args, nk[c], sx[c], sxx[c])
            for c, (lo, hi) in enumerate(_chunks(X.shape[0], n_chunks))
        ]
        ll = sum(f.result() for f in futs)
    return ll, nk.sum(axis=0), sx.sum(axis=0), sxx.sum(axis=0)


def score_pass(family, X, shift, means, prec, logc, log_noise, *, resp_cols=0, labels=False,
               parallel=False):
    """Per-row log-density, and optionally responsibilities (N, resp_cols) and labels."""
    mod = kernels(family)
    _announce_compile(mod, "score_range", X.dtype)
    N = X.shape[0]
    out_lse = np.empty(N)
    out_resp = np.empty((N if resp_cols else 0, max(resp_cols, 1)))
    out_label = np.empty(N if labels else 0, dtype=np.int64)
    args = (shift, means, prec, logc, float(log_noise), out_lse, out_resp, out_label)
    if not parallel:
        mod.score_range(X, 0, N, *args)
    else:
        futs = [_thread_pool().submit(mod.score_range, X, lo, hi, *args)
                for lo, hi in _chunks(N, 4 * n_threads())]
        for f in futs:
            f.result()
    return out_lse, (out_resp if resp_cols else None), (out_label if labels else None)


class Timer:
    """Wall-clock timer used for fit metadata."""

    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
