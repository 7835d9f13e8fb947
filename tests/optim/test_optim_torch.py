"""Each optimiser against PyTorch's of the same name: 50 steps on the same tiny MLP, the
parameters compared after every step."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.02)),
    ("SGD", dict(lr=0.01, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=1e-2)),
    ("Adam", dict(lr=1e-2, betas=(0.8, 0.99), amsgrad=True, weight_decay=0.05)),
    ("Adam", dict(lr=1e-3, eps=1e-6, maximize=True)),
    ("AdamW", dict(lr=1e-2)),
    ("AdamW", dict(lr=1e-2, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict(lr=1e-2)),
    ("RMSprop", dict(lr=1e-2, centered=True)),
    ("RMSprop", dict(lr=5e-3, momentum=0.9, weight_decay=0.01)),
    ("RMSprop", dict(lr=5e-3, alpha=0.9, centered=True, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.1, eps=1e-8)),
]

SHAPES = {"w1": (5, 8), "b1": (8,), "w2": (8, 3), "b2": (3,), "unused": (4,)}


def _data(dtype, steps=50, n=16, seed=0):
    rng = np.random.default_rng(seed)
    init = {k: rng.normal(0, 0.5, s).astype(dtype) for k, s in SHAPES.items()}
    xs = rng.normal(size=(steps, n, 5)).astype(dtype)
    ys = rng.normal(size=(steps, n, 3)).astype(dtype)
    return init, xs, ys


def _loss(lib, P, x, y):
    h = lib.tanh(x @ P["w1"] + P["b1"])
    out = h @ P["w2"] + P["b2"]
    return ((out - y) ** 2).mean()


def _run_pair(name, kwargs, dtype, groups=False, lr_change=None):
    init, xs, ys = _data(dtype)
    cp = {k: cr.tensor(v.copy(), requires_grad=True) for k, v in init.items()}
    tp = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in init.items()}
    torch_kwargs = dict(kwargs)
    if name != "Adagrad" or True:
        torch_kwargs["foreach"] = False

    def spec(P):
        if not groups:
            return list(P.values())
        return [{"params": [P["w1"], P["b1"]]},
                {"params": [P["w2"], P["b2"], P["unused"]], "lr": kwargs["lr"] * 0.5}]

    copt = getattr(cr.optim, name)(spec(cp), **kwargs)
    topt = getattr(torch.optim, name)(spec(tp), **torch_kwargs)
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else (1e-5, 1e-6)
    for step in range(xs.shape[0]):
        if lr_change is not None and step == lr_change:
            for opt in (copt, topt):
                for g in opt.param_groups:
                    g["lr"] = g["lr"] * 0.3
        copt.zero_grad()
        topt.zero_grad()
        _loss(cr, cp, cr.tensor(xs[step]), cr.tensor(ys[step])).backward()
        _loss(torch, tp, torch.tensor(xs[step]), torch.tensor(ys[step])).backward()
        copt.step()
        topt.step()
        for k in SHAPES:
            assert cp[k].data.dtype == dtype
            np.testing.assert_allclose(cp[k].data, tp[k].detach().numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"{name}{kwargs} step {step} param {k}")
    return copt, topt, cp


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in
                                                     enumerate(CONFIGS)])
def test_matches_torch_50_steps(name, kwargs, dtype):
    _, _, cp = _run_pair(name, kwargs, dtype)
    # the parameter without a gradient is never touched (weight decay included)
    init, _, _ = _data(dtype)
    np.testing.assert_array_equal(cp["unused"].data, init["unused"])


@pytest.mark.parametrize("name,kwargs", [CONFIGS[2], CONFIGS[6], CONFIGS[13], CONFIGS[15]])
def test_param_groups_and_lr_changes_match_torch(name, kwargs):
    _run_pair(name, kwargs, np.float64, groups=True, lr_change=20)


@pytest.mark.parametrize("name,kwargs", [CONFIGS[1], CONFIGS[6], CONFIGS[13], CONFIGS[16]])
def test_state_dict_resume_matches_uninterrupted(name, kwargs, tmp_path):
    # 25 steps, save the optimiser through cr.save, rebuild, load, 25 more: same as 50 straight.
    init, xs, ys = _data(np.float64)
    full = {k: cr.tensor(v.copy(), requires_grad=True) for k, v in init.items()}
    opt = getattr(cr.optim, name)(list(full.values()), **kwargs)
    for s in range(50):
        opt.zero_grad()
        _loss(cr, full, cr.tensor(xs[s]), cr.tensor(ys[s])).backward()
        opt.step()
    part = {k: cr.tensor(v.copy(), requires_grad=True) for k, v in init.items()}
    opt = getattr(cr.optim, name)(list(part.values()), **kwargs)
    for s in range(25):
        opt.zero_grad()
        _loss(cr, part, cr.tensor(xs[s]), cr.tensor(ys[s])).backward()
        opt.step()
    cr.save({"opt": opt.state_dict(), "params": {k: v.detach() for k, v in part.items()}},
            tmp_path / "ck.safetensors")
    ck = cr.load(tmp_path / "ck.safetensors")
    resumed = {k: cr.tensor(ck["params"][k].numpy().copy(), requires_grad=True) for k in part}
    opt2 = getattr(cr.optim, name)(list(resumed.values()), **kwargs)
    opt2.load_state_dict(ck["opt"])
    for s in range(25, 50):
        opt2.zero_grad()
        _loss(cr, resumed, cr.tensor(xs[s]), cr.tensor(ys[s])).backward()
        opt2.step()
    for k in SHAPES:
        np.testing.assert_array_equal(resumed[k].data, full[k].data)
