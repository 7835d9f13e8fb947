"""Linear algebra: matmul (batched, broadcast, 1-D cases), einsum, and what composes from them."""

from __future__ import annotations

import numpy as np

from ..core.dispatch import apply
from ..core.registry import explicit
from ..errors import ArgumentError, ShapeError
from ._util import as_tensor, binary_args, op

S = dict
# Functions on NumPy arrays that other modules' rules share: not tensor ops, not exported.
ARRAY_HELPERS = ("matmul_nt", "sum_leading", "sum_kept", "max_kept")


def _flat_matmul(x, w):
    """``x @ w`` for an n-d ``x`` and a 2-d ``w`` as one 2-d product: numpy would run one small
    product per leading index (about twice as slow for a (16, 64, 128) batch of sequences)."""
    if x.ndim <= 2 or x.size == 0:
        return np.matmul(x, w)
    return np.matmul(x.reshape(-1, x.shape[-1]), w).reshape(*x.shape[:-1], w.shape[-1])


# OpenBLAS multiplies a batch of small matrices by the transpose of others more slowly than by a
# contiguous copy of it, and larger ones faster (a @ b^T, b of (S, d) per matrix: (64, 64, 32)
# x (64, 64, 32)^T 265-331 -> 202-231 us with the copy, (64, 128, 32) 1.09-1.19 -> 0.78-0.86 ms;
# (64, 128, 64) 1.43-1.65 -> 1.69-1.97 ms).
_NT_COPY_MAX = 4096


def matmul_nt(a, b):
    """``a @ b^T`` over the last two axes of NumPy arrays, copying ``b^T`` first for batches
    of small matrices."""
    bt = np.swapaxes(b, -1, -2)
    if b.ndim > 2 and b.shape[-1] * b.shape[-2] <= _NT_COPY_MAX:
        bt = np.ascontiguousarray(bt)
    return np.matmul(a, bt)


_ONES: dict = {}
_FAST_SUM_MIN = 4096  # below this many elements NumPy's reduction is as fast


def _ones(n, dtype):
    key = (n, dtype)
    v = _ONES.get(key)
    if v is None:
        if len(_ONES) > 64:
            _ONES.clear()
        v = _ONES[key] = np.ones(n, dtype)
        v.flags.writeable = False
    return v


def sum_leading(a, keep=1):
    """``a`` summed over every axis but the ``keep`` axis, for a bias gradient: as products
    with a ones vector (BLAS, 2-4x faster than NumPy's reduction on these shapes). Float32 and
    float64 only, from 4096 up to 65536 summed elements per output; other cases use
    ``a.sum`` (on small arrays it is as fast and has less to check)."""
    if a.size < _FAST_SUM_MIN or a.dtype not in (np.float32, np.float64) or keep != 1 \
            or a.size // a.shape[1] > 1 << 16:
        return a.sum(axis=tuple(i for i in range(a.ndim) if i != keep))
    n, c = a.shape[0], a.shape[1]
    if a.ndim > 2:
        a3 = a.reshape(n, c, -1)
        a = np.matmul(a3, _ones(a3.shape[2], a.dtype))
    return np.matmul(_ones(n, a.dtype), a)


def sum_kept(a, axes):
    """``a.sum(axis=axes, keepdims=True)`` for the reductions inside fused rules (softmax,
    attention, normalisation). Over trailing axes of a contiguous float32/float64 array it is
    a product with a ones vector (BLAS, 3-5x faster than NumPy's reduction over rows of 64 to
    512); over every axis but 1 (batch norm) it uses :func:`sum_leading`; otherwise ``a.sum``.
    """
    if a.size < _FAST_SUM_MIN:
        return a.sum(axis=tuple(axes), keepdims=True)
    nd = a.ndim
    ax = sorted({i % nd for i in axes}) if nd else []
    if a.dtype in (np.float32, np.float64) and a.flags.c_contiguous:
        k = len(ax)
        if ax == list(range(nd - k, nd)):
            m = 1
            for i in ax:
                m *= a.shape[i]
            if m <= 1 << 16:
                r = np.matmul(a.reshape(-1, m), _ones(m, a.dtype))
                return r.reshape(a.shape[:nd - k] + (1,) * k)
        elif nd >= 2 and ax == [i for i in range(nd) if i != 1]:
            return sum_leading(a).reshape((1, a.shape[1]) + (1,) * (nd - 2))
    return a.sum(axis=tuple(ax), keepdims=True)


