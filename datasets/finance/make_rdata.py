"""Export the finance series shipped from R packages' data (issue 22's cross-series comparison).

Needs R with the Debian packages r-cran-fextremes, r-cran-aer, r-cran-fgarch, r-cran-fbasics
(only to rebuild these files; nothing reads R at test or run time). Each series is read with
``Rscript``, printed at full precision, and written here as a small gzipped CSV:

- ``bmw.csv.gz``: ``Date, BMW``, daily log returns of the BMW share, 1973-01-02 to 1996-07-23
  (6,146 days; 611 exact zeros), ``fExtremes::bmwRet`` (fExtremes 4021.83, GPL (>= 2));
- ``djia.csv.gz``: ``Date, DJIA``, Dow Jones Industrial Average closes, 1980-01-01 to 2012-12-31
  (8,610 days), ``AER::DJIA8012`` (AER 1.2-10, GPL-2 | GPL-3; from Franses, van Dijk and
  Opschoor 2014);
- ``nyse.csv.gz``: ``Date, NYSE``, NYSE Composite closes, 1966-01-04 to 2002-12-31 (9,311 days),
  ``fBasics::nyse`` (fBasics 4021.93, GPL (>= 2)). Two dates in the package are wrong and are
  corrected here (:data:`DATE_FIXES`): row 288 reads 1966-02-23 between 1967-02-22 and 1967-02-24
  (so 1967-02-23), and row 963 repeats 1969-12-08 before 1969-12-10 (so 1969-12-09);
- ``ibm.csv.gz``: ``Date, IBM``, IBM closes from ``fBasics::DowJones30`` (Yahoo), 1990-12-31 to
  2001-01-02 (2,529 days);
- ``sp500dge.csv.gz``: ``day, SP500``, daily S&P 500 returns 1928-1991 (17,055 days, the series of
  Ding, Granger and Engle 1993), ``fGarch::sp500dge`` (fGarch 4022.89, GPL (>= 2)). The package
  gives no dates; its largest loss, -0.228 on day 16,077 (978 days before the end, August 1991),
  is 19 October 1987;
- ``dem2gbp.csv.gz``: ``day, DEM2GBP``, daily DEM/GBP returns in percent (1,974 days, no dates; the
  series of Bollerslev and Ghysels 1996, 1984-1991), ``fGarch::dem2gbp``.

Run from this folder:  python make_rdata.py
"""
import io
import subprocess

import pandas as pd

# (file, R package, object, R expression giving a data frame with a date or day column and one value column)
SERIES = [
    ("bmw", "fExtremes", "bmwRet", "data.frame(Date = as.character(x[[1]]), BMW = x[[2]])"),
    ("djia", "AER", "DJIA8012", "data.frame(Date = format(zoo::index(x)), DJIA = zoo::coredata(x))"),
    ("nyse", "fBasics", "nyse", "data.frame(Date = as.character(x[[1]]), NYSE = x[[2]])"),
    ("ibm", "fBasics", "DowJones30", "data.frame(Date = as.character(x[[1]]), IBM = x$IBM)"),
    ("sp500dge", "fGarch", "sp500dge", "data.frame(day = seq_len(nrow(x)), SP500 = x[[1]])"),
    ("dem2gbp", "fGarch", "dem2gbp", "data.frame(day = seq_len(nrow(x)), DEM2GBP = x[[1]])"),
]

#: (file, 0-based row, date in the package, corrected date)
DATE_FIXES = [("nyse", 287, "1966-02-23", "1967-02-23"), ("nyse", 962, "1969-12-08", "1969-12-09")]


def export(package, name, expr):
    code = (f'e <- new.env(); data("{name}", package = "{package}", envir = e); x <- get("{name}", envir = e); '
            f"write.csv({expr}, stdout(), row.names = FALSE)")
    text = subprocess.run(["Rscript", "-e", "options(digits = 15); " + code], check=True, capture_output=True,
                          text=True).stdout
    return pd.read_csv(io.StringIO(text))


def main():
    for file, package, name, expr in SERIES:
        df = export(package, name, expr)
        for f, row, old, new in DATE_FIXES:
            if f == file:
                if df.loc[row, "Date"] != old:
                    raise SystemExit(f"{file}: row {row} is {df.loc[row, 'Date']}, expected {old}")
                df.loc[row, "Date"] = new
        if "Date" in df and not pd.to_datetime(df["Date"]).is_monotonic_increasing:
            raise SystemExit(f"{file}: dates out of order")
        if df.isna().any().any():
            raise SystemExit(f"{package}::{name} has missing values")
        df.to_csv(f"{file}.csv.gz", index=False, float_format="%.10g",
                  compression={"method": "gzip", "mtime": 0})
        print(f"{file}.csv.gz: {len(df)} rows, {df.iloc[0, 0]} to {df.iloc[-1, 0]}")


if __name__ == "__main__":
    main()
