"""Reverse mode, forward mode, transforms, custom functions and the engine's errors."""

import sys

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.errors import GraphError, NotDifferentiableError, ShapeError
from chainrule.testing import GradcheckError, check_grads


def test_fan_out_and_broadcast_accumulate():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor(3.0, requires_grad=True)
    y = (x * x + x * b + b).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy() + 3)
    np.testing.assert_allclose(b.grad.numpy(), 1 + 2 + 2)
    assert b.grad.shape == ()


def test_grad_accumulates_until_zeroed():
    x = cr.tensor([1.0], requires_grad=True)
    (2 * x).sum().backward()
    (2 * x).sum().backward()
    assert x.grad.tolist() == [4.0]
    x.grad = None
    (3 * x).sum().backward()
    assert x.grad.tolist() == [3.0]


def test_shared_cotangent_is_not_aliased_between_leaves():
    a = cr.zeros(2, requires_grad=True)
    b = cr.zeros(2, requires_grad=True)
    (a + b).sum().backward()
    a.grad.data *= 10
    assert b.grad.tolist() == [1.0, 1.0]


def test_second_backward_needs_retain_graph():
    x = cr.tensor(2.0, requires_grad=True)
    y = x.exp() * x
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 2 * (np.exp(2) * 3), rtol=1e-6)
    with pytest.raises(GraphError, match="retain_graph=True"):
        y.backward()


def test_backward_errors_say_what_to_do():
    x = cr.ones(3, requires_grad=True)
    with pytest.raises(GraphError, match="gradient="):
        (x * 2).backward()
    with pytest.raises(NotDifferentiableError, match="requires_grad=True"):
        cr.ones(3).sum().backward()
    with pytest.raises(ShapeError):
        (x * 2).backward(cr.ones(2))
    y = x * 2
    y.backward(cr.tensor([1.0, 0.0, 2.0]))
    assert x.grad.tolist() == [2.0, 0.0, 4.0]


def test_no_grad_and_enable_grad():
    w = cr.ones(2, requires_grad=True)
    with cr.no_grad():
        assert not (w * 2).requires_grad
        with cr.enable_grad():
            assert (w * 2).requires_grad

    @cr.no_grad()
    def f(v):
        return v * 3

    assert not f(w).requires_grad
    assert not (w.detach() * 2).requires_grad


def test_long_chain_is_iterative():
    x = cr.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    assert sys.getrecursionlimit() < 100_000
    y.backward()
    assert x.grad.item() == 1.0


def test_vertex_runs_after_all_its_consumers():
    # roots that feed each other: z's cotangent reaches y before y runs
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = y * y
    gy, gz = cr.tensor([1.0, 1.0]), cr.tensor([0.5, 2.0])
    (gx,) = cr.autograd.grad([y, z], [x], [gy, gz])
    np.testing.assert_allclose(gx.numpy(), 3 * (gy.numpy() + gz.numpy() * 2 * y.detach().numpy()))
    # a diamond with one long arm: a runs once, after both arms
    a = x * 2
    b = a
    for _ in range(5):
        b = b + 0.0
    (a * b).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * 2 * 2 * x.detach().numpy())


class Blocked(cr.autograd.Function):
    """The identity with no gradient: its input gets no cotangent from it."""

    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, g):
        return None


def test_input_reached_through_a_blocked_path_gets_the_other_cotangents():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    b = a * 3  # reached only through Blocked: no cotangent comes this way
    (Blocked.apply(b).sum() + a.sum()).backward()
    assert x.grad.tolist() == [2.0, 2.0]


class Counted(cr.autograd.Function):
    """The identity, counting the calls of its reverse rule and the cotangents it got."""

    calls = []

    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return x * 1.0

    @staticmethod
    def backward(ctx, g):
        Counted.calls.append((ctx.k, float(g.sum().item())))
        return g, None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 50),
                                   st.none() | st.floats(-2, 2, width=32)),
                         min_size=1, max_size=3), min_size=1, max_size=12),
       st.booleans())
