"""The generic commands (fit, predict, select, info, sample): see :mod:`gmmkit.cli.commands`."""
from .commands import COMMANDS, fit, info, predict, register, sample, select

__all__ = ["COMMANDS", "register", "fit", "predict", "select", "info", "sample"]
