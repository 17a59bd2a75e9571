"""Point masses: many pixels sharing one exact value (clipping, saturation, a black border).

A Gaussian mixture fitted to pixels of which, say, 15% are exactly 0 (noise clipped
at black) puts one component on that spike: its variance shrinks to the covariance
floor, its likelihood there is huge, and the segmentation is spent on the artefact
(Dice 0.39 on the clipped noisy nuclei, whatever the smoothing). scikit-learn's and
OpenCV's EM do the same, silently.

:func:`find_point_masses` finds such spikes in the image's values: one exact value
(gray level or RGB triple) holding at least ``min_share`` of the pixels and at least
``ratio`` times as many pixels as the busiest of its neighbouring values (within 3
levels, per channel for colour). It only looks when the spikes leave most of the
image (at least half) continuous: a flat synthetic picture made of a few exact
colours is data, not an artefact. The caller then leaves the spike pixels out of the
fit and labels them with the model fitted on the rest (they are reported).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> img = np.clip(rng.normal(20, 20, (100, 100)), 0, 255).astype(np.uint8)
>>> [(s["value"], round(s["share"], 2)) for s in find_point_masses(img)]
[(0, 0.17)]
"""
from __future__ import annotations

import numpy as np

MIN_SHARE = 0.01
RATIO = 5.0
NEIGHBOURS = 3
# the pixels outside the spikes must hold at least this many distinct values to be "continuous"
MIN_DISTINCT = 32
# above this many pixels an RGB image's spikes are found from a sample (then counted exactly)
_EXACT_MAX = 2_000_000
_SAMPLE = 400_000


def _codes(pixels):
    """One code per pixel: the gray value itself (any dtype) or the packed RGB triple (uint8)."""
    a = np.asarray(pixels)
    if a.ndim == 2:
        return a.ravel(), 1
    if a.ndim == 3 and a.shape[2] == 3 and a.dtype == np.uint8:
        f = a.reshape(-1, 3).astype(np.int64)
        return (f[:, 0] << 16) | (f[:, 1] << 8) | f[:, 2], 3
    return None, 0


def _neighbour_counts(i, values, counts, lookup, channels):
    """Counts of the values next to values[i]: the 3 distinct gray values on each side, or the
    RGB triples within 3 levels in one channel."""
    if channels == 1:
        lo, hi = max(i - NEIGHBOURS, 0), min(i + NEIGHBOURS + 1, values.size)
        return [int(c) for j, c in zip(range(lo, hi), counts[lo:hi]) if j != i]
    code = int(values[i])
    rgb = [(code >> 16) & 255, (code >> 8) & 255, code & 255]
    out = []
    for c in range(3):
        for d in range(-NEIGHBOURS, NEIGHBOURS + 1):
            v = rgb[c] + d
            if d == 0 or not 0 <= v <= 255:
                continue
            n = list(rgb)
            n[c] = v
            out.append(lookup.get((n[0] << 16) | (n[1] << 8) | n[2], 0))
    return out


def find_point_masses(pixels, mask=None, *, min_share=MIN_SHARE, ratio=RATIO):
    """Spikes of identical values in an image.

    Parameters
    ----------
    pixels : (H, W) gray array (any number type) or (H, W, 3) uint8 RGB array
        The image's values (a continuous float image has no exact repeats but at its clipped ends).
    mask : (H, W) bool array, optional
        Pixels to look at.

    Returns
    -------
    list of dict ``{"value", "share", "pixels"}`` (value: gray level or [R, G, B]),
    largest first; empty when there is no spike or the image is mostly made of exact values.
    """
    codes, channels = _codes(pixels)
    if codes is None:
        return []
    if mask is not None:
        codes = codes[np.asarray(mask, bool).ravel()]
    n = codes.size
    if n == 0:
        return []
    if channels == 3 and n > _EXACT_MAX:
        return _rgb_spikes_large(codes, min_share, ratio)
    values, counts = np.unique(codes, return_counts=True)
    big = np.flatnonzero(counts >= min_share * n)
    lookup = dict(zip(values.tolist(), counts.tolist())) if channels == 3 else None
    spikes = []
    for i in big[np.argsort(-counts[big])]:
        code, count = values[i], int(counts[i])
        around = max(_neighbour_counts(i, values, counts, lookup, channels), default=0)
        if count >= ratio * max(around, 1):
            code = code.item()
            value = code if channels == 1 else [(code >> 16) & 255, (code >> 8) & 255, code & 255]
            spikes.append({"value": value, "share": count / n, "pixels": count, "_code": code})
    return spikes if _continuous_rest(codes, spikes) else []


