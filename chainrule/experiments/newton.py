"""Newton's method against gradient descent, SGD and momentum: per iteration and per second.

Gradient descent steps along ``-g`` with one learning rate for every direction. Where the loss
is curved very differently in different directions (an ill-conditioned problem), the learning
rate must be small enough for the steepest direction, and progress along the flat ones is slow.
Newton's method solves ``H d = g`` with the Hessian ``H`` and steps ``-d``: it rescales every
direction by its own curvature, and near a minimum the error is squared at every step (quadratic
convergence), so a handful of iterations reach machine precision.

Two problems show the two sides:

* **Logistic regression** on data whose ten features have scales from 1 to 0.03: the loss is
  convex, the Hessian positive definite, and pure Newton converges in a few steps while the
  first-order methods, each with its best learning rate from a small grid, crawl along the flat
  directions.
* **A small tanh network** (two moons, 2-8-8-1): the loss is not convex; the Hessian has negative
  eigenvalues away from a minimum, and a pure Newton step heads for the stationary point of the
  local quadratic model, which may be a saddle or a maximum, so with a tiny damping it can raise
  the loss. Damped Newton (Levenberg-Marquardt: add ``lambda I`` to ``H``, increase ``lambda`` and
  reject the step when the loss goes up, decrease it when the loss goes down) decreases the loss
  at every accepted step.

Per iteration Newton wins by far. Per second the picture depends on the size: each exact Newton
step forms the ``n x n`` Hessian (one backward pass per parameter) and solves a linear system,
so an iteration costs about ``n`` gradient evaluations. With 11 parameters that is cheap; with
105 the first-order methods run many more iterations in the same time.
"""

from __future__ import annotations

import time

import numpy as np

import chainrule as cr
from chainrule.nn.utils import parameters_to_vector, vector_to_parameters

from ._base import plt

NAME = "newton"
SUMMARY = ("Newton's method vs gradient descent, SGD and momentum on logistic regression and a "
           "small tanh net: loss against iterations and against wall time")

_FIRST_ORDER = ("gradient descent", "SGD", "momentum")
_COLORS = {"Newton": "tab:red", "Newton (damping 1e-3)": "tab:pink",
           "damped Newton (LM)": "tab:red", "gradient descent": "tab:blue", "SGD": "tab:green",
           "momentum": "tab:purple"}


def _logistic_problem(seed, n=500, d=10):
    rng = np.random.default_rng(seed)
    scales = np.logspace(0, -1.5, d)  # feature scales 1 ... 0.03: an ill-conditioned Hessian
    x = rng.standard_normal((n, d)) * scales
    w = rng.standard_normal(d) * 3 / scales / np.sqrt(d)
    y = (rng.random(n) < 1 / (1 + np.exp(-(x @ w)))).astype(np.float64)  # overlapping classes

    def model():
        g = cr.Generator().manual_seed(seed)
        return cr.nn.Linear(d, 1, dtype=cr.float64, generator=g)

    return cr.tensor(x), cr.tensor(y[:, None]), model


def _net_problem(seed, hidden=8, n=200):
    x, y = cr.data.datasets.two_moons(n=n, noise=0.2, seed=seed)
    x = (x - x.mean(0)) / x.std(0)
    nn = cr.nn

    def model():
        g = cr.Generator().manual_seed(seed)
        kw = dict(dtype=cr.float64, generator=g)
        return nn.Sequential(nn.Linear(2, hidden, **kw), nn.Tanh(),
                             nn.Linear(hidden, hidden, **kw), nn.Tanh(),
                             nn.Linear(hidden, 1, **kw))

    return cr.tensor(x.astype(np.float64)), cr.tensor(y[:, None].astype(np.float64)), model


def _loss(model, x, y):
    return cr.nn.functional.binary_cross_entropy_with_logits(model(x), y)


