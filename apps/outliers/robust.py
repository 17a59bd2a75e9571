"""Masking-resistant fitting of a :mod:`~gmmkit_apps.outliers.mixed` mixture.

1. K is chosen by BIC in ``1..max_components`` (a small cap: a rich mixture can give
   any tight group of anomalies a component of its own).
2. Components holding less than ``min_component_weight`` of the rows are not normal
   modes: they are dropped from the density (a small, tight cluster is what an
   anomaly cluster looks like).
3. Trimmed EM: the ``trim_fraction`` rows of lowest density under the pruned model
   get weight 0 and the mixture of the kept components is refitted on the rest (warm
   start), up to
   ``n_rounds`` times or until the trimmed set stops changing. A cluster of
   anomalies that was pruned in step 2 is trimmed here, so it cannot win a
   component back in the refit.

Everything is deterministic (:func:`~gmmkit_apps.outliers.mixed.em` starts from the
data's principal axis), so the result does not depend on a seed.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> Z = np.r_[rng.normal(size=(300, 2)), rng.normal(scale=0.05, size=(20, 2)) + 5]
>>> fit = fit_robust(Z, np.zeros((320, 0), int), [])
>>> fit.params.n_components, bool(fit.kept[-20:].any())
(1, False)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .mixed import bic, em, log_density


@dataclass
class RobustFit:
    """The pruned mixture, the rows kept in its last fit, what was dropped, and the trimming."""

    params: object  # MixedParams
    kept: np.ndarray
    dropped_components: int
    n_rounds: int
    alpha: float  # fraction of rows trimmed out of the last fit


def prune(p, min_weight):
    """Drop components lighter than ``min_weight`` (the heaviest one always stays)."""
    keep = np.flatnonzero(p.weights >= min_weight)
    if keep.size == 0:
        keep = np.array([int(np.argmax(p.weights))])
    if keep.size == p.n_components:
        return p, 0
    return p.select(keep), p.n_components - keep.size


def choose_k(Z, codes, levels, weights, max_components, **em_args):
    """EM result with the lowest BIC over K = 1..max_components (K capped by the rows)."""
    D = Z.shape[1]
    n = weights.sum()
    cap = max(1, min(max_components, int(n // max(2, 2 * (D + 1)))))
    best = None
    for k in range(1, cap + 1):
        p = em(Z, codes, levels, k, weights, **em_args)
        b = bic(p, weights)
        if best is None or b < best[0]:
            best = (b, p)
    return best[1]


def fit_robust(Z, codes, levels, *, max_components=3, trim_fraction=0.1, n_rounds=3,
               min_component_weight=0.1, n_components=None, **em_args):
    """Fit, prune and trim (module docstring); returns a :class:`RobustFit`."""
    n = Z.shape[0]
    weights = np.ones(n)
    if n_components is None:
        p = choose_k(Z, codes, levels, weights, max_components, **em_args)
    else:
        p = em(Z, codes, levels, int(n_components), weights, **em_args)
    pruned, dropped = prune(p, min_component_weight)
    total_dropped = dropped
    n_trim = int(math.floor(trim_fraction * n))
    r = 0
    while r < n_rounds and n_trim > 0:
        r += 1
        s = log_density(pruned, Z, codes)
        new = np.ones(n)
        new[np.argsort(s, kind="stable")[:n_trim]] = 0.0
        if np.array_equal(new, weights):
            break
        weights = new
        p = em(Z, codes, levels, pruned.n_components, weights, start=pruned, **em_args)
        pruned, dropped = prune(p, min_component_weight)
        total_dropped += dropped
    kept = weights > 0
    return RobustFit(pruned, kept, total_dropped, r, float(1.0 - kept.mean()))
