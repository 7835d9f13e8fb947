"""Width: what more hidden units buy, how the learning rate interacts, and double descent.

1. **Accuracy against width.** A one-hidden-layer ReLU MLP is trained for a fixed number of
   full-batch SGD steps (momentum 0.9) on three interleaved spirals. A few hidden units can only
   cut the plane into a few regions, too few for the arms; as the layer widens the network can
   carve out the spirals, and training and test accuracy rise until the task is solved and more
   units add nothing.
2. **Accuracy against the learning rate** at the same fixed number of steps, for a narrow and a
   wide layer: too small a rate has not got anywhere yet, too large a rate bounces out of the
   valley, and in between lies a band of good rates.
3. **Double descent.** Classical advice says test error first falls and then rises as a model
   gets bigger (under- then over-fitting). Past the *interpolation threshold*, where the model has
   just enough parameters to fit every training label exactly, it falls again. The cheap way to
   see it: ``p`` random ReLU features ``relu(W x + b)`` with ``W, b`` fixed at their random
   initial values (a wide hidden layer that is never trained) and only the linear readout fitted,
   by least squares, taking the minimum-norm solution when there are more features than
   examples. With label noise, at ``p`` close to the number of training examples ``n`` the
   readout must fit every noisy label with barely enough freedom: the system is nearly singular,
   the weights become huge and the test error spikes. With many more features than examples,
   among all the interpolating readouts the minimum-norm one is smooth, and the error comes down
   again.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

from ._base import plt

NAME = "width"
SUMMARY = ("train/test accuracy against hidden width and learning rate; double descent of test "
           "error across the interpolation threshold with label noise")


def _spirals(seed, n):
    X, y = cr.data.datasets.spirals(n=2 * n, noise=0.05, classes=3, turns=1.5, seed=seed)
    s = cr.data.Standardizer().fit(X[:n])
    return (s.transform(X[:n]).astype(np.float32), y[:n],
            s.transform(X[n:]).astype(np.float32), y[n:])


def _mlp(seed, hidden):
    nn = cr.nn
    g = cr.Generator().manual_seed(seed)
    return nn.Sequential(nn.Linear(2, hidden, generator=g), nn.ReLU(),
                         nn.Linear(hidden, 3, generator=g))


def _accuracy(model, X, y):
    with cr.no_grad():
        return float((model(cr.tensor(X)).argmax(dim=1).numpy() == y).mean())


def _train(seed, hidden, lr, steps, data):
    X, y, Xt, yt = data
    F = cr.nn.functional
    model = _mlp(seed, hidden)
    opt = cr.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    Xa, ya = cr.tensor(X), cr.tensor(y)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(Xa), ya).backward()
        opt.step()
    return _accuracy(model, X, y), _accuracy(model, Xt, yt)


def _teacher(seed, n, n_test, dim, noise):
    """Two classes split by a random tanh teacher in ``dim`` dimensions; a ``noise`` fraction of
    the training labels flipped (the test labels are clean)."""
    rng = np.random.default_rng(seed)
    W, v = rng.normal(size=(dim, 8)), rng.normal(size=8)
    x, xt = rng.normal(size=(n, dim)), rng.normal(size=(n_test, dim))
    y = (np.tanh(x @ W / np.sqrt(dim)) @ v > 0).astype(np.int64)
    yt = (np.tanh(xt @ W / np.sqrt(dim)) @ v > 0).astype(np.int64)
    flip = rng.random(n) < noise
    y[flip] = 1 - y[flip]
    return x.astype(np.float32), y, xt.astype(np.float32), yt, flip


def _double_descent(seed, features, draws, n, dim, noise):
    x, y, xt, yt, flip = _teacher(seed, n, 2000, dim, noise)
    Y, Yt = 2.0 * y - 1, 2.0 * yt - 1
    shape = (draws, len(features))
    mse, err, train_err, norm = (np.zeros(shape) for _ in range(4))
    for d in range(draws):
        hidden = cr.nn.Linear(dim, max(features),
                              generator=cr.Generator().manual_seed(seed * 1000 + d))
        with cr.no_grad():  # the random ReLU features of every example, computed once
            H = cr.nn.functional.relu(hidden(cr.tensor(x))).numpy().astype(np.float64)
            Ht = cr.nn.functional.relu(hidden(cr.tensor(xt))).numpy().astype(np.float64)
        for j, p in enumerate(features):
            w = np.linalg.lstsq(H[:, :p], Y, rcond=None)[0]  # minimum-norm least squares
            pred = Ht[:, :p] @ w
            mse[d, j] = np.mean((pred - Yt) ** 2)
            err[d, j] = np.mean(np.sign(pred) != Yt)
            train_err[d, j] = np.mean(np.sign(H[:, :p] @ w) != Y)
            norm[d, j] = np.linalg.norm(w)
    return {"features": np.array(features), "test_mse": mse.mean(0), "test_error": err.mean(0),
            "train_error": train_err.mean(0), "weight_norm": np.exp(np.log(norm).mean(0)),
            "test_mse_draws": mse, "test_error_draws": err, "flipped": float(flip.mean())}


def run(ctx):
    seeds = ctx.pick([ctx.seed], [ctx.seed, ctx.seed + 1, ctx.seed + 2])
    datas = {s: _spirals(s, ctx.pick(300, 400)) for s in seeds}
    steps = ctx.pick(500, 1500)
    lr = 0.3
    widths = ctx.pick([2, 4, 8, 16, 32, 64, 128, 256], [2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64,
                                                        96, 128, 256, 512])

    def mean_acc(hidden, rate):
        """(train, test) accuracy averaged over the data/initialisation seeds."""
        return np.mean([_train(s, hidden, rate, steps, datas[s]) for s in seeds], axis=0)

    wtrain, wtest = np.array([mean_acc(h, lr) for h in ctx.progress(widths, desc="widths")]).T

    lrs = ctx.pick([1e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0],
                   [1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.2, 0.3, 0.6, 1.0, 2.0, 3.0])
    lr_widths = (8, 128)
    lr_acc = {}
    for h in lr_widths:
        tr, te = np.array([mean_acc(h, r)
                           for r in ctx.progress(lrs, desc=f"learning rates, width {h}")]).T
        lr_acc[h] = {"train": tr, "test": te}

    n_dd, dim, noise = ctx.pick(200, 300), 10, 0.2
    features = sorted(set(ctx.pick(
        [5, 10, 20, 50, 100, 150, 180, 200, 220, 250, 300, 400, 600, 1000, 2000],
        [5, 10, 20, 30, 50, 75, 100, 150, 200, 225, 250, 270, 290, 300, 310, 330, 350, 400,
         450, 500, 600, 750, 1000, 1500, 2000, 3000, 5000])))
    features = [p for p in features if p > 0]
    dd = _double_descent(ctx.seed, features, ctx.pick(2, 5), n_dd, dim, noise)
    f = dd["features"]
    peak = int(np.argmax(dd["test_mse"]))
    under = f < n_dd / 2
    best_small = int(np.argmin(np.where(under, dd["test_error"], np.inf)))

    p = plt()
    fig, axes = p.subplots(2, 2, figsize=(13, 9.5))
    ax = axes[0, 0]
    ax.semilogx(widths, wtrain, "o-", label="training accuracy")
    ax.semilogx(widths, wtest, "s--", label="test accuracy")
    ax.axhline(1 / 3, color="gray", ls=":", label="chance (3 classes)")
    ax.set_xticks(widths, [str(w) for w in widths], fontsize=8)
    ax.minorticks_off()
    ax.set_xlabel("hidden units")
    ax.set_ylabel("accuracy")
    ax.set_title(f"spirals (1.5 turns, 3 arms): {steps} SGD steps at lr {lr:g}"
                 + (f", mean of {len(seeds)} seeds" if len(seeds) > 1 else ""))
    ax.legend(fontsize=8)

    ax = axes[0, 1]
    for i, h in enumerate(lr_widths):
        ax.semilogx(lrs, lr_acc[h]["train"], "o-", color=f"C{i}", label=f"{h} units, train")
        ax.semilogx(lrs, lr_acc[h]["test"], "s--", color=f"C{i}", alpha=0.7,
                    label=f"{h} units, test")
    ax.axhline(1 / 3, color="gray", ls=":")
    ax.set_xlabel("learning rate (SGD, momentum 0.9)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"accuracy after {steps} steps against the learning rate")
    ax.legend(fontsize=8)

    ax = axes[1, 0]
    ax.loglog(f, dd["test_mse"], "o-", color="C3", label="test mean squared error")
    ax.loglog(f, dd["weight_norm"], "^:", color="C4", alpha=0.7, label="|readout weights|")
    ax.axvline(n_dd, color="gray", ls="--", label=f"interpolation threshold (p = n = {n_dd})")
    ax.set_xlabel("random ReLU features p (only the readout is fitted)")
    ax.set_ylabel("mean squared error (targets +-1) / weight norm")
    ax.set_title("double descent: min-norm least-squares readout")
    ax.legend(fontsize=8)

    ax = axes[1, 1]
    ax.semilogx(f, dd["test_error"], "o-", color="C3", label="test error (clean labels)")
    ax.semilogx(f, dd["train_error"], "s--", color="C0", label="training error (noisy labels)")
    ax.axvline(n_dd, color="gray", ls="--", label="interpolation threshold")
    ax.axhline(dd["flipped"], color="C0", ls=":", alpha=0.6,
               label=f"flipped training labels ({dd['flipped']:.0%})")
    ax.axhline(0.5, color="gray", ls=":", label="chance")
    ax.set_xlabel("random ReLU features p")
    ax.set_ylabel("classification error")
    ax.set_title(f"{n_dd} training points in {dim}-D, {noise:.0%} label noise")
    ax.legend(fontsize=8)
    fig.suptitle("Width: one hidden layer trained on spirals; random features with a "
                 "least-squares readout across the interpolation threshold")
    fig.tight_layout()
    ctx.figure(fig, "width")

    i_max = int(np.argmax(wtrain))
    best_lr = {h: lrs[int(np.argmax(lr_acc[h]["test"]))] for h in lr_widths}
    peak_f = int(f[peak])
    rises = wtrain[-1] > wtrain[0]
    ctx.conclude(
        f"Training accuracy {'rose' if rises else 'did not rise'} with width, from "
        f"{wtrain[0]:.0%} with {widths[0]} hidden units to {wtrain[-1]:.0%} with {widths[-1]} "
        f"(best {wtrain[i_max]:.0%} at {widths[i_max]}), test accuracy from {wtest[0]:.0%} to "
        f"{wtest[-1]:.0%}. After {steps} steps the best learning rate was {best_lr[8]:g} for 8 "
        f"units ({lr_acc[8]['test'].max():.0%} test accuracy) and {best_lr[128]:g} for 128 "
        f"({lr_acc[128]['test'].max():.0%}); lr {lrs[0]:g} reached only "
        f"{lr_acc[128]['test'][0]:.0%} and lr {lrs[-1]:g} {lr_acc[128]['test'][-1]:.0%} with "
        f"128 units. With random ReLU features and {dd['flipped']:.0%} flipped labels, the test "
        f"error of the min-norm readout peaked at p = {peak_f} features for n = {n_dd} training "
        f"points (mean squared error {dd['test_mse'][peak]:.3g}, classification error "
        f"{dd['test_error'][peak]:.0%}), against {dd['test_error'][best_small]:.0%} at "
        f"p = {int(f[best_small])} and {dd['test_error'][-1]:.0%} "
        f"(mean squared error {dd['test_mse'][-1]:.3g}) at p = {int(f[-1])}: the error "
        f"{'came down again' if dd['test_mse'][-1] < dd['test_mse'][peak] / 3 else 'stayed up'}"
        f" past the interpolation threshold.")
    return {"widths": np.array(widths), "train_acc": wtrain, "test_acc": wtest, "steps": steps,
            "lr": lr, "lrs": np.array(lrs), "seeds": seeds,
            "lr_sweep": {str(h): v for h, v in lr_acc.items()},
            "double_descent": dd, "n_train": n_dd, "peak_features": peak_f,
            "best_small_features": int(f[best_small])}
