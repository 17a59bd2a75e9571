"""EM with missing values (NaN): every missingness pattern in one kernel call.

Rows arrive sorted by pattern, each pattern's observed values packed row by row
into one flat array; ``idx[p]`` lists pattern p's observed columns, then its
missing ones (each ascending), ``n_obs[p]`` how many are observed. Per pattern
the kernel marginalises the mixture to the observed coordinates (float64
Cholesky of each Sigma_oo), runs the ordinary fused pass of :mod:`.em` on the
pattern's block, and completes the missing block of the statistics in closed
form (see :mod:`gmmkit._missing` for the formulas). The Python-level cost per
pattern was ~0.6 ms per iteration; here it is a few microseconds.

Covariances arrive as (C, D, D) for the full family, C = K, or C = 1 for a tied
covariance (then factored once per pattern), or as (K, 1, D) variances for the
diagonal family (diag, spherical), the shape convention of the em kernels'
precision factors.
"""
import math

import numpy as np
from numba import njit

from ._common import FASTMATH
from .em import em_range, score_range

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _factor_oo(S, o, d_o, L, U):
    """U = inv(L)^T, the upper precision factor of S[o, o] = L L^T (float64).
    Returns False if S[o, o] is not numerically positive definite."""
    for j in range(d_o):
        s = S[o[j], o[j]]
        for t in range(j):
            s -= L[j, t] * L[j, t]
        if not s > 0.0:
            return False
        L[j, j] = math.sqrt(s)
        for i in range(j + 1, d_o):
            v = S[o[i], o[j]]
            for t in range(j):
                v -= L[i, t] * L[j, t]
            L[i, j] = v / L[j, j]
    # inv(L) column by column (forward substitution), stored transposed as U
    for j in range(d_o):
        for i in range(j):
            U[j, i] = 0.0
        U[j, j] = 1.0 / L[j, j]
        for i in range(j + 1, d_o):
            v = 0.0
            for t in range(j, i):
                v -= L[i, t] * U[j, t]
            U[j, i] = v / L[i, i]
    return True


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def marginal(means, cov, logw, idx, d_o, dt):
    """The mixture marginalised to columns idx[:d_o], and the conditional law of idx[d_o:].

    Returns (means_o (K, d_o), prec_o, logc (K,)) in dtype ``dt`` as em_range takes
    them (prec_o: (K, d_o, d_o) upper factors, or (K, 1, d_o) 1/sigma), and float64
    (B, c, cond, ok): E[x_m | x_o, k] = c[k] + B[q] x_o and Cov[x_m | x_o, k] = cond[q]
    with q = k (or 0 when tied); the diagonal family has no B and cond (K, 1, d_m)
    variances. ``ok`` is False if some Sigma_oo is not positive definite."""
    K, D = means.shape
    C = cov.shape[0]
    diag = cov.shape[1] == 1 and D > 1
    d_m = D - d_o
    o = idx[:d_o]
    m = idx[d_o:]
    means_o = np.empty((K, d_o), dtype=dt)
    prec_o = np.zeros((K, 1 if diag else d_o, d_o), dtype=dt)
    logc = np.empty(K, dtype=dt)
    logdet = np.zeros(C)
    c = np.empty((K, d_m))
    if diag:
        B = np.zeros((C, d_m, 0))
        cond = np.empty((C, 1, d_m))
        for q in range(C):
            for j in range(d_o):
                p = 1.0 / math.sqrt(cov[q, 0, o[j]])
                prec_o[q, 0, j] = p
                logdet[q] += math.log(p)
            for a in range(d_m):
                cond[q, 0, a] = cov[q, 0, m[a]]
    else:
        B = np.empty((C, d_m, d_o))
        cond = np.empty((C, d_m, d_m))
        L = np.empty((d_o, d_o))
        U = np.empty((d_o, d_o))
        W = np.empty((d_m, d_o))
        for q in range(C):
            S = cov[q]
            if not _factor_oo(S, o, d_o, L, U):
                return means_o, prec_o, logc, B, c, cond, False
            for j in range(d_o):
                logdet[q] += math.log(U[j, j])
            for kk in range(K if C == 1 else 1):  # tied: every component shares U
                for i in range(d_o):
                    for j in range(i, d_o):
                        prec_o[q + kk, i, j] = U[i, j]
            # W = S_mo U; B = W U^T = S_mo Sigma_oo^-1; cond = S_mm - W W^T
            for a in range(d_m):
                for j in range(d_o):
                    v = 0.0
                    for i in range(j + 1):
                        v += S[m[a], o[i]] * U[i, j]
                    W[a, j] = v
                for i in range(d_o):
                    v = 0.0
                    for j in range(i, d_o):
                        v += W[a, j] * U[i, j]
                    B[q, a, i] = v
            for a in range(d_m):
                for b in range(d_m):
                    v = S[m[a], m[b]]
                    for j in range(d_o):
                        v -= W[a, j] * W[b, j]
                    cond[q, a, b] = v
    for k in range(K):
        q = k if C > 1 else 0
        for j in range(d_o):
            means_o[k, j] = means[k, o[j]]
        logc[k] = logw[k] + logdet[q] - d_o * _HALF_LOG_2PI
        for a in range(d_m):
            v = means[k, m[a]]
            if not diag:
                for j in range(d_o):
                    v -= B[q, a, j] * means[k, o[j]]
            c[k, a] = v
    return means_o, prec_o, logc, B, c, cond, True


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _complete(means, idx, d_o, B, c, cond, nk_p, sx_p, sxx_p, sx, sxx, So, Bsx, BS):
    """Add one pattern's observed-block statistics, completed over all D coordinates,
    into sx (K, D) and sxx ((K, D, D) upper triangle, or (K, 1, D))."""
    K, D = means.shape
    C = B.shape[0]
    diag = sxx.shape[1] == 1 and D > 1
    d_m = D - d_o
    for k in range(K):
        n = nk_p[k]
        if n == 0.0:  # no responsibility in this pattern: nothing to add
            continue
        q = k if C > 1 else 0
        for i in range(d_o):
            sx[k, idx[i]] += sx_p[k, i]
        if diag:
            for i in range(d_o):
                sxx[k, 0, idx[i]] += sxx_p[k, 0, i]
            for a in range(d_m):
                g = idx[d_o + a]
                mu = means[k, g]
                sx[k, g] += n * mu
                sxx[k, 0, g] += n * (mu * mu + cond[q, 0, a])
            continue
        for i in range(d_o):
            for j in range(i, d_o):
                v = sxx_p[k, i, j]
                sxx[k, idx[i], idx[j]] += v
                So[i, j] = v
                So[j, i] = v
        for a in range(d_m):
            g = idx[d_o + a]
            v = 0.0
            for i in range(d_o):
                v += B[q, a, i] * sx_p[k, i]
            Bsx[a] = v
            sx[k, g] += c[k, a] * n + v
            # sum r x_m x_o^T = c sx_o^T + B S_oo, into the upper triangle
            for j in range(d_o):
                v = 0.0
                for i in range(d_o):
                    v += B[q, a, i] * So[i, j]
                BS[a, j] = v
                v += c[k, a] * sx_p[k, j]
                if g < idx[j]:
                    sxx[k, g, idx[j]] += v
                else:
                    sxx[k, idx[j], g] += v
        # sum r x_m x_m^T = nk (c c^T + cond) + c (B sx_o)^T + (B sx_o) c^T + B S_oo B^T
        for a in range(d_m):
            for b in range(a, d_m):
                v = 0.0
                for j in range(d_o):
                    v += BS[a, j] * B[q, b, j]
                v += (n * (c[k, a] * c[k, b] + cond[q, a, b]) + c[k, a] * Bsx[b]
                      + Bsx[a] * c[k, b])
                sxx[k, idx[d_o + a], idx[d_o + b]] += v


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _log_noise(log_pi0, log_widths, idx, d_o):
    # the uniform noise density over the observed coordinates' box only
    v = log_pi0
    for j in range(d_o):
        v -= log_widths[idx[j]]
    return v


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def em_patterns(values, offsets, starts, idx, n_obs, blocks, sw, lo, hi, shift, means, cov,
                logw, log_widths, log_pi0, nk, sx, sxx):
    """Accumulate nk (K+1), sx (K, D) and sxx over the sorted rows lo:hi of every
    pattern they meet, statistics completed over all D coordinates. Returns
    (sum w log p, ok); ok is False if some Sigma_oo is not positive definite."""
    K, D = means.shape
    dt = values.dtype
    diag = sxx.shape[1] == 1 and D > 1
    So = np.empty((D, D))
    Bsx = np.empty(D)
    BS = np.empty((D, D))
    ll = 0.0
    for p in range(starts.shape[0] - 1):
        s0, s1 = starts[p], starts[p + 1]
        if s1 <= lo or s0 >= hi:
            continue
        d_o = n_obs[p]
        pidx = idx[p]
        means_o, prec_o, logc, B, c, cond, ok = marginal(means, cov, logw, pidx, d_o, dt)
        if not ok:
            return ll, False
        Xp = values[offsets[p]:offsets[p + 1]].reshape((s1 - s0, d_o))
        swp = sw[s0:s1] if sw.shape[0] > 0 else sw
        shift_o = np.empty(d_o, dtype=dt)
        for j in range(d_o):
            shift_o[j] = shift[pidx[j]]
        nk_p = np.zeros(K + 1)
        sx_p = np.zeros((K, d_o))
        sxx_p = np.zeros((K, 1 if diag else d_o, d_o))
        ll += em_range(Xp, swp, max(lo, s0) - s0, min(hi, s1) - s0, shift_o, means_o, prec_o,
                       logc, _log_noise(log_pi0, log_widths, pidx, d_o), nk_p, sx_p, sxx_p,
                       blocks[p])
        for k in range(K + 1):
            nk[k] += nk_p[k]
        _complete(means, pidx, d_o, B, c, cond, nk_p, sx_p, sxx_p, sx, sxx, So, Bsx, BS)
    return ll, True


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def score_patterns(values, offsets, starts, idx, n_obs, blocks, means, cov, logw, log_widths,
                   log_pi0, out_lse, out_resp, out_label):
    """score_range over every pattern's block with its marginal mixture (rows in
    sorted order; out_resp / out_label with no rows are not filled). Returns ok."""
    dt = values.dtype
    want_resp = out_resp.shape[0] > 0
    want_label = out_label.shape[0] > 0
    for p in range(starts.shape[0] - 1):
        s0, s1 = starts[p], starts[p + 1]
        d_o = n_obs[p]
        pidx = idx[p]
        means_o, prec_o, logc, _, _, _, ok = marginal(means, cov, logw, pidx, d_o, dt)
        if not ok:
            return False
        Xp = values[offsets[p]:offsets[p + 1]].reshape((s1 - s0, d_o))
        score_range(Xp, 0, s1 - s0, np.zeros(d_o, dtype=dt), means_o, prec_o, logc,
                    _log_noise(log_pi0, log_widths, pidx, d_o), out_lse[s0:s1],
                    out_resp[s0:s1] if want_resp else out_resp,
                    out_label[s0:s1] if want_label else out_label, blocks[p])
    return True
