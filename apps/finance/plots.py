"""Figures (matplotlib, an optional extra: ``pip install gmmkit[plot]``).

Each function writes one PNG atomically and returns its path.

- :func:`plot_density`: the fitted mixture, normal and Student-t over the histogram, linear and log scale;
- :func:`plot_qq`: returns against the normal, with the mixture's quantiles for comparison;
- :func:`plot_backtest`: returns, the VaR lines and the exceedances;
- :func:`plot_regimes`: cumulative return coloured by regime, and the turbulent probability.
"""
from __future__ import annotations

import os

import numpy as np

from gmmkit.exceptions import GMMKitError
from gmmkit.io import atomic_path

COLORS = {"gmm": "#d62728", "normal": "#1f77b4", "historical": "#2ca02c", "student-t": "#9467bd", "hmm": "#ff7f0e"}


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise GMMKitError("plots need matplotlib: pip install 'gmmkit[plot]'") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def safe_name(text):
    """A file-name-safe version of a ticker (``Adj Close`` -> ``Adj_Close``)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(text)) or "series"


def _save(fig, path, plt):
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return os.fspath(path)


def plot_density(r, mixture, path, *, title="", student_t=None):
    """Histogram of returns with the mixture, normal (and Student-t) densities; log scale on the right."""
    from scipy import stats

    plt = _pyplot()
    r = np.asarray(r, dtype=np.float64)
    mu, sd = r.mean(), r.std()
    x = np.linspace(r.min() - 0.1 * np.ptp(r), r.max() + 0.1 * np.ptp(r), 800)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, log in zip(axes, (False, True)):
        ax.hist(r, bins=120, density=True, color="0.8", label="returns")
        ax.plot(x, mixture.pdf(x), color=COLORS["gmm"], lw=1.6, label=f"GMM (K={mixture.n_components})")
        ax.plot(x, stats.norm.pdf(x, mu, sd), color=COLORS["normal"], lw=1.2, ls="--", label="normal")
        if student_t is not None:
            ax.plot(x, stats.t.pdf(x, *student_t), color=COLORS["student-t"], lw=1.0, ls=":",
                    label="Student-t")
        ax.set_xlabel("return")
        if log:
            ax.set_yscale("log")
            ax.set_ylim(0.5 / (r.size * (np.ptp(r) / 120)), None)
            ax.set_title("log scale: the tails")
        else:
            ax.set_xlim(mu - 6 * sd, mu + 6 * sd)
            ax.set_title(title or "density")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path, plt)


def plot_qq(r, mixture, path, *, title=""):
    """Sample quantiles against normal quantiles; the mixture's quantiles drawn the same way."""
    from scipy import stats

    plt = _pyplot()
    r = np.sort(np.asarray(r, dtype=np.float64))
    n = r.size
    p = (np.arange(1, n + 1) - 0.5) / n
    zn = stats.norm.ppf(p)
    mu, sd = r.mean(), r.std()
    pp = np.concatenate([np.geomspace(p[0], 0.05, 60), np.linspace(0.05, 0.95, 40)[1:-1],
                         1 - np.geomspace(0.05, p[0], 60)])
    mq = np.array([mixture.ppf(v) for v in pp])
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(zn, (r - mu) / sd, ".", ms=2, color="0.3", label="returns")
    ax.plot(stats.norm.ppf(pp), (mq - mu) / sd, color=COLORS["gmm"], lw=1.5, label="GMM quantiles")
    lim = [zn[0], zn[-1]]
    ax.plot(lim, lim, color=COLORS["normal"], ls="--", lw=1, label="normal")
    ax.set_xlabel("normal quantile")
    ax.set_ylabel("standardised return")
    ax.set_title(title or "QQ plot against the normal")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path, plt)


