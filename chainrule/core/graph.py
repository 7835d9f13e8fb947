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


def topological_order(roots):
    """Vertices reachable from ``roots`` (tensors), outputs first, each after all its consumers.

    Iterative depth-first search (a vertex is marked when expanded, and finishes after all its
    inputs), so a chain of any length works without recursion.
    """
    post = []
    visited = set()
    stack = [(vertex(r), False) for r in reversed(roots)]
    while stack:
        v, done = stack.pop()
        if done:
            post.append(v)
            continue
        if id(v) in visited:
            continue
        visited.add(id(v))
        stack.append((v, True))
        if type(v) is Node and v.inputs is not None:
            for t in v.inputs:
                if t.requires_grad:
                    u = vertex(t)
                    if id(u) not in visited:
                        stack.append((u, False))
    post.reverse()
    return post
