"""Regenerate ``mclust_models.json``: mclust's EM for its 14 covariance models, the oracle
of ``tests/core/test_mclust_models.py`` (the tests do not need R).

Run from the repository root (needs R with mclust 6):

    apt-get install -y --no-install-recommends r-base-core r-cran-mclust
    python tests/data/make_mclust_models.py

It first writes the data sets it needs that are not shipped yet to ``datasets/tables/``
(faithful from R's datasets; diabetes, banknote, thyroid from mclust), then R reads
every table back from there (iris from the shipped ``iris.csv``), so that R and the tests
see the same numbers. For each data set the initial responsibilities z are mclust's
own: the 3-group partition of its model-based hierarchical clustering,
``unmap(hclass(hc(X), 3))`` (stored as labels). For each model and each iteration count
m in ITERS, R runs

    me(X, modelName, z, control = emControl(itmax = c(m, .Machine$integer.max), tol = c(0, sqrt(eps))))

(m M-steps and E-steps; mclust's default inner tolerance), and stores the log-likelihood
after m iterations and, for the last m, the fitted weights, means and covariances. The
same with a noise component (``Vinv`` = 1 / volume of the bounding box; the 5% of rows
farthest from the mean in Mahalanobis distance start as noise) and with the default
conjugate prior (``prior = priorControl()``, for the models mclust has it for).
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TABLES = os.path.join(ROOT, "datasets", "tables")
MODELS = ["EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV"]
PRIOR_MODELS = ["EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "EEV", "VEV", "VVV"]
ITERS = [1, 2, 3, 5, 10, 20]
DATASETS = {  # name: (file, R expression writing it or None if shipped, numeric columns)
    "iris": ("iris.csv", None, ["sepal_length", "sepal_width", "petal_length", "petal_width"]),
    "faithful": ("faithful.csv", "faithful", ["eruptions", "waiting"]),
    "diabetes": ("diabetes.csv", "mclust::diabetes", ["glucose", "insulin", "sspg"]),
    "banknote": ("banknote.csv", "mclust::banknote", ["Length", "Left", "Right", "Bottom", "Top", "Diagonal"]),
    "thyroid": ("thyroid.csv", "mclust::thyroid", ["RT3U", "T4", "T3", "TSH", "DTSH"]),
}

R_SCRIPT = r"""
suppressMessages(library(mclust))
args <- commandArgs(trailingOnly = TRUE)
f <- function(v) paste(format(as.vector(v), digits = 17), collapse = " ")
cat("version", as.character(packageVersion("mclust")), "\n")
models <- strsplit(args[2], ",")[[1]]
prior_models <- strsplit(args[3], ",")[[1]]
iters <- as.integer(strsplit(args[4], ",")[[1]])
ctrl <- function(m) emControl(itmax = c(m, .Machine$integer.max), tol = c(0, sqrt(.Machine$double.eps)))
run <- function(X, m, z, it, ...) {
  fit <- suppressWarnings(tryCatch(me(X, m, z, control = ctrl(it), ...), error = function(e) NULL))
  fit
}
for (spec in strsplit(args[5:length(args)], ":")) {
  name <- spec[1]
  X <- as.matrix(read.csv(spec[2])[, strsplit(spec[3], ",")[[1]]])
  cl <- hclass(hc(X), 3)
  z <- unmap(cl)
  cat("labels", name, f(cl), "\n")
  d2 <- mahalanobis(X, colMeans(X), cov(X))
  noise <- as.numeric(d2 > quantile(d2, 0.95))
  Vinv <- 1 / prod(apply(X, 2, function(c) diff(range(c))))
  zn <- cbind(z * (1 - noise), noise)
  cat("noise", name, f(which(noise == 1)), "\n")
  cat("vinv", name, f(Vinv), "\n")
  cat("nparams", name, f(sapply(models, function(m) nMclustParams(m, ncol(X), 3))), "\n")
  for (m in models) {
    for (kind in c("ml", "noise", "prior")) {
      if (kind == "prior" && !(m %in% prior_models)) next
      for (it in iters) {
        fit <- switch(kind, ml = run(X, m, z, it), noise = run(X, m, zn, it, Vinv = Vinv),
                      prior = run(X, m, z, it, prior = priorControl()))
        ll <- if (is.null(fit) || is.null(fit$loglik)) NA else fit$loglik
        cat("ll", name, kind, m, it, f(ll), "\n")
      }
      if (!is.null(fit) && !is.na(ll)) {
        p <- fit$parameters
        cat("pro", name, kind, m, f(p$pro), "\n")
        cat("mean", name, kind, m, f(p$mean), "\n")
        cat("sigma", name, kind, m, f(p$variance$sigma), "\n")
      }
    }
  }
}
"""


def write_tables():
    """The data sets not shipped yet, written by R to datasets/tables/ (numeric columns and the class)."""
    for file, expr, _ in DATASETS.values():
        path = os.path.join(TABLES, file)
        if expr is None or os.path.exists(path):
            continue
        code = f"suppressMessages(library(mclust)); write.csv({expr}, '{path}', row.names = FALSE, quote = FALSE)"
        subprocess.run(["Rscript", "-e", code], check=True)


def _floats(words):
    return [float("nan") if w == "NA" else float(w) for w in words]


def main():
    write_tables()
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "oracle.R")
        with open(script, "w") as fh:
            fh.write(R_SCRIPT)
        specs = [f"{name}:{os.path.join(TABLES, file)}:{','.join(cols)}" for name, (file, _, cols) in DATASETS.items()]
        out = subprocess.run(["Rscript", script, "-", ",".join(MODELS), ",".join(PRIOR_MODELS),
                              ",".join(map(str, ITERS)), *specs], check=True, capture_output=True, text=True).stdout
    r_version = subprocess.run(["Rscript", "--version"], capture_output=True, text=True)
    result = {"generator": "tests/data/make_mclust_models.py", "mclust_version": None,
              "R": (r_version.stdout or r_version.stderr).strip(),
              "command": "me(X, modelName, z, control = emControl(itmax = c(m, .Machine$integer.max), "
                         "tol = c(0, sqrt(.Machine$double.eps))) [, Vinv = Vinv | prior = priorControl()])",
              "iters": ITERS, "models": MODELS, "prior_models": PRIOR_MODELS, "groups": 3,
              "datasets": {name: {"file": f"datasets/tables/{file}", "columns": cols, "runs": {}}
                           for name, (file, _, cols) in DATASETS.items()}}
    for line in out.splitlines():
        words = line.split()
        if not words:
            continue
        tag = words[0]
        if tag == "version":
            result["mclust_version"] = words[1]
            continue
        ds = result["datasets"][words[1]]
        if tag == "labels":
            ds["labels"] = [int(v) - 1 for v in _floats(words[2:])]
        elif tag == "noise":
            ds["noise_rows"] = [int(v) - 1 for v in _floats(words[2:])]
        elif tag == "vinv":
            ds["vinv"] = float(words[2])
        elif tag == "nparams":
            ds["n_parameters"] = dict(zip(MODELS, [int(v) for v in _floats(words[2:])]))
        else:
            kind, model = words[2], words[3]
            run = ds["runs"].setdefault(kind, {}).setdefault(model, {"loglik": {}})
            if tag == "ll":
                value = _floats(words[5:])[0]
                run["loglik"][words[4]] = None if np.isnan(value) else value
            else:
                run[tag] = _floats(words[4:])
    with open(os.path.join(HERE, "mclust_models.json"), "w") as fh:
        json.dump(result, fh, separators=(",", ":"))
    print(f"wrote {os.path.join(HERE, 'mclust_models.json')} (mclust {result['mclust_version']})", file=sys.stderr)


if __name__ == "__main__":
    main()
