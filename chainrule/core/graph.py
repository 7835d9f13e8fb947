"""Graph records and their order.

A tensor produced by a recorded op points to a :class:`Node`; the node points to the op's input
tensors. Leaves (tensors created by the user with ``requires_grad=True``) have no node. The vertex
of a tensor in the graph is its node, or the tensor itself for a leaf, so several tensor objects
that share a node (the engine rebuilds an op's output from its node when a rule needs it) are one
vertex.
"""

from __future__ import annotations

from itertools import count

# Creation numbers of nodes, increasing: an op's node is numbered after its inputs' nodes, so
# running nodes from the highest number down visits every consumer of a tensor before it.
next_seq = count().__next__


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
    seq : int
        Creation number: larger than that of every node the op's inputs came from.
    """

    __slots__ = ("op", "inputs", "out", "attrs", "where", "fw", "saved", "seq")

    def __init__(self, op, inputs, out, attrs, where=None, saved=None):
        self.op = op
        self.inputs = inputs
        self.out = out
        self.attrs = attrs
        self.saved = saved
        self.where = where
        self.fw = None  # the output's forward-mode tangents, for rules that use the output
        self.seq = next_seq()

    def __repr__(self):
        return f"<Node {self.op.name}>"


def vertex(t):
    """The graph vertex of a tensor that requires grad: its node, or itself for a leaf."""
    n = t._node
    return t if n is None else n
