"""gmmkit outliers: score, flag and explain anomalies by their density under a mixture.

Light to import (the CLI loads it at start-up); the estimator loads on first use.

>>> from gmmkit_apps.outliers import GMMOutlierDetector  # doctest: +SKIP
"""
__all__ = ["GMMOutlierDetector", "load_detector"]


def __getattr__(name):
    if name in __all__:
        from . import detector

        return getattr(detector, name)
    raise AttributeError(f"module 'gmmkit_apps.outliers' has no attribute {name!r}")
