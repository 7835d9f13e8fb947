"""Values an op's forward keeps for its reverse rule (``forward_saving``, the node's ``saved``):
kept only while a graph is recorded, released with the graph, and never a change in the
numbers (a convolution's weight gradient from the forward's columns equals the recomputed one
bit for bit, or to float32 rounding where it sums per-sample products the recomputation makes
in one)."""

import contextlib

import numpy as np
import pytest

import chainrule as cr
from chainrule.core.registry import REGISTRY
from chainrule.nn import functional as F
from chainrule.ops import fused

CONV = REGISTRY["conv2d"]


@pytest.fixture(autouse=True)
def _whole_batches():
    """Run on the calling thread: batch-parallel runs (``CHAINRULE_NUM_THREADS`` > 1) keep
    nothing, and these tests are about what is kept."""
    from chainrule.core import parallel

    before = parallel.get_num_threads()
    parallel.set_num_threads(1)
    try:
        yield
    finally:
        parallel.set_num_threads(before)


@contextlib.contextmanager
def saving(op, on):
    """Run with ``op``'s forward_saving as registered (``on``) or without it."""
    before = op.forward_saving
    op.forward_saving = before if on else None
    try:
        yield
    finally:
        op.forward_saving = before

# (x shape, weight shape, padding, stride, dilation): what each layout of columns covers
CASES = [
    ((6, 1, 28, 28), (4, 1, 3, 3), 1, 1, 1),  # few rows, large planes: per-sample columns
    ((6, 16, 14, 14), (8, 16, 3, 3), 1, 1, 1),  # 144 rows on 196 pixels: samples side by side
    ((4, 2, 30, 20), (3, 2, 3, 2), (2, 1), (2, 1), (1, 2)),  # strided, dilated, per sample
    ((5, 8, 120), (6, 8, 5), 2, 1, 1),  # 1-D, per sample
    # per-sample columns kept where a recomputation would gather every sample's side by side:
    # the weight gradient is then summed sample by sample, the same to float32 rounding
    ((6, 32, 40), (8, 32, 3), 1, 1, 1),  # 96 rows on 40 pixels
    ((4, 32, 8, 8), (8, 32, 3, 3), 1, 1, 1),  # 288 rows on 64 pixels
]
RESUMMED = CASES[-2:]


def _grads(xs, ws, pad, stride, dil, on, dtype=np.float32):
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal(xs).astype(dtype), requires_grad=True)
    w = cr.tensor(rng.standard_normal(ws).astype(dtype), requires_grad=True)
    b = cr.tensor(rng.standard_normal(ws[0]).astype(dtype), requires_grad=True)
    conv = F.conv1d if len(xs) == 3 else F.conv2d
    with saving(CONV, on):
        y = conv(x, w, b, stride=stride, padding=pad, dilation=dil)
        kept = y._node.saved
        (y * y).sum().backward()
    return kept, y.detach().numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()


@pytest.mark.parametrize("case", CASES)
def test_weight_gradient_from_saved_columns_is_bit_identical(case):
    kept, *with_saved = _grads(*case, on=True)
    assert kept is not None  # every case keeps its columns
    none, *recomputed = _grads(*case, on=False)
    assert none is None
    # the output (its bias added inside the product), the input's and the weight's gradients
    for a, b in zip(with_saved[:2], recomputed[:2]):
        np.testing.assert_array_equal(a, b)
    if case in RESUMMED:  # sums of 6 x 40 or 4 x 64 terms of either sign, in another order
        scale = np.abs(recomputed[2]).max()
        np.testing.assert_allclose(with_saved[2], recomputed[2], rtol=1e-5, atol=1e-6 * scale)
    else:
        np.testing.assert_array_equal(with_saved[2], recomputed[2])
    # the bias gradient comes from the kept columns' row of ones: the same sum, in another
    # order; both agree with float64 to float32 rounding
    _, *exact = _grads(*case, on=False, dtype=np.float64)
    for gb in (with_saved[3], recomputed[3]):
        np.testing.assert_allclose(gb, exact[3], rtol=2e-6 * np.sqrt(np.prod(case[0])))
    np.testing.assert_allclose(with_saved[3], recomputed[3], rtol=1e-5)


def test_kept_columns_carry_the_bias_row_only_with_a_bias():
    x = cr.randn(6, 1, 28, 28)
    w = cr.randn(4, 1, 3, 3, requires_grad=True)
    b = cr.randn(4, requires_grad=True)
    assert F.conv2d(x, w, b, padding=1)._node.saved.shape == (6, 10, 784)
    assert F.conv2d(x, w, padding=1)._node.saved.shape == (6, 9, 784)


