"""Outlier detection on real labelled data: gmmkit's GMMOutlierDetector against
IsolationForest, LocalOutlierFactor and OneClassSVM (scikit-learn), side by side.

Unsupervised setting: every detector is fitted on the whole table (outliers
included, labels hidden) and ranks the same rows; ROC-AUC and average precision
(AP) are computed from the labels afterwards. Stochastic detectors (the GMM,
IsolationForest) run with several seeds and the median is reported, with the
median fit+score time. LOF and OneClassSVM see standardised features.

Data: ``datasets/outliers/`` (see its README): breast cancer with the malignant
class subsampled to ~5 %, and KEEL imbalanced sets (minority class = outliers).

Usage::

    python benchmarks/bench_outliers.py [--seeds 3] [--markdown]
"""
from __future__ import annotations

import argparse
import glob
import os
import statistics
import time
import warnings

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "datasets", "outliers")
LABELS = {"diagnosis": "malignant", "class": "positive"}


def load(path):
    df = pd.read_csv(path)
    label = next(c for c in df.columns if c in LABELS)
    y = (df[label] == LABELS[label]).to_numpy().astype(int)
    X = df.drop(columns=label).select_dtypes("number").to_numpy(dtype=np.float64)
    return X, y


def detectors():
    from sklearn.ensemble import IsolationForest
    from sklearn.mixture import GaussianMixture as SkGMM
    from sklearn.neighbors import LocalOutlierFactor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import OneClassSVM

    from gmmkit_apps.outliers import GMMOutlierDetector

    def gmm(X, seed):
        return -GMMOutlierDetector(random_state=seed).fit(X).score_samples(X)

    def sk_gmm_bic(X, seed):
        # plain scikit-learn mixture, K by BIC, on standardised data (no trimming, no pruning)
        Z = StandardScaler().fit_transform(X)
        best = None
        for k in range(1, 9):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gm = SkGMM(k, reg_covar=1e-3, random_state=seed).fit(Z)
            b = gm.bic(Z)
            if best is None or b < best[0]:
                best = (b, gm)
        return -best[1].score_samples(Z)

    def iforest(X, seed):
        return -IsolationForest(random_state=seed).fit(X).score_samples(X)

    def lof(X, seed):
        Z = StandardScaler().fit_transform(X)
        m = LocalOutlierFactor(n_neighbors=20).fit(Z)
        return -m.negative_outlier_factor_

    def ocsvm(X, seed):
        m = make_pipeline(StandardScaler(), OneClassSVM(gamma="scale", nu=0.1)).fit(X)
        return -m.score_samples(X)

    return {"gmmkit GMM": (gmm, True), "sklearn GMM (BIC, plain)": (sk_gmm_bic, True),
            "IsolationForest": (iforest, True), "LOF": (lof, False), "OneClassSVM": (ocsvm, False)}


def main():
    from sklearn.metrics import average_precision_score, roc_auc_score

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--markdown", action="store_true", help="print the docs table")
    args = ap.parse_args()
    files = sorted(glob.glob(os.path.join(DATA, "*.csv")))
    dets = detectors()
    # warm-up: Numba compilation is not part of the timings
    Xw, _ = load(files[0])
    dets["gmmkit GMM"][0](Xw, 0)
    rows = []
    for path in files:
        name = os.path.basename(path)[:-4].replace("keel_", "")
        X, y = load(path)
        for det, (fn, stochastic) in dets.items():
            aucs, aps, secs = [], [], []
            for seed in range(args.seeds if stochastic else 1):
                t0 = time.perf_counter()
                s = fn(X, seed)
                secs.append(time.perf_counter() - t0)
                aucs.append(roc_auc_score(y, s))
                aps.append(average_precision_score(y, s))
            rows.append(dict(data=name, n=X.shape[0], d=X.shape[1], outliers=f"{y.mean():.1%}",
                             detector=det, auc=statistics.median(aucs), ap=statistics.median(aps),
                             seconds=statistics.median(secs)))
            print(f"{name:24s} {det:26s} AUC {rows[-1]['auc']:.3f}  AP {rows[-1]['ap']:.3f}  "
                  f"{rows[-1]['seconds']:.2f} s", flush=True)
    t = pd.DataFrame(rows)
    auc = t.pivot(index="data", columns="detector", values="auc")
    apt = t.pivot(index="data", columns="detector", values="ap")
    others = [c for c in auc.columns if c != "gmmkit GMM"]
    rivals = ["IsolationForest", "LOF", "OneClassSVM"]
    best_rival = auc[rivals].max(axis=1)
    ok = auc["gmmkit GMM"] >= auc[rivals + ["gmmkit GMM"]].max(axis=1) - 0.02
    print()
    print("ROC-AUC (median over seeds):")
    print(auc.round(3).to_string())
    print()
    print("Average precision:")
    print(apt.round(3).to_string())
    print()
    print(f"gmmkit best or within 0.02 AUC of the best of IF/LOF/OCSVM on {int(ok.sum())} of {len(ok)} sets")
    print(f"median AUC gap to the best rival: {float((auc['gmmkit GMM'] - best_rival).median()):+.3f}")
    sec = t.pivot(index="data", columns="detector", values="seconds")
    ratio = sec["sklearn GMM (BIC, plain)"] / sec["gmmkit GMM"]
    print(f"time: gmmkit detector (4 BIC searches, trimmed) vs plain sklearn BIC search: "
          f"median ratio sklearn/gmmkit {ratio.median():.2f}")
    print(sec.round(2).to_string())
    print("load:", os.getloadavg())
    if args.markdown:
        print()
        meta = t.drop_duplicates("data").set_index("data")
        head = "| data | n | d | outliers | " + " | ".join(auc.columns) + " |"
        print(head)
        print("|" + "---|" * (4 + len(auc.columns)))
        for d in auc.index:
            best = auc.loc[d, rivals + ["gmmkit GMM"]].max()
            cells = []
            for c in auc.columns:
                v = f"{auc.loc[d, c]:.3f} / {apt.loc[d, c]:.3f}"
                cells.append(f"**{v}**" if auc.loc[d, c] == best else v)
            m = meta.loc[d]
            print(f"| {d} | {m.n} | {m.d} | {m.outliers} | " + " | ".join(cells) + " |")
    _ = others


if __name__ == "__main__":
    main()
