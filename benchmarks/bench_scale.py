"""Scale benchmarks: out-of-core EM from a .npy file, and Dask-distributed EM.

Two workloads (issue 10) and a figure, each timed with the same starting parameters and a
fixed number of EM iterations (tol=0) so every contender does the same work:

``ooc``   N x 3 float32 points written to a .npy file (1.2 GB at N = 100 million),
          fitted with ``gmmkit.outofcore.fit_chunks`` in a child process whose peak
          resident memory (VmHWM) is reported; beside it, when N is small
          enough to hold in memory, gmmkit's in-memory fit and scikit-learn's.
``dask``  N x 3 float32 points (10 million by default) fitted by gmmkit's threaded
          in-memory fit and by ``gmmkit.dask.fit_dask`` on a 2-worker LocalCluster
          (1 thread each, data persisted on the workers), and by scikit-learn.
``figure`` the picture of docs/scale.md: EM traces of the three paths agree, and
          peak memory against data size, in memory and out of core.

Usage::

    python benchmarks/bench_scale.py ooc --n 100_000_000 --iters 5
    python benchmarks/bench_scale.py dask --n 10_000_000 --iters 10 --repeat 3
    python benchmarks/bench_scale.py figure --out docs/img/scale.png

Times are medians over ``--repeat`` runs; the machine load (``os.getloadavg``) is
printed next to them because these numbers mean little on a shared machine.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

K, D = 4, 3


def peak_rss():
    """Peak resident memory of this process in bytes: VmHWM of /proc/self/status (the
    high-water mark of this address space; ru_maxrss would carry the parent's over exec)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def load():
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def make_chunk(rng, n):
    """n points of a fixed 4-component 3-D mixture, float32."""
    centers = np.array([[-4, 0, 0], [4, 0, 0], [0, 5, 2], [0, -5, -2]], dtype=np.float64)
    z = rng.integers(0, K, size=n)
    return (centers[z] + rng.normal(size=(n, D)) * (1 + 0.25 * z[:, None])).astype(np.float32)


def _seeded_chunk(seed, n):
    return make_chunk(np.random.default_rng(seed), n)


def write_npy(path, n, chunk=5_000_000, seed=0):
    """Write an (n, 3) float32 .npy file chunk by chunk (never all in memory)."""
    rng = np.random.default_rng(seed)
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_2_0(
            fh, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                 "fortran_order": False, "shape": (n, D)})
        for lo in range(0, n, chunk):
            fh.write(make_chunk(rng, min(chunk, n - lo)).tobytes())


