"""Fused EM kernels: one pass over a row range does log-densities, log-sum-exp,
responsibilities and sufficient statistics together.

Rows are processed in blocks of ``block`` rows, transposed into a (D, block)
buffer so that every inner loop runs over rows, contiguous and vectorisable
(the exp of a whole block is one polynomial loop). Precisions are Cholesky
factors: full/tied pass ``prec`` as (K, D, D) upper-triangular ``U_k``
(precision = U U^T, sklearn's convention); diag/spherical pass (K, 1, D) holding
1/sigma. The same shapes select the statistics: ``sxx`` is (K, D, D) upper
triangle of sum r x x^T, or (K, 1, D) sum r x^2.

Precision: densities, log-sum-exp and responsibilities are computed in the
data's dtype (float32 data get twice the vector lanes), and so are each block's
diagonal statistics; every block's sums are added into float64 accumulators,
and full-covariance sums are float64 throughout (see _statistics_dense). Within
a block the sums are centred on each component's current mean, so they do not
suffer the cancellation of raw second moments minus squared means.

Kernels release the GIL and take a row range, so the engine runs them on row
chunks from a thread pool, each chunk with its own accumulators.
"""
import numpy as np
from numba import njit

from ._common import FASTMATH, exp_bits, exp_block

R_SKIP = 1e-15
GEMM_MIN_K = 128


