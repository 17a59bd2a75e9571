"""``gmmkit outliers``: the command line over :mod:`gmmkit_apps.outliers`.

Only typer and the standard library are imported here at module level; the
numerical work loads inside the command so that ``gmmkit --help`` stays fast.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

HELP = """Score, flag and explain anomalies: rows with a low density under a Gaussian mixture.

Fits a mixture (K by BIC) robustly on DATA (or on --train, or loads --model),
scores every row by its negative log-density, flags the --contamination
fraction of the fit rows with the highest scores (or the rows below a
--threshold log-density) and names, for each flagged row, the features that
are most unusual given the others (conditional z-scores under its component).
The output keeps every input column and adds outlier_score, is_outlier,
component and explanation. Non-numeric columns are skipped (with a note).
Empty cells are missing values: such rows are fitted on and scored on their
observed features (a chi-square-calibrated score on the complete rows' scale,
see docs/outliers.md); rows with every feature cell empty are not scored.

Example:

  gmmkit outliers sensors.csv --contamination 0.02 -o flagged.csv --explain

  gmmkit outliers new.csv --train clean.csv --save-model det.gmm -o flagged.csv

  gmmkit outliers data.csv --label-column class --json
"""


def _note(msg, quiet):
    if not quiet:
        typer.echo(msg, err=True)


def outliers(
    data: Path = typer.Argument(..., help="Table to score: .csv/.tsv (with a header row, may be compressed) or .parquet."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the scored table here (.csv or .tsv)."),
    contamination: Optional[float] = typer.Option(
        None, help="Fraction of the fit rows to flag (default 0.01; with --model: re-estimated on DATA)."),
    threshold: Optional[float] = typer.Option(
        None, help="Flag rows whose log-density is below this value (instead of --contamination)."),
    columns: Optional[str] = typer.Option(None, help="Comma-separated feature columns (default: all numeric)."),
    train: Optional[Path] = typer.Option(None, help="Fit on this table (clean data) instead of DATA."),
    model: Optional[Path] = typer.Option(
        None, help="Use a saved detector (--save-model) or a GaussianMixture model file instead of fitting."),
    save_model: Optional[Path] = typer.Option(None, help="Save the fitted detector to this file."),
    components: str = typer.Option("bic", help="Number of components, or 'bic' to choose 1..--max-components."),
    max_components: int = typer.Option(8, help="Largest K tried by BIC."),
    covariance_type: str = typer.Option(
        "auto", help="full, diag, tied, spherical, or auto: full with >= 10 rows per parameter of a full component, else diag."),
    trim: float = typer.Option(0.05, help="Fraction of lowest-density rows left out at each trimmed-EM round."),
    rounds: int = typer.Option(3, help="Trimmed-EM refits (0: plain fit)."),
    min_weight: float = typer.Option(
        0.05, help="Components smaller than this fraction of rows are not normal modes (masking guard)."),
    label_column: Optional[str] = typer.Option(
        None, help="Column holding true labels: report ROC-AUC and average precision (never a feature)."),
    positive: Optional[str] = typer.Option(None, help="Label value of the outliers (default: 1, -1, true, or the rarer value)."),
    plot: Optional[Path] = typer.Option(
        None, help="Draw the score histogram and the rows on the two most-cited features (PNG)."),
    explain: bool = typer.Option(False, "--explain", help="Print the most anomalous rows and their unusual features."),
    top_features: int = typer.Option(3, help="Features named per explained row."),
    show: int = typer.Option(10, help="Rows shown by --explain."),
    chunksize: int = typer.Option(100_000, help="Rows read at a time (memory stays bounded)."),
    max_fit_rows: int = typer.Option(200_000, help="Fit on a uniform sample of at most this many rows."),
    seed: int = typer.Option(0, help="Random seed (fit sample, initialisation)."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing --out / --save-model files."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No notes or progress bar."),
):
    from gmmkit.exceptions import ParameterError

    if contamination is not None and threshold is not None:
        raise typer.BadParameter("give --contamination or --threshold, not both")
    if train is not None and model is not None:
        raise typer.BadParameter("give --train or --model, not both")
    if contamination is not None and not 0 < contamination <= 0.5:
        raise typer.BadParameter("--contamination must be in (0, 0.5]")
    if chunksize < 1 or max_fit_rows < 2 or top_features < 1:
        raise typer.BadParameter("--chunksize, --max-fit-rows and --top-features must be positive")
    if components != "bic" and not components.isdigit():
        raise typer.BadParameter("--components must be a positive integer or 'bic'")
    if model is not None and save_model is not None:
        raise ParameterError("--save-model saves a fitted detector; it cannot be combined with --model")
    for target in (out, save_model, plot):
        if target is not None and target.exists() and not force:
            from gmmkit.exceptions import OutputExistsError

            raise OutputExistsError(f"{target} exists; pass --force to replace it")
    if out is not None and save_model is not None and out.resolve() == save_model.resolve():
        raise typer.BadParameter("--out and --save-model must be different files")

    from . import table as tb

    progress = _Progress(quiet or json_out)
    exclude = (label_column,) if label_column else ()
    summary = {"data": str(data)}
    with progress:
        if model is not None:
            det, names = _load_model(model, data, columns, exclude)
            summary["model"] = str(model)
            if threshold is not None:
                det.offset_ = float(threshold)
            elif contamination is not None or det.offset_ != det.offset_:  # NaN: plain mixture
                X, _, _, _ = tb.sample_rows(data, names, max_fit_rows, seed, chunksize,
                                            progress.task("sampling " + data.name))
                det.offset_ = _quantile(det, X, names, contamination or 0.01)
        else:
            source = train if train is not None else data
            names, skipped = tb.feature_columns(source, columns, exclude)
            if skipped:
                _note(f"note: skipped non-numeric column(s) {', '.join(skipped)} "
                      f"(choose with --columns)", quiet)
            X, n_rows, n_incomplete, n_empty, row_numbers = tb.sample_rows(
                source, names, max_fit_rows, seed, chunksize, progress.task("reading " + source.name),
                return_rows=True)
            if n_incomplete:
                _note(f"note: {n_incomplete} of {n_rows} rows of {source} have empty cells "
                      "in the feature columns: fitted and scored on their observed features", quiet)
            if n_empty:
                _note(f"note: {n_empty} of {n_rows} rows of {source} have every feature cell "
                      "empty: left out of the fit and not scored", quiet)
            kept = _drop_constant(X, names, source, quiet)
            X = X[:, [i for i, _ in kept]]
            names = [n for _, n in kept]
            det = _fit(X, names, components, max_components, covariance_type, contamination,
                       threshold, trim, rounds, min_weight, seed, progress, quiet)
            summary.update(skipped_columns=skipped, fit_rows=int(X.shape[0]),
                           trained_on=str(source))
            if save_model is not None:
                det.save(save_model, overwrite=force)
                summary["saved_model"] = str(save_model)
        if plot is not None:
            if model is not None or train is not None:
                X, _, _, _, row_numbers = tb.sample_rows(data, names, max_fit_rows, seed, chunksize,
                                                         return_rows=True)
            summary["plot"] = str(plot)
            summary["plot_features"] = _plot(det, X, names, row_numbers, plot, data)
        result = tb.score_file(det, data, names, out, overwrite=force, chunksize=chunksize,
                               top=top_features, label_column=label_column, n_top_rows=show,
                               on_progress=progress.task("scoring " + data.name))
    gm = det.mixture_
    summary.update(
        features=names, rows=result["rows"], scored=result["scored"],
        unscored_rows=result["unscored"], rows_with_empty_cells=result["with_empty_cells"],
        flagged_with_empty_cells=result["flagged_with_empty_cells"], flagged=result["flagged"],
        threshold_logpdf=float(det.offset_), threshold_score=-float(det.offset_),
        n_components=int(gm.n_components), covariance_type=gm.covariance_type,
        ignored_features=[n for n, u in zip(names, det.used_features_) if not u],
        kept_fit_rows=int(det.n_kept_), dropped_components=int(det.dropped_components_),
        output=str(out) if out is not None else None, top=result["top"],
    )
    if label_column is not None:
        summary["evaluation"] = tb.evaluate(result["scores"], result["labels"], positive)
    if json_out:
        typer.echo(json.dumps(summary, indent=2, default=float))
        return
    if quiet:
        return
    _report(summary, explain)


outliers.__doc__ = HELP


def _plot(det, X, names, row_numbers, path, data):
    import pandas as pd

    from .plot import plot_outliers

    import numpy as np

    frame = pd.DataFrame(X, columns=names)
    scores = -det.score_samples(frame)
    ok = ~np.isnan(scores)  # rows with every used feature missing have no score
    X, scores, frame, row_numbers = X[ok], scores[ok], frame[ok], np.asarray(row_numbers)[ok]
    flags = scores > -det.offset_
    text = det.explain(frame.iloc[flags.nonzero()[0]], feature_names=names)[1] if flags.any() else []
    return list(plot_outliers(X, scores, flags, -det.offset_, names, explanations=text,
                              row_numbers=row_numbers, path=path,
                              title=f"gmmkit outliers {data.name}: {int(flags.sum())} of {len(X)} rows flagged"))


def _quantile(det, X, names, contamination):
    import numpy as np
    import pandas as pd

    s = det.score_samples(pd.DataFrame(X, columns=names))
    return float(np.quantile(s[~np.isnan(s)], contamination))


def _drop_constant(X, names, source, quiet):
    import numpy as np

    from gmmkit.exceptions import DataError

    const = [n for j, n in enumerate(names)
             if np.isnan(X[:, j]).all() or np.nanmax(X[:, j]) == np.nanmin(X[:, j])]
    if len(const) == len(names):
        raise DataError(f"{source}: every feature column is constant ({', '.join(names)}): "
                        "nothing to score")
    if const:
        _note(f"note: constant column(s) {', '.join(const)} ignored", quiet)
    return [(j, n) for j, n in enumerate(names) if n not in const]


def _fit(X, names, components, max_components, covariance_type, contamination, threshold,
         trim, rounds, min_weight, seed, progress, quiet):
    import warnings

    import pandas as pd

    from gmmkit.exceptions import ParameterError

    from .detector import GMMOutlierDetector

    det = GMMOutlierDetector(
        n_components="bic" if components == "bic" else int(components),
        covariance_type=covariance_type, max_components=max_components,
        contamination=0.01 if contamination is None else contamination, threshold=threshold,
        trim_fraction=trim, n_rounds=rounds, min_component_weight=min_weight, random_state=seed,
    )
    from sklearn.utils._param_validation import InvalidParameterError

    step = progress.task("fitting")
    from .detector import IgnoredFeatureWarning

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", IgnoredFeatureWarning)
            det.fit(pd.DataFrame(X, columns=names))
    except InvalidParameterError as exc:
        raise ParameterError(" ".join(str(exc).split())) from None
    for w in caught:
        if issubclass(w.category, IgnoredFeatureWarning):
            _note(f"note: {w.message}", quiet)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if step:
        step(1, 1)
    return det


def _load_model(path, data, columns, exclude):
    from gmmkit.exceptions import DataError, ModelFileError
    from gmmkit.io import load_arrays

    from . import table as tb
    from .detector import KIND, from_mixture, load_detector

    _, meta = load_arrays(path)
    kind = meta.get("kind")
    if kind == KIND:
        det = load_detector(path)
    elif kind == "GaussianMixture":
        import gmmkit

        gm = gmmkit.load(path)
        det = from_mixture(gm)
        if hasattr(gm, "feature_names_in_"):
            del gm.feature_names_in_  # the detector checks names; the mixture sees arrays
    else:
        raise ModelFileError(f"{path} holds a {kind!r}, not an outlier detector or GaussianMixture")
    names = getattr(det, "feature_names_in_", None)
    if names is not None:
        names = [str(n) for n in names]
        if columns is not None:
            listed = [c.strip() for c in columns.split(",") if c.strip()]
            if listed != names:
                raise DataError(f"{path} was fitted on columns {', '.join(names)}; "
                                f"--columns lists {', '.join(listed)}")
        tb.feature_columns(data, names)  # checks they exist and are numeric
    else:
        names, _ = tb.feature_columns(data, columns, exclude)
        if len(names) != det.n_features_in_:
            raise DataError(f"{path} expects {det.n_features_in_} features; {data} has "
                            f"{len(names)} numeric columns ({', '.join(names)}); use --columns")
        import numpy as np

        det.feature_names_in_ = np.asarray(names, dtype=object)
    return det, names


def _report(s, explain):
    lines = []
    pct = s["flagged"] / max(1, s["scored"])
    lines.append(f"scored {s['scored']} of {s['rows']} rows; flagged {s['flagged']} ({pct:.1%}) "
                 f"with log-density below {s['threshold_logpdf']:.4g} "
                 f"(outlier_score above {s['threshold_score']:.4g})")
    if s["rows_with_empty_cells"]:
        lines.append(f"{s['rows_with_empty_cells']} scored rows have empty cells: scored on their "
                     f"observed features (calibrated), {s['flagged_with_empty_cells']} of them flagged")
    if s["unscored_rows"]:
        lines.append(f"{s['unscored_rows']} rows with every feature cell empty were not scored")
    model = f"model: {s['n_components']} {s['covariance_type']} component(s) on {len(s['features'])} features"
    if "fit_rows" in s:
        model += f", fitted on {s['kept_fit_rows']} of {s['fit_rows']} rows after trimming"
        if s["dropped_components"]:
            model += f"; {s['dropped_components']} small component(s) dropped as not normal"
    lines.append(model)
    if "evaluation" in s:
        e = s["evaluation"]
        lines.append(f"ROC-AUC {e['roc_auc']:.3f}, average precision {e['average_precision']:.3f} "
                     f"(outliers = {e['positive']!r}: {e['n_positive']} of {e['n_evaluated']} rows)")
    if s.get("plot"):
        lines.append(f"drew {s['plot']} ({' vs '.join(s['plot_features'])})")
    if s.get("saved_model"):
        lines.append(f"saved the detector to {s['saved_model']}")
    if s["output"]:
        lines.append(f"wrote {s['output']}")
    typer.echo("\n".join(lines))
    if explain and s["top"]:
        typer.echo("\nmost anomalous rows (row = data row number, z = conditional z-score):")
        width = max(len(str(t["row"])) for t in s["top"])
        for t in s["top"]:
            typer.echo(f"  row {t['row']:>{width}}  score {t['score']:9.3f}  "
                       f"component {t['component']}  {t['explanation']}")


class _Progress:
    """A rich progress bar on stderr (only on a terminal, not with --quiet/--json)."""

    def __init__(self, disabled):
        self.disabled = disabled or not sys.stderr.isatty()
        self.bar = None

    def __enter__(self):
        if not self.disabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                                console=Console(stderr=True), transient=True)
            self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def task(self, description):
        if self.bar is None:
            return None
        tid = self.bar.add_task(description, total=None)

        def update(done, total):
            self.bar.update(tid, completed=done if done is not None else 0, total=total)

        return update
