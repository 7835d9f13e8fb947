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


def test_scores_bound_decides_whether_softmax_shifts_by_the_row_max(qkv):
    """The shift is skipped only where |scale| max|q_i| max|k_j| keeps every exp normal and
    every row's sum finite in the scores' dtype; NaN, infinity and empty inputs never skip it."""
    from chainrule.ops.attention import scores_bounded

    q, k, _ = qkv
    scale = 1 / np.sqrt(8)
    assert scores_bounded(q, k, scale, np.float64, 6)
    assert scores_bounded(q.astype(np.float32), k.astype(np.float32), scale, np.float32, 6)
    bound = np.sqrt((q * q).sum(-1).max() * (k * k).sum(-1).max())  # about 10
    assert scores_bounded(q, k, 80 / bound, np.float32, 6)  # scores within +-80: exp normal
    assert not scores_bounded(q, k, 88 / bound, np.float32, 6)  # exp(88) sums past float32
    assert not scores_bounded(q, k, 80 / bound, np.float32, 10 ** 4)  # a longer row's sum
    assert not scores_bounded(q, k, -90 / bound, np.float32, 6)  # either sign
    assert scores_bounded(q, k, 8 / bound, np.float16, 6)  # float16's exp overflows past 11
    assert not scores_bounded(q, k, 9 / bound, np.float16, 6)
    for bad in (np.nan, np.inf):
        qb = q.copy()
        qb[1, 2, 3, 4] = bad
        assert not scores_bounded(qb, k, scale, np.float64, 6)
    assert not scores_bounded(q[..., :0, :], k, scale, np.float64, 6)


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-6), (np.float16, 2e-3)])
def test_probabilities_with_and_without_the_shift_match_the_reference(qkv, dtype, tol):
    """Moderate scores (no shift), large ones (the shift), and one batch's NaN, which must not
    turn the other batch's large scores unshifted."""
    q, k, _ = qkv
    for mult in (0.3, 30.0):
        qa, ka = (q * mult).astype(dtype), (k * mult).astype(dtype)
        if dtype == np.float16 and mult > 1:
            qa, ka = (q * 3).astype(dtype), (k * 3).astype(dtype)  # scores of tens
        p = _np(attention(cr.tensor(qa), cr.tensor(ka), cr.tensor(ka[..., :5]))[1])
        want = _ref(qa.astype(np.float64), ka.astype(np.float64), np.eye(6)[None, None])
        assert p.dtype == dtype and np.all(np.isfinite(p))
        np.testing.assert_allclose(p, want, atol=tol)
    qn, kn = (q * 30).astype(dtype), (k * 30).astype(dtype)
    qn[0, 0, 0, 0] = np.nan
    p = _np(attention(cr.tensor(qn), cr.tensor(kn), cr.tensor(kn[..., :5]))[1])
    want = _ref(qn[1].astype(np.float64), kn[1].astype(np.float64), np.eye(6)[None])
    assert np.all(np.isnan(p[0, 0, 0]))
    np.testing.assert_allclose(p[1], want, atol=tol)


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


# -- MultiheadAttention ---------------------------------------------------------------------------
def _set_params(module, values):
    """Point every parameter of ``module`` at the given tensors (in named_parameters order)."""
    for (name, _), v in zip(list(module.named_parameters()), values):
        *path, leaf = name.split(".")
        owner = module
        for p in path:
            owner = getattr(owner, p)
        owner._parameters[leaf] = v


