"""Applying a registered op: run its forward, record a graph node, push forward-mode tangents."""

from __future__ import annotations

import numpy as np

from ..errors import NumericalError
from .graph import Node, next_seq
from .state import STATE

_ndarray = np.ndarray
_Tensor = None  # set by chainrule.tensor once the class exists


def set_tensor_class(cls):
    global _Tensor
    _Tensor = cls


def apply(op, *args, **attrs):
    """Apply registered ``op`` to tensors ``args``; non-tensor arguments go in ``attrs``."""
    n = len(args)
    # whether a graph node will be recorded (the common arities without a loop)
    if n == 1:
        record = args[0].requires_grad
    elif n == 2:
        record = args[0].requires_grad or args[1].requires_grad
    elif n == 3:  # (a linear layer with its bias)
        record = args[0].requires_grad or args[1].requires_grad or args[2].requires_grad
    else:
        record = any(a.requires_grad for a in args)
    record = record and STATE.grad_enabled and op.differentiable
    try:
        if record and op.forward_saving is not None:
            # a graph will be recorded: keep what its reverse rule needs
            out, saved = op.forward_saving(*[a.data for a in args], **attrs)
        else:
            saved = None
            # the common arities without building an argument list, and without an empty
            # keyword dict (unpacking one costs a ufunc call 0.1-0.2 us)
            if n == 2:
                out = op.forward(args[0].data, args[1].data, **attrs) if attrs else \
                    op.forward(args[0].data, args[1].data)
            elif n == 1:
                out = op.forward(args[0].data, **attrs) if attrs else op.forward(args[0].data)
            else:
                out = op.forward(*[a.data for a in args], **attrs)
    except (ValueError, IndexError, TypeError) as e:
        raise _user_error(op, args, attrs, e) from None
    if type(out) is not _ndarray:
        out = np.asarray(out)
    t = _new(_Tensor)
    t.data = out
    t.grad = None
    t._fw = None
    if record:
        t.requires_grad = True
        t._node = node = _new(Node)  # Node(op, args, out, attrs, saved=saved), a frame less
        node.op = op
        node.inputs = args
        node.out = out
        node.attrs = attrs
        node.saved = saved
        node.where = None
        node.fw = None
        node.seq = next_seq()
    else:
        t.requires_grad = False
        t._node = None
    if STATE.hooked:  # forward mode, anomaly detection or a compile trace is on
        _hooks(op, args, attrs, t)
    return t


_new = object.__new__


def _hooks(op, args, attrs, t):
    if op.differentiable and STATE.fw_active:
        for a in args:
            if a._fw:
                _push_tangents(op, args, t, attrs)
                break
    if STATE.anomaly:
        _check_anomaly(op, args, t)
    if STATE.tracer is not None:
        STATE.tracer.on_apply(op, args, attrs, t)


def _user_error(op, args, attrs, e):
    """Turn an error raised inside numpy into a typed one naming the op and the shapes."""
    from ..errors import ChainruleError, DTypeError, ShapeError

    if isinstance(e, ChainruleError):
        return e
    shapes = " and ".join(f"{a.shape} ({a.dtype})" for a in args)
    cls = DTypeError if isinstance(e, TypeError) else ShapeError
    extra = ""
    if attrs:
        shown = {k: v for k, v in attrs.items() if not hasattr(v, "shape") or v.size < 10}
        extra = f" with {shown}" if shown else ""
    return cls(f"{op.name}: arguments of shapes {shapes}{extra} don't fit: {e}")


def _push_tangents(op, args, out, attrs):
    """Compute the output tangent at every open forward-mode level the inputs carry."""
    from ..ops import tns

    levels = []
    for a in args:
        if a._fw:
            for lv in a._fw:
                if lv in STATE.fw_active and lv not in STATE.fw_inactive and lv not in levels:
                    levels.append(lv)
    if not levels:
        return
    fw = {}
    for lv in levels:
        tangents = [a._fw.get(lv) if a._fw else None for a in args]
        STATE.fw_inactive.add(lv)
        try:
            t = op.jvp(tns, tangents, out, args, **attrs)
        finally:
            STATE.fw_inactive.discard(lv)
        if t is None:
            continue
        if t.shape != out.shape:
            t = tns.broadcast_to(t, out.shape)
        if t.dtype != out.dtype:
            t = tns.astype(t, out.dtype)
        fw[lv] = t
    out._fw = fw or None
    if out._node is not None:
        out._node.fw = out._fw


def _check_anomaly(op, args, out):
    import traceback

    if out.data.dtype.kind == "f" and not np.all(np.isfinite(out.data)):
        where = "".join(traceback.format_list(_user_frames(traceback.extract_stack())))
        shapes = ", ".join(str(a.shape) for a in args)
        raise NumericalError(
            f"detect_anomaly: op '{op.name}' produced NaN or Inf in its forward output "
            f"(input shapes {shapes}); created at:\n{where}")
    if out._node is not None:
        out._node.where = _user_frames(traceback.extract_stack())


def _user_frames(frames):
    """The innermost frames outside the library: where the user's code called it."""
    return [f for f in frames if "/chainrule/" not in f.filename.replace("\\", "/")][-4:]
