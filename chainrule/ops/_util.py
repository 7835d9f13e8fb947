"""Argument handling shared by the op front-ends: conversion, promotion, dim aliases."""

from __future__ import annotations

import numpy as np

from .. import backend
from ..core.dispatch import apply
from ..core.registry import REGISTRY
from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor

_ndarray = np.ndarray


def as_tensor(x, dtype=None) -> Tensor:
    """``x`` as a Tensor (no copy when it already is one of the right dtype)."""
    # isinstance covers subclasses (nn.Parameter), which must keep their place in the graph.
    if type(x) is Tensor or isinstance(x, Tensor):
        if dtype is None or x.data.dtype == dtype:
            return x
        return apply(REGISTRY["astype"], x, dtype=backend.as_dtype(dtype))
    return Tensor(x, dtype=dtype)


def binary_args(a, b):
    """Promote two operands (tensors or Python numbers) to tensors of a common dtype."""
    ta = type(a) is Tensor or isinstance(a, Tensor)
    tb = type(b) is Tensor or isinstance(b, Tensor)
    # Fast path for the common tensor-with-Python-number case: the tensor's dtype wins.
    if ta and not tb:
        kind = a.data.dtype.kind
        sb = type(b)
        if sb is float and kind == "f" or sb is int and kind in "fiu":
            return a, _wrap_scalar(b, a.data.dtype)
    elif tb and not ta:
        kind = b.data.dtype.kind
        sa = type(a)
        if sa is float and kind == "f" or sa is int and kind in "fiu":
            return _wrap_scalar(a, b.data.dtype), b
    if ta and tb:
        if a.data.dtype == b.data.dtype:
            return a, b
        dt = backend.result_type(a.data, b.data)
        return as_tensor(a, dt), as_tensor(b, dt)
    if ta:
        dt = backend.result_type(a.data, _scalar(b))
        return as_tensor(a, dt), _const(b, dt)
    if tb:
        dt = backend.result_type(_scalar(a), b.data)
        return _const(a, dt), as_tensor(b, dt)
    a, b = Tensor(a), Tensor(b)
    return binary_args(a, b)


# Python numbers met as operands become constant tensors holding a read-only 0-d array, kept
# per (type, value, dtype): ``y * 1.0001`` in a loop builds its constant once (a 1000-op chain
# of tiny ops with backward: 4.61 -> 4.38 us per op). Zeros are not kept (-0.0 == 0.0 would
# share one), NaNs never match their key, and the store is emptied when it fills.
_SCALARS: dict = {}
_SCALARS_MAX = 512


def _wrap_scalar(x, dtype):
    key = (type(x), x, dtype)
    t = _SCALARS.get(key)
    if t is not None:
        return t
    t = _new(Tensor)
    t.data = np.array(x, dtype=dtype)
    t.data.flags.writeable = False
    t.grad = None
    t._node = None
    t._fw = None
    t.requires_grad = False
    if x:
        if len(_SCALARS) >= _SCALARS_MAX:
            _SCALARS.clear()
        _SCALARS[key] = t
    return t


_new = object.__new__


def _scalar(x):
    if isinstance(x, (int, float, bool, np.number, np.bool_)):
        return x
    if isinstance(x, _ndarray):
        return x
    return np.asarray(x)


def _const(x, dtype):
    if isinstance(x, _ndarray):
        return Tensor._wrap(x.astype(dtype, copy=False))
    if isinstance(x, Tensor):
        return as_tensor(x, dtype)
    return Tensor._wrap(np.asarray(x, dtype=dtype))


def dim_arg(name, dim, axis, default=None):
    """Resolve PyTorch's ``dim=`` and numpy's ``axis=`` alias."""
    if axis is not None:
        if dim is not None:
            raise ArgumentError(f"{name}: pass either dim= or axis=, not both")
        return axis
    return default if dim is None else dim


def keep_arg(keepdim, keepdims):
    return bool(keepdim or keepdims)


def norm_axes(name, dim, ndim):
    """Normalise a dim / tuple of dims to a sorted tuple of non-negative axes (None = all)."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = []
    for d in dims:
        d = int(d)
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise ShapeError(f"{name}: argument 'dim' expected a value in "
                             f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}], got {d}")
        out.append(d % max(ndim, 1))
    return tuple(sorted(set(out)))


def norm_dim(name, dim, ndim):
    (d,) = norm_axes(name, dim, ndim)
    return d


def op(name):
    return REGISTRY[name]