def plot_backtest(frame, path, *, level=0.99, title=""):
    """Returns with each method's -VaR line (exceedances circled), and an exceedance timeline per method."""
    plt = _pyplot()
    methods = [c[4:] for c in frame.columns if c.startswith("var_")]
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(10, 5), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    idx = frame.index
    ret = frame["return"].to_numpy()
    ax.plot(idx, ret, color="0.6", lw=0.4, label="return")
    for m in methods:
        ax.plot(idx, -frame[f"var_{m}"], color=COLORS[m], lw=0.9, label=f"-VaR {m}")
        hits = frame[f"hit_{m}"].to_numpy()
        ax.plot(idx[hits], ret[hits], "o", ms=4, mfc="none", mew=0.8, color=COLORS[m])
    ax.set_ylabel("return")
    ax.set_title(title or f"rolling {level:.0%} VaR backtest")
    ax.legend(fontsize=7, loc="lower left")
    for row, m in enumerate(methods):
        hits = frame[f"hit_{m}"].to_numpy()
        ax2.eventplot([idx[hits]], lineoffsets=row, linelengths=0.8, colors=COLORS[m], linewidths=0.8)
    ax2.set_yticks(range(len(methods)))
    ax2.set_yticklabels([f"{m} ({int(frame[f'hit_{m}'].sum())})" for m in methods], fontsize=8)
    ax2.set_ylim(-0.6, len(methods) - 0.4)
    ax2.set_title(f"exceedances (expected {(1 - level) * len(frame):.0f})", fontsize=9)
    fig.tight_layout()
    return _save(fig, path, plt)


def plot_regimes(frame, path, *, title=""):
    """Cumulative log return coloured by regime, with the turbulent probability below."""
    plt = _pyplot()
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(10, 4.5), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    cum = frame["return"].cumsum().to_numpy()
    idx = frame.index
    cmap = {"calm": "#2ca02c", "turbulent": "#d62728"}
    ax.plot(idx, cum, color="0.7", lw=0.6)
    for name in sorted(frame["regime"].unique()):
        mask = (frame["regime"] == name).to_numpy()
        ax.plot(idx[mask], cum[mask], ".", ms=2, color=cmap.get(name, "#ff7f0e"), label=name)
    ax.set_ylabel("cumulative return")
    ax.set_title(title or "regimes")
    ax.legend(fontsize=8, markerscale=4)
    ax2.fill_between(idx, frame["p_turbulent"].to_numpy(), color="#d62728", lw=0)
    ax2.set_ylabel("P(turbulent)")
    ax2.set_ylim(0, 1)
    fig.tight_layout()
    return _save(fig, path, plt)


def plot_switching(frame, path, *, title=""):
    """Markov-switching regimes: cumulative log return with the turbulent regime's days shaded,
    its smoothed (and filtered) probability, and the i.i.d. mixture's turbulent probability."""
    plt = _pyplot()
    has_mix = "mixture_p_turbulent" in frame
    rows = 3 if has_mix else 2
    fig, axes = plt.subplots(rows, 1, figsize=(10, 6 if has_mix else 4.5), sharex=True,
                             gridspec_kw={"height_ratios": [3, 1, 1][:rows]})
    ax, ax2 = axes[0], axes[1]
    idx = frame.index
    cum = frame["return"].cumsum().to_numpy()
    turb = (frame["regime"] == "turbulent").to_numpy()
    ax.plot(idx, cum, color="0.2", lw=0.7)
    lo, hi = float(np.min(cum)), float(np.max(cum))
    ax.fill_between(idx, lo, hi, where=turb, color="#d62728", alpha=0.18, lw=0, step="mid",
                    label="turbulent regime (smoothed)")
    ax.set_ylabel("cumulative log return")
    ax.set_title(title or "Markov-switching regimes")
    ax.legend(fontsize=8, loc="upper left")
    ax2.fill_between(idx, frame["p_turbulent"].to_numpy(), color="#d62728", lw=0, label="smoothed")
    if "p_turbulent_filtered" in frame:
        ax2.plot(idx, frame["p_turbulent_filtered"].to_numpy(), color="k", lw=0.3, label="filtered")
    ax2.set_ylabel("P(turbulent)\nHMM", fontsize=8)
    ax2.set_ylim(0, 1)
    ax2.legend(fontsize=7, loc="upper left")
    if has_mix:
        axes[2].fill_between(idx, frame["mixture_p_turbulent"].to_numpy(), color="#ff7f0e", lw=0)
        axes[2].set_ylabel("P(turbulent)\ni.i.d. mixture", fontsize=8)
        axes[2].set_ylim(0, 1)
    fig.tight_layout()
    return _save(fig, path, plt)
