"""Foreground and background from a segmentation: which segments are objects, and the objects.

A mixture gives segments, not "cells against background". :func:`choose_foreground`
decides which segments are foreground by one of three rules:

* ``"border"``: the background is what the image's border is made of. The segment with
  the largest share of the one-pixel frame, and every segment whose share of the frame is
  at least its share of the whole image, are background; the others are foreground
  (objects touch the border less than they fill the image).
* ``"bright"`` / ``"dark"``: segments are split into two groups by the lightness of
  their mean colours (Otsu's rule on the segments' mean lightness weighted by their
  pixel counts); the bright (or dark) group is foreground.
* ``"auto"`` (default): ``"border"`` when the border is decisive (one group of segments
  covers at least 75% of it and the rule leaves some foreground), otherwise ``"bright"``.

A list of segment numbers is taken as it is (the user's hint).
:func:`objects` counts the connected foreground objects (4-connectivity) and their sizes.

>>> import numpy as np
>>> labels = np.zeros((10, 10), dtype=np.int32); labels[2:5, 2:5] = 1; labels[6:9, 6:8] = 1
>>> fg, rule = choose_foreground(labels, np.array([10.0, 80.0]))
>>> fg, rule
([1], 'border')
>>> objects(np.isin(labels, fg))
{'count': 2, 'sizes': [9, 6], 'area': 15, 'area_fraction': 0.15}
"""
from __future__ import annotations

import numpy as np

from gmmkit.exceptions import ParameterError

HINTS = ("auto", "border", "bright", "dark")
# sizes of at most this many objects are listed in the summary (the largest first)
MAX_LISTED_OBJECTS = 1000


def border_shares(labels, k):
    """(K,) share of each segment on the one-pixel frame of the image (masked pixels ignored)."""
    frame = np.concatenate([labels[0], labels[-1], labels[1:-1, 0], labels[1:-1, -1]])
    frame = frame[frame >= 0]
    counts = np.bincount(frame, minlength=k)[:k].astype(float)
    return counts / max(counts.sum(), 1.0)


def _otsu_groups(lightness, counts):
    """Indices of the bright group: the split of the sorted segment lightnesses that maximises
    the between-group variance (Otsu's rule over segments weighted by pixel count)."""
    order = np.argsort(lightness)
    w = counts[order].astype(float)
    m = lightness[order].astype(float)
    best, cut = -1.0, 1
    for c in range(1, len(order)):
        w0, w1 = w[:c].sum(), w[c:].sum()
        if w0 <= 0 or w1 <= 0:
            continue
        d = (w[:c] @ m[:c]) / w0 - (w[c:] @ m[c:]) / w1
        score = w0 * w1 * d * d
        if score > best:
            best, cut = score, c
    return sorted(int(i) for i in order[cut:])


def choose_foreground(labels, lightness, *, hint="auto"):
    """Which segments are foreground.

    Parameters
    ----------
    labels : (H, W) int array
        Segment of every pixel (-1 = masked out).
    lightness : (K,) array
        Mean lightness of every segment (any increasing brightness scale).
    hint : {'auto', 'border', 'bright', 'dark'} or list of int
        The rule (see the module docstring) or the foreground segments themselves.

    Returns
    -------
    (foreground segments as a sorted list, the rule used)
    """
    lightness = np.asarray(lightness, dtype=float)
    k = lightness.size
    if k < 2:
        raise ParameterError("a foreground needs at least 2 segments (use -k 2 or more)")
    if not isinstance(hint, str):
        fg = sorted({int(i) for i in hint})
        if not fg or min(fg) < 0 or max(fg) >= k:
            raise ParameterError(f"foreground segments must be between 0 and {k - 1}, got {list(hint)}")
        if len(fg) == k:
            raise ParameterError("every segment was named foreground: nothing would be background")
        return fg, "given"
    if hint not in HINTS:
        raise ParameterError(f"foreground hint must be one of {', '.join(HINTS)} or segment numbers, got {hint!r}")
    counts = np.bincount(labels[labels >= 0].ravel(), minlength=k)[:k].astype(float)
    bright = _otsu_groups(lightness, counts)
    if hint == "bright":
        return bright, "bright"
    if hint == "dark":
        return sorted(set(range(k)) - set(bright)), "dark"
    share = counts / max(counts.sum(), 1.0)
    frame = border_shares(labels, k)
    top = int(np.argmax(frame))  # what the border is mostly made of is background, always
    by_border = [i for i in range(k) if frame[i] < share[i] and i != top]
    if hint == "border":
        if not by_border:
            raise ParameterError("the border rule finds no foreground (every segment fills the border "
                                 "as much as the image); use --fg bright or dark")
        return by_border, "border"
    background_on_frame = sum(frame[i] for i in range(k) if i not in by_border)
    if by_border and background_on_frame >= 0.75:
        return by_border, "border"
    return bright, "bright"


def objects(mask):
    """Connected foreground objects (4-connectivity): count, sizes (largest first), area.

    ``sizes`` lists at most :data:`MAX_LISTED_OBJECTS` objects; ``count`` counts them all.
    """
    from scipy import ndimage

    mask = np.asarray(mask, dtype=bool)
    lab, n = ndimage.label(mask)
    sizes = np.sort(np.bincount(lab.ravel())[1:])[::-1]
    area = int(mask.sum())
    return {"count": int(n), "sizes": [int(s) for s in sizes[:MAX_LISTED_OBJECTS]],
            "area": area, "area_fraction": round(area / max(mask.size, 1), 6)}


def overlay(display, mask, colour=(255, 40, 40), alpha=0.45):
    """The image with the foreground tinted by ``colour`` and its outline drawn solid, (H, W, 3) uint8."""
    out = display.astype(np.float32)
    tint = np.asarray(colour, dtype=np.float32)
    out[mask] = (1 - alpha) * out[mask] + alpha * tint
    edge = np.zeros_like(mask)
    edge[:, :-1] |= mask[:, :-1] != mask[:, 1:]
    edge[:-1, :] |= mask[:-1, :] != mask[1:, :]
    out[edge & mask] = tint
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
