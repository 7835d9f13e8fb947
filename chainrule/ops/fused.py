"""Speed-critical composites with their own rules: softmax and log-softmax, cross-entropy and
negative log-likelihood, normalisation, dropout, embedding, convolution and pooling.

Each entry is one graph node however many numpy calls its forward takes, so a layer costs one
node instead of a dozen, and its reverse rule is the closed-form one (the softmax Jacobian
product, the layer-norm formula) rather than the chain of its pieces.

Rules are written against ``xp`` like every other op. Where a rule needs a companion op (the
gradient of a convolution is a transposed convolution and a weight correlation), that companion
is registered here too and called through ``xp.apply``: on the fast path this runs the
companion's numpy forward directly, on the tensor path it records a node whose own rules give
the next order. The convolution family closes on three ops, pooling and embedding on two.
"""

from __future__ import annotations

import threading

import numpy as np

from .. import _openblas
from ..core import parallel
from ..core.registry import explicit, linear
from .linalg import _row_index, max_kept, sum_kept, sum_leading

S = dict


def _arr(t):
    """The raw array behind an input (rules see arrays on the fast path, tensors otherwise)."""
    return t if isinstance(t, np.ndarray) else t.data


# -- softmax / log_softmax -----------------------------------------------------------------------
def _softmax_fwd(x, dim=-1):
    e = x - max_kept(x, dim)
    np.exp(e, out=e)
    e /= sum_kept(e, (dim,))
    return e


def _softmax_vjp(xp, g, out, ins, needs, dim=-1):
    if not xp.is_tensor_ns:
        return (out * (g - sum_kept(g * out, (dim,))),)
    return (out * (g - xp.sum(g * out, axis=dim, keepdims=True)),)


def _softmax_jvp(xp, ts, out, ins, dim=-1):
    t = ts[0]
    return out * (t - xp.sum(t * out, axis=dim, keepdims=True))


explicit("softmax", _softmax_fwd, _softmax_vjp, _softmax_jvp,
         samples=[S(args=[(3, 5)], attrs=dict(dim=-1)), S(args=[(2, 3, 4)], attrs=dict(dim=1))])


def _log_softmax_fwd(x, dim=-1):
    s = x - max_kept(x, dim)
    s -= np.log(sum_kept(np.exp(s), (dim,)))
    return s


def _log_softmax_vjp(xp, g, out, ins, needs, dim=-1):
    return (g - xp.exp(out) * xp.sum(g, axis=dim, keepdims=True),)


def _log_softmax_jvp(xp, ts, out, ins, dim=-1):
    t = ts[0]
    return t - xp.sum(xp.exp(out) * t, axis=dim, keepdims=True)


explicit("log_softmax", _log_softmax_fwd, _log_softmax_vjp, _log_softmax_jvp,
         samples=[S(args=[(3, 5)], attrs=dict(dim=-1)), S(args=[(2, 3, 4)], attrs=dict(dim=1))])


# -- cross-entropy with class-index targets ------------------------------------------------------
def _ce_target_dist(logits_shape, dtype, target, weight, ignore_index, label_smoothing):
    """The constant pieces of the loss: per-row target distribution ``q`` and the mean's divisor.

    Row i's loss is ``-sum_c q[i, c] * log_softmax(x)[i, c]`` with
    ``q[i] = (1 - eps) * w[y_i] * onehot(y_i) + eps * w / C`` (``w = 1`` without weights), and
    ignored rows have ``q[i] = 0``. The mean divides by ``sum_i w[y_i]`` over kept rows, as
    PyTorch does. ``q`` is returned as (row scale ``a``, column term ``b``): the one-hot part
    ``a[i]`` at column ``y_i`` plus the dense part ``b`` (None without smoothing), so no dense
    one-hot is ever built. In the common case (no weights, no smoothing, no ignored row) ``a``
    is None, standing for ones: the rules then skip multiplying by it.
    """
    m, c = logits_shape
    if weight is None and not label_smoothing and (
            m == 0 or ignore_index < target.min() or ignore_index > target.max()):
        return target, None, None, float(m)  # the common case, in one or two reductions
    keep = target != ignore_index
    safe = np.where(keep, target, 0)
    wy = np.ones(m, dtype) if weight is None else weight[safe].astype(dtype, copy=False)
    wy = np.where(keep, wy, 0).astype(dtype, copy=False)
    a = (1.0 - label_smoothing) * wy if label_smoothing else wy
    b = None
    if label_smoothing:
        wc = np.ones(c, dtype) if weight is None else weight.astype(dtype, copy=False)
        b = (keep.astype(dtype)[:, None] * (label_smoothing / c)) * wc[None, :]
    denom = float(wy.sum(dtype=np.float64))
    return safe, a.astype(dtype, copy=False), b, denom


