"""E-sources: where the rows of a fit live, behind one protocol.

An E-source has ``e_pass(params) -> (sum_i w_i log p(x_i), Statistics)``: the
weighted log-likelihood of its rows under ``params`` (:class:`MixtureParams`, in
the fit's shifted coordinates) and their sufficient statistics. The driver
(:mod:`gmmkit._em.driver`) only ever calls that. Here: rows in memory
(:class:`DenseRows`) and rows with missing values grouped by missingness
pattern (:class:`PatternRows`); file chunks are :class:`gmmkit.outofcore.FileChunks`,
Dask blocks :class:`gmmkit.dask.DaskBlocks`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import _engine
from .._params import Statistics
from ..exceptions import DataError
from .noise import log_noise

_LOG_2PI = math.log(2 * math.pi)


def log_coef(entry, weights, prec_chol, D):
    """log w_k + log|U_k| - D/2 log(2 pi): the per-component constant of the kernels."""
    with np.errstate(divide="ignore"):
        logw = np.log(weights)
    return np.ascontiguousarray(logw + entry.log_det(prec_chol, len(weights), D) - 0.5 * D * _LOG_2PI)


@dataclass(frozen=True)
class KernelModel:
    """Parameters as the fused kernels take them, in one dtype."""

    means: np.ndarray
    prec: np.ndarray  # kernel layout: (K, D, D) full family, (K, 1, D) diagonal family
    logc: np.ndarray
    log_noise: float

    @classmethod
    def make(cls, entry, weights, means, prec_chol, noise_term, dtype):
        K, D = means.shape
        return cls(np.ascontiguousarray(means, dtype=dtype),
                   np.ascontiguousarray(entry.kernel_prec(prec_chol, K, D), dtype=dtype),
                   np.ascontiguousarray(log_coef(entry, weights, prec_chol, D), dtype=dtype),
                   float(noise_term))

    @classmethod
    def of(cls, problem, params, dtype):
        return cls.make(problem.entry, params.weights, params.means, params.prec_chol,
                        log_noise(problem.noise, params.noise_weight), dtype)


def dense_statistics(entry, X, sw, shift, model, parallel):
    """(log-likelihood, Statistics) of rows X with weights sw (empty: ones) under ``model``."""
    ll, nk, sx, sxx = _engine.em_pass(X, sw, shift, model.means, model.prec, model.logc,
                                      model.log_noise, parallel)
    return ll, Statistics(nk, sx, entry.from_kernel_stats(sxx))


def check_finite(ll, dtype):
    if not np.isfinite(ll):
        raise DataError(
            "the log-likelihood is not finite: the data are too extreme for "
            f"{np.dtype(dtype).name} or degenerate; rescale X or increase reg_covar"
        )
    return ll


class DenseRows:
    """Rows in memory, no missing values: one fused kernel pass per E-step."""

    def __init__(self, problem, X, sw):
        self.problem, self.X, self.sw = problem, X, sw
        self.shift = np.ascontiguousarray(problem.shift, dtype=X.dtype)
        self.parallel = _engine.use_parallel(X.shape[0], problem.entry.work_per_row(problem.K, problem.D))

    def e_pass(self, params):
        model = KernelModel.of(self.problem, params, self.X.dtype)
        ll, stats = dense_statistics(self.problem.entry, self.X, self.sw, self.shift, model, self.parallel)
        return check_finite(ll, self.X.dtype), stats


class PatternRows:
    """Rows with missing values, grouped by missingness pattern: the exact E-step
    (each row's marginal over its observed columns; see :mod:`gmmkit._missing`)."""

    def __init__(self, problem, X, sw, patterns=None):
        from .._missing import Patterns

        self.problem = problem
        self.patterns = Patterns(X, sw) if patterns is None else patterns
        self.shift = np.ascontiguousarray(problem.shift, dtype=X.dtype)

    def e_pass(self, params):
        from .._missing import pattern_statistics

        problem = self.problem
        ll, stats = pattern_statistics(self.patterns, problem.entry, params, self.shift, problem.noise)
        if not np.isfinite(ll):
            raise DataError("the log-likelihood is not finite: rescale X or increase reg_covar")
        return ll, stats