def start_params(seed=1):
    from gmmkit import GaussianMixture

    X = make_chunk(np.random.default_rng(seed), 20_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(K, random_state=0, max_iter=2).fit(X)
    return dict(weights_init=gm.weights_, means_init=gm.means_, precisions_init=gm.precisions_)


def estimator(kind, iters, init):
    if kind == "sklearn":
        from sklearn.mixture import GaussianMixture
    else:
        from gmmkit import GaussianMixture
    # random_from_data: the starting parameters are given, so skip k-means on the full data
    return GaussianMixture(K, covariance_type="full", tol=0.0, max_iter=iters,
                           init_params="random_from_data", **init)


def timed(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: tol=0 never converges
        t0 = time.perf_counter()
        out = fn()
        return time.perf_counter() - t0, out


# ---------------------------------------------------------------- out of core
def child_ooc(path, iters, chunk_rows):
    """Runs in a fresh process: fit out of core, print JSON with time and peak RSS."""
    from gmmkit.outofcore import fit_chunks

    init = start_params()
    rss0 = peak_rss()
    # compile/load the kernels on a small array first, so the timing is the fit alone
    fit_chunks(estimator("gmmkit", 1, init), make_chunk(np.random.default_rng(2), 10_000))
    t, gm = timed(lambda: fit_chunks(estimator("gmmkit", iters, init), path, chunk_rows=chunk_rows))
    peak = peak_rss()
    print(json.dumps({"seconds": t, "peak_rss": peak, "rss_at_start": rss0, "passes": gm.n_data_passes_,
                      "means": gm.means_.tolist()}))


def bench_ooc(args):
    folder = args.dir or tempfile.mkdtemp(prefix="gmmkit-bench-")
    path = os.path.join(folder, f"points_{args.n}.npy")
    if not os.path.exists(path):
        t, _ = timed(lambda: write_npy(path, args.n))
        print(f"wrote {path}: {os.path.getsize(path) / 1e9:.2f} GB in {t:.1f} s")
    print(f"out of core: N={args.n:,} x {D} float32, K={K} full, {args.iters} EM iterations, "
          f"chunk_rows={args.chunk_rows or 'default (32 MB)'}")
    runs = []
    for _ in range(args.repeat):
        cmd = [sys.executable, __file__, "_child_ooc", path, str(args.iters), str(args.chunk_rows or 0)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
        print(f"  run: {runs[-1]['seconds']:.1f} s, peak RSS {runs[-1]['peak_rss'] / 2**20:.0f} MiB  ({load()})")
    t_ooc = statistics.median(r["seconds"] for r in runs)
    peak = max(r["peak_rss"] for r in runs)
    per_it = t_ooc / (runs[0]["passes"])
    print(f"gmmkit out of core : median {t_ooc:.1f} s ({per_it:.2f} s per data pass, "
          f"{args.n / per_it / 1e6:.1f} M rows/s), peak RSS {peak / 2**20:.0f} MiB "
          f"({'under' if peak < 2**30 else 'OVER'} 1 GiB)")
    if args.n <= args.max_in_memory:
        X = np.load(path)
        init = start_params()
        _compare_in_memory(X, init, args, t_ooc, "out of core")
    else:
        print(f"(in-memory comparison skipped: N > --max-in-memory={args.max_in_memory:,})")
    if not args.keep and not args.dir:
        os.remove(path)
        os.rmdir(folder)


def _compare_in_memory(X, init, args, t_ref, label):
    from gmmkit import GaussianMixture

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        GaussianMixture(K, max_iter=1, **init).fit(X[:10_000])  # kernels loaded
    t_mem = statistics.median(timed(lambda: estimator("gmmkit", args.iters, init).fit(X))[0]
                              for _ in range(args.repeat))
    print(f"gmmkit in memory   : median {t_mem:.1f} s   -> {label} / in memory = {t_ref / t_mem:.2f}  ({load()})")
    if args.sklearn:
        t_sk = statistics.median(timed(lambda: estimator("sklearn", args.iters, init).fit(X))[0]
                                 for _ in range(max(1, args.repeat // 2)))
        print(f"scikit-learn       : median {t_sk:.1f} s   -> sklearn / {label} = {t_sk / t_ref:.2f}, "
              f"sklearn / gmmkit in memory = {t_sk / t_mem:.2f}  ({load()})")
    return t_mem


# ---------------------------------------------------------------- dask
def bench_dask(args):
    import dask
    import dask.array as da
    from distributed import Client, LocalCluster

    from gmmkit.dask import fit_dask

    init = start_params()
    print(f"dask: N={args.n:,} x {D} float32, K={K} full, {args.iters} EM iterations, "
          f"2-worker LocalCluster (1 thread each) vs in-memory threaded "
          f"(GMMKIT_NUM_THREADS={os.environ.get('GMMKIT_NUM_THREADS', 'all cores')})")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        # the data are generated on the workers (block i from seed i) and persisted there;
        # the in-memory contender gets the same rows, gathered
        bounds = np.linspace(0, args.n, args.blocks + 1).astype(int)
        parts = [da.from_delayed(dask.delayed(_seeded_chunk)(i, hi - lo), shape=(hi - lo, D), dtype=np.float32)
                 for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:]))]
        Xd = client.persist(da.concatenate(parts))
        X = Xd.compute()
        timed(lambda: fit_dask(estimator("gmmkit", 1, init), Xd[:20_000], client=client))  # kernels loaded
        runs = []
        for _ in range(args.repeat):
            t, gm = timed(lambda: fit_dask(estimator("gmmkit", args.iters, init), Xd, client=client))
            runs.append(t)
            print(f"  dask run: {t:.2f} s  ({load()})")
        t_dask = statistics.median(runs)
    print(f"gmmkit dask        : median {t_dask:.1f} s ({t_dask / (args.iters + 1):.2f} s per data pass)")
    t_mem = _compare_in_memory(X, init, args, t_dask, "dask")
    ratio = t_dask / t_mem
    print(f"dask / in-memory threaded = {ratio:.2f} (target <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'})")


# ---------------------------------------------------------------- figure for docs/scale.md
def child_rss(mode, path, iters):
    """Fresh process: fit in memory (np.load) or out of core; print the peak RSS in bytes."""
    from gmmkit.outofcore import fit_chunks

    init = start_params()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if mode == "memory":
            estimator("gmmkit", iters, init).fit(np.load(path))
        else:
            fit_chunks(estimator("gmmkit", iters, init), path)
    print(peak_rss())


def bench_figure(args):
    """Two panels: the EM traces of the three paths agree; memory vs data size."""
    import dask.array as da
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gmmkit import GaussianMixture
    from gmmkit.dask import fit_dask
    from gmmkit.outofcore import fit_chunks

    folder = tempfile.mkdtemp(prefix="gmmkit-fig-")
    X = make_chunk(np.random.default_rng(0), 200_000).astype(np.float64)
    path = os.path.join(folder, "small.npy")
    np.save(path, X)
    kw = dict(n_components=K, tol=1e-10, max_iter=60, **start_params())  # same start for all
    mem = GaussianMixture(**kw).fit(X)
    ooc = fit_chunks(GaussianMixture(**kw), path, chunk_rows=25_000)
    dsk = fit_dask(GaussianMixture(**kw), da.from_array(X, chunks=(25_000, D)), client=False)
    sizes, rss = [int(v) for v in args.sizes.split(",")], {"memory": [], "chunks": []}
    for n in sizes:
        big = os.path.join(folder, f"n{n}.npy")
        write_npy(big, n)
        for mode in rss:
            out = subprocess.run([sys.executable, __file__, "_child_rss", mode, big, "2"],
                                 check=True, capture_output=True, text=True).stdout
            rss[mode].append(int(out.strip().splitlines()[-1]) / 2**20)
            print(f"N={n:,} {mode}: peak RSS {rss[mode][-1]:.0f} MiB  ({load()})")
        os.remove(big)
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=100)
    it = np.arange(1, len(mem.lower_bounds_) + 1)
    base = np.asarray(mem.lower_bounds_)
    for est, label, mk in [(ooc, "out of core (8 chunks)", "o"), (dsk, "Dask (8 blocks)", "x")]:
        diff = np.abs(np.asarray(est.lower_bounds_) - base) / np.abs(base)
        a.semilogy(it, np.maximum(diff, 1e-17), mk, ms=4, label=label)
    a.axhline(1e-10, color="gray", lw=0.8, ls="--")
    a.text(it[-1], 1.5e-10, "target 1e-10", ha="right", fontsize=8, color="gray")
    a.set(xlabel="EM iteration", ylabel="relative difference of the log-likelihood\nfrom the in-memory fit",
          title=f"Same EM, chunked (N=200k, {mem.n_iter_} iterations)", ylim=(1e-18, 1e-8))
    a.text(it[0], 3e-18, "(exact zeros drawn at 1e-17)", fontsize=7, color="gray")
    a.legend(fontsize=8)
    gb = [n * D * 4 / 1e9 for n in sizes]
    b.plot(gb, rss["memory"], "s-", label="in memory (np.load + fit)")
    b.plot(gb, rss["chunks"], "o-", label="out of core (fit_chunks)")
    b.set(xlabel="data size on disk (GB, float32, 3 features)", ylabel="peak resident memory (MiB)",
          title="Memory is bounded by the chunk")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    os.remove(path)
    os.rmdir(folder)
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e3:.0f} kB)")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "_child_ooc":
        child_ooc(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) or None)
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_child_rss":
        child_rss(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("workload", choices=["ooc", "dask", "figure"])
    p.add_argument("--n", type=lambda s: int(s.replace("_", "")), default=None,
                   help="rows (default 100_000_000 for ooc, 10_000_000 for dask)")
    p.add_argument("--iters", type=int, default=5, help="EM iterations (tol=0)")
    p.add_argument("--repeat", type=int, default=1, help="runs per contender; medians are quoted")
    p.add_argument("--chunk-rows", type=int, default=None)
    p.add_argument("--blocks", type=int, default=8, help="dask blocks")
    p.add_argument("--dir", default=None, help="folder for the .npy file (kept)")
    p.add_argument("--keep", action="store_true", help="keep the generated .npy file")
    p.add_argument("--max-in-memory", type=int, default=20_000_000)
    p.add_argument("--no-sklearn", dest="sklearn", action="store_false")
    p.add_argument("--sizes", default="2000000,8000000,32000000", help="figure: rows per memory point")
    p.add_argument("--out", default="docs/img/scale.png", help="figure: output PNG")
    args = p.parse_args()
    if args.n is None:
        args.n = 100_000_000 if args.workload == "ooc" else 10_000_000
    print(f"machine: {os.cpu_count()} cores, shared with other jobs; {load()}")
    {"ooc": bench_ooc, "dask": bench_dask, "figure": bench_figure}[args.workload](args)


if __name__ == "__main__":
    main()
