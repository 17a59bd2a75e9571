"""Regenerate ``mclust_da.json``: mclust's discriminant analysis (``MclustDA``, EDDA and
MclustDA models) and its 10-fold cross-validation (``cvMclustDA``), the oracle of
``tests/core/test_classifier.py`` (the tests do not need R).

Run from the repository root (needs R with mclust 6):

    apt-get install -y --no-install-recommends r-base-core r-cran-mclust
    python tests/data/make_mclust_da.py

For each data set (read from ``datasets/tables/``, the same numbers the tests read), R runs

    edda <- MclustDA(X, class, modelType = "EDDA")     # one Gaussian per class, one model
    da   <- MclustDA(X, class)                         # G = 1:5, 14 models, per class
    set.seed(1); folds <- balancedFolds(class, 10)     # what cvMclustDA draws first
    set.seed(1); cvMclustDA(edda, nfold = 10)          # the same folds
    set.seed(1); cvMclustDA(da, nfold = 10)

and the file stores EDDA's BIC of every model, its pick, the class means and covariances,
the training posteriors, the folds (one fold number per row, from 0), the cross-validated
classifications, errors and their standard errors; for MclustDA each class's K, model
and BIC; with the mclust version and the commands. wdbc is mclust's ``data(wdbc)``
(its diagnosis and the three features used, written to ``datasets/tables/wdbc.csv`` by this
script if absent).
"""
import json
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TABLES = os.path.join(ROOT, "datasets", "tables")
COMMAND = ('MclustDA(X, class, modelType = "EDDA"); MclustDA(X, class); '
           "set.seed(1); cvMclustDA(model, nfold = 10)")
DATASETS = {
    "iris": ("iris.csv", "species", ["sepal_length", "sepal_width", "petal_length", "petal_width"]),
    "banknote": ("banknote.csv", "Status", ["Length", "Left", "Right", "Bottom", "Top", "Diagonal"]),
    # the three features of mclust's wdbc examples (Scrucca et al. 2016)
    "wdbc": ("wdbc.csv", "Diagnosis", ["Texture_mean", "Area_extreme", "Smoothness_extreme"]),
}

R_WDBC = r"""
suppressMessages(library(mclust))
data(wdbc, package = "mclust")
cols <- c("Diagnosis", "Texture_mean", "Area_extreme", "Smoothness_extreme")
write.csv(wdbc[, cols], commandArgs(trailingOnly = TRUE)[1], row.names = FALSE, quote = FALSE)
"""

R_SCRIPT = r"""
suppressMessages(library(mclust))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
X <- as.matrix(d[, strsplit(args[2], ",")[[1]]])
cl <- as.factor(d[[args[3]]])
num <- function(x) paste(format(as.vector(x), digits = 17), collapse = " ")
cat("version", as.character(packageVersion("mclust")), "\n")
cat("classes", levels(cl), "\n")
edda <- MclustDA(X, cl, modelType = "EDDA", verbose = FALSE)
B <- edda$models[[1]]$BIC
for (m in names(B)) cat("edda_bic", m, format(B[m], digits = 17), "\n")
cat("edda_model", edda$models[[1]]$modelName, "\n")
for (l in seq_along(levels(cl))) {
  p <- edda$models[[l]]$parameters
  cat("edda_mean", num(p$mean), "\n")
  cat("edda_sigma", num(p$variance$sigma), "\n")
}
cat("edda_z", num(predict(edda)$z), "\n")
set.seed(1); folds <- mclust:::balancedFolds(cl, nfolds = 10)
f <- integer(length(cl)); for (i in seq_along(folds)) f[folds[[i]]] <- i - 1L
cat("folds", f, "\n")
set.seed(1); cv <- cvMclustDA(edda, nfold = 10, verbose = FALSE)
cat("edda_cv", format(cv$ce, digits = 17), format(cv$se.ce, digits = 17), "\n")
cat("edda_cv_class", as.integer(cv$classification) - 1L, "\n")
da <- MclustDA(X, cl, verbose = FALSE)
for (l in levels(cl)) {
  m <- da$models[[l]]
  cat("da_class", m$G, m$modelName, format(max(m$BIC, na.rm = TRUE), digits = 17), "\n")
}
set.seed(1); cv <- cvMclustDA(da, nfold = 10, verbose = FALSE)
cat("da_cv", format(cv$ce, digits = 17), format(cv$se.ce, digits = 17), "\n")
cat("da_cv_class", as.integer(cv$classification) - 1L, "\n")
"""


def rscript(text, *args):
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(text)
    try:
        return subprocess.run(["Rscript", fh.name, *args], check=True, capture_output=True,
                              text=True).stdout
    finally:
        os.unlink(fh.name)


def floats(fields):
    return [float(v) for v in fields]


def run(path, label, cols):
    out = rscript(R_SCRIPT, path, ",".join(cols), label)
    doc = {"columns": cols, "label": label, "edda": {"bic": {}, "means": [], "covariances": []},
           "mclustda": {"classes": []}}
    edda, da = doc["edda"], doc["mclustda"]
    for line in out.splitlines():
        key, *f = line.split()
        if key == "version":
            doc["version"] = f[0]
        elif key == "classes":
            doc["classes"] = f
        elif key == "edda_bic":
            edda["bic"][f[0]] = None if f[1] == "NA" else float(f[1])
        elif key == "edda_model":
            edda["model"] = f[0]
        elif key == "edda_mean":
            edda["means"].append(floats(f))
        elif key == "edda_sigma":  # column-major D x D: symmetric, so as read
            D = len(cols)
            v = floats(f)
            edda["covariances"].append([v[i * D:(i + 1) * D] for i in range(D)])
        elif key == "edda_z":  # column-major n x C
            v, C = floats(f), len(doc["classes"])
            n = len(v) // C
            edda["posteriors"] = [[v[c * n + i] for c in range(C)] for i in range(n)]
        elif key == "folds":
            doc["folds"] = [int(v) for v in f]
        elif key in ("edda_cv", "da_cv"):
            (edda if key == "edda_cv" else da).update(cv_error=float(f[0]), cv_se=float(f[1]))
        elif key in ("edda_cv_class", "da_cv_class"):
            (edda if key == "edda_cv_class" else da)["cv_classification"] = [int(v) for v in f]
        elif key == "da_class":
            da["classes"].append({"n_components": int(f[0]), "model": f[1], "bic": float(f[2])})
    return doc


def main():
    wdbc = os.path.join(TABLES, "wdbc.csv")
    if not os.path.exists(wdbc):
        rscript(R_WDBC, wdbc)
    out = {"command": COMMAND, "script": "tests/data/make_mclust_da.py", "datasets": {}}
    for name, (file, label, cols) in DATASETS.items():
        doc = run(os.path.join(TABLES, file), label, cols)
        out["mclust_version"] = doc.pop("version")
        doc["file"] = f"datasets/tables/{file}"
        out["datasets"][name] = doc
        print(name, doc["edda"]["model"], doc["edda"]["cv_error"],
              [(c["n_components"], c["model"]) for c in doc["mclustda"]["classes"]], doc["mclustda"]["cv_error"])
    with open(os.path.join(HERE, "mclust_da.json"), "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
