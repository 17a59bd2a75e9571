"""Per-component log-likelihood maps and Potts smoothing (ICM) of label maps.

The wrappers validate and prepare contiguous arrays, then run the jitted
kernels of :mod:`gmmkit_apps.segment._kernels` on row chunks in a thread pool;
log-likelihood maps come from gmmkit's own density kernel (:mod:`gmmkit.kernels`).

>>> import numpy as np
>>> from gmmkit import GaussianMixture
>>> from gmmkit_apps.segment.mrf import component_logp, potts_icm
>>> rng = np.random.default_rng(0)
>>> truth = np.zeros((40, 40), dtype=int); truth[:, 20:] = 1
>>> img = truth + rng.normal(scale=0.6, size=truth.shape)
>>> gm = GaussianMixture(2, random_state=0).fit(img.reshape(-1, 1))
>>> logp = component_logp(gm, img.reshape(-1, 1)).reshape(40, 40, 2)
>>> labels, n_sweeps = potts_icm(logp, beta=1.5)
>>> plain = logp.argmax(axis=2)
>>> def acc(lab):
...     return max(np.mean(lab == truth), np.mean(lab != truth))
>>> bool(acc(labels) > acc(plain))
True
"""
from __future__ import annotations

import numpy as np

from gmmkit import n_threads, thread_pool
from gmmkit.exceptions import ParameterError

# Below this many pixels a single thread is faster than handing out chunks.
_PARALLEL_MIN_ROWS = 200_000