def _row_index(n):
    key = ("rows", n)
    v = _ONES.get(key)
    if v is None:
        if len(_ONES) > 64:
            _ONES.clear()
        v = _ONES[key] = np.arange(n)
        v.flags.writeable = False
    return v


def max_kept(a, axis):
    """``a.max(axis=axis, keepdims=True)`` for the shift that keeps softmax-type rules from
    overflowing. Over the last axis of a contiguous float array it picks each row's entry at
    ``argmax``, whose SIMD loop is faster than a reduction over short rows (4096 rows of 64:
    0.24 -> 0.15 ms; 1600 rows of 64: 0.095 -> 0.045 ms); the value is the row maximum, or
    NaN in a row holding a NaN, as ``max`` gives. Over other axes it is ``fmax.reduce`` (it
    skips NaNs; such a row's exponentials and sum are NaN either way)."""
    if a.dtype.kind != "f":
        return a.max(axis=axis, keepdims=True)
    nd = a.ndim
    if nd and axis % nd == nd - 1 and a.shape[-1] and a.size > 64 and a.flags.c_contiguous:
        rows = a.reshape(-1, a.shape[-1])
        m = rows[_row_index(rows.shape[0]), rows.argmax(axis=1)]
        return m.reshape(a.shape[:-1] + (1,))
    return np.fmax.reduce(a, axis=axis, keepdims=True)


# -- matmul on operands with ndim >= 2; the front-end handles the 1-D cases --------------------
def _matmul_fwd(x, y):
    return _flat_matmul(x, y) if y.ndim == 2 else np.matmul(x, y)


def _matmul_vjp(xp, g, out, ins, needs):
    x, y = ins
    if not xp.is_tensor_ns and y.ndim == 2 and x.ndim > 2 and x.size:
        # a stack of inputs times one matrix: one 2-d product each way, the weight's gradient
        # summed over the stack by the product itself
        gx = _flat_matmul(g, y.T) if needs[0] else None
        gy = (np.matmul(x.reshape(-1, x.shape[-1]).T, g.reshape(-1, g.shape[-1]))
              if needs[1] else None)
        return gx, gy
    if not needs[0]:
        gx = None
    elif xp.is_tensor_ns:
        gx = xp.matmul(g, xp.swapaxes(y, -1, -2))
    else:
        gx = matmul_nt(g, y)
    gy = xp.matmul(xp.swapaxes(x, -1, -2), g) if needs[1] else None
    return gx, gy


def _matmul_jvp(xp, ts, out, ins):
    x, y = ins
    tx, ty = ts
    acc = None
    if tx is not None:
        acc = xp.matmul(tx, y)
    if ty is not None:
        t = xp.matmul(x, ty)
        acc = t if acc is None else acc + t
    return acc


explicit("matmul", _matmul_fwd, _matmul_vjp, _matmul_jvp, nin=2,
         samples=[S(args=[(3, 4), (4, 5)]), S(args=[(2, 3, 4), (4, 2)]),
                  S(args=[(2, 1, 3, 4), (3, 4, 2)])])


# -- linear: x @ W.T + b, fused so the weight gradient comes out in W's own layout ------------
def _linear_fwd(x, w, b=None):
    out = _flat_matmul(x, w.T)
    if b is not None:
        out += b
    return out


def _linear_vjp(xp, g, out, ins, needs):
    x, w = ins[0], ins[1]
    n_out, n_in = w.shape
    if needs[0]:
        gx = _flat_matmul(g, w) if not xp.is_tensor_ns else xp.matmul(g, w)
    else:
        gx = None
    gw = gb = None
    if needs[1] or (len(ins) > 2 and needs[2]):
        g2 = xp.reshape(g, (-1, n_out)) if g.ndim != 2 else g
        if needs[1]:
            x2 = xp.reshape(x, (-1, n_in)) if x.ndim != 2 else x
            if not xp.is_tensor_ns and w.flags.f_contiguous and not w.flags.c_contiguous:
                gw = np.matmul(x2.T, g2).T  # in the weight's layout (nn.Linear's: Fortran)
            else:
                gw = xp.matmul(xp.swapaxes(g2, 0, 1), x2)
        if len(ins) > 2 and needs[2]:
            gb = xp.sum(g2, axis=0) if xp.is_tensor_ns else sum_leading(g2)
    return (gx, gw) if len(ins) == 2 else (gx, gw, gb)


