"""Locality: a convolutional network wins on MNIST-1D because neighbouring points belong together.

An MLP, a 1-D CNN and a bidirectional GRU (the MNIST-1D paper's models) are trained on the
signals as they are, and again on the same signals with one fixed random permutation of the 40
positions applied to every signal, training and test alike. The permutation keeps every bit of
information, but it scatters neighbouring points apart. The CNN's small kernels and the GRU's
step-by-step reading both assume that nearby points belong together, so their advantage goes;
for the MLP a permutation is just a relabelling of its inputs (permuting the columns of its first
weight matrix undoes it exactly), so it learns as well as before.

A third CNN is trained on the ordered signals with data augmentation: each training signal is
shifted by a random number of positions (the ends padded with their edge values) every time it
is drawn. The digits in MNIST-1D already sit at random offsets; the augmentation shows the CNN
more of them, and on a small training set it closes part of the gap between its training and
test accuracy.

The quick form trains on 1000 of the 4000 training signals with small models for a few hundred
steps; the full form uses the whole training set, the paper's model sizes and thousands of steps.
"""

from __future__ import annotations

import time

import numpy as np

import chainrule as cr

from ._base import plt

NAME = "locality"
SUMMARY = "MNIST-1D: MLP vs CNN vs GRU on ordered and position-shuffled signals; shift augmentation"

_RUNS = (("MLP", "ordered"), ("MLP", "shuffled"), ("CNN", "ordered"), ("CNN", "shuffled"),
         ("CNN", "shift-augmented"), ("GRU", "ordered"), ("GRU", "shuffled"))


def _shift(xb, rng, k):
    """Shift each row of ``xb`` by a random whole number of positions in [-k, k], edge-padded."""
    s = rng.integers(-k, k + 1, size=len(xb))
    idx = np.clip(np.arange(xb.shape[1])[None, :] - s[:, None], 0, xb.shape[1] - 1)
    return np.take_along_axis(xb, idx, axis=1)


def _accuracy(model, x, y):
    model.eval()
    with cr.no_grad():
        pred = model(cr.tensor(x)).argmax(dim=1).numpy()
    model.train()
    return float((pred == y).mean())


def _model(kind, seed, quick):
    cr.manual_seed(seed)
    build = cr.train.build_model
    if kind == "MLP":
        return build("mlp", (40,), 10, hidden=[100, 100], residual=True)
    if kind == "CNN":
        width = 16 if quick else 25
        return build("cnn", (40,), 10, channels=[width] * 3, kernel_sizes=[5, 3, 3])
    return build("gru", (40,), 10, hidden_size=16 if quick else 6, bidirectional=True,
                 readout="flatten")


