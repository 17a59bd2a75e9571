"""fMLLR speaker adaptation of word GMM-HMMs (``WordRecognizer(adapt="fmllr")``).

fMLLR (constrained MLLR, Gales 1998) is one affine transform ``x -> A x + b`` of a speaker's
frames, chosen by maximum likelihood under the word models given a state alignment (for
unsupervised adaptation: the Viterbi alignment of the first-pass recognised words). For
diagonal covariances each row of ``[A b]`` has a closed-form update given the others; a few
sweeps over the rows, with the Gaussians' posteriors recomputed in between, never decrease
``sum_t log p(A x_t + b) + T log|det A|``. (Spliced-frame LDA and MLLT, the other standard
feature transforms, were measured and did not help: ``benchmarks/bench_speech_words_adapt.py``.)

>>> import numpy as np
>>> from gmmkit_apps.speech.words import WordRecognizer
>>> from gmmkit_apps.speech.words_adapt import fmllr_estimate
>>> rng = np.random.default_rng(0)
>>> say = lambda m: rng.normal(m, 1, (20, 2))
>>> rec = WordRecognizer(n_mix=1, n_states=2).fit([say(-3), say(3)] * 4, ["a", "b"] * 4)
>>> A, b = fmllr_estimate(rec, [say(-1), say(5)], ["a", "b"])   # a new "voice": shifted by +2
>>> bool(abs(b.mean() + 2) < 0.5)
True
"""
from __future__ import annotations

import numpy as np

from gmmkit.exceptions import DataError, ParameterError

__all__ = ["align", "fmllr_stats", "fmllr_update", "fmllr_objective", "fmllr_estimate", "adapt_speakers"]


# ---------------------------------------------------------------------- alignments
def align(rec, seqs, words):
    """Viterbi state alignment of utterances ``seqs`` with the models of their ``words`` in
    every model set of the recogniser ``rec`` (entered and left as it recognises, see
    :meth:`WordRecognizer.word_paths`): a list over model sets of (model index per utterance,
    state path of the concatenated frames)."""
    index = {str(w): j for j, w in enumerate(rec.words_)}
    words = [str(w) for w in words]
    unknown = sorted(set(words) - set(index))
    if unknown:
        raise DataError(f"word(s) {', '.join(unknown)} not in the model")
    W = len(rec.words_)
    lengths = np.array([len(s) for s in seqs])
    starts = np.concatenate([[0], np.cumsum(lengths)])
    out = []
    for g in range(len(rec.models_) // W):
        js = np.array([g * W + index[w] for w in words])
        path = np.empty(starts[-1], dtype=np.int64)
        for j in np.unique(js):
            ix = np.flatnonzero(js == j)
            _, p = rec.word_paths(j, seqs, ix, scores=False)  # with the recogniser's entry and exit states
            if np.any(p < 0):
                raise DataError(f"an utterance has no path through the model of word {rec.words_[j % W]!r}")
            pos = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in ix])
            path[pos] = p
        out.append((js, path))
    return out


#: frames per block when the aligned Gaussians are gathered (never frames x Gaussians x dims at once)
BLOCK = 4096


class _Aligned:
    """The aligned state's mixture of every frame, as per-state tables (weights (S, M), means and
    variances (S, M, D); states with fewer Gaussians padded with zero weight) and each frame's
    row in them; :meth:`dense` gathers a block of frames."""

    def __init__(self, w, mu, var, row):
        self.w, self.mu, self.var, self.row = w, mu, var, row

    def dense(self, frames=slice(None)):
        r = self.row[frames]
        return self.w[r], self.mu[r], self.var[r]

    def blocks(self):
        """(frame slice, weights, means, variances) for consecutive blocks of :data:`BLOCK` frames."""
        for lo in range(0, len(self.row), BLOCK):
            sl = slice(lo, lo + BLOCK)
            yield (sl, *self.dense(sl))


