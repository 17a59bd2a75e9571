"""Starting parameters of a GMM-HMM fit: frames assigned to states (k-means over all
frames, or each sequence cut into equal segments: the flat start of left-to-right
models), each state's mixture from k-means on its frames, and the chain of the
topology (or the user's ``startprob_init``/``transmat_init``)."""
from __future__ import annotations

import numpy as np

from .._em.init import partition_statistics
from .._em.mstep import m_step
from .._em.problem import Problem
from .params import HMMParams
from .topology import initial_chain

_KMEANS_ROWS = 20_000  # k-means of the state assignment fits on at most this many frames
_STATE_ROWS = 5_000  # and each state's mixture on at most this many


def state_labels(method, X, starts, S, rng):
    """A state for every frame: 'kmeans' clusters, or 'uniform' (sequence q's frames
    cut into S consecutive, equal segments)."""
    if method == "uniform":
        labels = np.empty(X.shape[0], dtype=np.int64)
        for a, b in zip(starts[:-1], starts[1:]):
            labels[a:b] = np.arange(b - a) * S // (b - a)
        return labels
    from sklearn.cluster import KMeans

    N = X.shape[0]
    fit_rows = X if N <= _KMEANS_ROWS else X[np.sort(rng.choice(N, _KMEANS_ROWS, replace=False))]
    return KMeans(n_clusters=S, n_init=1, random_state=rng).fit(fit_rows).predict(X)


def state_mixture(problem, X, rows, rng):
    """A state's starting mixture: k-means (M clusters) on (a sample of) its rows."""
    M = problem.K
    if rows.size < M:  # too few frames: random frames of the whole data
        rows = rng.choice(X.shape[0], size=min(X.shape[0], max(M, 2 * M)), replace=False)
    if rows.size > _STATE_ROWS:
        rows = np.sort(rng.choice(rows, _STATE_ROWS, replace=False))
    sub = Problem(problem.entry, M, problem.D, problem.shift, problem.total, problem.reg_covar,
                  X[rows], np.empty(0))
    if M == 1:
        labels = np.zeros(rows.size, dtype=np.int64)
    else:
        from sklearn.cluster import KMeans

        labels = KMeans(n_clusters=M, n_init=1, random_state=rng).fit(X[rows]).labels_
    return m_step(sub, partition_statistics(sub, None, labels, None), rng, initial=True)


class HMMInitialiser:
    """``initialiser(rng) -> HMMParams`` for each initialisation of one fit (the driver's
    ``initialise``); records the start's structural zeros on the problem."""

    def __init__(self, problem, X, starts, method, startprob=None, transmat=None):
        self.problem, self.X, self.starts, self.method = problem, X, starts, method
        self.chain = initial_chain(problem.topology, problem.S)
        if startprob is not None:
            self.chain = (startprob, self.chain[1])
        if transmat is not None:
            self.chain = (self.chain[0], transmat)

    def __call__(self, rng):
        p = self.problem
        labels = state_labels(self.method, self.X, self.starts, p.S, rng)
        states = [state_mixture(p.states[s], self.X, np.flatnonzero(labels == s), rng) for s in range(p.S)]
        params = HMMParams(self.chain[0].copy(), self.chain[1].copy(), states)
        p.set_start(params)
        return params
