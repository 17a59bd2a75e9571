"""Numba kernels of the GMM-HMM (jitted code only; the driver is :mod:`gmmkit.hmm.source`).

One call handles a range of sequences (``starts[q]:starts[q + 1]`` are the rows of
sequence q), so the engine's thread pool runs it on chunks of sequences, each
chunk with its own accumulators: one level of parallelism.

Per sequence, with S states of M components each (K = S M flattened components):

1. emissions: the EM engine's own block code (``em._load_block``, ``em._density``)
   gives ``LP[k, t] = log w_k + log N(x_t | k)`` in the data's dtype, and
   ``logb[t, s] = logsumexp_m LP[s M + m, t]`` in float64;
2. log-space forward-backward in float64 (one exp and one log per state and
   frame: ``log sum_i exp(a_i) A_ij = m + log sum_i exp(a_i - m) A_ij``), so
   zero transitions stay exactly zero and long sequences do not underflow;
3. statistics in the same call: start and transition counts, and each
   component's ``r = gamma_s(t) w_k N_k(x_t) / b_s(x_t)`` fed to the EM engine's
   own statistics code (``em._statistics_dense``/``_statistics_sparse``), which
   accumulates nk, sx and sxx about the shift in float64.

Memory per thread is O(K T_max) for the longest sequence of the chunk; there is no
frames x components x features temporary.
"""

import numpy as np
from numba import njit

from gmmkit._kernels import register_kernel_module

register_kernel_module(__file__)  # stamped with this file and the core kernels it calls into

from gmmkit._kernels._common import FASTMATH, exp_bits, exp_block  # noqa: E402
from gmmkit._kernels.em import (  # noqa: E402
    R_SKIP,
    _buffers,
    _const,
    _density,
    _load_block,
    _statistics_dense,
    _statistics_sparse,
    statistics_scratch,
)

