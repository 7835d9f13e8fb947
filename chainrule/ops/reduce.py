"""Reductions over all dims, one dim or several: sum, mean, prod, max/min, logsumexp, norms,
cumulative sums and products, and the non-differentiable argmax/argmin/all/any.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import backend
from ..core.dispatch import apply
from ..core.registry import explicit, linear, nondiff
from ..errors import ArgumentError
from ..tensor import Tensor
from ._util import as_tensor, dim_arg, keep_arg, norm_axes, norm_dim, op

S = dict
_RED = [S(args=[(3, 4)], attrs=dict(axis=None, keepdims=False)),
        S(args=[(3, 4)], attrs=dict(axis=(1,), keepdims=False)),
        S(args=[(2, 3, 4)], attrs=dict(axis=(0, 2), keepdims=True))]


def _kept_shape(shape, axis):
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else s for i, s in enumerate(shape))


def _expand(xp, g, shape, axis, keepdims):
    """Broadcast a reduced cotangent back to the input's ``shape``."""
    if not keepdims:
        g = xp.reshape(g, _kept_shape(shape, axis))
    return xp.broadcast_to(g, shape)


def _count(shape, axis):
    if axis is None:
        return int(np.prod(shape, dtype=np.int64))
    return int(np.prod([shape[i] for i in axis], dtype=np.int64))


# -- sum / mean --------------------------------------------------------------------------------
linear("sum", lambda x, axis=None, keepdims=False: x.sum(axis=axis, keepdims=keepdims),
       lambda xp, g, out, ins, needs, axis=None, keepdims=False:
       (_expand(xp, g, ins[0].shape, axis, keepdims),), samples=_RED)
linear("mean", lambda x, axis=None, keepdims=False: x.mean(axis=axis, keepdims=keepdims),
       lambda xp, g, out, ins, needs, axis=None, keepdims=False:
       (_expand(xp, g, ins[0].shape, axis, keepdims) * (1.0 / _count(ins[0].shape, axis)),),
       samples=_RED)


def _sum_to_fwd(x, shape):
    from ..core.npns import sum_to

    return sum_to(x, shape)


linear("sum_to", _sum_to_fwd,
       lambda xp, g, out, ins, needs, shape: (xp.broadcast_to(g, ins[0].shape),),
       samples=[S(args=[(2, 3, 4)], attrs=dict(shape=(3, 1)))])


# -- prod --------------------------------------------------------------------------------------
def _prod_vjp(xp, g, out, ins, needs, axis=None, keepdims=False):
    x = ins[0]
    gb = _expand(xp, g * out, x.shape, axis, keepdims)
    return (gb / x,)


def _prod_jvp(xp, ts, out, ins, axis=None, keepdims=False):
    return out * xp.sum(ts[0] / ins[0], axis=axis, keepdims=keepdims)


explicit("prod", lambda x, axis=None, keepdims=False: np.prod(x, axis=axis, keepdims=keepdims),
         _prod_vjp, _prod_jvp,
         samples=[S(args=[(3, 4)], attrs=dict(axis=(1,)), domain=(0.5, 1.5)),
                  S(args=[(2, 3)], attrs=dict(axis=None), domain=(0.5, 1.5))])


# -- amax / amin: ties share the gradient evenly -----------------------------------------------
def _ext_vjp(xp, g, out, ins, needs, axis=None, keepdims=False):
    x = ins[0]
    ob = _expand(xp, out, x.shape, axis, keepdims)
    mask = xp.astype(x == ob, x.dtype)
    cnt = xp.sum(mask, axis=axis, keepdims=True)
    return (_expand(xp, g, x.shape, axis, keepdims) * mask / cnt,)


def _ext_jvp(xp, ts, out, ins, axis=None, keepdims=False):
    x = ins[0]
    ob = _expand(xp, out, x.shape, axis, keepdims)
    mask = xp.astype(x == ob, x.dtype)
    return xp.sum(ts[0] * mask, axis=axis, keepdims=keepdims) / xp.sum(
        mask, axis=axis, keepdims=keepdims)


explicit("amax", lambda x, axis=None, keepdims=False: x.max(axis=axis, keepdims=keepdims),
         _ext_vjp, _ext_jvp, smooth=False, samples=_RED)