def _run_chunks(fn, n_rows, args_for, *, min_rows=_PARALLEL_MIN_ROWS, per_thread=2):
    """Call ``fn(*args_for(lo, hi))`` over row chunks, in threads when worth it; return results."""
    n = n_threads()
    if n == 1 or n_rows < min_rows:
        return [fn(*args_for(0, n_rows))]
    pool = thread_pool()
    n_chunks = min(n * per_thread, n_rows)
    bounds = [(c * n_rows // n_chunks, (c + 1) * n_rows // n_chunks) for c in range(n_chunks)]
    futs = [pool.submit(fn, *args_for(lo, hi)) for lo, hi in bounds]
    return [f.result() for f in futs]


def _check_features(model, X):
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != model.means_.shape[1]:
        raise ParameterError(
            f"X must have shape (N, {model.means_.shape[1]}), got {X.shape}")
    return X


def component_logp(model, X, *, out=None):
    """log p(x, k) = log w_k + log N(x | mu_k, Sigma_k) for every row of X, as float32 (N, K).

    Parameters
    ----------
    model : fitted GaussianMixture
        gmmkit's (or scikit-learn's) estimator.
    X : (N, D) array
        Features; converted to float32 and scored in float32 by
        :func:`gmmkit.kernels.log_densities` (in threads).
    out : (N, K) float32 array, optional
        Written in place when given.

    Returns
    -------
    (N, K) float32 array. Its row-wise log-sum-exp is ``model.score_samples(X)``
    and its row-wise soft-max is ``model.predict_proba(X)``.
    """
    from gmmkit.kernels import log_densities

    return log_densities(model, _check_features(model, X), out=out)


def argmax_labels(logp, mask=None):
    """Arg-max component of every row of a (N, K) float32 map; -1 where ``mask`` is 0."""
    from . import _kernels

    N = logp.shape[0]
    mask = np.ones(N, np.uint8) if mask is None else np.ascontiguousarray(mask, dtype=np.uint8).ravel()
    labels = np.empty(N, dtype=np.int32)
    _run_chunks(_kernels.argmax_range, N, lambda lo, hi: (logp, mask, lo, hi, labels))
    return labels


def potts_icm(logp, beta, *, labels=None, mask=None, max_sweeps=20, tol=1e-4):
    """Smooth a label map with a Potts prior by iterated conditional modes (ICM).

    Minimises ``sum_i -logp[i, l_i] + beta * #{4-neighbour pairs with l_i != l_j}``
    locally: each sweep updates the two checkerboard colours in turn, every
    pixel taking the label of lowest energy given its neighbours.

    Parameters
    ----------
    logp : (H, W, K) float array
        Per-pixel, per-component log-likelihoods, e.g. from :func:`component_logp`.
    beta : float >= 0
        Potts strength in nats per disagreeing neighbour; 0 returns the arg-max.
    labels : (H, W) int array, optional
        Starting labels (default: the arg-max of ``logp``).
    mask : (H, W) bool array, optional
        Pixels taking part (False: left at -1 and ignored by their neighbours).
    max_sweeps : int
        At most this many full sweeps.
    tol : float
        Stop when a sweep changes fewer than this fraction of the pixels.

    Returns
    -------
    labels : (H, W) int32 array (-1 on masked pixels)
    n_sweeps : int
        Sweeps done.
    """
    from . import _kernels

    if not (np.isfinite(beta) and beta >= 0):
        raise ParameterError(f"the smoothing strength beta must be >= 0, got {beta}")
    logp = np.ascontiguousarray(logp, dtype=np.float32)
    if logp.ndim != 3:
        raise ParameterError(f"logp must be (H, W, K), got shape {logp.shape}")
    H, W, K = logp.shape
    m8 = (np.ones((H, W), np.uint8) if mask is None
          else np.ascontiguousarray(mask, dtype=bool).astype(np.uint8))
    if labels is None:
        lab = argmax_labels(logp.reshape(H * W, K), m8).reshape(H, W)
    else:
        lab = np.ascontiguousarray(labels, dtype=np.int32).copy()
        lab[m8 == 0] = -1
    n_active = max(int(m8.sum()), 1)
    sweeps = 0
    if beta == 0:
        return lab, sweeps
    while sweeps < max_sweeps:
        sweeps += 1
        changed = 0
        for parity in (0, 1):
            changed += sum(_run_chunks(
                _kernels.icm_range, H,
                lambda r0, r1, p=parity: (logp, lab, m8, float(beta), p, r0, r1),
                min_rows=max(1, _PARALLEL_MIN_ROWS // max(W, 1))))
        if changed < tol * n_active:
            break
    return lab, sweeps


def softmax_maps(logp, mask=None):
    """Row-wise soft-max of (..., K) log-likelihoods as float32 (0 where ``mask`` is False)."""
    m = logp.max(axis=-1, keepdims=True)
    q = np.exp(logp - m, dtype=np.float32)
    q /= q.sum(axis=-1, keepdims=True)
    if mask is not None:
        q[~np.asarray(mask, bool)] = 0
    return q


def meanfield_sweeps(logp, q, m8, beta, n_sweeps, *, neighbours=4):
    """Run ``n_sweeps`` mean-field sweeps on q (H, W, K) float32 in place.

    ``logp`` (H, W, K) float32 and ``m8`` (H, W) uint8 as the kernels want them.
    ``neighbours``: 4 (checkerboard order) or 8 (diagonal neighbours weigh beta/sqrt(2);
    four-colour order). Returns the summed absolute change of q.
    """
    from . import _kernels

    H, W, _ = logp.shape
    change = 0.0
    min_rows = max(2, _PARALLEL_MIN_ROWS // max(W, 1))
    if neighbours == 8:
        bd = float(beta) / np.sqrt(2.0)
        for _ in range(int(n_sweeps)):
            for pr, pc in ((0, 0), (0, 1), (1, 0), (1, 1)):
                change += sum(_run_chunks(
                    _kernels.meanfield8_range, H,
                    lambda r0, r1, a=pr, b=pc: (logp, q, m8, float(beta), bd, a, b, r0, r1),
                    min_rows=min_rows))
        return change
    if neighbours != 4:
        raise ParameterError(f"neighbours must be 4 or 8, got {neighbours}")
    for _ in range(int(n_sweeps)):
        for parity in (0, 1):
            change += sum(_run_chunks(
                _kernels.meanfield_range, H,
                lambda r0, r1, p=parity: (logp, q, m8, float(beta), p, r0, r1),
                min_rows=max(1, _PARALLEL_MIN_ROWS // max(W, 1))))
    return change


def potts_meanfield(logp, beta, *, mask=None, max_sweeps=30, tol=1e-4):
    """Smooth a label map with a Potts prior by (checkerboard) mean-field iterations.

    Same energy as :func:`potts_icm`; each pixel keeps a distribution q_i over the
    K labels, updated as ``q_i(k) ~ exp(logp[i, k] + beta * sum_{j~i} q_j(k))`` from
    the GMM posterior. Slower than ICM (K exponentials per pixel per sweep), but the
    result is a smoothed probability map as well as labels.

    Parameters
    ----------
    logp : (H, W, K) float array
    beta : float >= 0
    mask : (H, W) bool array, optional
    max_sweeps : int
    tol : float
        Stop when the probabilities change by less than this on average in a sweep.

    Returns
    -------
    labels : (H, W) int32 (-1 on masked pixels)
    q : (H, W, K) float32 marginals (0 on masked pixels)
    n_sweeps : int
    """

    if not (np.isfinite(beta) and beta >= 0):
        raise ParameterError(f"the smoothing strength beta must be >= 0, got {beta}")
    logp = np.ascontiguousarray(logp, dtype=np.float32)
    if logp.ndim != 3:
        raise ParameterError(f"logp must be (H, W, K), got shape {logp.shape}")
    H, W, K = logp.shape
    m8 = (np.ones((H, W), np.uint8) if mask is None
          else np.ascontiguousarray(mask, dtype=bool).astype(np.uint8))
    q = np.ascontiguousarray(softmax_maps(logp, m8.astype(bool)))
    sweeps = 0
    n_values = max(int(m8.sum()), 1) * K
    if beta > 0:
        while sweeps < max_sweeps:
            sweeps += 1
            if meanfield_sweeps(logp, q, m8, float(beta), 1) < tol * n_values:
                break
    labels = argmax_labels(q.reshape(H * W, K), m8).reshape(H, W)
    return labels, q, sweeps
