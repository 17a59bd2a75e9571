"""The CLI kit: what every ``gmmkit`` command and application plugin prints with.

A plugin command parses its options, calls the Python API and prints through
this module, so that every command behaves the same way:

- :func:`print_json`: one JSON document on stdout, always valid JSON (NaN and
  infinity become ``null``; numpy scalars and arrays, paths and dates are
  converted);
- :func:`note` / :func:`warn` / :func:`error_line`: one line on stderr
  (``note: ...`` lines are silenced by ``--quiet``, the root's or the command's);
- :func:`echo`: a result line on stdout (silenced by ``quiet=True``);
- :func:`check_output` / :func:`check_outputs`: refuse an existing output file
  before any long computation (``--force`` to overwrite);
- :class:`Progress`: the one transient progress display on stderr, drawn only on
  a terminal (tasks with ``(done, total)`` callbacks, a spinner, and the EM
  callback of :class:`FitProgress`);
- :func:`text_table` and :func:`fmt`: plain aligned tables and compact numbers;
- :func:`require_matplotlib`: a one-line error when an optional plot cannot be drawn.

Mistakes are reported by raising :class:`gmmkit.exceptions.GMMKitError` (or
``typer.BadParameter``): the root command turns them into one ``error:`` line
and exit code 2. Importing this module loads neither numpy nor rich.

>>> to_json({"a": float("nan"), "b": [1.5, float("inf")]})
'{"a": null, "b": [1.5, null]}'
>>> print(text_table([{"k": 1, "w": 0.25}], ["k", "w"], {"w": "{:.1%}"}))
k      w
-  -----
1  25.0%
"""
from __future__ import annotations

import json
import math
import os
import sys
import time

from ..exceptions import OutputExistsError, ParameterError
from ._errors import STATE, echo_err

__all__ = [
    "jsonable", "to_json", "print_json", "is_quiet", "echo", "note", "warn", "error_line",
    "check_output", "check_outputs", "Progress", "FitProgress", "Spinner", "text_table", "fmt",
    "escape", "stdout_console", "require_matplotlib", "parse_k", "parse_covariance",
    "COVARIANCE_TYPES",
]

#: the covariance types the commands accept (``--covariance all`` tries each)
COVARIANCE_TYPES = ("full", "diag", "tied", "spherical")
DEFAULT_K_RANGE = range(1, 11)


