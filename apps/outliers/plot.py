"""A picture of what ``gmmkit outliers`` found: score histogram and a two-feature view.

>>> import numpy as np, os, tempfile
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(size=(300, 3)), [[6.0, -6.0, 0.0]]])
>>> scores = (X ** 2).sum(axis=1)
>>> path = os.path.join(tempfile.mkdtemp(), "o.png")
>>> plot_outliers(X, scores, scores > 12, 12.0, ["a", "b", "c"], path=path)
('a', 'b')
>>> os.path.getsize(path) > 0
True
"""
from __future__ import annotations

import numpy as np

from gmmkit.exceptions import GMMKitError


def pick_features(zscores, names, top=3):
    """The two features most often among the ``top`` largest |z| of the flagged rows'
    z-scores (``zscores``: (n_flagged, n_features); the largest counts ``top`` times,
    the next ``top - 1``, ...; NaN never counts; ties and missing ones filled in
    column order). Works on the numbers, not on the text, so any column name
    (spaces, ``=``) is found.

    >>> pick_features(np.array([[0.1, 5.0, -4.0], [3.0, np.nan, -6.0]]), ["a b", "c", "d=e"], top=2)
    ('d=e', 'c')
    """
    names = list(names)
    counts = np.zeros(len(names))
    z = np.abs(np.asarray(zscores, dtype=np.float64).reshape(-1, len(names)))
    if z.size:
        order = np.argsort(-np.where(np.isnan(z), -1.0, z), axis=1)[:, :top]
        for i, row in enumerate(order):
            for rank, j in enumerate(row):
                counts[j] += (top - rank) * (not np.isnan(z[i, j]))
    ranked = sorted(range(len(names)), key=lambda j: (-counts[j], j))
    return (names[ranked[0]], names[ranked[1]]) if len(names) > 1 else (names[0], names[0])


def plot_outliers(X, scores, flags, threshold, names, *, features=None, zscores=None,
                  row_numbers=None, n_label=5, path=None, title=None):
    """Draw the score histogram (with the threshold) and the rows on two features.

    Parameters
    ----------
    X : ndarray (n, D), the rows (a sample is fine).
    scores : ndarray (n,), outlier scores (negative log-density).
    flags : ndarray of bool (n,).
    threshold : float, score above which rows are flagged.
    names : list of str, the feature names.
    features : pair of names, optional; default :func:`pick_features`.
    zscores : (n_flagged, n_features) array, optional, used to pick the features.
    row_numbers : ndarray (n,), optional, labels for the ``n_label`` top rows.
    path : str, optional; PNG written atomically.

    Returns the two features drawn.
    """
    try:
        import matplotlib

        if path is not None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise GMMKitError("--plot needs matplotlib: pip install 'gmmkit[plot]'") from None
    names = list(names)
    if features is None:
        features = pick_features(np.zeros((0, len(names))) if zscores is None else zscores, names)
    i, j = (names.index(f) for f in features)
    ok = np.isfinite(scores)
    X, scores, flags = X[ok], scores[ok], np.asarray(flags, bool)[ok]
    rows = np.arange(1, ok.size + 1)[ok] if row_numbers is None else np.asarray(row_numbers)[ok]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    lo, hi = np.percentile(scores, [0, 100])
    skewed = _heavy_tail(scores)
    if skewed:  # bins even on the symmetric-log axis
        t = np.linspace(_symlog(lo), _symlog(hi), 60)
        bins = np.sign(t) * np.expm1(np.abs(t))
        ax1.set_xscale("symlog", linthresh=1.0)
    else:
        bins = np.linspace(lo, hi, 60)
    ax1.hist(scores[~flags], bins=bins, color="0.6", label="normal")
    ax1.hist(scores[flags], bins=bins, color="tab:red", label="flagged")
    ax1.axvline(threshold, color="k", ls="--", lw=1, label="threshold")
    ax1.set_yscale("log")
    ax1.set_xlabel("outlier score (negative log-density)")
    ax1.set_ylabel("rows")
    ax1.legend()
    ax2.scatter(X[~flags, i], X[~flags, j], s=6, c="0.6", lw=0, label="normal")
    ax2.scatter(X[flags, i], X[flags, j], s=14, c="tab:red", lw=0, label="flagged")
    seen = np.isfinite(X[:, i]) & np.isfinite(X[:, j])  # rows with an empty cell are not drawn
    for r in [r for r in np.argsort(-scores) if seen[r]][:n_label]:
        ax2.annotate(f"row {rows[r]}", (X[r, i], X[r, j]), fontsize=7, xytext=(3, 3),
                     textcoords="offset points")
    if _heavy_tail(X[:, i]):
        ax2.set_xscale("symlog", linthresh=_linthresh(X[:, i]))
    if _heavy_tail(X[:, j]):
        ax2.set_yscale("symlog", linthresh=_linthresh(X[:, j]))
    ax2.set_xlabel(features[0])
    ax2.set_ylabel(features[1])
    ax2.legend(loc="best", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        from gmmkit.io import atomic_path

        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=80, format="png")
        plt.close(fig)
    return tuple(features)


def plot_detector(det, X, names, path, *, row_numbers=None, title=None):
    """:func:`plot_outliers` for a fitted detector on rows ``X`` (columns ``names``).

    Rows that cannot be scored are left out; the flagged rows' z-scores pick
    the two features drawn. Returns the two features.
    """
    import pandas as pd

    frame = pd.DataFrame(X, columns=names)
    scores = -det.score_samples(frame)
    ok = ~np.isnan(scores)  # unscorable rows: no score to draw
    rows = np.arange(1, len(X) + 1) if row_numbers is None else np.asarray(row_numbers)
    X, scores, frame, rows = np.asarray(X)[ok], scores[ok], frame[ok], rows[ok]
    flags = scores > -det.offset_
    z = det.explain(frame.iloc[flags.nonzero()[0]], feature_names=names)[0] if flags.any() else None
    if title is not None:
        title = f"{title}: {int(flags.sum())} of {len(X)} rows flagged"
    return plot_outliers(X, scores, flags, -det.offset_, names, zscores=z,
                         row_numbers=rows, path=path, title=title)


def _symlog(v):
    return np.sign(v) * np.log1p(np.abs(v))


def _heavy_tail(v):
    """True when the range is dominated by a few extreme values (log axes read better)."""
    v = v[np.isfinite(v)]
    if v.size == 0:
        return False
    q1, q50, q99 = np.percentile(v, [1, 50, 99])
    spread = max(q99 - q1, 1e-12)
    return (v.max() - v.min()) > 20 * spread


def _linthresh(v):
    v = v[np.isfinite(v)]
    q = np.percentile(np.abs(v), 50) if v.size else 0.0
    return float(q) if q > 0 else 1.0