def _linear_jvp(xp, ts, out, ins):
    x, w = ins[0], ins[1]
    acc = None
    if ts[0] is not None:
        acc = xp.matmul(ts[0], xp.swapaxes(w, 0, 1))
    if ts[1] is not None:
        t = xp.matmul(x, xp.swapaxes(ts[1], 0, 1))
        acc = t if acc is None else acc + t
    if len(ts) > 2 and ts[2] is not None:
        acc = ts[2] if acc is None else acc + ts[2]
    return acc


explicit("linear", _linear_fwd, _linear_vjp, _linear_jvp,
         samples=[S(args=[(5, 4), (3, 4), (3,)]), S(args=[(2, 5, 4), (3, 4), (3,)]),
                  S(args=[(5, 4), (3, 4)])])


# -- einsum --------------------------------------------------------------------------------------
def _parse(subscripts, n):
    s = subscripts.replace(" ", "")
    if "." in s:
        raise ArgumentError("einsum: ellipsis ('...') subscripts are not supported; name the "
                            "dims explicitly")
    if "->" in s:
        lhs, rhs = s.split("->")
    else:
        lhs = s
        letters = lhs.replace(",", "")
        rhs = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    ins = lhs.split(",")
    if len(ins) != n:
        raise ArgumentError(f"einsum: subscripts '{subscripts}' name {len(ins)} operands, got {n}")
    return ins, rhs


def _einsum_fwd(*xs, subscripts):
    return np.einsum(subscripts, *xs, optimize=len(xs) > 2)


def _einsum_grad_for(xp, i, ins_sub, out_sub, g, operands):
    """Cotangent of operand ``i``: einsum of the cotangent with the other operands."""
    target = ins_sub[i]
    if len(set(target)) != len(target):
        raise NotImplementedError("einsum: repeated subscripts in one operand (diagonals) have "
                                  "no gradient rule")
    others = [s for j, s in enumerate(ins_sub) if j != i]
    avail = set(out_sub).union(*others) if others else set(out_sub)
    kept = "".join(c for c in target if c in avail)
    subs = ",".join([out_sub] + others) + "->" + kept
    args = [g] + [operands[j] for j in range(len(operands)) if j != i]
    r = xp.einsum(subs, *args)
    if kept != target:  # dims summed away in the forward pass come back by broadcasting
        shape_kept = [operands[i].shape[target.index(c)] if c in kept else 1 for c in target]
        perm = [kept.index(c) for c in target if c in kept]
        r = xp.transpose(r, tuple(perm)) if perm != sorted(perm) else r
        r = xp.reshape(r, tuple(shape_kept))
        r = xp.broadcast_to(r, operands[i].shape)
    else:
        perm = [kept.index(c) for c in target]
        if perm != list(range(len(perm))):
            r = xp.transpose(r, tuple(perm))
    return r


def _einsum_vjp(xp, g, out, ins, needs, subscripts):
    ins_sub, out_sub = _parse(subscripts, len(ins))
    return tuple(_einsum_grad_for(xp, i, ins_sub, out_sub, g, ins) if needs[i] else None
                 for i in range(len(ins)))


def _einsum_jvp(xp, ts, out, ins, subscripts):
    acc = None
    for i, t in enumerate(ts):
        if t is None:
            continue
        args = list(ins)
        args[i] = t
        term = xp.einsum(subscripts, *args)
        acc = term if acc is None else acc + term
    return acc


explicit("einsum", _einsum_fwd, _einsum_vjp, _einsum_jvp,
         samples=[S(args=[(3, 4), (4, 5)], attrs=dict(subscripts="ij,jk->ik")),
                  S(args=[(2, 3, 4)], attrs=dict(subscripts="bij->jb")),
                  S(args=[(3, 4), (4,), (5,)], attrs=dict(subscripts="ij,j,k->ik"))])


