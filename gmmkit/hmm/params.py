"""Named containers of the GMM-HMM fit: parameters and the statistics of one E-pass."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._params import Statistics


@dataclass
class HMMParams:
    """One set of HMM parameters: ``startprob`` (S,), ``transmat`` (S, S) and one
    :class:`~gmmkit._params.MixtureParams` per state (M components each, in the fit's
    shifted coordinates)."""

    startprob: np.ndarray
    transmat: np.ndarray
    states: list = field(default_factory=list)

    @property
    def noise_weight(self):  # the driver's FitResult is shared with mixtures
        return 0.0


@dataclass
class HMMStatistics:
    """Sufficient statistics of one forward-backward pass over all sequences:
    expected start counts (S,), transition counts (S, S), and the S M flattened
    components' ``nk`` (S M,), ``sx`` (S M, D), ``sxx`` (kernel layout) of the shifted
    data (component m of state s is row s M + m)."""

    start: np.ndarray
    trans: np.ndarray
    nk: np.ndarray
    sx: np.ndarray
    sxx: np.ndarray

    def __add__(self, other):
        return HMMStatistics(self.start + other.start, self.trans + other.trans, self.nk + other.nk,
                             self.sx + other.sx, self.sxx + other.sxx)

    def state(self, s, M, entry):
        """State ``s``'s mixture statistics, in the layout the mixture M-step takes."""
        sl = slice(s * M, (s + 1) * M)
        nk = np.append(self.nk[sl], 0.0)  # no noise component
        return Statistics(nk, self.sx[sl], entry.from_kernel_stats(self.sxx[sl]))


__all__ = ["HMMParams", "HMMStatistics"]