# a vertex consumed directly and, later recorded, through another vertex: the direct edge
# comes first among the sum's inputs, or last
@example([[(0, None)], [(1, None)], [(1, None), (2, 0.5)]], False)
@example([[(0, None)], [(1, None)], [(2, 0.5), (1, None)]], True)
def test_every_node_runs_once_with_its_whole_cotangent(dag, via_grad):
    """Random graphs of weighted sums (weight None: the vertex itself, no product between),
    each vertex's consumers recorded in any order: every vertex's reverse rule runs once,
    after all of them, with their summed cotangent."""
    x = cr.tensor([1.0], requires_grad=True)
    vs, coef = [x], [{}]  # each vertex: a weighted sum of earlier ones
    for k, terms in enumerate(dag, start=1):
        total, c = None, {}
        for j, w in terms:
            j %= len(vs)
            term = vs[j] if w is None else vs[j] * w
            total = term if total is None else total + term
            c[j] = c.get(j, 0.0) + (1.0 if w is None else w)
        vs.append(Counted.apply(total, k))
        coef.append(c)
    # expected: d out / d v for every vertex, by hand from the last one back
    n = len(vs)
    adj = [0.0] * n
    adj[-1] = 1.0
    for k in range(n - 1, 0, -1):
        for j, w in coef[k].items():
            adj[j] += np.float32(w) * adj[k]
    Counted.calls = []
    if via_grad:
        (gx,) = cr.autograd.grad(vs[-1].sum(), [x])
    else:
        vs[-1].sum().backward()
        gx = x.grad
    reached = {k for k in range(1, n) if _reaches(coef, k, n - 1)}
    assert sorted(k for k, _ in Counted.calls) == sorted(reached)
    for k, g in Counted.calls:
        assert g == pytest.approx(adj[k], rel=1e-4, abs=1e-5)
    assert gx.item() == pytest.approx(adj[0], rel=1e-4, abs=1e-5)


def _reaches(coef, k, last):
    """Whether vertex ``k`` feeds vertex ``last``."""
    if k == last:
        return True
    return any(k in coef[m] and _reaches(coef, m, last) for m in range(k + 1, last + 1))


def test_graph_freed_after_backward():
    x = cr.ones(3, requires_grad=True)
    y = (x * 2).sum()
    node = y.grad_fn
    y.backward()
    assert node.inputs is None and node.out is None


def test_create_graph_higher_order():
    x = cr.tensor(1.5, requires_grad=True)
    y = x ** 4
    (g,) = cr.autograd.grad(y, x, create_graph=True)
    (h,) = cr.autograd.grad(g, x, create_graph=True)
    (t,) = cr.autograd.grad(h, x)
    np.testing.assert_allclose([g.item(), h.item(), t.item()],
                               [4 * 1.5 ** 3, 12 * 1.5 ** 2, 24 * 1.5], rtol=1e-6)
    x.grad = None
    y = (x.sin() * x).sum()
    y.backward(create_graph=True)
    gx = x.grad
    x.grad = None
    gx.backward()
    np.testing.assert_allclose(x.grad.item(), 2 * np.cos(1.5) - 1.5 * np.sin(1.5), rtol=1e-5)


def test_autograd_grad_leaves_grad_untouched_and_unused():
    x = cr.ones(2, requires_grad=True)
    z = cr.ones(2, requires_grad=True)
    (g,) = cr.autograd.grad((x * 3).sum(), x)
    assert g.tolist() == [3, 3] and x.grad is None
    with pytest.raises(GraphError, match="allow_unused"):
        cr.autograd.grad((x * 3).sum(), [x, z])
    g1, g2 = cr.autograd.grad((x * 3).sum(), [x, z], allow_unused=True)
    assert g2 is None


def test_transforms_nest():
    f = lambda x: (x ** 3).sum()  # noqa: E731
    x = cr.tensor([1.0, 2.0])
    assert cr.grad(f)(x).tolist() == [3.0, 12.0]
    v, g = cr.value_and_grad(f)(x)
    assert v.item() == 9.0
    h = cr.hessian(f)(x)
    np.testing.assert_allclose(h.numpy(), np.diag([6.0, 12.0]))
    # jvp of grad (forward over reverse) and grad of jvp (reverse over forward)
    _, hv = cr.jvp(cr.grad(f), (x,), (cr.tensor([1.0, 0.0]),))
    np.testing.assert_allclose(hv.numpy(), [6.0, 0.0])
    gj = cr.grad(lambda y: cr.jvp(f, (y,), (cr.ones(2),))[1])(x)
    np.testing.assert_allclose(gj.numpy(), [6.0, 12.0])
    # grad of grad of a scalar function, and closures over an outer variable
    d2 = cr.grad(cr.grad(lambda s: s.sin()))(cr.tensor(0.5))
    np.testing.assert_allclose(d2.item(), -np.sin(0.5), rtol=1e-6)
    gg = cr.grad(lambda a: cr.grad(lambda b: a * b)(cr.tensor(1.0)) * a)(cr.tensor(3.0))
    np.testing.assert_allclose(gg.item(), 6.0)


