"""``GMMOutlierDetector``: low density under a robustly fitted mixture means anomaly.

The detector follows scikit-learn's outlier-detector conventions (those of
:class:`sklearn.ensemble.IsolationForest`): ``score_samples`` is higher for
normal rows (here: the log-density, in the units of the input), ``offset_`` is
the log-density below which a row is an outlier, ``decision_function`` is
``score_samples - offset_`` and ``predict`` returns +1 (inlier) or -1 (outlier),
or ``UNSCORABLE`` (0) for a row that cannot be scored. A loaded detector or a
plain mixture gets its threshold from :meth:`GMMOutlierDetector.calibrate`.

The density (:mod:`~gmmkit_apps.outliers.mixed`): each component is a Gaussian on
the continuous features times level probabilities on the discrete ones.

1. Features are centred on their median and scaled by their inter-quartile range
   (robust to the outliers themselves); constant features are ignored. Features
   with at most ``max_levels`` distinct values (by default: binary flags) are
   *categorical parts* of every component; features on a few more levels (codes,
   small counts) stay in the Gaussian part with the variance of rounding
   (``spacing**2 / 12``) added, so that their spikes cannot dominate.
2. Masking-resistant fitting (:mod:`~gmmkit_apps.outliers.robust`): K by BIC up
   to ``max_components``, components lighter than ``min_component_weight`` dropped,
   then trimmed EM: the ``trim_fraction`` least likely rows are set aside and the
   mixture refitted, ``n_rounds`` times. Covariances are shrunk towards their
   diagonal in proportion to features per row (``shrinkage``), and inflated
   afterwards by the trimming consistency factor so that log-densities stay
   calibrated.
3. EM starts deterministically: the fitted model does not depend on the seed
   (which only draws the ``max_fit_rows`` sample).

Missing values (NaN): a missing discrete cell is left out of its row's likelihood;
with missing continuous cells the Gaussian part is fitted by gmmkit's exact EM with
missing values (:mod:`~gmmkit_apps.outliers.robust_missing`). A row with
missing continuous cells is scored on its observed features, put on the complete
rows' scale per component by a chi-square calibration
(:mod:`gmmkit_apps.outliers.calibrate`); a row with every used feature missing has
no score (NaN): it is *unscorable*, neither an outlier nor an inlier (``predict``
gives 0).

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

from gmmkit.exceptions import DataError, GMMKitError, GMMKitWarning, ParameterError

from .explain import (  # noqa: F401  (conditional_zscores, precision_matrices: public helpers)
    conditional_zscores,
    explain_detector,
    precision_matrices,
)
from .features import CONSTANT, CONTINUOUS, discrete_levels, encode, feature_kinds, rounding_variances
from .mixed import _logsumexp
from .scaling import (  # noqa: F401  (public helpers, imported from here by users)
    constant_columns,
    inflate_for_trimming,
    robust_scale,
    submixture,
    trimming_factor,
)

KIND = "GMMOutlierDetector"
#: what :meth:`GMMOutlierDetector.predict` returns for a row it cannot score
UNSCORABLE = 0


class IgnoredFeatureWarning(GMMKitWarning):
    """Some features are constant in the training data and take no part in the density."""


class GMMOutlierDetector(OutlierMixin, BaseEstimator):
    """Outlier detector: log-density under a robustly fitted mixture (module docstring).

    Parameters
    ----------
    n_components : int or "bic", default="bic"
        Number of components, or "bic" to choose it in ``1..max_components``.
    max_components : int, default=1
        Largest K tried by BIC. 1 was best on the benchmark collection
        (docs/outliers.md: K up to 2 lost 0.014 of mean AUC); raise it for data
        whose normal rows form well separated groups.
    covariance_type : {"full", "diag"}, default="full"
    contamination : float in (0, 0.5], default=0.01
        Expected fraction of outliers: ``offset_`` is this quantile of the
        training rows' log-densities. Ignored when ``threshold`` is given.
    threshold : float or None, default=None
        Log-density (in the units of X) below which a row is an outlier.
    trim_fraction : float in [0, 0.5), default=0.3
        Fraction of least likely rows left out of each trimmed refit.
    n_rounds : int, default=2
        Trimmed refits after the first fit (0: no trimming).
    min_component_weight : float in [0, 0.5), default=0.1
        Components lighter than this are not normal modes: dropped (masking guard).
    reg_covar : float, default=0.03
        Added to variances, in robustly standardised units.
    shrinkage : float, default=3.0
        Covariances move towards their diagonal by ``min(1, shrinkage * D / n_k)``.
    max_levels : int, default=2
        Features with at most this many distinct values are categorical parts.
    rounding_levels : int, default=10
        Gaussian features with at most this many distinct values get the rounding variance.
    alpha : float, default=0.5
        Pseudo-count added to every level of a categorical part (and to *unseen*).
    max_fit_rows : int or None, default=None
        Fit on a random subset of at most this many rows (scoring uses all).
    random_state : int or None, default=None
        Draws the ``max_fit_rows`` subset only: the fit itself is deterministic.

    Attributes
    ----------
    mixture_ : gmmkit.GaussianMixture or None
        The Gaussian part, in standardised units (``(X - center_) / scale_`` on the
        continuous features); None when every used feature is categorical.
    weights_ : ndarray (K,)
    cat_logp_ : list of ndarray (K, L_j + 1), log level probabilities (last: unseen)
    levels_ : list of ndarray, the levels of each categorical feature
    kinds_ : ndarray of str (n_features,): "continuous", "discrete" or "constant"
    center_, scale_ : ndarray (n_features,); used_features_ : bool (n_features,), False if constant
    offset_ : float; n_kept_ : int (rows in the final trimmed fit); dropped_components_ : int
    feature_names_in_ : ndarray of str, when fitted on a DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.decomposition import PCA
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(300, 5))
    >>> pipe = make_pipeline(PCA(3), GMMOutlierDetector(random_state=0))
    >>> pipe.fit(X).predict(X).shape
    (300,)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), StrOptions({"bic"})],
        "max_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions({"full", "diag"})],
        "contamination": [Interval(Real, 0.0, 0.5, closed="right")],
        "threshold": [Interval(Real, None, None, closed="neither"), None],
        "trim_fraction": [Interval(Real, 0.0, 0.5, closed="left")],
        "n_rounds": [Interval(Integral, 0, None, closed="left")],
        "min_component_weight": [Interval(Real, 0.0, 0.5, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="neither")],
        "shrinkage": [Interval(Real, 0.0, None, closed="left")],
        "max_levels": [Interval(Integral, 1, None, closed="left")],
        "rounding_levels": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0.0, None, closed="neither")],
        "max_fit_rows": [Interval(Integral, 2, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(self, n_components="bic", *, max_components=1, covariance_type="full",
                 contamination=0.01, threshold=None, trim_fraction=0.3, n_rounds=2,
                 min_component_weight=0.1, reg_covar=0.03, shrinkage=3.0, max_levels=2,
                 rounding_levels=10, alpha=0.5, max_fit_rows=None, random_state=None):
        self.n_components = n_components
        self.max_components = max_components
        self.covariance_type = covariance_type
        self.contamination = contamination
        self.threshold = threshold
        self.trim_fraction = trim_fraction
        self.n_rounds = n_rounds
        self.min_component_weight = min_component_weight
        self.reg_covar = reg_covar
        self.shrinkage = shrinkage
        self.max_levels = max_levels
        self.rounding_levels = rounding_levels
        self.alpha = alpha
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

    @property
    def continuous_(self):  # mask of the features in the Gaussian part
        return self.kinds_ == CONTINUOUS

    def _standardise(self, X):
        c = self.continuous_
        return (X[:, c] - self.center_[c]) / self.scale_[c]

    def _codes(self, X):
        return encode(X, self.kinds_, self.levels_)

    @property
    def _log_jacobian(self):
        # density of X = density of Z times |dZ/dX| = prod(1 / scale) over the Gaussian part
        return -float(np.sum(np.log(self.scale_[self.continuous_])))

    @property
    def n_components_(self):
        return int(self.weights_.shape[0])

    def _seed(self):
        rs = self.random_state
        if rs is None:
            return int(np.random.default_rng().integers(2**31 - 1))
        if isinstance(rs, (int, np.integer)):
            return int(rs)
        return int(rs.randint(2**31 - 1)) if hasattr(rs, "randint") else int(rs.integers(2**31 - 1))

    def _warn_ignored(self):
        ignored = np.flatnonzero(self.kinds_ == CONSTANT)
        if ignored.size:
            names = getattr(self, "feature_names_in_", None)
            show = (lambda j: str(names[j])) if names is not None else str
            warnings.warn(f"feature(s) ignored (constant: {', '.join(show(j) for j in ignored)})",
                          IgnoredFeatureWarning, stacklevel=3)

    # ------------------------------------------------------------ API
    def fit(self, X, y=None):
        """Fit the robust mixture on X (rows are samples); ``y`` is ignored. Returns self."""
        from sklearn.utils._param_validation import InvalidParameterError

        from .robust import fit_robust
        from .robust_missing import fit_robust_missing

        try:
            self._validate_params()
        except InvalidParameterError as exc:
            raise ParameterError(" ".join(str(exc).split())) from None
        X = self._check(X, reset=True)
        rng = np.random.default_rng(self._seed())
        if self.max_fit_rows is not None and X.shape[0] > self.max_fit_rows:
            X = X[np.sort(rng.choice(X.shape[0], self.max_fit_rows, replace=False))]
        self.center_, self.scale_, used = robust_scale(X)
        kinds = feature_kinds(X, self.max_levels)
        kinds[~used] = CONSTANT
        if (kinds == CONSTANT).all():
            raise DataError("every feature is constant: there is nothing to score")
        self.kinds_ = kinds
        self.used_features_ = kinds != CONSTANT
        self._warn_ignored()
        self.levels_ = discrete_levels(X, kinds)
        Z, codes = self._standardise(X), self._codes(X)
        # rows with a continuous value (or, without continuous features, a categorical one)
        fit_rows = ~np.isnan(Z).all(axis=1) if Z.shape[1] else ~(codes < 0).all(axis=1)
        if fit_rows.sum() < 2:
            raise DataError("fewer than 2 rows have a value in the continuous features: nothing to fit on")
        Zf = Z[fit_rows]
        rounding = rounding_variances(X[fit_rows][:, self.continuous_], self.scale_[self.continuous_],
                                      self.rounding_levels)
        fit = fit_robust_missing if np.isnan(Zf).any() else fit_robust
        fit = fit(
            Zf, codes[fit_rows], [lv.size for lv in self.levels_],
            n_components=None if self.n_components == "bic" else self.n_components,
            max_components=self.max_components, trim_fraction=self.trim_fraction,
            n_rounds=self.n_rounds, min_component_weight=self.min_component_weight,
            covariance_type=self.covariance_type, reg_covar=self.reg_covar,
            shrinkage=self.shrinkage, rounding=rounding, alpha=self.alpha)
        self._set_model(fit.params, trimming_factor(fit.alpha, Zf.shape[1]))
        self.n_kept_ = int(fit.kept.sum())
        self.dropped_components_ = int(fit.dropped_components)
        self.n_rounds_ = int(fit.n_rounds)
        self._set_offset(self._score_checked(X), self.contamination, self.threshold)
        return self

    def _set_model(self, p, factor=1.0):
        from gmmkit import GaussianMixture

        self.weights_ = np.asarray(p.weights, dtype=np.float64)
        self.cat_logp_ = [np.asarray(t, dtype=np.float64) for t in p.cat_logp]
        self.mixture_ = None
        if p.means.shape[1]:
            self.mixture_ = GaussianMixture.from_parameters(
                self.weights_, p.means, np.asarray(p.covariances) / factor,
                covariance_type=p.covariance_type, reg_covar=self.reg_covar)

    def calibrate(self, X=None, *, contamination=None, threshold=None):
        """Set the threshold ``offset_`` (a fitted or loaded detector); returns self.

        ``threshold``: a log-density, used as it is. Otherwise ``contamination``
        (default: the ``contamination`` parameter): that fraction of the rows of
        ``X`` that can be scored fall below the threshold (unscorable rows do not
        count). This is how a saved detector or a plain mixture is put to work on
        new data (``gmmkit outliers --model``).

        >>> X = np.random.default_rng(0).normal(size=(1000, 2))
        >>> det = GMMOutlierDetector(random_state=0).fit(X)
        >>> float((det.calibrate(X, contamination=0.1).predict(X) == -1).mean())
        0.1
        >>> det.calibrate(threshold=-5.0).offset_
        -5.0
        """
        check_is_fitted(self, "weights_")
        if contamination is not None and threshold is not None:
            raise ParameterError("give contamination or threshold, not both")
        if contamination is not None and not 0 < contamination <= 0.5:
            raise ParameterError(f"contamination must be in (0, 0.5], got {contamination}")
        if threshold is not None and not math.isfinite(threshold):
            raise ParameterError(f"threshold must be a finite log-density, got {threshold}")
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

        Rows with missing continuous cells get the chi-square-calibrated score of
        their observed features (:mod:`gmmkit_apps.outliers.calibrate`); rows with
        every used feature missing get NaN.
        """
        check_is_fitted(self, "weights_")
        X = self._check(X, reset=False)
        return self._score_checked(X)

    def _terms(self, X):
        """``log w_k + log p_k(x)`` per row and component (n, K); NaN rows: nothing observed."""
        from .calibrate import calibrated_component_terms, covariance_matrices
        from .mixed import MixedParams, categorical_terms, gaussian_terms

        Z, codes, n = self._standardise(X), self._codes(X), X.shape[0]
        with np.errstate(divide="ignore"):
            out = np.tile(np.log(self.weights_), (n, 1))
        nan = np.isnan(Z)
        if Z.shape[1]:
            full = ~nan.any(axis=1)
            if full.any():  # NumPy (BLAS) here: no kernel start-up for a command-line run
                gm = self.mixture_
                p = MixedParams(np.asarray(gm.weights_, dtype=np.float64), np.asarray(gm.means_),
                                covariance_matrices(gm), "full")
                out[full] = gaussian_terms(p, Z[full])
            part = ~full
            if part.any():
                out[part] = calibrated_component_terms(self.mixture_, Z[part], empty_rows=True)
        if self.cat_logp_:
            out += categorical_terms(MixedParams(self.weights_, None, None, "", self.cat_logp_), codes)
        nothing = (nan.all(axis=1) if Z.shape[1] else np.ones(n, bool)) & (codes < 0).all(axis=1)
        out[nothing] = np.nan
        return out

    def _score_checked(self, X):
        terms = self._terms(X)
        out = np.full(X.shape[0], np.nan)
        ok = ~np.isnan(terms).any(axis=1)
        if ok.any():
            lse = _logsumexp(terms[ok])
            gm = self.mixture_
            if gm is not None and gm.noise_weight_ > 0:  # a wrapped plain mixture with noise
                noise = math.log(gm.noise_weight_) - float(gm.noise_log_volume_)
                lse = np.logaddexp(lse, noise)
            out[ok] = lse + self._log_jacobian
        return out

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
        check_is_fitted(self, "weights_")
        return self._component(self._terms(self._check(X, reset=False)))

    @staticmethod
    def _component(terms):
        out = np.full(terms.shape[0], -1)
        ok = ~np.isnan(terms).any(axis=1)
        out[ok] = np.argmax(terms[ok], axis=1)
        return out

    def explain(self, X, top=3, feature_names=None):
        """Per-row z-scores and text naming the ``top`` unusual features.

        Returns ``(z, text)``: ``z`` has shape (n, n_features): conditional z-scores
        of the continuous features under the row's component
        (:func:`~gmmkit_apps.outliers.explain.conditional_zscores`, conditional on
        the *observed* ones for a row with missing cells), the z-score equivalent
        of each categorical value's probability
        (:func:`~gmmkit_apps.outliers.explain.discrete_zscores`), 0 for ignored
        (constant) features and NaN for missing ones (never named); ``text`` is a
        list of strings such as ``"area=+5.1 height=-3.2"`` (empty for a row with
        every used feature missing).
        """
        check_is_fitted(self, "weights_")
        X = self._check(X, reset=False)
        return explain_detector(self, X, self._component(self._terms(X)), top, feature_names)

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

    def save(self, path, *, overwrite=True):
        """Write the fitted detector as a gmmkit model file (:mod:`.model_file`)."""
        from .model_file import save_detector

        check_is_fitted(self, "weights_")
        save_detector(self, path, overwrite=overwrite)


def load_detector(path):
    """Read a detector written by :meth:`GMMOutlierDetector.save` (:mod:`.model_file`)."""
    from . import model_file

    return model_file.load_detector(path)


def from_mixture(gm, *, offset=None, feature_names=None):
    """A plain fitted :class:`gmmkit.GaussianMixture` as a detector (:mod:`.model_file`)."""
    from . import model_file

    return model_file.from_mixture(gm, offset=offset, feature_names=feature_names)


def load_model(path):
    """A saved detector or a plain GaussianMixture model file as a detector (:mod:`.model_file`)."""
    from . import model_file

    return model_file.load_model(path)