explicit("amin", lambda x, axis=None, keepdims=False: x.min(axis=axis, keepdims=keepdims),
         _ext_vjp, _ext_jvp, smooth=False, samples=_RED)


# -- logsumexp ---------------------------------------------------------------------------------
def _lse_fwd(x, axis=None, keepdims=False):
    m = np.amax(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    s = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return s if keepdims else (np.squeeze(s, axis=axis) if axis is not None else s.reshape(()))


def _lse_vjp(xp, g, out, ins, needs, axis=None, keepdims=False):
    x = ins[0]
    p = xp.exp(x - _expand(xp, out, x.shape, axis, keepdims))
    return (_expand(xp, g, x.shape, axis, keepdims) * p,)


def _lse_jvp(xp, ts, out, ins, axis=None, keepdims=False):
    x = ins[0]
    p = xp.exp(x - _expand(xp, out, x.shape, axis, keepdims))
    return xp.sum(ts[0] * p, axis=axis, keepdims=keepdims)


explicit("logsumexp", _lse_fwd, _lse_vjp, _lse_jvp, samples=_RED)


# -- 2-norm (gradient 0 at 0) ------------------------------------------------------------------
def _norm2_fwd(x, axis=None, keepdims=False):
    return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))


def _norm2_vjp(xp, g, out, ins, needs, axis=None, keepdims=False):
    x = ins[0]
    ob = _expand(xp, out, x.shape, axis, keepdims)
    safe = xp.where(ob > 0, ob, 1.0)
    return (_expand(xp, g, x.shape, axis, keepdims) * xp.where(ob > 0, x / safe, 0.0),)


def _norm2_jvp(xp, ts, out, ins, axis=None, keepdims=False):
    x = ins[0]
    safe = xp.where(out > 0, out, 1.0)
    return xp.where(out > 0, xp.sum(ts[0] * x, axis=axis, keepdims=keepdims) / safe, 0.0)


explicit("norm2", _norm2_fwd, _norm2_vjp, _norm2_jvp, samples=_RED)


# -- cumulative ----------------------------------------------------------------------------
def _rev_cumsum(xp, g, axis):
    return xp.flip(xp.cumsum(xp.flip(g, axis), axis=axis), axis)


linear("cumsum", lambda x, axis: np.cumsum(x, axis=axis),
       lambda xp, g, out, ins, needs, axis: (_rev_cumsum(xp, g, axis),),
       samples=[S(args=[(3, 4)], attrs=dict(axis=1)), S(args=[(3, 4)], attrs=dict(axis=0))])


def _cumprod_vjp(xp, g, out, ins, needs, axis):
    return (_rev_cumsum(xp, g * out, axis) / ins[0],)


def _cumprod_jvp(xp, ts, out, ins, axis):
    return out * xp.cumsum(ts[0] / ins[0], axis=axis)


explicit("cumprod", lambda x, axis: np.cumprod(x, axis=axis), _cumprod_vjp, _cumprod_jvp,
         samples=[S(args=[(3, 4)], attrs=dict(axis=1), domain=(0.5, 1.5))])

# -- non-differentiable ------------------------------------------------------------------------
nondiff("argmax", lambda x, axis=None, keepdims=False: np.argmax(x, axis=axis,
                                                                  keepdims=keepdims))
nondiff("argmin", lambda x, axis=None, keepdims=False: np.argmin(x, axis=axis,
                                                                  keepdims=keepdims))
nondiff("all", lambda x, axis=None, keepdims=False: np.all(x, axis=axis, keepdims=keepdims))
nondiff("any", lambda x, axis=None, keepdims=False: np.any(x, axis=axis, keepdims=keepdims))


# -- front-end ---------------------------------------------------------------------------------
def _axes(name, x, dim, axis):
    return norm_axes(name, dim_arg(name, dim, axis), x.ndim)


def sum(input, dim=None, keepdim=False, dtype=None, *, axis=None, keepdims=False):  # noqa: A001
    """Sum over all elements or over ``dim`` (an int or a tuple)."""
    x = as_tensor(input)
    if dtype is not None:
        x = x.astype(dtype)
    elif x.data.dtype.kind in "bi" and x.data.dtype != backend.int64:
        x = Tensor._wrap(x.data.astype(backend.int64))
    return apply(op("sum"), x, axis=_axes("sum", x, dim, axis),
                 keepdims=keep_arg(keepdim, keepdims))


