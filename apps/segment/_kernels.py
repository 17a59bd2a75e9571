"""Numba kernels of the segment app (only ``@njit`` code lives here).

Kernels on a range of rows, so that callers run them on row chunks from a
thread pool (they release the GIL). The per-pixel log-likelihood maps they work
on come from gmmkit's own density kernel (:func:`gmmkit.kernels.log_densities`).

* :func:`argmax_range` - per-pixel arg-max label of a log-likelihood map.
* :func:`icm_range` - one half sweep of iterated conditional modes for a Potts
  prior on a 4-connected grid: every pixel of one checkerboard colour takes the
  label minimising ``-logp[k] + beta * (number of neighbours with a label != k)``.
  Pixels of one colour only have neighbours of the other colour, so a half
  sweep is order-free: row chunks can run in parallel, and the result does not
  depend on the number of threads.

* :func:`meanfield_range` - one half sweep of mean-field updates for the same Potts
  model: q_i(k) proportional to exp(logp_i(k) + beta * sum of the neighbours' q_j(k)),
  checkerboard order as above.
* :func:`lab_range` - 8-bit sRGB pixels to CIELAB (D65) float32 features.
* :func:`colour_sums_range` - per-label pixel counts and RGB sums (mean colours).

Signatures: float32 maps, int32 labels, uint8 pixels and mask (1 = pixel takes part).
"""
import numpy as np
from numba import njit

from gmmkit.kernels import FASTMATH, register_kernel_module

