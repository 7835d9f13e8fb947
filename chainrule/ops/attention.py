"""Scaled dot-product attention: a fused primitive for the attention probabilities.

``attn_softmax(q, k[, bias], scale, mask)`` computes ``softmax(scale * q @ k^T + bias)`` over the
last dim, with entries where the boolean ``mask`` is False removed (probability 0). It is one
graph node whose reverse rule uses the saved probabilities ``p`` (no recomputation):

    dS = p * (g - sum(g * p, -1))          (the softmax's reverse rule)
    dq = scale * dS @ k,   dk = scale * dS^T @ q,   dbias = dS

The attention output is then an ordinary (batched) ``matmul(p, v)``, so both products are single
batched BLAS calls over every batch element and head at once.

Numerics: the softmax subtracts the row maximum, so large scores never overflow; where the
scores are known to be small enough for that not to matter, the shift is skipped (see
``scores_bounded``). A row whose entries are all masked has no maximum; its probabilities are
defined as 0 (the row's output is then 0), and so are all its gradients: no NaN enters either
pass. This is what PyTorch's ``F.scaled_dot_product_attention`` gives for such rows.
"""

from __future__ import annotations

import math

import numpy as np

from ..core import npns
from ..core.dispatch import apply
from ..core.registry import explicit
from ..errors import ArgumentError, DTypeError, ShapeError
from ..random import _gen
from ..tensor import Tensor
from ._util import as_tensor, op
from .linalg import matmul_nt, max_kept, sum_kept

S = dict


# Softmax is unchanged by shifting a row; the row maximum comes off only so that no exponential
# overflows. By Cauchy-Schwarz every score lies within |scale| max_i |q_i| max_j |k_j|; while
# that bound keeps each exponential a normal number and a row's sum of them finite, the shift
# is skipped, and with it the row maxima and a pass over the scores, for two row-norm passes
# over q and k (half the scores' size each here). The transformer benchmark's attention
# probabilities in its training step: 881 -> 681 us. A NaN or infinity anywhere in q or k
# gives no bound, and the shift is taken as before.
def scores_bounded(q, k, scale, dtype, n_keys):
    """Whether ``softmax(scale * q @ k^T)`` over rows of ``n_keys`` scores of float ``dtype``
    can skip the row-maximum shift."""
    if q.size == 0 or k.size == 0:
        return False
    fi = np.finfo(dtype)
    limit = min(math.log(fi.max) - math.log(n_keys), -math.log(fi.tiny)) - 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        qq, kk = float(np.vecdot(q, q).max()), float(np.vecdot(k, k).max())
    return abs(scale) * math.sqrt(qq) * math.sqrt(kk) <= limit  # False for NaN


def _probs_fwd(q, k, bias=None, scale=1.0, mask=None):
    s = matmul_nt(q, k)
    s *= s.dtype.type(scale)
    if bias is not None:
        if np.broadcast_shapes(s.shape, bias.shape) == s.shape:
            s += bias
        else:
            s = s + bias
    if mask is not None:
        if mask.shape != s.shape:
            s = np.array(np.broadcast_to(s, np.broadcast_shapes(s.shape, mask.shape)))
        np.copyto(s, -np.inf, where=~mask)
    if bias is not None or not scores_bounded(q, k, scale, s.dtype, s.shape[-1]):
        m = max_kept(s, -1)
        if mask is not None or bias is not None:
            # a row with every entry removed has max -inf; shift it by 0 so exp gives exact
            # zeros
            m[~np.isfinite(m)] = 0
        s -= m
    np.exp(s, out=s)
    den = sum_kept(s, (-1,))
    if mask is not None or bias is not None:
        den[den == 0] = 1
    s /= den
    return s


def _probs_vjp(xp, g, out, ins, needs, scale=1.0, mask=None):
    q, k = ins[0], ins[1]
    p = out
    need_b = len(ins) > 2 and needs[2]
    if xp.is_tensor_ns:
        ds = p * (g - xp.sum(g * p, axis=-1, keepdims=True))
    else:  # the same arithmetic in one buffer
        ds = g * p
        np.subtract(g, sum_kept(ds, (-1,)), out=ds)
        ds *= p
    gb = ds if need_b else None
    gq = gk = None
    if needs[0] or needs[1]:
        if xp.is_tensor_ns or need_b:
            dss = ds * scale
        else:  # ds is this rule's own buffer
            dss = ds
            dss *= scale
        if needs[0]:
            gq = xp.matmul(dss, k)
        if needs[1]:
            gk = xp.matmul(xp.swapaxes(dss, -1, -2), q)
    return (gq, gk) if len(ins) == 2 else (gq, gk, gb)


