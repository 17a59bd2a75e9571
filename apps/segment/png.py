"""A small RGB PNG encoder that compresses row blocks in parallel threads.

Pillow's PNG encoder runs on one core (about 1.1 s for a 12-megapixel RGB image
at zlib level 1); here the rows are filtered with PNG's "Up" filter in NumPy,
the filtered bytes are cut into blocks, and each block is deflated in its own
thread (zlib releases the GIL) with a sync flush, so the raw deflate streams
simply concatenate into one valid zlib stream (as pigz does). Output size is
about Pillow's; any PNG reader decodes it.

>>> import numpy as np, tempfile, os
>>> from PIL import Image
>>> rgb = np.random.default_rng(0).integers(0, 256, (7, 5, 3)).astype(np.uint8)
>>> path = os.path.join(tempfile.mkdtemp(), "x.png")
>>> write_png_rgb(path, rgb)
>>> bool(np.array_equal(np.asarray(Image.open(path)), rgb))
True
"""
from __future__ import annotations

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_UP = 2  # PNG filter type: byte minus the byte above


def _chunk(tag, data):
    return (struct.pack(">I", len(data)) + tag + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))


def _deflate(raw, lo, hi, level, last):
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(raw[lo:hi]) + c.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


def encode_png_rgb(rgb, *, level=1, n_blocks=None):
    """The bytes of an 8-bit RGB PNG of ``rgb`` ((H, W, 3) uint8)."""
    from .mrf import n_threads, thread_pool

    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got shape {rgb.shape}")
    H, W, _ = rgb.shape
    rows = rgb.reshape(H, W * 3)
    filt = np.empty((H, W * 3 + 1), dtype=np.uint8)
    filt[:, 0] = _UP
    filt[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filt[1:, 1:])  # uint8 wrap-around, as PNG wants
    raw = memoryview(filt.reshape(-1))
    if n_blocks is None:
        n_blocks = 1 if H * W < 1_000_000 else 2 * n_threads()
    n_blocks = max(1, min(int(n_blocks), H))
    stride = W * 3 + 1
    bounds = [(b * H // n_blocks) * stride for b in range(n_blocks + 1)]
    args = [(raw, bounds[b], bounds[b + 1], level, b == n_blocks - 1) for b in range(n_blocks)]
    if n_blocks == 1:
        parts = [_deflate(*args[0])]
    else:
        parts = [f.result() for f in [thread_pool().submit(_deflate, *a) for a in args]]
    stream = b"\x78\x01" + b"".join(parts) + struct.pack(">I", zlib.adler32(raw) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)  # 8-bit, truecolour, no interlace
    return b"".join([_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", stream), _chunk(b"IEND", b"")])


def write_png_rgb(path, rgb, *, level=1, n_blocks=None):
    """Write ``rgb`` as a PNG file at ``path`` (plain write; callers wrap it in atomic_path)."""
    data = encode_png_rgb(rgb, level=level, n_blocks=n_blocks)
    with open(path, "wb") as fh:
        fh.write(data)
