"""Verification metrics: equal error rate, minimum detection cost, DET curve.

Scores are higher for "same speaker"; ``labels`` are True for target trials.

>>> import numpy as np
>>> from gmmkit_apps.speech.metrics import eer, min_dcf
>>> scores = np.array([2.0, 1.5, 1.0, 0.2, -0.5, -1.0])
>>> labels = np.array([True, True, False, True, False, False])
>>> round(eer(scores, labels)[0], 3)
0.333
>>> round(min_dcf(scores, labels, p_target=0.5)[0], 3)
0.333
"""
from __future__ import annotations

import numpy as np

from gmmkit.exceptions import DataError

__all__ = ["error_rates", "eer", "min_dcf", "det_curve", "plot_det", "classification_scores"]


def _check(scores, labels):
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).astype(bool).ravel()
    if s.shape != y.shape:
        raise DataError(f"{s.size} scores but {y.size} labels")
    if not np.all(np.isfinite(s)):
        raise DataError("scores hold NaN or infinite values")
    if y.all() or not y.any():
        raise DataError("need both target and non-target trials")
    return s, y


def error_rates(scores, labels):
    """Miss and false-alarm rates for every threshold (accept when score >= threshold).

    Returns (p_miss, p_fa, thresholds); the first entry accepts everything, the
    last rejects everything.
    """
    s, y = _check(scores, labels)
    order = np.argsort(s, kind="mergesort")
    s, y = s[order], y[order]
    n_t, n_n = y.sum(), (~y).sum()
    # threshold just above position i rejects s[:i+1]
    miss = np.concatenate([[0], np.cumsum(y)]) / n_t
    fa = 1.0 - np.concatenate([[0], np.cumsum(~y)]) / n_n
    # entry 0 accepts everything; entry i > 0 rejects s[:i] (threshold just above s[i-1]);
    # a threshold cannot split tied scores, so only the last of a run of ties is kept
    keep = np.concatenate([[True], np.diff(s) > 0, [True]])
    thr = np.concatenate([[s[0] - 1.0], s + 1e-12 * np.maximum(1.0, np.abs(s))])
    return miss[keep], fa[keep], thr[keep]


def eer(scores, labels):
    """Equal error rate and the threshold where misses and false alarms cross.

    Returns (eer, threshold); eer is interpolated linearly between the two
    operating points that bracket the crossing.
    """
    miss, fa, thr = error_rates(scores, labels)
    i = int(np.argmax(miss >= fa))  # first point where misses have caught up
    if i == 0:
        return float(miss[0]), float(thr[0])
    m0, f0, m1, f1 = miss[i - 1], fa[i - 1], miss[i], fa[i]
    d = (m1 - m0) - (f1 - f0)
    a = 0.0 if d == 0 else (f0 - m0) / d
    return float(m0 + a * (m1 - m0)), float(thr[i - 1] + a * (thr[i] - thr[i - 1]))


def min_dcf(scores, labels, *, p_target=0.01, c_miss=1.0, c_fa=1.0):
    """Normalised minimum detection cost (NIST SRE style) and its threshold.

    DCF(t) = c_miss p_target P_miss(t) + c_fa (1 - p_target) P_fa(t), divided by
    the cost of the best trivial system min(c_miss p_target, c_fa (1 - p_target)).
    """
    miss, fa, thr = error_rates(scores, labels)
    dcf = c_miss * p_target * miss + c_fa * (1 - p_target) * fa
    dcf /= min(c_miss * p_target, c_fa * (1 - p_target))
    i = int(np.argmin(dcf))
    return float(dcf[i]), float(thr[i])


def det_curve(scores, labels):
    """(p_fa, p_miss) operating points of the detection error trade-off curve."""
    miss, fa, _ = error_rates(scores, labels)
    return fa, miss


def plot_det(scores, labels, ax=None, *, label=None):
    """Draw the DET curve on normal-deviate axes (needs matplotlib); returns the Axes."""
    import matplotlib.pyplot as plt
    from scipy.stats import norm

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    fa, miss = det_curve(scores, labels)
    n_t = int(np.sum(np.asarray(labels).astype(bool)))
    n_n = int(np.size(labels)) - n_t
    lo = 0.5 / max(n_t, n_n)  # zero rates drawn at half a trial
    e, _ = eer(scores, labels)
    ax.plot(norm.ppf(np.clip(fa, lo, 1 - lo)), norm.ppf(np.clip(miss, lo, 1 - lo)),
            drawstyle="steps-post", label=label or f"EER {100 * e:.1f}%")
    ticks = np.array([0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4])
    ticks = ticks[ticks >= lo / 2]
    ax.set_xticks(norm.ppf(ticks), [f"{100 * t:g}" for t in ticks])
    ax.set_yticks(norm.ppf(ticks), [f"{100 * t:g}" for t in ticks])
    lim = norm.ppf([lo / 2, 0.5])
    ax.set_xlim(lim)
    ax.set_ylim(lim)
    ax.plot(lim, lim, color="0.7", lw=0.8, ls=":")
    ax.set_xlabel("false alarm rate (%)")
    ax.set_ylabel("miss rate (%)")
    ax.set_title("DET curve")
    ax.legend(loc="upper right")
    ax.grid(True, color="0.9")
    return ax


def classification_scores(truth, predicted, classes):
    """Accuracy, the number of inputs whose true class the classifier does not know, and the
    confusion matrix (a DataFrame, rows true, columns predicted, over ``classes``; inputs of an
    unknown class are left out of it).

    >>> acc, unknown, cm = classification_scores(["a", "b", "c"], ["a", "a", "a"], ["a", "b"])
    >>> round(acc, 3), unknown, cm.values.tolist()
    (0.333, 1, [[1, 0], [1, 0]])
    """
    import pandas as pd

    truth, predicted = np.asarray(truth), np.asarray(predicted)
    classes = list(classes)
    known = np.isin(truth, classes)
    cm = pd.crosstab(pd.Categorical(truth[known], categories=classes),
                     pd.Categorical(predicted[known], categories=classes), dropna=False)
    cm.index.name, cm.columns.name = "true", "predicted"
    return float(np.mean(truth == predicted)), int((~known).sum()), cm
