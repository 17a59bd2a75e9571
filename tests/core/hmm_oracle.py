"""Slow, obvious NumPy twins of the GMM-HMM computations (forward-backward, Viterbi,
one Baum-Welch step) and hmmlearn runs from a given start, for the HMM tests."""
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.exceptions import ConvergenceWarning

from gmmkit import GMMHMM


def emission_logs(model, X):
    """(N, S, M) log w_sm + log N(x | mu_sm, Sigma_sm) from full covariance matrices."""
    S, M, D = model.means_.shape
    from gmmkit.covariance import covariance_type

    entry = covariance_type(model.covariance_type)
    out = np.empty((X.shape[0], S, M))
    for s in range(S):
        full = entry.full(model.covariances_[s], M, D)
        for m in range(M):
            with np.errstate(divide="ignore"):
                out[:, s, m] = np.log(model.weights_[s, m]) + multivariate_normal(
                    model.means_[s, m], full[m]).logpdf(X).reshape(-1)
    return out


def log_end(model):
    end = np.zeros(model.n_components)
    if model.topology == "left-right":
        end[:-1] = -np.inf
    return end


def forward_backward(model, X):
    """(log p(X), gamma (T, S), xi sum (S, S), component posteriors (T, S, M)) of one sequence."""
    lc = emission_logs(model, X)
    lb = logsumexp(lc, axis=2)
    T, S = lb.shape
    with np.errstate(divide="ignore"):
        la, lA = np.log(model.startprob_), np.log(model.transmat_)
    end = log_end(model)
    alpha = np.empty((T, S))
    beta = np.empty((T, S))
    alpha[0] = la + lb[0]
    for t in range(1, T):
        alpha[t] = lb[t] + logsumexp(alpha[t - 1][:, None] + lA, axis=0)
    beta[-1] = end
    for t in range(T - 2, -1, -1):
        beta[t] = logsumexp(lA + (lb[t + 1] + beta[t + 1])[None, :], axis=1)
    ll = logsumexp(alpha[-1] + end)
    gamma = np.exp(alpha + beta - ll)
    xi = np.zeros((S, S))
    for t in range(T - 1):
        xi += np.exp(alpha[t][:, None] + lA + (lb[t + 1] + beta[t + 1])[None, :] - ll)
    comp = gamma[:, :, None] * np.exp(lc - lb[:, :, None])
    return ll, gamma, xi, comp


def filtered(model, X):
    """p(state_t | x_1..x_t) of one sequence: the forward pass, normalised frame by frame."""
    lb = logsumexp(emission_logs(model, X), axis=2)
    with np.errstate(divide="ignore"):
        la, lA = np.log(model.startprob_), np.log(model.transmat_)
    out, alpha = [], la + lb[0]
    for t in range(len(X)):
        if t:
            alpha = lb[t] + logsumexp(alpha[:, None] + lA, axis=0)
        out.append(np.exp(alpha - logsumexp(alpha)))
    return np.array(out)


def viterbi(model, X):
    """(log-probability of the best path, the path) of one sequence, by brute dynamic programming."""
    lb = logsumexp(emission_logs(model, X), axis=2)
    T, S = lb.shape
    with np.errstate(divide="ignore"):
        la, lA = np.log(model.startprob_), np.log(model.transmat_)
    delta = la + lb[0]
    back = []
    for t in range(1, T):
        cand = delta[:, None] + lA
        back.append(cand.argmax(axis=0))
        delta = cand.max(axis=0) + lb[t]
    delta = delta + log_end(model)
    path = [int(delta.argmax())]
    for b in reversed(back):
        path.append(int(b[path[-1]]))
    return float(delta.max()), np.array(path[::-1])


def baum_welch_step(model, X, lengths):
    """One ML Baum-Welch update (reg 0) as a dict of the fitted attributes, and log p(X)."""
    S, M, D = model.means_.shape
    start, trans = np.zeros(S), np.zeros((S, S))
    nk, sx, sxx = np.zeros((S, M)), np.zeros((S, M, D)), np.zeros((S, M, D, D))
    total = 0.0
    for a, b in zip(np.cumsum(lengths) - lengths, np.cumsum(lengths)):
        ll, gamma, xi, comp = forward_backward(model, X[a:b])
        total += ll
        start += gamma[0]
        trans += xi
        nk += comp.sum(axis=0)
        sx += np.einsum("tsm,td->smd", comp, X[a:b])
        sxx += np.einsum("tsm,td,te->smde", comp, X[a:b], X[a:b])
    means = sx / nk[..., None]
    cov = sxx / nk[..., None, None] - means[..., :, None] * means[..., None, :]
    if model.covariance_type == "tied":  # one matrix per state: pooled over its components
        cov = np.einsum("sm,smde->sde", nk, cov) / nk.sum(axis=1)[:, None, None]
    elif model.covariance_type == "diag":
        cov = np.diagonal(cov, axis1=2, axis2=3)
    elif model.covariance_type == "spherical":
        cov = np.diagonal(cov, axis1=2, axis2=3).mean(axis=2)
    return dict(startprob_=start / start.sum(), transmat_=trans / trans.sum(1, keepdims=True),
                weights_=nk / nk.sum(1, keepdims=True), means_=means, covariances_=cov), total


