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
decides "clean" or "degraded" for a new file, or, with named classes (e.g. clean / noise / band,
:func:`train_detector_classes`), which condition. Routing is *confident*: a file stays clean unless
the most probable other class beats clean by more than ``margin`` nats (0: the most probable class;
:func:`choose_margin` picks it on development files). The degraded classes are open, so a file that
the clean class explains worse than all but ``outlier_quantile`` of the clean training files goes
to the most probable degraded class whatever the classifier says: an unseen kind of degradation
then lands in a degraded branch instead of wherever the classifier extrapolates.

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

__all__ = ["channel_stats", "STAT_NAMES", "ConditionDetector", "train_detector", "train_detector_classes",
           "choose_margin", "save_detector", "load_detector", "check_outlier_quantile", "check_margin",
           "check_class_name", "fit_stats_classifier", "DETECTOR_KIND", "CLASSES", "CLEAN"]

STAT_NAMES = ("snr_db", "low_db", "high_db", "floor_flatness")
CLEAN = "clean"
CLASSES = (CLEAN, "degraded")  # the two classes of :func:`train_detector`
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
    """Names the condition of :func:`channel_stats` rows with a fitted
    :class:`gmmkit.GaussianMixtureClassifier` whose classes include :data:`CLEAN` ("clean" and
    "degraded" for :func:`train_detector`). ``margin``: nats by which a degraded class must beat
    clean; ``clean_floor``: clean-class log-likelihood below which a file is never clean;
    ``trained_on``: {class: the degradations of its training copies} (kept as :attr:`conditions`;
    :attr:`trained_on` is then all of them, in order), or a two-class detector's list of them."""

    def __init__(self, classifier, sr, clean_floor=-np.inf, trained_on=(), margin=0.0):
        names = [str(c) for c in classifier.classes_]
        if CLEAN not in names or len(names) < 2 or len(set(names)) != len(names):
            raise ModelFileError(f"condition detector: classes {names}; need '{CLEAN}' and at least one other")
        self.classifier, self.sr, self.classes = classifier, int(sr), tuple(names)
        self.clean_floor, self.margin = float(clean_floor), check_margin(margin)
        if not isinstance(trained_on, dict):  # a two-class detector's list of degradations
            trained_on = {names[1 - names.index(CLEAN)]: list(trained_on)} if len(names) == 2 and trained_on else {}
        self.conditions = {str(k): [str(c) for c in v] for k, v in trained_on.items()}  # {class: degradations}
        self.trained_on = tuple(c for v in self.conditions.values() for c in v)  # every degradation, in order

    @property
    def degraded_classes(self):
        """The classes other than :data:`CLEAN`, in the classifier's order."""
        return tuple(c for c in self.classes if c != CLEAN)

    def clean_loglik(self, stats):
        """Log-likelihood of each row of ``stats`` under the clean class's mixture."""
        m = self.classifier.models_[self.classes.index(CLEAN)]
        return m.score_samples(np.atleast_2d(np.asarray(stats, dtype=np.float64)))

    def _best(self, stats):
        """Per row: the most probable degraded class, and its log posterior minus clean's."""
        lp = self.classifier.predict_log_proba(np.atleast_2d(np.asarray(stats, dtype=np.float64)))
        j = [self.classes.index(c) for c in self.degraded_classes]
        best = np.asarray(self.degraded_classes)[np.argmax(lp[:, j], axis=1)]
        return best, lp[:, j].max(axis=1) - lp[:, self.classes.index(CLEAN)]

    def log_ratio(self, stats):
        """log P(most probable degraded class | stats) - log P(clean | stats), one value per row."""
        return self._best(stats)[1]

    def detect(self, stats):
        """The class of each row of ``stats`` (a list of str): the most probable degraded class when
        it beats clean by more than :attr:`margin` nats or the row is below the clean floor, else clean."""
        best, ratio = self._best(stats)
        outlier = self.clean_loglik(stats) < self.clean_floor
        return [str(b) if r > self.margin or o else CLEAN for b, r, o in zip(best, ratio, outlier)]

    def detect_audio(self, y, sr):
        """The class of one signal (resampled rates are refused, not guessed)."""
        if int(sr) != self.sr:
            raise DataError(f"condition detector trained at {self.sr} Hz, got audio at {sr} Hz")
        return self.detect(channel_stats(y, sr))[0]


def check_margin(margin):
    """Refuse (ParameterError) a routing margin that is not a finite number of nats >= 0."""
    if not (isinstance(margin, (int, float, np.floating, np.integer)) and np.isfinite(margin) and margin >= 0):
        raise ParameterError(f"routing margin {margin!r}: a finite number of nats >= 0")
    return float(margin)


def check_class_name(name):
    """Refuse (ParameterError) a class name that is not letters, digits, '_' or '-'."""
    import re

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}", name):
        raise ParameterError(f"condition class {name!r}: use letters, digits, '_' or '-' (e.g. noise, band)")
    return name


def check_outlier_quantile(q):
    """Refuse (ParameterError) an outlier quantile outside [0, 0.5)."""
    if not 0 <= q < 0.5:
        raise ParameterError(f"outlier quantile {q!r}: a number in [0, 0.5)")
    return q


