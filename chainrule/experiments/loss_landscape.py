"""Slices through the loss landscape: from initialisation to solution, and between two solutions.

The loss of a network is a function of millions of parameters; a one-dimensional slice through
it already tells a lot. Along the straight line ``theta(a) = (1 - a) theta_0 + a theta_1``

* from the initial weights ``theta_0`` to the trained weights ``theta_1`` of the same run, the
  training loss falls more or less monotonically: there is no wall between where training starts
  and where it ends (Goodfellow et al., 2015), even though training itself took a curved path;
* between two solutions trained from different random seeds, the loss rises in the middle: a
  *barrier*. The two networks compute similar functions but are not near each other in parameter
  space.

Part of the reason is symmetry: permuting the hidden units of a layer (the rows of its weight
matrix and bias, and the matching columns of the next layer's weights) gives a different point in
parameter space that computes exactly the same function. Two runs that learn the same features
store them in different orders, and averaging unit 3 of one network with unit 3 of the other mixes
unrelated features. Matching each hidden unit of the second network to the unit of the first whose
activations on the training data correlate most (an assignment problem, solved exactly with the
Hungarian algorithm), then permuting the second network accordingly, removes much of the barrier
(Entezari et al., 2022; Ainsworth et al., 2023). The experiment checks that the permuted network
really is the same function (its outputs agree to float32 round-off) before interpolating.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule.nn.utils import parameters_to_vector, vector_to_parameters

from ._base import mlp, plt, sgd_epoch

NAME = "loss-landscape"
SUMMARY = ("loss along straight lines: init to solution (no barrier) and between two solutions, "
           "before and after permuting hidden units to align them")


def assign(cost):
    """Exact minimum-cost assignment of a square matrix (Hungarian algorithm, O(n^3)).

    Returns ``perm`` with row ``i`` assigned to column ``perm[i]``, minimising
    ``cost[arange(n), perm].sum()``.
    """
    cost = np.asarray(cost, dtype=np.float64)
    n = cost.shape[0]
    u = np.zeros(n + 1)
    v = np.zeros(n + 1)
    p = np.zeros(n + 1, dtype=np.int64)  # p[j]: row (1-based) matched to column j
    way = np.zeros(n + 1, dtype=np.int64)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = np.full(n + 1, np.inf)
        used = np.zeros(n + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = p[j0]
            free = ~used
            free[0] = False
            cur = cost[i0 - 1] - u[i0] - v[1:]
            better = free[1:] & (cur < minv[1:])
            minv[1:][better] = cur[better]
            way[1:][better] = j0
            cand = np.where(free, minv, np.inf)
            j1 = int(np.argmin(cand))
            delta = cand[j1]
            u[p[used]] += delta
            v[used] -= delta
            minv[free] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    perm = np.empty(n, dtype=np.int64)
    perm[p[1:] - 1] = np.arange(n)
    return perm


def _mlp(hidden, seed):
    return mlp([40, hidden, hidden, 10], seed)


def _train(model, x, y, epochs, batch, lr, seed):
    opt = cr.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    rng = np.random.default_rng(seed)
    X, Y = cr.tensor(x), cr.tensor(y)
    for _ in range(epochs):
        sgd_epoch(model, opt, X, Y, batch, rng)


def _hidden(model, x):
    """Post-ReLU activations of the two hidden layers."""
    acts = []
    h = cr.tensor(x)
    with cr.no_grad():
        for m in model:
            h = m(h)
            if isinstance(m, cr.nn.ReLU):
                acts.append(h.numpy())
    return acts


def _correlation(a, b):
    a = (a - a.mean(0)) / (a.std(0) + 1e-8)
    b = (b - b.mean(0)) / (b.std(0) + 1e-8)
    return a.T @ b / len(a)


def _permute(model, perms, hidden, seed):
    """A copy of ``model`` whose hidden units are reordered: new unit i = old unit perm[i]."""
    lins = [m for m in model if isinstance(m, cr.nn.Linear)]
    out = _mlp(hidden, seed)
    new = [m for m in out if isinstance(m, cr.nn.Linear)]
    prev = None
    for k, (src, dst) in enumerate(zip(lins, new)):
        w, b = src.weight.data, src.bias.data
        rows = perms[k] if k < len(perms) else np.arange(w.shape[0])
        w = w[rows]
        if prev is not None:
            w = w[:, prev]
        dst.weight.data[...] = w  # into the layer's own arrays (and their layout)
        dst.bias.data[...] = b[rows]
        prev = rows
    return out


def _line(model, start, end, alphas, x, y, x_test, y_test):
    """Train/test loss and accuracy at (1 - a) start + a end for every a."""
    F = cr.nn.functional
    params = list(model.parameters())
    X, Y, Xt, Yt = cr.tensor(x), cr.tensor(y), cr.tensor(x_test), cr.tensor(y_test)
    out = {k: [] for k in ("train_loss", "test_loss", "train_acc", "test_acc")}
    with cr.no_grad():
        for a in alphas:
            vector_to_parameters((1 - a) * start + a * end, params)
            for split, xx, yy in (("train", X, Y), ("test", Xt, Yt)):
                logits = model(xx)
                out[f"{split}_loss"].append(F.cross_entropy(logits, yy).item())
                out[f"{split}_acc"].append(float(cr.train.metrics.accuracy(logits, yy)))
    return {k: np.array(v) for k, v in out.items()}


def _barrier(loss, alphas):
    """Largest rise of the loss above the straight line between its two end values."""
    return float(np.max(loss - ((1 - alphas) * loss[0] + alphas * loss[-1])))


def run(ctx):
    d = cr.data.datasets.load_mnist1d()
    x, y, x_test, y_test = d["x"], d["y"], d["x_test"], d["y_test"]
    hidden = ctx.pick(128, 256)
    epochs = ctx.pick(20, 40)
    batch, lr = 100, 0.05
    alphas = np.linspace(0.0, 1.0, ctx.pick(21, 41))
    seed_a, seed_b = ctx.seed, ctx.seed + 1000

    net_a, net_b = _mlp(hidden, seed_a), _mlp(hidden, seed_b)
    theta0_a = parameters_to_vector(net_a.parameters()).numpy().copy()
    for net, s in ctx.progress(((net_a, seed_a), (net_b, seed_b)), desc="training two nets"):
        _train(net, x, y, epochs, batch, lr, s)
    theta_a = parameters_to_vector(net_a.parameters()).numpy().copy()
    theta_b = parameters_to_vector(net_b.parameters()).numpy().copy()

    # align B's hidden units to A's by activation correlation on the training data
    acts_a, acts_b = _hidden(net_a, x), _hidden(net_b, x)
    perms, corr_before, corr_after = [], [], []
    for ha, hb in zip(acts_a, acts_b):
        c = _correlation(ha, hb)
        perm = assign(-c)
        perms.append(perm)
        corr_before.append(c)
        corr_after.append(c[:, perm])
    net_bp = _permute(net_b, perms, hidden, seed_b)
    theta_bp = parameters_to_vector(net_bp.parameters()).numpy().copy()
    with cr.no_grad():
        out_b = net_b(cr.tensor(x_test)).numpy()
        out_bp = net_bp(cr.tensor(x_test)).numpy()
    same_function = float(np.abs(out_b - out_bp).max())
    scale = float(np.abs(out_b).max())
    moved = float(np.linalg.norm(theta_bp - theta_b))

    probe = _mlp(hidden, seed_a)
    lines = {}
    for key, start, end in ctx.progress(
            (("init to solution", theta0_a, theta_a), ("A to B", theta_a, theta_b),
             ("A to permuted B", theta_a, theta_bp)), desc="interpolating"):
        lines[key] = _line(probe, start, end, alphas, x, y, x_test, y_test)
    barrier = {k: _barrier(v["train_loss"], alphas) for k, v in lines.items()}
    test_barrier = {k: _barrier(v["test_loss"], alphas) for k, v in lines.items()}
    init_line = lines["init to solution"]["train_loss"]
    rises = np.diff(init_line)
    total_drop = float(init_line[0] - init_line[-1])
    largest_rise = float(max(rises.max(), 0.0))
    mid = len(alphas) // 2
    mean_corr_before = [float(np.mean(np.diag(c))) for c in corr_before]
    mean_corr_after = [float(np.mean(np.diag(c))) for c in corr_after]
    dist_before = float(np.linalg.norm(theta_b - theta_a))
    dist_after = float(np.linalg.norm(theta_bp - theta_a))

    p = plt()
    fig, axes = p.subplots(1, 4, figsize=(20, 4.6),
                           gridspec_kw={"width_ratios": [1.1, 1.1, 0.8, 0.8]})
    ax = axes[0]
    li = lines["init to solution"]
    ax.plot(alphas, li["train_loss"], "o-", ms=3, label="training loss")
    ax.plot(alphas, li["test_loss"], "s--", ms=3, label="test loss")
    ax.set_xlabel(r"$\alpha$ in $(1-\alpha)\,\theta_{init} + \alpha\,\theta_{trained}$")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title(f"initialisation to solution (largest rise {largest_rise:.3f})")
    ax.legend(fontsize=8)
    ax = axes[1]
    for key, color in (("A to B", "tab:red"), ("A to permuted B", "tab:green")):
        ln = lines[key]
        ax.plot(alphas, ln["train_loss"], "o-", ms=3, color=color,
                label=f"{key}: training (barrier {barrier[key]:.2f})")
        ax.plot(alphas, ln["test_loss"], "--", color=color, label=f"{key}: test")
    ax.set_xlabel(r"$\alpha$ in $(1-\alpha)\,\theta_A + \alpha\,\theta_B$")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title("between two solutions (different seeds)")
    ax.legend(fontsize=8)
    n_show = min(hidden, 48)
    for ax, c, title in ((axes[2], corr_before[0], "as trained"),
                         (axes[3], corr_after[0], "after permuting B")):
        im = ax.imshow(c[:n_show, :n_show], cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_xlabel("hidden unit of B (layer 1)")
        ax.set_ylabel("hidden unit of A (layer 1)")
        ax.set_title(f"activation correlation, {title}\n(first {n_show} units)")
    fig.colorbar(im, ax=axes[3], fraction=0.046)
    fig.suptitle(f"MNIST-1D, MLP 40-{hidden}-{hidden}-10: straight lines through parameter space"
                 f" (the permuted B computes the same function: max output difference "
                 f"{same_function:.1e})")
    fig.tight_layout()
    ctx.figure(fig, "loss_landscape")

    lower = barrier["A to permuted B"] < barrier["A to B"]
    ctx.conclude(
        f"From initialisation to solution the training loss fell from {init_line[0]:.3f} to "
        f"{init_line[-1]:.3f} "
        + ("with no rise along the way" if largest_rise == 0 else
           f"with its largest rise between neighbouring points {largest_rise:.4f} "
           f"({largest_rise / total_drop:.1%} of the drop)")
        + f". Halfway between two solutions from different seeds (training losses "
        f"{lines['A to B']['train_loss'][0]:.3f} and {lines['A to B']['train_loss'][-1]:.3f}) "
        f"the loss was {lines['A to B']['train_loss'][mid]:.3f} (barrier "
        f"{barrier['A to B']:.3f}, test accuracy {lines['A to B']['test_acc'][mid]:.1%}); after "
        f"permuting B's hidden units to match A's (mean matched correlation "
        f"{mean_corr_before[0]:.2f} -> {mean_corr_after[0]:.2f} in layer 1, "
        f"{mean_corr_before[1]:.2f} -> {mean_corr_after[1]:.2f} in layer 2), the permuted B "
        f"computed the same function (max output difference {same_function:.1e}) and the "
        f"barrier was {barrier['A to permuted B']:.3f} (midpoint test accuracy "
        f"{lines['A to permuted B']['test_acc'][mid]:.1%}): "
        + (f"{1 - barrier['A to permuted B'] / barrier['A to B']:.0%} lower"
           if lower else "not lower") + ".")
    return {"alphas": alphas, "lines": lines, "barrier": barrier, "test_barrier": test_barrier,
            "init_line_largest_rise": largest_rise, "init_line_total_drop": total_drop,
            "same_function_max_diff": same_function, "output_scale": scale,
            "permutation_moved": moved, "distance_before": dist_before,
            "distance_after": dist_after, "mean_corr_before": mean_corr_before,
            "mean_corr_after": mean_corr_after, "perms": perms, "hidden": hidden}