def _ce_fwd(x, target, weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
    return _ce_fwd_saving(x, target, weight, ignore_index, label_smoothing, reduction)[0]


# While a graph is recorded the forward keeps its log-softmax and target pieces for the reverse
# rule, which then takes the softmax as exp(log-softmax) (as PyTorch's rule does) instead of
# computing both again from the logits: 11 -> 4 NumPy calls in the common case's reverse rule.
def _ce_fwd_saving(x, target, weight=None, ignore_index=-100, label_smoothing=0.0,
                   reduction="mean"):
    lsm = _log_softmax_fwd(x, -1)
    dist = _ce_target_dist(x.shape, x.dtype, target, weight, ignore_index, label_smoothing)
    safe, a, b, denom = dist
    rows = lsm[_row_index(lsm.shape[0]), safe]  # each row's loss, negated (a copy)
    if a is not None:
        rows *= a
    if b is not None:
        rows += np.sum(b * lsm, axis=1)
    return _neg_reduce(rows, reduction, denom, x.dtype), (lsm, dist)


def _neg_reduce(rows, reduction, denom, dtype):
    """The loss from its rows negated: minus the rows, their sum or their mean over ``denom``
    (negating after the sum gives the same bits as summing negated rows; an empty sum is
    +0.0, not negated)."""
    if reduction == "none":
        return np.negative(rows, out=rows)
    total = -rows.sum() if rows.size else rows.sum()
    if reduction == "sum":
        return total
    return (total / denom).astype(dtype) if denom else np.array(np.nan, dtype)


def _ce_grad_rows(xp, x, target, weight, ignore_index, label_smoothing, saved=None):
    """d loss_i / d x_i = (sum_c q_ic) softmax(x_i) - q_i, built without a dense one-hot on the
    fast path; ``saved``: the forward's log-softmax and target pieces."""
    xa = _arr(x)
    lsm, dist = saved if saved is not None else (None, None)
    safe, a, b, denom = dist if dist is not None else _ce_target_dist(
        xa.shape, xa.dtype, _arr(target), weight, ignore_index, label_smoothing)
    if not xp.is_tensor_ns:
        # the softmax as exp(log-softmax), the same numbers with or without the saved value
        d = np.exp(lsm if lsm is not None else _log_softmax_fwd(xa, -1))
        if a is None:  # one-hot targets of weight one: softmax minus the one-hot
            d[_row_index(d.shape[0]), safe] -= 1
            return d, denom
        d *= (a if b is None else a + b.sum(axis=1))[:, None]
        d[_row_index(d.shape[0]), safe] -= a
        if b is not None:
            d -= b
        return d, denom
    if a is None:
        a = np.ones(xa.shape[0], xa.dtype)
    qsum = a if b is None else a + b.sum(axis=1)
    q = np.zeros(xa.shape, xa.dtype)
    q[np.arange(xa.shape[0]), safe] = a
    if b is not None:
        q += b
    p = xp.apply("softmax", x, dim=-1)
    return p * qsum[:, None] - q, denom


def _ce_vjp(xp, g, out, ins, needs, weight=None, ignore_index=-100, label_smoothing=0.0,
            reduction="mean", saved=None):
    x, target = ins
    if not needs[0]:
        return None, None
    d, denom = _ce_grad_rows(xp, x, target, weight, ignore_index, label_smoothing, saved)
    if reduction == "none":
        scale = xp.expand_dims(g, 1)
    else:
        # (every row ignored: the mean is 0/0, NaN, and its gradient zero, as PyTorch gives;
        # the rows of d are zero then)
        scale = g * (1.0 / denom) if reduction == "mean" and denom else g
    if xp.is_tensor_ns:
        return d * scale, None
    d *= scale  # a new array of the rule's own
    return d, None


def _ce_jvp(xp, ts, out, ins, weight=None, ignore_index=-100, label_smoothing=0.0,
            reduction="mean"):
    x, target = ins
    t = ts[0]
    if t is None:
        return None
    d, denom = _ce_grad_rows(xp, x, target, weight, ignore_index, label_smoothing)
    rows = xp.sum(d * t, axis=1)
    if reduction == "none":
        return rows
    total = xp.sum(rows)
    if reduction == "sum":
        return total
    return total * (1.0 / denom) if denom else total  # (zero when every row is ignored)


_T5 = np.array([0, 2, 1, 4, 2])
explicit("cross_entropy", _ce_fwd, _ce_vjp, _ce_jvp, forward_saving=_ce_fwd_saving,
         samples=[S(args=[(5, 4), _T5 % 4]),
                  S(args=[(5, 4), _T5 % 4], attrs=dict(reduction="sum", label_smoothing=0.2)),
                  S(args=[(5, 4), _T5 % 4],
                    attrs=dict(reduction="none", weight=np.array([1.0, 2.0, 0.5, 1.5]),
                               ignore_index=2)),
                  S(args=[(5, 4), _T5 % 4],
                    attrs=dict(weight=np.array([1.0, 2.0, 0.5, 1.5]), ignore_index=1,
                               label_smoothing=0.1))])


# -- negative log-likelihood on log-probabilities (linear in the input) -----------------------
def _nll_fwd(x, target, weight=None, ignore_index=-100, reduction="mean"):
    safe, a, _, denom = _ce_target_dist(x.shape, x.dtype, target, weight, ignore_index, 0.0)
    rows = x[_row_index(x.shape[0]), safe]
    if a is not None:
        rows *= a
    return _neg_reduce(rows, reduction, denom, x.dtype)


def _nll_dense(x, target, weight, ignore_index, reduction):
    """The constant matrix M with nll(x) = reduce(sum_c M * x): -a at each row's target."""
    xa = _arr(x)
    safe, a, _, denom = _ce_target_dist(xa.shape, xa.dtype, _arr(target), weight, ignore_index,
                                        0.0)
    m = np.zeros(xa.shape, xa.dtype)
    m[np.arange(xa.shape[0]), safe] = -1 if a is None else -a
    if reduction == "mean" and denom:  # (every row ignored: m is zero, as PyTorch's gradient)
        m *= 1.0 / denom
    return m


def _nll_vjp(xp, g, out, ins, needs, weight=None, ignore_index=-100, reduction="mean"):
    if not needs[0]:
        return None, None
    m = _nll_dense(ins[0], ins[1], weight, ignore_index, reduction)
    return (m * xp.expand_dims(g, 1) if reduction == "none" else m * g), None


def _nll_jvp(xp, ts, out, ins, weight=None, ignore_index=-100, reduction="mean"):
    if ts[0] is None:
        return None
    m = _nll_dense(ins[0], ins[1], weight, ignore_index, reduction)
    rows = xp.sum(ts[0] * m, axis=1)
    return rows if reduction == "none" else xp.sum(rows)


explicit("nll_loss", _nll_fwd, _nll_vjp, _nll_jvp,
         samples=[S(args=[(5, 4), _T5 % 4]),
                  S(args=[(5, 4), _T5 % 4],
                    attrs=dict(reduction="none", weight=np.array([1.0, 2.0, 0.5, 1.5]),
                               ignore_index=2)),
                  S(args=[(5, 4), _T5 % 4], attrs=dict(reduction="sum"))])


# -- normalisation: (x - mean) / sqrt(var + eps) over `axes`, then * w + b --------------------
def _norm_stats(x, axes, eps, moments=False):
    """x - mean and 1/std over ``axes`` (kept dims); with ``moments``, also the mean and the
    (biased) variance."""
    if x.dtype not in (np.float32, np.float64):  # NumPy's mean accumulates these wider
        mu = np.mean(x, axis=axes, keepdims=True)
        xc = x - mu
        var = np.mean(np.square(xc), axis=axes, keepdims=True)
    else:
        n = _count(x.shape, axes)
        mu = sum_kept(x, axes)
        mu /= n
        xc = x - mu
        var = sum_kept(np.square(xc), axes)
        var /= n
    rstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
    return (xc, rstd, mu, var) if moments else (xc, rstd)


def _norm_fwd(x, w=None, b=None, axes=(-1,), eps=1e-5, keep=False):
    if axes == (-1,) and _rows_fwd_ok(x, w, b):
        return _norm_rows_fwd(x, w, b, eps, keep)
    out, rstd, mu, var = _norm_stats(x, axes, eps, moments=True)
    out *= rstd
    kept = None
    if keep:  # xhat and 1/std for the reverse rule, and the batch's mean and variance
        kept = (out.copy() if w is not None or b is not None else out, rstd, mu, var)
    if w is not None:
        out *= w
    if b is not None:
        out += b
    return (out, kept) if keep else out


# Layer norm over the last axis of float rows: the variance as a row-wise dot product (no
# squared copy), and the normalised input the reverse rule keeps is the affine map's operand
# rather than a copy of it: two passes over the activations fewer. A (16, 64, 128) float32
# layer norm with weight and bias in the transformer benchmark's step: 370 -> 321 us.
def _rows_fwd_ok(x, w, b):
    if x.ndim == 0 or x.size == 0 or x.dtype not in (np.float32, np.float64):
        return False
    return all(v is None or (v.dtype == x.dtype and v.shape == x.shape[-1:]) for v in (w, b))


def _row_moments(x2, eps):
    """For rows ``x2`` (R, d): the normalised rows (a new array), and 1/std, the mean and the
    (biased) variance, each (R, 1). The reverse rule recomputes them with this same arithmetic
    when the forward kept none."""
    d = x2.shape[-1]
    mu = sum_kept(x2, (-1,))
    mu *= 1.0 / d
    xhat = x2 - mu
    var = np.vecdot(xhat, xhat).reshape(-1, 1)
    var *= 1.0 / d
    rstd = (1.0 / np.sqrt(var + eps)).astype(x2.dtype, copy=False)
    xhat *= rstd
    return xhat, rstd, mu, var


def _norm_rows_fwd(x, w, b, eps, keep):
    xhat, rstd, mu, var = _row_moments(x.reshape(-1, x.shape[-1]), eps)
    if w is not None:  # into a new array only when xhat is kept for the reverse rule
        out = np.multiply(xhat, w, out=None if keep else xhat)
    else:
        out = xhat.copy() if keep and b is not None else xhat
    if b is not None:
        out += b
    out = out.reshape(x.shape)
    if not keep:
        return out
    kept = x.shape[:-1] + (1,)
    return out, (xhat.reshape(x.shape), rstd.reshape(kept), mu.reshape(kept), var.reshape(kept))


def _layer_norm_saving(x, w=None, b=None, axes=(-1,), eps=1e-5):
    """The forward and, over the last axis of float32/float64 rows, the normalised input and
    1/std, which the reverse rule otherwise recomputes (a (16, 64, 128) layer norm's reverse
    rule: 0.44 -> 0.32 ms; with a weight, the normalised input kept is the array the affine
    map reads, so keeping it costs no pass)."""
    if axes != (-1,) or x.dtype not in (np.float32, np.float64) or x.size == 0:
        return _norm_fwd(x, w, b, axes, eps), None
    return _norm_fwd(x, w, b, axes, eps, keep=True)


def _norm_parts(xp, x, axes, eps):
    """xhat and 1/std, recomputed from the input (one pass; cheaper than saving them)."""
    if not xp.is_tensor_ns:
        xc, rstd = _norm_stats(x, axes, eps)
        xc *= rstd
        return xc, rstd
    xc = x - _mean(xp, x, axes)
    var = _mean(xp, xc * xc, axes)
    rstd = xp.rsqrt(var + eps)
    return xc * rstd, rstd


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def _mean(xp, v, axes):
    n = _count(v.shape, axes)
    if not xp.is_tensor_ns:
        return sum_kept(v, axes) * (1.0 / n)
    return xp.sum(v, axis=axes, keepdims=True) * (1.0 / n)


# Layer norm over the last axis, NumPy path: the weight and bias gradients are summed inside
# the rule (BLAS ones-vector products) instead of coming back full size for the engine to
# reduce, and the input gradient reuses its buffers (the reverse rule of a (16, 64, 128)
# float32 layer norm with weight and bias: 0.48 -> 0.40 ms, before the engine's reductions).
def _rows_ok(x, g, w):
    return (x.dtype in (np.float32, np.float64) and g.dtype == x.dtype and g.shape == x.shape
            and x.size > 0 and (w is None or w.shape == x.shape[-1:]))


def _norm_rows_vjp(g, x, w, eps, needs, nin, saved=None):
    d = x.shape[-1]
    x2, g2 = x.reshape(-1, d), g.reshape(-1, d)
    if saved is None:
        xhat, rstd = _row_moments(x2, eps)[:2]
    else:  # the forward's (left as they are: a retained graph reads them again)
        xhat, rstd = saved[0].reshape(-1, d), saved[1].reshape(-1, 1)  # (+ its moments)
    gx = gw = gb = None
    if needs[0]:
        gh = g2 * w if w is not None else g2
        m1 = sum_kept(gh, (-1,))
        m1 *= 1.0 / d
        m2 = np.vecdot(gh, xhat).reshape(-1, 1)  # a row-wise dot: no product array
        m2 *= 1.0 / d
        gx = gh - m1  # rstd (gh - mean(gh) - xhat mean(gh xhat))
        m2 = xhat * m2
        gx -= m2
        gx *= rstd
        gx = gx.reshape(x.shape)
    if nin > 2 and needs[2]:
        gb = sum_leading(g2)
    if nin > 1 and needs[1]:
        if saved is None:
            xhat *= g2
        else:
            xhat = xhat * g2
        gw = sum_leading(xhat)
    return (gx, gw, gb)[:nin]


# Batch norm over every axis but the channels (axis 1), NumPy path: the same in-rule sums as
# the layer norm's, with the per-channel factors folded together, so the input gradient is
# five passes over the batch (a (64, 16, 28, 28) float32 batch with weight and bias: 4.4 ->
# 1.6 ms with the forward's normalised input kept, 2.4 ms without).
def _channels_ok(x, g, w, axes):
    nd = x.ndim
    if not (x.dtype in (np.float32, np.float64) and g.dtype == x.dtype and g.shape == x.shape
            and nd >= 2 and x.size > 0 and axes == (0,) + tuple(range(2, nd))):
        return False
    c = x.shape[1]
    return w is None or w.shape == (1, c) + (1,) * (nd - 2) or (nd == 2 and w.shape == (c,))


def _norm_channels_vjp(g, x, w, eps, needs, nin, axes, saved=None):
    c = x.shape[1]
    n = x.size // c
    bshape = (1, c) + (1,) * (x.ndim - 2)
    if saved is None:
        xhat, rstd = _norm_stats(x, axes, eps)
        xhat *= rstd
    else:  # the forward's (not written to: a retained graph reads them again)
        xhat, rstd = saved[0], saved[1]
    gb = sum_leading(g)  # (c,): the bias gradient, and n times the mean of g
    gxh = g * xhat
    gw = sum_leading(gxh)  # the weight gradient, and n times the mean of g * xhat
    gx = None
    if needs[0]:
        # gx = rstd w (g - mean(g) - xhat mean(g xhat)), with the means per channel
        k = rstd.reshape(bshape) if w is None else rstd.reshape(bshape) * w.reshape(bshape)
        gx = np.multiply(xhat, (gw / n).astype(x.dtype, copy=False).reshape(bshape), out=gxh)
        np.subtract(g, gx, out=gx)
        gx -= (gb / n).astype(x.dtype, copy=False).reshape(bshape)
        gx *= k
    out = [gx]
    if nin > 1:
        out.append(gw.reshape(w.shape) if needs[1] else None)
    if nin > 2:  # a bias comes with a weight, of its shape (checked by the caller)
        out.append(gb.reshape(w.shape) if needs[2] else None)
    return tuple(out)


def _batch_norm_saving(x, w=None, b=None, axes=(0,), eps=1e-5):
    """The forward and its normalised input and 1/std, for the reverse rule."""
    if x.dtype not in (np.float32, np.float64) or x.size == 0:
        return _norm_fwd(x, w, b, axes, eps), None
    return _norm_fwd(x, w, b, axes, eps, keep=True)


def _norm_vjp(xp, g, out, ins, needs, axes=(-1,), eps=1e-5, saved=None):
    x = ins[0]
    w = ins[1] if len(ins) > 1 else None
    if not xp.is_tensor_ns and axes == (-1,) and _rows_ok(x, g, w):
        return _norm_rows_vjp(g, x, w, eps, needs, len(ins), saved)
    if not xp.is_tensor_ns and axes != (-1,) and _channels_ok(x, g, w, axes) and (
            len(ins) < 3 or ins[2].shape == w.shape):
        return _norm_channels_vjp(g, x, w, eps, needs, len(ins), axes, saved)
    xhat, rstd = _norm_parts(xp, x, axes, eps)
    gx = gw = gb = None
    if needs[0]:
        gh = g * w if w is not None else g
        gx = rstd * (gh - _mean(xp, gh, axes) - xhat * _mean(xp, gh * xhat, axes))
    if len(ins) > 1 and needs[1]:
        gw = g * xhat
    if len(ins) > 2 and needs[2]:
        gb = g
    return (gx, gw, gb)[:len(ins)]


def _norm_jvp(xp, ts, out, ins, axes=(-1,), eps=1e-5):
    x = ins[0]
    w = ins[1] if len(ins) > 1 else None
    xhat, rstd = _norm_parts(xp, x, axes, eps)
    acc = None
    if ts[0] is not None:
        t = ts[0]
        acc = rstd * (t - _mean(xp, t, axes) - xhat * _mean(xp, t * xhat, axes))
        if w is not None:
            acc = acc * w
    if len(ts) > 1 and ts[1] is not None:
        acc = xhat * ts[1] if acc is None else acc + xhat * ts[1]
    if len(ts) > 2 and ts[2] is not None:
        acc = ts[2] if acc is None else acc + ts[2]
    return acc


explicit("layer_norm", _norm_fwd, _norm_vjp, _norm_jvp, forward_saving=_layer_norm_saving,
         samples=[S(args=[(4, 5), (5,), (5,)], attrs=dict(axes=(-1,), eps=1e-5)),
                  S(args=[(2, 3, 4), (3, 4), (3, 4)], attrs=dict(axes=(-2, -1), eps=1e-5)),
                  S(args=[(3, 6)], attrs=dict(axes=(-1,), eps=1e-5))],
         doc="Normalise over the trailing `axes` and apply an elementwise affine map.")
explicit("batch_norm", _norm_fwd, _norm_vjp, _norm_jvp, forward_saving=_batch_norm_saving,
         samples=[S(args=[(4, 3), (3,), (3,)], attrs=dict(axes=(0,), eps=1e-5)),
                  S(args=[(4, 3, 2, 2), (1, 3, 1, 1), (1, 3, 1, 1)],
                    attrs=dict(axes=(0, 2, 3), eps=1e-5))],
         doc="Normalise with batch statistics over `axes` (all but the channel dim).")


# -- dropout: multiply by a fixed, pre-scaled mask ------------------------------------------------
def _dropout_fwd(x, mask):
    return x * mask.astype(x.dtype, copy=False)


linear("dropout", _dropout_fwd,
       lambda xp, g, out, ins, needs, mask: (g * mask.astype(g.dtype, copy=False),),
       samples=[S(args=[(3, 4)],
                  attrs=dict(mask=np.array([[2.0, 0, 2, 0], [0, 2, 2, 2], [2, 2, 0, 0]])))],
       doc="x * mask, with the mask (zeros and 1/(1-p)) drawn by the caller.")


# -- embedding: a row gather, and its transpose, a row scatter-add --------------------------------
def _emb_fwd(w, indices, padding_idx=None):
    return w[indices]


def _emb_vjp(xp, g, out, ins, needs, indices, padding_idx=None):
    w = ins[0]
    gw = xp.apply("embedding_backward", g, indices=indices, num=w.shape[0])
    if padding_idx is not None:
        # PyTorch's convention: the padding row is used in the forward but never trained.
        if xp.is_tensor_ns:
            keep = np.ones((w.shape[0], 1), dtype=_arr(w).dtype)
            keep[padding_idx] = 0
            gw = gw * keep
        else:
            gw[padding_idx] = 0
    return (gw,)


def _emb_bwd_fwd(g, indices, num):
    d = g.shape[-1]
    out = np.zeros((num, d), dtype=g.dtype)
    np.add.at(out, indices.reshape(-1), g.reshape(-1, d))
    return out


linear("embedding", _emb_fwd, _emb_vjp,
       samples=[S(args=[(5, 3)], attrs=dict(indices=np.array([[0, 2, 4], [2, 2, 1]]))),
                S(args=[(4, 2)], attrs=dict(indices=np.array([3, 0, 3])))],
       doc="Rows of the weight picked by integer `indices` (with PyTorch's padding_idx rule).")
linear("embedding_backward", _emb_bwd_fwd,
       lambda xp, g, out, ins, needs, indices, num: (xp.apply("embedding", g, indices=indices),),
       samples=[S(args=[(2, 3, 4)], attrs=dict(indices=np.array([[0, 2, 4], [2, 2, 1]]), num=5))],
       doc="Scatter-add of rows into a (num, d) zero matrix: the transpose of `embedding`.")


# -- convolution (2-D; 1-D runs as 2-D with height 1) ------------------------------------------
# Three ops close the family under differentiation:
#   conv2d(x, w)               y = x (*) w            (the layer's forward)
#   conv2d_input_grad(g, w)    the transpose in x     (also the transposed convolution)
#   conv2d_weight_grad(x, g)   the transpose in w
# Each is bilinear, and each one's reverse rule is made of the other two.
# Shared attributes: stride (sh, sw), padding (top, bottom, left, right), dilation (dh, dw),
# groups; conv2d_input_grad also takes the input's spatial size `in_hw`, conv2d_weight_grad
# the kernel size `ksize`.
_as_strided = np.lib.stride_tricks.as_strided


def _pad_hw(x, padding):
    pt, pb, pl, pr = padding
    if not (pt or pb or pl or pr):
        return x
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + pt + pb, w + pl + pr), dtype=x.dtype)
    out[:, :, pt:pt + h, pl:pl + w] = x
    return out


