"""``GMMOutlierDetector``: low density under a robustly fitted mixture means anomaly.

The detector follows scikit-learn's outlier-detector conventions (those of
:class:`sklearn.ensemble.IsolationForest`): ``score_samples`` is higher for
normal rows (here: the log-density, in the units of the input), ``offset_`` is
the log-density below which a row is an outlier, ``decision_function`` is
``score_samples - offset_`` and ``predict`` returns +1 (inlier) or -1 (outlier),
or ``UNSCORABLE`` (0) for a row that cannot be scored. A loaded detector or a
plain mixture gets its threshold from :meth:`GMMOutlierDetector.calibrate`.

Robust fitting, so that the anomalies do not shape the model:

1. Features are centred on their median and scaled by their inter-quartile
   range (robust to the outliers themselves); constant features are ignored.
2. The mixture (K chosen by BIC with :func:`gmmkit.select`, or fixed) is fitted,
   then **components holding less than** ``min_component_weight`` **of the rows
   are dropped**: a tight cluster of anomalies that won its own component would
   otherwise get a high density and look normal (masking).
3. **Trimmed EM**: the ``trim_fraction`` lowest-density rows are set aside and
   the mixture is refitted on the rest, ``n_rounds`` times (or until the kept
   set stops changing); these refits search K only next to the previous K.

Missing values (NaN) are fitted by gmmkit's exact EM with marginals. A row with
missing cells is scored on its observed features, put on the complete rows'
scale by a per-component chi-square calibration
(:func:`gmmkit_apps.outliers.calibrate.calibrated_log_density`); a row with
every used feature missing has no score (NaN): it is *unscorable*, neither an
outlier nor an inlier (``predict`` gives 0).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(size=(500, 2)), [[8.0, 8.0], [-7.0, 9.0]]])
>>> det = GMMOutlierDetector(contamination=0.01, random_state=0).fit(X)
>>> det.predict(X[-2:]).tolist()
[-1, -1]
>>> bool(det.decision_function(X[:1])[0] > 0)
True
"""
from __future__ import annotations

import math
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from gmmkit.exceptions import DataError, GMMKitError, GMMKitWarning, ModelFileError, ParameterError

KIND = "GMMOutlierDetector"
#: what :meth:`GMMOutlierDetector.predict` returns for a row it cannot score
UNSCORABLE = 0


class IgnoredFeatureWarning(GMMKitWarning):
    """Some features are constant in the training data and take no part in the density."""


def robust_scale(X):
    """Median and robust scale (IQR / 1.349, else standard deviation) of every column.

    Returns ``(center, scale, used)``; ``used`` is False for constant columns
    (their scale is set to 1).

    >>> c, s, used = robust_scale(np.array([[0.0, 5.0], [1.0, 5.0], [2.0, 5.0], [3.0, 5.0]]))
    >>> c.tolist(), used.tolist()
    ([1.5, 5.0], [True, False])

    NaN cells are left out of each column's statistics; a column with fewer than
    two observed values counts as constant.
    """
    X = np.asarray(X, dtype=np.float64)
    enough = (~np.isnan(X)).sum(axis=0) >= 2
    center = np.zeros(X.shape[1])
    scale = np.zeros(X.shape[1])
    if enough.any():
        Xe = X[:, enough]
        center[enough] = np.nanmedian(Xe, axis=0)
        q75, q25 = np.nanpercentile(Xe, [75, 25], axis=0)
        scale[enough] = (q75 - q25) / 1.349
    small = ~(scale > 1e-12 * np.maximum(1.0, np.abs(center))) & enough
    if small.any():
        scale[small] = np.nanstd(X[:, small], axis=0)
    used = enough & (scale > 1e-12 * np.maximum(1.0, np.abs(center)))
    scale = np.where(used, scale, 1.0)
    return center, scale, used


def submixture(gm, components, *, covariance_scale=1.0):
    """A fitted :class:`gmmkit.GaussianMixture` made of some components of ``gm``.

    Weights are renormalised; covariances are kept (divided by
    ``covariance_scale``). Used to drop components too small to be a normal mode;
    a noise component is never part of the result.
    """
    from gmmkit import GaussianMixture
    from gmmkit.covariance import covariance_type

    idx = np.asarray(components, dtype=int)
    params = {k: v for k, v in gm.get_params(deep=False).items()
              if k not in _NOT_CARRIED and not k.startswith("noise")}
    w = gm.weights_[idx]
    covariances = covariance_type(gm.covariance_type).select(gm.covariances_, idx)
    return GaussianMixture.from_parameters(
        w / w.sum(), gm.means_[idx], np.asarray(covariances) / covariance_scale,
        covariance_type=gm.covariance_type, **params)


