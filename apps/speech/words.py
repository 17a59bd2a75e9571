"""``WordRecognizer``: isolated-word recognition with one left-to-right GMM-HMM per word.

Each word gets a :class:`gmmkit.GMMHMM` with a left-to-right topology (paths start in the
first state, stay or move one state right, end in the last), trained by Baum-Welch on the
word's utterances from a flat start. The number of states follows the word's typical length
(``frames_per_state`` frames per state of the median training utterance, between
``min_states`` and ``max_states``, and never more than its shortest training utterance).
An utterance is recognised by Viterbi: its score for a word is the log-probability of the best
state path through that word's model (``GMMHMM.decode``); the word of highest score wins. With
a ``threshold``, an utterance whose best score per frame is below it is "none of these"
(``reject_label``). With ``entry_states``/``exit_states`` above 1, recognition may enter a word
at any of its first states and leave it from any of its last (:mod:`.words_viterbi`).

>>> import numpy as np
>>> from gmmkit_apps.speech.words import WordRecognizer
>>> rng = np.random.default_rng(0)
>>> def say(word, n=12):                     # a "word": two sounds in a row
...     a, b = {"up": (-3, 3), "down": (3, -3)}[word]
...     return np.vstack([rng.normal(a, 1, (n, 2)), rng.normal(b, 1, (n, 2))])
>>> X = [say(w) for w in ["up", "down"] * 5]
>>> rec = WordRecognizer(n_mix=1).fit(X, ["up", "down"] * 5)
>>> rec.predict([say("down"), say("up")]).tolist()
['down', 'up']
"""
from __future__ import annotations

import os
import re

import numpy as np

from gmmkit.exceptions import DataError, ModelFileError, ParameterError

from .classifier import _sequences as _checked
from .words_viterbi import _check as _check_edges
from .words_viterbi import edge_logprobs, min_frames, viterbi

__all__ = ["WordRecognizer", "WORDS_KIND", "labelled_files", "parse_pattern"]

WORDS_KIND = "gmmkit-speech-words"
DEFAULT_PATTERN = "{word}_{speaker}_{n}"
#: Fewest frames of a speaker for fMLLR adaptation (``adapt="fmllr"``); fewer: not adapted.
ADAPT_MIN_FRAMES = 200
#: Fewest frames of a speaker for a full fMLLR matrix; fewer: a diagonal one (2 D parameters).
ADAPT_FULL_FRAMES = 1000


def _sequences(X, n_features=None):
    """Checked utterances (float64 arrays of frames), all with the same number of features."""
    seqs = _checked(X, n_features)
    return _checked(seqs, seqs[0].shape[1]) if n_features is None else seqs


