"""The applications' commands: outliers, segment, finance, speech (issue 23's cases and more)."""
import io
import wave

import numpy as np

from tests.badinput import makers as mk
from tests.badinput.kit import error, ok

T = "{tmp}"
IDX = "{data}/finance/indices.csv.gz"
IMG = "{data}/images/coins.png"
SPK = "{data}/speech/speakers/allison/agent-alreadyon.flac"


def wav_rate_zero(path, assets):
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes((np.sin(np.arange(8000) / 5) * 8000).astype("<i2").tobytes())
    blob = bytearray(buf.getvalue())
    blob[24:28] = (0).to_bytes(4, "little")  # the header's sample rate
    path.write_bytes(bytes(blob))


def one_colour_png(path, assets):
    from PIL import Image

    Image.fromarray(np.full((20, 30, 3), 90, np.uint8)).save(path)


def eps_named_png(path, assets):
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")


NO_MPL = ("matplotlib", "matplotlib.pyplot")

SEGMENTS_BAD_START = "file,start,end,label\n" + f"{SPK},abc,0.5,x\n"

CASES = [
    # --- outliers
    error("outliers-threshold-nan", "outliers", "{iris}", "--threshold", "nan"),
    error("outliers-contamination-above-one", "outliers", "{iris}", "--contamination", "1.5"),
    error("outliers-seed-negative", "outliers", "{iris}", "--seed", "-1"),
    error("outliers-show-negative", "outliers", "{iris}", "--explain", "--show", "-5"),
    error("outliers-out-exists", "outliers", "{iris}", "-o", f"{T}/o.csv", files={"o.csv": "precious"},
          keep=("o.csv",)),
    error("outliers-columns-unknown", "outliers", "{iris}", "--columns", "nosuch"),
    error("outliers-model-not-a-model", "outliers", "{iris}", "--model", "{iris}"),
    error("outliers-plot-without-matplotlib", "outliers", "{iris}", "-o", f"{T}/o.csv", "--plot", f"{T}/p.png",
          without=NO_MPL, match="matplotlib", absent=("o.csv", "p.png")),
    ok("outliers-ok", "outliers", "{iris}", "-q"),
    # --- segment
    error("segment-k-max-huge", "segment", IMG, "-k", "auto", "--k-max", "100000", "-o", f"{T}/s"),
    error("segment-k-huge", "segment", IMG, "-k", "100000", "-o", f"{T}/s"),
    error("segment-eps-named-png", "segment", f"{T}/x.png", "-o", f"{T}/s", files={"x.png": eps_named_png}),
    error("segment-text-named-png", "segment", f"{T}/x.png", "-o", f"{T}/s", files={"x.png": "hello"}),
    error("segment-smooth-method-unknown", "segment", IMG, "--smooth", "1", "--smooth-method", "magic",
          "-o", f"{T}/s"),
    error("segment-out-is-a-file", "segment", IMG, "-o", f"{T}/s", files={"s": "precious"}, keep=("s",)),
    # --- finance
    error("finance-same-ticker-twice", "finance", "portfolio", IDX, "-t", "SPX", "-t", "SPX"),
    error("finance-unknown-ticker", "finance", "risk", IDX, "-t", "NOPE"),
    error("finance-level-above-one", "finance", "risk", IDX, "-t", "SPX", "-l", "1.5"),
    error("finance-level-nan", "finance", "risk", IDX, "-t", "SPX", "-l", "nan"),
    error("finance-weights-wrong-count", "finance", "portfolio", IDX, "-t", "SPX", "-t", "IXIC", "-w", "1"),
    error("finance-absurd-prices", "finance", "fit", f"{T}/p.csv",
          files={"p.csv": mk.table("Date,Close\n" + "".join(
              f"2020-01-{d:02d},{10.0 ** (300 if d % 2 else -300)}\n" for d in range(1, 29)))}),
    error("finance-ambiguous-dates", "finance", "fit", f"{T}/p.csv",
          files={"p.csv": mk.table("Date,Close\n" + "".join(
              f"{d:02d}/{m:02d}/2018,{100 + d + 30 * m}\n" for m in (1, 2) for d in range(1, 13)))},
          match="dayfirst|date-format|day"),
    error("finance-backtest-plot-without-matplotlib", "finance", "backtest", IDX, "-t", "SPX", "--out",
          f"{T}/bt.csv", "--plot", f"{T}/pl", without=NO_MPL, match="matplotlib", absent=("bt.csv", "pl")),
    error("finance-fit-plot-without-matplotlib", "finance", "fit", IDX, "-t", "SPX", "--save", f"{T}/m.gmm",
          "--plot", f"{T}/pl", without=NO_MPL, match="matplotlib", absent=("m.gmm", "pl")),
    # --- speech
    error("speech-verify-threshold-nan", "speech", "verify", SPK, "--threshold", "nan", "--models", T,
          "--speaker", "allison"),
    error("speech-ubm-max-iter-zero", "speech", "ubm", SPK, "--max-iter", "0", "-o", f"{T}/u.gmm"),
    error("speech-wav-rate-zero", "speech", "features", f"{T}/x.wav", "-o", f"{T}/f",
          files={"x.wav": wav_rate_zero}),
    error("speech-segment-start-not-a-number", "speech", "phonemes", "train", f"{T}/seg.csv",
          "-o", f"{T}/p.gmmc", files={"seg.csv": SEGMENTS_BAD_START}),
    error("speech-features-out-exists", "speech", "features", SPK, "-o", T,
          files={"agent-alreadyon.npy": b"precious"}, keep=("agent-alreadyon.npy",)),
    # options added in session 3: refused before any work, nothing written
    error("speech-ubm-cmvn-prior-nan", "speech", "ubm", SPK, "--cmvn-prior", "nan", "-o", f"{T}/u.gmm",
          match="--cmvn-prior", absent=("u.gmm",)),
    error("speech-ubm-cmvn-prior-with-warp", "speech", "ubm", SPK, "--cmvn-prior", "300", "--warp", "3",
          "-o", f"{T}/u.gmm", match="--warp", absent=("u.gmm",)),
    error("speech-words-extra-train-missing", "speech", "words", "train", "{data}/speech/digits",
          "--extra-train", f"{T}/nowhere", "-o", f"{T}/d.gmmw", absent=("d.gmmw",)),
    error("speech-words-noise-copies-nan", "speech", "words", "train", "{data}/speech/digits",
          "--noise-copies", "nan", "-o", f"{T}/d.gmmw", match="--noise-copies", absent=("d.gmmw",)),
    error("finance-skewt-filter-on-prices-as-returns", "finance", "risk", IDX, "-t", "SPX",
          "--vol", "gjr-skewt", "--log-returns", match="prices"),
    error("speech-words-adapt-unknown", "speech", "words", "train", "{data}/speech/digits",
          "--adapt", "mllr", "-o", f"{T}/d.gmmw", match="--adapt", absent=("d.gmmw",)),
]

