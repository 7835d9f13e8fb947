"""Tensor constructors, as PyTorch's: ``tensor``, ``zeros``, ``randn``, the ``*_like`` forms."""

from __future__ import annotations

import numpy as np

from . import backend
from .errors import ArgumentError
from .random import _gen
from .tensor import Tensor


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)) or s < 0:
            raise ArgumentError(f"size: expected non-negative ints, got {size}")
    return tuple(int(s) for s in size)


def _float(dtype):
    return backend.as_dtype(dtype) if dtype is not None else backend.get_default_dtype()


def _finish(arr, requires_grad):
    t = Tensor._wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor from data (lists, numbers, arrays); copies an ndarray only to change dtype.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.tensor([[1, 2], [3, 4]]).dtype
    dtype('int64')
    >>> cr.tensor([1.5, 2.0]).dtype
    dtype('float32')
    """
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def as_tensor(data, dtype=None):
    if isinstance(data, Tensor) and (dtype is None or data.dtype == backend.as_dtype(dtype)):
        return data
    return Tensor(data, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (keeps its dtype)."""
    if not isinstance(array, np.ndarray):
        raise ArgumentError(f"from_numpy: expected an ndarray, got {type(array).__name__}")
    return Tensor._wrap(array)


def zeros(*size, dtype=None, requires_grad=False):
    return _finish(np.zeros(_shape(size), _float(dtype)), requires_grad)


def ones(*size, dtype=None, requires_grad=False):
    return _finish(np.ones(_shape(size), _float(dtype)), requires_grad)


def empty(*size, dtype=None, requires_grad=False):
    return _finish(np.empty(_shape(size), _float(dtype)), requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):
    if dtype is None:
        dtype = (backend.bool_ if isinstance(fill_value, bool) else
                 backend.int64 if isinstance(fill_value, int) else backend.get_default_dtype())
    return _finish(np.full(_shape((size,)), fill_value, backend.as_dtype(dtype)), requires_grad)


def _like(x, dtype):
    return backend.as_dtype(dtype) if dtype is not None else x.dtype


def zeros_like(input, dtype=None, requires_grad=False):  # noqa: A002
    return _finish(np.zeros(input.shape, _like(input, dtype)), requires_grad)


def ones_like(input, dtype=None, requires_grad=False):  # noqa: A002
    return _finish(np.ones(input.shape, _like(input, dtype)), requires_grad)


def empty_like(input, dtype=None, requires_grad=False):  # noqa: A002
    return _finish(np.empty(input.shape, _like(input, dtype)), requires_grad)


def full_like(input, fill_value, dtype=None, requires_grad=False):  # noqa: A002
    return _finish(np.full(input.shape, fill_value, _like(input, dtype)), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """Values from ``start`` to ``end`` (exclusive); ints give int64, floats float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = backend.int64 if ints else backend.get_default_dtype()
    return _finish(np.arange(start, end, step).astype(backend.as_dtype(dtype)), requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    return _finish(np.linspace(start, end, int(steps)).astype(_float(dtype)), requires_grad)


def logspace(start, end, steps, base=10.0, dtype=None):
    return Tensor._wrap(np.logspace(start, end, int(steps), base=base).astype(_float(dtype)))


def eye(n, m=None, dtype=None, requires_grad=False):
    return _finish(np.eye(n, m, dtype=_float(dtype)), requires_grad)


def rand(*size, generator=None, dtype=None, requires_grad=False):
    """Uniform [0, 1) samples."""
    arr = _gen(generator).random(_shape(size), dtype=np.float64).astype(_float(dtype))
    return _finish(arr, requires_grad)


def randn(*size, generator=None, dtype=None, requires_grad=False):
    """Standard normal samples."""
    arr = _gen(generator).standard_normal(_shape(size)).astype(_float(dtype))
    return _finish(arr, requires_grad)


def randint(low, high=None, size=(), generator=None, dtype=None):
    """Integers uniform in ``[low, high)`` (int64)."""
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ArgumentError(f"randint: argument 'high' ({high}) must be greater than 'low' "
                            f"({low})")
    arr = _gen(generator).integers(low, high, size=_shape((size,)))
    return Tensor._wrap(arr.astype(backend.as_dtype(dtype) or backend.int64))


def randperm(n, generator=None):
    return Tensor._wrap(_gen(generator).permutation(int(n)).astype(np.int64))


def rand_like(input, generator=None, dtype=None):  # noqa: A002
    return rand(*input.shape, generator=generator, dtype=dtype or input.dtype)


def randn_like(input, generator=None, dtype=None):  # noqa: A002
    return randn(*input.shape, generator=generator, dtype=dtype or input.dtype)


def randint_like(input, low, high=None, generator=None):  # noqa: A002
    return randint(low, high, input.shape, generator=generator, dtype=input.dtype)


def bernoulli(p, generator=None):
    p = p.data if isinstance(p, Tensor) else np.asarray(p)
    return Tensor._wrap((_gen(generator).random(p.shape) < p).astype(p.dtype))


def normal(mean, std, size, generator=None, dtype=None):
    return Tensor._wrap(_gen(generator).normal(mean, std, _shape((size,))).astype(_float(dtype)))


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(t) -> int:
    return t.numel()