def _frame_gaussians(rec, alignment, lengths):
    """Per frame, the aligned state's mixture (an :class:`_Aligned`)."""
    js, path = alignment
    model = np.repeat(js, lengths)
    used = np.unique(model)
    M = max(m.weights_.shape[1] for m in rec.models_)
    D = rec.models_[0].means_.shape[-1]
    S = sum(rec.models_[j].weights_.shape[0] for j in used)
    w, mu, var = np.zeros((S, M)), np.zeros((S, M, D)), np.ones((S, M, D))
    row = np.empty(len(path), dtype=np.int64)
    o = 0
    for j in used:
        m = rec.models_[j]
        if m.covariance_type != "diag":
            raise ParameterError("fMLLR here needs diagonal covariances")
        n, k = m.weights_.shape
        w[o:o + n, :k], mu[o:o + n, :k], var[o:o + n, :k] = m.weights_, m.means_, m.covariances_
        at = np.flatnonzero(model == j)
        row[at] = o + path[at]
        o += n
    return _Aligned(w, mu, var, row)


def _log_components(Y, w, mu, var):
    with np.errstate(divide="ignore"):
        return (np.log(w) - 0.5 * np.sum(np.log(2 * np.pi * var) + (Y[:, None, :] - mu) ** 2 / var, axis=2))


# ---------------------------------------------------------------------- fMLLR
def fmllr_objective(X, gaussians, A, b):
    """``sum_t log p(A x_t + b | aligned state) + T log|det A|`` over the model sets (mean over
    sets, as the recogniser averages them)."""
    from scipy.special import logsumexp

    Y = X @ A.T + b
    ll = np.mean([sum(logsumexp(_log_components(Y[sl], w, mu, var), axis=1).sum() for sl, w, mu, var in g.blocks())
                  for g in gaussians])
    return ll + len(X) * np.linalg.slogdet(A)[1]


def fmllr_stats(X, gaussians, A, b):
    """Sufficient statistics of the row updates at the current transform: ``G`` (D, D+1, D+1),
    ``k`` (D, D+1) and the frame count ``beta`` (Gaussian posteriors at ``A x + b``, averaged
    over the model sets)."""
    from scipy.special import softmax

    T, D = X.shape
    xi = np.hstack([X, np.ones((T, 1))])
    G, k = np.zeros((D, D + 1, D + 1)), np.zeros((D, D + 1))
    Y = X @ A.T + b
    for g in gaussians:
        for sl, w, mu, var in g.blocks():
            gam = softmax(_log_components(Y[sl], w, mu, var), axis=1)  # (block, M)
            iv = np.einsum("tm,tmd->td", gam, 1.0 / var)
            im = np.einsum("tm,tmd->td", gam, mu / var)
            xb = xi[sl]
            G += np.stack([(xb * iv[:, d:d + 1]).T @ xb for d in range(D)]) / len(gaussians)
            k += im.T @ xb / len(gaussians)
    return G, k, float(T)


def fmllr_update(W, G, k, beta, diagonal=False):
    """One sweep of Gales's row-by-row update of ``W = [A b]`` (D, D+1): each row maximises
    ``beta log|det A| - 1/2 w G_i w' + w k_i'`` given the others (``diagonal``: only the
    diagonal of ``A`` and ``b`` move, 2 D parameters instead of D (D+1), for little data)."""
    W = np.array(W, dtype=np.float64)
    D = W.shape[0]
    for i in range(D):
        cols = np.array([i, D]) if diagonal else np.arange(D + 1)
        p = np.append(np.linalg.inv(W[:, :D])[:, i], 0.0)[cols]  # cofactor row / det A
        Gi = np.linalg.inv(G[i][np.ix_(cols, cols)])
        a, c = p @ Gi @ p, p @ Gi @ k[i, cols]
        roots = (-c + np.array([1.0, -1.0]) * np.sqrt(c * c + 4 * a * beta)) / (2 * a)
        obj = [beta * np.log(abs(r * a + c)) - 0.5 * r * r * a for r in roots]
        W[i, cols] = (roots[int(np.argmax(obj))] * p + k[i, cols]) @ Gi
    return W