# routed speaker scoring (issue 20, condition detector): refused before any work, nothing written
CASES += [
    error("speech-condition-detector-degrade-clean", "speech", "condition-detector", SPK, "--degrade", "clean",
          "-o", f"{T}/d.npz", match="not 'clean'", absent=("d.npz",)),
    error("speech-condition-detector-degrade-unknown", "speech", "condition-detector", SPK, "--degrade", "pink5",
          "-o", f"{T}/d.npz", match="unknown condition", absent=("d.npz",)),
    error("speech-condition-detector-outlier-quantile-nan", "speech", "condition-detector", SPK,
          "--outlier-quantile", "nan", "-o", f"{T}/d.npz", match="outlier quantile", absent=("d.npz",)),
    error("speech-identify-detector-alone", "speech", "identify", SPK, "--models", T, "--detector", f"{T}/d.npz",
          match="go together"),
    error("speech-evaluate-degraded-models-alone", "speech", "evaluate", f"{T}/t.csv", "--models", T,
          "--degraded-models", T, match="go together", files={"t.csv": b"speaker,file,target\n"}),
    error("speech-ubm-band-pass-one-edge", "speech", "ubm", SPK, "--band-pass", "300", "-o", f"{T}/u.gmm",
          match="LO-HI", absent=("u.gmm",)),
    error("segment-one-colour", "segment", f"{T}/flat.png", "--out", f"{T}/seg", files={"flat.png": one_colour_png},
          match="nothing to segment", absent=("seg/flat_labels.png",)),
]

# fused speaker systems (issue 20, MFCC + LFCC fusion): refused before any work, nothing written
CASES += [
    error("speech-fusion-no-development-data", "speech", "fusion", "-m", T, "-m", T, "-o", f"{T}/f.gmm",
          match="--dev-trials, one of them", absent=("f.gmm",)),
    error("speech-fusion-p-target-nan", "speech", "fusion", f"{T}/e.csv", "-m", T, "-m", T, "-o", f"{T}/f.gmm",
          "--p-target", "nan", match="--p-target nan", absent=("f.gmm",), files={"e.csv": b"speaker,file\n"}),
    error("speech-identify-two-models-no-fusion", "speech", "identify", SPK, "-m", T, "-m", T, "-o", f"{T}/s.csv",
          match="several go with --fusion", absent=("s.csv",)),
    error("speech-ubm-filterbank-unknown", "speech", "ubm", SPK, "--filterbank", "bark", "-o", f"{T}/u.gmm",
          match="filterbank='bark'", absent=("u.gmm",)),
]
