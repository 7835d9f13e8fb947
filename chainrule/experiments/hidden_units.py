"""How many hidden units a task needs, and where their kinks must start.

A one-hidden-layer ReLU network ``x -> v . relu(A x + b) + c`` on points in the plane is linear
between the kink lines ``a_j . x + b_j = 0`` of its hidden units; its decision boundary is made of
pieces of lines that bend only where it crosses a kink.

Two tasks. XOR (four clusters at the corners of a square, opposite corners sharing a class) is
solved by 2 hidden units: two parallel kinks cut off the two corners of one class. Two spirals
winding 1.5 turns around each other need many more pieces, so 2 units cannot, and 10 units only
partly can.

Where the kinks start matters too. With all biases zero every kink line passes through the
origin, the centre of the (standardised) data, and gradient descent has to drag them apart before
the boundary can bend anywhere else; with each unit's offset set so that its kink passes through
a random data point (``init.random_offset_bias_``) the kinks start spread over the data. Both
initialisations use the same random weight directions; the nets with 10 and 100 units are
trained with the same optimiser and number of steps. The 2-unit nets are trained from several
random starts, since a network this small often stalls in a poor local minimum; the best start is
shown.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

from ._base import plt

NAME = "hidden-units"
SUMMARY = ("2 ReLU units solve XOR but not two spirals; 10 and 100 units with kinks all through "
           "the origin vs at random data points")

_CONFIGS = (("2", 2, "random"), ("10/origin", 10, "origin"), ("10/random", 10, "random"),
            ("100/origin", 100, "origin"), ("100/random", 100, "random"))
_TASKS = ("xor", "spirals")


def _task(name, n, seed):
    ds = cr.data.datasets
    if name == "xor":
        corners = [[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]]
        X, c = ds.blobs(n=n, centers=corners, std=0.3, seed=seed)
        y = c // 2  # corners 0 and 1 (first/third quadrant) are class 0, the others class 1
    else:
        X, y = ds.spirals(n=n, noise=0.03, turns=1.5, seed=seed)
    X = cr.data.Standardizer().fit_transform(X).astype(np.float32)
    return X, y.astype(np.int64)


def _net(hidden, init, X, g):
    nn = cr.nn
    first, out = nn.Linear(2, hidden, generator=g), nn.Linear(hidden, 2, generator=g)
    nn.init.normal_(first.weight, 0.0, 1.0, generator=g)
    if init == "origin":
        nn.init.zeros_(first.bias)  # every kink line a_j . x = 0 passes through the origin
    else:
        nn.init.random_offset_bias_(first.bias, first.weight, data=X, generator=g)
    return nn.Sequential(first, nn.ReLU(), out), first


def _train(hidden, init, X, y, steps, lr, g):
    F = cr.nn.functional
    model, first = _net(hidden, init, X, g)
    opt = cr.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    Xt, yt = cr.tensor(X), cr.tensor(y)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(Xt), yt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with cr.no_grad():
        out = model(Xt)
    losses.append(F.cross_entropy(out, yt).item())
    w, b = first.weight.detach().numpy(), first.bias.detach().numpy()
    # distance of each unit's kink line from the origin (the centre of the data)
    kink_dist = np.abs(b) / np.maximum(np.linalg.norm(w, axis=1), 1e-12)
    return {"model": model, "loss": np.array(losses),
            "accuracy": cr.train.metrics.accuracy(out, yt), "kink_distance": kink_dist,
            "kinks": (w.copy(), b.copy())}


def _steps_below(loss, level):
    """First step at which the training loss is below ``level`` (None if never)."""
    hit = np.flatnonzero(loss < level)
    return int(hit[0]) if hit.size else None


def _boundary(ax, model, kinks, X, y, title):
    lo, hi = X.min(axis=0) - 0.4, X.max(axis=0) + 0.4
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 160), np.linspace(lo[1], hi[1], 160))
    grid = cr.tensor(np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32))
    with cr.no_grad():
        s = model(grid).numpy()
    pred = (s[:, 1] > s[:, 0]).reshape(gx.shape)
    ax.contourf(gx, gy, pred, levels=[-0.5, 0.5, 1.5], colors=["#cfe0f5", "#f6d0cf"])
    w, b = kinks
    t = np.linspace(-10, 10, 2)
    for wj, bj in zip(w, b):  # the kink line w_j . x + b_j = 0
        n2 = float(wj @ wj)
        if n2 == 0:
            continue
        p0 = -bj * wj / n2
        d = np.array([-wj[1], wj[0]]) / np.sqrt(n2)
        ax.plot(p0[0] + t * d[0], p0[1] + t * d[1], color="0.35", lw=0.6, alpha=0.5)
    ax.scatter(X[:, 0], X[:, 1], c=np.array(["tab:blue", "tab:red"])[y], s=6,
               edgecolors="none")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def run(ctx):
    g = cr.Generator().manual_seed(ctx.seed)
    steps = ctx.pick(600, 2000)
    lr = 0.05
    starts = ctx.pick(5, 10)
    sizes = {"xor": ctx.pick(200, 400), "spirals": ctx.pick(300, 600)}
    res, data = {}, {}
    for task in _TASKS:
        X, y = _task(task, sizes[task], ctx.seed)
        data[task] = (X, y)
        for key, hidden, init in ctx.progress(_CONFIGS, desc=task):
            if hidden == 2:
                tries = [_train(2, init, X, y, steps, lr, g) for _ in range(starts)]
                best = min(tries, key=lambda r: r["loss"][-1])
                best["start_accuracies"] = np.array([r["accuracy"] for r in tries])
                res[f"{task}/{key}"] = best
            else:
                res[f"{task}/{key}"] = _train(hidden, init, X, y, steps, lr, g)

    p = plt()
    fig, axes = p.subplots(2, len(_CONFIGS), figsize=(3.3 * len(_CONFIGS), 7))
    names = {"2": "2 units (best of {s} starts)", "10/origin": "10 units, kinks at origin",
             "10/random": "10 units, random offsets", "100/origin": "100 units, kinks at origin",
             "100/random": "100 units, random offsets"}
    for i, task in enumerate(_TASKS):
        X, y = data[task]
        for j, (key, _, _) in enumerate(_CONFIGS):
            r = res[f"{task}/{key}"]
            _boundary(axes[i, j], r["model"], r["kinks"], X, y,
                      f"{task}: {names[key].format(s=starts)}\ntrain accuracy "
                      f"{r['accuracy']:.0%}")
    fig.suptitle(f"Decision regions after {steps} steps of SGD (momentum 0.9, lr {lr}); grey: "
                 "the hidden units' kink lines")
    fig.tight_layout()
    ctx.figure(fig, "hidden_units_boundaries")

    fig, axes = p.subplots(1, 2, figsize=(12, 4.2))
    colors = dict(zip((k for k, _, _ in _CONFIGS),
                      ("black", "tab:red", "tab:blue", "tab:orange", "tab:green")))
    for ax, task in zip(axes, _TASKS):
        for key, _, _ in _CONFIGS:
            r = res[f"{task}/{key}"]
            ax.plot(r["loss"], color=colors[key], ls="--" if "origin" in key else "-",
                    label=f"{names[key].format(s=starts)} ({r['accuracy']:.0%})")
        ax.set_yscale("log")
        ax.set_xlabel("SGD step (full batch)")
        ax.set_ylabel("training loss")
        ax.set_title(task)
        ax.legend(fontsize=8)
    fig.tight_layout()
    ctx.figure(fig, "hidden_units_training")

    acc = {k: v["accuracy"] for k, v in res.items()}
    parts = []
    for task in _TASKS:
        two = res[f"{task}/2"]
        solved = int((two["start_accuracies"] > 0.95).sum())
        parts.append(
            f"on {task}, 2 hidden units reached {acc[f'{task}/2']:.1%} training accuracy (best "
            f"of {starts} starts, {solved} of which passed 95%)")
    sp = {k: acc[f"spirals/{k}"] for k in ("10/origin", "10/random", "100/origin", "100/random")}
    dist = {k: float(np.median(res[f"spirals/{k}"]["kink_distance"]))
            for k in ("100/origin", "100/random")}
    spread = np.median(np.linalg.norm(data["spirals"][0], axis=1))
    level = 0.3
    reach = {k: _steps_below(res[f"spirals/{k}"]["loss"], level)
             for k in ("100/origin", "100/random")}

    def when(k):
        return f"after {reach[k]} steps" if reach[k] is not None else f"not within {steps} steps"

    xor_many = min(acc[f"xor/{k}"] for k, h, _ in _CONFIGS if h > 2)
    verdict = ("trained to a much lower accuracy than" if sp["100/origin"] < sp["100/random"] - 0.1
               else "ended up close to" if abs(sp["100/origin"] - sp["100/random"]) <= 0.1
               else "did better than")
    ctx.conclude(
        f"{'; '.join(parts)}. With 10 units the spirals reached {sp['10/random']:.1%} from random "
        f"offsets and {sp['10/origin']:.1%} with every kink through the origin; with 100 units "
        f"{sp['100/random']:.1%} and {sp['100/origin']:.1%}: after {steps} SGD steps the "
        f"kinks-at-the-origin start {verdict} the random-offset start (median distance of the "
        f"kinks from the origin at the end {dist['100/origin']:.2f} against "
        f"{dist['100/random']:.2f}; the median data point lies {spread:.2f} from it); the training "
        f"loss of the 100-unit net fell below {level} {when('100/random')} from random offsets "
        f"and {when('100/origin')} from the origin. On XOR, "
        f"whose class border runs through the origin, 10 and 100 units reached "
        f"{'' if xor_many >= 1 else 'at least '}{xor_many:.1%} from either start.")
    numbers = {k: {"accuracy": v["accuracy"], "loss": v["loss"],
                   "kink_distance": v["kink_distance"]} for k, v in res.items()}
    for task in _TASKS:
        numbers[f"{task}/2"]["start_accuracies"] = res[f"{task}/2"]["start_accuracies"]
    return {"runs": numbers, "accuracy": acc, "steps_to_loss_0.3": reach, "steps": steps,
            "lr": lr, "starts": starts, "data_median_radius": float(spread)}