@pytest.mark.parametrize("xs, ws", [((3, 2, 11, 11), (4, 2, 3, 3)),  # per-sample columns
                                    ((3, 8, 11, 11), (4, 8, 3, 3))])  # side by side
def test_first_and_second_order_against_finite_differences(xs, ws):
    """With columns kept (first order, arrays) and without (second order, tensors)."""
    rng = np.random.default_rng(1)
    x, w = cr.tensor(rng.standard_normal(xs)), cr.tensor(rng.standard_normal(ws))
    cr.testing.check_grads(lambda x_, w_: F.conv2d(x_, w_, padding=1), [x, w], modes=("rev",),
                           order=2)


def test_nothing_is_kept_without_a_graph(monkeypatch):
    calls = []
    real = CONV.forward_saving
    monkeypatch.setattr(CONV, "forward_saving", lambda *a, **k: calls.append(1) or real(*a, **k))
    x = cr.randn(4, 3, 12, 12)
    w = cr.randn(5, 3, 3, 3, requires_grad=True)
    with cr.no_grad():
        F.conv2d(x, w, padding=1)
    F.conv2d(x, w.detach(), padding=1)  # nothing requires grad
    assert calls == []
    y = F.conv2d(x, w, padding=1)
    assert calls == [1] and y._node.saved is not None


