"""Speech app, fMLLR speaker adaptation of word GMM-HMMs (``apps/speech/words_adapt.py``,
``WordRecognizer(adapt="fmllr")``, ``gmmkit speech words ... --adapt fmllr``).

Oracles: the row-by-row update against a direct numerical maximisation (scipy.optimize) of the
same auxiliary function, and the whole estimate against a direct maximisation of the
log-likelihood of the aligned frames written out with scipy.stats (a slow textbook twin).
"""
import os

import numpy as np
import pytest
from scipy.optimize import minimize

from gmmkit.exceptions import ParameterError
from gmmkit_apps.speech.words import WordRecognizer
from gmmkit_apps.speech.words_adapt import (
    _frame_gaussians,
    adapt_speakers,
    align,
    fmllr_estimate,
    fmllr_objective,
    fmllr_stats,
    fmllr_update,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIGITS = os.path.join(ROOT, "datasets", "speech", "digits")
WORDS = ["a", "b", "c"] * 8
SOUNDS = {"a": [(-4, 0), (0, 4), (4, 0)], "b": [(4, 0), (0, 4), (-4, 0)], "c": [(0, -4), (0, 4), (0, -4)]}
SPEAKER = (np.array([[0.6, 0.3], [-0.2, 0.8]]), np.array([2.0, -1.5]))  # a new "voice": x -> M x + c


def _say(rng, word, voice=None, n=10, scale=1.0):
    """A synthetic "word": 3 sounds (2-D means times ``scale``), about n frames each, said by ``voice``."""
    k = n + int(rng.integers(-3, 4))
    X = np.vstack([rng.normal(np.multiply(m, scale), 1.0, (k, 2)) for m in SOUNDS[word]])
    return X if voice is None else X @ voice[0].T + voice[1]


@pytest.fixture(scope="module")
def rec():
    rng = np.random.default_rng(0)
    return WordRecognizer(n_mix=2, frames_per_state=10).fit([_say(rng, w) for w in WORDS], WORDS)


def _adapting(rec, **params):
    """A recogniser with ``rec``'s fitted word models and ``adapt="fmllr"``."""
    out = WordRecognizer(n_mix=2, frames_per_state=10, adapt="fmllr", **params)
    out.__dict__.update({k: v for k, v in rec.__dict__.items() if k.endswith("_")})
    return out


def _twin_loglik(X, states, rec, js, lengths, A, b):
    """sum_t log p(A x_t + b | aligned state) + T log|det A|, each state's mixture written out
    with scipy.stats.multivariate_normal (the textbook definition)."""
    from scipy.stats import multivariate_normal

    model = np.repeat(js, lengths)
    Y = X @ A.T + b
    total = 0.0
    for j, s in set(zip(model, states)):
        m = rec.models_[j]
        y = Y[(model == j) & (states == s)]
        total += np.log(sum(w * multivariate_normal(mu, np.diag(v)).pdf(y).reshape(-1)
                            for w, mu, v in zip(m.weights_[s], m.means_[s], m.covariances_[s]))).sum()
    return total + len(X) * np.log(abs(np.linalg.det(A)))


def test_row_update_maximises_the_auxiliary_function():
    rng = np.random.default_rng(1)
    D = 3
    xi = np.hstack([rng.normal(size=(40, D)), np.ones((40, 1))])
    inv_var = rng.uniform(0.5, 2.0, size=(40, D))
    G = np.einsum("td,ti,tj->dij", inv_var, xi, xi)
    k = rng.normal(size=(D, D + 1)) * 5
    beta = 40.0

    def Q(w):
        W = w.reshape(D, D + 1)
        return -(beta * np.linalg.slogdet(W[:, :D])[1] - 0.5 * np.einsum("di,dij,dj->", W, G, W)
                 + np.sum(W * k))

    W = np.hstack([np.eye(D), np.zeros((D, 1))])
    values = [Q(W.ravel())]
    for _ in range(60):
        W = fmllr_update(W, G, k, beta)
        values.append(Q(W.ravel()))
    assert np.all(np.diff(values) <= 1e-9)  # each sweep maximises the rows one by one: never worse
    start = W.ravel() + rng.normal(0.0, 0.05, W.size)  # near the sweeps' answer: same sign of det A
    best = minimize(Q, start, method="BFGS", options={"gtol": 1e-9})
    assert values[-1] == pytest.approx(best.fun, abs=1e-6)
    np.testing.assert_allclose(W.ravel(), best.x, atol=1e-4)
    # diagonal fMLLR: the same function over the diagonal of A and b only
    Wd = np.hstack([np.eye(D), np.zeros((D, 1))])
    for _ in range(60):
        Wd = fmllr_update(Wd, G, k, beta, diagonal=True)
    assert np.count_nonzero(Wd[:, :D] - np.diag(np.diag(Wd))) == 0

    def Qd(v):
        return Q(np.hstack([np.diag(v[:D]), v[D:, None]]).ravel())

    best = minimize(Qd, np.concatenate([np.diag(Wd), Wd[:, D]]) + rng.normal(0.0, 0.05, 2 * D), method="BFGS",
                    options={"gtol": 1e-9})
    np.testing.assert_allclose(np.concatenate([np.diag(Wd), Wd[:, D]]), best.x, atol=1e-4)


def test_estimate_is_a_maximum_of_the_aligned_loglikelihood(rec):
    rng = np.random.default_rng(2)
    words = ["a", "b", "c", "a"]
    X = [_say(rng, w, SPEAKER, n=6) for w in words]
    history = []
    A, b = fmllr_estimate(rec, X, words, n_iter=1, sweeps=40, history=history)
    assert np.all(np.diff(history) >= -1e-8)  # EM with the log|det A| term: never decreases
    js, path = align(rec, X, words)[0]  # the alignment of the identity transform, kept fixed
    lengths = np.array([len(x) for x in X])
    Xc = np.concatenate(X)
    assert history[0] == pytest.approx(_twin_loglik(Xc, path, rec, js, lengths, np.eye(2), np.zeros(2)), rel=1e-9)
    assert history[-1] == pytest.approx(_twin_loglik(Xc, path, rec, js, lengths, A, b), rel=1e-9)

    def neg(w):
        return -_twin_loglik(Xc, path, rec, js, lengths, w[:4].reshape(2, 2), w[4:])

    start = np.concatenate([A.ravel(), b]) + rng.normal(0.0, 0.05, 6)
    best = minimize(neg, start, method="BFGS", options={"gtol": 1e-6})
    assert -best.fun <= history[-1] + 1e-4  # no better transform near the estimate: the same maximum
    np.testing.assert_allclose(best.x, np.concatenate([A.ravel(), b]), atol=1e-3)
    # the statistics are those of the posteriors at the current transform
    gauss = [_frame_gaussians(rec, (js, path), lengths)]
    G, k, beta = fmllr_stats(Xc, gauss, A, b)
    assert beta == len(Xc) and G.shape == (2, 3, 3) and k.shape == (2, 3)
    assert fmllr_objective(Xc, gauss, A, b) == pytest.approx(history[-1])


def test_adaptation_recovers_a_new_voice():
    rng = np.random.default_rng(0)  # sounds closer together: a new voice is then often misheard
    rec = WordRecognizer(n_mix=2, frames_per_state=10).fit([_say(rng, w, scale=0.4) for w in WORDS], WORDS)
    words = ["a", "b", "c"] * 10
    voice = (np.eye(2), np.array([0.0, -1.5]))
    X = [_say(rng, w, voice, scale=0.4) for w in words]
    plain = np.mean(rec.predict(X) == np.array(words))
    rec2 = _adapting(rec)
    adapted = np.mean(rec2.predict(X) == np.array(words))
    assert plain < 0.7 and adapted > 0.9, (plain, adapted)
    # the scores are log-likelihoods of the original frames: transformed scores + frames x log|det A|
    Y, logdet = adapt_speakers(rec, X, full_frames=rec2.adapt_full_frames)
    n = np.array([len(x) for x in X])[:, None]
    np.testing.assert_allclose(rec2.score(X), rec.score(Y) + logdet[:, None] * n)
    # fewer frames than adapt_full_frames: a diagonal transform; more: a full one
    for full, diagonal in ((10 ** 6, True), (0, False)):
        Y, _ = adapt_speakers(rec, X, full_frames=full)
        Z = np.hstack([np.concatenate(X), np.ones((sum(len(x) for x in X), 1))])
        W = np.linalg.lstsq(Z, np.concatenate(Y), rcond=None)[0].T  # Y = X A' + b exactly
        assert (np.abs(W[0, 1]) + np.abs(W[1, 0]) < 1e-10) == diagonal
    # per speaker: two voices adapted separately, or a speaker too short to adapt left as is
    other = [_say(rng, w, scale=0.4) for w in words]
    spk = ["new"] * len(X) + ["old"] * len(other)
    assert np.mean(rec2.predict(X + other, speakers=spk) == np.array(words * 2)) > 0.9
    np.testing.assert_allclose(rec2.score(X + other, speakers=spk)[:len(X)], rec2.score(X))
    rec2.adapt_min_frames = rec2.adapt_full_frames = 10 ** 6
    np.testing.assert_allclose(rec2.score(X), rec.score(X))
    rec2.adapt = "mllr"
    with pytest.raises(ParameterError, match="adapt"):
        rec2.score(X)


def test_adapt_setting_travels_in_the_model_file(rec, tmp_path):
    rec2 = _adapting(rec, adapt_iter=2, adapt_passes=2, adapt_min_frames=50, adapt_full_frames=60)
    rec2.save(tmp_path / "m.gmmw")
    back, _ = WordRecognizer.load(tmp_path / "m.gmmw")
    assert (back.adapt, back.adapt_iter, back.adapt_passes, back.adapt_min_frames, back.adapt_full_frames) == \
        ("fmllr", 2, 2, 50, 60)
    rng = np.random.default_rng(4)
    X = [_say(rng, w, SPEAKER) for w in ["a", "b", "c"] * 3]
    np.testing.assert_allclose(back.score(X), rec2.score(X))


def test_cli_adapt(tmp_path):
    from typer.testing import CliRunner

    from gmmkit.cli import make_app

    def words(*args, ok=True):
        res = CliRunner().invoke(make_app(), ["speech", "words", *map(str, args)])
        assert not ok or res.exit_code == 0, (res.output, res.exception)
        return res

    model = tmp_path / "d.gmmw"
    files = sorted(os.path.join(DIGITS, f) for f in os.listdir(DIGITS) if f.startswith(("1_", "2_")))
    words("train", *files, "-o", model, "--adapt", "fmllr", "--mix", "1", "-q")
    back, _ = WordRecognizer.load(model)
    assert back.adapt == "fmllr"
    george = [f for f in files if "_george_" in f]
    on = words("recognize", "-m", model, *george).output
    off = words("recognize", "-m", model, "--adapt", "none", *george).output
    assert on != off  # the per-frame scores differ; the words are all recognised either way
    assert [line.split("\t")[1] for line in on.splitlines()] == [os.path.basename(f)[0] for f in george]
    assert "not adapted" in words("recognize", "-m", model, george[0]).output  # one file: too little speech
    res = words("recognize", "-m", model, "--adapt", "mllr", george[0], ok=False)
    assert res.exit_code == 2 and "--adapt" in res.output


def test_leave_one_speaker_out_adapts_each_held_out_speaker():
    from gmmkit_apps.speech.words_eval import cross_validate_speakers

    rng = np.random.default_rng(5)
    voices = {"s1": (np.eye(2), np.zeros(2)), "s2": (np.eye(2), np.array([0.0, 1.0])),
              "s3": (np.eye(2), np.array([0.0, -1.5]))}
    words = ["a", "b", "c"] * 10
    X, y, spk = [], [], []
    for s, v in voices.items():
        X += [_say(rng, w, v, scale=0.4) for w in words]
        y, spk = y + words, spk + [s] * len(words)
    extra = ([_say(rng, w, scale=0.4) for w in WORDS], WORDS)
    params = dict(n_mix=2, frames_per_state=10, adapt="fmllr", adapt_iter=2, adapt_passes=1)
    rows, _ = cross_validate_speakers(X, y, spk, extra=extra, **params)
    y, spk = np.array(y), np.array(spk)
    for r in rows:  # = a recogniser with the two model sets, adapting the held-out speaker's utterances
        tr, te = np.flatnonzero(spk != r["speaker"]), np.flatnonzero(spk == r["speaker"])
        rec = WordRecognizer(**params).fit([X[i] for i in tr] + extra[0], list(y[tr]) + extra[1],
                                           groups=["data"] * len(tr) + ["extra"] * len(extra[0]))
        assert r["predicted"].tolist() == rec.predict([X[i] for i in te]).tolist()
    assert rows[2]["accuracy"] > 0.9


def test_blockwise_gathering_equals_one_block(rec, monkeypatch):
    # the aligned Gaussians are gathered BLOCK frames at a time: blocks of 7 (a partial last
    # block included) give the textbook twin's log-likelihood and the one-block statistics
    from gmmkit_apps.speech import words_adapt

    rng = np.random.default_rng(5)
    words = ["a", "c", "b", "b"]
    X = [_say(rng, w, SPEAKER, n=8) for w in words]
    js, path = align(rec, X, words)[0]
    lengths = np.array([len(x) for x in X])
    Xc = np.concatenate(X)
    A, b = np.array([[1.1, 0.2], [-0.1, 0.9]]), np.array([0.3, -0.4])
    gauss = [_frame_gaussians(rec, (js, path), lengths)]
    G1, k1, _ = fmllr_stats(Xc, gauss, A, b)
    monkeypatch.setattr(words_adapt, "BLOCK", 7)
    assert len(Xc) % 7 and len(list(gauss[0].blocks())) == -(-len(Xc) // 7)
    G7, k7, _ = fmllr_stats(Xc, gauss, A, b)
    np.testing.assert_allclose(G7, G1, rtol=1e-12)
    np.testing.assert_allclose(k7, k1, rtol=1e-12)
    assert fmllr_objective(Xc, gauss, A, b) == pytest.approx(_twin_loglik(Xc, path, rec, js, lengths, A, b), rel=1e-9)
