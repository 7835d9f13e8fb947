"""Checkpoints: whole training states written atomically, verified on the way back in.

A checkpoint is a directory holding two files:

* ``tensors.safetensors`` - every array of the state (weights, optimiser moments, ...), written
  with :func:`chainrule.save`;
* ``manifest.json`` - everything else (epoch, step, learning rates, random-generator states,
  history, ...) as JSON, the layout that ties arrays back into the nested state, and the SHA-256
  and size of the tensor file. The manifest carries a checksum of its own content.

Nothing is ever pickled, so loading a checkpoint cannot run code.

Writes are atomic: the directory is built under a temporary name, every file and the directory
are flushed to disk (``fsync``), then it is renamed into place. A :class:`CheckpointManager`
keeps numbered checkpoints (``epoch-0003``) plus a best one, and records which is the latest
complete one in small pointer files (``latest.json``, ``best.json``) that are replaced atomically
(``os.replace``) only after the checkpoint they name is complete. A crash at any moment leaves the
previous pointer naming the previous complete checkpoint; older checkpoints are deleted only
after the new one is in place.

Loading recomputes the checksums; a truncated or altered checkpoint raises
:class:`~chainrule.errors.CheckpointError` naming the damaged file and the newest intact
checkpoint to fall back on.

Example
-------
>>> import numpy as np, tempfile
>>> d = tempfile.mkdtemp()
>>> path = save_checkpoint({"w": np.ones(3, np.float32), "epoch": 2}, d + "/ck")
>>> state = load_checkpoint(path)
>>> state["epoch"], state["w"].tolist()
(2, [1.0, 1.0, 1.0])
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path

import numpy as np

from ..errors import CheckpointError
from ..io import _fsync_dir
from ..tensor import Tensor

__all__ = [
    "CheckpointManager",
    "find_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "save_checkpoint",
    "verify_checkpoint",
]

FORMAT = "chainrule-checkpoint"
VERSION = 1
MANIFEST = "manifest.json"
TENSORS = "tensors.safetensors"
_CHUNK = 1 << 20


# --------------------------------------------------------------------------- encoding


def _encode(obj, tensors: dict, path: str):
    """Replace arrays by references into ``tensors``; keep the rest JSON-able and typed."""
    if isinstance(obj, Tensor):
        tensors[path] = np.ascontiguousarray(obj.data)
        return {"__tensor__": path}
    if isinstance(obj, np.ndarray):
        tensors[path] = np.ascontiguousarray(obj)
        return {"__ndarray__": path}
    if isinstance(obj, np.generic):
        tensors[path] = np.asarray(obj)
        return {"__scalar__": path}
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        # JSON has no inf/nan; spell them out so they come back as floats.
        return obj if np.isfinite(obj) else {"__float__": repr(obj)}
    if isinstance(obj, dict):
        plain = all(isinstance(k, str) and not k.startswith("__") for k in obj)
        if plain:
            return {k: _encode(v, tensors, f"{path}/{k}") for k, v in obj.items()}
        return {"__items__": [[_encode_key(k, path), _encode(v, tensors, f"{path}/{i}")]
                              for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]
    raise CheckpointError(
        f"save_checkpoint: cannot store {type(obj).__name__} at '{path or '/'}'; a checkpoint "
        "holds tensors, arrays, numbers, strings, None and dicts/lists/tuples of them"
    )


def _encode_key(key, path):
    if key is None or isinstance(key, (bool, int, float, str)):
        return key
    if isinstance(key, tuple):
        return {"__tuple__": [_encode_key(k, path) for k in key]}
    raise CheckpointError(f"save_checkpoint: cannot store a dict key of type "
                          f"{type(key).__name__} at '{path or '/'}'")


def _decode_key(key):
    if isinstance(key, dict) and "__tuple__" in key:
        return tuple(_decode_key(k) for k in key["__tuple__"])
    return key


def _decode(obj, tensors: dict):
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1:
        (tag, value), = obj.items()
        if tag in ("__tensor__", "__ndarray__", "__scalar__"):
            if value not in tensors:
                raise CheckpointError(f"load_checkpoint: the tensor file lacks '{value}'")
            arr = tensors[value]
            if tag == "__tensor__":
                return Tensor(arr)
            if tag == "__scalar__":
                return arr[()]
            return arr
        if tag == "__float__":
            return float(value)
        if tag == "__tuple__":
            return tuple(_decode(v, tensors) for v in value)
        if tag == "__items__":
            return {_decode_key(k): _decode(v, tensors) for k, v in value}
    return {k: _decode(v, tensors) for k, v in obj.items()}


# --------------------------------------------------------------------------- files


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _body_digest(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _save_tensors(tensors: dict, path: Path) -> None:
    from .. import io as crio

    crio.save({k: Tensor(v) for k, v in tensors.items()}, str(path))


def _load_tensors(path: Path) -> dict:
    from .. import io as crio

    loaded = crio.load(str(path))
    return {k: (v.data if isinstance(v, Tensor) else np.asarray(v)) for k, v in loaded.items()}


def save_checkpoint(state: dict, path, meta: dict | None = None) -> Path:
    """Write ``state`` as a checkpoint directory at ``path``, atomically.

    Parameters
    ----------
    state : dict
        Nested dicts/lists/tuples of tensors, arrays, numbers, strings and None, e.g.
        ``{"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}``.
    path : str or PathLike
        The checkpoint directory to create. An existing one is replaced only once the new one
        is complete.
    meta : dict, optional
        JSON-able facts stored in the manifest beside the state (epoch, metrics, ...), readable
        without loading the tensors (see :func:`verify_checkpoint`).

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> p = save_checkpoint({"step": 10}, tempfile.mkdtemp() + "/ck")
    >>> load_checkpoint(p)["step"]
    10
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict = {}
    skeleton = _encode(state, tensors, "")
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir()
    try:
        _save_tensors(tensors, tmp / TENSORS)
        _fsync_file(tmp / TENSORS)
        body = {
            "format": FORMAT,
            "version": VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "files": {TENSORS: {"sha256": _sha256(tmp / TENSORS),
                                "bytes": (tmp / TENSORS).stat().st_size}},
            "state": skeleton,
            "meta": meta or {},
        }
        body = json.loads(json.dumps(body))  # what is checked is exactly what is read back
        manifest = dict(body, manifest_sha256=_body_digest(body))
        with open(tmp / MANIFEST, "w", encoding="utf-8") as f:
            json.dump(manifest, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(tmp)
        if final.exists():
            old = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.old")
            os.rename(final, old)
            os.rename(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, final)
        _fsync_dir(final.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _read_manifest(path: Path) -> dict:
    mpath = path / MANIFEST
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {path} does not exist (or is not a directory)")
    if not mpath.is_file():
        raise CheckpointError(f"checkpoint {path} has no {MANIFEST}; it is incomplete or not a "
                              "chainrule checkpoint")
    try:
        with open(mpath, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"checkpoint {path}: {MANIFEST} is unreadable or truncated "
                              f"({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path}: {MANIFEST} is not a chainrule checkpoint "
                              "manifest")
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    if manifest.get("manifest_sha256") != _body_digest(body):
        raise CheckpointError(f"checkpoint {path}: {MANIFEST} fails its checksum (the file was "
                              "altered or damaged)")
    if manifest.get("version", 0) > VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {manifest['version']}; "
                              f"this chainrule reads up to {VERSION}; upgrade chainrule")
    return manifest


def verify_checkpoint(path) -> dict:
    """Check a checkpoint's manifest and file checksums without loading the tensors.

    Returns the manifest's ``meta`` dict. Raises :class:`CheckpointError` if anything is
    missing, truncated or altered.

    Examples
    --------
    >>> import tempfile
    >>> p = save_checkpoint({"a": 1}, tempfile.mkdtemp() + "/ck", meta={"epoch": 1})
    >>> verify_checkpoint(p)
    {'epoch': 1}
    """
    path = Path(path)
    manifest = _read_manifest(path)
    for name, info in manifest["files"].items():
        fpath = path / name
        if not fpath.is_file():
            raise CheckpointError(f"checkpoint {path}: file {name} is missing")
        size = fpath.stat().st_size
        if size != info["bytes"]:
            raise CheckpointError(f"checkpoint {path}: {name} has {size} bytes, expected "
                                  f"{info['bytes']} (truncated or damaged)")
        if _sha256(fpath) != info["sha256"]:
            raise CheckpointError(f"checkpoint {path}: {name} fails its SHA-256 checksum "
                                  "(damaged or altered)")
    return manifest.get("meta", {})


def _fallback_hint(path: Path) -> str:
    parent = path.parent
    good = [c for c in list_checkpoints(parent) if c != path and _is_intact(c)]
    if good:
        return f"; the newest intact checkpoint is {good[-1]}, load or resume from that one"
    return ""


def _is_intact(path: Path) -> bool:
    try:
        verify_checkpoint(path)
    except CheckpointError:
        return False
    return True


def load_checkpoint(path) -> dict:
    """Load and verify a checkpoint written by :func:`save_checkpoint`.

    ``path`` may be a checkpoint directory, or a directory holding checkpoints and a
    ``latest.json`` pointer (such as a run's ``checkpoints`` folder or the run folder itself), in
    which case the latest complete checkpoint is loaded.

    Raises
    ------
    CheckpointError
        If no checkpoint is found, or it is truncated, altered or unreadable; the message names
        the problem and the newest intact checkpoint beside it.

    Examples
    --------
    >>> import tempfile
    >>> p = save_checkpoint({"lr": [0.1, 0.01]}, tempfile.mkdtemp() + "/ck")
    >>> load_checkpoint(p)["lr"]
    [0.1, 0.01]
    """
    path = find_checkpoint(path)
    try:
        verify_checkpoint(path)
        manifest = _read_manifest(path)
        try:
            tensors = _load_tensors(path / TENSORS)
        except CheckpointError:
            raise
        except Exception as exc:  # a library error while parsing means a damaged file
            raise CheckpointError(f"checkpoint {path}: {TENSORS} cannot be read ({exc})") from None
        return _decode(manifest["state"], tensors)
    except CheckpointError as exc:
        raise CheckpointError(str(exc) + _fallback_hint(path)) from None


def list_checkpoints(directory) -> list[Path]:
    """Checkpoint directories directly inside ``directory``, oldest first (by name, which
    numbers them), complete or not; temporary directories are skipped.

    Examples
    --------
    >>> list_checkpoints("/nonexistent")
    []
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir()
             if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).exists()]
    return sorted(found, key=_order_key)


def _order_key(p: Path):
    m = re.search(r"(\d+)$", p.name)
    return (int(m.group(1)) if m else -1, p.stat().st_mtime)


def find_checkpoint(path, which: str = "latest") -> Path:
    """Resolve ``path`` to one checkpoint directory.

    ``path`` may be a checkpoint directory itself, a folder with pointer files, or a run folder
    whose ``checkpoints`` subfolder has them; ``which`` picks the pointer (``"latest"`` or
    ``"best"``).

    Examples
    --------
    >>> import tempfile
    >>> p = save_checkpoint({}, tempfile.mkdtemp() + "/ck")
    >>> find_checkpoint(p) == p
    True
    """
    path = Path(path)
    if (path / MANIFEST).exists():
        return path
    for folder in (path, path / "checkpoints"):
        pointer = folder / f"{which}.json"
        if pointer.is_file():
            try:
                with open(pointer, encoding="utf-8") as f:
                    name = json.load(f)["checkpoint"]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CheckpointError(f"checkpoint pointer {pointer} is unreadable ({exc})") \
                    from None
            target = folder / name
            if not target.is_dir():
                raise CheckpointError(f"checkpoint pointer {pointer} names {name}, which does "
                                      f"not exist{_fallback_hint(target)}")
            return target
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    raise CheckpointError(f"no checkpoint found at {path}: expected a checkpoint directory "
                          f"(with {MANIFEST}) or a folder with a {which}.json pointer")


class CheckpointManager:
    """Numbered checkpoints in one folder with atomic ``latest``/``best`` pointers.

    Parameters
    ----------
    directory : str or PathLike
        Folder of the checkpoints (created if missing).
    keep_last : int
        How many numbered checkpoints to keep (at least 1); older ones are deleted only after a
        newer one is complete.

    Examples
    --------
    >>> import tempfile
    >>> cm = CheckpointManager(tempfile.mkdtemp(), keep_last=2)
    >>> for epoch in range(1, 4):
    ...     _ = cm.save({"epoch": epoch}, epoch=epoch)
    >>> [p.name for p in cm.checkpoints()], cm.load()["epoch"]
    (['epoch-0002', 'epoch-0003'], 3)
    """

    def __init__(self, directory, keep_last: int = 2):
        if int(keep_last) < 1:
            raise CheckpointError(f"CheckpointManager: keep_last must be >= 1, got {keep_last}")
        self.directory = Path(directory)
        self.keep_last = int(keep_last)

    def checkpoints(self) -> list[Path]:
        """Numbered checkpoints, oldest first."""
        return [p for p in list_checkpoints(self.directory) if p.name.startswith("epoch-")]

    def _pointer(self, which: str) -> Path | None:
        try:
            return find_checkpoint(self.directory, which)
        except CheckpointError:
            return None

    def latest(self) -> Path | None:
        """The checkpoint the ``latest.json`` pointer names, or None."""
        return self._pointer("latest")

    def best(self) -> Path | None:
        """The checkpoint the ``best.json`` pointer names, or None."""
        return self._pointer("best")

    def save(self, state: dict, epoch: int, meta: dict | None = None,
             pointers=("latest",)) -> Path:
        """Write the checkpoint ``epoch-NNNN`` and then move each pointer in ``pointers``
        (``"latest"`` and/or ``"best"``) to it; afterwards delete numbered checkpoints beyond
        ``keep_last`` that no pointer names."""
        self.directory.mkdir(parents=True, exist_ok=True)
        meta = dict(meta or {}, epoch=int(epoch))
        name = f"epoch-{int(epoch):04d}"
        path = save_checkpoint(state, self.directory / name, meta=meta)
        for which in pointers:
            if which not in ("latest", "best"):
                raise CheckpointError(f"CheckpointManager.save: unknown pointer {which!r}; "
                                      "use 'latest' or 'best'")
            _write_json_atomic(self.directory / f"{which}.json", {"checkpoint": name, **meta})
        self._prune()
        return path

    def _prune(self) -> None:
        keep = {p for p in (self.latest(), self.best()) if p is not None}
        numbered = self.checkpoints()
        for p in numbered[:-self.keep_last]:
            if p not in keep:
                shutil.rmtree(p, ignore_errors=True)
        # Leftovers of interrupted writes.
        for p in self.directory.glob(".*.tmp"):
            if p.is_dir() and time.time() - p.stat().st_mtime > 3600:
                shutil.rmtree(p, ignore_errors=True)

    def load(self, which: str = "latest") -> dict:
        """Load (and verify) the checkpoint the pointer ``which`` names, or one by name."""
        if which in ("latest", "best", "last"):
            which = "latest" if which == "last" else which
            return load_checkpoint(find_checkpoint(self.directory, which))
        return load_checkpoint(self.directory / which)
