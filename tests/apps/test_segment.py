"""The segment app: `gmmkit segment` end to end on real images, plus its pure functions
against slow, obvious NumPy twins."""
import colorsys
import json
import os
from importlib.metadata import EntryPoint
from itertools import permutations
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gmmkit import GaussianMixture
from gmmkit_apps.segment.colour import rgb_to_hsv_circle, rgb_to_lab
from gmmkit_apps.segment.core import segment_image
from gmmkit_apps.segment.images import read_image
from gmmkit_apps.segment.mrf import component_logp, potts_icm, potts_meanfield
from gmmkit_apps.segment.outputs import boundary_mask

IMAGES = Path(__file__).resolve().parents[2] / "datasets" / "images"


# --------------------------------------------------------------------------- helpers
def run(args):
    """Invoke the root gmmkit app with only the segment plugin mounted."""
    from typer.testing import CliRunner

    from gmmkit.cli import make_app

    ep = EntryPoint(name="segment", value="gmmkit_apps.segment.cli:segment", group="gmmkit.apps")
    return CliRunner().invoke(make_app(entry_points=[ep]), ["segment", *map(str, args)])


def noisy_blocks(seed=0, sigma=45.0):
    """A 3-region piecewise-constant RGB picture with Gaussian noise, and its truth."""
    rng = np.random.default_rng(seed)
    truth = np.zeros((120, 160), dtype=int)
    truth[:, 50:110] = 1
    truth[30:90, 20:140] = 2
    colours = np.array([[60, 60, 160], [200, 80, 60], [90, 170, 90]])
    img = colours[truth] + rng.normal(scale=sigma, size=truth.shape + (3,))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), truth


def accuracy(labels, truth, k):
    """Pixel accuracy under the best matching of labels to truth classes."""
    return max(np.mean(np.asarray(p)[labels] == truth) for p in permutations(range(k)))


def lab_reference(rgb):
    """CIELAB of one sRGB pixel, straight from the textbook formulas, in float64."""
    c = np.asarray(rgb, dtype=float) / 255
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    M = np.array([[0.4124564, 0.3575761, 0.1804375],
                  [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]])
    X, Y, Z = M @ lin / np.array([0.95047, 1.0, 1.08883])

    def f(t):
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29
    return np.array([116 * f(Y) - 16, 500 * (f(X) - f(Y)), 200 * (f(Y) - f(Z))])


def icm_reference(logp, beta, mask, sweeps):
    """Checkerboard ICM in plain Python loops (the kernel's slow twin)."""
    H, W, K = logp.shape
    lab = np.where(mask, logp.argmax(axis=2), -1)
    for _ in range(sweeps):
        for parity in (0, 1):
            for r in range(H):
                for c in range(W):
                    if (r + c) % 2 != parity or not mask[r, c]:
                        continue
                    nbs = [lab[rr, cc] for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1))
                           if 0 <= rr < H and 0 <= cc < W and mask[rr, cc]]
                    energy = [-float(logp[r, c, k]) + beta * sum(n != k for n in nbs) for k in range(K)]
                    best = int(np.argmin(energy))
                    if energy[best] < energy[lab[r, c]]:
                        lab[r, c] = best
    return lab


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def meanfield_reference(logp, beta, mask, sweeps):
    """Checkerboard mean-field in whole-array NumPy (masked q = 0, so they add nothing)."""
    H, W, K = logp.shape
    lp = logp.astype(np.float64)
    q = softmax(lp) * mask[..., None]
    parity = np.add.outer(np.arange(H), np.arange(W)) % 2
    for _ in range(sweeps):
        for p in (0, 1):
            nb = np.zeros_like(q)
            nb[1:] += q[:-1]
            nb[:-1] += q[1:]
            nb[:, 1:] += q[:, :-1]
            nb[:, :-1] += q[:, 1:]
            upd = (parity == p) & mask
            q[upd] = softmax(lp + beta * nb)[upd]
    return q


