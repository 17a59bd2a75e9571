"""``GMMHMM``: a hidden Markov model whose states emit Gaussian mixtures, fitted by
Baum-Welch on gmmkit's EM driver and Numba forward-backward kernels.

>>> import numpy as np
>>> from gmmkit import GMMHMM
>>> rng = np.random.default_rng(0)
>>> states = np.repeat([0, 1, 0, 1], 100)              # long spells in two regimes
>>> X = rng.normal(np.where(states == 0, -2.0, 2.0)[:, None], 1.0, (400, 1))
>>> hmm = GMMHMM(n_components=2, n_mix=1, random_state=0).fit(X)
>>> hmm.transmat_.round(2).diagonal().tolist()          # regimes persist
[0.99, 0.99]
>>> z = hmm.predict(X)                                    # Viterbi path
>>> float(max(np.mean(z == states), np.mean(z != states)))   # up to the states' order
1.0
"""
from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._covariance import COVARIANCE_TYPES, FactorError, covariance_type
from .._em import driver
from .._em.driver import Settings
from .._em.monitor import reporter
from .._params import FitResult, MixtureParams
from .._validation import InvalidParameter
from ..exceptions import DataError, GMMKitError, ParameterError
from .init import HMMInitialiser
from .params import HMMParams
from .problem import HMMProblem
from .source import Sequences
from .topology import TOPOLOGIES, check_chain, check_lengths_fit, initial_chain, sequence_starts

_entry_of = covariance_type  # where a parameter takes the function's name


def _check_X(est, X, reset):
    try:
        return validate_data(est, X, reset=reset, dtype=[np.float64, np.float32], order="C")
    except GMMKitError:
        raise
    except (ValueError, TypeError) as exc:
        raise DataError(" ".join(str(exc).split())) from None


