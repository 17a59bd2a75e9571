"""Writing a segmentation's files as one set: label map, recoloured image, boundaries,
foreground mask, overlay, per-segment masks, probabilities and the JSON summary.

The set is never mixed: every file is first written into a hidden temporary folder
inside the output folder; then, with Ctrl-C and SIGTERM held back (delivered right
after), the old summary of the same name is removed, the files are renamed into
place, stale files of an earlier run (``NAME_proba.npy``, masks) that the new set
does not have are removed, and the summary is renamed last. An interruption before
that moment leaves the old set untouched; the temporary folder is always removed.
"""
from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import tempfile
import threading
import time

import numpy as np

from gmmkit.exceptions import DataError

from .images import label_palette

BOUNDARY_COLOUR = (255, 230, 0)
# files of one image that an earlier run may have written (removed when the new set lacks them)
_OPTIONAL = ("{stem}_proba.npy", "{stem}_foreground.png", "{stem}_overlay.png", "{stem}_segment*.png")


def boundary_mask(labels, thickness=1):
    """(H, W) bool: pixels whose right or lower neighbour has another label, grown to ``thickness``."""
    b = np.zeros(labels.shape, dtype=bool)
    np.not_equal(labels[:, 1:], labels[:, :-1], out=b[:, :-1])
    b[:-1, :] |= labels[1:, :] != labels[:-1, :]
    for _ in range(int(thickness) - 1):
        g = b.copy()
        g[1:, :] |= b[:-1, :]
        g[:, 1:] |= b[:, :-1]
        b = g
    return b


def output_paths(out_dir, stem, *, probabilities=False, foreground=False, k=0):
    """Where :func:`write_outputs` puts each file (a dict name -> path)."""
    paths = {
        "labels": os.path.join(out_dir, f"{stem}_labels.png"),
        "recolored": os.path.join(out_dir, f"{stem}_recolored.png"),
        "boundaries": os.path.join(out_dir, f"{stem}_boundaries.png"),
    }
    if foreground:
        paths["foreground"] = os.path.join(out_dir, f"{stem}_foreground.png")
        paths["overlay"] = os.path.join(out_dir, f"{stem}_overlay.png")
        for i in range(k):
            paths[f"segment{i}"] = os.path.join(out_dir, f"{stem}_segment{i}.png")
    if probabilities:
        paths["probabilities"] = os.path.join(out_dir, f"{stem}_proba.npy")
    paths["summary"] = os.path.join(out_dir, f"{stem}_summary.json")
    return paths


@contextlib.contextmanager
def _signals_held():
    """Hold Ctrl-C and SIGTERM back while the set is renamed into place; deliver them after.

    Python runs signal handlers in the main thread between bytecodes, whichever thread the
    signal arrived on, so swapping the handlers for ones that only record is enough (a
    thread-level signal mask would not be: the signal may land on a worker thread).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)  # now handled as usual (KeyboardInterrupt, 'terminated')


def _jobs(seg, tmp_paths):
    """(function, args, kwargs) of every image file of the set."""
    from .images import write_indexed_png, write_npy, write_rgb_png

    pic = seg.picture
    H, W = seg.labels.shape
    k = seg.n_components
    index = seg.labels.astype(np.uint8)  # -1 -> 255: the transparent entry
    transparent = 255 if pic is not None and pic.mask is not None else None
    jobs = [
        (write_indexed_png, (tmp_paths["labels"], index, label_palette(k)), {"transparent": transparent}),
        (write_indexed_png, (tmp_paths["recolored"], index, seg.mean_colors), {"transparent": transparent}),
    ]
    if pic is not None:
        over = pic.display.copy()
        over[boundary_mask(seg.labels, max(1, max(H, W) // 1500))] = BOUNDARY_COLOUR
        jobs.append((write_rgb_png, (tmp_paths["boundaries"], over), {}))
    if "foreground" in tmp_paths:
        from .foreground import overlay

        fg = seg.foreground_mask()
        bw = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
        jobs.append((write_indexed_png, (tmp_paths["foreground"], fg.astype(np.uint8), bw), {}))
        if pic is not None:
            jobs.append((write_rgb_png, (tmp_paths["overlay"], overlay(pic.display, fg)), {}))
        for i in range(k):
            jobs.append((write_indexed_png, (tmp_paths[f"segment{i}"], (seg.labels == i).astype(np.uint8), bw), {}))
    if seg.probabilities is not None:
        jobs.append((write_npy, (tmp_paths["probabilities"], seg.probabilities), {}))
    return jobs


def write_outputs(seg, out_dir, stem, *, extra=None):
    """Write every output of ``seg`` as one set (see the module docstring); return the summary dict."""
    from concurrent.futures import ThreadPoolExecutor

    from gmmkit import __version__

    t = time.perf_counter()
    out_dir = os.fspath(out_dir)
    fg = getattr(seg, "foreground", None) is not None
    paths = output_paths(out_dir, stem, probabilities=seg.probabilities is not None, foreground=fg,
                         k=seg.n_components)
    if seg.picture is None:
        paths.pop("boundaries")
        paths.pop("overlay", None)
    try:
        os.makedirs(out_dir, exist_ok=True)
        work = tempfile.mkdtemp(prefix=".tmp-segment-", dir=out_dir)
    except OSError as exc:
        raise DataError(f"{out_dir}: cannot write the outputs there ({exc.strerror or exc})") from None
    try:
        tmp_paths = {name: os.path.join(work, os.path.basename(p)) for name, p in paths.items()}
        jobs = _jobs(seg, tmp_paths)
        # PNG encoding releases the GIL: the files are written side by side
        with ThreadPoolExecutor(max_workers=min(len(jobs), 3)) as pool:
            for f in [pool.submit(fn, *a, **kw) for fn, a, kw in jobs]:
                f.result()
        seg.timings["write"] = time.perf_counter() - t
        seg.timings["total"] = sum(v for key, v in seg.timings.items() if key not in ("segment_total", "total"))
        summary = dict(extra or {})
        summary.update(seg.summary())
        summary["outputs"] = paths
        summary["gmmkit_version"] = __version__
        with open(tmp_paths["summary"], "w", encoding="utf-8") as fh:
            json.dump(summary, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_paths["summary"], os.stat(tmp_paths["labels"]).st_mode & 0o777)
        with _signals_held():
            _replace_set(paths, tmp_paths, out_dir, stem)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return summary


def _replace_set(paths, tmp_paths, out_dir, stem):
    """Rename the new set into place: old summary out first, new summary in last."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(paths["summary"])
    keep = set(paths.values())
    for pattern in _OPTIONAL:
        for old in glob.glob(os.path.join(glob.escape(out_dir), pattern.format(stem=glob.escape(stem)))):
            if old not in keep:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(old)
    for name, p in paths.items():
        if name != "summary":
            os.replace(tmp_paths[name], p)
    os.replace(tmp_paths["summary"], paths["summary"])
