"""Sequence layers against PyTorch: the same weights (state_dicts copied across) and inputs must
give the same outputs and the same gradients with respect to the inputs, the initial states and
every parameter, in float64 (tight) and float32 (loose). Skipped cleanly without PyTorch."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")

TOL = {"float64": dict(rtol=1e-9, atol=1e-10), "float32": dict(rtol=2e-4, atol=2e-5)}
DTYPES = ["float64", "float32"]


def _copy_weights(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())


def _pair(ours_cls, torch_cls, dtype, *args, **kwargs):
    torch.manual_seed(0)
    theirs = torch_cls(*args, **kwargs).to(getattr(torch, dtype))
    ours = ours_cls(*args, **kwargs).to(dtype)
    _copy_weights(ours, theirs)
    return ours, theirs


def _inputs(rng, dtype, *shapes):
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    return ([cr.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def _close(a, b, dtype, what):
    a = a.detach().numpy() if hasattr(a, "detach") else a
    b = b.detach().numpy()
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs {b.shape}"
    np.testing.assert_allclose(a, b, err_msg=what, **TOL[dtype])


def _flat(out):
    """Every tensor in a nested tuple of results."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [] if out is None else [out]


def _compare(ours, theirs, our_in, their_in, our_out, their_out, dtype, seed=1):
    """Compare outputs, then backpropagate the same random cotangents through both."""
    outs_c, outs_t = _flat(our_out), _flat(their_out)
    assert len(outs_c) == len(outs_t)
    rng = np.random.default_rng(seed)
    loss_c = loss_t = 0.0
    for k, (oc, ot) in enumerate(zip(outs_c, outs_t)):
        _close(oc, ot, dtype, f"output {k}")
        w = rng.standard_normal(ot.shape).astype(dtype)
        loss_c = loss_c + (oc * cr.tensor(w)).sum()
        loss_t = loss_t + (ot * torch.tensor(w)).sum()
    loss_c.backward()
    loss_t.backward()
    for k, (ic, it) in enumerate(zip(our_in, their_in)):
        _close(ic.grad, it.grad, dtype, f"gradient of input {k}")
    theirs_p = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad is not None, name
        _close(p.grad, theirs_p[name].grad, dtype, f"gradient of {name}")