def test_argnums_aux_and_vjp_jvp():
    f = lambda a, b: ((a * b).sum(), a.shape)  # noqa: E731
    (ga, gb), aux = cr.grad(f, argnums=(0, 1), has_aux=True)(cr.ones(2), cr.full((2,), 3.0))
    assert ga.tolist() == [3, 3] and gb.tolist() == [1, 1] and aux == (2,)
    out, fn = cr.vjp(lambda a: a * 2, cr.ones(3))
    (ct,) = fn(cr.tensor([1.0, 2.0, 3.0]))
    assert ct.tolist() == [2, 4, 6]
    (ct2,) = fn(cr.ones(3))  # a vjp function can be called again
    assert ct2.tolist() == [2, 2, 2]
    o, t = cr.jvp(lambda a: a.exp(), (cr.zeros(2),), (cr.tensor([1.0, 2.0]),))
    assert t.tolist() == [1, 2]


def test_jacobian_modes_agree():
    w = cr.randn(4, 3, generator=cr.Generator().manual_seed(0))
    f = lambda x: (w @ x).tanh()  # noqa: E731
    x = cr.randn(3, generator=cr.Generator().manual_seed(1))
    jr = cr.jacobian(f)(x)
    jf = cr.jacobian(f, mode="fwd")(x)
    assert jr.shape == (4, 3)
    np.testing.assert_allclose(jr.numpy(), jf.numpy(), rtol=1e-5, atol=1e-6)
    expected = (1 - np.tanh(w.numpy() @ x.numpy()) ** 2)[:, None] * w.numpy()
    np.testing.assert_allclose(jr.numpy(), expected, rtol=1e-5, atol=1e-6)
    j2 = cr.jacobian(lambda a, b: a * b, argnums=(0, 1))(cr.ones(2), cr.full((2,), 2.0))
    assert isinstance(j2, tuple) and j2[0].shape == (2, 2)


def _mlp_loss(theta, x, y):
    w1 = theta[:8].reshape(4, 2)
    b1 = theta[8:12]
    w2 = theta[12:16].reshape(1, 4)
    h = (x @ w1.T + b1).tanh()
    return ((h @ w2.T).squeeze(1) - y).square().mean()


def test_hessian_of_mlp_matches_finite_differences():
    g = cr.Generator().manual_seed(0)
    theta = cr.randn(16, generator=g, dtype=cr.float64)
    x = cr.randn(5, 2, generator=g, dtype=cr.float64)
    y = cr.randn(5, generator=g, dtype=cr.float64)
    H = cr.hessian(_mlp_loss)(theta, x, y).numpy()
    gradf = cr.grad(_mlp_loss)
    eps = 1e-5
    num = np.zeros((16, 16))
    for i in range(16):
        e = np.zeros(16)
        e[i] = eps
        num[:, i] = (gradf(cr.tensor(theta.numpy() + e), x, y).numpy()
                     - gradf(cr.tensor(theta.numpy() - e), x, y).numpy()) / (2 * eps)
    np.testing.assert_allclose(H, num, atol=1e-6)
    np.testing.assert_allclose(H, H.T, atol=1e-10)
    v = cr.randn(16, generator=g, dtype=cr.float64)
    val, hv = cr.hvp(_mlp_loss, (theta, x, y), (v, cr.zeros_like(x), cr.zeros_like(y)))
    np.testing.assert_allclose(hv[0].numpy(), H @ v.numpy(), atol=1e-8)


class Cube(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x ** 2

    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.saved_tensors
        return t * 3 * x ** 2


class WrongCube(Cube):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2 * x ** 2


def test_custom_function_and_gradcheck_catches_wrong_rule():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    Cube.apply(x).sum().backward()
    assert x.grad.tolist() == [3.0, 12.0]
    check_grads(Cube.apply, [cr.tensor([0.5, -1.0])], modes=("rev", "fwd"))
    with pytest.raises(GradcheckError, match="rev-mode") as e:
        check_grads(WrongCube.apply, [cr.tensor([0.5, -1.0])], modes=("rev",))
    assert "arg0" in str(e.value)


def test_check_grads_reports_element():
    bad = lambda x: x * x.detach()  # noqa: E731  (gradient misses a term)
    with pytest.raises(GradcheckError, match="Worst element"):
        check_grads(bad, [cr.tensor([1.0, 2.0])])


def test_apply_checks_one_flag_for_forward_mode_anomaly_and_tracing():
    from chainrule.core.state import STATE

    assert not STATE.hooked
    with cr.detect_anomaly():
        assert STATE.hooked
        with pytest.raises(cr.errors.NumericalError):
            cr.tensor([-1.0], requires_grad=True).log().sqrt()
    assert not STATE.hooked

    seen = []

    def f(x):
        seen.append(STATE.hooked)
        return (x * x).sum()

    _, t = cr.jvp(f, (cr.tensor([1.0, 2.0]),), (cr.tensor([1.0, 0.0]),))
    assert seen == [True] and t.item() == 2.0 and not STATE.hooked
