"""Write iris.csv from the copy of Fisher's iris data bundled with scikit-learn.

scikit-learn ships the table in its wheel (sklearn/datasets/data/iris.csv, BSD-3-Clause);
this script only renames the columns and spells out the species. Run from this folder:

    python make_iris.py
"""
from sklearn.datasets import load_iris


def main(path="iris.csv"):
    bunch = load_iris(as_frame=True)
    frame = bunch.frame.rename(columns={
        "sepal length (cm)": "sepal_length", "sepal width (cm)": "sepal_width",
        "petal length (cm)": "petal_length", "petal width (cm)": "petal_width",
    })
    frame["species"] = bunch.target_names[frame.pop("target").to_numpy()]
    frame.to_csv(path, index=False)


if __name__ == "__main__":
    main()
