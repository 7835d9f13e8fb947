"""Tensor construction, dtypes and promotion, indexing, conversions, repr, randomness."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.errors import ArgumentError, DTypeError, ShapeError


def test_constructor_dtypes():
    assert cr.tensor([1.0, 2.0]).dtype == cr.float32
    assert cr.tensor(1.5).dtype == cr.float32
    assert cr.tensor([1, 2]).dtype == cr.int64
    assert cr.tensor([True, False]).dtype == cr.bool
    assert cr.tensor(np.array([1, 2], dtype=np.int32)).dtype == cr.int32
    assert cr.tensor(np.zeros(2, np.float64)).dtype == cr.float64
    assert cr.tensor([1, 2], dtype=cr.float64).dtype == cr.float64
    with pytest.raises(DTypeError):
        cr.tensor([[1, 2], [3]])


@pytest.mark.parametrize("a,b,want", [
    (cr.float32, cr.int64, cr.float32), (cr.int64, cr.float32, cr.float32),
    (cr.float32, cr.float64, cr.float64), (cr.int32, cr.int64, cr.int64),
])
def test_promotion_tensors(a, b, want):
    x = cr.ones(2, dtype=a) if a.kind == "f" else cr.tensor([1, 2], dtype=a)
    y = cr.ones(2, dtype=b) if b.kind == "f" else cr.tensor([1, 2], dtype=b)
    assert (x + y).dtype == want


def test_promotion_scalars_and_division():
    i = cr.tensor([1, 2])
    assert (i * 2.5).dtype == cr.float32
    assert (i * 2).dtype == cr.int64
    assert (i / i).dtype == cr.float32
    assert (2.5 * cr.ones(2)).dtype == cr.float32
    assert (cr.ones(2, dtype=cr.float64) * 2.5).dtype == cr.float64
    assert cr.tensor([True, False]).sum().dtype == cr.int64
    assert (cr.ones(2) < 1).dtype == cr.bool


def test_constructors():
    assert cr.zeros(2, 3).shape == (2, 3)
    assert cr.zeros((2, 3)).shape == (2, 3)
    assert cr.ones(4).sum().item() == 4
    assert cr.full((2,), 7).dtype == cr.int64
    assert cr.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert cr.empty(3).shape == (3,)
    assert cr.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert cr.arange(0, 1, 0.5).dtype == cr.float32
    assert cr.linspace(0, 1, 5).shape == (5,)
    assert cr.eye(3).sum().item() == 3
    x = cr.randn(2, 3)
    for f in (cr.zeros_like, cr.ones_like, cr.empty_like, cr.rand_like, cr.randn_like):
        assert f(x).shape == x.shape and f(x).dtype == x.dtype
    assert cr.full_like(x, 2.0).sum().item() == 12
    a = np.arange(3.0)
    t = cr.from_numpy(a)
    a[0] = 9
    assert t[0].item() == 9
    r = cr.randint(0, 5, (100,))
    assert r.dtype == cr.int64 and 0 <= r.min().item() and r.max().item() < 5
    assert cr.rand(10).max().item() < 1


def test_generators_reproducible():
    g1, g2 = cr.Generator().manual_seed(3), cr.Generator().manual_seed(3)
    np.testing.assert_array_equal(cr.randn(5, generator=g1).numpy(),
                                  cr.randn(5, generator=g2).numpy())
    cr.manual_seed(1)
    a = cr.rand(4)
    cr.manual_seed(1)
    np.testing.assert_array_equal(a.numpy(), cr.rand(4).numpy())
    state = g1.get_state()
    x = cr.randn(3, generator=g1)
    g1.set_state(state)
    np.testing.assert_array_equal(x.numpy(), cr.randn(3, generator=g1).numpy())


def test_properties_and_conversions():
    x = cr.arange(6).reshape(2, 3)
    assert x.shape == (2, 3) and x.ndim == 2 and len(x) == 2 and x.T.shape == (3, 2)
    assert [row.tolist() for row in x] == [[0, 1, 2], [3, 4, 5]]
    assert x[1, 2].item() == 5 and isinstance(x[1, 2].item(), int)
    assert x.float().dtype == cr.float32 and x.double().dtype == cr.float64
    assert float(cr.tensor(2.5)) == 2.5
    with pytest.raises(ArgumentError):
        x.item()
    with pytest.raises(ArgumentError):
        bool(x)
    w = cr.ones(2, requires_grad=True)
    with pytest.raises(cr.errors.GraphError):
        w.numpy()
    assert w.detach().numpy().tolist() == [1, 1]


def test_repr_readable():
    assert repr(cr.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(cr.ones(2, requires_grad=True))
    assert "grad_fn=<mul>" in repr(cr.ones(2, requires_grad=True) * 2)
    assert "dtype=float64" in repr(cr.ones(2, dtype=cr.float64))


def test_indexing():
    a = np.arange(24.0).reshape(2, 3, 4)
    x = cr.tensor(a)
    for key in [1, (1, 2), slice(0, 1), (Ellipsis, 1), (None, 0), (slice(None), [0, 2]),
                (a > 10,), (np.array([1, 0]), slice(None), np.array([3, 3]))]:
        np.testing.assert_array_equal(x[key].numpy(), a[key])
    np.testing.assert_array_equal(x[cr.tensor([1, 0])].numpy(), a[[1, 0]])
    np.testing.assert_array_equal(x[x > 10].numpy(), a[a > 10])
    with pytest.raises(ShapeError):
        x[5]


def test_setitem_and_inplace():
    x = cr.zeros(3)
    x[1] = 5
    assert x.tolist() == [0, 5, 0]
    x += 1
    assert x.tolist() == [1, 6, 1]
    w = cr.ones(2, requires_grad=True)
    with pytest.raises(cr.errors.GraphError):
        w[0] = 3
    with cr.no_grad():
        w -= 0.5
    assert w.tolist() == [0.5, 0.5] and w.requires_grad


def test_requires_grad_only_for_floats():
    with pytest.raises(DTypeError):
        cr.tensor([1, 2], requires_grad=True)


def test_comparisons_and_logic():
    x = cr.tensor([1.0, 2.0, 3.0])
    assert ((x > 1) & (x < 3)).tolist() == [False, True, False]
    assert ((x < 2) | (x > 2)).tolist() == [True, False, True]
    assert (~(x == 2)).tolist() == [True, False, True]
    assert (x != 2).any().item() and not (x > 5).any().item()


def test_python_number_operands_are_kept_as_read_only_constants():
    """A Python number meets a tensor as a constant built once per (type, value, dtype); zeros
    keep their sign, NaN still works, and nothing can write into the shared constant."""
    from chainrule.ops import _util

    x = cr.tensor([1.0, -2.0, 3.0])
    a, b = _util.binary_args(x, 1.5)[1], _util.binary_args(x, 1.5)[1]
    assert a is b and not a.data.flags.writeable and a.data.dtype == np.float32
    assert _util.binary_args(x, 2)[1] is not _util.binary_args(x, 2.0)[1]  # int and float
    y = cr.tensor([1.0, -2.0, 3.0], dtype=cr.float64)
    assert _util.binary_args(y, 1.5)[1].data.dtype == np.float64
    np.testing.assert_array_equal(np.signbit((x * -0.0).numpy()), [True, False, True])
    np.testing.assert_array_equal(np.signbit((x * 0.0).numpy()), [False, True, False])
    assert np.isnan((x * float("nan")).numpy()).all()
    for v in range(2 * _util._SCALARS_MAX):  # a bounded store
        _util.binary_args(x, float(v) + 0.5)
    assert len(_util._SCALARS) <= _util._SCALARS_MAX
    w = cr.tensor([2.0, 3.0], requires_grad=True)
    (w * 1.5 + 1.5).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.5, 1.5])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=0, max_size=4),
       st.lists(st.integers(-3, 6), min_size=0, max_size=4))
def test_reshape_accepts_and_refuses_the_shapes_numpy_does(src, shape):
    """The reshape's own shape arithmetic (one -1 worked out from the size) gives numpy's
    result shape whenever numpy accepts the shape, and a ShapeError naming both shapes when it
    does not (numpy's ValueError) or a dim is below -1."""
    a = np.zeros(src, np.float32)
    try:
        # (numpy takes any negative dim for the one to work out; PyTorch, and so chainrule,
        # only -1)
        want = a.reshape(shape).shape if min(shape, default=0) >= -1 else None
    except ValueError:
        want = None
    x = cr.from_numpy(a)
    if want is None:
        with pytest.raises(ShapeError, match=r"reshape: .*input shape"):
            x.reshape(*shape)
    else:
        got = x.reshape(*shape)
        assert got.shape == want and all(type(d) is int for d in got.shape)
        assert got.reshape(-1).shape == (a.size,)


def test_reshape_takes_numpy_integers_and_refuses_floats():
    x = cr.ones(2, 3)
    assert x.reshape(np.int64(3), -1).shape == (3, 2)
    assert x.reshape((np.int32(6),)).shape == (6,)
    with pytest.raises(ArgumentError, match="reshape: argument 'shape' expected integers"):
        x.reshape(2.0, 3)
    for bad in [(-1, -1), (2, -1, -1), (-1, 6, -1)]:  # one dim to work out at most
        with pytest.raises(ShapeError, match=r"reshape: .*\(input shape \(2, 3\)\)"):
            x.reshape(*bad)
