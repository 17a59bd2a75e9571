"""Regenerate ``mclust_hc.json``: mclust's model-based hierarchical clustering, the oracle of
``tests/core/test_hc.py`` (the tests do not need R).

Run from the repository root (needs R with mclust 6):

    apt-get install -y --no-install-recommends r-base-core r-cran-mclust
    python tests/data/make_mclust_hc.py

For each data set (read from ``datasets/tables/``, the same numbers the tests read) and
hierarchical model, R runs (``use`` is mclust 6's default ``mclust.options("hcUse")``,
"SVD"; VVV is ``mclust.options("hcModelName")``, the start of ``Mclust``)

    tree <- hc(X, modelName = model, use = "SVD")
    cl <- hclass(tree, 2:5)

and the file stores the merge pairs (``t(tree)``, mclust's 1-based group labels; the
first ones, where the tree is made of distinct rows, decide everything), the
partitions for G = 2..5 and the transformed data (``attr(tree, "data")``, 17 digits: the
rows the tree was made from, so that a test can tell the tree from the transform), with
the mclust version and the command.
"""
import json
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TABLES = os.path.join(ROOT, "datasets", "tables")
COMMAND = 'tree <- hc(X, modelName = model, use = "SVD"); hclass(tree, 2:5)'
DATASETS = {
    "iris": ("iris.csv", ["sepal_length", "sepal_width", "petal_length", "petal_width"], ["VVV", "EII", "VII"]),
    "faithful": ("faithful.csv", ["eruptions", "waiting"], ["VVV", "EII", "VII"]),
    "diabetes": ("diabetes.csv", ["glucose", "insulin", "sspg"], ["VVV", "EII", "VII"]),
    "banknote": ("banknote.csv", ["Length", "Left", "Right", "Bottom", "Top", "Diagonal"], ["VVV", "EII", "VII"]),
    "faithful_waiting": ("faithful.csv", ["waiting"], ["V", "E"]),
}

R_SCRIPT = r"""
suppressMessages(library(mclust))
args <- commandArgs(trailingOnly = TRUE)
X <- as.matrix(read.csv(args[1])[, strsplit(args[2], ",")[[1]], drop = FALSE])
cat("version", as.character(packageVersion("mclust")), "\n")
Z <- attr(hc(X, modelName = strsplit(args[3], ",")[[1]][1], use = "SVD"), "data")
for (i in seq_len(nrow(Z))) cat("z", sprintf("%.17g", Z[i, ]), "\n")
for (model in strsplit(args[3], ",")[[1]]) {
  tree <- hc(X, modelName = model, use = "SVD")
  cl <- hclass(tree, 2:5)
  P <- t(tree)
  for (s in seq_len(nrow(P))) cat("pair", model, P[s, 1], P[s, 2], "\n")
  for (g in colnames(cl)) cat("part", model, g, cl[, g], "\n")
}
"""


def r_records(*args):
    """The fields of every line R_SCRIPT prints when run with ``args``."""
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "hc.R")
        with open(script, "w") as fh:
            fh.write(R_SCRIPT)
        out = subprocess.run(["Rscript", script, *args], check=True, capture_output=True, text=True).stdout
    return [line.split() for line in out.splitlines() if line.strip()]


def run(path, cols, models):
    doc = {"columns": cols, "transformed": [], "models": {m: {"pairs": [], "partitions": {}} for m in models}}
    for kind, *f in r_records(path, ",".join(cols), ",".join(models)):
        if kind == "version":
            doc["version"] = f[0]
        elif kind == "z":
            doc["transformed"].append([float(v) for v in f])
        elif kind == "pair":
            doc["models"][f[0]]["pairs"].append([int(f[1]), int(f[2])])
        elif kind == "part":
            doc["models"][f[0]]["partitions"][f[1]] = [int(v) for v in f[2:]]
    return doc


def main():
    out = {"command": COMMAND, "script": "tests/data/make_mclust_hc.py", "datasets": {}}
    for name, (file, cols, models) in DATASETS.items():
        doc = run(os.path.join(TABLES, file), cols, models)
        out["mclust_version"] = doc.pop("version")
        doc["file"] = f"datasets/tables/{file}"
        out["datasets"][name] = doc
        print(name, {m: len(d["pairs"]) for m, d in doc["models"].items()})
    with open(os.path.join(HERE, "mclust_hc.json"), "w") as fh:
        json.dump(out, fh, separators=(",", ":"))
        fh.write("\n")


if __name__ == "__main__":
    main()
