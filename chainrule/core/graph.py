"""Graph records and their order.

A tensor produced by a recorded op points to a :class:`Node`; the node points to the op's input
tensors. Leaves (tensors created by the user with ``requires_grad=True``) have no node. The vertex
of a tensor in the graph is its node, or the tensor itself for a leaf, so several tensor objects
that share a node (the engine rebuilds an op's output from its node when a rule needs it) are one
vertex.
"""

from __future__ import annotations


class Node:
    """One recorded application of an op.

    Attributes
    ----------
    op : Op
        The registry entry whose rules differentiate this step.
    inputs : tuple of Tensor
        The op's tensor inputs (constants included: rules may need their values).
    out : ndarray
        The forward result's array, kept for rules written in terms of the output.
    attrs : dict
        Non-tensor arguments of the op (axis, shape, index, ...).
    saved : object
        What the op's ``forward_saving`` kept for its reverse rule (None: nothing).
    """

    __slots__ = ("op", "inputs", "out", "attrs", "where", "fw", "saved")

    def __init__(self, op, inputs, out, attrs, where=None, saved=None):
        self.op = op
        self.inputs = inputs
        self.out = out
        self.attrs = attrs
        self.saved = saved
        self.where = where
        self.fw = None  # the output's forward-mode tangents, for rules that use the output

    def __repr__(self):
        return f"<Node {self.op.name}>"


def vertex(t):
    """The graph vertex of a tensor that requires grad: its node, or itself for a leaf."""
    n = t._node
    return t if n is None else n


def consumer_counts(roots):
    """For each vertex reachable from ``roots`` (tensors) through inputs that require grad, the
    number of edges into it from its consumers, keyed by ``id``; vertices nobody consumes (the
    roots, unless reachable from another) are absent.

    The reverse walk runs a vertex once all its consumers have run (Kahn's order): an
    iterative search, so a chain of any length works without recursion.
    """
    counts = {}
    stack = []
    for r in roots:
        v = vertex(r)
        if all(v is not u for u in stack):
            stack.append(v)
    roots_seen = {id(v) for v in stack}  # expanded from the start: not again when reached
    while stack:
        v = stack.pop()
        if type(v) is not Node or v.inputs is None:
            continue
        for t in v.inputs:
            if t.requires_grad:
                u = t._node
                if u is None:
                    u = t
                uid = id(u)
                c = counts.get(uid)
                if c is None:
                    counts[uid] = 1
                    if uid not in roots_seen:
                        stack.append(u)
                else:
                    counts[uid] = c + 1
    return counts