def hmmlearn_model(model, params="stmcw", corrected=False):
    """hmmlearn's GMMHMM (or GaussianHMM if M = 1 and not asked otherwise) with ``model``'s
    parameters, no initialisation and ML updates. ``corrected``: covariances of the
    M-step centred on the new means (hmmlearn 0.3.3 centres them on the previous ones)."""
    from hmmlearn import hmm

    S, M, D = model.means_.shape
    h = (_Corrected if corrected else hmm.GMMHMM)(
        n_components=S, n_mix=M, covariance_type=model.covariance_type, init_params="", params=params)
    h.startprob_, h.transmat_ = model.startprob_.copy(), model.transmat_.copy()
    h.weights_, h.means_, h.covars_ = model.weights_.copy(), model.means_.copy(), model.covariances_.copy()
    return h


def gaussian_hmm(model, params="stmc"):
    from hmmlearn import hmm

    S, M, D = model.means_.shape
    h = hmm.GaussianHMM(n_components=S, covariance_type=model.covariance_type, init_params="", params=params,
                        covars_prior=0.0)
    h.startprob_, h.transmat_, h.means_ = model.startprob_.copy(), model.transmat_.copy(), model.means_[:, 0]
    h.covars_ = model.covariances_[:, 0]
    return h


def hmmlearn_trace(h, X, lengths, n_iter):
    """hmmlearn's log-likelihood before each of ``n_iter`` Baum-Welch updates (its fit loop)."""
    h.n_features = X.shape[1]
    h._check()
    trace = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(n_iter):
            stats, ll = h._do_estep(X, lengths)
            trace.append(ll)
            h._do_mstep(stats)
    return np.array(trace)


def _corrected_class():
    from hmmlearn import hmm

    class Corrected(hmm.GMMHMM):
        def _do_mstep(self, stats):
            old = self.means_.copy()
            # c_n was summed about the old means: move it to the new ones, sum r (x - new)(x - new)^T
            nk = stats["post_mix_sum"]
            new = stats["m_n"] / nk[..., None]
            d = new - old
            if self.covariance_type == "full":
                stats["c_n"] = stats["c_n"] - nk[..., None, None] * d[..., :, None] * d[..., None, :]
            elif self.covariance_type == "diag":
                stats["c_n"] = stats["c_n"] - nk[..., None] * d ** 2
            super()._do_mstep(stats)

    return Corrected


class _Lazy:
    def __call__(self, *a, **k):
        return _corrected_class()(*a, **k)


_Corrected = _Lazy()


# ---------------------------------------------------------------- shared by the HMM tests
def sequences(rng, n_seq=5, D=2, S=3, lo=15, hi=40, dtype=np.float64):
    """Sequences from a sticky S-state chain with separated state means."""
    lengths = rng.integers(lo, hi, n_seq)
    centres = rng.normal(0, 3, (S, D))
    parts = []
    for T in lengths:
        s, states = rng.integers(S), []
        for _ in range(T):
            states.append(s)
            if rng.random() < 0.15:
                s = rng.integers(S)
        parts.append(centres[states] + rng.normal(size=(T, D)) @ (np.eye(D) + 0.3 * rng.normal(size=(D, D))))
    return np.vstack(parts).astype(dtype), lengths


def start_model(X, lengths, S, M, cov_type):
    """Parameters near the data: one iteration from gmmkit's own initialisation."""
    with pytest.warns(ConvergenceWarning):
        return GMMHMM(S, M, cov_type, max_iter=1, reg_covar=1e-3, random_state=0).fit(X, lengths)


def fit_from(model, X, lengths, n_iter, **params):
    """``n_iter`` Baum-Welch iterations from ``model``'s parameters (no convergence stop)."""
    start = GMMHMM.from_parameters(model.startprob_, model.transmat_, model.weights_, model.means_,
                                   model.covariances_, covariance_type=model.covariance_type,
                                   **dict(dict(warm_start=True, tol=0.0, max_iter=n_iter, reg_covar=0.0), **params))
    with pytest.warns(ConvergenceWarning):
        return start.fit(X, lengths)
