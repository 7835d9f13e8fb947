"""Gradient clipping against torch.nn.utils, and its no-in-place rule."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.utils as U
from chainrule.errors import ArgumentError, NumericalError

torch = pytest.importorskip("torch")


def _grads(scale, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (4,), (2, 2, 2)]
    gs = [(rng.normal(size=s) * scale).astype(dtype) for s in shapes]
    cps, tps = [], []
    for g in gs:
        c = cr.tensor(np.zeros(g.shape, dtype), requires_grad=True)
        c.grad = cr.tensor(g.copy())
        t = torch.zeros(g.shape, dtype=torch.float32 if dtype == np.float32 else torch.float64,
                        requires_grad=True)
        t.grad = torch.tensor(g.copy())
        cps.append(c)
        tps.append(t)
    extra = cr.zeros(2, requires_grad=True)  # no grad: skipped
    return cps + [extra], tps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("scale", [0.01, 10.0])
def test_clip_grad_norm_matches_torch(norm_type, scale):
    cps, tps = _grads(scale)
    old = [p.grad.data for p in cps[:-1]]
    kept = [a.copy() for a in old]
    total_c = U.clip_grad_norm_(cps, max_norm=1.5, norm_type=norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(tps, max_norm=1.5, norm_type=norm_type,
                                             foreach=False)
    np.testing.assert_allclose(total_c.item(), total_t.item(), rtol=1e-5)
    assert total_c.dtype == np.float32
    for c, t in zip(cps, tps):
        np.testing.assert_allclose(c.grad.data, t.grad.numpy(), rtol=1e-5, atol=1e-7)
        assert c.grad.data.dtype == np.float32
    for a, k in zip(old, kept):  # scaled by rebinding, never in place
        np.testing.assert_array_equal(a, k)
    assert cps[-1].grad is None


def test_clip_grad_value_matches_torch_and_single_tensor():
    cps, tps = _grads(3.0)
    U.clip_grad_value_(cps, 0.5)
    torch.nn.utils.clip_grad_value_(tps, 0.5, foreach=False)
    for c, t in zip(cps, tps):
        np.testing.assert_array_equal(c.grad.data, t.grad.numpy())
    w = cr.zeros(2, requires_grad=True)
    w.grad = cr.tensor([3.0, -4.0])
    assert U.clip_grad_norm_(w, 1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(w.grad.data, [0.6, -0.8], rtol=1e-5)


def test_shared_grad_tensor_is_scaled_once_and_errors():
    a = cr.zeros(2, requires_grad=True)
    b = cr.zeros(2, requires_grad=True)
    a.grad = b.grad = cr.tensor([3.0, 4.0])
    U.clip_grad_norm_([a, b], 1.0)
    np.testing.assert_allclose(a.grad.data, [0.6, 0.8], rtol=1e-5)
    a.grad = cr.tensor([np.inf, 1.0])
    with pytest.raises(NumericalError, match="error_if_nonfinite"):
        U.clip_grad_norm_([a], 1.0, error_if_nonfinite=True)
    with pytest.raises(ArgumentError, match="max_norm"):
        U.clip_grad_norm_([a], -1.0)
    with pytest.raises(ArgumentError, match="clip_value"):
        U.clip_grad_value_([a], float("nan"))
    assert U.clip_grad_norm_([cr.zeros(1, requires_grad=True)], 1.0).item() == 0.0


def test_parameters_vector_round_trip():
    ps = [cr.ones(2, 3), cr.zeros(4)]
    v = U.parameters_to_vector(ps)
    assert v.shape == (10,)
    U.vector_to_parameters(cr.arange(10).float(), ps)
    assert ps[0].data.tolist() == [[0, 1, 2], [3, 4, 5]] and ps[1].data.tolist() == [6, 7, 8, 9]