def _mha_ref(m, q, k, v, allowed=None):
    """Multi-head attention in numpy from the module's weights, batch-first (N, L, E)."""
    sd = {n: _np(t) for n, t in m.state_dict().items()}
    e, h = m.embed_dim, m.num_heads
    w, b = sd["in_proj_weight"], sd["in_proj_bias"]
    proj = [x @ w[i * e:(i + 1) * e].T + b[i * e:(i + 1) * e] for i, x in enumerate((q, k, v))]
    heads = [p.reshape(p.shape[0], p.shape[1], h, e // h).transpose(0, 2, 1, 3) for p in proj]
    o = _ref(*heads, allowed=allowed)
    o = o.transpose(0, 2, 1, 3).reshape(q.shape[0], q.shape[1], e)
    return o @ sd["out_proj.weight"].T + sd["out_proj.bias"]


def test_mha_matches_reference_with_masks():
    rng = np.random.default_rng(10)
    m = cr.nn.MultiheadAttention(8, 2, batch_first=True, dtype=cr.float64)
    m.in_proj_bias.data[:] = rng.standard_normal(24)
    q, kv = rng.standard_normal((2, 3, 8)), rng.standard_normal((2, 5, 8))
    kpm = np.zeros((2, 5), bool)
    kpm[1, 3:] = True
    am = rng.random((3, 5)) > 0.7
    am[:, 0] = False
    out, w = m(cr.tensor(q), cr.tensor(kv), cr.tensor(kv), key_padding_mask=cr.tensor(kpm),
               attn_mask=cr.tensor(am))
    allowed = ~(kpm[:, None, None, :] | am)
    np.testing.assert_allclose(_np(out), _mha_ref(m, q, kv, kv, allowed), atol=1e-12)
    assert w.shape == (2, 3, 5)
    assert np.all(_np(w)[1, :, 3:] == 0) and np.all(_np(w)[:, am] == 0)
    np.testing.assert_allclose(_np(w).sum(-1), 1.0)
    # float masks are added: -inf where the boolean ones say "masked out" gives the same result
    fkpm = np.where(kpm, -np.inf, 0.0)
    fam = np.where(am, -np.inf, 0.0)
    out2, _ = m(cr.tensor(q), cr.tensor(kv), cr.tensor(kv), key_padding_mask=cr.tensor(fkpm),
                attn_mask=cr.tensor(fam))
    np.testing.assert_allclose(_np(out2), _np(out), atol=1e-12)
    # a (N * num_heads, L, S) mask is per batch element and head
    am3 = np.broadcast_to(am, (4, 3, 5))
    out3, _ = m(cr.tensor(q), cr.tensor(kv), cr.tensor(kv), key_padding_mask=cr.tensor(kpm),
                attn_mask=cr.tensor(am3))
    np.testing.assert_allclose(_np(out3), _np(out), atol=1e-12)


def test_mha_layouts_weights_and_unbatched():
    rng = np.random.default_rng(11)
    m = cr.nn.MultiheadAttention(8, 4, dtype=cr.float64)
    x = cr.tensor(rng.standard_normal((5, 2, 8)))  # (L, N, E)
    out, w = m(x, x, x, average_attn_weights=False)
    assert out.shape == (5, 2, 8) and w.shape == (2, 4, 5, 5)
    out_n, w_n = m(x, x, x, need_weights=False)
    assert w_n is None
    np.testing.assert_allclose(_np(out_n), _np(out))
    np.testing.assert_allclose(_np(out), _mha_ref(m, *[_np(x).transpose(1, 0, 2)] * 3)
                               .transpose(1, 0, 2), atol=1e-12)
    out_u, w_u = m(x[:, 0], x[:, 0], x[:, 0])
    assert out_u.shape == (5, 8) and w_u.shape == (5, 5)
    np.testing.assert_allclose(_np(out_u), _np(out)[:, 0], atol=1e-12)


def _op_names(t):
    """Names of the ops recorded in ``t``'s graph."""
    names, seen, todo = set(), set(), [t._node]
    while todo:
        v = todo.pop()
        if v is None or id(v) in seen or not hasattr(v, "op"):
            continue
        seen.add(id(v))
        names.add(v.op.name)
        todo.extend(getattr(u, "_node", None) for u in v.inputs)
    return names


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("masks", ["none", "padding+causal", "attn_mask"])
def test_mha_self_attention_is_one_packed_op_matching_separate_projections(batch_first, masks):
    rng = np.random.default_rng(21)
    m = cr.nn.MultiheadAttention(8, 2, batch_first=batch_first, dtype=cr.float64)
    m.in_proj_bias.data[:] = rng.standard_normal(24) * 0.1
    xa = rng.standard_normal((3, 5, 8) if batch_first else (5, 3, 8))
    kw = {}
    if masks == "padding+causal":  # the last sample's queries attend to nothing but key 0
        kw = dict(key_padding_mask=cr.tensor(np.array([[False] * 5, [False] * 4 + [True],
                                                       [False] + [True] * 4])),
                  is_causal=True)
    elif masks == "attn_mask":  # True = masked out; query 2 attends to nothing
        am = rng.random((5, 5)) > 0.6
        am[2] = True
        kw = dict(attn_mask=cr.tensor(am))
    grads = []
    for need_weights in (False, True):  # the packed op; the separate projections
        m.zero_grad()
        x = cr.tensor(xa, requires_grad=True)
        out = m(x, x, x, need_weights=need_weights, **kw)[0]
        assert ("attn_qkv" in _op_names(out)) == (not need_weights)
        (out * cr.tensor(np.arange(out.numel()).reshape(out.shape) % 7)).sum().backward()
        grads.append([_np(out), _np(x.grad)] + [_np(p.grad) for p in m.parameters()])
    for packed, separate in zip(*grads):
        assert np.all(np.isfinite(packed))
        np.testing.assert_allclose(packed, separate, rtol=1e-10, atol=1e-12)
    if masks == "attn_mask":  # a query with no key: its attention output is 0
        out = m(cr.tensor(xa), cr.tensor(xa), cr.tensor(xa), need_weights=False, **kw)[0]
        row = _np(out)[:, 2] if batch_first else _np(out)[2]
        np.testing.assert_allclose(row, np.broadcast_to(_np(m.out_proj.bias), row.shape))


def test_mha_packed_path_only_for_plain_self_attention():
    rng = np.random.default_rng(22)
    m = cr.nn.MultiheadAttention(4, 2, batch_first=True, dropout=0.5)
    x = cr.tensor(rng.standard_normal((2, 3, 4)).astype(np.float32))
    m.eval()
    assert "attn_qkv" in _op_names(m(x, x, x, need_weights=False)[0])
    m.train()  # dropout on the probabilities: the separate path
    assert "attn_qkv" not in _op_names(m(x, x, x, need_weights=False)[0])
    m.eval()
    y = cr.tensor(_np(x))  # equal values, another tensor: not known to be self-attention
    assert "attn_qkv" not in _op_names(m(x, y, y, need_weights=False)[0])
    bias = cr.tensor(np.zeros((3, 3), np.float32))  # a float mask: the separate path
    assert "attn_qkv" not in _op_names(m(x, x, x, need_weights=False, attn_mask=bias)[0])


def test_mha_kdim_vdim_parameters():
    m = cr.nn.MultiheadAttention(8, 2, kdim=3, vdim=5, batch_first=True)
    assert list(m.state_dict()) == ["q_proj_weight", "k_proj_weight", "v_proj_weight",
                                    "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    assert m.k_proj_weight.shape == (8, 3) and m.v_proj_weight.shape == (8, 5)
    out, w = m(cr.randn(2, 4, 8), cr.randn(2, 6, 3), cr.randn(2, 6, 5))
    assert out.shape == (2, 4, 8) and w.shape == (2, 4, 6)
    same = cr.nn.MultiheadAttention(8, 2, bias=False)
    assert list(same.state_dict()) == ["in_proj_weight", "out_proj.weight"]


def test_mha_fully_masked_query_gives_zeros_not_nan():
    m = cr.nn.MultiheadAttention(4, 2, batch_first=True)
    x = cr.randn(2, 3, 4, requires_grad=True)
    kpm = cr.tensor(np.array([[False, False, False], [True, True, True]]))
    out, w = m(x, x, x, key_padding_mask=kpm)
    assert np.all(np.isfinite(_np(out))) and np.all(_np(w)[1] == 0)
    np.testing.assert_allclose(_np(out)[1], np.broadcast_to(_np(m.out_proj.bias), (3, 4)))
    out.sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))


def test_mha_check_grads_with_masks():
    rng = np.random.default_rng(12)
    m = cr.nn.MultiheadAttention(4, 2, batch_first=True, dtype=cr.float64)
    m.in_proj_bias.data[:] = rng.standard_normal(12) * 0.1
    params = [cr.tensor(_np(p)) for p in m.parameters()]
    q = cr.tensor(rng.standard_normal((2, 3, 4)))
    kv = cr.tensor(rng.standard_normal((2, 4, 4)))
    kpm = cr.tensor(np.array([[False] * 4, [False, False, True, True]]))

    def f(q, kv, *ps):
        _set_params(m, ps)
        out, w = m(q, kv, kv, key_padding_mask=kpm, is_causal=True)
        return out.sum(-1) + w[..., 0]

    check_grads(f, [q, kv, *params], modes=("rev", "fwd"))

    x = cr.tensor(rng.standard_normal((2, 3, 4)))
    kpm_self = cr.tensor(np.array([[False] * 3, [False, True, True]]))

    def g(x, *ps):  # self-attention without weights: the packed path, second order too
        _set_params(m, ps)
        return m(x, x, x, key_padding_mask=kpm_self, is_causal=True, need_weights=False)[0]

    check_grads(g, [x, *params], modes=("rev", "fwd"), order=2)


# -- Transformer layers ---------------------------------------------------------------------------
def test_check_grads_through_encoder_block():
    rng = np.random.default_rng(13)
    layer = cr.nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0,
                                          batch_first=True, norm_first=True,
                                          activation="gelu", dtype=cr.float64)
    params = [cr.tensor(_np(p) + rng.standard_normal(p.shape) * 0.1)
              for p in layer.parameters()]
    x = cr.tensor(rng.standard_normal((2, 3, 4)))

    def f(x, *ps):
        _set_params(layer, ps)
        return layer(x, is_causal=True)

    check_grads(f, [x, *params], modes=("rev", "fwd"))


