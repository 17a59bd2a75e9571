"""Viterbi through a left-to-right word model that may be entered at any of its first
``entry`` states and left from any of its last ``exit`` states (``WordRecognizer(entry_states=,
exit_states=)``).

A recording cut at the word's onset (FSDD's george says "two" without its /t/ burst in most
files) or at its end cannot use the states of the missing sound; a strict left-to-right model
(start in state 0, end in the last) forces the first frames through them anyway. Here the path
may start in state ``s < entry`` at a log-probability of ``s * penalty`` and end in state
``S - 1 - s`` (``s < exit``) at ``s * penalty``: each skipped state costs ``penalty``
(a log-probability, <= 0). ``entry = exit = 1`` is the usual left-to-right Viterbi.

>>> import numpy as np
>>> logb = np.log([[.1, .8, .1], [.1, .1, .8]])            # 2 frames, 3 states
>>> h, no = np.log(.5), -np.inf
>>> logA = np.array([[h, h, no], [no, h, h], [no, no, 0.0]])
>>> pi, end = edge_logprobs(3, 2, 1, -1.0)                  # may start in state 1 at e^-1
>>> score, path = viterbi(logb, [2], pi, logA, end)
>>> path.tolist(), bool(np.isclose(score[0], -1 + np.log(.8 * .5 * .8)))
([1, 2], True)
"""
from __future__ import annotations

import numpy as np

from gmmkit.exceptions import ParameterError

__all__ = ["edge_logprobs", "viterbi", "min_frames"]


def edge_logprobs(S, entry=1, exit=1, penalty=0.0):
    """(log start, log end) vectors of an ``S``-state left-to-right model entered at any of its
    first ``entry`` states and left from any of its last ``exit`` (``penalty`` per skipped state)."""
    entry, exit = _check(entry, exit, penalty)
    start, end = np.full(S, -np.inf), np.full(S, -np.inf)
    k_in, k_out = min(entry, S), min(exit, S)
    start[:k_in] = penalty * np.arange(k_in)
    end[S - k_out:] = penalty * np.arange(k_out)[::-1]
    return start, end


def _check(entry, exit, penalty):
    for name, v in (("entry_states", entry), ("exit_states", exit)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ParameterError(f"{name}={v!r} must be a positive integer (1: the first/last state only)")
    if not (np.isfinite(penalty) and penalty <= 0):
        raise ParameterError(f"edge_penalty={penalty!r} must be a finite log-probability <= 0")
    return int(entry), int(exit)


def min_frames(S, entry=1, exit=1):
    """Fewest frames a path needs through ``S`` states moving at most one state per frame."""
    return max(1, S - (min(entry, S) - 1) - (min(exit, S) - 1))


def viterbi(logb, lengths, log_start, logA, log_end, *, paths=True):
    """Best-path log-probabilities of sequences under one HMM with free start and end vectors.

    ``logb`` (N, S): each frame's log-density under each state, the sequences (``lengths``)
    one after the other; ``log_start``, ``log_end`` (S,), ``logA`` (S, S) in log. Returns
    (scores (n_seq,), state path (N,) or None); a sequence no path explains scores -inf (its
    path: -1). All sequences advance together, one frame at a time (padded to the longest).
    """
    logb = np.asarray(logb, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.int64)
    U, (N, S), Tm = len(lengths), logb.shape, int(lengths.max())
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    t_of = np.arange(N) - np.repeat(starts, lengths)
    u_of = np.repeat(np.arange(U), lengths)
    B = np.zeros((U, Tm, S))
    B[u_of, t_of] = logb
    back = np.zeros((U, Tm, S), dtype=np.int16) if paths else None
    delta = log_start[None, :] + B[:, 0]
    last = lengths - 1
    best = np.full(U, -np.inf)
    end_state = np.zeros(U, dtype=np.int64)

    def finish(t):
        done = np.flatnonzero(last == t)
        if done.size:
            fin = delta[done] + log_end[None, :]
            end_state[done] = fin.argmax(axis=1)
            best[done] = fin[np.arange(done.size), end_state[done]]

    finish(0)
    idx = np.arange(S)
    off = ~(np.eye(S, dtype=bool) | np.eye(S, k=1, dtype=bool))
    band = not np.any(np.isfinite(logA[off]))  # stay or move one state right: O(S) per frame, not O(S^2)
    stay, move = np.diag(logA), np.concatenate([[-np.inf], np.diag(logA, 1)])
    for t in range(1, Tm):
        if band:
            here = delta + stay
            step = np.concatenate([np.full((U, 1), -np.inf), delta[:, :-1]], axis=1) + move
            arg = np.where((step >= here) & (idx > 0), idx - 1, idx)  # ties: the lower state, as argmax
            delta = np.maximum(here, step) + B[:, t]
        else:
            cand = delta[:, :, None] + logA[None, :, :]  # (U, from, to)
            arg = cand.argmax(axis=1)
            delta = np.take_along_axis(cand, arg[:, None, :], axis=1)[:, 0] + B[:, t]
        if paths:
            back[:, t] = arg
        finish(t)
    if not paths:
        return best, None
    path = np.empty(N, dtype=np.int64)
    state = end_state.copy()
    for t in range(Tm - 1, -1, -1):  # all sequences back together, each from its own last frame
        on = np.flatnonzero(last >= t)
        path[starts[on] + t] = state[on]
        state[on] = back[on, t, state[on]]
    path[np.repeat(~np.isfinite(best), lengths)] = -1
    return best, path
