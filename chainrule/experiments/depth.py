"""Depth: shallow vs deeper MLPs on 784-input, 10-class data, parameter counts, and accuracy at
matched parameter budgets.

**Counting parameters.** A fully connected layer from ``a`` to ``b`` units has ``a * b`` weights
and ``b`` biases, so an MLP with layer sizes ``n_0, n_1, ..., n_L`` has
``sum_l n_{l-1} n_l`` weights and ``sum_l n_l`` biases. The experiment counts the parameters of
every network it builds (from ``model.parameters()``, with and without biases) and checks them
against this formula. With 784 inputs the first layer dominates: ``784 * h`` of the weights sit
there, so a deeper network with the same number of parameters loses only a little width.

**Matched budgets.** The depth-1 network (one hidden layer of ``h`` units) sets a budget; the
networks with 2 and 3 (and in the full run 4) hidden layers get equal-width layers chosen so
their parameter counts match it within a few percent. All are trained the same way (Adam,
mini-batches, same number of steps).

**The data.** 784-pixel "images" built from smooth random patterns: each image is a mix of
16 low-frequency 28x28 patterns with random coefficients ``u``, plus pixel noise. The class
depends only on the first two coefficients ``(u_1, u_2)``, in two ways:

* *sectors*: the class is the angular sector (one of 10) of the point ``(u_1, u_2)``. Each class
  is an intersection of two half-planes, which one hidden layer represents directly.
* *twisted sectors*: the sectors are twisted, the angle shifted by the radius
  (``angle + r``). The class is a composition: project the image to ``(u_1, u_2)``, compute a
  radius and an angle, combine them, cut into sectors. Deeper networks can build such
  compositions from layer to layer; a single hidden layer must approximate the curved borders
  with its straight ones, and at the same budget it falls behind.

Give a folder with the MNIST IDX files (``--data DIR``) to also run the comparison on MNIST.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

from ._base import plt

NAME = "depth"
SUMMARY = ("MLPs with 1-4 hidden layers on 784-input 10-class data: parameter counts with and "
           "without biases, accuracy at matched parameter budgets")

_IN, _OUT = 784, 10


def _images(seed, n_train, n_test, twist, latent=16, pixel_noise=0.3):
    """Smooth random 28x28 images; the class is the (twisted) sector of two latent coefficients.

    The same seed gives the same patterns and the same latent points for every ``twist``.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28] / 27.0
    basis = []
    for _ in range(latent):
        fx, fy = rng.uniform(0.5, 3.0, size=2)
        basis.append(np.cos(2 * np.pi * (fx * xx + fy * yy) + rng.uniform(0, 2 * np.pi)).ravel())
    basis = np.array(basis)
    basis /= np.linalg.norm(basis, axis=1, keepdims=True)
    u = rng.normal(size=(n_train + n_test, latent))
    x = 10 * u @ basis + pixel_noise * rng.normal(size=(n_train + n_test, _IN))
    r, angle = np.hypot(u[:, 0], u[:, 1]), np.arctan2(u[:, 1], u[:, 0])
    y = np.floor(_OUT * (((angle + twist * r) / (2 * np.pi)) % 1.0)).astype(np.int64)
    y = np.minimum(y, _OUT - 1)
    mean, scale = x[:n_train].mean(axis=0), x[:n_train].std()
    x = ((x - mean) / scale).astype(np.float32)
    return {"x": x[:n_train], "y": y[:n_train], "x_test": x[n_train:], "y_test": y[n_train:],
            "u": u[:n_train, :2]}


def _mnist(path, n_train, n_test, seed):
    D = cr.data.datasets
    x, y = D.load_mnist_idx(path, "train")
    xt, yt = D.load_mnist_idx(path, "test")
    rng = np.random.default_rng(seed)
    i, j = rng.permutation(len(x))[:n_train], rng.permutation(len(xt))[:n_test]
    x, xt = x[i].reshape(len(i), -1) / 255.0, xt[j].reshape(len(j), -1) / 255.0
    mean, scale = x.mean(axis=0), x.std()
    return {"x": ((x - mean) / scale).astype(np.float32), "y": y[i].astype(np.int64),
            "x_test": ((xt - mean) / scale).astype(np.float32), "y_test": yt[j].astype(np.int64)}


def _sizes(depth, width):
    return [_IN] + [width] * depth + [_OUT]