def potts_energy(logp, labels, beta):
    H, W, _ = logp.shape
    un = -np.take_along_axis(logp, labels[..., None], axis=2).sum()
    pairs = np.count_nonzero(labels[1:] != labels[:-1]) + np.count_nonzero(labels[:, 1:] != labels[:, :-1])
    return float(un + beta * pairs)


# --------------------------------------------------------------------------- colour
def test_lab_matches_textbook_formulas(rng):
    px = rng.integers(0, 256, size=(300, 3)).astype(np.uint8)
    px[:3] = [[0, 0, 0], [255, 255, 255], [1, 2, 3]]  # black, white, the linear segment
    ours = rgb_to_lab(px)
    ref = np.array([lab_reference(p) for p in px])
    np.testing.assert_allclose(ours, ref, atol=2e-3)
    np.testing.assert_allclose(ours[1], [100, 0, 0], atol=2e-3)


def test_hsv_features_match_colorsys(rng):
    px = rng.integers(0, 256, size=(200, 3)).astype(np.uint8)
    ours = rgb_to_hsv_circle(px)
    for p, o in zip(px, ours):
        h, s, v = colorsys.rgb_to_hsv(*(p / 255))
        ang = 2 * np.pi * h
        np.testing.assert_allclose(o, [100 * s * np.cos(ang), 100 * s * np.sin(ang), 100 * v], atol=1e-3)


