"""Gradient checking by finite differences: :func:`check_grads`.

Both derivative modes are compared with float64 central differences along random directions,
which tests the whole Jacobian at the cost of two function calls per direction. When a check
fails, the full Jacobians are compared element by element to say which argument and which
element disagree, and by how much.
"""

from __future__ import annotations

import numpy as np

from .errors import ChainruleError


class GradcheckError(ChainruleError, AssertionError):
    """A derivative disagrees with finite differences (or the two modes disagree)."""


def _as64(x):
    from .tensor import Tensor

    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    if arr.dtype.kind != "f":
        return None
    return Tensor._wrap(arr.astype(np.float64))


def check_grads(f, args, modes=("rev", "fwd"), order=1, eps=1e-6, atol=1e-5, rtol=1e-4,
                n_directions=2, seed=0):
    """Check ``f``'s derivatives against float64 central differences.

    Parameters
    ----------
    f : callable
        Takes tensors ``args`` and returns a tensor.
    args : sequence
        Arguments; float ones are differentiated (cast to float64), others passed as they are.
    modes : tuple of {'rev', 'fwd'}
        Which derivative rules to check.
    order : int
        1 checks first derivatives; 2 also checks the derivatives of the first derivatives.
    Raises
    ------
    GradcheckError
        Naming the mode, order, argument and element that disagree.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.testing.check_grads(lambda x: x.tanh() * x, [cr.randn(3)], order=2)
    """
    from .core.transforms import vjp
    from .tensor import Tensor

    rng = np.random.default_rng(seed)
    args = list(args)
    diff = [i for i, a in enumerate(args) if _as64(a) is not None]
    base = list(args)
    for i in diff:
        base[i] = _as64(args[i])

    def call(xs):
        full = list(base)
        for i, x in zip(diff, xs):
            full[i] = x
        out = f(*full)
        return out if isinstance(out, Tensor) else Tensor(out)

    xs0 = [base[i] for i in diff]
    out0 = call(xs0)
    if out0.dtype.kind != "f":
        raise GradcheckError("check_grads: f must return a floating-point tensor")
    _check_first(call, xs0, out0, modes, eps, atol, rtol, n_directions, rng, diff, "")
    if order >= 2:
        u = Tensor._wrap(rng.standard_normal(out0.shape))

        def first(*xs):
            """<u, f(x)> differentiated once: a function whose derivative is the second."""
            _, fn = vjp(lambda *ys: call(list(ys)), *xs)
            gs = fn(u)
            from .ops import cat, reshape

            return cat([reshape(g, (-1,)) for g in gs], 0)

        for m in modes:
            sub = ("rev",) if m == "rev" else ("fwd",)
            _check_first(lambda xs: first(*xs), xs0, first(*xs0), sub, eps, atol * 10,
                         rtol * 10, n_directions, rng, diff, "second-order (via reverse) ")


def _check_first(call, xs0, out0, modes, eps, atol, rtol, n_dir, rng, diff, label):
    from .core.transforms import jvp, vjp
    from .tensor import Tensor

    for _ in range(n_dir):
        vs = [Tensor._wrap(rng.standard_normal(x.shape)) for x in xs0]
        u = Tensor._wrap(rng.standard_normal(out0.shape))
        plus = call([Tensor._wrap(x.data + eps * v.data) for x, v in zip(xs0, vs)]).data
        minus = call([Tensor._wrap(x.data - eps * v.data) for x, v in zip(xs0, vs)]).data
        num = float(np.sum(u.data * (plus - minus) / (2 * eps)))
        results = {}
        if "rev" in modes:
            _, fn = vjp(lambda *xs: call(list(xs)), *xs0)
            gs = fn(u)
            results["rev"] = float(sum(np.sum(g.data * v.data) for g, v in zip(gs, vs)))
        if "fwd" in modes:
            _, t = jvp(lambda *xs: call(list(xs)), tuple(xs0), tuple(vs))
            results["fwd"] = float(np.sum(u.data * t.data))
        for m, val in results.items():
            if not np.isfinite(val) or abs(val - num) > atol + rtol * abs(num):
                detail = _locate(call, xs0, out0, m, eps, diff)
                raise GradcheckError(
                    f"check_grads: {label}{m}-mode derivative disagrees with finite "
                    f"differences: <u, J v> = {val:.6g} by {m} mode vs {num:.6g} numerically "
                    f"(difference {abs(val - num):.3g}). {detail}")
        if "rev" in results and "fwd" in results:
            a, b = results["rev"], results["fwd"]
            if abs(a - b) > atol + rtol * abs(a):
                raise GradcheckError(f"check_grads: {label}reverse and forward modes disagree: "
                                     f"<J^T u, v> = {a:.6g} but <u, J v> = {b:.6g}")


def _locate(call, xs0, out0, mode, eps, diff):
    """Find the worst element of the Jacobian for a readable failure message."""
    from .core.transforms import jvp, vjp
    from .tensor import Tensor

    worst = (0.0, None)
    n_out = out0.data.size
    if n_out * sum(x.data.size for x in xs0) > 20000:
        return "(Jacobian too large to locate the element)"
    for a, x in enumerate(xs0):
        for k in range(x.data.size):
            e = np.zeros(x.data.size)
            e[k] = 1
            e = e.reshape(x.shape)
            xp_ = [Tensor._wrap(xx.data + (eps * e if j == a else 0)) for j, xx in enumerate(xs0)]
            xm_ = [Tensor._wrap(xx.data - (eps * e if j == a else 0)) for j, xx in enumerate(xs0)]
            col_num = ((call(xp_).data - call(xm_).data) / (2 * eps)).reshape(-1)
            if mode == "fwd":
                ts = [Tensor._wrap(e if j == a else np.zeros(xx.shape))
                      for j, xx in enumerate(xs0)]
                _, t = jvp(lambda *xs: call(list(xs)), tuple(xs0), tuple(ts))
                col = t.data.reshape(-1)
            else:
                _, fn = vjp(lambda *xs: call(list(xs)), *xs0)
                col = np.empty(n_out)
                for r in range(n_out):
                    ct = np.zeros(n_out)
                    ct[r] = 1
                    col[r] = fn(Tensor._wrap(ct.reshape(out0.shape)))[a].data.reshape(-1)[k]
            err = np.abs(col - col_num)
            if err.size and err.max() > worst[0]:
                r = int(err.argmax())
                worst = (float(err.max()), (a, k, r, col[r], col_num[r]))
    if worst[1] is None:
        return ""
    a, k, r, got, want = worst[1]
    idx = np.unravel_index(k, xs0[a].shape)
    oidx = np.unravel_index(r, out0.shape) if out0.ndim else ()
    return (f"Worst element: d out{list(oidx)} / d arg{diff[a]}{list(idx)} = {got:.6g} by "
            f"{mode} mode, {want:.6g} numerically.")
