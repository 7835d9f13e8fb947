"""The numpy namespace that derivative rules run against on the fast (first-order) path.

Every name here has a twin with the same signature in :mod:`chainrule.ops.tns`, where it records
graph. Rules use only these names (and arithmetic operators), so one rule serves both paths.
"""

from __future__ import annotations

import math

import numpy as np

from .registry import REGISTRY

exp = np.exp
log = np.log
sqrt = np.sqrt
tanh = np.tanh
sin = np.sin
cos = np.cos
abs = np.abs  # noqa: A001
sign = np.sign
log1p = np.log1p
expm1 = np.expm1
square = np.square
where = np.where
maximum = np.maximum
minimum = np.minimum
matmul = np.matmul
zeros_like = np.zeros_like
ones_like = np.ones_like
concatenate = np.concatenate
einsum = np.einsum
flip = np.flip
roll = np.roll
cumsum = np.cumsum
cumprod = np.cumprod
expand_dims = np.expand_dims
take_along_axis = np.take_along_axis
logical_and = np.logical_and
logical_not = np.logical_not
is_tensor_ns = False

try:  # scipy is optional: a vectorised math.erf is the exact fallback
    from scipy.special import erf as _erf
except ImportError:  # pragma: no cover - exercised only without scipy
    _verf = np.vectorize(math.erf, otypes=[np.float64])

    def _erf(x):
        return _verf(x).astype(np.result_type(x, np.float32), copy=False)


def erf(x):
    out = _erf(x)
    return out.astype(x.dtype, copy=False) if isinstance(x, np.ndarray) else out


def sigmoid(x):
    # 0.5 * (1 + tanh(x / 2)) is exact and never overflows, unlike 1 / (1 + exp(-x)).
    out = np.tanh(x * 0.5)
    out *= 0.5
    out += 0.5
    return out


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return x.sum(axis=axis, keepdims=keepdims)


def reshape(x, shape):
    return x.reshape(shape)


def transpose(x, axes=None):
    return x.transpose(axes)


def swapaxes(x, a, b):
    return x.swapaxes(a, b)


def broadcast_to(x, shape):
    return np.broadcast_to(x, shape)


def sum_to(x, shape):
    """Sum ``x`` down to ``shape`` (the transpose of broadcasting)."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and x.shape[i + lead] != 1)
    out = x.sum(axis=axes, keepdims=True) if axes else x
    if lead:
        out = out.reshape(out.shape[lead:])
    return out.reshape(shape)


def astype(x, dtype):
    return x.astype(dtype, copy=False)


def zeros(shape, dtype):
    return np.zeros(shape, dtype)


def add_at(shape, key, g):
    """Scatter-add ``g`` into zeros of ``shape`` at ``key`` (the transpose of ``x[key]``)."""
    out = np.zeros(shape, dtype=g.dtype)
    if _is_basic_key(key):
        out[key] = g
    else:
        np.add.at(out, key, g)
    return out


def _is_basic_key(key):
    if not isinstance(key, tuple):
        key = (key,)
    for k in key:
        if not (k is None or k is Ellipsis or isinstance(k, (int, slice, np.integer))):
            return False
    return True


def scatter_add(shape, axis, index, src):
    """Zeros of ``shape`` with ``src`` added at ``index`` along ``axis`` (transpose of gather)."""
    out = np.zeros(shape, dtype=src.dtype)
    idx = list(np.indices(index.shape, sparse=True))
    idx[axis] = index
    np.add.at(out, tuple(idx), src)
    return out


def gather(x, axis, index):
    return np.take_along_axis(x, index, axis=axis)


def apply(name, *args, **attrs):
    """Run a registered op's forward on arrays."""
    return REGISTRY[name].forward(*args, **attrs)


sinh = np.sinh
cosh = np.cosh


def rsqrt(x):
    return 1.0 / np.sqrt(x)