def _probs_jvp(xp, ts, out, ins, scale=1.0, mask=None):
    q, k = ins[0], ins[1]
    tq, tk = ts[0], ts[1]
    tb = ts[2] if len(ts) > 2 else None
    tsc = None
    if tq is not None:
        tsc = xp.matmul(tq, xp.swapaxes(k, -1, -2))
    if tk is not None:
        t = xp.matmul(q, xp.swapaxes(tk, -1, -2))
        tsc = t if tsc is None else tsc + t
    if tsc is not None:
        tsc = tsc * scale
    if tb is not None:
        tsc = tb if tsc is None else tsc + tb
    if tsc is None:
        return None
    p = out
    return p * (tsc - xp.sum(p * tsc, axis=-1, keepdims=True))


_MASK = np.array([[True, True, False, True, False], [False, False, False, False, False],
                  [True, False, True, True, True]])
explicit("attn_softmax", _probs_fwd, _probs_vjp, _probs_jvp,
         samples=[S(args=[(2, 3, 4), (2, 5, 4)], attrs=dict(scale=0.5)),
                  S(args=[(2, 3, 4), (5, 4), (3, 5)], attrs=dict(scale=0.7)),
                  S(args=[(2, 3, 4), (2, 5, 4)], attrs=dict(scale=0.5, mask=_MASK)),
                  S(args=[(2, 1, 3, 4), (2, 2, 5, 4), (2, 1, 1, 5)],
                    attrs=dict(scale=0.5, mask=np.tri(3, 5, dtype=bool)))])


