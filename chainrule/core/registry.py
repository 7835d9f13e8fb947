"""The op registry: one entry per primitive, holding its forward and both derivative rules.

Rules are written once against an array namespace ``xp``. The engine runs them with the numpy
namespace (:mod:`chainrule.core.npns`) for a fast first-order backward on raw arrays, and with the
tensor namespace (:mod:`chainrule.ops.tns`) when the result must itself be differentiable
(``create_graph=True``, forward-over-reverse): one rule serves every order.

Kinds of entries
----------------
``elementwise(name, forward, derivs)``
    Each input gets one local derivative ``d(xp, out, *inputs, **attrs)``; the reverse rule is
    ``g * d`` and the forward rule ``sum(t_i * d_i)``.
``linear(name, forward, transpose)``
    The op is linear in its tensor inputs jointly; its forward rule is the op applied to the
    tangents, so only the transpose (the reverse rule) is written.
``explicit(name, forward, vjp, jvp)``
    Both rules written by hand.

Rule signatures
---------------
``vjp(xp, g, out, inputs, needs, **attrs) -> tuple`` gives one cotangent per input (``None`` for
inputs that need none or have a zero gradient). The engine, not the rule, sums a cotangent back to
its input's broadcast shape and restores its dtype.

``jvp(xp, tangents, out, inputs, **attrs) -> tangent`` with ``None`` for zero tangents.

Saved values
------------
An explicit op may also give ``forward_saving(*arrays, **attrs) -> (out, saved)``: the same
result together with an intermediate its reverse rule would otherwise compute again (a
convolution's im2col columns). The engine calls it instead of ``forward`` only while recording
a graph, keeps ``saved`` on the node until the backward pass is done with it, and hands it to
the reverse rule as ``vjp(..., saved=saved, **attrs)`` on the NumPy path; ``saved`` may be None
(nothing worth keeping), and rules must give the same numbers with it or without it (up to
the rounding of a product computed in other pieces: the GRU's gates the forward computed step
by step, a convolution's weight gradient summed sample by sample from kept per-sample columns
where a recomputation gathers every sample into one product).
"""

from __future__ import annotations

REGISTRY: dict[str, Op] = {}


class Op:
    """A registry entry. See the module docstring for the meaning of the fields."""

    __slots__ = ("name", "forward", "vjp", "jvp", "kind", "differentiable", "samples", "smooth",
                 "derivs", "nin", "doc", "forward_saving")

    def __init__(self, name, forward, vjp=None, jvp=None, kind="explicit", differentiable=True,
                 samples=None, smooth=True, derivs=None, nin=None, doc="", forward_saving=None):
        self.name = name
        self.forward = forward
        self.vjp = vjp
        self.jvp = jvp
        self.kind = kind
        self.differentiable = differentiable
        self.samples = samples
        self.smooth = smooth
        self.derivs = derivs
        self.nin = nin
        self.doc = doc
        self.forward_saving = forward_saving

    def __repr__(self):
        return f"<Op {self.name} ({self.kind})>"


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def register(op: Op) -> Op:
    if op.name in REGISTRY:
        raise KeyError(f"op '{op.name}' is registered twice")
    REGISTRY[op.name] = op
    return op


