"""Tables in, a working detector out: what ``gmmkit outliers`` does before it scores a file.

:func:`fit_on_table` fits a :class:`~gmmkit_apps.outliers.detector.GMMOutlierDetector`
on a uniform sample of a table's numeric columns (text and constant columns left
out); :func:`load_for_table` reads a saved detector or mixture and finds its
columns in a table; :func:`calibrate_on_table` sets a loaded model's threshold
from a sample. Each returns what it did, as data, for the caller to report.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from gmmkit.exceptions import DataError
from gmmkit.tables.columns import identifier_columns

from . import table as tb
from .detector import GMMOutlierDetector, IgnoredFeatureWarning, constant_columns, load_model

__all__ = ["TableFit", "fit_on_table", "load_for_table", "calibrate_on_table"]


@dataclass
class TableFit:
    """A detector fitted on a table, and what was left out on the way (``notes``: one line each)."""

    detector: GMMOutlierDetector
    names: list
    X: np.ndarray  # the fit sample (rows of the table, the columns ``names``)
    row_numbers: np.ndarray  # the sample's 1-based data row numbers
    n_rows: int
    skipped: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def _frame(X, names):
    import pandas as pd

    return pd.DataFrame(X, columns=names)


def fit_on_table(source, *, columns=None, exclude=(), max_fit_rows=200_000, seed=0, chunksize=100_000,
                 on_progress=None, data_is_source=True, **params):
    """Fit a detector (``params``: :class:`GMMOutlierDetector`'s) on a sample of ``source``.

    Columns: ``columns`` (comma-separated names) or every numeric one but
    ``exclude``; constant columns are left out. The notes say which columns were
    skipped, how many rows have empty cells, and which features the detector
    ignores; ``data_is_source=False`` (the table is training data only) adds a note
    on rows with every feature cell empty, which are left out of the fit.
    """
    names, skipped = tb.feature_columns(source, columns, exclude)
    notes = []
    if skipped:
        ids = set(identifier_columns(tb.read_head(source, 1000)[skipped]))
        said = ", ".join(f"{c} ({'row identifier' if c in ids else 'text'})" for c in skipped)
        notes.append(f"skipped column(s) {said} (choose with --columns)")
    X, n_rows, n_incomplete, n_empty, row_numbers = tb.sample_rows(
        source, names, max_fit_rows, seed, chunksize, on_progress, return_rows=True)
    if n_incomplete:
        notes.append(f"{n_incomplete} of {n_rows} rows of {source} have empty cells in the feature "
                     "columns: fitted and scored on their observed features")
    if n_empty and not data_is_source:
        notes.append(f"{n_empty} of {n_rows} rows of {source} have every feature cell empty: "
                     "left out of the fit")
    const = constant_columns(X)
    if const.all():
        raise DataError(f"{source}: every feature column is constant ({', '.join(names)}): nothing to score")
    if const.any():
        notes.append(f"constant column(s) {', '.join(n for n, c in zip(names, const) if c)} ignored")
        X, names = X[:, ~const], [n for n, c in zip(names, const) if not c]
    det = GMMOutlierDetector(random_state=seed, **params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", IgnoredFeatureWarning)
        det.fit(_frame(X, names))
    for w in caught:
        if issubclass(w.category, IgnoredFeatureWarning):
            notes.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return TableFit(det, names, X, np.asarray(row_numbers), n_rows, skipped, notes)


def load_for_table(path, data, *, columns=None, exclude=()):
    """The detector in ``path`` (:func:`~gmmkit_apps.outliers.detector.load_model`) and the
    columns of the table ``data`` it scores: its own feature names, or for an unnamed
    plain mixture the table's numeric columns (``columns`` to choose), which then
    name its features. Raises DataError when they do not match."""
    det = load_model(path)
    names = getattr(det, "feature_names_in_", None)
    if names is not None:
        names = [str(n) for n in names]
        if columns is not None:
            listed = [c.strip() for c in columns.split(",") if c.strip()]
            if listed != names:
                raise DataError(f"{path} was fitted on columns {', '.join(names)}; "
                                f"--columns lists {', '.join(listed)}")
        tb.feature_columns(data, names)  # checks they exist and are numeric
        return det, names
    names, _ = tb.feature_columns(data, columns, exclude)
    if len(names) != det.n_features_in_:
        raise DataError(f"{path} expects {det.n_features_in_} features; {data} has "
                        f"{len(names)} numeric columns ({', '.join(names)}); use --columns")
    return det.use_feature_names(names), names


def calibrate_on_table(det, data, names, *, contamination=0.01, max_rows=200_000, seed=0, chunksize=100_000,
                       on_progress=None):
    """Set ``det``'s threshold so that ``contamination`` of a uniform sample of ``data``'s
    scorable rows fall below it (:meth:`GMMOutlierDetector.calibrate`); returns ``det``."""
    X, _, _, _ = tb.sample_rows(data, names, max_rows, seed, chunksize, on_progress)
    return det.calibrate(_frame(X, names), contamination=contamination)
