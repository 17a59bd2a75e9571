"""Linear fusion of speaker-verification score sets, trained by logistic regression (BOSARIS/FoCal style).

Two systems that fail on different trials (different front ends, a GMM-UBM and an SVM) make a
better one when their scores are added with the right weights. The weights and an offset are
the logistic regression of the trial labels on the systems' scores,

    llr = offset + sum_i w_i * score_i

with target and impostor trials weighted to an effective prior ``p_target`` (0.5: equal total
weight, so the excess of impostor trials does not pull the weights), which also makes the fused
score a calibrated log-likelihood ratio for that prior. Fit on development trials only, never on
the trials the fusion will score.

>>> import numpy as np
>>> from gmmkit_apps.speech.fusion import fit_fusion
>>> rng = np.random.default_rng(0)
>>> y = rng.random(2000) < 0.2
>>> good = np.where(y, 2.0, 0.0) + rng.normal(size=2000)        # a good system
>>> weak = np.where(y, 1.0, 0.0) + rng.normal(size=2000) * 2.0  # a weaker one
>>> fusion = fit_fusion([good, weak], y)
>>> bool(fusion.weights[0] > fusion.weights[1] > 0)
True
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gmmkit.exceptions import DataError, ParameterError

__all__ = ["LinearFusion", "fit_fusion", "fit_logistic"]


def fit_logistic(X, labels, *, p_target=0.5, l2=1e-3, max_iter=100, tol=1e-10, what="fusion"):
    """Prior-weighted logistic regression by Newton's method (iteratively reweighted least
    squares): coefficients ``(offset, w_1, ..., w_d)`` for the columns of ``X`` (n_trials, d).
    Target trials share weight ``p_target`` and impostor trials ``1 - p_target``; ``l2`` is a ridge
    penalty ``l2/2 * |w|^2`` on the weights (not the offset), as scikit-learn's
    ``LogisticRegression(C=1/l2)`` with those sample weights. The offset is returned without
    the prior's log-odds, so the fused score is a log-likelihood ratio. ``what`` names the caller
    in error messages."""
    from scipy.special import expit

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(labels, dtype=bool).ravel()
    if X.ndim != 2 or X.shape[0] != y.size:
        raise DataError(f"{what}: {X.shape[0] if X.ndim == 2 else X.size} trials of scores but {y.size} labels")
    if not np.all(np.isfinite(X)):
        raise DataError(f"{what}: scores must be finite")
    n_t = int(y.sum())
    if n_t == 0 or n_t == y.size:
        raise DataError(f"{what} needs both target and impostor trials")
    if not 0.0 < p_target < 1.0 or not (np.isfinite(l2) and l2 >= 0) or max_iter < 1:
        raise ParameterError(f"p_target {p_target!r} must be in (0, 1), l2 {l2!r} >= 0, max_iter {max_iter!r} >= 1")
    A = np.column_stack([np.ones(y.size), X])
    w = np.where(y, p_target / n_t, (1.0 - p_target) / (y.size - n_t))
    ridge = np.full(A.shape[1], float(l2))
    ridge[0] = 0.0
    beta = np.zeros(A.shape[1])
    for _ in range(max_iter):
        p = expit(A @ beta)
        grad = A.T @ (w * (y - p)) - ridge * beta
        H = (A * (w * p * (1 - p))[:, None]).T @ A + np.diag(ridge)
        try:
            step = np.linalg.solve(H, grad)
        except np.linalg.LinAlgError:
            step = np.full_like(beta, np.nan)
        if not np.all(np.isfinite(step)):
            raise DataError(f"{what}: the development trials do not determine the weights "
                            "(a constant or duplicated score set, or separable scores with l2=0)")
        beta += step
        if np.max(np.abs(step)) < tol:
            break
    beta[0] -= np.log(p_target / (1.0 - p_target))
    return beta


@dataclass(frozen=True)
class LinearFusion:
    """``offset + sum_i weights[i] * scores[i]`` over score sets of one shape."""

    offset: float
    weights: np.ndarray

    def apply(self, score_sets):
        """The fused log-likelihood ratios of ``score_sets`` (a list, one array per system, all of
        one shape, in the order the fusion was fitted)."""
        sets = [np.asarray(s, dtype=np.float64) for s in score_sets]
        if len(sets) != self.weights.size:
            raise DataError(f"fusion of {self.weights.size} systems applied to {len(sets)} score sets")
        if any(s.shape != sets[0].shape for s in sets):
            raise DataError("fusion: the score sets have different shapes")
        return self.offset + sum(w * s for w, s in zip(self.weights, sets))


def fit_fusion(score_sets, labels, *, p_target=0.5, l2=1e-3):
    """A :class:`LinearFusion` of ``score_sets`` (one array per system, one entry per
    development trial, any common shape) from the trials' ``labels`` (True for targets);
    see :func:`fit_logistic`."""
    sets = [np.asarray(s, dtype=np.float64).ravel() for s in score_sets]
    y = np.asarray(labels, dtype=bool).ravel()
    if not sets or any(s.size != y.size for s in sets):
        raise DataError(f"fusion: every score set needs one score per trial ({y.size} labels)")
    beta = fit_logistic(np.column_stack(sets), y, p_target=p_target, l2=l2)
    return LinearFusion(float(beta[0]), beta[1:])