# -- front-end ---------------------------------------------------------------------------------
def matmul(input, other):  # noqa: A002
    """Matrix product with numpy's rules: batched, broadcast, and 1-D on either side."""
    a, b = binary_args(input, other)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: both arguments need at least 1 dim, got shapes {a.shape} and "
                         f"{b.shape}")
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim >= 2 else b.shape[0]
    if ka != kb:
        raise ShapeError(f"matmul: argument shapes {a.shape} and {b.shape} don't fit: the last "
                         f"dim of 'input' ({ka}) must equal the "
                         f"{'second-to-last' if b.ndim >= 2 else 'only'} dim of 'other' ({kb})")
    if a.ndim >= 2 and b.ndim >= 2:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ShapeError(f"matmul: batch dims of shapes {a.shape} and {b.shape} don't "
                             "broadcast") from None
        return apply(op("matmul"), a, b)
    from .shape import reshape

    if a.ndim == 1 and b.ndim == 1:
        return reshape(apply(op("matmul"), reshape(a, (1, -1)), reshape(b, (-1, 1))), ())
    if a.ndim == 1:
        out = apply(op("matmul"), reshape(a, (1, -1)), b)
        return reshape(out, out.shape[:-2] + out.shape[-1:])
    out = apply(op("matmul"), a, reshape(b, (-1, 1)))
    return reshape(out, out.shape[:-1])


def dot(input, other):  # noqa: A002
    a, b = as_tensor(input), as_tensor(other)
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"dot: expected two 1-D tensors, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def mv(input, vec):  # noqa: A002
    a, v = as_tensor(input), as_tensor(vec)
    if a.ndim != 2 or v.ndim != 1:
        raise ShapeError(f"mv: expected a 2-D matrix and a 1-D vector, got shapes {a.shape} and "
                         f"{v.shape}")
    return matmul(a, v)


def mm(input, mat2):  # noqa: A002
    a, b = as_tensor(input), as_tensor(mat2)
    if a.ndim != 2 or b.ndim != 2:
        raise ShapeError(f"mm: expected two 2-D tensors, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def bmm(input, mat2):  # noqa: A002
    a, b = as_tensor(input), as_tensor(mat2)
    if a.ndim != 3 or b.ndim != 3:
        raise ShapeError(f"bmm: expected two 3-D tensors, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def outer(input, vec2):  # noqa: A002
    from .shape import reshape

    a, b = binary_args(input, vec2)
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


ger = outer


def einsum(subscripts, *operands):
    """Einstein summation, e.g. ``einsum('bij,bjk->bik', a, b)`` (no ellipsis)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    ts = [as_tensor(o) for o in operands]
    if len({t.dtype for t in ts}) > 1:
        dt = np.result_type(*[t.dtype for t in ts])
        ts = [as_tensor(t, dt) for t in ts]
    ins_sub, _ = _parse(subscripts, len(ts))
    for i, (s, t) in enumerate(zip(ins_sub, ts)):
        if len(s) != t.ndim:
            raise ShapeError(f"einsum: operand {i} has shape {t.shape} but subscripts '{s}' "
                             f"name {len(s)} dims")
    try:
        return apply(op("einsum"), *ts, subscripts=subscripts.replace(" ", ""))
    except ValueError as e:
        raise ShapeError(f"einsum: shapes {[t.shape for t in ts]} don't fit '{subscripts}': {e}") \
            from None


def linear(input, weight, bias=None):  # noqa: A002
    """``input @ weight.T + bias``, the map of ``nn.Linear``, as one fused primitive.

    ``weight`` has shape (out_features, in_features); ``input`` (..., in_features).
    """
    x = as_tensor(input)
    w = as_tensor(weight)
    if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ShapeError(f"linear: 'input' of shape {x.shape} doesn't fit 'weight' of shape "
                         f"{w.shape}: expected input with last dim {w.shape[-1]}")
    if x.dtype != w.dtype:
        x, w = binary_args(x, w)
    if bias is None:
        return apply(op("linear"), x, w)
    b = as_tensor(bias, w.dtype)
    if b.shape != (w.shape[0],):
        raise ShapeError(f"linear: 'bias' expected shape ({w.shape[0]},), got {b.shape}")
    return apply(op("linear"), x, w, b)
