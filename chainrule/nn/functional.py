"""``chainrule.nn.functional`` (also ``chainrule.functional``): the stateless forms of the layers
and losses, as ``torch.nn.functional``.

Hot composites (softmax, cross-entropy, normalisation, convolution, pooling, embedding, dropout)
are single fused primitives from :mod:`chainrule.ops.fused`; the rest is composed from core ops,
which gives them both derivative modes and every order for free.

>>> import chainrule as cr
>>> import chainrule.nn.functional as F
>>> F.softmax(cr.tensor([[0.0, 0.0]]), dim=-1).tolist()
[[0.5, 0.5]]
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..core.dispatch import apply
from ..core.registry import REGISTRY
from ..core.state import untraceable
from ..errors import ArgumentError, DTypeError, ShapeError
from ..ops import elementwise as _E
from ..ops import fused as _FU
from ..ops import reduce as _R
from ..ops import shape as _SH
from ..ops._util import as_tensor, binary_args
from ..ops.linalg import einsum
from ..ops.linalg import linear as _linear
from ..random import _gen
from ..tensor import Tensor

# -- activations (the core's, re-exported) ----------------------------------------------------
relu = _E.relu
relu6 = _E.relu6
leaky_relu = _E.leaky_relu
elu = _E.elu
selu = _E.selu
celu = _E.celu
gelu = _E.gelu
silu = _E.silu
mish = _E.mish
softplus = _E.softplus
softsign = _E.softsign
hardtanh = _E.hardtanh
hardsigmoid = _E.hardsigmoid
hardswish = _E.hardswish
sigmoid = _E.sigmoid
tanh = _E.tanh
sign = _E.sign


def logsigmoid(input):  # noqa: A002
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large ``|x|``."""
    return -_E.softplus(-_float(input))


def glu(input, dim=-1):  # noqa: A002
    """Gated linear unit: the first half of ``dim`` times the sigmoid of the second half."""
    x = _float(input)
    a, b = _SH.chunk(x, 2, dim)
    return a * _E.sigmoid(b)


def tanhshrink(input):  # noqa: A002
    x = _float(input)
    return x - _E.tanh(x)


def _float(x):
    x = as_tensor(x)
    if x.data.dtype.kind != "f":
        x = as_tensor(x, backend.get_default_dtype())
    return x


def _op(name):
    return REGISTRY[name]


# -- linear maps -----------------------------------------------------------------------------------
def linear(input, weight, bias=None):  # noqa: A002
    """``input @ weight.T + bias`` (weight of shape (out_features, in_features)).

    >>> import chainrule as cr
    >>> F.linear(cr.ones(2, 3), cr.ones(4, 3)).shape
    (2, 4)
    """
    return _linear(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """``y_k = x1 @ weight[k] @ x2 + bias[k]``; weight of shape (out, in1, in2).

    >>> import chainrule as cr
    >>> F.bilinear(cr.ones(5, 2), cr.ones(5, 3), cr.ones(4, 2, 3)).shape
    (5, 4)
    """
    x1, x2, w = _float(input1), _float(input2), _float(weight)
    if w.ndim != 3 or x1.shape[-1:] != w.shape[1:2] or x2.shape[-1:] != w.shape[2:3] or \
            x1.shape[:-1] != x2.shape[:-1]:
        raise ShapeError(f"bilinear: inputs of shapes {x1.shape} and {x2.shape} don't fit weight "
                         f"of shape {w.shape}: expected (..., {w.shape[1] if w.ndim == 3 else '?'})"
                         f" and (..., {w.shape[2] if w.ndim == 3 else '?'}) with equal leading "
                         "dims")
    lead = x1.shape[:-1]
    a = x1.reshape(-1, x1.shape[-1])
    b = x2.reshape(-1, x2.shape[-1])
    out = einsum("ni,oij,nj->no", a, w, b)
    if bias is not None:
        out = out + bias
    return out.reshape(*lead, w.shape[0])


# -- softmax family ----------------------------------------------------------------------------
def _softmax_dim(ndim):
    # PyTorch's choice when dim is not given.
    return 0 if ndim in (0, 1, 3) else 1


def _sm_args(name, input, dim, dtype):  # noqa: A002
    x = _float(input)
    if dtype is not None:
        x = as_tensor(x, backend.as_dtype(dtype))
    if dim is None:
        dim = _softmax_dim(x.ndim)
    nd = max(x.ndim, 1)
    if not -nd <= dim < nd:
        raise ShapeError(f"{name}: argument 'dim' expected a value in [{-nd}, {nd - 1}], "
                         f"got {dim} (input shape {x.shape})")
    return x, dim % nd if x.ndim else 0


def softmax(input, dim=None, _stacklevel=3, dtype=None):  # noqa: A002
    """``exp(x) / sum(exp(x))`` along ``dim``, as one fused primitive.

    >>> import chainrule as cr
    >>> F.softmax(cr.tensor([0.0, 0.0]), dim=0).tolist()
    [0.5, 0.5]
    """
    x, d = _sm_args("softmax", input, dim, dtype)
    if x.ndim == 0:
        return apply(_op("softmax"), x.reshape(1), dim=0).reshape(())
    return apply(_op("softmax"), x, dim=d)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):  # noqa: A002
    """``x - logsumexp(x)`` along ``dim``, as one fused primitive.

    >>> import chainrule as cr
    >>> round(F.log_softmax(cr.tensor([0.0, 0.0]), dim=0).tolist()[0], 4)
    -0.6931
    """
    x, d = _sm_args("log_softmax", input, dim, dtype)
    if x.ndim == 0:
        return apply(_op("log_softmax"), x.reshape(1), dim=0).reshape(())
    return apply(_op("log_softmax"), x, dim=d)


def softmin(input, dim=None, _stacklevel=3, dtype=None):  # noqa: A002
    return softmax(-_float(input), dim=dim, dtype=dtype)


# -- losses --------------------------------------------------------------------------------------
_REDUCTIONS = ("none", "mean", "sum")


