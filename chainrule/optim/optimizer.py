"""``Optimizer``: parameter groups, per-parameter state and PyTorch's ``state_dict`` layout.

Subclasses write only :meth:`Optimizer._update_group`, which updates the parameters of one
group in place on their ``.data`` arrays. Updates run outside the graph on raw numpy arrays, so
a step creates no graph nodes and no new Tensor objects. Gradient arrays are never written to:
one gradient array can be shared between leaves, so every change to a gradient (sign flip,
weight decay) makes a new array.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..backend import memory_order
from ..core.state import STATE, enable_grad
from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor

# Parameters of at least two blocks of this many elements are updated block by block
# (Optimizer._in_blocks).
BLOCK = 1 << 16

_REQUIRED = object()


class Optimizer:
    """Base class of optimisers: parameter groups, state and checkpoints as ``torch.optim``.

    Parameters
    ----------
    params : iterable
        Tensors to optimise, ``(name, tensor)`` pairs as from ``named_parameters()``, or dicts
        defining parameter groups (``{"params": [...], "lr": ...}``); a group's own options
        override the defaults.
    defaults : dict
        Default options of every group.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.zeros(2, requires_grad=True)
    >>> opt = cr.optim.SGD([w], lr=0.5)
    >>> (w - 1.0).square().sum().backward()
    >>> opt.step()
    >>> w.tolist()
    [1.0, 1.0]
    """

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state: dict = {}
        self._scratch_bufs: dict = {}
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise ArgumentError(f"{type(self).__name__}: argument 'params' expected an iterable "
                                "of tensors or of param-group dicts, got a single Tensor; wrap "
                                "it in a list: [tensor]")
        if isinstance(params, dict):
            params = [params]
        try:
            params = list(params)
        except TypeError:
            raise ArgumentError(f"{type(self).__name__}: argument 'params' expected an iterable "
                                f"of tensors or of param-group dicts, got "
                                f"{type(params).__name__}") from None
        if not params:
            raise ArgumentError(f"{type(self).__name__}: argument 'params' expected at least one "
                                "parameter, got an empty list (did the model register its "
                                "parameters?)")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    # -- groups ------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (e.g. a new layer to fine-tune).

        Examples
        --------
        >>> import chainrule as cr
        >>> a, b = cr.zeros(2, requires_grad=True), cr.zeros(3, requires_grad=True)
        >>> opt = cr.optim.SGD([a], lr=0.1)
        >>> opt.add_param_group({"params": [b], "lr": 0.01})
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.01]
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise ArgumentError(f"{name}.add_param_group: expected a dict, got "
                                f"{type(param_group).__name__}")
        if "params" not in param_group:
            raise ArgumentError(f"{name}.add_param_group: the group dict has no 'params' key")
        group = dict(param_group)
        raw = group["params"]
        if isinstance(raw, Tensor):
            raw = [raw]
        elif isinstance(raw, set):
            raise ArgumentError(f"{name}: parameters must be given in a sequence with a fixed "
                                "order, got a set; use a list")
        raw = list(raw)
        params, names = [], []
        for item in raw:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                names.append(item[0])
                item = item[1]
            if not isinstance(item, Tensor):
                raise ArgumentError(f"{name}: can only optimise Tensors, got "
                                    f"{type(item).__name__}")
            if not item.is_leaf:
                raise ArgumentError(f"{name}: can't optimise a non-leaf Tensor (shape "
                                    f"{item.shape}); optimise the leaf it was computed from")
            if item.data.dtype.kind != "f":
                raise ArgumentError(f"{name}: can only optimise floating-point tensors, got "
                                    f"dtype {item.data.dtype}")
            params.append(item)
        if names and len(names) != len(params):
            raise ArgumentError(f"{name}: mix of named and unnamed parameters in one group; "
                                "pass all as (name, tensor) pairs or all as tensors")
        group["params"] = params
        if names:
            group["param_names"] = names
        for key, default in self.defaults.items():
            if default is _REQUIRED and key not in group:
                raise ArgumentError(f"{name}: parameter group didn't specify a value of "
                                    f"required option '{key}'")
            group.setdefault(key, default)
        ids = {id(p) for p in params}
        if len(ids) != len(params):
            raise ArgumentError(f"{name}: a parameter appears twice in one group; each "
                                "parameter must be given once")
        for g in self.param_groups:
            if any(id(p) in ids for p in g["params"]):
                raise ArgumentError(f"{name}: some parameters appear in more than one parameter "
                                    "group; give each parameter to one group only")
        self._validate(group)
        self.param_groups.append(group)

    def _validate(self, group: dict) -> None:
        """Check a group's options; subclasses extend this."""
        check_number(self, "lr", group["lr"], low=0.0)

    # -- gradients ---------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set them to None (default) or to fresh arrays of zeros.

        Fresh arrays rather than zeroing in place, because a gradient array may be shared.
        """
        if STATE.tracer is not None:
            STATE.tracer.on_call(self.zero_grad, set_to_none=set_to_none)
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad = Tensor._wrap(np.zeros_like(p.grad.data))

    # -- stepping ----------------------------------------------------------------------------
    def step(self, closure=None):
        """Update every parameter that has a gradient; return the closure's loss, if any.

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss (it should call ``backward``).
        """
        loss = None
        if STATE.tracer is not None:
            if closure is not None:
                STATE.tracer.unsupported("optimizer.step with a closure")
            STATE.tracer.on_call(self.step)
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._update_group(group)
        return loss

    def _update_group(self, group: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define _update_group")

    def _with_grads(self, group):
        """``(parameter, gradient array, parameter array)`` for each parameter of ``group``
        that has a gradient; a read-only parameter array is replaced by a writable copy first,
        so updates can go in place."""
        for p in group["params"]:
            g = self._grad(p)
            if g is None:
                continue
            d = p.data
            if not d.flags.writeable:
                d = p.data = d.copy(order="K")  # in its layout
            yield p, g, d

    def _grad(self, p):
        """The gradient array of ``p`` (None when it has none), shape-checked."""
        g = p.grad
        if g is None:
            return None
        g = g.data if isinstance(g, Tensor) else np.asarray(g)
        if g.shape != p.data.shape:
            raise ShapeError(f"{type(self).__name__}.step: gradient of shape {g.shape} doesn't "
                             f"match its parameter's shape {p.data.shape}")
        return g

    def _scratch(self, arr, slot=0):
        """A reusable work array shaped and laid out like ``arr`` (contents undefined).

        One flat buffer per (dtype, slot), sized for the largest parameter, so steps allocate
        nothing; the buffer never aliases a parameter, gradient or state array. A Fortran-ordered
        ``arr`` (``nn.Linear``'s weight) gets a Fortran-ordered view: numpy's elementwise loops
        are several times slower across mixed layouts.
        """
        key = (arr.dtype, slot)
        buf = self._scratch_bufs.get(key)
        n = arr.size
        if buf is None or buf.size < n:
            buf = self._scratch_bufs[key] = np.empty(n, dtype=arr.dtype)
        return buf[:n].reshape(arr.shape, order=memory_order(arr))

    def _in_blocks(self, arrays):
        """``arrays`` (a parameter, its gradient and state arrays, one shape) as one piece, or
        as blocks of ``BLOCK`` elements when they are large and contiguous in one layout; yields
        ``(views, t0, t1)`` with two scratch arrays shaped like the views.

        An update written for one piece gives the same numbers block by block, and each
        block's temporaries stay in the core's cache instead of every pass of the update
        streaming the whole parameter through memory (Adam on 21M float32 parameters: 110 ->
        58 ms a step).
        """
        d = arrays[0]
        n = d.size
        if n < 2 * BLOCK or not all(a.shape == d.shape for a in arrays) or not (
                all(a.flags.c_contiguous for a in arrays)
                or all(a.flags.f_contiguous for a in arrays)):
            yield arrays, self._scratch(d, 0), self._scratch(d, 1)
            return
        flat = [a.ravel(order="K") for a in arrays]  # views, in memory order
        t0 = self._scratch(flat[0][:BLOCK], 0)
        t1 = self._scratch(flat[0][:BLOCK], 1)
        for s in range(0, n, BLOCK):
            e = min(n, s + BLOCK)
            yield [f[s:e] for f in flat], t0[:e - s], t1[:e - s]

    @staticmethod
    def _lerp(m, g, w, t):
        """``m.lerp_(g, w)`` in place, in PyTorch's two forms (``t``: scratch like ``m``)."""
        np.subtract(g, m, out=t)
        if w < 0.5:
            t *= w
            m += t
        else:
            t *= 1.0 - w
            np.subtract(g, t, out=m)

    @staticmethod
    def _add_ratio(d, g, scale, den, t):
        """``d += scale * g / den`` in place; ``t`` is scratch, or ``g`` itself when ``g`` is a
        scratch array that may be overwritten."""
        upd = g if g is t else t
        np.multiply(g, scale, out=upd)
        upd /= den
        d += upd

    def _effective_grad(self, g, d, wd, maximize, t):
        """``-g if maximize else g``, plus ``wd * d``; written into ``t`` when it changes."""
        if wd != 0:
            np.multiply(d, wd, out=t)
            if maximize:
                np.subtract(t, g, out=t)
            else:
                t += g
            return t
        if maximize:
            return np.negative(g, out=t)
        return g

    # -- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The optimiser's state as PyTorch lays it out, with copies of the arrays.

        ``{"state": {index: {name: value}}, "param_groups": [{option: value, "params": [index,
        ...]}]}``; parameters are numbered across the groups in order. Values are Python numbers
        and Tensors, so ``chainrule.save`` can write it.

        Examples
        --------
        >>> import chainrule as cr
        >>> w = cr.zeros(2, requires_grad=True)
        >>> opt = cr.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> sorted(opt.state_dict())
        ['param_groups', 'state']
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state.get(p)
                if st:
                    state[index[id(p)]] = {k: _copy_value(v) for k, v in st.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore state saved by :meth:`state_dict` (for example after ``chainrule.load``).

        Floating-point state arrays take their parameter's dtype, as in PyTorch.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict or \
                "state" not in state_dict:
            raise ArgumentError(f"{name}.load_state_dict: expected a dict with keys 'state' and "
                                "'param_groups' (from Optimizer.state_dict())")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ArgumentError(f"{name}.load_state_dict: the saved state has "
                                f"{len(saved_groups)} parameter groups, this optimiser has "
                                f"{len(self.param_groups)}")
        for i, (ours, theirs) in enumerate(zip(self.param_groups, saved_groups)):
            if len(ours["params"]) != len(theirs["params"]):
                raise ArgumentError(f"{name}.load_state_dict: group {i} has "
                                    f"{len(ours['params'])} parameters here but "
                                    f"{len(theirs['params'])} in the saved state")
        by_index = {}
        for ours, theirs in zip(self.param_groups, saved_groups):
            for p, idx in zip(ours["params"], theirs["params"]):
                by_index[int(idx)] = p
        saved_state = state_dict["state"]
        new_state = {}
        for key, st in saved_state.items():
            idx = int(key)
            if idx not in by_index:
                raise ArgumentError(f"{name}.load_state_dict: state for parameter index {idx}, "
                                    "which no parameter group lists")
            p = by_index[idx]
            for k, v in st.items():
                shape = getattr(v, "shape", ())
                if k != "step" and shape not in ((), p.data.shape):
                    raise ArgumentError(f"{name}.load_state_dict: state '{k}' of parameter {idx} "
                                        f"has shape {tuple(shape)} but the parameter has shape "
                                        f"{p.data.shape}; the state belongs to another model")
            new_state[p] = {k: _restore_value(k, v, p) for k, v in st.items()}
        self.state = new_state
        for ours, theirs in zip(self.param_groups, saved_groups):
            for k, v in theirs.items():
                if k != "params":
                    ours[k] = v

    # -- display -----------------------------------------------------------------------------
    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k not in ("params", "param_names"):
                    lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)


def _copy_value(v):
    if isinstance(v, Tensor):
        return Tensor._wrap(v.data.copy())
    if isinstance(v, np.ndarray):
        return v.copy()
    return v


def _restore_value(key, v, p):
    if key == "step":
        arr = v.data if isinstance(v, Tensor) else np.asarray(v)
        return int(arr.reshape(()).item()) if arr.size == 1 else v
    if isinstance(v, (Tensor, np.ndarray)):
        arr = v.data if isinstance(v, Tensor) else v
        if arr.dtype.kind == "f":
            arr = arr.astype(p.data.dtype)
        return Tensor._wrap(np.array(arr, order=memory_order(p.data), copy=True))
    return v


def check_number(opt, arg: str, value, low=None, high=None, high_open=False, low_open=False):
    """Raise :class:`ArgumentError` unless ``value`` is a real number in the given range."""
    name = opt if isinstance(opt, str) else type(opt).__name__
    if low is not None and high is not None:
        expected = (f"a number in {'(' if low_open else '['}{low:g}, "
                    f"{high:g}{')' if high_open else ']'}")
    elif low is not None:
        expected = f"a finite number {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        expected = f"a finite number {'<' if high_open else '<='} {high:g}"
    else:
        expected = "a finite number"
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ArgumentError(f"{name}: argument '{arg}' expected {expected}, got "
                            f"{value!r}") from None
    bad = math.isnan(x) or math.isinf(x)
    if low is not None:
        bad = bad or (x <= low if low_open else x < low)
    if high is not None:
        bad = bad or (x >= high if high_open else x > high)
    if bad:
        raise ArgumentError(f"{name}: argument '{arg}' expected {expected}, got {value!r}")
    return x


def check_betas(opt, betas) -> None:
    name = type(opt).__name__
    if not isinstance(betas, Iterable) or len(tuple(betas)) != 2:
        raise ArgumentError(f"{name}: argument 'betas' expected a pair (beta1, beta2) with each "
                            f"in [0, 1), got {betas!r}")
    b1, b2 = tuple(betas)
    check_number(opt, "betas[0]", b1, 0.0, 1.0, high_open=True)
    check_number(opt, "betas[1]", b2, 0.0, 1.0, high_open=True)


def new_state_array(p, fill=0.0):
    """A state buffer like ``p`` (same shape, dtype and memory layout)."""
    d = p.data
    return Tensor._wrap(np.full(d.shape, fill, dtype=d.dtype, order=memory_order(d)))

