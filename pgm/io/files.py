"""Bounded, typed readers of the files the toolkit loads: text (plain or gzip) and ``.npz``.

Every defect of a file's content — a corrupt or truncated archive, a header that lies, an
array of object dtype, a size over the limit — comes out as :class:`pgm.errors.ParseError`
naming the file; errors of the file system (``FileNotFoundError``, ``PermissionError``) are
left as they are.  Sizes are checked from what a file *declares* before anything of that size
is allocated:

* text: at most :data:`MAX_TEXT_BYTES` (256 MiB) after decompression, read in chunks (a 3 MB
  ``.gz`` that would inflate to gigabytes is refused after ``MAX_TEXT_BYTES + 1`` bytes);
* ``.npz``: the uncompressed sizes in the zip directory and, per member, the ``.npy`` header's
  shape × item size (which must equal the member's size) add up to at most
  :data:`MAX_NPZ_BYTES` (256 MiB) before any array data is read.

Change the limits by assigning to this module's attributes (``pgm.io.files.MAX_TEXT_BYTES =
4 * 2**30``) or pass ``max_bytes``.  Nothing is unpickled: ``.npy`` headers are parsed here
(as ``np.load(..., allow_pickle=False)`` would) and arrays of object dtype are refused.
"""

import gzip
import json
import math
import os
import zipfile
import zlib

import numpy as np

from ..errors import ParseError

__all__ = ["MAX_TEXT_BYTES", "MAX_NPZ_BYTES", "read_text", "read_npz", "read_meta"]

#: largest text input (model, evidence, result files) in bytes, after decompression.  The
#: largest UAI / BIF benchmark files are tens of MB; a parsed model takes up to ~100 times its
#: text in Python objects, so this also bounds what a small ``.gz`` can make the reader allocate
MAX_TEXT_BYTES = 256 * 2**20
#: largest total size in bytes of the arrays of one ``.npz`` file, as declared by the file
#: (checks and copies of what is loaded may take as much again: this keeps a small zip bomb
#: under 1 GiB in all; an RBM 784 × 10 000 in float64 is 63 MB)
MAX_NPZ_BYTES = 256 * 2**20

_CHUNK = 2**20


def _limit(max_bytes, default):
    limit = default if max_bytes is None else max_bytes
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 0:
        raise ValueError(f"max_bytes must be an integer >= 0, got {max_bytes!r}")
    return int(limit)


def read_text(path, max_bytes=None):
    """The UTF-8 text of ``path``, gunzipped when it starts with the gzip magic bytes.

    Parameters
    ----------
    path : str or path-like
    max_bytes : int, optional
        Largest (decompressed) size accepted; default :data:`MAX_TEXT_BYTES`.

    Raises
    ------
    ParseError
        Corrupt or truncated gzip data, more than ``max_bytes`` bytes, or not UTF-8.
    OSError
        The file cannot be opened.
    """
    limit = _limit(max_bytes, MAX_TEXT_BYTES)
    name = os.fspath(path)
    with open(name, "rb") as fh:
        compressed = fh.read(2) == b"\x1f\x8b"
        fh.seek(0)
        if compressed:
            try:
                with gzip.GzipFile(fileobj=fh, mode="rb") as gz:
                    raw = _read_capped(gz, limit)
            except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
                raise ParseError(f"corrupt gzip data: {exc}", name) from None
        else:
            raw = _read_capped(fh, limit)
    if len(raw) > limit:
        what = "decompresses to" if compressed else "holds"
        raise ParseError(f"the file {what} more than {limit} bytes, the limit for text input "
                         "(pgm.io.files.MAX_TEXT_BYTES)", name)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 text: {exc}", name) from None


def _read_capped(fh, limit):
    """At most ``limit + 1`` bytes of ``fh``, read in chunks (``read(n)`` would allocate ``n``)."""
    out = bytearray()
    while len(out) <= limit:
        chunk = fh.read(min(_CHUNK, limit + 1 - len(out)))
        if not chunk:
            break
        out += chunk
    return out


def _npy_header(member, label, name):
    """``(shape, fortran_order, dtype)`` of the ``.npy`` data at the start of ``member``."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(member)
        else:
            raise ParseError(f"array {label!r} has .npy format version {version}, expected 1.0 or 2.0",
                             name)
    except ParseError:
        raise
    except Exception as exc:  # numpy parses the header text with ast / tokenize: anything goes
        raise ParseError(f"array {label!r} has a corrupt .npy header: {type(exc).__name__}: {exc}",
                         name) from None
    if any(n < 0 for n in shape):
        raise ParseError(f"array {label!r} declares the negative shape {shape}", name)
    if dtype.hasobject:
        raise ParseError(f"array {label!r} holds Python objects (dtype {dtype}); only plain numeric "
                         "and string arrays are read (no pickle)", name)
    return shape, fortran, dtype


class _Member:
    """One ``.npy`` member of an archive: its zip entry and what its header declares."""

    __slots__ = ("info", "label", "shape", "fortran", "dtype", "nbytes", "header")

    def __init__(self, info, label, shape, fortran, dtype, nbytes, header):
        self.info, self.label, self.shape, self.fortran = info, label, shape, fortran
        self.dtype, self.nbytes, self.header = dtype, nbytes, header


class _ZipErrors:
    """Turns what :mod:`zipfile` / :mod:`zlib` raise on a corrupt archive into ``ParseError``."""

    ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
              NotImplementedError, RuntimeError, OverflowError, UnicodeDecodeError)

    def __init__(self, what, name):
        self.what, self.name = what, name

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is not None and not isinstance(exc, ParseError) and isinstance(exc, self.ERRORS):
            # BadZipFile: not a zip or a bad CRC; zlib.error / EOFError: corrupt or truncated
            # data; NotImplementedError: unknown compression; RuntimeError: an encrypted member
            raise ParseError(f"not {self.what} (a readable .npz archive): {kind.__name__}: {exc}",
                             self.name) from None
        return False


def _declared(zf, info, label, name):
    """The header of member ``info``, checked against the member's size (no data read)."""
    with zf.open(info) as member:
        shape, fortran, dtype = _npy_header(member, label, name)
        header = member.tell()
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes != info.file_size - header:
        raise ParseError(f"array {label!r} declares shape {shape} of {dtype} ({nbytes} bytes), but "
                         f"its archive member holds {info.file_size - header} bytes of data", name)
    return _Member(info, label, shape, fortran, dtype, nbytes, header)


