"""``GMMClassifier``: one Gaussian mixture per class, for phonemes, words or any frame sequences.

Each sample is a variable-length sequence of feature frames (an utterance, a
phone segment). Class c gets its own :class:`gmmkit.GaussianMixture`; a
sequence's score for c is the sum of its frames' log-likelihoods under that
mixture plus log P(c), and the prediction is the arg-max.
``predict_proba`` normalises these scores over the classes. The work is done by the
core's :class:`gmmkit.classifier.GaussianMixtureClassifier` (mclust's MclustDA), with one
K and one covariance type for every class; this module adds the speech defaults
(float32 frames, one component per 10 frames at most) and the model file.

>>> import numpy as np
>>> from gmmkit_apps.speech.classifier import GMMClassifier
>>> rng = np.random.default_rng(0)
>>> seqs = [rng.normal(loc, 1.0, size=(20, 3)) for loc in (0, 0, 0, 4, 4, 4)]
>>> clf = GMMClassifier(n_components=2, random_state=0).fit(seqs, ["a"] * 3 + ["b"] * 3)
>>> clf.predict([rng.normal(4, 1.0, size=(10, 3))]).tolist()
['b']
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from gmmkit.classifier import GaussianMixtureClassifier, check_sequences
from gmmkit.exceptions import DataError, ModelFileError, ParameterError

__all__ = ["GMMClassifier", "CLASSIFIER_KIND"]

CLASSIFIER_KIND = "gmmkit-speech-classifier"


def _sequences(X, n_features=None):
    """Float64 frames of every sequence, checked (:func:`gmmkit.classifier.check_sequences`)."""
    seqs = check_sequences(X, n_features)
    return [np.asarray(s, dtype=np.float64) for s in seqs]


class GMMClassifier(ClassifierMixin, BaseEstimator):
    """One GMM per class; a sequence goes to the class of highest summed frame log-likelihood + log prior.

    A thin front to :class:`gmmkit.classifier.GaussianMixtureClassifier` with one K and
    one covariance type for every class (no selection), and sequence inputs everywhere.

    Parameters
    ----------
    n_components : int
        Components per class mixture (reduced to one per 10 frames for classes with few frames).
    covariance_type : str
        Passed to each :class:`gmmkit.GaussianMixture`; 'diag' by default.
    priors : 'empirical', 'uniform' or array-like
        Class priors: training-set frequencies of sequences, equal, or given (in ``classes_`` order).
    reg_covar, max_iter, n_init, random_state
        Passed to each mixture. Mixtures are fitted and evaluated in float32
        (MFCC frames need no more); sums over frames are accumulated in float64.

    Attributes
    ----------
    classes_ : ndarray of class labels
    models_ : list of fitted GaussianMixture, one per class
    log_prior_ : ndarray
    """

    def __init__(self, n_components=8, *, covariance_type="diag", priors="empirical",
                 reg_covar=1e-3, max_iter=100, n_init=1, random_state=None):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.priors = priors
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.random_state = random_state

    def _core_params(self):
        return {"covariance_types": self.covariance_type, "reg_covar": self.reg_covar}

    def fit(self, X, y):
        """Fit one mixture per class on the pooled frames of its sequences.

        Parameters
        ----------
        X : list of ndarray (n_frames_i, n_features)
        y : array-like of labels, one per sequence
        """
        seqs = _sequences(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(seqs):
            raise DataError(f"got {len(seqs)} sequences but {y.size} labels")
        if not isinstance(self.n_components, (int, np.integer)) or self.n_components < 1:
            raise ParameterError(f"n_components={self.n_components!r} must be a positive integer")
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2:
            raise DataError("need at least two classes")
        if isinstance(self.priors, str):
            if self.priors not in ("empirical", "uniform"):
                raise ParameterError(f"priors={self.priors!r}: use 'empirical', 'uniform' or an array")
            prior = counts / counts.sum() if self.priors == "empirical" else np.ones(len(counts))
        else:
            prior = np.asarray(self.priors, dtype=np.float64)
            if prior.shape != counts.shape or np.any(prior <= 0):
                raise ParameterError(f"priors must be {len(counts)} positive numbers (one per class)")
        frames = np.concatenate(seqs).astype(np.float32)  # MFCC frames need no more
        labels = np.repeat(y, [len(s) for s in seqs])
        self.core_ = GaussianMixtureClassifier(
            self.n_components, priors=prior, min_rows_per_component=10, max_iter=self.max_iter,
            n_init=self.n_init, random_state=self.random_state, **self._core_params()).fit(frames, labels)
        self._expose()
        return self

    def _expose(self):
        self.classes_, self.models_ = self.core_.classes_, self.core_.models_
        self.log_prior_, self.n_features_in_ = self.core_.log_prior_, self.core_.n_features_in_

    def _check_fitted(self):
        if not hasattr(self, "core_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("GMMClassifier is not fitted yet: call fit() first")

    def _frames(self, X):
        self._check_fitted()
        return [s.astype(np.float32) for s in _sequences(X, self.n_features_in_)]

    def decision_function(self, X):
        """Summed frame log-likelihood plus log prior, shape (n_sequences, n_classes)."""
        return self.core_.sequence_scores(self._frames(X))

    def predict_log_proba(self, X):
        """Log posterior over classes of each sequence."""
        return self.core_.predict_log_proba_sequences(self._frames(X))

    def predict_proba(self, X):
        """Posterior over classes of each sequence (rows sum to 1)."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Most probable class of each sequence."""
        return self.core_.predict_sequences(self._frames(X))

    # -- model files -------------------------------------------------------------------
    def save(self, path, *, overwrite=True, extra=None):
        """Write the classifier as a non-pickle model file (arrays + JSON metadata)."""
        from gmmkit.io import save_arrays

        self._check_fitted()
        arrays = {}
        comps = []
        for j, gm in enumerate(self.models_):
            arrays[f"w{j}"], arrays[f"m{j}"], arrays[f"c{j}"] = gm.weights_, gm.means_, gm.covariances_
            comps.append(int(gm.n_components))
        meta = {"kind": CLASSIFIER_KIND, "classes": [str(c) for c in self.classes_],
                "log_prior": self.log_prior_.tolist(), "covariance_type": self.covariance_type,
                "n_features": int(self.n_features_in_), "n_components": comps,
                "params": {"n_components": int(self.n_components), "reg_covar": float(self.reg_covar)},
                "extra": extra or {}}
        save_arrays(path, arrays, meta, overwrite=overwrite)

    @classmethod
    def load(cls, path):
        """Read a classifier written by :meth:`save`; returns (classifier, extra metadata)."""
        from gmmkit import GaussianMixture
        from gmmkit.io import load_arrays

        arrays, meta = load_arrays(path, kind=CLASSIFIER_KIND)
        try:
            classes = list(meta["classes"])
            cov_type = meta["covariance_type"]
            D = int(meta["n_features"])
            clf = cls(n_components=int(meta["params"]["n_components"]), covariance_type=cov_type,
                      reg_covar=float(meta["params"]["reg_covar"]))
            log_prior = np.asarray(meta["log_prior"], dtype=np.float64)
            models = []
            for j in range(len(classes)):
                w, m, c = arrays[f"w{j}"], arrays[f"m{j}"], arrays[f"c{j}"]
                # validated: shapes for the covariance type, finite, weights summing to 1,
                # positive-definite covariances (ParameterError, a ValueError, otherwise)
                gm = GaussianMixture.from_parameters(w, m, c, covariance_type=cov_type,
                                                     reg_covar=clf.reg_covar)
                if gm.n_features_in_ != D:
                    raise ValueError(f"class {classes[j]!r} model has {gm.n_features_in_} features, "
                                     f"the file says {D}")
                models.append(gm)
            if log_prior.shape != (len(classes),):
                raise ModelFileError(f"{path}: class priors do not match the classes")
            clf.core_ = GaussianMixtureClassifier.from_models(classes, models, np.exp(log_prior),
                                                              **clf._core_params())
        except (KeyError, TypeError, ValueError, np.linalg.LinAlgError) as exc:
            raise ModelFileError(f"{path}: classifier file is incomplete or invalid ({exc})") from None
        clf._expose()
        return clf, meta.get("extra") or {}

