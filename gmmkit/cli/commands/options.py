"""Typer option declarations shared by the generic commands."""
from pathlib import Path
from typing import Annotated, Optional

import typer

DataArg = Annotated[Path, typer.Argument(
    help="Table to read: .csv, .tsv, .txt (also .gz), .parquet or .npy. A CSV header row is "
         "detected.", show_default=False)]
ModelArg = Annotated[Path, typer.Argument(help="Model file written by 'gmmkit fit'.",
                                          show_default=False)]
ColumnsOpt = Annotated[Optional[str], typer.Option(
    "--columns", help="Columns to use: comma-separated names or 0-based positions "
                      "(default: every numeric column).", show_default=False)]
ForceOpt = Annotated[bool, typer.Option("--force", "-f", help="Overwrite existing output files.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON summary on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no notes.")]
SeedOpt = Annotated[Optional[int], typer.Option(
    "--seed", min=0, max=2**32 - 1, help="Random seed, for reproducible results (default: random).",
    show_default=False)]
CovOpt = Annotated[str, typer.Option(
    "--covariance", "-c", help="Covariance type: full, diag, tied, spherical or one of mclust's 14 "
                               "(EII ... VVV); chosen by the criterion among a comma list, 'all' "
                               "(mclust's 14) or 'sklearn' (the four).")]
NInitOpt = Annotated[int, typer.Option("--n-init", min=1, help="EM restarts; the best is kept.")]
InitOpt = Annotated[str, typer.Option(
    "--init", help="Initialisation: kmeans, k-means++, random, random_from_data, or hc (mclust's "
                   "model-based hierarchical clustering; with select, one tree for every K and model, "
                   "as Mclust()).")]
MaxIterOpt = Annotated[int, typer.Option("--max-iter", min=1, help="Maximum EM iterations per restart.")]
TolOpt = Annotated[float, typer.Option("--tol", min=0.0, help="Stop when the mean log-likelihood gains less.")]
RegOpt = Annotated[float, typer.Option("--reg-covar", min=0.0, help="Added to covariance diagonals.")]
HeaderOpt = Annotated[Optional[bool], typer.Option(
    "--header/--no-header", help="Whether a CSV file's first row is a header (default: detected).",
    show_default=False)]
WeightsOpt = Annotated[Optional[str], typer.Option(
    "--weights", help="Column of non-negative frequency weights, one per row (not used as a "
                      "feature).", show_default=False)]
CriterionOpt = Annotated[str, typer.Option(
    "--criterion", help="Model selection criterion: bic, aic or icl (lower is better).")]
OutTableOpt = Annotated[Optional[Path], typer.Option(
    "--out", "-o", help="Output table (.csv, .parquet, .npy); default: CSV on stdout.",
    show_default=False)]
NBootOpt = Annotated[int, typer.Option(
    "--n-boot", min=1, help="Bootstrap replicates (mclust's default: 999).")]


def covariance_types(text):
    """``--covariance``: :func:`gmmkit.cli.kit.parse_covariance` ('all' and 'mclust': mclust's
    14 models, 'sklearn': the four, or a comma list of types)."""
    from ..kit import parse_covariance

    return parse_covariance(text)
