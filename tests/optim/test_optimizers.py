"""Optimiser behaviour that needs no oracle: validation, groups, state, Newton's method."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import ArgumentError, ShapeError
from chainrule.optim import SGD, Adagrad, Adam, AdamW, Newton, RMSprop

ALL = [SGD, Adam, AdamW, RMSprop, Adagrad]


def _w(*vals):
    return cr.tensor(list(vals), requires_grad=True)


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("lr", [-0.1, float("nan"), float("inf"), "fast"])
def test_bad_lr_names_optimiser_argument_and_value(cls, lr):
    with pytest.raises(ArgumentError) as e:
        cls([_w(1.0)], lr=lr)
    msg = str(e.value)
    assert cls.__name__ in msg and "'lr'" in msg and repr(lr) in msg and ">=" in msg


@pytest.mark.parametrize("cls,kwargs,arg", [
    (SGD, dict(momentum=1.0), "momentum"),
    (SGD, dict(momentum=-0.1), "momentum"),
    (SGD, dict(momentum=float("nan")), "momentum"),
    (SGD, dict(weight_decay=-1.0), "weight_decay"),
    (SGD, dict(nesterov=True), "nesterov"),
    (SGD, dict(nesterov=True, momentum=0.9, dampening=0.1), "nesterov"),
    (Adam, dict(betas=(1.0, 0.999)), "betas[0]"),
    (Adam, dict(betas=(0.9, -0.1)), "betas[1]"),
    (Adam, dict(betas=(0.9,)), "betas"),
    (AdamW, dict(eps=-1e-8), "eps"),
    (RMSprop, dict(alpha=1.5), "alpha"),
    (RMSprop, dict(momentum=1.0), "momentum"),
    (Adagrad, dict(lr_decay=-1.0), "lr_decay"),
    (Adagrad, dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
])
def test_bad_hyperparameters(cls, kwargs, arg):
    with pytest.raises(ArgumentError, match=cls.__name__) as e:
        cls([_w(1.0)], **kwargs)
    assert f"'{arg}'" in str(e.value)


def test_group_options_are_validated_too():
    with pytest.raises(ArgumentError, match="momentum"):
        SGD([{"params": [_w(1.0)], "momentum": 2.0}], lr=0.1)


def test_bad_params_argument():
    with pytest.raises(ArgumentError, match="single Tensor"):
        SGD(_w(1.0), lr=0.1)
    with pytest.raises(ArgumentError, match="empty"):
        SGD([], lr=0.1)
    with pytest.raises(ArgumentError, match="Tensors"):
        SGD([np.zeros(3)], lr=0.1)
    w = _w(1.0)
    with pytest.raises(ArgumentError, match="more than one"):
        SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(ArgumentError, match="non-leaf"):
        SGD([w * 2], lr=0.1)


def test_named_parameters_and_add_param_group():
    a, b = _w(1.0), _w(2.0, 3.0)
    opt = SGD([("a", a)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["a"]
    opt.add_param_group({"params": [b], "lr": 0.01, "momentum": 0.5})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert opt.param_groups[1]["momentum"] == 0.5 and opt.param_groups[0]["momentum"] == 0.0
    (a.sum() + (b * b).sum()).backward()
    opt.step()
    np.testing.assert_allclose(a.data, [0.9])
    np.testing.assert_allclose(b.data, [2.0 - 0.04, 3.0 - 0.06], rtol=1e-6)


@pytest.mark.parametrize("cls", ALL)
def test_step_in_place_no_new_objects_grads_untouched(cls):
    w = cr.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    data_id = id(w.data)
    kwargs = dict(weight_decay=0.1, maximize=True)
    if cls in (SGD, RMSprop):
        kwargs["momentum"] = 0.9
    opt = cls([w], lr=0.1, **kwargs)
    for _ in range(3):
        opt.zero_grad()
        (w * w * w).sum().backward()
        g_before = w.grad.data.copy()
        g_obj = w.grad.data
        opt.step()
        assert w.grad.data is g_obj
        np.testing.assert_array_equal(w.grad.data, g_before)  # the gradient is never written
    assert id(w.data) == data_id and w.data.dtype == np.float32
    assert all(v.data.dtype == np.float32 for v in opt.state[w].values()
               if isinstance(v, cr.Tensor))
    assert w.grad_fn is None and not any(
        isinstance(v, cr.Tensor) and v.requires_grad for v in opt.state[w].values())


@pytest.mark.parametrize("cls", ALL)
def test_params_without_grad_are_skipped(cls):
    used, unused = _w(1.0, 2.0), _w(5.0)
    opt = cls([used, unused], lr=0.1, weight_decay=0.5)
    (used * used).sum().backward()
    opt.step()
    assert unused.data.tolist() == [5.0] and unused not in opt.state or \
        not opt.state[unused].get("step")


def test_zero_grad_modes_and_shared_arrays():
    w = _w(1.0, 2.0)
    opt = SGD([w], lr=0.1)
    (w * 3).sum().backward()
    g = w.grad.data
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None and w.grad.data.tolist() == [0.0, 0.0]
    assert g.tolist() == [3.0, 3.0]  # the old array was replaced, not zeroed in place
    opt.zero_grad()
    assert w.grad is None


def test_grad_shape_mismatch_is_typed():
    w = _w(1.0, 2.0)
    w.grad = cr.tensor([1.0, 2.0, 3.0])
    with pytest.raises(ShapeError, match="gradient of shape"):
        SGD([w], lr=0.1).step()


def test_closure_is_called_and_loss_returned():
    w = _w(2.0)
    opt = SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 4.0 and w.item() == 1.0


def test_state_dict_layout_is_pytorch_like():
    a, b = _w(1.0), _w(2.0, 3.0)
    opt = Adam([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    (a.sum() + b.sum()).backward()
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.5
    assert set(sd["state"]) == {0, 1}
    assert sd["state"][1]["step"] == 1 and sd["state"][1]["exp_avg"].shape == (2,)
    # copies: stepping again doesn't change the saved dict
    saved = sd["state"][0]["exp_avg"].data.copy()
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"].data, saved)
    with pytest.raises(ArgumentError, match="groups"):
        Adam([a, b]).load_state_dict(sd)


def test_load_state_dict_accepts_numpy_and_casts_to_param_dtype():
    w = cr.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = SGD([w], lr=0.1, momentum=0.9)
    opt.load_state_dict({"state": {0: {"momentum_buffer": np.full(3, 2.0)}},
                         "param_groups": [{"params": [0], "lr": 0.2, "momentum": 0.9,
                                           "dampening": 0.0, "weight_decay": 0.0,
                                           "nesterov": False, "maximize": False}]})
    assert opt.state[w]["momentum_buffer"].dtype == np.float32
    w.grad = cr.tensor(np.zeros(3, dtype=np.float32))
    opt.step()  # buf = 0.9 * 2 = 1.8; w = 1 - 0.2 * 1.8
    np.testing.assert_allclose(w.data, 1 - 0.2 * 1.8, rtol=1e-6)


def test_repr_lists_groups():
    r = repr(SGD([_w(1.0)], lr=0.1, momentum=0.9))
    assert "SGD" in r and "momentum: 0.9" in r and "Parameter Group 0" in r


# ------------------------------------------------------------------------------------ Newton
def _quadratic(n=6, seed=0):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(n, n))
    A = M @ M.T + n * np.eye(n)
    b = rng.normal(size=n)
    return A, b


@pytest.mark.parametrize("mode", ["exact", "cg"])
def test_newton_solves_a_quadratic_in_one_step(mode):
    A, b = _quadratic()
    w = cr.tensor(np.zeros(6), requires_grad=True)
    At, bt = cr.tensor(A), cr.tensor(b)
    opt = Newton([w], damping=0.0, mode=mode, cg_iters=20)
    loss = opt.step(lambda: 0.5 * (w @ (At @ w)) - (bt * w).sum())
    assert loss.item() == 0.0
    np.testing.assert_allclose(w.data, np.linalg.solve(A, b), rtol=1e-8, atol=1e-10)


def test_newton_logistic_regression_step_matches_closed_form():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    y = (X @ [1.0, -2.0, 0.5] + 0.3 * rng.normal(size=40) > 0).astype(np.float64)
    w0 = rng.normal(size=3) * 0.1
    w = cr.tensor(w0.copy(), requires_grad=True)
    b = cr.tensor(np.zeros(1), requires_grad=True)
    Xt, yt = cr.tensor(X), cr.tensor(y)
    damping, lr = 1e-3, 0.7

    def closure():
        z = Xt @ w + b
        return (cr.softplus(z) - yt * z).mean()

    Newton([w, b], lr=lr, damping=damping).step(closure)
    Xb = np.hstack([X, np.ones((40, 1))])
    theta = np.concatenate([w0, [0.0]])
    p = 1 / (1 + np.exp(-Xb @ theta))
    g = Xb.T @ (p - y) / 40
    H = (Xb * (p * (1 - p))[:, None]).T @ Xb / 40 + damping * np.eye(4)
    expected = theta - lr * np.linalg.solve(H, g)
    np.testing.assert_allclose(np.concatenate([w.data, b.data]), expected, rtol=1e-9)


@pytest.mark.parametrize("mode", ["exact", "cg"])
def test_newton_minimises_rosenbrock(mode):
    w = cr.tensor([-1.2, 1.0], dtype=cr.float64, requires_grad=True)
    opt = Newton([w], damping=1e-6, mode=mode, cg_iters=10)
    for _ in range(30):
        opt.step(lambda: (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2)
    np.testing.assert_allclose(w.data, [1.0, 1.0], atol=1e-6)
    assert opt.state[w]["step"] == 30


def test_newton_errors():
    big = cr.zeros(101, requires_grad=True)
    with pytest.raises(ArgumentError, match="max_params=100.*got 101.*mode='cg'"):
        Newton([big], max_params=100)
    Newton([big], max_params=100, mode="cg")  # cg mode doesn't form the Hessian
    w = _w(1.0)
    with pytest.raises(ArgumentError, match="closure"):
        Newton([w]).step()
    with pytest.raises(ArgumentError, match="mode"):
        Newton([w], mode="quasi")
    with pytest.raises(ArgumentError, match="damping"):
        Newton([w], damping=-1.0)

    def calls_backward():
        loss = (w * w).sum()
        loss.backward()
        return loss

    with pytest.raises(cr.errors.GraphError, match="must not call backward"):
        Newton([w]).step(calls_backward)


def test_newton_cg_negative_curvature_falls_back_to_gradient():
    w = cr.tensor([0.5, 0.0], dtype=cr.float64, requires_grad=True)
    # f = -x^2 + y^2: at (0.5, 0) the gradient (-1, 0) points along negative curvature
    Newton([w], lr=0.1, mode="cg", damping=0.0).step(lambda: -w[0] ** 2 + w[1] ** 2)
    assert math.isclose(w.data[0], 0.5 - 0.1 * -1.0) and w.data[1] == 0.0


def test_load_state_dict_rejects_state_of_another_shape():
    a = cr.zeros(3, requires_grad=True)
    opt = SGD([a], lr=0.1, momentum=0.9)
    a.grad = cr.ones(3)
    opt.step()
    sd = opt.state_dict()
    other = SGD([cr.zeros(4, requires_grad=True)], lr=0.1, momentum=0.9)
    with pytest.raises(ArgumentError, match=r"shape \(3,\).*\(4,\)"):
        other.load_state_dict(sd)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("momentum,nesterov,dampening", [(0.0, False, 0.0), (0.9, False, 0.0),
                                                         (0.9, True, 0.0), (0.9, False, 0.5)])
def test_sgd_on_large_parameters_matches_the_formula(monkeypatch, dtype, momentum, nesterov,
                                                     dampening):
    """Large parameters take the one-pass OpenBLAS update where NumPy's OpenBLAS offers it;
    the numbers are PyTorch's formula either way."""
    from chainrule import _openblas

    calls = []
    for name in ("axpy", "scale_add"):
        real = getattr(_openblas, name)
        monkeypatch.setattr(_openblas, name,
                            lambda *a, _real=real, _n=name: calls.append(_n) or _real(*a))
    rng = np.random.default_rng(0)
    n = 3 * _openblas.MIN_SIZE
    w0 = rng.standard_normal(n).astype(dtype)
    grads = [rng.standard_normal(n).astype(dtype) for _ in range(4)]
    p = cr.nn.Parameter(w0.copy())
    opt = cr.optim.SGD([p], lr=0.05, momentum=momentum, nesterov=nesterov,
                       dampening=dampening, weight_decay=0.01)
    w, buf = w0.astype(np.float64), None
    for g in grads:
        p.grad = cr.tensor(g)
        opt.step()
        d = g.astype(np.float64) + 0.01 * w
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        w = w - 0.05 * d
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(p.detach().numpy(), w, rtol=tol, atol=tol)
    if _openblas.available():
        assert "axpy" in calls
        assert ("scale_add" in calls) == (momentum != 0 and dampening == 0)


