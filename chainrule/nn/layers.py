"""Basic layers: Identity, Linear, Bilinear, Flatten, Unflatten, Embedding, Dropout.

Constructor keywords, parameter names and shapes are PyTorch's, so ``state_dict`` keys match.
Every layer takes ``generator=`` (default: the global default generator) for its initial
weights and ``dtype=`` (default: the default float dtype). A wrong input shape raises a
:class:`~chainrule.errors.ShapeError` naming the layer, the shape expected and the one received.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..errors import ArgumentError, DTypeError, ShapeError
from ..ops._util import as_tensor
from ..ops.shape import flatten as _flatten
from ..ops.shape import unflatten as _unflatten
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


def _dtype(dtype):
    dt = backend.as_dtype(dtype) if dtype is not None else backend.get_default_dtype()
    if dt.kind != "f":
        raise DTypeError(f"layer dtype must be floating, got {dt}")
    return dt


def _empty(shape, dtype):
    return Parameter(np.empty(shape, dtype=dtype))


def _positive(layer, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ArgumentError(f"{layer}: argument '{name}' expected a positive int, got {value!r}")
    return int(value)


def describe(module) -> str:
    """``Name(extra_repr)``: how error messages name a layer."""
    return f"{type(module).__name__}({module.extra_repr()})"


def layer_shape_error(module, expected, got) -> ShapeError:
    return ShapeError(f"{describe(module)}: expected {expected}, got shape {tuple(got)}")


def float_input(module, x):
    """The input as a tensor, checked to be floating (ints are converted to the default dtype)."""
    x = as_tensor(x)
    if x.data.dtype.kind != "f":
        x = as_tensor(x, backend.get_default_dtype())
    return x


class Identity(Module):
    """Returns its input unchanged (any arguments to the constructor are ignored).

    >>> import chainrule as cr
    >>> cr.nn.Identity()(cr.ones(2)).tolist()
    [1.0, 1.0]
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):  # noqa: A002
        return input


