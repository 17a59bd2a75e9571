"""Make the pictures of docs/segment.md by running `gmmkit segment` itself.

Each picture is a row of tiles: an input and the files the command wrote,
side by side (only scaled and laid out here). Prints the numbers quoted in the
page (accuracy with and without --smooth, nuclei Dice).

Run from the repository root:  python docs/img/segment_make_figures.py
"""
import json
import os
import subprocess
import sys
import tempfile
from itertools import permutations
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "datasets" / "images"
OUT = ROOT / "docs" / "img"


def gmmkit_segment(*args):
    cmd = [sys.executable, "-c", "from gmmkit.cli import main; main()", "segment", *map(str, args),
           "--json"]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    print("$ gmmkit segment", " ".join(map(str, args)))
    return json.loads(res.stdout)[0]


def montage(tiles, captions, path, height=200, resample=Image.LANCZOS):
    """Pictures (PIL images or paths) side by side at one height, a caption above each
    (also used by benchmarks/bench_segment.py)."""
    ims = []
    for t in tiles:
        im = t if isinstance(t, Image.Image) else Image.open(t)
        im = im.convert("RGB")
        ims.append(im.resize((round(im.width * height / im.height), height), resample))
    pad, cap = 6, 18
    W = sum(i.width for i in ims) + pad * (len(ims) + 1)
    canvas = Image.new("RGB", (W, height + cap + 2 * pad), "white")
    draw = ImageDraw.Draw(canvas)
    x = pad
    for im, text in zip(ims, captions):
        canvas.paste(im, (x, pad + cap))
        draw.text((x + 2, pad), text, fill=(0, 0, 0))
        x += im.width + pad
    canvas.save(path, optimize=True)
    print(f"wrote {path} ({os.path.getsize(path) / 1e3:.0f} kB)")


def noisy_blocks(seed=0, sigma=45.0):
    """Same picture as tests/apps/test_segment.py: 3 flat colour regions + Gaussian noise."""
    rng = np.random.default_rng(seed)
    truth = np.zeros((120, 160), dtype=int)
    truth[:, 50:110] = 1
    truth[30:90, 20:140] = 2
    colours = np.array([[60, 60, 160], [200, 80, 60], [90, 170, 90]])
    img = colours[truth] + rng.normal(scale=sigma, size=truth.shape + (3,))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), truth


def main():
    tmp = Path(tempfile.mkdtemp(prefix="segment-doc-"))

    # 1. a photo: recoloured and boundaries
    s = gmmkit_segment(IMAGES / "coffee.png", "-k", "5", "--smooth", "1", "--out", tmp)
    montage([IMAGES / "coffee.png", s["outputs"]["recolored"], s["outputs"]["boundaries"]],
            ["coffee.png", "coffee_recolored.png (K=5)", "coffee_boundaries.png"],
            OUT / "segment_coffee.png")

    # 2. smoothing on a noisy synthetic picture
    img, truth = noisy_blocks()
    Image.fromarray(img).save(tmp / "blocks.png")
    acc = {}
    for beta in ("0", "2"):
        s = gmmkit_segment(tmp / "blocks.png", "-k", "3", "--smooth", beta, "--out", tmp / f"b{beta}")
        lab = np.asarray(Image.open(s["outputs"]["labels"])).astype(int)
        acc[beta] = max(np.mean(np.asarray(p)[lab] == truth) for p in permutations(range(3)))
        print(f"noisy blocks --smooth {beta}: pixel accuracy {acc[beta]:.4f}")
    montage([tmp / "blocks.png", tmp / "b0" / "blocks_labels.png", tmp / "b2" / "blocks_labels.png"],
            ["noisy input", f"plain GMM: {acc['0']:.1%}", f"--smooth 2: {acc['2']:.1%}"],
            OUT / "segment_smooth.png", height=180)

    # 3. nuclei against the shipped ground truth
    dice = {}
    for beta in ("0", "1"):
        s = gmmkit_segment(IMAGES / "nuclei2d.tif", "-k", "2", "--smooth", beta, "--out", tmp / f"n{beta}")
        lab = np.asarray(Image.open(s["outputs"]["labels"]))
        fg = lab == int(np.argmax(np.asarray(s["means"])[:, 0]))
        truth = np.asarray(Image.open(IMAGES / "nuclei2d_mask.tif")) > 0
        dice[beta] = 2 * np.count_nonzero(fg & truth) / (fg.sum() + truth.sum())
        print(f"nuclei --smooth {beta}: foreground Dice {dice[beta]:.4f}")
    truth_img = Image.fromarray((truth * 255).astype(np.uint8))
    montage([s["outputs"]["boundaries"], truth_img, tmp / "n1" / "nuclei2d_labels.png"],
            ["nuclei2d.tif + boundaries", "ground truth (mask2d)", f"-k 2 --smooth 1: Dice {dice['1']:.3f}"],
            OUT / "segment_nuclei.png", height=256)


if __name__ == "__main__":
    main()
