"""What stays fixed during one fit: the model's shape, coordinates, prior, noise box
and the rows that initialisation and re-seeding draw from."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .noise import NoiseRegion
from .prior import ConjugatePrior


@dataclass
class Problem:
    """The fixed part of a fit (everything but the parameters).

    ``sample``/``sample_w`` are the rows initialisation and re-seeding use (the
    data themselves in memory, a reservoir sample out of core), mean-imputed if
    the data have NaN; ``shift`` is the point EM runs around (statistics are of
    ``x - shift``); ``total`` the data's weight total.
    """

    entry: object
    K: int
    D: int
    shift: np.ndarray
    total: float
    reg_covar: float
    sample: np.ndarray
    sample_w: np.ndarray
    noise: NoiseRegion | None = None
    prior: ConjugatePrior | None = None

    def m_step(self, stats, rng, *, initial=False, counter=None):
        """New parameters from an E-pass's statistics (the driver calls this; a model with
        more than a mixture, such as an HMM, brings a problem class of its own)."""
        from .mstep import m_step

        return m_step(self, stats, rng, initial=initial, counter=counter)

    def data_scale(self, rng):
        """Covariance of (a sample of) the rows, plus reg_covar: the scale components
        are re-seeded with and the conjugate prior's default scale is made from."""
        if getattr(self, "_scale", None) is None:
            N = self.sample.shape[0]
            idx = rng.choice(N, size=min(N, 5000), replace=False)
            Xs = self.sample[idx].astype(np.float64)
            if self.sample_w.size:  # frequency weights: the covariance of the rows repeated
                w = self.sample_w[idx]
                d = Xs - (w @ Xs) / w.sum()
                C = (d * w[:, None]).T @ d / max(w.sum() - 1.0, 1.0)
            else:
                C = np.cov(Xs, rowvar=False)
            self._scale = np.atleast_2d(C) + self.reg_covar * np.eye(self.D)
        return self._scale
