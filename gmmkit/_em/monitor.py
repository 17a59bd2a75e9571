"""Convergence of one EM run, and the reports (verbose lines, the user's callback)."""
from __future__ import annotations

import numpy as np


class Monitor:
    """Tracks the lower bound of a run: ``update`` returns True once the change per
    iteration falls below ``tol``. ``report(init, n_iter, lower_bound, change)`` is
    called after every iteration."""

    def __init__(self, tol, report=None, *, init=0, lower_bound=-np.inf, history=()):
        self.tol, self.report, self.init = tol, report, init
        self.lower_bound = lower_bound
        self.history = list(history)
        self.converged = False

    def update(self, lower_bound):
        change = lower_bound - self.lower_bound
        self.lower_bound = lower_bound
        self.history.append(lower_bound)
        if self.report is not None:
            self.report(self.init, len(self.history), lower_bound, change)
        self.converged = abs(change) < self.tol
        return self.converged


def reporter(verbose, verbose_interval, callback):
    """The per-iteration report an estimator asks for (None if nothing is asked)."""
    if not verbose and callback is None:
        return None

    def report(init, n_iter, lower_bound, change):
        if verbose and n_iter % verbose_interval == 0:
            print(f"  Iteration {n_iter}\t change {change:.6g}\t lower bound {lower_bound:.6f}")
        if callback is not None:
            callback({"init": init, "n_iter": n_iter, "lower_bound": lower_bound, "change": change})

    return report