def fmllr_estimate(rec, seqs, words, *, n_iter=3, sweeps=1, history=None, diagonal=False):
    """fMLLR transform (A, b) of one speaker's utterances ``seqs`` said as ``words`` (true or
    recognised) under the recogniser ``rec``: ``n_iter`` rounds of (Viterbi alignment of the
    transformed frames, ``sweeps`` row sweeps with the Gaussian posteriors recomputed before
    each). ``history``: a list that receives the objective (see :func:`fmllr_objective`) at the
    start and after each sweep, at fixed alignment within a round. ``diagonal``: see
    :func:`fmllr_update`."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):  # small products: one thread is much faster on a busy machine
        return _fmllr_rounds(rec, seqs, words, n_iter, sweeps, history, diagonal)


def _fmllr_rounds(rec, seqs, words, n_iter, sweeps, history, diagonal):
    X = np.concatenate(seqs)
    lengths = np.array([len(s) for s in seqs])
    D = X.shape[1]
    A, b = np.eye(D), np.zeros(D)
    for _ in range(n_iter):
        Y = X @ A.T + b
        cut = np.cumsum(lengths)[:-1]
        gaussians = [_frame_gaussians(rec, a, lengths) for a in align(rec, np.split(Y, cut), words)]
        if history is not None:
            history.append(fmllr_objective(X, gaussians, A, b))
        for _ in range(sweeps):
            W = fmllr_update(np.hstack([A, b[:, None]]), *fmllr_stats(X, gaussians, A, b), diagonal=diagonal)
            A, b = W[:, :D], W[:, D]
            if history is not None:
                history.append(fmllr_objective(X, gaussians, A, b))
    return A, b


# ---------------------------------------------------------------------- recogniser hook
def adapt_speakers(rec, seqs, speakers=None, *, n_iter=5, passes=3, min_frames=0, full_frames=0):
    """The utterances ``seqs`` with each speaker's unsupervised fMLLR transform applied
    (``WordRecognizer(adapt="fmllr")``), and each utterance's ``log|det A|`` (the Jacobian: a
    score of the transformed frames plus frames x this is the log-likelihood of the original
    frames under the adapted model). Per speaker (``speakers``: one label per utterance;
    None: all one speaker), recognise, estimate the transform on the recognised words, and
    repeat ``passes`` times from the re-recognised words. A speaker with fewer than
    ``min_frames`` (and 10) frames in all is left as is; with fewer than ``full_frames`` (and
    10 (D + 1), for a well-posed estimate), the transform is diagonal."""
    speakers = np.zeros(len(seqs), dtype=int) if speakers is None else np.asarray([str(s) for s in speakers])
    if len(speakers) != len(seqs):
        raise DataError(f"got {len(seqs)} utterances but {len(speakers)} speaker labels")
    out, logdet = list(seqs), np.zeros(len(seqs))
    for s in np.unique(speakers):
        ix = np.flatnonzero(speakers == s)
        X = [seqs[i] for i in ix]
        frames = sum(len(x) for x in X)
        if frames < max(min_frames, 10):
            continue
        Y = X
        for _ in range(passes):
            words = rec.words_[rec._viterbi(Y).argmax(axis=1)]
            diagonal = frames < max(full_frames, 10 * (X[0].shape[1] + 1))  # a full matrix needs many frames
            A, b = fmllr_estimate(rec, X, words, n_iter=n_iter, diagonal=diagonal)
            Y = [x @ A.T + b for x in X]
        for i, y in zip(ix, Y):
            out[i] = y
        logdet[ix] = np.linalg.slogdet(A)[1]
    return out, logdet
