"""Connected-word recognition: one Viterbi pass over a loop of word HMMs.

The word models of a fitted :class:`~gmmkit_apps.speech.words.WordRecognizer` (left-to-right
``gmmkit.GMMHMM`` each) are joined into one network: from the last state of any word the path
may enter the first state of any word (optionally an explicit pause model in between), paying
``word_penalty`` (a log-probability added per word: negative values give fewer, longer words,
positive ones more insertions). One time-synchronous Viterbi pass finds the best state path
through the whole recording, and the words it passes through are the transcript. Word error
rate is the Levenshtein distance between the reference and recognised word strings over the
reference length (:func:`word_errors`).

>>> import numpy as np
>>> from gmmkit_apps.speech.words import WordRecognizer
>>> from gmmkit_apps.speech.loop import WordLoop
>>> rng = np.random.default_rng(0)
>>> sound = {"up": [(-3, 3), (3, 3)], "down": [(3, -3), (-3, -3)]}   # two sounds each
>>> def say(word, n=12):
...     return np.vstack([rng.normal(m, 1, (n, 2)) for m in sound[word]])
>>> rec = WordRecognizer(n_mix=1).fit([say(w) for w in ["up", "down"] * 5], ["up", "down"] * 5)
>>> WordLoop(rec).decode(np.vstack([say("up"), say("down"), say("down")]))
['up', 'down', 'down']
"""
from __future__ import annotations

import numpy as np

from gmmkit.exceptions import DataError, ParameterError

from .words_viterbi import edge_logprobs, min_frames

__all__ = ["WordLoop", "word_errors"]


