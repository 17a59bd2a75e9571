"""The ``gmmkit`` command: generic commands on tables plus the installed application plugins.

``app`` is the root :class:`typer.Typer` (built on first access, with the plugins
installed in the ``gmmkit.apps`` entry-point group); ``main()`` is the console
script. ``make_app(entry_points=[...])`` builds a root app from given entry
points, which is how tests mount fake plugins.

Nothing heavy is imported here: numpy, pandas and the estimator load inside the
commands, so ``gmmkit --help`` starts fast.

>>> from typer.testing import CliRunner
>>> result = CliRunner().invoke(make_app(entry_points=[]), ["--version"])
>>> result.output.startswith("gmmkit ")
True
"""
from __future__ import annotations

from typing import Annotated

import typer

from .. import plugins
from .._version import __version__
from ._errors import STATE, RootGroup
from .generic import COMMANDS, register

__all__ = ["app", "main", "make_app"]

HELP = """Gaussian mixture models from the command line.

Example: gmmkit fit data.csv -k 5 -o model.gmm; gmmkit predict model.gmm data.csv -o labels.csv

""" + (
    "Generic commands work on tables (CSV, Parquet, .npy); applications are plugins registered in the "
    "'gmmkit.apps' entry-point group. Mistakes print one 'error:' line and exit with code 2; --debug "
    "shows the traceback.\n")


def _version_callback(value: bool):
    if value:
        typer.echo(f"gmmkit {__version__}")
        raise typer.Exit()


def _list_apps(ctx: typer.Context, value: bool):
    """--apps: one line per plugin, name, kind, entry point, distribution (or its problem)."""
    if not value or ctx.resilient_parsing:
        return
    registry = getattr(ctx.command, "registry", None) or plugins.Registry()
    for name in registry.names():
        p = registry.plugins[name]
        where = p.value + (f" ({p.distribution})" if p.distribution else "")
        typer.echo(f"{name:<12} {p.kind:<8} {where}")
    for name, problem in sorted(registry.failed.items()):
        typer.echo(f"{name:<12} {'BROKEN':<8} {problem}")
    if not registry.plugins and not registry.failed:
        typer.echo(f"no application plugins installed (entry-point group {plugins.GROUP!r})")
    raise typer.Exit()


def _root(
    version: Annotated[bool, typer.Option(
        "--version", help="Show gmmkit's version and exit.", is_eager=True,
        callback=_version_callback)] = False,
    apps: Annotated[bool, typer.Option(
        "--apps", help="List the installed application plugins (and any that failed) and exit.",
        is_eager=True, callback=_list_apps)] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars, notes or "
                                                              "plugin warnings.")] = False,
):
    STATE.debug = STATE.debug or debug
    STATE.quiet = quiet


def make_app(entry_points=None):
    """Build the root typer app with the generic commands and the plugins.

    Parameters
    ----------
    entry_points : iterable of importlib.metadata.EntryPoint, optional
        Plugins to mount; by default those installed in ``gmmkit.apps`` (discovery
        cached, see :func:`gmmkit.plugins.refresh`).
    """
    registry = plugins.discover(entry_points, reserved=COMMANDS)
    group_cls = type("GMMKitRootGroup", (RootGroup,),
                     {"plugin_problems": tuple(registry.problems),
                      "plugin_failures": dict(registry.failed), "registry": registry})
    root = typer.Typer(
        name="gmmkit", help=HELP, cls=group_cls, no_args_is_help=True, add_completion=False,
        pretty_exceptions_show_locals=False, context_settings={"help_option_names": ["-h", "--help"]},
    )
    root.callback()(_root)
    register(root)
    for plugin in registry.plugins.values():
        if plugin.kind == "group":
            root.add_typer(plugin.obj, name=plugin.name, rich_help_panel="Applications")
        else:
            root.command(plugin.name, rich_help_panel="Applications")(plugin.obj)
    root.registry = registry
    return root


_APP = None


def __getattr__(name):
    if name == "app":
        global _APP
        if _APP is None:
            _APP = make_app()
        return _APP
    raise AttributeError(f"module 'gmmkit.cli' has no attribute {name!r}")


def main():
    """Console-script entry point: ``gmmkit``."""
    try:
        __getattr__("app")(prog_name="gmmkit")
    except BrokenPipeError:  # e.g. `gmmkit sample m.gmm | head`
        import os
        import sys

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)