def _out_hw(hp, wp, ksize, stride, dilation):
    (kh, kw), (sh, sw), (dh, dw) = ksize, stride, dilation
    return (hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1


def _windows(xp_, ksize, stride, dilation, ho, wo):
    """A strided view (N, C, kh, kw, Ho, Wo) of the padded input: every kernel tap's plane."""
    n, c = xp_.shape[:2]
    s_n, s_c, s_h, s_w = xp_.strides
    (kh, kw), (sh, sw), (dh, dw) = ksize, stride, dilation
    return _as_strided(xp_, (n, c, kh, kw, ho, wo),
                       (s_n, s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw), writeable=False)


# 1-D convolutions use the same ops on (N, C, L) arrays: a height-1 image with the height
# attributes set to stride 1, padding 0, dilation 1 (one graph node, no reshapes around it).
# From this many rows of columns (input channels x kernel taps) the forward and the weight
# gradient lay every sample's columns side by side for one large product.
_CM_ROWS = 64
# From this many pixels (samples x output pixels) in all, the weight gradient's product is run
# transposed.
_SWAP_MIN_PIXELS = 1024


# The forward's im2col columns are kept for the weight gradient (the conv2d node's saved value)
# when they are laid out as that gradient's product wants them and take at most this many bytes:
# cnn2d's second conv's weight gradient 2.05 -> 0.94 ms for 7 MB kept until the backward pass.
_SAVE_MAX_BYTES = 32 << 20


def _wgrad_per_sample(groups, rows, pixels):
    """Whether the weight gradient multiplies per-sample columns (else every sample's columns
    side by side): large planes with few rows (channels x kernel taps), or very large planes."""
    return groups == 1 and pixels >= 100 and (rows < _CM_ROWS or pixels >= 1024)


# A bias rides in the forward's product as one more column of the weight matrix against a row
# of ones under the columns: no separate pass adding it to the output (cnn2d's first conv:
# 0.56 -> 0.37 ms), the same numbers (the product adds it last, as the separate add did), and
# kept columns then give the bias gradient as one more row of the weight gradient's product
# (that conv's two gradients: 0.36 -> 0.26 ms).
def _im2col(x, ksize, stride, padding, dilation, out_hw, b=None, channel_major=False):
    """The im2col columns of ``x`` (N, C, H, W): (N, C kh kw [+ 1], Ho Wo), or with
    ``channel_major`` every sample's side by side, (C kh kw [+ 1], N Ho Wo); rows run over
    channels, then kernel taps. With a bias ``b`` the last row is all ones."""
    n, c, h, w = x.shape
    (kh, kw), (ho, wo) = ksize, out_hw
    rows, pixels, extra = c * kh * kw, ho * wo, b is not None
    # the columns as (N, C, taps, Ho Wo): only splits and swaps of the array's axes, a view
    if channel_major:
        cols = np.empty((rows + extra, n * pixels), dtype=x.dtype)
        dst = cols[:rows].reshape(c, kh * kw, n, pixels).transpose(2, 0, 1, 3)
    else:
        cols = np.empty((n, rows + extra, pixels), dtype=x.dtype)
        dst = cols[:, :rows].reshape(n, c, kh * kw, pixels)
    if tuple(stride) == (1, 1) and wo == w:
        _shifted_cols(dst, x, ksize, padding, dilation, ho)
    else:
        win = _windows(_pad_hw(x, padding), ksize, stride, dilation, ho, wo)
        np.copyto(dst.reshape(win.shape), win)
    if extra:
        cols[..., rows, :] = 1
    return cols


# A stride-1 convolution that keeps the input's width (a "same" padding across) reads, at
# kernel tap (i, j), the input pixel at a fixed offset (dy, dx) from the output pixel, and both
# planes have rows of the same width W: in row-major order that is one fixed shift
# s = dy W + dx of the whole flattened plane. The tap's columns are then one contiguous copy
# per plane, where the strided windows copy one output row at a time (cnn2d's second conv,
# rows of 14: 0.86-1.05 -> 0.42-0.65 ms for its columns), and no padded copy of the input is
# made. The shifted copy also carries pixels across the plane's left and right borders
# (x + dx outside the row) and its top and bottom (whole rows): those are set to the padding's
# zeros afterwards.
def _shifted_cols(dst, x, ksize, padding, dilation, ho):
    """Fill ``dst`` (N, C, kh kw, Ho W) with the im2col columns of ``x`` (N, C, H, W) for a
    stride-1 convolution whose output is as wide as its input."""
    n, c, h, w = x.shape
    (kh, kw), (dh, dw) = ksize, dilation
    pt, pl = padding[0], padding[2]
    src = x.reshape(n, c, h * w)
    for i in range(kh):
        dy = i * dh - pt
        y0, y1 = max(0, -dy), min(ho, h - dy)  # output rows whose input row is inside
        for j in range(kw):
            dx = j * dw - pl
            d = dst[:, :, i * kw + j]
            s = dy * w + dx
            lo, hi = max(y0 * w, -s), min(y1 * w, h * w - s)
            if lo >= hi or abs(dx) >= w:
                d[...] = 0
                continue
            d[..., lo:hi] = src[..., lo + s:hi + s]
            d[..., :lo] = 0
            d[..., hi:] = 0
            if dx:  # the columns the shift carried across a left or right border
                planes = d.reshape(n, c, ho, w)
                planes[..., slice(0, -dx) if dx < 0 else slice(w - dx, w)] = 0


def _with_bias_column(w, o, rows, b):
    w2 = w.reshape(o, rows)
    return w2 if b is None else np.concatenate([w2, b.reshape(o, 1).astype(w2.dtype)], axis=1)


def _has_bias_row(cols, w):
    """Whether kept columns carry the forward's row of ones (see ``_im2col``)."""
    return cols.shape[-2] == w.size // w.shape[0] + 1


def _conv_fwd_whole(x, w, b=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1),
                    groups=1):
    return _conv_fwd_cols(x, w, b, stride, padding, dilation, groups)[0]


