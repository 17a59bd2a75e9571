"""Speaker identification on the Free Spoken Digit Dataset: single digits and 3-digit strings.

Data: FSDD recordings ``{digit}_{speaker}_{n}.wav`` (8 kHz; 4 speakers x 500 files here, in
``--fsdd``, default ../shared/data/fsdd/recordings). Takes n < ``--enrol`` (default 25: 250 digits
per speaker, 1,000 in all) are the UBM's and the enrolment's data (the UBM is trained on all
four speakers' enrolment digits); the other takes are tested, one digit at a time and as strings of
3 digits of the same speaker joined with 0.1 s of silence. Every file must pass the front end
(short utterances are accepted down to 10 speech frames).

Run: python benchmarks/bench_speaker_fsdd.py [-k 64] [--enrol 25]
"""
import argparse
import os
import time

import numpy as np
from bench_speaker_data import FSDD, fsdd_files


def main():
    from gmmkit_apps.speech.features import FrontEnd, load_audio, mfcc_frames
    from gmmkit_apps.speech.ubm import map_adapt, score_frames, train_ubm

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fsdd", default=FSDD)
    ap.add_argument("-k", type=int, default=64)
    ap.add_argument("--enrol", type=int, default=25)
    ap.add_argument("--warp", type=float, default=0.0)
    ap.add_argument("--cmvn-prior", type=float, default=0.0,
                    help="CMVN with a prior worth this many frames (speaker_cmvn; 0: plain CMVN)")
    a = ap.parse_args()
    fe = FrontEnd(warp=a.warp, cmvn=not a.cmvn_prior)
    files = [(s, n, p) for s, n, _, p in fsdd_files(a.fsdd)]
    t0 = time.perf_counter()
    audio = {p: load_audio(p, fe.sr) for _, _, p in files}
    feats = {p: mfcc_frames(y, front_end=fe, source=p) for p, y in audio.items()}  # raises if refused
    t_feat = time.perf_counter() - t0
    speakers = sorted({s for s, _, _ in files})
    normalise = lambda F: F  # noqa: E731 - plain CMVN is done by the front end
    if a.cmvn_prior:  # the prior from the UBM's (= the enrolment's) frames, as `speech ubm --cmvn-prior`
        from gmmkit_apps.speech.speaker_cmvn import fit_prior

        normalise = fit_prior([feats[p] for _, n, p in files if n < a.enrol], frames=a.cmvn_prior).apply
        feats = {p: normalise(F) for p, F in feats.items()}
    enrol = {s: [feats[p] for s2, n, p in files if s2 == s and n < a.enrol] for s in speakers}
    ubm = train_ubm([f for fs in enrol.values() for f in fs], a.k, max_iter=100, random_state=0)
    models = [map_adapt(ubm, enrol[s], name=s) for s in speakers]
    test = [(s, p) for s, n, p in files if n >= a.enrol]
    hits = [speakers[int(np.argmax(score_frames(ubm, models, feats[p])))] == s for s, p in test]
    gap = np.zeros(int(0.1 * fe.sr), np.float32)
    rng = np.random.default_rng(0)
    strings = []
    for s in speakers:
        mine = [p for s2, p in test if s2 == s]
        order = rng.permutation(len(mine))
        for i in range(0, len(order) - 2, 3):
            y = np.concatenate([x for j in order[i:i + 3] for x in (audio[mine[j]], gap)])
            strings.append((s, normalise(mfcc_frames(y, front_end=fe, source="string"))))
    hits3 = [speakers[int(np.argmax(score_frames(ubm, models, F)))] == s for s, F in strings]
    frames = [len(f) for f in feats.values()]
    print(f"load {os.getloadavg()[0]:.2f}; {len(files)} files, all accepted (shortest {min(frames)} speech frames "
          f"= {min(frames) / 100:.2f} s); features {t_feat:.1f} s")
    print(f"UBM {a.k} components on {sum(len(v) for v in enrol.values())} digits; enrolment "
          f"{len(enrol[speakers[0]])} digits per speaker ({', '.join(speakers)})")
    print(f"single digits: {100 * np.mean(hits):.2f}% of {len(hits)}; "
          f"3-digit strings: {100 * np.mean(hits3):.2f}% of {len(hits3)}")


if __name__ == "__main__":
    main()