def _run(make, x, y, method, iters, lr=None, damping=0.0, adapt=False, batch=32, seed=0):
    """Train a fresh model; loss on the whole training set after every iteration and the
    cumulative wall time of the optimiser's work (the loss recording is not timed)."""
    model = make()
    params = list(model.parameters())
    if method == "newton":
        opt = cr.optim.Newton(params, damping=damping)
    else:
        opt = cr.optim.SGD(params, lr=lr, momentum=0.9 if method == "momentum" else 0.0)
    rng = np.random.default_rng(seed + 7)
    n = x.shape[0]
    with cr.no_grad():
        losses = [_loss(model, x, y).item()]
    times, rejected, elapsed = [0.0], 0, 0.0
    for _ in range(iters):
        t0 = time.perf_counter()
        if method == "newton":
            before = parameters_to_vector(params)
            old = opt.step(lambda: _loss(model, x, y)).item()
            if adapt:  # Levenberg-Marquardt: keep the step only if it lowered the loss
                with cr.no_grad():
                    new = _loss(model, x, y).item()
                group = opt.param_groups[0]
                if not new < old:
                    vector_to_parameters(before, params)
                    group["damping"] = group["damping"] * 4
                    rejected += 1
                else:
                    group["damping"] = max(group["damping"] / 3, 1e-8)
        else:
            opt.zero_grad()
            if method == "SGD":
                b = rng.choice(n, batch, replace=False)
                _loss(model, x[b], y[b]).backward()
            else:
                _loss(model, x, y).backward()
            opt.step()
        elapsed += time.perf_counter() - t0
        times.append(elapsed)
        with cr.no_grad():
            loss = _loss(model, x, y).item()
        losses.append(loss if np.isfinite(loss) else np.inf)
    return {"loss": np.array(losses), "time": np.array(times), "rejected": rejected}


def _tuned(make, x, y, method, iters, grid, seed):
    """The run with the lowest final loss over a grid of learning rates."""
    runs = {lr: _run(make, x, y, method, iters, lr=lr, seed=seed) for lr in grid}
    best = min(grid, key=lambda lr: runs[lr]["loss"][-1]
               if np.isfinite(runs[lr]["loss"][-1]) else np.inf)
    out = dict(runs[best])
    out["lr"] = best
    out["grid_final_loss"] = {lr: r["loss"][-1] for lr, r in runs.items()}
    return out


def _plot_pair(axes, runs, key, floor, title, ylabel):
    for name, r in runs.items():
        vals = np.maximum(r["loss"] - floor, 1e-16) if floor is not None else r["loss"]
        label = name + (f" (lr {r['lr']:g})" if "lr" in r else "")
        kw = dict(color=_COLORS[name], label=label,
                  ls="--" if name == "Newton (damping 1e-3)" else "-")
        axes[0].plot(np.arange(len(vals)), vals, **kw)
        axes[1].plot(np.maximum(r["time"], 1e-5), vals, **kw)
    for ax in axes:
        ax.set_yscale("log")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    axes[0].set_xscale("symlog", linthresh=10)
    axes[0].set_xlim(left=0)
    axes[0].set_xlabel("iteration (symlog scale)")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("wall time of the optimiser's work (s)")
    axes[0].set_title(f"{title}: per iteration")
    axes[1].set_title(f"{title}: per second")


def _to_reach(r, level):
    """(iterations, seconds) until the loss first falls to ``level`` (nan if never)."""
    hit = np.nonzero(r["loss"] <= level)[0]
    if not len(hit):
        return float("nan"), float("nan")
    return float(hit[0]), float(r["time"][hit[0]])


