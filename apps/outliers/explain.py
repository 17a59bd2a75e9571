"""Why a row is unusual: conditional z-scores of its continuous features under its
component, and the rarity of its discrete values, named in a short text.

A discrete value of probability p under the row's component gets the z-score a
Gaussian value would need to be as rare (two-sided): ``z = Phi^-1(1 - p / 2)``,
signed + for a level above the component's most likely one and - below.

>>> import numpy as np
>>> round(float(discrete_zscores([np.log(np.array([[0.99, 0.01, 1e-9]]))], np.array([[1]]), np.array([0]))[0, 0]), 2)
2.58
"""
from __future__ import annotations

import numpy as np


def precision_matrices(gm):
    """Full (K, D, D) precision matrices of a fitted mixture, whatever its covariance type."""
    from gmmkit.covariance import full_precisions

    return full_precisions(gm)



def conditional_zscores(gm, Z, labels):
    """Conditional z-score of every feature of every row under its component.

    For row x in component k with mean m and precision matrix P, feature j's
    z-score given all the other features is ``(P (x - m))_j / sqrt(P_jj)``: the
    distance of x_j from its conditional mean, in conditional standard
    deviations. A large |z| means "this value is unusual given the others".

    Parameters
    ----------
    gm : fitted GaussianMixture
    Z : ndarray (n, D)
    labels : ndarray (n,) of int, the component of each row

    Returns
    -------
    ndarray (n, D)

    Examples
    --------
    >>> from gmmkit import GaussianMixture
    >>> X = np.random.default_rng(0).normal(size=(400, 2))
    >>> gm = GaussianMixture(1, random_state=0).fit(X)
    >>> z = conditional_zscores(gm, np.array([[0.0, 6.0]]), np.array([0]))
    >>> bool(abs(z[0, 1]) > 4 > abs(z[0, 0]))
    True
    """
    P = precision_matrices(gm)
    out = np.empty(Z.shape, dtype=np.float64)
    for k in np.unique(labels):
        rows = labels == k
        diff = Z[rows] - gm.means_[k]
        out[rows] = (diff @ P[k]) / np.sqrt(np.diag(P[k]))
    return out



def explain_rows(z, names, top=3):
    """Text such as ``"area=+5.1 height=-3.2"``: the ``top`` features by |z|, per row.

    NaN entries (missing features) are never named.

    >>> explain_rows(np.array([[0.5, -4.0, 2.0], [np.nan, 1.0, -3.0]]), ["a", "b", "c"], top=2)
    ['b=-4.0 c=+2.0', 'c=-3.0 b=+1.0']
    """
    top = max(1, min(int(top), z.shape[1]))
    order = np.argsort(-np.abs(z), axis=1)[:, :top]  # NaN sorts last
    return [" ".join(f"{names[j]}={z[i, j]:+.1f}" for j in row if not np.isnan(z[i, j]))
            for i, row in enumerate(order)]




def discrete_zscores(cat_logp, codes, labels):
    """z-score equivalent of every discrete value's probability under the row's component
    (module docstring); NaN for a missing cell. ``cat_logp``: one (K, L+1) table per
    discrete feature; ``codes`` (n, n_discrete); ``labels`` (n,)."""
    from scipy.stats import norm

    out = np.full(codes.shape, np.nan)
    for j, table in enumerate(cat_logp):
        c = codes[:, j]
        seen = c >= 0
        if not seen.any():
            continue
        p = np.exp(table[labels[seen], c[seen]])
        mode = np.argmax(table[:, :-1], axis=1)[labels[seen]]
        out[seen, j] = np.where(c[seen] >= mode, 1.0, -1.0) * norm.isf(np.clip(p, 1e-300, 1.0) / 2.0)
    return out


def explain_detector(det, X, labels, top=3, feature_names=None):
    """The work of :meth:`GMMOutlierDetector.explain <gmmkit_apps.outliers.detector.GMMOutlierDetector.explain>`
    for checked rows ``X`` and their most likely components ``labels`` (-1: nothing observed)."""
    from .calibrate import observed_conditional_zscores
    from .features import DISCRETE

    if feature_names is None:
        names = getattr(det, "feature_names_in_", None)
        feature_names = [str(n) for n in names] if names is not None else [f"x{j}" for j in range(X.shape[1])]
    ok = np.flatnonzero(labels >= 0)
    z = np.full(X.shape, np.nan)
    text = [""] * X.shape[0]
    if ok.size == 0:
        return z, text
    zz = np.zeros((ok.size, X.shape[1]))
    Z = det._standardise(X[ok])
    if Z.shape[1]:
        zz[:, det.continuous_] = (observed_conditional_zscores(det.mixture_, Z, labels[ok]) if np.isnan(Z).any()
                                  else conditional_zscores(det.mixture_, Z, labels[ok]))
    if det.cat_logp_:
        zz[:, det.kinds_ == DISCRETE] = discrete_zscores(det.cat_logp_, det._codes(X[ok]), labels[ok])
    z[ok] = zz
    used = det.used_features_
    used_names = [n for n, u in zip(feature_names, used) if u]
    for i, t in zip(ok, explain_rows(zz[:, used], used_names, top)):
        text[i] = t
    return z, text