# -- recurrent layers -------------------------------------------------------------------------
RECURRENT = [
    ("RNN", dict(nonlinearity="tanh")), ("RNN", dict(nonlinearity="relu")), ("GRU", {}),
    ("LSTM", {}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,extra", RECURRENT, ids=["rnn_tanh", "rnn_relu", "gru", "lstm"])
def test_two_layer_bidirectional_batch_first_with_h0(name, extra, dtype):
    ours, theirs = _pair(getattr(nn, name), getattr(torch.nn, name), dtype, 3, 5, num_layers=2,
                         bidirectional=True, batch_first=True, **extra)
    rng = np.random.default_rng(0)
    shapes = [(2, 6, 3), (4, 2, 5)] + ([(4, 2, 5)] if name == "LSTM" else [])
    ci, ti = _inputs(rng, dtype, *shapes)
    hc = (ci[1], ci[2]) if name == "LSTM" else ci[1]
    ht = (ti[1], ti[2]) if name == "LSTM" else ti[1]
    _compare(ours, theirs, ci, ti, ours(ci[0], hc), theirs(ti[0], ht), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_single_layer_time_major_no_h0_no_bias(name, dtype):
    ours, theirs = _pair(getattr(nn, name), getattr(torch.nn, name), dtype, 4, 3, bias=False)
    ci, ti = _inputs(np.random.default_rng(1), dtype, (7, 3, 4))
    _compare(ours, theirs, ci, ti, ours(ci[0]), theirs(ti[0]), dtype)


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_unbatched_three_layers(name):
    ours, theirs = _pair(getattr(nn, name), getattr(torch.nn, name), "float64", 2, 3,
                         num_layers=3, bidirectional=True)
    ci, ti = _inputs(np.random.default_rng(2), "float64", (5, 2), (6, 3))
    if name == "LSTM":
        _compare(ours, theirs, ci, ti, ours(ci[0], (ci[1], ci[1] * 2)),
                 theirs(ti[0], (ti[1], ti[1] * 2)), "float64")
    else:
        _compare(ours, theirs, ci, ti, ours(ci[0], ci[1]), theirs(ti[0], ti[1]), "float64")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["RNNCell", "GRUCell", "LSTMCell"])
def test_cells(name, dtype):
    ours, theirs = _pair(getattr(nn, name), getattr(torch.nn, name), dtype, 4, 3)
    rng = np.random.default_rng(3)
    for batch in ((2,), ()):
        ci, ti = _inputs(rng, dtype, batch + (4,), batch + (3,), batch + (3,))
        ours.zero_grad()
        theirs.zero_grad()
        hc = (ci[1], ci[2]) if name == "LSTMCell" else ci[1]
        ht = (ti[1], ti[2]) if name == "LSTMCell" else ti[1]
        if name != "LSTMCell":
            ci, ti = ci[:2], ti[:2]
        _compare(ours, theirs, ci, ti, ours(ci[0], hc), theirs(ti[0], ht), dtype)


# -- scaled dot-product attention -------------------------------------------------------------
def _sdpa_masks(rng):
    allowed = rng.random((4, 6)) > 0.4
    allowed[2] = False  # a fully-masked query row: PyTorch gives zeros, and so do we
    return {
        "none": {}, "causal": dict(is_causal=True), "bool": dict(attn_mask=allowed),
        "float": dict(attn_mask=rng.standard_normal((2, 1, 4, 6))),
        "scale": dict(scale=0.25),
    }


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ["none", "causal", "bool", "float", "scale"])
def test_scaled_dot_product_attention(case, dtype):
    from chainrule.ops.attention import scaled_dot_product_attention

    rng = np.random.default_rng(4)
    kw = _sdpa_masks(rng)[case]
    ci, ti = _inputs(rng, dtype, (2, 3, 4, 8), (2, 3, 6, 8), (2, 3, 6, 5))
    ckw = {k: cr.tensor(v.astype(dtype) if v.dtype.kind == "f" else v)
           if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    tkw = {k: torch.tensor(v.astype(dtype) if v.dtype.kind == "f" else v)
           if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    oc = scaled_dot_product_attention(*ci, **ckw)
    ot = torch.nn.functional.scaled_dot_product_attention(*ti, **tkw)
    _compare(nn.Module(), torch.nn.Module(), ci, ti, oc, ot, dtype)


# -- MultiheadAttention and Transformer layers ------------------------------------------------
def _masks(rng, n, L, S, kind):
    kpm = np.zeros((n, S), bool)
    kpm[-1, S // 2:] = True
    am = rng.random((L, S)) > 0.7
    am[:, 0] = False
    if kind == "bool":
        return am, kpm
    return np.where(am, -1e9, rng.standard_normal((L, S))), np.where(kpm, -np.inf, 0.0)


def _t(a, dtype, lib):
    if a is None:
        return None
    a = a.astype(dtype) if a.dtype.kind == "f" else a
    return cr.tensor(a) if lib == "cr" else torch.tensor(a)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_multihead_attention_with_masks(kind, batch_first, dtype):
    ours, theirs = _pair(nn.MultiheadAttention, torch.nn.MultiheadAttention, dtype, 8, 2,
                         batch_first=batch_first)
    with torch.no_grad():  # PyTorch initialises the projection biases to 0; make them count
        theirs.in_proj_bias.normal_()
        theirs.out_proj.bias.normal_()
    _copy_weights(ours, theirs)
    rng = np.random.default_rng(5)
    q, k, v = ((2, 3, 8), (2, 5, 8), (2, 5, 8)) if batch_first else \
        ((3, 2, 8), (5, 2, 8), (5, 2, 8))
    ci, ti = _inputs(rng, dtype, q, k, v)
    am, kpm = _masks(rng, 2, 3, 5, kind)
    oc = ours(*ci, key_padding_mask=_t(kpm, dtype, "cr"), attn_mask=_t(am, dtype, "cr"))
    ot = theirs(*ti, key_padding_mask=_t(kpm, dtype, "t"), attn_mask=_t(am, dtype, "t"))
    _compare(ours, theirs, ci, ti, oc, ot, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_first", [True, False])
def test_multihead_self_attention_without_weights(batch_first, dtype):
    # query, key and value one tensor, no weights returned: chainrule's packed path
    ours, theirs = _pair(nn.MultiheadAttention, torch.nn.MultiheadAttention, dtype, 8, 2,
                         batch_first=batch_first)
    with torch.no_grad():
        theirs.in_proj_bias.normal_()
        theirs.out_proj.bias.normal_()
    _copy_weights(ours, theirs)
    rng = np.random.default_rng(8)
    ci, ti = _inputs(rng, dtype, (2, 5, 8) if batch_first else (5, 2, 8))
    am, kpm = _masks(rng, 2, 5, 5, "bool")
    kw_c = dict(key_padding_mask=_t(kpm, dtype, "cr"), attn_mask=_t(am, dtype, "cr"),
                need_weights=False)
    kw_t = dict(key_padding_mask=_t(kpm, dtype, "t"), attn_mask=_t(am, dtype, "t"),
                need_weights=False)
    oc, ot = ours(ci[0], ci[0], ci[0], **kw_c), theirs(ti[0], ti[0], ti[0], **kw_t)
    assert oc[1] is None and ot[1] is None
    _compare(ours, theirs, ci, ti, oc[0], ot[0], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_multihead_attention_kdim_vdim_per_head_weights_unbatched(dtype):
    ours, theirs = _pair(nn.MultiheadAttention, torch.nn.MultiheadAttention, dtype, 8, 4,
                         kdim=3, vdim=5, batch_first=True)
    rng = np.random.default_rng(6)
    ci, ti = _inputs(rng, dtype, (2, 4, 8), (2, 6, 3), (2, 6, 5))
    mask = rng.random((8, 4, 6)) > 0.6  # (N * num_heads, L, S), True = masked out
    oc = ours(*ci, average_attn_weights=False, attn_mask=cr.tensor(mask))
    ot = theirs(*ti, average_attn_weights=False, attn_mask=torch.tensor(mask))
    _compare(ours, theirs, ci, ti, oc, ot, dtype)
    ours.zero_grad()
    theirs.zero_grad()
    ci, ti = _inputs(rng, dtype, (4, 8), (6, 3), (6, 5))
    _compare(ours, theirs, ci, ti, ours(*ci), theirs(*ti), dtype)


ENCODER = [(False, "relu", True), (True, "gelu", True), (False, "gelu", False),
           (True, "relu", False)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_first,activation,train", ENCODER,
                         ids=["post-relu-train", "pre-gelu-train", "post-gelu-eval",
                              "pre-relu-eval"])
def test_encoder_layer(norm_first, activation, train, dtype):
    # train mode with dropout=0, eval mode with dropout>0: both are deterministic
    ours, theirs = _pair(nn.TransformerEncoderLayer, torch.nn.TransformerEncoderLayer, dtype,
                         8, 2, dim_feedforward=16, dropout=0.0 if train else 0.2,
                         activation=activation, batch_first=True, norm_first=norm_first)
    ours.train(train)
    theirs.train(train)
    rng = np.random.default_rng(7)
    ci, ti = _inputs(rng, dtype, (2, 5, 8))
    _, kpm = _masks(rng, 2, 5, 5, "bool")
    oc = ours(ci[0], src_key_padding_mask=_t(kpm, dtype, "cr"))
    ot = theirs(ti[0], src_key_padding_mask=_t(kpm, dtype, "t"))
    _compare(ours, theirs, ci, ti, oc, ot, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_encoder_stack_with_final_norm_and_causal_mask(dtype):
    torch.manual_seed(1)
    layer_t = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0,
                                               norm_first=True)
    theirs = torch.nn.TransformerEncoder(layer_t, 2, norm=torch.nn.LayerNorm(8),
                                         enable_nested_tensor=False).to(getattr(torch, dtype))
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, dim_feedforward=16,
                                                            dropout=0.0, norm_first=True),
                                 2, norm=nn.LayerNorm(8)).to(dtype)
    _copy_weights(ours, theirs)
    ci, ti = _inputs(np.random.default_rng(8), dtype, (5, 2, 8))
    causal = ~np.tri(5, dtype=bool)
    oc = ours(ci[0], mask=cr.tensor(causal), is_causal=True)
    ot = theirs(ti[0], mask=torch.tensor(causal), is_causal=True)
    _compare(ours, theirs, ci, ti, oc, ot, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_decoder_layer(norm_first, dtype):
    ours, theirs = _pair(nn.TransformerDecoderLayer, torch.nn.TransformerDecoderLayer, dtype,
                         8, 2, dim_feedforward=16, dropout=0.0, batch_first=True,
                         norm_first=norm_first)
    rng = np.random.default_rng(9)
    ci, ti = _inputs(rng, dtype, (2, 4, 8), (2, 6, 8))
    causal = ~np.tri(4, dtype=bool)
    am, mkpm = _masks(rng, 2, 4, 6, "bool")
    _, tkpm = _masks(rng, 2, 4, 4, "bool")
    kw = dict(tgt_mask=causal, memory_mask=am, tgt_key_padding_mask=tkpm,
              memory_key_padding_mask=mkpm)
    oc = ours(*ci, tgt_is_causal=True, **{k: cr.tensor(v) for k, v in kw.items()})
    ot = theirs(*ti, tgt_is_causal=True, **{k: torch.tensor(v) for k, v in kw.items()})
    _compare(ours, theirs, ci, ti, oc, ot, dtype)