_CLAMP = 700.0  # exp argument cap in the transition counts (see _backward_counts)


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _emissions(X, t0, T, shift, means, prec, logc, S, M, LP, logb, xt, y, s, lp, z, zbits, half):
    """LP[:, :T] and logb[:T] of the sequence whose first row is t0."""
    K = S * M
    block = xt.shape[1]
    for b0 in range(0, T, block):
        nb = min(block, T - b0)
        _load_block(X, t0 + b0, nb, shift, xt)
        _density(xt, nb, means, prec, logc, lp, y, s, half)
        for k in range(K):
            for i in range(nb):
                LP[k, b0 + i] = lp[k, i]
        if M == 1:  # one component per state: b_s(x) is its density
            for i in range(nb):
                for st in range(S):
                    logb[b0 + i, st] = lp[st, i]
            continue
        for st in range(S):
            for i in range(nb):
                mx = -np.inf
                for m in range(M):
                    mx = max(mx, np.float64(lp[st * M + m, i]))
                logb[b0 + i, st] = mx
            for m in range(M):
                k = st * M + m
                for i in range(nb):
                    mx = logb[b0 + i, st]
                    z[k, i] = np.float64(lp[k, i]) - mx if mx > -np.inf else -np.inf
        exp_block(z, zbits, K, nb)
        for st in range(S):
            for i in range(nb):
                acc = 0.0
                for m in range(M):
                    acc += z[st * M + m, i]
                mx = logb[b0 + i, st]
                if mx > -np.inf:
                    logb[b0 + i, st] = mx + np.log(acc)


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _forward(logb, T, log_start, trans, log_end, alpha, tmp):
    """alpha[t, j] = log p(x_0..x_t, state_t = j); returns log p(x_0..x_{T-1}, end)."""
    S = trans.shape[0]
    for j in range(S):
        alpha[0, j] = log_start[j] + logb[0, j]
    for t in range(1, T):
        mx = -np.inf
        for i in range(S):
            mx = max(mx, alpha[t - 1, i])
        if mx == -np.inf:
            for j in range(S):
                alpha[t, j] = -np.inf
            continue
        for i in range(S):
            tmp[i] = np.exp(alpha[t - 1, i] - mx)
        for j in range(S):
            acc = 0.0
            for i in range(S):
                acc += tmp[i] * trans[i, j]
            alpha[t, j] = logb[t, j] + mx + np.log(acc) if acc > 0 else -np.inf
    mx = -np.inf
    for j in range(S):
        mx = max(mx, alpha[T - 1, j] + log_end[j])
    if mx == -np.inf:
        return -np.inf
    acc = 0.0
    for j in range(S):
        acc += np.exp(alpha[T - 1, j] + log_end[j] - mx)
    return mx + np.log(acc)


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _backward_counts(logb, T, trans, log_end, alpha, ll, beta, u, tmp, ea, xi, want_xi):
    """beta[t, i] = log p(x_{t+1}.. , end | state_t = i); adds the expected transition
    counts xi[i, j] += sum_t exp(alpha_t(i) + log A_ij + logb_{t+1}(j) + beta_{t+1}(j) - ll)
    (if want_xi), as A_ij exp(alpha_t(i) + m - ll) exp(u_j - m): one exp per state."""
    S = trans.shape[0]
    for i in range(S):
        beta[T - 1, i] = log_end[i]
    for t in range(T - 2, -1, -1):
        mx = -np.inf
        for j in range(S):
            u[j] = logb[t + 1, j] + beta[t + 1, j]
            mx = max(mx, u[j])
        if mx == -np.inf:
            for i in range(S):
                beta[t, i] = -np.inf
            continue
        for j in range(S):
            tmp[j] = np.exp(u[j] - mx)
        for i in range(S):
            acc = 0.0
            for j in range(S):
                acc += trans[i, j] * tmp[j]
            beta[t, i] = mx + np.log(acc) if acc > 0 else -np.inf
        if want_xi:
            for i in range(S):
                # <= -log A_ij when A_ij > 0; the cap only guards structural zeros
                ea[i] = np.exp(min(alpha[t, i] + mx - ll, _CLAMP))
            for i in range(S):
                for j in range(S):
                    xi[i, j] += trans[i, j] * ea[i] * tmp[j]


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _filtered(alpha, T, out):
    """out[t] = alpha[t] normalised: p(state_t | x_0..x_t)."""
    S = alpha.shape[1]
    for t in range(T):
        mx = -np.inf
        for j in range(S):
            mx = max(mx, alpha[t, j])
        acc = 0.0
        for j in range(S):
            out[t, j] = np.exp(alpha[t, j] - mx) if mx > -np.inf else 0.0
            acc += out[t, j]
        for j in range(S):
            out[t, j] = out[t, j] / acc if acc > 0 else np.nan