# ------------------------------------------------------------------ JSON
def jsonable(value):
    """``value`` made of plain JSON values: dicts, lists, str, int, float, bool, None.

    numpy scalars and arrays, tuples, sets, paths, dates and pandas objects are
    converted; NaN and infinity (which JSON lacks) become None.

    >>> import numpy as np
    >>> jsonable({"x": np.float32(0.5), "v": np.array([1, 2]), 3: float("-inf")})
    {'x': 0.5, 'v': [1, 2], '3': None}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "isoformat"):  # datetime, date, pandas Timestamp
        return value.isoformat()
    if hasattr(value, "to_dict") and hasattr(value, "index"):  # pandas Series / DataFrame
        orient = "records" if hasattr(value, "columns") else "dict"
        return jsonable(value.to_dict(orient) if orient == "records" else value.to_dict())
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return jsonable(value.tolist())
    if hasattr(value, "item"):
        return jsonable(value.item())
    try:
        return jsonable(float(value))
    except (TypeError, ValueError):
        return str(value)


def to_json(obj, indent=None):
    """``obj`` as a JSON string (via :func:`jsonable`): always valid JSON."""
    return json.dumps(jsonable(obj), indent=indent, allow_nan=False)


def print_json(obj, indent=2):
    """Print ``obj`` as one JSON document on stdout (NaN and infinity as null)."""
    sys.stdout.write(to_json(obj, indent=indent) + "\n")
    sys.stdout.flush()


# ------------------------------------------------------------------ options
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
    """Parse ``--covariance``: one type, a comma list, ``all`` or ``mclust`` (mclust's 14
    models, EII ... VVV, as ``gmmkit.select``'s default grid) or ``sklearn`` (scikit-learn's
    four); names are case-insensitive.

    >>> parse_covariance("diag,full"), len(parse_covariance("all")), parse_covariance("vev,EEE")
    (('diag', 'full'), 14, ('VEV', 'EEE'))
    >>> parse_covariance("sklearn")
    ('full', 'diag', 'tied', 'spherical')
    """
    from .._covariance import COVARIANCE_NAMES, MCLUST_MODELS

    text = str(text).strip()
    if text.lower() in ("all", "mclust") and allow_all:
        return tuple(MCLUST_MODELS)
    if text.lower() == "sklearn" and allow_all:
        return COVARIANCE_TYPES
    canonical = {n.lower(): n for n in COVARIANCE_NAMES}
    types = tuple(canonical.get(t.strip().lower(), t.strip()) for t in text.split(",") if t.strip())
    bad = [t for t in types if t not in COVARIANCE_NAMES]
    if bad or not types:
        choices = ", ".join(COVARIANCE_NAMES) + (", all, mclust, sklearn" if allow_all else "")
        raise ParameterError(f"--covariance {text!r}: choose from {choices}")
    return types


# ------------------------------------------------------------------ lines
def is_quiet(flag=False):
    """True with the command's ``--quiet`` (``flag``) or the root's ``gmmkit --quiet``."""
    return bool(flag or STATE.quiet)


def echo(text="", quiet=False):
    """A result line on stdout, unless quiet."""
    if not is_quiet(quiet):
        sys.stdout.write(str(text) + "\n")


def note(text, quiet=False):
    """An informational line on stderr (plain text, no markup), unless quiet.

    ``text`` gets a ``note: `` prefix unless it has one already.
    """
    if not is_quiet(quiet):
        text = str(text)
        echo_err(text if text.startswith("note: ") else f"note: {text}")


def warn(text):
    """A ``warning: ...`` line on stderr (shown even with --quiet)."""
    echo_err(f"warning: {text}")


def error_line(text):
    """An ``error: ...`` line on stderr for a failure the command survives (e.g. one file of a
    batch); a fatal mistake is raised as a :class:`gmmkit.exceptions.GMMKitError` instead."""
    echo_err(f"error: {text}")


# ------------------------------------------------------------------ output files
def check_output(path, force=False, *, folder=False):
    """Fail early (before any long computation) when an output cannot be written.

    A file ``path`` that exists needs ``force``; a folder where a file is expected
    (or a file where a folder is expected, ``folder=True``) is refused. ``None`` is
    accepted (no output).
    """
    if path is None:
        return
    _check_writable_place(path)
    if folder:
        if os.path.exists(path) and not os.path.isdir(path):
            raise OutputExistsError(f"{path} exists and is not a folder")
        return
    if os.path.isdir(path):
        raise OutputExistsError(f"{path} is a folder; give a file name")
    if os.path.exists(path) and not force:
        raise OutputExistsError(f"{path} exists; pass --force to overwrite it")
    if STATE.outputs is not None:  # inside one command: two outputs may not be one file
        key = os.path.realpath(path)
        if key in STATE.outputs:
            raise ParameterError(f"{STATE.outputs[key]} and {path} are the same file; give different outputs")
        STATE.outputs[key] = path


def _check_writable_place(path):
    """Refuse a path under a file, or whose name the file system cannot hold."""
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise ParameterError(f"cannot write {path}: {folder} is a file, not a folder")
    try:
        name_max = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    for part in os.path.normpath(os.path.abspath(path)).split(os.sep):
        if len(os.fsencode(part)) > name_max:
            raise ParameterError(f"cannot write {path}: a name of {len(part)} characters "
                                 f"(this file system takes at most {name_max})")


def check_outputs(*paths, force=False):
    """:func:`check_output` for every path given, and no two the same file."""
    given = [p for p in paths if p is not None]
    for p in given:
        check_output(p, force)
    seen = {}
    for p in given:
        key = os.path.realpath(p)
        if key in seen:
            raise ParameterError(f"{seen[key]} and {p} are the same file; give different outputs")
        seen[key] = p


def require_matplotlib(option):
    """Import matplotlib with the Agg backend, or fail in one line naming ``option``."""
    try:
        import matplotlib
    except ImportError:
        raise ParameterError(f"{option} needs matplotlib: pip install 'gmmkit[plot]'") from None
    matplotlib.use("Agg")
    return matplotlib


# ------------------------------------------------------------------ consoles and tables
def stdout_console():
    """A rich console on stdout for tables with markup (no highlighting, soft wrap)."""
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def escape(value):
    """A user-given string (a path...) made safe for rich markup."""
    from rich.markup import escape as _escape

    return _escape(str(value))


def fmt(x, digits=4):
    """Compact number formatting for tables.

    >>> fmt(3.14159), fmt(123456.0), fmt(float("nan"))
    ('3.142', '1.235e+05', 'nan')
    """
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def text_table(rows, columns, formats=None, *, headers=None):
    """Plain right-aligned text table, pipe-safe (no colour).

    ``rows`` are dicts (or sequences in column order); ``formats`` maps a column to
    a format string such as ``"{:.3f}"``; a missing or NaN value prints as ``-``.
    """
    formats = formats or {}
    heads = list(headers or columns)

    def cell(row, j, c):
        v = row[c] if isinstance(row, dict) else row[j]
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-"
        return formats.get(c, "{}").format(v)

    cells = [heads] + [[cell(r, j, c) for j, c in enumerate(columns)] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ------------------------------------------------------------------ progress
class Progress:
    """The one progress display: transient, on stderr, drawn only on a terminal.

    Use as a context manager. :meth:`task` adds a line and returns a callback
    ``update(done, total)`` (``total`` None: unknown), or None when nothing is
    drawn (disabled, --quiet, not a terminal), which is what the API functions'
    ``progress=`` arguments accept. The display starts ``delay`` seconds after
    entering (so quick work prints nothing). :meth:`print` writes a line above
    the display (or on stdout when there is none).

    >>> with Progress(enabled=False) as p:
    ...     p.task("reading") is None
    True
    """

    def __init__(self, *, enabled=True, delay=0.0, console=None):
        self.enabled = bool(enabled) and not STATE.quiet
        self.delay = float(delay)
        self._console = console
        self._bar = None
        self._pending = []  # tasks added before the display started
        self._t0 = time.monotonic()

    # -- life cycle
    def __enter__(self):
        if self.enabled:
            if self._console is None:
                from rich.console import Console

                self._console = Console(stderr=True)
            self.enabled = self._console.is_terminal
        self._t0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        return False

    def _shown(self):
        """The rich Progress, started once the delay has passed; None before or when disabled."""
        if not self.enabled:
            return None
        if self._bar is None:
            if time.monotonic() - self._t0 < self.delay:
                return None
            from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                console=self._console, transient=True)
            self._bar.start()
            for handle in self._pending:
                handle.id = self._bar.add_task(handle.description, total=handle.total, info=handle.info)
            self._pending = []
        return self._bar

    # -- tasks
    def task(self, description, total=None):
        """Add a line; returns its ``update(done, total=None, description=None, info=None)``
        callback, or None when nothing will be drawn."""
        if not self.enabled:
            return None
        handle = _Task(self, description, total)
        bar = self._shown()
        if bar is None:
            self._pending.append(handle)
        else:
            handle.id = bar.add_task(description, total=total, info="")
        return handle

    def print(self, text):
        """A line above the display (plain text), or on stdout when nothing is drawn."""
        if self._bar is not None:
            self._bar.console.print(str(text), markup=False, highlight=False)
        else:
            sys.stdout.write(str(text) + "\n")


class _Task:
    def __init__(self, owner, description, total):
        self.owner, self.description, self.total, self.info, self.id = owner, description, total, "", None
        self.done = 0

    def __call__(self, done=None, total=None, *, description=None, info=None):
        if done is not None:
            self.done = done
        if total is not None:
            self.total = total
        if description is not None:
            self.description = description
        if info is not None:
            self.info = info
        bar = self.owner._shown()
        if bar is None or self.id is None:
            return
        bar.update(self.id, completed=self.done, total=self.total, description=self.description,
                   info=self.info)

    def advance(self, step=1):
        self(self.done + step)


class FitProgress(Progress):
    """The estimator's ``callback`` (``GaussianMixture(callback=...)``) drawn as a progress line.

    Shows ``init i/n`` (restarts), the EM iteration out of ``max_iter`` and the
    current mean log-likelihood; appears once the fit has run ``delay`` seconds.
    """

    def __init__(self, *, n_init, max_iter, enabled=True, delay=1.0, console=None, label="EM"):
        super().__init__(enabled=enabled, delay=delay, console=console)
        self.n_init = int(n_init)
        self.max_iter = int(max_iter)
        self.label = label
        self.calls = 0
        self._line = None

    def __call__(self, info):
        self.calls += 1
        if not self.enabled:
            return
        if self._line is None:
            self._line = self.task(self.label, total=self.max_iter)
            self._line(0, info="log-lik -")
        init = int(info.get("init", 0))
        desc = f"{self.label} init {init + 1}/{self.n_init}" if self.n_init > 1 else self.label
        self._line(int(info["n_iter"]), description=desc,
                   info=f"log-lik {float(info['lower_bound']):.5g}")


class Spinner(Progress):
    """A transient spinner line for work without progress reports (model selection)."""

    def __init__(self, text, *, enabled=True, console=None):
        super().__init__(enabled=enabled, console=console)
        self.text = text

    def __enter__(self):
        super().__enter__()
        self.task(self.text)
        return self
