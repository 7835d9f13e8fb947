"""Why weights must start random: an MLP whose weights all start at zero never moves, one whose
weights all start at the same constant keeps every hidden unit identical, and a random start
learns.

With every weight and bias zero, each hidden unit outputs ``act(0) = 0`` (ReLU and tanh alike), so
the output layer sees zeros and passes back a zero signal: every gradient but the output bias's
vanishes, and on balanced classes that one is zero too. With a constant non-zero start the units
differ from zero but not from each other: they receive identical gradients, stay identical, and
the network behaves as if each layer had one unit.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

from ._base import plt

NAME = "zero-init"
SUMMARY = "all-zero or constant weights never break symmetry; random initialisation learns"

_INITS = ("zero", "constant", "random")
_ACTS = ("relu", "tanh")


def _data(seed, n):
    X, y = cr.data.datasets.two_moons(n=n, noise=0.15, seed=seed)
    X = cr.data.Standardizer().fit_transform(X).astype(np.float32)
    return cr.tensor(X), cr.tensor(y)


def _mlp(act, hidden, init, g, const=0.3):
    nn = cr.nn
    layer = nn.ReLU if act == "relu" else nn.Tanh
    lins = [nn.Linear(2, hidden, generator=g), nn.Linear(hidden, hidden, generator=g),
            nn.Linear(hidden, 2, generator=g)]
    for lin in lins:
        if init == "zero":
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)
        elif init == "constant":
            nn.init.constant_(lin.weight, const)
            nn.init.zeros_(lin.bias)
        # "random" keeps Linear's default U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    return nn.Sequential(lins[0], layer(), lins[1], layer(), lins[2]), lins[:2]


def _unit_spread(hidden_layers):
    """Largest distance between any hidden unit's incoming weights (and bias) and unit 0's."""
    worst = 0.0
    for lin in hidden_layers:
        rows = np.concatenate([lin.weight.data, lin.bias.data[:, None]], axis=1)
        worst = max(worst, float(np.abs(rows - rows[:1]).max()))
    return worst


def _train(model, hidden_layers, X, y, steps, lr):
    F = cr.nn.functional
    params = list(model.parameters())
    opt = cr.optim.SGD(params, lr=lr, momentum=0.9)
    losses, hidden_grad, spread = [], [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        losses.append(loss.item())
        # gradient reaching the hidden layers (zero when the backward signal is cut)
        hidden_grad.append(float(np.sqrt(sum(
            float(np.square(p.grad.data).sum()) for lin in hidden_layers
            for p in (lin.weight, lin.bias)))))
        spread.append(_unit_spread(hidden_layers))
        opt.step()
    with cr.no_grad():
        out = model(X)
        final = F.cross_entropy(out, y).item()
    acc = cr.train.metrics.accuracy(out, y)
    losses.append(final)
    return {"loss": np.array(losses), "hidden_grad_norm": np.array(hidden_grad),
            "unit_spread": np.array(spread + [_unit_spread(hidden_layers)]),
            "accuracy": float(acc)}


def run(ctx):
    g = cr.Generator().manual_seed(ctx.seed)
    X, y = _data(ctx.seed, ctx.pick(200, 400))
    hidden = ctx.pick(16, 32)
    steps = ctx.pick(300, 2000)
    lr = 0.1
    res = {}
    for act in _ACTS:
        for init in ctx.progress(_INITS, desc=f"{act} nets"):
            model, hidden_layers = _mlp(act, hidden, init, g)
            res[f"{act}/{init}"] = _train(model, hidden_layers, X, y, steps, lr)

    p = plt()
    fig, axes = p.subplots(2, 3, figsize=(14, 7.5), sharex=True)
    colors = {"zero": "tab:red", "constant": "tab:orange", "random": "tab:blue"}
    for i, act in enumerate(_ACTS):
        for init in _INITS:
            r = res[f"{act}/{init}"]
            kw = dict(color=colors[init], label=f"{init} (train acc {r['accuracy']:.2f})")
            axes[i, 0].plot(r["loss"], **kw)
            axes[i, 1].plot(r["hidden_grad_norm"], **kw)
            axes[i, 2].plot(r["unit_spread"], **kw)
        axes[i, 0].set_ylabel(f"{act}: training loss")
        axes[i, 1].set_ylabel("|gradient| of hidden layers")
        axes[i, 2].set_ylabel("max |unit j - unit 0| (weights, bias)")
        for ax in axes[i, 1:]:
            ax.set_yscale("symlog", linthresh=1e-8)
        axes[i, 0].legend(fontsize=8)
    for ax in axes[1]:
        ax.set_xlabel("SGD step (full batch)")
    axes[0, 0].set_title("loss")
    axes[0, 1].set_title("gradient reaching the hidden layers")
    axes[0, 2].set_title("how different the hidden units are")
    fig.suptitle(f"Two moons, MLP 2-{hidden}-{hidden}-2: zero, constant ({0.3}) and random "
                 "initial weights")
    fig.tight_layout()
    ctx.figure(fig, "zero_init_training")

    parts = []
    for act in _ACTS:
        z, c, r = (res[f"{act}/{k}"] for k in _INITS)
        z_move = float(np.abs(z["loss"] - z["loss"][0]).max())
        z_grad = float(z["hidden_grad_norm"].max())
        parts.append(
            f"{act}: all-zero weights kept the loss at {z['loss'][0]:.4f} (largest change "
            f"{z_move:.1e}) with hidden gradients "
            f"{'exactly zero' if z_grad == 0 else f'up to {z_grad:.1e}'}; constant weights "
            f"{'kept' if c['unit_spread'].max() < 1e-4 else 'did not keep'} the hidden units "
            f"identical (largest difference {c['unit_spread'].max():.1e}) and reached "
            f"{c['accuracy']:.0%} accuracy; random weights took the loss from "
            f"{r['loss'][0]:.3f} to {r['loss'][-1]:.3f} and reached {r['accuracy']:.0%}")
    ctx.conclude("; ".join(parts) + ".")
    summary = {k: {"initial_loss": v["loss"][0], "final_loss": v["loss"][-1],
                   "loss_change": float(np.abs(v["loss"] - v["loss"][0]).max()),
                   "max_hidden_grad_norm": float(v["hidden_grad_norm"].max()),
                   "final_unit_spread": v["unit_spread"][-1], "accuracy": v["accuracy"]}
               for k, v in res.items()}
    return {"summary": summary, "curves": res, "hidden": hidden, "steps": steps, "lr": lr}
