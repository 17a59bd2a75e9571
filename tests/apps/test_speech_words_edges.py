"""Speech app, word models entered at any of their first states and left from any of their last
(``apps/speech/words_viterbi.py``; ``WordRecognizer(entry_states=, exit_states=, edge_penalty=)``;
the fMLLR alignment, the word loop and ``gmmkit speech words --entry-states``).

Oracles: every state path of tiny models enumerated (the textbook definition of the best path),
each state's mixture written out with scipy.stats; hmmlearn's Viterbi for a free end; the strict
case against ``GMMHMM.decode``.
"""
import itertools
import json
import os

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from gmmkit.exceptions import ParameterError
from gmmkit_apps.speech.loop import WordLoop
from gmmkit_apps.speech.words import WordRecognizer
from gmmkit_apps.speech.words_adapt import align
from gmmkit_apps.speech.words_viterbi import edge_logprobs, min_frames, viterbi

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIGITS = os.path.join(ROOT, "datasets", "speech", "digits")

SOUNDS = {"a": [(-4, 0), (0, 4), (4, 0)], "b": [(4, 0), (0, 4), (-4, 0)], "c": [(0, -4), (0, 4), (0, -4)]}


def _words(*args, ok=True):
    """``gmmkit speech words ARGS`` in-process; exit 0 asserted unless ``ok=False``."""
    from typer.testing import CliRunner

    from gmmkit.cli import make_app

    res = CliRunner().invoke(make_app(), ["speech", "words", *map(str, args)])
    assert not ok or res.exit_code == 0, (res.output, res.exception)
    return res


def _say(rng, word, n=8, cut=(0, 0)):
    """A synthetic word: 3 sounds of n frames each, ``cut`` frames cut off its (start, end)."""
    X = np.vstack([rng.normal(m, 1.0, (n, 2)) for m in SOUNDS[word]])
    return X[cut[0]:len(X) - cut[1]]


def _brute(logb, log_start, logA, log_end):
    """Best path and its log-probability by enumerating every state sequence (S ** T of them)."""
    T, S = logb.shape
    best, arg = -np.inf, None
    for path in itertools.product(range(S), repeat=T):
        v = log_start[path[0]] + log_end[path[-1]] + sum(logb[t, s] for t, s in enumerate(path))
        v += sum(logA[a, b] for a, b in zip(path[:-1], path[1:]))
        if v > best:
            best, arg = v, path
    return best, arg


def _left_right(rng, S):
    A = np.diag(rng.uniform(0.2, 0.8, S))
    A[np.arange(S - 1), np.arange(1, S)] = 1 - A.diagonal()[:-1]
    A[-1, -1] = 1.0
    with np.errstate(divide="ignore"):
        return np.log(A)


@pytest.mark.parametrize("entry,exit,penalty,skips", [(1, 1, 0.0, False), (2, 1, -0.7, False), (1, 3, -1.5, False),
                                                       (3, 2, 0.0, False), (4, 4, -2.0, False), (2, 2, -0.5, True)])
def test_viterbi_against_every_path(entry, exit, penalty, skips):
    rng = np.random.default_rng(entry * 10 + exit)
    S = 4
    logA = _left_right(rng, S)
    if skips:  # any upward jump (the general recursion, not the stay-or-move one)
        A = np.triu(rng.dirichlet(np.ones(S), S))
        logA = np.where(A > 0, np.log(np.maximum(A, 1e-300)), -np.inf)
        logA -= logsumexp(logA, axis=1, keepdims=True)
    start, end = edge_logprobs(S, entry, exit, penalty)
    lengths = [1, 2, 3, 5, 6]  # several too short for a strict model, batched together
    logb = rng.normal(0, 2, (sum(lengths), S))
    scores, path = viterbi(logb, lengths, start, logA, end)
    o = 0
    for u, T in enumerate(lengths):
        want, best_path = _brute(logb[o:o + T], start, logA, end)
        assert np.isclose(scores[u], want) or (want == -np.inf and scores[u] == -np.inf)
        assert (T >= min_frames(S, entry, exit)) == np.isfinite(want)
        if np.isfinite(want):
            assert tuple(path[o:o + T]) == best_path
        else:
            assert np.all(path[o:o + T] == -1)
        o += T


