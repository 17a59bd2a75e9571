"""The fused speaker system (MFCC + LFCC models folders) through ``gmmkit speech`` only, on the shipped
voices: the LFCC option reaching enrolment and scoring, the fusion learned on enrolment folds against
folds and a logistic fit made by hand, fused scores against the Python API and against each folder
scored alone, the fusion as the clean branch of the router, and the refusals."""
import csv
import json
import os

import numpy as np
import pytest

SR = 8000
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEAKERS = os.path.join(ROOT, "datasets", "speech", "speakers")
TOP_N = 3


def _rows():
    with open(os.path.join(SPEAKERS, "index.csv"), newline="") as fh:
        return list(csv.DictReader(fh))


def _table(path, rows):
    with open(path, "w") as fh:
        fh.write("speaker,file\n" + "".join(f"{r['speaker']},{os.path.join(SPEAKERS, r['file'])}\n" for r in rows))


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """MFCC and LFCC models folders of carlo and june (CMVN prior), their fusion learned by
    'speech fusion' on 3 folds of the enrolment files, noise and band branches and a three-class
    detector (margin 0); test files clean, in white noise and band-limited, as audio."""
    import soundfile as sf

    from gmmkit_apps.speech.augment import add_noise, telephone_band
    from gmmkit_apps.speech.features import load_audio
    from tests.helpers import app_runner

    run = app_runner("speech")

    def cli(*args, ok=True):
        res = run(*map(str, args))
        assert res.exit_code == 0 or not ok, (res.output, res.exception)
        return res

    tmp = tmp_path_factory.mktemp("fused")
    rows = _rows()
    two = [r for r in rows if r["speaker"] in ("carlo", "june")]
    _table(tmp / "enrol.csv", [r for r in two if r["split"] == "enroll"][::3])
    cohort = [r for r in rows if r["speaker"] in ("allison", "armelle") and r["split"] == "test"]
    _table(tmp / "cohort.csv", cohort[::3])
    bg = [os.path.join(SPEAKERS, r["file"]) for r in two if r["split"] == "enroll"][::3]
    for name, extra in (("mfcc", ("--cmvn-prior", 300)), ("lfcc", ("--cmvn-prior", 300, "--filterbank", "linear")),
                        ("noise", ("--multi-condition", "noise10")), ("band", ("--band-pass", "300-3400"))):
        cli("ubm", *bg, "-o", tmp / f"{name}.gmm", "-k", 4, "--max-iter", 5, *extra, "-q")
        cli("enroll", "--ubm", tmp / f"{name}.gmm", tmp / "enrol.csv", "-o", tmp / name,
            *(extra if name == "noise" else ()), "-q")
    fit = json.loads(cli("fusion", "-m", tmp / "mfcc", "-m", tmp / "lfcc", tmp / "enrol.csv", "--cohort",
                         tmp / "cohort.csv", "--top-n", TOP_N, "-o", tmp / "fusion.gmm", "--json").stdout)
    det_bg = [os.path.join(SPEAKERS, r["file"]) for r in rows if r["split"] == "enroll"
              and r["speaker"] in ("allison", "ivrvoiceru", "menardi")][::4]
    cli("condition-detector", *det_bg, "--class", "noise=noise10", "--class", "band=telephone",
        "--outlier-quantile", 0, "-o", tmp / "det.npz", "-q")
    files, truth = [], []
    for i, r in enumerate([r for r in two if r["split"] == "test"][::7]):
        y = load_audio(os.path.join(SPEAKERS, r["file"]), SR)
        for cond, yc in (("clean", y), ("noise", add_noise(y, 10.0, seed=i)), ("band", telephone_band(y, SR))):
            files.append(tmp / f"{cond}-{i}.wav")
            sf.write(files[-1], yc, SR)
            truth.append(r["speaker"])
    return tmp, cli, files, truth, fit


def _sets(tmp, *names):
    from gmmkit_apps.speech.corpus import load_model_set

    return [load_model_set(tmp / n) for n in names]


