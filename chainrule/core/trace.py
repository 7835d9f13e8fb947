"""Trace a step once, then replay it without rebuilding the graph: ``chainrule.compile``.

A training step in eager mode spends much of its time on bookkeeping around the array work:
module and front-end code, tensors and graph nodes, the walk of the backward pass. For small
models that is most of the step. ``compile(step)`` records, on the first call, what the step
actually did: each registered op with its inputs and attributes, the order in which the
backward pass visited the graph, and the optimiser calls (``zero_grad``, ``step``). Later calls
with inputs of the same shapes run those forward and reverse rules directly on the arrays and
call the optimisers as before.

The recording is only trusted once it has been checked. Anything the tracer cannot follow
(random numbers, in-place changes of tensors, values read out of tensors with ``item()`` or
``numpy()``, tensors made during the step from arrays computed with NumPy, batch-norm running
statistics, gradient clipping, learning-rate scheduler steps, a backward pass with its own
gradient or ``create_graph``) makes the function run eagerly for good, with a warning saying
why. On the second call the replay runs once against the eager step from the same state:
unless the returned values, every tensor the step reads and every gradient agree exactly, the
function also stays eager (this catches, for example, an array an op took as an attribute
after preparing it from the inputs outside the ops). What no check sees is a value the first
two calls happen to share: a Python branch on it, or such an array that is equal in both;
compile steps whose control flow and attributes do not depend on the data.

A replayed call returns its tensors without a graph (the backward pass has already run inside
it). Tracing watches the whole process: trace from one thread at a time.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np

from . import npns
from .reverse import fit, give_leaf
from .state import STATE


class _Out:
    """A returned tensor: the output of the op that filled ``slot``."""

    __slots__ = ("slot",)

    def __init__(self, slot):
        self.slot = slot


def _build(template, slots):
    """The returned structure with each traced tensor's new array. (A module-level function:
    a recursive closure would be a reference cycle holding every array of the call until the
    garbage collector runs.)"""
    from ..tensor import Tensor

    if template is None:
        return None
    if isinstance(template, _Out):
        return Tensor._wrap(slots[template.slot])
    return type(template)(_build(e, slots) for e in template)


def _uniform(a):
    """True for an array that holds one value throughout (a fill such as ones or zeros), which
    a step can only have made from constants."""
    if a.size <= 1:
        return True
    first = a.reshape(-1)[:1]
    return bool(np.all(a == first)) if a.dtype.kind != "f" or np.isfinite(first[0]) else False


class Tracer:
    """What one eager call did, in a form that can be run again on new input arrays."""

    def __init__(self, args):
        from ..tensor import Tensor

        self.arg_tensors = [(i, t) for i, t in enumerate(args) if isinstance(t, Tensor)]
        self.args = {id(t): i for i, t in self.arg_tensors}
        self.keep = list(args)  # every traced tensor stays alive, so ids stay unique
        self.slots = {}  # id(tensor) -> slot of an op output
        self.slot_arrays = []
        self.nodes = {}  # id(node) -> record
        self.records = []  # (op, refs, static attrs, dynamic attrs, slot, needs, saving)
        self.effects = []  # ("op", record) | ("call", bound method, kwargs) | ("backward", ...)
        self.live = {}  # id -> tensor made outside the step (parameters, constants)
        self.plan = None
        self.problem = None
        self.outputs = None
        self._leaf_ids = {}
        self._returned = set()  # slots the backward pass must not free
        self.created = set()  # ids of tensors made during the step outside the ops

    # -- recording -------------------------------------------------------------------------------
    def unsupported(self, why):
        if self.problem is None:
            self.problem = why

    def _known(self):
        for i, t in self.arg_tensors:
            yield ("arg", i), t.data
        for k, a in enumerate(self.slot_arrays):
            yield ("slot", k), a
        for t in list(self.live.values()):
            yield ("live", t), t.data

    def _array_ref(self, a):
        """A ref for an array met outside the ops: a traced array, a whole reshape of one,
        or None for a value of its own (a constant)."""
        for ref, base in self._known():
            if a is base:
                return ref
            if np.may_share_memory(a, base):
                if (a.dtype == base.dtype and a.size == base.size and a.flags.c_contiguous
                        and base.flags.c_contiguous and a.ctypes.data == base.ctypes.data):
                    return ("view", ref, a.shape)
                self.unsupported("an array that is part of a traced one but not a reshape of it")
                return None
        return None

    def ref(self, t):
        i = self.args.get(id(t))
        if i is not None:
            return ("arg", i)
        k = self.slots.get(id(t))
        if k is not None:
            return ("slot", k)
        if t._node is not None:
            self.unsupported("an input computed with a graph outside the function")
            return None
        if not t.requires_grad:
            r = self._array_ref(t.data)
            if r is not None or self.problem:
                return r
            if id(t) in self.created and not _uniform(t.data):
                # made during the step from arrays the tracer cannot see (a mask, statistics
                # prepared with NumPy): its value may change from call to call
                self.unsupported("a tensor computed outside the ops during the step (e.g. a "
                                 "mask or statistics prepared with NumPy)")
                return None
        self.live[id(t)] = t
        self.keep.append(t)
        return ("live", t)

    def on_apply(self, op, args, attrs, out):
        if self.problem:
            return
        refs = [self.ref(a) for a in args]
        static, dynamic = {}, []
        for name, v in attrs.items():
            if isinstance(v, np.ndarray):
                r = self._array_ref(v)
                if r is not None:
                    dynamic.append((name, r))
                    continue
            elif isinstance(v, (tuple, list)) and any(isinstance(e, np.ndarray) for e in v):
                if any(isinstance(e, np.ndarray) and self._array_ref(e) is not None for e in v):
                    self.unsupported(f"an index array drawn from the inputs in op '{op.name}'")
            static[name] = v
        if self.problem:
            return
        slot = len(self.slot_arrays)
        self.slot_arrays.append(out.data)
        self.slots[id(out)] = slot
        self.keep.append(out)
        rec = len(self.records)
        needs = tuple([a.requires_grad for a in args])
        # the eager step ran forward_saving (a graph was recorded): so does the replay
        saving = op.forward_saving is not None and out._node is not None
        self.records.append((op, refs, static, dynamic, slot, needs, saving))
        if out._node is not None:
            self.nodes[id(out._node)] = rec
        self.effects.append(("op", rec))

    def on_call(self, method, **kwargs):
        self.effects.append(("call", method, kwargs))

    def on_backward(self, root, gradient, retain_graph, create_graph, inputs):
        if gradient is not None or create_graph or inputs is not None:
            self.unsupported("backward with gradient=, create_graph or inputs=")
            return
        k = self.slots.get(id(root))
        if k is None:
            self.unsupported("backward from a tensor made outside the traced ops")
            return
        self.plan = []
        self.effects.append(("backward", k, self.plan))

    def on_visit(self, v, is_leaf):
        if self.problem or self.plan is None:
            return
        if is_leaf:
            self.plan.append(("leaf", self.ref(v)))
        else:
            rec = self.nodes.get(id(v))
            if rec is None:
                self.unsupported("a backward pass through ops recorded outside the function")
            else:
                self.plan.append(("node", rec))

    def finish(self):
        """Turn each backward plan into replay steps and drop what only the recording needed
        (the first call's arrays and tensors)."""
        self.effects = [("backward", e[1], self._compile_plan(e[2])) if e[0] == "backward"
                        else e for e in self.effects]
        self.n_slots = len(self.slot_arrays)
        self.slot_arrays = self.keep = self.slots = self.nodes = self.arg_tensors = None
        self.created = None

    def set_outputs(self, result):
        def template(x):
            if x is None:
                return None
            if isinstance(x, (tuple, list)):
                return type(x)(template(e) for e in x)
            from ..tensor import Tensor

            if isinstance(x, Tensor):
                k = self.slots.get(id(x))
                if k is not None:
                    self._returned.add(k)
                    return _Out(k)
            self.unsupported(f"a returned value that is not a traced tensor ({type(x).__name__})")
            return None

        self.outputs = template(result)
        # slots read after a backward pass stay alive through it
        seen_backward = False
        for e in self.effects:
            if e[0] == "backward":
                seen_backward = True
            elif e[0] == "op" and seen_backward:
                _, refs, _, dynamic, _, _, _ = self.records[e[1]]
                for r in list(refs) + [r for _, r in dynamic]:
                    while r[0] == "view":
                        r = r[1]
                    if r[0] == "slot":
                        self._returned.add(r[1])

    # -- replay ------------------------------------------------------------------------------
    def _value(self, ref, slots, args):
        kind = ref[0]
        if kind == "slot":
            return slots[ref[1]]
        if kind == "arg":
            return args[ref[1]].data
        if kind == "live":
            return ref[1].data
        return self._value(ref[1], slots, args).reshape(ref[2])  # a view

    def _inputs(self, refs, static, dynamic, slots, args):
        """A record's input arrays and attributes for this call."""
        ins = [self._value(r, slots, args) for r in refs]
        if dynamic:
            static = dict(static)
            for name, r in dynamic:
                static[name] = self._value(r, slots, args)
        return ins, static

    def replay(self, args):
        slots = [None] * self.n_slots
        saved = {}  # slot -> what forward_saving kept for the reverse rule
        records = self.records
        for effect in self.effects:
            kind = effect[0]
            if kind == "op":
                op, refs, static, dynamic, slot, _, saving = records[effect[1]]
                ins, attrs = self._inputs(refs, static, dynamic, slots, args)
                if saving:
                    out, kept = op.forward_saving(*ins, **attrs)
                    if kept is not None:
                        saved[slot] = kept
                else:
                    out = op.forward(*ins, **attrs)
                slots[slot] = out if type(out) is np.ndarray else np.asarray(out)
            elif kind == "call":
                effect[1](**effect[2])
            else:
                self._backward(effect[1], effect[2], slots, args, saved)

        return _build(self.outputs, slots)

    def _grad_key(self, ref):
        """Where a cotangent for ``ref`` collects: a slot number, or a leaf's negative id."""
        kind = ref[0]
        if kind == "slot":
            return ref[1]
        if kind == "arg":
            return -1 - ref[1]
        return -(1 << 40) - self._leaf_ids.setdefault(id(ref[1]), len(self._leaf_ids))

    def _backward(self, root, plan, slots, args, saved):
        """The reverse pass in the order the engine took when tracing (so sums of several
        cotangents add up in the same order), with the engine's rules for leaves."""
        g0 = np.ones_like(slots[root])
        grads = {root: g0}
        handed_out = {id(g0)}
        for step in plan:
            if step[0]:  # a leaf
                g = grads.pop(step[1], None)
                if g is not None:
                    ref = step[2]
                    give_leaf(args[ref[1]] if ref[0] == "arg" else ref[1], g, handed_out)
                continue
            _, op, refs, static, dynamic, slot, needs, keys = step
            g = grads.pop(slot, None)
            if g is None:
                continue
            ins, attrs = self._inputs(refs, static, dynamic, slots, args)
            kept = saved.pop(slot, None)
            if kept is None:
                cts = op.vjp(npns, g, slots[slot], ins, needs, **attrs)
            else:
                cts = op.vjp(npns, g, slots[slot], ins, needs, saved=kept, **attrs)
            if slot not in self._returned:
                slots[slot] = None  # as the engine drops a node's arrays once it is done
            for key, arr, need, ct in zip(keys, ins, needs, cts):
                if ct is None or not need:
                    continue
                ct = fit(npns, ct, arr)
                prev = grads.get(key)
                grads[key] = ct if prev is None else prev + ct

    def _compile_plan(self, plan):
        steps = []
        for kind, x in plan:
            if kind == "leaf":
                steps.append((True, self._grad_key(x), x))
            else:
                op, refs, static, dynamic, slot, needs, _ = self.records[x]
                steps.append((False, op, refs, static, dynamic, slot, needs,
                              [self._grad_key(r) for r in refs]))
        return steps


# -- the public wrapper ----------------------------------------------------------------------
def _key(args):
    from ..tensor import Tensor

    parts = []
    for a in args:
        if isinstance(a, Tensor):
            parts.append(("T", a.data.shape, a.data.dtype.str, a.requires_grad))
        else:
            hash(a)  # non-tensor arguments are part of the key (TypeError if unhashable)
            parts.append(("V", type(a), a))
    return tuple(parts)


def _tensors_of(tracer, args=()):
    """The tensors a step reads besides its op outputs: those made outside it (parameters,
    buffers, constants) and its tensor arguments."""
    from ..tensor import Tensor

    return list(tracer.live.values()) + [a for a in args if isinstance(a, Tensor)]


def _optimizers(tracer):
    from ..optim.optimizer import Optimizer

    opts = []
    for e in tracer.effects:
        if e[0] == "call" and isinstance(e[1].__self__, Optimizer) and e[1].__self__ not in opts:
            opts.append(e[1].__self__)
    return opts


def _snapshot(tracer, args):
    ts = _tensors_of(tracer, args)
    return ([(t, t.data.copy(), t.grad) for t in ts],
            [(o, copy.deepcopy(o.state_dict())) for o in _optimizers(tracer)])


def _restore(snap):
    tensors, opts = snap
    for t, data, grad in tensors:
        if t.data.shape == data.shape and t.data.flags.writeable:
            t.data[...] = data
        else:
            t.data = data.copy()
        t.grad = grad
    for o, state in opts:
        o.load_state_dict(copy.deepcopy(state))


def _observe(tracer, args, result):
    from ..tensor import Tensor

    def arrays(x):
        if x is None:
            return []
        if isinstance(x, (tuple, list)):
            return [a for e in x for a in arrays(e)]
        return [x.data.copy()] if isinstance(x, Tensor) else [x]

    seen = arrays(result)
    for t in _tensors_of(tracer, args):
        seen.append(t.data.copy())
        seen.append(None if t.grad is None else t.grad.data.copy())
    return seen


def _same(a, b):
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if (x is None) != (y is None):
            return False
        if x is not None and not (x.shape == y.shape and x.dtype == y.dtype
                                  and np.array_equal(x, y, equal_nan=x.dtype.kind in "fc")):
            return False
    return True


MAX_TRACES = 8  # traces kept per function (one per argument signature)


class Compiled:
    """``fn`` traced on its first call and replayed on later calls (see the module docs)."""

    def __init__(self, fn):
        self.fn = fn
        self._traces = {}
        self.eager_reason = None  # why the function runs eagerly for good, if it does
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__name__ = getattr(fn, "__name__", "step")

    def _give_up(self, why):
        self.eager_reason = why
        self._traces.clear()
        warnings.warn(f"chainrule.compile: {self.__name__} runs eagerly: {why}", RuntimeWarning,
                      stacklevel=3)

    def __call__(self, *args, **kwargs):
        if (self.eager_reason is not None or kwargs or STATE.tracer is not None
                or not STATE.grad_enabled or STATE.fw_active or STATE.anomaly):
            return self.fn(*args, **kwargs)  # eager, or a mode the trace was not made in
        try:
            key = _key(args)
        except TypeError:
            return self.fn(*args)
        entry = self._traces.get(key)
        if entry is None:
            if len(self._traces) >= MAX_TRACES:
                self._give_up(f"more than {MAX_TRACES} different argument shapes or values")
                return self.fn(*args)
            return self._trace(key, args)
        tracer, checked = entry
        if not checked:
            return self._check(key, tracer, args)
        return tracer.replay(args)

    def _trace(self, key, args):
        tracer = Tracer(args)  # non-tensor arguments are constants of the trace (its key)
        STATE.tracer = tracer
        try:
            result = self.fn(*args)
        finally:
            STATE.tracer = None
        if tracer.problem is None:
            tracer.set_outputs(result)
        if tracer.problem is not None:
            self._give_up(tracer.problem)
        else:
            tracer.finish()
            self._traces[key] = (tracer, False)
        return result

    def _check(self, key, tracer, args):
        """Replay once and run the eager step from the same state; keep the trace only if
        both give the same results, gradients and tensors, bit for bit."""
        snap = _snapshot(tracer, args)
        try:
            got = _observe(tracer, args, tracer.replay(args))
        except Exception as e:  # a rule that cannot run on the replayed arrays
            got = None
            why = f"the replay failed ({type(e).__name__}: {e})"
        _restore(snap)
        result = self.fn(*args)
        want = _observe(tracer, args, result)
        if got is None:
            self._give_up(why)
        elif not _same(got, want):
            self._give_up("its replay did not reproduce the eager step (it may prepare arrays "
                          "from its inputs outside the ops, update state outside the ops, or "
                          "branch on values)")
        else:
            self._traces[key] = (tracer, True)
        return result


def compile(fn):  # noqa: A001
    """Trace ``fn`` on its first call and replay the trace on later calls with inputs of the
    same shapes, without rebuilding the graph.

    ``fn`` takes tensors (and hashable constants) and may run a forward pass, one
    ``backward()`` of a scalar and optimiser ``zero_grad()``/``step()`` calls; it returns tensors
    (or None, or tuples of them). Replayed calls return tensors without a graph. A function the
    tracer cannot follow, or whose replay differs from the eager step, runs eagerly with a
    warning (``compiled.eager_reason`` says why).

    Examples
    --------
    >>> import chainrule as cr
    >>> model = cr.nn.Linear(3, 1)
    >>> opt = cr.optim.SGD(model.parameters(), lr=0.1)
    >>> @cr.compile
    ... def step(x, y):
    ...     opt.zero_grad()
    ...     loss = ((model(x) - y) ** 2).mean()
    ...     loss.backward()
    ...     opt.step()
    ...     return loss
    >>> x, y = cr.ones(4, 3), cr.zeros(4, 1)
    >>> losses = [step(x, y).item() for _ in range(3)]
    >>> step.eager_reason is None
    True
    """
    return Compiled(fn)