# cached in the user-wide Numba cache, never inside site-packages (see gmmkit.kernels)
register_kernel_module(__file__)


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def argmax_range(logp, mask, lo, hi, labels):
    """labels[i] = argmax_k logp[i, k] for rows lo:hi (-1 where mask[i] == 0)."""
    K = logp.shape[1]
    for i in range(lo, hi):
        if mask[i] == 0:
            labels[i] = -1
            continue
        best = 0
        for k in range(1, K):
            if logp[i, k] > logp[i, best]:
                best = k
        labels[i] = best


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def icm_range(logp, labels, mask, beta, parity, r0, r1):
    """One ICM half sweep over rows r0:r1 of the (H, W) grid, pixels with (r + c) % 2 == parity.

    ``logp`` is (H, W, K), ``labels`` (H, W) int32 (updated in place),
    ``mask`` (H, W) uint8. Masked pixels neither change nor count as neighbours.
    Returns the number of pixels whose label changed.
    """
    H, W, K = logp.shape
    changed = 0
    cost = np.empty(K)
    for r in range(r0, r1):
        c0 = (parity + r) % 2
        for c in range(c0, W, 2):
            if mask[r, c] == 0:
                continue
            for k in range(K):
                cost[k] = -np.float64(logp[r, c, k])
            n_nb = 0
            if r > 0 and mask[r - 1, c] != 0:
                n_nb += 1
                cost[labels[r - 1, c]] -= beta
            if r + 1 < H and mask[r + 1, c] != 0:
                n_nb += 1
                cost[labels[r + 1, c]] -= beta
            if c > 0 and mask[r, c - 1] != 0:
                n_nb += 1
                cost[labels[r, c - 1]] -= beta
            if c + 1 < W and mask[r, c + 1] != 0:
                n_nb += 1
                cost[labels[r, c + 1]] -= beta
            # cost[k] + beta * n_nb is the energy; the constant does not change the arg-min
            best = labels[r, c]
            for k in range(K):
                if cost[k] < cost[best]:
                    best = k
            if best != labels[r, c]:
                labels[r, c] = best
                changed += 1
    return changed


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _set_softmax(s, q, r, c):
    """q[r, c] = soft-max of the scores s (overwritten); returns the summed absolute change."""
    K = s.shape[0]
    m = s[0]
    for k in range(1, K):
        m = max(m, s[k])
    tot = 0.0
    for k in range(K):
        s[k] = np.exp(s[k] - m)
        tot += s[k]
    change = 0.0
    for k in range(K):
        v = s[k] / tot
        change += abs(v - q[r, c, k])
        q[r, c, k] = v
    return change


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def meanfield_range(logp, q, mask, beta, parity, r0, r1):
    """One mean-field half sweep over rows r0:r1, pixels with (r + c) % 2 == parity.

    ``q`` (H, W, K) float32 holds the current marginals and is updated in place;
    masked pixels neither change nor count as neighbours. Returns the sum of the
    absolute changes of the q values.
    """
    H, W, K = logp.shape
    s = np.empty(K)
    total = 0.0
    for r in range(r0, r1):
        c0 = (parity + r) % 2
        for c in range(c0, W, 2):
            if mask[r, c] == 0:
                continue
            for k in range(K):
                s[k] = logp[r, c, k]
            if r > 0 and mask[r - 1, c] != 0:
                for k in range(K):
                    s[k] += beta * q[r - 1, c, k]
            if r + 1 < H and mask[r + 1, c] != 0:
                for k in range(K):
                    s[k] += beta * q[r + 1, c, k]
            if c > 0 and mask[r, c - 1] != 0:
                for k in range(K):
                    s[k] += beta * q[r, c - 1, k]
            if c + 1 < W and mask[r, c + 1] != 0:
                for k in range(K):
                    s[k] += beta * q[r, c + 1, k]
            total += _set_softmax(s, q, r, c)
    return total


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def _lab_f(t, eps, slope):
    """CIELAB's f(t): the cube root above eps (about 3x faster than libm's cbrt, which
    does not vectorise: a cubic in sqrt(t) within 1.3% on [eps, 1.25], then three Newton
    steps, each squaring the relative error), linear below."""
    if t <= eps:
        return t * slope + 4.0 / 29.0
    u = np.sqrt(t)
    y = ((0.38642884016048806 * u - 0.9541233312890322) * u + 1.4904794404310362) * u + 0.0773944804428402
    for _ in range(3):
        y = (2.0 * y + t / (y * y)) * (1.0 / 3.0)
    return y


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def lab_range(rgb, lut, M, eps, slope, lo, hi, out):
    """out[i] = CIELAB of rgb[i] (uint8) for rows lo:hi.

    ``lut`` maps 0..255 to linear light; ``M`` is sRGB-linear -> XYZ divided by the white point.
    """
    for i in range(lo, hi):
        r = np.float64(lut[rgb[i, 0]])
        g = np.float64(lut[rgb[i, 1]])
        b = np.float64(lut[rgb[i, 2]])
        fx = _lab_f(M[0, 0] * r + M[0, 1] * g + M[0, 2] * b, eps, slope)
        fy = _lab_f(M[1, 0] * r + M[1, 1] * g + M[1, 2] * b, eps, slope)
        fz = _lab_f(M[2, 0] * r + M[2, 1] * g + M[2, 2] * b, eps, slope)
        out[i, 0] = 116.0 * fy - 16.0
        out[i, 1] = 500.0 * (fx - fy)
        out[i, 2] = 200.0 * (fy - fz)


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def colour_sums_range(rgb, labels, lo, hi, counts, sums):
    """Add pixel counts (K,) and RGB sums (K, 3) of rows lo:hi per label (label -1 skipped)."""
    for i in range(lo, hi):
        k = labels[i]
        if k < 0:
            continue
        counts[k] += 1.0
        for c in range(3):
            sums[k, c] += rgb[i, c]


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def meanfield8_range(logp, q, mask, beta, beta_diag, pr, pc, r0, r1):
    """One mean-field quarter sweep with 8 neighbours over rows r0:r1: the pixels with
    r % 2 == pr and c % 2 == pc (none of them neighbours of another, so the rows can run
    in parallel). Edge neighbours weigh ``beta``, diagonal ones ``beta_diag``.
    Returns the summed absolute change of q."""
    H, W, K = logp.shape
    s = np.empty(K)
    total = 0.0
    r_start = r0 + ((pr - r0) % 2)
    for r in range(r_start, r1, 2):
        for c in range(pc, W, 2):
            if mask[r, c] == 0:
                continue
            for k in range(K):
                s[k] = logp[r, c, k]
            for dr in range(-1, 2):
                rr = r + dr
                if rr < 0 or rr >= H:
                    continue
                for dc in range(-1, 2):
                    cc = c + dc
                    if (dr == 0 and dc == 0) or cc < 0 or cc >= W or mask[rr, cc] == 0:
                        continue
                    b = beta if (dr == 0 or dc == 0) else beta_diag
                    for k in range(K):
                        s[k] += b * q[rr, cc, k]
            total += _set_softmax(s, q, r, c)
    return total
