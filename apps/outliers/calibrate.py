"""Scores for rows with missing cells, on the scale of complete rows.

A row with observed coordinates ``o`` (``d_o`` of ``D``) has a marginal
log-density over ``o`` that is not comparable with a complete row's
log-density: it is a density in ``d_o`` dimensions, typically higher because
fewer terms enter it. :func:`calibrated_log_density` puts it on the complete
rows' scale, one component at a time:

1. under component k, the squared Mahalanobis distance of the observed part,
   ``delta2 = (x_o - mu_o)' Sigma_oo^-1 (x_o - mu_o)``, is chi-square with
   ``d_o`` degrees of freedom for a row drawn from that component;
2. its tail probability ``p = P(chi2_{d_o} >= delta2)`` is mapped to the squared
   distance that a complete row would need to be as rare,
   ``delta2_eq = chi2_D quantile at 1 - p``;
3. the row's score is the mixture log-density of a complete row at those
   distances: ``log sum_k w_k (2 pi)^{-D/2} |Sigma_k|^{-1/2} exp(-delta2_eq_k / 2)``.

For a complete row ``delta2_eq = delta2`` and the score is exactly the
mixture's log-density. For one component the score has the same distribution
for every missingness pattern (rows from the model are flagged at the same
rate whatever is missing); for a mixture this holds component by component.

>>> import numpy as np
>>> from gmmkit import GaussianMixture
>>> X = np.random.default_rng(0).normal(size=(2000, 3))
>>> gm = GaussianMixture(1, random_state=0).fit(X)
>>> row, part = np.array([[0.5, 0.2, -0.1]]), np.array([[0.5, 0.2, np.nan]])
>>> bool(np.isclose(calibrated_log_density(gm, row)[0], gm.score_samples(row)[0]))
True
>>> float(np.round(gm.score_samples(part)[0], 2))  # marginal density in 2-D
-1.98
>>> float(np.round(calibrated_log_density(gm, part)[0], 2))  # on the 3-D scale
-3.13
"""
from __future__ import annotations

import math

import numpy as np

_LOG_2PI = math.log(2.0 * math.pi)
_SCIPY_FLOOR = -600.0  # below this log tail probability the asymptotic series is used


def covariance_matrices(gm):
    """Full (K, D, D) covariance matrices of a fitted mixture, whatever its covariance type."""
    from gmmkit.covariance import full_covariances

    return np.asarray(full_covariances(gm), dtype=np.float64)


def _asymptotic_logsf(x, df):
    # log P(chi2_df >= x) for large x: log Gamma(a, h) / Gamma(a) with a = df/2, h = x/2
    a, h = 0.5 * df, 0.5 * np.asarray(x, dtype=np.float64)
    from scipy.special import gammaln

    series = 1.0 + (a - 1.0) / h + (a - 1.0) * (a - 2.0) / h**2
    return (a - 1.0) * np.log(h) - h - gammaln(a) + np.log(series)


def chi2_logsf(x, df):
    """log P(chi2_df >= x), finite far into the tail (where scipy's underflows).

    >>> float(np.round(chi2_logsf(np.array([3.0]), 2)[0], 6)), bool(np.isfinite(chi2_logsf(np.array([1e5]), 3)[0]))
    (-1.5, True)
    """
    from scipy.stats import chi2

    x = np.asarray(x, dtype=np.float64)
    out = chi2.logsf(x, df)
    deep = ~(out > _SCIPY_FLOOR)
    if deep.any():
        out = np.where(deep, _asymptotic_logsf(np.where(deep, x, 1e3 * df + 1e3), df), out)
    return out


def chi2_isf_log(logp, df):
    """The x with ``log P(chi2_df >= x) = logp`` (inverse of :func:`chi2_logsf`).

    >>> x = np.array([0.5, 7.0, 4000.0])
    >>> np.allclose(chi2_isf_log(chi2_logsf(x, 4), 4), x)
    True
    """
    from scipy.special import gammaln
    from scipy.stats import chi2

    logp = np.minimum(np.asarray(logp, dtype=np.float64), 0.0)
    out = np.empty_like(logp)
    shallow = logp > _SCIPY_FLOOR
    out[shallow] = chi2.isf(np.exp(logp[shallow]), df)
    if (~shallow).any():
        L = logp[~shallow]
        a = 0.5 * df
        y = -2.0 * L  # fixed point of the asymptotic series: a contraction for large y
        for _ in range(60):
            h = 0.5 * y
            series = 1.0 + (a - 1.0) / h + (a - 1.0) * (a - 2.0) / h**2
            y = 2.0 * ((a - 1.0) * np.log(h) - gammaln(a) + np.log(series) - L)
        out[~shallow] = y
    return out


