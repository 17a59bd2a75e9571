"""GMM supervectors and a linear SVM back end (Campbell, Sturim and Reynolds, 2006).

An utterance becomes one fixed-length vector: the UBM's means MAP-adapted to its
frames (relevance factor ``r``), each component's offset from the UBM mean scaled
by ``sqrt(w_k) / sigma_k`` and stacked (K x D values). The inner product of two
such vectors is a linear approximation of the KL divergence between the two
adapted GMMs, so a *linear* SVM in this space is the GMM-SVM of Campbell et al.
Each speaker gets one SVM: its enrolment utterances against background
utterances of other speakers (scikit-learn's ``LinearSVC``); a test utterance
scores the SVM's signed distance.

>>> import numpy as np
>>> from gmmkit_apps.speech.ubm import train_ubm
>>> from gmmkit_apps.speech.speaker_svm import supervectors, train_svms, svm_scores
>>> rng = np.random.default_rng(0)
>>> utt = lambda c: rng.normal(size=(150, 3)) + c
>>> ubm = train_ubm([utt(c) for c in (-1.0, 0.0, 1.0)], n_components=4, random_state=0)
>>> sv = supervectors(ubm, [utt(1.0) for _ in range(5)] + [utt(-1.0) for _ in range(5)])
>>> svms = train_svms(sv, ["a"] * 5 + ["b"] * 5, ["a", "b"])
>>> s = svm_scores(svms, supervectors(ubm, [utt(1.0)]))
>>> bool(s[0, 0] > s[0, 1])
True
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gmmkit.exceptions import DataError, ParameterError

__all__ = ["supervector", "supervectors", "SpeakerSVM", "train_svms", "svm_scores"]


def _scale(ubm):
    """sqrt(w_k) / sigma_kd, shape (K, D)."""
    return np.sqrt(ubm.weights_)[:, None] / np.sqrt(ubm.covariances_)


def supervectors(ubm, frames, *, relevance=16.0):
    """Supervectors (n_utterances, K * D) of a list of frame arrays (one per utterance):
    ``sqrt(w_k) (m_k - mu_k) / sigma_k`` with ``m_k`` the MAP-adapted mean."""
    if ubm.covariance_type != "diag":
        raise ParameterError("the UBM must have covariance_type='diag'")
    if not relevance > 0:
        raise ParameterError("relevance factor must be positive")
    K, D = ubm.means_.shape
    scale = _scale(ubm)
    out = np.empty((len(frames), K * D))
    for i, X in enumerate(frames):
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != D or X.shape[0] == 0:
            raise DataError(f"utterance {i}: expected frames (n, {D}), got {X.shape}")
        resp = ubm.predict_proba(X).astype(np.float64)
        n = resp.sum(axis=0)
        F = resp.T @ X.astype(np.float64)  # first-order statistics
        # m_k - mu_k = alpha_k (F_k / n_k - mu_k) = (F_k - n_k mu_k) / (n_k + r)
        offset = (F - n[:, None] * ubm.means_) / (n + relevance)[:, None]
        out[i] = (scale * offset).ravel()
    return out


def supervector(ubm, frames, *, relevance=16.0):
    """The supervector (K * D,) of one utterance's frames (see :func:`supervectors`)."""
    return supervectors(ubm, [frames], relevance=relevance)[0]


@dataclass
class SpeakerSVM:
    """A linear SVM in supervector space: score(x) = coef . x + intercept."""

    name: str
    coef: np.ndarray
    intercept: float


def train_svms(sv, labels, speakers, *, C=1.0, background=None, background_labels=None):
    """One :class:`SpeakerSVM` per name in ``speakers``: its rows of ``sv`` (labelled by
    ``labels``) are the positives; every other row of ``sv`` and of ``background`` (labelled
    by ``background_labels``) is a negative. Classes are weighted by their sizes
    (``class_weight='balanced'``). The SVMs are scikit-learn's ``SVC`` on the linear kernel,
    computed once (the bias is not penalised); ``coef`` is recovered from the dual."""
    from sklearn.svm import SVC

    sv = np.asarray(sv, dtype=np.float64)
    labels = np.asarray(labels, dtype=object)
    if background is not None:
        sv = np.vstack([sv, np.asarray(background, dtype=np.float64)])
        labels = np.concatenate([labels, np.asarray(background_labels, dtype=object)])
    if sv.shape[0] != labels.size:
        raise ParameterError(f"{sv.shape[0]} supervectors but {labels.size} labels")
    if not (np.isfinite(C) and C > 0):
        raise ParameterError(f"C={C!r}: a positive number")
    gram = sv @ sv.T
    out = []
    for s in speakers:
        y = labels == s
        if not y.any() or y.all():
            raise DataError(f"speaker {s!r}: need both its own and other speakers' utterances")
        clf = SVC(C=C, kernel="precomputed", class_weight="balanced", tol=1e-6).fit(gram, y)
        coef = clf.dual_coef_[0] @ sv[clf.support_]
        out.append(SpeakerSVM(s, coef, float(clf.intercept_[0])))
    return out


def svm_scores(svms, sv):
    """Scores (n_utterances, n_speakers) of supervectors ``sv`` under each speaker's SVM."""
    W = np.stack([m.coef for m in svms], axis=1)
    b = np.array([m.intercept for m in svms])
    return np.asarray(sv, dtype=np.float64) @ W + b
