"""Component log-densities for callers outside the EM engine (public view: :mod:`gmmkit.kernels`).

:func:`logp_range` runs the EM kernels' own block code (``em._load_block`` and
``em._density``) and writes the (K, block) result rows out as an (N, K) map, so
apps get exactly the engine's densities without a copy of its loops.
:func:`diag_logp` and :func:`full_logp` score one row under one component,
for apps' own ``@njit`` loops that visit a few components per row (top-C scoring).

Precision factors follow the engine's convention: full factors (K, D, D) upper
triangular ``U_k`` with precision ``U_k U_k^T``; diagonal ones (K, 1, D) holding
``1 / sigma``. Computation runs in the dtype of ``X``.
"""
from numba import njit

from ._common import FASTMATH
from .em import _buffers, _const, _density, _load_block


@njit(cache=True, nogil=True)
def _rows_per_block(K, D, itemsize):
    # as gmmkit._engine._block_size: keep the (K+1) x block and D x block buffers in L1/L2
    return min(256, max(16, (131072 // itemsize // (K + D + 2)) // 8 * 8))


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def logp_range(X, lo, hi, shift, means, prec, logc, out):
    """out[i, k] = logc[k] - 0.5 * ||(X[i] - shift - means[k]) U_k||^2 for rows lo:hi."""
    K, D = means.shape
    block = _rows_per_block(K, D, X.itemsize)
    xt, y, s, lp, _, _, _ = _buffers(K, D, block, X.dtype)
    half = _const(X.dtype, 0.5)
    for b0 in range(lo, hi, block):
        nb = min(block, hi - b0)
        _load_block(X, b0, nb, shift, xt)
        _density(xt, nb, means, prec, logc, lp, y, s, half)
        for i in range(nb):
            for k in range(K):
                out[b0 + i, k] = lp[k, i]


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def diag_logp(x, mean, prec, logc):
    """logc - 0.5 * sum_d ((x[d] - mean[d]) * prec[d])^2 for one row (prec = 1 / sigma)."""
    s = 0.0
    for d in range(x.shape[0]):
        t = (x[d] - mean[d]) * prec[d]
        s += t * t
    return logc - 0.5 * s


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def full_logp(x, mean, prec, logc):
    """logc - 0.5 * ||(x - mean) U||^2 for one row, ``prec`` = U (D, D) upper triangular."""
    D = x.shape[0]
    s = 0.0
    for j in range(D):
        t = 0.0
        for l in range(j + 1):
            t += (x[l] - mean[l]) * prec[l, j]
        s += t * t
    return logc - 0.5 * s
