"""Writes the model files that tests/core/test_model_files.py loads: run once with the
gmmkit of commit 09fabbf (before the EM driver moved to gmmkit/_em), from a checkout
of that commit: ``PYTHONPATH=<checkout> python tests/data/old_models/make_old_models.py``.
The files pin that later versions still read models written by earlier ones."""
import json
import os

import numpy as np

import gmmkit
from gmmkit import GaussianMixture

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)
X = np.vstack([rng.normal(-2, 1, (300, 3)), rng.normal(3, 0.5, (300, 3)), rng.uniform(-8, 8, (30, 3))])
probe = np.vstack([X[::37], [[0.0, np.nan, 1.0], [3.0, 3.0, np.nan]]])
expected = {"gmmkit_version": gmmkit.__version__, "probe": np.where(np.isnan(probe), None, probe).tolist()}
for cov, noise in [("full", True), ("tied", False), ("diag", True), ("spherical", False)]:
    gm = GaussianMixture(2, covariance_type=cov, noise=noise, random_state=0).fit(X)
    name = f"{cov}{'_noise' if noise else ''}.gmm"
    gm.save(os.path.join(HERE, name))
    expected[name] = {"score_samples": gm.score_samples(probe).tolist(), "predict": gm.predict(probe).tolist()}
with open(os.path.join(HERE, "expected.json"), "w") as fh:
    json.dump(expected, fh, indent=1)
