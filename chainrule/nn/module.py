"""``Module``: the base of every layer, with automatic registration of parameters, buffers and
child modules, and PyTorch's ``state_dict`` conventions."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import backend
from ..core.state import STATE, untraceable
from ..errors import ArgumentError, DTypeError, ShapeError
from ..tensor import Tensor
from .parameter import Parameter


class Module:
    """Base class for layers and models.

    Assigning a :class:`Parameter`, a ``Module`` or (via :meth:`register_buffer`) a buffer as an
    attribute registers it, so ``parameters()``, ``state_dict()``, ``train()``/``eval()`` and
    ``to(dtype)`` see it.

    Examples
    --------
    >>> import chainrule as cr
    >>> class Affine(cr.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = cr.nn.Parameter(cr.ones(2))
    ...     def forward(self, x):
    ...         return x * self.w
    >>> Affine()(cr.ones(2)).tolist()
    [1.0, 1.0]
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "training", True)

    # -- registration --------------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 "assigning attributes")
        params, bufs, mods = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            bufs.pop(name, None)
            mods.pop(name, None)
            self.__dict__.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            bufs.pop(name, None)
            self.__dict__.pop(name, None)
            mods[name] = value
        elif name in bufs:
            if value is not None and not isinstance(value, Tensor):
                raise ArgumentError(f"{type(self).__name__}: buffer '{name}' must be a Tensor "
                                    f"or None, got {type(value).__name__}")
            bufs[name] = value
        elif name in params:
            if value is not None:
                raise ArgumentError(f"{type(self).__name__}: can't assign "
                                    f"{type(value).__name__} to parameter '{name}'; wrap it in "
                                    "nn.Parameter")
            params[name] = None
        elif name in mods and value is None:
            mods[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is None:
            self._parameters[name] = None
        else:
            setattr(self, name, param if isinstance(param, Parameter) else Parameter(param))

    def register_buffer(self, name, tensor, persistent=True):
        self._buffers[name] = tensor
        self.__dict__.pop(name, None)
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        self._modules[name] = module

    register_module = add_module

    # -- calling -------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- traversal -----------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix=""):
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for name, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mp}.{name}" if mp else name), p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mp}.{name}" if mp else name), b

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self, trainable_only=False) -> int:
        """The number of parameter elements (shared parameters counted once)."""
        return int(sum(p.data.size for p in self.parameters()
                       if p.requires_grad or not trainable_only))

    # -- modes and utilities ---------------------------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        if STATE.tracer is not None:
            STATE.tracer.on_call(self.zero_grad, set_to_none=set_to_none)
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad = Tensor._wrap(np.zeros_like(p.grad.data))

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def to(self, dtype=None, *args, **kwargs):
        """Convert floating-point parameters and buffers to ``dtype``."""
        dtype = kwargs.get("dtype", dtype)
        if dtype is None or isinstance(dtype, str) and dtype == "cpu":
            return self
        dt = backend.as_dtype(dtype)
        if dt.kind != "f":
            raise DTypeError(f"Module.to: expected a floating dtype, got {dt}")
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None and p.data.dtype.kind == "f":
                    p.data = p.data.astype(dt)
                    if p.grad is not None:
                        p.grad = Tensor._wrap(p.grad.data.astype(dt))
            for b in m._buffers.values():
                if b is not None and b.data.dtype.kind == "f":
                    b.data = b.data.astype(dt)
        return self

    def float(self):
        return self.to("float32")

    def double(self):
        return self.to("float64")

    def cpu(self):
        return self

    # -- state dict ------------------------------------------------------------------------------
    def state_dict(self, prefix="", keep_vars=False):
        """Parameters and persistent buffers by PyTorch's dotted names."""
        out = OrderedDict()
        for mp, m in self.named_modules(prefix=prefix.rstrip(".")):
            for name, p in m._parameters.items():
                if p is not None:
                    out[f"{mp}.{name}" if mp else name] = p if keep_vars else p.detach()
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    out[f"{mp}.{name}" if mp else name] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy values in; report missing, unexpected and mis-shaped entries.

        Returns a named tuple ``(missing_keys, unexpected_keys)``; with ``strict=True`` any
        problem raises an error listing all of them.
        """
        untraceable("a state dict loaded")
        from collections import namedtuple

        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = []
        for k, target in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = v.data if isinstance(v, Tensor) else np.asarray(v)
            if arr.shape != target.shape:
                mismatched.append(f"{k}: expected shape {target.shape}, got {arr.shape}")
        if strict and (missing or unexpected or mismatched):
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            if mismatched:
                parts.append("shape mismatches: " + "; ".join(mismatched))
            raise ShapeError(f"load_state_dict({type(self).__name__}): " + ", ".join(parts))
        for k, target in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = v.data if isinstance(v, Tensor) else np.asarray(v)
            if arr.shape != target.shape:
                continue
            # a copy in the parameter's own layout (nn.Linear keeps its weight Fortran-ordered)
            target.data = np.array(arr, dtype=target.data.dtype,
                                   order=backend.memory_order(target.data), copy=True)
        Result = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])
        return Result(missing, unexpected)

    # -- repr --------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            if m is None:
                continue
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {sub}")
        own = sum(p.data.size for p in self._parameters.values() if p is not None)
        extra = self.extra_repr()
        head = f"{type(self).__name__}({extra}"
        if not lines:
            tail = f", params={own}" if own and extra else (f"params={own}" if own else "")
            return head + tail + ")"
        total = self.num_parameters()
        return head + f"  # {total:,} params\n  " + "\n  ".join(lines) + "\n)"


def count_parameters(module: Module, trainable_only=False) -> int:
    """The number of parameter elements in ``module``."""
    return module.num_parameters(trainable_only)
