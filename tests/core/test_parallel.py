"""Batch-parallel convolution and pooling: the same numbers as on one thread."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import _openblas
from chainrule.core import parallel
from chainrule.errors import ArgumentError
from chainrule.nn import functional as F


@pytest.fixture
def two_threads(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_WORK", 0)  # split even the small test arrays
    before = parallel.get_num_threads()
    parallel.set_num_threads(2)
    yield
    parallel.set_num_threads(before)


def _conv_net_grads(seed=0):
    g = cr.Generator().manual_seed(seed)
    x = cr.randn(5, 3, 9, 8, generator=g, requires_grad=True)
    w = cr.randn(4, 3, 3, 3, generator=g, requires_grad=True)
    w1 = cr.randn(6, 3, 2, generator=g, requires_grad=True)
    x1 = cr.randn(5, 3, 11, generator=g, requires_grad=True)
    y = F.max_pool2d(F.conv2d(x, w, padding=1).relu(), 2)
    y1 = F.conv1d(x1, w1, stride=2)
    loss = (y * y).sum() + (y1 * y1).sum()
    loss.backward()
    return [t.detach().numpy().copy() for t in (y, y1, x.grad, w.grad, x1.grad, w1.grad)]


def test_split_batch_matches_one_thread(two_threads):
    parallel.set_num_threads(1)
    serial = _conv_net_grads()
    parallel.set_num_threads(2)
    split = _conv_net_grads()
    names = ["conv2d+pool out", "conv1d out", "x.grad", "w.grad", "x1.grad", "w1.grad"]
    for name, a, b in zip(names, serial, split):
        # per-sample results are computed the same way; weight gradients are summed per chunk
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5, err_msg=name)
    assert parallel.chunks(5, work=10**9) == [(0, 2), (2, 5)]


def test_split_is_reproducible_for_a_thread_count(two_threads):
    first, second = _conv_net_grads(), _conv_net_grads()
    for a, b in zip(first, second):
        assert np.array_equal(a, b)


def test_when_nothing_is_split(two_threads, monkeypatch):
    assert parallel.chunks(1, work=10**9) is None  # one sample
    monkeypatch.setattr(parallel, "MIN_WORK", 100)
    assert parallel.chunks(8, work=99) is None  # too little work
    # inside a chunk, nested ops run whole
    inner = parallel.batch_map(lambda a, b: parallel.chunks(8, work=10**9), 8, work=10**9)
    assert inner == [None, None]
    parallel.set_num_threads(1)
    assert parallel.chunks(8, work=10**9) is None


def test_errors_in_a_chunk_reach_the_caller_and_blas_gets_its_threads_back(two_threads):
    before = _openblas.get_threads()
    if before is not None:
        _openblas.set_threads(2)  # the chunks run with one; afterwards it must be 2 again

    def boom(a, b):
        if a > 0:
            raise ValueError("chunk failed")
        return a

    with pytest.raises(ValueError, match="chunk failed"):
        parallel.batch_map(boom, 4, work=10**9)
    if before is not None:
        assert _openblas.get_threads() == 2
        _openblas.set_threads(before)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_rejects_bad_counts(bad):
    with pytest.raises(ArgumentError, match="set_num_threads"):
        cr.set_num_threads(bad)
