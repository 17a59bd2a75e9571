"""What every ``gmmkit finance`` command shares: the Typer app, the input options and the loader.

Heavy imports happen inside the functions so ``gmmkit --help`` stays fast.
"""
from __future__ import annotations

import typer

app = typer.Typer(
    name="finance",
    help=("Return distributions with Gaussian mixtures: fit, VaR/ES, backtests, regimes, portfolios.\n\n"
          "Input: CSV or Parquet of prices (or --returns) with a date column, wide (one column per "
          "ticker) or long (date, ticker, value).\n\n"
          "Example: gmmkit finance fit datasets/finance/indices.csv.gz --ticker SPX"),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

DataArg = typer.Argument(..., help="CSV or Parquet file of prices (or returns with --returns).",
                         show_default=False)


class Opts:
    """The input options every command shares."""

    def __init__(self, ticker, freq, returns, simple, start, end, dropna, gaps, percent=False,
                 log_returns=False, simple_returns=False, dayfirst=None, date_format=None):
        self.ticker, self.freq, self.returns, self.simple = ticker, freq, returns, simple
        self.start, self.end, self.dropna, self.gaps = start, end, dropna, gaps
        self.percent, self.dayfirst, self.date_format = percent, dayfirst, date_format
        self.log_returns, self.simple_returns = log_returns, simple_returns

    def file_log(self):
        """None for a price file; True/False for a file of log/simple returns."""
        from gmmkit.exceptions import ParameterError

        if self.log_returns and self.simple_returns:
            raise ParameterError("--log-returns and --simple-returns contradict each other: give one")
        if self.log_returns or self.simple_returns:
            return bool(self.log_returns)
        if self.returns:
            raise ParameterError("--returns: say what the file holds, --log-returns or --simple-returns "
                                 "(a 99% VaR differs between them)")
        return None


def load(data, o: Opts, *, simple=None):
    """``(returns, frequency, log)``: the series in log (or, with ``--simple``, simple) returns."""
    from .data import load_returns

    log = not (o.simple if simple is None else simple)
    file_log = o.file_log()
    r, freq = load_returns(data, o.ticker or None, kind="prices" if file_log is None else "returns", log=log,
                           freq=o.freq, start=o.start, end=o.end, dropna=o.dropna, gaps=o.gaps,
                           percent=o.percent, file_log=file_log, dayfirst=o.dayfirst,
                           date_format=o.date_format)
    return r, freq, log


def kind_note(o: Opts, log):
    """How the returns came about, for the header line ('' for prices, as before)."""
    file_log = o.file_log()
    if file_log is None or file_log == log:
        return ""
    return f" (converted from the file's {'log' if file_log else 'simple'} returns)"


def single(r, source):
    from gmmkit.exceptions import DataError

    if r.shape[1] != 1:
        raise DataError(f"{source}: this command takes one series; choose it with --ticker "
                        f"(got {list(r.columns)})")
    return r.iloc[:, 0]


def echo(text, quiet):
    from gmmkit.cli.kit import echo

    echo(text, quiet)


def table(rows, columns, formats):
    """Plain aligned text table (no colour, so output can be piped)."""
    from gmmkit.cli.kit import text_table

    return text_table(rows, columns, formats)


def json_out(obj):
    """The command's result as JSON on stdout: always valid (NaN and infinity become null)."""
    from gmmkit.cli.kit import print_json

    print_json(obj)


def check_plot(plot):
    """``--plot``: a folder for the pictures, and matplotlib, checked before any work."""
    if plot is None:
        return
    from gmmkit.cli.kit import check_output, require_matplotlib

    check_output(plot, folder=True)
    require_matplotlib("--plot")


def plot_dir(plot):
    if plot is not None:
        plot.mkdir(parents=True, exist_ok=True)
    return plot


# Shared option declarations (typer reads the defaults).
TickerOpt = typer.Option(None, "--ticker", "-t", help="Series (column or ticker) to use; repeat for several.")
FreqOpt = typer.Option(None, "--freq", help="daily, weekly, monthly, quarterly or annual: what you expect, "
                       "checked against the dates (default: detected).")
ReturnsOpt = typer.Option(False, "--returns", help="The file holds returns: say which with --log-returns or "
                          "--simple-returns.", hidden=True)
LogReturnsOpt = typer.Option(False, "--log-returns", help="The file holds log returns, not prices.")
SimpleReturnsOpt = typer.Option(False, "--simple-returns", help="The file holds simple returns, not prices.")
DayfirstOpt = typer.Option(None, "--dayfirst/--monthfirst", help="nn/nn/yyyy dates are day-first / month-first "
                           "(default: decided by a day above 12; an error if none is).")
NoAtomsOpt = typer.Option(False, "--no-point-masses", help="Fit the mixture to every return, repeated exact "
                          "values (zeros of stale prices) included, instead of as point masses beside it.")
DateFormatOpt = typer.Option(None, "--date-format", help="Explicit date format, e.g. %d.%m.%Y.")
PercentOpt = typer.Option(False, "--percent", help="With --returns: the returns are in percent (1.5 = 1.5%).")
SimpleOpt = typer.Option(False, "--simple", help="Work in simple returns instead of log returns (a returns "
                        "file of the other kind is converted).")
StartOpt = typer.Option(None, "--start", help="First date to keep (YYYY-MM-DD).")
EndOpt = typer.Option(None, "--end", help="Last date to keep (YYYY-MM-DD).")
DropnaOpt = typer.Option(False, "--dropna", help="Drop rows with missing values instead of failing.")
GapsOpt = typer.Option("error", "--gaps", help="Returns spanning a gap: error, keep or drop.")
KOpt = typer.Option(None, "--components", "-k", min=1, help="Fixed number of components (default: BIC).")
MaxKOpt = typer.Option(5, "--max-components", min=1, max=20, help="Largest K tried by BIC.")
SeedOpt = typer.Option(0, "--seed", min=0, max=2**32 - 1, help="Random seed.")
JsonOpt = typer.Option(False, "--json", help="Machine-readable JSON on stdout.")
QuietOpt = typer.Option(False, "--quiet", "-q", help="Print nothing but errors (files are still written).")
PlotOpt = typer.Option(None, "--plot", help="Write PNG figures into this folder.", file_okay=False)
ForceOpt = typer.Option(False, "--force", help="Overwrite an existing output file.")
ModelOpt = typer.Option("hmm", "--model", help="hmm: Markov-switching regimes (states with mixture emissions, "
                        "the default); mixture: the i.i.d. Gaussian mixture (each day on its own).")
MixOpt = typer.Option(2, "--mix", min=1, max=10, help="With --model hmm: normal components in each regime's mixture "
                      "(1: Hamilton's Gaussian regimes).")
MaxStatesOpt = typer.Option(None, "--max-components", min=1, max=20,
                            help="Largest K tried by BIC (default 5; 3 regimes with --model hmm).")
StatesOpt = typer.Option(None, "--states", min=1, max=10, help="With --model hmm: fixed number of regimes "
                         "(default: BIC over 2..3).")


#: the input options every command takes, in --help order: (name, annotation, declaration)
_INPUT = [("data", "Path", DataArg), ("ticker", "Optional[List[str]]", TickerOpt),
          ("freq", "Optional[str]", FreqOpt), ("returns", "bool", ReturnsOpt),
          ("log_returns", "bool", LogReturnsOpt), ("simple_returns", "bool", SimpleReturnsOpt),
          ("dayfirst", "Optional[bool]", DayfirstOpt), ("date_format", "Optional[str]", DateFormatOpt),
          ("percent", "bool", PercentOpt), ("simple", "bool", SimpleOpt), ("start", "Optional[str]", StartOpt),
          ("end", "Optional[str]", EndOpt), ("dropna", "bool", DropnaOpt), ("gaps", "str", GapsOpt)]


def input_options(*, simple=True):
    """Give a command the shared input options once: it is called with ``data`` and ``o`` (:class:`Opts`).

    The command's own parameters follow the shared ones in ``--help``. ``simple=False``
    leaves out ``--simple`` (the command always works in simple returns, ``o.simple`` True).
    """
    import functools
    import inspect
    from pathlib import Path
    from typing import List, Optional

    types = {"Path": Path, "bool": bool, "str": str, "Optional[str]": Optional[str],
             "Optional[bool]": Optional[bool], "Optional[List[str]]": Optional[List[str]]}
    shared = [(n, types[t], d) for n, t, d in _INPUT if simple or n != "simple"]

    def decorate(func):
        own = [p for p in inspect.signature(func, eval_str=True).parameters.values() if p.name not in ("data", "o")]
        params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=d, annotation=t)
                  for n, t, d in shared] + own

        @functools.wraps(func)
        def command(**kw):
            given = {n: kw.pop(n) for n, _, _ in shared}
            data = given.pop("data")
            given.setdefault("simple", True)
            return func(data=data, o=Opts(**given), **kw)

        command.__signature__ = inspect.Signature(params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate


def check_finite(rows, what):
    """Refuse to print a table with NaN or infinite numbers (an absurd input gets an error, not 'inf%')."""
    import math

    from gmmkit.exceptions import DataError

    for row in rows:
        for key, value in row.items():
            if isinstance(value, float) and not math.isfinite(value) and not key.endswith("_p"):
                raise DataError(f"{what} gave a non-finite {key} ({value}) for {row.get('model', 'a row')}: "
                                f"check the input's scale and values")