def test_free_end_against_hmmlearn():
    """A free end (log end 0 in every state), as hmmlearn's; the entry weights normalised into its startprob."""
    from hmmlearn.hmm import CategoricalHMM

    rng = np.random.default_rng(3)
    S, T = 5, 12
    logA = _left_right(rng, S)
    start, end = edge_logprobs(S, 3, 1, -0.5)[0], np.zeros(S)
    symbols = rng.integers(0, 4, T)
    emis = rng.dirichlet(np.ones(4), S)
    h = CategoricalHMM(S, n_features=4)
    h.startprob_, h.transmat_, h.emissionprob_ = np.exp(start - logsumexp(start)), np.exp(logA), emis
    want, want_path = h.decode(symbols[:, None], algorithm="viterbi")
    got, path = viterbi(np.log(emis[:, symbols].T), [T], start, logA, end)
    assert np.isclose(got[0], want + logsumexp(start))
    assert path.tolist() == want_path.tolist()


@pytest.fixture(scope="module")
def rec():
    rng = np.random.default_rng(0)
    words = list("abc") * 6
    return WordRecognizer(n_mix=2, n_states=4, reg_covar=1e-3).fit([_say(rng, w) for w in words], words)


def _twin_score(rec, j, X, entry, exit, penalty):
    """Best-path log-likelihood of X under word j, by dynamic programming over the states with each
    mixture written out with scipy.stats (no code shared with the recogniser's)."""
    m = rec.models_[j]
    S = m.n_components
    logb = np.array([[logsumexp([np.log(m.weights_[s, k]) + multivariate_normal.logpdf(
        x, m.means_[s, k], np.diag(m.covariances_[s, k])) for k in range(m.n_mix)]) for s in range(S)] for x in X])
    best = np.full(S, -np.inf)
    for s in range(min(entry, S)):
        best[s] = s * penalty + logb[0, s]
    for t in range(1, len(X)):
        new = np.full(S, -np.inf)
        for s in range(S):
            for r in (s - 1, s):
                if r >= 0 and m.transmat_[r, s] > 0:
                    new[s] = max(new[s], best[r] + np.log(m.transmat_[r, s]) + logb[t, s])
        best = new
    return max(best[S - 1 - s] + s * penalty for s in range(min(exit, S)))


def test_recognizer_scores_and_truncated_onsets(rec):
    rng = np.random.default_rng(1)
    cut = [_say(rng, w, cut=(9, 0)) for w in "abc"] + [_say(rng, w, cut=(0, 9)) for w in "abc"]
    strict = rec.score(cut)
    j = 0
    assert np.isclose(strict[0, j], _twin_score(rec, j, cut[0], 1, 1, 0.0))
    rec.entry_states, rec.exit_states, rec.edge_penalty = 3, 2, -0.5
    try:
        loose = rec.score(cut)
        for i, j in [(0, 0), (1, 2), (4, 1), (5, 0), (3, 0)]:
            assert np.isclose(loose[i, j], _twin_score(rec, j, cut[i], 3, 2, -0.5))
        assert np.all(loose >= strict - 1e-9)  # more paths, never a worse best one
        assert rec.predict(cut).tolist() == list("abcabc")
        # the fMLLR alignment takes the same paths: the path's own log-probability is the score
        words = list("abcabc")
        (js, path), = align(rec, cut, words)
        o = 0
        for i, x in enumerate(cut):
            p, m = path[o:o + len(x)], rec.models_[js[i]]
            start, end = edge_logprobs(m.n_components, 3, 2, -0.5)
            lp = start[p[0]] + end[p[-1]] + np.sum(np.log(m.transmat_[p[:-1], p[1:]]))
            lp += sum(rec._state_densities(js[i])[s].score_samples(x[t:t + 1])[0] for t, s in enumerate(p))
            assert np.isclose(lp, loose[i, js[i]])
            o += len(x)
        assert path[0] > 0 or path[len(cut[0]) - 1] < rec.models_[0].n_components - 1
    finally:
        rec.entry_states, rec.exit_states, rec.edge_penalty = 1, 1, 0.0


def _strict(rec, X):
    keep = rec.entry_states, rec.exit_states
    rec.entry_states = rec.exit_states = 1
    try:
        return rec.score(X)
    finally:
        rec.entry_states, rec.exit_states = keep


