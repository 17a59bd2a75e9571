"""Safe files: atomic writes and versioned, non-pickle array files.

This module is the file format only (it knows no estimator): a file is a ``.npz``
archive (read with ``allow_pickle=False``, so loading never executes code) holding
arrays plus one ``__meta__`` entry, a JSON document with the format name, its
version and what the writer adds (an estimator's parameters, fit metadata). Files
are written to a temporary name in the target folder and renamed into place, so a
crash never leaves a half-written file. :meth:`gmmkit.GaussianMixture.save` and the
apps' model files are built on it.

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "thing.gmm")
>>> save_arrays(path, {"a": np.arange(3.0)}, {"kind": "Thing", "note": "hello"})
>>> arrays, meta = load_arrays(path, kind="Thing")
>>> arrays["a"].tolist(), meta["note"], meta["format_version"]
([0.0, 1.0, 2.0], 'hello', 1)
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile

import numpy as np

from .exceptions import ModelFileError, OutputExistsError

FORMAT = "gmmkit-model"
FORMAT_VERSION = 1
_META = "__meta__"


@contextlib.contextmanager
def atomic_path(path, *, overwrite=True, suffix=None):
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched. The file is
    fsynced before the rename and the folder after it.
    With ``overwrite=False`` an existing ``path`` raises :class:`OutputExistsError`
    before anything is written.
    """
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise OutputExistsError(f"{path} exists; pass --force (overwrite=True) to replace it")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if suffix is None:
        suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    os.close(fd)
    # mkstemp makes 0600 files; give the output the mode a plain open() would
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(tmp, mode)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(folder, folder=True)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _fsync(path, *, folder=False):
    """Flush ``path`` (a file, or a folder's entries) to the disk, so a crash right after a rename
    cannot leave an empty or partial file under the final name. Best effort where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if folder else 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems (and Windows folders) cannot fsync
        pass
    finally:
        os.close(fd)


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def save_arrays(path, arrays: dict, meta: dict, *, overwrite=True):
    """Write ``arrays`` and the JSON ``meta`` as a versioned model file, atomically."""
    meta = dict(meta, format=FORMAT, format_version=FORMAT_VERSION)
    blob = np.frombuffer(json.dumps(_jsonable(meta)).encode("utf-8"), dtype=np.uint8)
    with atomic_path(path, overwrite=overwrite, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **{_META: blob}, **arrays)


#: Largest model file member read (uncompressed): a bound against crafted files (zip bombs,
#: headers claiming terabytes); gmmkit's largest real models (a 2048-component full UBM) are ~60 MB.
MAX_MEMBER_BYTES = 1 << 30


def _check_members(path):
    """Refuse a file that is not a zip archive, and members that are compressed, too large or
    whose .npy header promises more data than the member holds, before anything is inflated
    or allocated."""
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            zip_start = fh.read(4) == b"PK\x03\x04"
        raise ModelFileError(f"{path} is not a readable gmmkit model file (truncated or corrupted?)"
                             if zip_start else f"{path} is not a readable gmmkit model file (not an .npz archive)")
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.file_size > MAX_MEMBER_BYTES:
                    raise ModelFileError(f"{path}: member {info.filename!r} would inflate to "
                                         f"{info.file_size} bytes; refused")
                if info.compress_type != zipfile.ZIP_STORED and info.file_size > 100 * max(info.compress_size, 1):
                    raise ModelFileError(f"{path}: member {info.filename!r} is compressed "
                                         f"{info.file_size // max(info.compress_size, 1)}:1; refused")
                with zf.open(info) as fh:
                    _check_npy_header(path, info, fh)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ModelFileError(f"{path} is not a readable gmmkit model file (truncated or corrupted?): "
                             f"{exc}") from None


def _check_npy_header(path, info, fh):
    version = np.lib.format.read_magic(fh)
    read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in read:
        raise ModelFileError(f"{path}: member {info.filename!r} has .npy format {version}")
    shape, _, dtype = read[version](fh)
    if dtype.hasobject:
        raise ModelFileError(f"{path}: member {info.filename!r} holds Python objects; refused")
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if need > info.file_size:
        raise ModelFileError(f"{path}: member {info.filename!r} claims shape {shape} ({need} bytes) "
                             f"but holds {info.file_size}; refused")


def load_arrays(path, *, kind=None):
    """Read a model file written by :func:`save_arrays`; validate and return (arrays, meta).

    Nothing is unpickled or executed, and nothing is inflated or allocated before the
    archive's members have been checked (:data:`MAX_MEMBER_BYTES`, .npy headers)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"model file not found: {path}")
    _check_members(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as exc:
        raise ModelFileError(
            f"{path} is not a readable gmmkit model file (truncated or corrupted?): {exc}"
        ) from None
    if _META not in arrays:
        raise ModelFileError(f"{path} is not a gmmkit model file (no metadata entry)")
    try:
        meta = json.loads(arrays.pop(_META).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"{path}: model metadata is corrupted") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path} is not a gmmkit model file (metadata is a {type(meta).__name__})")
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a gmmkit model file (format {_short(meta.get('format'))})")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was written by a newer gmmkit (model format {_short(version)}); "
            f"this gmmkit reads format {FORMAT_VERSION}: upgrade gmmkit"
        )
    if kind is not None and meta.get("kind") != kind:
        raise ModelFileError(f"{path} holds a {_short(meta.get('kind'))}, expected a {kind!r}")
    return arrays, meta


def _short(value):
    """A metadata value for a message: printable characters only (no terminal escapes), short."""
    text = "".join(c if c.isprintable() else "?" for c in repr(value))
    return text if len(text) <= 60 else text[:57] + "..."
