"""The generic commands on tabular data: fit, predict, select, info, sample, one module each.

Each command parses its options, calls the Python API (:class:`gmmkit.GaussianMixture`,
:func:`gmmkit.select`, :func:`gmmkit.load`, :func:`gmmkit.tabular.read_table`,
:func:`gmmkit.outofcore.fit_chunks`, :func:`gmmkit.dask.fit_dask`) and prints through
:mod:`gmmkit.cli.kit`. numpy, pandas and the estimator are imported inside the
commands so that ``gmmkit --help`` stays fast.
"""
from .fit import fit
from .info import info
from .predict import predict
from .sample import sample
from .select import select

COMMANDS = ("fit", "predict", "select", "info", "sample")

__all__ = ["COMMANDS", "register", "fit", "predict", "select", "info", "sample"]


def register(app):
    """Add the generic commands to a typer app."""
    for func in (fit, predict, select, info, sample):
        app.command(func.__name__)(func)
