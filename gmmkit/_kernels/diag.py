"""Fused EM kernels for diagonal (and spherical) covariances.

The precision Cholesky factor of component k is the vector ``1/sigma_k``; the
same one-pass structure as :mod:`gmmkit._kernels.full`, with O(K D) per row.
"""
import numpy as np
from numba import njit

from ._common import FASTMATH, lse_row


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _row_logp(X, i, shift, means, prec, logc, x, lp):
    K, D = means.shape
    for d in range(D):
        x[d] = X[i, d] - shift[d]
    for k in range(K):
        s = 0.0
        for d in range(D):
            t = (x[d] - means[k, d]) * prec[k, d]
            s += t * t
        lp[k] = logc[k] - 0.5 * s


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def em_range(X, sw, lo, hi, shift, means, prec, logc, log_noise, nk, sx, sxx):
    """Accumulate weighted nk (K+1, last = noise), sum x (K, D) and sum x**2 (K, D)
    over rows lo:hi of the shifted data; return sum w * log p(x)."""
    K, D = means.shape
    has_w = sw.shape[0] > 0
    x = np.empty(D, dtype=X.dtype)
    lp = np.empty(K)
    e = np.empty(K + 1)
    bits = np.empty(K + 1, dtype=np.int64)
    ll = 0.0
    for i in range(lo, hi):
        w = sw[i] if has_w else 1.0
        if w == 0.0:
            continue
        _row_logp(X, i, shift, means, prec, logc, x, lp)
        ll += w * lse_row(lp, e, bits, K, log_noise)
        nk[K] += w * e[K]
        for k in range(K):
            r = w * e[k]
            if r == 0.0:
                continue
            nk[k] += r
            for d in range(D):
                rx = r * x[d]
                sx[k, d] += rx
                sxx[k, d] += rx * x[d]
    return ll


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def score_range(X, lo, hi, shift, means, prec, logc, log_noise, out_lse, out_resp, out_label):
    """Per-row log p(x), responsibilities and labels; see ``full.score_range``."""
    K, D = means.shape
    x = np.empty(D, dtype=X.dtype)
    lp = np.empty(K)
    e = np.empty(K + 1)
    bits = np.empty(K + 1, dtype=np.int64)
    want_resp = out_resp.shape[0] > 0
    n_resp = out_resp.shape[1]
    want_label = out_label.shape[0] > 0
    for i in range(lo, hi):
        _row_logp(X, i, shift, means, prec, logc, x, lp)
        out_lse[i] = lse_row(lp, e, bits, K, log_noise)
        if want_resp:
            for k in range(n_resp):
                out_resp[i, k] = e[k]
        if want_label:
            best = 0
            for k in range(1, K):
                if lp[k] > lp[best]:
                    best = k
            out_label[i] = -1 if e[K] > e[best] else best
