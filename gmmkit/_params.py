"""Named containers the EM driver passes around instead of positional tuples."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass
class MixtureParams:
    """One set of mixture parameters, in the fit's (shifted) coordinates.

    ``weights`` are the Gaussian components' weights; they sum to
    ``1 - noise_weight``. ``prec_chol`` and ``covariances`` have the layout of the
    covariance type (see :mod:`gmmkit.covariance`).
    """

    weights: np.ndarray
    means: np.ndarray
    prec_chol: np.ndarray
    covariances: np.ndarray
    noise_weight: float = 0.0

    def replace(self, **changes):
        return replace(self, **changes)


@dataclass
class Statistics:
    """Sufficient statistics of one E-pass: ``nk`` (K + 1,) responsibility sums (the
    last entry is the noise component's), ``sx`` (K, D) first moments and ``sxx``
    second moments (layout of the covariance type's kernel family), all weighted
    and of the shifted data."""

    nk: np.ndarray
    sx: np.ndarray
    sxx: np.ndarray

    def __add__(self, other):
        return Statistics(self.nk + other.nk, self.sx + other.sx, self.sxx + other.sxx)

    def scaled(self, factor):
        return Statistics(self.nk * factor, self.sx * factor, self.sxx * factor)

    def blend(self, other, eta):
        """(1 - eta) self + eta other (stepwise EM)."""
        return Statistics(*((1 - eta) * a + eta * b for a, b in
                            ((self.nk, other.nk), (self.sx, other.sx), (self.sxx, other.sxx))))


@dataclass
class FitResult:
    """What one EM run (one initialisation) produced."""

    lower_bound: float
    params: MixtureParams
    history: list = field(default_factory=list)
    converged: bool = False
    n_reseeded: int = 0

    @property
    def n_iter(self):
        return len(self.history)
