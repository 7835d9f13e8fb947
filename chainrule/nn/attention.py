"""Attention layers: MultiheadAttention and the Transformer encoder and decoder layers.

Constructor keywords, parameter names, mask conventions and results are PyTorch's, so weights
copied from PyTorch give the same results:

* in these modules a boolean mask entry that is **True means "masked out"** (the key is not
  attended to); float masks are added to the attention scores;
* ``attn_mask`` is (L, S) or (N * num_heads, L, S); ``key_padding_mask`` is (N, S);
* ``batch_first`` chooses (N, L, E) over (L, N, E); 2-D inputs are unbatched.

All heads and batch elements go through two batched matmuls (``(N, h, L, d) @ (N, h, d, S)`` and
back); the softmax between them is the fused ``attn_softmax`` primitive of
:mod:`chainrule.ops.attention`.

A query whose keys are all masked out gets all-zero attention weights and a zero attention
output (before ``out_proj``), with finite gradients. PyTorch gives NaN for such rows on some of
its code paths and zeros on others; chainrule always gives zeros.
"""

from __future__ import annotations

import copy

import numpy as np

from .. import backend
from ..errors import ArgumentError, DTypeError, ShapeError
from ..ops import gelu, relu
from ..ops._util import as_tensor
from ..ops.attention import attention, self_attention_packed
from ..tensor import Tensor
from . import init
from .container import ModuleList
from .layers import Dropout, Linear
from .module import Module
from .norm import LayerNorm
from .parameter import Parameter


def _shape(s):
    return "(" + ", ".join(str(d) for d in s) + ")"


def _mask_array(owner, name, mask, want, dtype):
    """A mask as (array, is_bool) after checking its dtype and shape against ``want``."""
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_ and m.dtype.kind != "f":
        raise DTypeError(f"{owner}: argument '{name}' expected a bool or float tensor, got "
                         f"{m.dtype}")
    if m.shape not in want:
        raise ShapeError(f"{owner}: argument '{name}' expected shape "
                         f"{' or '.join(_shape(w) for w in want)}, got {_shape(m.shape)}")
    return m


def _as_bias(mask, dtype):
    """A float mask as a tensor (it may carry gradients); a boolean one as 0 / -inf."""
    if isinstance(mask, Tensor) and mask.dtype.kind == "f":
        return as_tensor(mask, dtype)
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype == np.bool_:
        return Tensor._wrap(np.where(m, np.asarray(-np.inf, dtype), np.asarray(0, dtype)))
    return Tensor._wrap(m.astype(dtype, copy=False))


def _layer_check(owner, x, d_model, name):
    x = as_tensor(x)
    if x.ndim not in (2, 3) or x.shape[-1] != d_model:
        raise ShapeError(f"{owner}: argument '{name}' expected shape (L, N, {d_model}), "
                         f"(N, L, {d_model}) with batch_first, or (L, {d_model}) unbatched "
                         f"(d_model={d_model}), got {_shape(x.shape)}")
    return x


