"""``GaussianMixtureClassifier``: discriminant analysis with Gaussian mixtures, as mclust's
``MclustDA`` (Fraley and Raftery 2002).

- ``model_type="MclustDA"``: one mixture per class, its number of components and its
  covariance model chosen by BIC within the class (:func:`gmmkit.select`; by default
  K = 1..5 over mclust's 14 models, mclust's default grid);
- ``model_type="EDDA"``: one Gaussian per class and one covariance model for all of them
  (Bensmail and Celeux 1996; EEE is linear, VVV quadratic discriminant analysis), the
  model chosen by BIC of the mixture of the classes (mclust's ``bic(..., equalPro = TRUE)``:
  the class proportions are not counted as parameters).

A row x goes to the class c maximising log P(c) + log f_c(x); a *sequence* of rows (the
frames of an utterance) to the class maximising log P(c) + sum_t log f_c(x_t)
(:meth:`~GaussianMixtureClassifier.predict_sequences`, bag-of-frames classification).
Class priors P(c) are the training proportions (mclust's ``prop``), uniform, or given.

>>> import numpy as np
>>> from gmmkit.classifier import GaussianMixtureClassifier
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(4, 1, (60, 2))])
>>> y = np.repeat(["a", "b"], 60)
>>> clf = GaussianMixtureClassifier(n_components=range(1, 3), covariance_types="sklearn",
...                                 random_state=0).fit(X, y)
>>> clf.predict([[0.2, -0.1], [4.1, 3.8]]).tolist(), round(clf.score(X, y), 2)
(['a', 'b'], 0.99)
>>> clf.predict_sequences([rng.normal(4, 1, (5, 2))]).tolist()
['b']
"""
from __future__ import annotations

import math
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .exceptions import DataError, GMMKitError, ParameterError

__all__ = ["GaussianMixtureClassifier", "MODEL_TYPES", "check_sequences"]

MODEL_TYPES = ("MclustDA", "EDDA")
DEFAULT_K = range(1, 6)
"""MclustDA's default grid of components per class (mclust: ``G = 1:5``)."""


def check_sequences(X, n_features=None):
    """A list of (n_frames_i, D) float arrays from a list of sequences (or one 2-D array);
    DataError names the first bad sequence (empty, not 2-D, other D, NaN or infinite)."""
    if isinstance(X, np.ndarray) and X.ndim == 2:
        X = [X]
    seqs = [x if isinstance(x, np.ndarray) and x.dtype in (np.float32, np.float64)
            else np.asarray(x, dtype=np.float64) for x in X]
    if not seqs:
        raise DataError("no sequences given")
    n_features = seqs[0].shape[-1] if n_features is None else n_features
    for i, s in enumerate(seqs):
        if s.ndim != 2 or s.shape[0] == 0:
            raise DataError(f"sequence {i}: expected a non-empty 2-D array of frames, got shape {s.shape}")
        if s.shape[1] != n_features:
            raise DataError(f"sequence {i}: {s.shape[1]} features, the model expects {n_features}")
        if not np.all(np.isfinite(s)):
            raise DataError(f"sequence {i}: NaN or infinite values")
    return seqs


def _log_normalise(s):
    mx = s.max(axis=1, keepdims=True)
    return s - (mx + np.log(np.exp(s - mx).sum(axis=1, keepdims=True)))


def class_mstep(X, labels, n_classes, cov_type, reg_covar=0.0):
    """mclust's ``mstep(X, modelName, z = unmap(class))``: weights (class proportions),
    means and covariances (in ``cov_type``'s layout) of one Gaussian per class, the
    covariance model constraining them jointly (EEE: one pooled matrix)."""
    from ._covariance import covariance_type

    entry = covariance_type(cov_type)
    X = np.asarray(X, dtype=np.float64)
    shift = X.mean(axis=0)
    nk = np.bincount(labels, minlength=n_classes).astype(np.float64)
    if np.any(nk == 0):
        raise DataError(f"class {int(np.argmin(nk))} has no rows")
    sx = np.zeros((n_classes, X.shape[1]))
    sxx = np.zeros(entry.stats_shape(n_classes, X.shape[1]))
    for c in range(n_classes):
        Xc = X[labels == c] - shift
        sx[c], sxx[c] = Xc.sum(axis=0), entry.second_moments(Xc, np.ones(len(Xc)))
    means = sx / nk[:, None]
    cov = entry.from_stats(nk, means, sxx, nk.sum(), reg_covar)
    return nk / nk.sum(), means + shift, cov


