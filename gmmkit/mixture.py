"""``GaussianMixture``: scikit-learn's estimator, on gmmkit's fused Numba EM engine.

Same parameters, methods and fitted attributes as
:class:`sklearn.mixture.GaussianMixture`, and from the same starting parameters
the same log-likelihood trace; in addition ``fit`` takes ``sample_weight``
(frequency weights), a collapsing component is re-seeded instead of crashing,
``lower_bounds_`` keeps the per-iteration history and ``save``/``gmmkit.load``
write safe model files.

>>> import numpy as np
>>> from gmmkit import GaussianMixture
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(-3, 1, (300, 2)), rng.normal(3, 1, (300, 2))])
>>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
>>> sorted(np.round(gm.means_[:, 0]).tolist())
[-3.0, 3.0]
"""
from __future__ import annotations

import math
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError, Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _engine
from ._covariance import COVARIANCE_TYPES, FactorError, n_parameters
from ._version import __version__
from .exceptions import DataError, DataTypeError, DegenerateComponentWarning, GMMKitError, ParameterError

_LOG_2PI = math.log(2 * math.pi)


class InvalidParameter(ParameterError, InvalidParameterError):
    """A constructor parameter is out of range (sklearn's and gmmkit's error at once)."""


def _as_data_error(exc):
    """sklearn's validation error as gmmkit's, on one line, keeping its wording."""
    msg = " ".join(str(exc).split()) or type(exc).__name__
    if "could not convert" in msg or "argument must be" in msg:
        msg = f"X must be numeric: {msg}"
    return (DataTypeError if isinstance(exc, TypeError) else DataError)(msg)


