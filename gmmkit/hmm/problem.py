"""The fixed part of a GMM-HMM fit and its M-step: start and transition
probabilities (Dirichlet MAP as hmmlearn's ``startprob_prior``/``transmat_prior``,
structural zeros kept), and each state's mixture by the mixture M-step of
:mod:`gmmkit._em.mstep` on a per-state :class:`~gmmkit._em.problem.Problem`."""
from __future__ import annotations

import numpy as np

from .._em.problem import Problem
from .params import HMMParams


def dirichlet_map(counts, prior, mask):
    """Rows of ``max(counts + prior - 1, 0)`` on the allowed entries ``mask``, normalised
    (hmmlearn's rule); a row with nothing left is uniform over its allowed entries."""
    p = np.maximum(counts + prior - 1.0, 0.0) * mask
    total = p.sum(axis=-1, keepdims=True)
    uniform = mask / np.maximum(mask.sum(axis=-1, keepdims=True), 1)
    return np.where(total > 0, p / np.where(total > 0, total, 1.0), uniform)


class HMMProblem:
    """Shape, topology, priors and data facts of one fit; the driver calls ``m_step``.

    ``states[s]`` is state s's mixture problem (M components; initialisation and
    re-seeding draw from ``sample``, rows of the data). ``fixed`` holds the
    parameters EM does not update (``params`` without 's', 't', 'w' or 'c'), set
    from each initialisation's starting values.
    """

    def __init__(self, entry, S, M, D, shift, total, reg_covar, sample, *, startprob_prior=1.0,
                 transmat_prior=1.0, topology="ergodic", update="stmcw"):
        self.entry, self.S, self.M, self.D = entry, S, M, D
        self.shift = np.asarray(shift, dtype=np.float64)
        self.total = float(total)
        self.startprob_prior = np.broadcast_to(np.asarray(startprob_prior, dtype=np.float64), (S,))
        self.transmat_prior = np.broadcast_to(np.asarray(transmat_prior, dtype=np.float64), (S, S))
        self.topology = topology
        self.update = update
        self.start_mask = np.ones(S)
        self.trans_mask = np.ones((S, S))
        self.fixed = None
        state = Problem(entry, M, D, self.shift, self.total, reg_covar, sample, np.empty(0))
        self.states = [state] * S  # identical: one object (its data scale is computed once)

    def set_start(self, params: HMMParams):
        """Record what a run starts from: the structural zeros (zero start or transition
        probabilities stay zero) and the values of parameters EM keeps fixed."""
        self.start_mask = (params.startprob > 0).astype(np.float64)
        self.trans_mask = (params.transmat > 0).astype(np.float64)
        self.fixed = params

    def m_step(self, stats, rng, *, counter=None):
        from .._em.mstep import m_step

        fixed, upd = self.fixed, self.update
        start = (dirichlet_map(stats.start, self.startprob_prior, self.start_mask)
                 if "s" in upd or fixed is None else fixed.startprob)
        trans = (dirichlet_map(stats.trans, self.transmat_prior, self.trans_mask)
                 if "t" in upd or fixed is None else fixed.transmat)
        states = []
        for s, problem in enumerate(self.states):
            p = m_step(problem, stats.state(s, self.M, self.entry), rng, counter=counter)
            if fixed is not None:
                old = fixed.states[s]
                if "w" not in upd:
                    p.weights = old.weights
                if "m" not in upd:
                    p.means = old.means
                if "c" not in upd:
                    p.covariances, p.prec_chol = old.covariances, old.prec_chol
            states.append(p)
        return HMMParams(start, trans, states)
