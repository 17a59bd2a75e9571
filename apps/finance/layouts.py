"""File layouts and date orders: what a price file from a data vendor or a broker looks like.

:func:`normalise_layout` turns the common layouts into one plain table (a date
column, then numeric columns):

- yfinance's CSV (``yf.download(...).to_csv``): three header rows, ``Price`` (the
  fields), ``Ticker`` (the symbols) and an empty ``Date`` row. One ticker: its
  fields become the columns and the ticker is remembered (:func:`file_ticker`);
  several: one column per ticker, of ``Adj Close`` (or ``Close``);
- MetaTrader exports (``<DATE>,<TIME>,<OPEN>,...``): the angle brackets go;
- Investing.com and broker statements: numbers as text with thousands separators
  (``"2,723.99"``) become numbers; columns that are not numbers (``Change %``) stay
  text and are never picked as a series;
- missing-value marks (FRED's ``.``, ``-``, ``N/A``...) are missing values (``--dropna``).

:func:`date_order` decides whether ``dd/mm/yyyy`` or ``mm/dd/yyyy`` dates are day-first.
It never guesses: when no day above 12 tells the two orders apart it raises an error
asking for ``--dayfirst`` or ``--date-format``.

>>> date_order(pd.Series(["1/13/1999", "1/14/1999"]), "f.csv")
False
>>> date_order(pd.Series(["2018-01-02"]), "f.csv") is None
True
"""
from __future__ import annotations

import re

import pandas as pd

from gmmkit.exceptions import DataError

_SLASHED = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})(\s.*)?$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
#: cells that mean "no value" (FRED writes '.', Investing.com '-')
MISSING_MARKS = (".", "-", "--", "n/a", "na", "#n/a", "null", "nan", "none")
#: fields of a yfinance file, most wanted first
PRICE_FIELDS = ("adj close", "adj_close", "adjclose", "close", "price", "last")


def _text(values):
    return values.astype("string").str.strip()


def _is_yfinance(df):
    if df.shape[0] < 2 or str(df.columns[0]).strip().lower() != "price":
        return False
    first = _text(df.iloc[:, 0])
    return first.iloc[0].lower() == "ticker"


def _yfinance(df):
    """The three-header-row layout to ``Date, <columns>``; returns (frame, ticker or None)."""
    fields = [str(c).split(".")[0].strip() for c in df.columns[1:]]   # pandas dedups 'Close.1'
    tickers = [str(t).strip() for t in df.iloc[0, 1:]]
    skip = 2 if str(df.iloc[1, 0]).strip().lower() == "date" else 1
    body = df.iloc[skip:].reset_index(drop=True)
    dates = body.iloc[:, 0].rename("Date")
    unique = list(dict.fromkeys(tickers))
    if len(unique) == 1:
        out = pd.concat([dates] + [body.iloc[:, i + 1].rename(f) for i, f in enumerate(fields)], axis=1)
        return out, unique[0]
    cols = [dates]
    for t in unique:
        for want in PRICE_FIELDS:
            hit = [i for i, (f, tt) in enumerate(zip(fields, tickers)) if tt == t and f.lower() == want]
            if hit:
                cols.append(body.iloc[:, hit[0] + 1].rename(t))
                break
    return pd.concat(cols, axis=1), None


def _numeric(col):
    """A text column of numbers (thousands separators allowed) as floats; else unchanged."""
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_datetime64_any_dtype(col):
        return col
    text = _text(col)
    text = text.mask(text.str.lower().isin(MISSING_MARKS))
    filled = text[text.notna() & (text != "")]
    if filled.empty:
        return col
    if filled.str.match(_THOUSANDS.pattern).mean() > 0.5:
        text = text.str.replace(",", "", regex=False)
    num = pd.to_numeric(text.mask(text == ""), errors="coerce")
    share = num[filled.index].notna().mean()
    if share == 1.0:
        return num
    # mostly numbers: keep the text, so that the reader names the first bad cell
    return text.astype(object) if share >= 0.9 else col


def normalise_layout(df):
    """``(frame, ticker)``: the table in plain layout and the ticker named inside the file (or None).

    >>> raw = pd.DataFrame({"Price": ["Ticker", "Date", "2020-01-02", "2020-01-03"],
    ...                     "Close": ["AAPL", None, "75.08", "74.35"]})
    >>> frame, ticker = normalise_layout(raw)
    >>> ticker, frame.columns.tolist(), frame["Close"].tolist()
    ('AAPL', ['Date', 'Close'], [75.08, 74.35])
    """
    ticker = None
    if _is_yfinance(df):
        df, ticker = _yfinance(df)
    df = df.rename(columns=lambda c: str(c).strip().strip("<>").strip())
    df = df.apply(_numeric)
    return df, ticker


def date_order(values, source, *, dayfirst=None):
    """True (day first), False (month first) or None (not ``nn/nn/yyyy`` dates).

    ``dayfirst`` given: checked against the dates (a day above 12 in the other
    field contradicts it). Not given: decided by a field above 12; if none is, the
    order is ambiguous and a :class:`DataError` asks for ``--dayfirst`` or ``--date-format``.
    """
    text = _text(pd.Series(values)).dropna()
    parts = text.str.extract(_SLASHED.pattern)
    if text.empty or parts[0].isna().any():
        return None
    a, b = parts[0].astype(int), parts[1].astype(int)
    first_day, second_day = bool((a > 12).any()), bool((b > 12).any())
    if first_day and second_day:
        raise DataError(f"{source}: dates mix day-first and month-first ({text[a > 12].iloc[0]} and "
                        f"{text[b > 12].iloc[0]}); fix the file or pass --date-format")
    if dayfirst is not None:
        if (dayfirst and second_day) or (not dayfirst and first_day):
            bad = text[b > 12].iloc[0] if dayfirst else text[a > 12].iloc[0]
            raise DataError(f"{source}: --dayfirst {'given' if dayfirst else 'off'} but {bad} is "
                            f"{'month' if dayfirst else 'day'}-first")
        return bool(dayfirst)
    if first_day or second_day:
        return first_day
    raise DataError(f"{source}: dates like {text.iloc[0]} could be day/month or month/day (no field above "
                    f"12 tells); pass --dayfirst, --monthfirst or --date-format (e.g. %d/%m/%Y)")


def file_ticker(path):
    """The series name a file gives when its only column is a generic price field: its stem.

    >>> file_ticker("data/BMW.DE.csv.gz")
    'BMW.DE'
    """
    name = str(path).replace("\\", "/").rsplit("/", 1)[-1]
    for ext in (".gz", ".bz2", ".xz", ".zip", ".zst"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
    for ext in (".csv", ".tsv", ".txt", ".parquet", ".pq"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
    return name or "series"
