"""The segment app's log-likelihood maps (gmmkit.kernels underneath) against scipy, for
every covariance type, gmmkit's and scikit-learn's estimators, and the app's use of
public gmmkit names only (no copy of the density kernel or of the fastmath flags)."""
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from gmmkit import GaussianMixture
from gmmkit.covariance import full_covariances
from gmmkit.exceptions import ParameterError
from gmmkit.kernels import FASTMATH
from gmmkit_apps.segment import _kernels
from gmmkit_apps.segment.mrf import component_logp

APP = Path(_kernels.__file__).resolve().parent
COV_TYPES = ["full", "tied", "diag", "spherical"]


def scipy_logp(model, X):
    covs = full_covariances(model)
    return np.column_stack([np.log(w) + multivariate_normal(m, c).logpdf(X)
                            for w, m, c in zip(model.weights_, model.means_, covs)])


@pytest.fixture(scope="module")
def pixels():
    rng = np.random.default_rng(21)  # CIELAB-like features: L in 0..100, a and b around 0
    X = np.vstack([rng.normal([70, 10, -20], [5, 3, 4], (300, 3)),
                   rng.normal([30, -15, 25], [8, 2, 6], (300, 3)),
                   rng.normal([50, 0, 0], [3, 3, 3], (300, 3))])
    return X.astype(np.float32)


@pytest.mark.parametrize("estimator", ["gmmkit", "sklearn"])
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_component_logp_matches_scipy(pixels, cov_type, estimator):
    from sklearn.mixture import GaussianMixture as SkGMM

    cls = GaussianMixture if estimator == "gmmkit" else SkGMM
    gm = cls(3, covariance_type=cov_type, random_state=0).fit(pixels.astype(np.float64))
    lp = component_logp(gm, pixels)
    assert lp.dtype == np.float32 and lp.shape == (len(pixels), 3)
    ref = scipy_logp(gm, pixels.astype(np.float64))
    np.testing.assert_allclose(lp, ref, rtol=2e-5, atol=2e-4)


def test_component_logp_writes_into_out_and_checks_shapes(pixels):
    gm = GaussianMixture(2, random_state=0).fit(pixels)
    out = np.empty((len(pixels), 2), dtype=np.float32)
    assert component_logp(gm, pixels, out=out) is out
    with pytest.raises(ParameterError):
        component_logp(gm, pixels[:, :2])
    with pytest.raises(ParameterError):
        component_logp(gm, pixels, out=np.empty((len(pixels), 2)))


def test_segment_app_uses_public_gmmkit_names_and_no_density_or_flag_copy():
    for path in sorted(APP.glob("*.py")):
        text = path.read_text()
        assert not re.search(r"\bgmmkit\._", text), f"{path.name} imports a private gmmkit name"
        assert not re.search(r"^_?FASTMATH\s*=", text, re.M), f"{path.name} defines its own fastmath flags"
    assert _kernels.FASTMATH is FASTMATH
    assert not hasattr(_kernels, "logp_range")