def _groups(tmp):
    from gmmkit_apps.speech.inputs import speaker_groups

    return speaker_groups([tmp / "enrol.csv"])


def test_lfcc_models_follow_the_ubm_filterbank(made):
    """'ubm --filterbank linear' is recorded in the UBM; enrolment and scoring follow it: a file's
    score equals the score of LFCC frames made here with the linear filter bank (and the UBM's
    CMVN prior), and differs from that of MFCC frames."""
    from gmmkit_apps.speech.features import FrontEnd, mfcc_frames
    from gmmkit_apps.speech.trials import score_files
    from gmmkit_apps.speech.ubm import score_frames, stack_speakers

    tmp, _, files, _, _ = made
    mfcc, lfcc = _sets(tmp, "mfcc", "lfcc")
    assert lfcc.front_end.filterbank == "linear" and mfcc.front_end.filterbank == "mel"
    assert all(s.meta["front_end"]["filterbank"] == "linear" for s in lfcc.speakers)
    from gmmkit_apps.speech.features import load_audio

    y = load_audio(files[0], SR)
    stack = stack_speakers(lfcc.ubm, lfcc.speakers)

    def by_hand(fb):
        F = mfcc_frames(y, front_end=FrontEnd(cmvn=False, filterbank=fb))
        return score_frames(lfcc.ubm, stack, lfcc.prior.apply(F), top_c=5)

    got = score_files(lfcc, [files[0]])[0]
    np.testing.assert_allclose(got, by_hand("linear"), rtol=1e-9)
    assert np.max(np.abs(got - by_hand("mel"))) > 1e-2


def test_fusion_is_the_logistic_fit_of_hand_made_folds(made):
    """The fusion 'speech fusion' wrote equals a logistic fit (fusion.fit_fusion) of development scores
    made here: each speaker's enrolment files sorted, cut in 3 consecutive blocks, each block scored
    (S-norm, AS-norm top 3) against models MAP-adapted on the other two; the file names its folders."""
    from gmmkit_apps.speech.corpus import ModelSet
    from gmmkit_apps.speech.fusion import fit_fusion, load_fusion
    from gmmkit_apps.speech.trials import load_cohort, score_files
    from gmmkit_apps.speech.ubm import map_adapt

    tmp, _, _, _, fit = made
    sets = _sets(tmp, "mfcc", "lfcc")
    groups = _groups(tmp)
    names = sets[0].names
    scores, labels = [[], []], []
    for k in range(3):
        held = {s: np.array_split(np.array(sorted(fs), dtype=object), 3)[k].tolist() for s, fs in groups.items()}
        for i, ms in enumerate(sets):
            from gmmkit_apps.speech.trials import _frames

            spk = []
            for s in names:
                rest = [f for f in sorted(groups[s]) if f not in held[s]]
                spk.append(map_adapt(ms.ubm, _frames(ms, rest), name=s, relevance=16.0, adapt="m"))
            fold = ModelSet(ms.folder, ms.ubm, ms.front_end, spk, ms.prior)
            dev = [f for s in names for f in held[s]]
            scores[i].append(score_files(fold, dev, cohort=load_cohort(ms, [tmp / "cohort.csv"]), top_n=TOP_N))
        labels += [[t == s for s in names] for t in names for _ in held[t]]
    want = fit_fusion([np.vstack(s) for s in scores], np.array(labels))
    got = load_fusion(tmp / "fusion.gmm")
    np.testing.assert_allclose(got.weights, want.weights, rtol=1e-7)
    np.testing.assert_allclose(got.offset, want.offset, rtol=1e-7)
    assert got.norm == "snorm" and got.top_n == TOP_N and fit["dev"]["files"] == sum(map(len, groups.values()))
    assert [s["folder"] for s in got.systems] == [os.path.realpath(tmp / n) for n in ("mfcc", "lfcc")]
    assert np.all(got.weights > 0)


