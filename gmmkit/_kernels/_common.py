"""Shared jitted helpers: fast vectorisable exp and the log-sum-exp of one row."""
import numpy as np
from numba import njit

# One place for fastmath flags. Never 'nnan'/'ninf': log-sum-exp relies on -inf.
FASTMATH = {"nsz", "arcp", "contract", "reassoc"}

_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def exp_neg(z, out_bits, n):
    """In place ``z[:n] = exp(z[:n])`` for ``z <= 0`` (values below -708 give 0).

    pip's Numba calls libm's scalar exp, which does not vectorise; this
    range-reduced polynomial does (relative error about 2e-16) and is ~2x faster.
    ``out_bits`` is an int64 scratch buffer whose float64 view builds 2**k.
    """
    scale = out_bits.view(np.float64)
    for i in range(n):
        x0 = z[i]
        x = max(x0, -708.0)
        k = np.floor(x * _INV_LN2 + 0.5)
        r = (x - k * _LN2_HI) - k * _LN2_LO
        p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (
            1.0 / 120 + r * (1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (
                1.0 / 362880 + r * (1.0 / 3628800 + r * (1.0 / 39916800 + r * (
                    1.0 / 479001600))))))))))))
        # bits 0 is the float 0.0: underflow (and -inf) flush to zero
        out_bits[i] = ((np.int64(k) + 1023) << 52) if x0 > -708.0 else 0
        z[i] = p
    for i in range(n):
        z[i] = z[i] * scale[i]


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def lse_row(lp, e, bits, n_comp, log_noise):
    """Turn the weighted log-densities ``lp[:K]`` (plus a noise term) into
    normalised weights ``e[:K+1]`` (e[K] is the noise share); return the row's log-sum-exp."""
    m = log_noise
    for k in range(n_comp):
        if lp[k] > m:
            m = lp[k]
    if m == -np.inf:
        return -np.inf
    for k in range(n_comp):
        e[k] = lp[k] - m
    e[n_comp] = log_noise - m
    exp_neg(e, bits, n_comp + 1)
    s = 0.0
    for k in range(n_comp + 1):
        s += e[k]
    inv = 1.0 / s
    for k in range(n_comp + 1):
        e[k] *= inv
    return m + np.log(s)
