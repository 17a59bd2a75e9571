"""Speech app, connected words: ``WordLoop`` (one Viterbi over a loop of word HMMs) and
``word_errors``, checked against a dense textbook Viterbi over the same network."""
import numpy as np
import pytest

from gmmkit import GMMHMM
from gmmkit.exceptions import DataError, ParameterError
from gmmkit_apps.speech.loop import WordLoop, word_errors
from gmmkit_apps.speech.words import WordRecognizer

SOUNDS = {"a": [(-4, 0), (0, 4), (4, 0)], "b": [(4, 0), (0, 4), (-4, 0)], "c": [(0, -4), (0, 4), (0, -4)]}


def _say(rng, word, n=8):
    k = n + int(rng.integers(-2, 3))
    return np.vstack([rng.normal(m, 1.0, (k, 2)) for m in SOUNDS[word]])


@pytest.fixture(scope="module")
def rec():
    rng = np.random.default_rng(1)
    words = list("abc") * 6
    return WordRecognizer(n_states=3, n_mix=1, max_iter=10).fit([_say(rng, w) for w in words], words)


def _dense_viterbi(loop, X):
    """Textbook Viterbi over the loop as one dense (N, N) log-transition matrix: within each
    model its own transitions, from every model's last state into every first state at the
    entry cost. Returns the best final log-probability and the per-frame state path."""
    logb = loop.emissions(X)
    T, N = logb.shape
    logA = np.full((N, N), -np.inf)
    first, last = loop._first, loop._last
    n_models = len(first)
    words = np.array([lab is not None for lab in loop.labels_])
    enter = np.where(words, loop.word_penalty, 0.0) - np.log(n_models)
    for f, e in zip(first, last):
        for s in range(f, e + 1):
            logA[s, s] = loop._stay[s]
            if s < e:
                logA[s, s + 1] = loop._move[s]
    for e in last:
        for k, f in enumerate(first):
            logA[e, f] = max(logA[e, f], enter[k]) if e == f else enter[k]
    delta = np.full(N, -np.inf)
    delta[first] = logb[0, first] + enter
    back = np.zeros((T, N), dtype=int)
    for t in range(1, T):
        cand = delta[:, None] + logA
        back[t] = np.argmax(cand, axis=0)
        delta = cand[back[t], np.arange(N)] + logb[t]
    s = last[np.argmax(delta[last])]
    best = delta[s]
    path = [s]
    for t in range(T - 1, 0, -1):
        s = back[t, s]
        path.append(s)
    return best, np.array(path[::-1])


def _words_of(loop, path, starts=False):
    """Word sequence of a state path (a word each time its first state is entered), or the
    frames where they start."""
    out = []
    for t, s in enumerate(path):
        if s in loop._first and (t == 0 or path[t - 1] != s):
            k = list(loop._first).index(s)
            if loop.labels_[k] is not None:
                out.append(t if starts else loop.labels_[k])
    return out


@pytest.mark.parametrize("penalty", [0.0, -20.0, 15.0])
def test_loop_equals_dense_viterbi(rec, penalty):
    rng = np.random.default_rng(2)
    X = np.vstack([_say(rng, w) for w in "abcab"])
    loop = WordLoop(rec, word_penalty=penalty)
    words, segments, total = loop.decode(X, return_segments=True)
    best, path = _dense_viterbi(loop, X)
    assert total == pytest.approx(best, rel=1e-10, abs=1e-8)
    assert words == _words_of(loop, path)
    assert [seg[1] for seg in segments] == _words_of(loop, path, starts=True)
    # segments tile the recording
    assert segments[0][1] == 0 and segments[-1][2] == len(X) - 1
    assert all(b[1] == a[2] + 1 for a, b in zip(segments, segments[1:]))


def test_loop_recognises_strings_and_penalty_controls_insertions(rec):
    rng = np.random.default_rng(3)
    refs = ["abc", "ccab", "ba", "acbca"]
    loop = WordLoop(rec)
    errors = sum(sum(word_errors(list(r), loop.decode(np.vstack([_say(rng, w) for w in r])))) for r in refs)
    assert errors == 0
    X = np.vstack([_say(rng, w) for w in "abcabc"])
    # a prohibitive entry cost leaves room for as few words as the frames allow
    assert len(WordLoop(rec, word_penalty=-1e4).decode(X)) < 6
    assert len(WordLoop(rec, word_penalty=60.0).decode(X)) > 6


def test_loop_with_pause_model(rec):
    rng = np.random.default_rng(4)
    pause = GMMHMM(1, 1, random_state=0).fit(rng.normal(0, 0.3, (200, 2)))
    quiet = lambda n: rng.normal(0, 0.3, (n, 2))  # noqa: E731
    X = np.vstack([quiet(15), _say(rng, "b"), quiet(20), _say(rng, "a"), _say(rng, "c"), quiet(10)])
    loop = WordLoop(rec, pause=pause)
    words, segments, total = loop.decode(X, return_segments=True)
    assert words == ["b", "a", "c"]
    best, path = _dense_viterbi(loop, X)
    assert total == pytest.approx(best, rel=1e-10, abs=1e-8)
    assert words == _words_of(loop, path)


def test_word_errors():
    assert word_errors([], []) == (0, 0, 0)
    assert word_errors(list("123"), list("123")) == (0, 0, 0)
    assert word_errors(list("123"), []) == (0, 3, 0)
    assert word_errors([], list("12")) == (0, 0, 2)
    assert word_errors(list("1234"), list("1334")) == (1, 0, 0)
    assert word_errors(list("1234"), list("124")) == (0, 1, 0)
    assert word_errors(list("1234"), list("12534")) == (0, 0, 1)
    assert sum(word_errors(list("kitten"), list("sitting"))) == 3


def test_loop_errors(rec):
    with pytest.raises(ParameterError, match="unknown word"):
        WordLoop(rec, words=["a", "z"])
    with pytest.raises(ParameterError, match="finite"):
        WordLoop(rec, word_penalty=np.nan)
    loop = WordLoop(rec, words=["a", "b"])
    with pytest.raises(DataError, match="shape"):
        loop.decode(np.zeros((20, 3)))
    with pytest.raises(DataError, match="shorter"):
        loop.decode(np.zeros((2, 2)))
    with pytest.raises(DataError, match="NaN"):
        loop.decode(np.full((20, 2), np.nan))
