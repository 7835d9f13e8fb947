"""Learning-rate schedules: 30 steps against PyTorch's, and the notes' own schedules."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import ArgumentError
from chainrule.optim import lr_scheduler as S

torch = pytest.importorskip("torch")
TS = torch.optim.lr_scheduler


def _pair(lrs=(0.1,)):
    cgroups = [{"params": [cr.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    tgroups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return cr.optim.SGD(cgroups, lr=lrs[0]), torch.optim.SGD(tgroups, lr=lrs[0])


SIMPLE = [
    ("StepLR", dict(step_size=4, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 7, 7, 20], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),
    ("LinearLR", dict(start_factor=0.25, end_factor=1.0, total_iters=8)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.1, total_iters=12)),
    ("ConstantLR", dict(factor=0.5, total_iters=6)),
    ("PolynomialLR", dict(total_iters=15, power=2.0)),
]


def _compare(csched, tsched, copt, topt, steps=30, metrics=None):
    assert csched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
    for t in range(steps):
        copt.step()
        topt.step()
        if metrics is None:
            csched.step()
            tsched.step()
        else:
            csched.step(metrics[t])
            tsched.step(metrics[t])
        np.testing.assert_allclose(csched.get_last_lr(), tsched.get_last_lr(), rtol=1e-12,
                                   err_msg=f"step {t}")
        np.testing.assert_allclose([g["lr"] for g in copt.param_groups],
                                   [g["lr"] for g in topt.param_groups], rtol=1e-12)


@pytest.mark.parametrize("name,kwargs", SIMPLE, ids=[f"{n}-{i}" for i, (n, _) in
                                                     enumerate(SIMPLE)])
def test_matches_torch_30_steps(name, kwargs):
    copt, topt = _pair((0.1, 0.03))
    _compare(getattr(S, name)(copt, **kwargs), getattr(TS, name)(topt, **kwargs), copt, topt)


def test_lambda_and_multiplicative_match_torch():
    copt, topt = _pair((0.1, 0.2))
    fns = [lambda t: 1 / (1 + t), lambda t: 0.95 ** t]
    _compare(S.LambdaLR(copt, fns), TS.LambdaLR(topt, fns), copt, topt)
    copt, topt = _pair()
    _compare(S.MultiplicativeLR(copt, lambda t: 0.9), TS.MultiplicativeLR(topt, lambda t: 0.9),
             copt, topt)


def test_sequential_and_chained_match_torch():
    copt, topt = _pair((0.1, 0.05))
    c = S.SequentialLR(copt, [S.ConstantLR(copt, factor=0.2, total_iters=3),
                              S.ExponentialLR(copt, gamma=0.8),
                              S.CosineAnnealingLR(copt, T_max=7)], milestones=[4, 12])
    t = TS.SequentialLR(topt, [TS.ConstantLR(topt, factor=0.2, total_iters=3),
                               TS.ExponentialLR(topt, gamma=0.8),
                               TS.CosineAnnealingLR(topt, T_max=7)], milestones=[4, 12])
    _compare(c, t, copt, topt)
    copt, topt = _pair()
    c = S.ChainedScheduler([S.LinearLR(copt, 0.1, total_iters=5), S.StepLR(copt, 3, 0.5)])
    t = TS.ChainedScheduler([TS.LinearLR(topt, 0.1, total_iters=5), TS.StepLR(topt, 3, 0.5)])
    _compare(c, t, copt, topt)


@pytest.mark.parametrize("kwargs", [
    dict(patience=2, factor=0.5),
    dict(mode="max", patience=1, threshold=0.1, threshold_mode="abs", cooldown=2, min_lr=0.01),
    dict(patience=0, factor=0.3, cooldown=1, min_lr=[0.004, 0.0]),
])
def test_reduce_on_plateau_matches_torch(kwargs):
    rng = np.random.default_rng(0)
    metrics = list(np.concatenate([np.linspace(1.0, 0.5, 8), 0.5 + 0.02 * rng.normal(size=22)]))
    copt, topt = _pair((0.1, 0.05))
    _compare(S.ReduceLROnPlateau(copt, **kwargs), TS.ReduceLROnPlateau(topt, **kwargs),
             copt, topt, metrics=metrics)


def test_linear_warmup_equals_torch_linear_then_handover():
    copt, topt = _pair()
    c = S.LinearWarmup(copt, warmup_steps=5, start_factor=0.2,
                       then=S.CosineAnnealingLR(copt, T_max=20))
    t = TS.SequentialLR(topt, [TS.LinearLR(topt, 0.2, 1.0, total_iters=5),
                               TS.CosineAnnealingLR(topt, T_max=20)], milestones=[5])
    _compare(c, t, copt, topt)


def test_linear_warmup_default_ramp_then_constant():
    opt, _ = _pair((1.0,))
    sched = S.LinearWarmup(opt, warmup_steps=4)
    seen = [sched.get_last_lr()[0]]
    for _ in range(7):
        opt.step()
        sched.step()
        seen.append(sched.get_last_lr()[0])
    np.testing.assert_allclose(seen, [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0, 1.0])


@pytest.mark.parametrize("delta", [0.6, 0.75, 1.0])
def test_power_schedule_is_alpha_over_t_to_the_delta(delta):
    opt, _ = _pair((0.5,))
    sched = S.PowerLR(opt, delta=delta)
    got = [sched.get_last_lr()[0]]
    for _ in range(29):
        opt.step()
        sched.step()
        got.append(opt.param_groups[0]["lr"])
    t = np.arange(1, 31)
    np.testing.assert_allclose(got, 0.5 / t ** delta, rtol=1e-12)


def test_inverse_time_schedule():
    opt, _ = _pair((0.5,))
    sched = S.InverseTimeLR(opt, delta=0.3)
    got = [sched.get_last_lr()[0]]
    for _ in range(29):
        sched.step()
        got.append(sched.get_last_lr()[0])
    np.testing.assert_allclose(got, 0.5 / (1 + 0.3 * np.arange(30)), rtol=1e-12)
    sched.step(epoch=100)  # closed form
    assert sched.get_last_lr()[0] == pytest.approx(0.5 / 31)


@pytest.mark.parametrize("cls,kwargs,arg", [
    (S.PowerLR, dict(delta=0.5), "delta"),
    (S.PowerLR, dict(delta=1.5), "delta"),
    (S.InverseTimeLR, dict(delta=-1.0), "delta"),
    (S.StepLR, dict(step_size=0), "step_size"),
    (S.CosineAnnealingLR, dict(T_max=0), "T_max"),
    (S.LinearLR, dict(start_factor=0.0), "start_factor"),
    (S.ReduceLROnPlateau, dict(factor=1.0), "factor"),
    (S.ReduceLROnPlateau, dict(mode="minimum"), "mode"),
    (S.LinearWarmup, dict(warmup_steps=0), "warmup_steps"),
])
def test_bad_schedule_arguments(cls, kwargs, arg):
    opt, _ = _pair()
    with pytest.raises(ArgumentError, match=f"{cls.__name__}: argument '{arg}'"):
        cls(opt, **kwargs)


def test_scheduler_state_dict_round_trip_through_save(tmp_path):
    opt, _ = _pair((0.1, 0.2))
    sched = S.SequentialLR(opt, [S.LinearLR(opt, 0.1, total_iters=3),
                                 S.MultiStepLR(opt, [5, 8], 0.5)], milestones=[3])
    plateau_opt, _ = _pair()
    plateau = S.ReduceLROnPlateau(plateau_opt, patience=1)
    for i in range(6):
        opt.step()
        sched.step()
        plateau.step(1.0 if i else 2.0)
    cr.save({"sched": sched.state_dict(), "opt": opt.state_dict(),
             "plateau": plateau.state_dict()}, tmp_path / "s.safetensors")
    ck = cr.load(tmp_path / "s.safetensors")
    opt2, _ = _pair((0.1, 0.2))
    sched2 = S.SequentialLR(opt2, [S.LinearLR(opt2, 0.1, total_iters=3),
                                   S.MultiStepLR(opt2, [5, 8], 0.5)], milestones=[3])
    opt2.load_state_dict(ck["opt"])
    sched2.load_state_dict(ck["sched"])
    p2opt, _ = _pair()
    plateau2 = S.ReduceLROnPlateau(p2opt)
    plateau2.load_state_dict(ck["plateau"])
    assert plateau2.patience == 1 and plateau2.best == 1.0 and math.isinf(
        ck["plateau"]["best"]) is False
    for _ in range(6):
        for o, s in ((opt, sched), (opt2, sched2)):
            o.step()
            s.step()
        assert sched2.get_last_lr() == sched.get_last_lr()


def test_resuming_needs_initial_lr():
    opt, _ = _pair()
    with pytest.raises(ArgumentError, match="initial_lr"):
        S.StepLR(opt, step_size=2, last_epoch=5)
