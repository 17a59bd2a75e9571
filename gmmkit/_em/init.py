"""Initial parameters: k-means, k-means++, random responsibilities or random rows (as
scikit-learn), mclust's model-based hierarchical clustering (:mod:`gmmkit._em.hc`), the
user's ``*_init`` arrays, a warm start, and the noise component's starting rows (an
NNclean-like rule)."""
from __future__ import annotations

import numpy as np

from .._params import Statistics
from .mstep import m_step


def partition_statistics(problem, resp, labels, w):
    """Statistics (nk, sx, sxx) of the shifted sample from responsibilities ``resp`` or
    hard ``labels`` (-1 = unassigned), weighted by ``w`` (None: ones)."""
    X, K, D, entry = problem.sample, problem.K, problem.D, problem.entry
    nk = np.zeros(K + 1)
    sx = np.zeros((K, D))
    sxx = np.zeros(entry.stats_shape(K, D))
    for k in range(K):
        if labels is not None:
            idx = np.flatnonzero(labels == k)
            Xk = X[idx].astype(np.float64) - problem.shift
            r = np.ones(idx.size) if w is None else w[idx]
        else:
            Xk = X.astype(np.float64, copy=False) - problem.shift
            r = resp[:, k] if w is None else resp[:, k] * w
        nk[k] = r.sum()
        sx[k] = (Xk * r[:, None]).sum(axis=0)
        sxx[k] = entry.second_moments(Xk, r)
    return Statistics(nk, sx, sxx)


def noise_start(problem):
    """(row mask of likely noise, its weight share): rows whose distance to their 10th
    nearest neighbour is far above the typical one (mclust's NNclean, simplified)."""
    from sklearn.neighbors import NearestNeighbors

    X, sw = problem.sample, problem.sample_w
    N = X.shape[0]
    k = min(10, N - 1)
    if k < 2:
        return np.zeros(N, bool), 0.05
    d = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)[0][:, -1]
    med = np.median(d)
    mad = np.median(np.abs(d - med)) * 1.4826 + 1e-12
    mask = d > med + 4 * mad
    share = sw[mask].sum() / problem.total if sw.size else mask.mean()
    if share > 0.5 or N - mask.sum() < 2 * problem.K:  # not a noise pattern: keep every row
        return np.zeros(N, bool), 0.05
    return mask, float(np.clip(share, 0.01, 0.5))


class Initialiser:
    """Starting parameters for each initialisation of one fit, as the estimator's
    ``init_params``, ``weights_init``, ``means_init``, ``precisions_init`` and
    ``noise_init`` ask."""

    def __init__(self, problem, est):
        self.problem, self.est = problem, est
        self._noise = self._hc = None

    def __call__(self, rng):
        problem, est = self.problem, self.est
        X, K = problem.sample, problem.K
        N = X.shape[0]
        sw = problem.sample_w if problem.sample_w.size else None
        resp = labels = None
        pi0 = est.noise_init
        if problem.noise is not None and pi0 is None:
            if self._noise is None:
                self._noise = noise_start(problem)
            mask, pi0 = self._noise
            if mask.any():  # initialise the Gaussians on the rows that are not noise
                sw = (np.ones(N) if sw is None else sw) * ~mask
        if est.init_params == "kmeans":
            from sklearn.cluster import KMeans

            labels = KMeans(n_clusters=K, n_init=1, random_state=rng).fit(X, sample_weight=sw).labels_
        elif est.init_params == "hc":
            labels = self.hc_labels(rng, sw)
        elif est.init_params == "random":
            resp = rng.uniform(size=(N, K)).astype(X.dtype)
            resp /= resp.sum(axis=1)[:, None]
        elif est.init_params == "random_from_data":
            p = None if sw is None else sw / sw.sum()
            idx = rng.choice(N, size=K, replace=False, p=p)
            labels = np.full(N, -1)
            labels[idx] = np.arange(K)
        else:  # k-means++
            from sklearn.cluster import kmeans_plusplus

            _, idx = kmeans_plusplus(X, K, random_state=rng, sample_weight=sw)
            labels = np.full(N, -1)
            labels[idx] = np.arange(K)
        params = m_step(problem, partition_statistics(problem, resp, labels, sw), rng, initial=True)
        return self.user_overrides(params, pi0)

    def hc_labels(self, rng, sw):
        """The hierarchical partition into K of (at most :data:`hc.HC_ROWS` of) the rows of
        positive weight; -1 for the others. Without a subsample the tree is made once."""
        from .hc import HC_ROWS, hc_labels

        X, K = self.problem.sample, self.problem.K
        n_rows = X.shape[0] if sw is None else int(np.count_nonzero(sw > 0))
        if n_rows > HC_ROWS:
            return hc_labels(X, K, rng, sw, max_rows=HC_ROWS)
        if self._hc is None:
            self._hc = hc_labels(X, K, rng, sw, max_rows=HC_ROWS)
        return self._hc

    def user_overrides(self, params, pi0):
        est, problem = self.est, self.problem
        if est.weights_init is not None:
            params.weights = np.asarray(est.weights_init, dtype=np.float64).copy()
        if est.means_init is not None:
            params.means = np.asarray(est.means_init, dtype=np.float64) - problem.shift
        if est.precisions_init is not None:
            params.covariances = problem.entry.from_precisions(np.asarray(est.precisions_init, dtype=np.float64))
            params.prec_chol = problem.entry.precision_cholesky(params.covariances)
        if problem.noise is not None:
            params.weights = params.weights * (1.0 - pi0) / params.weights.sum()
            params.noise_weight = float(pi0)
        return params


def from_estimator(problem, est):
    """The fitted estimator's parameters in the fit's coordinates (warm start, streams)."""
    from .._params import MixtureParams

    pi0 = est.noise_weight_ if problem.noise is not None else 0.0
    if problem.noise is not None and pi0 <= 0:
        pi0 = est.noise_init or 0.05
    weights = est.weights_ / est.weights_.sum() * (1.0 - pi0)
    return MixtureParams(weights, est.means_ - problem.shift, est.precisions_cholesky_.copy(),
                         est.covariances_.copy(), float(pi0))
