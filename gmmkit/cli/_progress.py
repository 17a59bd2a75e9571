"""Former home of the progress displays; they live in the public :mod:`gmmkit.cli.kit`."""
from .kit import FitProgress, Progress, Spinner

__all__ = ["FitProgress", "Progress", "Spinner"]
