"""``BayesianGaussianMixture``: scikit-learn's variational Gaussian mixture, on gmmkit's
fused EM kernels.

Same parameters, methods and fitted attributes as
:class:`sklearn.mixture.BayesianGaussianMixture` (Dirichlet-process or
Dirichlet-distribution weight prior, Gaussian-Wishart prior on means and precisions,
full/tied/diag/spherical covariances), and from the same start the same lower-bound
trace; in addition ``fit`` takes ``sample_weight`` (frequency weights: as if rows were
repeated, also in the default priors), ``lower_bounds_`` keeps the trace and
``callback`` sees every iteration. The maths is in :mod:`gmmkit._em.variational`.

>>> import numpy as np
>>> from gmmkit.bayesian import BayesianGaussianMixture
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(-3, 1, (300, 2)), rng.normal(3, 1, (300, 2))])
>>> bgm = BayesianGaussianMixture(n_components=5, random_state=0, max_iter=500).fit(X)
>>> int((bgm.weights_ > 0.05).sum())  # the prior switches the spare components off
2
"""
from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from . import _engine
from ._covariance import COVARIANCE_TYPES, FactorError, covariance_type
from ._em import driver
from ._em.driver import Settings
from ._em.monitor import reporter
from ._em.variational import (
    Posterior,
    VariationalPrior,
    VariationalProblem,
    VariationalRows,
    default_covariance_prior,
    kernel_model,
    log_constants,
    prior_layout,
)
from ._mixture_api import SHARED_CONSTRAINTS, MixtureScoring, draw_components, sample_counts
from ._params import FitResult
from ._validation import _as_data_error, check_range, check_sample_weight
from .exceptions import DataError, GMMKitError, ParameterError

_PROCESS = "dirichlet_process"


