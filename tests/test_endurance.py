"""Long runs: resident memory stays flat over 20,000 optimiser steps of a real training loop, and
backpropagation goes through 1,000 recurrent steps (fused and cell by cell) without recursion
errors. (The 100,000-op chain is in tests/core/test_autograd.py.)"""

import os
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.data.datasets import blobs
from chainrule.train import Trainer

F = cr.nn.functional


def _rss_mb():
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_twenty_thousand_trainer_steps_keep_resident_memory_flat():
    x, y = blobs(n=256, centers=4, seed=0)
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(2, 32), cr.nn.ReLU(), cr.nn.Dropout(0.1),
                             cr.nn.Linear(32, 4))
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    loader = cr.data.DataLoader(cr.data.TensorDataset(cr.tensor(x), cr.tensor(y)),
                                batch_size=16, shuffle=True, generator=cr.Generator(1))
    # 16 steps an epoch; a step schedule and the history grow with epochs, not with memory leaks
    trainer = Trainer(model, F.cross_entropy, opt, loader, progress=False, max_steps=1_000)
    trainer.fit(10_000)
    before = _rss_mb()
    trainer.max_steps = 21_000
    trainer.fit(10_000)
    after = _rss_mb()
    print(f"\nRSS {before:.1f} MB after 1,000 steps, {after:.1f} MB after 21,000")
    assert trainer.step == 21_000
    assert np.isfinite(trainer.history[-1]["loss"])
    assert after - before < 8, f"resident memory grew {after - before:.1f} MB"


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_backprop_through_a_thousand_step_sequence(kind):
    g = cr.Generator(0)
    layer = getattr(cr.nn, kind)(3, 8, batch_first=True, generator=g)
    x = cr.randn(2, 1000, 3, generator=g, requires_grad=True)
    out, _ = layer(x)
    out[:, -1].sum().backward()
    grad = x.grad.numpy()
    assert np.isfinite(grad).all()
    # the last input matters; the signal from 1,000 steps back has all but vanished
    assert np.abs(grad[:, -1]).sum() > 0
    assert np.abs(grad[:, 0]).sum() < 1e-3 * np.abs(grad[:, -1]).sum()


def test_backprop_through_a_thousand_elman_cells_one_op_at_a_time():
    g = cr.Generator(0)
    cell = cr.nn.RNNCell(3, 8, generator=g)
    x = cr.randn(1000, 2, 3, generator=g)
    h = cr.zeros(2, 8)
    for t in range(1000):  # a graph 1,000 cells (several thousand nodes) deep
        h = cell(x[t], h)
    assert sys.getrecursionlimit() < 10_000
    h.sum().backward()
    for p in cell.parameters():
        assert p.grad is not None and np.isfinite(p.grad.numpy()).all()
