"""Reading images safely (any Pillow format, EXIF orientation, alpha, 16-bit) and writing results.

Every reading problem becomes one :class:`gmmkit.exceptions.DataError` line that
names the file: not an image, truncated, empty, zero-size, or larger than the
pixel limit (a decompression bomb). Every output goes through
:func:`gmmkit.io.atomic_path`, so nothing is ever half-written.

>>> import numpy as np, tempfile, os
>>> from PIL import Image
>>> from gmmkit_apps.segment.images import read_image
>>> path = os.path.join(tempfile.mkdtemp(), "tiny.png")
>>> rgb = np.zeros((4, 6, 3), np.uint8); rgb[:, :, 0] = 200
>>> Image.fromarray(rgb).save(path)
>>> pic = read_image(path)
>>> pic.shape, pic.is_gray, pic.mask is None
((4, 6), False, True)
"""
from __future__ import annotations

import colorsys
import os
import threading
import warnings
from dataclasses import dataclass

import numpy as np

from gmmkit.exceptions import DataError, ParameterError
from gmmkit.io import atomic_path

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif", ".pgm",
                    ".ppm", ".pnm")
# the only decoders Pillow may try: a file named .png holding EPS, PDF or anything else never
# reaches another plugin (EPS would run Ghostscript)
PIL_FORMATS = ("PNG", "JPEG", "TIFF", "BMP", "DIB", "WEBP", "GIF", "PPM")
_open_lock = threading.Lock()


def default_max_pixels():
    """Pillow's decompression-bomb limit (about 89 million pixels unless changed)."""
    from PIL import Image

    return Image.MAX_IMAGE_PIXELS or 89_478_485


@dataclass
class Picture:
    """A decoded image.

    Attributes
    ----------
    pixels : (H, W, 3) uint8 RGB, or (H, W) float32 lightness 0..100 for gray images
    display : (H, W, 3) uint8 RGB for drawing (gray and 16-bit images contrast-stretched)
    mask : (H, W) bool or None
        True where the pixel is used (alpha > 0); None when every pixel is used.
    mode : str
        Pillow mode of the file ('RGB', 'L', 'I;16', 'RGBA', ...).
    """

    pixels: np.ndarray
    display: np.ndarray
    mask: np.ndarray | None
    mode: str

    @property
    def shape(self):
        return self.display.shape[:2]

    @property
    def is_gray(self):
        return self.pixels.ndim == 2


def picture_from_array(array, *, mask=None):
    """Wrap an in-memory array as a :class:`Picture`.

    ``array``: (H, W) gray (uint8 0..255, uint16 0..65535 or float, stretched
    to its range), (H, W, 3) RGB or (H, W, 4) RGBA (alpha 0 masks a pixel out).
    """
    a = np.asarray(array)
    if a.ndim not in (2, 3) or a.shape[0] == 0 or a.shape[1] == 0 or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
        raise DataError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image array, got shape {a.shape}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 3 and a.shape[2] == 4:
        alpha = a[:, :, 3] > 0
        mask = alpha if mask is None else (np.asarray(mask, bool) & alpha)
        a = a[:, :, :3]
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != a.shape[:2]:
            raise DataError(f"mask shape {mask.shape} does not match the image {a.shape[:2]}")
        if not mask.any():
            raise DataError("every pixel is masked out (fully transparent image)")
        if mask.all():
            mask = None
    if a.ndim == 3:
        if a.dtype != np.uint8:
            a = _stretch(a.astype(np.float64), mask) * 2.55
            a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
        a = np.ascontiguousarray(a)
        if _is_gray_rgb(a):  # a gray picture stored as RGB: one feature, not two constant ones
            gray = a[:, :, 0].astype(np.float32) * np.float32(100 / 255)
            return Picture(gray, a, mask, "RGB")
        return Picture(a, a, mask, "RGB")
    if a.dtype == np.uint8:
        gray = a.astype(np.float32) * np.float32(100 / 255)
    else:
        if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
            raise DataError(f"image pixels must be numbers, got dtype {a.dtype}")
        a = a.astype(np.float64)
        if not np.all(np.isfinite(a[mask] if mask is not None else a)):
            raise DataError("the image contains NaN or infinite pixels")
        gray = _stretch(a, mask).astype(np.float32)
    disp8 = np.clip(np.rint(gray * 2.55), 0, 255).astype(np.uint8)
    display = np.repeat(disp8[:, :, None], 3, axis=2)
    return Picture(gray, display, mask, "L")