def _reduction(name, reduction, size_average=None, reduce=None, extra=()):
    if size_average is not None or reduce is not None:
        # PyTorch's deprecated pair, mapped the way PyTorch maps it.
        sa = True if size_average is None else size_average
        rd = True if reduce is None else reduce
        reduction = "none" if not rd else ("mean" if sa else "sum")
    if reduction not in _REDUCTIONS + tuple(extra):
        raise ArgumentError(f"{name}: argument 'reduction' expected one of "
                            f"{list(_REDUCTIONS + tuple(extra))}, got {reduction!r}")
    return reduction


def _reduce(loss, reduction):
    if reduction == "mean":
        return _R.mean(loss)
    if reduction == "sum":
        return _R.sum(loss)
    return loss


def _weight_array(name, weight, n_classes, dtype):
    if weight is None:
        return None
    w = weight.data if isinstance(weight, Tensor) else np.asarray(weight)
    if w.shape != (n_classes,):
        raise ShapeError(f"{name}: argument 'weight' expected shape ({n_classes},) (one weight "
                         f"per class), got {w.shape}")
    return w.astype(dtype, copy=False)


def _class_targets(name, x, target, ignore_index):
    """Flatten (N, C, d1, ...) logits to (M, C) rows and the targets to (M,), checking them."""
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise DTypeError(f"{name}: class-index targets must be integers (int64), got dtype "
                         f"{t.dtype} with shape {t.shape}; for class probabilities pass a float "
                         f"target of the input's shape {x.shape}")
    if x.ndim == 0:
        raise ShapeError(f"{name}: input must have a class dim, got a 0-d tensor")
    c = x.shape[1] if x.ndim >= 2 else x.shape[0]
    want = (x.shape[:1] + x.shape[2:]) if x.ndim >= 2 else ()
    if t.shape != want:
        raise ShapeError(f"{name}: input of shape {x.shape} (classes in dim "
                         f"{1 if x.ndim >= 2 else 0}) expects a target of shape {want}, got "
                         f"{t.shape}")
    if t.size and (t.min() < 0 or t.max() >= c):  # out of range, unless it is ignore_index
        bad = (t != ignore_index) & ((t < 0) | (t >= c))
        if bad.any():
            raise ArgumentError(f"{name}: target {int(t[bad].flat[0])} is out of range for "
                                f"{c} classes (expected values in [0, {c - 1}] or "
                                f"ignore_index={ignore_index})")
    if x.ndim == 1:
        rows = x.reshape(1, c)
    elif x.ndim == 2:
        rows = x
    else:
        rows = _SH.movedim(x, 1, -1).reshape(-1, c)
    if isinstance(target, Tensor) and t.ndim == 1 and t.dtype == np.int64:
        flat = target  # already what the op takes (and a tensor compile can follow)
    else:
        flat = Tensor._wrap(t.reshape(-1).astype(np.int64, copy=False))
    return rows, flat, t.shape


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,  # noqa: A002
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """Cross-entropy between logits and class indices or class probabilities, as PyTorch.

    ``input`` is (C,), (N, C) or (N, C, d1, ...); ``target`` holds class indices (int, shape
    without the class dim) or probabilities (float, the input's shape). Index targets use one
    fused primitive (log-softmax, pick, weight and reduce in one node, no one-hot built).

    >>> import chainrule as cr
    >>> x = cr.zeros(2, 4, requires_grad=True)
    >>> loss = F.cross_entropy(x, cr.tensor([0, 3]))
    >>> round(loss.item(), 4)
    1.3863
    """
    name = "cross_entropy"
    reduction = _reduction(name, reduction, size_average, reduce)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ArgumentError(f"{name}: argument 'label_smoothing' expected a value in [0, 1], "
                            f"got {label_smoothing}")
    x = _float(input)
    t_arr = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t_arr.dtype.kind == "f":
        if t_arr.shape != x.shape:
            raise DTypeError(f"{name}: class-index targets must be integers (int64), got dtype "
                             f"{t_arr.dtype} with shape {t_arr.shape}; float targets are "
                             f"class probabilities and need the input's shape {x.shape}")
        return _soft_cross_entropy(x, as_tensor(target, x.dtype), weight, reduction,
                                   label_smoothing)
    rows, t, shape = _class_targets(name, x, target, ignore_index)
    w = _weight_array(name, weight, rows.shape[1], x.dtype)
    out = apply(_op("cross_entropy"), rows, t, weight=w, ignore_index=ignore_index,
                label_smoothing=float(label_smoothing), reduction=reduction)
    return out.reshape(shape) if reduction == "none" else out


def _soft_cross_entropy(x, q, weight, reduction, label_smoothing):
    name = "cross_entropy"
    if q.shape != x.shape:
        raise ShapeError(f"{name}: probability targets must have the input's shape {x.shape}, "
                         f"got {q.shape}")
    cdim = 1 if x.ndim >= 2 else 0
    c = x.shape[cdim]
    if label_smoothing:
        q = q * (1.0 - label_smoothing) + label_smoothing / c
    lsm = log_softmax(x, dim=cdim)
    if weight is not None:
        w = _weight_array(name, weight, c, x.dtype)
        wshape = [1] * x.ndim
        wshape[cdim] = c
        lsm = lsm * Tensor._wrap(w.reshape(wshape))
    rows = -_R.sum(lsm * q, dim=cdim)
    return _reduce(rows, reduction)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100,  # noqa: A002
             reduce=None, reduction="mean"):
    """Negative log-likelihood of class indices given log-probabilities (N, C, ...).

    >>> import chainrule as cr
    >>> F.nll_loss(cr.tensor([[-1.0, -2.0]]), cr.tensor([1])).item()
    2.0
    """
    name = "nll_loss"
    reduction = _reduction(name, reduction, size_average, reduce)
    x = _float(input)
    rows, t, shape = _class_targets(name, x, target, ignore_index)
    w = _weight_array(name, weight, rows.shape[1], x.dtype)
    out = apply(_op("nll_loss"), rows, t, weight=w, ignore_index=ignore_index,
                reduction=reduction)
    return out.reshape(shape) if reduction == "none" else out