@njit(cache=True, nogil=True)
def _const(dt, v):
    """v as a scalar of dtype dt (Numba types a bare float literal as float64,
    which would promote float32 loops to float64)."""
    c = np.empty(1, dtype=dt)
    c[0] = v
    return c[0]


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _load_block(X, b0, nb, shift, xt):
    D = X.shape[1]
    for i in range(nb):
        for d in range(D):
            xt[d, i] = X[b0 + i, d] - shift[d]


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _density(xt, nb, means, prec, logc, lp, y, s, half):
    """lp[k, :nb] = log w_k + log N(x | mu_k, Sigma_k) for the block in xt."""
    K, D = means.shape
    diag = prec.shape[1] == 1 and D > 1
    D4 = D - D % 4
    for k in range(K):
        for i in range(nb):
            s[i] = 0.0
        if diag:
            # four coordinates per sweep: s[i] is loaded and stored a quarter as often
            for d in range(0, D4, 4):
                m0, m1, m2, m3 = means[k, d], means[k, d + 1], means[k, d + 2], means[k, d + 3]
                p0, p1, p2, p3 = prec[k, 0, d], prec[k, 0, d + 1], prec[k, 0, d + 2], prec[k, 0, d + 3]
                for i in range(nb):
                    t0 = (xt[d, i] - m0) * p0
                    t1 = (xt[d + 1, i] - m1) * p1
                    t2 = (xt[d + 2, i] - m2) * p2
                    t3 = (xt[d + 3, i] - m3) * p3
                    s[i] += (t0 * t0 + t1 * t1) + (t2 * t2 + t3 * t3)
            for d in range(D4, D):
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
            lp[k, i] = c - half * s[i]


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
        if m[i] == -np.inf:  # no component gives the row a density (a squared distance overflowed)
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
        if lse[i] > 0.0:
            inv = 1.0 / lse[i]
            lse[i] = m[i] + np.log(lse[i])
            m[i] = inv
        else:  # log p(x) = -inf, and equal shares among the Gaussians (the caller refuses a fit)
            lse[i] = -np.inf
            m[i] = 1.0
            lp[n_comp, i] = 0.0
            for k in range(n_comp):
                lp[k, i] = 1.0 / n_comp
    for k in range(n_comp + 1):
        for i in range(nb):
            lp[k, i] *= m[i]


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _statistics_dense(xt, rb, nb, means, sx, sxx, yc, r64, ca, rb64, x64, x2, zero):
    """sx[k] += sum_i r x; sxx[k] += sum_i r x x^T (upper) or r x^2 (diag).

    Sums are taken about each component's current mean, then moved to the
    origin in float64 with r_sum = the float64 sum of r (the same as nk's, so
    the M-step's sxx/nk - mean^2 cancels exactly). Diagonal sums run in the
    data's dtype: a sum of squares loses only its own relative precision.
    Full sums run in float64: float32 cross-products would put ~1e-7 noise on
    every covariance eigenvalue, as large as reg_covar on a collapsing component
    (measured: EM oscillating instead of converging). With many components,
    diagonal statistics are two float64 matrix products, (K, block) @ (block, D),
    which BLAS (one thread per worker) does better than loops: measured 2x per
    iteration at K=256, D=60, but slower at K=64, D=39."""
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
        for k in range(K):
            for i in range(nb):
                rb64[k, i] = rb[k, i]
            for i in range(nb, block):
                rb64[k, i] = 0.0
        sx += np.dot(rb64, x64.T)
        sxx[:, 0, :] += np.dot(rb64, x2.T)
        return
    for k in range(K):
        r_sum = 0.0
        for i in range(nb):
            r64[i] = rb[k, i]
            r_sum += r64[i]
        if r_sum == 0.0:
            continue
        for l in range(D):
            mu = means[k, l]
            m64 = np.float64(mu)
            if diag:
                a = zero
                b = zero
                for i in range(nb):
                    t = xt[l, i] - mu
                    v = rb[k, i] * t
                    a += v
                    b += v * t
                a64 = np.float64(a)
                sx[k, l] += a64 + r_sum * m64
                sxx[k, 0, l] += np.float64(b) + m64 * (2.0 * a64 + r_sum * m64)
            else:
                a64 = 0.0
                for i in range(nb):
                    t = np.float64(xt[l, i]) - m64  # exact for float32 data
                    yc[l, i] = t
                    a64 += r64[i] * t
                ca[l] = a64
        if diag:
            continue
        for l in range(D):
            ml = np.float64(means[k, l])
            sx[k, l] += ca[l] + r_sum * ml
            for j in range(l, D):
                b64 = 0.0
                for i in range(nb):
                    b64 += r64[i] * yc[l, i] * yc[j, i]
                mj = np.float64(means[k, j])
                sxx[k, l, j] += b64 + ml * ca[j] + mj * ca[l] + r_sum * ml * mj


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _statistics_sparse(X, b0, shift, rb, nb, sx, sxx, xr):
    """As _statistics_dense for blocks where most responsibilities are zero
    (underflow, separated components), in float64: component by component, only
    the rows with a non-zero responsibility, each read from X's contiguous row
    (a column of the transposed block would cost a cache line per coordinate)."""
    K, D = sx.shape
    diag = sxx.shape[1] == 1 and D > 1
    for k in range(K):
        for i in range(nb):
            if rb[k, i] == 0:
                continue
            r = np.float64(rb[k, i])
            if diag:  # one fused sweep: no centred copy of the row
                sxk, sxxk, xi = sx[k], sxx[k, 0], X[b0 + i]
                for l in range(D):
                    x = np.float64(xi[l]) - np.float64(shift[l])
                    v = r * x
                    sxk[l] += v
                    sxxk[l] += v * x
                continue
            for l in range(D):
                xr[l] = np.float64(X[b0 + i, l]) - np.float64(shift[l])
            for l in range(D):
                v = r * xr[l]
                sx[k, l] += v
                for j in range(l, D):
                    sxx[k, l, j] += v * xr[j]


@njit(cache=True, nogil=True)
def _buffers(K, D, block, dt):
    """Scratch for one block, in the data's dtype: transposed rows, triangular
    products, squared distances, densities/responsibilities, exp bits, row maxima, log p."""
    lp = np.empty((K + 1, block), dtype=dt)
    return (np.empty((D, block), dtype=dt), np.empty((D + 1, block), dtype=dt),
            np.empty(block, dtype=dt), lp, exp_bits(lp), np.empty(block, dtype=dt),
            np.empty(block, dtype=dt))