@njit(cache=True, nogil=True)
def _seq_buffers(X, starts, q_lo, q_hi, K, S, D, block):
    T_max = 1
    for q in range(q_lo, q_hi):
        T_max = max(T_max, starts[q + 1] - starts[q])
    xt, y, s, lp, bits, m, lse = _buffers(K, D, block, X.dtype)
    z = np.empty((K + S, block))
    return (np.empty((K, T_max), dtype=X.dtype), np.empty((T_max, S)), np.empty((T_max, S)),
            np.empty((T_max, S)), xt, y, s, lp, z, exp_bits(z))


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def forward_backward_range(X, starts, q_lo, q_hi, shift, means, prec, logc, S, log_start, trans,
                           log_end, block, want_stats, start_n, trans_n, nk, sx, sxx,
                           out_ll, out_post, out_filt):
    """Forward-backward over sequences q_lo:q_hi. Writes each sequence's log-likelihood to
    out_ll[q]; with ``want_stats`` adds start counts, transition counts and the flattened
    components' nk (K,), sx (K, D) and sxx (kernel layout) of the shifted data; if
    out_post has rows, writes the state posteriors of every frame there, and if out_filt
    has rows the filtered ones, p(state_t | frames up to t). Returns the sum of the
    log-likelihoods."""
    K, D = means.shape
    M = K // S
    dt = X.dtype
    LP, logb, alpha, beta, xt, y, s, lp, z, zbits = _seq_buffers(X, starts, q_lo, q_hi, K, S, D, block)
    half = _const(dt, 0.5)
    zero = _const(dt, 0.0)
    tmp = np.empty(S)
    u = np.empty(S)
    ea = np.empty(S)
    rb, ca, r64, yc, rb64, x64, x2, sparse_div = statistics_scratch(K, D, block, dt, X.itemsize, sxx.shape[1] == 1)
    want_post = out_post.shape[0] > 0
    want_filt = out_filt.shape[0] > 0
    total = 0.0
    for q in range(q_lo, q_hi):
        t0 = starts[q]
        T = starts[q + 1] - t0
        _emissions(X, t0, T, shift, means, prec, logc, S, M, LP, logb, xt, y, s, lp, z, zbits, half)
        ll = _forward(logb, T, log_start, trans, log_end, alpha, tmp)
        out_ll[q] = ll
        total += ll
        if want_filt:
            _filtered(alpha, T, out_filt[t0:t0 + T])
        if ll == -np.inf or not (want_stats or want_post):
            continue
        _backward_counts(logb, T, trans, log_end, alpha, ll, beta, u, tmp, ea, trans_n, want_stats)
        for b0 in range(0, T, block):
            nb = min(block, T - b0)
            # rows 0..K-1 of z: component shares within the state, times the state posterior;
            # rows K..K+S-1: the state posteriors
            for st in range(S):
                for i in range(nb):
                    t = b0 + i
                    g = alpha[t, st] + beta[t, st] - ll
                    z[K + st, i] = g
                    for m in range(M):
                        k = st * M + m
                        z[k, i] = np.float64(LP[k, t]) - logb[t, st] + g if g > -np.inf else -np.inf
            exp_block(z, zbits, K + S, nb)
            if want_post:
                for i in range(nb):
                    for st in range(S):
                        out_post[t0 + b0 + i, st] = z[K + st, i]
            if not want_stats:
                continue
            if b0 == 0:
                for st in range(S):
                    start_n[st] += z[K + st, 0]
            nnz = 0
            for k in range(K):
                acc = 0.0
                for i in range(nb):
                    r = z[k, i]
                    acc += r
                    rb[k, i] = r if r > R_SKIP else zero
                    nnz += rb[k, i] != zero
                nk[k] += acc
            _load_block(X, t0 + b0, nb, shift, xt)
            if nnz * sparse_div < K * nb:
                _statistics_sparse(X, t0 + b0, shift, rb, nb, sx, sxx, ca)
            else:
                _statistics_dense(xt, rb, nb, means, sx, sxx, yc, r64, ca, rb64, x64, x2, zero)
    return total


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def viterbi_range(X, starts, q_lo, q_hi, shift, means, prec, logc, S, log_start, log_trans,
                  log_end, block, out_ll, out_states):
    """Most likely state path of each sequence q_lo:q_hi into out_states (rows of X);
    its log-probability into out_ll[q]. Returns their sum."""
    K, D = means.shape
    M = K // S
    LP, logb, delta, _, xt, y, s, lp, z, zbits = _seq_buffers(X, starts, q_lo, q_hi, K, S, D, block)
    psi = np.empty((LP.shape[1], S), dtype=np.int64)
    half = _const(X.dtype, 0.5)
    total = 0.0
    for q in range(q_lo, q_hi):
        t0 = starts[q]
        T = starts[q + 1] - t0
        _emissions(X, t0, T, shift, means, prec, logc, S, M, LP, logb, xt, y, s, lp, z, zbits, half)
        for j in range(S):
            delta[0, j] = log_start[j] + logb[0, j]
        for t in range(1, T):
            for j in range(S):
                best = 0
                bv = delta[t - 1, 0] + log_trans[0, j]
                for i in range(1, S):
                    v = delta[t - 1, i] + log_trans[i, j]
                    if v > bv:
                        bv = v
                        best = i
                psi[t, j] = best
                delta[t, j] = bv + logb[t, j]
        best = 0
        bv = delta[T - 1, 0] + log_end[0]
        for j in range(1, S):
            v = delta[T - 1, j] + log_end[j]
            if v > bv:
                bv = v
                best = j
        out_ll[q] = bv
        total += bv
        out_states[t0 + T - 1] = best
        for t in range(T - 1, 0, -1):
            best = psi[t, best]
            out_states[t0 + t - 1] = best
    return total