# --------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("cov", ["full", "diag", "tied", "spherical"])
def test_component_logp_agrees_with_the_estimator(rng, cov):
    X = np.vstack([rng.normal(0, 1, (200, 3)), rng.normal(4, 2, (200, 3))])
    gm = GaussianMixture(3, covariance_type=cov, random_state=0).fit(X)
    lp = component_logp(gm, X).astype(np.float64)
    m = lp.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(lp - m).sum(axis=1, keepdims=True)))[:, 0]
    np.testing.assert_allclose(lse, gm.score_samples(X), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(np.exp(lp - lse[:, None]), gm.predict_proba(X), atol=1e-4)


def test_icm_kernel_equals_its_python_twin(rng):
    H, W, K = 17, 23, 3
    logp = rng.normal(scale=1.5, size=(H, W, K)).astype(np.float32)
    mask = rng.uniform(size=(H, W)) > 0.1
    for beta in (0.4, 1.3):
        ours, n = potts_icm(logp, beta, mask=mask, max_sweeps=3, tol=0)
        assert n == 3
        np.testing.assert_array_equal(ours, icm_reference(logp, beta, mask, 3))
        assert np.all(ours[~mask] == -1)


def test_meanfield_kernel_equals_its_numpy_twin(rng):
    H, W, K = 19, 21, 4
    logp = rng.normal(scale=1.5, size=(H, W, K)).astype(np.float32)
    mask = rng.uniform(size=(H, W)) > 0.1
    labels, q, n = potts_meanfield(logp, 0.8, mask=mask, max_sweeps=4, tol=0)
    ref = meanfield_reference(logp, 0.8, mask, 4)
    assert n == 4
    np.testing.assert_allclose(q, ref, atol=2e-6)
    np.testing.assert_array_equal(labels[mask], ref.argmax(axis=2)[mask])
    assert np.all(labels[~mask] == -1) and np.all(q[~mask] == 0)


def test_icm_lowers_the_potts_energy_and_beta_zero_is_argmax(rng):
    logp = rng.normal(size=(40, 50, 4)).astype(np.float32)
    plain, n0 = potts_icm(logp, 0.0)
    np.testing.assert_array_equal(plain, logp.argmax(axis=2))
    assert n0 == 0
    energies = [potts_energy(logp, plain, 1.0)]
    for sweeps in (1, 2, 5):
        lab, _ = potts_icm(logp, 1.0, max_sweeps=sweeps, tol=0)
        energies.append(potts_energy(logp, lab, 1.0))
    assert all(b <= a + 1e-3 for a, b in zip(energies, energies[1:]))
    assert energies[-1] < 0.9 * energies[0]


@pytest.mark.parametrize("shape, blocks", [((1, 1, 3), 1), ((7, 5, 3), 3), ((301, 203, 3), 8)])
def test_parallel_png_encoder_round_trips(tmp_path, rng, shape, blocks):
    from gmmkit_apps.segment.png import write_png_rgb

    rgb = rng.integers(0, 256, shape).astype(np.uint8)
    rgb[: shape[0] // 2] //= 7  # some compressible rows too
    write_png_rgb(tmp_path / "x.png", rgb, n_blocks=blocks)
    im = Image.open(tmp_path / "x.png")
    assert im.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(im), rgb)


def test_boundary_mask():
    lab = np.zeros((4, 6), dtype=int)
    lab[:, 3:] = 1
    b = boundary_mask(lab)
    assert b[:, 2].all() and b.sum() == 4


# --------------------------------------------------------------------------- quality
def test_smoothing_beats_plain_gmm_on_noisy_blocks():
    img, truth = noisy_blocks()
    plain = segment_image(img, k=3, smooth=0.0, random_state=0)
    smooth = segment_image(img, k=3, smooth=2.0, random_state=0)
    a0, a1 = accuracy(plain.labels, truth, 3), accuracy(smooth.labels, truth, 3)
    # measured: 0.883 plain, 0.983 smoothed
    assert a0 < 0.93 and a1 > 0.97 and a1 - a0 > 0.05


def test_meanfield_smoothing_and_its_probability_maps(tmp_path):
    img, truth = noisy_blocks()
    Image.fromarray(img).save(tmp_path / "blocks.png")
    res = run([tmp_path / "blocks.png", "-k", "3", "--smooth", "2", "--smooth-method", "meanfield",
               "--probs", "--out", tmp_path, "--json"])
    assert res.exit_code == 0, res.stderr
    (s,) = json.loads(res.stdout)
    assert s["smooth_method"] == "meanfield" and s["smooth_sweeps"] >= 2
    labels = np.asarray(Image.open(tmp_path / "blocks_labels.png")).astype(int)
    assert accuracy(labels, truth, 3) > 0.97  # measured 0.984 (plain GMM 0.883)
    q = np.load(tmp_path / "blocks_proba.npy")
    np.testing.assert_allclose(q.sum(axis=0), 1, atol=1e-5)
    np.testing.assert_array_equal(q.argmax(axis=0), labels)
    # smoothed marginals are more confident than the mixture's own posterior
    plain = segment_image(img, k=3, probabilities=True)
    assert q.max(axis=0).mean() > plain.probabilities.max(axis=0).mean()


def test_nuclei_foreground_dice_through_the_cli(tmp_path):
    res = run([IMAGES / "nuclei2d.tif", "-k", "2", "--smooth", "1", "--out", tmp_path, "--json"])
    assert res.exit_code == 0, res.stderr
    summary = json.loads(res.stdout)[0]
    assert summary["mode"].startswith("I;16") and summary["features"] == "gray"
    labels = np.asarray(Image.open(tmp_path / "nuclei2d_labels.png"))
    fg = labels == int(np.argmax(np.asarray(summary["means"])[:, 0]))
    truth = np.asarray(Image.open(IMAGES / "nuclei2d_mask.tif")) > 0
    dice = 2 * np.count_nonzero(fg & truth) / (fg.sum() + truth.sum())
    assert dice > 0.82  # measured 0.849 (0.832 without --smooth)


# --------------------------------------------------------------------------- CLI
def test_photo_end_to_end(tmp_path):
    res = run([IMAGES / "coffee.png", "-k", "4", "--out", tmp_path, "--probs", "--json"])
    assert res.exit_code == 0, res.stderr
    (s,) = json.loads(res.stdout)
    assert s["k"] == 4 and (s["width"], s["height"]) == (600, 400) and s["features"] == "rgb"
    assert np.isclose(sum(s["weights"]), 1) and np.isclose(sum(s["pixel_fractions"]), 1)
    assert np.isfinite(s["bic"]) and s["n_fit_pixels"] == 200_000
    assert set(s["timings"]) >= {"read", "features", "fit", "label", "write", "total"}
    labels_im = Image.open(tmp_path / "coffee_labels.png")
    assert labels_im.mode == "P" and labels_im.size == (600, 400)
    labels = np.asarray(labels_im)
    assert set(np.unique(labels)) <= set(range(4))
    recol = Image.open(tmp_path / "coffee_recolored.png")
    np.testing.assert_array_equal(np.asarray(recol), labels)
    pal = np.array(recol.getpalette()[:12]).reshape(4, 3)
    assert ["#%02x%02x%02x" % tuple(c) for c in pal] == s["mean_colors"]
    # the mean colour is the mean of the original pixels of each segment
    orig = np.asarray(Image.open(IMAGES / "coffee.png").convert("RGB")).astype(float)
    for k in range(4):
        np.testing.assert_allclose(orig[labels == k].mean(axis=0), pal[k], atol=0.51)
    bnd = np.asarray(Image.open(tmp_path / "coffee_boundaries.png"))
    assert bnd.shape == (400, 600, 3) and (bnd != orig).any()
    proba = np.load(tmp_path / "coffee_proba.npy")
    assert proba.shape == (4, 400, 600) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=0), 1, atol=1e-4)
    assert (proba.argmax(axis=0) == labels).mean() > 0.999
    assert json.loads((tmp_path / "coffee_summary.json").read_text())["k"] == 4
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]


