"""Regenerate ``mclust_select.json``: mclust's ``Mclust(X, G = 1:9)`` BIC tables, the oracle
of ``tests/core/test_select_mclust.py`` (the tests do not need R).

Run from the repository root (needs R with mclust 6):

    apt-get install -y --no-install-recommends r-base-core r-cran-mclust
    python tests/data/make_mclust_select.py

For each data set (read from ``datasets/tables/``, the same numbers the tests read), R runs

    fit <- Mclust(X, G = 1:9)

(mclust's defaults: all 14 models, hierarchical-clustering start, no prior) and the file
stores ``fit$BIC`` as ``bic_table`` (model -> BIC for K = 1..9; mclust's sign: 2 log L -
p log n, higher is better; null where mclust could not fit the model), the pick
(``fit$modelName``, ``fit$G``), its BIC and its log-likelihood, with the mclust version
and the command.
"""
import json
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TABLES = os.path.join(ROOT, "datasets", "tables")
COMMAND = "Mclust(X, G = 1:9)"
DATASETS = {
    "iris": ("iris.csv", ["sepal_length", "sepal_width", "petal_length", "petal_width"]),
    "faithful": ("faithful.csv", ["eruptions", "waiting"]),
    "diabetes": ("diabetes.csv", ["glucose", "insulin", "sspg"]),
    "banknote": ("banknote.csv", ["Length", "Left", "Right", "Bottom", "Top", "Diagonal"]),
}

R_SCRIPT = r"""
suppressMessages(library(mclust))
args <- commandArgs(trailingOnly = TRUE)
X <- as.matrix(read.csv(args[1])[, strsplit(args[2], ",")[[1]]])
fit <- Mclust(X, G = 1:9, verbose = FALSE)
cat("version", as.character(packageVersion("mclust")), "\n")
cat("pick", fit$modelName, fit$G, format(fit$bic, digits = 17), format(fit$loglik, digits = 17), "\n")
B <- fit$BIC
for (m in colnames(B)) for (g in rownames(B)) cat("bic", m, g, format(B[g, m], digits = 17), "\n")
"""


def run(path, cols):
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(R_SCRIPT)
    try:
        out = subprocess.run(["Rscript", fh.name, path, ",".join(cols)], check=True,
                             capture_output=True, text=True).stdout
    finally:
        os.unlink(fh.name)
    doc = {"columns": cols, "bic_table": {}}
    for line in out.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "version":
            doc["version"] = f[1]
        elif f[0] == "pick":
            doc.update(model=f[1], n_components=int(f[2]), bic=float(f[3]), loglik=float(f[4]))
        elif f[0] == "bic":
            doc["bic_table"].setdefault(f[1], []).append(None if f[3] == "NA" else float(f[3]))
    return doc


def main():
    out = {"command": COMMAND, "script": "tests/data/make_mclust_select.py", "datasets": {}}
    for name, (file, cols) in DATASETS.items():
        doc = run(os.path.join(TABLES, file), cols)
        out["mclust_version"] = doc.pop("version")
        doc["file"] = f"datasets/tables/{file}"
        out["datasets"][name] = doc
        print(name, doc["model"], doc["n_components"], doc["bic"])
    with open(os.path.join(HERE, "mclust_select.json"), "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
