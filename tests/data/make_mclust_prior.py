"""Regenerate ``mclust_prior.json``: mclust's one M-step under its default conjugate prior.

Run from the repository root (needs R with mclust; the tests do not):

    apt-get install -y --no-install-recommends r-base-core r-cran-mclust
    python tests/data/make_mclust_prior.py

The data X and a starting mixture (weights, means, covariances) are drawn here with a
fixed seed. For each covariance type the start is put in that type's layout (tied: the
average matrix, diag: the diagonals, spherical: their means), the responsibilities z of
that start are computed with scipy, and R runs
``mstep(modelName, data = X, z = z, prior = priorControl())`` with VVV, EEE, VVI or VII
(gmmkit's full, tied, diag and spherical). A gmmkit fit with ``prior="conjugate"``,
``reg_covar=0``, ``max_iter=1`` from the same start makes exactly that M-step.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII"}

R_SCRIPT = r"""
suppressMessages(library(mclust))
args <- commandArgs(trailingOnly = TRUE)
X <- as.matrix(read.csv(args[1], header = FALSE))
cat("version", as.character(packageVersion("mclust")), "\n")
models <- c("VVV", "EEE", "VVI", "VII")
for (i in 1:4) {
  m <- models[i]
  z <- as.matrix(read.csv(args[i + 1], header = FALSE))
  ms <- mstep(modelName = m, data = X, z = z, prior = priorControl())
  cat(m, "mean", format(as.vector(ms$parameters$mean), digits = 17), "\n")
  cat(m, "sigma", format(as.vector(ms$parameters$variance$sigma), digits = 17), "\n")
  cat(m, "pro", format(as.vector(ms$parameters$pro), digits = 17), "\n")
}
"""


def make_case(seed, n, d, k):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=2.0, size=(k, d))
    X = np.vstack([c + rng.normal(size=(n // k, d)) @ (np.eye(d) + 0.3 * rng.normal(size=(d, d)))
                   for c in centers])
    weights = rng.dirichlet(np.full(k, 5.0))
    means = centers + rng.normal(scale=0.5, size=(k, d))
    covs = []
    for _ in range(k):
        A = rng.normal(size=(d, d)) * 0.4 + np.eye(d)
        covs.append(A @ A.T)
    return X, weights, means, np.array(covs)


def layout(cov_type, covs):
    """Full starting covariances (K, D, D) in the layout of ``cov_type``."""
    if cov_type == "full":
        return covs
    if cov_type == "tied":
        return covs.mean(axis=0)
    var = np.diagonal(covs, axis1=1, axis2=2)
    return var if cov_type == "diag" else var.mean(axis=1)


def as_full(cov_type, c, k, d):
    if cov_type == "full":
        return c
    if cov_type == "tied":
        return np.repeat(c[None], k, axis=0)
    if cov_type == "diag":
        return np.stack([np.diag(v) for v in c])
    return np.stack([np.eye(d) * v for v in c])


def responsibilities(X, weights, means, covs):
    lp = np.column_stack([np.log(w) + multivariate_normal(m, c).logpdf(X)
                          for w, m, c in zip(weights, means, covs)])
    return np.exp(lp - logsumexp(lp, axis=1)[:, None])


def run_mclust(X, zs):
    with tempfile.TemporaryDirectory() as tmp:
        names = ["X.csv"] + [f"z{i}.csv" for i in range(4)] + ["mstep.R"]
        paths = [os.path.join(tmp, n) for n in names]
        for path, a in zip(paths, [X] + zs):
            np.savetxt(path, a, delimiter=",", fmt="%.17g")
        with open(paths[-1], "w") as fh:
            fh.write(R_SCRIPT)
        out = subprocess.run(["Rscript", paths[-1]] + paths[:-1], check=True,
                             capture_output=True, text=True).stdout
    res, version = {}, None
    for line in out.splitlines():
        parts = line.split()
        if parts[0] == "version":
            version = parts[1]
            continue
        res.setdefault(parts[0], {})[parts[1]] = [float(v) for v in parts[2:]]
    return version, res


def _r_version():
    p = subprocess.run(["Rscript", "--version"], capture_output=True, text=True)
    return (p.stdout + p.stderr).strip().splitlines()[0]


def main():
    cases = []
    version = None
    for seed, n, d, k in [(11, 60, 3, 3), (12, 45, 2, 2)]:
        X, weights, means, covs = make_case(seed, n, d, k)
        zs = [responsibilities(X, weights, means, as_full(t, layout(t, covs), k, d)) for t in MODELS]
        version, res = run_mclust(X, zs)
        out = {"X": X.tolist(), "weights": weights.tolist(), "means": means.tolist(), "mstep": {}}
        for (cov_type, model), z in zip(MODELS.items(), zs):
            r = res[model]
            # R stores column-major: mean is (d, G), sigma (d, d, G)
            mean = np.array(r["mean"]).reshape((d, k), order="F").T
            sigma = np.array(r["sigma"]).reshape((d, d, k), order="F").transpose(2, 0, 1)
            out["mstep"][cov_type] = {"model": model, "start_covariances": layout(cov_type, covs).tolist(),
                                      "z": z.tolist(), "means": mean.tolist(),
                                      "sigma": sigma.tolist(), "pro": r["pro"]}
        cases.append(out)
    doc = {"generator": "tests/data/make_mclust_prior.py",
           "command": "mstep(modelName, data = X, z = z, prior = priorControl())",
           "mclust_version": version,
           "R": _r_version(),
           "cases": cases}
    with open(os.path.join(HERE, "mclust_prior.json"), "w") as fh:
        json.dump(doc, fh, indent=None, separators=(",", ":"))
        fh.write("\n")
    print("wrote mclust_prior.json with mclust", version, file=sys.stderr)


if __name__ == "__main__":
    main()
