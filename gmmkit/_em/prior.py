"""mclust's conjugate prior (Fraley and Raftery 2007): hyper-parameters and the MAP step."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import ParameterError


@dataclass(frozen=True)
class ConjugatePrior:
    """Normal-inverse-Wishart prior: means shrink toward the data mean (0 in the fit's
    shifted coordinates) with strength ``shrinkage``; covariances toward ``scale``
    with ``dof`` degrees of freedom."""

    shrinkage: float
    dof: float
    scale: np.ndarray

    @classmethod
    def from_option(cls, option, D, K, data_scale):
        """The prior an estimator's ``prior`` option asks for, or None.

        ``data_scale()`` gives the data covariance (default scale: that / K**(2/D)).
        """
        if option is None:
            return None
        opts = {} if option == "conjugate" else dict(option)
        unknown = set(opts) - {"shrinkage", "dof", "scale"}
        if unknown:
            raise ParameterError(f"prior: unknown option(s) {sorted(unknown)}; use shrinkage, dof, scale")
        scale = opts.get("scale")
        if scale is None:
            scale = data_scale() / K ** (2.0 / D)
        scale = np.asarray(scale, dtype=np.float64)
        if scale.shape != (D, D):
            raise ParameterError(f"prior: scale must have shape ({D}, {D}), got {scale.shape}")
        return cls(float(opts.get("shrinkage", 0.01)), float(opts.get("dof", D + 2)), scale)

    def map_estimate(self, entry, nk, means, cov):
        """MAP means and covariances from the ML ones (``cov`` without reg_covar)."""
        kappa, D = self.shrinkage, means.shape[1]
        shrink = kappa * nk / (kappa + nk)
        new_means = means * (nk / (nk + kappa))[:, None]
        outer = means[:, :, None] * means[:, None, :] * shrink[:, None, None]
        return new_means, entry.map_estimate(cov, nk, self.scale, self.dof, outer, D)