def test_encoder_layer_pre_and_post_norm_equations():
    rng = np.random.default_rng(14)
    x = cr.tensor(rng.standard_normal((2, 3, 8)))
    for norm_first in (False, True):
        layer = cr.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0,
                                              batch_first=True, norm_first=norm_first,
                                              dtype=cr.float64)

        def sa(y, layer=layer):
            return layer.self_attn(y, y, y)[0]

        def ff(y, layer=layer):
            return layer.linear2(cr.relu(layer.linear1(y)))

        if norm_first:
            y = x + sa(layer.norm1(x))
            y = y + ff(layer.norm2(y))
        else:
            y = layer.norm1(x + sa(x))
            y = layer.norm2(y + ff(y))
        np.testing.assert_allclose(_np(layer(x)), _np(y), atol=1e-12)


def test_encoder_dropout_train_vs_eval():
    x = cr.randn(2, 4, 8)
    layer = cr.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.3,
                                          batch_first=True)
    layer.eval()
    np.testing.assert_array_equal(_np(layer(x)), _np(layer(x)))
    layer.train()
    assert not np.allclose(_np(layer(x)), _np(layer(x)))


def test_encoder_stack_deep_copies_layers_and_shares_generator():
    g = cr.Generator().manual_seed(0)
    layer = cr.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, generator=g)
    enc = cr.nn.TransformerEncoder(layer, 3, norm=cr.nn.LayerNorm(8))
    assert len(enc.layers) == 3
    assert enc.num_parameters() == 3 * layer.num_parameters() + 16
    p0, p1 = enc.layers[0].linear1.weight, enc.layers[1].linear1.weight
    assert p0 is not p1 and p0 is not layer.linear1.weight
    np.testing.assert_array_equal(p0.data, p1.data)
    assert enc.layers[1].dropout.generator is g and enc.layers[2].self_attn.generator is g
    keys = list(enc.state_dict())
    assert keys[0] == "layers.0.self_attn.in_proj_weight" and keys[-1] == "norm.bias"
    assert enc(cr.randn(5, 2, 8), is_causal=True).shape == (5, 2, 8)


