"""M-steps of mclust's covariance models that have no closed form (Celeux and Govaert
1995; Browne and McNicholas 2014), as mclust 6 runs them: same starting values, same
inner iteration, same stopping rule (relative change below ``TOL``, mclust's
``emControl()$tol[2] = sqrt(.Machine$double.eps)``), so that EM from the same
responsibilities follows mclust's path.

Every function takes the scatter matrices ``W`` (K, D, D) (or their diagonals (K, D))
of the components about their means, the counts ``nk`` (K,), and a starting ``state``
(None at the start of a run: mclust's initial values) and returns the covariances.
``state_from_*`` recover the starting state from the covariances of the last M-step:
mclust carries the shape, scale and orientation from one EM iteration to the next.
"""
from __future__ import annotations

import numpy as np

TOL = float(np.sqrt(np.finfo(np.float64).eps))
MAX_INNER = 100_000  # mclust: .Machine$integer.max; a safety net here


def _geomean(v, axis=-1):
    return np.exp(np.mean(np.log(v), axis=axis))


def _descending_eigh(A):
    """Eigenvalues (descending) and eigenvectors (columns) of symmetric matrices A (..., D, D)."""
    vals, vecs = np.linalg.eigh(A)
    return vals[..., ::-1], vecs[..., ::-1]


# ---------------------------------------------------------------- VEI: lambda_k B
def _scale_shape(values, denom, shape, scale, stop_at_tol):
    """mclust's alternation for Sigma_k = scale_k (rotated) diag(shape), det(diag(shape)) = 1,
    on ``values`` (K, D): the per-coordinate scatters (VEI) or the scatters' eigenvalues (VEV).
    ``denom`` (K,): the scales' denominators (D n_k; mclust's VEI prior adds dof + 3).
    mclust stops VEI when the change is <= TOL and VEV when it is < TOL (``stop_at_tol``)."""
    for _ in range(MAX_INNER):
        old_shape, old_scale = shape, scale
        scale = (values / shape).sum(axis=1) / denom
        shape = (values / scale[:, None]).sum(axis=0)
        shape = shape / _geomean(shape)
        err = max(np.max(np.abs(old_scale - scale) / (1 + scale)), np.max(np.abs(old_shape - shape) / (1 + shape)))
        if err < TOL or (stop_at_tol and err == TOL):
            break
    return shape, scale


def vei(w, denom, state=None):
    """Sigma_k = scale_k diag(shape), det(diag(shape)) = 1; ``w`` (K, D) per-coordinate
    scatters, ``denom`` (K,) D n_k (ML). mclust (mevei, meveip) starts from shape = scale = 1
    and alternates the two."""
    K, D = w.shape
    shape, scale = (np.ones(D), np.ones(K)) if state is None else state
    shape, scale = _scale_shape(w, denom, shape, scale, True)
    return scale[:, None] * shape[None, :]


def state_from_diag(cov):
    """(shape, scale) of Sigma_k = scale_k diag(shape) from (K, D) variances."""
    scale = _geomean(cov)
    return (cov / scale[:, None]).mean(axis=0), scale


# ---------------------------------------------------------------- VEE: lambda_k C
def vee(W, nk):
    """Sigma_k = scale_k C, det C = 1. mclust (mevee) starts every M-step from scale = 1
    and alternates C and the scales until the objective settles."""
    K, D, _ = W.shape
    if not np.all(np.isfinite(W)) or not np.all(np.linalg.eigvalsh(W)[:, 0] > 0):
        return np.full((K, D, D), np.nan)  # as mclust (dpotrf fails): singular scatter
    scale = np.ones(K)
    n = nk.sum()
    prev = np.inf
    for _ in range(MAX_INNER):
        C = (W / scale[:, None, None]).sum(axis=0)
        C = C / _geomean(np.linalg.eigvalsh(C))
        Cinv = np.linalg.inv(C)
        scale = np.einsum("kij,ji->k", W, Cinv) / (D * nk)
        target = n * D + D * np.sum(np.log(scale) * nk)
        err = abs(target - prev) / (1 + abs(target))
        prev = target
        if not err > TOL:
            break
    return scale[:, None, None] * C[None]


