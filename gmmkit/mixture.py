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
from ._covariance import COVARIANCE_TYPES, FactorError, _add_diag, n_parameters
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

    Parameters are those of :class:`sklearn.mixture.GaussianMixture`, plus:

    callback : callable, optional
        Called after every EM iteration with ``{"init", "n_iter", "lower_bound", "change"}``.
    noise : bool, default False
        Add mclust's Poisson noise component: a uniform density over the data's
        bounding box (or ``noise_volume``) that absorbs scattered outliers, so they
        do not drag means and covariances. ``predict`` labels noise points -1,
        ``predict_proba`` gets a last column for noise, ``bic`` counts one more parameter.
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
    def _validate_all_params(self):
        try:
            self._validate_params()
        except InvalidParameterError as exc:
            raise InvalidParameter(str(exc)) from None

    def _check_X(self, X, *, reset, min_samples=1):
        allow_nan = getattr(self, "missing", "em") == "em"
        try:
            X = validate_data(
                self, X, reset=reset, dtype=[np.float64, np.float32], order="C",
                ensure_min_samples=min_samples, ensure_all_finite="allow-nan" if allow_nan else True,
            )
        except GMMKitError:
            raise
        except (ValueError, TypeError) as exc:
            err = _as_data_error(exc)
            if not allow_nan and "NaN" in str(err):
                err = type(err)(f"{err} Missing values are supported with missing='em'.")
            raise err from None
        if allow_nan and X.size and np.isnan(X).all(axis=1).any():
            bad = np.flatnonzero(np.isnan(X).all(axis=1))
            raise DataError(
                f"{bad.size} row(s) have every value missing (first: row {bad[0]}); drop them"
            )
        return X

    def _check_sample_weight(self, sample_weight, X):
        if sample_weight is None:
            return np.empty(0), float(X.shape[0])
        try:
            sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        except ValueError as exc:
            raise DataError(f"sample_weight: {exc}") from None
        total = float(sw.sum())
        if not total > 0:
            raise DataError("sample_weight: the weights sum to zero; at least one row needs a non-zero weight")
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
                entry.prec_chol(entry.from_precisions(p))
            except (FactorError, np.linalg.LinAlgError):
                raise ParameterError("precisions_init must be symmetric positive definite") from None

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

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the most likely component of every row of X."""
        X = self._fit(X, sample_weight)
        # final pass so that fit_predict(X) == fit(X).predict(X)
        return self._score(X, labels=True)[2]

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
        entry = COVARIANCE_TYPES[self.covariance_type]

        do_init = not (self.warm_start and hasattr(self, "converged_"))
        rng = check_random_state(self.random_state)
        # EM runs on data shifted by its (weighted) mean: the second moments then
        # have no large-mean cancellation; the shift is applied inside the kernel.
        if np.isnan(X).any():
            ctx = _MissingFitContext(self, X, sw, total, None, entry, rng)
        else:
            shift = np.average(X, axis=0, weights=sw if sw.size else None)
            ctx = _FitContext(self, X, sw, total, shift, entry, rng)

        ctx.fit(rng, do_init)
        return X

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
        pi0 = getattr(self, "noise_weight_", 0.0)
        log_noise = math.log(pi0) - self.noise_log_volume_ if pi0 > 0 else -np.inf
        return (
            np.zeros(D, dtype=dtype),
            np.ascontiguousarray(self.means_, dtype=dtype),
            np.ascontiguousarray(entry.kernel_prec(self.precisions_cholesky_, K, D), dtype=dtype),
            _log_coef(entry, self.weights_, self.precisions_cholesky_, D),
            log_noise,
        )

    def _score(self, X, *, resp=False, labels=False):
        K, D = self.means_.shape
        entry = COVARIANCE_TYPES[self.covariance_type]
        noise = getattr(self, "noise_weight_", 0.0) > 0
        if np.isnan(X).any():
            from ._missing import score_missing

            return score_missing(self, X, resp=resp, labels=labels)
        return _engine.score_pass(
            entry.family, X, *self._kernel_params(X.dtype),
            resp_cols=(K + noise) if resp else 0, labels=labels,
            parallel=_engine.use_parallel(X.shape[0], _work_per_row(entry, K, D)),
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
        check_is_fitted(self)
        if n_samples < 1:
            raise ParameterError(
                f"Invalid value for 'n_samples': {n_samples}. The sampling requires at least one sample."
            )
        entry = COVARIANCE_TYPES[self.covariance_type]
        _, D = self.means_.shape
        rng = check_random_state(self.random_state)
        pi0 = getattr(self, "noise_weight_", 0.0)
        probs = np.r_[self.weights_, pi0] if pi0 > 0 else self.weights_
        counts = rng.multinomial(n_samples, probs / probs.sum())
        parts = []
        for k, (mean, n) in enumerate(zip(self.means_, counts)):
            if entry.family == "full":
                parts.append(rng.multivariate_normal(
                    mean, entry.as_full(self.covariances_, len(self.weights_), D)[k], int(n)))
            else:
                parts.append(mean + rng.standard_normal(size=(n, D)) * entry.sample_scale(self.covariances_, k))
        labels = list(range(len(self.weights_)))
        if pi0 > 0:  # noise points: uniform over the noise region, label -1
            lo, hi = self.noise_bounds_
            parts.append(rng.uniform(lo, hi, size=(counts[-1], D)))
            labels.append(-1)
        X = np.vstack(parts)
        y = np.concatenate([np.full(n, k, dtype=int) for k, n in zip(labels, counts)])
        return X, y

    def _n_parameters(self):
        K, D = self.means_.shape
        return n_parameters(self.covariance_type, K, D) + int(getattr(self, "noise_weight_", 0.0) > 0)

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
        tags.input_tags.allow_nan = self.missing == "em"
        return tags


def _is_dask_collection(X):
    return hasattr(X, "__dask_graph__") and type(X).__module__.split(".")[0] in ("dask", "dask_expr")


def _log_coef(entry, weights, prec_chol, D):
    """log w_k + log|U_k| - D/2 log(2 pi): the per-component constant of the kernels."""
    with np.errstate(divide="ignore"):
        logw = np.log(weights)
    return np.ascontiguousarray(logw + entry.log_det(prec_chol, len(weights), D) - 0.5 * D * _LOG_2PI)


def _work_per_row(entry, K, D):
    """Multiply-adds per row of one kernel pass (decides serial or threaded)."""
    return K * D * (D if entry.family == "full" else 1)


class _FitContext:
    """Per-fit state shared by initialisation, E-passes and M-steps."""

    def __init__(self, est, X, sw, total, shift, entry, rng):
        self.est, self.X, self.sw, self.total, self.entry = est, X, sw, total, entry
        self.rng = rng
        self.K = est.n_components
        self.N, self.D = X.shape
        self.shift64 = shift
        self.shift = np.ascontiguousarray(shift, dtype=X.dtype)
        self.parallel = _engine.use_parallel(self.N, _work_per_row(entry, self.K, self.D))
        self.n_reseeded = 0
        self._scale = None
        self._noise_start = None
        self._setup_noise()
        self._setup_prior()

    def _setup_noise(self):
        est, X = self.est, self.X
        self.noise = bool(est.noise)
        if not self.noise:
            self.noise_bounds = None
            self.log_volume = 0.0
            return
        rows = X if not self.sw.size else X[self.sw > 0]
        lo, hi = rows.min(axis=0).astype(np.float64), rows.max(axis=0).astype(np.float64)
        self.noise_bounds = np.vstack([lo, hi])
        if est.noise_volume is not None:
            self.log_volume = math.log(est.noise_volume)
        else:
            width = hi - lo
            # a constant column has no extent: give it unit width rather than zero volume
            self.log_volume = float(np.log(np.where(width > 0, width, 1.0)).sum())

    def _setup_prior(self):
        """mclust's conjugate prior hyper-parameters, in shifted coordinates."""
        est, D, K = self.est, self.D, self.K
        self.prior = None
        if est.prior is None:
            return
        opts = {} if est.prior == "conjugate" else dict(est.prior)
        unknown = set(opts) - {"shrinkage", "dof", "scale"}
        if unknown:
            raise ParameterError(f"prior: unknown option(s) {sorted(unknown)}; use shrinkage, dof, scale")
        scale = opts.get("scale")
        if scale is None:
            C = self._data_scale(self.rng) - est.reg_covar * np.eye(D)
            scale = C / K ** (2.0 / D)
        scale = np.asarray(scale, dtype=np.float64)
        if scale.shape != (D, D):
            raise ParameterError(f"prior: scale must have shape ({D}, {D}), got {scale.shape}")
        self.prior = {"shrinkage": float(opts.get("shrinkage", 0.01)),
                      "dof": float(opts.get("dof", D + 2)), "scale": scale}

    def _map_estimate(self, nk, means, cov):
        """MAP means and covariances under the conjugate prior (mean prior = data mean,
        which is 0 in shifted coordinates). ``cov`` is the ML estimate without reg_covar."""
        pr, D = self.prior, self.D
        kappa, nu, L = pr["shrinkage"], pr["dof"], pr["scale"]
        shrink = kappa * nk / (kappa + nk)
        new_means = means * (nk / (nk + kappa))[:, None]
        outer = means[:, :, None] * means[:, None, :] * shrink[:, None, None]
        cov = self.entry.map_estimate(cov, nk, L, nu, outer, D)
        return new_means, cov

    # -- statistics ------------------------------------------------------
    def _stats_from_resp(self, resp, labels, w):
        """Sufficient statistics (nk, sx, sxx) of the shifted data from responsibilities
        (dense) or hard labels (one-hot, -1 = unassigned); used only at initialisation."""
        K, D = self.K, self.D
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

    def _initial_noise(self):
        """(row mask of likely noise, its weight share): NNclean-like kNN-distance rule."""
        from sklearn.neighbors import NearestNeighbors

        X, N = self.X, self.N
        k = min(10, N - 1)
        if k < 2:
            return np.zeros(N, bool), 0.05
        d = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)[0][:, -1]
        med = np.median(d)
        mad = np.median(np.abs(d - med)) * 1.4826 + 1e-12
        mask = d > med + 4 * mad
        if self.sw.size:
            share = self.sw[mask].sum() / self.total
        else:
            share = mask.mean()
        if share > 0.5 or N - mask.sum() < 2 * self.K:  # not a noise pattern: keep every row
            return np.zeros(N, bool), 0.05
        return mask, float(np.clip(share, 0.01, 0.5))

    def initial_params(self, rng):
        est, X, K, N = self.est, self.X, self.K, self.N
        sw = self.sw if self.sw.size else None
        resp = labels = None
        pi0 = est.noise_init
        if self.noise and pi0 is None:
            if self._noise_start is None:
                self._noise_start = self._initial_noise()
            mask, pi0 = self._noise_start
            if mask.any():  # initialise the Gaussians on the rows that are not noise
                sw = (np.ones(N) if sw is None else sw) * ~mask
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
        params = self.m_step(self._stats_from_resp(resp, labels, sw), rng, initial=True)
        weights, means, prec_chol, cov, _ = params
        if est.weights_init is not None:
            weights = np.asarray(est.weights_init, dtype=np.float64).copy()
        if est.means_init is not None:
            means = np.asarray(est.means_init, dtype=np.float64) - self.shift64
        if est.precisions_init is not None:
            p = np.asarray(est.precisions_init, dtype=np.float64)
            cov = self.entry.from_precisions(p)
            prec_chol = self.entry.prec_chol(cov)
        if self.noise:
            weights = weights * (1.0 - pi0) / weights.sum()
        return weights, means, prec_chol, cov, pi0

    def params_from_attributes(self):
        est = self.est
        pi0 = getattr(est, "noise_weight_", 0.0) if self.noise else 0.0
        if self.noise and pi0 <= 0:
            pi0 = est.noise_init or 0.05
        weights = est.weights_ / est.weights_.sum() * (1.0 - pi0)
        return (weights, est.means_ - self.shift64, est.precisions_cholesky_.copy(),
                est.covariances_.copy(), pi0)

    # -- the EM loop -----------------------------------------------------
    def fit(self, rng, do_init):
        """The EM driver: restarts, keep the best, warn if it did not converge, set the
        estimator's fitted attributes. Shared by in-memory, out-of-core and Dask fits,
        which differ only in ``e_pass``."""
        est = self.est
        best = None
        with _engine.blas_single_thread():
            for init in range(est.n_init if do_init else 1):
                self.n_reseeded = 0
                if not do_init:
                    run = self.run_em(self.params_from_attributes(), est.lower_bound_, est.max_iter, init)
                elif est.short_runs:
                    run = self.short_run_start(rng, init)
                else:
                    run = self.run_em(self.initial_params(rng), -np.inf, est.max_iter, init)
                if est.verbose:
                    print(f"Initialization {init} {'converged' if run[4] else 'did not converge'}."
                          f" lower bound {run[0]:.5f}")
                if best is None or run[0] > best[0]:
                    best = run + (self.n_reseeded,)
        lower_bound, params, n_iter, history, converged, n_reseeded = best
        if not converged and est.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
            )
        self.set_attributes(params)
        est.converged_ = bool(converged)
        est.n_iter_ = int(n_iter)
        est.lower_bound_ = float(lower_bound) if est.max_iter > 0 else -np.inf
        est.lower_bounds_ = [float(v) for v in history]
        est.n_reseeded_ = int(n_reseeded)

    def run_em(self, params, lower_bound, max_iter, init, history=None):
        """EM from ``params`` for at most ``max_iter`` iterations.

        Returns (lower_bound, params, n_iter, history, converged)."""
        est = self.est
        history = [] if history is None else list(history)
        converged, n_iter = False, 0
        for n_iter in range(1, max_iter + 1):
            prev = lower_bound
            ll, stats = self.e_pass(params)
            lower_bound = ll / self.total
            params = self.m_step(stats, self.rng)
            history.append(lower_bound)
            change = lower_bound - prev
            est._report(init, len(history), lower_bound, change)
            if abs(change) < est.tol:
                converged = True
                break
        return lower_bound, params, len(history), history, converged

    def short_run_start(self, rng, init):
        """Many short EM runs from different starts; continue the best one to convergence
        (the 'short-run' or 'em-EM' strategy against poor local optima)."""
        est = self.est
        best = None
        for _ in range(est.short_runs):
            run = self.run_em(self.initial_params(rng), -np.inf, min(est.short_run_iter, est.max_iter), init)
            if best is None or run[0] > best[0]:
                best = run
        lower_bound, params, _, history, converged = best
        if converged or len(history) >= est.max_iter:
            return best
        return self.run_em(params, lower_bound, est.max_iter - len(history), init, history)

    # -- E and M ---------------------------------------------------------
    def log_noise(self, pi0):
        return math.log(pi0) - self.log_volume if self.noise and pi0 > 0 else -np.inf

    def kernel_args(self, params, dtype):
        """(means, precision factors, log coefficients, log noise) as the kernel takes them."""
        weights, means, prec_chol, _, pi0 = params
        K, D, entry = self.K, self.D, self.entry
        return (np.ascontiguousarray(means, dtype=dtype),
                np.ascontiguousarray(entry.kernel_prec(prec_chol, K, D), dtype=dtype),
                _log_coef(entry, weights, prec_chol, D), self.log_noise(pi0))

    def e_pass(self, params):
        ll, nk, sx, sxx = _engine.em_pass(
            self.entry.family, self.X, self.sw, self.shift,
            *self.kernel_args(params, self.X.dtype), self.parallel,
        )
        if not np.isfinite(ll):
            raise DataError(
                "the log-likelihood is not finite: the data are too extreme for "
                f"{self.X.dtype.name} or degenerate; rescale X or increase reg_covar"
            )
        return ll, (nk, sx, sxx)

    def e_pass_patterns(self, params):
        """The E-pass over ``self.pattern_blocks``: rows with NaN grouped by missingness
        pattern (:mod:`gmmkit._missing`); in-memory and out-of-core fits share it."""
        from ._missing import pattern_statistics

        ll, stats = pattern_statistics(self.pattern_blocks, self.est.covariance_type, params,
                                       self.shift, self.log_widths, self.noise)
        if not np.isfinite(ll):
            raise DataError("the log-likelihood is not finite: rescale X or increase reg_covar")
        return ll, stats

    def noise_log_widths(self):
        """Per-column log widths of the noise box (a row with NaN has the uniform density
        of its observed columns), or None without a noise component."""
        if not self.noise:
            return None
        width = self.noise_bounds[1] - self.noise_bounds[0]
        return np.log(np.where(width > 0, width, 1.0))

    def m_step(self, stats, rng, initial=False):
        nk, sx, sxx = stats
        K, entry = self.K, self.entry
        eps = 10 * np.finfo(np.float64).eps
        nk_g = nk[:K] + eps
        means = sx / nk_g[:, None]
        if self.prior is None:
            cov = entry.from_stats(nk_g, means, sxx, nk_g.sum(), self.est.reg_covar)
        else:
            cov = entry.from_stats(nk_g, means, sxx, nk_g.sum(), 0.0)
            means, cov = self._map_estimate(nk_g, means, cov)
            cov = _add_diag(cov, self.est.reg_covar)
        total = nk_g.sum() + (nk[K] if self.noise else 0.0)
        weights = nk_g / total
        pi0 = nk[K] / total if self.noise else 0.0
        if self.noise and initial:
            pi0 = 0.0  # set by initial_params
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
        return weights, means, prec, cov, pi0

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
        weights, means = weights.copy(), means.copy()
        gauss_mass = weights.sum()  # 1 - noise weight
        for k in bad:
            row = rng.randint(self.N)
            if self.sw.size:
                row = rng.choice(np.flatnonzero(self.sw > 0))
            means[k] = self.X[row].astype(np.float64) - self.shift64
            weights[k] = 1.0 / self.K
            cov = self.entry.reseed(cov, k, C)
        weights *= gauss_mass / weights.sum()
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
        weights, means, prec_chol, cov, pi0 = params
        est, entry = self.est, self.entry
        est.noise_weight_ = float(pi0)
        est.noise_volume_ = float(math.exp(self.log_volume)) if self.noise else 0.0
        est.noise_log_volume_ = float(self.log_volume)
        est.noise_bounds_ = self.noise_bounds
        est.weights_ = np.asarray(weights, dtype=np.float64)
        est.means_ = means + self.shift64
        est.precisions_cholesky_ = prec_chol
        est.covariances_ = cov
        est.precisions_ = entry.precisions(prec_chol)


class _MissingFitContext(_FitContext):
    """EM on data with NaN: initialisation on a mean-imputed copy, exact E-passes
    per missingness pattern (see :mod:`gmmkit._missing`)."""

    def __init__(self, est, X, sw, total, shift, entry, rng):
        """``shift`` None: the columns' observed means (a stream passes its own)."""
        from ._missing import Patterns, observed_mean

        mask = np.isnan(X)
        mean = observed_mean(X, sw, mask)
        self.X_nan = X
        imputed = np.where(mask, mean.astype(X.dtype), X)  # for initialisation and scales only
        super().__init__(est, np.ascontiguousarray(imputed), sw, total,
                         mean if shift is None else shift, entry, rng)
        self.pattern_blocks = Patterns(X, sw)

    def _setup_noise(self):
        super()._setup_noise()
        self.log_widths = self.noise_log_widths()

    def e_pass(self, params):
        return self.e_pass_patterns(params)
