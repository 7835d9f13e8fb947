"""Adam and AdamW: adaptive moment estimation, with coupled or decoupled weight decay."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_betas, check_number, new_state_array


class Adam(Optimizer):
    """Adam, step for step as ``torch.optim.Adam``.

    With gradient ``g`` (``-g`` when ``maximize``; plus ``weight_decay * p`` unless decoupled):
    ``m <- b1 m + (1-b1) g``, ``v <- b2 v + (1-b2) g^2``, ``v_hat = max(v_hat, v)`` with
    ``amsgrad``, then ``p <- p - lr/(1-b1^t) * m / (sqrt(v or v_hat)/sqrt(1-b2^t) + eps)``.

    Parameters
    ----------
    params : iterable
        Tensors or parameter-group dicts.
    lr : float
        Learning rate (>= 0).
    betas : (float, float)
        Decay rates of the first and second moment averages, each in [0, 1).
    eps : float
        Added to the denominator for numerical stability (>= 0).
    weight_decay : float
        L2 penalty coefficient added to the gradient (>= 0).
    amsgrad : bool
        Use the running maximum of the second moment (AMSGrad).
    maximize : bool
        Ascend the objective instead of descending.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([3.0], requires_grad=True)
    >>> opt = cr.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> round(w.item(), 4)
    2.9
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False):
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas,
                        eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, group):
        super()._validate(group)
        check_betas(self, group["betas"])
        check_number(self, "eps", group["eps"], low=0.0)
        check_number(self, "weight_decay", group["weight_decay"], low=0.0)

    def _update_group(self, group):
        lr = float(group["lr"])
        b1, b2 = (float(b) for b in group["betas"])
        eps = float(group["eps"])
        wd = float(group["weight_decay"])
        amsgrad = group["amsgrad"]
        maximize = group["maximize"]
        for p, g, d in self._with_grads(group):
            state = self.state.get(p)
            if not state:
                state = self.state[p] = {"step": 0, "exp_avg": new_state_array(p),
                                         "exp_avg_sq": new_state_array(p)}
                if amsgrad:
                    state["max_exp_avg_sq"] = new_state_array(p)
            state["step"] += 1
            t = state["step"]
            consts = (lr, b1, b2, eps, wd, maximize, lr / (1 - b1 ** t),
                      (1 - b2 ** t) ** 0.5)
            arrays = [d, g, state["exp_avg"].data, state["exp_avg_sq"].data]
            if amsgrad:
                arrays.append(state["max_exp_avg_sq"].data)
            for (dd, gg, m, v, *vmax), t0, t1 in self._in_blocks(arrays):
                self._update(dd, gg, m, v, vmax[0] if vmax else None, t0, t1, consts)

    def _update(self, d, g, m, v, vmax, t0, t1, consts):
        """One Adam step on arrays (a whole parameter or a block of it), in place."""
        lr, b1, b2, eps, wd, maximize, step_size, bc2_sqrt = consts
        w1, w2 = 1.0 - b1, 1.0 - b2
        if self._decoupled:
            if wd != 0:
                d *= 1 - lr * wd
            g = self._effective_grad(g, d, 0.0, maximize, t0)
        else:
            g = self._effective_grad(g, d, wd, maximize, t0)
        self._lerp(m, g, w1, t1)
        v *= b2
        np.multiply(g, w2, out=t1)
        t1 *= g
        v += t1
        if vmax is not None:
            np.maximum(vmax, v, out=vmax)
            v = vmax
        denom = np.sqrt(v, out=t1)
        denom /= bc2_sqrt
        denom += eps
        np.multiply(m, -step_size, out=t0)
        t0 /= denom
        d += t0


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay, step for step as ``torch.optim.AdamW``.

    Before the Adam update the parameter shrinks, ``p <- p (1 - lr * weight_decay)``, instead of
    the decay entering the gradient.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([3.0], requires_grad=True)
    >>> opt = cr.optim.AdamW([w], lr=0.1, weight_decay=0.01)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> round(w.item(), 4)
    2.897
    """

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)