def mean(input, dim=None, keepdim=False, dtype=None, *, axis=None, keepdims=False):  # noqa: A002
    """Mean over all elements or over ``dim``."""
    x = _floatify(as_tensor(input), dtype)
    return apply(op("mean"), x, axis=_axes("mean", x, dim, axis),
                 keepdims=keep_arg(keepdim, keepdims))


def _floatify(x, dtype=None):
    if dtype is not None:
        return x.astype(dtype)
    if x.data.dtype.kind != "f":
        return as_tensor(x, backend.get_default_dtype())
    return x


def prod(input, dim=None, keepdim=False, *, axis=None, keepdims=False):  # noqa: A002
    x = as_tensor(input)
    return apply(op("prod"), x, axis=_axes("prod", x, dim, axis),
                 keepdims=keep_arg(keepdim, keepdims))


def amax(input, dim=None, keepdim=False, *, axis=None, keepdims=False):  # noqa: A002
    """Maximum over ``dim``; tied maxima share the gradient evenly."""
    x = as_tensor(input)
    return apply(op("amax"), x, axis=_axes("amax", x, dim, axis),
                 keepdims=keep_arg(keepdim, keepdims))


def amin(input, dim=None, keepdim=False, *, axis=None, keepdims=False):  # noqa: A002
    x = as_tensor(input)
    return apply(op("amin"), x, axis=_axes("amin", x, dim, axis),
                 keepdims=keep_arg(keepdim, keepdims))


MaxMin = namedtuple("MaxMin", ["values", "indices"])


def _extreme(name, input, dim, keepdim, axis, keepdims, fn):  # noqa: A002
    x = as_tensor(input)
    d = dim_arg(name, dim, axis)
    if d is None:
        return fn(x)
    if not isinstance(d, (int, np.integer)):
        raise ArgumentError(f"{name}: argument 'dim' expected one int (use amax/amin for "
                            f"several dims), got {d!r}")
    d = norm_dim(name, d, x.ndim)
    k = keep_arg(keepdim, keepdims)
    idx = apply(op("argmax" if name == "max" else "argmin"), x, axis=d, keepdims=True)
    from .shape import take_along_dim

    vals = take_along_dim(x, idx, dim=d)
    if not k:
        vals = vals.squeeze(d)
        idx = idx.squeeze(d)
    return MaxMin(vals, idx)


def max(input, dim=None, keepdim=False, *, axis=None, keepdims=False):  # noqa: A001, A002
    """Maximum of all elements, or ``(values, indices)`` along ``dim`` (first index on ties).

    With a tensor as second argument, the elementwise maximum.
    """
    if isinstance(dim, Tensor):
        from .elementwise import maximum

        return maximum(input, dim)
    return _extreme("max", input, dim, keepdim, axis, keepdims, amax)


def min(input, dim=None, keepdim=False, *, axis=None, keepdims=False):  # noqa: A001, A002
    """Minimum of all elements, or ``(values, indices)`` along ``dim``."""
    if isinstance(dim, Tensor):
        from .elementwise import minimum

        return minimum(input, dim)
    return _extreme("min", input, dim, keepdim, axis, keepdims, amin)


def argmax(input, dim=None, keepdim=False, *, axis=None, keepdims=False):  # noqa: A002
    x = as_tensor(input)
    d = dim_arg("argmax", dim, axis)
    d = None if d is None else norm_dim("argmax", d, x.ndim)
    return apply(op("argmax"), x, axis=d, keepdims=keep_arg(keepdim, keepdims) and d is not None)


def argmin(input, dim=None, keepdim=False, *, axis=None, keepdims=False):  # noqa: A002
    x = as_tensor(input)
    d = dim_arg("argmin", dim, axis)
    d = None if d is None else norm_dim("argmin", d, x.ndim)
    return apply(op("argmin"), x, axis=d, keepdims=keep_arg(keepdim, keepdims) and d is not None)


