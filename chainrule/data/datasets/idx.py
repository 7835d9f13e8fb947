"""Readers for the IDX format used by MNIST, Fashion-MNIST and their relatives.

An IDX file is a 4-byte magic number, one big-endian ``uint32`` per dimension, then the array
data in row-major order and big-endian byte order. The magic number is two zero bytes, a type
code and the number of dimensions:

==========  =========
type code   data type
==========  =========
``0x08``    uint8
``0x09``    int8
``0x0B``    int16
``0x0C``    int32
``0x0D``    float32
``0x0E``    float64
==========  =========

Files may be gzip-compressed (as distributed); compression is detected from the content, not
from the file name.

Example
-------
>>> X, y = load_mnist_idx("~/data/mnist", kind="train")  # doctest: +SKIP
>>> X.shape, X.dtype, y.dtype  # doctest: +SKIP
((60000, 28, 28), dtype('uint8'), dtype('int64'))
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from chainrule.errors import DataError

__all__ = ["DataFileNotFound", "IDX_DTYPES", "load_mnist_idx", "read_idx", "write_idx"]


class DataFileNotFound(DataError, FileNotFoundError):
    """A data file or directory that was asked for does not exist."""


IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"
# Deflate cannot expand data by more than about 1032:1, so a gzip file of c bytes never holds
# more than this many times c bytes; a header declaring more is rejected before reading on.
_MAX_DEFLATE_RATIO = 1100
_CHUNK = 1 << 20


def _read_exactly(stream, count: int) -> bytes:
    """Read up to ``count`` bytes in bounded chunks, so memory follows the real data size."""
    parts = []
    remaining = count
    while remaining > 0:
        part = stream.read(min(remaining, _CHUNK))
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (plain or gzip-compressed) into a NumPy array.

    The magic number, the type code and the agreement between the declared shape and the
    amount of data are all checked; memory is only allocated for data actually present.

    Parameters
    ----------
    path : str or PathLike
        The file to read.

    Returns
    -------
    ndarray
        Array of the declared shape, in native byte order, with the dtype given by the type code
        (``uint8`` for MNIST images and labels).

    Raises
    ------
    DataFileNotFound
        If ``path`` does not exist.
    DataError
        If the file is not a well-formed IDX file.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny-idx1-ubyte")
    >>> write_idx(path, np.array([3, 1, 4], dtype=np.uint8))
    >>> read_idx(path).tolist()
    [3, 1, 4]
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFileNotFound(f"read_idx: file {path} does not exist or is not a regular file")
    file_size = path.stat().st_size

    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        try:
            return _parse(stream, path, file_size, compressed)
        except (OSError, EOFError, zlib.error) as exc:
            what = "a readable gzip file" if compressed else "readable"
            raise DataError(f"read_idx: {path} is not {what} ({exc})") from exc
        finally:
            if compressed:
                stream.close()


def _parse(stream, path: Path, file_size: int, compressed: bool) -> np.ndarray:
    magic = stream.read(4)
    if len(magic) < 4:
        raise DataError(
            f"read_idx: {path} is too short for an IDX header: expected 4 magic bytes, "
            f"got {len(magic)}"
        )
    if magic[0] != 0 or magic[1] != 0:
        raise DataError(
            f"read_idx: {path} has a bad magic number: expected first two bytes 0x00 0x00, "
            f"got 0x{magic[0]:02x} 0x{magic[1]:02x} (is this an IDX file?)"
        )
    code, ndim = magic[2], magic[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(
            f"read_idx: {path} has an unknown data type code: expected one of {known}, "
            f"got 0x{code:02X}"
        )
    if ndim < 1:
        raise DataError(f"read_idx: {path} declares 0 dimensions: expected at least 1")
    dtype = IDX_DTYPES[code]

    dims_raw = stream.read(4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise DataError(
            f"read_idx: {path} is truncated inside its header: expected {ndim} dimension sizes "
            f"({4 * ndim} bytes), got {len(dims_raw)} bytes"
        )
    shape = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
    count = 1
    for d in shape:
        count *= d
    expected = count * dtype.itemsize
    header = 4 + 4 * ndim

    if compressed:
        if expected > _MAX_DEFLATE_RATIO * file_size:
            raise DataError(
                f"read_idx: {path} declares shape {shape} ({expected} bytes of data), more "
                f"than a {file_size}-byte gzip file can hold"
            )
    else:
        present = file_size - header
        if present != expected:
            raise DataError(
                f"read_idx: {path} has {present} bytes of data but its header declares shape "
                f"{shape} of {dtype.name}, i.e. {expected} bytes "
                f"({'truncated' if present < expected else 'trailing bytes'})"
            )

    data = _read_exactly(stream, expected)
    if len(data) != expected:
        raise DataError(
            f"read_idx: {path} is truncated: its header declares shape {shape} of {dtype.name}, "
            f"i.e. {expected} bytes of data, but only {len(data)} bytes follow"
        )
    if stream.read(1):
        raise DataError(
            f"read_idx: {path} has trailing bytes after the {expected} bytes of data declared by "
            f"its header (shape {shape})"
        )
    array = np.frombuffer(data, dtype=dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike, array, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file; the inverse of :func:`read_idx`.

    Parameters
    ----------
    path : str or PathLike
        Destination. Compressed with gzip when ``compress`` is true, or when it is ``None`` and
        the name ends in ``.gz``.
    array : array_like
        Data of one of the IDX dtypes (uint8, int8, int16, int32, float32, float64), with at
        least one dimension and at most 255.
    compress : bool, optional
        Force compression on or off.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "images-idx3-ubyte.gz")
    >>> write_idx(path, np.zeros((2, 28, 28), dtype=np.uint8))
    >>> read_idx(path).shape
    (2, 28, 28)
    """
    array = np.asarray(array)
    codes = {dt.newbyteorder("=").str.lstrip("<>|="): code for code, dt in IDX_DTYPES.items()}
    key = array.dtype.newbyteorder("=").str.lstrip("<>|=")
    if key not in codes:
        raise DataError(
            f"write_idx: argument 'array' expected dtype uint8, int8, int16, int32, float32 or "
            f"float64, got {array.dtype}"
        )
    if not 1 <= array.ndim <= 255:
        raise DataError(
            f"write_idx: argument 'array' expected 1 to 255 dimensions, got {array.ndim}"
        )
    code = codes[key]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    path = Path(path).expanduser()
    if compress is None:
        compress = path.name.endswith(".gz")
    if compress:
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)