class Linear(Module):
    """``y = x @ weight.T + bias`` with weight (out_features, in_features).

    Initialised as PyTorch: ``U(-1/sqrt(in_features), 1/sqrt(in_features))`` for weight and bias.

    Examples
    --------
    >>> import chainrule as cr
    >>> lin = cr.nn.Linear(4, 3, generator=cr.Generator().manual_seed(0))
    >>> lin(cr.ones(2, 4)).shape, lin.weight.shape
    ((2, 3), (3, 4))
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None,
                 generator=None):
        super().__init__()
        self.in_features = _positive("Linear", "in_features", in_features)
        self.out_features = _positive("Linear", "out_features", out_features)
        dt = _dtype(dtype)
        # Fortran order: weight.T is then a C-contiguous (in, out) matrix, and x @ weight.T runs
        # as a plain product, about 10% faster in OpenBLAS than one with a transposed operand
        # ((128, 784) @ (784, 512): 0.59 against 0.69 ms). Products sum in another order, so
        # results can differ in the last bits from a C-ordered weight's.
        self.weight = Parameter(np.empty((in_features, out_features), dtype=dt).T)
        self.bias = _empty((out_features,), dt) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None):
        init.default_linear_init_(self.weight, self.bias, generator)

    def forward(self, input):  # noqa: A002
        x = input if isinstance(input, Tensor) else as_tensor(input)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise layer_shape_error(self, f"input with last dim {self.in_features}", x.shape)
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    """``y_k = x1 @ weight[k] @ x2 + bias[k]`` with weight (out, in1, in2).

    >>> import chainrule as cr
    >>> cr.nn.Bilinear(2, 3, 4)(cr.ones(5, 2), cr.ones(5, 3)).shape
    (5, 4)
    """

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None,
                 dtype=None, generator=None):
        super().__init__()
        self.in1_features = _positive("Bilinear", "in1_features", in1_features)
        self.in2_features = _positive("Bilinear", "in2_features", in2_features)
        self.out_features = _positive("Bilinear", "out_features", out_features)
        dt = _dtype(dtype)
        self.weight = _empty((out_features, in1_features, in2_features), dt)
        if bias:
            self.bias = _empty((out_features,), dt)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None):
        bound = 1.0 / math.sqrt(self.in1_features)
        init.uniform_(self.weight, -bound, bound, generator)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound, generator)

    def forward(self, input1, input2):
        a, b = float_input(self, input1), float_input(self, input2)
        if a.ndim == 0 or a.shape[-1] != self.in1_features:
            raise layer_shape_error(self, f"input1 with last dim {self.in1_features}", a.shape)
        if b.ndim == 0 or b.shape[-1] != self.in2_features or b.shape[:-1] != a.shape[:-1]:
            raise layer_shape_error(
                self, f"input2 of shape {a.shape[:-1] + (self.in2_features,)}", b.shape)
        return F.bilinear(a, b, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Flatten(Module):
    """Flatten dims ``start_dim..end_dim`` (default: all but the batch dim).

    >>> import chainrule as cr
    >>> cr.nn.Flatten()(cr.ones(2, 3, 4)).shape
    (2, 12)
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):  # noqa: A002
        x = as_tensor(input)
        nd = max(x.ndim, 1)
        if not (-nd <= self.start_dim < nd and -nd <= self.end_dim < nd):
            raise layer_shape_error(self, f"input with more than {max(self.start_dim, 0)} dims",
                                    x.shape)
        return _flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``.

    >>> import chainrule as cr
    >>> cr.nn.Unflatten(1, (3, 4))(cr.ones(2, 12)).shape
    (2, 3, 4)
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input):  # noqa: A002
        x = as_tensor(input)
        n = int(np.prod([s for s in self.unflattened_size if s != -1]))
        ok = -x.ndim <= self.dim < x.ndim if x.ndim else False
        if not ok or (-1 not in self.unflattened_size and x.shape[self.dim] != n) or \
                (-1 in self.unflattened_size and x.shape[self.dim] % n):
            raise layer_shape_error(self, f"input whose dim {self.dim} has size {n}", x.shape)
        return _unflatten(x, self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``, initialised
    ``N(0, 1)`` as PyTorch; the row ``padding_idx`` starts at zero and gets no gradient.

    >>> import chainrule as cr
    >>> emb = cr.nn.Embedding(10, 3, padding_idx=0)
    >>> emb(cr.tensor([[0, 4]])).shape
    (1, 2, 3)
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device=None, dtype=None, generator=None):
        super().__init__()
        self.num_embeddings = _positive("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = _positive("Embedding", "embedding_dim", embedding_dim)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ArgumentError(f"Embedding: padding_idx {padding_idx} must be within "
                                    f"[{-num_embeddings}, {num_embeddings - 1}]")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise ArgumentError("Embedding: max_norm, scale_grad_by_freq and sparse are not "
                                "supported")
        dt = _dtype(dtype)
        if _weight is not None:
            w = _weight.data if isinstance(_weight, Tensor) else np.asarray(_weight)
            if w.shape != (num_embeddings, embedding_dim):
                raise ShapeError(f"Embedding: _weight expected shape "
                                 f"({num_embeddings}, {embedding_dim}), got {w.shape}")
            self.weight = Parameter(w.astype(dt), requires_grad=not _freeze)
        else:
            self.weight = _empty((num_embeddings, embedding_dim), dt)
            self.reset_parameters(generator)

    def reset_parameters(self, generator=None):
        init.normal_(self.weight, generator=generator)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, **kwargs):
        w = embeddings.data if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        return cls(w.shape[0], w.shape[1], padding_idx=padding_idx, _weight=w, _freeze=freeze,
                   dtype=w.dtype, **kwargs)

    def forward(self, input):  # noqa: A002
        idx = input.data if isinstance(input, Tensor) else np.asarray(input)
        if idx.dtype.kind not in "iu":
            raise DTypeError(f"{describe(self)}: expected integer indices, got dtype {idx.dtype} "
                             f"with shape {idx.shape}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            raise ArgumentError(f"{describe(self)}: indices must be in "
                                f"[0, {self.num_embeddings - 1}], got values in "
                                f"[{int(idx.min())}, {int(idx.max())}]")
        return F.embedding(idx, self.weight, self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")


class Dropout(Module):
    """Zero each element with probability ``p`` in training mode and scale the rest by
    ``1 / (1 - p)``; the identity in eval mode. Draws from ``generator`` (default: global).

    >>> import chainrule as cr
    >>> drop = cr.nn.Dropout(0.5).eval()
    >>> drop(cr.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, p=0.5, inplace=False, generator=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ArgumentError(f"Dropout: argument 'p' expected a probability in [0, 1], got "
                                f"{p}")
        self.p = p
        self.inplace = inplace
        self.generator = generator

    def forward(self, input):  # noqa: A002
        return F.dropout(input, self.p, self.training, generator=self.generator)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
