"""Attention without PyTorch: scaled dot-product attention against a numpy reference, masks and
their conventions, fully-masked rows, dropout, gradient checks, and error messages."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import ArgumentError, DTypeError, ShapeError
from chainrule.ops.attention import attention, causal_mask, scaled_dot_product_attention
from chainrule.testing import check_grads

sdpa = scaled_dot_product_attention


def _np(t):
    return t.detach().numpy()


def _ref(q, k, v, allowed=None, bias=None, scale=None):
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if bias is not None:
        s = s + bias
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)
    m = np.max(s, -1, keepdims=True)
    e = np.exp(s - m)
    return (e / e.sum(-1, keepdims=True)) @ v


@pytest.fixture
def qkv():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((2, 3, 4, 8)), rng.standard_normal((2, 3, 6, 8)),
            rng.standard_normal((2, 3, 6, 5)))


# -- sdpa ----------------------------------------------------------------------------------------
def test_sdpa_matches_reference(qkv):
    q, k, v = qkv
    out = sdpa(cr.tensor(q), cr.tensor(k), cr.tensor(v))
    np.testing.assert_allclose(_np(out), _ref(q, k, v), atol=1e-12)
    out = sdpa(cr.tensor(q), cr.tensor(k), cr.tensor(v), scale=0.3)
    np.testing.assert_allclose(_np(out), _ref(q, k, v, scale=0.3), atol=1e-12)


def test_bool_mask_true_means_attend_and_float_mask_is_added(qkv):
    q, k, v = qkv
    allowed = np.random.default_rng(1).random((4, 6)) > 0.3
    allowed[:, 0] = True
    out = sdpa(cr.tensor(q), cr.tensor(k), cr.tensor(v), attn_mask=cr.tensor(allowed))
    np.testing.assert_allclose(_np(out), _ref(q, k, v, allowed=allowed), atol=1e-12)
    bias = np.random.default_rng(2).standard_normal((2, 1, 4, 6))
    out = sdpa(cr.tensor(q), cr.tensor(k), cr.tensor(v), attn_mask=cr.tensor(bias))
    np.testing.assert_allclose(_np(out), _ref(q, k, v, bias=bias), atol=1e-12)


def test_causal_is_top_left_aligned(qkv):
    q, k, v = qkv
    assert causal_mask(2, 3).tolist() == [[True, False, False], [True, True, False]]
    out = sdpa(cr.tensor(q), cr.tensor(k), cr.tensor(v), is_causal=True)
    np.testing.assert_allclose(_np(out), _ref(q, k, v, allowed=np.tri(4, 6, dtype=bool)),
                               atol=1e-12)
    # the first query sees only the first key
    np.testing.assert_allclose(_np(out)[..., 0, :], v[..., 0, :], atol=1e-12)


def test_fully_masked_rows_give_zeros_and_finite_gradients(qkv):
    q, k, v = (cr.tensor(a, requires_grad=True) for a in qkv)
    allowed = np.ones((4, 6), dtype=bool)
    allowed[2] = False
    out = sdpa(q, k, v, attn_mask=cr.tensor(allowed))
    assert np.all(_np(out)[..., 2, :] == 0)
    (out * out).sum().backward()
    for t in (q, k, v):
        assert np.all(np.isfinite(t.grad.numpy()))
    assert np.all(q.grad.numpy()[..., 2, :] == 0)
    # a float mask of -inf on a whole row behaves the same
    bias = np.zeros((4, 6))
    bias[1] = -np.inf
    out = sdpa(q.detach(), k.detach(), v.detach(), attn_mask=cr.tensor(bias))
    assert np.all(_np(out)[..., 1, :] == 0) and np.all(np.isfinite(_np(out)))


def test_large_scores_do_not_overflow():
    q = cr.tensor(np.full((1, 2, 4), 300.0, dtype=np.float32))
    out = sdpa(q, q, q, scale=1.0)
    assert np.all(np.isfinite(out.numpy()))


def test_check_grads_all_inputs_and_float_mask(qkv):
    q, k, v = (cr.tensor(a[:1, :2, :3, :4]) for a in qkv)
    bias = cr.tensor(np.random.default_rng(3).standard_normal((3, 3)))
    check_grads(lambda q, k, v, b: sdpa(q, k, v, attn_mask=b), [q, k, v, bias],
                modes=("rev", "fwd"), order=2)
    check_grads(lambda q, k, v: sdpa(q, k, v, is_causal=True), [q, k, v])


def test_dropout_is_seeded_and_scales(qkv):
    q, k, v = (cr.tensor(a) for a in qkv)
    a = sdpa(q, k, v, dropout_p=0.5, generator=cr.Generator().manual_seed(0))
    b = sdpa(q, k, v, dropout_p=0.5, generator=cr.Generator().manual_seed(0))
    c = sdpa(q, k, v, dropout_p=0.5, generator=cr.Generator().manual_seed(1))
    np.testing.assert_array_equal(_np(a), _np(b))
    assert not np.allclose(_np(a), _np(c))
    _, p = attention(q, k, v, dropout_p=0.5, generator=cr.Generator().manual_seed(0))
    vals = np.unique(np.round(_np(p) / _np(attention(q, k, v)[1]), 6))
    assert set(vals.tolist()) <= {0.0, 2.0}


def test_float32_stays_float32(qkv):
    q, k, v = (cr.tensor(a.astype(np.float32), requires_grad=True) for a in qkv)
    out = sdpa(q, k, v, attn_mask=cr.tensor(np.zeros((4, 6), np.float32)), is_causal=True)
    assert out.dtype == np.float32
    out.sum().backward()
    assert q.grad.dtype == np.float32 and k.grad.dtype == np.float32


def test_sdpa_errors(qkv):
    q, k, v = (cr.tensor(a) for a in qkv)
    with pytest.raises(ShapeError, match=r"key.*last dim 8.*\(2, 3, 6, 7\)"):
        sdpa(q, cr.randn(2, 3, 6, 7, dtype=cr.float64), v)
    with pytest.raises(ShapeError, match="value.*6"):
        sdpa(q, k, cr.randn(2, 3, 5, 5, dtype=cr.float64))
    with pytest.raises(ShapeError, match=r"attn_mask.*\(2, 3, 4, 6\).*\(4, 5\)"):
        sdpa(q, k, v, attn_mask=cr.ones(4, 5, dtype=cr.bool))
    with pytest.raises(DTypeError, match="attn_mask"):
        sdpa(q, k, v, attn_mask=cr.ones(4, 6, dtype=cr.int64))
    with pytest.raises(ArgumentError, match="dropout_p"):
        sdpa(q, k, v, dropout_p=1.0)
