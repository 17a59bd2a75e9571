"""mclust's Poisson noise component: a uniform density over a box, in one place."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _log_widths(bounds):
    # a constant column has no extent: give it unit width rather than zero volume
    width = bounds[1] - bounds[0]
    return np.log(np.where(width > 0, width, 1.0))


@dataclass(frozen=True)
class NoiseRegion:
    """The noise component's box: ``bounds`` (2, D) lower/upper corners, ``log_volume``.

    A row with missing values has the uniform density of its observed columns,
    whose log-widths are :attr:`log_widths`.
    """

    bounds: np.ndarray
    log_volume: float

    @classmethod
    def from_bounds(cls, bounds, volume=None):
        """The box ``bounds``; its volume, unless ``volume`` (the user's) is given."""
        bounds = np.asarray(bounds, dtype=np.float64)
        log_volume = math.log(volume) if volume is not None else float(_log_widths(bounds).sum())
        return cls(bounds, log_volume)

    @classmethod
    def from_rows(cls, X, sw, volume=None):
        """The bounding box of the rows with non-zero weight (NaN skipped)."""
        rows = X if not sw.size else X[sw > 0]
        bounds = np.vstack([np.fmin.reduce(rows, axis=0), np.fmax.reduce(rows, axis=0)])
        return cls.from_bounds(bounds.astype(np.float64), volume)

    @property
    def log_widths(self):
        return _log_widths(self.bounds)

    @property
    def volume(self):
        return float(math.exp(self.log_volume))

    def log_density(self, weight):
        """log(weight / volume): the noise term of every row's log-likelihood."""
        return math.log(weight) - self.log_volume if weight > 0 else -np.inf


def log_noise(noise, weight):
    """The noise term for the kernels: -inf without a noise component."""
    return -np.inf if noise is None else noise.log_density(weight)