def test_saved_columns_go_with_the_graph():
    x = cr.randn(4, 3, 12, 12)
    w = cr.randn(5, 3, 3, 3, requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    node = y._node
    y.sum().backward(retain_graph=True)
    assert node.saved is not None  # kept for a second pass
    g1 = w.grad.numpy().copy()
    w.grad = None
    y.sum().backward()
    assert node.saved is None  # released with the graph
    np.testing.assert_array_equal(w.grad.numpy(), g1)


def test_large_columns_are_recomputed_instead(monkeypatch):
    monkeypatch.setattr(fused, "_SAVE_MAX_BYTES", 1000)
    x = cr.randn(4, 3, 12, 12)
    w = cr.randn(5, 3, 3, 3, requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    assert y._node.saved is None
    y.sum().backward()
    assert w.grad.shape == (5, 3, 3, 3)


POOL = REGISTRY["max_pool2d"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_2x2_from_saved_winners_is_bit_identical(dtype):
    rng = np.random.default_rng(3)
    x0 = rng.integers(-1, 2, (3, 2, 8, 6)).astype(dtype)  # many ties
    x0[0, 0, :2, :2] = -np.inf
    x0[1, 1, 2:4, 2:4] = [[np.inf, 1], [np.inf, np.inf]]
    g = rng.standard_normal((3, 2, 4, 3)).astype(dtype)
    results = []
    for on in (True, False):
        x = cr.tensor(x0, requires_grad=True)
        with saving(POOL, on):
            y = F.max_pool2d(x, 2)
            results.append(y._node.saved)
            y.backward(cr.tensor(g))
        results.append(x.grad.numpy())
    kept, dx_saved, none, dx = results
    assert none is None and kept.shape == (3, 2, 4, 3) and kept.dtype.kind == "i"
    assert set(np.unique(kept)) <= {0, 1, 6, 7}  # the winner's offset in its 6-wide plane
    np.testing.assert_array_equal(dx_saved, dx)
    # each window's cotangent goes to its first maximum in scan order, as PyTorch's
    win = x0.reshape(3, 2, 4, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(3, 2, 4, 3, 4)
    first = np.argmax(win, axis=-1)
    want = np.zeros_like(win)
    np.put_along_axis(want, first[..., None], g[..., None], axis=-1)
    want = want.reshape(3, 2, 4, 3, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(x0.shape)
    np.testing.assert_array_equal(dx, want)


@pytest.mark.parametrize("on", [True, False])
def test_max_pool_2x2_gradient_is_exactly_zero_off_the_winners(on):
    # an infinite cotangent reaches its window's winner only: the other three taps get 0, not
    # inf * 0 = NaN, as in PyTorch
    x0 = np.arange(2 * 3 * 4 * 6, dtype=np.float32).reshape(2, 3, 4, 6) % 7
    g = np.full((2, 3, 2, 3), np.inf, np.float32)
    g[1] = -np.inf
    x = cr.tensor(x0, requires_grad=True)
    with saving(POOL, on):
        F.max_pool2d(x, 2).backward(cr.tensor(g))
    dx = x.grad.numpy()
    assert not np.isnan(dx).any()
    assert np.count_nonzero(dx) == g.size
    assert (np.sign(dx).sum(axis=(1, 2, 3)) == [g[0].size, -g[1].size]).all()


def test_max_pool_window_corners_are_kept_within_their_bound(monkeypatch):
    monkeypatch.setattr(fused, "_CORNERS", {})
    monkeypatch.setattr(fused, "_CORNERS_MAX_BYTES", 4096)
    for n in range(1, 12):  # corners of n * 2 * 2 x 2 windows: 64 n bytes
        x = cr.randn(n, 2, 4, 4, requires_grad=True)
        F.max_pool2d(x, 2).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy().reshape(n, 2, 2, 2, 2, 2).sum(axis=(3, 5)),
                                      np.ones((n, 2, 2, 2)))
        assert sum(a.nbytes for a in fused._CORNERS.values()) <= 4096
    assert len(fused._CORNERS) > 1
    big = cr.randn(40, 4, 8, 8, requires_grad=True)  # 2560 windows' corners: 20480 bytes
    F.max_pool2d(big, 2).sum().backward()
    assert all(a.nbytes <= 4096 for a in fused._CORNERS.values())
    assert np.count_nonzero(big.grad.numpy()) == 40 * 4 * 4 * 4


def test_max_pool_keeps_nothing_where_windows_do_not_tile():
    x = cr.randn(2, 3, 9, 9, requires_grad=True)
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=3), dict(kernel_size=2, stride=1),
               dict(kernel_size=2, padding=1)):
        y = F.max_pool2d(x, **kw)
        assert y._node.saved is None, kw
    y = F.max_pool2d(x[:, :, :8, :8], 2)
    assert y._node.saved is not None


GELU = REGISTRY["gelu"]


@pytest.mark.parametrize("shape", [(3, 5), (4, 64, 600), ()])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_tanh_from_the_saved_tanh_is_bit_identical(shape, dtype):
    """Large enough for blocks (153,600 elements), small, and 0-d."""
    rng = np.random.default_rng(4)
    x0 = (rng.standard_normal(shape) * 3).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    results = []
    for on in (True, False):
        x = cr.tensor(x0, requires_grad=True)
        with saving(GELU, on):
            y = F.gelu(x, approximate="tanh")
            results += [y._node.saved, y.detach().numpy()]
            y.backward(cr.tensor(g))
        results.append(x.grad.numpy())
    kept, y_saved, dx_saved, none, y, dx = results
    assert none is None and (kept is None) == (shape == ())
    if kept is not None:
        x64 = x0.astype(np.float64)
        want = np.tanh(np.sqrt(2 / np.pi) * (x64 + 0.044715 * x64 ** 3))
        np.testing.assert_allclose(kept, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(y_saved, y)
    np.testing.assert_array_equal(dx_saved, dx)


def test_gelu_exact_form_keeps_nothing():
    x = cr.randn(3, 4, requires_grad=True)
    assert F.gelu(x)._node.saved is None
    assert F.gelu(x, approximate="tanh")._node.saved is not None


LN = REGISTRY["layer_norm"]


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_from_saved_statistics_is_bit_identical(affine, dtype):
    rng = np.random.default_rng(5)
    x0 = (rng.standard_normal((4, 7, 33)) * 3 + 1).astype(dtype)
    g = rng.standard_normal(x0.shape).astype(dtype)
    w0, b0 = rng.standard_normal(33), rng.standard_normal(33)
    results = []
    for on in (True, False):
        x = cr.tensor(x0, requires_grad=True)
        ln = cr.nn.LayerNorm(33, elementwise_affine=affine, dtype=dtype)
        if affine:
            ln.weight.data[...] = w0
            ln.bias.data[...] = b0
        with saving(LN, on):
            y = ln(x)
            node = y._node
            results.append(node.saved)
            y.backward(cr.tensor(g), retain_graph=True)
            first = [t.grad.numpy().copy() for t in [x, *ln.parameters()]]
            for t in [x, *ln.parameters()]:
                t.grad = None
            y.backward(cr.tensor(g))  # the saved arrays were left as they were
            second = [t.grad.numpy() for t in [x, *ln.parameters()]]
        for a, b in zip(first, second):
            np.testing.assert_array_equal(a, b)
        results.append(first)
    kept, with_saved, none, recomputed = results
    assert kept is not None and none is None
    for a, b in zip(with_saved, recomputed):
        np.testing.assert_array_equal(a, b)


BN = REGISTRY["batch_norm"]


@pytest.mark.parametrize("shape", [(64, 6, 9, 9), (300, 7), (40, 5, 30)])
def test_batch_norm_saved_and_recomputed_agree_and_update_running_stats(shape):
    """The channel-wise reverse rule gives the same gradients from the kept normalised input
    as from recomputing it, and the running statistics come from the op's own moments."""
    rng = np.random.default_rng(6)
    x0 = (rng.standard_normal(shape) * 2 + 3).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    c = shape[1]
    results = []
    for on in (True, False):
        x = cr.tensor(x0, requires_grad=True)
        bn = {2: cr.nn.BatchNorm1d, 3: cr.nn.BatchNorm1d, 4: cr.nn.BatchNorm2d}[len(shape)](c)
        bn.weight.data[...] = np.linspace(0.5, 2, c)
        bn.bias.data[...] = np.linspace(-1, 1, c)
        with saving(BN, on):
            y = bn(x)
            results.append(y._node.saved)
            y.backward(cr.tensor(g))
        results.append([x.grad.numpy(), bn.weight.grad.numpy(), bn.bias.grad.numpy(),
                        bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()])
    kept, with_saved, none, recomputed = results
    assert kept is not None and none is None
    for a, b in zip(with_saved[:3], recomputed[:3]):
        np.testing.assert_array_equal(a, b)
    axes = (0,) + tuple(range(2, len(shape)))
    n = x0.size // c
    want_mean = 0.1 * x0.astype(np.float64).mean(axis=axes)
    want_var = 0.9 + 0.1 * x0.astype(np.float64).var(axis=axes) * n / (n - 1)
    for got in (with_saved, recomputed):
        np.testing.assert_allclose(got[3], want_mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got[4], want_var, rtol=1e-5)


@pytest.mark.parametrize("cell", ["GRU", "LSTM"])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_gated_scans_from_the_forwards_gates_match_recomputing_them(cell, dtype, tol,
                                                                      bidirectional):
    """Kept per step by the forward, the gates equal the batched recomputation up to the
    rounding of that product; the forward's states are the same either way, and the kept
    arrays are not written to (a retained graph gives the same gradients again)."""
    op = REGISTRY[cell.lower() + "_scan"]
    rng = np.random.default_rng(7)
    x0 = rng.standard_normal((5, 9, 6)).astype(dtype)
    results = []
    for on in (True, False):
        cr.manual_seed(0)
        layer = getattr(cr.nn, cell)(6, 8, batch_first=True, bidirectional=bidirectional,
                                     dtype=dtype)
        x = cr.tensor(x0, requires_grad=True)
        params = [x, *layer.parameters()]
        with saving(op, on):
            out, state = layer(x)
            last = state[1] if cell == "LSTM" else state  # the LSTM's cell state too
            y = (out * out).sum() + (last * last).sum()
            y.backward(retain_graph=True)
            first = [t.grad.numpy().copy() for t in params]
            for t in params:
                t.grad = None
            y.backward()
        for a, t in zip(first, params):
            np.testing.assert_array_equal(a, t.grad.numpy())
        results.append([out.detach().numpy()] + first)
    saved, recomputed = results
    np.testing.assert_array_equal(saved[0], recomputed[0])
    for a, b in zip(saved[1:], recomputed[1:]):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


CE = REGISTRY["cross_entropy"]


@pytest.mark.parametrize("kw", [dict(), dict(reduction="sum"), dict(reduction="none"),
                                dict(ignore_index=1), dict(label_smoothing=0.2),
                                dict(weight=np.array([1.0, 2.0, 0.5, 1.5], np.float32),
                                     ignore_index=2, label_smoothing=0.1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_from_saved_log_softmax_is_bit_identical(kw, dtype):
    """The reverse rule from the forward's log-softmax and target pieces gives the same bits
    as the one that computes them again, and the softmax in it is exp(log-softmax), as
    PyTorch's rule takes it."""
    rng = np.random.default_rng(5)
    x0 = (rng.standard_normal((7, 4)) * 3).astype(dtype)
    t = cr.tensor(np.array([0, 1, 2, 3, 1, 2, 1]))
    if "weight" in kw:
        kw = dict(kw, weight=cr.tensor(kw["weight"].astype(dtype)))
    results = []
    for on in (True, False):
        x = cr.tensor(x0, requires_grad=True)
        with saving(CE, on):
            loss = F.cross_entropy(x, t, **kw)
            results.append(loss._node.saved)
            loss.sum().backward()
        results.append(x.grad.numpy())
    kept, dx_saved, none, dx = results
    assert none is None and kept[0].shape == (7, 4)
    np.testing.assert_array_equal(dx_saved, dx)
    if not kw:
        lsm = x0 - x0.max(1, keepdims=True)
        lsm -= np.log(np.exp(lsm).sum(1, keepdims=True))
        want = np.exp(lsm)
        want[np.arange(7), t.numpy()] -= 1
        want *= dtype(1 / 7)
        np.testing.assert_array_equal(dx, want)


def test_cross_entropy_keeps_nothing_without_a_graph_and_frees_what_it_kept():
    x = cr.randn(3, 4)
    assert F.cross_entropy(x, cr.tensor([0, 1, 2]))._node is None
    x.requires_grad_()
    loss = F.cross_entropy(x, cr.tensor([0, 1, 2]))
    loss.backward()
    assert loss._node.saved is None  # released with the graph
