"""Numba kernel of the speech app: top-C log-likelihood-ratio scoring (jitted code only).

The public wrapper, with its checks, is :func:`gmmkit_apps.speech.ubm.score_frames`.
"""
import math

import numpy as np
from numba import njit, prange

from gmmkit.kernels import FASTMATH, diag_logp, register_kernel_module

# cached in the user-wide Numba cache, never inside site-packages (see gmmkit.kernels)
register_kernel_module(__file__)

_SIG = ("float64[::1](float64[:, ::1], int64[:, ::1], float64[::1], "
        "float64[:, ::1], float64[:, :, ::1], float64[:, :, ::1], float64[:, ::1])")


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _speaker_sum(X, top, ubm_ll, logw, means, prec, logdet, s, buf):
    T = X.shape[0]
    C = top.shape[1]
    acc = 0.0
    for t in range(T):
        mx = -np.inf
        for j in range(C):
            k = top[t, j]
            v = diag_logp(X[t], means[s, k], prec[s, k], logw[s, k] + logdet[s, k])
            buf[j] = v
            mx = max(mx, v)
        tot = 0.0
        for j in range(C):
            tot += math.exp(buf[j] - mx)
        acc += mx + math.log(tot) - ubm_ll[t]
    return acc


@njit(_SIG, cache=True, fastmath=FASTMATH)
def topc_llr_sums(X, top, ubm_ll, logw, means, prec, logdet):
    """Sum over frames of log p_s(x) - log p_ubm(x), both restricted to the top-C UBM components.

    X (T, D); top (T, C) component indices; ubm_ll (T,) UBM log-density over the same
    components; logw (S, K); means (S, K, D); prec (S, K, D) inverse standard deviations
    (gmmkit's diagonal precision factors); logdet (S, K) holds
    sum(log prec) - 0.5 * D * log(2 pi). Returns (S,) sums.
    """
    S = means.shape[0]
    out = np.zeros(S)
    buf = np.empty(top.shape[1])
    for s in range(S):
        out[s] = _speaker_sum(X, top, ubm_ll, logw, means, prec, logdet, s, buf)
    return out


@njit(_SIG, cache=True, fastmath=FASTMATH, parallel=True)
def topc_llr_sums_parallel(X, top, ubm_ll, logw, means, prec, logdet):
    """:func:`topc_llr_sums` with speakers spread over threads (for many speakers or long inputs)."""
    S = means.shape[0]
    out = np.zeros(S)
    for s in prange(S):
        buf = np.empty(top.shape[1])
        out[s] = _speaker_sum(X, top, ubm_ll, logw, means, prec, logdet, s, buf)
    return out
