"""Memorisation: an over-parameterised network fits random labels as well as true ones.

Zhang et al. (2017) trained image classifiers on labels drawn at random, unrelated to the
inputs, and found that the training accuracy still reached 100%: a network with more parameters
than training examples can memorise any labelling. Nothing can be learned from random labels
about new inputs, so the test accuracy stays at chance (one in ten for ten classes).

The experiment repeats this on a small ten-class problem: each class is a noisy copy of its own
random 40-dimensional prototype, so the true labels follow from the input through a simple rule.
An MLP with two hidden layers of 256 units (about 78 000 parameters for 1000 training examples)
is trained with mini-batch SGD on the true labels, on labels with a fraction replaced by random
ones, and on entirely random labels. The curves show what the notes teach:

* the same network, optimiser and step count reach 100% training accuracy on every labelling:
  the capacity to memorise is there, so fitting the training set says nothing about
  generalisation;
* random labels take longer: with true labels, examples of a class pull the weights the same
  way, so one update helps many of them at once; random labels must be stored one by one;
* the test accuracy falls with the fraction of random labels, down to chance when all are
  random.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

from ._base import mlp, plt, sgd_epoch

NAME = "memorization"
SUMMARY = ("true vs random labels: training accuracy reaches 100% on both (random takes longer), "
           "test accuracy falls to chance")

_CLASSES = 10
_DIM = 40


def _data(rng, n_train, n_test, separation):
    """Ten classes, each a random prototype plus unit Gaussian noise; standardised."""
    protos = separation * rng.standard_normal((_CLASSES, _DIM))
    y = rng.integers(0, _CLASSES, n_train)
    y_test = rng.integers(0, _CLASSES, n_test)
    x = protos[y] + rng.standard_normal((n_train, _DIM))
    x_test = protos[y_test] + rng.standard_normal((n_test, _DIM))
    mu, sd = x.mean(0), x.std(0)
    return ((x - mu) / sd).astype(np.float32), y, ((x_test - mu) / sd).astype(np.float32), y_test


def _corrupt(y, fraction, rng):
    """Replace a ``fraction`` of the labels with labels drawn uniformly at random."""
    y = y.copy()
    k = int(round(fraction * len(y)))
    idx = rng.choice(len(y), k, replace=False)
    y[idx] = rng.integers(0, _CLASSES, k)
    return y


def _mlp(hidden, seed):
    return mlp([_DIM, hidden, hidden, _CLASSES], seed)


def _train(model, x, y, x_test, y_test, epochs, batch, lr, seed):
    F = cr.nn.functional
    opt = cr.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    X, Y, Xt = cr.tensor(x), cr.tensor(y), cr.tensor(x_test)
    rng = np.random.default_rng(seed)  # the same batches for every labelling
    out = {k: [] for k in ("train_acc", "train_loss", "test_acc")}

    def record():
        with cr.no_grad():
            logits = model(X)
            out["train_loss"].append(F.cross_entropy(logits, Y).item())
            out["train_acc"].append(float(cr.train.metrics.accuracy(logits, Y)))
            out["test_acc"].append(float((model(Xt).argmax(dim=1).numpy() == y_test).mean()))

    record()
    for _ in range(epochs):
        sgd_epoch(model, opt, X, Y, batch, rng)
        record()
    return {k: np.array(v) for k, v in out.items()}


def _first(curve, level):
    """First epoch at which ``curve`` reaches ``level`` (nan if never)."""
    hit = np.nonzero(curve >= level)[0]
    return float(hit[0]) if len(hit) else float("nan")


def run(ctx):
    rng = np.random.default_rng(ctx.seed)
    n_train, n_test = 1000, 2000
    x, y, x_test, y_test = _data(rng, n_train, n_test, separation=0.6)
    hidden = 256
    epochs = ctx.pick(40, 100)
    batch, lr = 50, 0.02
    fractions = ctx.pick([0.0, 0.5, 1.0], [0.0, 0.25, 0.5, 0.75, 1.0])
    n_params = sum(p.data.size for p in _mlp(hidden, ctx.seed).parameters())

    runs = {}
    for frac in ctx.progress(fractions, desc="labellings"):
        labels = _corrupt(y, frac, np.random.default_rng(ctx.seed + 1))
        model = _mlp(hidden, ctx.seed)  # the same initial weights for every labelling
        r = _train(model, x, labels, x_test, y_test, epochs, batch, lr, ctx.seed)
        r["epochs_to_99"] = _first(r["train_acc"], 0.99)
        r["epochs_to_100"] = _first(r["train_acc"], 1.0)
        r["agree_with_true"] = float((labels == y).mean())
        runs[frac] = r

    true, rand = runs[0.0], runs[1.0]
    chance = 1.0 / _CLASSES

    p = plt()
    fig, axes = p.subplots(1, 3, figsize=(16, 4.6))
    cmap = p.get_cmap("viridis")
    for frac, r in runs.items():
        color = cmap(0.85 * frac)
        name = {0.0: "true labels", 1.0: "random labels"}.get(frac, f"{frac:.0%} random")
        axes[0].plot(r["train_acc"], color=color, label=name)
        axes[0].plot(r["test_acc"], color=color, ls="--")
        axes[1].plot(r["train_loss"], color=color, label=name)
    axes[0].axhline(chance, color="grey", lw=0.8, ls=":", label="chance")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("accuracy (solid: training, dashed: test)")
    axes[0].set_title("training accuracy reaches 100% on every labelling")
    axes[0].legend(fontsize=8)
    axes[1].set_yscale("log")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("training loss (cross-entropy)")
    axes[1].set_title("random labels take longer to fit")
    axes[1].legend(fontsize=8)
    fr = np.array(fractions)
    ax = axes[2]
    ax.plot(100 * fr, [runs[f]["test_acc"][-1] for f in fractions], "o-", color="tab:red",
            label="test accuracy (final)")
    ax.plot(100 * fr, [runs[f]["train_acc"][-1] for f in fractions], "s-", color="tab:blue",
            label="training accuracy (final)")
    ax.axhline(chance, color="grey", lw=0.8, ls=":", label="chance")
    ax.set_xlabel("labels replaced by random ones (%)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.05)
    ax2 = ax.twinx()
    ax2.plot(100 * fr, [runs[f]["epochs_to_99"] for f in fractions], "^:", color="tab:green",
             label="epochs to 99% training accuracy")
    ax2.set_ylabel("epochs to 99% training accuracy", color="tab:green")
    ax.legend(loc="center left", fontsize=8)
    ax.set_title("what the fit says about new data")
    fig.suptitle(f"MLP {_DIM}-{hidden}-{hidden}-{_CLASSES} ({n_params} parameters) on "
                 f"{n_train} examples of ten noisy prototypes; SGD, batch {batch}, lr {lr}")
    fig.tight_layout()
    ctx.figure(fig, "memorization")

    def fit(r):
        e = r["epochs_to_99"]
        return (f"reached {r['train_acc'][-1]:.1%} training accuracy"
                + (f" (99% after {e:.0f} epochs)" if e == e else " (never 99%)"))

    slower = rand["epochs_to_99"] / true["epochs_to_99"]
    near = abs(rand["test_acc"][-1] - chance) <= 0.05
    ctx.conclude(
        f"With true labels the network {fit(true)} and {true['test_acc'][-1]:.1%} test "
        f"accuracy; with random labels it {fit(rand)}"
        + (f", {slower:.1f} times as many epochs as with true labels" if slower == slower
           else "")
        + f", while its test accuracy was {rand['test_acc'][-1]:.1%}, "
        + ("at" if near else "not at") + f" chance ({chance:.0%}): "
        + ("the same network memorised labels that carry no information, so a perfect fit of "
           "the training set says nothing about generalisation."
           if rand["train_acc"][-1] >= 0.99 else
           "in this run it did not fully memorise the random labels."))
    return {"fractions": fractions, "runs": runs, "chance": chance, "n_params": n_params,
            "n_train": n_train, "epochs": epochs, "slowdown_to_99": slower}
