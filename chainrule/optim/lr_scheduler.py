"""Learning-rate schedules, as ``torch.optim.lr_scheduler``, plus the notes' inverse-time and
power schedules and a linear warm-up.

Call ``scheduler.step()`` once after each ``optimizer.step()`` (or once per epoch, as you
choose the unit of ``t``). Each scheduler writes the new rate into ``param_groups[i]["lr"]``;
``get_last_lr()`` reads it back. Rates follow PyTorch's *chainable* form: each step multiplies
the group's current rate, so schedulers can be stacked with :class:`ChainedScheduler` and the
values match PyTorch's step for step.

>>> import chainrule as cr
>>> w = cr.zeros(2, requires_grad=True)
>>> opt = cr.optim.SGD([w], lr=1.0)
>>> sched = cr.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
>>> lrs = []
>>> for _ in range(5):
...     opt.step()
...     sched.step()
...     lrs.append(sched.get_last_lr()[0])
>>> lrs
[1.0, 0.5, 0.5, 0.25, 0.25]
"""

from __future__ import annotations

import math
import types
from bisect import bisect_right
from collections import Counter
from numbers import Integral

from ..core.state import untraceable
from ..errors import ArgumentError
from .optimizer import Optimizer, check_number

__all__ = [
    "ChainedScheduler", "ConstantLR", "CosineAnnealingLR", "ExponentialLR", "InverseTimeLR",
    "LRScheduler", "LambdaLR", "LinearLR", "LinearWarmup", "MultiStepLR", "MultiplicativeLR",
    "PolynomialLR", "PowerLR", "ReduceLROnPlateau", "SequentialLR", "StepLR",
]


def _check_int(name, arg, value, low):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ArgumentError(f"{name}: argument '{arg}' expected an int >= {low}, got {value!r}")
    return int(value)


class LRScheduler:
    """Base class of learning-rate schedules.

    Subclasses define :meth:`get_lr` (the rates for epoch ``self.last_epoch``, usually from the
    groups' current rates) and optionally ``_closed_form()`` (the rates from ``base_lrs``).

    Parameters
    ----------
    optimizer : Optimizer
    last_epoch : int
        Index of the last epoch when resuming; -1 starts afresh.
    """

    _not_state = ("optimizer",)

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise ArgumentError(f"{type(self).__name__}: argument 'optimizer' expected a "
                                f"chainrule.optim.Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise ArgumentError(
                        f"{type(self).__name__}: last_epoch={last_epoch} resumes a schedule, "
                        f"but param_groups[{i}] has no 'initial_lr'; load the optimiser's state "
                        "first, or pass last_epoch=-1 for a fresh run")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list:
        raise NotImplementedError(f"{type(self).__name__} must define get_lr")

    def get_last_lr(self) -> list:
        """The rates the last :meth:`step` set, one per parameter group."""
        return list(self._last_lr)

    def step(self, epoch=None):
        """Advance the schedule by one (or jump to ``epoch``, using the closed form)."""
        untraceable("a learning-rate scheduler step")
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch=None):
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = int(epoch)
            closed = getattr(self, "_closed_form", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _current(self) -> list:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """Everything but the optimiser (and functions), as plain Python values."""
        return {k: v for k, v in self.__dict__.items() if k not in self._not_state}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)

    def __repr__(self):
        return f"{type(self).__name__}(last_epoch={self.last_epoch})"


