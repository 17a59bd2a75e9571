"""Numba kernels of the segment app (only ``@njit`` code lives here).

Two kernels, each on a range of rows so that callers run them on row chunks
from a thread pool (they release the GIL):

* :func:`logp_range` - per-pixel, per-component log p(x, k) = log w_k + log N(x | mu_k, Sigma_k)
  from upper-triangular precision factors ``U_k`` (precision = U_k U_k^T, the
  scikit-learn convention), written as float32 maps.
* :func:`icm_range` - one half sweep of iterated conditional modes for a Potts
  prior on a 4-connected grid: every pixel of one checkerboard colour takes the
  label minimising ``-logp[k] + beta * (number of neighbours with a label != k)``.
  Pixels of one colour only have neighbours of the other colour, so a half
  sweep is order-free: row chunks can run in parallel, and the result does not
  depend on the number of threads.

Signatures: float32 maps, int32 labels, uint8 mask (1 = pixel takes part).
"""
import numpy as np
from numba import njit

# Never 'nnan'/'ninf': masked or impossible components carry -inf.
FASTMATH = {"nsz", "arcp", "contract", "reassoc"}


@njit(cache=True, fastmath=FASTMATH, nogil=True)
def logp_range(X, lo, hi, means, prec_chol, logc, out):
    """out[i, k] = logc[k] - 0.5 * ||(X[i] - means[k]) @ prec_chol[k]||^2 for rows lo:hi.

    Returns nothing; ``prec_chol[k]`` is upper triangular, ``logc[k]`` holds
    log w_k + log det U_k - D/2 log(2 pi).
    """
    K, D = means.shape
    diff = np.empty(D)
    y = np.empty(D)
    for i in range(lo, hi):
        for k in range(K):
            for d in range(D):
                diff[d] = np.float64(X[i, d]) - means[k, d]
                y[d] = 0.0
            for l in range(D):
                dl = diff[l]
                for j in range(l, D):
                    y[j] += dl * prec_chol[k, l, j]
            s = 0.0
            for j in range(D):
                s += y[j] * y[j]
            out[i, k] = logc[k] - 0.5 * s


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
