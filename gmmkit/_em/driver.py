"""The EM driver: restarts, short runs, best of n, the convergence warning.

It knows nothing of where the rows live: every E-pass goes through an
*E-source* (:mod:`gmmkit._em.sources`; file chunks in :mod:`gmmkit.outofcore`,
Dask blocks in :mod:`gmmkit.dask`), which returns the log-likelihood and the
sufficient statistics of the data under given parameters; the M-step is the
problem's (``problem.m_step(stats, rng, counter=...)``), and the lower bound is
the log-likelihood over ``problem.total``. So a model whose E-pass is not over
independent rows (an HMM's forward-backward over sequences) brings its own
E-source and problem, and reuses the loop, restarts and convergence rules.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .. import _engine
from .._params import FitResult
from .monitor import Monitor


@dataclass
class Settings:
    """The estimator's controls of the EM loop."""

    n_init: int = 1
    max_iter: int = 100
    tol: float = 1e-3
    short_runs: int = 0
    short_run_iter: int = 10
    verbose: int = 0
    report: Callable | None = None


def run_em(problem, source, params, rng, settings, *, max_iter, init=0, lower_bound=-np.inf,
           history=(), counter=None):
    """EM from ``params`` for at most ``max_iter`` iterations."""
    monitor = Monitor(settings.tol, settings.report, init=init, lower_bound=lower_bound, history=history)
    for _ in range(max_iter):
        ll, stats = source.e_pass(params)
        params = problem.m_step(stats, rng, counter=counter)
        if monitor.update(ll / problem.total):
            break
    return FitResult(monitor.lower_bound, params, monitor.history, monitor.converged)


def _short_run_start(problem, source, initialise, rng, settings, init, counter):
    """Many short EM runs from different starts; continue the best one to convergence
    (the 'short-run' or 'em-EM' strategy against poor local optima)."""
    best = None
    for _ in range(settings.short_runs):
        run = run_em(problem, source, initialise(rng), rng, settings, init=init, counter=counter,
                     max_iter=min(settings.short_run_iter, settings.max_iter))
        if best is None or run.lower_bound > best.lower_bound:
            best = run
    if best.converged or best.n_iter >= settings.max_iter:
        return best
    return run_em(problem, source, best.params, rng, settings, init=init, counter=counter,
                  max_iter=settings.max_iter - best.n_iter, lower_bound=best.lower_bound,
                  history=best.history)


def fit(problem, source, initialise, rng, settings, *, warm=None):
    """Run EM ``settings.n_init`` times (once from ``warm``, a :class:`FitResult` of an
    earlier fit, if given) and return the best run. Warns if it did not converge."""
    best = None
    with _engine.blas_single_thread():
        for init in range(1 if warm is not None else settings.n_init):
            counter = [0]
            if warm is not None:
                run = run_em(problem, source, warm.params, rng, settings, max_iter=settings.max_iter,
                             lower_bound=warm.lower_bound, counter=counter)
            elif settings.short_runs:
                run = _short_run_start(problem, source, initialise, rng, settings, init, counter)
            else:
                run = run_em(problem, source, initialise(rng), rng, settings, max_iter=settings.max_iter,
                             init=init, counter=counter)
            run.n_reseeded = counter[0]
            if settings.verbose:
                print(f"Initialization {init} {'converged' if run.converged else 'did not converge'}."
                      f" lower bound {run.lower_bound:.5f}")
            if best is None or run.lower_bound > best.lower_bound:
                best = run
    if not best.converged and settings.max_iter > 0:
        warnings.warn(
            "Best performing initialization did not converge. Try different init "
            "parameters, or increase max_iter, tol, or check for degenerate data.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return best
