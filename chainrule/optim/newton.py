"""Newton's method: steps ``d`` solving ``(H + damping I) d = g`` with the loss's Hessian ``H``.

Two ways to solve. ``mode="exact"`` builds the Hessian row by row (reverse over reverse: one
backward pass through the gradient's graph per parameter) and solves the linear system; it is
meant for models of up to about ten thousand parameters. ``mode="cg"`` never forms ``H``: it runs
conjugate gradients on Hessian-vector products, each one backward pass through the gradient's
graph, and stops early at negative curvature (truncated Newton).
"""

from __future__ import annotations

import numpy as np

from ..autograd import grad as autograd_grad
from ..core.state import enable_grad
from ..errors import ArgumentError, GraphError, NumericalError
from ..ops.shape import cat
from ..tensor import Tensor
from .optimizer import Optimizer, check_number


class Newton(Optimizer):
    """Newton's method for small models: ``p <- p - lr * (H + damping I)^-1 grad``.

    Parameters
    ----------
    params : iterable
        Tensors or parameter-group dicts (all groups are solved together as one vector).
    lr : float
        Step length along the Newton direction (1.0 is the pure Newton step).
    damping : float
        Added to the Hessian's diagonal (Levenberg-style) to keep the system solvable and the
        step bounded where the curvature is small (>= 0).
    mode : {"exact", "cg"}
        Form the Hessian and solve, or run conjugate gradients on Hessian-vector products.
    cg_iters : int
        Most conjugate-gradient iterations per step (``"cg"`` mode).
    cg_tol : float
        Relative residual at which conjugate gradients stop.
    max_params : int
        Largest parameter count ``"exact"`` mode accepts (the Hessian has its square entries).

    Notes
    -----
    :meth:`step` needs a closure that computes and returns the loss from the parameters
    *without* calling ``backward``: the optimiser differentiates it twice itself.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([3.0, -1.0], requires_grad=True)
    >>> opt = cr.optim.Newton([w], damping=0.0)
    >>> loss = opt.step(lambda: ((w - 1.0) ** 2).sum())
    >>> [round(v, 5) for v in w.tolist()]
    [1.0, 1.0]
    """

    def __init__(self, params, lr=1.0, damping=1e-4, mode="exact", cg_iters=50, cg_tol=1e-10,
                 max_params=10_000):
        if mode not in ("exact", "cg"):
            raise ArgumentError(f"Newton: argument 'mode' expected 'exact' or 'cg', got "
                                f"{mode!r}")
        if not isinstance(cg_iters, (int, np.integer)) or cg_iters < 1:
            raise ArgumentError(f"Newton: argument 'cg_iters' expected an int >= 1, got "
                                f"{cg_iters!r}")
        check_number("Newton", "cg_tol", cg_tol, low=0.0)
        self.mode = mode
        self.cg_iters = int(cg_iters)
        self.cg_tol = float(cg_tol)
        self.max_params = int(max_params)
        super().__init__(params, dict(lr=lr, damping=damping))
        self._check_size()

    def _validate(self, group):
        super()._validate(group)
        check_number(self, "damping", group["damping"], low=0.0)

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        if hasattr(self, "mode"):
            self._check_size()

    def _params(self):
        return [p for g in self.param_groups for p in g["params"]]

    def _check_size(self):
        n = sum(p.data.size for p in self._params())
        if self.mode == "exact" and n > self.max_params:
            raise ArgumentError(f"Newton: mode='exact' forms the {n} x {n} Hessian; expected at "
                                f"most max_params={self.max_params} parameters, got {n}. Use "
                                "mode='cg' (Hessian-vector products), raise max_params, or use "
                                "a first-order optimiser")

    def step(self, closure=None):
        """Take one Newton step; ``closure()`` must return the loss without calling backward.

        Returns the loss before the step (detached).
        """
        if closure is None:
            raise ArgumentError("Newton.step: expected a closure that recomputes and returns "
                                "the loss from the parameters (without calling backward), got "
                                "None")
        params = self._params()
        with enable_grad():
            loss = closure()
            if not isinstance(loss, Tensor) or loss.data.size != 1:
                raise ArgumentError("Newton.step: the closure must return the loss as a "
                                    "one-element Tensor, got "
                                    f"{type(loss).__name__}"
                                    + (f" of shape {loss.shape}" if isinstance(loss, Tensor)
                                       else ""))
            try:
                grads = autograd_grad(loss, params, create_graph=True, allow_unused=True)
            except GraphError as e:
                raise GraphError(f"Newton.step: can't differentiate the closure's loss ({e}); "
                                 "the closure must not call backward") from None
            used = [(p, g) for p, g in zip(params, grads) if g is not None]
            if not used:
                return loss.detach()
            sizes = [p.data.size for p, _ in used]
            gflat = cat([g.reshape(-1) for _, g in used])
            gvec = gflat.data.astype(np.float64)
            if not np.all(np.isfinite(gvec)):
                raise NumericalError("Newton.step: the gradient has NaN or Inf entries")
            used_params = [p for p, _ in used]
            damping = float(self.param_groups[0]["damping"])
            if self.mode == "exact":
                direction = self._exact(gflat, used_params, gvec, damping)
            else:
                direction = self._cg(gflat, used_params, gvec, damping)
        offset = 0
        lrs = {id(p): float(g["lr"]) for g in self.param_groups for p in g["params"]}
        for (p, _), n in zip(used, sizes):
            d = p.data
            if not d.flags.writeable:
                d = p.data = d.copy(order="K")  # in its layout
            upd = direction[offset:offset + n].reshape(d.shape).astype(d.dtype)
            upd *= lrs[id(p)]
            d -= upd
            offset += n
            state = self.state.setdefault(p, {"step": 0})
            state["step"] += 1
        return loss.detach()

    @staticmethod
    def _hvp(gflat, params, v):
        """Hessian-vector product as a flat float64 vector: d<g, v>/dparams."""
        vt = Tensor._wrap(v.astype(gflat.data.dtype))
        rows = autograd_grad(gflat, params, grad_outputs=vt, retain_graph=True,
                             allow_unused=True)
        out = [np.zeros(p.data.size) if r is None else r.data.reshape(-1) for p, r in
               zip(params, rows)]
        return np.concatenate(out).astype(np.float64)

    def _exact(self, gflat, params, gvec, damping):
        n = gvec.size
        H = np.empty((n, n))
        e = np.zeros(n)
        for i in range(n):
            e[i] = 1.0
            H[i] = self._hvp(gflat, params, e)
            e[i] = 0.0
        H = 0.5 * (H + H.T)  # symmetric up to round-off; symmetrising helps the solver
        if damping:
            H[np.diag_indices(n)] += damping
        try:
            direction = np.linalg.solve(H, gvec)
        except np.linalg.LinAlgError:
            raise NumericalError("Newton.step: the Hessian (plus damping) is singular; use "
                                 "damping > 0") from None
        if not np.all(np.isfinite(direction)):
            raise NumericalError("Newton.step: the Newton direction has NaN or Inf entries; "
                                 "increase damping")
        return direction

    def _cg(self, gflat, params, gvec, damping):
        x = np.zeros_like(gvec)
        r = gvec.copy()
        d = r.copy()
        rr = float(r @ r)
        stop = self.cg_tol ** 2 * rr
        for it in range(self.cg_iters):
            if rr <= stop or rr == 0.0:
                break
            Ad = self._hvp(gflat, params, d) + damping * d
            curv = float(d @ Ad)
            if curv <= 0:
                # Negative curvature: the quadratic model is unbounded along d; keep what was
                # found so far, or fall back to the gradient direction on the first iteration.
                if it == 0:
                    x = gvec.copy()
                break
            a = rr / curv
            x += a * d
            r -= a * Ad
            rr_new = float(r @ r)
            d = r + (rr_new / rr) * d
            rr = rr_new
        return x
