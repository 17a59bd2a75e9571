"""Do given covariances keep their model's equalities? (mclust's E letters: equal volume,
shape or orientation across components.)

A fitted model keeps them by construction; parameters given by hand or read from a file
may not (a copy edited in one place, a file built by another tool), and the model's
parameter count, BIC and M-steps would then describe a model that is not the one stored.
:meth:`CovarianceType.check_structure` refuses them in one line.
"""
from __future__ import annotations

import numpy as np

#: relative tolerance of the equalities (fits keep them to rounding, ~1e-15)
RTOL = 1e-6


def _first_bad(values, reference, scale):
    """Index and size of the first component whose ``values`` differ from ``reference``."""
    gap = np.max(np.abs(values - reference), axis=tuple(range(1, values.ndim))) / scale
    bad = np.flatnonzero(gap > RTOL)
    return (int(bad[0]), float(gap[bad[0]])) if bad.size else None


def structure_error(name, full):
    """None, or a phrase saying which equality of model ``name`` (mclust's three letters:
    volume, shape, orientation) the (K, D, D) covariance matrices ``full`` break."""
    K, D, _ = full.shape
    if K < 2 or len(name) != 3 or "E" not in name:
        return None
    volume, shape, orientation = name
    logdet = np.linalg.slogdet(full)[1]
    if volume == "E":
        bad = _first_bad(logdet[:, None] / D, logdet[0] / D, 1.0)  # relative change of the volume
        if bad:
            return f"component {bad[0]}'s volume differs from component 0's by {bad[1]:.2g} (relative)"
    if orientation == "I":
        eig = np.diagonal(full, axis1=1, axis2=2)
    elif orientation == "E":
        # one orientation: the matrices are diagonal in a common basis (eigenvectors of a
        # generic combination of them)
        basis = np.linalg.eigh((full * np.arange(1, K + 1)[:, None, None]).sum(axis=0))[1]
        M = basis.T @ full @ basis
        eig = np.diagonal(M, axis1=1, axis2=2)
        off = M - eig[:, :, None] * np.eye(D)
        bad = _first_bad(off, 0.0, np.abs(eig).max())
        if bad:
            return f"component {bad[0]}'s orientation differs from the others' (off-diagonal {bad[1]:.2g})"
    else:
        eig = np.linalg.eigvalsh(full)
    if shape == "E":
        shapes = eig / np.exp(logdet / D)[:, None]
        bad = _first_bad(shapes, shapes[0], np.abs(shapes[0]).max())
        if bad:
            return f"component {bad[0]}'s shape differs from component 0's by {bad[1]:.2g} (relative)"
    return None
