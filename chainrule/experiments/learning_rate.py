"""The learning rate: too small, good and too large; the noise of small batches; schedules.

Three studies of the one number every optimiser needs.

1. **Too small, good, too large.** Full-batch gradient descent on two moons with the same MLP and
   the same start, for a sweep of learning rates. A tiny rate moves the loss so slowly that after
   hundreds of steps it has barely left its starting value; a good rate takes it down smoothly; a
   rate far beyond the curvature of the loss overshoots the valley on every step, so the loss
   jumps up by orders of magnitude and keeps bouncing instead of settling.
2. **Per-example SGD vs mini-batch vs full batch.** Same data, same learning rate, same number of
   epochs (passes through the data). Full-batch gradient descent follows the true gradient, so
   with a moderate rate its training loss falls on every step. A mini-batch, and even more a
   single example, gives a noisy estimate of that gradient: the steps are cheap and many per
   epoch, so the loss falls faster per epoch, but many single steps *raise* the loss on the whole
   training set. That is the bumpiness of the SGD loss curve. It is measured by the fraction of
   updates that raised the training loss and by the curve's total variation divided by its net
   decrease (1 for a curve that only goes down; larger the more it goes up and down on the way).
3. **Constant vs decreasing learning rate.** With a constant rate, per-example SGD on a convex
   problem (logistic regression on two overlapping Gaussian classes) does not converge: the
   gradient noise keeps the weights jittering in a ball around the minimum whose size is set by
   the rate, and the excess loss above the true minimum (found with Newton's method) stays at a
   noise floor. Decreasing the rate shrinks that ball as training goes on: with the notes'
   inverse-time decay ``lr_t = lr_0 / (1 + delta t)`` (the Robbins-Monro conditions hold: the
   rates sum to infinity, their squares do not) or with a step decay, the excess loss keeps
   falling far below the constant rate's floor.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

from ._base import plt

NAME = "learning-rate"
SUMMARY = ("loss curves for too small, good and too large learning rates; per-example SGD vs "
           "mini-batch vs full batch (the bumps); constant vs decreasing schedules")


def _moons(seed, n):
    X, y = cr.data.datasets.two_moons(n=n, noise=0.2, seed=seed)
    return cr.data.Standardizer().fit_transform(X).astype(np.float32), y


def _mlp(seed, hidden=32):
    nn = cr.nn
    g = cr.Generator().manual_seed(seed)
    return nn.Sequential(nn.Linear(2, hidden, generator=g), nn.Tanh(),
                         nn.Linear(hidden, hidden, generator=g), nn.Tanh(),
                         nn.Linear(hidden, 2, generator=g))


def _loss(model, X, y):
    with cr.no_grad():
        return cr.nn.functional.cross_entropy(model(X), y).item()


def _sgd(model, X, y, lr, epochs, batch, seed, scheduler=None):
    """Plain SGD over shuffled batches; the training loss on all of ``X`` after every update.

    Stops early if the loss is no longer finite (the rest of the curve stays missing).
    """
    F = cr.nn.functional
    opt = cr.optim.SGD(model.parameters(), lr=lr)
    sched = scheduler(opt) if scheduler else None
    Xt, yt = cr.tensor(X), cr.tensor(y)
    rng = np.random.default_rng(seed + 1)  # the same order of examples for every run
    n = len(X)
    losses, rates = [_loss(model, Xt, yt)], []
    for _ in range(epochs):
        order = rng.permutation(n)
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            rates.append(opt.param_groups[0]["lr"])
            opt.zero_grad()
            F.cross_entropy(model(cr.tensor(X[idx])), cr.tensor(y[idx])).backward()
            opt.step()
            if sched is not None:
                sched.step()
            losses.append(_loss(model, Xt, yt))
            if not np.isfinite(losses[-1]):
                return np.array(losses), np.array(rates)
    return np.array(losses), np.array(rates)


def _bumpiness(curve):
    """(fraction of updates that raised the loss, total variation / net decrease)."""
    d = np.diff(curve)
    return float((d > 0).mean()), float(np.abs(d).sum() / max(curve[0] - curve[-1], 1e-12))


def _sweep(ctx, X, y, steps):
    lrs = ctx.pick([1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0],
                   [1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0])
    curves = {}
    for lr in ctx.progress(lrs, desc="learning-rate sweep (full batch)"):
        curves[lr], _ = _sgd(_mlp(ctx.seed), X, y, lr, steps, len(X), ctx.seed)
    return lrs, curves


def _batches(ctx, X, y, lr, epochs):
    out = {}
    for batch in ctx.progress([1, 10, len(X)], desc="batch sizes"):
        curve, _ = _sgd(_mlp(ctx.seed), X, y, lr, epochs, batch, ctx.seed)
        up, tv = _bumpiness(curve)
        out[batch] = {"loss": curve, "epoch": np.arange(len(curve)) * batch / len(X),
                      "frac_up": up, "roughness": tv}
    return out


def _schedules(ctx, n, epochs, lr):
    """Per-example SGD on logistic regression: excess loss over Newton's minimum."""
    F = cr.nn.functional
    X, y = cr.data.datasets.gaussian_two_class(n=n, distance=2.0, std=1.0, seed=ctx.seed)
    X = cr.data.Standardizer().fit_transform(X).astype(np.float32)
    Xt, yt = cr.tensor(X), cr.tensor(y)
    ref = cr.nn.Linear(2, 2, generator=cr.Generator().manual_seed(ctx.seed))
    newton = cr.optim.Newton(ref.parameters(), damping=0.0)
    for _ in range(15):
        newton.step(lambda: F.cross_entropy(ref(Xt), yt))
    best = _loss(ref, Xt, yt)
    total = n * epochs
    LR = cr.optim.lr_scheduler
    kinds = {
        "constant": None,
        "inverse time": lambda opt: LR.InverseTimeLR(opt, delta=2.0 / n),
        "step (halve every 1/6 of the run)": lambda opt: LR.StepLR(opt, step_size=total // 6,
                                                                   gamma=0.5),
    }
    out = {}
    for name, sched in ctx.progress(kinds.items(), desc="schedules"):
        model = cr.nn.Linear(2, 2, generator=cr.Generator().manual_seed(ctx.seed))
        curve, rates = _sgd(model, X, y, lr, epochs, 1, ctx.seed, sched)
        excess = np.maximum(curve - best, 1e-12)
        out[name] = {"excess": excess, "lr": rates, "final": float(excess[-1]),
                     "last_epoch_mean": float(excess[-n:].mean())}
    return out, best


