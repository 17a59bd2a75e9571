"""``gmmkit outliers``: the command line over :mod:`gmmkit_apps.outliers`.

Only typer and the standard library are imported here at module level; the
numerical work loads inside the command so that ``gmmkit --help`` stays fast.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer

HELP = """Score, flag and explain anomalies: rows with a low density under a mixture.

Fits a mixture robustly on DATA (or on --train, or loads --model): binary columns
are categorical parts of each component, the other numeric columns its Gaussian
part; the least likely rows are trimmed out of the fit (see docs/outliers.md). It
scores every row by its negative log-density, flags the --contamination
fraction of the fit rows with the highest scores (or the rows below a
--threshold log-density) and names, for each flagged row, the features that
are most unusual given the others (conditional z-scores under its component).
The output keeps every input column and adds outlier_score, is_outlier,
component and explanation. Non-numeric columns and row identifiers (an index
column, id, patient_id) are skipped (with a note).
Empty cells are missing values: such rows are fitted on and scored on their
observed features (a chi-square-calibrated score on the complete rows' scale,
see docs/outliers.md); rows with every feature cell empty cannot be scored:
they are neither outliers nor inliers (empty outlier_score and is_outlier, counted
apart as unscored_rows).

Example:

  gmmkit outliers sensors.csv --contamination 0.02 -o flagged.csv --explain

  gmmkit outliers new.csv --train clean.csv --save-model det.gmm -o flagged.csv

  gmmkit outliers data.csv --label-column class --json