def formula(sizes, bias=True):
    """Parameters of a fully connected net with layer sizes ``sizes``: sum of (a + bias) * b."""
    return int(sum((a + int(bias)) * b for a, b in zip(sizes[:-1], sizes[1:])))


def _mlp(sizes, seed, bias=True):
    nn = cr.nn
    g = cr.Generator().manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b, bias=bias, generator=g))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _count(model):
    return int(sum(p.numel() for p in model.parameters()))


def _match(depth, budget):
    """The equal width whose depth-``depth`` net has the parameter count closest to budget."""
    return min(range(1, 4 * budget // _IN + 2),
               key=lambda h: abs(formula(_sizes(depth, h)) - budget))


def _train(model, data, steps, seed, batch=100, lr=1e-3):
    F = cr.nn.functional
    x, y = data["x"], data["y"]
    opt = cr.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        i = rng.integers(0, len(x), size=batch)
        opt.zero_grad()
        F.cross_entropy(model(cr.tensor(x[i])), cr.tensor(y[i])).backward()
        opt.step()
    with cr.no_grad():
        train = float((model(cr.tensor(x)).argmax(dim=1).numpy() == y).mean())
        test = float((model(cr.tensor(data["x_test"])).argmax(dim=1).numpy()
                      == data["y_test"]).mean())
    return train, test


def run(ctx):
    depths = ctx.pick([1, 2, 3], [1, 2, 3, 4])
    h1 = ctx.pick(32, 64)
    budget = formula(_sizes(1, h1))
    widths = {d: _match(d, budget) for d in depths}
    counts = {}
    for d in depths:
        sizes = _sizes(d, widths[d])
        counts[d] = {"sizes": sizes,
                     "with_bias": _count(_mlp(sizes, ctx.seed)),
                     "without_bias": _count(_mlp(sizes, ctx.seed, bias=False)),
                     "formula_with_bias": formula(sizes),
                     "formula_without_bias": formula(sizes, bias=False),
                     "first_layer_share": _IN * widths[d] / formula(sizes, bias=False)}
    mismatch = max(abs(c["with_bias"] - budget) / budget for c in counts.values())

    n_train, n_test = ctx.pick(3000, 5000), ctx.pick(1000, 2000)
    steps = ctx.pick(1000, 2000)
    seeds = ctx.pick([ctx.seed], [ctx.seed, ctx.seed + 1, ctx.seed + 2])
    tasks = {"sectors": 0.0, "twisted sectors": 1.0}
    sets = {(name, s): _images(s, n_train, n_test, twist)
            for name, twist in tasks.items() for s in seeds}
    if ctx.data is not None:
        tasks["MNIST"] = None
        mnist = _mnist(ctx.data, n_train, n_test, ctx.seed)
        sets.update({("MNIST", s): mnist for s in seeds})
    acc = {}
    jobs = [(t, d) for t in tasks for d in depths]
    for t, d in ctx.progress(jobs, desc="training"):
        runs = [_train(_mlp(counts[d]["sizes"], s), sets[t, s], steps, s) for s in seeds]
        acc[f"{t}/{d}"] = {"train": float(np.mean([a for a, _ in runs])),
                           "test": float(np.mean([b for _, b in runs])),
                           "test_per_seed": [b for _, b in runs]}

    p = plt()
    fig, axes = p.subplots(1, 3, figsize=(17, 5.2))
    ax = axes[0]
    pos = np.arange(len(depths))
    wb = np.array([counts[d]["with_bias"] for d in depths])
    nb = np.array([counts[d]["without_bias"] for d in depths])
    first = np.array([_IN * widths[d] for d in depths])
    ax.bar(pos - 0.2, first, 0.4, color="C0", label="first-layer weights (784 x h)")
    ax.bar(pos - 0.2, nb - first, 0.4, bottom=first, color="C1", label="other weights")
    ax.bar(pos + 0.2, wb, 0.4, color="C2", alpha=0.6, label="all parameters (with biases)")
    for i in range(len(depths)):
        ax.text(pos[i] + 0.2, wb[i], f"{wb[i]:,}", ha="center", va="bottom", fontsize=8)
        ax.text(pos[i] - 0.2, nb[i], f"{nb[i]:,}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(pos, ["-".join(map(str, counts[d]["sizes"])) for d in depths], fontsize=8)
    ax.set_xlabel("layer sizes")
    ax.set_ylabel("parameters")
    ax.set_title(f"matched budgets (within {mismatch:.1%}): weights only vs with biases")
    ax.legend(fontsize=8, loc="lower right")

    ax = axes[1]
    bw = 0.8 / len(tasks)
    for k, t in enumerate(tasks):
        te = [acc[f"{t}/{d}"]["test"] for d in depths]
        tr = [acc[f"{t}/{d}"]["train"] for d in depths]
        x = pos + (k - (len(tasks) - 1) / 2) * bw
        ax.bar(x, te, bw * 0.9, color=("C4", "C3", "C5")[k], label=f"{t}: test")
        ax.plot(x, tr, "k_", ms=14, mew=2)
        for xi, v in zip(x, te):
            ax.text(xi, v, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
    ax.plot([], [], "k_", ms=14, mew=2, label="training accuracy")
    ax.axhline(1 / _OUT, color="gray", ls=":", label="chance")
    ax.set_xticks(pos, [f"{d} hidden layer{'s' if d > 1 else ''}\n(width {widths[d]})"
                        for d in depths], fontsize=8)
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.22)
    ax.set_title(f"same budget, {steps} Adam steps"
                 + (f", mean of {len(seeds)} seeds" if len(seeds) > 1 else ""))
    ax.legend(fontsize=8, loc="upper center", ncol=2)

    ax = axes[2]
    u, yy = sets["twisted sectors", seeds[0]]["u"], sets["twisted sectors", seeds[0]]["y"]
    ax.scatter(u[:, 0], u[:, 1], c=yy, cmap="tab10", s=4)
    ax.set_xlabel("latent coefficient u1")
    ax.set_ylabel("latent coefficient u2")
    ax.set_aspect("equal")
    ax.set_title("twisted sectors: the class of an image\nin the plane of the two coefficients "
                 "that set it", fontsize=10)
    inset = ax.inset_axes([0.72, 0.72, 0.27, 0.27])
    inset.imshow(sets["twisted sectors", seeds[0]]["x"][0].reshape(28, 28), cmap="gray")
    inset.set_xticks([])
    inset.set_yticks([])
    inset.set_xlabel("one input image", fontsize=7)
    fig.suptitle(f"Depth at a matched parameter budget ({budget:,} parameters), 784 inputs, "
                 "10 classes")
    fig.tight_layout()
    ctx.figure(fig, "depth")

    d0, dn = depths[0], depths[-1]
    tw = [acc[f"twisted sectors/{d}"]["test"] for d in depths]
    se = [acc[f"sectors/{d}"]["test"] for d in depths]
    exact = all(c["with_bias"] == c["formula_with_bias"]
                and c["without_bias"] == c["formula_without_bias"] for c in counts.values())
    gain = tw[-1] - tw[0]
    spread = max(se) - min(se)
    text = (
        f"The parameter counts {'matched' if exact else 'did not match'} the formula "
        f"sum (n_in + 1) n_out with biases and sum n_in n_out without: e.g. "
        f"{'-'.join(map(str, counts[d0]['sizes']))} has {counts[d0]['with_bias']:,} parameters "
        f"({counts[d0]['without_bias']:,} without biases, {counts[d0]['first_layer_share']:.0%} "
        f"of them in the first layer). At a budget of {budget:,} parameters (matched within "
        f"{mismatch:.1%}), going from {d0} to {dn} hidden layers took the test accuracy on "
        f"twisted sectors {'up' if gain > 0 else 'down'} from {tw[0]:.0%} to {tw[-1]:.0%} ("
        + ", ".join(f"{d}: {v:.0%}" for d, v in zip(depths, tw))
        + f"), while on plain sectors, which one hidden layer represents directly, the depths "
        f"{'differed by only' if spread < 0.05 else 'differed by'} {100 * spread:.1f} points ("
        + ", ".join(f"{d}: {v:.0%}" for d, v in zip(depths, se)) + ").")
    if "MNIST" in tasks:
        text += " On MNIST: " + ", ".join(
            f"{d} hidden layer{'s' if d > 1 else ''} {acc[f'MNIST/{d}']['test']:.1%}"
            for d in depths) + "."
    ctx.conclude(text)
    return {"depths": depths, "widths": {str(d): w for d, w in widths.items()},
            "budget": budget, "budget_mismatch": mismatch,
            "counts": {str(d): c for d, c in counts.items()}, "accuracy": acc,
            "tasks": list(tasks), "steps": steps, "seeds": seeds, "n_train": n_train}
