"""Fused EM kernels for full (and tied) covariances.

Precisions are given as upper-triangular Cholesky factors ``U_k`` (precision =
``U_k U_k^T``, sklearn's convention), so a log-density is a triangular product
and a sum of squares. One pass over the rows computes log-densities, the
log-sum-exp, responsibilities and the sufficient statistics together. Kernels
release the GIL and take a row range, so the engine runs them in parallel on
row chunks from a thread pool, each chunk with its own accumulators.
"""
import numpy as np
from numba import njit

from ._common import FASTMATH, lse_row


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _row_logp(X, i, shift, means, prec, logc, x, diff, y, lp):
    K, D = means.shape
    for d in range(D):
        x[d] = X[i, d] - shift[d]
    for k in range(K):
        for d in range(D):
            diff[d] = x[d] - means[k, d]
            y[d] = 0.0
        for l in range(D):
            dl = diff[l]
            for j in range(l, D):
                y[j] += dl * prec[k, l, j]
        s = 0.0
        for j in range(D):
            s += y[j] * y[j]
        lp[k] = logc[k] - 0.5 * s


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def em_range(X, sw, lo, hi, shift, means, prec, logc, log_noise, nk, sx, sxx):
    """Accumulate weighted nk (K+1, last = noise), sum x (K, D) and upper-triangular
    sum x x^T (K, D, D) over rows lo:hi of the shifted data; return sum w * log p(x)."""
    K, D = means.shape
    has_w = sw.shape[0] > 0
    x = np.empty(D, dtype=X.dtype)
    diff = np.empty(D, dtype=X.dtype)
    y = np.empty(D, dtype=X.dtype)
    lp = np.empty(K)
    e = np.empty(K + 1)
    bits = np.empty(K + 1, dtype=np.int64)
    ll = 0.0
    for i in range(lo, hi):
        w = sw[i] if has_w else 1.0
        if w == 0.0:
            continue
        _row_logp(X, i, shift, means, prec, logc, x, diff, y, lp)
        ll += w * lse_row(lp, e, bits, K, log_noise)
        nk[K] += w * e[K]
        for k in range(K):
            r = w * e[k]
            if r == 0.0:
                continue
            nk[k] += r
            for l in range(D):
                rx = r * x[l]
                sx[k, l] += rx
                for j in range(l, D):
                    sxx[k, l, j] += rx * x[j]
    return ll


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def score_range(X, lo, hi, shift, means, prec, logc, log_noise, out_lse, out_resp, out_label):
    """Per-row log p(x) into out_lse; responsibilities into out_resp (if it has rows,
    K or K+1 columns) and arg-max labels (-1 = noise) into out_label (if it has rows)."""
    K, D = means.shape
    x = np.empty(D, dtype=X.dtype)
    diff = np.empty(D, dtype=X.dtype)
    y = np.empty(D, dtype=X.dtype)
    lp = np.empty(K)
    e = np.empty(K + 1)
    bits = np.empty(K + 1, dtype=np.int64)
    want_resp = out_resp.shape[0] > 0
    n_resp = out_resp.shape[1]
    want_label = out_label.shape[0] > 0
    for i in range(lo, hi):
        _row_logp(X, i, shift, means, prec, logc, x, diff, y, lp)
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