#: estimator parameters that describe a fit's start or size, not the fitted model
_NOT_CARRIED = ("n_components", "covariance_type", "weights_init", "means_init", "precisions_init",
                "callback")


def constant_columns(X):
    """True for the columns of ``X`` with fewer than two distinct observed values.

    >>> constant_columns(np.array([[1.0, 2.0, np.nan], [1.0, 3.0, np.nan]])).tolist()
    [True, False, True]
    """
    X = np.asarray(X, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        return ~(np.nanmax(X, axis=0) > np.nanmin(X, axis=0))


def auto_covariance_type(n_rows, n_features, rows_per_parameter=10):
    """"full" when there are at least ``rows_per_parameter`` rows per parameter of
    one full-covariance component (D means + D(D+1)/2 covariances), else "diag".

    >>> auto_covariance_type(375, 30), auto_covariance_type(5000, 10)
    ('diag', 'full')
    """
    d = n_features
    return "full" if n_rows >= rows_per_parameter * (d + d * (d + 1) // 2) else "diag"


def inflate_for_trimming(gm, alpha):
    """Undo the shrinkage of covariances fitted without the ``alpha`` least likely rows.

    Trimming a Gaussian at its (1 - alpha) Mahalanobis quantile q shrinks its
    covariance by ``c = P(chi2_{D+2} <= q) / (1 - alpha)`` (the consistency
    factor of trimmed estimators such as MCD); covariances are divided by c so
    that log-densities (and ``--threshold`` values) stay calibrated. Exact for
    one component, an approximation for a mixture.

    >>> from gmmkit import GaussianMixture
    >>> X = np.random.default_rng(0).normal(size=(4000, 2))
    >>> s = GaussianMixture(1).fit(X[np.einsum("ij,ij->i", X, X) < 4.605])  # 10 % trimmed
    >>> float(np.round(inflate_for_trimming(s, 0.1).covariances_[0].trace(), 1))
    2.0
    """
    from scipy.stats import chi2

    D = gm.means_.shape[1]
    q = chi2.ppf(1.0 - alpha, D)
    c = float(chi2.cdf(q, D + 2) / (1.0 - alpha))
    return submixture(gm, np.arange(gm.n_components), covariance_scale=c)


def precision_matrices(gm):
    """Full (K, D, D) precision matrices of a fitted mixture, whatever its covariance type."""
    from gmmkit.covariance import full_precisions

    return full_precisions(gm)


def conditional_zscores(gm, Z, labels):
    """Conditional z-score of every feature of every row under its component.

    For row x in component k with mean m and precision matrix P, feature j's
    z-score given all the other features is ``(P (x - m))_j / sqrt(P_jj)``: the
    distance of x_j from its conditional mean, in conditional standard
    deviations. A large |z| means "this value is unusual given the others".

    Parameters
    ----------
    gm : fitted GaussianMixture
    Z : ndarray (n, D)
    labels : ndarray (n,) of int, the component of each row

    Returns
    -------
    ndarray (n, D)

    Examples
    --------
    >>> from gmmkit import GaussianMixture
    >>> X = np.random.default_rng(0).normal(size=(400, 2))
    >>> gm = GaussianMixture(1, random_state=0).fit(X)
    >>> z = conditional_zscores(gm, np.array([[0.0, 6.0]]), np.array([0]))
    >>> bool(abs(z[0, 1]) > 4 > abs(z[0, 0]))
    True
    """
    P = precision_matrices(gm)
    out = np.empty(Z.shape, dtype=np.float64)
    for k in np.unique(labels):
        rows = labels == k
        diff = Z[rows] - gm.means_[k]
        out[rows] = (diff @ P[k]) / np.sqrt(np.diag(P[k]))
    return out


def explain_rows(z, names, top=3):
    """Text such as ``"area=+5.1 height=-3.2"``: the ``top`` features by |z|, per row.

    NaN entries (missing features) are never named.

    >>> explain_rows(np.array([[0.5, -4.0, 2.0], [np.nan, 1.0, -3.0]]), ["a", "b", "c"], top=2)
    ['b=-4.0 c=+2.0', 'c=-3.0 b=+1.0']
    """
    top = max(1, min(int(top), z.shape[1]))
    order = np.argsort(-np.abs(z), axis=1)[:, :top]  # NaN sorts last
    return [" ".join(f"{names[j]}={z[i, j]:+.1f}" for j in row if not np.isnan(z[i, j]))
            for i, row in enumerate(order)]


class GMMOutlierDetector(OutlierMixin, BaseEstimator):
    """Outlier detector: log-density under a robustly fitted Gaussian mixture.

    Parameters
    ----------
    n_components : int or "bic", default="bic"
        Number of mixture components, or "bic" to choose it in
        ``1..max_components`` by the Bayesian information criterion.
    covariance_type : {"auto", "full", "diag", "tied", "spherical"}, default="auto"
        "auto": "full" when the fit rows number at least 10 times the parameters
        of one full component (D + D(D+1)/2), else "diag" (see
        :func:`auto_covariance_type`).
    max_components : int, default=8
        Largest K tried when ``n_components="bic"``.
    contamination : float in (0, 0.5], default=0.01
        Expected fraction of outliers: ``offset_`` is this quantile of the
        training rows' log-densities. Ignored when ``threshold`` is given.
    threshold : float or None, default=None
        Log-density (in the units of X) below which a row is an outlier.
    trim_fraction : float in [0, 0.5), default=0.05
        Fraction of lowest-density rows left out at each trimmed-EM round.
    n_rounds : int, default=3
        Trimmed refits after the first fit (0: no trimming).
    min_component_weight : float in [0, 0.5), default=0.05
        Components holding less than this fraction of the (kept) rows are not
        considered normal modes and are dropped from the density.
    reg_covar : float, default=1e-2
        Added to covariance diagonals, in robustly standardised units.
    min_distinct : int, default=6
        Features with fewer distinct values in the training data (constant,
        binary, small codes) are ignored: a Gaussian density on them is a set of
        spikes that drowns every other feature.
    n_init : int, default=1
    noise : bool, default=False
        Fit with gmmkit's uniform noise component, which absorbs scattered
        outliers during EM; the noise component is then left out of the density.
    max_fit_rows : int or None, default=None
        Fit on a random subset of at most this many rows (scoring uses all).
    random_state : int or None, default=None

    Attributes
    ----------
    mixture_ : gmmkit.GaussianMixture
        The density, in standardised units (``(X - center_) / scale_`` on the
        used features).
    center_, scale_ : ndarray (n_features,)
    used_features_ : ndarray of bool (n_features,)
        False for features constant in the training data (ignored).
    offset_ : float
        Log-density threshold; ``decision_function = score_samples - offset_``.
    n_kept_ : int
        Training rows in the final (trimmed) fit.
    dropped_components_ : int
        Small components dropped in the final round (masking guard).
    feature_names_in_ : ndarray of str, when fitted on a DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.decomposition import PCA
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(300, 5))
    >>> pipe = make_pipeline(PCA(3), GMMOutlierDetector(n_components=1, random_state=0))
    >>> pipe.fit(X).predict(X).shape
    (300,)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), StrOptions({"bic"})],
        "covariance_type": [StrOptions({"auto", "full", "diag", "tied", "spherical"})],
        "max_components": [Interval(Integral, 1, None, closed="left")],
        "contamination": [Interval(Real, 0.0, 0.5, closed="right")],
        "threshold": [Real, None],
        "trim_fraction": [Interval(Real, 0.0, 0.5, closed="left")],
        "n_rounds": [Interval(Integral, 0, None, closed="left")],
        "min_component_weight": [Interval(Real, 0.0, 0.5, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="neither")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "noise": ["boolean"],
        "min_distinct": [Interval(Integral, 2, None, closed="left")],
        "max_fit_rows": [Interval(Integral, 2, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(self, n_components="bic", *, covariance_type="auto", max_components=8,
                 contamination=0.01, threshold=None, trim_fraction=0.05, n_rounds=3,
                 min_component_weight=0.05, reg_covar=1e-2, n_init=1, noise=False,
                 min_distinct=6, max_fit_rows=None, random_state=None):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.max_components = max_components
        self.contamination = contamination
        self.threshold = threshold
        self.trim_fraction = trim_fraction
        self.n_rounds = n_rounds
        self.min_component_weight = min_component_weight
        self.reg_covar = reg_covar
        self.n_init = n_init
        self.noise = noise
        self.min_distinct = min_distinct
        self.max_fit_rows = max_fit_rows
        self.random_state = random_state

    # ------------------------------------------------------------ helpers
    def _check(self, X, reset):
        try:
            X = validate_data(self, X, reset=reset, dtype=np.float64,
                              ensure_min_samples=2 if reset else 1,
                              ensure_all_finite="allow-nan")
        except GMMKitError:
            raise
        except (ValueError, TypeError) as exc:
            raise DataError(" ".join(str(exc).split())) from None
        if np.isinf(X).any():
            i = int(np.flatnonzero(np.isinf(X).any(axis=1))[0])
            raise DataError(f"X holds infinity (row {i}); missing values must be NaN")
        return X

    def _standardise(self, X):
        return (X[:, self.used_features_] - self.center_[self.used_features_]) / self.scale_[self.used_features_]

    @property
    def _log_jacobian(self):
        # density of X = density of Z times |dZ/dX| = prod(1 / scale)
        return -float(np.sum(np.log(self.scale_[self.used_features_])))

    def _seed(self):
        rs = self.random_state
        if rs is None:
            return int(np.random.default_rng().integers(2**31 - 1))
        if isinstance(rs, (int, np.integer)):
            return int(rs)
        return int(rs.randint(2**31 - 1)) if hasattr(rs, "randint") else int(rs.integers(2**31 - 1))

    def _fit_mixture(self, Z, seed, around=None):
        import gmmkit
        from gmmkit import GaussianMixture

        n = Z.shape[0]
        common = dict(reg_covar=self.reg_covar, n_init=self.n_init)
        if self.noise:
            common["noise"] = True
        types = (self.covariance_type,)
        if self.covariance_type == "auto":
            types = (auto_covariance_type(n, Z.shape[1]),)
        if self.n_components == "bic":
            kmax = max(1, min(self.max_components, n // max(2, Z.shape[1] + 1)))
            ks = range(1, kmax + 1)
            if around is not None:  # trimmed refits: search near the previous choice only
                ks = range(max(1, around - 1), min(kmax, around + 1) + 1)
        else:
            ks = [min(int(self.n_components), n)]
        if len(ks) == 1 and len(types) == 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return GaussianMixture(ks[0], covariance_type=types[0], random_state=seed,
                                       **common).fit(Z)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            select = getattr(gmmkit, "select", None)
            if select is not None:
                return select(Z, n_components=ks, covariance_types=types, criterion="bic",
                              random_state=seed, **common).best_model_
            best = None
            for cov in types:  # fallback for a gmmkit without select()
                for k in ks:
                    gm = GaussianMixture(k, covariance_type=cov, random_state=seed, **common).fit(Z)
                    bic = gm.bic(Z)
                    if best is None or bic < best[0]:
                        best = (bic, gm)
            return best[1]

    def _prune(self, gm):
        w = gm.weights_ / gm.weights_.sum()
        keep = np.flatnonzero(w >= self.min_component_weight)
        if keep.size == 0:
            keep = np.array([int(np.argmax(w))])
        if keep.size == gm.n_components and not gm.noise_weight_ > 0:
            return gm, 0
        return submixture(gm, keep), gm.n_components - keep.size

    # ------------------------------------------------------------ API
    def fit(self, X, y=None):
        """Fit the robust mixture on X (rows are samples); ``y`` is ignored. Returns self."""
        from sklearn.utils._param_validation import InvalidParameterError

        try:
            self._validate_params()
        except InvalidParameterError as exc:
            raise ParameterError(" ".join(str(exc).split())) from None
        X = self._check(X, reset=True)
        seed = self._seed()
        rng = np.random.default_rng(seed)
        if self.max_fit_rows is not None and X.shape[0] > self.max_fit_rows:
            X = X[np.sort(rng.choice(X.shape[0], self.max_fit_rows, replace=False))]
        self.center_, self.scale_, used = robust_scale(X)
        if not used.any():
            raise DataError("every feature is constant: there is nothing to score")
        few = np.array([np.unique(c[~np.isnan(c)]).size < self.min_distinct for c in X.T]) & used
        if few.all():
            few[:] = False  # nothing else to score on: keep the discrete features
        self.used_features_ = used & ~few
        if not self.used_features_.all():
            names = getattr(self, "feature_names_in_", None)
            show = (lambda j: str(names[j])) if names is not None else str
            parts = []
            if (~used).any():
                parts.append("constant: " + ", ".join(show(j) for j in np.flatnonzero(~used)))
            if few.any():
                parts.append(f"fewer than {self.min_distinct} distinct values: "
                             + ", ".join(show(j) for j in np.flatnonzero(few)))
            warnings.warn(f"feature(s) ignored ({'; '.join(parts)})", IgnoredFeatureWarning, stacklevel=2)
        Z = self._standardise(X)
        scorable = ~np.isnan(Z).all(axis=1)
        if scorable.sum() < 2:
            raise DataError("fewer than 2 rows have a value in the used features: nothing to fit on")
        Z = Z[scorable]  # rows with every used feature missing carry no information
        keep = np.ones(Z.shape[0], dtype=bool)
        n_trim = int(math.floor(self.trim_fraction * Z.shape[0]))
        around = None
        for r in range(self.n_rounds + 1):
            gm, dropped = self._prune(self._fit_mixture(Z[keep], seed, around))
            around = gm.n_components
            if r == self.n_rounds or n_trim == 0:
                break
            s = self._calibrated(gm, Z)
            new_keep = np.ones_like(keep)
            new_keep[np.argsort(s, kind="stable")[:n_trim]] = False
            if np.array_equal(new_keep, keep):
                break
            keep = new_keep
        alpha = 1.0 - keep.sum() / keep.size
        self.mixture_ = inflate_for_trimming(gm, alpha) if alpha > 0 else gm
        self.n_kept_ = int(keep.sum())
        self.dropped_components_ = int(dropped)
        self.n_rounds_ = r
        self._set_offset(self._score_checked(X), self.contamination, self.threshold)
        return self

    def calibrate(self, X=None, *, contamination=None, threshold=None):
        """Set the threshold ``offset_`` (a fitted or loaded detector); returns self.

        ``threshold``: a log-density, used as it is. Otherwise ``contamination``
        (default: the ``contamination`` parameter): that fraction of the rows of
        ``X`` that can be scored fall below the threshold (unscorable rows do not
        count). This is how a saved detector or a plain mixture is put to work on
        new data (``gmmkit outliers --model``).

        >>> X = np.random.default_rng(0).normal(size=(1000, 2))
        >>> det = GMMOutlierDetector(n_components=1, random_state=0).fit(X)
        >>> float((det.calibrate(X, contamination=0.1).predict(X) == -1).mean())
        0.1
        >>> det.calibrate(threshold=-5.0).offset_
        -5.0
        """
        check_is_fitted(self, "mixture_")
        if contamination is not None and threshold is not None:
            raise ParameterError("give contamination or threshold, not both")
        if contamination is not None and not 0 < contamination <= 0.5:
            raise ParameterError(f"contamination must be in (0, 0.5], got {contamination}")
        scores = None
        if threshold is None:
            if X is None:
                raise ParameterError("calibrating by contamination needs rows X to score")
            scores = self.score_samples(X)
        self._set_offset(scores, self.contamination if contamination is None else contamination,
                         threshold)
        return self

    def _set_offset(self, scores, contamination, threshold):
        if threshold is not None:
            self.offset_ = float(threshold)
            return
        scores = scores[~np.isnan(scores)]
        if scores.size == 0:
            raise DataError("no row can be scored (every used feature is missing): "
                            "cannot set the threshold")
        self.offset_ = float(np.quantile(scores, contamination))

    @property
    def calibrated_(self):
        """False for a detector wrapped around a plain mixture before :meth:`calibrate`."""
        return bool(np.isfinite(getattr(self, "offset_", np.nan)))

    def score_samples(self, X):
        """Log-density of every row (in the units of X); higher is more normal.

        Rows with NaN get the chi-square-calibrated score of their observed
        features (:mod:`gmmkit_apps.outliers.calibrate`), on the scale of a
        complete row's log-density; rows with every used feature missing get NaN.
        """
        check_is_fitted(self, "mixture_")
        X = self._check(X, reset=False)
        return self._score_checked(X)

    @staticmethod
    def _calibrated(gm, Z):
        """Log-density of complete rows; chi-square-calibrated score of rows with NaN."""
        from .calibrate import calibrated_log_density

        nan = np.isnan(Z)
        out = np.full(Z.shape[0], np.nan)
        full = ~nan.any(axis=1)
        if full.any():
            out[full] = gm.score_samples(Z[full])
        part = ~full & ~nan.all(axis=1)
        if part.any():
            out[part] = calibrated_log_density(gm, Z[part])
        return out

    def _score_checked(self, X):
        return self._calibrated(self.mixture_, self._standardise(X)) + self._log_jacobian

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """+1 for inliers, -1 for outliers, and ``UNSCORABLE`` (0) for rows that cannot be
        scored (every used feature missing): those are neither outliers nor inliers."""
        d = self.decision_function(X)
        return np.where(np.isnan(d), UNSCORABLE, np.where(d >= 0, 1, -1))

    def scorable(self, X):
        """True for the rows that get a score (at least one used feature observed)."""
        return ~np.isnan(self.score_samples(X))

    def component(self, X):
        """Most likely component of every row given its observed features
        (-1 for rows with every used feature missing)."""
        check_is_fitted(self, "mixture_")
        X = self._check(X, reset=False)
        return self._component(self._standardise(X))

    def _component(self, Z):
        out = np.full(Z.shape[0], -1)
        ok = ~np.isnan(Z).all(axis=1)
        if ok.any():
            out[ok] = self.mixture_.predict(Z[ok])
        return out

    def explain(self, X, top=3, feature_names=None):
        """Per-row conditional z-scores and text naming the ``top`` unusual features.

        Returns ``(z, text)``: ``z`` has shape (n, n_features) with 0 for ignored
        (constant) features; ``text`` is a list of strings such as
        ``"area=+5.1 height=-3.2"``. For a row with missing features the z-scores
        are conditional on the other *observed* features only, missing features
        get NaN and are never named; a row with every used feature missing gets
        NaN z-scores and an empty text.
        """
        check_is_fitted(self, "mixture_")
        X = self._check(X, reset=False)
        if feature_names is None:
            names = getattr(self, "feature_names_in_", None)
            feature_names = ([str(n) for n in names] if names is not None
                             else [f"x{j}" for j in range(X.shape[1])])
        z = np.full(X.shape, np.nan)
        text = [""] * X.shape[0]
        Zall = self._standardise(X)
        ok = np.flatnonzero(~np.isnan(Zall).all(axis=1))
        if ok.size:
            Z = Zall[ok]
            labels = self.mixture_.predict(Z)
            if np.isnan(Z).any():
                from .calibrate import observed_conditional_zscores

                zu = observed_conditional_zscores(self.mixture_, Z, labels)
            else:
                zu = conditional_zscores(self.mixture_, Z, labels)
            zz = np.zeros((ok.size, X.shape[1]))
            zz[:, self.used_features_] = zu
            z[ok] = zz
            used_names = [n for n, u in zip(feature_names, self.used_features_) if u]
            for i, t in zip(ok, explain_rows(zu, used_names, top)):
                text[i] = t
        return z, text

    def use_feature_names(self, names):
        """Name the features of a detector that has no names (a wrapped plain mixture);
        returns self. Raises DataError when the count differs from ``n_features_in_``."""
        names = [str(n) for n in names]
        if len(names) != self.n_features_in_:
            raise DataError(f"the model expects {self.n_features_in_} features; got {len(names)} "
                            f"({', '.join(names)})")
        self.feature_names_in_ = np.asarray(names, dtype=object)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # ------------------------------------------------------------ files
    def save(self, path, *, overwrite=True):
        """Write the fitted detector (robust scaling, mixture, threshold) as a gmmkit model file."""
        from gmmkit.io import save_arrays

        check_is_fitted(self, "mixture_")
        gm = self.mixture_
        params = {k: v for k, v in self.get_params(deep=False).items()
                  if k != "random_state" or isinstance(v, (int, type(None)))}
        names = getattr(self, "feature_names_in_", None)
        meta = {
            "kind": KIND,
            "params": params,
            "covariance_type": gm.covariance_type,
            "n_components": int(gm.n_components),
            "offset": float(self.offset_),
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": [str(n) for n in names] if names is not None else None,
            "n_kept": int(self.n_kept_),
            "dropped_components": int(self.dropped_components_),
            "reg_covar": float(gm.reg_covar),
        }
        arrays = {
            "center": self.center_, "scale": self.scale_,
            "used_features": self.used_features_.astype(np.uint8),
            "weights": gm.weights_, "means": gm.means_, "covariances": gm.covariances_,
            "precisions_cholesky": gm.precisions_cholesky_,
        }
        save_arrays(path, arrays, meta, overwrite=overwrite)


def load_detector(path):
    """Read a detector written by :meth:`GMMOutlierDetector.save`.

    Raises :class:`gmmkit.exceptions.ModelFileError` for a file that is not one.
    """
    from gmmkit import GaussianMixture
    from gmmkit.io import load_arrays

    arrays, meta = load_arrays(path, kind=KIND)
    try:
        det = GMMOutlierDetector(**dict(meta["params"]))
        cov_type = meta["covariance_type"]
        K = int(meta["n_components"])
        D = int(meta["n_features_in"])
        used = arrays["used_features"].astype(bool)
        offset = float(meta["offset"])
        reg_covar = float(meta["reg_covar"])
        weights, means = arrays["weights"].astype(np.float64), arrays["means"].astype(np.float64)
    except (KeyError, TypeError, ValueError, GMMKitError) as exc:
        raise ModelFileError(f"{path}: outlier model metadata is incomplete or invalid ({exc})") from None
    if (means.shape != (K, int(used.sum())) or weights.shape != (K,) or used.shape != (D,)
            or arrays["center"].shape != (D,) or arrays["scale"].shape != (D,)):
        raise ModelFileError(f"{path}: outlier model arrays have inconsistent shapes")
    for name, arr in arrays.items():
        if not np.all(np.isfinite(arr)):
            raise ModelFileError(f"{path}: '{name}' holds NaN or infinity")
    try:
        det.mixture_ = GaussianMixture.from_parameters(
            weights, means, arrays["covariances"].astype(np.float64), covariance_type=cov_type,
            reg_covar=reg_covar)
    except (GMMKitError, ValueError) as exc:
        raise ModelFileError(f"{path}: invalid mixture ({' '.join(str(exc).split())})") from None
    det.center_ = arrays["center"].astype(np.float64)
    det.scale_ = arrays["scale"].astype(np.float64)
    det.used_features_ = used
    det.offset_ = offset
    det.n_features_in_ = D
    if meta.get("feature_names_in"):
        det.feature_names_in_ = np.asarray(meta["feature_names_in"], dtype=object)
    det.n_kept_ = int(meta.get("n_kept", 0))
    det.dropped_components_ = int(meta.get("dropped_components", 0))
    return det


def from_mixture(gm, *, offset=None, feature_names=None):
    """Wrap a plain fitted :class:`gmmkit.GaussianMixture` (no scaling) as a detector.

    ``offset`` (log-density threshold) can be set later from data with
    :meth:`GMMOutlierDetector.calibrate`; ``feature_names`` default to the
    mixture's own (``feature_names_in_``), if any. ``gm`` is not modified.
    """
    import copy

    D = int(gm.n_features_in_)
    det = GMMOutlierDetector(n_components=int(gm.n_components), covariance_type=gm.covariance_type)
    names = getattr(gm, "feature_names_in_", None)
    if names is not None:  # the detector checks names; its mixture sees arrays
        gm = copy.deepcopy(gm)
        del gm.feature_names_in_
    det.mixture_ = gm
    det.center_ = np.zeros(D)
    det.scale_ = np.ones(D)
    det.used_features_ = np.ones(D, dtype=bool)
    det.n_features_in_ = D
    names = names if feature_names is None else feature_names
    if names is not None:
        det.use_feature_names(names)
    det.offset_ = np.nan if offset is None else float(offset)
    det.n_kept_ = 0
    det.dropped_components_ = 0
    return det


def load_model(path):
    """A detector from a file: one saved by :meth:`GMMOutlierDetector.save`, or a plain
    :class:`gmmkit.GaussianMixture` model file (wrapped by :func:`from_mixture`, not yet
    calibrated: see :meth:`GMMOutlierDetector.calibrate`)."""
    import gmmkit
    from gmmkit.io import load_arrays

    _, meta = load_arrays(path)
    kind = meta.get("kind")
    if kind == KIND:
        return load_detector(path)
    if kind == "GaussianMixture":
        return from_mixture(gmmkit.load(path))
    raise ModelFileError(f"{path} holds a {kind!r}, not an outlier detector or GaussianMixture")
