"""Convolutions large enough to take the fast paths (one product over every sample's columns,
the weight gradient's transposed product, col2im as shifted adds on the padded grid, the full
correlation) agree with a direct float64 reference, forward and all three gradients."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.nn import functional as F

_sw = np.lib.stride_tricks.sliding_window_view


def _reference(x, w, b, g, stride, pad, dil):
    """out, dx, dw, db of a 2-D cross-correlation, straight from the definition."""
    (sh, sw), (pt, pb, pl, pr), (dh, dw) = stride, pad, dil
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    win = _sw(xp, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    win = win[:, :, ::sh, ::sw, ::dh, ::dw]  # (n, c, ho, wo, kh, kw)
    out = np.einsum("ncyxij,ocij->noyx", win, w) + b[None, :, None, None]
    ho, wo = out.shape[2:]
    dwt = np.einsum("ncyxij,noyx->ocij", win, g)
    dxp = np.zeros_like(xp)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                j * dw:j * dw + sw * (wo - 1) + 1:sw] += np.einsum("noyx,oc->ncyx", g,
                                                                    w[:, :, i, j])
    return out, dxp[:, :, pt:pt + h, pl:pl + wd], dwt, g.sum(axis=(0, 2, 3))


# (n, c, (h, w), o, kernel, padding as (top, bottom, left, right), dilation, stride)
CASES = [
    (16, 3, (20, 20), 8, (3, 3), (1, 1, 1, 1), (1, 1), (1, 1)),  # few rows: per sample
    (8, 8, (24, 24), 12, (3, 3), (1, 1, 1, 1), (1, 1), (1, 1)),  # 72 rows: one product
    (8, 8, (24, 22), 12, (2, 4), (0, 1, 1, 2), (1, 1), (1, 1)),  # even kernel, asymmetric
    (8, 8, (25, 23), 12, (3, 2), (2, 2, 1, 1), (2, 3), (1, 1)),  # dilated
    (8, 12, (24, 24), 6, (3, 3), (1, 1, 1, 1), (1, 1), (1, 1)),  # fewer outputs
    (64, 4, (1, 100), 8, (1, 5), (0, 0, 2, 2), (1, 1), (1, 1)),  # a 1-D convolution
    (40, 4, (21, 20), 6, (3, 3), (1, 1, 1, 0), (1, 1), (2, 2)),  # strided, 8x8 planes and up
    (400, 8, (5, 7), 6, (3, 3), (1, 1, 1, 1), (1, 1), (2, 2)),  # tiny planes, many samples
    (8, 12, (25, 23), 12, (3, 2), (2, 2, 1, 1), (2, 3), (1, 1)),  # dilated, 72 rows
    (48, 8, (26, 26), 10, (3, 3), (0, 1, 2, 1), (2, 2), (2, 3)),  # dilated and strided
    (420, 32, (1, 19), 16, (1, 3), (0, 0, 1, 1), (1, 1), (1, 2)),  # 1-D, tiny, strided
    (128, 32, (1, 40), 32, (1, 3), (0, 0, 1, 1), (1, 1), (1, 1)),  # 1-D, 96 rows: one product
]


@pytest.mark.parametrize("n,c,hw,o,k,pad,dil,stride", CASES)
def test_large_convolutions_match_the_definition(n, c, hw, o, k, pad, dil, stride):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c) + hw)
    w = rng.standard_normal((o, c) + k)
    b = rng.standard_normal(o)
    attrs = dict(stride=stride, padding=pad, dilation=dil, groups=1)
    xt, wt, bt = (cr.tensor(a, requires_grad=True) for a in (x, w, b))
    y = _conv(xt, wt, bt, attrs)
    assert y.shape[0] * y.shape[2] * y.shape[3] >= 4096  # large enough for the fast paths
    g = rng.standard_normal(y.shape)
    y.backward(cr.tensor(g))
    out, dx, dw, db = _reference(x, w, b, g, stride, pad, dil)
    np.testing.assert_allclose(y.detach().numpy(), out, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xt.grad.numpy(), dx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(wt.grad.numpy(), dw, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(bt.grad.numpy(), db, rtol=1e-10, atol=1e-9)


def _conv(x, w, b, attrs):
    from chainrule.core.dispatch import apply
    from chainrule.core.registry import REGISTRY

    return apply(REGISTRY["conv2d"], x, w, b, **attrs)


def test_conv_layers_take_these_paths_through_the_public_api():
    """The same agreement through F.conv2d / F.conv1d (padding 'same', float32)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 8, 24, 24)).astype(np.float32)
    w = rng.standard_normal((12, 8, 3, 3)).astype(np.float32)
    b = rng.standard_normal(12).astype(np.float32)
    xt, wt, bt = (cr.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(xt, wt, bt, padding="same")
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(cr.tensor(g))
    out, dx, dw, db = _reference(x.astype(np.float64), w.astype(np.float64),
                                 b.astype(np.float64), g.astype(np.float64), (1, 1),
                                 (1, 1, 1, 1), (1, 1))
    for got, want in ((y.detach().numpy(), out), (xt.grad.numpy(), dx),
                      (wt.grad.numpy(), dw), (bt.grad.numpy(), db)):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-3)
    x1 = cr.tensor(rng.standard_normal((64, 4, 100)).astype(np.float32), requires_grad=True)
    w1 = cr.tensor(rng.standard_normal((8, 4, 5)).astype(np.float32), requires_grad=True)
    y1 = F.conv1d(x1, w1, padding=2)
    g1 = rng.standard_normal(y1.shape).astype(np.float32)
    y1.backward(cr.tensor(g1))
    out1, dx1, dw1, _ = _reference(x1.detach().numpy()[:, :, None].astype(np.float64),
                                   w1.detach().numpy()[:, :, None].astype(np.float64),
                                   np.zeros(8), g1[:, :, None].astype(np.float64), (1, 1),
                                   (0, 0, 2, 2), (1, 1))
    np.testing.assert_allclose(y1.detach().numpy(), out1[:, :, 0], rtol=2e-4, atol=2e-3)
    np.testing.assert_allclose(x1.grad.numpy(), dx1[:, :, 0], rtol=2e-4, atol=2e-3)
    np.testing.assert_allclose(w1.grad.numpy(), dw1[:, :, 0], rtol=2e-4, atol=2e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", [
    (8, 8, (24, 24), 12, (3, 3), (1, 1, 1, 1), (1, 1)),
    (8, 8, (25, 23), 12, (3, 2), (2, 2, 1, 1), (2, 3)),
    (16, 5, (20, 22), 12, (3, 2), (2, 1, 0, 2), (1, 2)),
])
def test_input_gradient_per_tap_products_equal_the_shifted_adds(monkeypatch, case, dtype):
    """With OpenBLAS's gemm the channel-major input gradient runs one product per tap into
    the gradient; it gives the shifted adds' numbers to rounding. (The same sums in the same
    order, but OpenBLAS's kernels may add a product into its output in another rounding than
    a product followed by an add: bit for bit with its AVX-512 kernels, up to a few ulps of
    the largest entry with its AVX2 ones.)"""
    from chainrule import _openblas
    from chainrule.ops import fused

    n, c, hw, o, k, pad, dil = case
    rng = np.random.default_rng(2)
    w = rng.standard_normal((o, c) + k).astype(dtype)
    hp, wp = hw[0] + pad[0] + pad[1], hw[1] + pad[2] + pad[3]
    ho, wo = fused._out_hw(hp, wp, k, (1, 1), dil)
    g = rng.standard_normal((n, o, ho, wo)).astype(dtype)
    taken = []
    taps = fused._conv_in_taps
    monkeypatch.setattr(fused, "_conv_in_taps", lambda *a: taken.append(taps(*a)) or taken[-1])
    got = fused._conv_in_fwd_whole(g, w, hw, (1, 1), pad, dil, 1)
    assert len(taken) == 1 and (taken[0] is not None) == _openblas.gemm_available(dtype)
    monkeypatch.setattr(fused, "_conv_in_taps", lambda *a: None)
    want = fused._conv_in_fwd_whole(g, w, hw, (1, 1), pad, dil, 1)
    assert got.dtype == want.dtype == dtype and got.flags.c_contiguous
    ref = fused._conv_in_fwd_whole(g.astype(np.float64), w.astype(np.float64), hw, (1, 1), pad,
                                   dil, 1)
    tol = 8 * np.finfo(dtype).eps * np.abs(ref).max()
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)
    np.testing.assert_allclose(got, ref, rtol=0, atol=tol)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
       kh=st.integers(1, 4), kw=st.integers(1, 4), dh=st.integers(1, 3), dw=st.integers(1, 3),
       pt=st.integers(0, 9), pb=st.integers(0, 9), pl=st.integers(0, 9),
       layout=st.sampled_from(["per sample", "channel major", "bias row"]))
