"""A catalogue of wrong uses across the public API. Each must raise a typed chainrule error
whose message names the operation, the argument and what was received, never a raw numpy or
Python error from deep inside the library."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import errors as E


def _backward_twice():
    x = cr.ones(2, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


CORE = [
    ("add shape mismatch", lambda: cr.ones(2, 3) + cr.ones(4), E.ShapeError,
     ["add", "(2, 3)", "(4,)"]),
    ("mul shape mismatch", lambda: cr.ones(2, 3) * cr.ones(3, 2), E.ShapeError,
     ["mul", "(2, 3)", "(3, 2)"]),
    ("matmul inner dims", lambda: cr.ones(2, 3) @ cr.ones(4, 5), E.ShapeError,
     ["matmul", "(2, 3)", "(4, 5)"]),
    ("matmul batch dims", lambda: cr.ones(2, 2, 3) @ cr.ones(3, 3, 4), E.ShapeError,
     ["matmul", "(2, 2, 3)"]),
    ("matmul scalar", lambda: cr.tensor(1.0) @ cr.ones(2), E.ShapeError, ["matmul"]),
    ("reshape wrong size", lambda: cr.ones(2, 3).reshape(4, 2), E.ShapeError,
     ["reshape", "6", "(4, 2)"]),
    ("permute wrong dims", lambda: cr.ones(2, 3).permute(0, 0), E.ShapeError, ["permute"]),
    ("cat mismatched", lambda: cr.cat([cr.ones(2, 3), cr.ones(2, 4)]), E.ShapeError,
     ["cat", "(2, 3)", "(2, 4)"]),
    ("stack mismatched", lambda: cr.stack([cr.ones(2), cr.ones(3)]), E.ShapeError,
     ["stack", "(2,)", "(3,)"]),
    ("index out of range", lambda: cr.ones(2, 3)[5], E.ShapeError, ["getitem", "(2, 3)"]),
    ("gather out of range", lambda: cr.ones(2, 3).gather(1, cr.tensor([[5], [0]])),
     E.ShapeError, ["gather", "size 3"]),
    ("gather float index", lambda: cr.ones(2, 3).gather(1, cr.tensor([[0.0], [1.0]])),
     E.DTypeError, ["gather", "index", "float"]),
    ("dim out of range", lambda: cr.ones(2, 3).sum(dim=5), E.ShapeError, ["sum", "dim", "5"]),
    ("broadcast_to impossible", lambda: cr.ones(3).expand(2, 4), E.ShapeError,
     ["broadcast_to", "(3,)"]),
    ("einsum wrong subscripts", lambda: cr.einsum("ij,jk->ik", cr.ones(2, 3), cr.ones(3)),
     E.ShapeError, ["einsum", "operand 1"]),
    ("pad reflect too large", lambda: cr.pad(cr.ones(2, 3), (3, 0), mode="reflect"),
     E.ShapeError, ["pad", "reflect"]),
    ("requires_grad on ints", lambda: cr.tensor([1, 2], requires_grad=True), E.DTypeError,
     ["requires_grad", "int64"]),
    ("ragged data", lambda: cr.tensor([[1, 2], [3]]), E.DTypeError, ["tensor"]),
    ("item of many", lambda: cr.ones(3).item(), E.ArgumentError, ["item", "(3,)"]),
    ("backward twice", _backward_twice, E.GraphError, ["retain_graph=True"]),
    ("backward non-scalar", lambda: (cr.ones(3, requires_grad=True) * 2).backward(),
     E.GraphError, ["gradient", "(3,)"]),
    ("backward without grad", lambda: cr.ones(3).sum().backward(), E.NotDifferentiableError,
     ["requires_grad=True"]),
    ("backward wrong gradient shape",
     lambda: (cr.ones(3, requires_grad=True) * 2).backward(cr.ones(2)), E.ShapeError,
     ["gradient", "(3,)", "(2,)"]),
    ("grad of non-scalar", lambda: cr.grad(lambda x: x * 2)(cr.ones(3)), E.GraphError,
     ["scalar", "(3,)"]),
    ("jvp tangent shape", lambda: cr.jvp(lambda x: x, (cr.ones(2),), (cr.ones(3),)),
     E.ArgumentError, ["jvp", "(3,)", "(2,)"]),
    ("numpy of grad tensor", lambda: cr.ones(2, requires_grad=True).numpy(), E.GraphError,
     ["detach"]),
    ("in-place on leaf", lambda: cr.ones(2, requires_grad=True).zero_(), E.GraphError,
     ["no_grad"]),
    ("negative size", lambda: cr.zeros(-1), E.ArgumentError, ["size", "-1"]),
    ("randint empty range", lambda: cr.randint(5, 5, (2,)), E.ArgumentError, ["randint"]),
    ("bad generator", lambda: cr.randn(2, generator=42), E.ArgumentError, ["generator"]),
    ("gelu approximate", lambda: cr.gelu(cr.ones(2), approximate="fast"), E.ArgumentError,
     ["gelu", "approximate", "fast"]),
    ("norm p", lambda: cr.ones(2).norm(p="nuc"), E.ArgumentError, ["norm", "p"]),
    ("masked_fill float mask", lambda: cr.ones(2).masked_fill(cr.ones(2), 0.0),
     E.DTypeError, ["masked_fill", "mask"]),
]


@pytest.mark.parametrize("what,fn,exc,words", CORE, ids=[c[0] for c in CORE])
def test_core_bad_input(what, fn, exc, words):
    with pytest.raises(exc) as info:
        fn()
    assert isinstance(info.value, E.ChainruleError)
    msg = str(info.value)
    for w in words:
        assert w in msg, f"{what}: {w!r} missing from message: {msg}"


def test_catalogue_is_large():
    assert len(CORE) >= 30
    assert np.all([issubclass(c[2], E.ChainruleError) for c in CORE])
