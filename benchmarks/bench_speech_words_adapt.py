"""Speaker-independent digit recognition on FSDD with the standard GMM-HMM feature transforms:
spliced frames + LDA (+ MLLT), and unsupervised fMLLR speaker adaptation (``apps/speech/words_adapt.py``).

Leave-one-speaker-out over FSDD's four speakers (train on three, test on the fourth's 500 digits),
word models with the ``WordRecognizer`` defaults, front end ``FrontEnd(n_mfcc=13, vad_db=40)``
(the words default). Rows:

- ``base``: 13 MFCCs + deltas + delta-deltas (39 values), the defaults;
- ``lda``: the 13 static MFCCs of frames t-4..t+4 spliced (117 values), projected by LDA to
  ``--lda-dim`` (40) dimensions; classes: the states of a Viterbi alignment of the training
  fold with the ``base`` models; word models retrained on the projected frames (LDA estimated
  on the training fold only; ``--lda-reg``: their variance floor, ``--lda-cmvn``: CMVN per
  utterance after the projection);
- ``mllt``: then two rounds of a semi-tied (MLLT) transform (Gales 1999) estimated on the
  Gaussians' full-covariance statistics of the training fold, models retrained each time;
- ``...+fmllr``: then, per test speaker, first-pass recognition, one fMLLR transform estimated on
  the recognised words' alignments (``--fmllr-iter`` rounds of alignment + row sweep), and
  re-recognition; ``--passes N`` repeats it from the previous pass's words (the API's default:
  ``--passes 3 --fmllr-iter 5``);
  ``--diag``: diagonal A; ``--block N``: each speaker's digits in random blocks of N, each
  block adapted alone (how much speech adaptation needs);
- ``sat``: speaker-adaptive training (each training speaker's fMLLR against the models on its
  true words, models retrained on the transformed frames, twice), tested with fMLLR;
- ``--entry-states N --exit-states M --edge-penalty P``: recognition (and the fMLLR alignment) may
  enter a word model at any of its first N states and leave it from any of its last M, at P per
  skipped state (``WordRecognizer(entry_states=...)``; for recordings cut at the word's onset,
  as most of FSDD's george's);
- ``--crop-onset MS,...``: training copies of every training digit with the audio cut MS
  milliseconds after its detected speech onset (for speakers whose recordings start inside
  the word);
- ``--extra-train`` (``-x``): the synthetic voices of ``bench_speech_words_synth.py`` as a second
  model set (real | synthetic) in every fold; the LDA classes are then both sets' states.

LDA and MLLT live here only (they lost accuracy, docs/speech.md); the start line checks the LDA
against scikit-learn's and that the MLLT objective never decreases. Features are cached in
``--cache`` ($TMPDIR/gmmkit_words_adapt). One row takes 2-8 minutes on the shared 2-core machine.

    python benchmarks/bench_speech_words_adapt.py [ROW ...] [-x] [--passes 2] [--block N] [--diag]
"""
from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

FSDD = "/work/shared/data/fsdd/recordings"
ROWS = ("base", "base+fmllr", "lda", "lda+fmllr", "mllt", "mllt+fmllr", "sat", "mllt+sat")


# ---------------------------------------------------------------------- spliced LDA and MLLT (not kept in the app)
def splice(F, context=4):
    """Each frame of ``F`` (T, d) with its ``context`` neighbours on either side, (T, (2c+1) d);
    the first and last frames are repeated beyond the edges."""
    F = np.asarray(F, dtype=np.float64)
    if context < 0:
        raise ValueError(f"context={context!r} must be >= 0")
    T = len(F)
    idx = np.clip(np.arange(T)[:, None] + np.arange(-context, context + 1)[None, :], 0, T - 1)
    return F[idx].reshape(T, -1)


