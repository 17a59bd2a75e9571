"""The robust fit of :mod:`~gmmkit_apps.outliers.robust` when continuous cells are missing.

The Gaussian part is fitted by gmmkit's exact EM with missing values
(:class:`gmmkit.GaussianMixture`: each row contributes its marginal density over
its observed features; trimming through ``sample_weight``), the categorical parts
from its responsibilities; K by the Gaussian part's BIC. Rows are ranked for
trimming by the chi-square-calibrated score
(:func:`~gmmkit_apps.outliers.calibrate.calibrated_component_terms`), so that rows
with holes are neither favoured nor penalised. Pruning and trimming are as in
:func:`~gmmkit_apps.outliers.robust.fit_robust`; the covariance shrinkage and the
rounding variances are not applied on this path (``reg_covar`` is).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> Z = rng.normal(size=(400, 3))
>>> Z[rng.random((400, 3)) < 0.2] = np.nan
>>> Z = Z[~np.isnan(Z).all(axis=1)]  # rows with nothing observed are not fitted on
>>> fit = fit_robust_missing(Z, np.zeros((len(Z), 0), int), [], max_components=1)
>>> fit.params.n_components, round(float(fit.alpha), 2)
(1, 0.3)
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .mixed import MixedParams, _logsumexp, categorical_terms, m_step
from .robust import RobustFit


def _fit(Z, codes, levels, K, weights, covariance_type, reg_covar, alpha):
    from gmmkit import GaussianMixture

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(K, covariance_type=covariance_type, reg_covar=reg_covar,
                             random_state=0).fit(Z, sample_weight=weights)
    resp = gm.predict_proba(Z)
    cat = m_step(np.zeros((Z.shape[0], 0)), codes, levels, resp, weights, "diag", reg_covar, alpha)
    return gm, MixedParams(np.asarray(gm.weights_, dtype=np.float64), np.asarray(gm.means_),
                           np.asarray(gm.covariances_), covariance_type, cat.cat_logp)


def _scores(gm, p, Z, codes):
    from .calibrate import calibrated_component_terms

    return _logsumexp(calibrated_component_terms(gm, Z, empty_rows=True) + categorical_terms(p, codes))


def _prune(gm, p, min_weight):
    from .scaling import submixture

    keep = np.flatnonzero(p.weights >= min_weight)
    if keep.size == 0:
        keep = np.array([int(np.argmax(p.weights))])
    if keep.size == p.n_components:
        return gm, p, 0
    return submixture(gm, keep), p.select(keep), p.n_components - keep.size


def fit_robust_missing(Z, codes, levels, *, max_components=1, trim_fraction=0.3, n_rounds=2,
                       min_component_weight=0.1, n_components=None, covariance_type="full",
                       reg_covar=0.03, alpha=0.5, **_unused):
    """Fit, prune and trim with missing continuous cells (module docstring); a RobustFit."""
    n = Z.shape[0]
    weights = np.ones(n)
    args = (covariance_type, reg_covar, alpha)
    if n_components is None:
        cap = max(1, min(max_components, n // max(2, 2 * (Z.shape[1] + 1))))
        fits = [_fit(Z, codes, levels, k, weights, *args) for k in range(1, cap + 1)]
        gm, p = min(fits, key=lambda f: f[0].bic(Z))
    else:
        gm, p = _fit(Z, codes, levels, int(n_components), weights, *args)
    gm, p, dropped = _prune(gm, p, min_component_weight)
    n_trim = int(math.floor(trim_fraction * n))
    r = 0
    while r < n_rounds and n_trim > 0:
        r += 1
        new = np.ones(n)
        new[np.argsort(_scores(gm, p, Z, codes), kind="stable")[:n_trim]] = 0.0
        if np.array_equal(new, weights):
            break
        weights = new
        gm, p = _fit(Z, codes, levels, p.n_components, weights, *args)
        gm, p, more = _prune(gm, p, min_component_weight)
        dropped += more
    kept = weights > 0
    return RobustFit(p, kept, dropped, r, float(1.0 - kept.mean()))