def test_word_loop_consistent_with_isolated_scores(rec):
    rng = np.random.default_rng(2)
    rec.entry_states, rec.exit_states, rec.edge_penalty = 2, 3, -0.3
    try:
        loop = WordLoop(rec, word_penalty=-5.0)
        one = _say(rng, "b", cut=(12, 0))  # its first sound missing: entered at state 1
        words, segments, total = loop.decode(one, return_segments=True)
        enter = -5.0 - np.log(len(rec.words_))
        assert words == ["b"] and np.isclose(total, rec.score([one]).max() + enter)
        assert rec.score([one]).max() > rec.score([one])[0, 1] - 1e-9 > _strict(rec, one)[0, 1] + 10
        X = np.vstack([_say(rng, "a", cut=(0, 12)), _say(rng, "c", cut=(12, 0)), _say(rng, "b")])
        words, segments, total = loop.decode(X, return_segments=True)
        assert words == ["a", "c", "b"]
        parts = [X[a:b + 1] for _, a, b in segments]
        iso = rec.score(parts)
        idx = [list(rec.words_).index(w) for w in words]
        assert np.isclose(total, sum(iso[k, j] for k, j in enumerate(idx)) + len(words) * enter)
        strict = _strict(rec, parts)
        assert strict[0, idx[0]] < iso[0, idx[0]] - 10  # "a" left early: the exit states matter
    finally:
        rec.entry_states, rec.exit_states, rec.edge_penalty = 1, 1, 0.0


def test_settings_checked_saved_and_old_files(rec, tmp_path):
    for bad in (dict(entry_states=0), dict(exit_states=1.5), dict(edge_penalty=0.5)):
        with pytest.raises(ParameterError):
            WordRecognizer(**bad).fit([np.zeros((5, 2))] * 2, ["a", "b"])
    new = WordRecognizer(n_mix=2, n_states=4, entry_states=3, exit_states=2, edge_penalty=-1.25)
    new.__dict__.update({k: v for k, v in rec.__dict__.items() if k.endswith("_")})
    new.save(tmp_path / "m.gmmw")
    back, _ = WordRecognizer.load(tmp_path / "m.gmmw")
    assert (back.entry_states, back.exit_states, back.edge_penalty) == (3, 2, -1.25)
    X = [_say(np.random.default_rng(4), w, cut=(8, 0)) for w in "abc"]
    assert np.allclose(back.score(X), new.score(X))
    from gmmkit.io import load_arrays, save_arrays

    arrays, meta = load_arrays(tmp_path / "m.gmmw", kind="gmmkit-speech-words")
    for k in ("entry_states", "exit_states", "edge_penalty"):  # a file from before the setting
        del meta["params"][k]
    save_arrays(tmp_path / "old.gmmw", arrays, meta)
    old, _ = WordRecognizer.load(tmp_path / "old.gmmw")
    assert (old.entry_states, old.exit_states, old.edge_penalty) == (1, 1, 0.0)
    assert np.allclose(old.score(X), rec.score(X))


def test_cli_entry_exit_states(tmp_path):
    files = [os.path.join(DIGITS, f"{d}_{s}_{n}.flac") for d in "012" for s in ("george", "lucas") for n in range(3)]
    model = tmp_path / "m.gmmw"
    out = json.loads(_words("train", *files, "-o", model, "--mix", "1", "--entry-states", "3",
                            "--exit-states", "2", "--edge-penalty", "-2", "--json").stdout)
    assert (out["entry_states"], out["exit_states"], out["edge_penalty"]) == (3, 2, -2.0)
    rec, _ = WordRecognizer.load(model)
    assert (rec.entry_states, rec.exit_states, rec.edge_penalty) == (3, 2, -2.0)
    rows = json.loads(_words("recognize", "-m", model, *files[:2], "--json").stdout)
    from gmmkit_apps.speech.features import FrontEnd, extract

    feats = [extract(f, FrontEnd(n_mfcc=13, vad_db=40.0)) for f in files[:2]]
    assert np.allclose([r["loglik"] for r in rows], rec.score(feats).max(axis=1))
    strict = json.loads(_words("recognize", "-m", model, *files[:2], "--entry-states", "1", "--exit-states", "1",
                               "--json").stdout)
    rec.entry_states = rec.exit_states = 1
    assert np.allclose([r["loglik"] for r in strict], rec.score(feats).max(axis=1))
    ev = json.loads(_words("evaluate", *files, "-m", model, "--entry-states", "2", "--json").stdout)
    assert ev["n"] == len(files)
    bad = _words("recognize", "-m", model, files[0], "--edge-penalty", "1", ok=False)
    assert bad.exit_code == 2 and "--edge-penalty" in bad.output and "Traceback" not in bad.output
