"""Score normalisation of GMM-UBM scores with an impostor cohort: Z-norm, T-norm, S-norm.

A raw score (average log-likelihood ratio) drifts with the speaker model and
with the test recording (its length, channel, noise), so one threshold fits
nobody. With an impostor cohort drawn from background data,

- **Z-norm** standardises a model's scores by the mean and standard deviation of
  that model's scores on the cohort *utterances* (impostor speech);
- **T-norm** standardises a test utterance's scores by its scores against the
  cohort *models* (one MAP-adapted model per cohort utterance);
- **S-norm** is their average; with ``top_n`` it is the adaptive S-norm
  (AS-norm, Matejka et al. 2017): each side's statistics use only the ``top_n``
  cohort entries closest to the model, or to the test utterance.

Cohort entries carry a speaker label; entries labelled with the claimed
speaker's own name are left out of that speaker's statistics (a background set
that includes the enrolled speakers is not an impostor cohort for them).

>>> import numpy as np
>>> raw = np.array([[2.0, 0.0]])                # one test file, two models
>>> zc = np.array([[0.0, 1.0, 2.0], [0.0, 0.0, 0.0]])  # models x cohort utterances
>>> tc = np.array([[1.0, 1.0, 3.0]])            # test files x cohort models
>>> out = normalise(raw, zc, tc, ["a", "b"], ["x", "y", "z"])
>>> [round(float(v), 3) for v in out["znorm"][0]], round(float(out["tnorm"][0, 0]), 3)
([1.225, 0.0], 0.354)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gmmkit.exceptions import DataError, ParameterError

__all__ = ["Cohort", "build_cohort", "cohort_scores", "normalise", "NORMS"]

NORMS = ("raw", "znorm", "tnorm", "snorm")


@dataclass
class Cohort:
    """Impostor cohort: ``frames`` (one array per utterance), ``models`` (one adapted
    :class:`~gmmkit_apps.speech.ubm.SpeakerModel` per utterance) and ``labels`` (each
    utterance's speaker)."""

    frames: list
    models: list
    labels: list


def build_cohort(ubm, frames, labels, *, relevance=16.0, adapt="m", max_size=None, seed=0):
    """A :class:`Cohort` from background utterances ``frames`` spoken by ``labels``; with
    ``max_size``, a random subset of that many utterances."""
    from .ubm import map_adapt

    if len(frames) != len(labels):
        raise ParameterError(f"{len(frames)} cohort utterances but {len(labels)} labels")
    if len(frames) < 3:
        raise DataError(f"an impostor cohort needs at least 3 utterances, got {len(frames)}")
    idx = np.arange(len(frames))
    if max_size is not None and len(idx) > max_size:
        idx = np.sort(np.random.default_rng(seed).choice(idx, size=int(max_size), replace=False))
    models = [map_adapt(ubm, frames[i], name=f"cohort{j}", relevance=relevance, adapt=adapt)
              for j, i in enumerate(idx)]
    return Cohort([frames[i] for i in idx], models, [str(labels[i]) for i in idx])


def cohort_scores(ubm, cohort, speakers, test_frames, *, top_c=5):
    """``(zc, tc)``: every speaker model against every cohort utterance (n_speakers, n_cohort)
    and every test utterance against every cohort model (n_test, n_cohort)."""
    from .ubm import score_frames, stack_speakers

    speakers, models = stack_speakers(ubm, speakers), stack_speakers(ubm, cohort.models)
    zc = np.stack([score_frames(ubm, speakers, F, top_c=top_c) for F in cohort.frames], axis=1)
    tc = np.stack([score_frames(ubm, models, F, top_c=top_c) for F in test_frames])
    return zc, tc


def _stats(values, mask, top_n):
    """Mean and standard deviation over the masked entries of each row (the ``top_n``
    largest when given)."""
    v = np.where(mask, values, -np.inf)
    n = int(mask.sum(axis=-1).min())
    if n < 2:
        raise DataError("the impostor cohort has fewer than 2 entries from other speakers")
    k = n if top_n is None else int(min(top_n, n))
    top = -np.partition(-v, k - 1, axis=-1)[..., :k]
    sd = top.std(axis=-1)
    return top.mean(axis=-1), np.where(sd > 1e-9, sd, 1e-9)


def normalise(raw, zc, tc, speaker_names, cohort_labels, *, top_n=None):
    """Normalised score matrices (n_test, n_speakers) from raw scores and cohort scores
    (:func:`cohort_scores`): a dict with ``raw``, ``znorm``, ``tnorm`` and ``snorm``;
    ``top_n`` makes T- and S-norm adaptive (and Z-norm use the closest cohort too)."""
    raw = np.asarray(raw, dtype=np.float64)
    zc, tc = np.asarray(zc, dtype=np.float64), np.asarray(tc, dtype=np.float64)
    labels = np.asarray(cohort_labels, dtype=object)
    if top_n is not None and (int(top_n) != top_n or top_n < 2):
        raise ParameterError(f"top_n={top_n!r}: an integer >= 2")
    S = raw.shape[1]
    if zc.shape != (S, labels.size) or tc.shape != (raw.shape[0], labels.size):
        raise ParameterError("cohort score matrices do not match the raw scores and the cohort")
    z = np.empty_like(raw)
    t = np.empty_like(raw)
    for j, name in enumerate(speaker_names):
        keep = labels != name
        zm, zs = _stats(zc[j], keep, top_n)
        z[:, j] = (raw[:, j] - zm) / zs
        tm, ts = _stats(tc, np.broadcast_to(keep, tc.shape), top_n)
        t[:, j] = (raw[:, j] - tm) / ts
    return {"raw": raw, "znorm": z, "tnorm": t, "snorm": 0.5 * (z + t)}
