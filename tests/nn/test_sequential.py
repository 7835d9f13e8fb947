"""nn.Sequential: a ReLU after a Linear clips the Linear's output in place where no graph is
recorded, with the same numbers and nothing else touched."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.core.registry import REGISTRY

nn = cr.nn


@pytest.fixture
def relu_calls(monkeypatch):
    """How many times the relu op's forward runs (the in-place path does not call it)."""
    calls = []
    op = REGISTRY["relu"]
    for attr in ("forward", "forward_saving"):
        real = getattr(op, attr)
        if real is not None:
            monkeypatch.setattr(op, attr, lambda *a, _r=real, **k: calls.append(1) or _r(*a, **k))
    return calls


def _mlp(seed=0):
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.ReLU(),
                         nn.Linear(8, 3))


def _layer_by_layer(net, x):
    for m in net:
        x = m(x)
    return x


def test_relu_after_linear_is_in_place_without_a_graph(relu_calls):
    net = _mlp()
    x = cr.randn(5, 6)
    with cr.no_grad():
        ref = _layer_by_layer(net, x).numpy()  # three relu op calls
        assert len(relu_calls) == 3
        relu_calls.clear()
        out = net(x).numpy()
    assert len(relu_calls) == 0  # every ReLU ran in place (the second of two in a row too)
    assert np.array_equal(out, ref)
    # parameters frozen, grad mode on: no graph either, the same path
    for p in net.parameters():
        p.requires_grad_(False)
    assert np.array_equal(net(x).numpy(), ref) and len(relu_calls) == 0
    # the in-place helper is the container's, not the public API
    assert not hasattr(cr, "relu_in_place") and not hasattr(cr, "_relu_in_place")


def test_relu_after_linear_records_the_graph_when_grads_are_wanted(relu_calls):
    net, ref = _mlp(), _mlp()
    x = cr.randn(5, 6)
    out = net(x)
    assert len(relu_calls) == 3 and out.requires_grad
    out.sum().backward()
    _layer_by_layer(ref, x).sum().backward()
    for p, q in zip(net.parameters(), ref.parameters()):
        assert np.array_equal(p.grad.numpy(), q.grad.numpy())


def test_in_place_relu_never_touches_what_the_caller_holds(relu_calls):
    x = cr.tensor(np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(2, 6))
    before = x.numpy().copy()
    lin = nn.Linear(6, 6)
    lin.forward = lambda t: t  # replaced on the instance: its output is the caller's input
    with cr.no_grad():
        nn.Sequential(nn.ReLU(), nn.Linear(6, 6))(x)  # the input reaches a ReLU first
        out = nn.Sequential(lin, nn.ReLU())(x)
    assert np.array_equal(x.numpy(), before)
    assert np.array_equal(out.numpy(), np.maximum(before, 0))
    assert len(relu_calls) == 2  # neither ran in place


def test_in_place_relu_is_traced_as_an_op_under_compile():
    net = _mlp()
    x = cr.randn(5, 6)

    def infer():
        with cr.no_grad():
            return net(x)

    with cr.no_grad():
        ref = _layer_by_layer(net, x).numpy()
    step = cr.compile(infer)
    for _ in range(4):  # record, check, then replays
        assert np.array_equal(step().numpy(), ref)
    assert step.eager_reason is None
