"""Speaker recognition off the studio: score normalisation, feature warping, RASTA, the GMM voice
activity detector, degraded copies, .npy inputs, many speakers per enrol, open-set identification.

Each piece is checked against a slow textbook twin (or scikit-learn) written here, and end to end
through ``gmmkit speech`` on the shipped voices (datasets/speech/speakers).
"""
import csv
import json
import os
import struct

import numpy as np
import pytest
from scipy.stats import norm as normal
from typer.testing import CliRunner

from gmmkit.exceptions import ParameterError
from gmmkit_apps.speech.augment import add_noise, conditions, telephone_band
from gmmkit_apps.speech.features import FrontEnd, extract
from gmmkit_apps.speech.robust import feature_warp, rasta, spectral_subtraction
from gmmkit_apps.speech.scorenorm import normalise
from gmmkit_apps.speech.vad import gmm_mask

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEAKERS = os.path.join(ROOT, "datasets", "speech", "speakers")


# ------------------------------------------------------------------ pure functions against twins
def _slow_norm(raw, zc, tc, names, labels, top_n):
    out = {m: np.zeros_like(raw) for m in ("znorm", "tnorm")}
    for j, name in enumerate(names):
        zvals = sorted((zc[j, c] for c in range(len(labels)) if labels[c] != name), reverse=True)
        zvals = zvals[:top_n] if top_n else zvals
        for i in range(raw.shape[0]):
            tvals = sorted((tc[i, c] for c in range(len(labels)) if labels[c] != name), reverse=True)
            tvals = tvals[:top_n] if top_n else tvals
            out["znorm"][i, j] = (raw[i, j] - np.mean(zvals)) / np.std(zvals)
            out["tnorm"][i, j] = (raw[i, j] - np.mean(tvals)) / np.std(tvals)
    out["snorm"] = (out["znorm"] + out["tnorm"]) / 2
    return out


@pytest.mark.parametrize("top_n", [None, 4])
def test_score_normalisation_matches_textbook(top_n):
    rng = np.random.default_rng(3)
    names, labels = ["a", "b", "c"], ["a", "a", "b", "d", "d", "e", "c", "f"]
    raw, zc, tc = rng.normal(size=(5, 3)), rng.normal(size=(3, 8)), rng.normal(size=(5, 8))
    fast = normalise(raw, zc, tc, names, labels, top_n=top_n)
    slow = _slow_norm(raw, zc, tc, names, labels, top_n)
    for m in ("znorm", "tnorm", "snorm"):
        np.testing.assert_allclose(fast[m], slow[m], rtol=1e-12)
    np.testing.assert_array_equal(fast["raw"], raw)
    with pytest.raises(ParameterError):
        normalise(raw, zc[:, :7], tc, names, labels)