def _is_gray_rgb(a):
    """True when R == G == B everywhere (a quick look at a few rows first)."""
    probe = a[:: max(1, a.shape[0] // 16)]
    if not ((probe[..., 0] == probe[..., 1]).all() and (probe[..., 1] == probe[..., 2]).all()):
        return False
    return bool((a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all())


def _stretch(a, mask):
    """Linear map of the (unmasked) value range onto 0..100."""
    vals = a[mask] if mask is not None else a
    lo, hi = float(vals.min()), float(vals.max())
    scale = 100.0 / (hi - lo) if hi > lo else 0.0
    return (a - lo) * scale


def read_image(path, *, max_pixels=None):
    """Decode an image file into a :class:`Picture`.

    Parameters
    ----------
    path : str or PathLike
        PNG, JPEG, TIFF, BMP, WebP, GIF, PNM... (the first frame of animations).
    max_pixels : int, optional
        Refuse images with more pixels (default: Pillow's decompression-bomb limit).

    Raises
    ------
    DataError
        Not an image, truncated, empty, zero-size or too large; the message names the file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = os.fspath(path)
    limit = int(max_pixels) if max_pixels else default_max_pixels()
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a folder, not an image")
    if os.path.getsize(path) == 0:
        raise DataError(f"{path}: empty file (0 bytes), not an image")
    try:
        with _open_lock, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            saved = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = limit
            try:
                im = Image.open(path, formats=PIL_FORMATS)
            finally:
                Image.MAX_IMAGE_PIXELS = saved
        with im:
            w, h = im.size
            if w == 0 or h == 0:
                raise DataError(f"{path}: zero-size image ({w}x{h})")
            if w * h > limit:
                raise DataError(
                    f"{path}: {w}x{h} = {w * h:,} pixels is over the limit of {limit:,} "
                    "(possible decompression bomb); raise it with --max-pixels if you trust the file")
            im.load()
            im = ImageOps.exif_transpose(im)
            return _picture_from_pil(im, path)
    except DataError:
        raise
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image file in a format read here "
                        f"({', '.join(PIL_FORMATS)})") from None
    except Image.DecompressionBombError:
        raise DataError(
            f"{path}: more than {limit:,} pixels (possible decompression bomb); "
            "raise the limit with --max-pixels if you trust the file") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError) as exc:
        msg = " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(f"{path}: cannot decode the image (truncated or corrupted?): {msg}") from None


def _picture_from_pil(im, path):
    mode = im.mode
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode == "PA":
        im = im.convert("RGBA")
    elif mode == "1":
        im = im.convert("L")
    elif mode in ("La",):
        im = im.convert("LA")
    elif mode in ("RGBa",):
        im = im.convert("RGBA")
    elif mode not in ("L", "LA", "RGB", "RGBA", "I", "F") and not mode.startswith("I;16"):
        im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV...
    if im.mode.startswith("I;16"):
        a = np.asarray(im).astype(np.uint16)
    elif im.mode == "LA":
        la = np.asarray(im)
        a = la[:, :, 0]
        mask = la[:, :, 1] > 0
        if not mask.any():
            raise DataError(f"{path}: every pixel is fully transparent")
        return _with_mode(picture_from_array(a, mask=mask), mode)
    else:
        a = np.asarray(im)
    try:
        return _with_mode(picture_from_array(a), mode)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None


def _with_mode(pic, mode):
    pic.mode = mode
    return pic


def _umask():
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:  # pragma: no cover - not Linux
        pass
    return 0o022


_UMASK = _umask()


def usual_mode(tmp):
    """Give a temporary output file (made 0600 by mkstemp) the permissions of a normal new file."""
    os.chmod(tmp, 0o666 & ~_UMASK)


def label_palette(k):
    """k well-separated colours (golden-angle hues), (k, 3) uint8."""
    out = []
    for i in range(k):
        h = (i * 0.618033988749895) % 1.0
        s = 0.75 if i % 2 == 0 else 0.55
        v = 0.95 if (i // 2) % 2 == 0 else 0.75
        out.append([round(255 * c) for c in colorsys.hsv_to_rgb(h, s, v)])
    return np.array(out, dtype=np.uint8).reshape(k, 3)


def _png_level(n_pixels):
    # zlib level 6 costs ~3x level 1 on multi-megapixel outputs for ~10% smaller files
    return 1 if n_pixels > 2_000_000 else 6


def write_indexed_png(path, index, palette, *, transparent=None, overwrite=True):
    """Write an (H, W) uint8 index image with a (n, 3) palette as an indexed PNG, atomically.

    ``transparent``: a palette index drawn fully transparent (masked pixels).
    """
    from PIL import Image

    index = np.ascontiguousarray(index, dtype=np.uint8)
    pal = np.zeros((256, 3), dtype=np.uint8)
    pal[: len(palette)] = palette
    im = Image.frombytes("P", (index.shape[1], index.shape[0]), index.tobytes())
    im.putpalette(pal.ravel().tolist())
    kw = {"compress_level": _png_level(index.size)}
    if transparent is not None:
        kw["transparency"] = int(transparent)
    with atomic_path(path, overwrite=overwrite, suffix=".png") as tmp:
        im.save(tmp, format="PNG", **kw)
        usual_mode(tmp)


def write_rgb_png(path, rgb, *, overwrite=True):
    """Write an (H, W, 3) uint8 image as PNG, atomically (blocks deflated in parallel threads)."""
    from .png import write_png_rgb

    with atomic_path(path, overwrite=overwrite, suffix=".png") as tmp:
        write_png_rgb(tmp, rgb, level=_png_level(rgb.shape[0] * rgb.shape[1]))
        usual_mode(tmp)


def write_npy(path, array, *, overwrite=True):
    """Write an array as .npy, atomically."""
    with atomic_path(path, overwrite=overwrite, suffix=".npy") as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array, allow_pickle=False)
        usual_mode(tmp)


def check_palette_size(k):
    if k > 255:
        raise ParameterError(f"at most 255 components fit an indexed PNG, got k={k}")
