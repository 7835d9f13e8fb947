"""Function transforms in the style of ``torch.func``: grad, value_and_grad, vjp, jvp,
jacobian, hessian, hvp. They nest (grad of grad, jvp of grad, grad of jvp).

Reverse-mode transforms mark fresh copies of the chosen arguments and differentiate with
``autograd.grad``; forward-mode ones open a new tangent level (dual numbers). Inside another
transform the backward pass is recorded, so the outer transform can differentiate it again.
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import ArgumentError, GraphError
from .reverse import run_backward
from .state import STATE, _GradMode

_depth = [0]


def _tensor(x):
    from .. import backend
    from ..tensor import Tensor

    if isinstance(x, Tensor):
        if x.dtype.kind != "f":
            from ..ops import astype

            return astype(x, backend.get_default_dtype())
        return x
    t = Tensor(x)
    if t.dtype.kind != "f":
        t = Tensor._wrap(t.data.astype(backend.get_default_dtype()))
    return t


def _mark(x):
    """A copy of ``x`` that requires grad and stays connected to ``x`` in the graph."""
    from ..ops import alias

    x = _tensor(x)
    y = alias(x)
    if not y.requires_grad:
        y.requires_grad = True
    return y


def _top_level(result, args):
    """Cut results from the graph when no caller could differentiate them further."""
    from ..tensor import Tensor

    if _depth[0] or STATE.fw_active or any(isinstance(a, Tensor) and (a.requires_grad or a._fw)
                                           for a in args):
        return result
    if isinstance(result, tuple):
        return tuple(_top_level(r, ()) for r in result)
    return result.detach() if isinstance(result, Tensor) else result


def _argnums(argnums, n):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for a in nums:
        if not -n <= a < n:
            raise ArgumentError(f"grad: argnums {argnums} out of range for {n} positional "
                                "arguments")
    return single, tuple(a % n for a in nums)


def _grads_of(out, wrt, create):
    from ..tensor import Tensor

    if out.data.size != 1:
        raise GraphError(f"grad: the function must return a scalar (one element), got shape "
                         f"{out.shape}; use jacobian or vjp for non-scalar outputs")
    if not out.requires_grad:
        return [Tensor._wrap(np.zeros_like(w.data)) for w in wrt]
    seed = Tensor._wrap(np.ones_like(out.data))
    found = run_backward([out], [seed], retain_graph=create, create_graph=create, inputs=wrt,
                         accumulate=False)
    res = []
    for w, g in zip(wrt, found):
        if g is None:
            res.append(Tensor._wrap(np.zeros_like(w.data)))
        elif isinstance(g, Tensor):
            res.append(g)
        else:
            res.append(Tensor._wrap(np.array(g, copy=True)))
    return res


def value_and_grad(func, argnums=0, has_aux=False):
    """A function returning ``(value, grad)`` (``((value, aux), grad)`` with ``has_aux``).

    Examples
    --------
    >>> import chainrule as cr
    >>> vg = cr.value_and_grad(lambda x: (x ** 2).sum())
    >>> v, g = vg(cr.tensor([1.0, 2.0]))
    >>> g
    tensor([2., 4.])
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        single, nums = _argnums(argnums, len(args))
        args = list(args)
        _depth[0] += 1
        try:
            with _GradMode(True):
                for a in nums:
                    args[a] = _mark(args[a])
                out = func(*args, **kwargs)
                aux = None
                if has_aux:
                    if not (isinstance(out, tuple) and len(out) == 2):
                        raise ArgumentError("grad: with has_aux=True the function must return "
                                            "a pair (output, aux)")
                    out, aux = out
                out = _tensor(out)
                create = _depth[0] > 1 or bool(STATE.fw_active) or any(
                    _needs_graph(args[a]) for a in nums)
                gs = _grads_of(out, [args[a] for a in nums], create)
        finally:
            _depth[0] -= 1
        if not create:
            out = out.detach()
        g = gs[0] if single else tuple(gs)
        return ((out, aux), g) if has_aux else (out, g)

    return wrapper