# -- self-attention on a packed in-projection ---------------------------------------------------
# ``attn_qkv(qkv, heads, scale, mask)``: for self-attention the query, key and value projections
# are one product, (N, L, E) @ (E, 3E), whose (N, L, 3E) result holds q, k and v side by side,
# each split into ``heads`` heads of E / heads. This op is softmax(scale q k^T [mask]) v for
# every head, returned with the heads merged back, (N, L, E): the input of the output
# projection. Heads are strided views of ``qkv`` (no copies), the output is written in its
# merged layout directly, and the reverse rule writes dq, dk and dv straight into one packed
# gradient, which the in-projection's rule turns into one input gradient and one weight
# gradient: no fan-out sums, no slices of the weight, no zero-filled scatters.
def _heads(xp, qkv, heads):
    """q, k, v of (N, L, 3E) ``qkv`` as (N, heads, L, E / heads) each."""
    n, L, e3 = qkv.shape
    x = xp.reshape(qkv, (n, L, 3, heads, e3 // (3 * heads)))
    x = xp.transpose(x, (2, 0, 3, 1, 4))
    return x[0], x[1], x[2]


def _merged(xp, o):
    """(N, h, L, d) -> (N, L, h d)."""
    n, h, L, d = o.shape
    return xp.reshape(xp.transpose(o, (0, 2, 1, 3)), (n, L, h * d))


def _qkv_fwd_saving(qkv, heads, scale, mask=None):
    q, k, v = _heads(npns, qkv, heads)
    p = _probs_fwd(q, k, None, scale, mask)
    n, L, e3 = qkv.shape
    out = np.empty((n, L, e3 // 3), qkv.dtype)
    np.matmul(p, v, out=out.reshape(n, L, heads, -1).transpose(0, 2, 1, 3))
    return out, p


def _qkv_fwd(qkv, heads, scale, mask=None):
    return _qkv_fwd_saving(qkv, heads, scale, mask)[0]


def _qkv_vjp(xp, g, out, ins, needs, heads, scale, mask=None, saved=None):
    qkv = ins[0]
    q, k, v = _heads(xp, qkv, heads)
    n, L, e3 = qkv.shape
    gh = xp.transpose(xp.reshape(g, (n, L, heads, e3 // (3 * heads))), (0, 2, 1, 3))
    if xp.is_tensor_ns:  # differentiable: the probabilities again, as an op
        p = xp.apply("attn_softmax", q, k, scale=scale, mask=mask)
        ds = _probs_vjp(xp, xp.matmul(gh, xp.swapaxes(v, -1, -2)), p, (q, k), (True, True),
                        scale=scale, mask=mask)
        dv = xp.matmul(xp.swapaxes(p, -1, -2), gh)
        parts = [xp.expand_dims(t, 0) for t in (ds[0], ds[1], dv)]
        packed = xp.transpose(xp.concatenate(parts, axis=0), (1, 3, 0, 2, 4))
        return (xp.reshape(packed, (n, L, e3)),)
    p = saved if saved is not None else _probs_fwd(q, k, None, scale, mask)
    dqkv = np.empty(qkv.shape, qkv.dtype)
    dq, dk, dv = _heads(npns, dqkv, heads)
    np.matmul(np.swapaxes(p, -1, -2), gh, out=dv)
    ds = matmul_nt(gh, v)  # the softmax's reverse rule on g @ v^T, in its buffer
    t = ds * p
    ds -= sum_kept(t, (-1,))
    ds *= p
    ds *= ds.dtype.type(scale)
    np.matmul(ds, k, out=dq)
    np.matmul(np.swapaxes(ds, -1, -2), q, out=dk)
    return (dqkv,)


def _qkv_jvp(xp, ts, out, ins, heads, scale, mask=None):
    if ts[0] is None:
        return None
    q, k, v = _heads(xp, ins[0], heads)
    tq, tk, tv = _heads(xp, ts[0], heads)
    p = xp.apply("attn_softmax", q, k, scale=scale, mask=mask) if xp.is_tensor_ns else \
        _probs_fwd(q, k, None, scale, mask)
    tp = _probs_jvp(xp, (tq, tk), p, (q, k), scale=scale, mask=mask)
    return _merged(xp, xp.matmul(tp, v) + xp.matmul(p, tv))


_MASK_4 = np.array([[True, True, False, True], [False, False, False, False],
                    [True, False, True, True], [True, True, True, False]])
explicit("attn_qkv", _qkv_fwd, _qkv_vjp, _qkv_jvp, forward_saving=_qkv_fwd_saving,
         samples=[S(args=[(2, 3, 12)], attrs=dict(heads=2, scale=0.5)),
                  S(args=[(2, 4, 6)], attrs=dict(heads=1, scale=0.7, mask=_MASK_4)),
                  S(args=[(1, 3, 12)], attrs=dict(heads=4, scale=0.3,
                                                  mask=np.tri(3, 3, dtype=bool)))])


def self_attention_packed(qkv, heads, scale=None, attn_mask=None, is_causal=False,
                          name="MultiheadAttention"):
    """Self-attention of every head from a packed (N, L, 3E) in-projection ``qkv`` (q, k, v
    side by side), heads merged back: (N, L, E). ``attn_mask`` is a boolean mask (True =
    attend) broadcastable to (N, heads, L, L), or None."""
    x = as_tensor(qkv)
    if x.ndim != 3 or x.shape[-1] % (3 * heads):
        raise ShapeError(f"{name}: packed q, k, v expected shape (N, L, 3E) with E divisible "
                         f"by heads={heads}, got {_shape(x.shape)}")
    L = x.shape[1]
    if scale is None:
        scale = 1.0 / math.sqrt(x.shape[-1] // (3 * heads))
    mask = attn_mask
    if is_causal:
        tri = causal_mask(L, L)
        mask = tri if mask is None else np.logical_and(mask, tri)
    return apply(op("attn_qkv"), x, heads=int(heads), scale=float(scale), mask=mask)


# -- front-end ---------------------------------------------------------------------------------
def _shape(s):
    return "(" + ", ".join(str(d) for d in s) + ")"


def causal_mask(target_len, source_len):
    """Boolean (L, S) mask, True where query i may attend to key j (j <= i: top-left aligned).

    Examples
    --------
    >>> causal_mask(2, 3).astype(int).tolist()
    [[1, 0, 0], [1, 1, 0]]
    """
    return np.tri(target_len, source_len, dtype=bool)


def attention_probs(query, key, attn_mask=None, is_causal=False, scale=None,
                    name="scaled_dot_product_attention"):
    """The attention probabilities ``softmax(q @ k^T * scale + mask)``, shape (..., L, S).

    ``attn_mask``: a boolean mask (True = attend) or a float tensor added to the scores, either
    broadcastable to (..., L, S). ``is_causal`` additionally removes keys after each query
    (top-left aligned when L != S).
    """
    q, k = as_tensor(query), as_tensor(key)
    if q.ndim < 2 or k.ndim < 2:
        raise ShapeError(f"{name}: 'query' and 'key' need at least 2 dims (..., L, E), got "
                         f"shapes {_shape(q.shape)} and {_shape(k.shape)}")
    if q.dtype.kind != "f" or q.dtype != k.dtype:
        raise DTypeError(f"{name}: 'query' and 'key' must be floating tensors of one dtype, got "
                         f"{q.dtype} and {k.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ShapeError(f"{name}: 'key' expected last dim {q.shape[-1]} (the query's "
                         f"embedding size E), got shape {_shape(k.shape)} for query shape "
                         f"{_shape(q.shape)}")
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    except ValueError:
        raise ShapeError(f"{name}: batch dims of 'query' {_shape(q.shape)} and 'key' "
                         f"{_shape(k.shape)} don't broadcast") from None
    L, S_ = q.shape[-2], k.shape[-2]
    scores_shape = batch + (L, S_)
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    mask = None
    bias = None
    if attn_mask is not None:
        m = attn_mask.data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        try:
            np.broadcast_shapes(m.shape, scores_shape)
        except ValueError:
            raise ShapeError(f"{name}: argument 'attn_mask' expected a shape broadcastable to "
                             f"{_shape(scores_shape)} (..., L, S), got {_shape(m.shape)}") \
                from None
        if m.dtype == np.bool_:
            mask = m
        elif m.dtype.kind == "f":
            bias = as_tensor(attn_mask, q.dtype)
        else:
            raise DTypeError(f"{name}: argument 'attn_mask' expected a bool or float tensor, "
                             f"got {m.dtype}")
    if is_causal:
        tri = causal_mask(L, S_)
        mask = tri if mask is None else np.logical_and(mask, tri)
    args = (q, k) if bias is None else (q, k, bias)
    return apply(op("attn_softmax"), *args, scale=float(scale), mask=mask)


def dropout_mask(shape, p, dtype, generator=None):
    """Inverted-dropout multiplier: 0 with probability p, else 1/(1-p), in ``dtype``."""
    dtype = np.dtype(dtype)
    u = _gen(generator).random(shape, dtype=np.float32 if dtype == np.float32 else np.float64)
    mask = (u >= p).astype(dtype)
    mask *= dtype.type(1.0 / (1.0 - p))
    return mask


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, generator=None):
    """Attention ``softmax(Q K^T * scale + mask) V``, as ``torch.nn.functional``'s.

    Parameters
    ----------
    query : Tensor (..., L, E)
    key : Tensor (..., S, E)
    value : Tensor (..., S, Ev)
    attn_mask : Tensor, optional
        Boolean, **True means "attend"** (PyTorch's functional convention), or float, added to
        the scores; broadcastable to (..., L, S).
    dropout_p : float
        Dropout on the attention probabilities (always applied when > 0, as PyTorch's
        functional form; modules pass 0 in eval mode).
    is_causal : bool
        Query i attends to keys j <= i (top-left aligned when L != S); combined with
        ``attn_mask`` when both are given.
    scale : float, optional
        Defaults to 1 / sqrt(E).
    generator : chainrule.Generator, optional
        Source of the dropout mask.

    Returns
    -------
    Tensor (..., L, Ev)

    A query row whose keys are all masked gets zero probabilities: its output and all its
    gradients are 0 (never NaN), as PyTorch's function gives.

    Examples
    --------
    >>> import chainrule as cr
    >>> q = cr.randn(2, 4, 5, 8)
    >>> scaled_dot_product_attention(q, q, q, is_causal=True).shape
    (2, 4, 5, 8)
    """
    out, _ = attention(query, key, value, attn_mask, dropout_p, is_causal, scale, generator)
    return out


def attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
              generator=None, name="scaled_dot_product_attention"):
    """Like :func:`scaled_dot_product_attention`, also returning the probabilities used
    (after dropout), shape (..., L, S)."""
    from .linalg import matmul

    v = as_tensor(value)
    k = as_tensor(key)
    if v.ndim < 2 or k.ndim < 2 or v.shape[-2] != k.shape[-2]:
        s_len = k.shape[-2] if k.ndim >= 2 else "S"
        raise ShapeError(f"{name}: 'value' expected shape (..., {s_len}, Ev) (as many rows as "
                         f"'key' {_shape(k.shape)}), got {_shape(v.shape)}")
    if not 0.0 <= float(dropout_p) < 1.0:
        raise ArgumentError(f"{name}: argument 'dropout_p' expected a probability in [0, 1), "
                            f"got {dropout_p}")
    if v.dtype != k.dtype:
        raise DTypeError(f"{name}: 'value' expected dtype {k.dtype} (the key's), got {v.dtype}")
    p = attention_probs(query, k, attn_mask, is_causal, scale, name)
    if dropout_p > 0.0:
        p = p * Tensor._wrap(dropout_mask(p.shape, dropout_p, p.dtype, generator))
    return matmul(p, v), p