class GaussianMixtureClassifier(ClassifierMixin, BaseEstimator):
    """Gaussian-mixture discriminant analysis (mclust's MclustDA and EDDA).

    Parameters
    ----------
    n_components : int, iterable of int or None
        Components per class; several values are chosen among by ``criterion`` within each
        class. None: 1..5 (MclustDA), 1 (EDDA, which takes only 1).
    covariance_types : str or iterable of str, default "all"
        Covariance models to choose among: a name (``"VVV"``, ``"diag"``), a comma-free
        list, or a named grid of :data:`gmmkit.selection.NAMED_TYPES` ("all" = mclust's 14).
    model_type : {"MclustDA", "EDDA"}
    priors : None, "uniform" or array-like of shape (n_classes,)
        Class priors: None, the training proportions (mclust's default); "uniform"; or
        given (in ``classes_`` order, normalised).
    criterion : {"bic", "aic", "icl"}, MclustDA's per-class choice (EDDA uses BIC).
    min_rows_per_component : int, default 1
        A class with n rows gets at most ``max(1, n // min_rows_per_component)`` components.
    reg_covar, tol, max_iter, n_init, init_params, random_state
        Passed to every :class:`gmmkit.GaussianMixture` (EDDA: ``reg_covar`` only; 0 gives
        mclust's estimates exactly).

    Attributes
    ----------
    classes_ : ndarray
    models_ : list of fitted :class:`gmmkit.GaussianMixture`, one per class
    log_prior_ : ndarray (n_classes,)
    class_models_ : list of dict
        Per class: ``n_components``, ``covariance_type``, ``bic_mclust`` (2 log L - p log n
        of the class's mixture; EDDA: of the joint model) and ``n_rows``.
    bic_table_ : dict (EDDA only)
        Model name -> BIC in mclust's sign (NaN: not estimable; ``edda_errors_`` says why).
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), "array-like", None],
        "covariance_types": [str, list, tuple],
        "model_type": [StrOptions(set(MODEL_TYPES))],
        "priors": [StrOptions({"uniform"}), "array-like", None],
        "criterion": [StrOptions({"bic", "aic", "icl"})],
        "min_rows_per_component": [Interval(Integral, 1, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions({"kmeans", "k-means++", "random", "random_from_data", "hc"})],
        "random_state": ["random_state"],
    }

    def __init__(self, n_components=None, *, covariance_types="all", model_type="MclustDA", priors=None,
                 criterion="bic", min_rows_per_component=1, reg_covar=1e-6, tol=1e-3, max_iter=100,
                 n_init=1, init_params="kmeans", random_state=None):
        self.n_components = n_components
        self.covariance_types = covariance_types
        self.model_type = model_type
        self.priors = priors
        self.criterion = criterion
        self.min_rows_per_component = min_rows_per_component
        self.reg_covar = reg_covar
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state

    # ------------------------------------------------------------ fitting
    def fit(self, X, y):
        """Fit one mixture per class (MclustDA) or one Gaussian per class (EDDA). Returns self."""
        from .selection import covariance_grid

        self._validate_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_, idx, counts = np.unique(y, return_inverse=True, return_counts=True)
        if len(self.classes_) < 2:
            raise DataError(f"need at least two classes to classify; y has {len(self.classes_)} class")
        types = covariance_grid(self.covariance_types)
        ks = self._grid()
        self.log_prior_ = self._log_prior(counts)
        if self.model_type == "EDDA":
            self._fit_edda(X, idx, types)
        else:
            rng = check_random_state(self.random_state)
            fixed = isinstance(self.random_state, Integral)
            self.models_, self.class_models_ = [], []
            for c, label in enumerate(self.classes_):
                seed = int(self.random_state) if fixed else int(rng.randint(np.iinfo(np.int32).max))
                gm, info = self._fit_class(X[idx == c], ks, types, seed, label)
                self.models_.append(gm)
                self.class_models_.append(info)
            self.n_iter_ = max(int(m.n_iter_) for m in self.models_)
        return self

    def _grid(self):
        k = self.n_components
        if k is None:
            return [1] if self.model_type == "EDDA" else list(DEFAULT_K)
        ks = sorted({int(v) for v in np.atleast_1d(k)})
        if not ks or ks[0] < 1:
            raise ParameterError(f"n_components={k!r}: give positive integers")
        if self.model_type == "EDDA" and ks != [1]:
            raise ParameterError("EDDA fits one Gaussian per class: n_components must be 1 (or None)")
        return ks

    def _log_prior(self, counts):
        if self.priors is None:
            prior = counts / counts.sum()
        elif isinstance(self.priors, str):  # "uniform" (the constraint refused anything else)
            prior = np.full(len(counts), 1.0 / len(counts))
        else:
            prior = np.asarray(self.priors, dtype=np.float64)
            if prior.shape != counts.shape or not np.all(np.isfinite(prior)) or np.any(prior <= 0):
                raise ParameterError(f"priors must be {len(counts)} positive numbers (one per class, "
                                     f"in classes_ order); got shape {prior.shape}")
            prior = prior / prior.sum()
        return np.log(prior)

    def _estimator_params(self):
        return {"reg_covar": self.reg_covar, "tol": self.tol, "max_iter": self.max_iter,
                "init_params": self.init_params}

    def _fit_class(self, Xc, ks, types, seed, label):
        """The mixture of one class: fitted directly for one candidate, else chosen by select."""
        from . import select
        from .mixture import GaussianMixture

        n = Xc.shape[0]
        cap = max(1, n // self.min_rows_per_component)
        ks = sorted({min(k, cap, n) for k in ks})
        try:
            if len(ks) == 1 and len(types) == 1:
                gm = GaussianMixture(ks[0], covariance_type=types[0], n_init=self.n_init, random_state=seed,
                                     **self._estimator_params()).fit(Xc)
                return gm, {"n_components": ks[0], "covariance_type": types[0], "bic_mclust": float(-gm.bic(Xc)),
                            "n_rows": n}
            res = select(Xc, n_components=ks, covariance_types=types, criterion=self.criterion,
                         n_init=self.n_init, random_state=seed, **self._estimator_params())
        except GMMKitError as exc:
            raise DataError(f"class '{label}' ({n} rows): {exc}") from None
        best = res.table[res.table["selected"]].iloc[0]
        return res.best_model_, {"n_components": int(best["n_components"]),
                                 "covariance_type": str(best["covariance_type"]),
                                 "bic_mclust": float(best["bic_mclust"]), "n_rows": n}

    def _fit_edda(self, X, idx, types):
        """mclust's EDDA: every model's M-step on the class labels, the best by BIC."""
        from ._covariance import FactorError, covariance_type
        from .mixture import GaussianMixture

        C, (n, D) = len(self.classes_), X.shape
        self.bic_table_, self.edda_errors_, best = {}, {}, None
        for name in types:
            try:
                with np.errstate(all="ignore"):
                    w, means, cov = class_mstep(X, idx, C, name, self.reg_covar)
                    mix = GaussianMixture.from_parameters(w, means, cov, covariance_type=name)
                    loglik = float(mix.score_samples(X.astype(np.float64)).sum())
            except (FactorError, np.linalg.LinAlgError, ValueError, ArithmeticError) as exc:
                self.bic_table_[name] = math.nan
                self.edda_errors_[name] = " ".join(str(exc).split()) or type(exc).__name__
                continue
            # mclust: bic(..., equalPro = TRUE), the class proportions are not parameters
            p = covariance_type(name).n_parameters(C, D) + C * D
            bic = 2 * loglik - p * math.log(n)
            self.bic_table_[name] = float(bic) if np.isfinite(bic) else math.nan
            if np.isfinite(bic) and (best is None or bic > best[0]):
                best = (bic, name, mix)
        if best is None:
            raise DataError(f"no EDDA model could be estimated: {next(iter(self.edda_errors_.values()))}")
        bic, name, mix = best
        covs = covariance_type(name).full(mix.covariances_, C, D)
        self.covariance_type_, self.n_iter_ = name, 1  # one M-step
        self.models_ = [GaussianMixture.from_parameters([1.0], mix.means_[c:c + 1], covs[c:c + 1],
                                                        covariance_type="full", reg_covar=self.reg_covar)
                        for c in range(C)]
        counts = np.bincount(idx, minlength=C)
        self.class_models_ = [{"n_components": 1, "covariance_type": name, "bic_mclust": float(bic),
                               "n_rows": int(counts[c])} for c in range(C)]

    @classmethod
    def from_models(cls, classes, models, priors, **params):
        """A fitted classifier from one fitted mixture per class and the class priors."""
        classes, priors = np.asarray(classes), np.asarray(priors, dtype=np.float64)
        if len(models) != len(classes) or priors.shape != (len(classes),) or np.any(~(priors > 0)):
            raise ParameterError(f"{len(classes)} classes need as many models and positive priors; "
                                 f"got {len(models)} models and priors of shape {priors.shape}")
        D = {int(m.n_features_in_) for m in models}
        if len(D) != 1:
            raise ParameterError(f"the class models have different numbers of features: {sorted(D)}")
        clf = cls(**params)
        clf.classes_, clf.models_ = classes, list(models)
        clf.log_prior_ = np.log(priors / priors.sum())
        clf.n_features_in_ = D.pop()
        clf.class_models_ = [{"n_components": int(m.n_components), "covariance_type": m.covariance_type,
                              "bic_mclust": math.nan, "n_rows": 0} for m in models]
        return clf

    # ------------------------------------------------------------ rows
    def _check(self, X):
        check_is_fitted(self, "models_")
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    def _class_log_likelihoods(self, X):
        """(n, n_classes) log f_c(x) of every row under every class's mixture."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.column_stack([m.score_samples(X).astype(np.float64) for m in self.models_])

    def predict_joint_log_proba(self, X):
        """log P(c) + log f_c(x), shape (n_samples, n_classes)."""
        return self._class_log_likelihoods(self._check(X)) + self.log_prior_

    def predict_log_proba(self, X):
        """log P(c | x), shape (n_samples, n_classes)."""
        return _log_normalise(self.predict_joint_log_proba(X))

    def predict_proba(self, X):
        """P(c | x), shape (n_samples, n_classes); rows sum to 1."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Most probable class of every row."""
        best = np.argmax(self.predict_joint_log_proba(X), axis=1)
        return self.classes_[best]

    # ------------------------------------------------------------ sequences
    def sequence_scores(self, sequences):
        """log P(c) + sum over frames of log f_c(x_t): (n_sequences, n_classes), summed in
        float64 (the frames are scored in their own dtype, float32 or float64)."""
        check_is_fitted(self, "models_")
        seqs = check_sequences(sequences, self.n_features_in_)
        lengths = np.array([len(s) for s in seqs])
        dtype = np.float32 if all(s.dtype == np.float32 for s in seqs) else np.float64
        frames = np.concatenate([s.astype(dtype, copy=False) for s in seqs])
        seq = np.repeat(np.arange(len(seqs)), lengths)
        ll = self._class_log_likelihoods(frames)
        out = np.column_stack([np.bincount(seq, weights=ll[:, j], minlength=len(seqs))
                               for j in range(ll.shape[1])])
        return out + self.log_prior_

    def predict_log_proba_sequences(self, sequences):
        """log P(c | sequence), shape (n_sequences, n_classes)."""
        return _log_normalise(self.sequence_scores(sequences))

    def predict_proba_sequences(self, sequences):
        """P(c | sequence) of every sequence of frames; rows sum to 1."""
        return np.exp(self.predict_log_proba_sequences(sequences))

    def predict_sequences(self, sequences):
        """Most probable class of every sequence of frames (bag of frames)."""
        best = np.argmax(self.sequence_scores(sequences), axis=1)
        return self.classes_[best]


