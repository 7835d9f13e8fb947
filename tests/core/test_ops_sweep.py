"""One sweep over every registered op: forward against a numpy reference, both derivative rules
against finite differences (which also ties <u, J v> to <J^T u, v>), broadcasting, second
order for smooth ops, float32 kept float32, and hypothesis-generated shapes and values."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule.core.dispatch import apply
from chainrule.core.registry import REGISTRY
from chainrule.testing import check_grads

try:
    from scipy.special import erf as _erf
except ImportError:  # pragma: no cover
    _erf = np.vectorize(math.erf)

# Independent float64 references for ops whose forward is not a single numpy call.
REF = {
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "logit": lambda x, eps=None: np.log(x / (1 - x)),
    "rsqrt": lambda x: x ** -0.5,
    "relu": lambda x: x * (x > 0),
    "relu6": lambda x: np.minimum(np.maximum(x, 0), 6),
    "leaky_relu": lambda x, negative_slope=0.01: np.where(x >= 0, x, negative_slope * x),
    "elu": lambda x, alpha=1.0: np.where(x > 0, x, alpha * (np.exp(x) - 1)),
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * (np.exp(x) - 1)),
    "celu": lambda x, alpha=1.0: np.maximum(0, x) + np.minimum(0, alpha * (np.exp(x / alpha) - 1)),
    "gelu": lambda x, approximate="none": (
        0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
        if approximate == "tanh" else x * 0.5 * (1 + _erf(x / np.sqrt(2)))),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "mish": lambda x: x * np.tanh(np.log(1 + np.exp(x))),
    "softplus": lambda x, beta=1.0, threshold=20.0: np.where(
        beta * x > threshold, x, np.log(1 + np.exp(beta * x)) / beta),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "hardtanh": lambda x, min_val=-1.0, max_val=1.0: np.minimum(np.maximum(x, min_val), max_val),
    "hardsigmoid": lambda x: np.minimum(np.maximum(x + 3, 0), 6) / 6,
    "hardswish": lambda x: x * np.minimum(np.maximum(x + 3, 0), 6) / 6,
    "frac": lambda x: x - np.trunc(x),
    "erf": _erf,
    "logsumexp": lambda x, axis=None, keepdims=False: np.log(
        np.sum(np.exp(x), axis=axis, keepdims=keepdims)),
    "norm2": lambda x, axis=None, keepdims=False: np.sqrt(np.sum(x ** 2, axis=axis,
                                                                 keepdims=keepdims)),
    "add_at": None,
    "scatter_add_into": None,
    "sum_to": None,
    "einsum": lambda *xs, subscripts: np.einsum(subscripts, *xs),
    "attn_qkv": lambda qkv, heads, scale, mask=None: _attn_qkv_ref(qkv, heads, scale, mask),
}


def _attn_qkv_ref(qkv, heads, scale, mask):
    """Head by head, row by row: softmax(scale q k^T) v over the attended keys, 0 for a row
    that attends to none."""
    n, L, e3 = qkv.shape
    e = e3 // 3
    d = e // heads
    out = np.zeros((n, L, e))
    keep = np.broadcast_to(True if mask is None else mask, (n, heads, L, L))
    for b in range(n):
        for h in range(heads):
            q, k, v = (qkv[b, :, j * e + h * d:j * e + (h + 1) * d] for j in range(3))
            for i in range(L):
                s = scale * (k @ q[i])
                w = np.where(keep[b, h, i], np.exp(s - s.max()), 0.0)
                if w.sum() > 0:
                    out[b, i, h * d:(h + 1) * d] = (w / w.sum()) @ v
    return out


def _cases():
    cases = []
    for name, op in sorted(REGISTRY.items()):
        for i in range(len(op.samples or [])):
            cases.append(pytest.param(name, i, id=f"{name}-{i}"))
    return cases


def _inputs(sample, rng, dtype=np.float64):
    lo, hi = sample.get("domain", (-2.0, 2.0))
    out = []
    for a in sample["args"]:
        if isinstance(a, tuple):
            out.append(rng.uniform(lo, hi, a).astype(dtype))
        else:
            out.append(np.asarray(a))
    return out


def test_every_op_has_samples():
    missing = [n for n, op in REGISTRY.items() if not op.samples and op.differentiable]
    assert not missing, f"ops without sample inputs for the sweep: {missing}"
    assert len(REGISTRY) >= 100


@pytest.mark.parametrize("name,i", _cases())
def test_op_sweep(name, i):
    op = REGISTRY[name]
    sample = op.samples[i]
    attrs = sample.get("attrs", {})
    rng = np.random.default_rng(hash((name, i)) % 2**32)
    arrays = _inputs(sample, rng)
    tensors = [cr.Tensor._wrap(a) for a in arrays]
    out = apply(op, *tensors, **attrs)
    # forward against numpy
    ref = REF.get(name, op.forward)
    if ref is not None:
        want = ref(*arrays, **attrs)
        np.testing.assert_allclose(out.data, want, rtol=1e-6, atol=1e-9)
    if not op.differentiable:
        assert not out.requires_grad
        return
    # both rules against finite differences, consistent with each other; second order if smooth
    float_pos = [k for k, a in enumerate(arrays) if a.dtype.kind == "f"]

    def f(*xs):
        full = list(tensors)
        for k, x in zip(float_pos, xs):
            full[k] = x
        return apply(op, *full, **attrs)

    check_grads(f, [tensors[k] for k in float_pos], modes=("rev", "fwd"),
                order=2 if op.smooth else 1)


@pytest.mark.parametrize("name,i", _cases())
def test_op_keeps_float32(name, i):
    op = REGISTRY[name]
    sample = op.samples[i]
    attrs = sample.get("attrs", {})
    if name == "astype":
        return
    rng = np.random.default_rng(0)
    arrays = _inputs(sample, rng, np.float32)
    tensors = [cr.Tensor(a, requires_grad=a.dtype.kind == "f" and op.differentiable)
               for a in arrays]
    out = apply(op, *tensors, **attrs)
    if out.dtype.kind != "f":
        return
    assert out.dtype == np.float32, f"{name} upcast float32 to {out.dtype}"
    if op.differentiable:
        # the rules themselves must not upcast (the engine would hide it by casting back)
        from chainrule.core import npns

        g = np.ones_like(out.data)
        cts = op.vjp(npns, g, out.data, [t.data for t in tensors],
                     tuple(t.requires_grad for t in tensors), **attrs)
        for ct in cts:
            if ct is not None and np.asarray(ct).dtype.kind == "f":
                assert np.asarray(ct).dtype == np.float32, f"{name} rule upcasts to {ct.dtype}"
        out.backward(cr.ones_like(out))
        for t in tensors:
            if t.requires_grad:
                assert t.grad is not None and t.grad.dtype == np.float32


UNARY_FUNCS = ["exp", "tanh", "sigmoid", "sin", "cos", "softplus", "silu", "gelu", "mish",
               "softsign", "elu", "selu", "square", "expm1", "erf", "abs", "relu"]


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(UNARY_FUNCS),
       x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
                    elements=st.floats(-3, 3)))
def test_unary_hypothesis(name, x):
    fn = getattr(cr, name)
    got = fn(cr.tensor(x)).numpy()
    op_name = name
    ref = REF.get(op_name) or REGISTRY[op_name].forward
    np.testing.assert_allclose(got, ref(x), rtol=1e-6, atol=1e-9)
    if name in ("abs", "relu", "elu", "selu") and np.any(np.abs(x) < 1e-4):
        return
    check_grads(fn, [cr.tensor(x)], order=1, n_directions=1)


BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "pow"]


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(BINARY), data=st.data())
def test_binary_broadcast_hypothesis(name, data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
    lo = 0.5 if name in ("div", "pow") else -2.0
    a = data.draw(hnp.arrays(np.float64, shapes.input_shapes[0], elements=st.floats(lo, 2)))
    b = data.draw(hnp.arrays(np.float64, shapes.input_shapes[1], elements=st.floats(lo, 2)))
    if name in ("maximum", "minimum") and np.any(np.abs(np.subtract(a, b)) < 1e-4):
        return
    fn = getattr(cr, name)
    ref = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
           "maximum": np.maximum, "minimum": np.minimum, "pow": np.power}[name]
    out = fn(cr.tensor(a), cr.tensor(b))
    assert out.shape == shapes.result_shape
    np.testing.assert_allclose(out.numpy(), ref(a, b), rtol=1e-7)
    check_grads(fn, [cr.tensor(a), cr.tensor(b)], order=1, n_directions=1)


def test_numerical_care_at_large_inputs():
    x = cr.tensor([-1e4, -50.0, 0.0, 50.0, 1e4], requires_grad=True)
    for fn in (cr.sigmoid, cr.softplus, cr.tanh, cr.silu, cr.mish, cr.gelu, cr.elu):
        x.grad = None
        y = fn(x)
        y.sum().backward()
        assert np.all(np.isfinite(y.data)), fn.__name__
        assert np.all(np.isfinite(x.grad.data)), fn.__name__
    x.grad = None
    y = cr.logsumexp(x, 0)
    y.backward()
    assert np.isfinite(y.item()) and np.all(np.isfinite(x.grad.data))
    np.testing.assert_allclose(y.item(), 1e4, rtol=1e-6)
