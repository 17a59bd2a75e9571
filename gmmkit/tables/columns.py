"""Choosing feature columns by name and turning them into floats, the same way for every reader.

>>> import pandas as pd
>>> frame = pd.DataFrame({"a": [1, 2], "s": ["x", "y"], "b": [0.5, None]})
>>> select_columns("t.csv", list(frame.columns), "b, 0")
['b', 'a']
>>> float_matrix(frame, ["a", "b"], "t.csv").tolist()
[[1.0, 0.5], [2.0, nan]]
>>> ids = pd.DataFrame({"Unnamed: 0": [0, 1, 2], "patient_id": [7, 3, 9], "x": [0.1, 0.4, 0.2]})
>>> default_columns("t.csv", ids), identifier_columns(ids)
(['x'], ['Unnamed: 0', 'patient_id'])
"""
from __future__ import annotations

import re

import numpy as np

from ..exceptions import DataError

__all__ = ["parse_columns", "select_columns", "default_columns", "float_matrix", "is_numeric", "shown",
           "is_identifier", "identifier_columns", "check_not_numbers_as_text"]

# a number written for people: currency sign, thousands separators, percent ('$1,234.50', '12 %')
_DRESSED = re.compile(r"^[-+(]?\s*[$€£¥]?\s*[-+]?(\d{1,3}([,.' \u00a0\u202f]\d{3})+|\d+)([.,]\d+)?\s*%?\)?$")
_ID_NAME = re.compile(r"^(|id|idx|index|row|rownum|row_?number|unnamed: \d+)$|[_ .-]id$", re.IGNORECASE)


def shown(names, most=20):
    """Column names for a message: the first ``most``, comma-separated."""
    names = list(names)
    return ", ".join(names[:most]) + (" ..." if len(names) > most else "")


def is_numeric(series):
    """True for a numeric, non-boolean pandas Series."""
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def parse_columns(columns):
    """A list of column keys from a list or one comma-separated string (``"a,b"``)."""
    if columns is None:
        return None
    if isinstance(columns, str):
        return [c.strip() for c in columns.split(",") if c.strip()]
    return list(columns)


def _lookup(path, names, key):
    """The column named ``key``, else at position ``key``; spaces around names are ignored."""
    if key in names:
        return key
    stripped = [n for n in names if n.strip() == key.strip()]
    if len(stripped) == 1:
        return stripped[0]
    if key.lstrip("-").isdigit() and -len(names) <= int(key) < len(names):
        return names[int(key)]
    raise DataError(f"{path}: no column {key!r} (columns: {shown(names)})")


def select_columns(path, names, columns):
    """Resolve ``columns`` (names or 0-based positions, a list or ``"a,b"``) against ``names``.

    Returns the chosen names in the order asked; an unknown column, an empty
    choice or a column chosen twice raises a one-line DataError naming ``path``.
    """
    names = [str(n) for n in names]
    keys = parse_columns(columns)
    if not keys:
        raise DataError(f"{path}: no columns selected")
    chosen = [_lookup(path, names, str(key)) for key in keys]
    if len(set(chosen)) != len(chosen):
        raise DataError(f"{path}: a column is selected twice ({', '.join(chosen)})")
    return chosen


def _bad_cell(path, name, column, values, row0):
    bad = np.isnan(values) & column.notna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        cell = str(column.iloc[i])
        hint = ": the header row again?" if cell.strip() == name.strip() else ""
        raise DataError(f"{path}: column {name!r} is not numeric "
                        f"(row {row0 + i + 1} holds {cell!r}{hint})")
    inf = np.isinf(values)
    if inf.any():
        rows = np.flatnonzero(inf)
        raise DataError(f"{path}: column {name!r} has {rows.size} infinite value"
                        f"{'s' if rows.size > 1 else ''} (first at row {row0 + rows[0] + 1})")


def float_matrix(frame, names, path, row0=0):
    """The columns ``names`` of a DataFrame as a C-contiguous float64 matrix.

    Empty cells become NaN (missing values). Text in a chosen column, or an
    infinity, raises a DataError naming the column and the 1-based data row
    (``row0`` rows come before this frame in the file).
    """
    import pandas as pd

    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: no column(s) {', '.join(map(repr, missing))}")
    out = np.empty((len(frame), len(names)))
    for j, name in enumerate(names):
        column = frame[name]
        if pd.api.types.is_bool_dtype(column):
            raise DataError(f"{path}: column {name!r} is not numeric (it holds true/false values)")
        values = column if is_numeric(column) else pd.to_numeric(column, errors="coerce")
        values = values.to_numpy(dtype=np.float64, na_value=np.nan)
        _bad_cell(path, name, column, values, row0)
        out[:, j] = values
    return out


def _looks_numeric(column):
    """True when the first non-empty cell of a text column is a number."""
    import pandas as pd

    first = column.dropna()
    first = first[first.astype(str).str.strip() != ""]
    return len(first) > 0 and pd.notna(pd.to_numeric(first.iloc[:1], errors="coerce").iloc[0])


def is_identifier(name, column):
    """True for a column that numbers the rows rather than measures them: named like an
    identifier (empty, ``Unnamed: 0`` as pandas writes its index, ``id``, ``index``,
    ``patient_id``, ``customerId``) and holding distinct whole numbers, none missing."""
    name = str(name).strip()
    named = bool(_ID_NAME.search(name)) or bool(re.search(r"[a-z](Id|ID)$", name))
    if not named or not is_numeric(column):
        return False
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    return bool(np.isfinite(values).all() and np.all(values == np.round(values))
                and np.unique(values).size == values.size)


def check_not_numbers_as_text(path, name, column):
    """Refuse a text column whose every value is a number dressed for reading ('1,234.5',
    '$1,200', '12%'): skipped as a label, it would silently leave a feature out."""
    values = column.dropna().astype(str).str.strip()
    values = values[values != ""].head(200)
    if len(values) == 0 or not values.map(lambda v: bool(_DRESSED.match(v))).all():
        return
    example = values.iloc[0]
    raise DataError(f"{path}: column {name!r} holds numbers written as text (such as {example!r}: thousands "
                    "separators, a currency sign or %); write them as plain numbers, or leave the column "
                    "out with --columns")


def identifier_columns(frame):
    """The columns of ``frame`` that :func:`is_identifier` calls row identifiers."""
    return [name for name in frame.columns if is_identifier(name, frame[name])]


def default_columns(path, frame):
    """The feature columns of a table when none are named: its numeric columns.

    A text column is skipped (a label) when its first value is text; a column
    whose first value is a number but that holds text further down is an error
    naming the row, never silently left out. A row identifier (:func:`is_identifier`,
    such as the index column pandas writes) is skipped too: it numbers the rows and
    would otherwise become a feature. Name it in ``columns`` to use it anyway.
    """
    names = []
    for name in frame.columns:
        column = frame[name]
        if is_identifier(name, column):
            continue
        if is_numeric(column):
            names.append(name)
        elif column.dtype != bool and _looks_numeric(column):
            float_matrix(frame, [name], path)  # raises, naming the first text cell
        elif column.dtype != bool:
            check_not_numbers_as_text(path, name, column)
    if not names:
        ids = identifier_columns(frame)
        besides = f" besides row identifiers ({shown(ids)}; name them to use them)" if ids else ""
        raise DataError(f"{path}: no numeric columns{besides} (columns: {shown(frame.columns, 1000)})")
    return names
