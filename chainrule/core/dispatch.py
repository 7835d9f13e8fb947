"""Applying a registered op: run its forward, record a graph node, push forward-mode tangents."""

from __future__ import annotations

import numpy as np

from ..errors import NumericalError
from .graph import Node
from .state import STATE

_ndarray = np.ndarray
_Tensor = None  # set by chainrule.tensor once the class exists


def set_tensor_class(cls):
    global _Tensor
    _Tensor = cls


def apply(op, *args, **attrs):
    """Apply registered ``op`` to tensors ``args``; non-tensor arguments go in ``attrs``."""
    try:
        if op.forward_saving is not None and STATE.grad_enabled and any(
                a.requires_grad for a in args):
            # a graph will be recorded: keep what its reverse rule needs
            out, saved = op.forward_saving(*[a.data for a in args], **attrs)
        else:
            saved = None
            n = len(args)  # the common arities without building an argument list
            if n == 2:
                out = op.forward(args[0].data, args[1].data, **attrs)
            elif n == 1:
                out = op.forward(args[0].data, **attrs)
            else:
                out = op.forward(*[a.data for a in args], **attrs)
    except (ValueError, IndexError, TypeError) as e:
        raise _user_error(op, args, attrs, e) from None
    if type(out) is not _ndarray:
        out = np.asarray(out)
    t = _Tensor.__new__(_Tensor)
    t.data = out
    t.grad = None
    t._fw = None
    t._node = None
    t.requires_grad = False
    if op.differentiable:
        if STATE.grad_enabled:
            for a in args:
                if a.requires_grad:
                    t.requires_grad = True
                    t._node = Node(op, args, out, attrs)
                    if saved is not None:
                        t._node.saved = saved
                    break
        if STATE.fw_active:
            for a in args:
                if a._fw:
                    _push_tangents(op, args, t, attrs)
                    break
    if STATE.anomaly:
        _check_anomaly(op, args, t)
    if STATE.tracer is not None:
        STATE.tracer.on_apply(op, args, attrs, t)
    return t


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