class WordRecognizer:
    """One left-to-right GMM-HMM per word; Viterbi recognition with optional rejection.

    Parameters
    ----------
    n_states : int or "auto"
        States per word model; "auto": the median training length divided by
        ``frames_per_state``, clipped to [min_states, max_states] and to the word's
        shortest training utterance.
    n_mix : int
        Gaussians per state (reduced when a word has few frames).
    covariance_type : str
        Of the state mixtures ("diag" by default; see :class:`gmmkit.GMMHMM`).
    frames_per_state, min_states, max_states : for ``n_states="auto"``.
    threshold : float or None
        Reject ("none of these") an utterance whose best Viterbi log-likelihood per frame
        is below this; None: never reject.
    reject_label : str
        The label of a rejected utterance.
    max_iter, tol, reg_covar, random_state
        Baum-Welch settings of every word model. ``reg_covar`` (added to every variance) is a
        variance floor: on CMVN features (unit variance) 0.3 keeps the models from fitting the
        training speakers too closely (on FSDD's held-out speakers nicolas and george it gained 14 and
        8 points over 1e-3).
    adapt : None or "fmllr"
        Unsupervised speaker adaptation at recognition time: per speaker (``speakers=`` of
        :meth:`score`; all the utterances of a call when not given), recognise, estimate one
        fMLLR transform ``x -> A x + b`` of the speaker's frames on the recognised words
        (:mod:`gmmkit_apps.speech.words_adapt`), and recognise the transformed frames. It
        needs a few utterances per speaker (see ``adapt_min_frames``); on FSDD's held-out
        speakers it gained 7.2 points (84.2% -> 91.4%; docs/speech.md).
    adapt_iter, adapt_passes, adapt_min_frames, adapt_full_frames
        fMLLR rounds (alignment + row update) per estimate; recognise-estimate passes (each
        starts again from the previous pass's adapted words; on FSDD 1 pass of 3 rounds gave
        90.0%, 2 x 3 90.7%, 3 x 5 91.4%, 4 x 8 91.5%); a speaker with fewer than
        ``adapt_min_frames`` frames in all is recognised without adaptation, with fewer than
        ``adapt_full_frames`` gets a diagonal transform.
    entry_states, exit_states, edge_penalty
        At recognition (and fMLLR alignment, and in the word loop), a word model may be entered
        at any of its first ``entry_states`` states and left from any of its last
        ``exit_states``, paying ``edge_penalty`` (a log-probability <= 0) per skipped state
        (:mod:`gmmkit_apps.speech.words_viterbi`): for recordings cut inside a word. 1 and 1:
        strict left-to-right (training always is).

    Attributes
    ----------
    words_ : ndarray of str ; groups_ : ndarray of str (model sets; "all" without groups) ;
    models_ : list of fitted GMMHMM, group by group, each in ``words_`` order ;
    n_features_in_ : int ; n_train_ : training utterances per word.
    """

    def __init__(self, n_states="auto", n_mix=5, covariance_type="diag", *, frames_per_state=5.0,
                 min_states=3, max_states=10, threshold=None, reject_label="<none>", max_iter=20,
                 tol=1e-4, reg_covar=0.3, random_state=0, adapt=None, adapt_iter=5, adapt_passes=3,
                 adapt_min_frames=ADAPT_MIN_FRAMES, adapt_full_frames=ADAPT_FULL_FRAMES, entry_states=1,
                 exit_states=1, edge_penalty=0.0):
        self.n_states = n_states
        self.n_mix = n_mix
        self.covariance_type = covariance_type
        self.frames_per_state = frames_per_state
        self.min_states = min_states
        self.max_states = max_states
        self.threshold = threshold
        self.reject_label = reject_label
        self.max_iter = max_iter
        self.tol = tol
        self.reg_covar = reg_covar
        self.random_state = random_state
        self.adapt = adapt
        self.adapt_iter = adapt_iter
        self.adapt_passes = adapt_passes
        self.adapt_min_frames = adapt_min_frames
        self.adapt_full_frames = adapt_full_frames
        self.entry_states = entry_states
        self.exit_states = exit_states
        self.edge_penalty = edge_penalty

    # ------------------------------------------------------------------ fitting
    def _states_for(self, lengths):
        if self.n_states == "auto":
            if not (self.frames_per_state > 0 and 1 <= self.min_states <= self.max_states):
                raise ParameterError("need frames_per_state > 0 and 1 <= min_states <= max_states")
            s = int(round(np.median(lengths) / self.frames_per_state))
            s = min(max(s, self.min_states), self.max_states)
        elif isinstance(self.n_states, (int, np.integer)) and self.n_states >= 1:
            s = int(self.n_states)
        else:
            raise ParameterError(f"n_states={self.n_states!r}: use 'auto' or a positive integer")
        return max(1, min(s, int(np.min(lengths))))

    def fit(self, X, y, *, groups=None, progress=None):
        """Train one word model per label on its utterances (``X``: list of (frames, D) arrays).

        ``groups``: one name per utterance (e.g. "real", "synthetic"): one model set per group,
        each trained on its group alone, and a word's score is the mean of its models' Viterbi
        log-likelihoods (a product of experts; on FSDD real and synthetic voices so combined
        beat the two pooled, see docs/speech.md). Every group needs every word.
        ``progress(done, total)`` is called after each word model. Returns self.
        """
        from gmmkit import GMMHMM

        seqs = _sequences(X)
        y = np.asarray([str(v) for v in y])
        if y.ndim != 1 or len(y) != len(seqs):
            raise DataError(f"got {len(seqs)} utterances but {y.size} labels")
        g = np.full(len(y), "all") if groups is None else np.asarray([str(v) for v in groups])
        if g.shape != y.shape:
            raise DataError(f"got {len(seqs)} utterances but {g.size} groups")
        if not isinstance(self.n_mix, (int, np.integer)) or self.n_mix < 1:
            raise ParameterError(f"n_mix={self.n_mix!r} must be a positive integer")
        self._check_adapt()
        _check_edges(self.entry_states, self.exit_states, self.edge_penalty)
        words, names = np.unique(y), np.unique(g)
        if self.reject_label in set(words):
            raise DataError(f"a word is named like the rejection label {self.reject_label!r}")
        for name in names:
            missing = sorted(set(words) - set(y[g == name]))
            if missing:
                raise DataError(f"group {str(name)!r} has no utterance of word(s) {', '.join(missing)}")
        models, counts = [], []
        for i, (name, w) in enumerate((name, w) for name in names for w in words):
            ws = [s for s, lab, gr in zip(seqs, y, g) if lab == w and gr == name]
            lengths = np.array([len(s) for s in ws])
            S = self._states_for(lengths)
            M = int(max(1, min(self.n_mix, lengths.sum() // (S * 10))))  # >= 10 frames per Gaussian
            hmm = GMMHMM(S, M, self.covariance_type, topology="left-right", max_iter=self.max_iter,
                         tol=self.tol, reg_covar=self.reg_covar, random_state=self.random_state)
            import warnings

            with warnings.catch_warnings():  # re-seeded components are normal on small words
                warnings.simplefilter("ignore")
                hmm.fit(np.concatenate(ws), lengths)
            models.append(hmm)
            counts.append(len(ws))
            if progress is not None:
                progress(i + 1, len(words) * len(names))
        self.words_, self.models_, self.groups_ = words, models, names
        self.__dict__.pop("_emissions", None)  # per-state densities of the previous models
        self.n_train_ = np.asarray(counts).reshape(len(names), len(words)).sum(axis=0)
        self.n_features_in_ = seqs[0].shape[1]
        return self

    def _check_adapt(self):
        if self.adapt not in (None, "fmllr"):
            raise ParameterError(f"adapt={self.adapt!r}: use None or 'fmllr'")
        if self.adapt and self.covariance_type != "diag":
            raise ParameterError("adapt='fmllr' needs covariance_type='diag'")
        if self.adapt and not (self.adapt_iter >= 1 and self.adapt_passes >= 1
                               and 0 <= self.adapt_min_frames <= self.adapt_full_frames):
            raise ParameterError("need adapt_iter >= 1, adapt_passes >= 1, 0 <= adapt_min_frames <= adapt_full_frames")

    def _check_fitted(self):
        if not hasattr(self, "models_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("WordRecognizer is not fitted yet: call fit() first")

    # ------------------------------------------------------------------ scoring
    def _state_densities(self, j):
        """Per-state emission mixtures of word j as GaussianMixtures (for the path scores)."""
        from gmmkit import GaussianMixture

        cache = self.__dict__.setdefault("_emissions", {})
        if j not in cache:
            m = self.models_[j]
            cache[j] = [GaussianMixture.from_parameters(m.weights_[s], m.means_[s], m.covariances_[s],
                                                        covariance_type=m.covariance_type)
                        for s in range(m.n_components)]
        return cache[j]

    def _edges(self):
        return (self.entry_states, self.exit_states) != (1, 1)

    def _min_frames(self, j):
        """Fewest frames an utterance needs for a path through word model j."""
        return min_frames(self.models_[j].n_components, self.entry_states, self.exit_states)

    def word_paths(self, j, seqs, idx, scores=True):
        """(Viterbi log-likelihoods, state path of the concatenated frames) of the utterances
        ``idx`` of ``seqs`` under word model j. Strict left-to-right: one ``GMMHMM.decode`` over
        them all (the engine returns only the total), each one's best-path log-probability
        recomputed from its path (start + transitions + emissions; skipped with ``scores=False``:
        None); with entry or exit states: :func:`~gmmkit_apps.speech.words_viterbi.viterbi`."""
        m = self.models_[j]
        X = np.concatenate([seqs[i] for i in idx])
        lengths = np.array([len(seqs[i]) for i in idx])
        with np.errstate(divide="ignore"):
            logA, logpi = np.log(m.transmat_), np.log(m.startprob_)
        if self._edges():
            logb = np.column_stack([gm.score_samples(X) for gm in self._state_densities(j)])
            start, end = edge_logprobs(m.n_components, self.entry_states, self.exit_states, self.edge_penalty)
            return viterbi(logb, lengths, start + logpi[0], logA, end)
        _, path = m.decode(X, lengths)
        if not scores:
            return None, path
        logb = np.empty(len(X))
        for s, gm in enumerate(self._state_densities(j)):
            at = np.flatnonzero(path == s)
            if at.size:
                logb[at] = gm.score_samples(X[at])
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        step = np.concatenate([[0.0], logA[path[:-1], path[1:]]])
        step[starts] = logpi[path[starts]]
        return np.add.reduceat(logb + step, starts), path

    def _viterbi(self, seqs):
        need = [self._min_frames(j) for j in range(len(self.models_))]
        for i, s in enumerate(seqs):
            if len(s) < min(need):
                raise DataError(f"utterance {i}: {len(s)} frames, the word models need at least {min(need)}")
        out = np.full((len(seqs), len(self.models_)), -np.inf)
        n = np.array([len(s) for s in seqs])
        for j, m in enumerate(self.models_):
            idx = np.flatnonzero(n >= need[j])
            if not idx.size:
                continue
            try:
                out[idx, j] = self.word_paths(j, seqs, idx)[0]
            except DataError:  # some utterance has probability zero under this word: one by one
                for i in idx:
                    try:
                        out[i, j] = m.decode(seqs[i])[0]
                    except DataError:
                        pass
        return out.reshape(len(seqs), -1, len(self.words_)).mean(axis=1)  # the groups' geometric mean

    def score(self, X, versions=(), speakers=None):
        """Viterbi log-likelihood of every utterance under every word model, shape
        (n_utterances, n_words); -inf where an utterance is shorter than a model's states.
        With ``adapt="fmllr"``: of the speaker-adapted frames (``speakers``: one label per
        utterance; None: the utterances are all one speaker's).

        ``versions``: lists of other versions of the utterances, each parallel to ``X`` (for
        example the audio at other speeds, a test-time speaker normalisation); a word's
        score is then the best per-frame score over the versions, times the utterance's frames.
        """
        self._check_fitted()
        seqs = _sequences(X, self.n_features_in_)
        self._check_adapt()
        if self.adapt is not None:
            if len(versions):
                raise ParameterError("adapt and scoring versions (test speeds) do not combine")
            from .words_adapt import adapt_speakers

            seqs, logdet = adapt_speakers(self, seqs, speakers, n_iter=self.adapt_iter, passes=self.adapt_passes,
                                          min_frames=self.adapt_min_frames, full_frames=self.adapt_full_frames)
        out = self._viterbi(seqs)
        if self.adapt is not None:  # the Jacobian: log-likelihoods of the original frames
            out += (logdet * np.array([len(x) for x in seqs]))[:, None]
        if len(versions):
            n = np.array([len(x) for x in seqs], dtype=np.float64)[:, None]
            best = out / n
            for v in versions:
                v = _sequences(v, self.n_features_in_)
                if len(v) != len(seqs):
                    raise DataError("every versions list needs one version of each utterance")
                best = np.maximum(best, self._viterbi(v) / np.array([len(x) for x in v], dtype=np.float64)[:, None])
            out = best * n
        return out

    def predict_log_proba(self, X, scores=None):
        """Posterior over the words (equal priors) from the Viterbi scores, in log."""
        s = self.score(X) if scores is None else scores
        mx = s.max(axis=1, keepdims=True)
        return s - (mx + np.log(np.exp(s - mx).sum(axis=1, keepdims=True)))

    def predict_proba(self, X, versions=(), speakers=None):
        """Posterior over the words (rows sum to 1; the rejection is not a class here)."""
        return np.exp(self.predict_log_proba(None, scores=self.score(X, versions, speakers)))

    def recognize(self, X, threshold="default", versions=(), speakers=None):
        """Everything about each utterance: a list of dicts with the word (or the rejection
        label), its Viterbi log-likelihood in total and per frame, the runner-up's margin,
        the posterior, and every word's score (``versions``, ``speakers``: see :meth:`score`)."""
        seqs = _sequences(X, getattr(self, "n_features_in_", None))
        S = self.score(seqs, versions, speakers)
        thr = self.threshold if threshold == "default" else threshold
        logp = self.predict_log_proba(None, scores=S)
        rows = []
        for i, s in enumerate(seqs):
            order = np.argsort(-S[i])
            best = order[0]
            per_frame = S[i, best] / len(s)
            rejected = thr is not None and per_frame < thr
            rows.append({"word": self.reject_label if rejected else str(self.words_[best]),
                         "best": str(self.words_[best]), "frames": len(s), "loglik": float(S[i, best]),
                         "loglik_per_frame": float(per_frame),
                         "margin": float(S[i, best] - S[i, order[1]]) if len(order) > 1 else None,
                         "probability": float(np.exp(logp[i, best])), "rejected": bool(rejected),
                         "scores": {str(w): float(v) for w, v in zip(self.words_, S[i])}})
        return rows

    def predict(self, X, threshold="default", versions=(), speakers=None):
        """The recognised word of each utterance (``reject_label`` below the threshold)."""
        return np.asarray([r["word"] for r in self.recognize(X, threshold, versions, speakers)])

    # ------------------------------------------------------------------ files
    def save(self, path, *, overwrite=True, extra=None):
        """Write a model file (arrays + JSON, no pickle); read it with :meth:`load`."""
        from gmmkit.io import save_arrays

        self._check_fitted()
        arrays = {}
        for j, m in enumerate(self.models_):
            arrays[f"start{j}"], arrays[f"trans{j}"] = m.startprob_, m.transmat_
            arrays[f"w{j}"], arrays[f"m{j}"], arrays[f"c{j}"] = m.weights_, m.means_, m.covariances_
        meta = {"kind": WORDS_KIND, "words": [str(w) for w in self.words_],
                "n_train": [int(c) for c in self.n_train_], "covariance_type": self.covariance_type,
                "groups": [str(g) for g in self.groups_],
                "n_features": int(self.n_features_in_),
                "params": {"n_states": self.n_states, "n_mix": int(self.n_mix),
                           "frames_per_state": float(self.frames_per_state),
                           "min_states": int(self.min_states), "max_states": int(self.max_states),
                           "threshold": None if self.threshold is None else float(self.threshold),
                           "reject_label": str(self.reject_label), "max_iter": int(self.max_iter),
                           "reg_covar": float(self.reg_covar), "adapt": self.adapt,
                           "adapt_iter": int(self.adapt_iter), "adapt_passes": int(self.adapt_passes),
                           "adapt_min_frames": int(self.adapt_min_frames),
                           "adapt_full_frames": int(self.adapt_full_frames),
                           "entry_states": int(self.entry_states), "exit_states": int(self.exit_states),
                           "edge_penalty": float(self.edge_penalty)},
                "extra": extra or {}}
        save_arrays(path, arrays, meta, overwrite=overwrite)

    @classmethod
    def load(cls, path):
        """Read a recogniser written by :meth:`save`; returns (recogniser, extra metadata)."""
        from gmmkit.io import load_arrays

        arrays, meta = load_arrays(path, kind=WORDS_KIND)  # validated archive, nothing unpickled
        from gmmkit import GMMHMM

        try:
            words = [str(w) for w in meta["words"]]
            cov = str(meta["covariance_type"])
            D = int(meta["n_features"])
            p = dict(meta["params"])
            rec = cls(covariance_type=cov, **{k: p[k] for k in ("n_states", "n_mix", "frames_per_state",
                                                                  "min_states", "max_states", "threshold",
                                                                  "reject_label", "max_iter", "reg_covar",
                                                                  "adapt", "adapt_iter", "adapt_passes",
                                                                  "adapt_min_frames", "adapt_full_frames",
                                                                  "entry_states", "exit_states", "edge_penalty")
                                               if k in p})  # files older than a setting get its default
            _check_edges(rec.entry_states, rec.exit_states, rec.edge_penalty)
            models, groups = [], [str(g) for g in meta.get("groups") or ["all"]]
            for j, w in enumerate(words * len(groups)):
                m = GMMHMM.from_parameters(arrays[f"start{j}"], arrays[f"trans{j}"], arrays[f"w{j}"],
                                           arrays[f"m{j}"], arrays[f"c{j}"], covariance_type=cov,
                                           topology="left-right", reg_covar=rec.reg_covar)
                if m.n_features_in_ != D:
                    raise ValueError(f"word {w!r} has {m.n_features_in_} features, the file says {D}")
                models.append(m)
            if not words:
                raise ValueError("no words")
            rec.words_, rec.models_, rec.groups_ = np.asarray(words), models, np.asarray(groups)
            rec.n_train_ = np.asarray(meta.get("n_train") or [0] * len(words))
            rec.n_features_in_ = D
        except (KeyError, TypeError, ValueError, np.linalg.LinAlgError) as exc:
            raise ModelFileError(f"{path}: word model file is incomplete or invalid ({exc})") from None
        return rec, meta.get("extra") or {}


# ---------------------------------------------------------------------- labelled data
def parse_pattern(pattern):
    """A regular expression from a file-name pattern such as ``{word}_{speaker}_{n}`` (fields
    ``word`` (required), ``speaker`` and any other name; the extension is ignored).

    >>> parse_pattern("{word}_{speaker}_{n}").match("7_jackson_32").group("word", "speaker")
    ('7', 'jackson')
    """
    fields = re.findall(r"{(\w+)}", pattern)
    if "word" not in fields:
        raise ParameterError(f"pattern {pattern!r} needs a {{word}} field")
    if len(set(fields)) != len(fields):
        raise ParameterError(f"pattern {pattern!r} repeats a field")
    rx, pos = "", 0
    for m in re.finditer(r"{(\w+)}", pattern):
        rx += re.escape(pattern[pos:m.start()]) + f"(?P<{m.group(1)}>[^/\\\\]+?)"
        pos = m.end()
    return re.compile("^" + rx + re.escape(pattern[pos:]) + "$")


def labelled_files(source, *, pattern=None):
    """(files, words, speakers or None) from a folder with one sub-folder per word, a folder or
    file list whose names follow ``pattern`` (e.g. ``{word}_{speaker}_{n}``), or a CSV table
    with columns ``file``, ``word`` (or ``label``) and optionally ``speaker`` (paths relative
    to the table)."""
    import pandas as pd

    from .corpus import audio_files

    sources = [os.fspath(s) for s in (source if isinstance(source, (list, tuple)) else [source])]
    if len(sources) == 1 and sources[0].lower().endswith(".csv"):
        path = sources[0]
        if not os.path.isfile(path):
            raise DataError(f"{path}: no such table")
        try:
            df = pd.read_csv(path, dtype=str)
        except Exception as exc:
            raise DataError(f"{path}: cannot read the table ({' '.join(str(exc).split())[:200]})") from None
        col = "word" if "word" in df.columns else "label" if "label" in df.columns else None
        if "file" not in df.columns or col is None:
            raise DataError(f"{path}: need columns 'file' and 'word' (or 'label'), got {list(df.columns)}")
        base = os.path.dirname(os.path.abspath(path))
        files = [f if os.path.isabs(f) else os.path.join(base, f) for f in df["file"]]
        spk = df["speaker"].tolist() if "speaker" in df.columns else None
        return files, df[col].tolist(), spk
    if pattern is None and len(sources) == 1 and os.path.isdir(sources[0]):
        subs = sorted(d for d in os.listdir(sources[0]) if os.path.isdir(os.path.join(sources[0], d)))
        if subs:
            files, words = [], []
            for w in subs:
                fs = audio_files([os.path.join(sources[0], w)])
                files += fs
                words += [w] * len(fs)
            return files, words, None
    files = audio_files(sources)
    rx = parse_pattern(pattern or DEFAULT_PATTERN)
    words, speakers = [], []
    for f in files:
        m = rx.match(os.path.splitext(os.path.basename(f))[0])
        if m is None:
            raise DataError(f"{f}: file name does not follow the pattern {pattern or DEFAULT_PATTERN!r} "
                            "(give --pattern, a table, or one sub-folder per word)")
        words.append(m.group("word"))
        speakers.append(m.groupdict().get("speaker"))
    return files, words, (speakers if all(s is not None for s in speakers) else None)
