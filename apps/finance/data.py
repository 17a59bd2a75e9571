"""Reading price or return tables and turning them into clean return series.

Input is a CSV (optionally compressed) or Parquet file with a date column and
either one column per ticker (*wide*) or ``date, ticker, value`` rows (*long*).
Bad input never becomes a silent wrong number:

- unsorted dates are sorted (documented handling); duplicated dates, and two rows
  on one calendar day (intraday data), are errors;
- missing prices are an error unless ``dropna=True`` (the row is dropped, and the
  next return then spans the missing day, which the gap check sees);
- non-positive prices are an error (a log or simple return would be meaningless);
- gaps longer than the frequency allows (for daily data, more than 7 calendar
  days between rows) are an error unless ``gaps="keep"`` (the return over the gap
  is kept as one period) or ``gaps="drop"`` (that return is dropped);
- simple returns at or below -100% are an error;
- dates written ``nn/nn/yyyy`` are read day-first or month-first only when a day
  above 12 says which (or ``dayfirst``/``date_format`` is given): otherwise an error;
- a price file whose only column is a generic field (``Adj Close``, ``Close``) names
  its series after the ticker inside the file (yfinance) or the file's name;
- yfinance's three-header-row CSV and broker layouts are read (:mod:`.layouts`).

Examples
--------
>>> import pandas as pd
>>> prices = pd.DataFrame({"SPX": [100.0, 101.0, 99.99]},
...                       index=pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-06"]))
>>> r = to_returns(prices, log=False)
>>> [round(x, 4) for x in r["SPX"]]
[0.01, -0.01]
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from gmmkit.exceptions import DataError, ParameterError
from gmmkit.tables import read_frame

from .layouts import PRICE_FIELDS, date_order, file_ticker, normalise_layout

#: periods per year, and the largest spacing (calendar days) that is not a gap
FREQUENCIES = {
    "daily": (252, 7),
    "weekly": (52, 21),
    "monthly": (12, 62),
    "quarterly": (4, 185),
    "annual": (1, 400),
}

#: returns larger than this (in absolute value, per period) are refused: a log return of 100
#: is a factor e^100; anything near it is a unit or data error, and would overflow the fits
MAX_ABS_RETURN = 100.0

_PERIOD = {"daily": "day", "weekly": "week", "monthly": "month", "quarterly": "quarter",
           "annual": "year"}
_DATE_NAMES = ("date", "datetime", "timestamp", "date/time", "trade date", "tradedate", "time", "day")
_TICKER_NAMES = ("ticker", "symbol", "asset", "name", "series", "code")
_VALUE_NAMES = PRICE_FIELDS + ("value", "return", "returns")


def read_table(path):
    """Read a table file into a DataFrame, with gmmkit's table-format rules.

    CSV-like files (``.csv``, ``.tsv``, ``.txt``, also compressed: ``.csv.gz``)
    have their separator, decimal comma and header row detected as
    :func:`gmmkit.tables.read_frame` does for every gmmkit command; dates saved
    as a Parquet file's index come back as a column.
    """
    return read_layout(path)[0]


def read_layout(path):
    """``(frame, ticker)``: the table in plain layout and the ticker a yfinance file names (or None)."""
    try:
        df = read_frame(path)
    except DataError as exc:
        # yfinance's file of several tickers repeats each field name in its first header row
        if "twice" not in str(exc):
            raise
        df = read_frame(path, header=False)
        df = df.iloc[1:].set_axis([str(c) for c in df.iloc[0]], axis=1).reset_index(drop=True)
        if not str(df.columns[0]).strip().lower() == "price":
            raise
    df = df if isinstance(df.index, pd.RangeIndex) else df.reset_index()
    return normalise_layout(df)


def _find_date_column(df, source):
    for col in df.columns:
        if str(col).strip().lower() in _DATE_NAMES:
            return col
    first = df.columns[0]
    if df[first].dtype.kind in "OSUM":
        parsed = pd.to_datetime(df[first], errors="coerce", format="mixed")
        if parsed.notna().mean() > 0.95:
            return first
    raise DataError(f"{source}: no date column (name it 'Date', or put dates in the first column)")


def _parse_dates(values, source, *, dayfirst=None, date_format=None):
    if np.issubdtype(np.asarray(values).dtype, np.datetime64):
        dates = pd.to_datetime(values)
    else:
        try:
            if date_format is not None:
                dates = pd.to_datetime(values, format=date_format)
            else:
                first = date_order(values, source, dayfirst=dayfirst)
                dates = pd.to_datetime(values, format="mixed", dayfirst=bool(first))
        except (ValueError, TypeError) as exc:
            raise DataError(f"{source}: unparseable date ({' '.join(str(exc).split())})") from None
    if dates.isna().any():
        raise DataError(f"{source}: {int(dates.isna().sum())} empty date(s)")
    return pd.DatetimeIndex(dates)


def wide_table(df, *, source="input", dayfirst=None, date_format=None):
    """Return a wide DataFrame (DatetimeIndex, one numeric column per ticker).

    Long input (a ``ticker``/``symbol`` column) is pivoted; the value column is
    the first of ``adj close, close, price, value, return(s)`` present, or the
    only other numeric column.
    """
    if df.shape[0] == 0:
        raise DataError(f"{source}: the table is empty")
    date_col = _find_date_column(df, source)
    lower = {str(c).strip().lower(): c for c in df.columns}
    ticker_col = next((lower[n] for n in _TICKER_NAMES if n in lower), None)
    if ticker_col is not None:
        value_col = next((lower[n] for n in _VALUE_NAMES if n in lower), None)
        if value_col is None:
            numeric = [c for c in df.columns if c not in (date_col, ticker_col)
                       and pd.api.types.is_numeric_dtype(df[c])]
            if len(numeric) != 1:
                raise DataError(f"{source}: long table with ticker column {ticker_col!r} needs one "
                                f"value column (close/price/value/return); found {numeric}")
            value_col = numeric[0]
        dup = df.duplicated([date_col, ticker_col])
        if dup.any():
            row = df[dup].iloc[0]
            raise DataError(f"{source}: duplicated date {row[date_col]} for ticker {row[ticker_col]}")
        df = df.pivot(index=date_col, columns=ticker_col, values=value_col).reset_index()
        df.columns = [str(c) for c in df.columns]
        date_col = str(date_col)
    dates = _parse_dates(df[date_col], source, dayfirst=dayfirst, date_format=date_format)
    out = df.drop(columns=[date_col])
    out.index = dates
    out.index.name = "Date"
    out.columns = [str(c) for c in out.columns]
    return out


def select_tickers(wide, tickers=None, *, source="input", name=None):
    """Pick the requested ticker columns (default: the only one, or Adj Close/Close).

    A single column with a generic name (``Adj Close``, ``Close``, ``Price``...) is
    renamed ``name`` (the file's ticker or name), so two files never share a series name.
    """
    cols = list(wide.columns)
    if tickers:
        dup = sorted({t for t in tickers if list(tickers).count(t) > 1})
        if dup:
            raise DataError(f"{source}: ticker {dup[0]!r} given twice")
        missing = [t for t in tickers if t not in cols]
        if missing:
            raise DataError(f"{source}: ticker(s) {missing} not found; available: {cols}")
        out = wide[list(tickers)]
    else:
        numeric = [c for c in cols if pd.api.types.is_numeric_dtype(wide[c])]
        lower = {c.lower(): c for c in numeric}
        pick = next((lower[n] for n in PRICE_FIELDS if n in lower), None)
        if pick is not None:
            out = wide[[pick]]
        elif len(numeric) == 1:
            out = wide[numeric]
        else:
            raise DataError(f"{source}: several series, choose with --ticker; available: {cols}")
    for c in out.columns:
        if not pd.api.types.is_numeric_dtype(out[c]):
            converted = pd.to_numeric(out[c], errors="coerce")
            bad = converted.isna() & out[c].notna()
            if bad.any():
                raise DataError(f"{source}: column {c!r} has non-numeric value {out[c][bad].iloc[0]!r} "
                                f"on {out.index[bad][0].date()}")
            out = out.assign(**{c: converted})
    out = out.astype(np.float64)
    if name and out.shape[1] == 1 and str(out.columns[0]).strip().lower() in _VALUE_NAMES:
        out.columns = [name]
    return out


def detect_frequency(index):
    """Name of the sampling frequency from the median spacing of the dates.

    >>> detect_frequency(pd.bdate_range("2020-01-01", periods=30))
    'daily'
    >>> detect_frequency(pd.date_range("2020-01-31", periods=12, freq="ME"))
    'monthly'
    """
    if len(index) < 3:
        raise DataError("need at least 3 dates to detect the frequency; pass --freq")
    days = float(np.median(np.diff(index.values).astype("timedelta64[s]").astype(np.int64))) / 86400.0
    for name, upper in (("daily", 4.0), ("weekly", 10.0), ("monthly", 45.0), ("quarterly", 140.0)):
        if days <= upper:
            return name
    return "annual"


def _frequency(index, freq, source):
    """The detected frequency, or the given one if the dates agree with it: a wrong
    ``--freq`` would silently mis-scale every annualised figure."""
    detected = detect_frequency(index)
    if freq is not None and freq != detected:
        raise DataError(f"{source}: --freq {freq} does not match the dates, which are {detected} "
                        f"(drop --freq to use the detected frequency)")
    return detected


def _check_not_percent(table, freq, source):
    # a median absolute return above 0.1 per day (scaled by sqrt of the period length)
    # is implausible for decimal returns and typical of percent units (1.5 for 1.5%)
    limit = 0.1 * np.sqrt(FREQUENCIES["daily"][0] / FREQUENCIES[freq][0])
    med = table.abs().median()
    if (med > limit).any():
        col = med.idxmax()
        raise DataError(f"{source}: {col!r} returns look like percentages (median |return| "
                        f"{med[col]:.3g} per {_PERIOD[freq]}); pass --percent if they are, "
                        f"or check the file")


def check_dates(table, *, source="input"):
    """Sort by date; duplicated dates, or two rows on one calendar day (intraday data), are errors."""
    if not table.index.is_monotonic_increasing:
        table = table.sort_index(kind="stable")
    dup = table.index.duplicated()
    if dup.any():
        raise DataError(f"{source}: duplicated date {table.index[dup][0].date()} "
                        f"({int(dup.sum())} duplicate row(s))")
    # the frequencies here are daily or longer: two times on one day would make a part-day
    # return count as a whole period
    same_day = table.index.normalize().duplicated()
    if same_day.any():
        raise DataError(f"{source}: two rows on {table.index[same_day][0].date()} (intraday data is not "
                        f"supported; keep one row per day, e.g. the close)")
    return table


def _drop_missing(table, dropna, source, what):
    na = table.isna().any(axis=1)
    if na.any():
        if not dropna:
            raise DataError(f"{source}: {int(na.sum())} missing {what}(s), first on "
                            f"{table.index[na][0].date()} (pass --dropna to drop those rows)")
        table = table[~na]
    return table


def clean_prices(prices, *, dropna=False, source="input"):
    """Sort, then check for duplicated dates, missing and non-positive prices."""
    prices = _drop_missing(check_dates(prices, source=source), dropna, source, "value")
    bad = (prices <= 0).any(axis=1)
    if bad.any():
        col = prices.columns[(prices[bad] <= 0).any(axis=0)][0]
        hint = ""
        if looks_like_returns(prices[col]):
            hint = ("; the values look like returns (around zero, both signs): pass --log-returns or "
                    "--simple-returns")
        raise DataError(f"{source}: non-positive price in {col!r} on {prices.index[bad][0].date()}{hint}")
    if not np.all(np.isfinite(prices.to_numpy())):
        raise DataError(f"{source}: infinite price value")
    return prices


def looks_like_returns(values):
    """Values around zero of both signs, as returns are (prices are positive and far from zero).

    >>> looks_like_returns(pd.Series([0.01, -0.02, 0.003, -0.001]))
    True
    >>> looks_like_returns(pd.Series([101.0, 99.0, 102.0]))
    False
    """
    v = pd.Series(values).dropna().to_numpy(dtype=np.float64)
    if v.size < 3:
        return False
    return bool((v < 0).mean() > 0.2 and (v > 0).mean() > 0.2 and np.median(np.abs(v)) < 0.5)


def _check_not_prices(table, source):
    """A ``--returns`` file whose values are all positive and far from zero holds prices."""
    pos = (table > 0).all() & (table.abs().median() > 2.0)
    if pos.any():
        col = pos.idxmax()
        raise DataError(f"{source}: {col!r} holds values like {table[col].iloc[0]:g}, all positive: prices, "
                        f"not returns (drop --log-returns/--simple-returns)")


def check_gaps(index, freq, gaps="error", *, source="input"):
    """Boolean mask of the returns that end after a gap, after applying ``gaps``.

    Returns a mask over ``index[1:]``: True = keep the return ending on that date.
    """
    if gaps not in ("error", "keep", "drop"):
        raise ParameterError(f"gaps must be 'error', 'keep' or 'drop', not {gaps!r}")
    limit = FREQUENCIES[freq][1]
    spacing = np.diff(index.values).astype("timedelta64[s]").astype(np.int64) / 86400.0
    gap = spacing > limit
    if gap.any() and gaps == "error":
        i = int(np.argmax(gap))
        raise DataError(
            f"{source}: {int(gap.sum())} gap(s) longer than {limit} days in {freq} data, first "
            f"{index[i].date()} to {index[i + 1].date()} (pass --gaps keep or --gaps drop)")
    if gaps == "drop":
        return ~gap
    return np.ones(len(spacing), dtype=bool)


def to_returns(prices, *, log=True):
    """Log (default) or simple returns of a price DataFrame, first row dropped."""
    values = prices.to_numpy(dtype=np.float64)
    if log:
        r = np.diff(np.log(values), axis=0)
    else:
        r = values[1:] / values[:-1] - 1.0
    return pd.DataFrame(r, index=prices.index[1:], columns=prices.columns)


def _timestamp(text, name):
    if text is None:
        return None
    try:
        return pd.Timestamp(text)
    except (ValueError, TypeError):
        raise ParameterError(f"--{name}: not a date: {text!r} (use YYYY-MM-DD)") from None


def load_returns(path, tickers=None, *, kind="prices", log=True, freq=None, start=None, end=None,
                 dropna=False, gaps="error", percent=False, file_log=None, dayfirst=None, date_format=None):
    """Read ``path`` and return ``(returns DataFrame, frequency name)``.

    Parameters
    ----------
    path : str or path
        CSV or Parquet file, wide or long (see module docstring).
    tickers : list of str, optional
        Columns to use; default: the only series, or ``Adj Close``/``Close``.
    kind : {"prices", "returns"}
        What the file holds.
    log : bool
        Work in log returns (default) or simple returns. Returns in the file are
        converted when they are of the other kind (``log(1 + R)`` or ``exp(r) - 1``).
    file_log : bool, optional
        With ``kind="returns"``: the file holds log (True) or simple (False)
        returns; default: the same as ``log`` (no conversion).
    freq : str, optional
        One of ``daily, weekly, monthly, quarterly, annual``; detected if None.
    start, end : str, optional
        Keep returns dated within ``[start, end]``.
    dropna : bool
        Drop rows with missing values instead of failing.
    gaps : {"error", "keep", "drop"}
        What to do with a return that spans a gap.
    percent : bool
        The returns in the file are in percent (``1.5`` for 1.5%); they are divided
        by 100. Returns that look like percentages without it are an error.
    dayfirst : bool, optional
        ``nn/nn/yyyy`` dates are day-first (True) or month-first (False); default:
        decided by a field above 12, an error when none is.
    date_format : str, optional
        An explicit date format (``%d.%m.%Y``).

    Examples
    --------
    >>> import os
    >>> here = os.path.dirname(os.path.abspath(__file__))
    >>> path = os.path.join(here, "..", "..", "datasets", "finance", "indices.csv.gz")
    >>> r, freq = load_returns(path, ["SPX"], start="2018-01-01")
    >>> freq, len(r)
    ('daily', 251)
    """
    source = os.path.basename(os.fspath(path))
    if kind not in ("prices", "returns"):
        raise ParameterError(f"kind must be 'prices' or 'returns', not {kind!r}")
    if freq is not None and freq not in FREQUENCIES:
        raise ParameterError(f"unknown frequency {freq!r}; choose from {list(FREQUENCIES)}")
    if percent and kind != "returns":
        raise ParameterError("--percent applies to a file of returns (--log-returns/--simple-returns), "
                             "not prices")
    file_log = log if file_log is None else bool(file_log)
    raw, ticker = read_layout(path)
    wide = wide_table(raw, source=source, dayfirst=dayfirst, date_format=date_format)
    table = select_tickers(wide, tickers, source=source, name=ticker or file_ticker(path))
    lo, hi = _timestamp(start, "start"), _timestamp(end, "end")
    if not table.index.is_monotonic_increasing:
        table = table.sort_index(kind="stable")
    # checks apply to the selected span only (plus, for prices, the last row before it: its base)
    if lo is not None:
        i = int(table.index.searchsorted(lo, side="left"))
        table = table.iloc[max(i - (1 if kind == "prices" else 0), 0):]
    if hi is not None:
        table = table[table.index <= hi]
    if len(table) < 3:
        raise DataError(f"{source}: fewer than 3 rows in the selected span")
    if kind == "prices":
        table = clean_prices(table, dropna=dropna, source=source)
        freq = _frequency(table.index, freq, source)
        keep = check_gaps(table.index, freq, gaps, source=source)
        returns = to_returns(table, log=log)[keep]
    else:
        returns, freq = _clean_returns(table, freq, file_log, dropna, gaps, percent, source)
        if file_log and not log:
            returns = np.expm1(returns)
        elif log and not file_log:
            returns = np.log1p(returns)
    if lo is not None:
        returns = returns[returns.index >= lo]
    if len(returns) < 2:
        raise DataError(f"{source}: fewer than 2 returns in the selected span")
    big = returns.abs().max()
    if not (big <= MAX_ABS_RETURN).all():
        col = big.idxmax()
        day = returns[col].abs().idxmax()
        raise DataError(f"{source}: a return of {returns[col][day]:.3g} in {col!r} on {day.date()} is not "
                        f"plausible (above {MAX_ABS_RETURN:g} per period); check the prices and their units")
    return returns, freq


def _clean_returns(table, freq, file_log, dropna, gaps, percent, source):
    table = _drop_missing(check_dates(table, source=source), dropna, source, "return")
    if not np.all(np.isfinite(table.to_numpy())):
        raise DataError(f"{source}: infinite return value")
    if not percent:
        _check_not_prices(table, source)
    if percent:
        table = table / 100.0
    if not file_log and (table <= -1).any().any():
        raise DataError(f"{source}: a simple return at or below -100%")
    freq = _frequency(table.index, freq, source)
    if not percent:
        _check_not_percent(table, freq, source)
    if len(table) > 1:
        keep = np.concatenate([[True], check_gaps(table.index, freq, gaps, source=source)])
        table = table[keep]
    return table, freq
