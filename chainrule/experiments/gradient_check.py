"""Finite differences against the chain rule: the V-shaped error curve, and a wrong derivative
caught by the checker."""

from __future__ import annotations

import numpy as np

import chainrule as cr

from ._base import plt

NAME = "gradient-check"
SUMMARY = "finite-difference error vs epsilon (the V curve); a wrong derivative gets caught"


def _loss(theta, x, y):
    w1 = theta[:12].reshape(4, 3)
    w2 = theta[12:16].reshape(1, 4)
    h = (x @ w1.T).tanh()
    return ((h @ w2.T).squeeze(1) - y).square().mean()


class _WrongTanh(cr.autograd.Function):
    """tanh whose backward forgets the square: 1 - y instead of 1 - y**2."""

    @staticmethod
    def forward(ctx, x):
        y = x.tanh()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (1 - y)


def run(ctx):
    g = cr.Generator().manual_seed(ctx.seed)
    theta = cr.randn(16, generator=g, dtype=cr.float64)
    x = cr.randn(8, 3, generator=g, dtype=cr.float64)
    y = cr.randn(8, generator=g, dtype=cr.float64)
    exact = cr.grad(_loss)(theta, x, y).numpy()
    eps_list = np.logspace(-14, -1, ctx.pick(14, 40))
    central, forward = [], []
    base = float(_loss(theta, x, y))
    for eps in ctx.progress(eps_list, desc="epsilons"):
        c_err = f_err = 0.0
        for i in range(16):
            e = np.zeros(16)
            e[i] = eps
            fp = float(_loss(cr.tensor(theta.numpy() + e), x, y))
            fm = float(_loss(cr.tensor(theta.numpy() - e), x, y))
            c_err = max(c_err, abs((fp - fm) / (2 * eps) - exact[i]))
            f_err = max(f_err, abs((fp - base) / eps - exact[i]))
        central.append(c_err)
        forward.append(f_err)
    central, forward = np.array(central), np.array(forward)
    best_c, best_f = int(np.argmin(central)), int(np.argmin(forward))

    # a deliberately wrong derivative, caught by check_grads
    caught, message = False, ""
    try:
        cr.testing.check_grads(_WrongTanh.apply, [cr.randn(5, generator=g)], modes=("rev",))
    except cr.testing.GradcheckError as e:
        caught, message = True, str(e)

    p = plt()
    fig, ax = p.subplots(figsize=(6, 4))
    ax.loglog(eps_list, central, "o-", label="central difference")
    ax.loglog(eps_list, forward, "s-", label="one-sided difference")
    ax.set_xlabel("epsilon")
    ax.set_ylabel("max |finite difference - exact gradient|")
    ax.set_title("Round-off error (left) vs truncation error (right)")
    ax.legend()
    ctx.figure(fig, "fd_error_vs_epsilon")
    ctx.conclude(
        f"Central differences were most accurate at eps = {eps_list[best_c]:.0e} "
        f"(max error {central[best_c]:.1e}), one-sided at eps = {eps_list[best_f]:.0e} "
        f"(error {forward[best_f]:.1e}); smaller eps lost accuracy to round-off (error "
        f"{central[0]:.1e} at {eps_list[0]:.0e}), larger eps to truncation. The wrong tanh "
        f"derivative was {'caught' if caught else 'NOT caught'} by check_grads.")
    return {"epsilons": eps_list, "central_error": central, "forward_error": forward,
            "best_central_eps": eps_list[best_c], "best_forward_eps": eps_list[best_f],
            "wrong_derivative_caught": caught, "checker_message": message}
