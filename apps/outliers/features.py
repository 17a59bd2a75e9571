"""What each feature is: continuous (a Gaussian part), discrete (a categorical part) or
constant (no part), and the level codes of the discrete ones.

A feature with at most ``max_levels`` distinct observed values (binary flags, small
codes, counts with few values) is *discrete*: it is modelled by level probabilities
per component, not by a Gaussian (a Gaussian on a few values is a set of spikes
that drowns every other feature) and it is not dropped.

>>> import numpy as np
>>> X = np.array([[0.0, 1.5, 7.0], [1.0, 2.5, 7.0], [1.0, 3.1, 7.0], [0.0, 4.2, 7.0]])
>>> kinds = feature_kinds(X, max_levels=2)
>>> kinds.tolist()
['discrete', 'continuous', 'constant']
>>> levels = discrete_levels(X, kinds)
>>> encode(np.array([[1.0, 0.0, 0.0], [5.0, 0.0, 0.0], [np.nan, 0.0, 0.0]]), kinds, levels).tolist()
[[1], [2], [-1]]
"""
from __future__ import annotations

import numpy as np

CONTINUOUS, DISCRETE, CONSTANT = "continuous", "discrete", "constant"


def feature_kinds(X, max_levels):
    """'continuous', 'discrete' or 'constant' for every column of X (NaN cells left out)."""
    kinds = []
    for col in np.asarray(X, dtype=np.float64).T:
        n = np.unique(col[~np.isnan(col)]).size
        kinds.append(CONSTANT if n < 2 else DISCRETE if n <= max_levels else CONTINUOUS)
    return np.array(kinds, dtype=object)


def discrete_levels(X, kinds):
    """Sorted observed values of every discrete column (a list of arrays)."""
    X = np.asarray(X, dtype=np.float64)
    return [np.unique(X[~np.isnan(X[:, j]), j]) for j in np.flatnonzero(kinds == DISCRETE)]


def encode(X, kinds, levels):
    """Level codes (n, n_discrete): 0..L-1 for a seen value, L for a value never seen in
    training, -1 for a missing cell."""
    X = np.asarray(X, dtype=np.float64)
    cols = np.flatnonzero(kinds == DISCRETE)
    out = np.empty((X.shape[0], cols.size), dtype=np.int64)
    for i, (j, lv) in enumerate(zip(cols, levels)):
        x = X[:, j]
        pos = np.clip(np.searchsorted(lv, x), 0, lv.size - 1)
        code = np.where(lv[pos] == x, pos, lv.size)
        out[:, i] = np.where(np.isnan(x), -1, code)
    return out


def _bowley(q10, q50, q90):
    width = q90 - q10
    return 0.0 if width <= 0 else (q90 + q10 - 2.0 * q50) / width


def _log_tail(x, lo, delta):
    """log(x - lo + delta) above ``lo``, continued by its tangent below (monotone, finite)."""
    t = x - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(t >= 0, np.log(np.maximum(t, 0) + delta), np.log(delta) + t / delta)


def skew_transforms(C, q=0.1, gain=0.1):
    """Per continuous column: 0 (keep), +1 (log of x - min, for a long right tail) or -1
    (log of max - x, for a long left tail), whichever makes the 10/50/90 % quantiles
    most symmetric; with the ``(lo, delta)`` of the log. Quantiles, not moments: the
    outliers do not choose the transform."""
    out = []
    for x in np.asarray(C, dtype=np.float64).T:
        x = x[~np.isnan(x)]
        qs = np.quantile(x, [0.1, 0.25, 0.5, 0.75, 0.9])
        delta = max(qs[3] - qs[1], (qs[4] - qs[0]) / 2.56, 1e-12 * max(1.0, abs(qs[2])))
        best = (abs(_bowley(*np.quantile(x, [q, 0.5, 1 - q]))), 0, 0.0, delta)
        for sign in (1, -1):
            lo = x.min() if sign > 0 else -x.max()
            y = _log_tail(sign * x, lo, delta)
            b = abs(_bowley(*np.quantile(y, [q, 0.5, 1 - q])))
            if b < best[0] - gain:  # a clear gain only
                best = (b, sign, lo, delta)
        out.append(best[1:])
    return out


def apply_skew(C, transforms):
    """Apply :func:`skew_transforms`' choices to the columns of C (NaN stays NaN)."""
    C = np.array(C, dtype=np.float64)
    for j, (sign, lo, delta) in enumerate(transforms):
        if sign:
            C[:, j] = _log_tail(sign * C[:, j], lo, delta)
    return C


def rounding_variances(C, scale, max_levels):
    """``(spacing / scale)**2 / 12`` for columns of C with at most ``max_levels`` distinct
    values (0 for the others): the variance of rounding a latent value to their grid.

    >>> rounding_variances(np.array([[0.0, 0.1], [1.0, 0.7], [2.0, 0.35]]), np.ones(2), 3).round(4).tolist()
    [0.0833, 0.0052]
    """
    out = np.zeros(C.shape[1])
    for j in range(C.shape[1]):
        u = np.unique(C[~np.isnan(C[:, j]), j])
        if 1 < u.size <= max_levels:
            out[j] = (np.diff(u).min() / scale[j]) ** 2 / 12.0
    return out
