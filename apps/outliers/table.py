"""Tables in chunks: pick feature columns, sample rows to fit on, score a file chunk by chunk.

Memory stays bounded by the chunk size and the fit sample (``max_fit_rows``),
whatever the file's length; only ``--label-column`` evaluation keeps one score
and one label per row.

Empty cells are missing values: a row with empty cells in some feature columns
is fitted on (exact EM with marginals) and scored on its observed features (see
:mod:`gmmkit_apps.outliers.calibrate` for what its score means); a row with
every feature cell empty is not scored (its score, flag and component are left
empty in the output). The summary counts both kinds of rows.

>>> import os, tempfile
>>> import numpy as np, pandas as pd
>>> folder = tempfile.mkdtemp()
>>> path = os.path.join(folder, "t.csv")
>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame(rng.normal(size=(300, 2)), columns=["a", "b"])
>>> frame.loc[0] = [9.0, -9.0]
>>> frame.assign(name="x").to_csv(path, index=False)
>>> names, skipped = feature_columns(path)
>>> names, skipped
(['a', 'b'], ['name'])
"""
from __future__ import annotations

import contextlib
import os

import numpy as np

from gmmkit.exceptions import DataError, ParameterError
from gmmkit.tables.columns import check_not_numbers_as_text, float_matrix, is_identifier, is_numeric
from gmmkit.tables.format import detect_format, output_separator, table_kind
from gmmkit.tables.frames import iter_frames, read_head

OUTPUT_COLUMNS = ("outlier_score", "is_outlier", "component", "explanation")


def _row_count(fmt):
    """Rows of a Parquet or ``.npy`` table from its metadata (None for CSV)."""
    if fmt.kind == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(fmt.path).metadata.num_rows
    if fmt.kind == "npy":
        return int(np.load(fmt.path, mmap_mode="r").shape[0])
    return None


def iter_chunks(path, chunksize=100_000, on_progress=None):
    """Yield the table at ``path`` as DataFrames of at most ``chunksize`` rows.

    The file is read with gmmkit's table-format rules (:mod:`gmmkit.tables.format`:
    separator, decimal comma, header row detected, as ``gmmkit fit`` reads it).
    ``on_progress(done, total)`` is called after each chunk (bytes for plain
    CSV, rows for Parquet and ``.npy``, ``None`` for compressed CSV).
    """
    fmt = detect_format(path)
    plain = fmt.kind == "csv" and fmt.compression is None
    total = os.path.getsize(fmt.path) if plain else _row_count(fmt)
    done = 0
    with open(fmt.path, "rb") if plain else contextlib.nullcontext() as fh:
        for frame in iter_frames(fmt, chunksize, handle=fh):
            done += len(frame)
            if on_progress:
                on_progress(fh.tell() if plain else (done if total else None), total)
            yield frame


def feature_columns(path, columns=None, exclude=(), chunksize=10_000):
    """Choose the feature columns of a table from its first chunk.

    Returns ``(names, skipped)``: with ``columns=None`` every numeric column
    except ``exclude`` and row identifiers (``gmmkit.tables.columns.is_identifier``),
    and the others skipped; otherwise the listed
    columns (a list or one comma-separated string), which must exist and be
    numeric (a :class:`DataError` lists the offenders).
    """
    first = read_head(path, chunksize)
    present = list(first.columns)
    for col in OUTPUT_COLUMNS:
        if col in present:
            raise DataError(f"{path} already has a column {col!r} (an output of gmmkit outliers); "
                            "rename it first")
    if columns is None:
        names = [c for c in present if c not in exclude and is_numeric(first[c])
                 and not is_identifier(c, first[c])]
        skipped = [c for c in present if c not in exclude and c not in names]
        for c in skipped:
            if not is_numeric(first[c]) and first[c].dtype != bool:
                check_not_numbers_as_text(path, c, first[c])
        if not names:
            raise DataError(f"{path}: no numeric columns (columns: {', '.join(present)})")
        return names, skipped
    if isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",") if c.strip()]
    columns = [str(c) for c in columns]
    missing = [c for c in columns if c not in present]
    if missing:
        raise DataError(f"{path}: no column(s) {', '.join(map(repr, missing))} "
                        f"(columns: {', '.join(present[:20])}{' ...' if len(present) > 20 else ''})")
    text = [c for c in columns if not is_numeric(first[c]) and not first[c].isna().all()]
    if text:
        raise DataError(f"{path}: column(s) {', '.join(map(repr, text))} are not numeric")
    if len(set(columns)) != len(columns):
        raise DataError(f"{path}: a column is listed twice in --columns")
    return columns, []


