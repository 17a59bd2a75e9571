"""Speech benchmarks: UBM training per EM iteration against scikit-learn, and 10-minute identification.

Run: python benchmarks/bench_speech.py [--repeats 3] [--skip-sklearn]

1. UBM training, 360,000 frames x 60 dims, 256 diagonal components (the issue's size), float32
   as the speech app trains it (scikit-learn also keeps float32 input in float32). The data
   are drawn from a random 256-component diagonal mixture (seeded). Per-iteration time is the
   difference between a fit stopped after ``hi`` and one stopped after ``lo`` iterations from the
   same initialisation, divided by ``hi - lo``, so initialisation cost cancels. Medians of
   ``--repeats`` runs; gmmkit and scikit-learn are measured side by side in the same process.
2. Identification of a 10-minute recording (the shipped prompts concatenated and repeated) against
   100 speaker models (MAP-adapted from a 256-component UBM): wall time of the Python API
   (feature extraction + top-5 scoring) and of the ``gmmkit speech identify`` command.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEAKERS = os.path.join(ROOT, "datasets", "speech", "speakers")


def make_frames(n=360_000, d=60, k=256, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 3, size=(k, d))
    sds = rng.uniform(0.5, 1.5, size=(k, d))
    w = rng.dirichlet(np.full(k, 5.0))
    z = rng.choice(k, size=n, p=w)
    return (means[z] + sds[z] * rng.normal(size=(n, d))).astype(np.float32)


def per_iteration(make, X, lo, hi):
    times = {}
    for it in (lo, hi):
        est = make(it)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            est.fit(X)
            times[it] = time.perf_counter() - t
        assert est.n_iter_ == it, (type(est), est.n_iter_)
    return (times[hi] - times[lo]) / (hi - lo)


def bench_ubm(repeats, skip_sklearn, lo=2, hi=6):
    import sklearn.mixture

    import gmmkit

    X = make_frames()
    kw = dict(n_components=256, covariance_type="diag", tol=0.0, reg_covar=1e-3,
              init_params="random_from_data", random_state=0)
    # warm-up: compile the float32 kernels outside the timing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gmmkit.GaussianMixture(**{**kw, "n_components": 4}, max_iter=1).fit(X[:2000])
    g, s = [], []
    for r in range(repeats):
        g.append(per_iteration(lambda it: gmmkit.GaussianMixture(**kw, max_iter=it), X, lo, hi))
        if not skip_sklearn:
            s.append(per_iteration(lambda it: sklearn.mixture.GaussianMixture(**kw, max_iter=it), X, lo, hi))
        print(f"  repeat {r + 1}: gmmkit {g[-1]:.3f} s/iter" + ("" if skip_sklearn else
              f", sklearn {s[-1]:.3f} s/iter"), flush=True)
    gm = statistics.median(g)
    print(f"UBM EM iteration, 360000 x 60 float32, 256 diag components (median of {repeats}): "
          f"gmmkit {gm:.3f} s", end="")
    if s:
        sm = statistics.median(s)
        print(f", scikit-learn {sm:.3f} s, speed-up {sm / gm:.1f}x")
    else:
        print()


def bench_identify(n_speakers=100, seconds=600):
    import soundfile as sf

    from gmmkit_apps.speech.corpus import audio_files, features_of
    from gmmkit_apps.speech.features import FrontEnd, extract
    from gmmkit_apps.speech.ubm import map_adapt, save_speaker, score_frames, train_ubm

    fe = FrontEnd()
    files = audio_files([SPEAKERS])
    audio = np.concatenate([sf.read(f, dtype="float32")[0] for f in files])
    reps = int(np.ceil(seconds * fe.sr / audio.size))
    long = np.tile(audio, reps)[: seconds * fe.sr]
    feats = features_of(files, fe)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ubm = train_ubm(feats, 256, max_iter=10, random_state=0)
    ubm.fit_metadata_ = {"speech_front_end": fe.to_dict()}
    rng = np.random.default_rng(0)
    pool = np.concatenate(feats)
    speakers = []
    for i in range(n_speakers):  # 100 models, each adapted on a different random 3000-frame draw
        speakers.append(map_adapt(ubm, pool[rng.choice(len(pool), 3000, replace=False)], name=f"s{i:03d}"))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ten_minutes.wav")
        sf.write(path, long, fe.sr)
        score_frames(ubm, speakers[:1], pool[:100])  # compile / load the kernel outside the timing
        t = time.perf_counter()
        F = extract(path, fe)
        t1 = time.perf_counter()
        S = score_frames(ubm, speakers, F, top_c=5)
        t2 = time.perf_counter()
        print(f"identify 10-min recording ({F.shape[0]} speech frames) vs {n_speakers} models, Python API: "
              f"features {t1 - t:.2f} s + top-5 scoring {t2 - t1:.2f} s = {t2 - t:.2f} s "
              f"(best {speakers[int(np.argmax(S))].name})")
        models = os.path.join(tmp, "models")
        os.makedirs(models)
        ubm.save(os.path.join(models, "ubm.gmm"))
        for s in speakers:
            save_speaker(s, os.path.join(models, s.name + ".spk"), front_end=fe.to_dict())
        t = time.perf_counter()
        exe = shutil.which("gmmkit") or "gmmkit"
        res = subprocess.run([exe, "speech", "identify", "--models", models, path, "-q"],
                             capture_output=True, text=True)
        wall = time.perf_counter() - t
        print(f"identify 10-min recording vs {n_speakers} models, 'gmmkit speech identify' command "
              f"(process start, model loading included): {wall:.2f} s"
              + ("" if res.returncode == 0 else f" [failed: {res.stderr.strip()[-200:]}]"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument("--only", choices=["ubm", "identify"])
    a = ap.parse_args()
    print("load average before:", " ".join(f"{x:.2f}" for x in os.getloadavg()),
          f"({os.cpu_count()} CPUs; the machine may be shared)", flush=True)
    if a.only in (None, "identify"):
        bench_identify()
    if a.only in (None, "ubm"):
        bench_ubm(a.repeats, a.skip_sklearn)
    print("load average after:", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