class MultiheadAttention(Module):
    r"""Multi-head attention, as ``torch.nn.MultiheadAttention``.

    .. math:: \mathrm{head}_i = \mathrm{softmax}(Q W_i^Q (K W_i^K)^T / \sqrt{d} + M) V W_i^V,
              \quad \mathrm{out} = [\mathrm{head}_1, \dots, \mathrm{head}_h] W^O

    Parameters
    ----------
    embed_dim : int
    num_heads : int
        Must divide ``embed_dim``; each head has size ``embed_dim // num_heads``.
    dropout : float
        Dropout on the attention weights, in training mode.
    bias : bool
        Biases in the input and output projections.
    kdim, vdim : int, optional
        Feature sizes of key and value (default ``embed_dim``). When they differ from
        ``embed_dim`` the projections are ``q_proj_weight``, ``k_proj_weight``,
        ``v_proj_weight``; otherwise one packed ``in_proj_weight`` (3E, E).
    batch_first : bool
    generator : chainrule.Generator, optional
        Source of the initial weights and the dropout masks.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` returns ``(output, weights)``; ``weights`` is
    (N, L, S) averaged over heads, (N, num_heads, L, S) with ``average_attn_weights=False``, or
    None when ``need_weights=False``. Boolean masks: True = masked out. ``is_causal=True`` masks
    keys after each query (top-left aligned), combined with any ``attn_mask``.

    Examples
    --------
    >>> import chainrule as cr
    >>> mha = cr.nn.MultiheadAttention(8, 2, batch_first=True)
    >>> x = cr.randn(3, 5, 8)
    >>> out, w = mha(x, x, x)
    >>> out.shape, w.shape
    ((3, 5, 8), (3, 5, 5))
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None, *, generator=None):
        super().__init__()
        for arg, val in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if not isinstance(val, (int, np.integer)) or isinstance(val, bool) or val <= 0:
                raise ArgumentError(f"MultiheadAttention: argument '{arg}' expected a positive "
                                    f"int, got {val!r}")
        if embed_dim % num_heads:
            raise ArgumentError(f"MultiheadAttention: embed_dim={embed_dim} must be divisible "
                                f"by num_heads={num_heads}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ArgumentError(f"MultiheadAttention: argument 'dropout' expected a probability "
                                f"in [0, 1), got {dropout}")
        if add_bias_kv or add_zero_attn:
            raise ArgumentError("MultiheadAttention: add_bias_kv and add_zero_attn are not "
                                "supported")
        self.embed_dim = int(embed_dim)
        self.kdim = int(kdim) if kdim is not None else self.embed_dim
        self.vdim = int(vdim) if vdim is not None else self.embed_dim
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.head_dim = self.embed_dim // self.num_heads
        self.generator = generator
        dt = backend.as_dtype(dtype) or backend.get_default_dtype()
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * e, e), dt))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(np.empty((e, e), dt))
            self.k_proj_weight = Parameter(np.empty((e, self.kdim), dt))
            self.v_proj_weight = Parameter(np.empty((e, self.vdim), dt))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * e, dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(e, e, bias=bias, dtype=dt, generator=generator)
        self._reset_parameters(generator)

    def _reset_parameters(self, generator=None):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight, generator=generator)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w, generator=generator)
        if self.in_proj_bias is not None:
            self.in_proj_bias.data[...] = 0
        if self.out_proj.bias is not None:
            self.out_proj.bias.data[...] = 0

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"

    # -- checks ---------------------------------------------------------------------------------
    def _check_inputs(self, query, key, value):
        name = "MultiheadAttention"
        q, k, v = as_tensor(query), as_tensor(key), as_tensor(value)
        dt = self.out_proj.weight.dtype
        for arg, t in (("query", q), ("key", k), ("value", v)):
            if t.dtype != dt:
                raise DTypeError(f"{name}: argument '{arg}' has dtype {t.dtype} but the layer's "
                                 f"parameters are {dt}")
        batched = q.ndim == 3
        if q.ndim not in (2, 3) or q.shape[-1] != self.embed_dim:
            raise ShapeError(f"{name}: argument 'query' expected shape "
                             f"{'(N, L, E)' if self.batch_first else '(L, N, E)'} or (L, E) "
                             f"unbatched with E=embed_dim={self.embed_dim}, got "
                             f"{_shape(q.shape)}")
        for arg, t, d in (("key", k, self.kdim), ("value", v, self.vdim)):
            want_batch = (q.shape[0] if self.batch_first else q.shape[1]) if batched else None
            t_batch = (t.shape[0] if self.batch_first else t.shape[1]) if t.ndim == 3 else None
            if t.ndim != q.ndim or t.shape[-1] != d or t_batch != want_batch:
                kind = "kdim" if arg == "key" else "vdim"
                layout = ("(N, S, " if self.batch_first else "(S, N, ") if batched else "(S, "
                raise ShapeError(f"{name}: argument '{arg}' expected shape {layout}{d}) "
                                 f"({kind}={d}"
                                 f"{', N=' + str(want_batch) if batched else ''}), got "
                                 f"{_shape(t.shape)}")
        if k.shape[:-1] != v.shape[:-1]:
            raise ShapeError(f"{name}: 'key' and 'value' must have the same length and batch, "
                             f"got shapes {_shape(k.shape)} and {_shape(v.shape)}")
        return q, k, v, batched

    def _merge_masks(self, attn_mask, key_padding_mask, n, L, S, batched, dtype):
        """One mask for the (N, h, L, S) scores: a bool array (True = attend) or a float bias."""
        name = "MultiheadAttention"
        h = self.num_heads
        masks = []
        if attn_mask is not None:
            want = [(L, S), (n * h, L, S)] if batched else [(L, S), (h, L, S)]
            m = _mask_array(name, "attn_mask", attn_mask, want, dtype)
            shape = (1, 1, L, S) if m.ndim == 2 else (n, h, L, S)
            masks.append((attn_mask, m, shape))
        if key_padding_mask is not None:
            want = [(n, S)] if batched else [(S,)]
            m = _mask_array(name, "key_padding_mask", key_padding_mask, want, dtype)
            masks.append((key_padding_mask, m, (n, 1, 1, S)))
        if not masks:
            return None
        if all(m.dtype == np.bool_ for _, m, _ in masks):
            masked = None
            for _, m, shape in masks:
                m = m.reshape(shape)
                masked = m if masked is None else np.logical_or(masked, m)
            return ~masked
        bias = None
        for orig, _, shape in masks:
            b = _as_bias(orig, dtype).reshape(shape)
            bias = b if bias is None else bias + b
        return bias

    # -- the pass ---------------------------------------------------------------------------------
    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        q, k, v, batched = self._check_inputs(query, key, value)
        if not batched:
            q, k, v = q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0)
        elif not self.batch_first:
            q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
        n, L, e = q.shape
        S = k.shape[1]
        h, d = self.num_heads, self.head_dim
        b = self.in_proj_bias
        from ..ops import linear

        mask = self._merge_masks(attn_mask, key_padding_mask, n, L, S, batched, q.dtype)
        dropout = self.dropout if self.training else 0.0
        p = None
        if (query is key and key is value and self._qkv_same_embed_dim and not need_weights
                and dropout == 0.0 and (mask is None or mask.dtype == np.bool_)):
            # self-attention: q, k and v from one product, the heads' attention one op on it
            qkv = linear(q, self.in_proj_weight, b)
            out = self_attention_packed(qkv, h, attn_mask=mask, is_causal=is_causal)
        else:
            bq = bk = bv = None
            if b is not None:
                bq, bk, bv = b[:e], b[e:2 * e], b[2 * e:]
            if self._qkv_same_embed_dim:
                w = self.in_proj_weight
                wq, wk, wv = w[:e], w[e:2 * e], w[2 * e:]
            else:
                wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
            # (N, L, E) -> (N, h, L, d): heads become a batch dim, so no loop over heads
            qh = linear(q, wq, bq).reshape(n, L, h, d).transpose(1, 2)
            kh = linear(k, wk, bk).reshape(n, S, h, d).transpose(1, 2)
            vh = linear(v, wv, bv).reshape(n, S, h, d).transpose(1, 2)
            out, p = attention(qh, kh, vh, mask, dropout, is_causal=is_causal,
                               generator=self.generator, name="MultiheadAttention")
            out = out.transpose(1, 2).reshape(n, L, e)
        out = self.out_proj(out)
        if not batched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            p = p.mean(1)
        if not batched:
            p = p.squeeze(0)
        return out, p


def _activation(owner, activation):
    if isinstance(activation, str):
        if activation == "relu":
            return relu
        if activation == "gelu":
            return gelu
        raise ArgumentError(f"{owner}: argument 'activation' expected 'relu', 'gelu' or a "
                            f"callable, got {activation!r}")
    if not callable(activation):
        raise ArgumentError(f"{owner}: argument 'activation' expected 'relu', 'gelu' or a "
                            f"callable, got {type(activation).__name__}")
    return activation


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward network, each in a residual branch with LayerNorm.

    Post-norm (default, the original Transformer): ``x = norm1(x + sa(x))``,
    ``x = norm2(x + ff(x))``. Pre-norm (``norm_first=True``): ``x = x + sa(norm1(x))``,
    ``x = x + ff(norm2(x))``. ``ff(x) = linear2(dropout(activation(linear1(x))))``.

    Parameters
    ----------
    d_model, nhead : int
    dim_feedforward : int
    dropout : float
    activation : 'relu', 'gelu' or callable
    layer_norm_eps : float
    batch_first, norm_first, bias : bool
    generator : chainrule.Generator, optional
        Source of the initial weights and every dropout mask in the layer.

    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``; masks as
    :class:`MultiheadAttention` (True = masked out).

    Examples
    --------
    >>> import chainrule as cr
    >>> layer = cr.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True)
    >>> layer(cr.randn(2, 5, 16)).shape
    (2, 5, 16)
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None, *, generator=None):
        super().__init__()
        kw = dict(dtype=dtype, generator=generator)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout, generator=generator)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout, generator=generator)
        self.dropout2 = Dropout(dropout, generator=generator)
        self.activation = _activation("TransformerEncoderLayer", activation)
        self.d_model = int(d_model)
        self.batch_first = bool(batch_first)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = _layer_check("TransformerEncoderLayer", src, self.d_model, "src")
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


class TransformerDecoderLayer(Module):
    """Masked self-attention, cross-attention over ``memory``, then a feed-forward network,
    each in a residual branch with LayerNorm (post-norm, or pre-norm with ``norm_first``).

    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)``; masks as
    :class:`MultiheadAttention` (True = masked out). Other arguments as
    :class:`TransformerEncoderLayer`.

    Examples
    --------
    >>> import chainrule as cr
    >>> layer = cr.nn.TransformerDecoderLayer(16, 4, dim_feedforward=32, batch_first=True)
    >>> layer(cr.randn(2, 5, 16), cr.randn(2, 7, 16), tgt_is_causal=True).shape
    (2, 5, 16)
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None, *, generator=None):
        super().__init__()
        kw = dict(dtype=dtype, generator=generator)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout, generator=generator)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout, generator=generator)
        self.dropout2 = Dropout(dropout, generator=generator)
        self.dropout3 = Dropout(dropout, generator=generator)
        self.activation = _activation("TransformerDecoderLayer", activation)
        self.d_model = int(d_model)
        self.batch_first = bool(batch_first)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = _layer_check("TransformerDecoderLayer", tgt, self.d_model, "tgt")
        mem = _layer_check("TransformerDecoderLayer", memory, self.d_model, "memory")
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), mem, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, mem, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, need_weights=False,
                                is_causal=is_causal)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)


