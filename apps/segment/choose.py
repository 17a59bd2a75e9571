"""Measured choices: the image's noise level, the smoothing it calls for, and K for ``-k auto``.

* :func:`noise_sd` - the standard deviation of the pixel noise per feature channel,
  by Immerkaer's fast estimator (1996): the image filtered by the Laplacian-difference
  mask [[1,-2,1],[-2,4,-2],[1,-2,1]] (blind to planes and ramps) has mean absolute
  value 6 sigma sqrt(2/pi) on noise.
* :func:`contrast_to_noise` - how far apart the closest two fitted segments are in units
  of that noise (per-channel noise, Euclidean over channels).
* :func:`auto_smoothing` - the rule behind ``smooth='auto'``: a clean image (contrast to
  noise >= :data:`CLEAN_CNR`) gets ICM with beta 1 after a plain fit; a noisy one the
  spatial EM (the Potts prior inside the fit) with 8 neighbours, after a light Gaussian
  blur (sigma 1) when very noisy (contrast < :data:`VERY_NOISY_CNR`).
* :func:`select_k` - K for ``-k auto`` by ICL (BIC plus twice the classification entropy)
  on a sample of pixels: BIC alone on hundreds of thousands of pixels keeps paying for
  more components on photos (a photo is no mixture of a few Gaussians), while ICL also
  charges for components that overlap, so it stops where segments stop being distinct.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> img = np.tile(np.linspace(0, 50, 200), (150, 1)) + rng.normal(scale=3.0, size=(150, 200))
>>> round(float(noise_sd(img[..., None])[0]), 1)
3.0
"""
from __future__ import annotations

import math

import numpy as np

from gmmkit.exceptions import ParameterError

# thresholds measured on the nuclei image with noise sigma 0/10/20/30/40 (plain-fit contrast to
# noise 6.9/3.5/1.5/1.0/1.1; docs/segment.md)
CLEAN_CNR = 5.0
VERY_NOISY_CNR = 1.3
SELECT_PIXELS = 20_000


_ROWS = 64  # rows per block in noise_sd (measured: 64 rows 0.29 s, 256 rows 0.46 s on 12 MP)


def noise_sd(grid, valid=None):
    """(D,) noise standard deviation of every channel of an (H, W, D) float array.

    ``valid`` (H, W) bool, optional: only 3x3 windows made entirely of valid pixels count
    (point masses - clipped values - would make the noise look weaker than it is).
    Computed in blocks of rows in the grid's float type (sums in float64), so a 12-megapixel
    image needs no image-sized temporaries (0.3 s instead of 4.3 s).
    """
    g = np.asarray(grid)
    if g.dtype not in (np.float32, np.float64):
        g = g.astype(np.float64)
    H, W, D = g.shape[0], g.shape[1], g.shape[2]
    if H < 3 or W < 3:
        return np.zeros(D)
    v = None if valid is None else np.asarray(valid, dtype=bool)
    total, n = np.zeros(D), 0
    for r0 in range(0, H - 2, _ROWS):
        r1 = min(r0 + _ROWS, H - 2)  # output rows r0..r1-1 need input rows r0..r1+1
        b = g[r0:r1 + 2]
        d = b[:, :-2] - 2 * b[:, 1:-1] + b[:, 2:]
        dd = np.abs(d[:-2] - 2 * d[1:-1] + d[2:])
        if v is None:
            total += dd.sum(axis=(0, 1), dtype=np.float64)
            n += dd.shape[0] * dd.shape[1]
            continue
        vb = v[r0:r1 + 2]
        win = np.ones((r1 - r0, W - 2), dtype=bool)
        for dr in range(3):
            for dc in range(3):
                win &= vb[dr:dr + r1 - r0, dc:dc + W - 2]
        total += dd[win].sum(axis=0, dtype=np.float64)
        n += int(win.sum())
    if v is not None and n < 100:
        return noise_sd(grid)
    return math.sqrt(math.pi / 2) * total / (6.0 * n)


def contrast_to_noise(means, sd):
    """Smallest distance between two component means in noise units (inf without noise)."""
    means = np.asarray(means, dtype=float)
    sd = np.maximum(np.asarray(sd, dtype=float), 1e-9)
    best = math.inf
    for a in range(len(means)):
        for b in range(a + 1, len(means)):
            best = min(best, float(np.sqrt(np.sum(((means[a] - means[b]) / sd) ** 2))))
    return best


def auto_smoothing(cnr):
    """(method, beta, blur sigma, reason) for ``smooth='auto'`` from the contrast-to-noise ratio."""
    if cnr >= CLEAN_CNR:
        return "icm", 1.0, 0.0, f"contrast/noise {cnr:.1f} >= {CLEAN_CNR:g}: plain fit, ICM beta 1"
    if cnr >= VERY_NOISY_CNR:
        return "em", 1.0, 0.0, (f"contrast/noise {cnr:.1f} < {CLEAN_CNR:g}: spatial EM "
                                "(Potts prior in the fit, 8 neighbours, beta 1)")
    return "em", 1.5, 1.0, (f"contrast/noise {cnr:.1f} < {VERY_NOISY_CNR:g}: Gaussian blur sigma 1, "
                            "then spatial EM (8 neighbours, beta 1.5)")


def select_k(X, *, k_range=range(2, 9), covariance_type="full", random_state=0, n_init=1, short_runs=0,
             reg_covar=1e-6):
    """Pick the number of components by ICL on (a sample of) the rows of X.

    Returns
    -------
    k : int
    table : list of dict
        One row per K tried: ``{"k", "bic", "icl"}`` (lower is better; from :func:`gmmkit.select`).
    reason : str
        One line: why this K.
    """
    import gmmkit

    ks = [int(k) for k in k_range]
    if not ks or min(ks) < 1:
        raise ParameterError(f"the K range for 'auto' must hold whole numbers >= 1, got {ks}")
    ks = [k for k in ks if k <= X.shape[0]]
    if X.shape[0] > SELECT_PIXELS:
        rng = np.random.default_rng(random_state)
        X = X[np.sort(rng.choice(X.shape[0], SELECT_PIXELS, replace=False))]
    res = gmmkit.select(X, n_components=ks, covariance_types=(covariance_type,), criterion="icl",
                        random_state=random_state, max_iter=200, n_init=n_init, short_runs=short_runs,
                        reg_covar=reg_covar)
    t = res.table.sort_values("n_components")
    rows = [{"k": int(r["n_components"]), "bic": round(float(r["bic"]), 2), "icl": round(float(r["icl"]), 2)}
            for _, r in t.iterrows()]
    k = int(res.best_params_["n_components"])
    by_bic = min(rows, key=lambda r: r["bic"])["k"]
    reason = f"lowest ICL at K={k} of {ks[0]}..{ks[-1]} on {X.shape[0]:,} pixels"
    if by_bic != k:
        reason += f" (BIC alone: K={by_bic}; the extra segments overlap)"
    return k, rows, reason