class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture fitted by EM on fused Numba kernels.

    Parameters are those of :class:`sklearn.mixture.GaussianMixture`; ``callback``
    (optional) is called after every EM iteration with a dict
    ``{"init", "n_iter", "lower_bound", "change"}`` (the CLI's progress bar).

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_ :
        as in scikit-learn (precision factors are upper triangular).
    converged_, n_iter_, lower_bound_ : as in scikit-learn.
    lower_bounds_ : list of float
        Mean log-likelihood at every iteration of the best initialisation.
    n_reseeded_ : int
        Components re-seeded during the best initialisation's fit.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(1).normal(size=(500, 3)).astype(np.float32)
    >>> gm = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    >>> gm.predict(X[:4]).shape, gm.bic(X) > 0
    ((4,), True)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions(set(COVARIANCE_TYPES))],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions({"kmeans", "k-means++", "random", "random_from_data"})],
        "weights_init": ["array-like", None],
        "means_init": ["array-like", None],
        "precisions_init": ["array-like", None],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
        "callback": [callable, None],
    }

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        callback=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.callback = callback

    # ------------------------------------------------------------ validation
    def _validate_all_params(self):
        try:
            self._validate_params()
        except InvalidParameterError as exc:
            raise InvalidParameter(str(exc)) from None

    def _check_X(self, X, *, reset, min_samples=1):
        try:
            return validate_data(
                self, X, reset=reset, dtype=[np.float64, np.float32], order="C",
                ensure_min_samples=min_samples,
            )
        except GMMKitError:
            raise
        except (ValueError, TypeError) as exc:
            raise _as_data_error(exc) from None

    def _check_sample_weight(self, sample_weight, X):
        if sample_weight is None:
            return np.empty(0), float(X.shape[0])
        try:
            sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        except ValueError as exc:
            raise DataError(f"sample_weight: {exc}") from None
        total = float(sw.sum())
        if not total > 0:
            raise DataError("sample_weight: the weights sum to zero; at least one row needs weight > 0")
        if np.count_nonzero(sw) < self.n_components:
            raise DataError(
                f"sample_weight: only {np.count_nonzero(sw)} rows have weight > 0, "
                f"fewer than n_components={self.n_components}"
            )
        return np.ascontiguousarray(sw), total

    def _check_initial_parameters(self, D):
        K = self.n_components
        entry = COVARIANCE_TYPES[self.covariance_type]
        if self.weights_init is not None:
            w = np.asarray(self.weights_init, dtype=np.float64)
            if w.shape != (K,):
                raise ParameterError(f"weights_init must have shape ({K},), got {w.shape}")
            if np.any(w < 0) or not np.isclose(w.sum(), 1.0, atol=1e-6):
                raise ParameterError("weights_init must be non-negative and sum to 1")
        if self.means_init is not None:
            m = np.asarray(self.means_init, dtype=np.float64)
            if m.shape != (K, D):
                raise ParameterError(f"means_init must have shape ({K}, {D}), got {m.shape}")
            if not np.all(np.isfinite(m)):
                raise ParameterError("means_init contains NaN or infinity")
        if self.precisions_init is not None:
            p = np.asarray(self.precisions_init, dtype=np.float64)
            shape = entry.cov_shape(K, D)
            if p.shape != shape:
                raise ParameterError(
                    f"precisions_init must have shape {shape} for covariance_type="
                    f"'{self.covariance_type}', got {p.shape}"
                )
            try:
                entry.prec_chol(_invert_precisions(self.covariance_type, p))
            except (FactorError, np.linalg.LinAlgError):
                raise ParameterError("precisions_init must be symmetric positive definite") from None

    # ------------------------------------------------------------ fitting
    def fit(self, X, y=None, sample_weight=None):
        """Fit the mixture by EM; ``sample_weight`` are frequency weights. Returns self."""
        self.fit_predict(X, y, sample_weight=sample_weight)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the most likely component of every row of X."""
        self._validate_all_params()
        X = self._check_X(X, reset=True, min_samples=2)
        N, D = X.shape
        K = self.n_components
        if N < K:
            raise DataError(
                f"Expected n_samples >= n_components but got n_components = {K}, n_samples = {N}"
            )
        self._check_initial_parameters(D)
        sw, total = self._check_sample_weight(sample_weight, X)
        entry = COVARIANCE_TYPES[self.covariance_type]

        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        rng = check_random_state(self.random_state)
        # EM runs on data shifted by its (weighted) mean: the second moments then
        # have no large-mean cancellation; the shift is applied inside the kernel.
        shift = np.average(X, axis=0, weights=sw if sw.size else None)
        ctx = _FitContext(self, X, sw, total, shift, entry)

        best = None
        with _engine.blas_single_thread():
            for init in range(n_init):
                if do_init:
                    params = ctx.initial_params(rng)
                else:
                    params = ctx.params_from_attributes()
                lower_bound = -np.inf if do_init else self.lower_bound_
                history, converged, n_iter = [], False, 0
                ctx.n_reseeded = 0
                for n_iter in range(1, self.max_iter + 1):
                    prev = lower_bound
                    ll, stats = ctx.e_pass(params)
                    lower_bound = ll / total
                    params = ctx.m_step(stats, rng)
                    history.append(lower_bound)
                    change = lower_bound - prev
                    self._report(init, n_iter, lower_bound, change)
                    if abs(change) < self.tol:
                        converged = True
                        break
                if self.verbose:
                    print(f"Initialization {init} {'converged' if converged else 'did not converge'}."
                          f" lower bound {lower_bound:.5f}")
                if best is None or lower_bound > best[0]:
                    best = (lower_bound, params, n_iter, history, converged, ctx.n_reseeded)

        lower_bound, params, n_iter, history, converged, n_reseeded = best
        if not converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
            )
        ctx.set_attributes(params)
        self.converged_ = bool(converged)
        self.n_iter_ = int(n_iter)
        self.lower_bound_ = float(lower_bound) if self.max_iter > 0 else -np.inf
        self.lower_bounds_ = [float(v) for v in history]
        self.n_reseeded_ = int(n_reseeded)
        # final pass so that fit_predict(X) == fit(X).predict(X)
        return self._score(X, labels=True)[2]

    def _report(self, init, n_iter, lower_bound, change):
        if self.verbose and n_iter % self.verbose_interval == 0:
            print(f"  Iteration {n_iter}\t change {change:.6g}\t lower bound {lower_bound:.6f}")
        if self.callback is not None:
            self.callback({"init": init, "n_iter": n_iter, "lower_bound": lower_bound,
                           "change": change})

    # ------------------------------------------------------------ inference
    def _kernel_params(self, dtype):
        entry = COVARIANCE_TYPES[self.covariance_type]
        K, D = self.means_.shape
        prec = entry.kernel_prec(self.precisions_cholesky_, K, D)
        logc = np.log(self.weights_) + entry.log_det(self.precisions_cholesky_, K, D) - 0.5 * D * _LOG_2PI
        return (
            np.zeros(D, dtype=dtype),
            np.ascontiguousarray(self.means_, dtype=dtype),
            np.ascontiguousarray(prec, dtype=dtype),
            np.ascontiguousarray(logc, dtype=np.float64),
            -np.inf,
        )

    def _score(self, X, *, resp=False, labels=False):
        K, D = self.means_.shape
        entry = COVARIANCE_TYPES[self.covariance_type]
        work = K * D * (D if entry.family == "full" else 1)
        return _engine.score_pass(
            entry.family, X, *self._kernel_params(X.dtype),
            resp_cols=K if resp else 0, labels=labels,
            parallel=_engine.use_parallel(X.shape[0], work),
        )

    def _checked(self, X):
        check_is_fitted(self)
        return self._check_X(X, reset=False)

    def score_samples(self, X):
        """Log-density of every row of X under the mixture, shape (n_samples,)."""
        return self._score(self._checked(X))[0]

    def score(self, X, y=None):
        """Mean log-likelihood per row of X."""
        return float(np.mean(self.score_samples(X)))

    def predict(self, X):
        """Most likely component of every row of X."""
        return self._score(self._checked(X), labels=True)[2]

    def predict_proba(self, X):
        """Posterior probability of each component for every row, shape (n_samples, K)."""
        return self._score(self._checked(X), resp=True)[1]

    def sample(self, n_samples=1):
        """Draw ``n_samples`` points; returns (X, component labels) as scikit-learn does."""
        check_is_fitted(self)
        if n_samples < 1:
            raise ParameterError(
                f"Invalid value for 'n_samples': {n_samples}. The sampling requires at least one sample."
            )
        entry = COVARIANCE_TYPES[self.covariance_type]
        _, D = self.means_.shape
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_ / self.weights_.sum())
        parts = []
        for k, (mean, n) in enumerate(zip(self.means_, counts)):
            if entry.family == "full":
                parts.append(rng.multivariate_normal(
                    mean, self.covariances_[k] if self.covariance_type == "full" else self.covariances_,
                    int(n)))
            else:
                parts.append(mean + rng.standard_normal(size=(n, D)) * entry.sample_scale(self.covariances_, k))
        X = np.vstack(parts)
        y = np.concatenate([np.full(n, k, dtype=int) for k, n in enumerate(counts)])
        return X, y

    def _n_parameters(self):
        K, D = self.means_.shape
        return n_parameters(self.covariance_type, K, D)

    def bic(self, X):
        """Bayesian information criterion on X (lower is better)."""
        X = self._checked(X)
        return -2 * self.score(X) * X.shape[0] + self._n_parameters() * math.log(X.shape[0])

    def aic(self, X):
        """Akaike information criterion on X (lower is better)."""
        X = self._checked(X)
        return -2 * self.score(X) * X.shape[0] + 2 * self._n_parameters()

    # ------------------------------------------------------------ files
    def save(self, path, *, overwrite=True):
        """Write the fitted model to ``path`` (versioned ``.npz`` + JSON, atomic, no pickle)."""
        from .io import save_model

        save_model(self, path, overwrite=overwrite)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _invert_precisions(cov_type, p):
    if cov_type == "full":
        return np.linalg.inv(p)
    if cov_type == "tied":
        return np.linalg.inv(p)
    return 1.0 / p


class _FitContext:
    """Per-fit state shared by initialisation, E-passes and M-steps."""

    def __init__(self, est, X, sw, total, shift, entry):
        self.est, self.X, self.sw, self.total, self.entry = est, X, sw, total, entry
        self.K = est.n_components
        self.N, self.D = X.shape
        self.shift64 = shift
        self.shift = np.ascontiguousarray(shift, dtype=X.dtype)
        work = self.K * self.D * (self.D if entry.family == "full" else 1)
        self.parallel = _engine.use_parallel(self.N, work)
        self.n_reseeded = 0
        self._scale = None

    # -- statistics ------------------------------------------------------
    def _stats_from_resp(self, resp, labels=None):
        """Sufficient statistics (nk, sx, sxx) of the shifted data from responsibilities
        (dense) or hard labels (one-hot, -1 = unassigned); used only at initialisation."""
        K, D = self.K, self.D
        w = self.sw if self.sw.size else None
        nk = np.zeros(K + 1)
        sx = np.zeros((K, D))
        full = self.entry.family == "full"
        sxx = np.zeros((K, D, D) if full else (K, D))
        for k in range(K):
            if labels is not None:
                idx = np.flatnonzero(labels == k)
                Xk = self.X[idx].astype(np.float64) - self.shift64
                r = np.ones(idx.size) if w is None else w[idx]
            else:
                Xk = self.X.astype(np.float64, copy=False) - self.shift64
                r = resp[:, k] if w is None else resp[:, k] * w
            nk[k] = r.sum()
            rX = Xk * r[:, None]
            sx[k] = rX.sum(axis=0)
            sxx[k] = rX.T @ Xk if full else (rX * Xk).sum(axis=0)
        return nk, sx, sxx

    def initial_params(self, rng):
        est, X, K, N = self.est, self.X, self.K, self.N
        sw = self.sw if self.sw.size else None
        resp = labels = None
        if est.init_params == "kmeans":
            from sklearn.cluster import KMeans

            labels = KMeans(n_clusters=K, n_init=1, random_state=rng).fit(X, sample_weight=sw).labels_
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
        params = self.m_step(self._stats_from_resp(resp, labels), rng, initial=True)
        weights, means, prec_chol, cov = params
        if est.weights_init is not None:
            weights = np.asarray(est.weights_init, dtype=np.float64).copy()
        if est.means_init is not None:
            means = np.asarray(est.means_init, dtype=np.float64) - self.shift64
        if est.precisions_init is not None:
            p = np.asarray(est.precisions_init, dtype=np.float64)
            cov_init = _invert_precisions(est.covariance_type, p)
            prec_chol = self.entry.prec_chol(cov_init)
        return weights, means, prec_chol, cov

    def params_from_attributes(self):
        est = self.est
        return (est.weights_.copy(), est.means_ - self.shift64, est.precisions_cholesky_.copy(),
                est.covariances_.copy())

    # -- E and M ---------------------------------------------------------
    def e_pass(self, params):
        weights, means, prec_chol, _ = params
        K, D, entry = self.K, self.D, self.entry
        logc = np.log(weights) + entry.log_det(prec_chol, K, D) - 0.5 * D * _LOG_2PI
        ll, nk, sx, sxx = _engine.em_pass(
            entry.family, self.X, self.sw, self.shift,
            np.ascontiguousarray(means, dtype=self.X.dtype),
            np.ascontiguousarray(entry.kernel_prec(prec_chol, K, D), dtype=self.X.dtype),
            np.ascontiguousarray(logc), -np.inf, self.parallel,
        )
        if not np.isfinite(ll):
            raise DataError(
                "the log-likelihood is not finite: the data are too extreme for "
                f"{self.X.dtype.name} or degenerate; rescale X or increase reg_covar"
            )
        return ll, (nk, sx, sxx)

    def m_step(self, stats, rng, initial=False):
        nk, sx, sxx = stats
        K, entry = self.K, self.entry
        eps = 10 * np.finfo(np.float64).eps
        nk_g = nk[:K] + eps
        means = sx / nk_g[:, None]
        cov = entry.from_stats(nk_g, means, sxx, nk_g.sum(), self.est.reg_covar)
        weights = nk_g / nk_g.sum()
        empty = [k for k in range(K) if nk[k] <= 1e-8 * self.total]
        if initial:
            empty = []  # one-point initial components (k-means++) are legitimate
        try:
            if empty:
                raise FactorError(empty)
            prec = entry.prec_chol(cov)
        except FactorError as exc:
            bad = sorted(set(exc.bad) | set(empty))
            weights, means, cov = self._reseed(bad, weights, means, cov, rng, empty)
            try:
                prec = entry.prec_chol(cov)
            except FactorError:
                raise DataError(
                    "covariances stay singular after re-seeding: the data are degenerate "
                    "for this model; increase reg_covar or use fewer components"
                ) from None
        return weights, means, prec, cov

    def _data_scale(self, rng):
        """Covariance of (a sample of) the data, used to re-seed components."""
        if self._scale is None:
            idx = rng.choice(self.N, size=min(self.N, 5000), replace=False)
            Xs = self.X[idx].astype(np.float64)
            C = np.atleast_2d(np.cov(Xs, rowvar=False)) + self.est.reg_covar * np.eye(self.D)
            self._scale = C
        return self._scale

    def _reseed(self, bad, weights, means, cov, rng, empty):
        C = self._data_scale(rng)
        name = self.entry.name
        weights, means, cov = weights.copy(), means.copy(), cov.copy()
        for k in bad:
            row = rng.randint(self.N)
            if self.sw.size:
                row = rng.choice(np.flatnonzero(self.sw > 0))
            means[k] = self.X[row].astype(np.float64) - self.shift64
            weights[k] = 1.0 / self.K
            if name == "full":
                cov[k] = C
            elif name == "diag":
                cov[k] = np.diag(C)
            elif name == "spherical":
                cov[k] = np.diag(C).mean()
        if name == "tied" and len(bad) > len(empty):
            cov = cov + np.diag(np.diag(C)) * 1e-3
        weights /= weights.sum()
        self.n_reseeded += len(bad)
        why = ", ".join(
            f"{k} ({'lost its points' if k in empty else 'covariance not positive definite'})"
            for k in bad
        )
        warnings.warn(
            f"re-seeded component(s) {why} at random data points; consider fewer "
            "components or a larger reg_covar",
            DegenerateComponentWarning,
            stacklevel=4,
        )
        return weights, means, cov

    # -- results ---------------------------------------------------------
    def set_attributes(self, params):
        weights, means, prec_chol, cov = params
        est, entry = self.est, self.entry
        est.weights_ = np.asarray(weights, dtype=np.float64)
        est.means_ = means + self.shift64
        est.precisions_cholesky_ = prec_chol
        est.covariances_ = cov
        est.precisions_ = entry.precisions(prec_chol)
