"""Nothing is lost when training is killed: SIGKILL at random moments, saves included.

This file is also the training script the test runs and kills: ``python test_kill_resume.py
RUN_DIR`` trains a small MLP (shuffled mini-batches, dropout, Adam, a step schedule) on a tiny
synthetic data set, writing a checkpoint after every epoch, and resumes from ``RUN_DIR``'s latest
checkpoint if there is one. With ``CR_HALT=event:n`` in its environment it stops dead (prints
``HALT`` and sleeps) at the n-th occurrence of an event inside the training step or the
checkpoint code, so the test can kill it exactly there: after the temporary tensor file is
written, before any ``fsync``, before each rename, before a pointer file moves, or halfway through
deleting an old checkpoint. Other kills come after a random delay.

After every kill the test checks that the checkpoint the ``latest`` pointer names verifies (its
manifest checksum and the tensor file's checksum), loads, is complete, never goes back in time,
and that resuming from it to the end gives weights bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

EPOCHS = 8
SAVE_EVENTS = ("save_file", "fsync", "rename", "replace", "pointer", "rmtree")


def build(run_dir=None):
    """The run under test; the same seed gives the same run."""
    import chainrule as cr
    from chainrule.data.datasets import blobs
    from chainrule.train import ModelCheckpoint, Trainer

    x, y = blobs(n=48, centers=3, seed=5)
    cr.manual_seed(11)
    model = cr.nn.Sequential(cr.nn.Linear(2, 16), cr.nn.ReLU(), cr.nn.Dropout(0.3),
                             cr.nn.Linear(16, 3))
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    sched = cr.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.7)
    loader = cr.data.DataLoader(cr.data.TensorDataset(cr.tensor(x), cr.tensor(y)),
                                batch_size=16, shuffle=True, generator=cr.Generator(3))
    callbacks = []
    if run_dir is not None:
        callbacks.append(ModelCheckpoint(Path(run_dir) / "checkpoints", monitor="loss",
                                         keep_last=2))
    return Trainer(model, cr.nn.functional.cross_entropy, opt, loader, scheduler=sched,
                   callbacks=callbacks, progress=False)


class Hooks:
    """Counts events in the training step and the checkpoint code; halts at one of them."""

    def __init__(self, halt=None):
        self.counts = Counter()
        self.halt = halt

    def hit(self, event):
        self.counts[event] += 1
        if self.halt == (event, self.counts[event]):
            print(f"HALT {event} {self.counts[event]}", flush=True)
            time.sleep(120)  # killed here

    def install(self, trainer, patch=setattr):
        import shutil

        import safetensors.numpy

        from chainrule.train import checkpoint

        def wrap(owner, name, event, after=False):
            real = getattr(owner, name)

            def hooked(*args, **kwargs):
                if not after:
                    self.hit(event)
                out = real(*args, **kwargs)
                if after:
                    self.hit(event)
                return out

            patch(owner, name, hooked)

        real_rmtree = shutil.rmtree

        def rmtree(path, *args, **kwargs):
            # A deletion cut short: the tensor file is gone, the manifest is still there.
            tensors = Path(path) / checkpoint.TENSORS
            if tensors.is_file():
                tensors.unlink()
            self.hit("rmtree")
            return real_rmtree(path, *args, **kwargs)

        wrap(trainer.optimizer, "step", "step", after=True)
        wrap(safetensors.numpy, "save_file", "save_file", after=True)  # temp file written
        wrap(os, "fsync", "fsync")
        wrap(os, "rename", "rename")
        wrap(os, "replace", "replace")
        wrap(checkpoint, "_write_json_atomic", "pointer")  # checkpoint complete, not named yet
        patch(shutil, "rmtree", rmtree)


def weights(trainer):
    return {k: v.numpy().copy() for k, v in trainer.model.state_dict().items()}


def _main(run_dir):
    halt = os.environ.get("CR_HALT")
    if halt:
        event, n = halt.split(":")
        halt = (event, int(n))
    trainer = build(run_dir)
    Hooks(halt).install(trainer)
    checkpoints = Path(run_dir) / "checkpoints"
    if (checkpoints / "latest.json").exists():
        trainer.resume(checkpoints)
    print("READY", flush=True)
    trainer.fit(EPOCHS)
    print("DONE", flush=True)


if __name__ == "__main__":
    _main(sys.argv[1])
    sys.exit(0)


# ------------------------------------------------------------------------------ the test
import pytest  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.train import CheckpointManager, load_checkpoint, verify_checkpoint  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def _reference(tmp_path, monkeypatch):
    """The uninterrupted run (with its checkpoints, to count the events a run goes through)."""
    trainer = build(tmp_path / "reference")
    hooks = Hooks()
    with monkeypatch.context() as m:
        hooks.install(trainer, m.setattr)
        t0 = time.perf_counter()
        trainer.fit(EPOCHS)
        seconds = time.perf_counter() - t0
    return weights(trainer), hooks.counts, seconds


def _check_after_kill(run_dir, reference, last_epoch):
    """The latest checkpoint verifies, loads, is complete and resumes to the reference."""
    manager = CheckpointManager(run_dir / "checkpoints")
    latest = manager.latest()
    if latest is None:  # killed before the first checkpoint was complete
        assert last_epoch == 0
        return 0
    meta = verify_checkpoint(latest)  # manifest checksum, tensor file size and checksum
    state = load_checkpoint(latest)
    assert state["epoch"] == meta["epoch"] and state["step"] == meta["step"]
    assert state["epoch"] >= last_epoch, "the latest checkpoint went back in time"
    assert state["step"] == 3 * state["epoch"]  # 48 examples, batches of 16
    assert len(state["history"]) == state["epoch"]
    assert set(state["model"]) == set(reference)
    assert state["optimizer"]["state"] and state["scheduler"] is not None and state["rng"]
    best = manager.best()
    if best is not None:
        verify_checkpoint(best)
    resumed = build()
    resumed.load_state_dict(state)
    resumed.fit(EPOCHS)
    for k, w in weights(resumed).items():
        assert np.array_equal(w, reference[k]), (k, state["epoch"])
    return state["epoch"]


def _run_and_kill(run_dir, env, halt, delay):
    """Start the script; kill it at ``halt`` (or ``delay`` seconds after it is ready).
    Returns its exit status and error output."""
    if halt is not None:
        env = dict(env, CR_HALT=f"{halt[0]}:{halt[1]}")
    proc = subprocess.Popen([sys.executable, __file__, str(run_dir)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        if line.startswith("READY"):
            if halt is None:
                time.sleep(delay)
                proc.send_signal(signal.SIGKILL)
            else:
                while line and not line.startswith("HALT"):
                    line = proc.stdout.readline()
                if line:
                    proc.send_signal(signal.SIGKILL)
        rc = proc.wait(timeout=60)
        return rc, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_sigkill_at_random_moments_loses_nothing(tmp_path, monkeypatch):
    reference, counts, seconds = _reference(tmp_path, monkeypatch)
    assert all(counts[e] > 0 for e in ("step", *SAVE_EVENTS)), counts
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(cr.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]))
    env.pop("CR_HALT", None)
    rng = np.random.default_rng(2024)
    events = ("step", *SAVE_EVENTS)
    kills, kills_in_saves, finished, epochs_seen = 0, 0, 0, set()
    run, run_dir, last_epoch = 0, tmp_path / "run0", 0
    for i in range(40):
        if kills >= 22 and kills_in_saves >= 12:
            break
        halt, delay = None, 0.0
        if i % 3 == 2:  # a moment chosen by the clock, not by the code
            delay = rng.uniform(0, seconds)
        else:
            event = events[rng.integers(len(events))]
            left = counts[event] * (EPOCHS - last_epoch) // EPOCHS
            halt = (event, int(rng.integers(1, max(left, 1) + 1)))
        rc, err = _run_and_kill(run_dir, env, halt, delay)
        if rc == -signal.SIGKILL:
            kills += 1
            kills_in_saves += halt is not None and halt[0] in SAVE_EVENTS
            last_epoch = _check_after_kill(run_dir, reference, last_epoch)
            epochs_seen.add(last_epoch)
        else:  # the run ended before the kill came: it must have ended well
            assert rc == 0, err
            finished += 1
            assert _check_after_kill(run_dir, reference, last_epoch) == EPOCHS
            run += 1
            run_dir, last_epoch = tmp_path / f"run{run}", 0
    assert kills >= 22 and kills_in_saves >= 12, (kills, kills_in_saves, finished)
    assert len(epochs_seen) >= 4, epochs_seen  # the kills fell all over the run
