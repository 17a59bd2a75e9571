"""Scoring audio against a models folder: identification, verification and trial lists.

Each function takes a loaded :class:`~gmmkit_apps.speech.corpus.ModelSet` and
audio file paths, and returns plain Python results (what ``gmmkit speech
identify / verify / evaluate`` print).
"""
from __future__ import annotations

import os

import numpy as np

from gmmkit.exceptions import DataError

from .corpus import features_of

__all__ = ["score_files", "identify", "verify", "TrialEvaluation", "evaluate_trials"]


def score_files(model_set, files, *, top_c=5, speakers=None):
    """Scores (n_files, n_speakers): each file's average log-likelihood ratio against the UBM
    under each speaker model (``speakers``: a subset of ``model_set.speakers``)."""
    from .ubm import score_frames

    speakers = model_set.speakers if speakers is None else speakers
    return np.stack([score_frames(model_set.ubm, speakers, F, top_c=top_c)
                     for F in features_of(files, model_set.front_end)])


def identify(model_set, files, *, top_c=5):
    """Closed-set identification: ``(rows, scores)``; one row per file with the best-scoring
    speaker, its score and its margin over the runner-up; ``scores`` as :func:`score_files`."""
    S = score_files(model_set, files, top_c=top_c)
    rows = []
    for f, s in zip(files, S):
        b = int(np.argmax(s))
        runner_up = np.sort(s)[-2] if s.size > 1 else 0.0
        rows.append({"file": f, "speaker": model_set.names[b], "score": float(s[b]),
                     "margin": float(s[b] - runner_up)})
    return rows, S


def verify(model_set, file, speaker, *, threshold, top_c=5):
    """Accept or reject the claim that ``file`` is ``speaker``: accept when score >= threshold."""
    spk = model_set.speaker(speaker)
    score = float(score_files(model_set, [file], top_c=top_c, speakers=[spk])[0, 0])
    return {"file": str(file), "speaker": speaker, "score": score, "threshold": float(threshold),
            "decision": "accept" if score >= threshold else "reject"}


class TrialEvaluation:
    """What :func:`evaluate_trials` found: ``summary`` (a dict of the metrics), the per-trial
    ``scores`` and ``labels`` (True for target trials), and the trial table ``trials``."""

    def __init__(self, summary, scores, labels, trials):
        self.summary, self.scores, self.labels, self.trials = summary, scores, labels, trials

    @property
    def threshold(self):
        """The EER threshold."""
        return self.summary["eer_threshold"]

    def score_table(self):
        """The trial table with a 0/1 ``target`` column and each trial's ``score``."""
        return self.trials.drop(columns=["path"]).assign(target=self.labels.astype(int), score=self.scores)


def evaluate_trials(model_set, trials, *, top_c=5, p_target=0.01):
    """Verification metrics on a trial list (:func:`~gmmkit_apps.speech.corpus.read_trials`).

    Every file is scored once against every speaker. Returns a
    :class:`TrialEvaluation` whose ``summary`` holds the numbers of trials and
    target trials, the EER and its threshold, the minimum normalised detection
    cost at ``p_target`` and, over the files whose true speaker is enrolled, the
    closed-set identification accuracy. Raises DataError for missing audio files
    or speakers without a model.
    """
    from .metrics import eer, min_dcf

    source = trials.attrs.get("source", "trial list")
    files = list(dict.fromkeys(trials["path"]))
    missing = [p for p in files if not os.path.isfile(p)]
    if missing:
        raise DataError(f"{source}: {len(missing)} audio file(s) not found, first {missing[0]}")
    unknown = sorted(set(trials["speaker"]) - set(model_set.names))
    if unknown:
        raise DataError(f"{source}: speaker(s) {', '.join(unknown[:5])} have no model in "
                        f"{model_set.folder}")
    S = score_files(model_set, files, top_c=top_c)
    row = {f: i for i, f in enumerate(files)}
    col = {n: j for j, n in enumerate(model_set.names)}
    scores = np.array([S[row[f], col[s]] for f, s in zip(trials["path"], trials["speaker"])])
    labels = trials["target"].to_numpy(bool)
    e, thr = eer(scores, labels)
    dcf, _ = min_dcf(scores, labels, p_target=p_target)
    summary = {"trials": int(len(trials)), "targets": int(labels.sum()), "eer": e, "eer_threshold": thr,
               "min_dcf": dcf, "p_target": p_target}
    truth = {f: s for f, s, t in zip(trials["path"], trials["speaker"], labels) if t}
    if truth:
        hits = [model_set.names[int(np.argmax(S[row[f]]))] == s for f, s in truth.items()]
        summary["identification_accuracy"] = float(np.mean(hits))
        summary["identification_files"] = len(hits)
    return TrialEvaluation(summary, scores, labels, trials)
