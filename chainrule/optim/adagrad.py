"""Adagrad: per-coordinate step sizes shrinking with the accumulated squared gradients."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_number, new_state_array


class Adagrad(Optimizer):
    """Adagrad, step for step as ``torch.optim.Adagrad``.

    ``s <- s + g^2``, ``p <- p - lr_t g / (sqrt(s) + eps)`` with
    ``lr_t = lr / (1 + (t - 1) lr_decay)``.

    Parameters
    ----------
    params : iterable
        Tensors or parameter-group dicts.
    lr : float
        Learning rate (>= 0).
    lr_decay : float
        Learning-rate decay per step (>= 0).
    weight_decay : float
        L2 penalty coefficient (>= 0).
    initial_accumulator_value : float
        Starting value of the squared-gradient sum (>= 0).
    eps : float
        Added to the denominator (>= 0).
    maximize : bool
        Ascend the objective instead of descending.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([3.0], requires_grad=True)
    >>> opt = cr.optim.Adagrad([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> round(w.item(), 4)
    2.9
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, *, maximize=False):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group):
        state = {"step": 0,
                 "sum": new_state_array(p, float(group["initial_accumulator_value"]))}
        self.state[p] = state
        return state

    def _validate(self, group):
        super()._validate(group)
        check_number(self, "lr_decay", group["lr_decay"], low=0.0)
        check_number(self, "weight_decay", group["weight_decay"], low=0.0)
        check_number(self, "initial_accumulator_value", group["initial_accumulator_value"],
                     low=0.0)
        check_number(self, "eps", group["eps"], low=0.0)

    def _update_group(self, group):
        lr = float(group["lr"])
        lr_decay = float(group["lr_decay"])
        wd = float(group["weight_decay"])
        eps = float(group["eps"])
        maximize = group["maximize"]
        for p, g, d in self._with_grads(group):
            state = self.state.get(p) or self._init_state(p, group)
            state["step"] += 1
            t = state["step"]
            clr = lr / (1 + (t - 1) * lr_decay)
            for (dd, gg, s), t0, t1 in self._in_blocks([d, g, state["sum"].data]):
                self._update(dd, gg, s, t0, t1, clr, wd, eps, maximize)

    def _update(self, d, g, s, t0, t1, clr, wd, eps, maximize):
        """One Adagrad step on arrays (a whole parameter or a block of it), in place."""
        g = self._effective_grad(g, d, wd, maximize, t0)
        np.multiply(g, g, out=t1)
        s += t1
        std = np.sqrt(s, out=t1)
        std += eps
        self._add_ratio(d, g, -clr, std, t0)  # t0 is free once g has been used