def _pair(name, input, target):  # noqa: A002
    x, y = binary_args(_float(input), target)
    if x.shape != y.shape:
        try:
            np.broadcast_shapes(x.shape, y.shape)
        except ValueError:
            raise ShapeError(f"{name}: input of shape {x.shape} and target of shape {y.shape} "
                             "don't broadcast") from None
    return x, y


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):  # noqa: A002
    """Mean squared error ``(input - target)^2``, reduced.

    >>> import chainrule as cr
    >>> F.mse_loss(cr.tensor([1.0, 3.0]), cr.tensor([0.0, 0.0])).item()
    5.0
    """
    reduction = _reduction("mse_loss", reduction, size_average, reduce)
    x, y = _pair("mse_loss", input, target)
    d = x - y
    return _reduce(d * d, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):  # noqa: A002
    """Mean absolute error ``|input - target|``, reduced.

    >>> import chainrule as cr
    >>> F.l1_loss(cr.tensor([1.0, -3.0]), cr.tensor([0.0, 0.0])).item()
    2.0
    """
    reduction = _reduction("l1_loss", reduction, size_average, reduce)
    x, y = _pair("l1_loss", input, target)
    return _reduce(_E.abs(x - y), reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
                   beta=1.0):
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - beta / 2``.

    >>> import chainrule as cr
    >>> F.smooth_l1_loss(cr.tensor([0.5, 3.0]), cr.zeros(2), reduction="sum").item()
    2.625
    """
    reduction = _reduction("smooth_l1_loss", reduction, size_average, reduce)
    if beta < 0:
        raise ArgumentError(f"smooth_l1_loss: argument 'beta' must be >= 0, got {beta}")
    x, y = _pair("smooth_l1_loss", input, target)
    d = x - y
    ad = _E.abs(d)
    if beta == 0:
        return _reduce(ad, reduction)
    loss = _E.where(ad < beta, d * d * (0.5 / beta), ad - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0):  # noqa: A002
    """``0.5 d^2`` where ``|d| <= delta``, else ``delta (|d| - delta / 2)``.

    >>> import chainrule as cr
    >>> F.huber_loss(cr.tensor([0.5, 3.0]), cr.zeros(2), reduction="sum").item()
    2.625
    """
    reduction = _reduction("huber_loss", reduction)
    if delta <= 0:
        raise ArgumentError(f"huber_loss: argument 'delta' must be > 0, got {delta}")
    x, y = _pair("huber_loss", input, target)
    d = x - y
    ad = _E.abs(d)
    loss = _E.where(ad <= delta, d * d * 0.5, (ad - 0.5 * delta) * delta)
    return _reduce(loss, reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                         reduction="mean"):
    """``-(y log p + (1 - y) log(1 - p))`` for probabilities ``p``; logs clamped at -100 as
    PyTorch.

    >>> import chainrule as cr
    >>> round(F.binary_cross_entropy(cr.tensor([0.5]), cr.tensor([1.0])).item(), 4)
    0.6931
    """
    name = "binary_cross_entropy"
    reduction = _reduction(name, reduction, size_average, reduce)
    p, y = _pair(name, input, target)
    if p.shape != y.shape:
        raise ShapeError(f"{name}: target of shape {y.shape} must have the input's shape "
                         f"{p.shape}")
    if np.any((p.data < 0) | (p.data > 1)):
        raise ArgumentError(f"{name}: input must hold probabilities in [0, 1]; for logits use "
                            "binary_cross_entropy_with_logits")
    lp = _E.clamp(_E.log(p), min=-100.0)
    lq = _E.clamp(_E.log(1.0 - p), min=-100.0)
    loss = -(y * lp + (1.0 - y) * lq)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,  # noqa: A002
                                     reduce=None, reduction="mean", pos_weight=None):
    """Binary cross-entropy on logits, computed stably as
    ``(1 - y) x + (1 + (pos_weight - 1) y) softplus(-x)``.

    >>> import chainrule as cr
    >>> round(F.binary_cross_entropy_with_logits(cr.tensor([0.0]), cr.tensor([1.0])).item(), 4)
    0.6931
    """
    name = "binary_cross_entropy_with_logits"
    reduction = _reduction(name, reduction, size_average, reduce)
    x, y = _pair(name, input, target)
    if x.shape != y.shape:
        raise ShapeError(f"{name}: target of shape {y.shape} must have the input's shape "
                         f"{x.shape}")
    sp = _E.softplus(-x)
    if pos_weight is not None:
        lw = (as_tensor(pos_weight, x.dtype) - 1.0) * y + 1.0
        loss = (1.0 - y) * x + lw * sp
    else:
        loss = (1.0 - y) * x + sp
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
           log_target=False):
    """Pointwise ``target * (log target - input)`` with ``input`` log-probabilities.

    ``reduction='batchmean'`` divides the sum by the batch size (the true KL divergence).

    >>> import chainrule as cr
    >>> F.kl_div(cr.tensor([0.0]), cr.tensor([1.0]), reduction="sum").item()
    0.0
    """
    name = "kl_div"
    reduction = _reduction(name, reduction, size_average, reduce, extra=("batchmean",))
    x, t = _pair(name, input, target)
    if log_target:
        loss = _E.exp(t) * (t - x)
    else:
        # xlogy: 0 log 0 = 0, so zero targets contribute nothing (and no NaN gradient).
        pos = t > 0
        safe = _E.where(pos, t, 1.0)
        loss = _E.where(pos, t * _E.log(safe), 0.0) - t * x
    if reduction == "batchmean":
        n = x.shape[0] if x.ndim else 1
        return _R.sum(loss) / n
    return _reduce(loss, reduction)


def hinge_loss(input, target, margin=1.0, reduction="mean"):  # noqa: A002
    """``max(0, margin - y * y_hat)`` for labels ``y`` in {-1, 1}.

    >>> import chainrule as cr
    >>> F.hinge_loss(cr.tensor([0.5, 2.0]), cr.tensor([1.0, 1.0])).item()
    0.25
    """
    reduction = _reduction("hinge_loss", reduction)
    x, y = _pair("hinge_loss", input, target)
    _check_pm1("hinge_loss", y)
    return _reduce(_E.relu(margin - y * x), reduction)


def exponential_loss(input, target, reduction="mean"):  # noqa: A002
    """``exp(-y * y_hat)`` for labels ``y`` in {-1, 1} (the loss AdaBoost minimises).

    >>> import chainrule as cr
    >>> F.exponential_loss(cr.tensor([0.0]), cr.tensor([1.0])).item()
    1.0
    """
    reduction = _reduction("exponential_loss", reduction)
    x, y = _pair("exponential_loss", input, target)
    _check_pm1("exponential_loss", y)
    return _reduce(_E.exp(-(y * x)), reduction)


def _check_pm1(name, y):
    if not np.all((y.data == 1) | (y.data == -1)):
        bad = y.data[(y.data != 1) & (y.data != -1)].flat[0]
        raise ArgumentError(f"{name}: labels must be -1 or 1, got {bad}")


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,  # noqa: A002
                         reduction="mean"):
    """PyTorch's HingeEmbeddingLoss: ``x`` where ``y = 1``, ``max(0, margin - x)`` where
    ``y = -1``."""
    reduction = _reduction("hinge_embedding_loss", reduction, size_average, reduce)
    x, y = _pair("hinge_embedding_loss", input, target)
    loss = _E.where(y == 1, x, 0.0) + _E.where(y == -1, _E.relu(margin - x), 0.0)
    return _reduce(loss, reduction)


def sequence_cross_entropy(logits, targets, ignore_index=-100, lengths=None,
                           reduction="mean", label_smoothing=0.0):
    """Token-level cross-entropy for (B, T, V) logits and (B, T) targets, skipping padding.

    Positions whose target equals ``ignore_index``, or (when ``lengths`` is given) positions
    ``t >= lengths[b]``, add nothing; ``mean`` averages over the real tokens only.

    >>> import chainrule as cr
    >>> logits = cr.zeros(1, 3, 4)
    >>> round(F.sequence_cross_entropy(logits, cr.tensor([[1, 2, -100]])).item(), 4)
    1.3863
    """
    name = "sequence_cross_entropy"
    x = _float(logits)
    t = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
    if x.ndim != 3 or t.shape != x.shape[:2]:
        raise ShapeError(f"{name}: expected logits (B, T, V) and targets (B, T), got shapes "
                         f"{x.shape} and {t.shape}")
    if lengths is not None:
        ln = lengths.data if isinstance(lengths, Tensor) else np.asarray(lengths)
        if ln.shape != (x.shape[0],):
            raise ShapeError(f"{name}: argument 'lengths' expected shape ({x.shape[0]},), got "
                             f"{ln.shape}")
        pad = np.arange(x.shape[1])[None, :] >= ln[:, None]
        t = np.where(pad, ignore_index, t)
    reduction = _reduction(name, reduction)
    out = cross_entropy(x.reshape(-1, x.shape[2]), Tensor._wrap(t.reshape(-1)),
                        ignore_index=ignore_index, reduction=reduction,
                        label_smoothing=label_smoothing)
    return out.reshape(x.shape[:2]) if reduction == "none" else out


# -- similarity and normalisation ---------------------------------------------------------------
def _l2(x, dim):
    return _E.sqrt(_R.sum(x * x, dim=dim, keepdim=True))


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """``<x1, x2> / (max(||x1||, eps) * max(||x2||, eps))`` along ``dim``, as PyTorch.

    >>> import chainrule as cr
    >>> F.cosine_similarity(cr.tensor([[1.0, 0.0]]), cr.tensor([[1.0, 1.0]])).shape
    (1,)
    """
    a, b = binary_args(_float(x1), _float(x2))
    shape = np.broadcast_shapes(a.shape, b.shape)
    a, b = _SH.broadcast_to(a, shape), _SH.broadcast_to(b, shape)
    na = _E.clamp(_l2(a, dim), min=eps)
    nb = _E.clamp(_l2(b, dim), min=eps)
    return _R.sum((a / na) * (b / nb), dim=dim)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):  # noqa: A002
    """``x / max(||x||_p, eps)`` along ``dim``.

    >>> import chainrule as cr
    >>> F.normalize(cr.tensor([[3.0, 4.0]])).tolist()
    [[0.6000000238418579, 0.800000011920929]]
    """
    x = _float(input)
    if p == 2:
        n = _l2(x, dim)
    elif p == 1:
        n = _R.sum(_E.abs(x), dim=dim, keepdim=True)
    elif p == math.inf:
        n = _R.amax(_E.abs(x), dim=dim, keepdim=True)
    else:
        n = _R.sum(_E.abs(x) ** p, dim=dim, keepdim=True) ** (1.0 / p)
    return x / _E.clamp(n, min=eps)


def one_hot(tensor, num_classes=-1):
    """Integer class indices to int64 one-hot rows (a new last dim of ``num_classes``).

    >>> import chainrule as cr
    >>> F.one_hot(cr.tensor([0, 2]), 3).tolist()
    [[1, 0, 0], [0, 0, 1]]
    """
    t = tensor.data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if t.dtype.kind not in "iu":
        raise DTypeError(f"one_hot: expected an integer tensor of class indices, got {t.dtype}")
    if num_classes < 0:
        num_classes = int(t.max()) + 1 if t.size else 0
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        raise ArgumentError(f"one_hot: class values must be in [0, {num_classes - 1}], got "
                            f"values in [{int(t.min())}, {int(t.max())}]")
    out = np.zeros(t.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, t[..., None].astype(np.int64), 1, axis=-1)
    return Tensor._wrap(out)


# -- normalisation layers ----------------------------------------------------------------------
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Normalise over the trailing ``normalized_shape`` dims, then ``* weight + bias``; one fused
    primitive.

    >>> import chainrule as cr
    >>> F.layer_norm(cr.tensor([[1.0, 3.0]]), (2,)).tolist()
    [[-0.9999950528144836, 0.9999950528144836]]
    """
    x = _float(input)
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(ns)
    if k == 0 or x.shape[x.ndim - k:] != ns or x.ndim < k:
        raise ShapeError(f"layer_norm: expected input with trailing dims {ns}, got shape "
                         f"{x.shape}")
    args = [x]
    if weight is not None:
        args.append(as_tensor(weight, x.dtype))
        if bias is not None:
            args.append(as_tensor(bias, x.dtype))
    elif bias is not None:
        args += [Tensor._wrap(np.ones(ns, x.dtype)), as_tensor(bias, x.dtype)]
    axes = tuple(range(-k, 0))
    return apply(_op("layer_norm"), *args, axes=axes, eps=float(eps))


