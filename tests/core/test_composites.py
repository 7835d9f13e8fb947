"""Public functions composed from primitives: values against numpy, gradients in both modes."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import check_grads

rng = np.random.default_rng(0)


def r(*shape, lo=-2.0, hi=2.0):
    return cr.tensor(rng.uniform(lo, hi, shape))


IDX = np.array([[0, 2], [1, 1], [3, 0]])

CASES = [
    ("var", lambda x: x.var(1), lambda a: a.var(1, ddof=1), [r(3, 4)]),
    ("var_c0", lambda x: x.var((0, 1), correction=0), lambda a: a.var(), [r(3, 4)]),
    ("std", lambda x: x.std(0, keepdim=True), lambda a: a.std(0, ddof=1, keepdims=True),
     [r(3, 4)]),
    ("norm1", lambda x: x.norm(1, dim=1), lambda a: np.abs(a).sum(1), [r(3, 4)]),
    ("norm_inf", lambda x: x.norm(float("inf")), lambda a: np.abs(a).max(), [r(3, 4)]),
    ("norm3", lambda x: x.norm(3), lambda a: (np.abs(a) ** 3).sum() ** (1 / 3), [r(3, 4)]),
    ("max_dim", lambda x: x.max(1).values, lambda a: a.max(1), [r(3, 4)]),
    ("min_dim", lambda x: x.min(0, keepdim=True)[0], lambda a: a.min(0, keepdims=True),
     [r(3, 4)]),
    ("max_all", lambda x: x.max(), lambda a: a.max(), [r(3, 4)]),
    ("dot", cr.dot, np.dot, [r(4), r(4)]),
    ("mv", cr.mv, np.dot, [r(3, 4), r(4)]),
    ("outer", cr.outer, np.outer, [r(3), r(4)]),
    ("matmul_1d_left", cr.matmul, np.matmul, [r(4), r(2, 4, 3)]),
    ("matmul_1d_right", cr.matmul, np.matmul, [r(2, 3, 4), r(4)]),
    ("stack", lambda a, b: cr.stack([a, b], 1), lambda a, b: np.stack([a, b], 1),
     [r(3, 4), r(3, 4)]),
    ("split", lambda x: x.split([1, 3], 1)[1], lambda a: a[:, 1:], [r(3, 4)]),
    ("chunk", lambda x: x.chunk(2, 0)[1], lambda a: a[2:], [r(3, 4)]),
    ("unbind", lambda x: x.unbind(1)[2], lambda a: a[:, 2], [r(3, 4)]),
    ("squeeze", lambda x: x.squeeze(1), lambda a: a.squeeze(1), [r(3, 1, 4)]),
    ("unsqueeze", lambda x: x.unsqueeze(-1), lambda a: a[..., None], [r(3, 4)]),
    ("flatten", lambda x: x.flatten(1), lambda a: a.reshape(2, -1), [r(2, 3, 4)]),
    ("unflatten", lambda x: x.unflatten(1, (2, 2)), lambda a: a.reshape(3, 2, 2), [r(3, 4)]),
    ("movedim", lambda x: x.movedim(0, -1), lambda a: np.moveaxis(a, 0, -1), [r(2, 3, 4)]),
    ("T", lambda x: x.T, lambda a: a.T, [r(2, 3, 4)]),
    ("expand", lambda x: x.expand(2, 3, 4), lambda a: np.broadcast_to(a, (2, 3, 4)),
     [r(3, 1)]),
    ("pad_reflect", lambda x: cr.pad(x, (2, 1), mode="reflect"),
     lambda a: np.pad(a, ((0, 0), (2, 1)), mode="reflect"), [r(3, 4)]),
    ("pad_replicate", lambda x: cr.pad(x, (1, 2, 1, 0), mode="replicate"),
     lambda a: np.pad(a, ((1, 0), (1, 2)), mode="edge"), [r(3, 4)]),
    ("pad_constant", lambda x: cr.pad(x, (1, 1), value=2.0),
     lambda a: np.pad(a, ((0, 0), (1, 1)), constant_values=2.0), [r(3, 4)]),
    ("tile", lambda x: x.tile((2, 1, 3)), lambda a: np.tile(a, (2, 1, 3)), [r(3, 4)]),
    ("repeat", lambda x: x.repeat(2, 2), lambda a: np.tile(a, (2, 2)), [r(3, 4)]),
    ("repeat_interleave", lambda x: x.repeat_interleave(2, dim=0),
     lambda a: np.repeat(a, 2, 0), [r(3, 4)]),
    ("gather", lambda x: x.gather(1, cr.tensor(IDX)), lambda a: np.take_along_axis(a, IDX, 1),
     [r(3, 4)]),
    ("take_along_dim", lambda x: x.take_along_dim(cr.tensor(IDX), 1),
     lambda a: np.take_along_axis(a, IDX, 1), [r(3, 4)]),
    ("index_select", lambda x: x.index_select(0, cr.tensor([2, 0, 2])),
     lambda a: a[[2, 0, 2]], [r(3, 4)]),
    ("scatter_add", lambda x, s: x.scatter_add(1, cr.tensor(IDX), s),
     None, [r(3, 4), r(3, 2)]),
    ("scatter", lambda x, s: x.scatter(1, cr.tensor(np.array([[0, 2], [1, 3], [3, 0]])), s),
     None, [r(3, 4), r(3, 2)]),
    ("masked_fill", lambda x: x.masked_fill(cr.tensor(np.eye(3, 4, dtype=bool)), 0.5),
     lambda a: np.where(np.eye(3, 4, dtype=bool), 0.5, a), [r(3, 4)]),
    ("masked_select", lambda x: x.masked_select(cr.tensor(np.eye(3, 4, dtype=bool))),
     lambda a: a[np.eye(3, 4, dtype=bool)], [r(3, 4)]),
    ("tril", lambda x: x.tril(), np.tril, [r(3, 4)]),
    ("triu", lambda x: x.triu(1), lambda a: np.triu(a, 1), [r(3, 4)]),
    ("diagonal", lambda x: x.diagonal(), lambda a: np.diagonal(a), [r(3, 4)]),
    ("diagonal_off", lambda x: x.diagonal(1, 1, 2), lambda a: np.diagonal(a, 1, 1, 2),
     [r(2, 3, 4)]),
    ("flip", lambda x: x.flip(0), lambda a: np.flip(a, 0), [r(3, 4)]),
    ("roll", lambda x: x.roll(1, 1), lambda a: np.roll(a, 1, 1), [r(3, 4)]),
    ("roll_flat", lambda x: x.roll(2), lambda a: np.roll(a, 2), [r(3, 4)]),
    ("lerp", lambda a, b: cr.lerp(a, b, 0.3), lambda a, b: a + 0.3 * (b - a), [r(3), r(3)]),
    ("clamp_tensor", lambda x, lo: x.clamp(min=lo), lambda a, lo: np.maximum(a, lo),
     [r(3, 4), r(4)]),
    ("einsum_batch", lambda a, b: cr.einsum("bij,bjk->bik", a, b),
     lambda a, b: np.einsum("bij,bjk->bik", a, b), [r(2, 3, 4), r(2, 4, 2)]),
    ("einsum_trace_free", lambda a: cr.einsum("ij->", a), lambda a: a.sum(), [r(3, 4)]),
    ("getitem_mixed", lambda x: x[1:, None, [0, 2]], lambda a: a[1:, None, [0, 2]],
     [r(3, 4)]),
    ("getitem_neg_step", lambda x: x[::-1, -1], lambda a: a[::-1, -1], [r(3, 4)]),
    ("cumsum", lambda x: x.cumsum(0), lambda a: a.cumsum(0), [r(3, 4)]),
    ("prod_all", lambda x: x.prod(), lambda a: a.prod(), [r(3, 2, lo=0.5, hi=1.5)]),
    ("mean_multi", lambda x: x.mean((0, 2)), lambda a: a.mean((0, 2)), [r(2, 3, 4)]),
    ("sum_axis_alias", lambda x: x.sum(axis=1, keepdims=True),
     lambda a: a.sum(1, keepdims=True), [r(3, 4)]),
    ("div_scalar_left", lambda x: 2.0 / x, lambda a: 2.0 / a, [r(3, lo=0.5, hi=2)]),
    ("rpow", lambda x: 2.0 ** x, lambda a: 2.0 ** a, [r(3)]),
    ("rsub", lambda x: 1 - x, lambda a: 1 - a, [r(3)]),
]


@pytest.mark.parametrize("name,fn,ref,args", CASES, ids=[c[0] for c in CASES])
def test_composite(name, fn, ref, args):
    if ref is not None:
        np.testing.assert_allclose(fn(*args).numpy(), ref(*[a.numpy() for a in args]),
                                   rtol=1e-6, atol=1e-9)
    check_grads(fn, args, order=2)


def test_max_dim_gradient_goes_to_first_tie():
    x = cr.tensor([[1.0, 3.0, 3.0]], requires_grad=True)
    v, i = x.max(1)
    assert i.item() == 1
    v.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0]])


def test_amax_splits_ties_evenly():
    x = cr.tensor([1.0, 3.0, 3.0], requires_grad=True)
    x.amax().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0.5, 0.5])
    y = cr.tensor([3.0, 3.0], requires_grad=True)
    z = cr.tensor([3.0, 1.0], requires_grad=True)
    cr.maximum(y, z).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [0.5, 1.0])
    np.testing.assert_array_equal(z.grad.numpy(), [0.5, 0.0])


def test_kinks_follow_pytorch():
    x = cr.tensor([0.0, -1.0, 1.0], requires_grad=True)
    (x.relu() + x.abs() + x.clamp(-1.0, 1.0)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0 + 0 + 1, 0 - 1 + 1, 1 + 1 + 1])
    z = cr.zeros(3, requires_grad=True)
    z.norm().backward()
    np.testing.assert_array_equal(z.grad.numpy(), [0, 0, 0])


def test_zero_gradient_ops_give_zeros():
    x = cr.tensor([0.3, 1.7], requires_grad=True)
    (x.floor() + x.round() + x.sign()).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0])
    x.grad = None
    x.frac().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 1])
