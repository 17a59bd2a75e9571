"""Evidence for docs/selection.md: model selection, the noise component, short runs.

Part 1 -- ``gmmkit.select`` on real labelled data bundled with scikit-learn (iris,
wine, breast cancer, digits; no download). Features are standardised (zero mean,
unit variance per column; constant columns stay 0). For every data set the BIC
picks K and the covariance type among scikit-learn's four types
(``covariance_types="sklearn"``; mclust's 14 are in bench_select_mclust.py); we report the adjusted
Rand index (ARI) of the selected model's labels against the true classes, next to
the ARI of scikit-learn's GaussianMixture at its defaults with K = number of
classes, and of gmmkit at K = number of classes (full covariance, as sklearn's
default, and the BIC-chosen type). Digits (64 features, 10 classes) is searched
over K = 1..20 because its BIC has not turned up by K = 10; the same search with
``prior="conjugate"`` is an extra row.

Part 2 -- robust fitting on synthetic data with a known truth:
  a) three 2-D Gaussians plus 10 % uniform outliers over a box ~8x wider than the
     clusters: error of the recovered means (Hungarian matching to the true means)
     for plain EM and ``noise=True``, and how many outliers / inliers get label -1;
  b) a 5x5 grid of 25 unit-variance clusters 6 apart (2500 points), K=25: the mean
     log-likelihood (lower bound) reached from one start, from ``short_runs`` (10 or
     50 ten-iteration runs, the best continued) and from ``n_init=10`` full runs,
     against a reference fit started at the true cluster means.

Usage::

    python benchmarks/selection_table.py [--quick] [--no-plots]

Pictures (unless --no-plots): docs/img/selection_bic_<name>.png drawn by
``SelectionResult.plot`` and docs/img/selection_noise.png (matplotlib scatter).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
IMG = os.path.join(HERE, "..", "docs", "img")


def load_sets():
    from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine

    return [
        ("iris", load_iris, range(1, 11)),
        ("wine", load_wine, range(1, 11)),
        ("breast_cancer", load_breast_cancer, range(1, 11)),
        ("digits", load_digits, range(1, 21)),
    ]


def standardise(X):
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit_transform(np.asarray(X, dtype=np.float64))


def ari_row(name, X, y, ks, extra=None, plot=None):
    from sklearn.metrics import adjusted_rand_score
    from sklearn.mixture import GaussianMixture as SkGM

    import gmmkit

    extra = extra or {}
    n_classes = len(np.unique(y))
    t0 = time.perf_counter()
    res = gmmkit.select(X, n_components=ks, covariance_types="sklearn", criterion="bic",
                        n_init=3, random_state=0, **extra)
    seconds = time.perf_counter() - t0
    best = res.best_params_
    ari_sel = adjusted_rand_score(y, res.best_model_.predict(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = SkGM(n_components=n_classes, random_state=0).fit(X)
        ari_sk = adjusted_rand_score(y, sk.predict(X))
        gm_full = gmmkit.GaussianMixture(n_classes, random_state=0, **extra).fit(X)
        ari_full = adjusted_rand_score(y, gm_full.predict(X))
        gm_type = gmmkit.GaussianMixture(n_classes, covariance_type=best["covariance_type"],
                                         n_init=3, random_state=0, **extra).fit(X)
        ari_type = adjusted_rand_score(y, gm_type.predict(X))
    n_failed = int((res.table["error"] != "").sum())
    if plot:
        res.plot(path=plot)
    return {
        "data": name + (" + conjugate prior" if extra.get("prior") else ""),
        "shape": f"{X.shape[0]}x{X.shape[1]}", "classes": n_classes,
        "K range": f"{min(ks)}-{max(ks)}",
        "BIC pick": f"K={best['n_components']} {best['covariance_type']}",
        "ARI selected": ari_sel, "ARI sklearn K=classes": ari_sk,
        "ARI gmmkit full K=classes": ari_full,
        "ARI gmmkit BIC type K=classes": ari_type,
        "failed fits": n_failed, "select s": seconds,
    }, res


def markdown(rows, floats="{:.3f}"):
    cols = list(rows[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, float):
                cells.append(f"{v:.1f}" if c.endswith(" s") else floats.format(v))
            else:
                cells.append(str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def part1(quick, plots):
    rows, results = [], {}
    for name, loader, ks in load_sets():
        if quick and name in ("digits", "breast_cancer"):
            continue
        X, y = loader(return_X_y=True)
        X = standardise(X)
        plot = os.path.join(IMG, f"selection_bic_{name}.png") if plots and name in ("wine", "digits") else None
        row, res = ari_row(name, X, y, ks, plot=plot)
        rows.append(row)
        results[name] = res
        print(f"  {name}: {row['BIC pick']} in {row['select s']:.1f} s", flush=True)
        if name == "digits":
            plot = os.path.join(IMG, "selection_bic_digits_prior.png") if plots else None
            row, res = ari_row(name, X, y, ks, extra={"prior": "conjugate"}, plot=plot)
            rows.append(row)
            results[name + "+prior"] = res
            print(f"  {name} + prior: {row['BIC pick']} in {row['select s']:.1f} s", flush=True)
    return rows, results


# --------------------------------------------------------------------- part 2a
TRUE_MEANS = np.array([[0.0, 0.0], [6.0, 0.0], [3.0, 5.0]])
TRUE_COVS = np.array([[[1.0, 0.3], [0.3, 0.6]], [[0.5, 0.0], [0.0, 1.5]], [[1.2, -0.4], [-0.4, 0.8]]])
TRUE_WEIGHTS = np.array([0.3, 0.3, 0.4])
BOX = (-20.0, 26.0)  # outliers: uniform over this square; clusters span about 8 units


def noisy_sample(seed, n_in=900, frac_out=0.10):
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n_in, TRUE_WEIGHTS)
    parts = [rng.multivariate_normal(m, c, size=n) for m, c, n in zip(TRUE_MEANS, TRUE_COVS, counts)]
    n_out = int(round(n_in * frac_out / (1 - frac_out)))
    out = rng.uniform(BOX[0], BOX[1], size=(n_out, 2))
    X = np.vstack(parts + [out])
    is_out = np.r_[np.zeros(n_in, bool), np.ones(n_out, bool)]
    perm = rng.permutation(X.shape[0])
    return X[perm], is_out[perm]


def bayes_noise(X, frac_out=0.10):
    """Rows that the true model (true Gaussians + uniform box) would call noise:
    the ceiling for any detector of these outliers."""
    from scipy.stats import multivariate_normal

    dens = sum(w * multivariate_normal(m, c).pdf(X)
               for w, m, c in zip(TRUE_WEIGHTS, TRUE_MEANS, TRUE_COVS))
    return frac_out / (BOX[1] - BOX[0]) ** 2 > (1 - frac_out) * dens


def mean_error(means):
    from scipy.optimize import linear_sum_assignment

    d = np.linalg.norm(means[:, None, :] - TRUE_MEANS[None], axis=2)
    r, c = linear_sum_assignment(d)
    return float(d[r, c].mean())


def part2a(seeds, plots):
    import gmmkit

    per = {"plain EM": [], "noise=True": []}
    frac_out, frac_in, noise_w, ceiling = [], [], [], []
    kept = None
    for seed in seeds:
        X, is_out = noisy_sample(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plain = gmmkit.GaussianMixture(3, random_state=seed).fit(X)
            robust = gmmkit.GaussianMixture(3, noise=True, random_state=seed).fit(X)
        per["plain EM"].append(mean_error(plain.means_))
        per["noise=True"].append(mean_error(robust.means_))
        lab = robust.predict(X)
        frac_out.append(float((lab[is_out] == -1).mean()))
        frac_in.append(float((lab[~is_out] == -1).mean()))
        noise_w.append(robust.noise_weight_)
        ceiling.append(float(bayes_noise(X[is_out]).mean()))
        if kept is None:
            kept = (X, is_out, plain, robust, lab, seed)
    rows = []
    for name, errs in per.items():
        rows.append({"fit": name, "mean error of means (median)": statistics.median(errs),
                     "min": min(errs), "max": max(errs)})
    summary = {
        "outliers labelled -1 (median)": statistics.median(frac_out),
        "outliers labelled -1 (min)": min(frac_out),
        "outliers the true model calls noise (median; the ceiling)": statistics.median(ceiling),
        "inliers labelled -1 (median)": statistics.median(frac_in),
        "inliers labelled -1 (max)": max(frac_in),
        "noise weight (median)": statistics.median(noise_w),
    }
    if plots:
        noise_picture(*kept)
    return rows, summary, per


def noise_picture(X, is_out, plain, robust, lab, seed):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gmmkit.io import atomic_path

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    for ax, model, title in ((axes[0], plain, "plain EM (K=3)"), (axes[1], robust, "noise=True (K=3)")):
        labels = model.predict(X)
        noise = labels == -1
        ax.scatter(X[~noise, 0], X[~noise, 1], c=labels[~noise], cmap="tab10", vmin=0, vmax=9, s=6)
        if noise.any():
            ax.scatter(X[noise, 0], X[noise, 1], c="0.6", marker="x", s=12, label="label -1 (noise)")
        ax.scatter(TRUE_MEANS[:, 0], TRUE_MEANS[:, 1], marker="+", c="k", s=200, lw=2, label="true means")
        ax.scatter(model.means_[:, 0], model.means_[:, 1], marker="o", facecolors="none",
                   edgecolors="r", s=150, lw=2, label="fitted means")
        ax.set_title(f"{title}: mean error {mean_error(model.means_):.2f}")
        ax.set_aspect("equal")
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(f"3 Gaussians + 10 % uniform outliers (seed {seed})")
    with atomic_path(os.path.join(IMG, "selection_noise.png"), suffix=".png") as tmp:
        fig.savefig(tmp, dpi=80, bbox_inches="tight", format="png")
    plt.close(fig)


# --------------------------------------------------------------------- part 2b
def grid_sample(seed, side=5, per=100, spacing=6.0):
    rng = np.random.default_rng(seed)
    g = np.arange(side) * spacing
    centres = np.array([(a, b) for a in g for b in g])
    X = np.vstack([rng.normal(c, 1.0, size=(per, 2)) for c in centres])
    y = np.repeat(np.arange(len(centres)), per)
    return X, y, len(centres)


def part2b(seeds):
    from sklearn.metrics import adjusted_rand_score

    import gmmkit

    rand = dict(init_params="random_from_data")
    configs = {
        "random point start, n_init=1": dict(rand, n_init=1),
        "random point starts, short_runs=10": dict(rand, short_runs=10),
        "random point starts, n_init=10": dict(rand, n_init=10),
        "random point starts, short_runs=50": dict(rand, short_runs=50),
        "k-means start (default), n_init=1": dict(n_init=1),
        "k-means starts, short_runs=10": dict(short_runs=10),
        "k-means starts, n_init=10": dict(n_init=10),
        "reference: started at the true means": None,
    }
    out = {name: {"lb": [], "ari": [], "s": []} for name in configs}
    for seed in seeds:
        X, y, K = grid_sample(seed)
        for name, kw in configs.items():
            if kw is None:
                centres = np.array([X[y == k].mean(axis=0) for k in range(K)])
                kw = dict(means_init=centres)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gm = gmmkit.GaussianMixture(K, random_state=seed, **kw).fit(X)
            out[name]["s"].append(time.perf_counter() - t0)
            out[name]["lb"].append(gm.lower_bound_)
            out[name]["ari"].append(adjusted_rand_score(y, gm.predict(X)))
    ref = np.array(out["reference: started at the true means"]["lb"])
    rows = []
    for name in configs:
        lb = np.array(out[name]["lb"])
        rows.append({
            "strategy": name,
            "lower bound (median)": float(np.median(lb)),
            "gap to reference (median)": float(np.median(ref - lb)),
            "within 1e-3 of reference": f"{int((ref - lb < 1e-3).sum())}/{len(lb)}",
            "ARI (median)": float(np.median(out[name]["ari"])),
            "fit s (median)": float(np.median(out[name]["s"])),
        })
    return rows, K


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="iris and wine only, 3 seeds")
    ap.add_argument("--no-plots", action="store_true")
    args = ap.parse_args()
    plots = not args.no_plots
    import sklearn

    import gmmkit

    print(f"gmmkit {getattr(gmmkit, '__version__', '?')}, scikit-learn {sklearn.__version__}, "
          f"{os.cpu_count()} CPUs; load before: {os.getloadavg()[0]:.2f} (shared machine)")
    t_all = time.perf_counter()

    print("\n## Part 1: BIC selection on standardised real data (n_init=3, random_state=0)\n", flush=True)
    rows, _ = part1(args.quick, plots)
    print()
    print(markdown(rows))

    seeds = range(3) if args.quick else range(10)
    print(f"\n## Part 2a: noise component, 3 Gaussians + 10 % uniform outliers, seeds 0-{max(seeds)}\n",
          flush=True)
    rows, summary, _ = part2a(seeds, plots)
    print(markdown(rows))
    print()
    for k, v in summary.items():
        print(f"- {k}: {v:.3f}")

    print(f"\n## Part 2b: short runs on a 5x5 grid of clusters (2500 points, K=25), seeds 0-{max(seeds)}\n", flush=True)
    rows, _ = part2b(seeds)
    print(markdown(rows, floats="{:.4f}"))

    print(f"\ntotal {time.perf_counter() - t_all:.1f} s; load after: {os.getloadavg()[0]:.2f}")
    try:
        print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    except OSError:
        pass


if __name__ == "__main__":
    main()