def elementwise(name, forward, derivs, samples=None, smooth=True, doc="", fused_vjp=None,
                forward_saving=None):
    """Register an elementwise op from its local derivatives (one per input).

    A derivative may be ``None`` (the op is flat in that input: zero gradient). A one-input
    op may also give ``fused_vjp(g, out, x, **attrs, saved=None)``: ``g`` times the derivative
    computed in one go on raw arrays (fewer passes over memory), or None where it does not
    apply, with what its ``forward_saving`` kept, if any; the derivative stays the definition
    (forward mode, higher orders, the tests' reference).
    """

    if fused_vjp is None and len(derivs) == 1 and derivs[0] is not None:
        # The common entries get the rule without the loop below, which costs as much as the
        # product on small arrays: one smooth input,
        d0 = derivs[0]

        def vjp(xp, g, out, inputs, needs, saved=None, **attrs):
            if not needs[0]:
                return (None,)
            return (g * (d0(xp, out, inputs[0], **attrs) if attrs else d0(xp, out, inputs[0])),)
    elif fused_vjp is None and len(derivs) == 2 and None not in derivs:
        # or two (mul: 0.94 -> 0.74 us on 10 float32s), the derivatives called without an
        # empty keyword dict when there are no attributes (the usual case)
        d0, d1 = derivs

        def vjp(xp, g, out, inputs, needs, saved=None, **attrs):
            x, y = inputs
            if attrs:
                return (g * d0(xp, out, x, y, **attrs) if needs[0] else None,
                        g * d1(xp, out, x, y, **attrs) if needs[1] else None)
            return (g * d0(xp, out, x, y) if needs[0] else None,
                    g * d1(xp, out, x, y) if needs[1] else None)
    elif fused_vjp is not None and len(derivs) == 1 and derivs[0] is not None:
        # or one with a fused rule (tanh, sigmoid, relu, gelu), called without keywords when
        # there are none to pass
        d0 = derivs[0]

        def vjp(xp, g, out, inputs, needs, saved=None, **attrs):
            if not needs[0]:
                return (None,)
            if not xp.is_tensor_ns:
                r = fused_vjp(g, out, inputs[0], saved=saved, **attrs) if (
                    attrs or saved is not None) else fused_vjp(g, out, inputs[0])
                if r is not None:
                    return (r,)
            return (g * d0(xp, out, inputs[0], **attrs),)
    else:
        def vjp(xp, g, out, inputs, needs, saved=None, **attrs):
            if fused_vjp is not None and not xp.is_tensor_ns and needs[0]:
                r = fused_vjp(g, out, inputs[0], saved=saved, **attrs)
                if r is not None:
                    return (r,)
            res = []
            for i, d in enumerate(derivs):
                if not needs[i]:
                    res.append(None)
                elif d is None:  # flat in this input: a zero gradient, as PyTorch gives
                    res.append(xp.zeros_like(inputs[i]))
                else:
                    res.append(g * d(xp, out, *inputs, **attrs))
            return tuple(res)

    def jvp(xp, tangents, out, inputs, **attrs):
        acc = None
        for t, d in zip(tangents, derivs):
            if t is not None and d is not None:
                acc = _add(acc, t * d(xp, out, *inputs, **attrs))
        return acc

    return register(Op(name, forward, vjp, jvp, "elementwise", samples=samples, smooth=smooth,
                       derivs=derivs, nin=len(derivs), doc=doc, forward_saving=forward_saving))


def linear(name, forward, transpose, samples=None, nin=1, doc=""):
    """Register an op that is linear in its tensor inputs; ``transpose`` is its reverse rule.

    The forward rule applies the op's own public function (looked up in the tensor namespace
    under the same name) to the tangents, zeros standing in for absent ones.
    """

    def jvp(xp, tangents, out, inputs, **attrs):
        if all(t is None for t in tangents):
            return None
        ts = [xp.zeros_like(x) if t is None else t for t, x in zip(tangents, inputs)]
        return xp.apply(name, *ts, **attrs)

    return register(Op(name, forward, transpose, jvp, "linear", samples=samples, nin=nin,
                       doc=doc))


def explicit(name, forward, vjp, jvp, samples=None, smooth=True, nin=None, doc="",
             forward_saving=None):
    """Register an op with hand-written reverse and forward rules (and, optionally, a forward
    that also returns a value for the reverse rule: see "Saved values" above)."""
    return register(Op(name, forward, vjp, jvp, "explicit", samples=samples, smooth=smooth,
                       nin=nin, doc=doc, forward_saving=forward_saving))


def nondiff(name, forward, samples=None, doc=""):
    """Register an op whose outputs carry no gradient (comparisons, argmax, ...)."""
    return register(Op(name, forward, None, None, "nondiff", differentiable=False,
                       samples=samples, doc=doc))