def test_fusion_on_a_development_trial_list_and_lfcc_feature_files(made, tmp_path):
    """'fusion --dev-trials' equals fusion.fit_trials_fusion on that list and records the folders;
    'features --filterbank linear --no-cmvn' makes .npy files the LFCC models score as the audio."""
    from gmmkit_apps.speech.corpus import read_trials
    from gmmkit_apps.speech.fusion import fit_trials_fusion, load_fusion
    from gmmkit_apps.speech.trials import load_cohort

    tmp, cli, files, truth, _ = made
    with open(tmp_path / "dev.csv", "w") as fh:
        fh.write("speaker,file,target\n" + "".join(f"{s},{f},{int(s == t)}\n" for f, t in zip(files[::3], truth[::3])
                                                  for s in ("carlo", "june")))
    cli("fusion", "-m", tmp / "mfcc", "-m", tmp / "lfcc", "--dev-trials", tmp_path / "dev.csv", "--cohort",
        tmp / "cohort.csv", "--top-n", TOP_N, "-o", tmp_path / "d.gmm", "-q")
    sets = _sets(tmp, "mfcc", "lfcc")
    want = fit_trials_fusion(sets, read_trials(tmp_path / "dev.csv"), top_n=TOP_N,
                             cohorts=[load_cohort(ms, [tmp / "cohort.csv"]) for ms in sets])
    got = load_fusion(tmp_path / "d.gmm")
    np.testing.assert_allclose(np.r_[got.offset, got.weights], np.r_[want.offset, want.weights], rtol=1e-10)
    assert [s["folder"] for s in got.systems] == [os.path.realpath(tmp / n) for n in ("mfcc", "lfcc")]
    cli("features", files[0], "--filterbank", "linear", "--no-cmvn", "-o", tmp_path / "f", "-q")
    for f, out in ((files[0], "a.csv"), (tmp_path / "f" / "clean-0.npy", "b.csv")):
        cli("identify", "-m", tmp / "lfcc", f, "-o", tmp_path / out, "-q")
    a, b = (np.loadtxt(tmp_path / n, delimiter=",", skiprows=1, usecols=(2, 3)) for n in ("a.csv", "b.csv"))
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_cli_fused_scores_equal_the_api_and_the_folders_alone(made, tmp_path):
    """identify / evaluate / verify --fusion: the scores equal fusion.fused_scores and
    offset + sum_i w_i * (folder i's AS-norm scores, each folder scored alone)."""
    from gmmkit_apps.speech.fusion import fused_scores, load_fusion
    from gmmkit_apps.speech.trials import load_cohort, score_files

    tmp, cli, files, truth, _ = made
    clean = files[::3]
    sets = _sets(tmp, "mfcc", "lfcc")
    fusion = load_fusion(tmp / "fusion.gmm")
    cohorts = [load_cohort(ms, [tmp / "cohort.csv"]) for ms in sets]
    api, names = fused_scores(sets, clean, fusion, cohorts=cohorts)
    alone = [score_files(ms, clean, cohort=c, top_n=TOP_N) for ms, c in zip(sets, cohorts)]
    by_hand = fusion.offset + sum(w * S for w, S in zip(fusion.weights, alone))
    np.testing.assert_allclose(api, by_hand, rtol=1e-10)
    cli("identify", "--fusion", tmp / "fusion.gmm", *clean, "--cohort", tmp / "cohort.csv", "-o", tmp_path / "s.csv",
        "-q")
    got = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1, usecols=(2, 3))
    np.testing.assert_allclose(got, api, rtol=1e-9)
    # the folders given in the fusion's order give the same scores as the folders it names
    cli("identify", "--fusion", tmp / "fusion.gmm", "-m", tmp / "mfcc", "-m", tmp / "lfcc", *clean[:2],
        "--cohort", tmp / "cohort.csv", "-o", tmp_path / "s2.csv", "-q")
    np.testing.assert_allclose(np.loadtxt(tmp_path / "s2.csv", delimiter=",", skiprows=1, usecols=(2, 3)), api[:2],
                               rtol=1e-9)
    with open(tmp_path / "trials.csv", "w") as fh:
        fh.write("speaker,file,target\n" + "".join(f"{s},{f},{int(s == t)}\n" for f, t in zip(clean, truth[::3])
                                                  for s in names))
    out = json.loads(cli("evaluate", "--fusion", tmp / "fusion.gmm", tmp_path / "trials.csv", "--cohort",
                         tmp / "cohort.csv", "--scores", tmp_path / "t.csv", "--json").stdout)
    table = list(csv.DictReader(open(tmp_path / "t.csv")))
    row = {str(f): i for i, f in enumerate(clean)}
    want = [api[row[r["file"]], names.index(r["speaker"])] for r in table]
    np.testing.assert_allclose([float(r["score"]) for r in table], want, rtol=1e-9)
    alone_eval = json.loads(cli("evaluate", "-m", tmp / "lfcc", tmp_path / "trials.csv", "--cohort",
                                tmp / "cohort.csv", "--top-n", TOP_N, "--json").stdout)
    lf = out["systems"][1]
    assert lf["folder"] == str(tmp / "lfcc")
    assert {k: lf[k] for k in ("eer", "eer_threshold", "min_dcf")} == \
        {k: alone_eval[k] for k in ("eer", "eer_threshold", "min_dcf")}
    assert lf["normalised"] == alone_eval["normalised"]
    v = json.loads(cli("verify", "--fusion", tmp / "fusion.gmm", "-s", "june", clean[0], "--cohort",
                       tmp / "cohort.csv", "--json").stdout)
    assert v["threshold"] == 0.0 and v["score"] == pytest.approx(api[0, names.index("june")], rel=1e-9)


