"""The bad-input matrix: one ``Case`` per thing a user can type or hand over, run through the CLI.

Each ``cases_<surface>.py`` module in this folder holds ``CASES``, a list of :class:`Case`;
``test_bad_inputs.py`` runs them all through the root ``gmmkit`` command (in process) and fails on

- a traceback or any exit code other than the expected one (a user error is exit 2 and one
  ``error: ...`` line on stderr; an accepted input is exit 0);
- an accepted input whose standard output shows ``nan`` or ``inf``;
- a file named in ``keep`` that changed (existing output replaced without ``--force``);
- a temporary ``.tmp-*`` file left in the case's folder;
- a file named in ``absent`` that exists (e.g. the model of a fit that should have been refused
  before any work because ``without`` hides matplotlib).

``argv`` may use ``{tmp}`` (the case's own empty folder), ``{model}`` (a valid model fitted on
iris), ``{iris}`` (datasets/tables/iris.csv) and ``{data}`` (the datasets folder). ``files`` maps a
name under ``{tmp}`` to its content: bytes, text, or a function ``make(path, assets)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple
    files: dict = field(default_factory=dict)
    expect: str = "error"  # "error" (exit 2, one line) or "ok" (exit 0, finite output)
    match: str = ""        # regex the error line must match (case-insensitive)
    keep: tuple = ()       # files under {tmp} that must be unchanged afterwards
    absent: tuple = ()     # files under {tmp} that must not exist afterwards (no work was done)
    without: tuple = ()    # optional modules hidden from the command (as if not installed)


def error(id, *argv, files=None, match="", keep=(), absent=(), without=()):
    """A case that must end in one clean ``error:`` line and exit code 2."""
    return Case(id, tuple(argv), dict(files or {}), "error", match, tuple(keep), tuple(absent), tuple(without))


def ok(id, *argv, files=None, keep=()):
    """A case that must succeed (exit 0) and print no NaN or inf."""
    return Case(id, tuple(argv), dict(files or {}), "ok", "", tuple(keep))