class BayesianGaussianMixture(MixtureScoring, DensityMixin, BaseEstimator):
    """Variational Bayesian Gaussian mixture fitted on fused Numba kernels.

    Parameters are those of :class:`sklearn.mixture.BayesianGaussianMixture`, plus
    ``callback`` (called after every iteration with ``{"init", "n_iter", "lower_bound",
    "change"}``). ``fit`` also takes ``sample_weight``.

    Attributes
    ----------
    weight_concentration_, mean_precision_, means_, degrees_of_freedom_, covariances_,
    precisions_, precisions_cholesky_, weights_, converged_, n_iter_, lower_bound_,
    lower_bounds_, and the priors used (``weight_concentration_prior_``,
    ``mean_precision_prior_``, ``mean_prior_``, ``degrees_of_freedom_prior_``,
    ``covariance_prior_``): as in scikit-learn.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(1).normal(size=(400, 3))
    >>> bgm = BayesianGaussianMixture(n_components=3, covariance_type="diag",
    ...                               weight_concentration_prior_type="dirichlet_distribution",
    ...                               random_state=0, max_iter=300).fit(X)
    >>> bgm.predict_proba(X[:2]).shape, bool(np.isclose(bgm.weights_.sum(), 1.0))
    ((2, 3), True)
    """

    _parameter_constraints: dict = {
        **SHARED_CONSTRAINTS,
        "covariance_type": [StrOptions(set(COVARIANCE_TYPES))],
        "init_params": [StrOptions({"kmeans", "k-means++", "random", "random_from_data"})],
        "weight_concentration_prior_type": [StrOptions({_PROCESS, "dirichlet_distribution"})],
        "weight_concentration_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "mean_precision_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "mean_prior": [None, "array-like"],
        "degrees_of_freedom_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "covariance_prior": [None, "array-like", Interval(Real, 0.0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        n_components=1,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weight_concentration_prior_type=_PROCESS,
        weight_concentration_prior=None,
        mean_precision_prior=None,
        mean_prior=None,
        degrees_of_freedom_prior=None,
        covariance_prior=None,
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
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.callback = callback

    # ------------------------------------------------------------ validation
    def _check_X(self, X, *, reset, min_samples=1):
        try:
            return validate_data(self, X, reset=reset, dtype=[np.float64, np.float32], order="C",
                                 ensure_min_samples=min_samples)
        except GMMKitError:
            raise
        except (ValueError, TypeError) as exc:
            raise _as_data_error(exc) from None

    @property
    def _process(self):
        return self.weight_concentration_prior_type == _PROCESS

    def _priors(self, X, sw, shift):
        """Validate the prior parameters and set the ``*_prior_`` attributes (scikit-learn's
        defaults: 1/K, 1, the data mean, D, the data covariance); the fit's prior."""
        D = X.shape[1]
        entry = covariance_type(self.covariance_type)
        K = self.n_components
        self.weight_concentration_prior_ = (1.0 / K if self.weight_concentration_prior is None
                                            else float(self.weight_concentration_prior))
        self.mean_precision_prior_ = 1.0 if self.mean_precision_prior is None else float(self.mean_precision_prior)
        if self.mean_prior is None:
            self.mean_prior_ = shift.copy()
        else:
            self.mean_prior_ = _float_array(self.mean_prior, (D,), "mean_prior")
        if self.degrees_of_freedom_prior is None:
            self.degrees_of_freedom_prior_ = float(D)
        elif self.degrees_of_freedom_prior > D - 1.0:
            self.degrees_of_freedom_prior_ = float(self.degrees_of_freedom_prior)
        else:
            raise ParameterError(f"degrees_of_freedom_prior must be greater than n_features - 1 = {D - 1}, "
                                 f"got {self.degrees_of_freedom_prior:.3f}")
        if self.covariance_prior is None:
            self.covariance_prior_ = default_covariance_prior(entry, X, sw, shift)
        else:
            cp = _float_array(self.covariance_prior, prior_layout(entry, D),
                              f"covariance_prior of covariance_type {entry.name!r}")
            full = entry.full(np.broadcast_to(cp, entry.shape(1, D)), 1, D)
            try:
                if not np.allclose(full, full.transpose(0, 2, 1)):
                    raise FactorError([0])
                entry.precision_cholesky(np.broadcast_to(cp, entry.shape(1, D)).copy())
            except FactorError:
                raise ParameterError(f"covariance_prior must be symmetric positive definite "
                                     f"(covariance_type {entry.name!r})") from None
            self.covariance_prior_ = cp
        return VariationalPrior(self._process, self.weight_concentration_prior_, self.mean_precision_prior_,
                                self.mean_prior_ - shift, self.degrees_of_freedom_prior_,
                                np.asarray(self.covariance_prior_, dtype=np.float64))

    # ------------------------------------------------------------ fitting
    def fit(self, X, y=None, sample_weight=None):
        """Fit the variational posterior; ``sample_weight`` are frequency weights. Returns self."""
        self._fit(X, sample_weight)
        return self

    def _fit(self, X, sample_weight):
        self._validate_all_params()
        X = self._check_X(X, reset=True, min_samples=2)
        N, D = X.shape
        K = self.n_components
        if N < K:
            raise DataError(f"Expected n_samples >= n_components but got n_components = {K}, n_samples = {N}")
        sw, _ = check_sample_weight(sample_weight, X, K)
        shift = np.average(X, axis=0, weights=sw if sw.size else None).astype(np.float64)
        rows = X if not sw.size else X[sw > 0]
        check_range((rows.min(axis=0), rows.max(axis=0)), shift, X.dtype)
        prior = self._priors(X, sw, shift)
        entry = covariance_type(self.covariance_type)
        problem = VariationalProblem(entry, K, D, shift, self.reg_covar, prior, X, sw)
        source = VariationalRows(problem, X, sw, self._process)
        rng = check_random_state(self.random_state)
        warm = None
        if self.warm_start and hasattr(self, "converged_"):
            warm = FitResult(self.lower_bound_, self._posterior(shift))
        settings = Settings(self.n_init, self.max_iter, self.tol, verbose=self.verbose,
                            report=reporter(self.verbose, self.verbose_interval, self.callback))
        best = driver.fit(problem, source, lambda r: problem.initial(self.init_params, r), rng,
                          settings, warm=warm)
        self._set_result(problem, best)
        return X

    def _posterior(self, shift):
        """The fitted posterior in coordinates shifted by ``shift`` (a warm start)."""
        K = self.n_components
        concentration = (np.stack(self.weight_concentration_) if self._process
                         else np.asarray(self.weight_concentration_))
        return Posterior(concentration, np.asarray(self.mean_precision_), self.means_ - shift,
                         np.broadcast_to(self.degrees_of_freedom_, (K,)).astype(np.float64),
                         self.covariances_.copy(), self.precisions_cholesky_.copy())

    def _set_result(self, problem, result):
        post = result.params
        entry = problem.entry
        self.weight_concentration_ = tuple(post.concentration) if self._process else post.concentration
        self.mean_precision_ = post.mean_precision
        self.means_ = post.means + problem.shift
        self.degrees_of_freedom_ = float(post.dof[0]) if problem.shared else post.dof
        self.covariances_ = post.covariances
        self.precisions_cholesky_ = post.prec_chol
        self.precisions_ = entry.precisions(post.prec_chol)
        self.weights_ = post.weights(self._process)
        self.converged_ = bool(result.converged)
        self.n_iter_ = int(result.n_iter)
        self.lower_bound_ = float(result.lower_bound) if self.max_iter > 0 else -np.inf
        self.lower_bounds_ = [float(v) for v in result.history]

    # ------------------------------------------------------------ inference
    def _score(self, X, *, resp=False, labels=False):
        """Per-row log of sum_k exp(E-step log-weight), responsibilities, labels (scikit-learn's
        ``score_samples`` of this model is that variational quantity, not a density)."""
        entry = covariance_type(self.covariance_type)
        K, D = self.means_.shape
        post = self._posterior(np.zeros(D))
        model = kernel_model(entry, log_constants(entry, self._process, post), post, self.means_, X.dtype)
        return _engine.score_pass(
            X, np.zeros(D, dtype=X.dtype), model.means, model.prec, model.logc, model.log_noise,
            resp_cols=K if resp else 0, labels=labels,
            parallel=_engine.use_parallel(X.shape[0], entry.work_per_row(K, D)),
        )

    def score_samples(self, X):
        """Log of the variational (unnormalised) mixture density of every row, as scikit-learn's."""
        return super().score_samples(X)

    def sample(self, n_samples=1):
        """Draw ``n_samples`` points from the mixture of the posterior means (``weights_``,
        ``means_``, ``covariances_``); returns (X, labels), the draws scikit-learn makes."""
        rng = check_random_state(self.random_state)
        counts = sample_counts(self, n_samples, self.weights_, rng)
        X = np.vstack(draw_components(covariance_type(self.covariance_type), rng, self.means_,
                                      self.covariances_, counts))
        y = np.concatenate([np.full(n, k, dtype=int) for k, n in enumerate(counts)])
        return X, y


def _float_array(value, shape, name):
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be numeric") from None
    if arr.shape != tuple(shape):
        raise ParameterError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"{name} must be finite")
    return arr