def test_routed_fused_clean_branch(made, tmp_path):
    """With --detector and --branch the fusion is the clean branch: a file routed clean gets the
    fused score on the branches' scale, (fused - offset) / sum(w); a file routed elsewhere its
    branch's AS-norm score, as that branch scores it alone."""
    from gmmkit_apps.speech.condition_route import branch_cohort, load_router, route_frames
    from gmmkit_apps.speech.fused_system import load_fused, with_cohorts
    from gmmkit_apps.speech.fusion import fused_scores
    from gmmkit_apps.speech.trials import score_files

    tmp, cli, files, truth, _ = made
    route = ("--detector", tmp / "det.npz", "--branch", f"noise={tmp / 'noise'}", "--branch", f"band={tmp / 'band'}")
    cli("identify", "--fusion", tmp / "fusion.gmm", *files, *route, "--cohort", tmp / "cohort.csv",
        "-o", tmp_path / "r.csv", "-q")
    table = list(csv.DictReader(open(tmp_path / "r.csv")))
    fused = with_cohorts(load_fused(tmp / "fusion.gmm"), [tmp / "cohort.csv"])
    router = load_router(fused, {"noise": tmp / "noise", "band": tmp / "band"}, tmp / "det.npz")
    classes, _ = route_frames(router, fused, files)
    assert [r["condition"] for r in table] == list(classes)
    assert {"clean", "noise", "band"} <= set(classes)  # every branch scores some file
    names = fused.names
    got = np.array([[float(r[n]) for n in names] for r in table])
    cohorts = {c: branch_cohort(ms, [tmp / "cohort.csv"]) for c, ms in router.branches.items()}
    for f, c, g in zip(files, classes, got):
        if c == "clean":
            llr = fused_scores(fused.sets, [f], fused.fusion, cohorts=fused.cohorts)[0][0]
            want = (llr - fused.fusion.offset) / fused.fusion.weights.sum()
        else:
            ms = router.branches[c]
            want = score_files(ms, [f], cohort=cohorts[c], top_n=TOP_N)[0]
        np.testing.assert_allclose(g, want, rtol=1e-9)
    with open(tmp_path / "trials.csv", "w") as fh:
        fh.write("speaker,file,target\n" + "".join(f"{s},{f},{int(s == t)}\n" for f, t in zip(files, truth)
                                                  for s in names))
    out = json.loads(cli("evaluate", "--fusion", tmp / "fusion.gmm", tmp_path / "trials.csv", *route, "--cohort",
                         tmp / "cohort.csv", "--json").stdout)
    assert out["routed"] == {c: int(np.sum(classes == c)) for c in ("band", "clean", "noise")}
    assert out["fusion"]["pooled_scale"] and "systems" not in out