class GMMHMM(BaseEstimator):
    """Hidden Markov model with Gaussian-mixture emissions (M = 1: a Gaussian HMM).

    Parameters
    ----------
    n_components : int, default 1
        Number of hidden states S.
    n_mix : int, default 1
        Gaussian components M of each state's mixture.
    covariance_type : {"full", "tied", "diag", "spherical"}, default "diag"
        As :class:`gmmkit.GaussianMixture`, per state ("tied": one matrix per state).
    topology : {"ergodic", "left-right"}, default "ergodic"
        "left-right": paths start in state 0, stay or move one state right, and
        end in the last state, so a sequence needs at least S frames. Zero start
        or transition probabilities of the start (``startprob_init``,
        ``transmat_init`` or the topology's) stay zero.
    init_params : {"auto", "kmeans", "uniform"}, default "auto"
        Frames to states for the starting mixtures: k-means over all frames, or
        each sequence cut into S equal segments; "auto" is "uniform" for
        left-right models and "kmeans" otherwise. Each state's mixture then
        starts from k-means on its frames.
    startprob_init, transmat_init : array-like, optional
        Starting chain (default: uniform for ergodic models).
    startprob_prior, transmat_prior : float or array, default 1.0
        Dirichlet concentrations (hmmlearn's): the M-step takes
        ``max(counts + prior - 1, 0)``, normalised; 1.0 is maximum likelihood.
    params : str, default "stmcw"
        Parameters EM updates: s(tart), t(ransitions), m(eans), c(ovariances),
        w(eights); the others keep their starting values.
    reg_covar, tol, max_iter, n_init, random_state, warm_start, verbose, callback
        As :class:`gmmkit.GaussianMixture`; ``tol`` applies to the log-likelihood
        per frame. ``warm_start`` fits from the current parameters (for example
        from :meth:`from_parameters`).

    Attributes
    ----------
    startprob_ : (S,) ; transmat_ : (S, S) ; weights_ : (S, M) ; means_ : (S, M, D)
    covariances_, precisions_cholesky_ : (S,) + the covariance type's per-mixture shape
        (hmmlearn's ``covars_`` layout: (S, M, D) diag, (S, M, D, D) full, (S, D, D)
        tied, (S, M) spherical).
    lower_bound_ : float
        Log-likelihood per frame of the best run; ``lower_bounds_`` its history.
    n_iter_, converged_, n_features_in_
    """

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "n_mix": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions(set(COVARIANCE_TYPES))],
        "topology": [StrOptions(set(TOPOLOGIES))],
        "init_params": [StrOptions({"auto", "kmeans", "uniform"})],
        "startprob_init": ["array-like", None],
        "transmat_init": ["array-like", None],
        "startprob_prior": [Real, "array-like"],
        "transmat_prior": [Real, "array-like"],
        "params": [str],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "callback": [callable, None],
    }

    def __init__(self, n_components=1, n_mix=1, covariance_type="diag", *, topology="ergodic",
                 init_params="auto", startprob_init=None, transmat_init=None, startprob_prior=1.0,
                 transmat_prior=1.0, params="stmcw", reg_covar=1e-6, tol=1e-4, max_iter=100, n_init=1,
                 random_state=None, warm_start=False, verbose=0, callback=None):
        self.n_components = n_components
        self.n_mix = n_mix
        self.covariance_type = covariance_type
        self.topology = topology
        self.init_params = init_params
        self.startprob_init = startprob_init
        self.transmat_init = transmat_init
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.params = params
        self.reg_covar = reg_covar
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.callback = callback

    # ------------------------------------------------------------------ fitting
    def _check_settings(self):
        try:
            self._validate_params()
        except InvalidParameterError as exc:  # gmmkit's family and sklearn's at once, one line
            raise InvalidParameter(" ".join(str(exc).split())) from None
        if set(self.params) - set("stmcw"):
            raise ParameterError(f"params must be letters of 'stmcw', got {self.params!r}")
        if "c" in self.params and "m" not in self.params:
            raise ParameterError("params: updating covariances ('c') needs updating means ('m') too")

    def _problem(self, X, shift, total):
        S, M = self.n_components, self.n_mix
        return HMMProblem(covariance_type(self.covariance_type), S, M, X.shape[1], shift, total,
                          self.reg_covar, X, startprob_prior=self.startprob_prior,
                          transmat_prior=self.transmat_prior, topology=self.topology, update=self.params)

    def fit(self, X, lengths=None):
        """Baum-Welch over the sequences of ``X`` (rows; ``lengths`` their lengths, in order;
        None: one sequence). Returns self."""
        self._check_settings()
        warm = self.warm_start and hasattr(self, "means_")
        X = _check_X(self, X, reset=not warm)
        starts = sequence_starts(lengths, X.shape[0])
        S, M = self.n_components, self.n_mix
        if X.shape[0] < S * M:
            raise DataError(f"{X.shape[0]} frames are fewer than n_components * n_mix = {S * M}")
        start, trans = initial_chain(self.topology, S)
        start, trans = check_chain(start if self.startprob_init is None else self.startprob_init,
                                   trans if self.transmat_init is None else self.transmat_init, S)
        shift = X.mean(axis=0, dtype=np.float64)
        problem = self._problem(X, shift, X.shape[0])
        source = Sequences(problem, X, starts)
        rng = check_random_state(self.random_state)
        method = self.init_params
        if method == "auto":
            method = "uniform" if self.topology == "left-right" else "kmeans"
        initialise = HMMInitialiser(problem, X, starts, method, start, trans)
        start_run = None
        if warm:
            params = self._fit_params(shift)
            problem.set_start(params)
            start_run = FitResult(-np.inf, params)
        check_lengths_fit(starts, self.topology, start_run.params.transmat if warm else trans)
        settings = Settings(n_init=self.n_init, max_iter=self.max_iter, tol=self.tol, verbose=self.verbose,
                            report=reporter(self.verbose, 1, self.callback))
        run = driver.fit(problem, source, initialise, rng, settings, warm=start_run)
        self._set_params(run.params, shift, problem.entry)
        self.lower_bound_ = run.lower_bound
        self.lower_bounds_ = np.asarray(run.history, dtype=np.float64)
        self.n_iter_ = run.n_iter
        self.converged_ = run.converged
        return self

    def _set_params(self, params, shift, entry):
        self.startprob_ = np.asarray(params.startprob, dtype=np.float64)
        self.transmat_ = np.asarray(params.transmat, dtype=np.float64)
        self.weights_ = np.stack([p.weights for p in params.states])
        self.means_ = np.stack([p.means + shift for p in params.states])
        self.covariances_ = np.stack([np.asarray(p.covariances, dtype=np.float64) for p in params.states])
        self.precisions_cholesky_ = np.stack([np.asarray(p.prec_chol, dtype=np.float64) for p in params.states])
        self.n_features_in_ = self.means_.shape[2]

    def _fit_params(self, shift):
        """The fitted attributes as driver parameters about ``shift``."""
        states = [MixtureParams(self.weights_[s].copy(), self.means_[s] - shift, self.precisions_cholesky_[s].copy(),
                                self.covariances_[s].copy()) for s in range(self.n_components)]
        return HMMParams(self.startprob_.copy(), self.transmat_.copy(), states)

    @classmethod
    def from_parameters(cls, startprob, transmat, weights, means, covariances, *,
                        covariance_type="diag", **params):
        """A fitted model from its parameters (shapes as the fitted attributes); ``params``
        are constructor parameters. Validated: probabilities, covariance factors.

        >>> import numpy as np
        >>> from gmmkit import GMMHMM
        >>> m = GMMHMM.from_parameters([1, 0], [[.9, .1], [0, 1]], [[1.0], [1.0]],
        ...                            [[[0.0]], [[3.0]]], [[[1.0]], [[1.0]]])
        >>> m.predict(np.array([[0.1], [2.9], [3.2]])).tolist()
        [0, 1, 1]
        """
        means = np.asarray(means, dtype=np.float64)
        if means.ndim != 3:
            raise ParameterError(f"means must have shape (n_components, n_mix, n_features), got {means.shape}")
        S, M, D = means.shape
        est = cls(n_components=S, n_mix=M, covariance_type=covariance_type, **params)
        est._check_settings()
        entry = _entry_of(covariance_type)
        startprob, transmat = check_chain(startprob, transmat, S)
        weights = np.asarray(weights, dtype=np.float64).reshape(S, M)
        if np.any(weights < 0) or not np.allclose(weights.sum(axis=1), 1.0):
            raise ParameterError("weights rows must be non-negative and sum to 1")
        cov = np.asarray(covariances, dtype=np.float64)
        if cov.shape != (S,) + entry.shape(M, D):
            raise ParameterError(f"covariances must have shape {(S,) + entry.shape(M, D)}, got {cov.shape}")
        states = []
        for s in range(S):
            try:
                prec = entry.precision_cholesky(cov[s])
            except FactorError:
                raise ParameterError(f"covariances of state {s} are not positive definite") from None
            states.append(MixtureParams(weights[s], means[s], prec, cov[s]))
        est._set_params(HMMParams(startprob, transmat, states), np.zeros(D), entry)
        est.lower_bound_, est.lower_bounds_, est.n_iter_, est.converged_ = -np.inf, np.empty(0), 0, False
        return est

    # ------------------------------------------------------------------ scoring
    def _sequences(self, X, lengths):
        check_is_fitted(self, "means_")
        X = _check_X(self, X, reset=False)
        starts = sequence_starts(lengths, X.shape[0])
        check_lengths_fit(starts, self.topology, self.transmat_)
        D = self.n_features_in_
        shift = self.means_.reshape(-1, D).mean(axis=0)
        problem = self._problem(X, shift, X.shape[0])
        return Sequences(problem, X, starts), self._fit_params(shift)

    def score(self, X, lengths=None):
        """Log-likelihood of X (summed over the sequences)."""
        source, params = self._sequences(X, lengths)
        return float(source.forward_backward(params, stats=False)[0].sum())

    def score_samples(self, X, lengths=None):
        """(log-likelihood of X, state posteriors (N, S)), as hmmlearn."""
        source, params = self._sequences(X, lengths)
        ll, _, post = source.forward_backward(params, stats=False, posteriors=True)
        return float(ll.sum()), post

    def predict_proba(self, X, lengths=None):
        """State posteriors p(state_t = s | its whole sequence), shape (N, S)."""
        return self.score_samples(X, lengths)[1]

    def filtered_proba(self, X, lengths=None):
        """Filtered state probabilities p(state_t = s | frames 1..t of its sequence), shape
        (N, S): what was knowable at each frame, without look-ahead (the forward pass).
        The next frame's state probabilities are ``filtered_proba(X)[-1] @ transmat_``."""
        source, params = self._sequences(X, lengths)
        return source.forward_backward(params, stats=False, filtered=True)[2]

    def decode(self, X, lengths=None, algorithm="viterbi"):
        """(log-probability, states): the most likely state path ("viterbi"), or each
        frame's most probable state ("map"; log-probability of X then)."""
        if algorithm == "map":
            ll, post = self.score_samples(X, lengths)
            return ll, post.argmax(axis=1)
        if algorithm != "viterbi":
            raise ParameterError(f"algorithm must be 'viterbi' or 'map', got {algorithm!r}")
        source, params = self._sequences(X, lengths)
        ll, states = source.viterbi(params)
        return float(ll.sum()), states

    def predict(self, X, lengths=None):
        """The Viterbi state path of every sequence, shape (N,)."""
        return self.decode(X, lengths)[1]

    def n_parameters(self):
        """Free parameters: start, transitions and the states' mixtures (structural zeros
        and fixed parameters are not free)."""
        check_is_fitted(self, "means_")
        S, M, D = self.means_.shape
        start = np.count_nonzero(self.startprob_) - 1
        trans = sum(max(np.count_nonzero(row) - 1, 0) for row in self.transmat_)
        entry = covariance_type(self.covariance_type)
        mix = S * (entry.n_parameters(M, D) + M * D + M - 1)
        return int(round(start + trans + mix))

    def bic(self, X, lengths=None):
        """Bayesian information criterion (lower is better)."""
        return -2 * self.score(X, lengths) + self.n_parameters() * np.log(np.shape(X)[0])

    def aic(self, X, lengths=None):
        """Akaike information criterion (lower is better)."""
        return -2 * self.score(X, lengths) + 2 * self.n_parameters()

    def sample(self, n_samples=1, random_state=None, currstate=None):
        """(X (n, D), states (n,)): one sequence drawn from the model (as hmmlearn)."""
        check_is_fitted(self, "means_")
        rng = check_random_state(random_state)
        S, M, D = self.means_.shape
        entry = covariance_type(self.covariance_type)
        states = np.empty(n_samples, dtype=np.int64)
        state = rng.choice(S, p=self.startprob_) if currstate is None else int(currstate)
        for t in range(n_samples):
            if t:
                state = rng.choice(S, p=self.transmat_[state])
            states[t] = state
        comp = np.array([rng.choice(M, p=self.weights_[s]) for s in states], dtype=np.int64)
        X = np.empty((n_samples, D))
        for s in range(S):
            for m in range(M):
                idx = np.flatnonzero((states == s) & (comp == m))
                if idx.size:
                    X[idx] = entry.sample(rng, self.means_[s, m], self.covariances_[s], m, idx.size)
        return X, states

    @property
    def covars_(self):
        """hmmlearn's name of ``covariances_``."""
        return self.covariances_

    # ------------------------------------------------------------------ files
    def save(self, path, *, overwrite=True):
        """Write a safe model file (npz + JSON, no pickle); read it with :meth:`load`."""
        from .files import save

        save(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path):
        """A model saved by :meth:`save`."""
        from .files import load

        return load(path, cls)


def load(path):
    """A :class:`GMMHMM` saved by :meth:`GMMHMM.save`."""
    return GMMHMM.load(path)
