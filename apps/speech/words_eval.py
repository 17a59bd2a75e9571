"""Evaluation of word recognisers: accuracy and confusion on labelled utterances, and
leave-one-speaker-out cross-validation.

>>> import numpy as np
>>> from gmmkit_apps.speech.words import WordRecognizer
>>> from gmmkit_apps.speech.words_eval import evaluate
>>> rng = np.random.default_rng(0)
>>> say = lambda m: rng.normal(m, 1, (20, 2))
>>> rec = WordRecognizer(n_mix=1, n_states=2).fit([say(-3), say(3)] * 4, ["a", "b"] * 4)
>>> evaluate(rec, [say(-3), say(3)], ["a", "b"])["accuracy"]
1.0
"""
from __future__ import annotations

import numpy as np

from gmmkit.exceptions import DataError, ParameterError

from .words import WordRecognizer, _sequences

__all__ = ["evaluate", "cross_validate_speakers"]


def evaluate(recognizer, X, words, *, threshold="default", versions=(), speakers=None):
    """Accuracy of ``recognizer`` on labelled utterances: a dict with ``accuracy``, ``n``,
    ``rejected``, the confusion matrix (rows true, columns recognised; the rejection label
    is a column when a threshold is set) and the predictions. A true word the model does not
    know is a one-line :class:`DataError`. ``speakers``: for a recogniser with ``adapt``, one label
    per utterance (None: all one speaker's)."""
    from .metrics import classification_scores

    words = np.asarray([str(w) for w in words])
    unknown = sorted(set(words) - set(recognizer.words_))
    if unknown:
        raise DataError(f"word(s) {', '.join(map(repr, unknown))} not in the model "
                        f"(it knows {', '.join(map(str, recognizer.words_))})")
    pred = recognizer.predict(X, threshold, versions, speakers)
    classes = list(recognizer.words_)
    if np.any(pred == recognizer.reject_label):
        classes.append(recognizer.reject_label)
    acc, _, cm = classification_scores(words, pred, classes)
    cm = cm.loc[list(recognizer.words_)]
    return {"accuracy": acc, "n": int(len(pred)), "rejected": int(np.sum(pred == recognizer.reject_label)),
            "confusion": cm, "predicted": pred}


def cross_validate_speakers(X, words, speakers, *, augment=(), test_versions=(), extra=None, extra_as="group",
                            progress=None, **params):
    """Leave-one-speaker-out: for each speaker, a :class:`WordRecognizer` (``params``) trained on
    the others and tested on them. ``augment``: lists of extra training versions of the
    utterances, each parallel to ``X`` (e.g. speed-perturbed copies), used for training only;
    ``test_versions``: the same for testing (see :meth:`WordRecognizer.score`); ``extra``:
    (utterances, words) added to every fold's training and never tested (e.g. synthetic voices
    from ``datasets/speech/make_synthetic_digits.py``), as a model set of their own
    (``extra_as="group"``, see ``groups`` in :meth:`WordRecognizer.fit`) or ``"pooled"``.
    Returns a list of dicts per held-out speaker (speaker, accuracy, n, train and test seconds,
    predictions) and the pooled confusion matrix."""
    import time

    seqs = _sequences(X)
    augment = [_sequences(a, seqs[0].shape[1]) for a in augment]
    if any(len(a) != len(seqs) for a in augment):
        raise DataError("every augment list needs one version of each utterance")
    ex_X, ex_y = ([], []) if extra is None else (_sequences(extra[0], seqs[0].shape[1]), [str(w) for w in extra[1]])
    if len(ex_X) != len(ex_y):
        raise DataError(f"extra training data: {len(ex_X)} utterances but {len(ex_y)} words")
    if extra_as not in ("group", "pooled"):
        raise ParameterError(f"extra_as={extra_as!r}: use 'group' or 'pooled'")
    words = np.asarray([str(w) for w in words])
    speakers = np.asarray([str(s) for s in speakers])
    if len(words) != len(seqs) or len(speakers) != len(seqs):
        raise DataError("need one word and one speaker per utterance")
    names = np.unique(speakers)
    if len(names) < 2:
        raise DataError(f"leave-one-speaker-out needs at least two speakers, got {len(names)}")
    rows, pooled, extra_rec = [], None, None
    for k, spk in enumerate(names):
        tr, te = np.flatnonzero(speakers != spk), np.flatnonzero(speakers == spk)
        t0 = time.perf_counter()
        train = [seqs[i] for i in tr] + [a[i] for a in augment for i in tr]
        labels = list(np.tile(words[tr], 1 + len(augment)))
        if extra_as == "group" and ex_y:  # = fit(groups=...): the extra set does not depend on the fold
            if extra_rec is None:
                extra_rec = WordRecognizer(**params).fit(ex_X, ex_y, groups=["extra"] * len(ex_y))
            rec = WordRecognizer(**params).fit(train, labels, groups=["data"] * len(train))
            if list(rec.words_) != list(extra_rec.words_):
                raise DataError("the extra training data and the speakers' data have different words")
            rec.models_, rec.groups_ = rec.models_ + extra_rec.models_, np.array(["data", "extra"])
            rec.n_train_ = rec.n_train_ + extra_rec.n_train_
        else:
            rec = WordRecognizer(**params).fit(train + list(ex_X), labels + ex_y)
        t1 = time.perf_counter()
        ev = evaluate(rec, [seqs[i] for i in te], words[te], threshold=None,
                      versions=[[v[i] for i in te] for v in test_versions])
        t2 = time.perf_counter()
        cm = ev["confusion"]
        pooled = cm if pooled is None else pooled.add(cm, fill_value=0).astype(int)
        rows.append({"speaker": str(spk), "accuracy": ev["accuracy"], "n": ev["n"],
                     "train_seconds": round(t1 - t0, 2), "test_seconds": round(t2 - t1, 2),
                     "predicted": ev["predicted"], "index": te})
        if progress is not None:
            progress(k + 1, len(names))
    return rows, pooled