@njit(cache=True, nogil=True)
def statistics_scratch(K, D, block, dt, itemsize, diag_layout):
    """Scratch of the statistics step for one block (responsibilities, float64 copies, the
    GEMM path's buffers when the diagonal family has K >= GEMM_MIN_K) and the sparse/dense
    switch ``sparse_div``: the sparse path runs while non-zeros * sparse_div < K * rows.
    Shared by the EM and HMM kernels, so the measured crossover is written once."""
    diag = diag_layout and D > 1
    gemm = diag and K >= GEMM_MIN_K
    # Sparse statistics cost ~10-70 ns per non-zero responsibility, dense ones a
    # vectorised pass over the whole block; measured crossovers (share of non-zeros):
    # ~22% diag float64, ~10% diag float32 (twice the lanes dense), 7-10% full with
    # small D, 20-24% full with D=32.
    if diag:
        sparse_div = 4 if itemsize == 8 else 10
    else:
        sparse_div = 4 if D * (D + 1) // 2 >= 100 else 10
    return (np.zeros((K, block), dtype=dt), np.empty(D), np.empty(block),
            np.empty((D, 0 if diag else block)), np.empty((K, block if gemm else 0)),
            np.empty((D, block if gemm else 0)), np.empty((D, block if gemm else 0)), sparse_div)


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def em_range(X, sw, lo, hi, shift, means, prec, logc, log_noise, nk, sx, sxx, block):
    """Accumulate weighted nk (K+1; last = noise), sx and sxx over rows lo:hi of the
    shifted data; return sum_i w_i log p(x_i). ``sw`` empty means unit weights."""
    K, D = means.shape
    dt = X.dtype
    has_w = sw.shape[0] > 0
    xt, y, s, lp, bits, m, lse = _buffers(K, D, block, dt)
    w = np.ones(block, dtype=dt)
    zero = _const(dt, 0.0)
    skip = _const(dt, R_SKIP)
    half = _const(dt, 0.5)
    rb, ca, r64, yc, rb64, x64, x2, sparse_div = statistics_scratch(K, D, block, dt, X.itemsize, sxx.shape[1] == 1)
    ll = 0.0
    for b0 in range(lo, hi, block):
        nb = min(block, hi - b0)
        _load_block(X, b0, nb, shift, xt)
        _density(xt, nb, means, prec, logc, lp, y, s, half)
        _normalise(lp, K, nb, log_noise, bits, m, lse)
        if has_w:
            for i in range(nb):
                w[i] = sw[b0 + i]
        for i in range(nb):
            if w[i] != 0.0:  # zero weight: the row changes nothing (even if its density is 0)
                ll += np.float64(w[i]) * np.float64(lse[i])
        # Responsibilities below R_SKIP add less than float64 round-off to the sums;
        # dropping them lets well-separated components skip most rows.
        # nk is summed in float64, as the statistics' own weights are: the M-step's
        # variance sxx/nk - (sx/nk)^2 would amplify a float32-level mismatch by mean^2.
        nnz = 0
        for k in range(K):
            acc = 0.0
            for i in range(nb):
                r = lp[k, i] * w[i]
                acc += np.float64(r)
                rb[k, i] = r if lp[k, i] > skip else zero
                nnz += rb[k, i] != zero
            nk[k] += acc
        acc = 0.0
        for i in range(nb):
            acc += np.float64(lp[K, i] * w[i])
        nk[K] += acc
        if nnz * sparse_div < K * nb:
            _statistics_sparse(X, b0, shift, rb, nb, sx, sxx, ca)
        else:
            _statistics_dense(xt, rb, nb, means, sx, sxx, yc, r64, ca, rb64, x64, x2, zero)
    return ll


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def score_range(X, lo, hi, shift, means, prec, logc, log_noise, out_lse, out_resp, out_label,
                block):
    """Per-row log p(x) into out_lse; responsibilities into out_resp (if it has rows;
    K or K+1 columns, the last = noise) and labels (-1 = noise) into out_label (if it has rows)."""
    K, D = means.shape
    xt, y, s, lp, bits, m, lse = _buffers(K, D, block, X.dtype)
    half = _const(X.dtype, 0.5)
    want_resp = out_resp.shape[0] > 0
    n_resp = out_resp.shape[1]
    want_label = out_label.shape[0] > 0
    for b0 in range(lo, hi, block):
        nb = min(block, hi - b0)
        _load_block(X, b0, nb, shift, xt)
        _density(xt, nb, means, prec, logc, lp, y, s, half)
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