def test_k_auto_picks_the_lowest_bic_and_spatial_features(tmp_path):
    res = run([IMAGES / "coins.png", "-k", "auto", "--k-max", "4", "--spatial", "0.5",
               "--out", tmp_path, "--json", "--fit-pixels", "20000"])
    assert res.exit_code == 0, res.stderr
    (s,) = json.loads(res.stdout)
    table = s["k_selection"]
    assert [r["k"] for r in table] == [2, 3, 4]
    assert s["k"] == min(table, key=lambda r: r["bic"])["k"]
    assert np.asarray(s["means"]).shape == (s["k"], 3)  # gray + row + column
    assert s["n_fit_pixels"] == 20000


def test_batch_folder_with_bad_files_continues_and_fails_at_the_end(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.open(IMAGES / "rocket.jpg").resize((160, 107)).save(src / "a.jpg")
    Image.open(IMAGES / "chelsea.png").resize((150, 100)).save(src / "b.webp")
    (src / "c.png").write_bytes(b"this is not a png")
    (src / "notes.txt").write_text("not an image, ignored")
    raw = (IMAGES / "chelsea.png").read_bytes()
    (src / "d.png").write_bytes(raw[: len(raw) // 2])  # truncated
    out = tmp_path / "out"
    res = run([src, "-k", "3", "--out", out])
    assert res.exit_code == 1
    err = res.stderr
    assert "c.png: not an image" in err and "d.png: cannot decode" in err and "Traceback" not in err
    assert "2 of 4 input(s) failed" in err
    assert {p.name for p in out.iterdir()} == {
        f"{n}_{kind}" for n in "ab" for kind in
        ("labels.png", "recolored.png", "boundaries.png", "summary.json")}


@pytest.mark.parametrize("args, message", [
    (["-k", "0"], "between 1 and 255"),
    (["-k", "many"], "whole number or 'auto'"),
    (["--features", "xyz"], "must be one of"),
])
def test_bad_parameters_exit_2(tmp_path, args, message):
    res = run([IMAGES / "coins.png", *args, "--out", tmp_path])
    assert res.exit_code == 2 and message in res.stderr


def test_bad_files_one_line_each(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    one = tmp_path / "one.png"
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(one)
    res = run([empty, tmp_path / "missing.jpg", one, "-k", "2", "--out", tmp_path / "o"])
    assert res.exit_code == 2  # no input could be segmented
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 3 and "empty file" in lines[0] and "no such file" in lines[1]
    assert lines[2] == f"error: {one}: only 1 usable pixel(s), fewer than k=2"
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_decompression_bomb_and_max_pixels(tmp_path):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (12_000, 8_000)).save(bomb)  # 96 MP in a few kB
    assert bomb.stat().st_size < 100_000
    res = run([bomb, "--out", tmp_path / "o"])
    assert res.exit_code == 2 and "decompression bomb" in res.stderr
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((100, 100), np.uint8)).save(small)
    res = run([small, "--max-pixels", "5000", "--out", tmp_path / "o"])
    assert res.exit_code == 2 and "over the limit of 5,000" in res.stderr


# --------------------------------------------------------------------------- reading
def test_exif_orientation_alpha_and_16_bit(tmp_path):
    rgb = np.asarray(Image.open(IMAGES / "rocket.jpg").convert("RGB").resize((64, 40)))
    im = Image.fromarray(rgb)
    exif = im.getexif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to display
    im.save(tmp_path / "rot.jpg", exif=exif.tobytes(), quality=95)
    pic = read_image(tmp_path / "rot.jpg")
    assert pic.shape == (64, 40)
    ref = np.rot90(rgb, k=-1).astype(int)
    assert np.abs(pic.pixels.astype(int) - ref).mean() < 6

    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    rgba[:10, :, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    seg = segment_image(read_image(tmp_path / "alpha.png"), k=2)
    assert np.all(seg.labels[:10] == -1) and np.all(seg.labels[10:] >= 0)
    assert np.isclose(seg.fractions.sum(), 1)

    g16 = (np.linspace(0, 1, 40 * 64).reshape(40, 64) * 4000 + 1000).astype(np.uint16)
    Image.fromarray(g16).save(tmp_path / "g16.png")
    pic = read_image(tmp_path / "g16.png")
    assert pic.is_gray and pic.mode.startswith("I")
    assert np.isclose(pic.pixels.min(), 0) and np.isclose(pic.pixels.max(), 100)


def test_gray_stored_as_rgb_uses_one_feature(tmp_path):
    Image.open(IMAGES / "coins.png").convert("RGB").save(tmp_path / "coins_rgb.png")
    gray = segment_image(read_image(IMAGES / "coins.png"), k=3)
    rgb = segment_image(read_image(tmp_path / "coins_rgb.png"), k=3)
    assert rgb.features == "gray" and rgb.model.means_.shape == (3, 1)
    np.testing.assert_array_equal(rgb.labels, gray.labels)


def test_masked_output_is_transparent(tmp_path):
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[..., 0] = np.arange(40) * 6
    rgba[..., 3] = 255
    rgba[:, :5, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "a.png")
    res = run([tmp_path / "a.png", "-k", "2", "--out", tmp_path / "o", "--smooth", "1", "--quiet"])
    assert res.exit_code == 0 and res.stdout == ""
    lab = Image.open(tmp_path / "o" / "a_labels.png")
    assert lab.info.get("transparency") == 255
    assert np.all(np.asarray(lab)[:, :5] == 255)
    s = json.loads((tmp_path / "o" / "a_summary.json").read_text())
    assert s["n_masked"] == 150


def test_api_unpacks_as_labels_and_model():
    img, truth = noisy_blocks(seed=1, sigma=10)
    labels, model = segment_image(img, k=3, features="rgb")
    assert labels.shape == truth.shape and model.means_.shape == (3, 3)
    assert accuracy(labels, truth, 3) > 0.99
