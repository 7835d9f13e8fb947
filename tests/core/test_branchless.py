"""The piecewise activations choose their pieces by arithmetic instead of np.where (faster on
random signs); on every value, infinities and NaN included, they equal the np.where forms."""

import numpy as np
import pytest

from chainrule.core import npns
from chainrule.ops import elementwise as E

SA, SS = E.SELU_ALPHA, E.SELU_SCALE


def _values(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(5000) * 4
    special = [0.0, -0.0, 1e-30, -1e-30, 80.0, -80.0, np.inf, -np.inf, np.nan]
    return np.concatenate([x, special]).astype(dtype)


# (forward, derivative, np.where forward, np.where derivative)
CASES = {
    "leaky 0.01": (lambda x: E._leaky_fwd(x, 0.01), lambda o, x: E._leaky_d(npns, o, x, 0.01),
                   lambda x: np.where(x > 0, x, x * 0.01),
                   lambda x: np.where(x > 0, 1.0, 0.01)),
    "leaky 1.5": (lambda x: E._leaky_fwd(x, 1.5), lambda o, x: E._leaky_d(npns, o, x, 1.5),
                  lambda x: np.where(x > 0, x, x * 1.5), lambda x: np.where(x > 0, 1.0, 1.5)),
    "elu": (lambda x: E._elu_fwd(x, 0.7), lambda o, x: E._elu_d(npns, o, x, 0.7),
            lambda x: np.where(x > 0, x, 0.7 * np.expm1(np.minimum(x, 0))),
            lambda x: np.where(x > 0, 1.0, 0.7 * np.exp(np.minimum(x, 0)))),
    "selu": (lambda x: SS * E._elu_fwd(x, SA), lambda o, x: E._selu_d(npns, o, x),
             lambda x: SS * np.where(x > 0, x, SA * np.expm1(np.minimum(x, 0))),
             lambda x: np.where(x > 0, SS, SS * SA * np.exp(np.minimum(x, 0)))),
    "celu": (lambda x: E._celu_fwd(x, 1.5), lambda o, x: E._celu_d(npns, o, x, 1.5),
             lambda x: np.where(x > 0, x, 1.5 * np.expm1(np.minimum(x, 0) / 1.5)),
             lambda x: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0) / 1.5))),
}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_arithmetic_choice_equals_np_where(name, dtype):
    fwd, der, ref_fwd, ref_der = CASES[name]
    x = _values(dtype)
    out = fwd(x)
    assert out.dtype == dtype
    want = ref_fwd(x).astype(dtype)
    tol = dict(rtol=2e-7 if dtype == np.float32 else 1e-15, atol=0)
    np.testing.assert_allclose(out, want, **tol)  # NaN where NaN, infinities equal
    d = der(out, x)
    assert d.dtype == dtype and d.shape == x.shape
    # the elu family's derivative below 0 is read off the output (out + alpha) in both forms
    np.testing.assert_allclose(d, ref_der(x).astype(dtype), rtol=5e-7 if dtype == np.float32
                               else 1e-14, atol=1e-7 if dtype == np.float32 else 1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [100, 4096, E._ZEROS_CHUNK, 2 * E._ZEROS_CHUNK + 17])
def test_relu_against_a_block_of_zeros_equals_the_plain_forms(dtype, size):
    """min(x, 0) and ReLU's forward (against reused zeros, chunk by chunk) and ReLU's reverse
    rule (the mask multiplied as floats) are bit for bit np.minimum(x, 0), np.maximum(x, 0)
    and g * (x > 0), on every chunk boundary, with infinities, NaN and signed zeros,
    contiguous or not."""
    rng = np.random.default_rng(size)
    x = np.resize(_values(dtype), size)
    rng.shuffle(x)
    g = rng.standard_normal(size).astype(dtype)
    for xs, gs in ((x, g), (x.reshape(-1, 1)[:, 0], g), (x[::2], g[::2])):
        low = E._min0(xs)
        assert low.dtype == dtype and low.shape == xs.shape
        assert np.array_equal(low.view(f"i{low.itemsize}"),
                              np.minimum(xs, 0).view(f"i{low.itemsize}"))
        out = E._relu_fwd(xs)
        assert out.dtype == dtype and out.shape == xs.shape
        assert np.array_equal(out.view(f"i{out.itemsize}"),
                              np.maximum(xs, 0).view(f"i{out.itemsize}"))
        gx = E._relu_vjp(gs, out, xs)
        assert gx.dtype == dtype
        assert np.array_equal(gx, gs * (xs > 0))
    z = E._zero_blocks[np.dtype(dtype)] if size >= 4096 else None
    assert z is None or (not z.any() and not z.flags.writeable)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "mul", "sin"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (7,), (3, 5)])
def test_short_reverse_rules_equal_the_derivative_rule_bit_for_bit(name, dtype, shape):
    """The reverse rules written without the generic loop (tanh's and sigmoid's with a 0-d
    one of the output's dtype, the one- and two-input elementwise entries) give exactly
    ``g * derivative`` on raw arrays, also for a cotangent of another dtype and 0-d inputs."""
    from chainrule.core.registry import REGISTRY

    op = REGISTRY[name]
    rng = np.random.default_rng(1)
    xs = [np.asarray(rng.standard_normal(shape) * 3, dtype=dtype) for _ in range(op.nin)]
    out = np.asarray(op.forward(*xs))
    for gdt in (dtype, np.float64):
        g = np.asarray(rng.standard_normal(shape), dtype=gdt)
        for needs in ([True] * op.nin, [False] + [True] * (op.nin - 1)):
            got = op.vjp(npns, g, out, xs, tuple(needs))
            assert len(got) == op.nin
            for i, (ct, d) in enumerate(zip(got, op.derivs)):
                if not needs[i]:
                    assert ct is None
                    continue
                want = g * d(npns, out, *xs)
                assert np.asarray(ct).dtype == np.asarray(want).dtype
                assert np.array_equal(np.asarray(ct), np.asarray(want), equal_nan=True)
