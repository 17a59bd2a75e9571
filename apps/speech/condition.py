"""Which condition is a recording in? A small channel detector that routes each test file to a
clean or a degraded speaker system (the handset detector of H-norm, Reynolds 1997, in miniature).

Each file is summarised by four long-term statistics of its power spectrum (25 ms frames, 10 ms
hop): an SNR estimate (mean power of the loudest half of the frames over the mean power of the
quietest tenth, the noise floor, in dB, at most 80), the energy below 300 Hz and the energy above
3.4 kHz relative to the 300-3400 Hz band of the loudest half (dB, at least -80), and the spectral
flatness of the quietest tenth (white noise is flat, hum is not; 0 when the SNR estimate is 60 dB or
more: digital silence has no floor to judge). A
:class:`gmmkit.GaussianMixtureClassifier` (one diagonal mixture per class, sizes chosen by BIC)
trained on background files and degraded copies of them (:mod:`gmmkit_apps.speech.augment`)
decides "clean" or "degraded" for a new file. "Degraded" is an open class (any channel or noise
unlike the studio's), so a file that the clean class explains worse than all but ``outlier_quantile``
of the clean training files is also called degraded, whatever the classifier says: an unseen kind of
degradation then lands in the degraded branch instead of wherever the classifier extrapolates.

>>> import numpy as np
>>> from gmmkit_apps.speech.condition import channel_stats
>>> rng = np.random.default_rng(0)
>>> t = np.arange(16000) / 8000.0
>>> y = np.sin(2 * np.pi * 440 * t) * (t > 1.0)          # 1 s silence, then a tone
>>> quiet = channel_stats(y + 1e-3 * rng.normal(size=y.size), 8000)
>>> noisy = channel_stats(y + 1e-1 * rng.normal(size=y.size), 8000)
>>> bool(quiet[0] > noisy[0] + 30)  # the SNR estimate (dB) sees the noise floor
True
"""
from __future__ import annotations

import numpy as np

from gmmkit.exceptions import DataError, ModelFileError, ParameterError

__all__ = ["channel_stats", "STAT_NAMES", "ConditionDetector", "train_detector", "save_detector",
           "load_detector", "check_outlier_quantile", "fit_stats_classifier", "DETECTOR_KIND", "CLASSES"]

STAT_NAMES = ("snr_db", "low_db", "high_db", "floor_flatness")
CLASSES = ("clean", "degraded")
DETECTOR_KIND = "gmmkit-speech-condition-detector"
_FRAME, _HOP, _TINY = 0.025, 0.010, 1e-12
_NO_FLOOR_DB = 60.0  # quiet frames this far below the loud ones: (digital) silence, no noise floor to judge