"""


def outliers(
    data: Path = typer.Argument(
        ..., help="Table to score: .csv/.tsv (with a header row, may be compressed) or .parquet."),
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
    max_components: int = typer.Option(
        1, help="Largest K tried by BIC (1 was best over the benchmark collection; raise it for data "
                "whose normal rows form separate groups)."),
    covariance_type: str = typer.Option("full", help="full or diag (the Gaussian part)."),
    trim: float = typer.Option(0.3, help="Fraction of lowest-density rows left out at each trimmed-EM round."),
    rounds: int = typer.Option(2, help="Trimmed-EM refits (0: plain fit)."),
    min_weight: float = typer.Option(
        0.1, help="Components smaller than this fraction of rows are not normal modes (masking guard)."),
    label_column: Optional[str] = typer.Option(
        None, help="Column holding true labels: report ROC-AUC and average precision (never a feature)."),
    positive: Optional[str] = typer.Option(
        None, help="Label value of the outliers (default: 1, -1, true, or the rarer value)."),
    plot: Optional[Path] = typer.Option(
        None, help="Draw the score histogram and the rows on the two most-cited features (PNG)."),
    explain: bool = typer.Option(False, "--explain", help="Print the most anomalous rows and their unusual features."),
    top_features: int = typer.Option(3, help="Features named per explained row."),
    show: int = typer.Option(10, help="Rows shown by --explain."),
    chunksize: int = typer.Option(100_000, help="Rows read at a time (memory stays bounded)."),
    max_fit_rows: int = typer.Option(200_000, help="Fit on a uniform sample of at most this many rows."),
    seed: int = typer.Option(0, min=0, max=2**32 - 1, help="Random seed (fit sample, initialisation)."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing --out / --save-model files."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No notes or progress bar."),
):
    from gmmkit.cli.kit import Progress, check_outputs, is_quiet, note, print_json
    from gmmkit.exceptions import ParameterError

    if contamination is not None and threshold is not None:
        raise typer.BadParameter("give --contamination or --threshold, not both")
    if train is not None and model is not None:
        raise typer.BadParameter("give --train or --model, not both")
    if contamination is not None and not 0 < contamination <= 0.5:
        raise typer.BadParameter("--contamination must be in (0, 0.5]")
    if threshold is not None and not math.isfinite(threshold):
        raise typer.BadParameter(f"--threshold must be a finite log-density, got {threshold}")
    if chunksize < 1 or max_fit_rows < 2 or top_features < 1 or show < 0:
        raise typer.BadParameter("--chunksize, --max-fit-rows and --top-features must be positive, "
                                 "--show at least 0")
    if covariance_type not in ("full", "diag"):
        raise typer.BadParameter(f"--covariance-type must be full or diag, got {covariance_type!r}")
    if components != "bic" and not components.isdigit():
        raise typer.BadParameter("--components must be a positive integer or 'bic'")
    if model is not None and save_model is not None:
        raise ParameterError("--save-model saves a fitted detector; it cannot be combined with --model")
    if out is not None and save_model is not None and out.resolve() == save_model.resolve():
        raise typer.BadParameter("--out and --save-model must be different files")
    check_outputs(out, save_model, plot, force=force)

    from . import table as tb
    from .workflow import calibrate_on_table, fit_on_table, load_for_table

    exclude = (label_column,) if label_column else ()
    summary = {"data": str(data)}
    sampling = dict(max_fit_rows=max_fit_rows, seed=seed, chunksize=chunksize)
    with Progress(enabled=not (quiet or json_out)) as progress:
        if model is not None:
            det, names = load_for_table(model, data, columns=columns, exclude=exclude)
            summary["model"] = str(model)
            if threshold is not None:
                det.calibrate(threshold=threshold)
            elif contamination is not None or not det.calibrated_:  # a plain mixture has no threshold
                calibrate_on_table(det, data, names, contamination=contamination or 0.01,
                                   max_rows=max_fit_rows, seed=seed, chunksize=chunksize,
                                   on_progress=progress.task("sampling " + data.name))
        else:
            source = train if train is not None else data
            fitted = fit_on_table(
                source, columns=columns, exclude=exclude, **sampling, data_is_source=train is None,
                on_progress=progress.task("reading and fitting " + source.name),
                n_components="bic" if components == "bic" else int(components),
                covariance_type=covariance_type, max_components=max_components,
                contamination=0.01 if contamination is None else contamination, threshold=threshold,
                trim_fraction=trim, n_rounds=rounds, min_component_weight=min_weight)
            for line in fitted.notes:
                note(line, quiet)
            det, names, X, row_numbers = fitted.detector, fitted.names, fitted.X, fitted.row_numbers
            summary.update(skipped_columns=fitted.skipped, fit_rows=int(X.shape[0]), trained_on=str(source))
            if save_model is not None:
                det.save(save_model, overwrite=force)
                summary["saved_model"] = str(save_model)
        if plot is not None:
            from .plot import plot_detector

            if model is not None or train is not None:
                X, _, _, _, row_numbers = tb.sample_rows(data, names, max_fit_rows, seed, chunksize,
                                                         return_rows=True)
            summary["plot"] = str(plot)
            summary["plot_features"] = list(plot_detector(det, X, names, plot, row_numbers=row_numbers,
                                                          title=f"gmmkit outliers {data.name}"))
        result = tb.score_file(det, data, names, out, overwrite=force, chunksize=chunksize,
                               top=top_features, label_column=label_column, n_top_rows=show,
                               on_progress=progress.task("scoring " + data.name))
    if result["unscored"]:
        note(f"{result['unscored']} of {result['rows']} rows of {data} have every used feature cell "
             "empty: not scored, and counted neither as outliers nor as inliers (empty is_outlier)",
             quiet)
    summary.update(
        features=names, rows=result["rows"], scored=result["scored"],
        unscored_rows=result["unscored"], rows_with_empty_cells=result["with_empty_cells"],
        flagged_with_empty_cells=result["flagged_with_empty_cells"], flagged=result["flagged"],
        inliers=result["scored"] - result["flagged"],
        threshold_logpdf=float(det.offset_), threshold_score=-float(det.offset_),
        n_components=det.n_components_,
        covariance_type=det.mixture_.covariance_type if det.mixture_ is not None else None,
        used_features=[n for n, u in zip(names, det.used_features_) if u],
        categorical_features=[n for n, k in zip(names, det.kinds_) if k == "discrete"],
        ignored_features=[n for n, u in zip(names, det.used_features_) if not u],
        kept_fit_rows=int(det.n_kept_), dropped_components=int(det.dropped_components_),
        output=str(out) if out is not None else None, top=result["top"],
    )
    if label_column is not None:
        summary["evaluation"] = tb.evaluate(result["scores"], result["labels"], positive)
    if json_out:
        print_json(summary)
        return
    if is_quiet(quiet):
        return
    _report(summary, explain)


outliers.__doc__ = HELP


def _report(s, explain):
    from gmmkit.cli.kit import echo

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
    model = f"model: {s['n_components']} component(s) on {len(s['used_features'])} of {len(s['features'])} features"
    if s["categorical_features"]:
        model += f" ({len(s['categorical_features'])} categorical)"
    if s["ignored_features"]:
        model += f"; ignored (constant): {', '.join(s['ignored_features'])}"
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
    echo("\n".join(lines))
    if explain and s["top"]:
        echo("\nmost anomalous rows (row = data row number, z = conditional z-score):")
        width = max(len(str(t["row"])) for t in s["top"])
        for t in s["top"]:
            echo(f"  row {t['row']:>{width}}  score {t['score']:9.3f}  "
                       f"component {t['component']}  {t['explanation']}")
