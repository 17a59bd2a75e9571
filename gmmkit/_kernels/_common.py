"""Shared jitted helpers: the fastmath flags and a vectorisable exp."""
import numpy as np
from numba import njit

# One place for fastmath flags. Never 'nnan'/'ninf': log-sum-exp relies on -inf.
FASTMATH = {"nsz", "arcp", "contract", "reassoc"}

_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def exp_block(z, bits, rows, cols):
    """In place ``z[:rows, :cols] = exp(z)`` for ``z <= 0``; below -708 (and -inf) gives 0.

    pip's Numba calls libm's scalar exp, which does not vectorise; this
    range-reduced degree-12 polynomial does (relative error ~2e-16).
    ``bits`` is an int64 scratch array of z's shape whose float64 view holds 2**k.
    """
    scale = bits.view(np.float64)
    for r in range(rows):
        for i in range(cols):
            x0 = z[r, i]
            x = max(x0, -708.0)
            k = np.floor(x * _INV_LN2 + 0.5)
            f = (x - k * _LN2_HI) - k * _LN2_LO
            p = 1.0 + f * (1.0 + f * (0.5 + f * (1.0 / 6 + f * (1.0 / 24 + f * (
                1.0 / 120 + f * (1.0 / 720 + f * (1.0 / 5040 + f * (1.0 / 40320 + f * (
                    1.0 / 362880 + f * (1.0 / 3628800 + f * (1.0 / 39916800 + f * (
                        1.0 / 479001600))))))))))))
            # the bit pattern 0 is the float 0.0: underflow flushes to zero
            bits[r, i] = ((np.int64(k) + 1023) << 52) if x0 > -708.0 else 0
            z[r, i] = p
        for i in range(cols):
            z[r, i] *= scale[r, i]
