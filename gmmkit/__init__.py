"""gmmkit: Gaussian mixture models on a fused Numba EM engine.

Heavy modules (scikit-learn, Numba) load on first use, so ``import gmmkit`` and
``gmmkit --help`` stay fast.

>>> import numpy as np, gmmkit
>>> X = np.random.default_rng(0).normal(size=(100, 2))
>>> gmmkit.GaussianMixture(2, random_state=0).fit(X).weights_.shape
(2,)
"""
from ._version import __version__
from .exceptions import DataError, GMMKitError, ModelFileError, ParameterError

__all__ = [
    "GaussianMixture", "BayesianGaussianMixture", "GaussianMixtureClassifier", "GMMHMM", "load", "select",
    "SelectionResult", "GMMKitError", "DataError", "ModelFileError",
    "ParameterError", "n_threads", "thread_pool", "__version__",
]

_LAZY = {
    "GaussianMixture": ("gmmkit.mixture", "GaussianMixture"),
    "BayesianGaussianMixture": ("gmmkit.bayesian", "BayesianGaussianMixture"),
    "GaussianMixtureClassifier": ("gmmkit.classifier", "GaussianMixtureClassifier"),
    "GMMHMM": ("gmmkit.hmm", "GMMHMM"),
    "load": ("gmmkit.mixture", "load"),
    "select": ("gmmkit.selection", "select"),
    "SelectionResult": ("gmmkit.selection", "SelectionResult"),
    "n_threads": ("gmmkit._engine", "n_threads"),
    "thread_pool": ("gmmkit._engine", "thread_pool"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(mod), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gmmkit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
