"""The generic commands: fit, predict, select, info, sample (issue 23's matrix and the rest)."""
import bz2
import lzma

import numpy as np

from tests.badinput import makers as mk
from tests.badinput.kit import error, ok

T = "{tmp}"
CSV = {"t.csv": mk.CSV}
LONG = "x" * 300

CASES = [
    # --- inputs that are not what their names say
    error("gz-not-gzip", "fit", f"{T}/t.csv.gz", "-k", "2", files={"t.csv.gz": mk.CSV}),
    error("bz2-corrupt", "fit", f"{T}/t.csv.bz2", "-k", "2", files={"t.csv.bz2": mk.bz2_garbage}),
    error("bz2-truncated", "fit", f"{T}/t.csv.bz2", "-k", "2", files={"t.csv.bz2": mk.truncated(bz2.compress)}),
    error("xz-truncated", "fit", f"{T}/t.csv.xz", "-k", "2", files={"t.csv.xz": mk.truncated(lzma.compress)}),
    error("zip-corrupt", "fit", f"{T}/t.csv.zip", "-k", "2", files={"t.csv.zip": mk.corrupt_zip}),
    error("zst-without-zstandard", "fit", f"{T}/t.csv.zst", "-k", "2", files={"t.csv.zst": b"(\xb5/\xfd garbage"}),
    error("npz-named-npy", "fit", f"{T}/x.npy", "-k", "2", files={"x.npy": mk.npz_named_npy}),
    error("complex-npy", "fit", f"{T}/x.npy", "-k", "2", files={"x.npy": mk.npy(np.ones((50, 2)) * (1 + 1j))},
          match="complex"),
    error("binary-named-csv", "fit", f"{T}/t.csv", "-k", "2", files={"t.csv": bytes(range(256)) * 8}),
    error("parquet-garbage", "fit", f"{T}/t.parquet", "-k", "2", files={"t.parquet": b"PAR1 not really"}),
    error("missing-file", "fit", f"{T}/none.csv", "-k", "2", match="not found"),
    error("folder-as-data", "fit", T, "-k", "2"),
    error("empty-file", "fit", f"{T}/t.csv", "-k", "2", files={"t.csv": ""}),
    error("header-only", "fit", f"{T}/t.csv", "-k", "2", files={"t.csv": "a,b,c\n"}),
    error("one-row", "fit", f"{T}/t.csv", "-k", "2", files={"t.csv": "a,b\n1,2\n"}),
    error("text-cell-in-numeric-column", "fit", f"{T}/t.csv", "-k", "2",
          files={"t.csv": mk.CSV.replace("3.5,", "abc,", 1)}, match="'a'|column a|text"),
    error("all-nan-column", "fit", f"{T}/t.csv", "-k", "2",
          files={"t.csv": "a,b\n" + "".join(f"{i},\n" for i in range(30))}),
    error("inf-value", "fit", f"{T}/t.csv", "-k", "2", files={"t.csv": mk.CSV.replace("3.5,", "inf,", 1)}),
    # --- values a float can hold but EM cannot take naively: refused or fitted finitely
    error("huge-values", "fit", f"{T}/t.csv", "-k", "2", "--seed", "0", "-o", f"{T}/m.gmm",
       files={"t.csv": mk.table("a,b\n" + "".join(f"{(i % 9 + 1)}e200,{(i % 5)}e199\n" for i in range(80)))},
       match="rescale"),
    error("offset-1e12-float32", "fit", f"{T}/t.csv", "-k", "2", "--float32", "--seed", "0", "-o", f"{T}/m.gmm",
       files={"t.csv": mk.table("a,b\n" + "".join(f"{1e12 + i % 9},{i % 5}\n" for i in range(80)))},
       match="float32"),
    # --- options
    error("k-zero", "fit", "{iris}", "-k", "0"),
    error("k-text", "fit", "{iris}", "-k", "abc"),
    error("k-reversed", "fit", "{iris}", "-k", "5..2"),
    error("k-more-than-rows", "fit", f"{T}/t.csv", "-k", "100", files=CSV),
    error("select-k-unbounded", "select", "{iris}", "-k", "1..100000", match="at most|too many|K"),
    error("covariance-unknown", "fit", "{iris}", "-k", "2", "-c", "bogus", match="bogus"),
    error("columns-unknown", "fit", "{iris}", "-k", "2", "--columns", "nosuch", match="nosuch"),
    error("columns-position-out-of-range", "fit", "{iris}", "-k", "2", "--columns", "99"),
    error("weights-unknown", "fit", "{iris}", "-k", "2", "--weights", "nosuch", match="nosuch"),
    error("weights-negative", "fit", f"{T}/t.csv", "-k", "2", "--weights", "w",
          files={"t.csv": "a,b,w\n" + "".join(f"{i % 7},{i % 3},{-1 if i == 5 else 1}\n" for i in range(40))}),
    error("tol-nan", "fit", "{iris}", "-k", "2", "--tol", "nan"),
    error("reg-covar-inf", "fit", "{iris}", "-k", "2", "--reg-covar", "inf"),
    error("max-iter-zero", "fit", "{iris}", "-k", "2", "--max-iter", "0"),
    error("seed-negative", "fit", "{iris}", "-k", "2", "--seed", "-1"),
    error("scheduler-not-an-address", "fit", "{iris}", "-k", "2", "--scheduler", "notaurl"),
    error("init-unknown", "fit", "{iris}", "-k", "2", "--init", "magic"),
    error("unknown-command", "fitt", "{iris}"),
    # --- outputs: never replaced without --force, never half-written, clear errors for bad places
    error("fit-out-exists", "fit", "{iris}", "-k", "2", "-o", f"{T}/m.gmm", files={"m.gmm": "precious"},
          keep=("m.gmm",), match="exists|force"),
    error("out-under-a-file", "fit", "{iris}", "-k", "2", "-o", f"{T}/file.txt/m.gmm", files={"file.txt": "x"},
          keep=("file.txt",)),
    error("out-name-too-long", "fit", "{iris}", "-k", "2", "-o", f"{T}/{LONG}.gmm"),
    error("select-plot-over-model", "select", "{iris}", "-k", "1..2", "-o", f"{T}/best.gmm",
          "--plot", f"{T}/best.gmm"),
    error("select-plot-exists", "select", "{iris}", "-k", "1..2", "--plot", f"{T}/p.png",
          files={"p.png": b"precious"}, keep=("p.png",)),
    error("predict-out-exists", "predict", "{model}", "{iris}", "-o", f"{T}/p.csv", files={"p.csv": "precious"},
          keep=("p.csv",)),
    error("sample-out-exists", "sample", "{model}", "-n", "5", "-o", f"{T}/s.csv", files={"s.csv": "precious"},
          keep=("s.csv",)),
    error("sample-seed-negative", "sample", "{model}", "--seed", "-1"),
    error("sample-n-huge", "sample", "{model}", "-n", "1e10"),
    error("sample-n-zero", "sample", "{model}", "-n", "0"),
    error("select-plot-without-matplotlib", "select", "{iris}", "-k", "1..2", "-o", f"{T}/best.gmm",
          "--plot", f"{T}/p.png", without=("matplotlib", "matplotlib.pyplot"), match="matplotlib",
          absent=("best.gmm",)),
    # --- predict against the wrong data
    error("predict-missing-column", "predict", "{model}", f"{T}/t.csv", files={"t.csv": "sepal_length,x\n1,2\n"}),
    error("predict-empty", "predict", "{model}", f"{T}/t.csv", files={"t.csv": ""}),
    # --- model files: crafted, corrupt, hostile
    error("model-not-zip", "info", f"{T}/m.gmm", files={"m.gmm": "hello"}, match="^(?!.*pickle)"),
    error("model-is-csv", "predict", "{iris}", "{iris}"),
    error("model-meta-list", "info", f"{T}/m.gmm", files={"m.gmm": mk.model_with_meta(lambda m: [1, 2])}),
    error("model-meta-null", "predict", f"{T}/m.gmm", "{iris}", files={"m.gmm": mk.model_with_meta(lambda m: None)}),
    error("model-params-wrong-type", "sample", f"{T}/m.gmm", files={"m.gmm": mk.model_with_meta(
        lambda m: {**m, "params": {**m["params"], "n_components": "two"}})}),
    error("model-ansi-escape", "info", f"{T}/m.gmm",
          files={"m.gmm": mk.model_with_meta(lambda m: {**m, "kind": "\x1b[31mEvil\x1b[0m"})}),
    error("model-negative-precision-diagonal", "predict", f"{T}/m.gmm", "{iris}",
          files={"m.gmm": mk.model_with_array("precisions_cholesky", mk.negate_first_diagonal)}),
    error("model-nan-mean", "predict", f"{T}/m.gmm", "{iris}",
          files={"m.gmm": mk.model_with_array("means", lambda a: a * np.nan)}),
    error("model-weights-not-summing-to-one", "sample", f"{T}/m.gmm",
          files={"m.gmm": mk.model_with_array("weights", lambda a: a * 3)}),
    error("model-truncated", "info", f"{T}/m.gmm",
          files={"m.gmm": lambda p, a: p.write_bytes(open(a["model"], "rb").read()[:300])}),
    # --- what should simply work
    ok("fit-ok", "fit", "{iris}", "-k", "2", "--seed", "0", "-o", f"{T}/m.gmm"),
    ok("fit-force", "fit", "{iris}", "-k", "2", "--seed", "0", "-o", f"{T}/m.gmm", "--force",
       files={"m.gmm": "old"}),
    ok("info-ok", "info", "{model}"),
    ok("predict-ok", "predict", "{model}", "{iris}", "-o", f"{T}/p.csv"),
    ok("sample-ok", "sample", "{model}", "-n", "5", "--seed", "0"),
]
