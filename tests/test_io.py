"""cr.save / cr.load: round trips, safetensors compatibility, hostile files, atomic writes."""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import struct
from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import CheckpointError


def _tiny_module():
    class Net(cr.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = cr.nn.Parameter(cr.randn(3, 2, generator=cr.Generator().manual_seed(0)))
            self.b = cr.nn.Parameter(cr.zeros(2))
            self.register_buffer("count", cr.tensor(np.array(3, dtype=np.int64)))

    return Net()


def test_tensor_round_trip_keeps_dtype_shape_and_values(tmp_path):
    for arr in (np.arange(6, dtype=np.float32).reshape(2, 3), np.array(2.5),
                np.zeros((0, 4), np.float16), np.array([True, False]),
                np.arange(5, dtype=np.int32), np.arange(4, dtype=np.uint8).reshape(2, 2)):
        path = tmp_path / "t.safetensors"
        cr.save(cr.tensor(arr), path)
        out = cr.load(path)
        assert isinstance(out, cr.Tensor) and out.dtype == arr.dtype and out.shape == arr.shape
        np.testing.assert_array_equal(out.data, arr)
        out.data[...] = 0  # loaded arrays are writable


def test_state_dict_round_trip_into_module(tmp_path):
    m = _tiny_module()
    path = tmp_path / "model.safetensors"
    cr.save(m.state_dict(), path)
    loaded = cr.load(path)
    assert list(loaded) == ["w", "b", "count"]
    m2 = _tiny_module()
    m2.b.data[...] = 9
    m2.load_state_dict(loaded)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(m2.state_dict()[k].data, v.data)


def test_nested_structures_round_trip(tmp_path):
    shared = cr.ones(2)
    obj = {
        "epoch": 3, "lr": 0.1, "name": "run", "flag": True, "none": None,
        "nan": float("nan"), "inf": float("-inf"), "big": 2 ** 70,
        "ints": {0: {"step": 5, "buf": cr.tensor([1.0, 2.0])}, 1: {}},
        "floatkey": {0.5: "half", (1, "a"): "tuple key", None: 1, True: 2},
        "list": [1, [2.5, "x"], (cr.zeros(1), np.arange(3))],
        "tied": [shared, shared],
        "scalar": np.float32(1.5),
        "param": cr.nn.Parameter(cr.ones(2)),
        "leaf": cr.ones(1, requires_grad=True),
        "od": OrderedDict(b=1, a=2),
    }
    path = tmp_path / "nested.safetensors"
    cr.save(obj, path)
    out = cr.load(path)
    assert out["epoch"] == 3 and out["lr"] == 0.1 and out["name"] == "run"
    assert out["flag"] is True and out["none"] is None and out["big"] == 2 ** 70
    assert math.isnan(out["nan"]) and out["inf"] == float("-inf")
    assert out["ints"][0]["step"] == 5 and out["ints"][0]["buf"].tolist() == [1.0, 2.0]
    assert out["ints"][1] == {}
    assert out["floatkey"] == {0.5: "half", (1, "a"): "tuple key", None: 1, True: 2}
    lst = out["list"]
    assert lst[0] == 1 and lst[1] == [2.5, "x"] and isinstance(lst[2], tuple)
    assert isinstance(lst[2][1], np.ndarray) and lst[2][1].tolist() == [0, 1, 2]
    assert out["tied"][0] is out["tied"][1]
    assert isinstance(out["scalar"], np.float32) and out["scalar"] == 1.5
    assert isinstance(out["param"], cr.nn.Parameter) and out["param"].requires_grad
    assert out["leaf"].requires_grad and not out["list"][2][0].requires_grad
    assert list(out["od"]) == ["b", "a"]


def test_optimizer_and_file_objects(tmp_path):
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = cr.optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    buf = io.BytesIO()
    cr.save(opt.state_dict(), buf)
    buf.seek(0)
    sd = cr.load(buf)
    assert sd["state"][0]["step"] == 1 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"].data,
                                  opt.state[w]["exp_avg"].data)


def test_unsupported_objects_are_refused_at_save(tmp_path):
    for bad in ({"f": lambda: 1}, {"c": np.ones(2, np.complex64)}, {"o": object()},
                {"k": {frozenset(): 1}}, {"s": np.array(["a"])}):
        with pytest.raises(CheckpointError, match="save"):
            cr.save(bad, tmp_path / "x.safetensors")
    assert not os.listdir(tmp_path)  # nothing half-written


def test_interoperates_with_the_safetensors_library(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    m = _tiny_module()
    path = tmp_path / "m.safetensors"
    cr.save(m.state_dict(), path)
    theirs = st.load_file(str(path))
    assert set(theirs) == {"w", "b", "count"}
    np.testing.assert_array_equal(theirs["w"], m.w.data)
    other = tmp_path / "other.safetensors"
    st.save_file({"a": np.arange(6, dtype=np.float64).reshape(2, 3),
                  "b": np.ones(3, np.float32)}, str(other))
    ours = cr.load(other)
    assert isinstance(ours["a"], cr.Tensor) and ours["a"].data.tolist() == [[0, 1, 2],
                                                                             [3, 4, 5]]


# ------------------------------------------------------------------------------ hostile files
def _raw(header: dict, data: bytes, claimed=None) -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h) if claimed is None else claimed) + h + data