def _conv_fwd_cols(x, w, b=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1),
                   groups=1):
    """The convolution, and its im2col columns where the weight gradient can use them as they
    are (else None)."""
    if x.ndim == 3:
        out, cols = _conv_fwd_cols(x[:, :, None], w[:, :, None], b, stride, padding, dilation,
                                   groups)
        return out[:, :, 0], cols
    n, _, h, wd = x.shape
    o, cg, kh, kw = w.shape
    pt, pb, pl, pr = padding
    ho, wo = _out_hw(h + pt + pb, wd + pl + pr, (kh, kw), stride, dilation)
    rows, pixels = cg * kh * kw, ho * wo
    if kh == kw == 1 and stride == (1, 1):
        # a 1x1 convolution needs no im2col
        cols = _pad_hw(x, padding).reshape(n, groups, cg, pixels)
        keep = None  # a view of the input: nothing to save
    elif groups == 1 and rows >= _CM_ROWS and n > 1 and (pixels >= 100 or n * pixels >= 1024):
        # Many rows (16 channels x 3x3 taps and up) on planes of 100 pixels and more, or on
        # smaller planes of many samples: columns of every sample side by side and one large
        # product, transposed back to (N, O, H, W) once; faster than one product per sample
        # there (cnn2d's second conv: 1.97 -> 1.67 ms; 64 channels of 19 points to 10 with
        # stride 2, batch 128: 0.75 -> 0.47 ms; cnn1d's 32 channels of 40 points, batch 32,
        # on a 2-core Zen 5: the benchmark step 0.94 -> 0.78 ms, its forward, input gradient
        # (the same path) and weight gradient (the kept columns, one product) each faster by
        # a third, as OpenBLAS runs the one product on both cores).
        cols = _im2col(x, (kh, kw), stride, padding, dilation, (ho, wo), b, channel_major=True)
        out = np.matmul(_with_bias_column(w, o, rows, b), cols)
        out = np.ascontiguousarray(out.reshape(o, n, ho, wo).transpose(1, 0, 2, 3))
        keep = None if _wgrad_per_sample(groups, rows, pixels) else cols[None]
        return out, keep if cols.nbytes <= _SAVE_MAX_BYTES else None
    else:
        # One contiguous im2col copy, then one (batched) matrix product.
        # The per-sample columns are kept for the weight gradient, which then multiplies them
        # per sample too (32 channels of 40 points, batch 32, on a 2-core Zen 4: 198 -> 127
        # us, the bias gradient included, against gathering its columns again for one
        # product).
        if groups == 1 and b is not None:  # the bias rides in the product (see below)
            cols = _im2col(x, (kh, kw), stride, padding, dilation, (ho, wo), b)
            out = np.matmul(_with_bias_column(w, o, rows, b), cols).reshape(n, o, ho, wo)
            return out, cols if cols.nbytes <= _SAVE_MAX_BYTES else None
        cols = _im2col(x, (kh, kw), stride, padding, dilation, (ho, wo)).reshape(
            n, groups, rows, pixels)
        keep = cols.reshape(n, rows, pixels) if groups == 1 else None
    out = np.matmul(w.reshape(groups, o // groups, rows), cols)
    out = out.reshape(n, o, ho, wo)
    if b is not None:
        out += b.reshape(1, o, 1, 1)
    return out, keep if keep is None or keep.nbytes <= _SAVE_MAX_BYTES else None


def _conv_in_fwd_whole(g, w, in_hw, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1),
                       groups=1):
    if g.ndim == 3:
        return _conv_in_fwd_whole(g[:, :, None], w[:, :, None], (1,) + tuple(in_hw), stride,
                                  padding, dilation, groups)[:, :, 0]
    n, o, ho, wo = g.shape
    _, cg, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    pt, pb, pl, pr = padding
    h, wd = in_hw
    c = cg * groups
    full = (dh * (kh - 1) - pt, dh * (kh - 1) - pb, dw * (kw - 1) - pl, dw * (kw - 1) - pr)
    if stride == (1, 1) and groups == 1 and min(full) >= 0 and o <= c:
        # With stride 1 the input gradient is the full correlation of g with the flipped,
        # transposed kernel: one im2col of g and one product, cheaper than scattering C*kh*kw
        # columns back (col2im) when g has no more channels than x.
        wf = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        return _conv_fwd_whole(g, wf, None, (1, 1), full, dilation, 1)
    hp, wp = h + pt + pb, wd + pl + pr
    if groups == 1 and stride == (1, 1) and n * ho * wo >= 4096:
        # Channel-major: one large product over every sample's pixels at once (instead of
        # one small product per sample); the result is transposed back to (N, C, H, W) once
        # at the end. The cotangent is first laid out on the padded input's grid (each
        # output row padded to the padded width, each plane to the padded plane's size, with
        # zeros), so that a kernel tap is a fixed shift of the flattened planes: col2im is
        # then one long contiguous add per tap instead of a strided add over short rows
        # (cnn2d's second conv: 2.53 -> 1.72 ms, the product 30% larger). The zeros'
        # columns are zero and add nothing wherever they land.
        size = hp * wp
        reach = (kh - 1) * dh * wp + (kw - 1) * dw  # the largest shift
        dx = _conv_in_taps(g, w, hp, wp, dilation)
        if dx is not None:
            dx = dx.reshape(c, n, hp, wp)[:, :, pt:pt + h, pl:pl + wd]
            return np.ascontiguousarray(dx.transpose(1, 0, 2, 3))
        gp = np.zeros((o, n, size), dtype=g.dtype)
        gp[:, :, :ho * wp].reshape(o, n, ho, wp)[..., :wo] = g.transpose(1, 0, 2, 3)
        dcols = np.matmul(w.reshape(o, c * kh * kw).T, gp.reshape(o, n * size))
        dcols = dcols.reshape(c, kh, kw, n * size)
        dx = np.zeros((c, n * size + reach), dtype=dcols.dtype)
        for i in range(kh):
            for j in range(kw):
                shift = i * dh * wp + j * dw
                dx[:, shift:shift + n * size] += dcols[:, i, j]
        dx = dx[:, :n * size].reshape(c, n, hp, wp)[:, :, pt:pt + h, pl:pl + wd]
        return np.ascontiguousarray(dx.transpose(1, 0, 2, 3))
    if groups == 1 and n * ho * wo >= 4096 and ho * wo >= 64:
        # Strided, with many pixels in all and planes of 8x8 and up: the same one product,
        # and col2im as one strided add per tap over every sample at once (a (128, 64, 10, 10)
        # cotangent of a stride-2 3x3 conv: 22.7 -> 16.3 ms; smaller planes gain nothing)
        g2 = g.transpose(1, 0, 2, 3).reshape(o, n * ho * wo)
        dcols = np.matmul(w.reshape(o, c * kh * kw).T, g2).reshape(c, kh, kw, n, ho, wo)
        dx = np.zeros((c, n, hp, wp), dtype=dcols.dtype)
        for i in range(kh):
            for j in range(kw):
                dx[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                   j * dw:j * dw + sw * (wo - 1) + 1:sw] += dcols[:, i, j]
        return np.ascontiguousarray(dx[:, :, pt:pt + h, pl:pl + wd].transpose(1, 0, 2, 3))
    wg = w.reshape(groups, o // groups, cg * kh * kw)
    dcols = np.matmul(np.swapaxes(wg, 1, 2), g.reshape(n, groups, o // groups, ho * wo))
    dcols = dcols.reshape(n, c, kh, kw, ho, wo)
    dx = np.zeros((n, c, hp, wp), dtype=dcols.dtype)
    # col2im: one strided add per kernel tap (never a loop over pixels or samples).
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh,
               j * dw:j * dw + sw * (wo - 1) + 1:sw] += dcols[:, :, i, j]
    if pt or pb or pl or pr:
        dx = dx[:, :, pt:pt + h, pl:pl + wd]
    return dx


# Where NumPy's OpenBLAS is reachable, the channel-major input gradient above skips the
# (C kh kw, N Hp Wp) product and the shifted adds: one product per kernel tap, each reading
# the cotangent's padded planes at that tap's shift (a window of one array, no copy) and
# adding into the input gradient directly (gemm with beta 1). cnn2d's second conv: 3.2-3.7 ->
# 1.8-2.4 ms; the same sums in the same order as the adds, so the same numbers.
def _conv_in_taps(g, w, hp, wp, dilation):
    """The input gradient on the padded grid, (C, N Hp Wp), from per-tap products; None where
    OpenBLAS's gemm is not available."""
    if not _openblas.gemm_available(g.dtype) or w.dtype != g.dtype:
        return None
    n, o, ho, wo = g.shape
    _, c, kh, kw = w.shape
    dh, dw = dilation
    size = hp * wp
    reach = (kh - 1) * dh * wp + (kw - 1) * dw
    # the cotangent on the padded grid (each plane at the top left of its padded plane,
    # zeros elsewhere), after `reach` leading zeros so every tap's window starts inside
    gs = np.zeros((o, reach + n * size), dtype=g.dtype)
    gs[:, reach:].reshape(o, n, hp, wp)[:, :, :ho, :wo] = g.transpose(1, 0, 2, 3)
    wt = np.ascontiguousarray(w.transpose(2, 3, 1, 0))  # (kh, kw, C, O): each tap's W^T
    dx = np.empty((c, n * size), dtype=g.dtype)
    for i in range(kh):
        for j in range(kw):
            at = reach - (i * dh * wp + j * dw)
            if not _openblas.matmul_into(wt[i, j], gs[:, at:at + n * size], dx,
                                         accumulate=i or j):
                return None
    return dx


def _conv_w_fwd_whole(x, g, ksize, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1),
                      groups=1, cols=None, bias_row=False):
    """The weight gradient; ``cols``: the forward's columns, in this function's layout for
    these shapes (``_conv_fwd_cols``), so they need not be gathered again. With
    ``bias_row`` their last row is the forward's ones, and the result is the weight's and
    the bias's gradients from the one product."""
    if x.ndim == 3:
        r = _conv_w_fwd_whole(x[:, :, None], g[:, :, None], (1,) + tuple(ksize), stride,
                              padding, dilation, groups, cols, bias_row)
        return (r[0][:, :, 0], r[1]) if bias_row else r[:, :, 0]
    n, c = x.shape[:2]
    _, o, ho, wo = g.shape
    kh, kw = ksize
    cg = c // groups
    if cols is None:
        per_sample = _wgrad_per_sample(groups, cg * kh * kw, ho * wo)
    else:  # the forward's columns, per sample (n, rows, pixels) or side by side (1, rows, n
        per_sample = cols.shape[-1] == ho * wo  # pixels); the same layout when n is 1
    if per_sample:
        # Large planes with few taps x channels: the forward pass's im2col layout (one
        # cache-friendly copy) and one product per sample, summed over the batch. With more
        # rows (16 channels x 3x3 taps and up) on planes under 1024 pixels, the single product
        # below is faster (cnn2d's second conv: 2.48 -> 2.14 ms).
        if cols is None:
            cols = _im2col(x, ksize, stride, padding, dilation, (ho, wo))
        # (rows x pixels) @ (pixels x out channels), transposed at the end, as below
        dw = np.matmul(cols, np.swapaxes(g.reshape(n, o, ho * wo), 1, 2)).sum(axis=0).T
        return _weight_and_bias(dw, (o, c, kh, kw), bias_row)
    # Lay samples and pixels side by side so the whole reduction is one product per group.
    if cols is None:
        cols = _im2col(x, ksize, stride, padding, dilation, (ho, wo), channel_major=True
                       ).reshape(groups, cg * kh * kw, n * ho * wo)
    gr = g.transpose(1, 0, 2, 3).reshape(groups, o // groups, n * ho * wo)
    if n * ho * wo >= _SWAP_MIN_PIXELS and cg * kh * kw >= 16:
        # the transposed product, (rows x pixels) @ (pixels x out channels), then transposed
        # back: OpenBLAS is faster with the longer side first (cnn2d's second conv: 1.07 ->
        # 0.68 ms for the product)
        dw = np.swapaxes(np.matmul(cols, np.swapaxes(gr, 1, 2)), 1, 2)
    else:
        dw = np.matmul(gr, np.swapaxes(cols, 1, 2))
    return _weight_and_bias(dw, (o, cg, kh, kw), bias_row)


def _weight_and_bias(dw, shape, bias_row):
    """A weight gradient's product (o, rows [+ 1]) as the weight's shape, and with
    ``bias_row`` the bias gradient from its last column."""
    if not bias_row:
        return dw.reshape(shape)
    dw = dw.reshape(shape[0], -1)
    rows = dw.shape[1] - 1
    return np.ascontiguousarray(dw[:, :rows]).reshape(shape), dw[:, rows].copy()


# Each of the three runs batch-parallel when the work is large (chainrule.core.parallel):
# samples are independent, so chunks of the batch go to separate threads and the outputs are
# joined along the batch (the weight gradient: summed over the chunks).
def _n_taps(shape):
    n = 1
    for k in shape:
        n *= k
    return n


def _conv_fwd(x, w, b=None, **attrs):
    return parallel.over_batch(lambda xs: _conv_fwd_whole(xs, w, b, **attrs), (x,),
                               x.size * _n_taps(w.shape[2:]))


def _conv_fwd_saving(x, w, b=None, **attrs):
    """The forward and the columns its weight gradient can reuse (batch-parallel runs keep
    none: their columns come in chunks)."""
    if not parallel.serial():
        return _conv_fwd(x, w, b, **attrs), None
    return _conv_fwd_cols(x, w, b, **attrs)


def _conv_in_fwd(g, w, in_hw, **attrs):
    return parallel.over_batch(lambda gs: _conv_in_fwd_whole(gs, w, in_hw, **attrs), (g,),
                               g.size * _n_taps(w.shape[2:]))


def _conv_w_fwd(x, g, ksize, **attrs):
    return parallel.over_batch(lambda xs, gs: _conv_w_fwd_whole(xs, gs, ksize, **attrs),
                               (x, g), g.size * _n_taps(ksize), join="sum")


def _cattrs(attrs):
    return {k: attrs[k] for k in ("stride", "padding", "dilation", "groups") if k in attrs}


def _conv_vjp(xp, g, out, ins, needs, saved=None, **attrs):
    x, w = ins[0], ins[1]
    a = _cattrs(attrs)
    gx = xp.apply("conv2d_input_grad", g, w, in_hw=tuple(x.shape[2:]), **a) if needs[0] \
        else None
    gb = None
    if not needs[1]:
        gw = None
    elif saved is not None and g.dtype == x.dtype:  # the forward's columns: no second im2col
        if _has_bias_row(saved, w):  # and the bias gradient from their row of ones
            gw, gb = _conv_w_fwd_whole(x, g, tuple(w.shape[2:]), cols=saved, bias_row=True,
                                       **a)
        else:
            gw = _conv_w_fwd_whole(x, g, tuple(w.shape[2:]), cols=saved, **a)
    else:
        gw = xp.apply("conv2d_weight_grad", x, g, ksize=tuple(w.shape[2:]), **a)
    if len(ins) == 2:
        return gx, gw
    if not needs[2]:
        gb = None
    elif gb is None:
        gb = xp.sum(g, axis=(0,) + tuple(range(2, len(g.shape)))) if xp.is_tensor_ns \
            else sum_leading(g)
    return gx, gw, gb


def _bilinear_jvp(xp, name, ts, a, b, **attrs):
    """The forward rule of bilinear op ``name`` at ``(a, b)``: op(ta, b) + op(a, tb)."""
    acc = None
    if ts[0] is not None:
        acc = xp.apply(name, ts[0], b, **attrs)
    if ts[1] is not None:
        t = xp.apply(name, a, ts[1], **attrs)
        acc = t if acc is None else acc + t
    return acc


def _conv_jvp(xp, ts, out, ins, **attrs):
    acc = _bilinear_jvp(xp, "conv2d", ts, ins[0], ins[1], **attrs)
    if len(ts) > 2 and ts[2] is not None:
        tb = xp.reshape(ts[2], (1, -1) + (1,) * (len(out.shape) - 2))
        acc = tb if acc is None else acc + tb
    return acc


def _conv_in_vjp(xp, g, out, ins, needs, in_hw, **attrs):
    gg, w = ins
    return (xp.apply("conv2d", g, w, **attrs) if needs[0] else None,
            xp.apply("conv2d_weight_grad", g, gg, ksize=tuple(w.shape[2:]), **attrs)
            if needs[1] else None)


def _conv_in_jvp(xp, ts, out, ins, in_hw, **attrs):
    return _bilinear_jvp(xp, "conv2d_input_grad", ts, *ins, in_hw=in_hw, **attrs)


def _conv_w_vjp(xp, g, out, ins, needs, ksize, **attrs):
    x, gg = ins
    return (xp.apply("conv2d_input_grad", gg, g, in_hw=tuple(x.shape[2:]), **attrs)
            if needs[0] else None,
            xp.apply("conv2d", x, g, **attrs) if needs[1] else None)


def _conv_w_jvp(xp, ts, out, ins, ksize, **attrs):
    return _bilinear_jvp(xp, "conv2d_weight_grad", ts, *ins, ksize=ksize, **attrs)


_CA = dict(stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1)
_CB = dict(stride=(2, 1), padding=(1, 0, 2, 1), dilation=(1, 2), groups=2)
_C1 = dict(stride=(1, 2), padding=(0, 0, 1, 2), dilation=(1, 2), groups=2)  # 1-D
# stride 1 with no more output than input channels: the input gradient by full correlation
_CF = dict(stride=(1, 1), padding=(0, 1, 1, 0), dilation=(1, 2), groups=1)
_CF1 = dict(stride=(1, 1), padding=(0, 0, 1, 1), dilation=(1, 1), groups=1)
_CW = dict(stride=(1, 1), padding=(1, 1, 1, 1), dilation=(1, 1), groups=1)
explicit("conv2d", _conv_fwd, _conv_vjp, _conv_jvp, forward_saving=_conv_fwd_saving,
         samples=[S(args=[(2, 3, 5, 5), (4, 3, 3, 3), (4,)], attrs=_CA),
                  S(args=[(2, 4, 6, 5), (6, 2, 2, 3)], attrs=_CB),
                  S(args=[(1, 2, 4, 4), (3, 2, 1, 1), (3,)], attrs=_CA),
                  # >= 64 rows of columns: every sample's columns in one product
                  S(args=[(2, 8, 12, 12), (3, 8, 3, 3), (3,)], attrs=_CA),
                  S(args=[(2, 4, 7), (6, 2, 3), (6,)], attrs=_C1),
                  S(args=[(2, 5, 5, 7), (3, 5, 2, 3), (3,)], attrs=_CF),
                  S(args=[(2, 4, 7), (4, 4, 3), (4,)], attrs=_CF1)],
         doc="2-D cross-correlation (N, C, H, W) x (O, C/groups, kh, kw) by im2col + matmul.")
explicit("conv2d_input_grad", _conv_in_fwd, _conv_in_vjp, _conv_in_jvp,
         samples=[S(args=[(2, 4, 3, 3), (4, 3, 3, 3)], attrs=dict(in_hw=(5, 5), **_CA)),
                  S(args=[(2, 6, 3, 4), (6, 2, 2, 3)], attrs=dict(in_hw=(6, 5), **_CB)),
                  S(args=[(2, 6, 3), (6, 2, 3)], attrs=dict(in_hw=(7,), **_C1)),
                  S(args=[(2, 3, 5, 4), (3, 5, 2, 3)], attrs=dict(in_hw=(5, 7), **_CF)),
                  S(args=[(2, 4, 7), (4, 4, 3)], attrs=dict(in_hw=(7,), **_CF1)),
                  # stride 1 over >= 4096 pixels in all: the channel-major product and col2im
                  S(args=[(1, 3, 64, 64), (3, 2, 3, 3)], attrs=dict(in_hw=(64, 64), **_CW)),
                  S(args=[(1, 3, 64, 64), (3, 2, 3, 2)],
                    attrs=dict(in_hw=(66, 65), stride=(1, 1), padding=(1, 1, 2, 0),
                               dilation=(2, 3), groups=1))],
         doc="The transpose of conv2d in its input: transposed convolution (col2im, or a full "
             "correlation with the flipped kernel at stride 1).")
explicit("conv2d_weight_grad", _conv_w_fwd, _conv_w_vjp, _conv_w_jvp,
         samples=[S(args=[(2, 3, 5, 5), (2, 4, 3, 3)], attrs=dict(ksize=(3, 3), **_CA)),
                  S(args=[(2, 4, 6, 5), (2, 6, 3, 4)], attrs=dict(ksize=(2, 3), **_CB)),
                  S(args=[(2, 4, 7), (2, 6, 3)], attrs=dict(ksize=(3,), **_C1)),
                  # an output plane of >= 100 pixels: one product per sample, summed
                  S(args=[(2, 2, 11, 10), (2, 3, 11, 10)], attrs=dict(ksize=(3, 3), **_CW))],
         doc="The transpose of conv2d in its weight: a correlation of input and cotangent.")


# -- pooling ---------------------------------------------------------------------------------------
# Max pooling: the caller finds each window's argmax (flat per-plane indices, as PyTorch returns
# them) and the op is a gather by those indices, linear in x; its transpose is a scatter.
def _take_planes_fwd(x, index, unique=False):
    n, c = x.shape[:2]
    flat = x.reshape(n, c, -1)
    return np.take_along_axis(flat, index.reshape(n, c, -1), axis=2).reshape(index.shape)


def _put_planes_fwd(g, index, in_shape, unique=False):
    n, c = in_shape[:2]
    size = int(np.prod(in_shape[2:]))
    idx = index.reshape(n, c, -1)
    gf = g.reshape(n, c, -1)
    if unique:
        out = np.zeros((n, c, size), dtype=g.dtype)
        np.put_along_axis(out, idx, gf, axis=2)
    else:
        flat = (idx + (np.arange(n * c).reshape(n, c, 1) * size)).ravel()
        out = np.bincount(flat, weights=gf.ravel(), minlength=n * c * size).astype(g.dtype)
    return out.reshape(in_shape)


linear("take_planes", _take_planes_fwd,
       lambda xp, g, out, ins, needs, index, unique=False: (
           xp.apply("put_planes", g, index=index, in_shape=tuple(ins[0].shape), unique=unique),),
       samples=[S(args=[(2, 3, 4, 4)],
                  attrs=dict(index=np.array([0, 5, 10, 15, 3, 7]).reshape(1, 1, 2, 3)
                             .repeat(2, 0).repeat(3, 1)))],
       doc="Per-plane gather by flat indices (the forward of max pooling).")
linear("put_planes", _put_planes_fwd,
       lambda xp, g, out, ins, needs, index, in_shape, unique=False: (
           xp.apply("take_planes", g, index=index, unique=unique),),
       samples=[S(args=[(2, 3, 2, 3)],
                  attrs=dict(index=np.array([0, 5, 5, 15, 3, 7]).reshape(1, 1, 2, 3)
                             .repeat(2, 0).repeat(3, 1), in_shape=(2, 3, 4, 4))),
                S(args=[(1, 2, 2, 2)],
                  attrs=dict(index=np.array([0, 3, 8, 11]).reshape(1, 1, 2, 2).repeat(2, 1),
                             in_shape=(1, 2, 4, 3), unique=True))],
       doc="Per-plane scatter-add by flat indices (the transpose of take_planes).")


# The layer's own op: the forward is a running maximum over one strided slice per kernel tap;
# the reverse rule finds each window's winning tap (the first on ties, as PyTorch) and routes
# the cotangent there. On the tensor path (higher orders) it goes through take/put_planes with
# the winners' flat indices, which are constants.
def _pad_fill(x, padding, value):
    pt, pb, pl, pr = padding
    if not (pt or pb or pl or pr):
        return x
    n, c, h, w = x.shape
    out = np.full((n, c, h + pt + pb, w + pl + pr), value, dtype=x.dtype)
    out[:, :, pt:pt + h, pl:pl + w] = x
    return out


def _taps(ksize, stride, dilation, out_hw):
    """(tap id, slice of the padded input) for every kernel tap."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = ksize, stride, dilation, out_hw
    for i in range(kh):
        for j in range(kw):
            yield i * kw + j, (slice(None), slice(None),
                               slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
                               slice(j * dw, j * dw + sw * (wo - 1) + 1, sw))


def _maxpool_fwd(x, ksize, stride, padding, dilation, out_hw):
    return parallel.over_batch(
        lambda xs: _maxpool_fwd_whole(xs, ksize, stride, padding, dilation, out_hw), (x,),
        x.size)


def _maxpool_fwd_saving(x, ksize, stride, padding, dilation, out_hw):
    """The forward and, for 2x2 windows tiling the input, which tap won each window (an
    integer array of the output's size; see ``_maxpool2x2``) for the reverse rule."""
    if not parallel.serial() or not _tiles(x.shape, ksize, stride, padding, dilation, out_hw,
                                           (2, 2)):
        return _maxpool_fwd(x, ksize, stride, padding, dilation, out_hw), None
    return _maxpool2x2(x)


def _tiles(shape, ksize, stride, padding, dilation, out_hw, only=None):
    """Whether the windows tile the (unpadded) input exactly (and have size ``only``)."""
    h, w = shape[2:]
    (kh, kw), (ho, wo) = ksize, out_hw
    return (tuple(stride) == tuple(ksize) and dilation == (1, 1) and h == ho * kh
            and w == wo * kw and not any(padding) and (only is None or ksize == only))


def _maxpool_fwd_whole(x, ksize, stride, padding, dilation, out_hw):
    # Separable: the maximum over each window's columns for every row, then over its rows
    # (kw - 1 + kh - 1 passes instead of kh kw - 1 over two-way strided slices; 0.56 -> 0.33
    # ms for a 2x2 pool of (64, 16, 28, 28)).
    xp_ = _pad_fill(x, padding, -np.inf)
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = ksize, stride, dilation, out_hw
    cols = [xp_[..., j * dw:j * dw + sw * (wo - 1) + 1:sw] for j in range(kw)]
    a = cols[0] if kw == 1 else np.maximum(cols[0], cols[1])
    for v in cols[2:]:
        np.maximum(a, v, out=a)
    rows = [a[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh] for i in range(kh)]
    out = rows[0].copy() if kh == 1 else np.maximum(rows[0], rows[1])
    for v in rows[2:]:
        np.maximum(out, v, out=out)
    return out


def _maxpool2x2(x):
    """2x2 windows that tile ``x``: the maximum, and which tap won each window as one integer
    array of the output's shape: the winner's offset from its window's top-left element in
    ``x``'s flattened plane (0, 1, W or W + 1 for a plane W wide). Strict comparisons give
    ties to the first row, then the first column: PyTorch's first maximum in scan order. The
    four taps are first copied out as contiguous planes, so every comparison and maximum runs
    on contiguous arrays."""
    n, c, h, w = x.shape
    taps = np.empty((4, n, c, h // 2, w // 2), dtype=x.dtype)
    for k in range(4):
        taps[k] = x[:, :, k // 2::2, k % 2::2]
    p00, p01, p10, p11 = taps
    top = np.maximum(p00, p01)
    bottom = np.maximum(p10, p11)
    out = np.maximum(top, bottom)
    lower = np.greater(bottom, top)  # the lower row won
    right_top, right_bottom = np.greater(p01, p00), np.greater(p11, p10)
    # the winning row's right column won: a choice made with bit operations, not np.where,
    # whose branches mispredict on random masks
    right = right_top ^ ((right_top ^ right_bottom) & lower)
    code = np.multiply(lower, w, dtype=np.int16 if w < 32767 else np.int32)
    code += right
    return out, code


def _winner_masks(xp_, out, ksize, stride, dilation, out_hw):
    """For each tap in order, the windows it wins: equal to the max and not won by an earlier
    tap (so ties go to the first, as PyTorch)."""
    taken = None
    for t, sl in _taps(ksize, stride, dilation, out_hw):
        m = xp_[sl] == out
        if taken is None:
            taken = m.copy()
        else:
            m &= ~taken
            taken |= m
        yield t, sl, m


def maxpool_winners(x, out, ksize, stride, padding, dilation, out_hw):
    """The winning tap of every window (int16), the first among equal maxima."""
    xp_ = _pad_fill(x, padding, -np.inf)
    arg = np.zeros(out.shape, np.int16)
    for t, _, m in _winner_masks(xp_, out, ksize, stride, dilation, out_hw):
        if t:
            arg += m * np.int16(t)
    return arg


def maxpool_indices(arg, in_hw, ksize, stride, padding, dilation):
    """Flat per-plane indices (row * W + col in the unpadded input) from winning taps."""
    ti, tj = np.divmod(arg.astype(np.int64), ksize[1])
    ho, wo = arg.shape[-2:]
    rows = np.arange(ho).reshape(ho, 1) * stride[0] - padding[0] + ti * dilation[0]
    cols = np.arange(wo) * stride[1] - padding[2] + tj * dilation[1]
    return rows * in_hw[1] + cols


def _maxpool_unique(ksize, stride, dilation):
    return all(s >= d * (k - 1) + 1 for k, s, d in zip(ksize, stride, dilation))


def _maxpool_vjp(xp, g, out, ins, needs, ksize, stride, padding, dilation, out_hw,
                 saved=None):
    x = ins[0]
    xa, oa = _arr(x), _arr(out)
    if saved is not None:  # 2x2 tiles with the forward's winners
        return (_maxpool2x2_dx(g, saved, xa.shape),)
    unique = _maxpool_unique(ksize, stride, dilation)
    if xp.is_tensor_ns:
        arg = maxpool_winners(xa, oa, ksize, stride, padding, dilation, out_hw)
        idx = maxpool_indices(arg, xa.shape[2:], ksize, stride, padding, dilation)
        return (xp.apply("put_planes", g, index=idx, in_shape=tuple(xa.shape), unique=unique),)
    attrs = (ksize, stride, padding, dilation, out_hw, unique)
    return (parallel.over_batch(lambda gs, xs, os_: _maxpool_dx(gs, xs, os_, *attrs),
                                (g, xa, oa), xa.size),)


def _maxpool_dx(g, xa, oa, ksize, stride, padding, dilation, out_hw, unique):
    """The input gradient on raw arrays: each window's cotangent routed to its winner."""
    pt, pb, pl, pr = padding
    n, c, h, w = xa.shape
    (kh, kw) = ksize
    tiles = _tiles(xa.shape, ksize, stride, padding, dilation, out_hw)
    if tiles and (kh, kw) == (2, 2):
        return _maxpool2x2_dx(g, _maxpool2x2(xa)[1], xa.shape)
    # windows that tile the input exactly write every element below: no zero fill needed
    dx = (np.empty if tiles else np.zeros)((n, c, h + pt + pb, w + pl + pr), dtype=g.dtype)
    xp_ = _pad_fill(xa, padding, -np.inf)
    for _, sl, m in _winner_masks(xp_, oa, ksize, stride, dilation, out_hw):
        if unique:  # windows don't overlap: each input element gets at most one value
            np.multiply(g, m, out=dx[sl])
        else:
            dx[sl] += g * m
    if pt or pb or pl or pr:
        dx = dx[:, :, pt:pt + h, pl:pl + w]
    return dx


# The input gradient of 2x2 max pooling is the cotangent scattered to the winners: zeros and
# one assignment by flat index, each window's top-left corner (kept per shape) plus the
# winner's offset the forward found. Against splitting the cotangent with the row and column
# masks into the four interleaved taps: (64, 16, 28, 28) 0.85-0.93 -> 0.48-0.55 ms,
# (64, 32, 14, 14) 0.54-0.56 -> 0.24-0.27 ms, alternately timed, for 0.07-0.12 ms more in the
# forward; the positions that did not win hold exact zeros, as in PyTorch, also where the
# cotangent is infinite.
_CORNERS: dict = {}
_CORNERS_MAX_BYTES = 16 << 20
_CORNERS_LOCK = threading.Lock()  # batch-parallel chunks may ask for them at once


def _window_corners(rows, wo, w):
    """The flat index of each 2x2 window's top-left element in an input of planes ``w`` wide:
    ``(rows, wo)`` for the output's ``rows`` (samples x channels x output rows) and ``wo``
    columns. Kept while the kept ones take at most ``_CORNERS_MAX_BYTES``, the oldest
    dropped first."""
    key = (rows, wo, w)
    corners = _CORNERS.get(key)
    if corners is None:
        corners = np.add.outer(np.arange(rows, dtype=np.intp) * (2 * w),
                               np.arange(0, 2 * wo, 2, dtype=np.intp))
        if corners.nbytes <= _CORNERS_MAX_BYTES:
            corners.flags.writeable = False
            with _CORNERS_LOCK:
                while _CORNERS and (sum(a.nbytes for a in _CORNERS.values()) + corners.nbytes
                                    > _CORNERS_MAX_BYTES):
                    del _CORNERS[next(iter(_CORNERS))]
                _CORNERS[key] = corners
    return corners


def _maxpool2x2_dx(g, code, shape):
    """The input gradient of 2x2 windows that tile an input of ``shape``, from the winners'
    offsets ``_maxpool2x2`` found."""
    n, c, ho, wo = g.shape
    rows = n * c * ho
    index = np.add(_window_corners(rows, wo, shape[3]), code.reshape(rows, wo))
    dx = np.zeros(shape, dtype=g.dtype)
    dx.reshape(-1)[index.reshape(-1)] = g.reshape(-1)
    return dx


def _maxpool_jvp(xp, ts, out, ins, ksize, stride, padding, dilation, out_hw):
    xa = _arr(ins[0])
    arg = maxpool_winners(xa, _arr(out), ksize, stride, padding, dilation, out_hw)
    idx = maxpool_indices(arg, xa.shape[2:], ksize, stride, padding, dilation)
    return xp.apply("take_planes", ts[0], index=idx)


_MP = dict(ksize=(2, 2), stride=(2, 2), padding=(0, 0, 0, 0), dilation=(1, 1), out_hw=(2, 3))
_MP2 = dict(ksize=(3, 2), stride=(2, 1), padding=(1, 1, 1, 0), dilation=(1, 2), out_hw=(3, 4))
explicit("max_pool2d", _maxpool_fwd, _maxpool_vjp, _maxpool_jvp, smooth=False,
         forward_saving=_maxpool_fwd_saving,
         samples=[S(args=[(2, 3, 4, 6)], attrs=_MP), S(args=[(1, 2, 5, 5)], attrs=_MP2)],
         doc="Max over windows: a running maximum over one strided slice per kernel tap.")


# Average pooling: a sum of strided slices, one per kernel tap, times a per-position scale
# (1 / the number of elements counted in each window).
def _avg_fwd(x, ksize, stride, padding, out_hw, scale):
    (kh, kw), (sh, sw), (ho, wo) = ksize, stride, out_hw
    xp_ = _pad_hw(x, padding)
    out = None
    for i in range(kh):
        for j in range(kw):
            v = xp_[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]
            if out is None:
                out = v.copy()
            else:
                out += v
    out *= scale.astype(out.dtype, copy=False)
    return out


def _avg_t_fwd(g, ksize, stride, padding, out_hw, scale, in_hw):
    (kh, kw), (sh, sw), (ho, wo) = ksize, stride, out_hw
    pt, pb, pl, pr = padding
    h, wd = in_hw
    gs = g * scale.astype(g.dtype, copy=False)
    dx = np.zeros(g.shape[:2] + (h + pt + pb, wd + pl + pr), dtype=g.dtype)
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw] += gs
    return dx[:, :, pt:pt + h, pl:pl + wd]


_AP = dict(ksize=(2, 2), stride=(2, 2), padding=(0, 0, 0, 0), out_hw=(2, 2),
           scale=np.full((2, 2), 0.25))
_AP2 = dict(ksize=(3, 2), stride=(2, 1), padding=(1, 1, 0, 0), out_hw=(3, 3),
            scale=np.array([[1 / 6] * 3, [1 / 6] * 3, [1 / 4] * 3]))
linear("avg_pool2d", _avg_fwd,
       lambda xp, g, out, ins, needs, **a: (
           xp.apply("avg_pool2d_transpose", g, in_hw=tuple(ins[0].shape[2:]), **a),),
       samples=[S(args=[(2, 3, 4, 4)], attrs=_AP), S(args=[(1, 2, 5, 4)], attrs=_AP2)],
       doc="Average pooling as a scaled sum of one strided slice per kernel tap.")
linear("avg_pool2d_transpose", _avg_t_fwd,
       lambda xp, g, out, ins, needs, in_hw, **a: (xp.apply("avg_pool2d", g, **a),),
       samples=[S(args=[(2, 3, 2, 2)], attrs=dict(in_hw=(4, 4), **_AP)),
                S(args=[(1, 2, 3, 3)], attrs=dict(in_hw=(5, 4), **_AP2))],
       doc="The transpose of avg_pool2d.")