_PREFIXES = {"train": "train", "test": "t10k"}


def _find(directory: Path, prefix: str, what: str, rank: int) -> Path:
    stems = [f"{prefix}-{what}-idx{rank}-ubyte", f"{prefix}-{what}.idx{rank}-ubyte"]
    candidates = [directory / (stem + suffix) for stem in stems for suffix in ("", ".gz")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DataFileNotFound(
        f"load_mnist_idx: no {what} file in {directory}: expected one of "
        f"{', '.join(c.name for c in candidates)}"
    )


def load_mnist_idx(directory: str | os.PathLike, kind: str = "train"):
    """Load MNIST-style images and labels from the four standard IDX files in ``directory``.

    Looks for ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (``kind="train"``) or
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (``kind="test"``), each optionally
    ending in ``.gz``; the ``.idx3-ubyte`` spelling with a dot is accepted too. Works unchanged
    for Fashion-MNIST, which uses the same names.

    Parameters
    ----------
    directory : str or PathLike
        Directory holding the files.
    kind : {"train", "test"}
        Which part to load.

    Returns
    -------
    X : ndarray, uint8, shape (n, rows, cols)
        The images, ``(n, 28, 28)`` for MNIST.
    y : ndarray, int64, shape (n,)
        The labels.

    Raises
    ------
    DataFileNotFound
        If the directory or one of the two files is missing.
    DataError
        If a file is malformed or images and labels do not match.

    Examples
    --------
    >>> X, y = load_mnist_idx("~/data/fashion-mnist", kind="test")  # doctest: +SKIP
    >>> X.shape, y.shape  # doctest: +SKIP
    ((10000, 28, 28), (10000,))
    """
    if kind not in _PREFIXES:
        raise DataError(
            f"load_mnist_idx: argument 'kind' expected 'train' or 'test', got {kind!r}"
        )
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise DataFileNotFound(
            f"load_mnist_idx: directory {directory} does not exist; download the four MNIST IDX "
            "files into it first"
        )
    prefix = _PREFIXES[kind]
    images_path = _find(directory, prefix, "images", 3)
    labels_path = _find(directory, prefix, "labels", 1)
    images = read_idx(images_path)
    labels = read_idx(labels_path)

    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(
            f"load_mnist_idx: {images_path} expected uint8 images of shape (n, rows, cols), "
            f"got {images.dtype} of shape {images.shape}"
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise DataError(
            f"load_mnist_idx: {labels_path} expected uint8 labels of shape (n,), "
            f"got {labels.dtype} of shape {labels.shape}"
        )
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"load_mnist_idx: {images.shape[0]} images in {images_path.name} but "
            f"{labels.shape[0]} labels in {labels_path.name}; expected equal counts"
        )
    return images, labels.astype(np.int64)