def _needs_graph(x):
    n = x._node
    return n is not None and any(t.requires_grad for t in n.inputs or ())


def grad(func, argnums=0, has_aux=False):
    """The gradient function of scalar-valued ``func`` with respect to ``argnums``.

    Examples
    --------
    >>> import chainrule as cr
    >>> d2 = cr.grad(cr.grad(lambda x: x ** 3))
    >>> d2(cr.tensor(2.0))
    tensor(12.)
    """
    vg = value_and_grad(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        (v, g) = vg(*args, **kwargs)
        if has_aux:
            return g, v[1]
        return g

    return wrapper


def vjp(func, *primals, has_aux=False):
    """``(out, vjp_fn)``; ``vjp_fn(cotangent)`` returns one cotangent per primal (a tuple)."""
    from ..tensor import Tensor

    _depth[0] += 1
    try:
        with _GradMode(True):
            xs = [_mark(p) for p in primals]
            out = func(*xs)
            aux = None
            if has_aux:
                out, aux = out
    finally:
        _depth[0] -= 1
    outs, is_seq = _flat(out)

    def vjp_fn(*cts):
        if len(cts) == 1 and is_seq and isinstance(cts[0], (tuple, list)):
            cts = tuple(cts[0])
        if len(cts) != len(outs):
            raise ArgumentError(f"vjp: expected {len(outs)} cotangents, got {len(cts)}")
        cts = [_tensor(c) for c in cts]
        for o, c in zip(outs, cts):
            if o.shape != c.shape:
                raise ArgumentError(f"vjp: cotangent shape {c.shape} doesn't match output shape "
                                    f"{o.shape}")
        roots = [(o, c) for o, c in zip(outs, cts) if o.requires_grad]
        if not roots:
            return tuple(Tensor._wrap(np.zeros_like(x.data)) for x in xs)
        create = _depth[0] > 0 or bool(STATE.fw_active) or any(c.requires_grad for c in cts) \
            or any(_needs_graph(x) for x in xs)
        with _GradMode(True):
            found = run_backward([r[0] for r in roots], [r[1] for r in roots],
                                 retain_graph=True, create_graph=create, inputs=xs,
                                 accumulate=False)
        res = []
        for x, g in zip(xs, found):
            if g is None:
                res.append(Tensor._wrap(np.zeros_like(x.data)))
            else:
                res.append(g if isinstance(g, Tensor) else Tensor._wrap(np.array(g)))
        return tuple(res)

    if has_aux:
        return out, vjp_fn, aux
    return out, vjp_fn


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [_tensor(o) for o in out], True
    return [_tensor(out)], False


def jvp(func, primals, tangents, has_aux=False):
    """Forward mode: ``(func(*primals), J @ tangents)`` by dual numbers.

    Examples
    --------
    >>> import chainrule as cr
    >>> out, t = cr.jvp(lambda x: x.sin(), (cr.tensor(0.0),), (cr.tensor(1.0),))
    >>> t
    tensor(1.)
    """
    from ..tensor import Tensor

    primals = tuple(primals) if isinstance(primals, (tuple, list)) else (primals,)
    tangents = tuple(tangents) if isinstance(tangents, (tuple, list)) else (tangents,)
    if len(primals) != len(tangents):
        raise ArgumentError(f"jvp: got {len(primals)} primals but {len(tangents)} tangents")
    level = STATE.next_level
    STATE.next_level += 1
    STATE.fw_active.append(level)
    STATE.rehook()
    try:
        xs = []
        for p, t in zip(primals, tangents):
            from ..ops import alias

            x = alias(_tensor(p))
            t = _tensor(t)
            if t.shape != x.shape:
                raise ArgumentError(f"jvp: tangent shape {t.shape} doesn't match primal shape "
                                    f"{x.shape}")
            if t.dtype != x.dtype:
                from ..ops import astype

                t = astype(t, x.dtype)
            fw = dict(x._fw) if x._fw else {}
            fw[level] = t
            x._fw = fw
            xs.append(x)
        out = func(*xs)
        aux = None
        if has_aux:
            out, aux = out
        outs, is_seq = _flat(out)
        touts = []
        for o in outs:
            t = o._fw.get(level) if o._fw else None
            touts.append(t if t is not None else Tensor._wrap(np.zeros_like(o.data)))
    finally:
        STATE.fw_active.remove(level)
        STATE.rehook()
    res_out = _top_level(tuple(outs) if is_seq else outs[0], primals + tangents)
    res_t = _top_level(tuple(touts) if is_seq else touts[0], primals + tangents)
    if has_aux:
        return res_out, res_t, aux
    return res_out, res_t


def jacobian(func, argnums=0, mode="rev"):
    """A function returning the Jacobian: the output's shape followed by the input's.

    ``mode='rev'`` builds it row by row with reverse mode, ``'fwd'`` column by column with
    forward mode. With a tuple ``argnums`` the result is a tuple, one Jacobian per argument.
    """
    if mode not in ("rev", "fwd"):
        raise ArgumentError(f"jacobian: argument 'mode' expected 'rev' or 'fwd', got {mode!r}")

    def wrapper(*args):
        from ..ops import reshape, stack

        single, nums = _argnums(argnums, len(args))
        args = [_tensor(a) for a in args]
        results = []
        if mode == "rev":
            def f_sel(*sel):
                full = list(args)
                for a, s in zip(nums, sel):
                    full[a] = s
                return func(*full)

            out, fn = vjp(f_sel, *[args[a] for a in nums])
            out = _tensor(out)
            n_out = out.data.size
            rows = [[] for _ in nums]
            for k in range(n_out):
                e = np.zeros(n_out, dtype=out.dtype)
                e[k] = 1
                cts = fn(_tensor(e.reshape(out.shape)))
                for i, c in enumerate(cts):
                    rows[i].append(c)
            for i, a in enumerate(nums):
                if n_out == 0:
                    from ..tensor import Tensor

                    results.append(Tensor._wrap(np.zeros(out.shape + args[a].shape,
                                                         args[a].dtype)))
                    continue
                j = stack(rows[i], 0)
                results.append(reshape(j, out.shape + args[a].shape))
        else:
            for a in nums:
                x = args[a]
                cols = []
                out = None
                for k in range(x.data.size):
                    e = np.zeros(x.data.size, dtype=x.dtype)
                    e[k] = 1

                    def f_one(xa, a=a):
                        full = list(args)
                        full[a] = xa
                        return func(*full)

                    out, t = jvp(f_one, (x,), (_tensor(e.reshape(x.shape)),))
                    cols.append(_tensor(t))
                if out is None:
                    out = _tensor(func(*args))
                out = _tensor(out)
                j = stack(cols, -1) if cols else None
                if j is None:
                    from ..tensor import Tensor

                    results.append(Tensor._wrap(np.zeros(out.shape + x.shape, x.dtype)))
                else:
                    results.append(reshape(j, out.shape + x.shape))
        return _top_level(results[0] if single else tuple(results), args)

    return wrapper


jacrev = functools.partial(jacobian, mode="rev")
jacfwd = functools.partial(jacobian, mode="fwd")


def hessian(func, argnums=0):
    """The Hessian of scalar ``func``: forward mode over reverse mode."""
    return jacobian(jacobian(func, argnums, mode="rev"), argnums, mode="fwd")


def hvp(func, primals, tangents):
    """``(func(*primals), H @ tangents)`` by forward-over-reverse, without forming H."""
    primals = tuple(primals) if isinstance(primals, (tuple, list)) else (primals,)
    tangents = tuple(tangents) if isinstance(tangents, (tuple, list)) else (tangents,)
    nums = tuple(range(len(primals)))

    def g(*xs):
        v, gr = value_and_grad(func, argnums=nums)(*xs)
        return (v,) + tuple(gr)

    outs, touts = jvp(g, primals, tangents)
    value = outs[0]
    h = touts[1:]
    return value.detach() if value.requires_grad and not _depth[0] else value, \
        (h[0] if len(h) == 1 else tuple(h))
