"""Sharp and flat minima: small-batch vs large-batch training.

The same network trained with the same learning rate to the same training loss, once with
mini-batches of 10 examples and once with the whole training set per step (gradient descent),
ends in different kinds of minimum. One measure of the difference is *sharpness*: the largest
eigenvalue of the Hessian of the training loss, i.e. the curvature along the steepest direction.

The Hessian has as many rows as the network has parameters, so it is never formed. Power
iteration needs only Hessian-vector products ``v -> H v``, and each of those costs about two
gradient evaluations: differentiate the gradient's inner product with ``v`` (backward over
backward, ``autograd.grad(..., create_graph=True)``). Repeating ``v <- H v / |H v|`` converges to
the eigenvector of the largest-magnitude eigenvalue, and ``v . H v`` to that eigenvalue. On a
tiny model the experiment checks the result against the dense Hessian (``cr.hessian`` and
``numpy.linalg.eigvalsh``).

What the notes teach: gradient descent with learning rate ``lr`` is only stable where the
sharpness is below ``2 / lr``; full-batch training drifts up to about that limit ("the edge of
stability"). Mini-batch noise keeps kicking the weights out of narrow valleys, so small-batch SGD
settles where the curvature is far lower: the loss rises much more slowly when the solution is
perturbed. Flat minima are often said to generalise better (Keskar et al., 2017); the experiment
measures the generalisation gap too and says what it found, since the link is much weaker and
less consistent than the difference in sharpness (Dinh et al., 2017 show that sharpness can be
changed by reparameterising without changing the function).
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule.nn.utils import parameters_to_vector, vector_to_parameters

from ._base import mlp, plt

NAME = "sharp-flat"
SUMMARY = ("small- vs large-batch training to the same loss: top Hessian eigenvalue by power "
           "iteration (sharpness), loss around each solution, generalisation gap")


def top_eigen(model, loss_fn, iters=100, tol=1e-6, seed=0):
    """Largest-magnitude Hessian eigenvalue of ``loss_fn(model)`` by power iteration on
    Hessian-vector products; returns ``(eigenvalue, unit eigenvector (flat numpy), history)``."""
    params = list(model.parameters())
    loss = loss_fn(model)
    grads = cr.autograd.grad(loss, params, create_graph=True)
    rng = np.random.default_rng(seed)
    v = [rng.standard_normal(p.shape).astype(p.data.dtype) for p in params]
    norm = np.sqrt(sum(float((a.astype(np.float64) ** 2).sum()) for a in v))
    v = [a / norm for a in v]
    history, lam = [], 0.0
    for _ in range(iters):
        hv = cr.autograd.grad(grads, params, grad_outputs=[cr.tensor(a) for a in v],
                              retain_graph=True)
        hv = [h.numpy() for h in hv]
        new = float(sum((a.astype(np.float64) * b).sum() for a, b in zip(v, hv)))
        history.append(new)
        norm = np.sqrt(sum(float((b.astype(np.float64) ** 2).sum()) for b in hv))
        v = [b / norm for b in hv]
        done = abs(new - lam) <= tol * abs(new)
        lam = new
        if done:
            break
    return lam, np.concatenate([a.reshape(-1) for a in v]), np.array(history)


def _dense_check(seed):
    """Power iteration against the dense Hessian on a tiny float64 net (22 parameters)."""
    nn, F = cr.nn, cr.nn.functional
    x, y = cr.data.datasets.two_moons(n=60, noise=0.2, seed=seed)
    X, Y = cr.tensor(x.astype(np.float64)), cr.tensor(y)
    g = cr.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 4, dtype=cr.float64, generator=g), nn.Tanh(),
                          nn.Linear(4, 2, dtype=cr.float64, generator=g))
    opt = cr.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(200):  # near a minimum, where the top eigenvalue is positive and dominant
        opt.zero_grad()
        F.cross_entropy(model(X), Y).backward()
        opt.step()

    def loss_of(w):  # the same loss as a function of the flat parameter vector
        w1, b1 = w[0:8].reshape(4, 2), w[8:12]
        w2, b2 = w[12:20].reshape(2, 4), w[20:22]
        return F.cross_entropy(F.linear(cr.tanh(F.linear(X, w1, b1)), w2, b2), Y)

    w = parameters_to_vector(model.parameters())
    eig = np.linalg.eigvalsh(cr.hessian(loss_of)(w).numpy())
    dense = float(eig[np.argmax(np.abs(eig))])
    power, _, hist = top_eigen(model, lambda m: F.cross_entropy(m(X), Y), iters=500, tol=1e-12)
    return {"dense": dense, "power": power, "iterations": len(hist),
            "relative_error": abs(power - dense) / abs(dense), "spectrum": eig}


def _mlp(hidden, seed):
    return mlp([40, hidden, hidden, 10], seed)


def _train(model, x, y, batch, lr, target, max_steps, seed, check=10):
    """Plain SGD until the full training loss falls below ``target`` (checked every ``check``
    steps) or ``max_steps``; returns the steps taken and the loss curve."""
    F = cr.nn.functional
    opt = cr.optim.SGD(model.parameters(), lr=lr)
    X, Y = cr.tensor(x), cr.tensor(y)
    rng = np.random.default_rng(seed)
    n, step, curve = len(x), 0, []
    order, pos = rng.permutation(n), 0
    while step < max_steps:
        if pos + batch > n:
            order, pos = rng.permutation(n), 0
        b = order[pos:pos + batch]
        pos += batch
        opt.zero_grad()
        F.cross_entropy(model(X[b]), Y[b]).backward()
        opt.step()
        step += 1
        if step % check == 0:
            with cr.no_grad():
                loss = F.cross_entropy(model(X), Y).item()
            curve.append((step, loss))
            if loss < target:
                break
    return step, np.array(curve)


def _evaluate(model, x, y):
    F = cr.nn.functional
    with cr.no_grad():
        out = model(cr.tensor(x))
        return F.cross_entropy(out, cr.tensor(y)).item(), float((out.argmax(dim=1).numpy() ==
                                                                  y).mean())


def _slice(model, x, y, direction, ts):
    """Training loss at theta + t * direction for every t (the model is restored after)."""
    F = cr.nn.functional
    params = list(model.parameters())
    theta = parameters_to_vector(params).numpy().copy()
    X, Y = cr.tensor(x), cr.tensor(y)
    out = []
    with cr.no_grad():
        for t in ts:
            vector_to_parameters(cr.tensor((theta + t * direction).astype(theta.dtype)), params)
            out.append(F.cross_entropy(model(X), Y).item())
    vector_to_parameters(cr.tensor(theta), params)
    return np.array(out)


def run(ctx):
    F = cr.nn.functional
    check = _dense_check(ctx.seed)

    d = cr.data.datasets.load_mnist1d()
    n_train = 1000
    x, y = d["x"][:n_train], d["y"][:n_train]
    x_test, y_test = d["x_test"], d["y_test"]
    hidden, lr, target = 64, 0.2, 0.3
    batches = ctx.pick([10, n_train], [10, 30, 100, 300, n_train])
    seeds = ctx.pick([ctx.seed], [ctx.seed, ctx.seed + 1, ctx.seed + 2])
    max_steps = ctx.pick(4000, 8000)
    ts_eig = np.linspace(-0.6, 0.6, ctx.pick(25, 41))
    ts_rand = np.linspace(-6.0, 6.0, ctx.pick(25, 41))
    n_params = sum(p.data.size for p in _mlp(hidden, 0).parameters())
    rand_dir = np.random.default_rng(ctx.seed + 99).standard_normal(n_params)
    rand_dir /= np.linalg.norm(rand_dir)

    runs = {}
    jobs = [(s, b) for s in seeds for b in batches]
    for s, b in ctx.progress(jobs, desc="training"):
        model = _mlp(hidden, s)
        steps, curve = _train(model, x, y, b, lr, target, max_steps, s)
        tr_loss, tr_acc = _evaluate(model, x, y)
        te_loss, te_acc = _evaluate(model, x_test, y_test)
        lam, vec, hist = top_eigen(model, lambda m: F.cross_entropy(m(cr.tensor(x)),
                                                                    cr.tensor(y)),
                                   iters=ctx.pick(40, 100), tol=1e-4, seed=s)
        r = {"seed": s, "batch": b, "steps": steps, "curve": curve, "train_loss": tr_loss,
             "train_acc": tr_acc, "test_loss": te_loss, "test_acc": te_acc,
             "gap_acc": tr_acc - te_acc, "gap_loss": te_loss - tr_loss, "sharpness": lam,
             "power_history": hist}
        if s == ctx.seed:
            r["slice_eig"] = _slice(model, x, y, vec, ts_eig)
            r["slice_random"] = _slice(model, x, y, rand_dir, ts_rand)
        runs[f"{s}/{b}"] = r

    def mean(b, key):
        return float(np.mean([runs[f"{s}/{b}"][key] for s in seeds]))

    small, large = batches[0], batches[-1]
    sharp = {b: mean(b, "sharpness") for b in batches}

    p = plt()
    fig, axes = p.subplots(1, 4, figsize=(20, 4.6))
    colors = p.get_cmap("plasma")(np.linspace(0, 0.85, len(batches)))
    for b, c in zip(batches, colors):
        r = runs[f"{ctx.seed}/{b}"]
        name = "full batch" if b == n_train else f"batch {b}"
        axes[0].plot(ts_eig, r["slice_eig"], color=c,
                     label=f"{name}: sharpness {r['sharpness']:.2f}")
        axes[1].plot(ts_rand, r["slice_random"], color=c, label=name)
    axes[0].set_xlabel("t (step along the unit top eigenvector of each solution)")
    axes[0].set_title("loss along each solution's sharpest direction")
    axes[1].set_xlabel("t (step along one random unit direction)")
    axes[1].set_title("loss along a random direction")
    for ax in axes[:2]:
        ax.set_ylabel("training loss")
        ax.legend(fontsize=8)
    ax = axes[2]
    for s in seeds:
        ax.plot(batches, [runs[f"{s}/{b}"]["sharpness"] for b in batches], "o-", alpha=0.7,
                label=f"seed {s}")
    ax.axhline(2 / lr, color="grey", ls="--", label=f"2 / lr = {2 / lr:g} (stability limit)")
    ax.set_xscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel("top Hessian eigenvalue (power iteration)")
    ax.set_title("sharpness at the end of training")
    ax.legend(fontsize=8)
    ax = axes[3]
    ax.plot(batches, [mean(b, "train_acc") for b in batches], "o-", label="training accuracy")
    ax.plot(batches, [mean(b, "test_acc") for b in batches], "s-", label="test accuracy")
    ax.set_xscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel("accuracy" + (f" (mean of {len(seeds)} seeds)" if len(seeds) > 1 else ""))
    ax.set_title("generalisation gap")
    ax.legend(fontsize=8)
    fig.suptitle(f"MNIST-1D ({n_train} training examples), MLP 40-{hidden}-{hidden}-10, plain SGD "
                 f"lr {lr}, each trained until the training loss is below {target}")
    fig.tight_layout()
    ctx.figure(fig, "sharp_flat")

    ratio = sharp[large] / sharp[small]
    gap_s, gap_l = mean(small, "gap_acc"), mean(large, "gap_acc")
    te_s, te_l = mean(small, "test_acc"), mean(large, "test_acc")
    if abs(te_s - te_l) < 0.01:
        gen = "the test accuracies were within a point of each other"
    elif te_s > te_l:
        gen = f"the flatter small-batch solution generalised better by {te_s - te_l:.1%}"
    else:
        gen = (f"the sharper large-batch solution generalised better by {te_l - te_s:.1%}, "
               "so sharpness alone did not predict generalisation here")
    ctx.conclude(
        f"Trained to a training loss below {target} with lr {lr}, batch {small} took "
        f"{mean(small, 'steps'):.0f} steps and ended with sharpness {sharp[small]:.2f}, the full "
        f"batch took {mean(large, 'steps'):.0f} steps and ended with {sharp[large]:.2f} "
        f"({ratio:.1f} times sharper, against the stability limit 2/lr = {2 / lr:g}); "
        f"the power iteration matched the dense Hessian of a tiny net to "
        f"{check['relative_error']:.1e} relative. Generalisation gap (train - test accuracy): "
        f"{gap_s:.1%} for batch {small}, {gap_l:.1%} for the full batch (test accuracy "
        f"{te_s:.1%} vs {te_l:.1%}): {gen}.")
    return {"dense_check": check, "runs": runs, "batches": batches, "seeds": seeds,
            "sharpness": sharp, "sharpness_ratio": ratio, "lr": lr, "target_loss": target,
            "ts_eig": ts_eig, "ts_random": ts_rand, "n_params": n_params}