def test_shifted_im2col_equals_the_windows_of_the_padded_input(n, c, h, w, kh, kw, dh, dw, pt,
                                                                pb, pl, layout):
    """The stride-1, width-keeping im2col (flat shifts of whole planes, the borders zeroed
    after) gives the strided windows of the zero-padded input exactly, for any kernel,
    dilation and padding, shifts past the whole plane included."""
    from chainrule.ops import fused

    pr = dw * (kw - 1) - pl  # the output as wide as the input: the shifted path's case
    ho = h + pt + pb - dh * (kh - 1)
    if pr < 0 or ho < 1:
        return
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32) + 10  # no zeros in the input
    b = np.zeros(2) if layout == "bias row" else None
    cm = layout == "channel major"
    pad = (pt, pb, pl, pr)
    cols = fused._im2col(x, (kh, kw), (1, 1), pad, (dh, dw), (ho, w), b, channel_major=cm)
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    win = _sw(xp, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))[..., ::dh, ::dw]
    want = win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, ho * w)  # (N, rows, pixels)
    if cm:
        want = want.transpose(1, 0, 2).reshape(c * kh * kw, n * ho * w)
    if b is not None:
        want = np.concatenate([want, np.ones((n, 1, ho * w), np.float32)], axis=1)
    np.testing.assert_array_equal(cols, want)
