"""Regenerate ``mclust_uncertainty.json``: mclust's bootstrap standard errors
(``MclustBootstrap``), bootstrap likelihood-ratio tests (``mclustBootstrapLRT``) and entropy
merging of components (``clustCombi``, ``clustCombiOptim``), the oracle of
``tests/core/test_bootstrap.py`` and ``tests/core/test_merge.py`` (the tests do not need R).

Run from the repository root (needs R with mclust 6):

    apt-get install -y --no-install-recommends r-base-core r-cran-mclust
    python tests/data/make_mclust_uncertainty.py

For each data set of ``CASES`` (read from ``datasets/tables/``) R runs, with ``set.seed(1)``:

    fit <- Mclust(X, G = G, modelNames = model)
    summary(MclustBootstrap(fit, nboot = 999, type = "bs"), what = "se")     # and "wlbs"
    mclustBootstrapLRT(X, modelName = model, nboot = 999, maxG = maxG)
    clustCombi(fit); clustCombiOptim(combi)

and the file stores the fit (weights, means, covariances, log-likelihood, posteriors), the
bootstrap standard errors and the averages of both kinds, the LRT's observed statistics,
the mean and standard deviation of its bootstrap statistics and its p-values, the merge
sequence (pairs, from 1 as in R), the entropy at every number of clusters and
clustCombiOptim's pick; with the mclust version and the commands.
"""
import json
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TABLES = os.path.join(ROOT, "datasets", "tables")
NBOOT = int(os.environ.get("NBOOT", 999))
COMMAND = (f"set.seed(1); fit <- Mclust(X, G = G, modelNames = model); "
           f"summary(MclustBootstrap(fit, nboot = {NBOOT}, type = 'bs' or 'wlbs'), what = 'se'); "
           f"mclustBootstrapLRT(X, modelName = model, nboot = {NBOOT}, maxG = maxG); "
           "clustCombiOptim(clustCombi(fit))")
# name: (file, columns, G, model, maxG of the LRT)
CASES = {
    "faithful": ("faithful.csv", ["eruptions", "waiting"], 3, "EEE", 3),
    "iris": ("iris.csv", ["sepal_length", "sepal_width", "petal_length", "petal_width"], 4, "VEV", 2),
}

R_SCRIPT = r"""
suppressMessages(library(mclust))
args <- commandArgs(trailingOnly = TRUE)
X <- as.matrix(read.csv(args[1])[, strsplit(args[2], ",")[[1]]])
G <- as.integer(args[3]); model <- args[4]; maxG <- as.integer(args[5]); nboot <- as.integer(args[6])
num <- function(x) paste(format(as.vector(x), digits = 17), collapse = " ")
cat("version", as.character(packageVersion("mclust")), "\n")
set.seed(1)
fit <- Mclust(X, G = G, modelNames = model, verbose = FALSE)
p <- fit$parameters
cat("fit", fit$modelName, fit$G, format(fit$loglik, digits = 17), "\n")
cat("weights", num(p$pro), "\n")
cat("means", num(p$mean), "\n")
cat("covariances", num(p$variance$sigma), "\n")
cat("z", num(fit$z), "\n")
for (type in c("bs", "wlbs")) {
  b <- MclustBootstrap(fit, nboot = nboot, type = type, verbose = FALSE)
  se <- summary(b, what = "se"); ave <- summary(b, what = "ave")
  cat(type, "nonfit", b$nonfit, "\n")
  cat(type, "se_weights", num(se$pro), "\n")
  cat(type, "se_means", num(se$mean), "\n")
  cat(type, "se_covariances", num(se$variance), "\n")
  cat(type, "ave_weights", num(ave$pro), "\n")
  cat(type, "ave_means", num(ave$mean), "\n")
}
lrt <- mclustBootstrapLRT(X, modelName = model, nboot = nboot, maxG = maxG, verbose = FALSE)
cat("lrt_obs", num(lrt$obs), "\n")
cat("lrt_p", num(lrt$p.value), "\n")
cat("lrt_boot_mean", num(colMeans(lrt$boot)), "\n")
cat("lrt_boot_sd", num(apply(lrt$boot, 2, sd)), "\n")
cat("lrt_boot_q95", num(apply(lrt$boot, 2, quantile, probs = 0.95)), "\n")
BIC <- mclustBIC(X, G = 1:(maxG + 1), modelNames = model, verbose = FALSE)
for (g in 1:(maxG + 1)) {
  cat("lrt_loglik", g, format(summary(BIC, X, G = g, modelNames = model)$loglik, digits = 17), "\n")
}
cc <- clustCombi(fit)
for (K in G:2) {
  M <- cc$combiM[[K - 1]]
  cat("merge", K, num(which(rowSums(M) == 2)), num(which(M[which(rowSums(M) == 2), ] == 1)), "\n")
  cat("entropy", K, format(-sum(mclust:::xlog(cc$combiz[[K]])), digits = 17), "\n")
}
cat("entropy", 1, format(-sum(mclust:::xlog(cc$combiz[[1]])), digits = 17), "\n")
cat("optim", clustCombiOptim(cc)$numClusters.combi, "\n")
for (K in 1:G) cat("classification", K, as.integer(cc$classification[[K]]), "\n")
"""


