"""How the scale of the initial weights decides whether signals survive a deep network.

A batch of standard-normal inputs goes through a 20-layer MLP (ReLU or tanh, widths tapering
from 256 to 100) whose weights are drawn under one scheme at a time, biases zero:

- zero: every weight 0;
- too small: ``N(0, 0.01^2)`` and too large: ``N(0, 1)``, whatever the layer's size;
- fan-in (LeCun): ``N(0, 1 / fan_in)``; fan-out: ``N(0, 1 / fan_out)``;
- Glorot: ``N(0, 2 / (fan_in + fan_out))``; He: ``N(0, 2 / fan_in)``.

A linear head and a cross-entropy loss on random labels give the backward signal. The study
records, layer by layer, the standard deviation of the hidden activations and of the gradient of
the loss with respect to that layer's weights.

A layer multiplies the variance of what it receives by about ``fan_in * var(w)`` (times 1/2 for a
ReLU, which zeroes half its inputs; tanh is about linear near zero and squashes large inputs into
``[-1, 1]``). Fan-in scaling makes that factor 1 for tanh, He scaling makes it 1 for ReLU; a
fixed scale that ignores the layer size shrinks or grows the signal geometrically with depth, and
all-zero weights pass nothing at all.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

from ._base import plt

NAME = "init-scale"
SUMMARY = ("activation and gradient size layer by layer in a deep ReLU/tanh MLP under zero, "
           "too small, too large, fan-in, fan-out, Glorot and He initialisation")

SCHEMES = ("zero", "too small", "too large", "fan-in", "fan-out", "glorot", "he")
ACTS = ("relu", "tanh")
SMALL, LARGE = 0.01, 1.0


def _init(weight, scheme, g):
    init = cr.nn.init
    if scheme == "zero":
        init.zeros_(weight)
    elif scheme == "too small":
        init.normal_(weight, 0.0, SMALL, generator=g)
    elif scheme == "too large":
        init.normal_(weight, 0.0, LARGE, generator=g)
    elif scheme == "fan-in":
        init.fan_in_normal_(weight, generator=g)
    elif scheme == "fan-out":
        init.kaiming_normal_(weight, mode="fan_out", nonlinearity="linear", generator=g)
    elif scheme == "glorot":
        init.xavier_normal_(weight, generator=g)
    elif scheme == "he":
        init.kaiming_normal_(weight, mode="fan_in", nonlinearity="relu", generator=g)
    else:  # pragma: no cover
        raise ValueError(scheme)


def _widths(depth, wide, narrow):
    return [int(round(w)) for w in np.linspace(wide, narrow, depth + 1)]


def _probe(act, scheme, widths, n, classes, g):
    """Per hidden layer: std of the activations, of the loss's gradient with respect to them
    (the backward signal) and with respect to the layer's weights; fraction of saturated units.

    Float64 throughout, so that what vanishes or explodes is measured rather than lost to
    float32 underflow or overflow.
    """
    nn, F = cr.nn, cr.nn.functional
    dt = cr.float64
    layers = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        lin = nn.Linear(fan_in, fan_out, dtype=dt, generator=g)
        _init(lin.weight, scheme, g)
        nn.init.zeros_(lin.bias)
        layers.append(lin)
    head = nn.Linear(widths[-1], classes, dtype=dt, generator=g)
    _init(head.weight, scheme, g)
    nn.init.zeros_(head.bias)
    x = cr.randn(n, widths[0], dtype=dt, generator=g)
    y = cr.tensor(_labels(g, classes, n))
    f = F.relu if act == "relu" else cr.tanh
    h, hs = x, []
    for lin in layers:
        h = f(lin(h))
        hs.append(h)
    loss = F.cross_entropy(head(h), y)
    grads = cr.autograd.grad(loss, hs + [lin.weight for lin in layers])
    a = [t.detach().numpy() for t in hs]
    return (np.array([v.std() for v in a]),
            np.array([t.numpy().std() for t in grads[:len(hs)]]),
            np.array([t.numpy().std() for t in grads[len(hs):]]),
            np.array([float((np.abs(v) > 0.99).mean()) for v in a]))


def _labels(g, high, n):
    """Random labels drawn from the experiment's generator."""
    return (cr.rand(n, generator=g).numpy() * high).astype(np.int64).clip(0, high - 1)


def _ratio(v):
    """Last entry over the first (0 when the first is 0).

    Within a factor 10 over 20 layers counts as stable; below 1e-3 as vanished, above 1e3 as
    exploded (a constant factor per layer of 0.7 or 1.4 already gives 1e-3 or 1e3)."""
    return float(v[-1] / v[0]) if v[0] > 0 else 0.0


def _word(ratio):
    if ratio == 0:
        return "stayed exactly zero"
    if ratio < 1e-3:
        return f"vanished ({ratio:.0e})"
    if ratio > 1e3:
        return f"exploded ({ratio:.0e})"
    if 0.1 <= ratio <= 10:
        return f"stable ({ratio:.2f})"
    return f"{'shrank' if ratio < 1 else 'grew'} ({ratio:.2g})"


