"""Forward vs reverse mode: the cost of a full Jacobian as the numbers of inputs and outputs
vary. Forward mode pays per input, reverse mode per output."""

from __future__ import annotations

import time

import numpy as np

import chainrule as cr

from ._base import plt

NAME = "ad-modes"
SUMMARY = "cost of a full Jacobian by forward vs reverse mode as inputs/outputs vary"


def _net(n, m, g, hidden=16):
    w1 = cr.randn(hidden, n, generator=g, dtype=cr.float64) / np.sqrt(n)
    w2 = cr.randn(m, hidden, generator=g, dtype=cr.float64) / np.sqrt(hidden)
    return lambda x: (w2 @ (w1 @ x).tanh()).tanh()


def _time(fn, x, reps):
    fn(x)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn(x)
        best = min(best, time.perf_counter() - t0)
    return best


def run(ctx):
    g = cr.Generator().manual_seed(ctx.seed)
    sizes = ctx.pick([1, 4, 16, 48], [1, 2, 4, 8, 16, 32, 64, 128])
    fixed = 8
    reps = ctx.pick(2, 5)
    rows = {"vary_inputs": [], "vary_outputs": []}
    for n in ctx.progress(sizes, desc="inputs"):
        f = _net(n, fixed, g)
        x = cr.randn(n, generator=g, dtype=cr.float64)
        jf, jr = cr.jacobian(f, mode="fwd")(x), cr.jacobian(f, mode="rev")(x)
        assert np.allclose(jf.numpy(), jr.numpy(), atol=1e-10)
        rows["vary_inputs"].append((n, _time(cr.jacobian(f, mode="fwd"), x, reps),
                                    _time(cr.jacobian(f, mode="rev"), x, reps)))
    for m in ctx.progress(sizes, desc="outputs"):
        f = _net(fixed, m, g)
        x = cr.randn(fixed, generator=g, dtype=cr.float64)
        rows["vary_outputs"].append((m, _time(cr.jacobian(f, mode="fwd"), x, reps),
                                     _time(cr.jacobian(f, mode="rev"), x, reps)))
    p = plt()
    fig, axes = p.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((axes[0], "vary_inputs", f"inputs (outputs = {fixed})"),
                           (axes[1], "vary_outputs", f"outputs (inputs = {fixed})")):
        r = np.array(rows[key])
        ax.loglog(r[:, 0], r[:, 1] * 1e3, "o-", label="forward mode")
        ax.loglog(r[:, 0], r[:, 2] * 1e3, "s-", label="reverse mode")
        ax.set_xlabel(f"number of {label}")
        ax.set_ylabel("ms per full Jacobian")
        ax.legend()
    fig.suptitle("Forward mode costs one pass per input, reverse one per output")
    ctx.figure(fig, "jacobian_cost")
    vi, vo = np.array(rows["vary_inputs"]), np.array(rows["vary_outputs"])
    growth_fwd_in = vi[-1, 1] / vi[0, 1]
    growth_rev_in = vi[-1, 2] / vi[0, 2]
    growth_fwd_out = vo[-1, 1] / vo[0, 1]
    growth_rev_out = vo[-1, 2] / vo[0, 2]
    ctx.conclude(
        f"Going from {sizes[0]} to {sizes[-1]} inputs made forward mode {growth_fwd_in:.1f}x "
        f"slower but reverse mode only {growth_rev_in:.1f}x; going from {sizes[0]} to "
        f"{sizes[-1]} outputs made reverse mode {growth_rev_out:.1f}x slower and forward mode "
        f"{growth_fwd_out:.1f}x. With {sizes[-1]} inputs and {fixed} outputs "
        f"{'reverse' if vi[-1, 2] < vi[-1, 1] else 'forward'} mode was faster; with "
        f"{fixed} inputs and {sizes[-1]} outputs "
        f"{'forward' if vo[-1, 1] < vo[-1, 2] else 'reverse'} mode was faster.")
    return {"vary_inputs": rows["vary_inputs"], "vary_outputs": rows["vary_outputs"],
            "fixed": fixed, "growth": {"fwd_in": growth_fwd_in, "rev_in": growth_rev_in,
                                       "fwd_out": growth_fwd_out, "rev_out": growth_rev_out}}