def test_fusion_refusals(made, tmp_path):
    """Exit code 2, one line, nothing written."""
    tmp, cli, files, _, _ = made
    cli("enroll", "--ubm", tmp / "lfcc.gmm", "-s", "carlo", files[0], "-o", tmp_path / "one", "-q")
    cli("ubm", files[0], files[3], "-o", tmp_path / "u16.gmm", "-k", 2, "--max-iter", 2, "--sr", 16000, "-q")
    cli("enroll", "--ubm", tmp_path / "u16.gmm", tmp / "enrol.csv", "-o", tmp_path / "wide", "-q")
    less = tmp_path / "less.csv"
    less.write_text("".join((tmp / "enrol.csv").read_text().splitlines(keepends=True)[:-1]))
    fu, coh = tmp / "fusion.gmm", ("--cohort", tmp / "cohort.csv")
    fit = ("fusion", tmp / "enrol.csv", "-o", tmp_path / "f.gmm")
    ident = ("identify", files[0], "-o", tmp_path / "ids.csv", *coh)
    route = ("--detector", tmp / "det.npz", "--branch", f"band={tmp / 'band'}")
    for args, says in [
        ((*fit, "-m", tmp / "mfcc"), "at least two models folders"),
        ((*fit, "-m", tmp / "mfcc", "-m", tmp / "mfcc"), "given twice"),
        ((*fit, "-m", tmp / "mfcc", "-m", tmp_path / "one"), "different speakers"),
        ((*fit, "-m", tmp / "mfcc", "-m", tmp_path / "wide"), "16000 Hz"),
        (("fusion", less, "-o", tmp_path / "f.gmm", "-m", tmp / "mfcc", "-m", tmp / "lfcc"), "enrolled on"),
        (("fusion", "-o", tmp_path / "f.gmm", "-m", tmp / "mfcc", "-m", tmp / "lfcc"), "one of them"),
        ((*fit, "-m", tmp / "mfcc", "-m", tmp / "lfcc", "--folds", 30), "fewer than the 30 folds"),
        ((*fit, "-m", tmp / "mfcc", "-m", tmp / "lfcc", "--top-n", 3), "with --cohort"),
        (("fusion", tmp / "enrol.csv", "-o", fu, "-m", tmp / "mfcc", "-m", tmp / "lfcc"), "exists"),
        ((*ident, "--fusion", fu, "-m", tmp / "lfcc", "-m", tmp / "mfcc"), "not system 1"),
        ((*ident, "--fusion", fu, "-m", tmp / "mfcc"), "fuses 2 models folders, 1 given"),
        ((*ident, "--fusion", fu, "-m", tmp / "mfcc", "-m", tmp / "noise"), "not system 2"),
        ((*ident, "--fusion", tmp / "mfcc.gmm"), "expected a 'speaker_score_fusion'"),
        ((*ident, "-m", tmp / "mfcc", "-m", tmp / "lfcc"), "several go with --fusion"),
        ((*ident, "--fusion", fu, "--norm", "znorm"), "normalisation it was fitted on"),
        ((*ident, "--fusion", fu, "--top-n", 5), "AS-norm top 3"),
        (("identify", files[0], "-o", tmp_path / "ids.csv", "--fusion", fu), "give the impostor cohort"),
        ((*ident, "--fusion", fu, *route, "--branch", f"noise={tmp / 'lfcc'}"), "also the clean models"),
        ((*ident, "--fusion", fu, *route), "routes to band, noise"),
        (("evaluate", tmp / "t.csv", "--fusion", fu, *coh, "--save-threshold"), "not with --fusion"),
    ]:
        res = cli(*args, ok=False)
        lines = res.output.strip().splitlines()
        assert res.exit_code == 2 and len(lines) == 1 and says in lines[0], (args, res.output)
    assert not any(os.path.exists(tmp_path / f) for f in ("ids.csv", "f.gmm"))
