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
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from . import _engine, _model_file
from ._covariance import COVARIANCE_NAMES, covariance_type, n_parameters
from ._em import driver
from ._em.driver import Settings
from ._em.init import Initialiser, from_estimator
from ._em.monitor import reporter
from ._em.noise import NoiseRegion
from ._em.prior import ConjugatePrior
from ._em.problem import Problem
from ._em.sources import DenseRows, KernelModel, PatternRows
from ._missing import observed_mean
from ._mixture_api import SHARED_CONSTRAINTS, MixtureScoring, draw_components, sample_counts
from ._params import FitResult
from ._validation import (
    check_initial_parameters,
    check_parameters,
    check_range,
    check_sample_weight,
    check_X,
)
from .exceptions import DataError, ParameterError

_entry = covariance_type  # the function, where a parameter takes its name


class GaussianMixture(MixtureScoring, DensityMixin, BaseEstimator):
    """Gaussian mixture fitted by EM on fused Numba kernels.

    Parameters are those of :class:`sklearn.mixture.GaussianMixture`, plus:

    init_params : as scikit-learn's, or "hc": mclust's model-based hierarchical clustering
        (VVV on SVD-transformed rows; a random 2000-row subsample when there are more).
    callback : callable, optional
        Called after every EM iteration with ``{"init", "n_iter", "lower_bound", "change"}``.
    noise : bool, default False
        Add mclust's Poisson noise component: a uniform density over the data's
        bounding box (or ``noise_volume``) that absorbs scattered outliers, so they
        do not drag means and covariances. ``predict`` labels noise points -1,
        ``predict_proba`` gets a last column for noise, ``bic`` counts 2 more parameters.
    noise_volume : float, optional
        Volume of the noise region; default: the data's bounding box.
    noise_init : float, optional
        Initial noise weight. By default the initial noise points are found as in
        mclust's NNclean: rows whose distance to their 10th nearest neighbour is
        far above the typical one; the Gaussians are then initialised without them.
    prior : None, "conjugate" or dict
        MAP estimation with mclust's conjugate prior (Fraley and Raftery 2007):
        covariances shrink toward a scaled data covariance, means toward the data
        mean, so few points per component in high dimension do not collapse. A dict
        overrides ``shrinkage`` (0.01), ``dof`` (D + 2) and ``scale`` (D x D matrix;
        default: data covariance / K**(2/D)).
    short_runs : int, default 0
        If > 0, each initialisation makes this many short EM runs (``short_run_iter``
        iterations each) from different starts and continues the best one.
    missing : {"em", "error"}, default "em"
        NaN entries are missing values handled exactly inside EM (each row's
        likelihood is its marginal over the observed coordinates; the M-step uses
        conditional expectations), and ``score_samples``/``predict``/``predict_proba``
        use the same marginals; ``impute`` fills them in. ``"error"`` refuses NaN.
        Infinities are always an error, and so is a row with every value missing.

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_ :
        as in scikit-learn (precision factors are upper triangular).
    converged_, n_iter_, lower_bound_ : as in scikit-learn.
    lower_bounds_ : list of float
        Mean log-likelihood at every iteration of the best initialisation.
    n_reseeded_ : int
        Components re-seeded during the best initialisation's fit.
    noise_weight_ : float
        Weight of the noise component (0 without noise); ``weights_`` then sum
        to ``1 - noise_weight_``.
    noise_volume_, noise_bounds_ :
        Volume and (2, D) lower/upper corners of the noise region.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(1).normal(size=(500, 3)).astype(np.float32)
    >>> gm = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    >>> gm.predict(X[:4]).shape, gm.bic(X) > 0
    ((4,), True)
    """

    _parameter_constraints: dict = {
        **SHARED_CONSTRAINTS,
        "covariance_type": [StrOptions(set(COVARIANCE_NAMES))],
        "init_params": [StrOptions({"kmeans", "k-means++", "random", "random_from_data", "hc"})],
        "weights_init": ["array-like", None],
        "means_init": ["array-like", None],
        "precisions_init": ["array-like", None],
        "noise": ["boolean"],
        "noise_volume": [Interval(Real, 0.0, None, closed="neither"), None],
        "noise_init": [Interval(Real, 0.0, 1.0, closed="neither"), None],
        "prior": [StrOptions({"conjugate"}), dict, None],
        "short_runs": [Interval(Integral, 0, None, closed="left")],
        "short_run_iter": [Interval(Integral, 1, None, closed="left")],
        "missing": [StrOptions({"em", "error"})],
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
        noise=False,
        noise_volume=None,
        noise_init=None,
        prior=None,
        short_runs=0,
        short_run_iter=10,
        missing="em",
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
        self.noise = noise
        self.noise_volume = noise_volume
        self.noise_init = noise_init
        self.prior = prior
        self.short_runs = short_runs
        self.short_run_iter = short_run_iter
        self.missing = missing

    # ------------------------------------------------------------ validation
    def _check_X(self, X, *, reset, min_samples=1):
        return check_X(self, X, reset=reset, min_samples=min_samples)

    def _check_sample_weight(self, sample_weight, X):
        return check_sample_weight(sample_weight, X, self.n_components)

    def _check_initial_parameters(self, D):
        check_initial_parameters(self, D)

    # ------------------------------------------------------------ fitting
    def fit(self, X, y=None, sample_weight=None):
        """Fit the mixture by EM; ``sample_weight`` are frequency weights. Returns self.

        A dask array or DataFrame is fitted on its workers (:func:`gmmkit.dask.fit_dask`);
        for files larger than memory see :func:`gmmkit.outofcore.fit_chunks`.
        """
        if _is_dask_collection(X):
            from .dask import fit_dask

            return fit_dask(self, X, sample_weight=sample_weight)
        self._fit(X, sample_weight)
        return self

    def partial_fit(self, X, y=None, sample_weight=None):
        """One step of stepwise (online) EM on a batch: approximate, for data that
        arrive over time (see :func:`gmmkit.outofcore.partial_fit` for the step sizes)."""
        from .outofcore import partial_fit

        return partial_fit(self, X, sample_weight=sample_weight)

    def _fit(self, X, sample_weight):
        """Validate and run EM; returns the validated X. (``fit`` needs no final
        E-step: skipping it saves a pass, and loading the scoring kernel at start-up.)"""
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
        rng = check_random_state(self.random_state)
        # EM runs on data shifted by its (weighted) mean: the second moments then
        # have no large-mean cancellation; the shift is applied inside the kernel.
        if np.isnan(X).any():  # initialisation and re-seeding on a mean-imputed copy (no mask kept)
            shift = observed_mean(X, sw, np.isnan(X))
            sample = np.ascontiguousarray(np.where(np.isnan(X), shift.astype(X.dtype), X))
        else:
            shift, sample = np.average(X, axis=0, weights=sw if sw.size else None), X
        rows = sample if not sw.size else sample[sw > 0]
        check_range((np.fmin.reduce(rows, axis=0), np.fmax.reduce(rows, axis=0)), shift, X.dtype)
        noise = NoiseRegion.from_rows(sample, sw, self.noise_volume) if self.noise else None
        problem = self._problem(D, shift, total, sample, sw, noise, rng)
        source = PatternRows(problem, X, sw) if sample is not X else DenseRows(problem, X, sw)
        self._run_driver(problem, source, rng)
        return X

    # ------------------------------------------------------------ the driver
    def _problem(self, D, shift, total, sample, sample_w, noise, rng):
        """The fixed part of a fit (:class:`gmmkit._em.problem.Problem`)."""
        problem = Problem(covariance_type(self.covariance_type), self.n_components, D,
                          np.asarray(shift, dtype=np.float64), float(total), self.reg_covar,
                          sample, sample_w, noise)
        reg = self.reg_covar * np.eye(D)
        problem.prior = ConjugatePrior.from_option(self.prior, D, self.n_components,
                                                   lambda: problem.data_scale(rng) - reg)
        return problem

    def _settings(self):
        return Settings(self.n_init, self.max_iter, self.tol, self.short_runs, self.short_run_iter,
                        self.verbose, reporter(self.verbose, self.verbose_interval, self.callback))

    def _run_driver(self, problem, source, rng):
        """EM through the one driver on ``source`` (any E-source); sets the fitted attributes."""
        warm = None
        if self.warm_start and hasattr(self, "converged_"):
            warm = FitResult(self.lower_bound_, from_estimator(problem, self))
        best = driver.fit(problem, source, Initialiser(problem, self), rng, self._settings(), warm=warm)
        self._set_result(problem, best)

    def _set_n_features(self, D, names=None):
        """Out-of-core and Dask fits: the number of features and, when the source names its
        columns (a header, a Parquet schema, a DataFrame), their names, so that later
        DataFrames are matched by name; default names (``x0, x1, ...``) are not kept."""
        self.n_features_in_ = int(D)
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        if names is not None and len(names) == D and list(names) != [f"x{j}" for j in range(D)]:
            self.feature_names_in_ = np.asarray([str(n) for n in names], dtype=object)

    def _set_result(self, problem, result):
        p = result.params
        self._set_parameters(p.weights, p.means + problem.shift, p.covariances, p.prec_chol,
                             p.noise_weight, problem.noise)
        self.converged_ = bool(result.converged)
        self.n_iter_ = int(result.n_iter)
        self.lower_bound_ = float(result.lower_bound) if self.max_iter > 0 else -np.inf
        self.lower_bounds_ = [float(v) for v in result.history]
        self.n_reseeded_ = int(result.n_reseeded)

    def _set_parameters(self, weights, means, covariances, prec_chol, noise_weight=0.0, noise=None):
        """Write the fitted parameters: the one place the estimator's model attributes are set."""
        entry = covariance_type(self.covariance_type)
        self.weights_ = np.asarray(weights, dtype=np.float64)
        self.means_ = np.asarray(means, dtype=np.float64)
        self.covariances_ = np.asarray(covariances, dtype=np.float64)
        self.precisions_cholesky_ = np.asarray(prec_chol, dtype=np.float64)
        self.precisions_ = entry.precisions(self.precisions_cholesky_)
        self.noise_weight_ = float(noise_weight) if noise is not None else 0.0
        self.noise_volume_ = noise.volume if noise is not None else 0.0
        self.noise_log_volume_ = noise.log_volume if noise is not None else 0.0
        self.noise_bounds_ = noise.bounds if noise is not None else None

    @classmethod
    def from_parameters(cls, weights, means, covariances, *, covariance_type="full", noise_weight=0.0,
                        noise_bounds=None, noise_volume=None, precisions_cholesky=None,
                        feature_names=None, **params):
        """A fitted estimator from its parameters, validated like a model file.

        ``weights`` (K,) sum to ``1 - noise_weight``; ``covariances`` have the
        layout of ``covariance_type`` (see :mod:`gmmkit.covariance`); a noise
        component needs ``noise_bounds`` (2, D) and optionally ``noise_volume``
        (default: the box's). ``precisions_cholesky``, if given, must be the
        covariances' factors (checked); by default they are computed. Other
        keyword arguments are estimator parameters.

        >>> import numpy as np
        >>> gm = GaussianMixture.from_parameters([0.5, 0.5], [[0.0], [4.0]], [1.0, 1.0],
        ...                                      covariance_type="spherical")
        >>> gm.predict(np.array([[0.2], [3.9]])).tolist()
        [0, 1]
        """
        entry = _entry(covariance_type)
        weights, means, covariances, prec_chol = check_parameters(entry, weights, means, covariances,
                                                                  noise_weight, precisions_cholesky)
        K, D = means.shape
        entry.check_structure(covariances, K, D)  # a file's E-model copies that disagree: refused
        pi0 = float(noise_weight)
        noise = None
        if pi0 > 0:
            if noise_bounds is None or np.shape(noise_bounds) != (2, D):
                raise ParameterError(f"a noise component needs noise_bounds of shape (2, {D})")
            noise = NoiseRegion.from_bounds(noise_bounds, noise_volume)
        est = cls(n_components=K, covariance_type=entry.name, noise=noise is not None,
                  noise_volume=noise_volume, **params)
        est._validate_all_params()
        est._set_parameters(weights, means, covariances, prec_chol, pi0, noise)
        est.converged_, est.n_iter_, est.lower_bound_, est.lower_bounds_, est.n_reseeded_ = True, 0, -np.inf, [], 0
        est.n_features_in_ = D
        if feature_names is not None:
            est.feature_names_in_ = np.asarray(feature_names, dtype=object)
        return est

    # ------------------------------------------------------------ inference
    def _kernel_model(self, dtype):
        """The fitted parameters as the kernels take them (no shift)."""
        noise = self.noise_weight_ > 0
        log_noise = math.log(self.noise_weight_) - self.noise_log_volume_ if noise else -np.inf
        return KernelModel.make(covariance_type(self.covariance_type), self.weights_, self.means_,
                                self.precisions_cholesky_, log_noise, dtype)

    def _score(self, X, *, resp=False, labels=False):
        K, D = self.means_.shape
        if np.isnan(X).any():
            from ._missing import score_missing

            return score_missing(self, X, resp=resp, labels=labels)
        model = self._kernel_model(X.dtype)
        return _engine.score_pass(
            X, np.zeros(D, dtype=X.dtype), model.means, model.prec, model.logc, model.log_noise,
            resp_cols=(K + (self.noise_weight_ > 0)) if resp else 0, labels=labels,
            parallel=_engine.use_parallel(X.shape[0], covariance_type(self.covariance_type).work_per_row(K, D)),
        )

    def impute(self, X, n_draws=None, random_state=None):
        """Fill NaN entries of X under the fitted mixture.

        With ``n_draws=None``: the conditional mean E[x_m | x_o] (a mixture of the
        components' conditional means weighted by P(k | x_o)); returns (n, D).
        With ``n_draws=m``: m multiple imputations, each drawing a component from
        P(k | x_o) and x_m from its conditional normal; returns (m, n, D).

        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = rng.multivariate_normal([0, 0], [[1, .9], [.9, 1]], size=500)
        >>> gm = GaussianMixture(1).fit(X)
        >>> bool(abs(gm.impute(np.array([[2.0, np.nan]]))[0, 1] - 1.8) < 0.2)
        True
        """
        from ._missing import impute

        X = self._checked(X)
        if n_draws is not None and (not isinstance(n_draws, (int, np.integer)) or n_draws < 1):
            raise ParameterError(f"n_draws must be a positive integer, got {n_draws!r}")
        rs = self.random_state if random_state is None else random_state
        return impute(self, X, n_draws=n_draws, random_state=rs)

    def sample(self, n_samples=1):
        """Draw ``n_samples`` points; returns (X, component labels) as scikit-learn does."""
        rng = check_random_state(self.random_state)
        pi0 = getattr(self, "noise_weight_", 0.0)
        counts = sample_counts(self, n_samples, np.r_[self.weights_, pi0] if pi0 > 0 else self.weights_, rng)
        entry = covariance_type(self.covariance_type)
        parts = draw_components(entry, rng, self.means_, self.covariances_, counts)
        labels = list(range(len(self.weights_)))
        if pi0 > 0:  # noise points: uniform over the noise region, label -1
            lo, hi = self.noise_bounds_
            parts.append(rng.uniform(lo, hi, size=(counts[-1], self.means_.shape[1])))
            labels.append(-1)
        X = np.vstack(parts)
        y = np.concatenate([np.full(n, k, dtype=int) for k, n in zip(labels, counts)])
        return X, y

    def _n_parameters(self):
        K, D = self.means_.shape
        return n_parameters(self.covariance_type, K, D) + 2 * int(self.noise_weight_ > 0)  # mclust: weight, volume

    def _criterion_terms(self, X, sample_weight):
        """(total log-likelihood, number of rows) of X, with frequency weights if given."""
        X = self._checked(X)
        logp = self.score_samples(X)
        if sample_weight is None:
            return float(logp.sum()), X.shape[0]
        w = self._check_sample_weight(sample_weight, X)[0]
        return float(w @ logp), float(w.sum())

    def bic(self, X, sample_weight=None):
        """Bayesian information criterion on X (lower is better).

        With ``sample_weight`` (frequency weights) the log-likelihood is the weighted
        sum and the sample size the weights' total, as if rows were repeated.
        """
        ll, n = self._criterion_terms(X, sample_weight)
        return -2 * ll + self._n_parameters() * math.log(n)

    def aic(self, X, sample_weight=None):
        """Akaike information criterion on X (lower is better); ``sample_weight`` as in :meth:`bic`."""
        ll, _ = self._criterion_terms(X, sample_weight)
        return -2 * ll + 2 * self._n_parameters()

    # ------------------------------------------------------------ files
    def save(self, path, *, overwrite=True):
        """Write the fitted model to ``path`` (versioned ``.npz`` + JSON, atomic, no pickle)."""
        _model_file.save(self, path, overwrite=overwrite)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing == "em"
        return tags


def _is_dask_collection(X):
    return hasattr(X, "__dask_graph__") and type(X).__module__.split(".")[0] in ("dask", "dask_expr")


def load(path):
    """Load a model written by :meth:`GaussianMixture.save`; validates everything, runs no code.

    Raises :class:`gmmkit.exceptions.ModelFileError` on a missing, truncated,
    corrupted, foreign or newer-version file.

    >>> import numpy as np, tempfile, os
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.gmm")
    >>> gm.save(path)
    >>> bool(np.allclose(load(path).means_, gm.means_))
    True
    """
    return _model_file.load(path, GaussianMixture)