def _refit_chosen(clf, X, y, priors):
    """``clf``'s chosen models (each class's K and covariance model; EDDA's model) refitted
    on X, y, as cvMclustDA refits them on every training fold."""
    from sklearn.base import clone

    from .mixture import GaussianMixture

    if clf.model_type == "EDDA":
        return clone(clf).set_params(covariance_types=clf.covariance_type_, priors=priors).fit(X, y)
    models = [GaussianMixture(info["n_components"], covariance_type=info["covariance_type"], n_init=clf.n_init,
                              random_state=clf.random_state, **clf._estimator_params()).fit(X[y == c])
              for c, info in zip(clf.classes_, clf.class_models_)]
    params = {k: v for k, v in clf.get_params().items() if k != "priors"}
    return GaussianMixtureClassifier.from_models(clf.classes_, models, priors, **params)


def cross_val_error(clf, X, y, folds):
    """mclust's ``cvMclustDA``: classification error and its standard error over ``folds``
    (one fold number per row). A fitted ``clf`` keeps its chosen models (each class's K and
    covariance model, as cvMclustDA), refitted on the other rows; an unfitted one is fitted
    (and chooses) on each. Class priors: the whole data's proportions (cvMclustDA's
    ``prop = object$prop``).

    Returns ``(error, standard_error, predicted labels)``."""
    from sklearn.base import clone

    X, y, folds = np.asarray(X), np.asarray(y), np.asarray(folds)
    if folds.shape != y.shape:
        raise ParameterError(f"folds must give one fold number per row: {folds.shape} for {y.shape[0]} rows")
    classes, counts = np.unique(y, return_counts=True)
    priors = counts / counts.sum()
    fitted = hasattr(clf, "class_models_")
    pred = np.empty(len(y), dtype=y.dtype)
    errors, sizes = [], []
    for f in np.unique(folds):
        test = folds == f
        if fitted:
            model = _refit_chosen(clf, X[~test], y[~test], priors)
        else:
            model = clone(clf).set_params(priors=priors).fit(X[~test], y[~test])
        pred[test] = model.predict(X[test])
        errors.append(np.mean(pred[test] != y[test]))
        sizes.append(test.sum())
    errors, sizes = np.asarray(errors), np.asarray(sizes, dtype=np.float64)
    cv = float(errors @ sizes / sizes.sum())
    nfold = len(sizes)
    se = math.sqrt(float(((errors - cv) ** 2 @ sizes) / (sizes.sum() * (nfold - 1) / nfold)) / nfold)
    return cv, se, pred
