"""How the ``gmmkit`` command reports problems.

A user mistake (any :class:`gmmkit.exceptions.GMMKitError`, ``typer.BadParameter``
or other usage error, a missing file) becomes one line ``error: ...`` on stderr and
exit code 2, with no traceback unless ``--debug`` (or ``GMMKIT_DEBUG=1``). This is
done in the root command's ``main``, so it covers every command, the plugins'
included: an application only raises ``GMMKitError``. Anything else is a bug and
keeps its traceback (without local variables). Python warnings are printed as one
``warning: ...`` line too.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import warnings

import typer
import typer.core

from ..exceptions import GMMKitError

# typer >= 0.2x vendors click; find the exception classes through typer's own export
_CLICK_EXC = sys.modules[typer.BadParameter.__module__]
ClickException = _CLICK_EXC.ClickException
UsageError = _CLICK_EXC.UsageError
NoArgsIsHelpError = getattr(_CLICK_EXC, "NoArgsIsHelpError", None)
_ABORTS = tuple({typer.Abort, getattr(_CLICK_EXC, "Abort", typer.Abort)})

#: OSErrors about a path the user named: reported in one line, not as a crash
USER_PATH_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


class State:
    """Root options of the current invocation (``--debug``, ``--quiet``)."""

    def __init__(self):
        self.reset()
        #: output files claimed so far by this invocation (realpath -> as given); None outside one
        self.outputs = None

    def reset(self):
        self.debug = os.environ.get("GMMKIT_DEBUG", "") not in ("", "0")
        self.quiet = False


STATE = State()


def echo_err(line):
    """Write one line to stderr."""
    sys.stderr.write(line.rstrip("\n") + "\n")
    sys.stderr.flush()


def _one_line(text):
    return " ".join(str(text).split())


def describe(exc):
    """The one-line message for a user error."""
    if isinstance(exc, USER_PATH_ERRORS) and getattr(exc, "filename", None):
        reason = {FileNotFoundError: "file not found", IsADirectoryError: "is a folder",
                  NotADirectoryError: "not a folder", PermissionError: "permission denied"}
        for cls, text in reason.items():
            if isinstance(exc, cls):
                return f"{text}: {exc.filename}"
    if isinstance(exc, ClickException):
        msg = _one_line(exc.format_message())
        ctx = getattr(exc, "ctx", None)
        if isinstance(exc, UsageError) and ctx is not None:
            msg += f" (see '{ctx.command_path} --help')"
        return msg
    return _one_line(exc) or type(exc).__name__


def _show_warning(message, category, filename, lineno, file=None, line=None):
    name = category.__name__
    prefix = "" if name in ("UserWarning", "GMMKitWarning") else f"{name}: "
    echo_err(f"warning: {prefix}{_one_line(message)}")


def _quiet_requested(args):
    return any(a in ("-q", "--quiet") for a in args)


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so ``finally`` blocks (temporary files) still run."""


def _on_sigterm(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def _sigterm_unwinds():
    """While a command runs, SIGTERM unwinds the stack like Ctrl-C instead of killing the process
    on the spot (which left ``.tmp-*`` files behind); the previous handler is restored after."""
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class RootGroup(typer.core.TyperGroup):
    """The root click group: prints plugin warnings and turns user errors into one line."""

    #: one line per plugin that could not be mounted (set on a subclass by make_app)
    plugin_problems: tuple = ()
    #: name -> problem, for plugins that are installed but failed to load
    plugin_failures: dict = {}

    def get_command(self, ctx, cmd_name):
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None and cmd_name in self.plugin_failures:
            raise UsageError(f"the {cmd_name!r} app is installed but unusable: "
                             f"{self.plugin_failures[cmd_name]}", ctx=ctx)
        return cmd

    def format_help(self, ctx, formatter):
        """The root's help, plain: typer's rich formatter imports ~0.15 s of modules, a third
        of ``gmmkit --help``'s time. Commands are listed by panel ("Commands", "Applications")
        as the rich help does; subcommands keep the rich help."""
        self.format_usage(ctx, formatter)
        self.format_help_text(ctx, formatter)
        opts = [rv for p in self.get_params(ctx) if (rv := p.get_help_record(ctx)) is not None]
        with formatter.section("Options"):
            formatter.write_dl(opts)
        panels = {}
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                panel = getattr(cmd, "rich_help_panel", None) or "Commands"
                panels.setdefault(panel, []).append((name, cmd.get_short_help_str(limit=200)))
        for panel, rows in panels.items():
            with formatter.section(panel):
                formatter.write_dl(rows)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        args = list(sys.argv[1:] if args is None else args)
        STATE.reset()
        STATE.outputs = {}
        if not _quiet_requested(args):
            for problem in self.plugin_problems:
                echo_err(f"warning: {problem}")
        code = 0
        try:
            with warnings.catch_warnings(), _sigterm_unwinds():
                warnings.showwarning = _show_warning
                # warnings meant for the user (UserWarning: gmmkit's, scikit-learn's ConvergenceWarning)
                # are always printed, whatever filters the caller set (e.g. pytest's "error")
                warnings.filterwarnings("default", category=UserWarning)
                try:
                    rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                      standalone_mode=False, **extra)
                    if isinstance(rv, int) and not isinstance(rv, bool):
                        code = rv
                    if code == 130:  # Typer turns KeyboardInterrupt into Exit(130) before we see it
                        echo_err("error: interrupted")
                except KeyboardInterrupt:
                    if STATE.debug:
                        raise
                    echo_err("error: interrupted")
                    code = 130
                except Terminated:
                    echo_err("error: terminated")
                    code = 143
                except _ABORTS:
                    echo_err("error: aborted")
                    code = 1
                except ClickException as exc:
                    if NoArgsIsHelpError is not None and isinstance(exc, NoArgsIsHelpError):
                        typer.echo(exc.ctx.get_help())
                        code = 0
                    elif STATE.debug:
                        raise
                    else:
                        echo_err(f"error: {describe(exc)}")
                        code = exc.exit_code
                except (GMMKitError, *USER_PATH_ERRORS) as exc:
                    if STATE.debug:
                        raise
                    echo_err(f"error: {describe(exc)}")
                    code = 2
        finally:
            STATE.outputs = None
        if standalone_mode:
            sys.exit(code)
        return code
