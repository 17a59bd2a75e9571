"""Kernel kit for apps: gmmkit's fastmath flags, kernel-module registration and
component log-densities, so that no app copies a kernel.

For an app's own Numba kernels::

    from numba import njit
    from gmmkit.kernels import FASTMATH, register_kernel_module, diag_logp

    register_kernel_module(__file__)  # before the decorators: cache outside site-packages

    @njit(cache=True, fastmath=FASTMATH, nogil=True)
    def my_kernel(...):
        ...  # may call diag_logp / full_logp / component_logp

Jitted functions (callable from ``@njit`` code and from Python; float32 or
float64, computed in the dtype of ``X``/``x``):

- :func:`component_logp` ``(X, lo, hi, shift, means, prec, logc, out)``: for rows
  ``lo:hi``, ``out[i, k] = logc[k] - 0.5 ||(X[i] - shift - means[k]) U_k||^2``,
  with the EM engine's own block code. Releases the GIL, so row chunks can run
  in threads. ``prec`` is (K, D, D) upper-triangular factors ``U_k``
  (precision ``U_k U_k^T``, scikit-learn's ``precisions_cholesky_`` convention)
  or (K, 1, D) inverse standard deviations (diagonal covariances, D/2 times less
  work). :func:`kernel_parameters` makes all four arrays from a fitted mixture.
- :func:`diag_logp` ``(x, mean, prec, logc)`` and :func:`full_logp`: one row under
  one component (prec (D,) = 1/sigma, or (D, D) upper triangular), for kernels
  that visit only a few components per row.

Python helpers: :func:`log_densities` ``(model, X)`` -> (N, K) ``log w_k + log N(x | k)``
of a fitted mixture, in threads; :func:`kernel_parameters`.

>>> import numpy as np
>>> from gmmkit import GaussianMixture
>>> from gmmkit.kernels import log_densities
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(5, 1, (100, 2))])
>>> gm = GaussianMixture(2, random_state=0).fit(X)
>>> lp = log_densities(gm, X)
>>> lp.shape
(200, 2)
>>> bool(np.allclose(np.logaddexp(lp[:, 0], lp[:, 1]), gm.score_samples(X)))
True
"""
from __future__ import annotations

import numpy as np

from . import _engine
from ._em.sources import KernelModel
from ._kernels import register_kernel_module
from ._kernels._common import FASTMATH
from ._kernels.density import diag_logp, full_logp
from ._kernels.density import logp_range as component_logp
from .covariance import covariance_type
from .exceptions import ParameterError

__all__ = [
    "FASTMATH",
    "component_logp",
    "diag_logp",
    "full_logp",
    "kernel_parameters",
    "log_densities",
    "register_kernel_module",
]


def kernel_parameters(model, dtype=np.float64):
    """Arguments ``(shift, means, prec, logc)`` of :func:`component_logp` for a fitted mixture.

    Works for :class:`gmmkit.GaussianMixture` and scikit-learn's estimator (same
    attributes), every ``covariance_type``. ``shift`` is the weighted centre of the
    means, rounded to ``dtype``, and ``means`` are taken relative to it (exactly
    in float64, then rounded): float32 data far from the origin keep their
    precision. ``prec`` is (K, D, D) for full/tied, (K, 1, D) for diag/spherical;
    ``logc[k] = log w_k + log|U_k| - D/2 log(2 pi)`` (``-inf`` for a zero weight).
    A noise component, if the model has one, is not included.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ParameterError(f"dtype must be float32 or float64, got {dtype}")
    means = np.asarray(model.means_, dtype=np.float64)
    weights = np.asarray(model.weights_, dtype=np.float64)
    total = weights.sum()
    shift = (weights @ means / total if total > 0 else means.mean(axis=0)).astype(dtype)
    km = KernelModel.make(covariance_type(model.covariance_type), weights, means - shift.astype(np.float64),
                          np.asarray(model.precisions_cholesky_, dtype=np.float64), -np.inf, dtype)
    return np.ascontiguousarray(shift), km.means, km.prec, km.logc


def log_densities(model, X, *, out=None):
    """``log w_k + log N(x_i | mu_k, Sigma_k)`` for every row of X and component k, shape (N, K).

    Parameters
    ----------
    model : fitted GaussianMixture
        gmmkit's or scikit-learn's estimator, any ``covariance_type``.
    X : (N, D) array
        Rows to score; float32 rows are scored in float32, anything else in
        float64. No NaN handling: a row with a NaN gives NaN.
    out : (N, K) C-contiguous array of X's dtype, optional
        Written in place and returned.

    Returns
    -------
    (N, K) array (float32 for float32 X, else float64). Without a noise
    component, its row-wise log-sum-exp is ``model.score_samples(X)`` and its
    row-wise soft-max ``model.predict_proba(X)``; with one, the noise term
    ``log(noise_weight_) - noise_log_volume_`` is missing from the sum.
    """
    X = np.asarray(X)
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    X = np.ascontiguousarray(X, dtype=dtype)
    K, D = np.shape(model.means_)
    if X.ndim != 2 or X.shape[1] != D:
        raise ParameterError(f"X must have shape (N, {D}), got {X.shape}")
    N = X.shape[0]
    if out is None:
        out = np.empty((N, K), dtype=dtype)
    elif out.shape != (N, K) or out.dtype != dtype or not out.flags.c_contiguous:
        raise ParameterError(f"out must be a C-contiguous {np.dtype(dtype).name} array of shape {(N, K)}")
    args = kernel_parameters(model, dtype)
    _engine.announce_compile(component_logp, dtype, "density kernel")
    work = covariance_type(model.covariance_type).work_per_row(K, D)
    if not _engine.use_parallel(N, work):
        component_logp(X, 0, N, *args, out)
        return out
    n_chunks = 2 * _engine.n_threads()
    bounds = [(c * N // n_chunks, (c + 1) * N // n_chunks) for c in range(n_chunks)]
    futs = [_engine.thread_pool().submit(component_logp, X, lo, hi, *args, out) for lo, hi in bounds]
    for f in futs:
        f.result()
    return out
