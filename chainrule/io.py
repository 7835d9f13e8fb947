"""``save`` and ``load``: model files in the safetensors format, never pickle.

The bytes are written and parsed by the ``safetensors`` package (``pip install safetensors``,
part of ``chainrule[train]``), the reference implementation of the format; chainrule adds what
the format leaves to its users: a structure for nested objects, checksums, atomic writes, and a
strict check of every file before the library sees it.

File layout
-----------
One file, readable by any safetensors reader::

    [8 bytes]  N, the header length (unsigned 64-bit little-endian)
    [N bytes]  the header: UTF-8 JSON
               {"<tensor name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]},
                ...,
                "__metadata__": {"format": "chainrule",
                                 "chainrule": "<JSON: structure, tensor table, data checksum>",
                                 "chainrule_sha256": "<SHA-256 of that JSON string>"}}
    [rest]     the tensors' bytes, little-endian, C order, back to back

The ``chainrule`` metadata holds everything that is not a tensor: the nested structure of the
saved object (dicts with their key types, lists, tuples), Python numbers, strings, booleans and
None, which tensors are ``Tensor``/``Parameter``/numpy arrays, each tensor's dtype and shape, and
the SHA-256 checksum of the tensor bytes (taken tensor by tensor in the order of the metadata's
tensor table, so it does not depend on where the library places each tensor). A flat dict of
tensors (a ``state_dict``) names each tensor by its key, so other safetensors tools see the usual
names.

Writing is atomic: the library writes a temporary file in the same directory, which is
``fsync``-ed and renamed over the target with ``os.replace``; the directory is ``fsync``-ed too,
so a crash leaves either the old file or the new one, never a torn file.

Loading executes no code and checks the file before trusting it: chainrule reads the 8-byte
length and the header itself and refuses pickles, zip archives and ``.npy`` files, oversized or
malformed headers, unknown dtypes, shapes that don't match their byte counts (huge declared
shapes included) and tensors that don't tile the data exactly, all before the library reads a
byte of tensor data. After the library has read the tensors, their names, dtypes and shapes are
compared with the checked header and both checksums are verified. A bad file raises
:class:`~chainrule.errors.CheckpointError` and never makes the loader allocate more than about
the file's size.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import struct
import tempfile
from collections.abc import Mapping

import numpy as np

from .errors import CheckpointError
from .tensor import Tensor

__all__ = ["load", "save"]

FORMAT_VERSION = 2  # 1: data checksum in file order; 2: in tensor-table order
MAX_HEADER_BYTES = 100_000_000  # the safetensors limit
MAX_DEPTH = 200
MAX_NDIM = 64

_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in _DTYPES.items()}
_KNOWN_UNSUPPORTED = {"BF16", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2",
                      "C64"}


# ------------------------------------------------------------------------------------ saving
def save(obj, f) -> None:
    """Write tensors, state dicts and nested containers of them to a safetensors file.

    Plays the role of ``torch.save`` without pickle. ``obj`` may be a Tensor, a numpy array,
    or dicts / lists / tuples nesting them together with Python numbers, strings, booleans and
    None (a module's ``state_dict()``, an optimiser's ``state_dict()``, a training checkpoint).

    Parameters
    ----------
    obj : object
        What to save.
    f : str, os.PathLike or binary file object
        Target path (written atomically) or an open, writable binary file.

    Examples
    --------
    >>> import os, tempfile
    >>> import chainrule as cr
    >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> cr.save({"w": cr.ones(2, 3), "step": 7}, path)
    >>> ck = cr.load(path)
    >>> ck["w"].shape, ck["step"]
    ((2, 3), 7)
    """
    tensors, tree = _encode(obj)
    digest = hashlib.sha256()
    for _, arr in tensors:
        digest.update(_bytes_view(arr))
    meta = {"version": FORMAT_VERSION, "tree": tree, "data_sha256": digest.hexdigest(),
            "tensors": {n: [_CODES[a.dtype.newbyteorder("=")], list(a.shape)]
                        for n, a in tensors}}
    meta_json = json.dumps(meta, separators=(",", ":"), allow_nan=False)
    metadata = {"format": "chainrule", "chainrule": meta_json,
                "chainrule_sha256": hashlib.sha256(meta_json.encode()).hexdigest()}
    flat = dict(tensors)
    st = _library("save")
    if hasattr(f, "write"):
        with _library_errors(st, "save"):
            data = st.numpy.save(flat, metadata=metadata)
        f.write(data)
        return
    path = os.fspath(f)

    def write(tmp):
        with _library_errors(st, "save"):
            st.numpy.save_file(flat, tmp, metadata=metadata)

    _atomic_write(path, write)


def _library(who):
    """The ``safetensors`` package, imported on first use (it is an optional dependency)."""
    try:
        import safetensors
        import safetensors.numpy  # noqa: F401  (makes safetensors.numpy reachable)
    except ImportError as exc:
        raise CheckpointError(
            f"{who}: chainrule model files are written and read with the 'safetensors' "
            "package, which is not installed; install it with `pip install safetensors` (or "
            f"`pip install chainrule[train]`) (import failed: {exc})") from None
    return safetensors


@contextlib.contextmanager
def _library_errors(st, who, where=None):
    # The library reports format problems as SafetensorError (and, in some versions, as
    # ValueError/TypeError); callers get the typed chainrule error instead.
    try:
        yield
    except (st.SafetensorError, ValueError, TypeError) as exc:
        place = f" {where}:" if where else ""
        raise CheckpointError(f"{who}:{place} the safetensors library refused it "
                              f"({_short(exc)})") from None


def _bytes_view(arr):
    return arr.reshape(-1).view(np.uint8)


def _atomic_write(path, write):
    """Have ``write(tmp_path)`` fill a temporary file beside ``path``, make it durable, then
    rename it over ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CheckpointError(f"save: the directory {directory!r} doesn't exist; create it "
                              "first")
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        try:
            write(tmp)
            # fsync through our own descriptor: it reaches the data whoever wrote it.
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def _fsync_dir(directory):
    # Makes the rename itself durable; not possible on every platform, so best effort.
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _encode(obj):
    tensors = []  # (name, array)
    by_id = {}  # id(object) -> name, so shared tensors are stored once
    used = set()
    keep_alive = []  # ids stay unique only while their objects live

    flat_state_dict = isinstance(obj, Mapping) and all(
        isinstance(k, str) and isinstance(v, (Tensor, np.ndarray)) for k, v in obj.items())

    def name_for(path):
        base = ".".join(str(p) for p in path) or "tensor"
        name, k = base, 1
        while name in used or name == "__metadata__":
            name, k = f"{base}#{k}", k + 1
        used.add(name)
        return name

    def add_array(x, arr, path, where):
        if id(x) in by_id:
            return by_id[id(x)]
        if arr.dtype.newbyteorder("=") not in _CODES:
            raise CheckpointError(f"save: {where} has dtype {arr.dtype}, which a safetensors "
                                  f"file can't hold; supported: "
                                  f"{sorted(str(d) for d in _CODES)}")
        if not arr.flags.c_contiguous:
            arr = arr.copy(order="C")  # (np.ascontiguousarray would turn 0-d into 1-d)
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        name = name_for(path)
        tensors.append((name, arr))
        by_id[id(x)] = name
        keep_alive.append(x)
        return name

    def enc(x, path, depth):
        where = "the object" if not path else "entry " + ".".join(str(p) for p in path)
        if depth > MAX_DEPTH:
            raise CheckpointError(f"save: {where} is nested more than {MAX_DEPTH} levels deep")
        if x is None or isinstance(x, (bool, str)):
            return x
        if isinstance(x, int):
            return x
        if isinstance(x, float):
            return x if math.isfinite(x) else {"$float": repr(x)}
        if isinstance(x, Tensor):
            from .nn.parameter import Parameter

            name = add_array(x, x.data, path, where)
            node = {"$tensor": name}
            if x.requires_grad and x.is_leaf:
                node["requires_grad"] = True
            if isinstance(x, Parameter):
                node["parameter"] = True
            return node
        if isinstance(x, np.ndarray):
            return {"$ndarray": add_array(x, x, path, where)}
        if isinstance(x, (np.generic,)):
            return {"$npscalar": add_array(x, np.asarray(x), path, where)}
        if isinstance(x, Mapping):
            items = []
            for k, v in x.items():
                if not (k is None or isinstance(k, (str, int, float, bool, tuple))):
                    raise CheckpointError(f"save: {where} has a key of type {type(k).__name__};"
                                          " keys must be str, int, float, bool, None or tuples")
                items.append([enc(k, path + ["key"], depth + 1) if isinstance(k, tuple)
                              else enc(k, path, depth + 1), enc(v, path + [k], depth + 1)])
            return {"$dict": items}
        if isinstance(x, list):
            return {"$list": [enc(v, path + [i], depth + 1) for i, v in enumerate(x)]}
        if isinstance(x, tuple):
            return {"$tuple": [enc(v, path + [i], depth + 1) for i, v in enumerate(x)]}
        raise CheckpointError(f"save: {where} is a {type(x).__module__}.{type(x).__name__}, "
                              "which chainrule.save can't store; it writes tensors, numpy "
                              "arrays, numbers, strings, booleans, None and dicts/lists/tuples "
                              "of them, and never pickles arbitrary objects (save its "
                              "state_dict() instead)")

    if flat_state_dict:
        tree = {"$dict": [[k, enc(v, [k], 1)] for k, v in obj.items()]}
    else:
        tree = enc(obj, [], 0)
    return tensors, tree


