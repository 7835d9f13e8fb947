"""Reverse mode: walk the graph from the outputs back and pull cotangents through each node.

The engine alone sums a cotangent back to its input's broadcast shape, skips zero (``None``)
cotangents, accumulates fan-out and restores dtypes; rules do none of this.
"""

from __future__ import annotations

from heapq import heappop as _pop
from heapq import heappush as _push

import numpy as np

from ..backend import memory_order
from ..errors import GraphError, NotDifferentiableError, NumericalError
from . import dispatch, npns
from .graph import Node, vertex
from .state import STATE, _GradMode


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, inputs=None,
                 accumulate=True):
    """Propagate ``root_grads`` from ``roots`` through the graph.

    Parameters
    ----------
    roots : list of Tensor
    root_grads : list of Tensor
        Cotangents, one per root, of each root's shape.
    retain_graph : bool
        Keep the graph's saved values so it can be walked again.
    create_graph : bool
        Record the backward computation itself so it can be differentiated again.
    inputs : list of Tensor, optional
        Return the cotangents of these tensors (``autograd.grad``) instead of accumulating into
        leaves' ``.grad`` (unless ``accumulate`` too).
    """
    from ..ops import tns
    from ..tensor import Tensor

    tensor_path = create_graph or bool(STATE.fw_active)
    xp = tns if tensor_path else npns
    want = {}
    if inputs is not None:
        for i, t in enumerate(inputs):
            want.setdefault(id(vertex(t)), []).append(i)
    found = [None] * (len(inputs) if inputs is not None else 0)

    # The walk runs the recorded nodes latest-created first. An op's inputs were all created
    # before it, so by the time a node runs every consumer of its output has run and handed it
    # its cotangent; no counting pass over the graph is needed. Waiting nodes sit in a heap by
    # creation number and their cotangents so far in ``grads``; leaves (tensors without a node)
    # collect theirs and are visited last.
    grads = {}
    heap = []
    leaves = {}
    for r, g in zip(roots, root_grads):
        v = vertex(r)
        vid = id(v)
        g = g if tensor_path else g.data
        prev = grads.get(vid)
        if prev is not None:
            grads[vid] = prev + g
            continue
        grads[vid] = g
        if type(v) is Node:
            _push(heap, (-v.seq, v))
        else:
            leaves[vid] = v
    handed_out = {id(g) for g in grads.values()}
    tracer = None if tensor_path else STATE.tracer
    watched = bool(want) or tracer is not None
    anomaly = STATE.anomaly
    # A node whose cotangent is complete while no other waits (a chain's common case) runs
    # next without the heap and the dict.
    nxt = nxt_g = None
    with _GradMode(create_graph):
        while True:
            if nxt is not None:
                v, g = nxt, nxt_g
                nxt = None
            elif heap:
                v = _pop(heap)[1]
                g = grads.pop(id(v))
            else:
                break
            if watched:
                if id(v) in want:
                    for i in want[id(v)]:
                        found[i] = g
                if tracer is not None:
                    tracer.on_visit(v, False)
            ins = v.inputs
            if ins is None:
                raise GraphError(
                    f"backward: the graph through op '{v.op.name}' was already freed by an "
                    "earlier backward; pass retain_graph=True to the first backward (or "
                    "autograd.grad) if you need to walk it again")
            op = v.op
            if len(ins) == 1:
                a = ins[0]
                needs = (a.requires_grad,)
                in_vals = ins if tensor_path else (a.data,)
            elif len(ins) == 2:
                a, b = ins
                needs = (a.requires_grad, b.requires_grad)
                in_vals = ins if tensor_path else (a.data, b.data)
            elif len(ins) == 3:  # (a linear layer with its bias)
                a, b, c = ins
                needs = (a.requires_grad, b.requires_grad, c.requires_grad)
                in_vals = ins if tensor_path else (a.data, b.data, c.data)
            else:
                needs = tuple([t.requires_grad for t in ins])
                in_vals = ins if tensor_path else [t.data for t in ins]
            out = Tensor._from_node(v) if tensor_path else v.out
            attrs = v.attrs
            try:
                if v.saved is not None and not tensor_path:
                    cts = op.vjp(xp, g, out, in_vals, needs, saved=v.saved, **attrs)
                elif attrs:
                    cts = op.vjp(xp, g, out, in_vals, needs, **attrs)
                else:  # no empty keyword dict to unpack
                    cts = op.vjp(xp, g, out, in_vals, needs)
            except NotImplementedError as e:
                raise NotDifferentiableError(
                    f"backward: op '{op.name}' has no reverse rule: {e}") from None
            if anomaly:
                _check_grads(op, v, cts)
            for t, ct in zip(ins, cts):
                if ct is None or not t.requires_grad:
                    continue
                arr = t.data
                if ct.shape != arr.shape or ct.dtype != arr.dtype:  # fit's test, without a call
                    ct = fit(xp, ct, arr)
                u = t._node
                if u is None:  # a leaf: visited once the walk is done
                    uid = id(t)
                    prev = grads.get(uid)
                    if prev is None:
                        grads[uid] = ct
                        leaves[uid] = t
                    else:
                        grads[uid] = prev + ct
                elif nxt is None and not heap:  # nothing else waits, so u has no cotangent yet
                    nxt, nxt_g = u, ct
                elif u is nxt:  # the same input twice (x * x)
                    nxt_g = nxt_g + ct
                else:
                    uid = id(u)
                    prev = grads.get(uid)
                    if prev is not None:
                        grads[uid] = prev + ct
                    else:
                        grads[uid] = ct
                        _push(heap, (-u.seq, u))
            if nxt is not None and heap:  # another input waits too: creation order decides
                grads[id(nxt)] = nxt_g
                _push(heap, (-nxt.seq, nxt))
                nxt = None
            if not retain_graph:
                v.inputs = None
                v.out = None
                v.saved = None
        for vid, v in leaves.items():
            g = grads.pop(vid)
            if want and vid in want:
                for i in want[vid]:
                    found[i] = g
            if tracer is not None:
                tracer.on_visit(v, True)
            if accumulate:
                if not tensor_path:
                    give_leaf(v, g, handed_out)
                else:
                    gt = g if create_graph else g.detach()
                    v.grad = gt if v.grad is None else _leaf_add(v.grad, gt)
    return found