def run(ctx):
    n = ctx.pick(200, 400)
    X, y = _moons(ctx.seed, n)
    steps = ctx.pick(300, 1000)
    lrs, curves = _sweep(ctx, X, y, steps)
    small, good, large = lrs[0], 0.3, lrs[-1]
    start = curves[good][0]
    final = {lr: float(c[-1]) if np.isfinite(c[-1]) else float("inf") for lr, c in curves.items()}
    peak = {lr: float(np.nanmax(np.where(np.isfinite(c), c, np.nan))) for lr, c in curves.items()}

    batch_lr, batch_epochs = 0.1, ctx.pick(20, 40)
    batches = _batches(ctx, X, y, batch_lr, batch_epochs)
    sched_lr, sched_epochs, sched_n = 0.5, ctx.pick(10, 20), ctx.pick(100, 200)
    schedules, best = _schedules(ctx, sched_n, sched_epochs, sched_lr)

    p = plt()
    fig, axes = p.subplots(2, 2, figsize=(14, 10))
    ax = axes[0, 0]
    cap = 3 * start
    cmap = p.get_cmap("viridis")
    for i, lr in enumerate(lrs):
        c = curves[lr]
        hi = lr in (small, good, large)
        ax.plot(np.minimum(c, cap), color=cmap(i / (len(lrs) - 1)), lw=2.2 if hi else 0.8,
                alpha=1 if hi else 0.4, zorder=3 if hi else 2,
                label=f"lr {lr:g}: final {final[lr]:.3g}" + ("" if peak[lr] <= cap else
                                                             f" (peak {peak[lr]:.3g})"))
    ax.axhline(cap, color="gray", ls=":", lw=1)
    ax.set_ylim(0, cap * 1.05)
    ax.set_xlabel("gradient-descent step (full batch)")
    ax.set_ylabel(f"training loss (capped at {cap:.2f})")
    ax.set_title("too small, good and too large learning rates")
    ax.legend(fontsize=7, ncol=2)

    ax = axes[0, 1]
    ax.loglog(lrs, [final[lr] for lr in lrs], "o-", label="final loss")
    ax.loglog(lrs, [peak[lr] for lr in lrs], "s--", label="highest loss on the way")
    ax.axhline(start, color="gray", ls=":", label=f"initial loss {start:.3f}")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(f"after {steps} full-batch steps")
    ax.legend(fontsize=8)

    ax = axes[1, 0]
    names = {1: "per-example SGD", 10: "mini-batch of 10", len(X): f"full batch ({len(X)})"}
    for b, r in batches.items():
        ax.plot(r["epoch"], r["loss"], lw=0.8 if b == 1 else 1.5,
                label=f"{names[b]}: {r['frac_up']:.0%} of updates raised the loss, "
                      f"roughness {r['roughness']:.1f}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (all examples)")
    ax.set_title(f"same data, lr {batch_lr:g}, {batch_epochs} epochs")
    ax.legend(fontsize=8)

    ax = axes[1, 1]
    right = ax.twinx()
    for i, (name, r) in enumerate(schedules.items()):
        ep = np.arange(len(r["excess"])) / sched_n
        ax.semilogy(ep, r["excess"], lw=0.8, color=f"C{i}",
                    label=f"{name}: final {r['final']:.1e}")
        right.semilogy(ep[1:], r["lr"], ls="--", lw=1.5, color=f"C{i}", alpha=0.6)
    right.set_ylabel("learning rate (dashed)")
    ax.set_xlabel("epoch (per-example SGD)")
    ax.set_ylabel("training loss minus its minimum (Newton)")
    ax.set_title(f"logistic regression, lr {sched_lr:g} at the start")
    ax.legend(fontsize=8, loc="lower left")
    fig.suptitle("The learning rate: MLP 2-32-32-2 (tanh) on two moons; logistic regression on "
                 "overlapping Gaussians")
    fig.tight_layout()
    ctx.figure(fig, "learning_rate")

    per, full = batches[1], batches[len(X)]
    const = schedules["constant"]
    inv = schedules["inverse time"]
    stepd = schedules["step (halve every 1/6 of the run)"]
    ratio = const["final"] / inv["final"]
    lowest = min(lrs, key=lambda lr: final[lr])
    ctx.conclude(
        f"From a loss of {start:.3f}, {steps} full-batch steps with lr {small:g} left it at "
        f"{final[small]:.3f}, lr {good:g} brought it to {final[good]:.3f} (the lowest final loss, "
        f"{final[lowest]:.3f}, came from lr {lowest:g}), and lr {large:g} "
        + (f"overshot to a peak of {peak[large]:.3g} and ended at {final[large]:.3g}, "
           f"{'worse than' if final[large] > start else 'better than'} not training at all"
           if np.isfinite(final[large]) else "diverged to an infinite loss")
        + f". Over {batch_epochs} epochs at lr {batch_lr:g}, {per['frac_up']:.0%} of the "
        f"per-example updates raised the training loss (roughness {per['roughness']:.1f}) "
        f"against {batches[10]['frac_up']:.0%} for mini-batches of 10 "
        f"({batches[10]['roughness']:.1f}) and {full['frac_up']:.0%} for full batches "
        f"({full['roughness']:.1f}); per epoch, per-example SGD got further ({per['loss'][-1]:.3f}"
        f" vs {full['loss'][-1]:.3f}). With per-example SGD on logistic regression, a constant lr "
        f"{sched_lr:g} ended {const['final']:.1e} above the minimum loss {best:.4f}, inverse-time "
        f"decay {inv['final']:.1e} ({ratio:.0f} times "
        f"{'lower' if ratio > 1 else 'higher'}) and step decay {stepd['final']:.1e}.")
    return {"lrs": np.array(lrs), "curves": {str(k): v for k, v in curves.items()},
            "final_loss": {str(k): v for k, v in final.items()},
            "peak_loss": {str(k): v for k, v in peak.items()}, "initial_loss": start,
            "small_lr": small, "good_lr": good, "large_lr": large, "steps": steps,
            "batches": {str(k): v for k, v in batches.items()}, "batch_lr": batch_lr,
            "batch_epochs": batch_epochs, "schedules": schedules, "schedule_min_loss": best,
            "schedule_lr": sched_lr}