def test_decoder_layer_and_stack_shapes():
    layer = cr.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, batch_first=True,
                                          activation=cr.nn.GELU(approximate="tanh"))
    assert "norm3.weight" in layer.state_dict()
    assert "multihead_attn.in_proj_weight" in layer.state_dict()
    dec = cr.nn.TransformerDecoder(layer, 2)
    out = dec(cr.randn(2, 5, 8), cr.randn(2, 7, 8), tgt_is_causal=True,
              memory_key_padding_mask=cr.zeros(2, 7, dtype=cr.bool))
    assert out.shape == (2, 5, 8) and out.dtype == np.float32


def test_attention_layer_errors():
    m = cr.nn.MultiheadAttention(8, 2, batch_first=True)
    x = cr.randn(2, 3, 8)
    with pytest.raises(ShapeError, match=r"MultiheadAttention.*'query'.*embed_dim=8.*\(2, 3, 6\)"):
        m(cr.randn(2, 3, 6), x, x)
    with pytest.raises(ShapeError, match=r"MultiheadAttention.*'key'.*kdim=8.*\(2, 3, 5\)"):
        m(x, cr.randn(2, 3, 5), x)
    with pytest.raises(ShapeError, match=r"MultiheadAttention.*'key'.*N=2"):
        m(x, cr.randn(3, 3, 8), x)
    with pytest.raises(ShapeError, match=r"attn_mask.*\(3, 3\) or \(4, 3, 3\).*\(3, 4\)"):
        m(x, x, x, attn_mask=cr.zeros(3, 4, dtype=cr.bool))
    with pytest.raises(ShapeError, match=r"key_padding_mask.*\(2, 3\).*\(3, 2\)"):
        m(x, x, x, key_padding_mask=cr.zeros(3, 2, dtype=cr.bool))
    with pytest.raises(DTypeError, match="key_padding_mask"):
        m(x, x, x, key_padding_mask=cr.zeros(2, 3, dtype=cr.int64))
    with pytest.raises(DTypeError, match="MultiheadAttention.*float64"):
        m(cr.randn(2, 3, 8, dtype=cr.float64), x, x)
    with pytest.raises(ArgumentError, match="divisible"):
        cr.nn.MultiheadAttention(8, 3)
    with pytest.raises(ShapeError, match=r"TransformerEncoderLayer.*'src'.*d_model=8.*\(2, 3, 4\)"):
        cr.nn.TransformerEncoderLayer(8, 2)(cr.randn(2, 3, 4))
    with pytest.raises(ShapeError, match=r"TransformerDecoderLayer.*'memory'"):
        cr.nn.TransformerDecoderLayer(8, 2)(x, cr.randn(2, 3, 5))
    with pytest.raises(ArgumentError, match="activation"):
        cr.nn.TransformerEncoderLayer(8, 2, activation="swish")
