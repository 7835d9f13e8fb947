"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

import numpy as np

from .. import _openblas
from ..backend import memory_order
from ..errors import ArgumentError
from ..tensor import Tensor
from .optimizer import Optimizer, check_number


class SGD(Optimizer):
    """Stochastic gradient descent, step for step as ``torch.optim.SGD``.

    With gradient ``g`` (``-g`` when ``maximize``) and ``g <- g + weight_decay * p``:
    ``b <- momentum * b + (1 - dampening) * g`` (``b = g`` on the first step),
    ``d = g + momentum * b`` when ``nesterov`` else ``b``, then ``p <- p - lr * d``.

    Parameters
    ----------
    params : iterable
        Tensors or parameter-group dicts.
    lr : float
        Learning rate (>= 0).
    momentum : float
        Momentum factor in [0, 1).
    dampening : float
        Dampening of the momentum's gradient term, in [0, 1].
    weight_decay : float
        L2 penalty coefficient (>= 0).
    nesterov : bool
        Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
    maximize : bool
        Ascend the objective instead of descending.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = cr.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(3):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     opt.step()
    >>> w.abs().max().item() < 1.0
    True
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, group):
        super()._validate(group)
        check_number(self, "momentum", group["momentum"], 0.0, 1.0, high_open=True)
        check_number(self, "dampening", group["dampening"], 0.0, 1.0)
        check_number(self, "weight_decay", group["weight_decay"], low=0.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ArgumentError(f"SGD: argument 'nesterov' needs momentum > 0 and dampening = "
                                f"0, got momentum={group['momentum']}, "
                                f"dampening={group['dampening']}")

    def _update_group(self, group):
        lr = float(group["lr"])
        momentum = float(group["momentum"])
        dampening = float(group["dampening"])
        wd = float(group["weight_decay"])
        nesterov = group["nesterov"]
        maximize = group["maximize"]
        for p, g, d in self._with_grads(group):
            t0 = None
            if wd != 0 or maximize:
                t0 = self._scratch(d, 0)
                g = self._effective_grad(g, d, wd, maximize, t0)
            if momentum != 0:
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = {}
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = Tensor._wrap(np.array(g, dtype=d.dtype, order=memory_order(d)))
                    state["momentum_buffer"] = buf
                else:
                    b = buf.data
                    if dampening != 0:
                        b *= momentum
                        t1 = self._scratch(d, 1)
                        np.multiply(g, 1 - dampening, out=t1)
                        b += t1
                    elif not _openblas.scale_add(momentum, g, b):  # OpenBLAS where it can
                        b *= momentum
                        b += g
                if nesterov:
                    t1 = self._scratch(d, 1)
                    np.multiply(buf.data, momentum, out=t1)
                    t1 += g
                    g = t1
                else:
                    g = buf.data
            if _openblas.axpy(-lr, g, d):  # d -= lr g in one pass where it can
                continue
            if t0 is None and not (momentum != 0 and nesterov):
                t0 = self._scratch(d, 0)
            out = g if g is t0 or (momentum != 0 and nesterov) else t0
            np.multiply(g, lr, out=out)
            d -= out
