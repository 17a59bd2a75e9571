"""gmmkit finance reads files without guessing: date order, returns files, their kind, series names,
vendor layouts (issue 22, part 1)."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gmmkit.exceptions import DataError, ParameterError
from gmmkit_apps.finance.data import load_returns
from tests.helpers import app_runner

DATA = Path(__file__).resolve().parents[2] / "datasets" / "finance"
INDICES = DATA / "indices.csv.gz"


@pytest.fixture(scope="module")
def cli():
    return app_runner("finance")


@pytest.fixture(scope="module")
def spx():
    return pd.read_csv(INDICES, parse_dates=["Date"]).set_index("Date")["SPX"].loc["2017-01-01":]


def test_ambiguous_day_first_dates_are_refused_then_read_as_told(spx, tmp_path, cli):
    # only the first 12 days of each month: no field above 12 tells the order
    part = spx[spx.index.day <= 12]
    path = tmp_path / "dmy.csv"
    pd.DataFrame({"Date": part.index.strftime("%d/%m/%Y"), "Close": part.to_numpy()}).to_csv(path, index=False)
    with pytest.raises(DataError, match="--dayfirst"):
        load_returns(path, gaps="keep")
    res = cli("fit", path, "--gaps", "keep", "-k", "1")
    assert res.exit_code == 2 and "--dayfirst" in res.output and len(res.output.strip().splitlines()) == 1
    r, _ = load_returns(path, gaps="keep", dayfirst=True)
    assert r.index[0] == part.index[1]                       # 2 January read as 2 January
    same, _ = load_returns(path, gaps="keep", date_format="%d/%m/%Y")
    pd.testing.assert_frame_equal(r, same)
    # month-first is the other reading of the same text: different dates, and not sorted the same
    other, _ = load_returns(path, gaps="keep", dayfirst=False)
    assert not other.index.equals(r.index)
    # the right reading gives the series' own volatility
    want = np.diff(np.log(part.to_numpy()))
    np.testing.assert_allclose(r.iloc[:, 0].to_numpy(), want, rtol=1e-12)


def test_date_order_is_taken_from_a_day_above_12_and_contradictions_refused(spx, tmp_path):
    path = tmp_path / "mdy.csv"
    pd.DataFrame({"Date": spx.index.strftime("%m/%d/%Y"), "Close": spx.to_numpy()}).to_csv(path, index=False)
    r, _ = load_returns(path)
    assert r.index.equals(spx.index[1:])
    with pytest.raises(DataError, match="month-first"):
        load_returns(path, dayfirst=True)


def test_a_returns_file_read_as_prices_gets_a_hint(spx, tmp_path, cli):
    path = tmp_path / "ret.csv"
    np.log(spx).diff().dropna().rename("SPX").to_csv(path)
    res = cli("fit", path)
    assert res.exit_code == 2 and "--log-returns" in res.output and "look like returns" in res.output
    res = cli("fit", path, "--returns")
    assert res.exit_code == 2 and "--simple-returns" in res.output
    # prices given as returns are refused too
    spx.rename("SPX").to_csv(tmp_path / "px.csv")
    res = cli("fit", tmp_path / "px.csv", "--log-returns")
    assert res.exit_code == 2 and "prices, not returns" in res.output


def test_log_returns_file_is_converted_for_the_portfolio(tmp_path, cli):
    prices = pd.read_csv(INDICES, parse_dates=["Date"]).set_index("Date").loc["2008-01-01":"2012-12-31"]
    np.log(prices).diff().dropna().to_csv(tmp_path / "log.csv")
    (prices.pct_change().dropna()).to_csv(tmp_path / "simple.csv")
    both = ["SPX", "IXIC"]
    a, _ = load_returns(tmp_path / "log.csv", both, kind="returns", file_log=True, log=False)
    b, _ = load_returns(tmp_path / "simple.csv", both, kind="returns", file_log=False, log=False)
    c, _ = load_returns(INDICES, both, start="2008-01-03", end="2012-12-31", log=False)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(a.to_numpy(), c.to_numpy(), rtol=1e-9)
    args = ("portfolio", "-t", "SPX", "-t", "IXIC", "-w", "0.6,0.4", "-k", "2", "--json", "--sims", "1000")
    from_log = cli(*args[:1], tmp_path / "log.csv", *args[1:], "--log-returns")
    from_prices = cli(*args[:1], INDICES, *args[1:], "--start", "2008-01-03", "--end", "2012-12-31")
    assert from_log.exit_code == 0 and from_prices.exit_code == 0, from_log.output + from_prices.output
    va = [row["var"] for row in json.loads(from_log.output)["rows"] if row["model"] == "gmm"]
    vb = [row["var"] for row in json.loads(from_prices.output)["rows"] if row["model"] == "gmm"]
    np.testing.assert_allclose(va, vb, rtol=1e-6)
    # the same log returns taken as simple ones would give another (wrong) VaR
    wrong = cli(*args[:1], tmp_path / "log.csv", *args[1:], "--simple-returns")
    vw = [row["var"] for row in json.loads(wrong.output)["rows"] if row["model"] == "gmm"]
    assert abs(vw[1] - va[1]) > 2e-4


def test_series_named_after_the_file_and_yfinance_layout(spx, tmp_path):
    pd.DataFrame({"Date": spx.index, "Open": spx.to_numpy(), "Adj Close": spx.to_numpy()}).to_csv(
        tmp_path / "BMW.DE.csv", index=False)
    r, _ = load_returns(tmp_path / "BMW.DE.csv")
    assert list(r.columns) == ["BMW.DE"]
    lines = ["Price,Adj Close,Close,High,Low,Open,Volume", "Ticker,AAPL,AAPL,AAPL,AAPL,AAPL,AAPL", "Date,,,,,,"]
    lines += [f"{d.date()},{v},{v + 1},{v + 2},{v - 1},{v},1000" for d, v in zip(spx.index, spx.to_numpy())]
    (tmp_path / "yf.csv").write_text("\n".join(lines) + "\n")
    r, _ = load_returns(tmp_path / "yf.csv")
    assert list(r.columns) == ["AAPL"]
    np.testing.assert_allclose(r["AAPL"].to_numpy(), np.diff(np.log(spx.to_numpy())), rtol=1e-10)
    # several tickers: one column each, of Adj Close
    lines = ["Price,Adj Close,Adj Close,Close,Close", "Ticker,AAA,BBB,AAA,BBB", "Date,,,,"]
    lines += [f"{d.date()},{v},{2 * v},{v + 5},{v + 6}" for d, v in zip(spx.index, spx.to_numpy())]
    (tmp_path / "yf2.csv").write_text("\n".join(lines) + "\n")
    r, _ = load_returns(tmp_path / "yf2.csv", ["AAA", "BBB"])
    np.testing.assert_allclose(r["AAA"].to_numpy(), r["BBB"].to_numpy(), rtol=1e-10)


def test_broker_layouts(spx, tmp_path):
    # Investing.com: newest first, thousands separators, text columns
    d = spx.iloc[::-1]
    pd.DataFrame({"Date": d.index.strftime("%m/%d/%Y"), "Price": [f"{v:,.2f}" for v in d.to_numpy()],
                  "Vol.": "-", "Change %": "0.1%"}).to_csv(tmp_path / "inv.csv", index=False)
    r, _ = load_returns(tmp_path / "inv.csv")
    np.testing.assert_allclose(r["inv"].to_numpy(), np.diff(np.log(spx.round(2).to_numpy())), rtol=1e-9)
    # MetaTrader: <DATE>,<TIME>,...,<CLOSE>
    pd.DataFrame({"<DATE>": spx.index.strftime("%Y.%m.%d"), "<TIME>": "00:00:00",
                  "<CLOSE>": spx.to_numpy()}).to_csv(tmp_path / "mt.csv", index=False)
    r, _ = load_returns(tmp_path / "mt.csv", ["CLOSE"])
    assert r.index.equals(spx.index[1:])


def test_same_ticker_twice_and_contradicting_kinds(cli):
    res = cli("portfolio", INDICES, "-t", "SPX", "-t", "SPX")
    assert res.exit_code == 2 and "twice" in res.output and len(res.output.strip().splitlines()) == 1
    with pytest.raises(DataError, match="twice"):
        load_returns(INDICES, ["SPX", "SPX"])
    res = cli("fit", INDICES, "-t", "SPX", "--log-returns", "--simple-returns")
    assert res.exit_code == 2 and "contradict" in res.output
    with pytest.raises(ParameterError):
        load_returns(INDICES, ["SPX"], kind="levels")


@pytest.mark.parametrize("command", ["fit", "risk", "backtest", "portfolio"])
def test_absurd_prices_are_refused_not_printed_as_inf(tmp_path, cli, command):
    dates = pd.bdate_range("2020-01-01", periods=700)
    values = np.exp(np.random.default_rng(0).normal(0, 0.01, 700).cumsum()) * 100
    values[300:] *= 1e250                           # a factor e^575 in one day
    pd.DataFrame({"Date": dates, "X": values, "Y": values}).to_csv(tmp_path / "absurd.csv", index=False)
    extra = ("-t", "X", "-t", "Y") if command == "portfolio" else ("-t", "X")
    res = cli(command, tmp_path / "absurd.csv", *extra, "-k", "2")
    assert res.exit_code == 2, res.output
    assert "inf" not in res.output.lower().replace("infinite", "") and "nan" not in res.output.lower()
    assert len(res.output.strip().splitlines()) == 1


def test_fit_plot_does_not_replace_a_file_without_force(tmp_path, cli):
    pytest.importorskip("matplotlib")
    target = tmp_path / "finance_density_SPX.png"
    target.write_bytes(b"keep me")
    args = ("fit", INDICES, "-t", "SPX", "--start", "2018-01-01", "-k", "2", "--plot", tmp_path)
    res = cli(*args)
    assert res.exit_code == 2 and "--force" in res.output and target.read_bytes() == b"keep me"
    res = cli(*args, "--force", "--quiet")
    assert res.exit_code == 0 and target.read_bytes()[:4] == b"\x89PNG"
