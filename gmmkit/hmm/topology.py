"""Sequences and topologies: ``lengths`` checked into row offsets, the starting
transition structure of an ergodic or left-to-right model, and its structural zeros."""
from __future__ import annotations

import numpy as np

from ..exceptions import DataError, ParameterError

TOPOLOGIES = ("ergodic", "left-right")


def sequence_starts(lengths, n_rows):
    """Row offsets (n_seq + 1,) of the sequences; ``lengths`` None means one sequence.
    DataError (one line) for lengths that are not positive integers or do not add up."""
    if lengths is None:
        if n_rows == 0:
            raise DataError("X has no rows: an empty sequence cannot be scored")
        return np.array([0, n_rows], dtype=np.int64)
    raw = np.asarray(lengths)
    if raw.ndim != 1 or raw.size == 0:
        raise DataError(f"lengths must be a non-empty 1-D list of sequence lengths, got shape {raw.shape}")
    if not (np.issubdtype(raw.dtype, np.integer) or (np.issubdtype(raw.dtype, np.floating)
                                                     and np.all(raw == np.round(raw)))):
        raise DataError(f"lengths must be integers, got {raw.dtype}")
    lengths = raw.astype(np.int64)
    bad = np.flatnonzero(lengths <= 0)
    if bad.size:
        raise DataError(f"sequence {bad[0]} is empty (length {lengths[bad[0]]}): every length must be >= 1")
    if lengths.sum() != n_rows:
        raise DataError(f"lengths add up to {lengths.sum()} rows but X has {n_rows}")
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def check_topology(topology):
    if topology not in TOPOLOGIES:
        raise ParameterError(f"unknown topology {topology!r}; choose one of {', '.join(TOPOLOGIES)}")
    return topology


def initial_chain(topology, S):
    """(startprob, transmat) a fit starts from: uniform for ergodic models; for
    left-to-right ones, start in state 0 and stay or move one state right with
    equal probability (the last state stays)."""
    if topology == "ergodic":
        return np.full(S, 1.0 / S), np.full((S, S), 1.0 / S)
    start = np.zeros(S)
    start[0] = 1.0
    trans = 0.5 * (np.eye(S) + np.eye(S, k=1))
    trans[-1, -1] = 1.0
    return start, trans


def log_end(topology, S):
    """Log-probability of ending in each state: free for ergodic models; a left-to-right
    model must end in its last state (a word or phone model is traversed to the end)."""
    end = np.zeros(S)
    if topology == "left-right":
        end[:-1] = -np.inf
    return end


def min_length(topology, transmat):
    """Fewest frames a sequence can have under the model: states to cross to reach the
    end (breadth-first over the non-zero transitions), + 1; 1 for ergodic models."""
    if topology == "ergodic":
        return 1
    S = transmat.shape[0]
    reach, frames = {0}, 1
    while S - 1 not in reach:
        nxt = {j for i in reach for j in np.flatnonzero(transmat[i] > 0)} | reach
        if nxt == reach:
            raise ParameterError("the left-to-right transition matrix never reaches the last state")
        reach, frames = nxt, frames + 1
    return frames


def check_lengths_fit(starts, topology, transmat):
    """DataError if a sequence is shorter than the model can emit."""
    need = min_length(topology, transmat)
    lengths = np.diff(starts)
    short = np.flatnonzero(lengths < need)
    if short.size:
        q = short[0]
        raise DataError(f"sequence {q} has {lengths[q]} frames, fewer than the {need} a path through "
                        f"this left-to-right model needs ({short.size} such sequence(s))")


def check_chain(startprob, transmat, S):
    """Validate user starting probabilities; return them as float arrays."""
    startprob = np.asarray(startprob, dtype=np.float64)
    transmat = np.asarray(transmat, dtype=np.float64)
    if startprob.shape != (S,) or transmat.shape != (S, S):
        raise ParameterError(f"startprob must have shape ({S},) and transmat ({S}, {S}), got "
                             f"{startprob.shape} and {transmat.shape}")
    for name, p in (("startprob", startprob[None]), ("transmat", transmat)):
        if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0):
            raise ParameterError(f"{name} rows must be non-negative and sum to 1")
    return startprob, transmat
