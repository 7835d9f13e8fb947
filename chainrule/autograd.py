"""``chainrule.autograd``: ``grad`` as ``torch.autograd.grad``, and custom differentiable
functions (:class:`Function`) with user-written backward and, optionally, forward-mode rules.
"""

from __future__ import annotations

import numpy as np

from .core.dispatch import apply
from .core.registry import Op
from .core.reverse import run_backward
from .core.state import _GradMode
from .errors import ArgumentError, GraphError, NotDifferentiableError
from .tensor import Tensor


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a tuple.

    Leaves' ``.grad`` are left untouched.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor(3.0, requires_grad=True)
    >>> (g,) = cr.autograd.grad(x * x, x)
    >>> g
    tensor(6.)
    """
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        gos = [None] * len(outs)
    else:
        gos = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs)
    from .core.reverse import check_backward_root

    for t in ins:
        if not t.requires_grad:
            raise NotDifferentiableError(f"autograd.grad: an input (shape {t.shape}) does not "
                                         "require grad")
    roots, seeds = [], []
    for o, g in zip(outs, gos):
        roots.append(o)
        seeds.append(check_backward_root(o, g))
    if retain_graph is None:
        retain_graph = create_graph
    found = run_backward(roots, seeds, retain_graph, create_graph, inputs=ins, accumulate=False)
    res = []
    for t, g in zip(ins, found):
        if g is None:
            if not allow_unused:
                raise GraphError(f"autograd.grad: an input (shape {t.shape}) was not used to "
                                 "compute the outputs; pass allow_unused=True to get None")
            res.append(None)
        else:
            res.append(g if isinstance(g, Tensor) else Tensor._wrap(np.array(g)))
    return tuple(res)


class FunctionCtx:
    """The ``ctx`` object handed to a custom :class:`Function`'s rules."""

    def __init__(self):
        self.saved_tensors = ()
        self.needs_input_grad = ()

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors


class Function:
    """Base class of a differentiable function with hand-written rules.

    Subclass it with static methods ``forward(ctx, *args)``, ``backward(ctx, grad_output)``
    (returning one gradient, or None, per argument) and optionally ``jvp(ctx, *tangents)``;
    call it with ``MyFn.apply(*args)``.

    Examples
    --------
    >>> import chainrule as cr
    >>> class Cube(cr.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return g * 3 * x ** 2
    >>> x = cr.tensor(2.0, requires_grad=True)
    >>> Cube.apply(x).backward()
    >>> x.grad
    tensor(12.)
    """

    _op = None

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    @classmethod
    def _get_op(cls):
        if cls.__dict__.get("_op") is None:
            cls._op = Op(f"custom:{cls.__name__}", _custom_forward, _custom_vjp, _custom_jvp,
                         kind="custom")
        return cls._op

    @classmethod
    def apply(cls, *args):
        ctx = FunctionCtx()
        tpos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        spec = (cls, ctx, tuple(args), tuple(tpos))
        return apply(cls._get_op(), *[args[i] for i in tpos], spec=spec)


def _call_args(spec, tensors):
    cls, ctx, args, tpos = spec
    full = list(args)
    for i, t in zip(tpos, tensors):
        full[i] = t
    return cls, ctx, full


def _custom_forward(*datas, spec):
    cls, ctx, full = _call_args(spec, [Tensor._wrap(d) for d in datas])
    with _GradMode(False):
        out = cls.forward(ctx, *full)
    if not isinstance(out, Tensor):
        raise ArgumentError(f"{cls.__name__}.forward must return one Tensor, got "
                            f"{type(out).__name__}")
    return out.data


def _custom_vjp(xp, g, out, ins, needs, spec):
    cls, ctx, args, tpos = spec
    tensor_path = getattr(xp, "is_tensor_ns", False)
    gt = g if tensor_path else Tensor._wrap(g)
    res = cls.backward(ctx, gt)
    if not isinstance(res, tuple):
        res = (res,)
    if len(res) != len(args):
        raise ArgumentError(f"{cls.__name__}.backward returned {len(res)} gradients for "
                            f"{len(args)} arguments")
    cts = []
    for i in tpos:
        r = res[i]
        if r is None:
            cts.append(None)
        elif tensor_path:
            cts.append(r if isinstance(r, Tensor) else Tensor(r))
        else:
            cts.append(r.data if isinstance(r, Tensor) else np.asarray(r))
    return tuple(cts)


def _custom_jvp(xp, tangents, out, ins, spec):
    cls, ctx, args, tpos = spec
    if "jvp" not in vars(cls) and not any("jvp" in vars(b) for b in cls.__mro__[1:-2]):
        raise NotDifferentiableError(f"forward mode: custom function {cls.__name__} defines no "
                                     "jvp(ctx, *tangents) rule")
    full = [None] * len(args)
    for i, t in zip(tpos, tangents):
        full[i] = t
    return cls.jvp(ctx, *full)
