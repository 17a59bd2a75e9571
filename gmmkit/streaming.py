"""Stepwise (online) EM for data that arrive over time: :func:`partial_fit`."""
from __future__ import annotations

import numpy as np

from . import _engine
from ._em.init import Initialiser, from_estimator
from ._em.mstep import m_step
from ._em.noise import NoiseRegion
from ._em.sources import DenseRows, PatternRows
from ._missing import observed_mean
from ._params import Statistics
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
    nan = np.isnan(X)  # only with missing="em": _check_X refuses NaN otherwise
    if first:
        rng = check_random_state(est.random_state)
        shift = (est.weights_ @ est.means_ / est.weights_.sum() if fitted
                 else observed_mean(X, sw, nan))
        state = _StreamState(np.asarray(shift, dtype=np.float64), rng)
    sample = X
    if nan.any():  # initialisation and re-seeding on the batch, mean-imputed
        sample = np.ascontiguousarray(np.where(nan, observed_mean(X, sw, nan).astype(X.dtype), X))
    if est.noise and state.noise is None:
        # one noise region for the whole stream: the fitted one, else the first batch's
        state.noise = (NoiseRegion(est.noise_bounds_, est.noise_log_volume_)
                       if fitted and est.noise_weight_ > 0
                       else NoiseRegion.from_rows(sample, sw, est.noise_volume))
    problem = est._problem(X.shape[1], state.shift, total, sample, sw, state.noise if est.noise else None,
                           state.rng)
    # a batch with NaN: the exact pattern E-pass, in the stream's coordinates
    source = PatternRows(problem, X, sw) if sample is not X else DenseRows(problem, X, sw)
    counter = [0]
    with _engine.blas_single_thread():
        params = from_estimator(problem, est) if fitted else Initialiser(problem, est)(state.rng)
        if first and fitted:  # the fitted model counts as the stream's first batch
            state.stats, state.t = _model_statistics(problem, params), 1
        ll, stats = source.e_pass(params)
        batch = stats.scaled(1.0 / total)
        eta = step_size(state.t, step_exponent)
        state.stats = batch if state.stats is None else state.stats.blend(batch, eta)
        problem.total = 1.0  # statistics are per-row averages from here on
        new = m_step(problem, state.stats, state.rng, counter=counter)
    est._set_parameters(new.weights, new.means + problem.shift, new.covariances, new.prec_chol,
                        new.noise_weight, problem.noise)
    state.t += 1
    state.means = est.means_
    est._gmmkit_stream = state
    history = [] if first else list(est.lower_bounds_)
    history.append(float(ll / total))
    est.lower_bounds_ = history
    est.lower_bound_ = history[-1]
    est.n_iter_ = state.t
    est.converged_ = False
    est.n_reseeded_ = (0 if first else est.n_reseeded_) + counter[0]
    if not fitted:
        est._set_n_features(X.shape[1])
    return est


def _model_statistics(problem, params):
    """Per-row statistics that a data set following ``params`` exactly would give (the
    M-step maps them back to ``params``)."""
    K = problem.K
    nk = np.append(params.weights, params.noise_weight)
    sxx = problem.entry.model_moments(nk[:K], params.means, params.covariances, problem.reg_covar)
    return Statistics(nk, nk[:K, None] * params.means, sxx)


def _stream_weights(sample_weight, X):
    if sample_weight is None:
        return _EMPTY, float(X.shape[0])
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (X.shape[0],) or not np.isfinite(w).all() or (w < 0).any() or not w.sum() > 0:
        raise DataError(f"sample_weight must be {X.shape[0]} finite non-negative values with a positive sum")
    return np.ascontiguousarray(w), float(w.sum())