def run(ctx):
    seed = ctx.seed
    # logistic regression: convex and ill-conditioned
    x, y, make = _logistic_problem(seed)
    fo_iters = ctx.pick(300, 2000)
    grids = {"gradient descent": ctx.pick([3.0, 10.0, 30.0], [1.0, 3.0, 10.0, 20.0, 30.0]),
             "SGD": ctx.pick([1.0, 3.0, 10.0], [0.3, 1.0, 3.0, 10.0]),
             "momentum": ctx.pick([1.0, 3.0, 5.0], [0.3, 1.0, 3.0, 5.0])}
    logit = {"Newton": _run(make, x, y, "newton", 15, damping=0.0)}
    for m in ctx.progress(_FIRST_ORDER, desc="logistic regression"):
        logit[m] = _tuned(make, x, y, m, fo_iters, grids[m], seed)
    l_star = min(float(r["loss"].min()) for r in logit.values())

    # a small tanh network: not convex
    xn, yn, make_net = _net_problem(seed)
    n_net = sum(p.data.size for p in make_net().parameters())
    net_fo_iters = ctx.pick(1000, 4000)
    newton_iters = ctx.pick(40, 100)
    net_grids = {"gradient descent": ctx.pick([1.0, 3.0], [0.3, 1.0, 3.0, 10.0]),
                 "SGD": ctx.pick([1.0, 3.0], [0.3, 1.0, 3.0]),
                 "momentum": ctx.pick([0.3, 1.0], [0.1, 0.3, 1.0])}
    net = {"damped Newton (LM)": _run(make_net, xn, yn, "newton", newton_iters, damping=1.0,
                                      adapt=True),
           "Newton (damping 1e-3)": _run(make_net, xn, yn, "newton", newton_iters,
                                         damping=1e-3)}
    for m in ctx.progress(_FIRST_ORDER, desc="tanh network"):
        net[m] = _tuned(make_net, xn, yn, m, net_fo_iters, net_grids[m], seed)

    p = plt()
    fig, axes = p.subplots(2, 2, figsize=(13, 9))
    _plot_pair(axes[0], logit, "loss", l_star, "logistic regression (11 parameters)",
               "loss - lowest loss found")
    _plot_pair(axes[1], net, "loss", None, f"tanh net 2-8-8-1 on two moons ({n_net} parameters)",
               "training loss")
    fig.suptitle("Newton's method vs first-order methods (each with its best learning rate from "
                 "a grid)")
    fig.tight_layout()
    ctx.figure(fig, "newton")

    # the numbers behind the conclusion
    newton = logit["Newton"]
    sub = {k: r["loss"] - l_star for k, r in logit.items()}
    newton_sub_10 = float(sub["Newton"][10])
    best_fo = min(_FIRST_ORDER, key=lambda m: sub[m][-1])
    best_fo_sub = float(sub[best_fo][-1])
    newton_it, newton_t = _to_reach(newton, l_star + best_fo_sub)
    lm = net["damped Newton (LM)"]
    plain = net["Newton (damping 1e-3)"]
    best_net_fo = min(_FIRST_ORDER, key=lambda m: net[m]["loss"][-1])
    fo = net[best_net_fo]
    lm_final = float(lm["loss"][-1])
    fo_same_iters = float(fo["loss"][newton_iters])
    fo_same_time = float(fo["loss"][np.searchsorted(fo["time"], lm["time"][-1], side="right") - 1])
    fo_it, fo_t = _to_reach(fo, lm_final)
    lm_monotone = bool(np.all(np.diff(lm["loss"]) <= 1e-12))
    if fo["time"][-1] >= lm["time"][-1]:
        per_time = (f"damped Newton {'won' if fo_same_time > lm_final else 'lost'}: in its "
                    f"{lm['time'][-1]:.2f} s {best_net_fo} reached {fo_same_time:.2e}")
    elif fo_same_time <= lm_final:
        per_time = (f"damped Newton lost: {best_net_fo}'s whole run of {net_fo_iters} "
                    f"iterations took {fo['time'][-1]:.2f} s, less than Newton's "
                    f"{lm['time'][-1]:.2f} s, and ended lower ({fo_same_time:.2e})")
    else:
        per_time = (f"there is no clear winner: {best_net_fo}'s whole run of {net_fo_iters} "
                    f"iterations took {fo['time'][-1]:.2f} s, less than Newton's "
                    f"{lm['time'][-1]:.2f} s, but ended higher ({fo_same_time:.2e})")

    ctx.conclude(
        f"Logistic regression: pure Newton was {newton_sub_10:.1e} above the lowest loss after "
        f"10 iterations (quadratic convergence: "
        f"{', '.join(f'{v:.0e}' for v in sub['Newton'][1:7])}), while the best first-order "
        f"method, {best_fo} (lr {logit[best_fo]['lr']:g}), was still {best_fo_sub:.1e} above it "
        f"after {fo_iters} iterations; Newton got there in {newton_it:.0f} iterations and "
        f"{newton_t * 1e3:.0f} ms against {logit[best_fo]['time'][-1] * 1e3:.0f} ms. "
        f"Tanh net ({n_net} parameters): Newton with damping 1e-3 "
        + ("raised" if plain["loss"].max() > plain["loss"][0] + 1e-9 else "did not raise")
        + f" the loss above its start at some step (largest {plain['loss'].max():.3g} from "
        f"{plain['loss'][0]:.3g}, final {plain['loss'][-1]:.3g}); damped Newton "
        + ("lowered the loss at every accepted step" if lm_monotone else "did not always lower "
           "the loss")
        + f" ({lm['rejected']} of {newton_iters} steps rejected) to {lm_final:.2e} after "
        f"{newton_iters} iterations, where {best_net_fo} (lr {fo['lr']:g}) was at "
        f"{fo_same_iters:.2e}; per second, " + per_time
        + (f", and {best_net_fo} needed {fo_it:.0f} iterations ({fo_t:.2f} s) to match it."
           if fo_it == fo_it else
           f", and {best_net_fo} did not match it in {net_fo_iters} iterations."))

    return {"logistic": logit, "logistic_best_loss": l_star, "net": net, "net_params": n_net,
            "logistic_newton_gap_at_10": newton_sub_10, "logistic_best_first_order": best_fo,
            "logistic_best_first_order_gap": best_fo_sub, "first_order_iters": fo_iters,
            "net_newton_iters": newton_iters, "net_best_first_order": best_net_fo,
            "net_first_order_at_newton_iters": fo_same_iters,
            "net_first_order_at_newton_time": fo_same_time, "net_newton_final": lm_final,
            "net_newton_monotone": lm_monotone}
