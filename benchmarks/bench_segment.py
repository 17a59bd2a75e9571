"""Benchmark: `gmmkit segment` on a 12-megapixel RGB photo, K=6, against the same pipeline
built on scikit-learn's GaussianMixture.

Both runs do exactly the same work through ``segment_file`` (read the JPEG, CIELAB
features of every pixel, fit on the same 200,000-pixel subsample with the same
parameters, label every pixel, write label map, recoloured image, boundaries and
JSON); only the mixture class differs (``estimator=``). Kernels are compiled (or
loaded from the cache) by a warm-up run first. Prints medians over the repeats.

"cpu" is the process's CPU time over all threads: on a machine shared with other jobs it
moves much less than the wall-clock times, so both are printed.

Run:  python benchmarks/bench_segment.py [--repeats 3] [--smooth]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from itertools import permutations
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
PHOTO = HERE.parent / "datasets" / "images" / "coffee.png"


def make_12mp(path, seed=0):
    """coffee.png (600x400, CC0) upscaled to 4240x2832 = 12.0 MP, light sensor-like noise, JPEG q=92."""
    im = Image.open(PHOTO).convert("RGB").resize((4240, 2832), Image.BICUBIC)
    a = np.asarray(im).astype(np.float32)
    a += np.random.default_rng(seed).normal(scale=3.0, size=a.shape).astype(np.float32)
    Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8)).save(path, quality=92)


def agreement(a, b, k):
    """Share of pixels with the same label under the best label matching (k <= 6: brute force)."""
    a, b = a.ravel(), b.ravel()
    conf = np.bincount(a * k + b, minlength=k * k).reshape(k, k)
    return max(sum(conf[i, p[i]] for i in range(k)) for p in permutations(range(k))) / a.size


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--smooth", action="store_true",
                    help="also time --smooth 1 with ICM and mean-field (gmmkit only)")
    ap.add_argument("--sklearn-blas-threads", type=int, default=None,
                    help="limit BLAS threads during the sklearn runs (default: its own choice)")
    args = ap.parse_args()

    from sklearn.mixture import GaussianMixture as SkGMM
    from threadpoolctl import threadpool_limits

    from gmmkit_apps.segment.core import segment_file
    from gmmkit_apps.segment.mrf import n_threads

    tmp = tempfile.mkdtemp(prefix="bench-segment-")
    photo = os.path.join(tmp, "photo12mp.jpg")
    make_12mp(photo)
    w, h = Image.open(photo).size
    print(f"image: {w}x{h} = {w * h / 1e6:.1f} MP JPEG ({os.path.getsize(photo) / 1e6:.1f} MB), K=6, "
          f"fit on 200,000 pixels, {n_threads()} worker threads")
    print(f"load before: {os.getloadavg()}  (machine shared with other jobs); "
          f"sklearn BLAS threads: {args.sklearn_blas_threads or 'default'}")

    segment_file(PHOTO, os.path.join(tmp, "warm"), k=6)            # compile / load kernels
    segment_file(PHOTO, os.path.join(tmp, "warm"), k=6, smooth=1.0)

    keys = ("read", "features", "fit", "label", "stats", "write", "total")
    runs = {"gmmkit": [], "sklearn": []}
    for rep in range(args.repeats):
        for name, est in (("gmmkit", None), ("sklearn", SkGMM)):
            limit = args.sklearn_blas_threads if est is not None else None
            with (threadpool_limits(limit, user_api="blas") if limit else contextlib.nullcontext()):
                t, c = time.perf_counter(), time.process_time()
                s = segment_file(photo, os.path.join(tmp, name), k=6, estimator=est)
            s["timings"]["wall"] = time.perf_counter() - t
            s["timings"]["cpu"] = time.process_time() - c  # all threads of this process
            runs[name].append(s)
            print(f"  rep {rep} {name:8s} " + " ".join(
                f"{k}={s['timings'][k]:.2f}" for k in keys + ("wall", "cpu")), flush=True)

    print(f"\nmedians over {args.repeats} runs (seconds)")
    print(f"{'step':10s} {'gmmkit':>8s} {'sklearn':>8s} {'ratio':>7s}")
    for k in keys + ("wall", "cpu"):
        g = statistics.median(r["timings"][k] for r in runs["gmmkit"])
        sk = statistics.median(r["timings"][k] for r in runs["sklearn"])
        print(f"{k:10s} {g:8.2f} {sk:8.2f} {sk / g if g > 0 else float('nan'):6.1f}x")
    lab_g = np.asarray(Image.open(os.path.join(tmp, "gmmkit", "photo12mp_labels.png")), dtype=np.int64)
    lab_s = np.asarray(Image.open(os.path.join(tmp, "sklearn", "photo12mp_labels.png")), dtype=np.int64)
    print(f"label agreement gmmkit vs sklearn (best matching): {agreement(lab_g, lab_s, 6):.4f}")
    print(f"n_iter gmmkit {runs['gmmkit'][-1]['n_iter']}, sklearn {runs['sklearn'][-1]['n_iter']}")

    if args.smooth:
        for method in ("icm", "meanfield"):
            sm = []
            for rep in range(args.repeats):
                t, c = time.perf_counter(), time.process_time()
                s = segment_file(photo, os.path.join(tmp, "smooth"), k=6, smooth=1.0, smooth_method=method)
                cpu = time.process_time() - c
                sm.append((s, time.perf_counter() - t, cpu))
                print(f"  rep {rep} gmmkit --smooth 1 --smooth-method {method}: " + " ".join(
                    f"{k}={s['timings'].get(k, 0):.2f}" for k in keys[:4] + ("smooth", "write", "total"))
                    + f" cpu={cpu:.2f}", flush=True)
            print(f"--smooth 1 ({method}) total median {statistics.median(w for _, w, _ in sm):.2f} s "
                  f"(cpu {statistics.median(c for _, _, c in sm):.2f} s), "
                  f"{sm[-1][0]['smooth_sweeps']} sweeps")
    print(f"load after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