def _good_file(tmp_path):
    path = tmp_path / "good.safetensors"
    cr.save({"w": cr.arange(8).float(), "x": cr.ones(2, 2)}, path)
    return path.read_bytes()


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def _hostile_cases(tmp_path):
    good = _good_file(tmp_path)
    (n,) = struct.unpack("<Q", good[:8])
    header = json.loads(good[8:8 + n])
    data = good[8 + n:]
    meta = header["__metadata__"]

    def with_header(**changes):
        h = json.loads(json.dumps(header))
        for k, v in changes.items():
            h["w"][k] = v
        return _raw(h, data)

    flipped = bytearray(good)
    flipped[-3] ^= 0xFF
    bad_meta = json.loads(json.dumps(header))
    edited = meta["chainrule"].replace('"version":2', '"version":3')
    assert edited != meta["chainrule"]
    bad_meta["__metadata__"]["chainrule"] = edited
    return {
        "pickle": (pickle.dumps({"w": _Evil()}), "pickle"),
        "torch zip": (b"PK\x03\x04" + b"\0" * 64, "zip archive"),
        "empty": (b"", "too short"),
        "huge header length": (struct.pack("<Q", 2 ** 60) + b"{}", "header claims"),
        "header longer than file": (good[:8] + good[8:40], "header claims"),
        "not json": (_raw({}, b"")[:8] + b"{nope" + b" " * 3, "not valid JSON"),
        "wrong dtype": (with_header(dtype="F33"), "unknown dtype 'F33'"),
        "bfloat16": (with_header(dtype="BF16"), "BF16"),
        "shape vs bytes": (with_header(shape=[3, 3]), "needs 36 bytes"),
        "huge shape": (with_header(shape=[2 ** 40, 2 ** 40]), "needs"),
        "negative dim": (with_header(shape=[-8]), "non-negative"),
        "offsets outside": (with_header(data_offsets=[0, 10 ** 12]), "outside"),
        "truncated data": (good[:-5], "outside|cover"),
        "flipped byte": (bytes(flipped), "checksum"),
        "metadata edited": (_raw(bad_meta, data), "checksum"),
        "gap": (_raw({"a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}, b"\0\0"),
                "tile"),
        "overlap": (_raw({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
                          "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}},
                         b"\0\0\0"), "tile"),
        "duplicate key": (struct.pack("<Q", 13) + b'{"a":1,"a":2}', "duplicate key"),
        "bad bool": (_raw({"a": {"dtype": "BOOL", "shape": [1], "data_offsets": [0, 1]}},
                          b"\x07"), "BOOL"),
        "extra field": (_raw({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1],
                                    "x": 1}}, b"\0"), "exactly"),
        "numpy npy": (b"\x93NUMPY" + b"\0" * 20, "npy"),
    }


def test_hostile_files_raise_checkpoint_error(tmp_path, monkeypatch):
    cases = _hostile_cases(tmp_path)
    ran = []
    monkeypatch.setattr(os, "system", lambda *a: ran.append(a))
    for name, (blob, pattern) in cases.items():
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(blob)
        with pytest.raises(CheckpointError, match=pattern):
            cr.load(path)
    assert not ran  # nothing in any file was executed
    with pytest.raises(CheckpointError, match="no such file"):
        cr.load(tmp_path / "missing.safetensors")


def test_hostile_files_are_refused_before_the_library_reads_them(tmp_path, monkeypatch):
    st = pytest.importorskip("safetensors")
    import safetensors.numpy

    def forbidden(*a, **k):
        raise AssertionError("the safetensors library was handed a file that failed the checks")

    monkeypatch.setattr(st, "safe_open", forbidden)
    monkeypatch.setattr(safetensors.numpy, "load", forbidden)
    for name, (blob, pattern) in _hostile_cases(tmp_path).items():
        if name in ("flipped byte", "bad bool"):
            continue  # only visible in the tensor bytes, which the library reads
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(blob)
        with pytest.raises(CheckpointError, match=pattern):
            cr.load(path)
        with pytest.raises(CheckpointError, match=pattern):
            cr.load(io.BytesIO(blob))


def test_file_objects_refuse_hostile_bytes_too(tmp_path):
    for _name, (blob, pattern) in _hostile_cases(tmp_path).items():
        with pytest.raises(CheckpointError, match=pattern):
            cr.load(io.BytesIO(blob))


def test_bytes_are_written_and_read_by_the_safetensors_library(tmp_path, monkeypatch):
    st = pytest.importorskip("safetensors")
    import safetensors.numpy

    calls = []
    for mod, name in ((safetensors.numpy, "save_file"), (safetensors.numpy, "save"),
                      (safetensors.numpy, "load"), (st, "safe_open")):
        real = getattr(mod, name)
        monkeypatch.setattr(mod, name, lambda *a, _r=real, _n=name, **k: (calls.append(_n),
                                                                            _r(*a, **k))[1])
    obj = {"w": cr.ones(2, 3), "t": cr.ones(4, 3).T, "i": np.arange(5, dtype=np.int16)[::2]}
    cr.save(obj, tmp_path / "a.safetensors")
    out = cr.load(tmp_path / "a.safetensors")
    buf = io.BytesIO()
    cr.save(obj, buf)
    buf.seek(0)
    out2 = cr.load(buf)
    assert calls == ["save_file", "safe_open", "save", "load"]
    for o in (out, out2):  # strided inputs were made contiguous before the library saw them
        assert o["t"].tolist() == [[1.0] * 4] * 3 and o["i"].tolist() == [0, 2, 4]


def test_missing_safetensors_package_is_a_typed_error(tmp_path, monkeypatch):
    import sys

    path = tmp_path / "m.safetensors"
    cr.save({"w": cr.ones(2)}, path)
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(CheckpointError, match="pip install safetensors"):
        cr.save({"w": cr.ones(2)}, tmp_path / "n.safetensors")
    with pytest.raises(CheckpointError, match="pip install safetensors"):
        cr.load(path)
    with pytest.raises(CheckpointError, match="pickle"):  # the checks need no library
        cr.load(io.BytesIO(pickle.dumps([1])))
    assert sorted(os.listdir(tmp_path)) == ["m.safetensors"]


# A file written by format version 1 (checksum over the tensors in file order):
# {"w": 2x2 float32 Tensor, "n": int16 array [0, 1, 2], "step": 7}.
_V1_FILE = (
    "+AEAAAAAAAB7InciOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6WzIsMl0sImRhdGFfb2Zmc2V0cyI6WzAsMTZdfSwibiI6"
    "eyJkdHlwZSI6IkkxNiIsInNoYXBlIjpbM10sImRhdGFfb2Zmc2V0cyI6WzE2LDIyXX0sIl9fbWV0YWRhdGFfXyI6eyJm"
    "b3JtYXQiOiJjaGFpbnJ1bGUiLCJjaGFpbnJ1bGUiOiJ7XCJ2ZXJzaW9uXCI6MSxcInRyZWVcIjp7XCIkZGljdFwiOltb"
    "XCJ3XCIse1wiJHRlbnNvclwiOlwid1wifV0sW1wiblwiLHtcIiRuZGFycmF5XCI6XCJuXCJ9XSxbXCJzdGVwXCIsN11d"
    "fSxcImRhdGFfc2hhMjU2XCI6XCIwZGJiNTU1MjBiOWJkNmM3MjZiZTI0MzA5ZWNlMjM0ZmJhZWE5NGMwNGE0MDg5YWRj"
    "MjczMGU2NmVjYTM2NWJkXCIsXCJ0ZW5zb3JzXCI6e1wid1wiOltcIkYzMlwiLFsyLDJdXSxcIm5cIjpbXCJJMTZcIixb"
    "M11dfX0iLCJjaGFpbnJ1bGVfc2hhMjU2IjoiYjZkNjc3MWFlMzMzNjFmYWNkNjY4NDcxNGQ3NzQ3MzZjNGQ4YWVhYWUz"
    "YWFhNzVlYWVhNGY5OGMwYjlhZjZmZSJ9fSAgICAAAIA/AAAAQAAAQEAAAIBAAAABAAIA")


def test_version_1_files_still_load(tmp_path):
    import base64

    blob = base64.b64decode(_V1_FILE)
    path = tmp_path / "v1.safetensors"
    path.write_bytes(blob)
    out = cr.load(path)
    assert out["step"] == 7 and out["w"].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert out["n"].dtype == np.int16 and out["n"].tolist() == [0, 1, 2]
    damaged = bytearray(blob)
    damaged[-1] ^= 1
    path.write_bytes(bytes(damaged))
    with pytest.raises(CheckpointError, match="checksum"):
        cr.load(path)


def test_huge_header_does_not_allocate(tmp_path):
    import tracemalloc

    path = tmp_path / "h.safetensors"
    path.write_bytes(_raw({"a": {"dtype": "F64", "shape": [2 ** 31, 2 ** 31],
                                 "data_offsets": [0, 2 ** 65]}}, b"\0" * 8))
    tracemalloc.start()
    with pytest.raises(CheckpointError):
        cr.load(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 10_000_000


# ----------------------------------------------------------------------------- atomic writes
def test_crash_during_replace_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ck.safetensors"
    cr.save({"v": cr.tensor([1.0])}, path)
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("simulated crash")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        cr.save({"v": cr.tensor([2.0])}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ck.safetensors"]  # the temporary file was removed
    assert cr.load(path)["v"].tolist() == [1.0]


def test_crash_mid_write_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ck.safetensors"
    cr.save({"v": cr.tensor([1.0])}, path)
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        cr.save({"v": cr.zeros(1000)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ck.safetensors"]


def test_save_into_missing_directory(tmp_path):
    with pytest.raises(CheckpointError, match="doesn't exist"):
        cr.save(cr.ones(1), tmp_path / "nope" / "x.safetensors")