# ----------------------------------------------------------------------------------- loading
def load(f, map_location=None, weights_only=True, mmap=None):
    """Read what :func:`save` wrote (or any safetensors file), running no code from the file.

    Parameters
    ----------
    f : str, os.PathLike or seekable binary file object
    map_location, weights_only, mmap :
        Accepted for ``torch.load`` compatibility; loading is always safe, on the CPU, and reads
        the tensors into memory.

    Returns
    -------
    object
        The saved object; a safetensors file from elsewhere gives a dict of Tensors.

    Raises
    ------
    CheckpointError
        If the file is missing, truncated, corrupted (checksum mismatch), malformed or not a
        safetensors file (a pickle or ``torch.save`` archive, say).

    Examples
    --------
    >>> import os, tempfile
    >>> import chainrule as cr
    >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
    >>> cr.save({"weight": cr.zeros(2)}, path)
    >>> cr.load(path)["weight"].tolist()
    [0.0, 0.0]
    """
    if hasattr(f, "read"):
        if not (hasattr(f, "seek") and hasattr(f, "tell")):
            raise CheckpointError("load: the file object must be seekable")
        start = f.tell()
        size = f.seek(0, os.SEEK_END) - start
        f.seek(start)
        where = "<file object>"
        checked = _check_header(f, size, where)
        st = _library("load")
        f.seek(start)
        data = f.read(size)  # at most the file's size, which the header check bounded
        if len(data) != size:
            raise CheckpointError(f"load: {where}: the file ended early (truncated)")
        with _library_errors(st, "load", where):
            arrays = st.numpy.load(data)
        del data
        return _finish(checked, arrays, where)
    path = os.fspath(f)
    if not os.path.exists(path):
        raise CheckpointError(f"load: no such file {path!r}")
    if os.path.isdir(path):
        raise CheckpointError(f"load: {path!r} is a directory, not a model file")
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        checked = _check_header(fh, size, path)
    st = _library("load")
    with _library_errors(st, "load", path):
        with st.safe_open(path, framework="np") as sf:
            arrays = {name: sf.get_tensor(name) for name in sf.keys()}
    return _finish(checked, arrays, path)