def run(path, cols, G, model, max_g):
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(R_SCRIPT)
    try:
        out = subprocess.run(["Rscript", fh.name, path, ",".join(cols), str(G), model, str(max_g), str(NBOOT)],
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(fh.name)
    D = len(cols)
    doc = {"columns": cols, "model": model, "n_components": G, "lrt_max_components": max_g,
           "bootstrap": {"bs": {}, "wlbs": {}}, "lrt": {"loglik": {}}, "merge": {"pairs": {}, "entropy": {},
                                                                                 "classification": {}}}
    for line in out.splitlines():
        key, *f = line.split()
        v = [float(x) for x in f] if key not in ("version", "fit", "bs", "wlbs") else None
        if key == "version":
            doc["version"] = f[0]
        elif key == "fit":
            doc["loglik"] = float(f[2])
        elif key == "weights":
            doc["weights"] = v
        elif key == "means":  # column-major D x G
            doc["means"] = [v[k * D:(k + 1) * D] for k in range(G)]
        elif key == "covariances":  # D x D x G
            doc["covariances"] = [[v[k * D * D + i * D:k * D * D + (i + 1) * D] for i in range(D)]
                                  for k in range(G)]
        elif key == "z":
            n = len(v) // G
            doc["posteriors"] = [[v[k * n + i] for k in range(G)] for i in range(n)]
        elif key in ("bs", "wlbs"):
            vals = [float(x) for x in f[1:]]
            if f[0] in ("se_means", "ave_means"):
                vals = [vals[k * D:(k + 1) * D] for k in range(G)]
            elif f[0] == "se_covariances":
                vals = [[vals[k * D * D + i * D:k * D * D + (i + 1) * D] for i in range(D)] for k in range(G)]
            doc["bootstrap"][key][f[0]] = vals[0] if f[0] == "nonfit" else vals
        elif key.startswith("lrt_") and key != "lrt_loglik":
            doc["lrt"][key[4:]] = v
        elif key == "lrt_loglik":
            doc["lrt"]["loglik"][str(int(v[0]))] = v[1]
        elif key == "merge":  # at K clusters: the pair merged to make K - 1 (1-based, as R)
            doc["merge"]["pairs"][str(int(v[0]))] = [int(v[1]), int(v[2:][-1])]
        elif key == "entropy":
            doc["merge"]["entropy"][str(int(v[0]))] = v[1]
        elif key == "optim":
            doc["merge"]["optim"] = int(v[0])
        elif key == "classification":
            doc["merge"]["classification"][str(int(v[0]))] = [int(x) for x in v[1:]]
    return doc


def main():
    out = {"command": COMMAND, "nboot": NBOOT, "seed": 1, "script": "tests/data/make_mclust_uncertainty.py",
           "datasets": {}}
    for name, (file, cols, G, model, max_g) in CASES.items():
        doc = run(os.path.join(TABLES, file), cols, G, model, max_g)
        out["mclust_version"] = doc.pop("version")
        doc["file"] = f"datasets/tables/{file}"
        out["datasets"][name] = doc
        print(name, doc["lrt"], doc["merge"]["pairs"], doc["merge"]["optim"])
    with open(os.path.join(HERE, "mclust_uncertainty.json"), "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
