"""nn.Sequential's two rewrites, each with the same numbers bit for bit: a ReLU after a Linear
clips the Linear's output in place where no graph is recorded, nothing else touched; a ReLU
before a max pooling runs after it."""

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


def _cnn(seed=0, pool=nn.MaxPool2d, conv=nn.Conv2d, **pool_kw):
    cr.manual_seed(seed)
    return nn.Sequential(conv(2, 4, 3, padding=1), nn.ReLU(), pool(2, **pool_kw), nn.ReLU(),
                         conv(4, 3, 3, padding=1), nn.ReLU(), pool(3, stride=2, padding=1),
                         nn.Flatten(), nn.Linear(3 * 2 * 2 if conv is nn.Conv2d else 6, 5),
                         nn.ReLU())


def _ops_in_order(t):
    """Op names from ``t`` back to the input, following each node's first tensor input."""
    names, v = [], t._node
    while v is not None and hasattr(v, "op"):
        names.append(v.op.name)
        v = v.inputs[0]._node if v.inputs else None
    return names[::-1]


def _with_ties(shape, seed):
    """Values from a few levels, so windows hold ties, exact zeros and all-negative maxima."""
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1.0, -0.5, 0.0, 0.5, 1.0], np.float32), size=shape)


@pytest.mark.parametrize("dims", [1, 2])
def test_relu_before_max_pooling_runs_after_it_with_the_same_numbers(dims):
    conv, pool = (nn.Conv1d, nn.MaxPool1d) if dims == 1 else (nn.Conv2d, nn.MaxPool2d)
    shape = (3, 2, 8) if dims == 1 else (3, 2, 8, 8)
    net, ref = _cnn(pool=pool, conv=conv), _cnn(pool=pool, conv=conv)
    for w in list(net.parameters()) + list(ref.parameters()):  # a coarse grid: ties everywhere
        w.data[...] = np.round(w.data * 4) / 4
    xa = _with_ties(shape, 1)
    x, xr = cr.tensor(xa, requires_grad=True), cr.tensor(xa, requires_grad=True)
    out, want = net(x), _layer_by_layer(ref, xr)
    ops = _ops_in_order(out)
    pool_op = "max_pool2d"  # 1-D pooling runs as 2-D on a reshaped view
    assert ops.index(pool_op) < ops.index("relu")  # the pooling first, as recorded
    assert _ops_in_order(want).index("relu") < _ops_in_order(want).index(pool_op)
    assert np.array_equal(out.detach().numpy(), want.detach().numpy())
    g = cr.tensor(_with_ties(out.shape, 2))
    (out * g).sum().backward()
    (want * g).sum().backward()
    assert np.array_equal(x.grad.detach().numpy(), xr.grad.detach().numpy())
    for p, q in zip(net.parameters(), ref.parameters()):
        assert np.array_equal(p.grad.detach().numpy(), q.grad.detach().numpy())


def test_relu_keeps_its_place_where_the_rewrite_does_not_apply():
    x = cr.tensor(_with_ties((2, 2, 8, 8), 3))
    # a pooling that returns indices: they must index the ReLU's output
    net = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2, return_indices=True))
    out, idx = net(x)
    want, widx = nn.MaxPool2d(2, return_indices=True)(cr.relu(x))
    assert np.array_equal(out.detach().numpy(), want.detach().numpy())
    assert np.array_equal(idx.detach().numpy(), widx.detach().numpy())
    # forward mode and anomaly detection see the ops as written
    net = _cnn()
    for mode in ("jvp", "anomaly"):
        with cr.detect_anomaly() if mode == "anomaly" else cr.no_grad():
            if mode == "anomaly":
                out = net(x)
                ops = _ops_in_order(out)
                assert ops.index("relu") < ops.index("max_pool2d")
            else:
                _, t = cr.jvp(lambda v: net(v), (x,), (cr.ones_like(x),))
                _, t_ref = cr.jvp(lambda v: _layer_by_layer(net, v), (x,), (cr.ones_like(x),))
                assert np.array_equal(t.detach().numpy(), t_ref.detach().numpy())
    # a ReLU at the end, and one before a module that is no max pooling
    net = nn.Sequential(nn.Conv2d(2, 2, 1), nn.ReLU(), nn.AvgPool2d(2), nn.ReLU())
    assert np.array_equal(net(x).detach().numpy(), _layer_by_layer(net, x).detach().numpy())
    assert _ops_in_order(net(x))[-1] == "relu"


def test_compiled_step_records_the_pooling_before_the_relu():
    net, ref = _cnn(), _cnn()
    xa = _with_ties((3, 2, 8, 8), 4)
    x = cr.tensor(xa)
    opt = cr.optim.SGD(net.parameters(), lr=0.1)
    opt_ref = cr.optim.SGD(ref.parameters(), lr=0.1)

    def step():
        opt.zero_grad()
        loss = net(x).square().mean()
        loss.backward()
        opt.step()
        return loss

    compiled = cr.compile(step)
    for _ in range(4):  # record, check against the eager step, then replays
        got = compiled()
        opt_ref.zero_grad()
        want = _layer_by_layer(ref, x).square().mean()
        want.backward()
        opt_ref.step()
        assert got.item() == want.item()
    assert compiled.eager_reason is None
    for p, q in zip(net.parameters(), ref.parameters()):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy())