def calibrated_log_density(gm, Z):
    """Score of every row of ``Z`` (may hold NaN) on the complete rows' log-density scale.

    Complete rows get their mixture log-density; rows with missing coordinates
    get the chi-square-calibrated score described in the module docstring;
    rows with every coordinate missing get NaN. A uniform noise component
    (``noise=True``) adds its complete-row density to every row, as it does for
    complete rows.

    Parameters
    ----------
    gm : fitted gmmkit.GaussianMixture
    Z : ndarray (n, D)

    Returns
    -------
    ndarray (n,)
    """
    from scipy.special import logsumexp

    Z = np.asarray(Z, dtype=np.float64)
    terms = calibrated_component_terms(gm, Z)
    pi0 = float(gm.noise_weight_)
    if pi0 > 0:  # a uniform noise component: its complete-row density
        terms = np.c_[terms, np.full(Z.shape[0], math.log(pi0) - float(gm.noise_log_volume_))]
    out = np.full(Z.shape[0], np.nan)
    ok = ~np.isnan(Z).all(axis=1)
    if ok.any():
        out[ok] = logsumexp(terms[ok], axis=1)
    return out


def calibrated_component_terms(gm, Z, *, empty_rows=False):
    """``log w_k`` plus component k's calibrated log-density for every row, shape (n, K).

    For a complete row, ``log w_k + log N(z | mu_k, Sigma_k)``; for a row with
    missing coordinates, the chi-square-calibrated term of the module docstring;
    rows with every coordinate missing get NaN, or with ``empty_rows=True`` the
    term at the median squared distance (tail probability 1/2: nothing observed
    says the row is rare or common; used when other, categorical, features of the
    row are observed). (The noise component, if any, is not included.)
    """
    Z = np.asarray(Z, dtype=np.float64)
    n, D = Z.shape
    S = covariance_matrices(gm)
    means = np.asarray(gm.means_, dtype=np.float64)
    K = means.shape[0]
    with np.errstate(divide="ignore"):
        logw = np.log(np.asarray(gm.weights_, dtype=np.float64))
    L_full = np.linalg.cholesky(S)
    logdet_full = 2.0 * np.log(np.diagonal(L_full, axis1=1, axis2=2)).sum(axis=1)
    logc = logw - 0.5 * D * _LOG_2PI - 0.5 * logdet_full
    out = np.full((n, K), np.nan)
    if n == 0:
        return out
    mask = np.isnan(Z)
    uniq, inverse = np.unique(mask, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    from scipy.linalg import solve_triangular

    for p, miss in enumerate(uniq):
        o = ~miss
        d_o = int(o.sum())
        rows = np.flatnonzero(inverse == p)
        if d_o == 0:
            if empty_rows:
                from scipy.stats import chi2

                out[rows] = logc - 0.5 * chi2.ppf(0.5, D)
            continue
        Xo = Z[np.ix_(rows, o)]
        for k in range(K):
            Lk = L_full[k] if d_o == D else np.linalg.cholesky(S[k][np.ix_(o, o)])
            u = solve_triangular(Lk, (Xo - means[k, o]).T, lower=True)
            d2 = np.einsum("ij,ij->j", u, u)
            if d_o < D:
                d2 = chi2_isf_log(chi2_logsf(d2, d_o), D)
            out[rows, k] = logc[k] - 0.5 * d2
    return out


def observed_conditional_zscores(gm, Z, labels):
    """Conditional z-score of every observed feature given the other *observed* ones.

    Like :func:`gmmkit_apps.outliers.detector.conditional_zscores`, with the
    precision matrix of each row's observed block (the inverse of the marginal
    covariance ``Sigma_oo`` of its component); missing features get NaN.

    >>> import numpy as np
    >>> from gmmkit import GaussianMixture
    >>> X = np.random.default_rng(0).normal(size=(400, 3))
    >>> gm = GaussianMixture(1, random_state=0).fit(X)
    >>> z = observed_conditional_zscores(gm, np.array([[0.0, np.nan, 6.0]]), np.array([0]))
    >>> bool(np.isnan(z[0, 1]) and abs(z[0, 2]) > 4 > abs(z[0, 0]))
    True
    """
    Z = np.asarray(Z, dtype=np.float64)
    S = covariance_matrices(gm)
    out = np.full(Z.shape, np.nan)
    if Z.shape[0] == 0:
        return out
    key = np.c_[np.isnan(Z), np.asarray(labels)[:, None]]
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    for g, row in enumerate(uniq):
        o = ~row[:-1].astype(bool)
        k = int(row[-1])
        if not o.any() or k < 0:
            continue
        rows = np.flatnonzero(inverse == g)
        P = np.linalg.inv(S[k][np.ix_(o, o)])
        diff = Z[np.ix_(rows, o)] - gm.means_[k, o]
        out[np.ix_(rows, o)] = (diff @ P) / np.sqrt(np.diag(P))
    return out
