"""The tensor namespace: the twin of :mod:`chainrule.core.npns` on tensors.

Rules run against this namespace when their result must itself be differentiable (higher
orders, forward mode); every function here records graph like any user code.
"""

from __future__ import annotations

from ..core.dispatch import apply as _apply
from ..core.registry import REGISTRY
from ..tensor import Tensor
from . import elementwise as E
from . import linalg as L
from . import reduce as R
from . import shape as SH
from ._util import as_tensor

is_tensor_ns = True
exp, log, sqrt, tanh, sin, cos = E.exp, E.log, E.sqrt, E.tanh, E.sin, E.cos
sinh, cosh, rsqrt, erf, sigmoid = E.sinh, E.cosh, E.rsqrt, E.erf, E.sigmoid
abs, sign, log1p, expm1, square = E.abs, E.sign, E.log1p, E.expm1, E.square  # noqa: A001
maximum, minimum = E.maximum, E.minimum
logical_and, logical_not = E.logical_and, E.logical_not
matmul, einsum = L.matmul, L.einsum


def where(c, a, b):
    return E.where(c, a, b)


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return R.sum(x, axis=axis, keepdims=keepdims)


def reshape(x, shape):
    return SH.reshape(x, tuple(shape))


def transpose(x, axes=None):
    x = as_tensor(x)
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    return SH.permute(x, tuple(axes))


def swapaxes(x, a, b):
    return SH.transpose(x, a, b)


def broadcast_to(x, shape):
    return SH.broadcast_to(x, tuple(shape))


def sum_to(x, shape):
    x = as_tensor(x)
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return _apply(REGISTRY["sum_to"], x, shape=shape)


def expand_dims(x, axis):
    return SH.expand_dims(x, axis)


def astype(x, dtype):
    return E.astype(x, dtype)


def zeros_like(x):
    import numpy as np

    return Tensor._wrap(np.zeros(x.shape, dtype=x.dtype))


def ones_like(x):
    import numpy as np

    return Tensor._wrap(np.ones(x.shape, dtype=x.dtype))


def zeros(shape, dtype):
    import numpy as np

    return Tensor._wrap(np.zeros(shape, dtype))


def concatenate(xs, axis=0):
    return SH.cat(list(xs), axis)


def flip(x, axis):
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    return SH.flip(x, axis)


def roll(x, shift, axis):
    return _apply(REGISTRY["roll"], as_tensor(x), shift=shift, axis=axis)


def cumsum(x, axis):
    return R.cumsum(x, axis)


def cumprod(x, axis):
    return R.cumprod(x, axis)


def add_at(shape, key, g):
    return _apply(REGISTRY["add_at"], as_tensor(g), key=key, shape=tuple(shape))


def gather(x, axis, index):
    return _apply(REGISTRY["gather"], as_tensor(x), axis=axis, index=index)


def scatter_add(shape, axis, index, src):
    return _apply(REGISTRY["scatter_add_into"], as_tensor(src), shape=tuple(shape), axis=axis,
                  index=index)


def take_along_axis(x, index, axis):
    return gather(x, axis, index)


def apply(name, *args, **attrs):
    """Apply a registered op to tensors (recording graph)."""
    return _apply(REGISTRY[name], *[as_tensor(a) for a in args], **attrs)
