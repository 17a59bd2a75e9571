"""Linear fusion of speaker-verification score sets, trained by logistic regression (BOSARIS/FoCal style).

Two systems that fail on different trials (different front ends, a GMM-UBM and an SVM) make a
better one when their scores are added with the right weights. The weights and an offset are
the logistic regression of the trial labels on the systems' scores,

    llr = offset + sum_i w_i * score_i

with target and impostor trials weighted to an effective prior ``p_target`` (0.5: equal total
weight, so the excess of impostor trials does not pull the weights), which also makes the fused
score a calibrated log-likelihood ratio for that prior. Fit on development trials only, never on
the trials the fusion will score.

With models folders (e.g. one made with MFCCs and one with LFCCs, ``FrontEnd(filterbank="linear")``):
:func:`fit_trials_fusion` scores a development trial list with each folder and fits the fusion,
recording each folder's UBM and the score normalisation; :func:`save_fusion` / :func:`load_fusion`
keep it in a gmmkit model file (arrays and JSON, never pickle); :func:`fused_scores` scores files
with every folder and fuses, refusing folders whose UBM is not the one the fusion was fitted for.

>>> import numpy as np
>>> from gmmkit_apps.speech.fusion import fit_fusion
>>> rng = np.random.default_rng(0)
>>> y = rng.random(2000) < 0.2
>>> good = np.where(y, 2.0, 0.0) + rng.normal(size=2000)        # a good system
>>> weak = np.where(y, 1.0, 0.0) + rng.normal(size=2000) * 2.0  # a weaker one
>>> fusion = fit_fusion([good, weak], y)
>>> bool(fusion.weights[0] > fusion.weights[1] > 0)
True
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gmmkit.exceptions import DataError, ModelFileError, ParameterError

__all__ = ["LinearFusion", "fit_fusion", "fit_logistic", "system_records", "fit_trials_fusion", "fused_scores",
           "evaluate_fused", "save_fusion", "load_fusion", "FUSION_KIND"]

#: The ``kind`` of a fusion's model file.
FUSION_KIND = "speaker_score_fusion"


def fit_logistic(X, labels, *, p_target=0.5, l2=1e-3, max_iter=100, tol=1e-10, what="fusion"):
    """Prior-weighted logistic regression by Newton's method (iteratively reweighted least
    squares): coefficients ``(offset, w_1, ..., w_d)`` for the columns of ``X`` (n_trials, d).
    Target trials share weight ``p_target`` and impostor trials ``1 - p_target``; ``l2`` is a ridge
    penalty ``l2/2 * |w|^2`` on the weights (not the offset), as scikit-learn's
    ``LogisticRegression(C=1/l2)`` with those sample weights. The offset is returned without
    the prior's log-odds, so the fused score is a log-likelihood ratio. ``what`` names the caller
    in error messages."""
    from scipy.special import expit

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(labels, dtype=bool).ravel()
    if X.ndim != 2 or X.shape[0] != y.size:
        raise DataError(f"{what}: {X.shape[0] if X.ndim == 2 else X.size} trials of scores but {y.size} labels")
    if not np.all(np.isfinite(X)):
        raise DataError(f"{what}: scores must be finite")
    n_t = int(y.sum())
    if n_t == 0 or n_t == y.size:
        raise DataError(f"{what} needs both target and impostor trials")
    if not 0.0 < p_target < 1.0 or not (np.isfinite(l2) and l2 >= 0) or max_iter < 1:
        raise ParameterError(f"p_target {p_target!r} must be in (0, 1), l2 {l2!r} >= 0, max_iter {max_iter!r} >= 1")
    A = np.column_stack([np.ones(y.size), X])
    w = np.where(y, p_target / n_t, (1.0 - p_target) / (y.size - n_t))
    ridge = np.full(A.shape[1], float(l2))
    ridge[0] = 0.0
    beta = np.zeros(A.shape[1])
    for _ in range(max_iter):
        p = expit(A @ beta)
        grad = A.T @ (w * (y - p)) - ridge * beta
        H = (A * (w * p * (1 - p))[:, None]).T @ A + np.diag(ridge)
        try:
            step = np.linalg.solve(H, grad)
        except np.linalg.LinAlgError:
            step = np.full_like(beta, np.nan)
        if not np.all(np.isfinite(step)):
            raise DataError(f"{what}: the development trials do not determine the weights "
                            "(a constant or duplicated score set, or separable scores with l2=0)")
        beta += step
        if np.max(np.abs(step)) < tol:
            break
    beta[0] -= np.log(p_target / (1.0 - p_target))
    return beta


@dataclass(frozen=True)
class LinearFusion:
    """``offset + sum_i weights[i] * scores[i]`` over score sets of one shape. ``systems``: what
    each score set came from (``{"ubm_fingerprint", "front_end"}`` per models folder; empty when
    unknown); ``norm`` and ``top_n``: the score normalisation it was fitted on ("raw" or "snorm"
    with an adaptive cohort of ``top_n``; None when unknown)."""

    offset: float
    weights: np.ndarray
    systems: tuple = ()
    norm: str | None = None
    top_n: int | None = None

    def apply(self, score_sets):
        """The fused log-likelihood ratios of ``score_sets`` (a list, one array per system, all of
        one shape, in the order the fusion was fitted)."""
        sets = [np.asarray(s, dtype=np.float64) for s in score_sets]
        if len(sets) != self.weights.size:
            raise DataError(f"fusion of {self.weights.size} systems applied to {len(sets)} score sets")
        if any(s.shape != sets[0].shape for s in sets):
            raise DataError("fusion: the score sets have different shapes")
        return self.offset + sum(w * s for w, s in zip(self.weights, sets))


def fit_fusion(score_sets, labels, *, p_target=0.5, l2=1e-3):
    """A :class:`LinearFusion` of ``score_sets`` (one array per system, one entry per
    development trial, any common shape) from the trials' ``labels`` (True for targets);
    see :func:`fit_logistic`."""
    sets = [np.asarray(s, dtype=np.float64).ravel() for s in score_sets]
    y = np.asarray(labels, dtype=bool).ravel()
    if not sets or any(s.size != y.size for s in sets):
        raise DataError(f"fusion: every score set needs one score per trial ({y.size} labels)")
    beta = fit_logistic(np.column_stack(sets), y, p_target=p_target, l2=l2)
    return LinearFusion(float(beta[0]), beta[1:])


def system_records(model_sets):
    """What a fusion records of each models folder: its UBM's fingerprint, its front end and where
    it is (checked when the fusion is applied; the folder lets a command find it again)."""
    import os

    from .ubm import ubm_fingerprint

    return tuple({"ubm_fingerprint": ubm_fingerprint(m.ubm), "front_end": m.front_end.to_dict(),
                  "folder": os.path.realpath(m.folder)} for m in model_sets)


def _speakers(model_sets, speakers):
    """Each models folder's speaker models of ``speakers`` (default: the first folder's), in one order."""
    names = list(model_sets[0].names if speakers is None else speakers)
    for m in model_sets:
        missing = sorted(set(names) - set(m.names))
        if missing:
            raise DataError(f"fusion: {m.folder} has no model for {', '.join(missing[:5])}")
    return names, [[m.speaker(n) for n in names] for m in model_sets]


def fit_trials_fusion(model_sets, trials, *, cohorts=None, top_n=None, top_c=5, p_target=0.5, l2=1e-3):
    """A :class:`LinearFusion` of the models folders ``model_sets`` (loaded with
    :func:`~gmmkit_apps.speech.corpus.load_model_set`) fitted on the development trial list
    ``trials`` (:func:`~gmmkit_apps.speech.corpus.read_trials`; never the evaluation trials).
    Each folder scores every trial with :func:`~gmmkit_apps.speech.trials.evaluate_trials`: raw
    scores, or S-normalised ones with ``cohorts`` (one per folder,
    :func:`~gmmkit_apps.speech.trials.load_cohort`; adaptive with ``top_n``)."""
    from .trials import evaluate_trials

    if len(model_sets) < 2:
        raise ParameterError(f"a fusion needs at least two models folders, got {len(model_sets)}")
    cohorts = _cohorts(model_sets, cohorts)
    runs = [evaluate_trials(m, trials, top_c=top_c, cohort=c, top_n=top_n) for m, c in zip(model_sets, cohorts)]
    fusion = fit_fusion([r.scores for r in runs], runs[0].labels, p_target=p_target, l2=l2)
    return LinearFusion(fusion.offset, fusion.weights, system_records(model_sets),
                        "raw" if cohorts[0] is None else "snorm", top_n)


def _cohorts(model_sets, cohorts):
    cohorts = [None] * len(model_sets) if cohorts is None else list(cohorts)
    if len(cohorts) != len(model_sets) or len({c is None for c in cohorts}) > 1:
        raise ParameterError(f"fusion: give a cohort for every one of the {len(model_sets)} models folders, or none")
    return cohorts


def fused_scores(model_sets, files, fusion, *, cohorts=None, speakers=None, top_c=5):
    """Fused scores (n_files, n_speakers) of ``files`` against ``speakers`` (default: every
    speaker of the first folder, in its order): each models folder of ``model_sets`` scores the
    files (:func:`~gmmkit_apps.speech.trials.score_files`, normalised as the fusion was fitted:
    with ``cohorts`` for "snorm") and ``fusion`` adds the score sets. Returns ``(scores, names)``.
    Refuses folders in another number or order than the fusion's, or whose UBM is not the one
    it was fitted for."""
    from .trials import score_files

    if len(model_sets) != fusion.weights.size:
        raise DataError(f"fusion of {fusion.weights.size} systems given {len(model_sets)} models folders")
    for i, (m, want) in enumerate(zip(model_sets, fusion.systems)):
        if system_records([m])[0]["ubm_fingerprint"] != want["ubm_fingerprint"]:
            raise DataError(f"fusion: {m.folder} (system {i + 1}) is not the models folder the fusion was fitted "
                            "for (another UBM; give the folders in the fitting order)")
    cohorts = _cohorts(model_sets, cohorts)
    if fusion.norm is not None and (fusion.norm == "snorm") != (cohorts[0] is not None):
        raise DataError(f"fusion fitted on {fusion.norm} scores: "
                        f"{'give a cohort for every folder' if fusion.norm == 'snorm' else 'give no cohort'}")
    names, stacks = _speakers(model_sets, speakers)
    sets = [score_files(m, files, top_c=top_c, speakers=st, cohort=c, norm="snorm", top_n=fusion.top_n)
            for m, st, c in zip(model_sets, stacks, cohorts)]
    return fusion.apply(sets), names


def evaluate_fused(model_sets, trials, fusion, *, cohorts=None, top_c=5, p_target=0.01):
    """Verification metrics of the fused scores on a trial list
    (:func:`~gmmkit_apps.speech.corpus.read_trials`), as ``evaluate``'s: ``(summary, scores)``, the
    summary with the numbers of trials and targets, the EER and its threshold, the minimum detection
    cost at ``p_target`` and, over the files whose true speaker is enrolled, the closed-set
    identification accuracy; ``scores`` one fused score per trial (:func:`fused_scores`)."""
    from .metrics import eer, min_dcf

    files = list(dict.fromkeys(trials["path"]))
    unknown = sorted(set(trials["speaker"]) - set(model_sets[0].names))
    if unknown:
        raise DataError(f"{trials.attrs.get('source', 'trial list')}: speaker(s) {', '.join(unknown[:5])} have no "
                        f"model in {model_sets[0].folder}")
    M, names = fused_scores(model_sets, files, fusion, cohorts=cohorts, top_c=top_c)
    row, col = {f: i for i, f in enumerate(files)}, {n: j for j, n in enumerate(names)}
    labels = trials["target"].to_numpy(bool)
    scores = np.array([M[row[f], col[s]] for f, s in zip(trials["path"], trials["speaker"])])
    e, thr = eer(scores, labels)
    summary = {"trials": int(len(trials)), "targets": int(labels.sum()), "eer": e, "eer_threshold": thr,
               "min_dcf": min_dcf(scores, labels, p_target=p_target)[0], "p_target": p_target}
    truth = {f: s for f, s, t in zip(trials["path"], trials["speaker"], labels) if t}
    if truth:
        summary["identification_accuracy"] = float(np.mean([names[int(np.argmax(M[row[f]]))] == s
                                                            for f, s in truth.items()]))
        summary["identification_files"] = len(truth)
    return summary, scores


def save_fusion(fusion, path, *, overwrite=False):
    """Write ``fusion`` as a gmmkit model file (:func:`gmmkit.io.save_arrays`: arrays and JSON,
    no pickle), atomically; an existing file is kept unless ``overwrite``."""
    from gmmkit.io import save_arrays

    save_arrays(path, {"weights": np.asarray(fusion.weights, dtype=np.float64)},
                {"kind": FUSION_KIND, "offset": float(fusion.offset), "systems": list(fusion.systems),
                 "norm": fusion.norm, "top_n": fusion.top_n}, overwrite=overwrite)


def load_fusion(path):
    """Read a fusion written by :func:`save_fusion`; ModelFileError if it is not one or is damaged."""
    from gmmkit.io import load_arrays

    arrays, meta = load_arrays(path, kind=FUSION_KIND)
    w = arrays.get("weights")
    offset, systems, norm, top_n = meta.get("offset"), meta.get("systems"), meta.get("norm"), meta.get("top_n")
    ok = (w is not None and w.ndim == 1 and w.size >= 1 and np.issubdtype(w.dtype, np.floating)
          and np.all(np.isfinite(w)) and isinstance(offset, (int, float)) and math.isfinite(offset)
          and isinstance(systems, list) and len(systems) in (0, w.size)
          and all(isinstance(x, dict) and isinstance(x.get("ubm_fingerprint"), str) for x in systems)
          and norm in (None, "raw", "snorm") and (top_n is None or (isinstance(top_n, int) and top_n >= 1)))
    if not ok:
        raise ModelFileError(f"{path}: fusion file holds invalid weights, offset or systems")
    return LinearFusion(float(offset), w.astype(np.float64), tuple(systems), norm, top_n)