def _stable(r):
    return 0.1 <= r["act_ratio"] <= 10 and r["saturated"].mean() < 0.5


def run(ctx):
    g = cr.Generator().manual_seed(ctx.seed)
    depth = 20
    widths = _widths(depth, 256, 100)
    n = ctx.pick(64, 512)
    repeats = ctx.pick(1, 4)
    classes = 10
    res = {}
    for act in ACTS:
        for scheme in ctx.progress(SCHEMES, desc=f"{act} nets"):
            runs = [_probe(act, scheme, widths, n, classes, g) for _ in range(repeats)]
            a, dh, dw, sat = (np.mean([r[i] for r in runs], axis=0) for i in range(4))
            # act_ratio: last layer's activations over the first's (forward, input to output);
            # back_ratio: first layer's backward signal over the last's (output to input)
            res[f"{act}/{scheme}"] = {"act_std": a, "back_std": dh, "weight_grad_std": dw,
                                      "saturated": sat, "act_ratio": _ratio(a),
                                      "back_ratio": _ratio(dh[::-1])}

    p = plt()
    fig, axes = p.subplots(2, 3, figsize=(17, 9), sharex=True)
    colors = dict(zip(SCHEMES, ("black", "tab:purple", "tab:red", "tab:blue", "tab:cyan",
                                "tab:green", "tab:orange")))
    styles = {"fan-out": "--", "glorot": "-."}
    layer = np.arange(1, depth + 1)
    keys = ("act_std", "back_std", "weight_grad_std")
    for i, act in enumerate(ACTS):
        for scheme in SCHEMES:
            r = res[f"{act}/{scheme}"]
            label = scheme if scheme != "zero" else "zero (exactly 0, off the log axis)"
            if act == "tanh" and scheme == "too large":
                label += f" ({r['saturated'].mean():.0%} of units saturated)"
            kw = dict(color=colors[scheme], ls=styles.get(scheme, "-"), marker=".", label=label)
            for j, key in enumerate(keys):
                axes[i, j].plot(layer, np.where(r[key] > 0, r[key], np.nan), **kw)
        axes[i, 0].set_ylabel(f"{act}: std of hidden activations h")
        axes[i, 1].set_ylabel(f"{act}: std of dloss/dh")
        axes[i, 2].set_ylabel(f"{act}: std of dloss/dW")
        for ax in axes[i]:
            ax.set_yscale("log")
            ax.grid(True, which="major", alpha=0.3)
        axes[i, 0].legend(fontsize=8, loc="lower left")
    for ax in axes[1]:
        ax.set_xlabel("hidden layer")
        ax.set_xticks(layer[1::2])
    axes[0, 0].set_title("forward: activations")
    axes[0, 1].set_title("backward: gradient reaching each layer's output")
    axes[0, 2].set_title("gradient of each layer's weights")
    fig.suptitle(f"{depth}-layer MLP, widths {widths[0]} -> {widths[-1]}, N(0,1) inputs, "
                 f"biases 0; too small = N(0, {SMALL}^2), too large = N(0, {LARGE}^2) weights")
    fig.tight_layout()
    ctx.figure(fig, "init_scale_layers")

    parts = []
    for act in ACTS:
        r = {s: res[f"{act}/{s}"] for s in SCHEMES}
        stable = [s for s in SCHEMES if _stable(r[s])]
        big = r["too large"]
        if big["saturated"].mean() >= 0.5:
            large = (f"too large weights saturated {big['saturated'].mean():.0%} of the units "
                     f"and the gradient {_word(big['back_ratio'])} on its way back")
        else:
            large = (f"too large weights: activations {_word(big['act_ratio'])}, gradient "
                     f"{_word(big['back_ratio'])}")
        zero = r["zero"]
        zero_all = (zero["act_std"].max() == 0 and zero["back_std"].max() == 0
                    and zero["weight_grad_std"].max() == 0)
        parts.append(
            f"{act} through {depth} layers (ratio last/first layer for activations, "
            f"first/last for the gradient): activations stayed within a factor 10 only under "
            f"{', '.join(stable) if stable else 'no scheme'}; he: activations "
            f"{_word(r['he']['act_ratio'])}, gradient {_word(r['he']['back_ratio'])}; fan-in: "
            f"activations {_word(r['fan-in']['act_ratio'])}, gradient "
            f"{_word(r['fan-in']['back_ratio'])}; glorot: activations "
            f"{_word(r['glorot']['act_ratio'])}; too small weights: activations "
            f"{_word(r['too small']['act_ratio'])}, gradient "
            f"{_word(r['too small']['back_ratio'])}; {large}; zero weights: activations and "
            f"gradients {'were exactly zero' if zero_all else 'were not all zero'}")
    ctx.conclude("; ".join(parts) + ".")
    return {"layers": res, "widths": np.array(widths), "depth": depth, "batch": n,
            "repeats": repeats}
