"""Robust column scaling, constant columns and the trimming consistency factor.

>>> import numpy as np
>>> round(trimming_factor(0.0, 3), 3), round(trimming_factor(0.3, 1), 3)
(1.0, 0.31)
"""
from __future__ import annotations

import warnings

import numpy as np


def trimming_factor(alpha, D):
    """Shrinkage of a Gaussian's covariance fitted without its ``alpha`` least likely rows:
    ``c = P(chi2_{D+2} <= q) / (1 - alpha)`` with q the (1 - alpha) quantile of chi2_D
    (the consistency factor of trimmed estimators such as MCD). Divide by it to undo."""
    if alpha <= 0 or D == 0:
        return 1.0
    from scipy.stats import chi2

    q = chi2.ppf(1.0 - alpha, D)
    return float(chi2.cdf(q, D + 2) / (1.0 - alpha))


def robust_scale(X):
    """Median and robust scale (IQR / 1.349, else standard deviation) of every column.

    Returns ``(center, scale, used)``; ``used`` is False for constant columns
    (their scale is set to 1).

    >>> c, s, used = robust_scale(np.array([[0.0, 5.0], [1.0, 5.0], [2.0, 5.0], [3.0, 5.0]]))
    >>> c.tolist(), used.tolist()
    ([1.5, 5.0], [True, False])

    NaN cells are left out of each column's statistics; a column with fewer than
    two observed values counts as constant.
    """
    X = np.asarray(X, dtype=np.float64)
    enough = (~np.isnan(X)).sum(axis=0) >= 2
    center = np.zeros(X.shape[1])
    scale = np.zeros(X.shape[1])
    if enough.any():
        Xe = X[:, enough]
        center[enough] = np.nanmedian(Xe, axis=0)
        q75, q25 = np.nanpercentile(Xe, [75, 25], axis=0)
        scale[enough] = (q75 - q25) / 1.349
    small = ~(scale > 1e-12 * np.maximum(1.0, np.abs(center))) & enough
    if small.any():
        scale[small] = np.nanstd(X[:, small], axis=0)
    used = enough & (scale > 1e-12 * np.maximum(1.0, np.abs(center)))
    scale = np.where(used, scale, 1.0)
    return center, scale, used



def submixture(gm, components, *, covariance_scale=1.0):
    """A fitted :class:`gmmkit.GaussianMixture` made of some components of ``gm``.

    Weights are renormalised; covariances are kept (divided by
    ``covariance_scale``). Used to drop components too small to be a normal mode;
    a noise component is never part of the result.
    """
    from gmmkit import GaussianMixture
    from gmmkit.covariance import covariance_type

    idx = np.asarray(components, dtype=int)
    params = {k: v for k, v in gm.get_params(deep=False).items()
              if k not in _NOT_CARRIED and not k.startswith("noise")}
    w = gm.weights_[idx]
    covariances = covariance_type(gm.covariance_type).select(gm.covariances_, idx)
    return GaussianMixture.from_parameters(
        w / w.sum(), gm.means_[idx], np.asarray(covariances) / covariance_scale,
        covariance_type=gm.covariance_type, **params)



#: estimator parameters that describe a fit's start or size, not the fitted model
_NOT_CARRIED = ("n_components", "covariance_type", "weights_init", "means_init", "precisions_init",
                "callback")



def constant_columns(X):
    """True for the columns of ``X`` with fewer than two distinct observed values.

    >>> constant_columns(np.array([[1.0, 2.0, np.nan], [1.0, 3.0, np.nan]])).tolist()
    [True, False, True]
    """
    X = np.asarray(X, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        return ~(np.nanmax(X, axis=0) > np.nanmin(X, axis=0))



def inflate_for_trimming(gm, alpha):
    """Undo the shrinkage of covariances fitted without the ``alpha`` least likely rows.

    Trimming a Gaussian at its (1 - alpha) Mahalanobis quantile q shrinks its
    covariance by ``c = P(chi2_{D+2} <= q) / (1 - alpha)`` (the consistency
    factor of trimmed estimators such as MCD); covariances are divided by c so
    that log-densities (and ``--threshold`` values) stay calibrated. Exact for
    one component, an approximation for a mixture.

    >>> from gmmkit import GaussianMixture
    >>> X = np.random.default_rng(0).normal(size=(4000, 2))
    >>> s = GaussianMixture(1).fit(X[np.einsum("ij,ij->i", X, X) < 4.605])  # 10 % trimmed
    >>> float(np.round(inflate_for_trimming(s, 0.1).covariances_[0].trace(), 1))
    2.0
    """
    c = trimming_factor(alpha, gm.means_.shape[1])
    return submixture(gm, np.arange(gm.n_components), covariance_scale=c)


