"""Random features: a layer of random, frozen tanh units, and only the output layer trained.

Two-class points in the plane go through ``N`` hidden units ``h_j = tanh(a_j . x + b_j)`` whose
weights ``a_j`` and offsets ``b_j`` are drawn at random once and never trained; each unit's
offset puts its transition line through a random training point, so every unit varies across
the data. Only the output layer ``s = w . h + c`` is trained (logistic loss), which is a convex
problem: a linear classifier in the ``N``-dimensional space of hidden-unit values.

The points that no line separates in the plane can be separated by a hyperplane in hidden space.
Projected on the learned weight vector ``w`` the two classes fall on either side of ``-c / |w|``;
along a direction of hidden space orthogonal to ``w`` (here the one of largest spread among
those also orthogonal to the difference of the class means) they overlap. With few random units
the hidden space is too poor for the classes to separate; as ``N`` grows the training accuracy
rises, and the test accuracy with it until the classifier starts fitting the noise.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

from ._base import plt

NAME = "random-features"
SUMMARY = ("frozen random tanh units + a trained linear output layer: classes separate along w "
           "in hidden space; accuracy against the number of random units")

SCALE = 2.0  # std of the random input weights a_j (inputs are standardised)


def _data(seed, n_train, n_test, noise):
    X, y = cr.data.datasets.two_moons(n=n_train + n_test, noise=noise, seed=seed)
    std = cr.data.Standardizer().fit(X[:n_train])
    X = std.transform(X).astype(np.float32)
    return (X[:n_train], y[:n_train]), (X[n_train:], y[n_train:])


class RandomFeatures:
    """``x -> tanh(x @ A.T + b)`` with ``A ~ N(0, SCALE^2)`` and each unit's zero line through a
    random training point; nothing here is trained."""

    def __init__(self, units, X, g):
        self.layer = cr.nn.Linear(2, units, generator=g)
        cr.nn.init.normal_(self.layer.weight, 0.0, SCALE, generator=g)
        cr.nn.init.random_offset_bias_(self.layer.bias, self.layer.weight, data=X, generator=g)
        self.layer.requires_grad_(False)

    def __call__(self, X):
        with cr.no_grad():
            return cr.tanh(self.layer(cr.tensor(X)))


def _fit_output(H, y, steps, lr, g):
    """Logistic regression on the hidden values: the trained output layer ``s = w . h + c``."""
    F = cr.nn.functional
    out = cr.nn.Linear(H.shape[1], 1, generator=g)
    cr.nn.init.zeros_(out.weight)
    cr.nn.init.zeros_(out.bias)
    opt = cr.optim.Adam(out.parameters(), lr=lr)
    target = cr.tensor(y.astype(np.float32))
    for _ in range(steps):
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(out(H)[:, 0], target)
        loss.backward()
        opt.step()
    return out


def _accuracy(out, H, y):
    with cr.no_grad():
        s = out(H)[:, 0].numpy()
    return float(((s > 0) == (y == 1)).mean())


def _best_threshold_accuracy(u, y):
    """Accuracy of the best single threshold on the 1-D values ``u`` (either orientation)."""
    order = np.argsort(u)
    ys = y[order]
    # predicting class 1 above the cut: correct = (# class 0 below) + (# class 1 above)
    zeros_below = np.concatenate([[0], np.cumsum(ys == 0)])
    ones_above = np.concatenate([[0], np.cumsum((ys == 1)[::-1])])[::-1]
    correct = zeros_below + ones_above
    best = max(correct.max(), len(y) - correct.min())
    return float(best / len(y))


def _projection(out, H, y):
    """Coordinates of the hidden vectors along ``w`` and along a direction orthogonal to ``w``;
    the decision threshold along ``w``.

    The orthogonal direction is the one of largest spread among those orthogonal to ``w`` and
    to the difference of the two class means: the direction that shows how the points spread
    in hidden space apart from what tells the classes apart.
    """
    w = out.weight.detach().numpy()[0].astype(np.float64)
    c = float(out.bias.detach().numpy()[0])
    h = H.numpy().astype(np.float64)
    norm = np.linalg.norm(w)
    e = w / norm
    u = h @ e
    rest = h - np.outer(u, e)
    d = rest[y == 1].mean(axis=0) - rest[y == 0].mean(axis=0)
    d /= np.linalg.norm(d)
    rest -= np.outer(rest @ d, d)
    rest -= rest.mean(axis=0)
    _, _, vt = np.linalg.svd(rest, full_matrices=False)
    v = h @ vt[0]
    return u, v, -c / norm


def run(ctx):
    g = cr.Generator().manual_seed(ctx.seed)
    noise = 0.2
    (Xtr, ytr), (Xte, yte) = _data(ctx.seed, ctx.pick(200, 300), ctx.pick(1000, 2000), noise)
    units = np.array(ctx.pick([2, 5, 10, 20, 50, 100, 200, 500, 1000],
                              [2, 3, 5, 10, 20, 50, 100, 200, 500, 1000]))
    draws = ctx.pick(2, 5)
    steps = ctx.pick(200, 1000)
    lr = 0.05
    show = int(ctx.pick(100, 100))

    train_acc = np.zeros((len(units), draws))
    test_acc = np.zeros((len(units), draws))
    shown = None
    for i, n in enumerate(ctx.progress(units, desc="numbers of random units")):
        for d in range(draws):
            feats = RandomFeatures(int(n), Xtr, g)
            Htr, Hte = feats(Xtr), feats(Xte)
            out = _fit_output(Htr, ytr, steps, lr, g)
            train_acc[i, d] = _accuracy(out, Htr, ytr)
            test_acc[i, d] = _accuracy(out, Hte, yte)
            if n == show and d == 0:
                shown = (feats, out, Htr)

    feats, out, Htr = shown
    u, v, cut = _projection(out, Htr, ytr)
    acc_w = _best_threshold_accuracy(u, ytr)
    acc_orth = _best_threshold_accuracy(v, ytr)
    acc_inputs = max(_best_threshold_accuracy(Xtr @ np.array([np.cos(t), np.sin(t)]), ytr)
                     for t in np.linspace(0, np.pi, 180, endpoint=False))

    p = plt()
    colors = np.array(["tab:blue", "tab:red"])
    fig, axes = p.subplots(1, 2, figsize=(13, 5.5))
    ax = axes[0]
    lo, hi = Xtr.min(axis=0) - 0.5, Xtr.max(axis=0) + 0.5
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    with cr.no_grad():
        s = out(feats(grid))[:, 0].numpy().reshape(gx.shape)
    ax.contourf(gx, gy, s > 0, levels=[-0.5, 0.5, 1.5], colors=["#cfe0f5", "#f6d0cf"], alpha=0.8)
    ax.contour(gx, gy, s, levels=[0.0], colors="k", linewidths=1.2)
    ax.scatter(Xtr[:, 0], Xtr[:, 1], c=colors[ytr], s=12, edgecolors="none")
    ax.set_title(f"input plane: boundary of {show} random tanh units + trained output\n"
                 f"(best single line in the plane: {acc_inputs:.0%} train accuracy)")
    ax.set_xlabel("x1 (standardised)")
    ax.set_ylabel("x2 (standardised)")
    ax = axes[1]
    for k in (0, 1):
        ax.scatter(u[ytr == k], v[ytr == k], c=colors[k], s=12, edgecolors="none",
                   label=f"class {k}")
    ax.axvline(cut, color="k", lw=1.2, label="decision threshold -c/|w|")
    ax.set_xlabel(f"projection on w (best threshold: {acc_w:.0%} train accuracy)")
    ax.set_ylabel("direction orthogonal to w (and to the class-mean difference)\n"
                  f"of largest spread (best threshold: {acc_orth:.0%})")
    ax.set_title(f"the same training points in the {show}-dimensional hidden space:\n"
                 "along the output weights w and along a direction orthogonal to w")
    ax.legend(fontsize=8)
    fig.tight_layout()
    ctx.figure(fig, "random_features_projection")

    fig, ax = p.subplots(figsize=(7.5, 4.8))
    for acc, name, col in ((train_acc, "train", "tab:blue"), (test_acc, "test", "tab:orange")):
        ax.plot(units, acc.mean(axis=1), marker="o", color=col, label=f"{name} accuracy")
        ax.fill_between(units, acc.min(axis=1), acc.max(axis=1), color=col, alpha=0.2)
    ax.axhline(acc_inputs, color="gray", ls=":", label="best line in the input plane (train)")
    ax.set_xscale("log")
    ax.set_xlabel("number of random hidden units N (frozen)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"two moons (noise {noise}, {len(ytr)} train / {len(yte)} test points): only the "
                 f"output layer trained\nmean and min-max over {draws} draws of the random units")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    ctx.figure(fig, "random_features_accuracy")

    tr, te = train_acc.mean(axis=1), test_acc.mean(axis=1)
    best = int(np.argmax(te))
    rise = "rose" if tr[-1] > tr[0] else "did not rise"
    ctx.conclude(
        f"With {units[0]} random tanh units the trained output layer reached {tr[0]:.0%} train "
        f"and {te[0]:.0%} test accuracy; with {units[-1]} units {tr[-1]:.0%} and {te[-1]:.0%} "
        f"(the best single line in the input plane: {acc_inputs:.0%}). Training accuracy "
        f"{rise} with the number of units, and test accuracy peaked at {te[best]:.0%} with "
        f"{units[best]} units. With {show} units the classes "
        f"{'separate' if acc_w > acc_orth else 'do not separate better'} along the learned "
        f"weight vector w ({acc_w:.0%} of the training points on the right side of the "
        f"threshold) and {'overlap' if acc_orth < 0.75 else 'separate less well'} along the "
        f"orthogonal direction of largest spread (orthogonal to the class-mean difference too; "
        f"best threshold there {acc_orth:.0%}).")
    return {"units": units, "train_acc": tr, "test_acc": te, "train_acc_draws": train_acc,
            "test_acc_draws": test_acc, "shown_units": show, "acc_along_w": acc_w,
            "acc_orthogonal": acc_orth, "acc_best_input_line": acc_inputs, "steps": steps,
            "draws": draws}
