"""``GMMClassifier``: one Gaussian mixture per class, for phonemes, words or any frame sequences.

Each sample is a variable-length sequence of feature frames (an utterance, a
phone segment). Class c gets its own :class:`gmmkit.GaussianMixture`; a
sequence's score for c is the sum of its frames' log-likelihoods under that
mixture plus log P(c), and the prediction is the arg-max.
``predict_proba`` normalises these scores over the classes.

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

from gmmkit.exceptions import DataError, ModelFileError, ParameterError

__all__ = ["GMMClassifier", "CLASSIFIER_KIND"]

CLASSIFIER_KIND = "gmmkit-speech-classifier"


def _sequences(X, n_features=None):
    if isinstance(X, np.ndarray) and X.ndim == 2:
        X = [X]
    seqs = [np.asarray(x, dtype=np.float64) for x in X]
    if not seqs:
        raise DataError("no sequences given")
    for i, s in enumerate(seqs):
        if s.ndim != 2 or s.shape[0] == 0:
            raise DataError(f"sequence {i}: expected a non-empty 2-D array of frames, got shape {s.shape}")
        if n_features is not None and s.shape[1] != n_features:
            raise DataError(f"sequence {i}: {s.shape[1]} features, the model expects {n_features}")
        if not np.all(np.isfinite(s)):
            raise DataError(f"sequence {i}: NaN or infinite values")
    return seqs


class GMMClassifier(ClassifierMixin, BaseEstimator):
    """One GMM per class; a sequence goes to the class of highest summed frame log-likelihood + log prior.

    Parameters
    ----------
    n_components : int
        Components per class mixture (reduced for classes with few frames).
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

    def fit(self, X, y):
        """Fit one mixture per class on the pooled frames of its sequences.

        Parameters
        ----------
        X : list of ndarray (n_frames_i, n_features)
        y : array-like of labels, one per sequence
        """
        from gmmkit import GaussianMixture

        seqs = _sequences(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(seqs):
            raise DataError(f"got {len(seqs)} sequences but {y.size} labels")
        D = seqs[0].shape[1]
        seqs = _sequences(seqs, D)
        if not isinstance(self.n_components, (int, np.integer)) or self.n_components < 1:
            raise ParameterError(f"n_components={self.n_components!r} must be a positive integer")
        self.classes_, counts = np.unique(y, return_counts=True)
        if len(self.classes_) < 2:
            raise DataError("need at least two classes")
        if isinstance(self.priors, str):
            if self.priors == "empirical":
                prior = counts / counts.sum()
            elif self.priors == "uniform":
                prior = np.full(len(counts), 1.0 / len(counts))
            else:
                raise ParameterError(f"priors={self.priors!r}: use 'empirical', 'uniform' or an array")
        else:
            prior = np.asarray(self.priors, dtype=np.float64)
            if prior.shape != counts.shape or np.any(prior <= 0):
                raise ParameterError(f"priors must be {len(counts)} positive numbers (one per class)")
            prior = prior / prior.sum()
        self.log_prior_ = np.log(prior)
        self.models_ = []
        for c in self.classes_:
            frames = np.concatenate([s for s, lab in zip(seqs, y) if lab == c])
            k = int(min(self.n_components, max(1, frames.shape[0] // 10)))
            gm = GaussianMixture(k, covariance_type=self.covariance_type, reg_covar=self.reg_covar,
                                 max_iter=self.max_iter, n_init=self.n_init,
                                 random_state=self.random_state)
            self.models_.append(gm.fit(frames.astype(np.float32)))
        self.n_features_in_ = D
        return self

    def _check_fitted(self):
        if not hasattr(self, "models_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("GMMClassifier is not fitted yet: call fit() first")

    def decision_function(self, X):
        """Summed frame log-likelihood plus log prior, shape (n_sequences, n_classes)."""
        self._check_fitted()
        seqs = _sequences(X, self.n_features_in_)
        lengths = np.array([len(s) for s in seqs])
        frames = np.concatenate(seqs).astype(np.float32)  # the mixtures were fitted in float32
        idx = np.repeat(np.arange(len(seqs)), lengths)
        out = np.empty((len(seqs), len(self.classes_)))
        for j, gm in enumerate(self.models_):
            ll = gm.score_samples(frames).astype(np.float64)
            out[:, j] = np.bincount(idx, weights=ll, minlength=len(seqs))
        return out + self.log_prior_

    def predict_log_proba(self, X):
        """Log posterior over classes of each sequence."""
        s = self.decision_function(X)
        mx = s.max(axis=1, keepdims=True)
        return s - (mx + np.log(np.exp(s - mx).sum(axis=1, keepdims=True)))

    def predict_proba(self, X):
        """Posterior over classes of each sequence (rows sum to 1)."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Most probable class of each sequence."""
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]

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
            clf.classes_ = np.asarray(classes)
            clf.log_prior_ = np.asarray(meta["log_prior"], dtype=np.float64)
            clf.n_features_in_ = D
            clf.models_ = []
            for j in range(len(classes)):
                w, m, c = arrays[f"w{j}"], arrays[f"m{j}"], arrays[f"c{j}"]
                # validated: shapes for the covariance type, finite, weights summing to 1,
                # positive-definite covariances (ParameterError, a ValueError, otherwise)
                gm = GaussianMixture.from_parameters(w, m, c, covariance_type=cov_type,
                                                     reg_covar=clf.reg_covar)
                if gm.n_features_in_ != D:
                    raise ValueError(f"class {classes[j]!r} model has {gm.n_features_in_} features, "
                                     f"the file says {D}")
                clf.models_.append(gm)
        except (KeyError, TypeError, ValueError, np.linalg.LinAlgError) as exc:
            raise ModelFileError(f"{path}: classifier file is incomplete or invalid ({exc})") from None
        if clf.log_prior_.shape != (len(classes),):
            raise ModelFileError(f"{path}: class priors do not match the classes")
        return clf, meta.get("extra") or {}