def chunk_matrix(frame, names, path, row0=0):
    """The feature columns of a chunk as float64 (empty cells become NaN).

    Text in a feature column raises :class:`DataError` naming column and row
    (1-based data row ``row0 + i + 1``); infinity is refused too
    (:func:`gmmkit.tables.columns.float_matrix`).
    """
    return float_matrix(frame, names, path, row0)


def sample_rows(path, names, max_rows=200_000, seed=0, chunksize=100_000, on_progress=None,
                return_rows=False):
    """A uniform random sample of at most ``max_rows`` rows with a value in at
    least one feature column, in one pass (empty cells are NaN).

    Returns ``(X, n_rows, n_incomplete, n_empty)``: the sample (file order), the
    file's row count, how many rows have some empty feature cells (sampled like
    the others) and how many have every feature cell empty (never sampled); with
    ``return_rows`` also the 1-based data row numbers of the sample.
    """
    rng = np.random.default_rng(seed)
    keys = np.empty(0)
    rows = np.empty((0, len(names)))
    index = np.empty(0, dtype=np.int64)
    n_rows = n_incomplete = n_empty = 0
    for frame in iter_chunks(path, chunksize, on_progress):
        X = chunk_matrix(frame, names, path, n_rows)
        nan = np.isnan(X)
        ok = ~nan.all(axis=1)
        n_incomplete += int((nan.any(axis=1) & ok).sum())
        n_empty += int((~ok).sum())
        keys = np.concatenate([keys, rng.random(int(ok.sum()))])
        rows = np.vstack([rows, X[ok]])
        index = np.concatenate([index, n_rows + 1 + np.flatnonzero(ok)])
        n_rows += len(frame)
        if keys.size > max_rows:  # keep the max_rows smallest random keys: a uniform sample
            keep = np.sort(np.argpartition(keys, max_rows)[:max_rows])
            keys, rows, index = keys[keep], rows[keep], index[keep]
    if rows.shape[0] < 2:
        raise DataError(f"{path}: fewer than 2 rows with values in the feature columns to fit on "
                        f"({n_rows} rows, {n_empty} with every feature cell empty)")
    if return_rows:
        return rows, n_rows, n_incomplete, n_empty, index
    return rows, n_rows, n_incomplete, n_empty


def score_frame(det, frame, names, path, row0=0, top=3):
    """Score one chunk: the chunk with ``outlier_score`` (negative log-density;
    calibrated for rows with empty cells), ``is_outlier`` (True/False),
    ``component`` and ``explanation`` (flagged rows only) added.

    Returns ``(out_frame, scores, partial)``: ``partial`` marks the rows with
    some empty feature cells; rows with every feature cell empty are left empty."""
    import pandas as pd

    X = chunk_matrix(frame, names, path, row0)
    Xdf = pd.DataFrame(X, columns=names)
    logp = det.score_samples(Xdf)
    ok = ~np.isnan(logp)
    flag = ok & (logp < det.offset_)
    comp = det.component(Xdf)
    expl = np.full(len(frame), "", dtype=object)
    if flag.any():
        _, text = det.explain(Xdf.iloc[np.flatnonzero(flag)], top=top, feature_names=names)
        expl[flag] = text
    out = frame.copy()
    out["outlier_score"] = -logp
    out["is_outlier"] = pd.array(np.where(ok, flag, None), dtype="boolean")
    out["component"] = pd.array(np.where(ok, comp, None), dtype="Int64")
    out["explanation"] = expl
    return out, -logp, np.isnan(X).any(axis=1)


