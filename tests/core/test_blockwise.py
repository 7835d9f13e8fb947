"""Elementwise chains computed block by block (GELU forward and its fused reverse rule) give
exactly the numbers of the whole-array computation, on arrays spanning several blocks."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.core import npns
from chainrule.nn import functional as F
from chainrule.ops import elementwise as E

# a ragged last block, and a non-contiguous input that takes the whole-array path
SHAPES = [(3, E._BLOCK + 17), (2 * E._BLOCK + 5,)]


def test_blockwise_is_the_whole_computation():
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((5, E._BLOCK // 2 + 3)) for _ in range(2))
    calls = []

    def fn(x, y):
        calls.append(x.size)
        return np.tanh(x) * y + x

    got = E.blockwise(fn, a, b)
    assert len(calls) == math.ceil(a.size / E._BLOCK) > 2
    np.testing.assert_array_equal(got, np.tanh(a) * b + a)
    calls.clear()
    strided = a[:, ::2]
    np.testing.assert_array_equal(E.blockwise(fn, strided, strided), fn(strided, strided))
    assert len(calls) == 2  # once for the reference, once whole


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("approximate", ["tanh", "none"])
def test_gelu_blocked_matches_whole_and_formula(shape, dtype, approximate):
    rng = np.random.default_rng(1)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    out = E._gelu_fwd(x, approximate)
    # the same arithmetic on the whole array
    if approximate == "tanh":
        whole = E._gelu_tanh_f(x)
    else:
        whole = E._gelu_erf_f32(x) if dtype == np.float32 else out
    np.testing.assert_array_equal(out, whole)
    fused = E._gelu_fused_vjp(g, out, x, approximate)
    if dtype == np.float64 and approximate == "none":
        assert fused is None  # float64 erf keeps the plain rule
    else:
        np.testing.assert_array_equal(fused, g * E._gelu_d(npns, out, x, approximate))
    # and the textbook formulas, in float64
    x64 = x.astype(np.float64)
    if approximate == "tanh":
        u = math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64 ** 3)
        ref = 0.5 * x64 * (1 + np.tanh(u))
        dref = 0.5 * (1 + np.tanh(u)) + 0.5 * x64 * (1 - np.tanh(u) ** 2) * math.sqrt(
            2 / math.pi) * (1 + 3 * 0.044715 * x64 ** 2)
    else:
        cdf = 0.5 * (1 + npns.erf(x64 / math.sqrt(2)))
        ref = x64 * cdf
        dref = cdf + x64 * np.exp(-0.5 * x64 ** 2) / math.sqrt(2 * math.pi)
    tol = 2e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)
    xt = cr.tensor(x, requires_grad=True)
    F.gelu(xt, approximate=approximate).backward(cr.tensor(g))
    np.testing.assert_allclose(xt.grad.numpy(), g * dref, rtol=tol * 4, atol=tol * 4)


def test_normal_cdf_keeps_both_tails():
    x = np.array([-12.0, -5.0, -1.0, 0.0, 1.0, 5.0, np.inf, -np.inf, np.nan], np.float32)
    c = E._normal_cdf_f32(x)
    ref = 0.5 * (1 + npns.erf(x.astype(np.float64)[:8] / math.sqrt(2)))
    ref[:2] = [1.7764821120776e-33, 2.866515718791939e-07]  # erfc in the far left tail
    np.testing.assert_allclose(c[:8], ref, rtol=2e-5)
    assert np.isnan(c[8])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("approximate", ["tanh", "none"])
def test_gelu_on_a_0d_tensor(dtype, approximate):
    """The in-place passes work on 0-d inputs too (NumPy turns 0-d results into scalars)."""
    x = cr.tensor(dtype(0.3), requires_grad=True)
    y = F.gelu(x, approximate=approximate)
    y.backward()
    big = cr.tensor(np.full(3, 0.3, dtype), requires_grad=True)
    yb = F.gelu(big, approximate=approximate)
    yb.sum().backward()
    assert y.shape == () and y.dtype == dtype
    np.testing.assert_array_equal(y.detach().numpy(), yb.detach().numpy()[0])
    np.testing.assert_array_equal(x.grad.numpy(), big.grad.numpy()[0])
    _, t = cr.jvp(lambda v: F.gelu(v, approximate=approximate), (cr.tensor(dtype(0.3)),),
                  (cr.tensor(dtype(1.0)),))
    np.testing.assert_allclose(t.numpy(), x.grad.numpy(), rtol=1e-6)