def _train(model, data, steps, lr, seed, shift, n_evals, progress):
    x, y, x_test, y_test = data
    rng = np.random.default_rng(seed)
    opt = cr.optim.Adam(model.parameters(), lr=lr)
    F = cr.nn.functional
    every = max(1, steps // n_evals)
    curve_steps, curve = [], []
    t0 = time.perf_counter()
    for step in progress:
        idx = rng.integers(0, len(x), size=100)
        xb = _shift(x[idx], rng, shift) if shift else x[idx]
        opt.zero_grad()
        F.cross_entropy(model(cr.tensor(xb)), cr.tensor(y[idx])).backward()
        opt.step()
        if (step + 1) % every == 0 or step + 1 == steps:
            curve_steps.append(step + 1)
            curve.append(_accuracy(model, x_test, y_test))
    return {"steps": np.array(curve_steps), "test_curve": np.array(curve),
            "test_accuracy": curve[-1], "train_accuracy": _accuracy(model, x, y),
            "seconds": time.perf_counter() - t0}


def run(ctx):
    quick = ctx.quick
    d = cr.data.datasets.load_mnist1d()
    n_train = ctx.pick(1000, len(d["x"]))
    x, y = d["x"][:n_train], d["y"][:n_train]
    x_test, y_test = d["x_test"], d["y_test"]
    g = cr.Generator().manual_seed(ctx.seed)
    perm = cr.randperm(40, generator=g).numpy()
    views = {"ordered": (x, y, x_test, y_test),
             "shuffled": (x[:, perm], y, x_test[:, perm], y_test)}
    views["shift-augmented"] = views["ordered"]
    shift = 3
    steps = {"MLP": ctx.pick(400, 3000), "CNN": ctx.pick(400, 3000), "GRU": ctx.pick(80, 2000)}
    lr = {"MLP": 1e-2, "CNN": 1e-2, "GRU": ctx.pick(2e-2, 1e-2)}
    n_evals = ctx.pick(4, 20)

    res, models = {}, {}
    for kind, view in _RUNS:
        model = _model(kind, ctx.seed, quick)
        bar = ctx.progress(range(steps[kind]), desc=f"{kind} {view}")
        res[f"{kind}/{view}"] = _train(model, views[view], steps[kind], lr[kind], ctx.seed,
                                       shift if view == "shift-augmented" else 0, n_evals, bar)
        models[f"{kind}/{view}"] = model

    # a permutation is a relabelling for the MLP: the MLP trained on ordered signals, with the
    # columns of its first weight matrix permuted the same way, classifies the shuffled test set
    # exactly as it classified the ordered one
    mlp = models["MLP/ordered"]
    w = mlp.fc1.weight.data.copy()
    mlp.fc1.weight.data[...] = w[:, perm]
    relabelled = _accuracy(mlp, x_test[:, perm], y_test)
    mlp.fc1.weight.data[...] = w

    acc = {k: v["test_accuracy"] for k, v in res.items()}
    gap_ordered = acc["CNN/ordered"] - acc["MLP/ordered"]
    gap_shuffled = acc["CNN/shuffled"] - acc["MLP/shuffled"]
    mlp_change = acc["MLP/shuffled"] - acc["MLP/ordered"]
    aug_gain = acc["CNN/shift-augmented"] - acc["CNN/ordered"]
    gru_drop = acc["GRU/ordered"] - acc["GRU/shuffled"]

    p = plt()
    fig, axes = p.subplots(2, 2, figsize=(13, 8.5))
    t = np.arange(40)
    i = int(np.argmax(y_test == y_test[0]))
    ax = axes[0, 0]
    ax.plot(t, x_test[i], "o-", ms=3, label="ordered")
    ax.plot(t, x_test[i, perm], "o-", ms=3, alpha=0.7, label="shuffled (fixed permutation)")
    ax.plot(t, _shift(x_test[i:i + 1], np.random.default_rng(ctx.seed), shift)[0], "--",
            alpha=0.7, label=f"randomly shifted (up to {shift})")
    ax.set_title(f"one test signal (digit {y_test[i]})")
    ax.set_xlabel("position")
    ax.legend(fontsize=8)

    ax = axes[0, 1]
    kinds = ("MLP", "CNN", "GRU")
    xs = np.arange(len(kinds))
    ordered = [acc[f"{k}/ordered"] for k in kinds]
    shuffled = [acc[f"{k}/shuffled"] for k in kinds]
    b1 = ax.bar(xs - 0.27, ordered, 0.27, label="ordered")
    b2 = ax.bar(xs, shuffled, 0.27, label="shuffled")
    b3 = ax.bar([1 + 0.27], [acc["CNN/shift-augmented"]], 0.27, label="ordered + random shifts")
    for bars in (b1, b2, b3):
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
    ax.axhline(0.1, color="gray", ls=":", lw=1, label="chance")
    ax.set_xticks(xs, kinds)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.set_title("test accuracy")
    ax.legend(fontsize=8, loc="upper left")

    styles = {"ordered": "-", "shuffled": "--", "shift-augmented": ":"}
    colors = {"MLP": "tab:blue", "CNN": "tab:orange", "GRU": "tab:green"}
    ax = axes[1, 0]
    for key, r in res.items():
        kind, view = key.split("/")
        ax.plot(r["steps"], r["test_curve"], styles[view], color=colors[kind], marker="o", ms=3,
                label=f"{kind} {view}")
    ax.set_xlabel("Adam step (batch 100)")
    ax.set_ylabel("test accuracy")
    ax.set_title("test accuracy during training")
    ax.legend(fontsize=7)

    ax = axes[1, 1]
    keys = list(res)
    tr = [res[k]["train_accuracy"] for k in keys]
    te = [res[k]["test_accuracy"] for k in keys]
    ys = np.arange(len(keys))
    ax.barh(ys + 0.2, tr, 0.4, label="train")
    ax.barh(ys - 0.2, te, 0.4, label="test")
    ax.set_yticks(ys, [k.replace("/", " ") for k in keys], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("accuracy")
    ax.set_title("train vs test (the gap is overfitting)")
    ax.legend(fontsize=8)
    fig.suptitle(f"MNIST-1D ({n_train} training signals): does the model use the order of the "
                 "positions?")
    fig.tight_layout()
    ctx.figure(fig, "locality")

    def pts(v):
        return f"{abs(v) * 100:.1f} points"

    if gap_shuffled < 0:
        lead = f"turned into a deficit of {pts(gap_shuffled)}"
    elif gap_shuffled < gap_ordered:
        lead = f"shrank to {pts(gap_shuffled)}"
    else:
        lead = f"did not shrink ({pts(gap_shuffled)})"
    same = ("exactly its" if relabelled == acc["MLP/ordered"] else "against its")
    ctx.conclude(
        f"On ordered signals the CNN reached {acc['CNN/ordered']:.1%} test accuracy against the "
        f"MLP's {acc['MLP/ordered']:.1%} ({'+' if gap_ordered >= 0 else '-'}{pts(gap_ordered)}); "
        f"after one fixed shuffle of the 40 positions the CNN "
        f"{'fell' if acc['CNN/shuffled'] < acc['CNN/ordered'] else 'rose'} to "
        f"{acc['CNN/shuffled']:.1%}, so its lead over the MLP {lead}, while the MLP "
        f"{'moved by only' if abs(mlp_change) < 0.03 else 'moved by'} {pts(mlp_change)} "
        f"(to {acc['MLP/shuffled']:.1%}; with its first-layer columns permuted, the MLP trained "
        f"on ordered signals scores {relabelled:.1%} on shuffled ones, {same} "
        f"{acc['MLP/ordered']:.1%} on ordered ones). The GRU, which reads the signal in order, "
        f"went from {acc['GRU/ordered']:.1%} to {acc['GRU/shuffled']:.1%}. Random shifts of up "
        f"to {shift} positions {'raised' if aug_gain > 0 else 'lowered'} the CNN's test accuracy "
        f"by {pts(aug_gain)} to {acc['CNN/shift-augmented']:.1%} (train accuracy "
        f"{res['CNN/ordered']['train_accuracy']:.1%} without the shifts, "
        f"{res['CNN/shift-augmented']['train_accuracy']:.1%} with them).")
    return {"accuracy": acc, "runs": res, "gap_ordered": gap_ordered,
            "gap_shuffled": gap_shuffled, "mlp_change": mlp_change, "augment_gain": aug_gain,
            "gru_drop": gru_drop, "mlp_relabelled_accuracy": relabelled,
            "permutation": perm, "n_train": n_train, "steps": steps, "shift": shift}