class _LambdaBase(LRScheduler):
    _not_state = ("optimizer", "lr_lambdas")

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        name = type(self).__name__
        n = len(optimizer.param_groups) if isinstance(optimizer, Optimizer) else 1
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ArgumentError(f"{name}: argument 'lr_lambda' expected {n} functions (one "
                                    f"per parameter group), got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise ArgumentError(f"{name}: argument 'lr_lambda' expected a function of the "
                                    f"epoch, got {type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    def state_dict(self):
        sd = super().state_dict()
        # Plain functions can't be saved; callable objects keep their attributes (as PyTorch).
        sd["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(vars(fn))
                            for fn in self.lr_lambdas]
        return sd

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        saved = state_dict.pop("lr_lambdas", None) or []
        super().load_state_dict(state_dict)
        for fn, attrs in zip(self.lr_lambdas, saved):
            if attrs is not None:
                vars(fn).update(attrs)


class LambdaLR(_LambdaBase):
    """``lr = initial_lr * lr_lambda(epoch)``, as ``torch.optim.lr_scheduler.LambdaLR``.

    Examples
    --------
    >>> import chainrule as cr
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = cr.optim.lr_scheduler.LambdaLR(opt, lambda t: 1 / (t + 1))
    >>> sched.step(); sched.get_last_lr()
    [0.5]
    """

    def get_lr(self):
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaBase):
    """``lr <- lr * lr_lambda(epoch)`` each step, as ``torch.optim.lr_scheduler.MultiplicativeLR``.

    Examples
    --------
    >>> import chainrule as cr
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = cr.optim.lr_scheduler.MultiplicativeLR(opt, lambda t: 0.5)
    >>> sched.step(); sched.get_last_lr()
    [0.5]
    """

    def get_lr(self):
        if self._is_initial:
            return self._current()
        return [g["lr"] * fn(self.last_epoch)
                for fn, g in zip(self.lr_lambdas, self.optimizer.param_groups)]


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` steps.

    Examples
    --------
    >>> import chainrule as cr
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = cr.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)
    >>> sched.step(); sched.get_last_lr()
    [0.1]
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = _check_int("StepLR", "step_size", step_size, 1)
        self.gamma = check_number("StepLR", "gamma", gamma, low=0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [g["lr"] * self.gamma for g in self.optimizer.param_groups]

    def _closed_form(self):
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each epoch listed in ``milestones``.

    Examples
    --------
    >>> import chainrule as cr
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = cr.optim.lr_scheduler.MultiStepLR(opt, milestones=[1, 3], gamma=0.5)
    >>> sched.step(); sched.get_last_lr()
    [0.5]
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        ms = list(milestones)
        for m in ms:
            _check_int("MultiStepLR", "milestones", m, 0)
        self.milestones = dict(Counter(ms))
        self.gamma = check_number("MultiStepLR", "gamma", gamma, low=0.0)
        super().__init__(optimizer, last_epoch)

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self.milestones = {int(k): int(v) for k, v in self.milestones.items()}

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self._current()
        f = self.gamma ** self.milestones[self.last_epoch]
        return [g["lr"] * f for g in self.optimizer.param_groups]

    def _closed_form(self):
        ms = sorted(m for m, c in self.milestones.items() for _ in range(c))
        return [b * self.gamma ** bisect_right(ms, self.last_epoch) for b in self.base_lrs]


class ConstantLR(LRScheduler):
    """A fixed fraction ``factor`` of the rate for the first ``total_iters`` steps, then the rate.

    Examples
    --------
    >>> import chainrule as cr
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = cr.optim.lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=1)
    >>> sched.get_last_lr(), (sched.step(), sched.get_last_lr())[1]
    ([0.5], [1.0])
    """

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5, last_epoch=-1):
        self.factor = check_number("ConstantLR", "factor", factor, 0.0, 1.0)
        self.total_iters = _check_int("ConstantLR", "total_iters", total_iters, 0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [g["lr"] * self.factor for g in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return self._current()
        return [g["lr"] * (1.0 / self.factor) for g in self.optimizer.param_groups]

    def _closed_form(self):
        return [b * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for b in self.base_lrs]


class LinearLR(LRScheduler):
    """The rate's factor moves linearly from ``start_factor`` to ``end_factor`` in
    ``total_iters`` steps.

    Examples
    --------
    >>> import chainrule as cr
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = cr.optim.lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
    >>> sched.step(); sched.get_last_lr()
    [0.75]
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5,
                 last_epoch=-1):
        self.start_factor = check_number("LinearLR", "start_factor", start_factor, 0.0, 1.0,
                                         low_open=True)
        self.end_factor = check_number("LinearLR", "end_factor", end_factor, 0.0, 1.0)
        self.total_iters = _check_int("LinearLR", "total_iters", total_iters, 1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [g["lr"] * self.start_factor for g in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current()
        s, e, n = self.start_factor, self.end_factor, self.total_iters
        f = 1.0 + (e - s) / (n * s + (self.last_epoch - 1) * (e - s))
        return [g["lr"] * f for g in self.optimizer.param_groups]

    def _closed_form(self):
        s, e, n = self.start_factor, self.end_factor, self.total_iters
        return [b * (s + (e - s) * min(n, self.last_epoch) / n) for b in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every step.

    Examples
    --------
    >>> import chainrule as cr
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = cr.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    >>> sched.step(); sched.get_last_lr()
    [0.5]
    """

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = check_number("ExponentialLR", "gamma", gamma, low=0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._current()
        return [g["lr"] * self.gamma for g in self.optimizer.param_groups]

    def _closed_form(self):
        return [b * self.gamma ** self.last_epoch for b in self.base_lrs]


class PolynomialLR(LRScheduler):
    """``lr = initial_lr (1 - t/total_iters)^power`` until ``total_iters``, then 0.

    Examples
    --------
    >>> import chainrule as cr
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = cr.optim.lr_scheduler.PolynomialLR(opt, total_iters=4, power=1.0)
    >>> sched.step(); sched.get_last_lr()
    [0.75]
    """

    def __init__(self, optimizer, total_iters=5, power=1.0, last_epoch=-1):
        self.total_iters = _check_int("PolynomialLR", "total_iters", total_iters, 1)
        self.power = check_number("PolynomialLR", "power", power, low=0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current()
        t, n = self.last_epoch, self.total_iters
        f = ((1.0 - t / n) / (1.0 - (t - 1) / n)) ** self.power
        return [g["lr"] * f for g in self.optimizer.param_groups]

    def _closed_form(self):
        n = self.total_iters
        return [b * (1.0 - min(n, self.last_epoch) / n) ** self.power for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine decay from the initial rate to ``eta_min`` over ``T_max`` steps (SGDR without
    restarts), as ``torch.optim.lr_scheduler.CosineAnnealingLR``.

    Examples
    --------
    >>> import chainrule as cr
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = cr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2)
    >>> sched.step(); round(sched.get_last_lr()[0], 6)
    0.5
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = _check_int("CosineAnnealingLR", "T_max", T_max, 1)
        self.eta_min = check_number("CosineAnnealingLR", "eta_min", eta_min, low=0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, T, lo = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current()
        if self._step_count == 1 and t > 0:
            return [lo + (b - lo) * (1 + math.cos(t * math.pi / T)) / 2 for b in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:
            return [g["lr"] + (b - lo) * (1 - math.cos(math.pi / T)) / 2
                    for b, g in zip(self.base_lrs, self.optimizer.param_groups)]
        f = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [f * (g["lr"] - lo) + lo for g in self.optimizer.param_groups]

    def _closed_form(self):
        t, T, lo = self.last_epoch, self.T_max, self.eta_min
        return [lo + (b - lo) * (1 + math.cos(math.pi * t / T)) / 2 for b in self.base_lrs]


class InverseTimeLR(LRScheduler):
    """The notes' inverse-time decay ``lr_t = alpha / (1 + delta t)``, ``alpha`` the initial rate.

    With ``t`` counting steps from 0, the first update uses ``alpha``. The rates sum to infinity
    while their squares do not, the Robbins-Monro conditions for stochastic gradient descent.

    Parameters
    ----------
    optimizer : Optimizer
    delta : float
        Decay speed (>= 0).

    Examples
    --------
    >>> import chainrule as cr
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = cr.optim.lr_scheduler.InverseTimeLR(opt, delta=1.0)
    >>> sched.step(); sched.get_last_lr()
    [0.5]
    """

    def __init__(self, optimizer, delta, last_epoch=-1):
        self.delta = check_number("InverseTimeLR", "delta", delta, low=0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._current()
        t, d = self.last_epoch, self.delta
        f = (1 + d * (t - 1)) / (1 + d * t)
        return [g["lr"] * f for g in self.optimizer.param_groups]

    def _closed_form(self):
        return [b / (1 + self.delta * self.last_epoch) for b in self.base_lrs]


class PowerLR(LRScheduler):
    """The notes' power schedule ``lr_t = alpha / t^delta`` for updates ``t = 1, 2, ...``.

    ``0.5 < delta <= 1`` is required: then the rates sum to infinity and their squares don't
    (the Robbins-Monro conditions), so SGD converges under the usual assumptions.

    Parameters
    ----------
    optimizer : Optimizer
    delta : float
        The power, in (0.5, 1].

    Examples
    --------
    >>> import chainrule as cr
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = cr.optim.lr_scheduler.PowerLR(opt, delta=1.0)
    >>> sched.step(); sched.get_last_lr()
    [0.5]
    """

    def __init__(self, optimizer, delta=1.0, last_epoch=-1):
        self.delta = check_number("PowerLR", "delta", delta, 0.5, 1.0, low_open=True)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._current()
        t = self.last_epoch
        f = (t / (t + 1)) ** self.delta
        return [g["lr"] * f for g in self.optimizer.param_groups]

    def _closed_form(self):
        return [b / (self.last_epoch + 1) ** self.delta for b in self.base_lrs]


class SequentialLR(LRScheduler):
    """Run ``schedulers[i]`` between ``milestones[i-1]`` and ``milestones[i]``, as PyTorch's.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import lr_scheduler as S
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> warm = S.ConstantLR(opt, factor=0.1, total_iters=2)
    >>> decay = S.ExponentialLR(opt, gamma=0.5)
    >>> sched = S.SequentialLR(opt, [warm, decay], milestones=[2])
    >>> out = []
    >>> for _ in range(4):
    ...     sched.step(); out.append(sched.get_last_lr()[0])
    >>> out
    [0.1, 1.0, 0.5, 0.25]
    """

    _not_state = ("optimizer", "_schedulers")

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        name = type(self).__name__
        schedulers = list(schedulers)
        if not schedulers:
            raise ArgumentError(f"{name}: argument 'schedulers' expected at least one scheduler, "
                                "got none")
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau):
                raise ArgumentError(f"{name}: ReduceLROnPlateau (index {i}) needs a metric at "
                                    "each step and can't be sequenced")
            if getattr(s, "optimizer", None) is not optimizer:
                raise ArgumentError(f"{name}: scheduler {i} ({type(s).__name__}) belongs to a "
                                    "different optimiser")
        milestones = list(milestones)
        if len(milestones) != len(schedulers) - 1:
            raise ArgumentError(f"{name}: argument 'milestones' expected "
                                f"{len(schedulers) - 1} entries (one fewer than schedulers), "
                                f"got {len(milestones)}")
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        self._step_count = 0
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        # The sub-schedulers already took their initial step when they were built.
        for s in schedulers:
            _undo(s)
        idx = bisect_right(milestones, 0)
        schedulers[idx]._initial_step()
        self._last_lr = schedulers[idx].get_last_lr()

    def step(self):
        untraceable("a learning-rate scheduler step")
        self._step_count += 1
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        s = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            s._update_lr(0)
        else:
            s.step()
        self._last_lr = s.get_last_lr()

    def state_dict(self):
        sd = super().state_dict()
        sd["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return sd

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        subs = state_dict.pop("_schedulers", [])
        super().load_state_dict(state_dict)
        for s, sd in zip(self._schedulers, subs):
            s.load_state_dict(sd)


def _undo(s):
    if hasattr(s, "_schedulers"):
        for sub in s._schedulers:
            _undo(sub)
    elif hasattr(s, "last_epoch"):
        s.last_epoch -= 1


class LinearWarmup(SequentialLR):
    """Warm up linearly to the initial rate over ``warmup_steps``, then hand over to ``then``.

    The factor on the rate is ``start_factor + (1 - start_factor) t / warmup_steps``; by default
    ``start_factor = 1 / (warmup_steps + 1)``, so the rates are ``lr/(W+1), 2 lr/(W+1), ...,
    lr``. After the warm-up the scheduler ``then`` (built on the same optimiser) runs from its
    start; without one the rate stays at the initial rate. For the notes' "fixed small rate for
    the first few updates" use :class:`ConstantLR`.

    Parameters
    ----------
    optimizer : Optimizer
    warmup_steps : int
        Length of the warm-up (>= 1).
    start_factor : float, optional
        Fraction of the rate at the first step, in (0, 1].
    then : LRScheduler, optional
        The schedule after the warm-up.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import lr_scheduler as S
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = S.LinearWarmup(opt, warmup_steps=3, then=S.ExponentialLR(opt, gamma=0.5))
    >>> out = [sched.get_last_lr()[0]]
    >>> for _ in range(5):
    ...     sched.step(); out.append(round(sched.get_last_lr()[0], 4))
    >>> out
    [0.25, 0.5, 0.75, 1.0, 0.5, 0.25]
    """

    def __init__(self, optimizer, warmup_steps, start_factor=None, then=None, last_epoch=-1):
        self.warmup_steps = _check_int("LinearWarmup", "warmup_steps", warmup_steps, 1)
        if start_factor is None:
            start_factor = 1.0 / (warmup_steps + 1)
        check_number("LinearWarmup", "start_factor", start_factor, 0.0, 1.0, low_open=True)
        if not isinstance(optimizer, Optimizer):
            raise ArgumentError(f"LinearWarmup: argument 'optimizer' expected a "
                                f"chainrule.optim.Optimizer, got {type(optimizer).__name__}")
        ramp = LinearLR(optimizer, start_factor=start_factor, end_factor=1.0,
                        total_iters=warmup_steps, last_epoch=last_epoch)
        if then is None:
            super().__init__(optimizer, [ramp], [], last_epoch=last_epoch)
        else:
            super().__init__(optimizer, [ramp, then], [warmup_steps], last_epoch=last_epoch)


class ChainedScheduler(LRScheduler):
    """Step several schedulers together; their (chainable) effects multiply, as PyTorch's.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import lr_scheduler as S
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = S.ChainedScheduler([S.ConstantLR(opt, factor=0.5, total_iters=2),
    ...                             S.ExponentialLR(opt, gamma=0.9)])
    >>> sched.step(); round(sched.get_last_lr()[0], 4)
    0.45
    """

    _not_state = ("optimizer", "_schedulers")

    def __init__(self, schedulers, optimizer=None):
        schedulers = list(schedulers)
        if not schedulers:
            raise ArgumentError("ChainedScheduler: argument 'schedulers' expected at least one "
                                "scheduler, got none")
        optimizer = optimizer or schedulers[0].optimizer
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau):
                raise ArgumentError(f"ChainedScheduler: ReduceLROnPlateau (index {i}) needs a "
                                    "metric at each step and can't be chained")
            if getattr(s, "optimizer", None) is not optimizer:
                raise ArgumentError(f"ChainedScheduler: scheduler {i} ({type(s).__name__}) "
                                    "belongs to a different optimiser")
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = [g["lr"] for g in optimizer.param_groups]

    def step(self):
        untraceable("a learning-rate scheduler step")
        for s in self._schedulers:
            s.step()
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    state_dict = SequentialLR.state_dict
    load_state_dict = SequentialLR.load_state_dict


class ReduceLROnPlateau(LRScheduler):
    """Cut the rate by ``factor`` when a metric stops improving, as PyTorch's.

    Call ``scheduler.step(metric)`` after each evaluation. A metric that isn't better than the
    best so far by ``threshold`` (relative or absolute) counts as a bad epoch; after more than
    ``patience`` bad epochs the rate becomes ``max(lr * factor, min_lr)`` and ``cooldown``
    epochs pass before bad epochs count again.

    Parameters
    ----------
    optimizer : Optimizer
    mode : {"min", "max"}
        Whether a lower or a higher metric is better.
    factor : float
        Multiplier of the rate at each cut, in (0, 1).
    patience : int
        Bad epochs tolerated before a cut.
    threshold : float
        Least improvement that counts.
    threshold_mode : {"rel", "abs"}
    cooldown : int
        Epochs after a cut during which bad epochs are ignored.
    min_lr : float or list of float
        Floor of the rate (per group when a list).
    eps : float
        Changes smaller than this are skipped.

    Examples
    --------
    >>> import chainrule as cr
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = cr.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    >>> for loss in [1.0, 1.0, 1.0]:
    ...     sched.step(loss)
    >>> sched.get_last_lr()
    [0.5]
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        name = "ReduceLROnPlateau"
        if not isinstance(optimizer, Optimizer):
            raise ArgumentError(f"{name}: argument 'optimizer' expected a "
                                f"chainrule.optim.Optimizer, got {type(optimizer).__name__}")
        if mode not in ("min", "max"):
            raise ArgumentError(f"{name}: argument 'mode' expected 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ArgumentError(f"{name}: argument 'threshold_mode' expected 'rel' or 'abs', "
                                f"got {threshold_mode!r}")
        self.factor = check_number(name, "factor", factor, 0.0, 1.0, high_open=True)
        self.patience = _check_int(name, "patience", patience, 0)
        self.cooldown = _check_int(name, "cooldown", cooldown, 0)
        self.threshold = check_number(name, "threshold", threshold, low=0.0)
        self.eps = check_number(name, "eps", eps, low=0.0)
        self.optimizer = optimizer
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ArgumentError(f"{name}: argument 'min_lr' expected {n} values (one per "
                                    f"parameter group), got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = [check_number(name, "min_lr", m, low=0.0) for m in min_lr]
        else:
            self.default_min_lr = check_number(name, "min_lr", min_lr, low=0.0)
            self.min_lrs = [self.default_min_lr] * n
        self.mode = mode
        self.threshold_mode = threshold_mode
        self.last_epoch = 0
        self._step_count = 0
        self._last_lr = self._current()
        self._reset()

    @property
    def mode_worse(self):
        return math.inf if self.mode == "min" else -math.inf

    def _reset(self):
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def is_better(self, a, best):
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics, epoch=None):
        untraceable("a learning-rate scheduler step")
        """Record one evaluation of the monitored metric."""
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise ArgumentError(f"ReduceLROnPlateau.step: argument 'metrics' expected a number, "
                                f"got {type(metrics).__name__}") from None
        self._step_count += 1
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current()

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise ArgumentError(f"ReduceLROnPlateau: the optimiser now has {len(groups)} "
                                    f"parameter groups but min_lr lists {len(self.min_lrs)}; "
                                    "update scheduler.min_lrs")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for i, group in enumerate(groups):
            old = float(group["lr"])
            new = max(old * self.factor, self.min_lrs[i])
            if old - new > self.eps:
                group["lr"] = new
