"""Every differentiable primitive, registered once with its forward and both rules, plus the
public functions built on them. Importing this package fills the registry and gives
:class:`~chainrule.tensor.Tensor` its operators and methods.
"""

from __future__ import annotations

from ..tensor import Tensor
from . import (
    attention,  # noqa: F401  (registers the fused attention probabilities)
    fused,  # noqa: F401  (registers the fused primitives)
    recurrent,  # noqa: F401  (registers the fused recurrences)
    tns,  # noqa: F401
)
from . import elementwise as _E
from . import linalg as _L
from . import reduce as _R
from . import shape as _SH
from ._util import binary_args

_MODULES = (_E, _R, _SH, _L)
__all__ = []
for _m in _MODULES:
    _helpers = getattr(_m, "ARRAY_HELPERS", ())
    for _name, _obj in vars(_m).items():
        # Export the public functions each module defines (not what it imports, nor the helpers
        # on NumPy arrays that other rules share).
        if _name.startswith("_") or isinstance(_obj, type) or not callable(_obj) or \
                getattr(_obj, "__module__", None) != _m.__name__ or _name in _helpers:
            continue
        globals()[_name] = _obj
        __all__.append(_name)
MaxMin = _R.MaxMin


# -- Tensor operators --------------------------------------------------------------------------
def _rev(fn):
    def r(self, other):
        return fn(other, self)

    return r


def _getitem(self, key):
    return _SH.getitem(self, key)


_DUNDERS = {
    "__add__": _E.add_, "__radd__": _rev(_E.add_), "__sub__": _E.sub_,
    "__rsub__": _rev(_E.sub_), "__mul__": _E.mul, "__rmul__": _rev(_E.mul),
    "__truediv__": _E.div, "__rtruediv__": _rev(_E.div), "__floordiv__": _E.floor_divide,
    "__rfloordiv__": _rev(_E.floor_divide), "__mod__": _E.remainder,
    "__rmod__": _rev(_E.remainder), "__pow__": _E.pow, "__rpow__": _rev(_E.pow),
    "__matmul__": _L.matmul, "__rmatmul__": _rev(_L.matmul), "__neg__": _E.neg,
    "__pos__": lambda self: self, "__abs__": _E.abs, "__lt__": _E.lt, "__le__": _E.le,
    "__gt__": _E.gt, "__ge__": _E.ge, "__eq__": _E.eq, "__ne__": _E.ne, "__getitem__": _getitem,
}


def _logic(np_fn, name):
    import numpy as np

    def f(self, other):
        a, b = binary_args(self, other)
        if a.dtype == np.bool_:
            return {"and": _E.logical_and, "or": _E.logical_or, "xor": _E.logical_xor}[name](a, b)
        return Tensor._wrap(np_fn(a.data, b.data))

    return f


def _invert(self):
    import numpy as np

    if self.dtype == np.bool_:
        return _E.logical_not(self)
    return Tensor._wrap(np.invert(self.data))


def _attach():
    import numpy as np

    for k, v in _DUNDERS.items():
        setattr(Tensor, k, v)
    Tensor.__and__ = _logic(np.bitwise_and, "and")
    Tensor.__or__ = _logic(np.bitwise_or, "or")
    Tensor.__xor__ = _logic(np.bitwise_xor, "xor")
    Tensor.__rand__ = _rev(Tensor.__and__)
    Tensor.__ror__ = _rev(Tensor.__or__)
    Tensor.__invert__ = _invert
    methods = [
        # elementwise
        "add", "sub", "mul", "div", "pow", "neg", "exp", "exp2", "log", "log2", "log10",
        "log1p", "expm1", "sqrt", "rsqrt", "square", "reciprocal", "abs", "sign", "sin", "cos",
        "tan", "tanh", "sinh", "cosh", "sigmoid", "logit", "relu", "erf", "floor", "ceil",
        "round", "trunc", "frac", "clamp", "clip", "maximum", "minimum", "lerp", "where",
        "floor_divide", "remainder", "astype", "clone", "isnan", "isinf", "isfinite",
        "logical_not", "logical_and", "logical_or", "eq", "ne", "lt", "le", "gt", "ge",
        "subtract", "multiply", "divide", "true_divide", "absolute", "arctan", "arcsin",
        "arccos",
        # reductions
        "sum", "mean", "var", "std", "prod", "max", "min", "amax", "amin", "logsumexp", "norm",
        "argmax", "argmin", "all", "any", "cumsum", "cumprod", "count_nonzero",
        # shape
        "reshape", "view", "flatten", "unflatten", "permute", "transpose", "swapaxes",
        "swapdims", "movedim", "moveaxis", "squeeze", "unsqueeze", "expand", "broadcast_to",
        "split", "chunk", "unbind", "flip", "roll", "repeat", "tile", "repeat_interleave",
        "gather", "scatter", "scatter_add", "index_select", "take_along_dim", "masked_fill",
        "masked_select", "tril", "triu", "diagonal", "narrow", "expand_dims",
        # linalg
        "matmul", "dot", "mv", "mm", "bmm", "outer",
    ]
    for name in methods:
        setattr(Tensor, name, globals()[name])

    def view_as(self, other):
        return _SH.reshape(self, other.shape)

    def expand_as(self, other):
        return _SH.broadcast_to(self, other.shape)

    def reshape_as(self, other):
        return _SH.reshape(self, other.shape)

    Tensor.view_as = view_as
    Tensor.expand_as = expand_as
    Tensor.reshape_as = reshape_as


_attach()
