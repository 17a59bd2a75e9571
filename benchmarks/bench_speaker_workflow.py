"""Speaker-recognition workflow at scale: a UBM and 100 enrolments from cached features.

FSDD's 2,000 recordings (``--fsdd``) are turned into .npy features once (``gmmkit speech features``,
timed apart), then split into 100 pseudo-speakers of 20 files (a speaker,file table). Timed, as a
user runs them: ``gmmkit speech ubm FEATS -k K`` and ``gmmkit speech enroll --ubm ... TABLE`` (all
100 speakers in one process). For comparison, the old way: one ``enroll`` process per speaker from the
audio (measured on ``--old`` speakers, scaled to 100). Medians of ``--repeats`` runs.

Run: python benchmarks/bench_speaker_workflow.py [-k 64] [--repeats 3]
"""
import argparse
import csv
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bench_speaker_data import FSDD, fsdd_files

GMMKIT = [sys.executable, "-m", "gmmkit"]


CPU = []  # CPU seconds (user + system) of each timed command: the fairer number on a shared machine


def timed(args):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(GMMKIT + ["speech", *map(str, args), "-q"], check=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fsdd", default=FSDD)
    ap.add_argument("-k", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--old", type=int, default=3)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="gmmkit-workflow-")
    try:
        wavs = sorted(p for *_, p in fsdd_files(a.fsdd))
        feats = os.path.join(tmp, "feats")
        t_feat = timed(["features", *wavs, "-o", feats])
        npys = sorted(os.path.join(feats, f) for f in os.listdir(feats))
        table = os.path.join(tmp, "speakers.csv")
        with open(table, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["speaker", "file"])
            w.writerows([f"spk{i % 100:03d}", p] for i, p in enumerate(npys))
        ubm = os.path.join(tmp, "ubm.gmm")
        t_ubm, t_enrol, c_ubm, c_enrol = [], [], [], []
        for _ in range(a.repeats):
            t_ubm.append(timed(["ubm", feats, "-o", ubm, "-k", a.k, "--force"]))
            c_ubm.append(CPU[-1])
            t_enrol.append(timed(["enroll", "--ubm", ubm, table, "-o", os.path.join(tmp, "models"), "--force"]))
            c_enrol.append(CPU[-1])
        old = []
        for i in range(a.old):
            files = [p for j, p in enumerate(wavs) if j % 100 == i]
            old.append(timed(["enroll", "--ubm", ubm, "-s", f"old{i}", *files, "-o", os.path.join(tmp, "old")]))
        ub, en = statistics.median(t_ubm), statistics.median(t_enrol)
        print(f"load {os.getloadavg()[0]:.2f}; {len(wavs)} files; features once: {t_feat:.1f} s")
        print(f"UBM ({a.k} components) from .npy: {ub:.1f} s; 100 enrolments in one process: {en:.1f} s; "
              f"together {ub + en:.1f} s (medians of {a.repeats}: {[round(x, 1) for x in t_ubm]}, "
              f"{[round(x, 1) for x in t_enrol]})")
        print(f"CPU time (user + system, all threads): UBM {statistics.median(c_ubm):.1f} s, enrolments "
              f"{statistics.median(c_enrol):.1f} s; features {CPU[0]:.1f} s")
        print(f"old way, one process per speaker from audio: {statistics.median(old):.1f} s each, "
              f"x100 = {100 * statistics.median(old):.0f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
