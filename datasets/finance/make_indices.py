"""Build indices.csv.gz (wide: Date, SPX, IXIC) from the two files shipped here.

sp500.csv.gz and nasdaq.csv.gz are verbatim copies of the files in the ``arch``
wheel (arch 8.0.0, ``arch/data/sp500/`` and ``arch/data/nasdaq/``). This script
keeps each file's ``Adj Close`` column, writes ISO dates, and joins the two on
the date (both files hold the same 5,031 trading days, 1999-01-04 to 2018-12-31).

Run from this folder:  python make_indices.py
"""
import pandas as pd


def read(name):
    df = pd.read_csv(f"{name}.csv.gz")
    df["Date"] = pd.to_datetime(df["Date"], format="%m/%d/%Y")
    return df.set_index("Date")["Adj Close"]


def main():
    wide = pd.DataFrame({"SPX": read("sp500"), "IXIC": read("nasdaq")})
    if wide.isna().any().any():
        raise SystemExit("the two series do not share the same dates")
    wide.index.name = "Date"
    wide.to_csv("indices.csv.gz", date_format="%Y-%m-%d", float_format="%.6f",
                compression={"method": "gzip", "mtime": 0})


if __name__ == "__main__":
    main()
