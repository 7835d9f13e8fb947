"""Adversarial examples: the fast gradient sign method (FGSM) against MNIST-1D classifiers.

A trained network's loss has a gradient with respect to its *input* as well as its weights. FGSM
(Goodfellow et al., 2015) moves every input value by the same small step ``eps`` in the
direction that increases the loss, ``x_adv = x + eps * sign(d loss / d x)``: the largest increase
of a linearised loss that a perturbation of max-norm ``eps`` can buy. Perturbations far smaller
than the signals themselves switch most predictions.

The control is a perturbation of exactly the same size, ``eps * (random signs)``: it changes
every value by as much as FGSM does, only not in the direction the gradient points to, and the
networks hardly notice it. What fools them is the direction, not the size.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

from ._base import plt

NAME = "adversarial"
SUMMARY = "FGSM: accuracy against eps, vs random-sign noise of the same size, on MNIST-1D"


def _model(kind, seed, quick):
    cr.manual_seed(seed)
    build = cr.train.build_model
    if kind == "MLP":
        return build("mlp", (40,), 10, hidden=[100, 100], residual=True)
    width = 16 if quick else 25
    return build("cnn", (40,), 10, channels=[width] * 3, kernel_sizes=[5, 3, 3])


def _train(model, x, y, steps, seed, progress):
    rng = np.random.default_rng(seed)
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    F = cr.nn.functional
    for _ in progress:
        idx = rng.integers(0, len(x), size=100)
        opt.zero_grad()
        F.cross_entropy(model(cr.tensor(x[idx])), cr.tensor(y[idx])).backward()
        opt.step()
    model.eval()
    return model


def _input_grad(model, x, y):
    """d(summed cross-entropy)/d(input) for every signal (one backward pass for the batch)."""
    xt = cr.tensor(x, requires_grad=True)
    loss = cr.nn.functional.cross_entropy(model(xt), cr.tensor(y), reduction="sum")
    (g,) = cr.autograd.grad(loss, xt)
    return g.numpy()


def _predict(model, x):
    with cr.no_grad():
        p = cr.nn.functional.softmax(model(cr.tensor(x)), dim=1).numpy()
    return p.argmax(axis=1), p


def run(ctx):
    d = cr.data.datasets.load_mnist1d()
    x, y = d["x"], d["y"]
    x_test, y_test = d["x_test"], d["y_test"]
    scale = float(x_test.std())
    eps_grid = np.array(ctx.pick([0.0, 0.02, 0.05, 0.1, 0.2, 0.3],
                                 [0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4,
                                  0.5]), dtype=np.float32)
    steps = ctx.pick(500, 3000)
    rng = np.random.default_rng(ctx.seed)
    signs = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=x_test.shape)

    res, models, grads = {}, {}, {}
    for kind in ("MLP", "CNN"):
        model = _train(_model(kind, ctx.seed, ctx.quick), x, y, steps, ctx.seed,
                       ctx.progress(range(steps), desc=f"train {kind}"))
        g = _input_grad(model, x_test, y_test)
        direction = np.sign(g).astype(np.float32)
        fgsm, noise = [], []
        for eps in eps_grid:
            fgsm.append(float((_predict(model, x_test + eps * direction)[0] == y_test).mean()))
            noise.append(float((_predict(model, x_test + eps * signs)[0] == y_test).mean()))
        res[kind] = {"fgsm": np.array(fgsm), "random": np.array(noise),
                     "clean": fgsm[0], "zero_gradient": float((g == 0).mean())}
        models[kind], grads[kind] = model, direction

    # one example: the CNN's most confident correct test prediction that FGSM flips at the
    # smallest step of the grid that flips any
    show_model = models["CNN"]
    pred, prob = _predict(show_model, x_test)
    direction = grads["CNN"]
    eps_show, i, fallback = None, None, None
    for eps in eps_grid[1:]:
        adv_pred = _predict(show_model, x_test + eps * direction)[0]
        cand = np.nonzero((pred == y_test) & (adv_pred != y_test))[0]
        if len(cand) == 0:
            continue
        best = int(cand[np.argmax(prob[cand, y_test[cand]])])
        fallback = fallback or (float(eps), best)
        if prob[best, y_test[best]] > 0.9:
            eps_show, i = float(eps), best
            break
    if eps_show is None:
        eps_show, i = fallback or (float(eps_grid[-1]), int(np.argmax(pred == y_test)))
    x0 = x_test[i]
    delta = eps_show * direction[i]
    x_adv = x0 + delta
    p_clean, c_clean = int(pred[i]), float(prob[i].max())
    pa, qa = _predict(show_model, x_adv[None])
    p_adv, c_adv = int(pa[0]), float(qa[0].max())
    pn, qn = _predict(show_model, (x0 + eps_show * signs[i])[None])
    p_noise, c_noise = int(pn[0]), float(qn[0].max())

    p = plt()
    fig = p.figure(figsize=(15, 8))
    grid = fig.add_gridspec(2, 3)
    ax = fig.add_subplot(grid[:, 0])
    colors = {"MLP": "tab:blue", "CNN": "tab:orange"}
    for kind, r in res.items():
        ax.plot(eps_grid, r["fgsm"], "o-", color=colors[kind], label=f"{kind}: FGSM")
        ax.plot(eps_grid, r["random"], "s--", color=colors[kind], alpha=0.7,
                label=f"{kind}: random signs, same size")
    ax.axhline(0.1, color="gray", ls=":", lw=1, label="chance")
    ax.set_xlabel(f"eps (max change of any input value; the signals' std is {scale:.2f})")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.set_title("accuracy against the size of the perturbation")
    ax.legend(fontsize=8)

    t = np.arange(40)
    ax = fig.add_subplot(grid[0, 1])
    ax.plot(t, x0, "o-", ms=3, color="tab:blue")
    ax.set_title(f"clean signal: label {y_test[i]}, predicted {p_clean} ({c_clean:.0%})")
    ax = fig.add_subplot(grid[0, 2])
    ax.step(t, delta, where="mid", color="tab:red")
    ax.set_ylim(-3 * eps_show, 3 * eps_show)
    ax.set_title(f"FGSM perturbation eps * sign(gradient), eps = {eps_show:g}")
    ax = fig.add_subplot(grid[1, 1])
    ax.plot(t, x0, "-", color="tab:blue", alpha=0.5, label="clean")
    ax.plot(t, x_adv, "o-", ms=3, color="tab:red", label="adversarial")
    ax.set_title(f"adversarial signal: predicted {p_adv} ({c_adv:.0%})")
    ax.legend(fontsize=8)
    ax.set_xlabel("position")
    ax = fig.add_subplot(grid[1, 2])
    ax.plot(t, x0, "-", color="tab:blue", alpha=0.5, label="clean")
    ax.plot(t, x0 + eps_show * signs[i], "o-", ms=3, color="tab:green",
            label="random signs, same eps")
    ax.set_title(f"random-sign control: predicted {p_noise} ({c_noise:.0%})")
    ax.legend(fontsize=8)
    ax.set_xlabel("position")
    fig.suptitle(f"FGSM on MNIST-1D classifiers ({steps} Adam steps of training)")
    fig.tight_layout()
    ctx.figure(fig, "adversarial")

    def half_eps(r):
        below = np.nonzero(r < r[0] / 2)[0]
        return float(eps_grid[below[0]]) if len(below) else None

    parts = []
    k = int(np.argmin(np.abs(eps_grid - 0.1)))
    for kind, r in res.items():
        h, hn = half_eps(r["fgsm"]), half_eps(r["random"])
        parts.append(
            f"{kind}: FGSM at eps = {eps_grid[k]:g} ({eps_grid[k] / scale:.0%} of the signals' "
            f"std) took test accuracy from {r['clean']:.1%} to {r['fgsm'][k]:.1%}, random signs "
            f"of the same size to {r['random'][k]:.1%}; FGSM halved it "
            + (f"at eps = {h:g}" if h is not None else "at no eps tried")
            + ", random signs "
            + (f"at eps = {hn:g}" if hn is not None else f"not even at eps = {eps_grid[-1]:g}")
            + ".")
    ctx.conclude(
        " ".join(parts)
        + f" In the example the CNN read a {y_test[i]} as {p_clean} ({c_clean:.0%}), as "
        f"{p_adv} ({c_adv:.0%}) after the FGSM step of {eps_show:g}, and as {p_noise} after "
        "random signs of the same size.")
    return {"eps": eps_grid, "signal_std": scale, "models": res, "example_index": i,
            "example_eps": eps_show, "example_clean_pred": p_clean, "example_adv_pred": p_adv,
            "example_noise_pred": p_noise, "example_label": int(y_test[i]),
            "example_perturbation": delta, "steps": steps}
