"""Helpers shared by the generic commands: option parsing, output files, consoles."""
from __future__ import annotations

import json
import os
import sys

from ..exceptions import OutputExistsError, ParameterError
from ._errors import STATE

COVARIANCE_TYPES = ("full", "diag", "tied", "spherical")
DEFAULT_K_RANGE = range(1, 11)


def parse_k(text):
    """Parse ``-k``: ``5``, ``auto`` (1..10), ``2..8`` (inclusive) or ``1,2,4``.

    Returns a sorted list of ints.

    >>> parse_k("3"), parse_k("2..4"), parse_k("1,3"), parse_k("auto")[-1]
    ([3], [2, 3, 4], [1, 3], 10)
    """
    text = str(text).strip().lower()
    try:
        if text == "auto":
            ks = list(DEFAULT_K_RANGE)
        elif ".." in text:
            lo, hi = text.split("..", 1)
            ks = list(range(int(lo), int(hi) + 1))
        else:
            ks = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ParameterError(
            f"-k {text!r}: expected a number, a range like 1..10, a list like 2,4,8 or 'auto'"
        ) from None
    if not ks or min(ks) < 1:
        raise ParameterError(f"-k {text!r}: the number of components must be at least 1")
    return sorted(set(ks))


def parse_covariance(text, *, allow_all=True):
    """Parse ``--covariance``: one type, a comma list, or ``all``; returns a tuple."""
    text = str(text).strip().lower()
    if text == "all" and allow_all:
        return COVARIANCE_TYPES
    types = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [t for t in types if t not in COVARIANCE_TYPES]
    if bad or not types:
        choices = ", ".join(COVARIANCE_TYPES) + (", all" if allow_all else "")
        raise ParameterError(f"--covariance {text!r}: choose from {choices}")
    return types


def check_output(path, force):
    """Fail early (before any long computation) if ``path`` exists and --force is off."""
    if path is not None and os.path.exists(path) and not force:
        raise OutputExistsError(f"{path} exists; pass --force to overwrite it")
    if path is not None and os.path.isdir(path):
        raise OutputExistsError(f"{path} is a folder; give a file name")


def quiet(flag):
    return bool(flag or STATE.quiet)


def stdout_console():
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def report_console(summary, as_json, quiet_flag):
    """Print ``summary`` as JSON (--json) and return None; None with --quiet; else the
    stdout console for the human-readable report."""
    if as_json:
        print_json(summary)
        return None
    if quiet(quiet_flag):
        return None
    return stdout_console()


def stderr_console():
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False)


def note(text, quiet_flag=False):
    """An informational line on stderr (not with --quiet)."""
    if not quiet(quiet_flag):
        stderr_console().print(text)


def print_json(obj):
    sys.stdout.write(json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n")


def jsonable(value):
    """Convert numpy scalars/arrays (and NaN/inf, which JSON lacks) to plain JSON values."""
    import math

    import numpy as np

    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def fmt(x, digits=4):
    """Compact number formatting for tables."""
    import math

    x = float(x)
    if not math.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"
