"""Stepwise (online) EM for data that arrive over time: :func:`partial_fit`."""
from __future__ import annotations

import numpy as np

from .exceptions import DataError, ParameterError

__all__ = ["partial_fit", "step_size"]

_EMPTY = np.empty(0)

def step_size(t, exponent=0.7):
    """Step size of stepwise EM after ``t`` earlier batches: ``(t + 1) ** -exponent``.

    ``t = 0`` gives 1 (the first batch sets the statistics); ``exponent`` must be
    in (0.5, 1] for the Robbins-Monro conditions; 1 averages the batches equally.

    >>> [round(step_size(t), 3) for t in range(4)]
    [1.0, 0.616, 0.463, 0.379]
    """
    return float((t + 1) ** (-exponent))


class _StreamState:
    """Running statistics of stepwise EM, kept on the estimator between batches."""

    def __init__(self, shift, rng):
        self.shift, self.rng, self.t, self.stats, self.means = shift, rng, 0, None, None
        self.noise = None


def partial_fit(estimator, X, sample_weight=None, *, step_exponent=0.7):
    """One step of stepwise (online) EM on a batch ``X``; approximate, for streams.

    The running sufficient statistics ``s`` (per-row averages of the
    responsibilities and their first and second moments) are updated as
    ``s <- (1 - eta_t) s + eta_t s_batch`` with ``eta_t = (t + 1) ** -step_exponent``
    (:func:`step_size`), ``t`` the number of earlier batches, then the M-step
    turns ``s`` into parameters (Sato and Ishii 2000; Cappe and Moulines 2009;
    Liang and Klein 2009). Unlike :func:`fit_chunks` this is not the batch EM
    result: it forgets early batches, which suits data that drift, and converges
    to a fixed point of EM only as batches accumulate.

    The first batch (at least ``n_components`` rows) initialises the model with
    the estimator's ``init_params``, unless the estimator is already fitted, in
    which case the stream starts from its parameters. ``lower_bounds_`` holds each
    batch's mean log-likelihood under the parameters before its update; ``n_iter_``
    counts batches and ``converged_`` stays False.

    Examples
    --------
    >>> import numpy as np
    >>> from gmmkit import GaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> gm = GaussianMixture(2, random_state=0)
    >>> for _ in range(20):
    ...     batch = np.concatenate([rng.normal(-4, 1, (100, 1)), rng.normal(4, 1, (100, 1))])
    ...     gm = partial_fit(gm, batch)
    >>> np.round(np.sort(gm.means_[:, 0])).tolist()
    [-4.0, 4.0]
    """
    from sklearn.utils import check_random_state

    from . import _engine
    from ._covariance import COVARIANCE_TYPES
    from ._missing import observed_mean
    from .mixture import _FitContext, _MissingFitContext

    if not 0.5 < step_exponent <= 1:
        raise ParameterError(f"step_exponent must be in (0.5, 1], got {step_exponent}")
    est = estimator
    est._validate_all_params()
    state = getattr(est, "_gmmkit_stream", None)
    fitted = hasattr(est, "means_")
    if state is not None and state.means is not getattr(est, "means_", None):
        state = None  # the model was refitted (or loaded) since: restart the stream from it
    first = state is None
    X = est._check_X(X, reset=first and not fitted, min_samples=1)
    if first and fitted and X.shape[1] != est.n_features_in_:
        raise DataError(f"X has {X.shape[1]} features, but the model expects {est.n_features_in_}")
    if first and not fitted and X.shape[0] < max(2, est.n_components):
        raise DataError(f"the first batch needs at least max(2, n_components) rows, got {X.shape[0]}")
    if first:
        est._check_initial_parameters(X.shape[1])
    sw, total = est._check_sample_weight(sample_weight, X) if (first and not fitted) else (
        _stream_weights(sample_weight, X))
    entry = COVARIANCE_TYPES[est.covariance_type]
    nan = np.isnan(X)  # only with missing="em": _check_X refuses NaN otherwise
    if first:
        rng = check_random_state(est.random_state)
        shift = (est.weights_ @ est.means_ / est.weights_.sum() if fitted
                 else observed_mean(X, sw, nan))
        state = _StreamState(np.asarray(shift, dtype=np.float64), rng)
    # a batch with NaN: the exact pattern E-pass, in the stream's coordinates
    ctx = (_MissingFitContext if nan.any() else _FitContext)(est, X, sw, total, state.shift, entry,
                                                             state.rng)
    if ctx.noise:  # one noise region for the whole stream: the fitted one, else the first batch's
        if state.noise is None:
            state.noise = ((est.noise_bounds_, est.noise_log_volume_) if fitted and est.noise_weight_ > 0
                           else (ctx.noise_bounds, ctx.log_volume))
        ctx.noise_bounds, ctx.log_volume = state.noise
        ctx.log_widths = ctx.noise_log_widths()  # rows with NaN: the stream's box, observed columns
    with _engine.blas_single_thread():
        params = ctx.params_from_attributes() if fitted else ctx.initial_params(state.rng)
        if first and fitted:  # the fitted model counts as the stream's first batch
            state.stats, state.t = _model_statistics(ctx, params), 1
        ll, stats = ctx.e_pass(params)
        eta = step_size(state.t, step_exponent)
        batch = tuple(s / total for s in stats)
        state.stats = batch if state.stats is None else tuple(
            (1 - eta) * a + eta * b for a, b in zip(state.stats, batch))
        ctx.total = 1.0  # statistics are per-row averages from here on
        new = ctx.m_step(state.stats, state.rng)
    ctx.set_attributes(new)
    state.t += 1
    state.means = est.means_
    est._gmmkit_stream = state
    history = [] if first else list(est.lower_bounds_)
    history.append(float(ll / total))
    est.lower_bounds_ = history
    est.lower_bound_ = history[-1]
    est.n_iter_ = state.t
    est.converged_ = False
    est.n_reseeded_ = (0 if first else est.n_reseeded_) + ctx.n_reseeded
    if not fitted:
        _set_n_features(est, X.shape[1])
    return est


def _model_statistics(ctx, params):
    """Per-row statistics (nk, sx, sxx) that a data set following ``params`` exactly would
    give (the M-step maps them back to ``params``), in the kernel's layout."""
    weights, means, _, cov, pi0 = params
    K, D = ctx.K, ctx.D
    reg = ctx.est.reg_covar
    nk = np.append(weights, pi0)
    if ctx.entry.family == "full":
        C = np.broadcast_to(cov, (K, D, D)) - reg * np.eye(D)  # tied: one matrix for all
        sxx = np.triu(nk[:K, None, None] * (C + means[:, :, None] * means[:, None, :]))
    else:
        var = np.broadcast_to(np.reshape(cov, (K, -1)), (K, D)) - reg  # spherical: (K,) -> (K, D)
        sxx = nk[:K, None] * (var + means ** 2)
    return nk, nk[:K, None] * means, sxx


def _stream_weights(sample_weight, X):
    if sample_weight is None:
        return _EMPTY, float(X.shape[0])
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (X.shape[0],) or not np.isfinite(w).all() or (w < 0).any() or not w.sum() > 0:
        raise DataError(f"sample_weight must be {X.shape[0]} finite non-negative values with a positive sum")
    return np.ascontiguousarray(w), float(w.sum())


def _set_n_features(est, D):
    est.n_features_in_ = int(D)
    if hasattr(est, "feature_names_in_"):
        del est.feature_names_in_
