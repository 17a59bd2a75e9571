"""Merging mixture components into clusters by entropy (Baudry, Raftery, Celeux, Lo and
Gottardo 2010), as mclust's ``clustCombi`` and ``clustCombiOptim``.

A cluster may need several Gaussians (a skewed or curved group): BIC then picks more
components than there are clusters. Starting from the K components' posteriors t_ik,
each step merges the two clusters whose union lowers the entropy
-sum_i sum_k t_ik log t_ik the most (the merged posterior is the sum of the two), down to
one cluster. The entropy against the number of clusters has an elbow;
:attr:`MergeResult.n_clusters` is mclust's pick: the change point of a two-piece linear
fit (``clustCombiOptim(reg = 2)``).

>>> import numpy as np
>>> from gmmkit import GaussianMixture
>>> from gmmkit.merge import merge_components
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(0, 1, (200, 2)) * [4, 1], rng.normal(12, 1, (100, 2))])
>>> gm = GaussianMixture(3, random_state=0).fit(X)
>>> res = merge_components(gm, X)
>>> res.entropy.shape, len(res.merges)
((3,), 2)
>>> np.bincount(res.labels(2)).tolist()   # the elongated group's two Gaussians merged
[200, 100]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .exceptions import ParameterError

__all__ = ["MergeResult", "merge_components", "merge_posteriors"]


def _xlogx_sum(t):
    """sum of t log t, with 0 log 0 = 0 (mclust's xlog)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.where(t > 0, t * np.log(np.where(t > 0, t, 1.0)), 0.0).sum())


@dataclass
class MergeResult:
    """The merge sequence of :func:`merge_posteriors`.

    Attributes
    ----------
    posteriors : list of ndarray
        ``posteriors[K - 1]`` is the (n, K) matrix of the K-cluster solution, K = 1..K_max.
    merges : list of (int, int)
        ``merges[j]``: the clusters (0-based, in the numbering of the K_max - j solution)
        merged to make the K_max - j - 1 solution; the second joins the first and is
        removed, later clusters shift down by one (mclust's ``combMat``).
    entropy : ndarray (K_max,)
        ``entropy[K - 1]`` = -sum t log t of the K-cluster solution.
    """

    posteriors: list
    merges: list
    entropy: np.ndarray

    @property
    def max_clusters(self):
        return len(self.posteriors)

    def labels(self, n_clusters):
        """Hard labels of the ``n_clusters`` solution (first maximum, as mclust's ``map``)."""
        if not 1 <= int(n_clusters) <= self.max_clusters:
            raise ParameterError(f"n_clusters must be in 1..{self.max_clusters}; got {n_clusters!r}")
        return np.argmax(self.posteriors[int(n_clusters) - 1], axis=1)

    def components(self, n_clusters):
        """For the ``n_clusters`` solution: the list of original components in each cluster."""
        if not 1 <= int(n_clusters) <= self.max_clusters:
            raise ParameterError(f"n_clusters must be in 1..{self.max_clusters}; got {n_clusters!r}")
        groups = [[k] for k in range(self.max_clusters)]
        for l1, l2 in self.merges[:self.max_clusters - int(n_clusters)]:
            groups[l1] = groups[l1] + groups.pop(l2)
        return [sorted(g) for g in groups]

    @property
    def n_clusters(self):
        """mclust's ``clustCombiOptim`` (two-piece linear fit of entropy against the number of
        clusters; the change point). With two components or fewer: the number of components."""
        K = self.max_clusters
        if K <= 2:
            return K
        x, y = np.arange(1, K + 1, dtype=np.float64), self.entropy
        best, pick = np.inf, K
        for c in range(2, K):  # pieces 1..c and c..K share the point c
            ss = 0.0
            for xs, ys in ((x[:c], y[:c]), (x[c - 1:], y[c - 1:])):
                a = ((xs - xs.mean()) * (ys - ys.mean())).sum() / ((xs - xs.mean()) ** 2).sum()
                ss += float((((a * xs - a * xs.mean() + ys.mean()) - ys) ** 2).sum())
            if ss < best:
                best, pick = ss, c
        return pick

    def table(self):
        """One row per number of clusters: clusters, entropy, the components in each."""
        import pandas as pd

        return pd.DataFrame({"n_clusters": range(self.max_clusters, 0, -1),
                             "entropy": self.entropy[::-1],
                             "clusters": [" ".join("+".join(map(str, g)) for g in self.components(K))
                                          for K in range(self.max_clusters, 0, -1)]})


def merge_posteriors(resp):
    """The entropy merge sequence (:class:`MergeResult`) from an (n, K) posterior matrix."""
    tau = np.asarray(resp, dtype=np.float64)
    if tau.ndim != 2 or tau.shape[1] < 1 or not np.all(np.isfinite(tau)) or np.any(tau < 0):
        raise ParameterError(f"posteriors must be a finite non-negative (n, K) matrix; got shape {tau.shape}")
    K = tau.shape[1]
    posteriors, merges = [tau], []
    for k in range(K, 1, -1):
        cur = posteriors[0]
        col = [_xlogx_sum(cur[:, j]) for j in range(k)]
        best = None
        # mclust scans its (K-1) x K matrix of entropy gains column by column and keeps the
        # first maximum: l2 outer, l1 inner
        for l2 in range(1, k):
            for l1 in range(l2):
                gain = _xlogx_sum(cur[:, l1] + cur[:, l2]) - col[l1] - col[l2]
                if best is None or gain > best[0]:
                    best = (gain, l1, l2)
        _, l1, l2 = best
        merged = cur.copy()
        merged[:, l1] += merged[:, l2]
        posteriors.insert(0, np.delete(merged, l2, axis=1))
        merges.append((l1, l2))
    entropy = np.array([-_xlogx_sum(t) for t in posteriors]) + 0.0  # no -0.0
    return MergeResult(posteriors, merges, entropy)


def merge_components(model, X):
    """The entropy merge sequence of a fitted mixture's components on data X (mclust's
    ``clustCombi``); a noise component, if any, is left out of the merging."""
    resp = model.predict_proba(X)
    K = model.means_.shape[0]
    return merge_posteriors(resp[:, :K])