@pytest.mark.parametrize("cls, kwargs", [
    (Adam, {}),
    (Adam, dict(weight_decay=0.1, amsgrad=True)),
    (Adam, dict(betas=(0.3, 0.99), maximize=True)),  # m.lerp_'s other form
    (AdamW, dict(weight_decay=0.05)),
    (RMSprop, dict(momentum=0.9, centered=True, weight_decay=0.01)),
    (RMSprop, dict(alpha=0.3, centered=True, maximize=True)),  # the other lerp form
    (RMSprop, {}),
    (Adagrad, dict(lr_decay=0.01, weight_decay=0.1)),
    (Adagrad, dict(maximize=True)),
])
def test_updates_block_by_block_equal_the_whole_array_update(cls, kwargs, monkeypatch):
    """Large parameters are updated in blocks that stay in cache: bit for bit the same
    numbers as one pass over the whole array (a ragged last block included)."""
    from chainrule.optim import optimizer

    rng = np.random.default_rng(0)
    shapes = [(3, 70_001), (2 * optimizer.BLOCK,), (7, 5)]
    w0 = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(4)]

    def run(block):
        monkeypatch.setattr(optimizer, "BLOCK", block)
        ps = [cr.nn.Parameter(w.copy()) for w in w0]
        opt = cls(ps, lr=0.01, **kwargs)
        for gs in grads:
            for p, g in zip(ps, gs):
                p.grad = cr.tensor(g)
            opt.step()
        return [p.data for p in ps] + [a.data for st in opt.state.values()
                                       for a in st.values() if hasattr(a, "data")]

    blocked = run(1 << 16)
    whole = run(1 << 40)
    assert len(blocked) == len(whole) > 3
    for a, b in zip(blocked, whole):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cls, kwargs", [
    (SGD, dict(momentum=0.9)),
    (SGD, dict(momentum=0.9, nesterov=True, weight_decay=0.01)),
    (Adam, dict(amsgrad=True)),
    (RMSprop, dict(momentum=0.9, centered=True)),
    (Adagrad, {}),
])
def test_fortran_ordered_parameters_keep_their_layout_and_numbers(cls, kwargs):
    """nn.Linear keeps its weight Fortran-ordered. State, scratch, the OpenBLAS path and the
    block-by-block updates follow the parameter's layout; the numbers are those of the same
    parameter in C order, and a gradient in the other layout gives them too. Bit for bit,
    except where OpenBLAS's axpy rounds an element at the end of a thread's share apart from
    the rest (its AVX2 kernels: twice, where the vector body fuses the multiply and add): the
    layouts put other elements there, so those may differ by an ulp a step."""
    from chainrule import _openblas

    rng = np.random.default_rng(1)
    shape = (301, 2 * _openblas.MIN_SIZE // 301 + 1)  # OpenBLAS-sized, and over two blocks
    w0 = rng.standard_normal(shape).astype(np.float32)
    grads = [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]

    def run(order, grad_order):
        p = cr.nn.Parameter(np.array(w0, order=order))
        opt = cls([p], lr=0.01, **kwargs)
        for g in grads:
            p.grad = cr.tensor(np.array(g, order=grad_order))
            opt.step()
        state = [a.data for a in opt.state[p].values() if hasattr(a, "data")]
        return p.data, state

    ref, ref_state = run("C", "C")
    for grad_order in ("F", "C"):
        got, state = run("F", grad_order)
        assert got.flags.f_contiguous and not got.flags.c_contiguous
        assert state and all(s.flags.f_contiguous for s in state)
        np.testing.assert_array_max_ulp(got, ref, maxulp=len(grads))
        assert np.mean(got != ref) < 1e-3
        for s, r in zip(state, ref_state):
            np.testing.assert_array_max_ulp(s, r, maxulp=len(grads))
            assert np.mean(s != r) < 1e-3


def test_openblas_updates_refuse_mixed_layouts():
    """One flat pass over memory is only the elementwise update when both arrays are laid out
    alike; otherwise nothing is written and the caller falls back to NumPy. Where NumPy's
    OpenBLAS offers no axpy, every call reports that it did nothing."""
    from chainrule import _openblas

    rng = np.random.default_rng(2)
    x = rng.standard_normal((400, 300)).astype(np.float32)
    y = rng.standard_normal((400, 300)).astype(np.float32)
    for xs, ys in ((np.asfortranarray(x), y.copy()),
                   (x, y.copy().reshape(300, 400))):  # same size, other shape
        before = ys.copy()
        assert not _openblas.axpy(0.5, xs, ys)
        np.testing.assert_array_equal(ys, before)
    for order in ("C", "F"):
        yo = np.array(y, order=order)
        done = _openblas.axpy(0.5, np.array(x, order=order), yo)
        assert done == _openblas.available()
        np.testing.assert_allclose(yo, y + 0.5 * x if done else y, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_openblas_scale_add_is_numpys_two_steps_bit_for_bit(dtype, monkeypatch):
    """``y = b y + x``: one axpby call below AXPBY_MAX elements, scal + axpy above; both round
    as NumPy's ``y *= b; y += x``."""
    from chainrule import _openblas

    rng = np.random.default_rng(4)
    if not _openblas.available():  # nothing done: the optimisers keep their NumPy update
        x, y = (rng.standard_normal(_openblas.MIN_SIZE + 3).astype(dtype) for _ in range(2))
        before = y.copy()
        assert not _openblas.scale_add(0.9, x, y)
        np.testing.assert_array_equal(y, before)
        return
    calls = []
    real = dict(_openblas._lib)
    for k in list(real):
        monkeypatch.setitem(_openblas._lib, k, lambda *a, _k=k: calls.append(_k) or real[_k](*a))
    prefix = "s" if dtype == np.float32 else "d"
    small = _openblas.MIN_SIZE + 3
    for n, path in ((small, "axpby"), (_openblas.AXPBY_MAX + 5, "scal")):
        x, y = (rng.standard_normal(n).astype(dtype) for _ in range(2))
        ref = y.copy()
        ref *= dtype(0.9)
        ref += x
        calls.clear()
        assert _openblas.scale_add(0.9, x, y)
        np.testing.assert_array_equal(y, ref)
        if path == "axpby" and prefix + "axpby" not in real:
            path = "scal"  # an OpenBLAS without axpby: the two calls
        assert calls[0] == prefix + path


def test_openblas_matmul_into_windows_and_refusals():
    from chainrule import _openblas

    rng = np.random.default_rng(0)
    big = rng.standard_normal((5, 40)).astype(np.float32)
    a = rng.standard_normal((3, 5)).astype(np.float32)
    out = np.full((3, 30), np.nan, np.float32)
    if not _openblas.gemm_available(np.float32):
        assert not _openblas.matmul_into(a, big[:, 4:34], out)
        return
    assert _openblas.matmul_into(a, big[:, 4:34], out)  # a window of big: its rows apart
    np.testing.assert_allclose(out, a @ big[:, 4:34], rtol=1e-5, atol=1e-5)
    assert _openblas.matmul_into(a, big[:, 4:34], out, accumulate=True)
    np.testing.assert_allclose(out, 2 * (a @ big[:, 4:34]), rtol=1e-5, atol=1e-5)
    before = out.copy()
    for args in ((np.asfortranarray(a), big[:, 4:34], out),  # columns not contiguous
                 (a, big[:, 4:34:2], out[:, :15]),  # strided columns
                 (a.astype(np.float64), big[:, 4:34], out),  # mixed dtypes
                 (a, big[:4, 4:34], out),  # inner dims differ
                 (a.astype(np.int64), big[:, 4:34].astype(np.int64),
                  out.astype(np.int64))):  # no integer gemm
        assert not _openblas.matmul_into(*args)
    np.testing.assert_array_equal(out, before)