def score_file(det, path, names, out=None, *, overwrite=False, chunksize=100_000, top=3,
               label_column=None, n_top_rows=10, on_progress=None):
    """Score every row of ``path`` chunk by chunk; write the scored table to ``out``.

    Returns a dict: rows, scored, unscored (every feature cell empty),
    with_empty_cells (scored rows with some empty feature cells) and how many of
    those were flagged, flagged, the ``n_top_rows`` highest scores (row, score,
    component, explanation), and (with ``label_column``) the per-row scores and
    labels for evaluation.
    """
    from gmmkit.io import atomic_path

    if out is not None and table_kind(out)[0] != "csv":
        raise ParameterError(f"{out}: the output must be a .csv or .tsv file")
    n_rows = n_scored = n_flagged = n_partial = n_partial_flagged = 0
    top_heap = []
    scores, labels = [], []

    def run(write):
        nonlocal n_rows, n_scored, n_flagged, n_partial, n_partial_flagged
        first = True
        for frame in iter_chunks(path, chunksize, on_progress):
            if label_column is not None and label_column not in frame.columns:
                raise DataError(f"{path}: no label column {label_column!r}")
            table, s, partial = score_frame(det, frame, names, path, n_rows, top)
            if write is not None:
                table.to_csv(write, mode="w" if first else "a", header=first, index=False,
                             sep=output_separator(out))
            first = False
            ok = ~np.isnan(s)
            n_scored += int(ok.sum())
            flagged = table["is_outlier"].fillna(False).to_numpy(dtype=bool)
            n_flagged += int(flagged.sum())
            n_partial += int((partial & ok).sum())
            n_partial_flagged += int((partial & flagged).sum())
            top_heap[:] = _top_rows(det, table, names, s, ok, n_rows, top_heap, n_top_rows, top)
            if label_column is not None:
                scores.append(s)
                labels.append(frame[label_column].astype(str).to_numpy())
            n_rows += len(frame)

    if out is None:
        run(None)
    else:
        with atomic_path(out, overwrite=overwrite) as tmp:
            run(tmp)
    result = {
        "rows": n_rows, "scored": n_scored, "unscored": n_rows - n_scored,
        "with_empty_cells": n_partial, "flagged_with_empty_cells": n_partial_flagged,
        "flagged": n_flagged,
        "top": [dict(row=r, score=sc, component=c, explanation=e)
                for sc, r, c, e in sorted(top_heap, key=lambda t: (t[0], -t[1]), reverse=True)],
    }
    if label_column is not None:
        result["scores"] = np.concatenate(scores)
        result["labels"] = np.concatenate(labels)
    return result


def _top_rows(det, table, names, s, ok, row0, kept, n, top):
    """The ``n`` highest scores among ``kept`` (score, row, component, explanation) and this
    chunk's scored rows; only the chunk's ``n`` best are looked at, and the explanations
    they lack (rows that were not flagged) are computed in one call."""
    import pandas as pd

    idx = np.flatnonzero(ok)
    if n <= 0 or idx.size == 0:
        return kept[:max(n, 0)]
    if idx.size > n:
        idx = idx[np.argpartition(-s[idx], n - 1)[:n]]
    new = [(float(s[i]), row0 + int(i) + 1, int(i)) for i in idx]
    best = sorted(list(kept) + new, key=lambda t: (t[0], -t[1]), reverse=True)[:n]
    fresh = [t[2] for t in best if len(t) == 3]
    text = dict(zip(fresh, table["explanation"].iloc[fresh]))
    missing = [i for i in fresh if not text[i]]
    if missing:
        rows = pd.DataFrame(table[names].iloc[missing].to_numpy(dtype=np.float64), columns=names)
        text.update(zip(missing, det.explain(rows, top=top, feature_names=names)[1]))
    return [t if len(t) == 4 else (t[0], t[1], int(table["component"].iloc[t[2]]), text[t[2]])
            for t in best]


def positive_label(labels, positive=None):
    """The label value that marks an outlier: ``positive`` if given, else
    1 for {0, 1}, -1 for {-1, 1}, True for booleans, else the rarer value.

    >>> positive_label(np.array(["a", "b", "b"]))
    'a'
    >>> positive_label(np.array(["0", "1", "0"]))
    '1'
    """
    values, counts = np.unique(labels, return_counts=True)
    if positive is not None:
        if str(positive) not in values:
            raise ParameterError(f"--positive {positive!r} is not a value of the label column "
                                 f"(values: {', '.join(values[:10])})")
        return str(positive)
    if values.size != 2:
        raise DataError(f"the label column must have exactly 2 values, found {values.size} "
                        f"({', '.join(values[:10])}); use --positive VALUE to name the outlier class")
    low = {v.strip().lower() for v in values}
    for a, b in ((("0", "1"), "1"), (("-1", "1"), "-1"), (("0.0", "1.0"), "1.0"),
                 (("false", "true"), "true")):
        if low == set(a):
            return str(next(v for v in values if v.strip().lower() == b))
    return str(values[int(np.argmin(counts))])


def evaluate(scores, labels, positive=None):
    """ROC-AUC and average precision of ``scores`` (higher = more anomalous) against labels.

    Unscored rows (NaN) are left out. Returns a dict.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    ok = ~np.isnan(scores)
    pos = positive_label(labels[ok], positive)
    y = labels[ok] == pos
    if y.all() or not y.any():
        raise DataError("the label column has only one class among the scored rows")
    return {"positive": pos, "n_positive": int(y.sum()), "n_evaluated": int(ok.sum()),
            "roc_auc": float(roc_auc_score(y, scores[ok])),
            "average_precision": float(average_precision_score(y, scores[ok]))}
