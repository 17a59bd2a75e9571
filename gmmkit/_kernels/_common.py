"""Shared jitted helpers: the fastmath flags and a vectorisable exp in float64 and float32."""
import numpy as np
from numba import njit, types
from numba.extending import overload

# One place for fastmath flags. Never 'nnan'/'ninf': log-sum-exp relies on -inf.
FASTMATH = {"nsz", "arcp", "contract", "reassoc"}

_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
# float32 Cody-Waite split of ln 2 (the high part has 9 significant bits, so k * hi is exact)
_LN2_HI32 = np.float32(0.693359375)
_LN2_LO32 = np.float32(-2.12194440e-4)
_INV_LN2_32 = np.float32(1.44269504)


def exp_block(z, bits, rows, cols):
    """In place ``z[:rows, :cols] = exp(z)`` for ``z <= 0``; underflow (and -inf) gives 0.

    pip's Numba calls libm's scalar exp, which does not vectorise; these
    range-reduced polynomials do: degree 12 in float64 (relative error ~2e-16),
    degree 7 in float32 (~1e-7), so float32 data get twice the vector lanes.
    ``bits`` is scratch of z's shape from :func:`exp_bits`.

    This Python body runs only without JIT (``NUMBA_DISABLE_JIT=1``); compiled
    code takes the overload below.
    """
    np.exp(z[:rows, :cols], out=z[:rows, :cols])


def exp_bits(z):
    """Integer scratch for :func:`exp_block` whose float view holds 2**k (int64/int32).

    The Python body runs only without JIT; compiled code takes the overload below."""
    return np.empty(z.shape, dtype=np.int32 if z.dtype == np.float32 else np.int64)


@overload(exp_bits, jit_options={"cache": True})
def _exp_bits(z):
    it = np.int32 if z.dtype == types.float32 else np.int64
    return lambda z: np.empty(z.shape, dtype=it)


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _exp_block64(z, bits, rows, cols):
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


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _exp_block32(z, bits, rows, cols):
    scale = bits.view(np.float32)
    lo = np.float32(-87.0)  # exp(-87) ~ 1.6e-38, still a normal float32
    half = np.float32(0.5)
    for r in range(rows):
        for i in range(cols):
            x0 = z[r, i]
            x = max(x0, lo)
            k = np.floor(x * _INV_LN2_32 + half)
            f = (x - k * _LN2_HI32) - k * _LN2_LO32
            p = np.float32(1.0) + f * (np.float32(1.0) + f * (half + f * (
                np.float32(1.0 / 6) + f * (np.float32(1.0 / 24) + f * (np.float32(1.0 / 120) + f * (
                    np.float32(1.0 / 720) + f * np.float32(1.0 / 5040)))))))
            bits[r, i] = ((np.int32(k) + np.int32(127)) << np.int32(23)) if x0 > lo else np.int32(0)
            z[r, i] = p
        for i in range(cols):
            z[r, i] *= scale[r, i]


@overload(exp_block, jit_options={"cache": True})
def _exp_block(z, bits, rows, cols):
    if z.dtype == types.float32:
        return lambda z, bits, rows, cols: _exp_block32(z, bits, rows, cols)
    return lambda z, bits, rows, cols: _exp_block64(z, bits, rows, cols)