def _power_frames(y, sr):
    """Power spectra (frames x bins) of ``y``: Hann-windowed 25 ms frames every 10 ms."""
    y = np.asarray(y, dtype=np.float64).ravel()
    n, hop = int(round(_FRAME * sr)), int(round(_HOP * sr))
    if not np.all(np.isfinite(y)):
        raise DataError("condition detector: the signal holds NaN or infinite samples")
    if y.size < n + 9 * hop:
        raise DataError(f"condition detector: need at least {_FRAME + 9 * _HOP:.3f} s of audio, got "
                        f"{y.size / sr:.3f} s")
    idx = np.arange(n)[None, :] + hop * np.arange(1 + (y.size - n) // hop)[:, None]
    spec = np.abs(np.fft.rfft(y[idx] * np.hanning(n), axis=1)) ** 2
    return spec, np.fft.rfftfreq(n, 1.0 / sr)


def channel_stats(y, sr):
    """The four statistics of :data:`STAT_NAMES` for signal ``y`` at ``sr`` Hz (float64 array)."""
    if sr < 7000:
        raise ParameterError(f"condition detector: sample rate {sr} Hz; need at least 7000 (a 3.4 kHz band)")
    spec, freqs = _power_frames(y, sr)
    energy = spec.sum(axis=1)
    order = np.argsort(energy, kind="stable")
    n = energy.size
    quiet, loud = order[:max(1, n // 10)], order[n - max(1, n // 2):]
    snr = 10 * np.log10((energy[loud].mean() + _TINY) / (energy[quiet].mean() + _TINY))
    band = spec[loud].sum(axis=0)
    mid = band[(freqs >= 300) & (freqs <= 3400)].sum() + _TINY
    low = 10 * np.log10(band[freqs < 300].sum() / mid + _TINY)
    high = 10 * np.log10(band[freqs > 3400].sum() / mid + _TINY)
    floor = spec[quiet].mean(axis=0)[1:] + _TINY  # without the DC bin
    flatness = np.exp(np.mean(np.log(floor))) / np.mean(floor) if snr < _NO_FLOOR_DB else 0.0
    return np.array([min(snr, 80.0), max(low, -80.0), max(high, -80.0), flatness])


class ConditionDetector:
    """Decides "clean" or "degraded" from :func:`channel_stats` rows with a fitted
    :class:`gmmkit.GaussianMixtureClassifier` (classes :data:`CLASSES`)."""

    def __init__(self, classifier, sr, clean_floor=-np.inf, trained_on=()):
        if list(classifier.classes_) != list(CLASSES):
            raise ModelFileError(f"condition detector: classes {list(classifier.classes_)}, expected {list(CLASSES)}")
        self.classifier, self.sr, self.trained_on = classifier, int(sr), tuple(trained_on)
        self.clean_floor = float(clean_floor)  # clean-class log-likelihood below which a file is an outlier

    def clean_loglik(self, stats):
        """Log-likelihood of each row of ``stats`` under the clean class's mixture."""
        return self.classifier.models_[0].score_samples(np.atleast_2d(np.asarray(stats, dtype=np.float64)))

    def log_ratio(self, stats):
        """log P(degraded | stats) - log P(clean | stats), one value per row of ``stats``."""
        lp = self.classifier.predict_log_proba(np.atleast_2d(np.asarray(stats, dtype=np.float64)))
        return lp[:, 1] - lp[:, 0]

    def detect(self, stats):
        """"clean" or "degraded" per row of ``stats`` (a list of str)."""
        outlier = self.clean_loglik(stats) < self.clean_floor
        return [CLASSES[int(r > 0 or o)] for r, o in zip(self.log_ratio(stats), outlier)]

    def detect_audio(self, y, sr):
        """"clean" or "degraded" for one signal (resampled rates are refused, not guessed)."""
        if int(sr) != self.sr:
            raise DataError(f"condition detector trained at {self.sr} Hz, got audio at {sr} Hz")
        return self.detect(channel_stats(y, sr))[0]


def check_outlier_quantile(q):
    """Refuse (ParameterError) an outlier quantile outside [0, 0.5)."""
    if not 0 <= q < 0.5:
        raise ParameterError(f"outlier quantile {q!r}: a number in [0, 0.5)")
    return q


def train_detector(clean, degraded, *, sr=8000, outlier_quantile=0.01, trained_on=(), random_state=0):
    """A :class:`ConditionDetector` from lists of signals (or of :func:`channel_stats` rows):
    ``clean`` recordings and ``degraded`` copies. Equal class priors; ``outlier_quantile`` of the
    clean training files' clean-class log-likelihood, each measured by the model refitted without its
    fold (5-fold), is the outlier floor (0: no floor)."""
    check_outlier_quantile(outlier_quantile)

    def rows(items, what):
        out = [np.asarray(x, dtype=np.float64) if np.ndim(x) == 1 and len(x) == len(STAT_NAMES)
               else channel_stats(x, sr) for x in items]
        if len(out) < 2 * len(STAT_NAMES):
            raise DataError(f"condition detector: {len(out)} {what} files; need at least {2 * len(STAT_NAMES)}")
        return out

    X = np.vstack(rows(clean, "clean") + rows(degraded, "degraded"))
    y = np.array([CLASSES[0]] * len(clean) + [CLASSES[1]] * len(degraded))
    clf = fit_stats_classifier(X, y, random_state)
    floor = np.quantile(_held_out_loglik(X[y == CLASSES[0]], clf, random_state), outlier_quantile) \
        if outlier_quantile else -np.inf
    return ConditionDetector(clf, sr, floor, trained_on)


def fit_stats_classifier(X, y, random_state=0):
    """The detector's classifier: one diagonal mixture of 1-4 components (BIC) per label of ``y``
    over :func:`channel_stats` rows ``X``, equal priors (any number of classes)."""
    from gmmkit import GaussianMixtureClassifier

    clf = GaussianMixtureClassifier(n_components=[1, 2, 3, 4], covariance_types="diag", priors="uniform",
                                    min_rows_per_component=10, reg_covar=1e-3, random_state=random_state)
    return clf.fit(np.asarray(X, dtype=np.float64), np.asarray(y))


def _held_out_loglik(Xc, clf, random_state, folds=5):
    """Each clean training row's log-likelihood under the clean class's mixture (as chosen by
    ``clf``) refitted without its fold: the floor then behaves on new files as it does here."""
    from gmmkit import GaussianMixture

    chosen = clf.class_models_[0]
    fold = np.arange(len(Xc)) % folds
    out = np.empty(len(Xc))
    for f in range(folds):
        m = GaussianMixture(n_components=min(chosen["n_components"], int((fold != f).sum()) // 10 or 1),
                            covariance_type=chosen["covariance_type"], reg_covar=1e-3, random_state=random_state)
        out[fold == f] = m.fit(Xc[fold != f]).score_samples(Xc[fold == f])
    return out


def save_detector(det, path, *, overwrite=False):
    """Write ``det`` as a gmmkit model file (atomically; an existing file only with ``overwrite``)."""
    from gmmkit.io import save_arrays

    arrays, classes = {}, []
    for c, m in zip(det.classifier.classes_, det.classifier.models_):
        classes.append({"name": str(c), "covariance_type": m.covariance_type})
        arrays.update({f"{c}_weights": m.weights_, f"{c}_means": m.means_, f"{c}_covariances": m.covariances_})
    prior = np.exp(det.classifier.log_prior_)
    floor = det.clean_floor if np.isfinite(det.clean_floor) else None
    save_arrays(path, arrays, {"kind": DETECTOR_KIND, "sr": det.sr, "classes": classes, "stats": list(STAT_NAMES),
                               "priors": prior.tolist(), "clean_floor": floor, "trained_on": list(det.trained_on)},
                overwrite=overwrite)


def load_detector(path):
    """Read a detector written by :func:`save_detector` (ModelFileError for anything else)."""
    from gmmkit import GaussianMixture, GaussianMixtureClassifier
    from gmmkit.io import load_arrays

    arrays, meta = load_arrays(path)
    if meta.get("kind") != DETECTOR_KIND:
        raise ModelFileError(f"{path} is not a condition detector (kind {meta.get('kind')!r})")
    try:
        names = [c["name"] for c in meta["classes"]]
        if names != list(CLASSES) or list(meta["stats"]) != list(STAT_NAMES):
            raise ValueError(f"classes {names}, statistics {meta['stats']}")
        models = [GaussianMixture.from_parameters(arrays[f"{c}_weights"], arrays[f"{c}_means"],
                                                  arrays[f"{c}_covariances"], covariance_type=d["covariance_type"])
                  for c, d in zip(names, meta["classes"])]
        clf = GaussianMixtureClassifier.from_models(np.array(names), models, np.asarray(meta["priors"], float))
        floor = -np.inf if meta.get("clean_floor") is None else float(meta["clean_floor"])
        return ConditionDetector(clf, int(meta["sr"]), floor, meta.get("trained_on", ()))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: unreadable condition detector ({exc})") from None