def _continuous_rest(codes, spikes, sample=None):
    """Whether the pixels outside the spikes are a continuous picture: at least 10% of them, with
    at least MIN_DISTINCT distinct values (if a sample of them has that many, so do they all)."""
    rest = np.ones(codes.size, dtype=bool)
    if spikes:
        rest = ~np.isin(codes, [s["_code"] for s in spikes])
    if rest.sum() < 0.1 * codes.size:
        return False  # mostly exact values: a flat picture, not an artefact on a continuous one
    if sample is not None and np.unique(codes[sample][rest[sample]]).size >= MIN_DISTINCT:
        return True
    return np.unique(codes[rest]).size >= MIN_DISTINCT


def _rgb_spikes_large(codes, min_share, ratio):
    """find_point_masses for a large RGB image without sorting all its pixels: candidates from a
    fixed random sample of _SAMPLE pixels (any value above half the share there), then every
    count exact (the candidates' and their neighbours')."""
    n = codes.size
    sample = np.random.default_rng(0).integers(0, n, _SAMPLE)
    values, counts = np.unique(codes[sample], return_counts=True)
    spikes = []
    for code in values[counts >= 0.5 * min_share * _SAMPLE].tolist():
        count = int(np.count_nonzero(codes == code))
        if count < min_share * n:
            continue
        rgb = [(code >> 16) & 255, (code >> 8) & 255, code & 255]
        near = []
        for c in range(3):
            for d in range(-NEIGHBOURS, NEIGHBOURS + 1):
                if d != 0 and 0 <= rgb[c] + d <= 255:
                    m = list(rgb)
                    m[c] += d
                    near.append((m[0] << 16) | (m[1] << 8) | m[2])
        around = np.unique(codes[np.isin(codes, near)], return_counts=True)[1]
        if count >= ratio * max(int(around.max(initial=0)), 1):
            spikes.append({"value": rgb, "share": count / n, "pixels": count, "_code": code})
    spikes.sort(key=lambda s: -s["pixels"])
    return spikes if _continuous_rest(codes, spikes, sample) else []


def mark_solid(spikes, pixels, shape):
    """Add ``solid`` to each spike: True when most of its pixels (>= 50%) have their 4 neighbours
    in the spike too - a region (a black background or border) rather than scattered clipped
    noise. Solid spikes are modelled apart as their own segment; scattered ones are left out of
    the fit and labelled by the model."""
    H, W = shape
    codes, _ = _codes(pixels)
    for s in spikes:
        m = (codes == s["_code"]).reshape(H, W)
        inner = m.copy()
        inner[1:] &= m[:-1]
        inner[:-1] &= m[1:]
        inner[:, 1:] &= m[:, :-1]
        inner[:, :-1] &= m[:, 1:]
        s["solid"] = bool(inner.sum() >= 0.5 * max(m.sum(), 1))
    return spikes


def clipped_channels(pixels, mask=None, *, min_share=MIN_SHARE, ratio=RATIO):
    """Channels of an RGB uint8 image with a spike at one value (clipping at 0 or 255, a colour
    cast): ``[{"channel": "R", "value": 0, "share": ...}]``. A mixture can put a component flat
    on such a plane (zero variance in that channel); the caller then floors the covariances."""
    a = np.asarray(pixels)
    if a.ndim != 3 or a.dtype != np.uint8:
        return []
    flat = a.reshape(-1, 3) if mask is None else a[np.asarray(mask, bool)]
    out = []
    for c, name in enumerate("RGB"):
        counts = np.bincount(flat[:, c], minlength=256)
        n = max(int(counts.sum()), 1)
        for v in (0, 255):
            near = counts[1:1 + NEIGHBOURS] if v == 0 else counts[255 - NEIGHBOURS:255]
            if counts[v] >= min_share * n and counts[v] >= ratio * max(int(near.max()), 1):
                out.append({"channel": name, "value": v, "share": counts[v] / n})
    return out


def spike_pixels(pixels, spikes):
    """(H*W,) bool: the pixels whose value is one of ``spikes`` (from :func:`find_point_masses`)."""
    codes, _ = _codes(pixels)
    if codes is None or not spikes:
        return np.zeros(np.asarray(pixels).shape[0] * np.asarray(pixels).shape[1], dtype=bool)
    return np.isin(codes, [s["_code"] for s in spikes])


def public(spikes):
    """The spikes without internal fields, for the JSON summary."""
    return [{k: v for k, v in s.items() if not k.startswith("_")} for s in spikes]