def test_feature_warp_matches_rank_definition():
    rng = np.random.default_rng(0)
    X = np.round(rng.gamma(2.0, size=(40, 3)), 1)  # skewed, with ties
    W = 11
    got = feature_warp(X, window=W)
    want = np.empty_like(X)
    for t in range(40):
        s = min(max(t - W // 2, 0), 40 - W)
        for d in range(3):
            w = X[s:s + W, d]
            r = np.sum(w < X[t, d]) + 0.5 * (np.sum(w == X[t, d]) - 1)
            want[t, d] = normal.ppf((r + 0.5) / W)
    np.testing.assert_allclose(got, want, atol=1e-5)
    # shorter than the window: the whole utterance is warped (monotone, centred)
    short = feature_warp(X[:9], window=W)
    assert np.array_equal(np.argsort(short[:, 0], kind="stable"), np.argsort(X[:9, 0], kind="stable"))
    assert abs(short.mean()) < 0.05


def test_rasta_is_the_difference_equation():
    rng = np.random.default_rng(1)
    c = rng.normal(size=(2, 50)) + 3.0
    y = rasta(c, axis=1)
    b = 0.1 * np.array([2.0, 1.0, 0.0, -1.0, -2.0])
    for row, out in zip(c, y):
        x = np.concatenate([np.full(4, row[0]), row])  # steady state before the first frame
        prev = 0.0  # the steady-state output of a band-pass filter (zero DC gain) is 0
        for t in range(50):
            v = sum(b[k] * x[t + 4 - k] for k in range(5)) + 0.98 * prev
            assert out[t] == pytest.approx(v, abs=1e-9)
            prev = v
    # a constant channel offset is removed
    assert np.allclose(rasta(np.full((1, 30), 5.0), axis=1), 0.0, atol=1e-9)


def test_spectral_subtraction_by_hand():
    rng = np.random.default_rng(4)
    P = rng.gamma(2.0, size=(30, 5)) * np.linspace(1, 3, 30)[:, None]
    got = spectral_subtraction(P, alpha=2.0, floor=0.05, quiet=0.1)
    quiet3 = sorted(range(30), key=lambda t: P[t].sum())[:3]
    noise = [np.mean([P[t, f] for t in quiet3]) for f in range(5)]
    for t in range(30):
        for f in range(5):
            assert got[t, f] == pytest.approx(max(P[t, f] - 2.0 * noise[f], 0.05 * P[t, f]))


def test_gmm_vad_agrees_with_sklearn_two_component_fit():
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(2)
    db = np.concatenate([rng.normal(-35, 2.5, 400), rng.normal(-12, 5, 250)])
    ours = gmm_mask(db, threshold_db=60.0, floor_db=-100.0)
    gm = GaussianMixture(2, random_state=0).fit(db[:, None])
    loud = int(np.argmax(gm.means_.ravel()))
    theirs = (gm.predict(db[:, None]) == loud) & (db > gm.means_.min())
    assert np.mean(ours == theirs) >= 0.995
    # no separable noise floor (one Gaussian): the energy rule alone decides
    flat = rng.normal(-20, 1, 300)
    assert gmm_mask(flat).all()


def test_degraded_copies():
    rng = np.random.default_rng(0)
    y = rng.normal(size=16000).astype(np.float32) * 0.1
    noisy = add_noise(y, 10.0, seed=1)
    assert 10 * np.log10(np.mean(y ** 2) / np.mean((noisy - y) ** 2)) == pytest.approx(10.0, abs=1e-4)
    t = np.arange(8000) / 8000.0
    low, mid = np.sin(2 * np.pi * 100 * t), np.sin(2 * np.pi * 1000 * t)
    assert np.std(telephone_band(low, 8000)) < 0.05 * np.std(low)
    assert np.std(telephone_band(mid, 8000)) == pytest.approx(np.std(mid), rel=0.02)
    with pytest.raises(ParameterError):
        conditions(y, 8000, ["reverb"])


def test_front_end_defaults_unchanged():
    path = os.path.join(SPEAKERS, "carlo", sorted(os.listdir(os.path.join(SPEAKERS, "carlo")))[0])
    fe = FrontEnd()
    assert (fe.warp, fe.rasta, fe.vad_method) == (0.0, False, "energy")
    assert FrontEnd.from_dict({"sr": 8000, "n_mfcc": 20}) == fe  # old model files
    F = extract(path, fe)
    assert np.allclose(F.mean(0), 0, atol=1e-4)  # CMVN, as before
    W = extract(path, FrontEnd(warp=3.0, vad_method="gmm", rasta=True, denoise=True))
    assert W.shape[1] == 60 and abs(float(np.median(W))) < 0.1
    with pytest.raises(ParameterError):
        FrontEnd(vad_method="loud")
    with pytest.raises(ParameterError):
        FrontEnd(warp=float("nan"))


# ------------------------------------------------------------------ end to end through the CLI
@pytest.fixture(scope="module")
def cli():
    from gmmkit.cli import make_app

    app, runner = make_app(), CliRunner()

    def run(*args, ok=True):
        res = runner.invoke(app, ["speech", *map(str, args)])
        if ok:
            assert res.exit_code == 0, (res.output, res.exception)
        return res

    return run


VOICES = ("allison", "carlo", "june", "armelle")  # enrolled; menardi is the unknown voice


@pytest.fixture(scope="module")
def npy_models(tmp_path_factory, cli):
    """Features cached as .npy, UBM from them, all speakers enrolled in one run from sub-folders."""
    tmp = tmp_path_factory.mktemp("robust")
    with open(os.path.join(SPEAKERS, "index.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        if r["speaker"] in VOICES + ("menardi",):
            sub = tmp / "feats" / r["split"] / r["speaker"]
            sub.mkdir(parents=True, exist_ok=True)
            r["npy"] = sub / (os.path.basename(r["file"])[:-5] + ".npy")
    for split in ("enroll", "test"):
        for v in VOICES + ("menardi",):
            files = [os.path.join(SPEAKERS, r["file"]) for r in rows if r["speaker"] == v and r["split"] == split]
            cli("features", *files, "-o", tmp / "feats" / split / v, "-q")
    cli("ubm", tmp / "feats" / "enroll", "-o", tmp / "ubm.gmm", "-k", 16, "--max-iter", 30, "-q")
    enrol = tmp / "enrol"
    for v in VOICES:
        (enrol / v).mkdir(parents=True)
        for f in (tmp / "feats" / "enroll" / v).glob("*.npy"):
            os.link(f, enrol / v / f.name)
    res = cli("enroll", "--ubm", tmp / "ubm.gmm", enrol, "-o", tmp / "models", "--json")
    assert [r["speaker"] for r in json.loads(res.stdout)] == sorted(VOICES)
    # impostor cohort: a speaker,file table of 6 enrolment prompts per voice
    with open(tmp / "cohort.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["speaker", "file"])
        w.writerows([v, f] for v in VOICES + ("menardi",)
                    for f in sorted((tmp / "feats" / "enroll" / v).glob("*.npy"))[:6])
    return tmp, rows


def test_npy_workflow_and_normalised_evaluation(npy_models, cli):
    tmp, rows = npy_models
    test = [r for r in rows if r.get("npy") and r["split"] == "test" and r["speaker"] in VOICES]
    with open(tmp / "trials.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["speaker", "file", "target"])
        for claimed in VOICES:
            w.writerows([claimed, r["npy"], int(claimed == r["speaker"])] for r in test)
    res = cli("evaluate", "-m", tmp / "models", tmp / "trials.csv", "--cohort", tmp / "cohort.csv",
              "--top-n", 20, "--json")
    out = json.loads(res.stdout)
    assert out["trials"] == 4 * len(test) and set(out["normalised"]) == {"znorm", "tnorm", "snorm"}
    assert out["eer"] <= 0.1 and out["normalised"]["snorm"]["eer"] <= 0.1
    assert out["normalised"]["snorm"]["identification_accuracy"] >= 0.95
    # identify straight from the .npy files
    ident = json.loads(cli("identify", "-m", tmp / "models", *[r["npy"] for r in test], "--json").stdout)
    assert np.mean([o["speaker"] == r["speaker"] for o, r in zip(ident, test)]) >= 0.95


def test_open_set_identification_says_none(npy_models, cli):
    tmp, rows = npy_models
    known = [r["npy"] for r in rows if r.get("npy") and r["split"] == "test" and r["speaker"] == "carlo"]
    unknown = [r["npy"] for r in rows if r.get("npy") and r["split"] == "test" and r["speaker"] == "menardi"]
    res = cli("identify", "-m", tmp / "models", *known, *unknown, "--cohort", tmp / "cohort.csv",
              "--threshold", 2.5, "--json")
    out = json.loads(res.stdout)
    said = [o["speaker"] for o in out]
    assert np.mean([s == "carlo" for s in said[:len(known)]]) >= 0.9
    assert np.mean([s == "<none>" for s in said[len(known):]]) >= 0.8


def test_refusals_are_one_line(npy_models, cli, tmp_path):
    tmp, rows = npy_models
    some = next(r["npy"] for r in rows if r.get("npy") and r["split"] == "test")
    checks = [
        ("verify", "-m", tmp / "models", "-s", "carlo", some, "--threshold", "nan"),
        ("identify", "-m", tmp / "models", some, "--threshold", "inf"),
        ("ubm", tmp / "feats" / "enroll", "-o", tmp_path / "u.gmm", "--max-iter", 0),
        ("ubm", tmp / "feats" / "enroll", "-o", tmp_path / "u.gmm", "--multi-condition", "noise10"),
        ("identify", "-m", tmp / "models", some, "--norm", "znorm"),
        ("features", os.path.join(SPEAKERS, "carlo"), "-o", tmp / "feats" / "enroll" / "carlo"),
    ]
    wav = tmp_path / "sr0.wav"
    data = np.full(800, 100, np.int16).tobytes()
    wav.write_bytes(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " +
                    struct.pack("<IHHIIHH", 16, 1, 1, 0, 0, 2, 16) + b"data" + struct.pack("<I", len(data)) + data)
    checks.append(("features", wav, "-o", tmp_path / "f"))
    for args in checks:
        res = cli(*args, ok=False)
        lines = res.output.strip().splitlines()
        assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error"), (args, res.output)
    assert "sample rate 0" in cli(*checks[-1], ok=False).output
    # evaluate --save-threshold keeps an existing threshold.json unless --force
    trials = tmp_path / "t.csv"
    trials.write_text(f"speaker,file,target\ncarlo,{some},1\njune,{some},0\n")
    text = cli("evaluate", "-m", tmp / "models", trials, "--save-threshold", "--cohort", tmp / "cohort.csv").stdout
    assert "raw EER" in text and "snorm" in text and "znorm" in text
    res = cli("evaluate", "-m", tmp / "models", trials, "--save-threshold", "-q", ok=False)
    assert res.exit_code == 2 and "--force" in res.output
    cli("evaluate", "-m", tmp / "models", trials, "--save-threshold", "-q", "--force")