def batch_norm(input, running_mean, running_var, weight=None, bias=None,  # noqa: A002
               training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation over (N, C, ...) inputs.

    With ``training=True`` the batch's statistics are used, and ``running_mean`` /
    ``running_var`` (when given) are updated in place:
    ``running = (1 - momentum) * running + momentum * batch`` with the unbiased batch variance.
    With ``training=False`` the running statistics are used.

    >>> import chainrule as cr
    >>> rm, rv = cr.zeros(2), cr.ones(2)
    >>> y = F.batch_norm(cr.randn(8, 2), rm, rv, training=True)
    >>> bool((rm != 0).all())
    True
    """
    x = _float(input)
    if x.ndim < 2:
        raise ShapeError(f"batch_norm: expected input (N, C) or (N, C, ...), got shape {x.shape}")
    c = x.shape[1]
    bshape = (1, c) + (1,) * (x.ndim - 2)
    w = None if weight is None else as_tensor(weight, x.dtype)
    b = None if bias is None else as_tensor(bias, x.dtype)
    for nm, v in (("weight", w), ("bias", b), ("running_mean", running_mean),
                  ("running_var", running_var)):
        if v is not None and tuple(v.shape) != (c,):
            raise ShapeError(f"batch_norm: argument '{nm}' expected shape ({c},) for input "
                             f"with {c} channels (shape {x.shape}), got {tuple(v.shape)}")
    axes = (0,) + tuple(range(2, x.ndim))
    if training:
        n = x.data.size // c
        if n <= 1:
            raise ShapeError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {x.shape}")
        args = [x]
        if w is not None or b is not None:
            args.append(w.reshape(bshape) if w is not None
                        else Tensor._wrap(np.ones(bshape, x.dtype)))
            if b is not None:
                args.append(b.reshape(bshape))
        y = apply(_op("batch_norm"), *args, axes=axes, eps=float(eps))
        if running_mean is not None or running_var is not None:
            untraceable("batch norm's running statistics, updated outside the ops")
            kept = y._node.saved if y._node is not None else None
            if kept is not None:  # the batch's moments, as the op computed them
                mean, var = kept[2].reshape(c), kept[3].reshape(c)
            else:
                mean = x.data.mean(axis=axes)
                var = x.data.var(axis=axes)
            var = var * (n / (n - 1))
            if running_mean is not None:
                rm = _raw(running_mean)
                rm *= 1.0 - momentum
                rm += (momentum * mean).astype(rm.dtype, copy=False)
            if running_var is not None:
                rv = _raw(running_var)
                rv *= 1.0 - momentum
                rv += (momentum * var).astype(rv.dtype, copy=False)
        return y
    if running_mean is None or running_var is None:
        raise ArgumentError("batch_norm: running_mean and running_var are needed when "
                            "training=False")
    # through ops on the statistics' own tensors, so a traced step (compile) reads their
    # current values on every replay
    rm = as_tensor(running_mean, x.dtype).reshape(bshape)
    inv = _E.rsqrt(as_tensor(running_var, x.dtype).reshape(bshape) + eps)
    if w is None:
        scale = inv
    else:
        scale = w.reshape(bshape) * inv
    out = (x - rm) * scale
    if b is not None:
        out = out + b.reshape(bshape)
    return out


def _raw(t):
    return t.data if isinstance(t, Tensor) else t


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Normalise each of ``num_groups`` channel groups per sample, then a per-channel affine map.

    >>> import chainrule as cr
    >>> F.group_norm(cr.randn(2, 4, 3), 2).shape
    (2, 4, 3)
    """
    x = _float(input)
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ShapeError(f"group_norm: expected input (N, C, ...) with C divisible by "
                         f"num_groups={num_groups}, got shape {x.shape}")
    n, c = x.shape[:2]
    y = apply(_op("layer_norm"), x.reshape(n, num_groups, -1), axes=(-1,), eps=float(eps))
    y = y.reshape(x.shape)
    bshape = (1, c) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * as_tensor(weight, x.dtype).reshape(bshape)
    if bias is not None:
        y = y + as_tensor(bias, x.dtype).reshape(bshape)
    return y


# -- dropout and embedding -----------------------------------------------------------------------
def dropout(input, p=0.5, training=True, inplace=False, generator=None):  # noqa: A002
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Randomness comes from ``generator`` (default: the global default generator).

    >>> import chainrule as cr
    >>> y = F.dropout(cr.ones(4), 0.5, generator=cr.Generator().manual_seed(0))
    >>> sorted(set(y.tolist())) in ([0.0, 2.0], [0.0], [2.0])
    True
    """
    if not 0.0 <= p <= 1.0:
        raise ArgumentError(f"dropout: argument 'p' expected a probability in [0, 1], got {p}")
    x = _float(input)
    if not training or p == 0.0:
        return x
    dt = x.dtype
    if p == 1.0:
        mask = np.zeros(x.shape, dt)
    else:
        u = _gen(generator).random(x.shape, dtype=np.float32 if dt == np.float32 else np.float64)
        mask = (u >= p).astype(dt)
        mask *= dt.type(1.0 / (1.0 - p))
    return apply(_op("dropout"), x, mask=mask)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,  # noqa: A002
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` picked by integer ``input``; the row at ``padding_idx`` gets no
    gradient.

    >>> import chainrule as cr
    >>> F.embedding(cr.tensor([[0, 2]]), cr.eye(3)).shape
    (1, 2, 3)
    """
    idx = input.data if isinstance(input, Tensor) else np.asarray(input)
    w = as_tensor(weight)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    if w.ndim != 2:
        raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {w.shape}")
    v = w.shape[0]
    if idx.size and (idx.min() < -v or idx.max() >= v):
        raise ArgumentError(f"embedding: index out of range for {v} embeddings: got values in "
                            f"[{int(idx.min())}, {int(idx.max())}]")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += v
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise ArgumentError("embedding: max_norm, scale_grad_by_freq and sparse are not "
                            "supported")
    idx = np.where(idx < 0, idx + v, idx).astype(np.intp, copy=False)
    return apply(_op("embedding"), w, indices=idx, padding_idx=padding_idx)


# -- attention (the fused primitive lives with the other ops) ----------------------------------
from ..ops.attention import scaled_dot_product_attention  # noqa: E402, F401


# -- convolution -----------------------------------------------------------------------------------
def _ntuple(name, arg, v, n):
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return (int(v),) * n
    t = tuple(int(a) for a in v)
    if len(t) != n:
        raise ArgumentError(f"{name}: argument '{arg}' expected an int or {n} ints, got {v!r}")
    return t


def _conv_padding(name, padding, ksize, stride, dilation):
    """Padding as (before, after) per spatial dim; 'same' pads like PyTorch (extra on the
    right for even total padding)."""
    n = len(ksize)
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ArgumentError(f"{name}: padding='same' is not supported for strided "
                                    f"convolutions (stride={stride})")
            pads = []
            for k, d in zip(ksize, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
            return pads
        raise ArgumentError(f"{name}: argument 'padding' expected an int, a tuple, 'same' or "
                            f"'valid', got {padding!r}")
    p = _ntuple(name, "padding", padding, n)
    if any(v < 0 for v in p):
        raise ArgumentError(f"{name}: argument 'padding' must be non-negative, got {padding}")
    return [(v, v) for v in p]


def _conv_prep(name, input, weight, nsp, groups):  # noqa: A002
    x = _float(input)
    w = as_tensor(weight)
    if w.dtype != x.dtype:
        x, w = binary_args(x, w)
    unbatched = x.ndim == nsp + 1
    if unbatched:
        x = _SH.unsqueeze(x, 0)
    if x.ndim != nsp + 2 or w.ndim != nsp + 2:
        raise ShapeError(f"{name}: expected input (N, C, {'L' if nsp == 1 else 'H, W'}) and "
                         f"weight with {nsp + 2} dims, got shapes {tuple(input.shape)} and "
                         f"{w.shape}")
    if groups < 1 or x.shape[1] % groups:
        raise ArgumentError(f"{name}: in_channels ({x.shape[1]}) must be divisible by groups "
                            f"({groups})")
    return x, w, unbatched


def _as_2d(x, w, nsp):
    """1-D convolutions and pools run as 2-D ones over a height-1 image."""
    if nsp == 2:
        return x, w
    x = _SH.unsqueeze(x, 2)
    w = None if w is None else _SH.unsqueeze(w, 2)
    return x, w


def _convnd(name, nsp, input, weight, bias, stride, padding, dilation, groups,  # noqa: A002
            padding_mode="zeros"):
    x, w, unbatched = _conv_prep(name, input, weight, nsp, groups)
    o = w.shape[0]
    if o % groups or w.shape[1] * groups != x.shape[1]:
        raise ShapeError(f"{name}: weight of shape {w.shape} with groups={groups} expects "
                         f"{w.shape[1] * groups} input channels, got input of shape {x.shape}")
    stride = _ntuple(name, "stride", stride, nsp)
    dilation = _ntuple(name, "dilation", dilation, nsp)
    ksize = w.shape[2:]
    pads = _conv_padding(name, padding, ksize, stride, dilation)
    if padding_mode != "zeros" and any(a or b for a, b in pads):
        flat = []
        for a, b in reversed(pads):
            flat += [a, b]
        x = _SH.pad(x, tuple(flat), mode=padding_mode)
        pads = [(0, 0)] * nsp
    for size, (a, b), k, d, dim in zip(x.shape[2:], pads, ksize, dilation, "HW" if nsp == 2
                                       else "L"):
        if size + a + b < d * (k - 1) + 1:
            raise ShapeError(f"{name}: input of shape {tuple(x.shape)} is smaller than the "
                             f"(dilated) kernel {tuple(ksize)} along {dim} after padding")
    if nsp == 1:  # the conv2d ops take (N, C, L) as a height-1 image
        stride, dilation = (1,) + stride, (1,) + dilation
        padding2 = (0, 0) + pads[0]
    else:
        padding2 = pads[0] + pads[1]
    args = [x, w]
    if bias is not None:
        b = as_tensor(bias, x.dtype)
        if b.shape != (o,):
            raise ShapeError(f"{name}: argument 'bias' expected shape ({o},), got {b.shape}")
        args.append(b)
    out = apply(_op("conv2d"), *args, stride=stride, padding=padding2, dilation=dilation,
                groups=int(groups))
    return _SH.squeeze(out, 0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """1-D cross-correlation of (N, C_in, L) with weight (C_out, C_in / groups, k).

    ``padding`` is an int, 'valid' or 'same'. Runs as im2col plus one matrix product.

    >>> import chainrule as cr
    >>> F.conv1d(cr.ones(2, 1, 10), cr.ones(4, 1, 3), padding="same").shape
    (2, 4, 10)
    """
    return _convnd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """2-D cross-correlation of (N, C_in, H, W) with weight (C_out, C_in / groups, kh, kw).

    ``padding`` is an int, a pair, 'valid' or 'same' (even kernels pad one more at the bottom
    and right, as PyTorch). Runs as im2col (strided views) plus one matrix product.

    >>> import chainrule as cr
    >>> F.conv2d(cr.ones(2, 3, 8, 8), cr.ones(4, 3, 3, 3), stride=2, padding=1).shape
    (2, 4, 4, 4)
    """
    return _convnd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def _conv_transposend(name, nsp, input, weight, bias, stride, padding, output_padding,  # noqa: A002
                      groups, dilation):
    x, w, unbatched = _conv_prep(name, input, weight, nsp, groups)
    if w.shape[0] != x.shape[1]:
        raise ShapeError(f"{name}: weight of shape {w.shape} expects {w.shape[0]} input "
                         f"channels, got input of shape {x.shape}")
    stride = _ntuple(name, "stride", stride, nsp)
    dilation = _ntuple(name, "dilation", dilation, nsp)
    pad = _ntuple(name, "padding", padding, nsp)
    opad = _ntuple(name, "output_padding", output_padding, nsp)
    ksize = w.shape[2:]
    out_sz = []
    for size, s, p, op_, k, d in zip(x.shape[2:], stride, pad, opad, ksize, dilation):
        if op_ >= max(s, d):
            raise ArgumentError(f"{name}: output_padding ({op_}) must be smaller than stride "
                                f"or dilation ({s}, {d})")
        out_sz.append((size - 1) * s - 2 * p + d * (k - 1) + op_ + 1)
    if min(out_sz) < 1:
        raise ShapeError(f"{name}: input of shape {tuple(x.shape)} gives an empty output "
                         f"{tuple(out_sz)}")
    x2, w2 = _as_2d(x, w, nsp)
    if nsp == 1:
        stride, dilation = (1,) + stride, (1,) + dilation
        padding2, in_hw = (0, 0, pad[0], pad[0]), (1, out_sz[0])
    else:
        padding2, in_hw = (pad[0], pad[0], pad[1], pad[1]), tuple(out_sz)
    out = apply(_op("conv2d_input_grad"), x2, w2, in_hw=in_hw, stride=stride,
                padding=padding2, dilation=dilation, groups=int(groups))
    if bias is not None:
        c = out.shape[1]
        b = as_tensor(bias, x.dtype)
        if b.shape != (c,):
            raise ShapeError(f"{name}: argument 'bias' expected shape ({c},), got {b.shape}")
        out = out + b.reshape(1, c, 1, 1)
    if nsp == 1:
        out = _SH.squeeze(out, 2)
    return _SH.squeeze(out, 0) if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0,  # noqa: A002
                     output_padding=0, groups=1, dilation=1):
    """Transposed 1-D convolution (the gradient of conv1d in its input); weight
    (C_in, C_out / groups, k).

    >>> import chainrule as cr
    >>> F.conv_transpose1d(cr.ones(2, 4, 5), cr.ones(4, 3, 3), stride=2).shape
    (2, 3, 11)
    """
    return _conv_transposend("conv_transpose1d", 1, input, weight, bias, stride, padding,
                             output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0,  # noqa: A002
                     output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution; weight (C_in, C_out / groups, kh, kw).

    >>> import chainrule as cr
    >>> F.conv_transpose2d(cr.ones(1, 4, 5, 5), cr.ones(4, 2, 3, 3), stride=2, padding=1,
    ...                    output_padding=1).shape
    (1, 2, 10, 10)
    """
    return _conv_transposend("conv_transpose2d", 2, input, weight, bias, stride, padding,
                             output_padding, groups, dilation)


# -- pooling ---------------------------------------------------------------------------------------
def _pool_out(name, size, k, s, p, d, ceil_mode):
    if p > k // 2:
        raise ArgumentError(f"{name}: padding ({p}) should be at most half the kernel size "
                            f"({k})")
    span = size + 2 * p - d * (k - 1) - 1
    if span < 0:
        raise ShapeError(f"{name}: input size {size} (padding {p}) is smaller than the kernel "
                         f"size {d * (k - 1) + 1}")
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1  # the last window must start inside the input or the left padding
    return out


def _pool_prep(name, input, nsp, kernel_size, stride, padding, dilation=1):  # noqa: A002
    x = _float(input)
    unbatched = x.ndim == nsp + 1
    if unbatched:
        x = _SH.unsqueeze(x, 0)
    if x.ndim != nsp + 2:
        raise ShapeError(f"{name}: expected input (N, C, {'L' if nsp == 1 else 'H, W'}) or "
                         f"(C, {'L' if nsp == 1 else 'H, W'}), got shape {tuple(x.shape)}")
    k = _ntuple(name, "kernel_size", kernel_size, nsp)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else \
        _ntuple(name, "stride", stride, nsp)
    p = _ntuple(name, "padding", padding, nsp)
    d = _ntuple(name, "dilation", dilation, nsp)
    if nsp == 1:
        x = _SH.unsqueeze(x, 2)
        k, s, p, d = (1,) + k, (1,) + s, (0,) + p, (1,) + d
    return x, k, s, p, d, unbatched


def _pool_finish(out, nsp, unbatched):
    if nsp == 1:
        out = _SH.squeeze(out, 2)
    return _SH.squeeze(out, 0) if unbatched else out


def _maxpoolnd(name, nsp, input, kernel_size, stride, padding, dilation, ceil_mode,  # noqa: A002
               return_indices):
    x, k, s, p, d, unbatched = _pool_prep(name, input, nsp, kernel_size, stride, padding,
                                          dilation)
    n, c, h, w = x.shape
    ho = _pool_out(name, h, k[0], s[0], p[0], d[0], ceil_mode)
    wo = _pool_out(name, w, k[1], s[1], p[1], d[1], ceil_mode)
    hb = max((ho - 1) * s[0] + d[0] * (k[0] - 1) + 1 - h - p[0], 0)
    wb = max((wo - 1) * s[1] + d[1] * (k[1] - 1) + 1 - w - p[1], 0)
    attrs = dict(ksize=k, stride=s, padding=(p[0], hb, p[1], wb), dilation=d, out_hw=(ho, wo))
    out = apply(_op("max_pool2d"), x, **attrs)
    if return_indices:
        arg = _FU.maxpool_winners(x.data, out.data, **attrs)
        index = _FU.maxpool_indices(arg, (h, w), k, s, attrs["padding"], d)
    out = _pool_finish(out, nsp, unbatched)
    if not return_indices:
        return out
    idx = index.reshape(n, c, wo) if nsp == 1 else index
    if unbatched:
        idx = idx[0]
    return out, Tensor._wrap(idx)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    """Max over sliding windows of (N, C, L); with ``return_indices`` also the argmax
    positions along L.

    >>> import chainrule as cr
    >>> F.max_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
    [[[3.0, 2.0]]]
    """
    return _maxpoolnd("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                      return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    """Max over sliding windows of (N, C, H, W); with ``return_indices`` also PyTorch's flat
    per-plane argmax indices (``row * W + col`` in the unpadded input).

    >>> import chainrule as cr
    >>> y, i = F.max_pool2d(cr.arange(16.0).reshape(1, 1, 4, 4), 2, return_indices=True)
    >>> y.tolist(), i.tolist()
    ([[[[5.0, 7.0], [13.0, 15.0]]]], [[[[5, 7], [13, 15]]]])
    """
    return _maxpoolnd("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                      return_indices)


def _window_counts(size, out, k, s, p, count_include_pad):
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    if count_include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


def _avgpoolnd(name, nsp, input, kernel_size, stride, padding, ceil_mode,  # noqa: A002
               count_include_pad, divisor_override):
    x, k, s, p, _, unbatched = _pool_prep(name, input, nsp, kernel_size, stride, padding)
    n, c, h, w = x.shape
    ho = _pool_out(name, h, k[0], s[0], p[0], 1, ceil_mode)
    wo = _pool_out(name, w, k[1], s[1], p[1], 1, ceil_mode)
    hb = max((ho - 1) * s[0] + k[0] - h - p[0], 0)
    wb = max((wo - 1) * s[1] + k[1] - w - p[1], 0)
    if divisor_override:
        scale = np.full((ho, wo), 1.0 / divisor_override)
    else:
        ch = _window_counts(h, ho, k[0], s[0], p[0], count_include_pad)
        cw = _window_counts(w, wo, k[1], s[1], p[1], count_include_pad)
        scale = 1.0 / np.outer(ch, cw)
    out = apply(_op("avg_pool2d"), x, ksize=k, stride=s, padding=(p[0], hb, p[1], wb),
                out_hw=(ho, wo), scale=scale.astype(x.dtype))
    return _pool_finish(out, nsp, unbatched)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,  # noqa: A002
               count_include_pad=True):
    """Mean over sliding windows of (N, C, L).

    >>> import chainrule as cr
    >>> F.avg_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
    [[[2.0, 1.0]]]
    """
    return _avgpoolnd("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                      count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,  # noqa: A002
               count_include_pad=True, divisor_override=None):
    """Mean over sliding windows of (N, C, H, W), as PyTorch (``count_include_pad``,
    ``ceil_mode``, ``divisor_override``).

    >>> import chainrule as cr
    >>> F.avg_pool2d(cr.ones(1, 1, 4, 4), 2).shape
    (1, 1, 2, 2)
    """
    return _avgpoolnd("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                      count_include_pad, divisor_override)


def _adaptive_matrix(size, out, dtype):
    """Rows average PyTorch's adaptive windows [floor(i*size/out), ceil((i+1)*size/out))."""
    m = np.zeros((out, size), dtype=dtype)
    for i in range(out):  # loops over output positions only (tiny), never over data
        a = (i * size) // out
        b = -(-((i + 1) * size) // out)
        m[i, a:b] = 1.0 / (b - a)
    return m


def _adaptive_avgnd(name, nsp, input, output_size):  # noqa: A002
    x = _float(input)
    unbatched = x.ndim == nsp + 1
    if unbatched:
        x = _SH.unsqueeze(x, 0)
    if x.ndim != nsp + 2:
        raise ShapeError(f"{name}: expected input (N, C, {'L' if nsp == 1 else 'H, W'}), got "
                         f"shape {tuple(x.shape)}")
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size,) * nsp
    osz = tuple(x.shape[2 + i] if o is None else int(o) for i, o in enumerate(output_size))
    if len(osz) != nsp or min(osz) < 1:
        raise ArgumentError(f"{name}: argument 'output_size' expected {nsp} positive ints, got "
                            f"{output_size!r}")
    sizes = x.shape[2:]
    if nsp == 1:
        x = _SH.unsqueeze(x, 2)
        sizes, osz = (1,) + sizes, (1,) + osz
    if all(s % o == 0 for s, o in zip(sizes, osz)):
        k = tuple(s // o for s, o in zip(sizes, osz))
        out = apply(_op("avg_pool2d"), x, ksize=k, stride=k, padding=(0, 0, 0, 0), out_hw=osz,
                    scale=np.full(osz, 1.0 / (k[0] * k[1]), dtype=x.dtype))
    else:
        mh = Tensor._wrap(_adaptive_matrix(sizes[0], osz[0], x.dtype))
        mw = Tensor._wrap(_adaptive_matrix(sizes[1], osz[1], x.dtype).T.copy())
        out = (mh @ x) @ mw
    return _pool_finish(out, nsp, unbatched)


def adaptive_avg_pool1d(input, output_size):  # noqa: A002
    """Average pooling of (N, C, L) to ``output_size`` positions with PyTorch's windows.

    >>> import chainrule as cr
    >>> F.adaptive_avg_pool1d(cr.ones(2, 3, 10), 4).shape
    (2, 3, 4)
    """
    return _adaptive_avgnd("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):  # noqa: A002
    """Average pooling of (N, C, H, W) to ``output_size`` with PyTorch's windows.

    >>> import chainrule as cr
    >>> F.adaptive_avg_pool2d(cr.ones(2, 3, 7, 9), (1, 1)).shape
    (2, 3, 1, 1)
    """
    return _adaptive_avgnd("adaptive_avg_pool2d", 2, input, output_size)
