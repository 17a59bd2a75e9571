"""Model files written by an earlier gmmkit (commit 09fabbf, before the EM driver moved
to gmmkit/_em) still load and give the same densities and labels."""
import json
from pathlib import Path

import numpy as np
import pytest

import gmmkit

OLD = Path(__file__).resolve().parents[1] / "data" / "old_models"
EXPECTED = json.loads((OLD / "expected.json").read_text())
PROBE = np.array([[np.nan if v is None else v for v in row] for row in EXPECTED["probe"]])


@pytest.mark.parametrize("name", ["full_noise.gmm", "tied.gmm", "diag_noise.gmm", "spherical.gmm"])
def test_old_model_file_loads_and_scores_as_before(name):
    gm = gmmkit.load(OLD / name)
    np.testing.assert_allclose(gm.score_samples(PROBE), EXPECTED[name]["score_samples"], rtol=1e-12)
    np.testing.assert_array_equal(gm.predict(PROBE), EXPECTED[name]["predict"])
    assert (gm.noise_weight_ > 0) == ("noise" in name)


def test_round_trip_through_from_parameters_is_exact(tmp_path):
    gm = gmmkit.load(OLD / "full_noise.gmm")
    gm.save(tmp_path / "again.gmm")
    again = gmmkit.load(tmp_path / "again.gmm")
    for attr in ("weights_", "means_", "covariances_", "precisions_cholesky_", "noise_bounds_"):
        np.testing.assert_array_equal(getattr(again, attr), getattr(gm, attr))
    assert again.noise_log_volume_ == gm.noise_log_volume_


def test_from_parameters_validates():
    from gmmkit import GaussianMixture
    from gmmkit.exceptions import ParameterError

    ok = GaussianMixture.from_parameters([0.3, 0.7], [[0.0, 0.0], [3.0, 3.0]], [[1.0, 2.0], [0.5, 0.5]],
                                         covariance_type="diag")
    assert ok.predict(np.array([[3.0, 3.0]])).tolist() == [1]
    with pytest.raises(ParameterError, match="probability"):
        GaussianMixture.from_parameters([0.5, 0.7], [[0.0], [3.0]], [1.0, 1.0], covariance_type="spherical")
    with pytest.raises(ParameterError, match="shape"):
        GaussianMixture.from_parameters([0.5, 0.5], [[0.0], [3.0]], [1.0, 1.0], covariance_type="diag")
    with pytest.raises(ParameterError, match="positive definite"):
        GaussianMixture.from_parameters([1.0], [[0.0, 0.0]], [[[1.0, 2.0], [2.0, 1.0]]])
    with pytest.raises(ParameterError, match="noise_bounds"):
        GaussianMixture.from_parameters([0.9], [[0.0]], [[[1.0]]], noise_weight=0.1)
