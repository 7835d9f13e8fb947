"""Containers: Sequential, ModuleList, ModuleDict, and Residual (``x + f(x)``)."""

from __future__ import annotations

from collections import OrderedDict

from ..core.state import STATE
from ..errors import ArgumentError
from ..ops.elementwise import _relu_in_place
from .activation import ReLU
from .conv import MaxPool1d, MaxPool2d
from .layers import Linear
from .module import Module


def _check_module(owner, m):
    if not isinstance(m, Module):
        raise ArgumentError(f"{owner}: expected an nn.Module, got {type(m).__name__}")
    return m


class _Indexed(Module):
    """What Sequential and ModuleList share: modules numbered 0..n-1, with the list methods."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __setitem__(self, idx, module):
        key = list(self._modules.keys())[idx]
        self._modules[key] = _check_module(type(self).__name__, module)

    def __delitem__(self, idx):
        keys = list(self._modules.keys())
        for k in (keys[idx] if isinstance(idx, slice) else [keys[idx]]):
            del self._modules[k]
        self._renumber(list(self._modules.values()))  # indices stay 0..n-1, as in PyTorch

    def append(self, module):
        self.add_module(str(len(self)), _check_module(type(self).__name__, module))
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def _insert(self, index, module):
        vals = list(self._modules.values())
        vals.insert(index, _check_module(type(self).__name__, module))
        self._renumber(vals)

    def _renumber(self, vals):
        self._modules.clear()
        for i, m in enumerate(vals):
            self._modules[str(i)] = m


class Sequential(_Indexed):
    """Modules applied one after another; supports ``len``, indexing, slicing and ``append``.

    Accepts modules as arguments or one ``OrderedDict`` of named modules.

    Examples
    --------
    >>> import chainrule as cr
    >>> net = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 2))
    >>> net(cr.ones(3, 4)).shape, len(net), type(net[1]).__name__
    ((3, 2), 3, 'ReLU')
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (OrderedDict, dict)):
            for name, m in args[0].items():
                self.add_module(name, _check_module("Sequential", m))
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), _check_module("Sequential", m))

    def _items(self):
        return [(k, m) for k, m in self._modules.items() if m is not None]

    def __getitem__(self, idx):
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(items[idx]))
        n = len(items)
        if not -n <= idx < n:
            raise IndexError(f"Sequential: index {idx} is out of range for {n} modules")
        return items[idx % n][1]

    def insert(self, index, module):
        self._insert(index, module)
        return self

    # Two rewrites that give the same numbers bit for bit with less memory traffic; modules
    # whose forward was replaced on the instance, and subclasses, always run as written.
    # - Where no graph is recorded (under no_grad, or with nothing requiring grad), a ReLU
    #   that follows a Linear clips the Linear's output in place: that output is a new array
    #   only this loop holds (modules have no hooks), so the ReLU needs no array of its own
    #   and writes no fresh memory (mlp-mnist-infer's step 0.96x, alternately timed).
    # - A ReLU followed by a max pooling (without indices) runs after it: max commutes with
    #   ReLU, so relu(maxpool(x)) = maxpool(relu(x)), and the gradients agree too (where a
    #   window's maximum is positive both send it to the same first maximal entry, else both
    #   give 0). The ReLU's two passes then run on the pooled map, a quarter of the size for
    #   2x2 windows (cnn2d's step 0.90-0.91x, alternately timed). Not with forward mode or
    #   anomaly detection on: they see the ops as written.
    def forward(self, input):  # noqa: A002
        fresh = False  # whether ``input`` is a Linear's output that no one else holds
        held = None  # a ReLU that waits for the module after it: a max pooling goes first
        for m in self._modules.values():
            if held is not None:
                relu, held = held, None
                if type(m) in _MAX_POOLS and not m.return_indices and "forward" not in m.__dict__:
                    input = relu(m(input))
                    continue
                input = relu(input)
            if type(m) is ReLU and "forward" not in m.__dict__:
                if fresh:
                    _relu_in_place(input)
                    continue
                # held unless forward mode or anomaly detection is on (``hooked`` is the one
                # cheap flag for those and compile traces, which record the rewritten order)
                if not STATE.hooked or not (STATE.fw_active or STATE.anomaly):
                    held = m
                    continue
            input = m(input)
            fresh = (type(m) is Linear and "forward" not in m.__dict__
                     and not input.requires_grad and not STATE.hooked)
        if held is not None:
            input = held(input)
        return input


_MAX_POOLS = (MaxPool1d, MaxPool2d)


class ModuleList(_Indexed):
    """A list of modules whose parameters the parent registers.

    Examples
    --------
    >>> import chainrule as cr
    >>> layers = cr.nn.ModuleList([cr.nn.Linear(2, 2) for _ in range(3)])
    >>> len(layers), len(list(layers.parameters()))
    (3, 6)
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        vals = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(vals[idx])
        n = len(vals)
        if not -n <= idx < n:
            raise IndexError(f"ModuleList: index {idx} is out of range for {n} modules")
        return vals[idx % n]

    def insert(self, index, module):
        self._insert(index, module)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(); iterate over it instead")


class ModuleDict(Module):
    """A dict of modules whose parameters the parent registers.

    Examples
    --------
    >>> import chainrule as cr
    >>> heads = cr.nn.ModuleDict({"a": cr.nn.Linear(2, 1), "b": cr.nn.Linear(2, 3)})
    >>> heads["b"](cr.ones(2)).shape, sorted(heads.keys())
    ((3,), ['a', 'b'])
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.keys())

    def __contains__(self, key):
        return key in self._modules

    def __getitem__(self, key):
        if key not in self._modules:
            raise KeyError(f"ModuleDict: no module named {key!r} (have {list(self._modules)})")
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, _check_module("ModuleDict", module))

    def __delitem__(self, key):
        del self._modules[key]

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def pop(self, key):
        return self._modules.pop(key)

    def clear(self):
        self._modules.clear()

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for k, m in items:
            self[k] = m

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward(); index it instead")


class Residual(Module):
    """``x + f(x)``: a skip connection around the module ``f``.

    Examples
    --------
    >>> import chainrule as cr
    >>> block = cr.nn.Residual(cr.nn.Linear(3, 3))
    >>> block(cr.ones(2, 3)).shape
    (2, 3)
    """

    def __init__(self, fn):
        super().__init__()
        self.fn = _check_module("Residual", fn)

    def forward(self, x):
        y = self.fn(x)
        if tuple(y.shape) != tuple(x.shape):
            from ..errors import ShapeError

            raise ShapeError(f"Residual: the wrapped {type(self.fn).__name__} changed the shape "
                             f"from {tuple(x.shape)} to {tuple(y.shape)}; x + f(x) needs equal "
                             "shapes")
        return x + y
