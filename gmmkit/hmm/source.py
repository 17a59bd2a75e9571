"""The GMM-HMM's E-source: forward-backward over sequences on the Numba kernels of
:mod:`gmmkit.hmm._kernels`, in chunks of whole sequences on the engine's thread pool
(each chunk with its own accumulators; BLAS is held at one thread by the driver).

``e_pass(params) -> (log-likelihood, HMMStatistics)`` is the driver's protocol
(:mod:`gmmkit._em.driver`); ``posteriors`` and ``viterbi`` serve the estimator's
scoring methods.
"""
from __future__ import annotations

import numpy as np

from .. import _engine
from .._em.sources import check_finite, log_coef
from ..exceptions import DataError
from .params import HMMStatistics

_kernels = None


def kernels():
    """The HMM kernel module, imported (and loaded or compiled) on first use."""
    global _kernels
    if _kernels is None:
        import importlib

        _kernels = importlib.import_module("gmmkit.hmm._kernels")
    return _kernels


def chunk_bounds(starts, n_chunks):
    """Split sequences into at most ``n_chunks`` contiguous ranges of about equal frames."""
    n_seq = len(starts) - 1
    n_chunks = max(1, min(n_chunks, n_seq))
    cuts = np.searchsorted(starts, np.arange(1, n_chunks) * starts[-1] / n_chunks)
    edges = np.unique(np.concatenate([[0], np.clip(cuts, 1, n_seq - 1) if n_seq > 1 else [], [n_seq]]))
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


class KernelChain:
    """An :class:`HMMParams` as the kernels take it: the S M components flattened, in
    the data's dtype; the chain in float64."""

    def __init__(self, entry, params, topology_end, dtype):
        S = len(params.states)
        M, D = params.states[0].means.shape
        self.S = S
        self.means = np.ascontiguousarray(np.concatenate([p.means for p in params.states]), dtype=dtype)
        self.prec = np.ascontiguousarray(
            np.concatenate([entry.kernel_prec(p.prec_chol, M, D) for p in params.states]), dtype=dtype)
        self.logc = np.ascontiguousarray(
            np.concatenate([log_coef(entry, p.weights, p.prec_chol, D) for p in params.states]), dtype=dtype)
        with np.errstate(divide="ignore"):
            self.log_start = np.log(params.startprob)
            self.log_trans = np.log(params.transmat)
        self.trans = np.ascontiguousarray(params.transmat, dtype=np.float64)
        self.log_end = np.ascontiguousarray(topology_end, dtype=np.float64)


class Sequences:
    """Sequences of rows in memory (X C-contiguous float32/float64, ``starts`` row offsets)."""

    def __init__(self, problem, X, starts):
        self.problem, self.X, self.starts = problem, X, np.ascontiguousarray(starts, dtype=np.int64)
        self.shift = np.ascontiguousarray(problem.shift, dtype=X.dtype)
        K, D = problem.S * problem.M, problem.D
        self.block = _engine._block_size(K, D, X.dtype.itemsize)
        work = problem.entry.work_per_row(K, D)
        parallel = _engine.use_parallel(X.shape[0], work) and len(starts) > 2
        self.chunks = chunk_bounds(self.starts, 4 * _engine.n_threads() if parallel else 1)
        from .topology import log_end

        self.end = log_end(problem.topology, problem.S)

    def _model(self, params):
        return KernelChain(self.problem.entry, params, self.end, self.X.dtype)

    def _run(self, fn, args_of):
        """fn on every chunk (in the pool if more than one); returns the per-chunk results."""
        if len(self.chunks) == 1:
            return [fn(*args_of(0, *self.chunks[0]))]
        pool = _engine.thread_pool()
        futs = [pool.submit(fn, *args_of(c, lo, hi)) for c, (lo, hi) in enumerate(self.chunks)]
        return [f.result() for f in futs]

    def forward_backward(self, params, *, stats=True, posteriors=False, filtered=False):
        """(log-likelihood per sequence, HMMStatistics or None, posteriors (N, S) or None);
        with ``filtered``, the filtered state probabilities (N, S) in place of the posteriors."""
        mod = kernels()
        _engine.announce_compile(mod.forward_backward_range, self.X.dtype, "HMM kernels", "20-40")
        m, p = self._model(params), self.problem
        S, K, D = p.S, p.S * p.M, p.D
        n = len(self.chunks) if stats else 0
        start = np.zeros((n, S))
        trans = np.zeros((n, S, S))
        nk = np.zeros((n, K))
        sx = np.zeros((n, K, D))
        sxx = np.zeros((n, K) + m.prec.shape[1:])
        out_ll = np.empty(len(self.starts) - 1)
        post = np.empty((self.X.shape[0] if posteriors else 0, S))
        filt = np.empty((self.X.shape[0] if filtered else 0, S))

        def args(c, lo, hi):
            c = c if stats else slice(0, 0)
            acc = (start[c], trans[c], nk[c], sx[c], sxx[c]) if stats else (
                np.zeros(S), np.zeros((S, S)), np.zeros(K), np.zeros((K, D)), np.zeros((K,) + m.prec.shape[1:]))
            return (self.X, self.starts, lo, hi, self.shift, m.means, m.prec, m.logc, S, m.log_start, m.trans,
                    m.log_end, self.block, stats, *acc, out_ll, post, filt)

        self._run(mod.forward_backward_range, args)
        st = None
        if stats:
            st = HMMStatistics(start.sum(0), trans.sum(0), nk.sum(0), sx.sum(0), sxx.sum(0))
        return out_ll, st, (filt if filtered else post if posteriors else None)

    def e_pass(self, params):
        out_ll, stats, _ = self.forward_backward(params)
        ll = out_ll.sum()
        if ll == -np.inf:
            q = int(np.flatnonzero(out_ll == -np.inf)[0])
            raise DataError(f"sequence {q} has probability zero under the model (too short for the "
                            "topology, or emissions underflow): check lengths, rescale X or increase reg_covar")
        return check_finite(ll, self.X.dtype), stats

    def viterbi(self, params):
        """(log-probability of the best path per sequence, states (N,))."""
        mod = kernels()
        m, p = self._model(params), self.problem
        out_ll = np.empty(len(self.starts) - 1)
        states = np.empty(self.X.shape[0], dtype=np.int64)
        self._run(mod.viterbi_range, lambda c, lo, hi: (
            self.X, self.starts, lo, hi, self.shift, m.means, m.prec, m.logc, p.S, m.log_start,
            m.log_trans, m.log_end, self.block, out_ll, states))
        return out_ll, states