def lda_projection(X, labels, n_components):
    """LDA of frames ``X`` (N, D) with one class label per frame: the (D, n_components) matrix
    whose columns solve ``Sb v = lambda Sw v`` for the largest ``lambda`` (``Sw``: pooled
    within-class covariance, ``Sb``: between-class), normalised to ``v' Sw v = 1`` (the
    projected classes have unit within-class variance), and the mean to subtract first.
    The same columns (up to sign) as scikit-learn's ``LinearDiscriminantAnalysis(solver="eigen")``."""
    from scipy.linalg import eigh

    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    if X.ndim != 2 or len(labels) != len(X):
        raise ValueError(f"need one label per frame: {len(X)} frames, {len(labels)} labels")
    classes, inv = np.unique(labels, return_inverse=True)
    if not 1 <= n_components <= min(X.shape[1], len(classes) - 1):
        raise ValueError(f"LDA to {n_components} dimensions needs at least {n_components + 1} classes "
                             f"and features (got {len(classes)} classes, {X.shape[1]} features)")
    mean = X.mean(axis=0)
    Xc = X - mean
    counts = np.bincount(inv).astype(np.float64)
    means = np.zeros((len(classes), X.shape[1]))
    np.add.at(means, inv, Xc)
    means /= counts[:, None]
    St = Xc.T @ Xc / len(X)
    Sb = (means * (counts / len(X))[:, None]).T @ means
    Sw = St - Sb
    _, V = eigh(Sb, Sw)
    return V[:, ::-1][:, :n_components], mean


def gaussian_scatter(rec, seqs, words, group=None):
    """Occupancies ``gamma`` (K,) and full covariances ``W`` (K, D, D) of the frames around every
    Gaussian of the aligned states (Viterbi state alignment, posteriors within the state),
    over all model sets or the one numbered ``group``."""
    from scipy.special import softmax

    from gmmkit_apps.speech.words_adapt import _frame_gaussians, _log_components, align

    X = np.concatenate(seqs)
    lengths = np.array([len(s) for s in seqs])
    gam_all, W_all = [], []
    for g, a in enumerate(align(rec, seqs, words)):
        if group is not None and g != group:
            continue
        w, mu, var = _frame_gaussians(rec, a, lengths).dense()
        gam = softmax(_log_components(X, w, mu, var), axis=1)
        key = np.repeat(a[0], lengths) * 1000 + a[1]
        for u in np.unique(key):
            at = np.flatnonzero(key == u)
            g = gam[at]                                   # (n, M)
            n = g.sum(axis=0)
            keep = n > 1e-3
            m = (g.T @ X[at])[keep] / n[keep, None]
            S = np.einsum("nk,ni,nj->kij", g[:, keep], X[at], X[at]) / n[keep, None, None]
            gam_all.append(n[keep])
            W_all.append(S - m[:, :, None] * m[:, None, :])
    return np.concatenate(gam_all), np.concatenate(W_all)


def mllt_objective(A, gamma, W):
    """``beta log|det A| - 1/2 sum_m gamma_m sum_i log(a_i W_m a_i')``: the log-likelihood (up
    to constants) of diagonal Gaussians in the space ``A x`` with their variances re-estimated."""
    v = np.einsum("id,kde,ie->ki", A, W, A)
    return gamma.sum() * np.linalg.slogdet(A)[1] - 0.5 * np.sum(gamma[:, None] * np.log(v))


def mllt_estimate(gamma, W, *, n_iter=10, A=None, history=None):
    """The semi-tied (MLLT) transform ``A`` (Gales 1999): row by row, ``a_i = c_i G_i^-1
    sqrt(beta / (c_i G_i^-1 c_i'))`` with ``G_i = sum_m gamma_m W_m / sigma2_mi`` and the
    diagonal variances ``sigma2_mi = a_i W_m a_i'`` re-estimated before each row."""
    D = W.shape[1]
    A = np.eye(D) if A is None else np.array(A, dtype=np.float64)
    beta = gamma.sum()
    for _ in range(n_iter):
        for i in range(D):
            v = np.einsum("d,kde,e->k", A[i], W, A[i])
            G = np.einsum("k,kde->de", gamma / v, W)
            c = np.linalg.inv(A)[:, i]
            Gc = np.linalg.solve(G, c)
            A[i] = Gc * np.sqrt(beta / (c @ Gc))
        if history is not None:
            history.append(mllt_objective(A, gamma, W))
    return A