def train_detector(clean, degraded, *, sr=8000, outlier_quantile=0.01, trained_on=(), random_state=0):
    """A clean / degraded :class:`ConditionDetector` from lists of signals (or of :func:`channel_stats`
    rows): ``clean`` recordings and ``degraded`` copies (:func:`train_detector_classes`)."""
    return train_detector_classes({CLASSES[0]: clean, CLASSES[1]: degraded}, sr=sr, outlier_quantile=outlier_quantile,
                                  trained_on={CLASSES[1]: list(trained_on)}, random_state=random_state)


def train_detector_classes(data, *, sr=8000, outlier_quantile=0.01, trained_on=None, margin=0.0, random_state=0):
    """A :class:`ConditionDetector` from ``data`` = {class: list of signals or :func:`channel_stats`
    rows}, one class :data:`CLEAN`. Equal class priors; ``outlier_quantile`` of the clean training
    files' clean-class log-likelihood, each measured by the model refitted without its fold
    (5-fold), is the outlier floor (0: no floor); ``margin``: see :meth:`ConditionDetector.detect`."""
    check_outlier_quantile(outlier_quantile)
    check_margin(margin)
    if CLEAN not in data or len(data) < 2:
        raise ParameterError(f"condition detector: classes {list(data)}; need '{CLEAN}' and at least one other")

    def rows(items, what):
        out = [np.asarray(x, dtype=np.float64) if np.ndim(x) == 1 and len(x) == len(STAT_NAMES)
               else channel_stats(x, sr) for x in items]
        if len(out) < 2 * len(STAT_NAMES):
            raise DataError(f"condition detector: {len(out)} {what} files; need at least {2 * len(STAT_NAMES)}")
        return out

    X = np.vstack([r for k in data for r in rows(data[k], check_class_name(k))])
    y = np.array([k for k in data for _ in data[k]])
    clf = fit_stats_classifier(X, y, random_state)
    floor = np.quantile(_held_out_loglik(X[y == CLEAN], clf, random_state), outlier_quantile) \
        if outlier_quantile else -np.inf
    return ConditionDetector(clf, sr, floor, trained_on or {}, margin)


def choose_margin(detector, data, grid=tuple(range(21))):
    """The margin (nats, from ``grid``) with which ``detector`` misroutes the fewest development rows
    ``data`` = {true class: :func:`channel_stats` rows}; ties: the middle of the tied values.
    Returns ``(margin, misrouted, rows)``; ``detector`` itself is not changed."""
    from copy import copy

    unknown = sorted(set(data) - set(detector.classes))
    if unknown:
        raise ParameterError(f"development classes {unknown} are not the detector's {list(detector.classes)}")
    wrong = []
    for t in grid:
        d = copy(detector)
        d.margin = check_margin(t)
        wrong.append(sum(int(np.sum(np.asarray(d.detect(np.vstack(X))) != k)) for k, X in data.items()))
    best = [t for t, w in zip(grid, wrong) if w == min(wrong)]
    return float(best[len(best) // 2]), int(min(wrong)), int(sum(len(X) for X in data.values()))


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

    chosen = clf.class_models_[[str(c) for c in clf.classes_].index(CLEAN)]
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
    for c, m in zip(det.classes, det.classifier.models_):
        classes.append({"name": c, "covariance_type": m.covariance_type})
        arrays.update({f"{c}_weights": m.weights_, f"{c}_means": m.means_, f"{c}_covariances": m.covariances_})
    prior = np.exp(det.classifier.log_prior_)
    floor = det.clean_floor if np.isfinite(det.clean_floor) else None
    save_arrays(path, arrays, {"kind": DETECTOR_KIND, "sr": det.sr, "classes": classes, "stats": list(STAT_NAMES),
                               "priors": prior.tolist(), "clean_floor": floor, "margin": det.margin,
                               "trained_on": list(det.trained_on), "conditions": det.conditions},
                overwrite=overwrite)


def load_detector(path):
    """Read a detector written by :func:`save_detector` (ModelFileError for anything else); files
    written before detectors had named classes and a margin load as clean / degraded, margin 0."""
    from gmmkit import GaussianMixture, GaussianMixtureClassifier
    from gmmkit.io import load_arrays

    arrays, meta = load_arrays(path)
    if meta.get("kind") != DETECTOR_KIND:
        raise ModelFileError(f"{path} is not a condition detector (kind {meta.get('kind')!r})")
    try:
        names = [check_class_name(c["name"]) for c in meta["classes"]]
        if list(meta["stats"]) != list(STAT_NAMES):
            raise ValueError(f"statistics {meta['stats']}, expected {list(STAT_NAMES)}")
        models = [GaussianMixture.from_parameters(arrays[f"{c}_weights"], arrays[f"{c}_means"],
                                                  arrays[f"{c}_covariances"], covariance_type=d["covariance_type"])
                  for c, d in zip(names, meta["classes"])]
        clf = GaussianMixtureClassifier.from_models(np.array(names), models, np.asarray(meta["priors"], float))
        floor = -np.inf if meta.get("clean_floor") is None else float(meta["clean_floor"])
        return ConditionDetector(clf, int(meta["sr"]), floor, meta.get("conditions") or meta.get("trained_on", ()),
                                 meta.get("margin", 0.0))
    except (KeyError, TypeError, ValueError, ParameterError) as exc:
        raise ModelFileError(f"{path}: unreadable condition detector ({exc})") from None
