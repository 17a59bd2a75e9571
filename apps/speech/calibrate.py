"""Duration-aware score calibration: a quality-measure logistic regression (BOSARIS style).

A verification score is an average of per-frame log-likelihood ratios, so its spread, and the
threshold that separates target from impostor trials, depend on how much speech the test file
holds. With ``d`` the log of the test file's speech duration (seconds), the calibrated score is

    llr = a + b * score + c * d + e * score * d

(a log-likelihood ratio), with ``(a, b, c, e)`` fitted by logistic regression on development
trials, target and impostor trials weighted to equal total weight (an effective prior of 0.5, so
the 6:1 excess of impostor trials does not pull the threshold). Fit it on development trials
only, never on the trials it will score.

>>> import numpy as np
>>> from gmmkit_apps.speech.calibrate import fit_duration_calibration
>>> rng = np.random.default_rng(0)
>>> d = rng.uniform(0.2, 5.0, 600)                       # seconds of speech
>>> y = rng.random(600) < 0.3                             # target trials
>>> s = np.where(y, 1.0, -1.0) + rng.normal(size=600) / np.sqrt(d)  # short files: noisier scores
>>> cal = fit_duration_calibration(s, d, y)
>>> bool(cal.coef[3] > 0)  # the longer the file, the more its score is trusted
True
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gmmkit.exceptions import DataError

__all__ = ["DurationCalibration", "fit_duration_calibration"]


def _design(scores, seconds):
    s = np.asarray(scores, dtype=np.float64).ravel()
    t = np.asarray(seconds, dtype=np.float64).ravel()
    if s.shape != t.shape:
        raise DataError(f"{s.size} scores but {t.size} durations")
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(t))):
        raise DataError("calibration: scores and durations must be finite")
    if np.any(t <= 0):
        raise DataError("calibration: durations must be positive (seconds of speech)")
    d = np.log(t)
    return np.column_stack([np.ones_like(s), s, d, s * d])


@dataclass(frozen=True)
class DurationCalibration:
    """Coefficients ``(a, b, c, e)`` of ``a + b*score + c*log(dur) + e*score*log(dur)``."""

    coef: np.ndarray

    def apply(self, scores, seconds):
        """Calibrated log-likelihood ratios of ``scores`` (any shape) for test files of
        ``seconds`` of speech (broadcast against ``scores``: one per row of a files x speakers matrix
        is ``seconds[:, None]``)."""
        scores = np.asarray(scores, dtype=np.float64)
        seconds = np.broadcast_to(np.asarray(seconds, dtype=np.float64), scores.shape)
        return (_design(scores, seconds) @ self.coef).reshape(scores.shape)


def fit_duration_calibration(scores, seconds, labels, *, l2=1e-3, max_iter=100, tol=1e-10):
    """Fit a :class:`DurationCalibration` by Newton's method (iteratively reweighted least squares)
    on development trials: ``scores``, the test files' ``seconds`` of speech and ``labels``
    (True for target trials). Target and impostor trials get equal total weight (summing to 1);
    ``l2`` is a ridge penalty ``l2/2 * (b^2 + c^2 + e^2)`` (not on the offset) that keeps the
    coefficients finite when the development scores separate the trials perfectly (scikit-learn's
    ``LogisticRegression(C=1/l2)`` with these sample weights)."""
    from .fusion import fit_logistic

    X = _design(scores, seconds)
    y = np.asarray(labels, dtype=bool).ravel()
    if y.size != X.shape[0]:
        raise DataError(f"{X.shape[0]} scores but {y.size} labels")
    beta = fit_logistic(X[:, 1:], y, p_target=0.5, l2=l2, max_iter=max_iter, tol=tol, what="calibration")
    return DurationCalibration(beta)
