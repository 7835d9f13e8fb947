"""RMSprop: gradient steps scaled by a running root-mean-square of past gradients."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_number, new_state_array


class RMSprop(Optimizer):
    """RMSprop, step for step as ``torch.optim.RMSprop``.

    ``v <- alpha v + (1-alpha) g^2``; with ``centered`` also ``a <- alpha a + (1-alpha) g`` and
    the denominator uses ``v - a^2``; ``s = sqrt(...) + eps``; with momentum
    ``b <- momentum b + g/s``, ``p <- p - lr b``, else ``p <- p - lr g/s``.

    Parameters
    ----------
    params : iterable
        Tensors or parameter-group dicts.
    lr : float
        Learning rate (>= 0).
    alpha : float
        Smoothing constant of the squared-gradient average, in [0, 1).
    eps : float
        Added to the denominator (>= 0).
    weight_decay : float
        L2 penalty coefficient (>= 0).
    momentum : float
        Momentum factor in [0, 1).
    centered : bool
        Normalise by the estimated variance of the gradient instead of its second moment.
    maximize : bool
        Ascend the objective instead of descending.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([3.0], requires_grad=True)
    >>> opt = cr.optim.RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> round(w.item(), 3)
    2.9
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, *, maximize=False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, group):
        super()._validate(group)
        check_number(self, "alpha", group["alpha"], 0.0, 1.0, high_open=True)
        check_number(self, "eps", group["eps"], low=0.0)
        check_number(self, "weight_decay", group["weight_decay"], low=0.0)
        check_number(self, "momentum", group["momentum"], 0.0, 1.0, high_open=True)

    def _update_group(self, group):
        lr = float(group["lr"])
        alpha = float(group["alpha"])
        eps = float(group["eps"])
        wd = float(group["weight_decay"])
        momentum = float(group["momentum"])
        centered = group["centered"]
        maximize = group["maximize"]
        for p, g, d in self._with_grads(group):
            state = self.state.get(p)
            if not state:
                state = self.state[p] = {"step": 0, "square_avg": new_state_array(p)}
                if momentum > 0:
                    state["momentum_buffer"] = new_state_array(p)
                if centered:
                    state["grad_avg"] = new_state_array(p)
            state["step"] += 1
            arrays = [d, g, state["square_avg"].data]
            if centered:
                arrays.append(state["grad_avg"].data)
            if momentum > 0:
                arrays.append(state["momentum_buffer"].data)
            for (dd, gg, v, *rest), t0, t1 in self._in_blocks(arrays):
                a = rest.pop(0) if centered else None
                buf = rest[0] if momentum > 0 else None
                self._update(dd, gg, v, a, buf, t0, t1, lr, alpha, eps, wd, momentum, maximize)

    def _update(self, d, g, v, a, buf, t0, t1, lr, alpha, eps, wd, momentum, maximize):
        """One RMSprop step on arrays (a whole parameter or a block of it), in place; ``a``
        is the gradient average (centered) and ``buf`` the momentum buffer, or None."""
        g = self._effective_grad(g, d, wd, maximize, t0)
        v *= alpha
        np.multiply(g, 1 - alpha, out=t1)
        t1 *= g
        v += t1
        if a is not None:
            self._lerp(a, g, 1 - alpha, t1)
            np.negative(a, out=t1)
            t1 *= a
            t1 += v
            avg = np.sqrt(t1, out=t1)
        else:
            avg = np.sqrt(v, out=t1)
        avg += eps
        if buf is not None:
            buf *= momentum
            np.divide(g, avg, out=t1)
            buf += t1
            np.multiply(buf, lr, out=t1)
            d -= t1
        else:  # avg lives in t1; t0 is free once the effective gradient has been used
            self._add_ratio(d, g, -lr, avg, t0)
