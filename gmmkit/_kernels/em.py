"""Fused EM kernels: one pass over a row range does log-densities, log-sum-exp,
responsibilities and sufficient statistics together.

Rows are processed in blocks of ``block`` rows, transposed into a (D, block)
buffer so that every inner loop runs over rows, contiguous and vectorisable
(the exp of a whole block is one polynomial loop). Precisions are Cholesky
factors: full/tied pass ``prec`` as (K, D, D) upper-triangular ``U_k``
(precision = U U^T, sklearn's convention); diag/spherical pass (K, 1, D) holding
1/sigma. The same shapes select the statistics: ``sxx`` is (K, D, D) upper
triangle of sum r x x^T, or (K, 1, D) sum r x^2. Densities are computed in the
data's dtype; responsibilities and statistics are float64 whatever the input
(raw second moments minus squared means cancel badly in float32).

Kernels release the GIL and take a row range, so the engine runs them on row
chunks from a thread pool, each chunk with its own accumulators.
"""
import numpy as np
from numba import njit

from ._common import FASTMATH, exp_block

R_SKIP = 1e-15
GEMM_MIN_K = 128


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _load_block(X, b0, nb, shift, xt):
    D = X.shape[1]
    for i in range(nb):
        for d in range(D):
            xt[d, i] = X[b0 + i, d] - shift[d]


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _density(xt, nb, means, prec, logc, lp, y, s):
    """lp[k, :nb] = log w_k + log N(x | mu_k, Sigma_k) for the block in xt."""
    K, D = means.shape
    diag = prec.shape[1] == 1 and D > 1
    for k in range(K):
        for i in range(nb):
            s[i] = 0.0
        if diag:
            for d in range(D):
                mu = means[k, d]
                p = prec[k, 0, d]
                for i in range(nb):
                    t = (xt[d, i] - mu) * p
                    s[i] += t * t
        else:
            for j in range(D):
                for i in range(nb):
                    y[j, i] = 0.0
            for l in range(D):
                mu = means[k, l]
                for i in range(nb):
                    y[D, i] = xt[l, i] - mu  # row D of y holds the current difference
                for j in range(l, D):
                    u = prec[k, l, j]
                    for i in range(nb):
                        y[j, i] += y[D, i] * u
            for j in range(D):
                for i in range(nb):
                    s[i] += y[j, i] * y[j, i]
        c = logc[k]
        for i in range(nb):
            lp[k, i] = c - 0.5 * s[i]


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _normalise(lp, n_comp, nb, log_noise, bits, m, lse):
    """In place: lp[:K+1, :nb] -> responsibilities (row K = noise); lse[:nb] = log p(x)."""
    for i in range(nb):
        m[i] = log_noise
        lp[n_comp, i] = log_noise
    for k in range(n_comp):
        for i in range(nb):
            m[i] = max(m[i], lp[k, i])
    for i in range(nb):
        if m[i] == -np.inf:  # every density underflowed: fall back to uniform shares
            m[i] = 0.0
    for k in range(n_comp + 1):
        for i in range(nb):
            lp[k, i] -= m[i]
    exp_block(lp, bits, n_comp + 1, nb)
    for i in range(nb):
        lse[i] = 0.0
    for k in range(n_comp + 1):
        for i in range(nb):
            lse[i] += lp[k, i]
    for i in range(nb):
        inv = 1.0 / lse[i]
        lse[i] = m[i] + np.log(lse[i])
        m[i] = inv
    for k in range(n_comp + 1):
        for i in range(nb):
            lp[k, i] *= m[i]


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _statistics_dense(xt, rb, nb, sx, sxx, x64, x2):
    """sx[k] += sum_i r x; sxx[k] += sum_i r x x^T (upper) or r x^2 (diag), via block sums.

    With many components, diagonal statistics are two small matrix products,
    (K, block) @ (block, D), which BLAS (held at one thread per worker) does better
    than loops: measured 2x per iteration at K=256, D=60, but slower at K=64, D=39."""
    K, D = sx.shape
    diag = sxx.shape[1] == 1 and D > 1
    if diag and K >= GEMM_MIN_K:
        block = rb.shape[1]
        for d in range(D):
            for i in range(nb):
                v = np.float64(xt[d, i])
                x64[d, i] = v
                x2[d, i] = v * v
            for i in range(nb, block):
                x64[d, i] = 0.0
                x2[d, i] = 0.0
        sx += np.dot(rb, x64.T)
        sxx[:, 0, :] += np.dot(rb, x2.T)
        return
    zero = 0.0
    for k in range(K):
        for l in range(D):
            if diag:
                a = zero
                b = zero
                for i in range(nb):
                    v = rb[k, i] * xt[l, i]
                    a += v
                    b += v * np.float64(xt[l, i])
                sx[k, l] += a
                sxx[k, 0, l] += b
            else:
                a = zero
                for i in range(nb):
                    a += rb[k, i] * xt[l, i]
                sx[k, l] += a
                for j in range(l, D):
                    b = zero
                    for i in range(nb):
                        b += rb[k, i] * xt[l, i] * np.float64(xt[j, i])
                    sxx[k, l, j] += b


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _statistics_sparse(xt, rb, nb, sx, sxx, xr):
    """As _statistics_dense, row by row, skipping components whose responsibility is
    exactly zero (underflow): exact, and far cheaper when components are separated."""
    K, D = sx.shape
    diag = sxx.shape[1] == 1 and D > 1
    for i in range(nb):
        for d in range(D):
            xr[d] = xt[d, i]
        for k in range(K):
            r = rb[k, i]
            if r == 0.0:
                continue
            for l in range(D):
                v = r * xr[l]
                sx[k, l] += v
                if diag:
                    sxx[k, 0, l] += v * xr[l]
                else:
                    for j in range(l, D):
                        sxx[k, l, j] += v * xr[j]


