"""The three-branch routed speaker system (clean / noise / band) end to end on the shipped voices:
routed scores against each chosen branch scored alone, the band branch's band-pass against a
textbook filter written with scipy (and against unfiltered input), the command line and its
refusals."""
import csv
import json
import os

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from gmmkit.exceptions import DataError, ModelFileError, ParameterError

SR = 8000
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEAKERS = os.path.join(ROOT, "datasets", "speech", "speakers")


def _rows():
    with open(os.path.join(SPEAKERS, "index.csv"), newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    """Clean, noise (multi-condition) and band (--band-pass 300-3400) models folders of carlo and
    june; a clean / noise / band detector trained on five other voices, its margin chosen on a
    sixth; test files clean, in white noise and band-limited, written as audio."""
    import soundfile as sf

    from gmmkit_apps.speech.augment import add_noise, telephone_band
    from gmmkit_apps.speech.features import load_audio
    from tests.helpers import app_runner

    run = app_runner("speech")

    def cli(*args, ok=True):
        res = run(*args)
        assert res.exit_code == 0 or not ok, (res.output, res.exception)
        return res

    tmp = tmp_path_factory.mktemp("three")
    rows = _rows()
    two = [r for r in rows if r["speaker"] in ("carlo", "june")]
    enrol = [r for r in two if r["split"] == "enroll"][::4]
    with open(tmp / "enrol.csv", "w") as fh:
        fh.write("speaker,file\n" + "".join(f"{r['speaker']},{os.path.join(SPEAKERS, r['file'])}\n" for r in enrol))
    with open(tmp / "cohort.csv", "w") as fh:
        fh.write("speaker,file\n" + "".join(f"{r['speaker']},{os.path.join(SPEAKERS, r['file'])}\n"
                                            for r in rows if r["speaker"] == "allison" and r["split"] == "test"))
    bg = [os.path.join(SPEAKERS, r["file"]) for r in enrol]
    for name, extra in (("clean", ()), ("noise", ("--multi-condition", "noise10,noise20")),
                        ("band", ("--band-pass", "300-3400"))):
        cli("ubm", *bg, "-o", tmp / f"{name}.gmm", "-k", 4, "--max-iter", 5, *extra, "-q")
        cli("enroll", "--ubm", tmp / f"{name}.gmm", tmp / "enrol.csv", "-o", tmp / name,
            *(extra if name == "noise" else ()), "-q")
    det_bg = [os.path.join(SPEAKERS, r["file"]) for r in rows if r["split"] == "enroll"
              and r["speaker"] in ("allison", "armelle", "ivrvoiceru", "menardi")][::3]
    dev = [os.path.join(SPEAKERS, r["file"]) for r in rows if r["speaker"] == "july" and r["split"] == "test"]
    out = json.loads(cli("condition-detector", *det_bg, "--class", "noise=noise10,noise20", "--class", "band=telephone",
                         *(a for f in dev for a in ("--dev", f)), "--dev-class", "noise=noise10", "--dev-class",
                         "band=telephone", "-o", tmp / "det.npz", "--json").stdout)
    assert out["files"] == len(det_bg) and out["dev"]["routed"] == 3 * len(dev)  # clean, noise10, telephone
    tests = [r for r in two if r["split"] == "test"][::4]
    files, truth = [], []
    for i, r in enumerate(tests):
        y = load_audio(os.path.join(SPEAKERS, r["file"]), SR)
        for cond, yc in (("clean", y), ("noise", add_noise(y, 10.0, seed=i)), ("band", telephone_band(y, SR))):
            files.append(tmp / f"{cond}-{i}.wav")
            sf.write(files[-1], yc, SR)
            truth.append((r["speaker"], cond))
    return tmp, cli, files, truth, out


def _sets(tmp):
    from gmmkit_apps.speech.corpus import load_model_set

    return {c: load_model_set(tmp / c) for c in ("clean", "noise", "band")}


def test_routed_scores_are_the_chosen_branch_scores(three):
    from gmmkit_apps.speech.condition_route import load_router, route_frames, routes
    from gmmkit_apps.speech.trials import score_files

    tmp, _, files, truth, made = three
    assert made["classes"] == ["band", "clean", "noise"] and 0 <= made["margin"] <= 20
    sets = _sets(tmp)
    router = load_router(sets["clean"], {"noise": tmp / "noise", "band": tmp / "band"}, tmp / "det.npz")
    assert router.detector.margin == made["margin"]
    classes, _ = route_frames(router, sets["clean"], files)
    assert np.mean(classes == np.array([c for _, c in truth])) >= 0.8
    assert set(classes) == {"clean", "noise", "band"}  # every branch is used
    np.testing.assert_array_equal(routes(router.detector, files), classes != "clean")
    import gmmkit_apps.speech.features as features

    read, load = [], features.load_audio
    features.load_audio = lambda p, sr=SR: read.append(p) or load(p, sr)
    try:
        got = score_files(sets["clean"], files, router=router)
    finally:
        features.load_audio = load
    assert sorted(read) == sorted(files)  # each file read once, for the detector and the features
    want = np.vstack([score_files(sets[c], [f]) for f, c in zip(files, classes)])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(DataError, match="needs audio"):
        route_frames(router, sets["clean"], [tmp / "x.npy"])


def test_band_branch_band_passes_what_it_is_sent(three):
    """The band UBM records 300-3400 Hz; scoring a wide-band file with it equals scoring the file
    band-passed by a 6th-order Butterworth written here, and differs from scoring it unfiltered;
    its UBM and enrolment equal those made by hand from band-passed audio."""
    from scipy.signal import butter, sosfiltfilt

    from gmmkit_apps.speech.features import load_audio, mfcc_frames
    from gmmkit_apps.speech.trials import score_files
    from gmmkit_apps.speech.ubm import map_adapt, score_frames, stack_speakers, train_ubm

    tmp, _, files, _, _ = three
    band = _sets(tmp)["band"]
    assert band.ubm.fit_metadata_["speech_band_pass"] == [300.0, 3400.0]
    stack = stack_speakers(band.ubm, band.speakers)
    y = load_audio(files[0], SR).astype(np.float64)  # a clean (wide-band) file
    sos = butter(6, [300.0, 3400.0], btype="bandpass", fs=SR, output="sos")
    filtered = sosfiltfilt(sos, y, padlen=3 * (2 * len(sos) + 1)).astype(np.float32)

    def passed(path):
        y = load_audio(path, SR).astype(np.float64)
        return sosfiltfilt(sos, y, padlen=3 * (2 * len(sos) + 1)).astype(np.float32)

    def by_hand(signal):
        return score_frames(band.ubm, stack, mfcc_frames(signal, front_end=band.front_end), top_c=5)

    got = score_files(band, [files[0]])[0]
    np.testing.assert_allclose(got, by_hand(filtered), rtol=1e-9)
    assert np.max(np.abs(got - by_hand(y.astype(np.float32)))) > 1e-3
    # the UBM was trained, and carlo enrolled, on band-passed audio too
    enrol = [line.split(",", 1) for line in (tmp / "enrol.csv").read_text().splitlines()[1:]]
    feats = {s: [mfcc_frames(passed(f), front_end=band.front_end) for t, f in enrol if t == s] for s, _ in enrol}
    with pytest.warns(ConvergenceWarning):  # 5 iterations, as the fixture's UBM
        ubm = train_ubm([F for fs in feats.values() for F in fs], 4, max_iter=5, random_state=0)
    np.testing.assert_allclose(band.ubm.means_, ubm.means_, rtol=1e-4, atol=1e-5)
    carlo = map_adapt(band.ubm, feats["carlo"], name="carlo")
    np.testing.assert_allclose(band.speaker("carlo").means, carlo.means, rtol=1e-6, atol=1e-6)
    with pytest.raises(DataError, match="band-pass their input"):
        score_files(band, [tmp / "x.npy"])


def test_cli_three_branches_and_refusals(three, tmp_path):
    tmp, cli, files, truth, _ = three
    with open(tmp_path / "trials.csv", "w") as fh:
        fh.write("speaker,file,target\n" + "".join(f"{s},{f},{int(s == t)}\n" for f, (t, _) in zip(files, truth)
                                                  for s in ("carlo", "june")))
    route = ("--detector", tmp / "det.npz", "--branch", f"noise={tmp / 'noise'}", "--branch", f"band={tmp / 'band'}")
    out = json.loads(cli("evaluate", "-m", tmp / "clean", tmp_path / "trials.csv", *route, "--cohort",
                         tmp / "cohort.csv", "--top-n", 3, "--json").stdout)
    assert sum(out["routed"].values()) == len(files) and out["trials"] == 2 * len(files)
    assert out["degraded_files"] == out["routed"]["noise"] + out["routed"]["band"] and "snorm" in out["normalised"]
    ident = json.loads(cli("identify", "-m", tmp / "clean", *files, *route, "--json").stdout)
    assert np.mean([o["speaker"] == t for o, (t, _) in zip(ident, truth)]) >= 0.8
    assert {c: sum(o["condition"] == c for o in ident) for c in out["routed"]} == out["routed"]
    v = json.loads(cli("verify", "-m", tmp / "clean", "-s", truth[2][0], files[2], *route, "--threshold", -100,
                       "--json").stdout)
    assert v["decision"] == "accept" and v["condition"] == ident[2]["condition"]
    other = tmp_path / "other"
    cli("enroll", "--ubm", tmp / "band.gmm", "-s", "carlo", files[0], "-o", other, "-q")
    from gmmkit_apps.speech.condition import load_detector, save_detector

    det16 = load_detector(tmp / "det.npz")
    det16.sr = 16000
    save_detector(det16, tmp_path / "det16.npz")
    noise, band, d = f"noise={tmp / 'noise'}", f"band={tmp / 'band'}", tmp / "det.npz"
    ident = ("identify", "-m", tmp / "clean", files[0], "-o", tmp_path / "ids.csv")
    for args, says in [
        ((*ident, "--detector", d, "--branch", noise, "--branch", f"band={other}"), "different speakers"),
        ((*ident, "--detector", d, "--branch", noise), "routes to band, noise"),
        ((*ident, "--detector", d, "--branch", noise, "--branch", band, "--branch", f"tel={tmp / 'band'}"),
         "routes to band, noise"),
        ((*ident, "--detector", tmp_path / "det16.npz", "--branch", noise, "--branch", band), "16000 Hz"),
        ((*ident, "--detector", d, "--branch", noise, "--branch", "bad name=x"), "condition class"),
        ((*ident, "--detector", d, "--branch", noise, "--branch", f"clean={tmp / 'band'}"), "are --models"),
        ((*ident, "--detector", d, "--branch", noise, "--branch", band, "--branch", f"band={tmp / 'noise'}"),
         "given twice"),
        ((*ident, "--detector", d, "--branch", f"noise={tmp / 'band'}", "--branch", f"band={tmp / 'noise'}"),
         "does not band-pass"),
        ((*ident, "--detector", d, "--branch", f"noise={tmp / 'band'}", "--branch", band), "also the models"),
        ((*ident, "--detector", d, "--degraded-models", tmp / "noise"), "--branch band=DIR --branch noise=DIR"),
        ((*ident, "--branch", noise), "go together"),
        (("condition-detector", files[0], "-o", tmp_path / "x.npz", "--class", "noise=noise10", "--degrade",
          "noise10"), "one or the other"),
        (("condition-detector", files[0], "-o", tmp_path / "x.npz", "--class", "noise"), "NAME=DEGRADATIONS"),
        (("condition-detector", files[0], "-o", tmp_path / "x.npz", "--class", "clean=noise10"), "undegraded"),
        (("condition-detector", files[0], "-o", tmp_path / "x.npz", "--class", "noise=pink5"), "unknown condition"),
        (("condition-detector", files[0], "-o", tmp_path / "x.npz", "--dev", files[1], "--margin", 1), "not both"),
        (("condition-detector", files[0], "-o", tmp_path / "x.npz", "--margin", -1), "routing margin"),
        (("condition-detector", files[0], "-o", tmp_path / "x.npz", "--dev-class", "noise=noise10"), "give --dev too"),
        (("condition-detector", files[0], "-o", tmp_path / "x.npz", "--class", "noise=noise10", "--class",
          "band=telephone", "--dev", files[1], "--dev-class", "noise=noise20"), "name each of noise, band"),
        (("ubm", files[0], "-o", tmp_path / "u.gmm", "--band-pass", "300"), "LO-HI"),
        (("ubm", files[0], "-o", tmp_path / "u.gmm", "--band-pass", "300-4000"), "below 4000"),
    ]:
        res = cli(*args, ok=False)
        lines = res.output.strip().splitlines()
        assert res.exit_code == 2 and len(lines) == 1 and says in lines[0], (args, res.output)
    assert not any(os.path.exists(tmp_path / f) for f in ("ids.csv", "x.npz", "u.gmm"))  # nothing half-written


def test_router_api_refusals(three):
    from gmmkit_apps.speech.condition_route import load_router

    tmp, *_ = three
    clean = _sets(tmp)["clean"]
    with pytest.raises(ParameterError, match="one models folder per class"):
        load_router(clean, tmp / "noise", tmp / "det.npz")
    with pytest.raises(ModelFileError, match="not a condition detector"):
        load_router(clean, {"noise": tmp / "noise", "band": tmp / "band"}, tmp / "clean.gmm")