# ---------------------------------------------------------------- EVE, VVE: common orientation
def _orientation_mm(W, omega, D_, A):
    """One round of Browne and McNicholas's MM 1 and MM 2 for the common orientation D_,
    shapes A (K, D) fixed (mclust's variant: the volumes do not enter)."""
    T = D_.T[None] / A[:, :, None]  # A_k^-1 D^T
    F = np.einsum("kij,kjl->il", T, W) - np.einsum("k,kij->ij", omega, T)
    P, _, Rt = np.linalg.svd(F)
    D_ = (P @ Rt).T
    T = W @ D_
    F = (T / A[:, None, :]).sum(axis=0) - np.einsum("k,kij->ij", np.max(1.0 / A, axis=1), T)
    P, _, Rt = np.linalg.svd(F)
    return P @ Rt


def common_orientation(W, nk, state=None, *, equal_volume):
    """EVE (``equal_volume``: Sigma_k = lambda D A_k D^T) or VVE (Sigma_k = lambda_k D A_k D^T).
    mclust (meeve, mevve) starts from D = I, A_k = 1 and carries D and A_k over EM iterations."""
    K, D, _ = W.shape
    D_, A = (np.eye(D), np.ones((K, D))) if state is None else state
    if not np.all(np.isfinite(W)) or not np.all(np.linalg.eigvalsh(W)[:, 0] > 0):
        return np.full((K, D, D), np.nan)  # as mclust: a singular scatter stops the M-step
    omega = np.linalg.eigvalsh(W)[:, -1]
    prev = np.inf
    scale = np.ones(K)
    for _ in range(MAX_INNER):
        D_ = _orientation_mm(W, omega, D_, A)
        diag = np.einsum("ji,kjl,li->ki", D_, W, D_)  # diag(D^T W_k D)
        if equal_volume:
            A = diag / _geomean(diag)[:, None]
        else:
            A = diag / nk[:, None]
            scale = _geomean(A)
            A = A / scale[:, None]
        target = np.sum(diag / A)
        err = abs(target - prev) / (1 + abs(target))
        prev = target
        if not err > TOL:
            break
    if equal_volume:
        scale = np.full(K, target / (nk.sum() * D))
    return scale[:, None, None] * np.einsum("ij,kj,lj->kil", D_, A, D_)


def state_common_orientation(cov):
    """(D, A) of Sigma_k = lambda_k D A_k D^T from (K, D, D) covariances. Any order and sign
    of D's columns gives the same iteration (the MM steps are equivariant)."""
    K = len(cov)
    weights = (1.0 + np.arange(K)) / np.trace(cov, axis1=1, axis2=2)
    _, D_ = np.linalg.eigh(np.tensordot(weights, cov, axes=1))
    A = np.einsum("ji,kjl,li->ki", D_, cov, D_)
    return D_, A / _geomean(A)[:, None]


# ---------------------------------------------------------------- VEV: lambda_k D_k A D_k^T
def vev(W, nk, n_rows, state=None):
    """Sigma_k = scale_k D_k diag(shape) D_k^T: D_k the eigenvectors of W_k; shape (common,
    det 1) and the scales alternate. mclust (mevev) starts at the first M-step from the
    summed eigenvalues (scale = their geometric mean / n) and carries shape and scale over."""
    K, D, _ = W.shape
    omega, vecs = _descending_eigh(W)
    if state is None:
        shape = omega.sum(axis=0)
        g = _geomean(shape)
        shape, scale = shape / g, np.full(K, g / n_rows)
    else:
        shape, scale = state
    shape, scale = _scale_shape(omega, nk * D, shape, scale, False)
    return scale[:, None, None] * np.einsum("kij,j,klj->kil", vecs, shape, vecs)


def state_vev(cov):
    """(shape, scale) of Sigma_k = scale_k D_k diag(shape) D_k^T from (K, D, D) covariances."""
    vals = np.linalg.eigvalsh(cov)[:, ::-1]
    scale = _geomean(vals)
    return (vals / scale[:, None]).mean(axis=0), scale