class WordLoop:
    """A word-loop network over the models of a fitted ``WordRecognizer``.

    Parameters
    ----------
    recognizer : fitted WordRecognizer
    word_penalty : float
        Log-probability added at every word entry (the word insertion penalty).
    pause : GMMHMM, optional
        A model of the pauses between words (for example a one-state GMM-HMM fitted on
        non-speech frames), allowed between any two words and at both ends; it outputs nothing.
    words : list of str, optional
        Only these of the recogniser's words may be recognised.

    A word is entered at any of its first ``recognizer.entry_states`` states and left from any
    of its last ``recognizer.exit_states``, at ``recognizer.edge_penalty`` per skipped state,
    as in isolated recognition (1 and 1: first and last state only; the pause model always).
    """

    def __init__(self, recognizer, *, word_penalty=0.0, pause=None, words=None):
        recognizer._check_fitted()
        if not np.isfinite(word_penalty):
            raise ParameterError(f"word_penalty must be finite, got {word_penalty!r}")
        if len(getattr(recognizer, "groups_", ())) > 1:
            raise ParameterError(f"the word models come in {len(recognizer.groups_)} groups "
                                 f"({', '.join(recognizer.groups_)}); connected recognition takes one set: "
                                 "train without --extra-train")
        known = [str(w) for w in recognizer.words_]
        keep = known if words is None else [str(w) for w in words]
        missing = sorted(set(keep) - set(known))
        if missing or not keep:
            raise ParameterError(f"unknown word(s) {missing} (the recogniser knows {', '.join(known)})"
                                 if missing else "no words to recognise")
        self.recognizer, self.word_penalty, self.pause = recognizer, float(word_penalty), pause
        models = [(w, recognizer.models_[known.index(w)], recognizer._state_densities(known.index(w)))
                  for w in keep]
        if pause is not None:
            from gmmkit import GaussianMixture

            dens = [GaussianMixture.from_parameters(pause.weights_[s], pause.means_[s], pause.covariances_[s],
                                                    covariance_type=pause.covariance_type)
                    for s in range(pause.n_components)]
            models.append((None, pause, dens))
        self._build(models)

    def _build(self, models):
        """Flatten the models: per state its density, self-loop and next-state log-probabilities."""
        self.labels_, self._densities, first, last = [], [], [], []
        stay, move = [], []
        for w, m, dens in models:
            S = m.n_components
            first.append(len(self._densities))
            self._densities += dens
            last.append(len(self._densities) - 1)
            with np.errstate(divide="ignore"):
                logA = np.log(m.transmat_)
            stay += [logA[s, s] for s in range(S)]
            move += [logA[s, s + 1] if s + 1 < S else -np.inf for s in range(S)]
            self.labels_.append(w)
        self._first, self._last = np.array(first), np.array(last)
        self._stay, self._move = np.array(stay), np.array(move)
        self._is_first = np.zeros(len(self._densities), bool)
        self._is_first[self._first] = True
        self._word_of = np.repeat(np.arange(len(models)), np.diff(np.append(self._first, len(self._densities))))
        rec = self.recognizer
        into, out = [], []  # per network state: log-probability of entering / leaving the word there
        for w, m, _ in models:
            edges = (rec.entry_states, rec.exit_states, rec.edge_penalty) if w is not None else (1, 1, 0.0)
            a, b = edge_logprobs(m.n_components, *edges)
            into.append(a)
            out.append(b)
        self._into, self._out = np.concatenate(into), np.concatenate(out)
        self._shortest = min(min_frames(m.n_components, *((rec.entry_states, rec.exit_states) if w is not None
                                                            else (1, 1))) for w, m, _ in models if w is not None)

    def emissions(self, X):
        """Log-density of every frame under every state of the network, shape (T, n_states)."""
        X = np.asarray(X, dtype=np.float64)
        D = self.recognizer.n_features_in_
        if X.ndim != 2 or X.shape[1] != D:
            raise DataError(f"need frames of shape (T, {D}), got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise DataError("the frames hold NaN or infinite values")
        return np.column_stack([g.score_samples(X) for g in self._densities])

    def decode(self, X, *, return_segments=False):
        """The recognised words of one recording's frames (T, D), in order; with
        ``return_segments``: (words, [(word, first frame, last frame), ...], log-probability)."""
        logb = self.emissions(X)
        T, N = logb.shape
        n_words = len(self._first)
        is_word = np.array([lab is not None for lab in self.labels_])
        enter = (np.where(is_word, self.word_penalty, 0.0) - np.log(n_words))[self._word_of] + self._into
        if T < self._shortest:
            raise DataError(f"recording of {T} frames is shorter than the shortest word model needs ({self._shortest})")
        delta = logb[0] + enter
        entry_time = np.zeros((T, N), dtype=np.int32)  # frame at which the current word was entered
        exit_state = np.full(T, -1, dtype=np.int64)     # state the best word ending at each frame left from
        for t in range(1, T):
            ends = delta + self._out
            k = int(np.argmax(ends))
            exit_state[t - 1] = k
            best_end = ends[k]
            via_move = np.full(N, -np.inf)
            via_move[1:] = (delta + self._move)[:-1]
            via_move[self._is_first] = -np.inf
            via_stay = delta + self._stay
            take_move = via_move > via_stay
            new = np.where(take_move, via_move, via_stay)
            et = np.where(take_move, np.roll(entry_time[t - 1], 1), entry_time[t - 1])
            better = best_end + enter > new
            new[better] = (best_end + enter)[better]
            et[better] = t
            entry_time[t] = et
            delta = new + logb[t]
        ends = delta + self._out
        k = int(np.argmax(ends))
        total = float(ends[k])
        if not np.isfinite(total):
            raise DataError("no path through the word loop explains the recording")
        segments, t_end = [], T - 1
        while True:
            start = int(entry_time[t_end, k])
            segments.append((self.labels_[self._word_of[k]], start, t_end))
            if start == 0:
                break
            t_end = start - 1
            k = int(exit_state[t_end])
        segments = [s for s in reversed(segments) if s[0] is not None]
        words = [s[0] for s in segments]
        return (words, segments, total) if return_segments else words


def word_errors(reference, hypothesis):
    """(substitutions, deletions, insertions) of the minimum-edit alignment of two word lists;
    the word error rate is their sum over ``len(reference)``.

    >>> word_errors("1 2 3".split(), "1 3 3 4".split())
    (1, 0, 1)
    """
    ref, hyp = list(reference), list(hypothesis)
    n, m = len(ref), len(hyp)
    # cost table of (total, subs, dels, ins), ties broken towards fewer total then fewer subs
    cost = [[(0, 0, 0, 0)] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = (i, 0, i, 0)
    for j in range(1, m + 1):
        cost[0][j] = (j, 0, 0, j)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            c, s, d, ins = cost[i - 1][j - 1]
            same = ref[i - 1] == hyp[j - 1]
            options = [(c + (not same), s + (not same), d, ins)]
            c, s, d, ins = cost[i - 1][j]
            options.append((c + 1, s, d + 1, ins))
            c, s, d, ins = cost[i][j - 1]
            options.append((c + 1, s, d, ins + 1))
            cost[i][j] = min(options)
    return cost[n][m][1:]
