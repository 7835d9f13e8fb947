"""The Tensor: an n-d array with an optional place in the computation graph.

This module is a thin front. Arithmetic, reductions and shape methods call the registered ops in
:mod:`chainrule.ops`; no derivative math lives here.
"""

from __future__ import annotations

import numpy as np

from . import backend
from .core import dispatch
from .core.graph import Node
from .core.reverse import check_backward_root, run_backward
from .core.state import STATE
from .errors import ArgumentError, DTypeError, GraphError


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    Parameters
    ----------
    data : array_like
        Values. Python floats give float32 (the default dtype), Python ints int64, bools bool;
        an ndarray keeps its dtype.
    dtype : dtype, optional
    requires_grad : bool
        Record operations on this tensor so ``backward()`` can fill its ``.grad``.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "_fw", "__weakref__")
    __array_priority__ = 1000  # numpy defers to Tensor's reflected operators

    def __init__(self, data, dtype=None, requires_grad=False):
        self.data = _to_array(data, dtype)
        self.grad = None
        self._node = None
        self._fw = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)
        if STATE.tracer is not None:
            STATE.tracer.created.add(id(self))

    # -- construction helpers used by the engine ------------------------------------------
    @classmethod
    def _wrap(cls, arr, requires_grad=False):
        t = cls.__new__(cls)
        t.data = arr if type(arr) is np.ndarray else np.asarray(arr)
        t.grad = None
        t._node = None
        t._fw = None
        t.requires_grad = requires_grad
        if STATE.tracer is not None:
            STATE.tracer.created.add(id(t))
        return t

    @classmethod
    def _from_node(cls, node: Node):
        t = cls._wrap(node.out)
        t._node = node
        t._fw = node.fw
        t.requires_grad = True
        return t

    # -- basic properties --------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self):
        """The graph node that produced this tensor (None for leaves)."""
        return self._node

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def item(self):
        if STATE.tracer is not None:
            STATE.tracer.unsupported("a value read out of a tensor (item)")
        if self.data.size != 1:
            raise ArgumentError(f"item: only one-element tensors can be converted to a Python "
                                f"number, got shape {self.shape}")
        return self.data.reshape(()).item()

    def tolist(self):
        if STATE.tracer is not None:
            STATE.tracer.unsupported("values read out of a tensor (tolist)")
        return self.data.tolist()

    def numpy(self):
        """The values as an ndarray (shares memory; detach first if it requires grad)."""
        if STATE.tracer is not None:
            STATE.tracer.unsupported("values read out of a tensor (numpy)")
        if self.requires_grad:
            raise GraphError("numpy: can't call numpy() on a tensor that requires grad; use "
                             "tensor.detach().numpy()")
        return self.data

    def __array__(self, dtype=None, copy=None):
        if STATE.tracer is not None:
            STATE.tracer.unsupported("values read out of a tensor (as a NumPy array)")
        return self.data if dtype is None else self.data.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iub":
            raise TypeError("only integer tensors can be used as an index")
        return int(self.item())

    def __bool__(self):
        if STATE.tracer is not None:
            STATE.tracer.unsupported("a tensor's value used as a truth value")
        if self.data.size != 1:
            raise ArgumentError(f"bool: the truth value of a tensor with {self.data.size} "
                                "elements is ambiguous; use .any() or .all()")
        return bool(self.data.reshape(()))

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", precision=4, prefix="tensor(")
        extra = ""
        if self.data.dtype not in (backend.float32, backend.int64, backend.bool_) or \
                self.data.size == 0:
            extra += f", dtype={self.data.dtype}"
        if self._node is not None:
            extra += f", grad_fn=<{self._node.op.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    __hash__ = object.__hash__

    # -- autograd ------------------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True):
        if requires_grad and self.data.dtype.kind not in "fc":
            raise DTypeError(f"requires_grad_: only floating-point tensors can require "
                             f"gradients, got dtype {self.data.dtype}")
        if not requires_grad and self._node is not None:
            raise GraphError("requires_grad_: can't turn off requires_grad on a non-leaf "
                             "tensor; use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self):
        """A tensor sharing this one's values, cut from the graph."""
        return Tensor._wrap(self.data)

    def detach_(self):
        self._node = None
        self.requires_grad = False
        return self

    def backward(self, gradient=None, retain_graph=False, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

        Parameters
        ----------
        gradient : Tensor, optional
            The cotangent of ``self``; needed unless ``self`` has one element.
        retain_graph : bool
            Keep the graph so backward can run through it again.
        create_graph : bool
            Record the backward pass, for higher-order derivatives.
        """
        g = check_backward_root(self, gradient)
        if STATE.tracer is not None:
            STATE.tracer.on_backward(self, gradient, retain_graph, create_graph, inputs)
        if inputs is not None:
            inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
            found = run_backward([self], [g], retain_graph or create_graph, create_graph,
                                 inputs=inputs, accumulate=False)
            for t, gi in zip(inputs, found):
                if gi is None:
                    continue
                gt = gi if isinstance(gi, Tensor) else Tensor._wrap(np.array(gi))
                t.grad = gt if t.grad is None else t.grad + gt
            return
        run_backward([self], [g], retain_graph or create_graph, create_graph)

    # -- conversions ---------------------------------------------------------------------------
    def to(self, dtype=None, *args, **kwargs):
        dtype = kwargs.get("dtype", dtype)
        if dtype is None or isinstance(dtype, str) and dtype in ("cpu",):
            return self
        return self.astype(dtype)

    def float(self):
        return self.astype(backend.float32)

    def double(self):
        return self.astype(backend.float64)

    def long(self):
        return self.astype(backend.int64)

    def int(self):
        return self.astype(backend.int32)

    def bool(self):
        return self.astype(backend.bool_)

    def type_as(self, other):
        return self.astype(other.dtype)

    def cpu(self):
        return self

    def contiguous(self):
        return self

    # -- in-place updates (outside the graph) --------------------------------------------------
    def _check_inplace(self, name):
        if STATE.tracer is not None:
            STATE.tracer.unsupported(f"a tensor changed in place ({name})")
        if self.requires_grad and STATE.grad_enabled:
            raise GraphError(f"{name}: a tensor that requires grad can't be modified in place "
                             "while recording; do it under chainrule.no_grad() or use the "
                             "out-of-place form")

    def zero_(self):
        self._check_inplace("zero_")
        self.data[...] = 0
        return self

    def fill_(self, value):
        self._check_inplace("fill_")
        self.data[...] = value
        return self

    def copy_(self, src):
        self._check_inplace("copy_")
        src = src.data if isinstance(src, Tensor) else np.asarray(src)
        np.copyto(self.data, np.broadcast_to(src, self.data.shape), casting="unsafe")
        return self

    def __setitem__(self, key, value):
        self._check_inplace("__setitem__")
        key = _index_key(key)
        self.data[key] = value.data if isinstance(value, Tensor) else value

    def _inplace(self, name, other, fn):
        if self.requires_grad and STATE.grad_enabled or (
                isinstance(other, Tensor) and other.requires_grad and STATE.grad_enabled):
            return fn(self, other)  # out of place: the name is rebound to the new tensor
        if STATE.tracer is not None:
            STATE.tracer.unsupported(f"a tensor changed in place ({name})")
        res = fn(self.detach(), other.detach() if isinstance(other, Tensor) else other)
        if res.shape != self.shape:
            from .errors import ShapeError

            raise ShapeError(f"{name}: result shape {res.shape} doesn't match the in-place "
                             f"target's shape {self.shape}")
        np.copyto(self.data, res.data, casting="unsafe")
        return self

    def __iadd__(self, other):
        return self._inplace("__iadd__", other, Tensor.__add__)

    def __isub__(self, other):
        return self._inplace("__isub__", other, Tensor.__sub__)

    def __imul__(self, other):
        return self._inplace("__imul__", other, Tensor.__mul__)

    def __itruediv__(self, other):
        return self._inplace("__itruediv__", other, Tensor.__truediv__)

    def add_(self, other, alpha=1):
        self._check_inplace("add_")
        o = other.data if isinstance(other, Tensor) else other
        self.data += o * alpha if alpha != 1 else o
        return self

    def mul_(self, other):
        self._check_inplace("mul_")
        self.data *= other.data if isinstance(other, Tensor) else other
        return self

    def sub_(self, other, alpha=1):
        return self.add_(other, alpha=-alpha)

    def div_(self, other):
        self._check_inplace("div_")
        self.data /= other.data if isinstance(other, Tensor) else other
        return self

    def clamp_(self, min=None, max=None):  # noqa: A002
        self._check_inplace("clamp_")
        np.clip(self.data, min, max, out=self.data)
        return self

    def uniform_(self, a=0.0, b=1.0, generator=None):
        from .random import _gen

        self._check_inplace("uniform_")
        self.data[...] = _gen(generator).uniform(a, b, self.shape)
        return self

    def normal_(self, mean=0.0, std=1.0, generator=None):
        from .random import _gen

        self._check_inplace("normal_")
        self.data[...] = _gen(generator).normal(mean, std, self.shape)
        return self


def _index_key(key):
    """Turn tensors inside an index into arrays."""
    if isinstance(key, Tensor):
        return key.data
    if isinstance(key, tuple):
        return tuple(k.data if isinstance(k, Tensor) else k for k in key)
    if isinstance(key, list):
        return np.asarray(key)
    return key


def _to_array(data, dtype=None):
    dtype = backend.as_dtype(dtype)
    if isinstance(data, Tensor):
        arr = data.data
        return arr.astype(dtype) if dtype is not None and arr.dtype != dtype else arr.copy()
    if isinstance(data, np.ndarray):
        return np.array(data, dtype=dtype) if dtype is not None else data
    if isinstance(data, (list, tuple)) and data and any(isinstance(d, Tensor) for d in
                                                        _flatten(data)):
        data = _nested_to_arrays(data)
    try:
        arr = np.asarray(data)
    except ValueError as e:
        raise DTypeError(f"tensor: can't build a tensor from this data (ragged nested lists?): "
                         f"{e}") from None
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    if arr.dtype.kind == "f":
        return arr.astype(backend.get_default_dtype(), copy=False) \
            if not isinstance(data, np.generic) else arr
    if arr.dtype.kind in "iu" and not isinstance(data, np.generic):
        return arr.astype(backend.int64, copy=False)
    if arr.dtype.kind == "O":
        raise DTypeError(f"tensor: can't build a tensor from {type(data).__name__} data "
                         "(ragged nested lists or non-numeric objects)")
    return arr


def _flatten(x):
    for d in x:
        if isinstance(d, (list, tuple)):
            yield from _flatten(d)
        else:
            yield d


def _nested_to_arrays(x):
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (list, tuple)):
        return [_nested_to_arrays(d) for d in x]
    return x


dispatch.set_tensor_class(Tensor)
