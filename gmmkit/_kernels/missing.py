"""EM with missing values (NaN): every missingness pattern in one kernel call.

Rows arrive sorted by pattern, each pattern's observed values packed row by row
into one flat array; ``idx[p]`` lists pattern p's observed columns, then its
missing ones (each ascending), ``n_obs[p]`` how many are observed. Per pattern
the kernel marginalises the mixture to the observed coordinates (float64
Cholesky of each Sigma_oo), runs the ordinary fused pass of :mod:`.em` on the
pattern's block, and completes the missing block of the statistics in closed
form (see :mod:`gmmkit._missing` for the formulas); the regression on x_o that
the completion needs is only formed for components with responsibility in the
pattern (40% of (pattern, component) pairs have none on page-blocks with 20%
MCAR). The Python-level cost per pattern was ~0.6 ms per iteration; here it is
a few microseconds.

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
def _factor_oo(S, o, d_o, start, L, U, ld):
    """S[o, o] = L L^T and U = inv(L)^T, its upper precision factor; ld[j] = log det U[:j+1, :j+1].

    Rows below ``start`` are kept from the previous call: the leading rows of L and
    of inv(L) depend only on the leading block of S[o, o], which consecutive
    patterns (in np.unique order) often share; this halves the factorisation work
    on 10-30% MCAR data. Returns False if S[o, o] is not numerically positive definite."""
    for i in range(start, d_o):
        for j in range(i):
            v = S[o[i], o[j]]
            for t in range(j):
                v -= L[i, t] * L[j, t]
            L[i, j] = v * U[j, j]
        v = S[o[i], o[i]]
        for t in range(i):
            v -= L[i, t] * L[i, t]
        if not v > 0.0:
            return False
        L[i, i] = math.sqrt(v)
        U[i, i] = 1.0 / L[i, i]
        ld[i] = (ld[i - 1] if i > 0 else 0.0) - 0.5 * math.log(v)
        # row i of inv(L), stored as column i of U
        for j in range(i):
            v = 0.0
            for t in range(j, i):
                v -= L[i, t] * U[j, t]
            U[j, i] = v * U[i, i]
            U[i, j] = 0.0
    return True


@njit(cache=True, nogil=True)
def workspace(C, D):
    """Scratch of :func:`marginal` and :func:`conditional` for C covariances of dimension D:
    (L, U, log-determinants, W, B, c, cond)."""
    return (np.empty((C, D, D)), np.empty((C, D, D)), np.empty((C, D)), np.empty((D, D)),
            np.empty((D, D)), np.empty(D), np.empty((D, D)))


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def marginal(means, cov, logw, idx, d_o, dt, start, L, U, ld):
    """The mixture marginalised to columns idx[:d_o], as em_range takes it in dtype ``dt``:
    (means_o (K, d_o), prec_o, logc (K,), ok); prec_o is (K, d_o, d_o) upper factors, or
    (K, 1, d_o) 1/sigma for the diagonal family. Full family: U[q] keeps the factor of
    component q (q = 0 when tied) for :func:`conditional`; rows below ``start`` of
    (L, U, ld) are reused. ``ok`` is False if some Sigma_oo is not positive definite."""
    K, D = means.shape
    C = cov.shape[0]
    diag = cov.shape[1] == 1 and D > 1
    means_o = np.empty((K, d_o), dtype=dt)
    prec_o = np.zeros((K, 1 if diag else d_o, d_o), dtype=dt)
    logc = np.empty(K, dtype=dt)
    logdet = np.zeros(C)
    for q in range(C):
        if diag:
            for j in range(d_o):
                p = 1.0 / math.sqrt(cov[q, 0, idx[j]])
                prec_o[q, 0, j] = p
                logdet[q] += math.log(p)
            continue
        if not _factor_oo(cov[q], idx, d_o, start, L[q], U[q], ld[q]):
            return means_o, prec_o, logc, False
        logdet[q] = ld[q, d_o - 1]
        for kk in range(K if C == 1 else 1):  # tied: every component shares U
            for i in range(d_o):
                for j in range(i, d_o):
                    prec_o[q + kk, i, j] = U[q, i, j]
    for k in range(K):
        for j in range(d_o):
            means_o[k, j] = means[k, idx[j]]
        logc[k] = logw[k] + logdet[k if C > 1 else 0] - d_o * _HALF_LOG_2PI
    return means_o, prec_o, logc, True


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def conditional(means, cov, idx, d_o, k, U, W, B, c, cond, with_B):
    """Law of x_m = x[idx[d_o:]] given x_o under component k (full family, after
    :func:`marginal`): E = c + B x_o, Cov = cond (top-left blocks of the arrays).
    B = S_mo Sigma_oo^-1 = W U^T with W = S_mo U, cond = S_mm - W W^T. With
    ``with_B`` False (tied, B already formed for this pattern) only c is made."""
    D = means.shape[1]
    d_m = D - d_o
    q = k if cov.shape[0] > 1 else 0
    S, Uq = cov[q], U[q]
    if with_B:
        for a in range(d_m):
            ma = idx[d_o + a]
            for j in range(d_o):
                v = 0.0
                for i in range(j + 1):
                    v += S[ma, idx[i]] * Uq[i, j]
                W[a, j] = v
            for i in range(d_o):
                v = 0.0
                for j in range(i, d_o):
                    v += W[a, j] * Uq[i, j]
                B[a, i] = v
        for a in range(d_m):
            for b in range(a, d_m):
                v = S[idx[d_o + a], idx[d_o + b]]
                for j in range(d_o):
                    v -= W[a, j] * W[b, j]
                cond[a, b] = v
                cond[b, a] = v
    for a in range(d_m):
        v = means[k, idx[d_o + a]]
        for j in range(d_o):
            v -= B[a, j] * means[k, idx[j]]
        c[a] = v


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _complete(means, cov, idx, d_o, nk_p, sx_p, sxx_p, sx, sxx, work, So, Bsx, BS):
    """Add one pattern's observed-block statistics, completed over all D coordinates,
    into sx (K, D) and sxx ((K, D, D) upper triangle, or (K, 1, D))."""
    K, D = means.shape
    diag = sxx.shape[1] == 1 and D > 1
    d_m = D - d_o
    _, U, _, W, B, c, cond = work
    have_B = False
    for k in range(K):
        n = nk_p[k]
        if n == 0.0:  # no responsibility in this pattern: nothing to add
            continue
        for i in range(d_o):
            sx[k, idx[i]] += sx_p[k, i]
        if diag:
            for i in range(d_o):
                sxx[k, 0, idx[i]] += sxx_p[k, 0, i]
            for a in range(d_m):
                g = idx[d_o + a]
                mu = means[k, g]
                sx[k, g] += n * mu
                sxx[k, 0, g] += n * (mu * mu + cov[k, 0, g])
            continue
        for i in range(d_o):
            for j in range(i, d_o):
                v = sxx_p[k, i, j]
                sxx[k, idx[i], idx[j]] += v
                So[i, j] = v
                So[j, i] = v
        if d_m == 0:
            continue
        conditional(means, cov, idx, d_o, k, U, W, B, c, cond, cov.shape[0] > 1 or not have_B)
        have_B = True
        for a in range(d_m):
            g = idx[d_o + a]
            v = 0.0
            for i in range(d_o):
                v += B[a, i] * sx_p[k, i]
            Bsx[a] = v
            sx[k, g] += c[a] * n + v
            # sum r x_m x_o^T = c sx_o^T + B S_oo, into the upper triangle
            for j in range(d_o):
                v = 0.0
                for i in range(d_o):
                    v += B[a, i] * So[i, j]
                BS[a, j] = v
                v += c[a] * sx_p[k, j]
                if g < idx[j]:
                    sxx[k, g, idx[j]] += v
                else:
                    sxx[k, idx[j], g] += v
        # sum r x_m x_m^T = nk (c c^T + cond) + c (B sx_o)^T + (B sx_o) c^T + B S_oo B^T
        for a in range(d_m):
            for b in range(a, d_m):
                v = 0.0
                for j in range(d_o):
                    v += BS[a, j] * B[b, j]
                v += n * (c[a] * c[b] + cond[a, b]) + c[a] * Bsx[b] + Bsx[a] * c[b]
                sxx[k, idx[d_o + a], idx[d_o + b]] += v


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _log_noise(log_pi0, log_widths, idx, d_o):
    # the uniform noise density over the observed coordinates' box only
    v = log_pi0
    for j in range(d_o):
        v -= log_widths[idx[j]]
    return v


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def em_patterns(values, offsets, starts, idx, n_obs, prefix, blocks, sw, lo, hi, shift, means,
                cov, logw, log_widths, log_pi0, nk, sx, sxx):
    """Accumulate nk (K+1), sx (K, D) and sxx over the sorted rows lo:hi of every
    pattern they meet, statistics completed over all D coordinates. Returns
    (sum w log p, ok); ok is False if some Sigma_oo is not positive definite."""
    K, D = means.shape
    dt = values.dtype
    diag = sxx.shape[1] == 1 and D > 1
    work = workspace(cov.shape[0], D)
    L, U, ld = work[0], work[1], work[2]
    So = np.empty((D, D))
    Bsx = np.empty(D)
    BS = np.empty((D, D))
    prev = -2
    ll = 0.0
    for p in range(starts.shape[0] - 1):
        s0, s1 = starts[p], starts[p + 1]
        if s1 <= lo or s0 >= hi:
            continue
        d_o = n_obs[p]
        pidx = idx[p]
        means_o, prec_o, logc, ok = marginal(means, cov, logw, pidx, d_o, dt,
                                             prefix[p] if prev == p - 1 else 0, L, U, ld)
        prev = p
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
        _complete(means, cov, pidx, d_o, nk_p, sx_p, sxx_p, sx, sxx, work, So, Bsx, BS)
    return ll, True


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def score_patterns(values, offsets, starts, idx, n_obs, prefix, blocks, means, cov, logw,
                   log_widths, log_pi0, out_lse, out_resp, out_label):
    """score_range over every pattern's block with its marginal mixture (rows in
    sorted order; out_resp / out_label with no rows are not filled). Returns ok."""
    dt = values.dtype
    want_resp = out_resp.shape[0] > 0
    want_label = out_label.shape[0] > 0
    L, U, ld = workspace(cov.shape[0], means.shape[1])[:3]
    for p in range(starts.shape[0] - 1):
        s0, s1 = starts[p], starts[p + 1]
        d_o = n_obs[p]
        pidx = idx[p]
        means_o, prec_o, logc, ok = marginal(means, cov, logw, pidx, d_o, dt, prefix[p], L, U, ld)
        if not ok:
            return False
        Xp = values[offsets[p]:offsets[p + 1]].reshape((s1 - s0, d_o))
        score_range(Xp, 0, s1 - s0, np.zeros(d_o, dtype=dt), means_o, prec_o, logc,
                    _log_noise(log_pi0, log_widths, pidx, d_o), out_lse[s0:s1],
                    out_resp[s0:s1] if want_resp else out_resp,
                    out_label[s0:s1] if want_label else out_label, blocks[p])
    return True