def check_lda_and_mllt():
    """LDA equals scikit-learn's (eigen solver) on random classes; MLLT's objective never decreases."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 6)) @ rng.normal(size=(6, 6))
    y = rng.integers(0, 5, 600)
    X[:, :2] += y[:, None]
    V, _ = lda_projection(X, y, 3)
    sk = LinearDiscriminantAnalysis(solver="eigen").fit(X, y).scalings_[:, :3]
    W = rng.normal(size=(30, 4, 4))
    W = np.einsum("kij,klj->kil", W, W) + np.eye(4)
    history = []
    mllt_estimate(rng.uniform(1, 5, 30), W, n_iter=5, history=history)
    return float(np.abs(np.abs(V) - np.abs(sk)).max()), bool(np.all(np.diff(history) >= -1e-9))


# ---------------------------------------------------------------------- LOSO rows
def _feats(files, fe):
    from gmmkit.exceptions import DataError
    from gmmkit_apps.speech.features import extract

    out = []
    for f in files:
        try:
            out.append(extract(f, fe).astype(np.float64))
        except DataError:
            out.append(None)
    return out


def load(folder, fe, cache):
    """Features (39-dim) of the labelled files in ``folder``, cached in ``cache``."""
    from gmmkit_apps.speech.words import labelled_files

    files, words, speakers = labelled_files(folder)
    if os.path.exists(cache):
        z = np.load(cache, allow_pickle=False)
        X = np.split(z["X"], np.cumsum(z["n"])[:-1])
        return X, z["words"], z["speakers"]
    X = _feats(files, fe)
    ok = [i for i, x in enumerate(X) if x is not None]
    X, words = [X[i] for i in ok], np.asarray(words)[ok]
    speakers = np.asarray(speakers)[ok] if speakers is not None else np.full(len(ok), "?")
    np.savez(cache, X=np.concatenate(X), n=[len(x) for x in X], words=words, speakers=speakers)
    return X, words, speakers


def cropped(folder, fe, ms, cache):
    """Features of the labelled files in ``folder`` with the audio cut ``ms`` milliseconds after
    the detected speech onset (None where too little speech is left), cached in ``cache``."""
    from gmmkit.exceptions import DataError
    from gmmkit_apps.speech.features import energy_vad, load_audio, mfcc_frames
    from gmmkit_apps.speech.words import labelled_files

    if os.path.exists(cache):
        z = np.load(cache, allow_pickle=False)
        return [x if ok else None for x, ok in zip(np.split(z["X"], np.cumsum(z["n"])[:-1]), z["ok"])]
    out = []
    for f in labelled_files(folder)[0]:
        y = load_audio(f, fe.sr)
        mask = energy_vad(y, sr=fe.sr, hop=fe.hop, win=fe.win, threshold_db=fe.vad_db, method=fe.vad_method)
        try:
            out.append(mfcc_frames(y[int(np.argmax(mask)) * fe.hop + ms * fe.sr // 1000:], front_end=fe, source=f))
        except DataError:
            out.append(None)
    D = fe.dim
    np.savez(cache, X=np.concatenate([np.zeros((0, D), np.float32)] + [x for x in out if x is not None]),
             n=[0 if x is None else len(x) for x in out], ok=[x is not None for x in out])
    return out


def fit(sets, **params):
    """A recogniser with one model set per (utterances, words) pair, scores averaged."""
    from gmmkit_apps.speech.words import WordRecognizer

    Xs, ys, gs = [], [], []
    for g, (X, y) in enumerate(sets):
        Xs, ys, gs = Xs + list(X), ys + list(y), gs + [f"set{g}"] * len(X)
    return WordRecognizer(**params).fit(Xs, ys, groups=gs)


def lda_sets(rec, sets, statics, dim, context=4, cmvn=False):
    """LDA of the spliced statics with the states of ``rec``'s alignment as classes; returns
    the projection function."""
    from gmmkit_apps.speech.words_adapt import align

    frames, labels = [], []
    for g, ((X, y), S) in enumerate(zip(sets, statics)):
        js, path = align(rec, X, y)[g]
        frames.append(np.concatenate([splice(s, context) for s in S]))
        labels.append(np.repeat(js, [len(x) for x in X]) * 100 + path)
    V, mean = lda_projection(np.concatenate(frames), np.concatenate(labels), dim)
    if cmvn:
        return lambda S: [(lambda z: (z - z.mean(0)) / z.std(0))((splice(s, context) - mean) @ V) for s in S]
    return lambda S: [(splice(s, context) - mean) @ V for s in S]


def mllt(rec, sets, params, rounds=2):
    """MLLT rounds on the LDA features: per-Gaussian scatter of every set against its own model
    set, the semi-tied transform, models retrained on the transformed frames; returns the
    recogniser, the transformed sets and the accumulated transform."""
    D = sets[0][0][0].shape[1]
    total = np.eye(D)
    for _ in range(rounds):
        stats = [gaussian_scatter(rec, X, y, group=g) for g, (X, y) in enumerate(sets)]
        A = mllt_estimate(np.concatenate([s[0] for s in stats]), np.concatenate([s[1] for s in stats]))
        sets = [([x @ A.T for x in X], y) for X, y in sets]
        total = A @ total
        rec = fit(sets, **params)
    return rec, sets, total


def adapt(rec, X, passes, n_iter, block=0, diagonal=False):
    """Unsupervised fMLLR of one speaker's utterances: recognise, estimate, transform, re-recognise;
    ``block``: the utterances in random blocks of that many, each adapted alone."""
    from gmmkit_apps.speech.words_adapt import fmllr_estimate

    if block:
        order = np.random.default_rng(0).permutation(len(X))
        pred = np.empty(len(X), dtype=object)
        for k in range(0, len(X), block):
            ix = order[k:k + block]
            pred[ix] = adapt(rec, [X[i] for i in ix], passes, n_iter, diagonal=diagonal)
        return pred.astype(str)
    pred = rec.predict(X, threshold=None)
    for _ in range(passes):
        A, b = fmllr_estimate(rec, X, pred, n_iter=n_iter, diagonal=diagonal)
        Y = [x @ A.T + b for x in X]
        pred = rec.predict(Y, threshold=None)
    return pred


def sat(sets, spk_of, params, n_iter, rounds=2):
    """Speaker-adaptive training: per training speaker an fMLLR transform to the current models
    (true words), models retrained on the transformed frames; returns the last models."""
    from gmmkit_apps.speech.words_adapt import fmllr_estimate

    rec = fit(sets, **params)
    X0, y0 = sets[0]
    for _ in range(rounds):
        Xt = list(X0)
        for s in np.unique(spk_of):
            ix = np.flatnonzero(spk_of == s)
            A, b = fmllr_estimate(rec, [X0[i] for i in ix], y0[ix], n_iter=n_iter)
            for i in ix:
                Xt[i] = X0[i] @ A.T + b
        rec = fit([(Xt, y0)] + list(sets[1:]), **params)
    return rec


def main(argv=None):
    from gmmkit_apps.speech.features import FrontEnd

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rows", nargs="*", default=list(ROWS), help=f"rows ({', '.join(ROWS)})")
    ap.add_argument("-x", "--extra-train", action="store_true", help="synthetic voices as a second model set")
    ap.add_argument("--passes", type=int, default=1)
    ap.add_argument("--fmllr-iter", type=int, default=3)
    ap.add_argument("--diag", action="store_true", help="diagonal fMLLR (diagonal A and b)")
    ap.add_argument("--block", type=int, default=0, help="adapt on random blocks of this many utterances")
    ap.add_argument("--lda-dim", type=int, default=40)
    ap.add_argument("--context", type=int, default=4)
    ap.add_argument("--n-mix", type=int, default=5)
    ap.add_argument("--lda-reg", type=float, default=0.3, help="variance floor of the models on LDA features")
    ap.add_argument("--lda-cmvn", action="store_true", help="CMVN per utterance after the LDA projection")
    ap.add_argument("--entry-states", type=int, default=1)
    ap.add_argument("--exit-states", type=int, default=1)
    ap.add_argument("--edge-penalty", type=float, default=0.0)
    ap.add_argument("--crop-onset", default="", help="training copies cut this many ms after the onset, e.g. 50,100")
    ap.add_argument("--cache", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "gmmkit_words_adapt"))
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    os.makedirs(args.cache, exist_ok=True)
    fe = FrontEnd(n_mfcc=13, vad_db=40.0)
    X, words, speakers = load(FSDD, fe, os.path.join(args.cache, "fsdd_vad40.npz"))
    extra = []
    if args.extra_train:
        from bench_speech_words_synth import cache_folder

        SX, sw, _ = load(cache_folder(), fe, os.path.join(args.cache, "synth_vad40.npz"))
        extra = [(SX, sw)]
    params = {"n_mix": args.n_mix, "entry_states": args.entry_states, "exit_states": args.exit_states,
              "edge_penalty": args.edge_penalty}
    if args.crop_onset and any(r.endswith("sat") for r in args.rows):
        ap.error("--crop-onset does not go with the sat rows (their speakers are the real digits')")
    crops = [cropped(FSDD, fe, int(c), os.path.join(args.cache, f"fsdd_vad40_crop{c}.npz"))
             for c in args.crop_onset.split(",") if c]
    diff, monotone = check_lda_and_mllt()
    print(f"LDA against scikit-learn's: max difference {diff:.1e}; MLLT objective never decreases: {monotone}")
    print(f"{len(X)} FSDD digits, extra sets: {len(extra)}; passes {args.passes}, fMLLR rounds {args.fmllr_iter}, "
          f"LDA {args.context * 2 + 1} x 13 -> {args.lda_dim} (floor {args.lda_reg:g}, CMVN {args.lda_cmvn}); "
          f"blocks {args.block or 'all'}{', diagonal' if args.diag else ''}; entry/exit states "
          f"{args.entry_states}/{args.exit_states} at {args.edge_penalty:g}; onset crops {args.crop_onset or 'none'}; "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    names = sorted(set(speakers))
    acc = {r: {} for r in args.rows}
    for s in names:
        tr, te = np.flatnonzero(speakers != s), np.flatnonzero(speakers == s)
        own = [X[i] for i in tr] + [C[i] for C in crops for i in tr if C[i] is not None]
        sets = [(own, np.concatenate([words[tr]] + [words[[i for i in tr if C[i] is not None]] for C in crops]))]
        sets += extra
        test = [X[i] for i in te]
        t0 = time.perf_counter()
        base = fit(sets, **params)
        front = {"base": (base, test, sets)}  # front end -> (models, test features, training sets)
        if any(r.startswith(("lda", "mllt")) for r in args.rows):
            project = lda_sets(base, sets, [[x[:, :13] for x in S] for S, _ in sets], args.lda_dim, args.context,
                               args.lda_cmvn)
            lsets = [(project([x[:, :13] for x in S]), y) for S, y in sets]
            ltest = project([x[:, :13] for x in test])
            lparams = {**params, "reg_covar": args.lda_reg}
            front["lda"] = (fit(lsets, **lparams), ltest, lsets)
        if any(r.startswith("mllt") for r in args.rows):
            mrec, msets, M = mllt(front["lda"][0], lsets, lparams)
            front["mllt"] = (mrec, [x @ M.T for x in ltest], msets)
        for r in args.rows:
            t1 = time.perf_counter()
            kind = r.split("+")[0] if r.split("+")[0] in front else "base"
            rec, T, trsets = front[kind]
            if r.endswith("sat"):
                rec = sat(trsets, speakers[tr], params if kind == "base" else lparams, args.fmllr_iter)
            if "fmllr" in r or "sat" in r:
                pred = adapt(rec, T, args.passes, args.fmllr_iter, args.block, args.diag)
            else:
                pred = rec.predict(T, threshold=None)
            acc[r][s] = np.mean(pred == words[te])
            print(f"  {s:>8} {r:>10}: {100 * acc[r][s]:5.1f}%  (fold {time.perf_counter() - t0:.0f} s, "
                  f"row {time.perf_counter() - t1:.1f} s, load {os.getloadavg()[0]:.1f})", flush=True)
    print("\n" + f"{'row':>12} " + " ".join(f"{s:>8}" for s in names) + f" {'all':>7}")
    for r in args.rows:
        print(f"{r + (' -x' if extra else ''):>12} " + " ".join(f"{100 * acc[r][s]:>7.1f}%" for s in names)
              + f" {100 * np.mean(list(acc[r].values())):>6.2f}%")


if __name__ == "__main__":
    main()