def _bad(where):
    def bad(msg):
        return CheckpointError(f"load: {where}: {msg}")

    return bad


def _check_header(fh, size, where):
    """Read and check the length and header of a safetensors file of ``size`` bytes at the
    current position of ``fh``; reads no tensor data. Returns what :func:`_finish` needs."""
    bad = _bad(where)
    if size < 8:
        raise bad(f"the file is {size} bytes long, too short to be a safetensors file "
                  "(truncated?)")
    head = fh.read(8)
    if len(head) != 8:
        raise bad("the file ended while reading the header length (truncated)")
    _refuse_foreign(head, bad)
    (n,) = struct.unpack("<Q", head)
    if n > size - 8:
        raise bad(f"the header claims {n} bytes but only {size - 8} follow; the file is "
                  "truncated or not a safetensors file")
    if n > MAX_HEADER_BYTES:
        raise bad(f"the header claims {n} bytes, more than the {MAX_HEADER_BYTES}-byte limit")
    if n < 2:
        raise bad(f"the header is {n} bytes, too short to hold a JSON object")
    hbytes = fh.read(n)
    if len(hbytes) != n:
        raise bad("the file ended inside the header (truncated)")
    if hbytes[:1] != b"{":
        raise bad("the header is not a JSON object")
    try:
        header = json.loads(hbytes.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise bad(f"the header is not valid JSON ({_short(e)})") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    data_len = size - 8 - n
    meta = header.pop("__metadata__", None)
    if meta is not None and (not isinstance(meta, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in meta.items())):
        raise bad("'__metadata__' must map strings to strings")
    entries = []
    for name, info in header.items():
        entries.append((name,) + _check_entry(name, info, data_len, bad))
    entries.sort(key=lambda e: (e[3], e[4]))
    pos = 0
    for name, _, _, b, e in entries:
        if b != pos:
            raise bad(f"tensor {name!r} starts at byte {b} of the data but the previous tensor "
                      f"ends at {pos}; tensors must tile the data without gaps or overlaps")
        pos = e
    if pos != data_len:
        raise bad(f"the tensors cover {pos} bytes but the data section has {data_len} "
                  "(truncated or padded file)")

    cr_meta = _parse_chainrule_meta(meta, bad) if meta and "chainrule" in meta else None
    if cr_meta is not None:
        table = cr_meta["tensors"]
        if not isinstance(table, dict) or set(table) != {e[0] for e in entries}:
            raise bad("the metadata's tensor list doesn't match the header's tensors")
        for name, dtype, shape, _, _ in entries:
            want = table[name]
            if not isinstance(want, list) or len(want) != 2 or want[0] != dtype or \
                    want[1] != list(shape):
                raise bad(f"tensor {name!r}: the header says {dtype} {list(shape)} but the "
                          f"metadata says {want}")
    return list(header), entries, cr_meta


def _finish(checked, arrays, where):
    """Check what the library read against the checked header, verify the checksum and
    rebuild the saved object."""
    bad = _bad(where)
    names, entries, cr_meta = checked
    if set(arrays) != set(names):
        raise bad("the tensors read don't match the header (the file changed while it was "
                  "being read?)")
    out = {}
    for name, dtype, shape, _, _ in entries:
        arr = arrays[name]
        if arr.dtype != _DTYPES[dtype] or arr.shape != shape:
            raise bad(f"tensor {name!r} was read as {arr.dtype} {arr.shape} but the header "
                      f"says {dtype} {list(shape)} (the file changed while it was being read?)")
        if not (arr.flags.writeable and arr.flags.c_contiguous):
            arr = arr.copy()  # some library versions hand out read-only views of the bytes
        if dtype == "BOOL" and arr.size and _bytes_view(arr).max() > 1:
            raise bad(f"tensor {name!r} is BOOL but holds bytes other than 0 and 1")
        out[name] = arr
    if cr_meta is None:
        return {name: Tensor._wrap(out[name]) for name in names}
    # Version 1 took the checksum in file order, version 2 in tensor-table order.
    order = [e[0] for e in entries] if cr_meta["version"] == 1 else list(cr_meta["tensors"])
    digest = hashlib.sha256()
    for name in order:
        digest.update(_bytes_view(out[name]))
    if digest.hexdigest() != cr_meta["data_sha256"]:
        raise bad("the tensor data doesn't match its SHA-256 checksum; the file is corrupted")
    return _decode(cr_meta["tree"], out, {}, bad, 0)


def _refuse_foreign(head, bad):
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise bad("this is a Python pickle, not a safetensors file; chainrule never unpickles "
                  "(loading a pickle can run arbitrary code). Convert it where you trust it, "
                  "e.g. with safetensors.torch.save_file(torch.load(path, weights_only=True), "
                  "out_path)")
    if head[:4] == b"PK\x03\x04":
        raise bad("this is a zip archive (the torch.save format, which holds a pickle), not a "
                  "safetensors file; chainrule never unpickles. Convert it where you trust it "
                  "with safetensors.torch.save_file")
    if head[:6] == b"\x93NUMPY":
        raise bad("this is a numpy .npy file, not a safetensors file; read it with np.load "
                  "(allow_pickle=False) and save it with chainrule.save")


def _no_duplicates(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError(f"duplicate key {k!r}")
        d[k] = v
    return d


def _short(e):
    s = str(e)
    return s if len(s) < 200 else s[:200] + "..."


def _check_entry(name, info, data_len, bad):
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        raise bad(f"tensor {name!r}: expected an entry with exactly 'dtype', 'shape' and "
                  f"'data_offsets', got {_short(info)}")
    dtype = info["dtype"]
    if dtype not in _DTYPES:
        if dtype in _KNOWN_UNSUPPORTED:
            raise bad(f"tensor {name!r} has dtype {dtype}, which numpy can't represent; "
                      "convert it to F32 before saving")
        raise bad(f"tensor {name!r} has unknown dtype {_short(dtype)!r}; expected one of "
                  f"{sorted(_DTYPES)}")
    shape = info["shape"]
    if not isinstance(shape, list) or len(shape) > MAX_NDIM or not all(
            type(s) is int and s >= 0 for s in shape):
        raise bad(f"tensor {name!r}: shape must be a list of at most {MAX_NDIM} non-negative "
                  f"ints, got {_short(shape)}")
    offs = info["data_offsets"]
    if not isinstance(offs, list) or len(offs) != 2 or not all(
            type(o) is int for o in offs):
        raise bad(f"tensor {name!r}: data_offsets must be two ints, got {_short(offs)}")
    b, e = offs
    if not 0 <= b <= e <= data_len:
        raise bad(f"tensor {name!r}: data_offsets [{b}, {e}] fall outside the {data_len}-byte "
                  "data section (truncated or corrupted file)")
    nbytes = math.prod(shape) * _DTYPES[dtype].itemsize  # Python ints: no overflow
    if nbytes != e - b:
        raise bad(f"tensor {name!r}: shape {shape} of {dtype} needs {nbytes} bytes but "
                  f"data_offsets give {e - b}")
    return dtype, tuple(shape), b, e


def _parse_chainrule_meta(meta, bad):
    text = meta["chainrule"]
    check = meta.get("chainrule_sha256")
    if check is None or hashlib.sha256(text.encode()).hexdigest() != check:
        raise bad("the chainrule metadata doesn't match its SHA-256 checksum; the file is "
                  "corrupted")
    try:
        m = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise bad(f"the chainrule metadata is not valid JSON ({_short(e)})") from None
    if not isinstance(m, dict) or not {"version", "tree", "data_sha256", "tensors"} <= set(m):
        raise bad("the chainrule metadata lacks its version, tree, checksum or tensor table")
    if m["version"] not in (1, FORMAT_VERSION) or isinstance(m["version"], bool):
        raise bad(f"written by format version {m['version']!r}; this chainrule reads versions "
                  f"1 to {FORMAT_VERSION}")
    return m


def _decode(node, arrays, objects, bad, depth):
    if depth > MAX_DEPTH:
        raise bad(f"the stored structure is nested more than {MAX_DEPTH} levels deep")
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        raise bad("malformed structure: untagged list")
    if not isinstance(node, dict) or not node:
        raise bad(f"malformed structure node {_short(node)}")
    tag = next(iter(node))
    val = node[tag]
    if tag in ("$tensor", "$ndarray", "$npscalar"):
        if not isinstance(val, str) or val not in arrays:
            raise bad(f"the structure refers to a missing tensor {_short(val)!r}")
        key = (tag, val)
        if key in objects:
            return objects[key]
        arr = arrays[val]
        if tag == "$ndarray":
            out = arr
        elif tag == "$npscalar":
            out = arr.reshape(()).dtype.type(arr.reshape(())[()]) if arr.size == 1 else arr
        elif node.get("parameter"):
            from .nn.parameter import Parameter

            out = Parameter(arr, requires_grad=bool(node.get("requires_grad", True)))
        else:
            out = Tensor._wrap(arr)
            if node.get("requires_grad"):
                out.requires_grad_(True)
        objects[key] = out
        return out
    if tag == "$float":
        if val not in ("nan", "inf", "-inf"):
            raise bad(f"malformed float node {_short(val)!r}")
        return float(val)
    if tag in ("$list", "$tuple"):
        if not isinstance(val, list):
            raise bad(f"malformed {tag[1:]} node")
        items = [_decode(v, arrays, objects, bad, depth + 1) for v in val]
        return items if tag == "$list" else tuple(items)
    if tag == "$dict":
        if not isinstance(val, list):
            raise bad("malformed dict node")
        out = {}
        for pair in val:
            if not isinstance(pair, list) or len(pair) != 2:
                raise bad("malformed dict item")
            k = _decode(pair[0], arrays, objects, bad, depth + 1)
            try:
                hash(k)
            except TypeError:
                raise bad("malformed dict key") from None
            out[k] = _decode(pair[1], arrays, objects, bad, depth + 1)
        return out
    raise bad(f"unknown structure tag {_short(tag)!r}")