@njit(cache=True, nogil=True)
def _buffers(K, D, block, dt):
    """Scratch for one block: transposed rows, triangular products, densities, exp bits."""
    return (np.empty((D, block), dtype=dt), np.empty((D + 1, block), dtype=dt),
            np.empty(block, dtype=dt), np.empty((K + 1, block)),
            np.empty((K + 1, block), dtype=np.int64), np.empty(block), np.empty(block))


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def em_range(X, sw, lo, hi, shift, means, prec, logc, log_noise, nk, sx, sxx, block):
    """Accumulate weighted nk (K+1; last = noise), sx and sxx over rows lo:hi of the
    shifted data; return sum_i w_i log p(x_i). ``sw`` empty means unit weights."""
    K, D = means.shape
    dt = X.dtype
    has_w = sw.shape[0] > 0
    xt, y, s, lp, bits, m, lse = _buffers(K, D, block, dt)
    w = np.ones(block)
    rb = np.zeros((K, block))  # float64: raw second moments cancel in float32
    xr = np.empty(D)
    x64 = np.empty((D, block))
    x2 = np.empty((D, block))
    ll = 0.0
    for b0 in range(lo, hi, block):
        nb = min(block, hi - b0)
        _load_block(X, b0, nb, shift, xt)
        _density(xt, nb, means, prec, logc, lp, y, s)
        _normalise(lp, K, nb, log_noise, bits, m, lse)
        if has_w:
            for i in range(nb):
                w[i] = sw[b0 + i]
        for i in range(nb):
            if w[i] != 0.0:  # zero weight: the row changes nothing (even if its density is 0)
                ll += w[i] * lse[i]
        for k in range(K + 1):
            acc = 0.0
            for i in range(nb):
                acc += lp[k, i] * w[i]
            nk[k] += acc
        # Responsibilities below R_SKIP add less than float64 round-off to the sums;
        # dropping them lets well-separated components skip most rows.
        nnz = 0
        for k in range(K):
            for i in range(nb):
                rb[k, i] = lp[k, i] * w[i] if lp[k, i] > R_SKIP else 0.0
                nnz += rb[k, i] != 0.0
        if nnz * 4 < K * nb:
            _statistics_sparse(xt, rb, nb, sx, sxx, xr)
        else:
            _statistics_dense(xt, rb, nb, sx, sxx, x64, x2)
    return ll


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def score_range(X, lo, hi, shift, means, prec, logc, log_noise, out_lse, out_resp, out_label,
                block):
    """Per-row log p(x) into out_lse; responsibilities into out_resp (if it has rows;
    K or K+1 columns, the last = noise) and labels (-1 = noise) into out_label (if it has rows)."""
    K, D = means.shape
    xt, y, s, lp, bits, m, lse = _buffers(K, D, block, X.dtype)
    want_resp = out_resp.shape[0] > 0
    n_resp = out_resp.shape[1]
    want_label = out_label.shape[0] > 0
    for b0 in range(lo, hi, block):
        nb = min(block, hi - b0)
        _load_block(X, b0, nb, shift, xt)
        _density(xt, nb, means, prec, logc, lp, y, s)
        _normalise(lp, K, nb, log_noise, bits, m, lse)
        for i in range(nb):
            out_lse[b0 + i] = lse[i]
        if want_resp:
            for i in range(nb):
                for k in range(n_resp):
                    out_resp[b0 + i, k] = lp[k, i]
        if want_label:
            for i in range(nb):
                best = 0
                for k in range(1, K):
                    if lp[k, i] > lp[best, i]:
                        best = k
                out_label[b0 + i] = -1 if lp[K, i] > lp[best, i] else best