def give_leaf(v, g, handed_out):
    """Add the array cotangent ``g`` into leaf ``v``'s ``.grad``.

    Each leaf owns its .grad array: one cotangent array can reach several leaves (x + a + b),
    and optimisers may update grads in place, so an array already handed out (ids in
    ``handed_out``) or read-only is copied. The grad also gets the leaf's memory layout
    (C-contiguous, or Fortran-contiguous as ``nn.Linear`` keeps its weight): optimiser updates
    mix the two, and numpy's elementwise loops run several times slower on mixed layouts.
    """
    order = memory_order(v.data)
    if id(g) in handed_out or not g.flags.writeable or not (
            g.flags.f_contiguous if order == "F" else g.flags.c_contiguous):
        g = np.array(g, order=order)
    handed_out.add(id(g))
    gt = dispatch._Tensor._wrap(g)  # the class, without an import statement on every call
    v.grad = gt if v.grad is None else _leaf_add(v.grad, gt)


def fit(xp, ct, arr):
    """A rule's cotangent for input ``arr``, summed back to its broadcast shape and cast to its
    dtype (rules leave both to the engine)."""
    if ct.shape != arr.shape:
        ct = xp.sum_to(ct, arr.shape)
    if ct.dtype != arr.dtype:
        ct = xp.astype(ct, arr.dtype)
    return ct


def _accumulate(a, b):
    if a is None:
        return b
    return a + b


def _leaf_add(old, new):
    if old.shape != new.shape:
        raise GraphError(f"backward: existing .grad has shape {old.shape} but the new gradient "
                         f"has shape {new.shape}")
    return old + new


def _check_grads(op, node, cts):
    for i, ct in enumerate(cts):
        if ct is None:
            continue
        arr = ct.data if hasattr(ct, "_node") else ct
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            shapes = ", ".join(str(t.shape) for t in node.inputs)
            where = ""
            if node.where:
                import traceback

                where = "; the op was created at:\n" + "".join(
                    traceback.format_list(node.where))
            raise NumericalError(
                f"detect_anomaly: the backward of op '{op.name}' produced NaN or Inf in the "
                f"gradient of input {i} (input shapes {shapes}){where}")


def check_backward_root(t, gradient):
    """Validate the arguments of ``Tensor.backward`` and return the root cotangent."""
    from ..tensor import Tensor

    if not t.requires_grad:
        raise NotDifferentiableError(
            f"backward: this tensor (shape {t.shape}) does not require grad and has no graph; "
            "create the inputs you differentiate with requires_grad=True, and do not compute "
            "the output under no_grad()")
    if gradient is None:
        if t.data.size != 1:
            raise GraphError(
                f"backward: grad can be implicitly created only for scalar outputs, got shape "
                f"{t.shape}; pass gradient= (a tensor of the output's shape) or reduce the "
                "output first, e.g. loss.sum() or loss.mean()")
        return Tensor._wrap(np.ones_like(t.data))
    if not isinstance(gradient, Tensor):
        gradient = Tensor._wrap(np.asarray(gradient, dtype=t.data.dtype))
    if gradient.shape != t.shape:
        from ..errors import ShapeError

        raise ShapeError(f"backward: argument 'gradient' expected shape {t.shape} (the "
                         f"output's), got {gradient.shape}")
    return gradient