def all(input, dim=None, keepdim=False, *, axis=None, keepdims=False):  # noqa: A001, A002
    x = as_tensor(input)
    return apply(op("all"), x, axis=_axes("all", x, dim, axis),
                 keepdims=keep_arg(keepdim, keepdims))


def any(input, dim=None, keepdim=False, *, axis=None, keepdims=False):  # noqa: A001, A002
    x = as_tensor(input)
    return apply(op("any"), x, axis=_axes("any", x, dim, axis),
                 keepdims=keep_arg(keepdim, keepdims))


def logsumexp(input, dim=None, keepdim=False, *, axis=None, keepdims=False):  # noqa: A002
    """``log(sum(exp(x)))`` computed stably (finite for inputs of +-1e4)."""
    x = _floatify(as_tensor(input))
    return apply(op("logsumexp"), x, axis=_axes("logsumexp", x, dim, axis),
                 keepdims=keep_arg(keepdim, keepdims))


def var(input, dim=None, *, correction=1, unbiased=None, keepdim=False, axis=None,  # noqa: A002
        keepdims=False):
    """Variance with ``correction`` (1: unbiased, as PyTorch's default; 0: population)."""
    x = _floatify(as_tensor(input))
    axes = _axes("var", x, dim, axis)
    if unbiased is not None:
        correction = 1 if unbiased else 0
    k = keep_arg(keepdim, keepdims)
    n = _count(x.shape, axes)
    mu = apply(op("mean"), x, axis=axes, keepdims=True)
    d = x - mu
    return apply(op("sum"), d * d, axis=axes, keepdims=k) * (1.0 / _max(n - correction,
                                                                                 0))


def _max(a, b):
    return a if a > b else b


def std(input, dim=None, *, correction=1, unbiased=None, keepdim=False, axis=None,  # noqa: A002
        keepdims=False):
    """Standard deviation, ``sqrt(var(...))``."""
    from .elementwise import sqrt

    return sqrt(var(input, dim, correction=correction, unbiased=unbiased, keepdim=keepdim,
                    axis=axis, keepdims=keepdims))


def norm(input, p="fro", dim=None, keepdim=False, *, axis=None, keepdims=False):  # noqa: A002
    """Vector or Frobenius norm: ``p`` in 1, 2, inf, -inf, 'fro' or any positive number."""
    from .elementwise import abs as _abs
    from .elementwise import pow as _pow

    x = _floatify(as_tensor(input))
    axes = _axes("norm", x, dim, axis)
    k = keep_arg(keepdim, keepdims)
    if p in ("fro", 2, 2.0, None):
        return apply(op("norm2"), x, axis=axes, keepdims=k)
    if p in (1, 1.0):
        return apply(op("sum"), _abs(x), axis=axes, keepdims=k)
    if p == float("inf") or p == "inf":
        return apply(op("amax"), _abs(x), axis=axes, keepdims=k)
    if p == float("-inf"):
        return apply(op("amin"), _abs(x), axis=axes, keepdims=k)
    if isinstance(p, (int, float)) and p > 0:
        return _pow(apply(op("sum"), _pow(_abs(x), p), axis=axes, keepdims=k), 1.0 / p)
    raise ArgumentError(f"norm: argument 'p' expected 1, 2, inf, -inf, 'fro' or a positive "
                        f"number, got {p!r}")


def cumsum(input, dim=None, *, axis=None):  # noqa: A002
    x = as_tensor(input)
    d = dim_arg("cumsum", dim, axis)
    if d is None:
        raise ArgumentError("cumsum: argument 'dim' is required")
    return apply(op("cumsum"), x, axis=norm_dim("cumsum", d, x.ndim))


def cumprod(input, dim=None, *, axis=None):  # noqa: A002
    x = as_tensor(input)
    d = dim_arg("cumprod", dim, axis)
    if d is None:
        raise ArgumentError("cumprod: argument 'dim' is required")
    return apply(op("cumprod"), x, axis=norm_dim("cumprod", d, x.ndim))


def count_nonzero(input, dim=None):  # noqa: A002
    x = as_tensor(input)
    return Tensor._wrap(np.asarray(np.count_nonzero(x.data, axis=dim), dtype=np.int64))
