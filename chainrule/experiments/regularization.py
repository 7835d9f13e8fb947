"""Regularisation: L1 vs L2 weight penalties, and early stopping on the validation curve.

1. **L1 vs L2.** An MLP learns a 3-class problem in 50 input dimensions from 150 examples with
   10% flipped labels, where only the first 5 inputs carry information. Its loss gets a penalty
   ``lambda * sum |w|`` (L1) or ``lambda * sum w^2`` (L2) on the weights. Their gradients
   differ in kind: L2 pulls each weight back in proportion to its size (``2 lambda w``), so
   weights shrink but a weight that the data wants a little of keeps a little of it; L1 pulls
   with the same force ``lambda`` whatever the size, so every weight whose data gradient is
   weaker than ``lambda`` is driven all the way to zero (with plain gradient steps it then
   jitters within about ``lr * lambda`` of zero). L1 therefore makes the network *sparse*, and
   here it finds the 5 useful inputs: the weights from the 45 useless ones vanish. The figure
   shows the fraction of near-zero weights (``|w| < 0.01``) and the test accuracy for a sweep
   of ``lambda``.
2. **Early stopping.** An over-parameterised MLP (two hidden layers of 48 units, about 2,600
   parameters) trained on 100 two-moons points with 25% flipped labels first learns the moons,
   then memorises the flipped labels: the training loss keeps falling while the loss on held-out
   validation data (flipped alike) turns round and rises. Early stopping watches the validation loss
   (``cr.train.callbacks.EarlyStopping`` with a patience of some epochs), stops once it has not
   improved for that long, and restores the weights of the best epoch. The run here keeps
   training to the end to show what the restored model avoided.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

import chainrule as cr

from ._base import plt

NAME = "regularization"
SUMMARY = ("L1 vs L2 penalties: weight sparsity and test accuracy across lambda; early stopping "
           "on the validation loss of an overfitting net")

_NEAR_ZERO = 0.01
_INFORMATIVE = 5


def _sparse_task(seed, n, n_test, dim=50, noise=0.1):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(_INFORMATIVE, 3))
    x = rng.normal(size=(n + n_test, dim)).astype(np.float32)
    y = np.argmax(x[:, :_INFORMATIVE] @ A, axis=1).astype(np.int64)
    flip = rng.random(n) < noise
    y[:n][flip] = rng.integers(0, 3, size=int(flip.sum()))
    return x[:n], y[:n], x[n:], y[n:]


def _weights(model):
    return [p.data for name, p in model.named_parameters() if name.endswith("weight")]


def _penalised(seed, data, kind, lam, steps, lr, hidden=32):
    x, y, xt, yt = data
    F = cr.nn.functional
    g = cr.Generator().manual_seed(seed)
    nn = cr.nn
    model = nn.Sequential(nn.Linear(x.shape[1], hidden, generator=g), nn.ReLU(),
                          nn.Linear(hidden, 3, generator=g))
    penalty = cr.nn.l1_penalty if kind == "L1" else cr.nn.l2_penalty
    opt = cr.optim.SGD(model.parameters(), lr=lr)
    X, Y = cr.tensor(x), cr.tensor(y)
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(X), Y)
        if lam > 0:
            loss = loss + lam * penalty(model)
        loss.backward()
        opt.step()
    w = np.concatenate([v.ravel() for v in _weights(model)])
    first = np.abs(_weights(model)[0]).sum(axis=0)  # weight mass leaving each input
    with cr.no_grad():
        test = float((model(cr.tensor(xt)).argmax(dim=1).numpy() == yt).mean())
        train = float((model(X).argmax(dim=1).numpy() == y).mean())
    return {"near_zero": float((np.abs(w) < _NEAR_ZERO).mean()), "test_acc": test,
            "train_acc": train, "weights": w, "input_mass": first,
            "informative_share": float(first[:_INFORMATIVE].sum() / first.sum())}


def _moons(seed, n, noise=0.25):
    X, y = cr.data.datasets.two_moons(n=2 * n + 1000, noise=0.25, seed=seed)
    rng = np.random.default_rng(seed)
    flip = rng.random(2 * n) < noise  # training and validation labels flipped, test clean
    y = y.copy()
    y[:2 * n][flip] = 1 - y[:2 * n][flip]
    X = cr.data.Standardizer().fit(X[:n]).transform(X).astype(np.float32)
    return [(X[a:b], y[a:b]) for a, b in ((0, n), (n, 2 * n), (2 * n, 2 * n + 1000))]


def _evaluate(model, x, y):
    with cr.no_grad():
        out = model(cr.tensor(x))
        return (cr.nn.functional.cross_entropy(out, cr.tensor(y)).item(),
                float((out.argmax(dim=1).numpy() == y).mean()))


def _early_stopping(seed, n, epochs, patience, hidden=48, lr=2e-3):
    F = cr.nn.functional
    train, val, test = _moons(seed, n)
    nn = cr.nn
    g = cr.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, hidden, generator=g), nn.ReLU(),
                          nn.Linear(hidden, hidden, generator=g), nn.ReLU(),
                          nn.Linear(hidden, 2, generator=g))
    opt = cr.optim.Adam(model.parameters(), lr=lr)
    stopper = cr.train.callbacks.EarlyStopping("val_loss", patience=patience,
                                               restore_best_weights=True)
    watcher = SimpleNamespace(model=model, stop_training=False, stop_reason=None)
    X, Y = cr.tensor(train[0]), cr.tensor(train[1])
    curves = {k: [] for k in ("train_loss", "val_loss", "train_acc", "val_acc")}
    stop_epoch, restored = None, None
    for epoch in range(epochs):
        opt.zero_grad()
        F.cross_entropy(model(X), Y).backward()
        opt.step()
        tl, ta = _evaluate(model, *train)
        vl, va = _evaluate(model, *val)
        for k, v in zip(curves, (tl, vl, ta, va)):
            curves[k].append(v)
        if stop_epoch is None:
            stopper.on_epoch_end(watcher, epoch, {"val_loss": vl})
            if watcher.stop_training:  # early stopping would end here: keep its best weights
                stop_epoch = epoch
                restored = {k: np.array(v, copy=True) for k, v in stopper.best_weights.items()}
    if restored is None:  # the patience never ran out
        stop_epoch = epochs - 1
        restored = stopper.best_weights
    final_val, final_val_acc = _evaluate(model, *val)
    final_test_loss, final_test = _evaluate(model, *test)
    model.load_state_dict(restored)
    best_val, best_val_acc = _evaluate(model, *val)
    best_test_loss, best_test = _evaluate(model, *test)
    return {**{k: np.array(v) for k, v in curves.items()}, "best_epoch": stopper.best_epoch,
            "stop_epoch": stop_epoch, "patience": patience,
            "restored_val_loss": best_val, "final_val_loss": final_val,
            "restored_test_acc": best_test, "final_test_acc": final_test,
            "restored_test_loss": best_test_loss, "final_test_loss": final_test_loss,
            "restored_val_acc": best_val_acc, "final_val_acc": final_val_acc}


def run(ctx):
    data = _sparse_task(ctx.seed, 150, 1000)
    lams = ctx.pick([0.0, 1e-3, 3e-3, 1e-2, 3e-2], [0.0, 3e-4, 1e-3, 2e-3, 3e-3, 6e-3, 1e-2,
                                                   2e-2, 3e-2, 6e-2])
    steps, lr = ctx.pick(600, 2000), 0.1
    runs = {}
    jobs = [("L1", lam) for lam in lams] + [("L2", lam) for lam in lams if lam > 0]
    for kind, lam in ctx.progress(jobs, desc="penalties"):
        runs[kind, lam] = _penalised(ctx.seed, data, kind, lam, steps, lr)
    runs["L2", 0.0] = runs["L1", 0.0]
    sweep = {kind: {key: np.array([runs[kind, lam][key] for lam in lams])
                    for key in ("near_zero", "test_acc", "train_acc", "informative_share")}
             for kind in ("L1", "L2")}
    show = 1e-2

    es = _early_stopping(ctx.seed, 100, ctx.pick(300, 600), ctx.pick(40, 50))

    p = plt()
    fig, axes = p.subplots(2, 3, figsize=(17, 9.5))
    x = np.array([lam if lam > 0 else lams[1] / 3 for lam in lams])  # lambda 0 on a log axis
    labels = ["0"] + [f"{lam:g}" for lam in lams[1:]]
    ax = axes[0, 0]
    for kind in ("L1", "L2"):
        ax.semilogx(x, sweep[kind]["near_zero"], "o-", label=kind)
    ax.set_xticks(x, labels, fontsize=8, rotation=45)
    ax.minorticks_off()
    ax.set_xlabel("penalty weight lambda")
    ax.set_ylabel(f"fraction of weights with |w| < {_NEAR_ZERO:g}")
    ax.set_title("sparsity")
    ax.legend()

    ax = axes[0, 1]
    for i, kind in enumerate(("L1", "L2")):
        ax.semilogx(x, sweep[kind]["test_acc"], "o-", color=f"C{i}", label=f"{kind}, test")
        ax.semilogx(x, sweep[kind]["train_acc"], "s:", color=f"C{i}", alpha=0.6,
                    label=f"{kind}, train")
    ax.set_xticks(x, labels, fontsize=8, rotation=45)
    ax.minorticks_off()
    ax.set_xlabel("penalty weight lambda")
    ax.set_ylabel("accuracy")
    ax.set_title(f"accuracy ({len(data[0])} training points, 10% flipped labels)")
    ax.legend(fontsize=8)

    ax = axes[0, 2]
    dims = np.arange(data[0].shape[1])
    for kind, off in (("L1", -0.2), ("L2", 0.2)):
        mass = runs[kind, show]["input_mass"]
        ax.bar(dims + off, mass / mass.max(), 0.4, label=f"{kind}, lambda {show:g}")
    ax.axvspan(-0.5, _INFORMATIVE - 0.5, color="gold", alpha=0.3, label="informative inputs")
    ax.set_xlabel("input")
    ax.set_ylabel("sum |first-layer weights| from the input (scaled)")
    ax.set_title("which inputs the network still uses")
    ax.legend(fontsize=8)

    ax = axes[1, 0]
    bins = np.linspace(-0.6, 0.6, 121)
    for kind, lam in (("L1", 0.0), ("L1", show), ("L2", show)):
        w = runs[kind, lam]["weights"]
        ax.hist(np.clip(w, bins[0], bins[-1]), bins=bins, histtype="step", lw=1.5,
                label="no penalty" if lam == 0 else f"{kind}, lambda {lam:g}")
    ax.set_yscale("log")
    ax.set_xlabel("weight value")
    ax.set_ylabel("number of weights")
    ax.set_title("weight distributions")
    ax.legend(fontsize=8)

    ax = axes[1, 1]
    ep = np.arange(1, len(es["val_loss"]) + 1)
    ax.plot(ep, es["train_loss"], label="training loss")
    ax.plot(ep, es["val_loss"], label="validation loss")
    ax.axvline(es["best_epoch"] + 1, color="C2", ls="--",
               label=f"best epoch {es['best_epoch'] + 1} (restored)")
    ax.axvline(es["stop_epoch"] + 1, color="C3", ls=":",
               label=f"stopped at {es['stop_epoch'] + 1} (patience {es['patience']})")
    ax.set_xlabel("epoch (full batch, Adam)")
    ax.set_ylabel("cross-entropy")
    ax.set_title("early stopping: 100 two-moons points, 25% flipped, MLP 2-48-48-2")
    ax.legend(fontsize=8)

    ax = axes[1, 2]
    ax.plot(ep, es["train_acc"], label="training accuracy")
    ax.plot(ep, es["val_acc"], label="validation accuracy")
    ax.axvline(es["best_epoch"] + 1, color="C2", ls="--")
    ax.axhline(es["restored_test_acc"], color="C2", ls=":",
               label=f"clean test set, restored model: {es['restored_test_acc']:.1%}")
    ax.axhline(es["final_test_acc"], color="C3", ls=":",
               label=f"clean test set, final model: {es['final_test_acc']:.1%}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_title("accuracy (validation labels are noisy like the training labels)")
    ax.legend(fontsize=8, loc="lower left")
    fig.suptitle("Regularisation: L1 vs L2 penalties on a task with 5 useful inputs of 50; "
                 "early stopping")
    fig.tight_layout()
    ctx.figure(fig, "regularization")

    i = lams.index(show)
    l1, l2 = sweep["L1"], sweep["L2"]
    grows = bool(np.all(np.diff(l1["near_zero"]) > -0.02))
    best = {k: int(np.argmax(sweep[k]["test_acc"])) for k in sweep}
    ctx.conclude(
        f"At lambda {show:g}, L1 left {l1['near_zero'][i]:.0%} of the weights within "
        f"{_NEAR_ZERO:g} of zero and L2 {l2['near_zero'][i]:.0%} (no penalty: "
        f"{l1['near_zero'][0]:.0%}); L1's sparsity "
        f"{'grew steadily' if grows else 'did not grow steadily'} with lambda, from "
        f"{l1['near_zero'][1]:.0%} at {lams[1]:g} to {l1['near_zero'][-1]:.0%} at {lams[-1]:g}, "
        f"and put {l1['informative_share'][i]:.0%} of the first layer's weight on the 5 "
        f"informative inputs (L2 {l2['informative_share'][i]:.0%}). Best test accuracy: L1 "
        f"{l1['test_acc'][best['L1']]:.1%} at lambda {lams[best['L1']]:g}, L2 "
        f"{l2['test_acc'][best['L2']]:.1%} at {lams[best['L2']]:g}, no penalty "
        f"{l1['test_acc'][0]:.1%}. Early stopping with patience {es['patience']} stopped at "
        f"epoch {es['stop_epoch'] + 1} and restored epoch {es['best_epoch'] + 1}: validation "
        f"loss {es['restored_val_loss']:.3f} against {es['final_val_loss']:.3f} after all "
        f"{len(ep)} epochs, test accuracy {es['restored_test_acc']:.1%} against "
        f"{es['final_test_acc']:.1%}.")
    return {"lambdas": np.array(lams), "sweep": sweep, "near_zero_threshold": _NEAR_ZERO,
            "shown_lambda": show, "steps": steps, "lr": lr,
            "input_mass": {f"{k}/{lam:g}": runs[k, lam]["input_mass"]
                           for k in ("L1", "L2") for lam in lams},
            "early_stopping": es}
