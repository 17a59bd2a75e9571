"""Pixel features: sRGB to CIELAB (D65), HSV (hue on the circle), RGB and gray, in NumPy.

All features are float32 on scales of about 0..100 so that one ``reg_covar``
suits them all:

* ``lab``: CIE L*a*b* (D65 white, 2-degree observer) of the sRGB pixels.
* ``rgb``: R, G, B scaled to 0..100.
* ``hsv``: (S cos H, S sin H, V) with S, V in 0..100, so hue wraps around
  (red at 359 degrees is next to red at 1 degree) and gray pixels, whose hue is
  meaningless, sit at the centre.
* ``gray``: one channel, the lightness 0..100 (sRGB luma for colour input).

>>> import numpy as np
>>> from gmmkit_apps.segment.colour import rgb_to_lab
>>> lab = rgb_to_lab(np.array([[255, 0, 0], [255, 255, 255]], np.uint8))
>>> [[round(float(v), 1) + 0.0 for v in px] for px in lab]
[[53.2, 80.1, 67.2], [100.0, 0.0, 0.0]]
"""
from __future__ import annotations

import numpy as np

from gmmkit.exceptions import ParameterError

FEATURES = ("lab", "rgb", "hsv", "gray")

# sRGB (linear) -> CIE XYZ, D65, divided row-wise by the D65 white point.
_WHITE = np.array([0.95047, 1.0, 1.08883])
_M = np.array([
    [0.4124564, 0.3575761, 0.1804375],
    [0.2126729, 0.7151522, 0.0721750],
    [0.0193339, 0.1191920, 0.9503041],
]) / _WHITE[:, None]
_EPS = (6 / 29) ** 3
_SLOPE = 1 / (3 * (6 / 29) ** 2)


def _srgb_linear_lut():
    c = np.arange(256) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


_LUT = _srgb_linear_lut()


def rgb_to_lab(rgb):
    """CIELAB (D65) of 8-bit sRGB pixels.

    Parameters
    ----------
    rgb : (..., 3) uint8 array

    Returns
    -------
    (..., 3) float32 array: L in 0..100, a and b in about -128..127.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.shape[-1] != 3:
        raise ParameterError(f"rgb_to_lab wants (..., 3) uint8 pixels, got {rgb.shape} {rgb.dtype}")
    from ._kernels import lab_range
    from .mrf import _run_chunks

    flat = np.ascontiguousarray(rgb.reshape(-1, 3))
    out = np.empty(flat.shape, dtype=np.float32)
    _run_chunks(lab_range, flat.shape[0],
                lambda lo, hi: (flat, _LUT, _M, _EPS, _SLOPE, lo, hi, out))
    return out.reshape(rgb.shape)


def rgb_to_hsv_circle(rgb):
    """(S cos H, S sin H, V) of 8-bit RGB pixels, S and V in 0..100; (..., 3) float32."""
    x = np.asarray(rgb, dtype=np.float32).reshape(-1, 3) / 255.0
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    v = x.max(axis=1)
    c = v - x.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(v > 0, c / v, 0.0)
        cs = np.where(c > 0, c, 1.0)
        h = np.where(v == r, ((g - b) / cs) % 6,
                     np.where(v == g, (b - r) / cs + 2, (r - g) / cs + 4))
    h = np.where(c > 0, h, 0.0) * (np.pi / 3)
    out = np.stack([100 * s * np.cos(h), 100 * s * np.sin(h), 100 * v], axis=1).astype(np.float32)
    return out.reshape(np.shape(rgb))


def luma(rgb):
    """Lightness 0..100 (the L of CIELAB) of 8-bit RGB pixels, float32 (...,)."""
    return rgb_to_lab(rgb)[..., 0]


def pixel_features(pixels, kind):
    """Features of N pixels for clustering.

    Parameters
    ----------
    pixels : (N, 3) uint8 array (RGB) or (N,) float array (gray, already 0..100)
    kind : {'lab', 'rgb', 'hsv', 'gray'}
        Gray pixels always give the one 'gray' feature.

    Returns
    -------
    (N, D) float32 array, D = 3 (lab, rgb, hsv) or 1 (gray).
    """
    if kind not in FEATURES:
        raise ParameterError(f"unknown feature space {kind!r}; choose one of {', '.join(FEATURES)}")
    if pixels.ndim == 1:
        return np.asarray(pixels, dtype=np.float32)[:, None]
    if kind == "lab":
        return rgb_to_lab(pixels)
    if kind == "rgb":
        return pixels.astype(np.float32) * np.float32(100 / 255)
    if kind == "hsv":
        return rgb_to_hsv_circle(pixels)
    return luma(pixels)[:, None]