def _read_data(zf, m, name):
    """The array of member ``m`` (allocated at its declared, already checked, size)."""
    arr = np.empty(m.shape, dtype=m.dtype, order="F" if m.fortran else "C")
    with zf.open(m.info) as member:
        if len(member.read(m.header)) != m.header:
            raise ParseError(f"array {m.label!r} is truncated", name)
        view = memoryview(arr.reshape(-1, order="A").view(np.uint8)) if m.nbytes else memoryview(b"")
        at = 0
        while at < m.nbytes:
            got = member.readinto(view[at:at + _CHUNK])
            if not got:
                raise ParseError(f"array {m.label!r} is truncated: {at} of {m.nbytes} bytes", name)
            at += got
        if member.read(1):  # also makes zipfile check the CRC
            raise ParseError(f"array {m.label!r} has data after its {m.nbytes} bytes", name)
    return arr


def read_npz(path, what="a .npz archive", max_bytes=None, check=None):
    """All arrays of an ``.npz`` file as ``{name: ndarray}``, read without pickle.

    The zip directory and every ``.npy`` header are checked before any array data is read:
    members must be ``.npy`` arrays of plain (non-object) dtype whose declared shape × item
    size equals their size, and the sizes must add up to at most ``max_bytes``.

    Parameters
    ----------
    path : str or path-like
    what : str
        What the file should be, for messages (``"a saved model"``).
    max_bytes : int, optional
        Default :data:`MAX_NPZ_BYTES`.
    check : callable, optional
        ``check(first, declared)``, called after the headers are read and before the data of
        any array but ``__meta__``: ``first`` is ``{"__meta__": array}`` (empty without such a
        member), ``declared`` maps every array name to its ``(shape, dtype)``.  It raises
        :class:`ParseError` to refuse the file — e.g. when the shapes a header record implies
        are not the shapes declared — so that nothing is allocated for arrays that are wrong.

    Raises
    ------
    ParseError
        Naming the file and what is wrong with it.
    OSError
        The file cannot be opened.
    """
    limit = _limit(max_bytes, MAX_NPZ_BYTES)
    name = os.fspath(path)
    guard = _ZipErrors(what, name)
    with open(name, "rb") as fh:
        with guard:
            zf = zipfile.ZipFile(fh)
        with zf:
            with guard:
                infos = zf.infolist()
                declared = sum(i.file_size for i in infos)
                if declared > limit:
                    raise ParseError(f"{what} whose arrays declare {declared} bytes uncompressed, more "
                                     f"than the limit of {limit} bytes (pgm.io.files.MAX_NPZ_BYTES)", name)
                members = {}
                for info in infos:
                    if not info.filename.endswith(".npy"):
                        raise ParseError(f"{what} holds {info.filename!r}, which is not a .npy array",
                                         name)
                    label = info.filename[:-len(".npy")]
                    if label in members:
                        raise ParseError(f"{what} holds the array {label!r} twice", name)
                    members[label] = _declared(zf, info, label, name)
                out = {}
                if check is not None and "__meta__" in members:
                    out["__meta__"] = _read_data(zf, members["__meta__"], name)
            if check is not None:
                check(dict(out), {k: (m.shape, m.dtype) for k, m in members.items()})
            with guard:
                for label, m in members.items():
                    if label not in out:
                        out[label] = _read_data(zf, m, name)
    return out


def read_meta(arrays, path, what, fmt, version):
    """The JSON object in the ``__meta__`` array of a file read by :func:`read_npz`, checked to
    have ``"format": fmt`` and ``"version": version``."""
    name = os.fspath(path)
    rec = arrays.get("__meta__")
    if rec is None:
        raise ParseError(f"not {what} (no __meta__ record)", name)
    if rec.shape != () or rec.dtype.kind != "U":
        raise ParseError(f"not {what}: __meta__ must be a JSON string, got an array of shape "
                         f"{rec.shape} and dtype {rec.dtype}", name)
    try:
        meta = json.loads(str(rec[()]))
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"corrupt __meta__ record (not JSON): {exc}", name) from None
    if not isinstance(meta, dict):
        raise ParseError(f"corrupt __meta__ record: expected a JSON object, got {type(meta).__name__}",
                         name)
    if meta.get("format") != fmt:
        raise ParseError(f"not {what}: expected format {fmt!r}, got {_short(meta.get('format'))}", name)
    if meta.get("version") != version:
        raise ParseError(f"unsupported {fmt} version {_short(meta.get('version'))} (this library reads "
                         f"version {version})", name)
    return meta


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
