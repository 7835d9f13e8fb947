"""Lottery tickets: iterative magnitude pruning with rewinding to the original initialisation.

An MLP is trained on MNIST-1D; then, round after round, the smallest-magnitude fraction of its
remaining weights is pruned (per layer; the output layer at half the rate), the surviving weights
are *rewound* to the values they had at initialisation, and the sparse network is trained again
from there (Frankle & Carbin, 2019). Each mask is also given a control: the same sparse
connectivity, but with weights drawn afresh from the same initial distribution (random
re-initialisation).

If what pruning finds were only an architecture, the two would train equally well. They do not:
the rewound sub-network (the "winning ticket") keeps, or even improves on, the dense network's
test accuracy while most of its weights are gone, whereas the same mask with new random weights
loses accuracy much sooner. The mask and the initial values it selects belong together.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

from ._base import mlp, plt

NAME = "lottery-ticket"
SUMMARY = "iterative magnitude pruning: rewind to the original init vs random re-init of the mask"


def _mlp(hidden, seed):
    return mlp([40, hidden, hidden, 10], seed)


def _layers(model):
    return [m for m in model if isinstance(m, cr.nn.Linear)]


def _apply(model, masks):
    for lin, mask in zip(_layers(model), masks):
        lin.weight.data *= mask


def _accuracy(model, x, y):
    with cr.no_grad():
        return float((model(cr.tensor(x)).argmax(dim=1).numpy() == y).mean())


def _train(model, masks, data, steps, lr, seed):
    """Train with the pruned weights held at zero; return (test, train) accuracy."""
    x, y, x_test, y_test = data
    F = cr.nn.functional
    _apply(model, masks)
    opt = cr.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)  # same batches for every network
    for _ in range(steps):
        idx = rng.integers(0, len(x), size=100)
        opt.zero_grad()
        F.cross_entropy(model(cr.tensor(x[idx])), cr.tensor(y[idx])).backward()
        opt.step()
        _apply(model, masks)
    return _accuracy(model, x_test, y_test), _accuracy(model, x, y)


def _prune(model, masks, rate):
    """Remove the smallest-magnitude ``rate`` of each layer's surviving weights (half the rate
    in the output layer)."""
    new = []
    layers = _layers(model)
    for i, (lin, mask) in enumerate(zip(layers, masks)):
        r = rate / 2 if i == len(layers) - 1 else rate
        w = np.abs(lin.weight.data)
        alive = w[mask > 0]
        k = int(round(r * alive.size))
        if k == 0:
            new.append(mask)
            continue
        threshold = np.partition(alive, k - 1)[k - 1]
        new.append((mask * (w > threshold)).astype(mask.dtype))
    return new


def _imp(seed, hidden, rounds, rate, data, steps, lr, progress):
    """Iterative magnitude pruning from one initialisation; every mask is trained twice."""
    init = _mlp(hidden, seed)
    w0 = {k: v.detach().numpy().copy() for k, v in init.state_dict().items()}
    masks = [np.ones_like(lin.weight.data) for lin in _layers(init)]
    total = sum(m.size for m in masks)
    out = {k: [] for k in ("density", "layer_density", "rewind_test", "rewind_train",
                           "reinit_test", "reinit_train", "first_layer_mask")}
    for r in progress:
        out["density"].append(sum(float(m.sum()) for m in masks) / total)
        out["layer_density"].append([float(m.mean()) for m in masks])
        out["first_layer_mask"].append(masks[0].copy())
        ticket = _mlp(hidden, seed)
        ticket.load_state_dict(w0)  # rewind: the surviving weights start where they started
        te, tr = _train(ticket, masks, data, steps, lr, seed)
        out["rewind_test"].append(te)
        out["rewind_train"].append(tr)
        fresh = _mlp(hidden, seed + 1000 + r)  # same mask, new random weights
        te, tr = _train(fresh, masks, data, steps, lr, seed)
        out["reinit_test"].append(te)
        out["reinit_train"].append(tr)
        masks = _prune(ticket, masks, rate)
    return {k: np.array(v) for k, v in out.items()}


def run(ctx):
    d = cr.data.datasets.load_mnist1d()
    data = (d["x"], d["y"], d["x_test"], d["y_test"])
    hidden = ctx.pick(100, 200)
    steps = ctx.pick(300, 500)
    lr = 3e-3
    rate = ctx.pick(0.5, 0.3)
    rounds = ctx.pick(7, 12)

    seeds = ctx.pick([ctx.seed], [ctx.seed, ctx.seed + 1, ctx.seed + 2])
    runs = [_imp(s, hidden, rounds, rate, data, steps, lr,
                 ctx.progress(range(rounds), desc=f"pruning rounds (init {s})"))
            for s in seeds]
    mean = {k: np.mean([r[k] for r in runs], axis=0)
            for k in ("density", "layer_density", "rewind_test", "rewind_train", "reinit_test",
                      "reinit_train")}
    density, layer_density = mean["density"], mean["layer_density"]
    rewind_test, reinit_test = mean["rewind_test"], mean["reinit_test"]
    rewind_train, reinit_train = mean["rewind_train"], mean["reinit_train"]
    snapshots = runs[0]["first_layer_mask"]
    advantage = rewind_test - reinit_test
    dense = rewind_test[0]

    def kept_to(acc):
        """Density reached before the accuracy first falls more than 1 point below dense."""
        below = np.nonzero(acc[1:] < dense - 0.01)[0]
        last = below[0] if len(below) else len(acc) - 1  # index into acc of the last kept
        return float(density[last])

    kept_to_ticket, kept_to_re = kept_to(rewind_test), kept_to(reinit_test)
    best = int(np.argmax(rewind_test))
    sparse = density < 0.6

    p = plt()
    fig, axes = p.subplots(1, 3, figsize=(16, 4.8))
    ax = axes[0]
    pct = 100 * density
    ax.plot(pct, rewind_test, "o-", label="rewound to the original init (ticket)")
    ax.plot(pct, reinit_test, "s--", label="same mask, random re-init")
    if len(runs) > 1:
        for key, color in (("rewind_test", "tab:blue"), ("reinit_test", "tab:orange")):
            vals = np.array([r[key] for r in runs])
            ax.fill_between(pct, vals.min(axis=0), vals.max(axis=0), color=color, alpha=0.15)
    ax.plot(pct, rewind_train, "o:", color="tab:blue", alpha=0.5, label="ticket, train")
    ax.plot(pct, reinit_train, "s:", color="tab:orange", alpha=0.5, label="re-init, train")
    ax.axhline(dense, color="gray", lw=1, ls=":", label=f"dense network ({dense:.1%})")
    ax.set_xscale("log")
    ax.set_xticks(pct, [f"{v:.3g}" for v in pct], fontsize=8)
    ax.minorticks_off()
    ax.invert_xaxis()
    ax.set_xlabel("weights remaining (%)")
    ax.set_ylabel("accuracy")
    ax.set_title("accuracy as the network is pruned")
    ax.legend(fontsize=8)

    ax = axes[1]
    ax.bar(np.arange(rounds), 100 * advantage, color=np.where(advantage > 0, "tab:green",
                                                             "tab:red"))
    ax.set_xticks(np.arange(rounds), [f"{v:.1f}" for v in pct], rotation=45, fontsize=8)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("weights remaining (%)")
    ax.set_ylabel("ticket minus re-init (test accuracy points)")
    ax.set_title("what the original initial values are worth")

    ax = axes[2]
    show = min(rounds - 1, max(1, int(np.argmin(np.abs(density - 0.1)))))
    ax.imshow(snapshots[show], aspect="auto", cmap="Greys", interpolation="nearest")
    ax.set_xlabel("input position (MNIST-1D signal)")
    ax.set_ylabel("hidden unit")
    ax.set_title(f"surviving first-layer weights at {pct[show]:.1f}% remaining overall "
                 f"({100 * layer_density[show][0]:.0f}% of this layer)", fontsize=10)
    fig.suptitle(f"Lottery tickets: MLP 40-{hidden}-{hidden}-10 on MNIST-1D, pruning "
                 f"{rate:.0%} of the remaining weights per round, {steps} Adam steps per "
                 "training" + (f", mean of {len(runs)} initialisations (band: min to max)"
                               if len(runs) > 1 else ""))
    fig.tight_layout()
    ctx.figure(fig, "lottery_ticket")

    ctx.conclude(
        (f"Averaged over {len(runs)} initialisations, t" if len(runs) > 1 else "T")
        + f"he dense MLP reached {dense:.1%} test accuracy. Rewound to its original initial "
        f"weights, the pruned network stayed within 1 point of that down to "
        f"{kept_to_ticket:.1%} of its weights (best {rewind_test[best]:.1%} at "
        f"{density[best]:.1%}), while the same masks with fresh random weights "
        + (f"did so only down to {kept_to_re:.1%}" if kept_to_re < 1.0 else
           "fell more than 1 point below it from the first pruning round on")
        + f" (a fresh random initialisation of the dense network scored "
        f"{reinit_test[0]:.1%}, a measure of the seed-to-seed noise). Below 60% of the "
        f"weights the rewound ticket beat random re-initialisation at "
        f"{int((advantage[sparse] > 0).sum())} of {int(sparse.sum())} sparsity levels, by "
        f"{100 * advantage[sparse].mean():.1f} points on average (from "
        f"{100 * advantage[sparse].min():.1f} to {100 * advantage[sparse].max():.1f}); at "
        f"{density[-1]:.1%} of the weights the ticket scored {rewind_test[-1]:.1%} and the "
        f"re-initialised network {reinit_test[-1]:.1%}.")
    return {"density": density, "layer_density": np.array(layer_density),
            "rewind_test": rewind_test, "reinit_test": reinit_test,
            "rewind_train": rewind_train, "reinit_train": reinit_train,
            "advantage": advantage, "dense_accuracy": float(dense),
            "kept_to_density": kept_to_ticket, "reinit_kept_to_density": kept_to_re,
            "hidden": hidden, "steps": steps, "rate": rate, "rounds": rounds,
            "seeds": seeds, "per_seed": [{k: v for k, v in r.items() if k != "first_layer_mask"}
                                         for r in runs]}
