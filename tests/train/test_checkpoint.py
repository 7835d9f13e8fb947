"""Checkpoints: round trip of nested training state, atomic pointers, corruption refused."""

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import CheckpointError
from chainrule.train import checkpoint as C


def _state():
    return {
        "model": {"fc.weight": cr.tensor(np.arange(6, dtype=np.float32).reshape(2, 3)),
                  "fc.bias": np.array([1.5, -2.0], dtype=np.float32),
                  "bn.num_batches_tracked": np.array(7, dtype=np.int64)},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": np.ones(2, np.float32)}},
                      "param_groups": [{"params": [0, 1], "lr": 1e-3, "betas": (0.9, 0.999),
                                        "amsgrad": False, "foreach": None}]},
        "rng": [{"bit_generator": "PCG64", "state": {"state": 2**127 + 5, "inc": 2**64 + 1}}],
        "best": float("inf"),
        "scalar": np.float32(0.25),
        "empty": np.zeros((0, 3), np.float32),
        "flag": np.array([True, False]),
    }


def test_round_trip_keeps_values_types_and_key_types(tmp_path):
    path = C.save_checkpoint(_state(), tmp_path / "ck", meta={"epoch": 2})
    back = C.load_checkpoint(path)
    assert isinstance(back["model"]["fc.weight"], cr.Tensor)
    np.testing.assert_array_equal(back["model"]["fc.weight"].numpy(),
                                  np.arange(6, dtype=np.float32).reshape(2, 3))
    assert back["model"]["fc.bias"].dtype == np.float32
    assert back["model"]["bn.num_batches_tracked"].dtype == np.int64
    assert list(back["optimizer"]["state"]) == [0]  # int keys survive
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert back["optimizer"]["param_groups"][0]["foreach"] is None
    assert back["rng"][0]["state"]["state"] == 2**127 + 5
    assert back["best"] == float("inf")
    assert back["scalar"] == np.float32(0.25) and back["scalar"].dtype == np.float32
    assert back["empty"].shape == (0, 3)
    assert back["flag"].dtype == bool
    assert C.verify_checkpoint(path) == {"epoch": 2}


def test_unsupported_objects_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="cannot store"):
        C.save_checkpoint({"f": lambda: 0}, tmp_path / "ck")
    assert not (tmp_path / "ck").exists()


def _flip_byte(path, offset=-20):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupted_or_truncated_checkpoint_is_refused_and_previous_kept(tmp_path):
    cm = C.CheckpointManager(tmp_path, keep_last=2)
    cm.save(_state(), epoch=1)
    cm.save(_state(), epoch=2)
    latest = cm.latest()
    assert latest.name == "epoch-0002"
    _flip_byte(latest / C.TENSORS)
    with pytest.raises(CheckpointError, match="checksum") as err:
        C.load_checkpoint(tmp_path)
    assert "epoch-0001" in str(err.value)  # names the intact fallback
    assert C.load_checkpoint(tmp_path / "epoch-0001")["best"] == float("inf")

    tensors = latest / C.TENSORS
    tensors.write_bytes(tensors.read_bytes()[:50])
    with pytest.raises(CheckpointError, match="truncated"):
        C.load_checkpoint(latest)

    manifest = json.loads((latest / C.MANIFEST).read_text())
    manifest["meta"]["epoch"] = 99
    (latest / C.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="manifest"):
        C.load_checkpoint(latest)
    (latest / C.MANIFEST).write_text("{\"format\": ")
    with pytest.raises(CheckpointError, match="unreadable or truncated"):
        C.load_checkpoint(latest)


def test_failed_write_leaves_the_previous_checkpoint_current(tmp_path, monkeypatch):
    cm = C.CheckpointManager(tmp_path, keep_last=1)
    cm.save({"epoch": 1, "w": np.ones(3, np.float32)}, epoch=1)

    def broken(tensors, path):
        path.write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(C, "_save_tensors", broken)
    with pytest.raises(OSError, match="disk full"):
        cm.save({"epoch": 2, "w": np.zeros(3, np.float32)}, epoch=2)
    monkeypatch.undo()
    assert [p.name for p in cm.checkpoints()] == ["epoch-0001"]
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    assert cm.load()["epoch"] == 1


def test_manager_keeps_last_n_and_the_best(tmp_path):
    cm = C.CheckpointManager(tmp_path, keep_last=2)
    cm.save({"e": 1}, epoch=1, pointers=("latest", "best"))
    for e in (2, 3, 4):
        cm.save({"e": e}, epoch=e)
    assert [p.name for p in cm.checkpoints()] == ["epoch-0001", "epoch-0003", "epoch-0004"]
    assert cm.load("best")["e"] == 1
    assert cm.load()["e"] == 4
    assert json.loads((tmp_path / "latest.json").read_text())["checkpoint"] == "epoch-0004"


def test_missing_checkpoint_messages(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        C.load_checkpoint(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        C.load_checkpoint(tmp_path)
