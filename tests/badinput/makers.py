"""File makers for the bad-input matrix: each is ``make(path, assets)`` (see kit.py)."""
from __future__ import annotations

import bz2
import gzip
import io
import json
import zipfile

import numpy as np

CSV = "a,b,c\n" + "".join(f"{i % 7}.5,{(i * 3) % 11}.25,{(i * 5) % 13}.0\n" for i in range(60))


def table(text):
    """A text table written as given."""
    return lambda path, assets: path.write_text(text)


def npy(array):
    """``array`` in .npy format, whatever the file's name."""
    return lambda path, assets: path.write_bytes(_npy_bytes(array))


def npz_named_npy(path, assets):
    buf = io.BytesIO()
    np.savez(buf, x=np.ones((10, 2)))
    path.write_bytes(buf.getvalue())


def gzip_of(text):
    return lambda path, assets: path.write_bytes(gzip.compress(text.encode()))


def truncated(compress):
    """The compressed CSV cut in half."""
    def make(path, assets):
        blob = compress(CSV.encode() * 20)
        path.write_bytes(blob[: len(blob) // 2])
    return make


def corrupt_zip(path, assets):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("t.csv", CSV * 20)
    blob = bytearray(buf.getvalue())
    blob[60:90] = b"\xff" * 30
    path.write_bytes(bytes(blob))


def bz2_garbage(path, assets):
    path.write_bytes(bz2.compress(CSV.encode())[:20] + b"\x00garbage" * 10)


def _model_members(assets):
    with zipfile.ZipFile(assets["model"]) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


def _write_members(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def _meta(members):
    key = next(k for k in members if k.startswith("__meta__"))
    return key, json.loads(np.load(io.BytesIO(members[key])).tobytes().decode())


def _npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def model_with_meta(change):
    """The valid model with its metadata passed through ``change(meta) -> meta``."""
    def make(path, assets):
        members = _model_members(assets)
        key, meta = _meta(members)
        members[key] = _npy_bytes(np.frombuffer(json.dumps(change(meta)).encode(), dtype=np.uint8))
        _write_members(path, members)
    return make


def model_with_array(name, change):
    """The valid model with array member ``name`` passed through ``change(array) -> array``."""
    def make(path, assets):
        members = _model_members(assets)
        member = next(k for k in members if k.split(".")[0] == name)
        members[member] = _npy_bytes(change(np.load(io.BytesIO(members[member]))))
        _write_members(path, members)
    return make


def copy_model(path, assets):
    path.write_bytes(open(assets["model"], "rb").read())


def negate_first_diagonal(prec):
    prec = prec.copy()
    prec[0, 0, 0] = -abs(prec[0, 0, 0])
    return prec