def _clones(module, n):
    """``n`` deep copies of ``module`` that share its random generators (not copies of them,
    which would give every copy the same dropout masks)."""
    memo = {}
    for m in module.modules():
        g = m.__dict__.get("generator")
        if g is not None:
            memo[id(g)] = g
    return ModuleList([copy.deepcopy(module, dict(memo)) for _ in range(n)])


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer`` (deep copies: independent weights),
    followed by ``norm`` when given.

    ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)``.

    Examples
    --------
    >>> import chainrule as cr
    >>> layer = cr.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32)
    >>> enc = cr.nn.TransformerEncoder(layer, num_layers=2)
    >>> enc(cr.randn(5, 2, 16)).shape
    (5, 2, 16)
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise ArgumentError("TransformerEncoder: argument 'encoder_layer' expected a "
                                f"Module, got {type(encoder_layer).__name__}")
        if not isinstance(num_layers, (int, np.integer)) or num_layers < 1:
            raise ArgumentError(f"TransformerEncoder: argument 'num_layers' expected a positive "
                                f"int, got {num_layers!r}")
        self.layers = _clones(encoder_layer, int(num_layers))
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)


class TransformerDecoder(Module):
    """A stack of ``num_layers`` copies of ``decoder_layer``, followed by ``norm`` when given.

    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False)``.

    Examples
    --------
    >>> import chainrule as cr
    >>> layer = cr.nn.TransformerDecoderLayer(16, 4, dim_feedforward=32)
    >>> dec = cr.nn.TransformerDecoder(layer, num_layers=2)
    >>> dec(cr.randn(5, 2, 16), cr.randn(7, 2, 16)).shape
    (5, 2, 16)
    """

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        if not isinstance(decoder_layer, Module):
            raise ArgumentError("TransformerDecoder: argument 'decoder_layer' expected a "
                                f"Module, got {type(decoder_layer).__name__}")
        if not isinstance(num_layers, (int, np.integer)) or num_layers < 1:
            raise ArgumentError(f"TransformerDecoder: argument 'num_layers' expected a positive "
                                f"int, got {num_layers!r}")
        self.layers = _clones(decoder_layer, int(num_layers))
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)
