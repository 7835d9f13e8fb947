"""Shape and indexing ops.

Primitives (reshape, permute, broadcast_to, getitem and its transpose add_at, cat, pad, flip,
roll, gather and its transpose) carry the rules; the rest of the API (squeeze, stack, split,
tile, index_select, masked_fill, tril, diagonal, ...) is composed from them, so it is
differentiable in both modes with no rules of its own.
"""

from __future__ import annotations

import operator

import numpy as np

from ..core import npns
from ..core.dispatch import apply
from ..core.registry import explicit, linear
from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor, _index_key
from ._util import as_tensor, dim_arg, norm_dim, op

S = dict

# -- primitives ------------------------------------------------------------------------------
linear("reshape", lambda x, shape: x.reshape(shape), lambda xp, g, out, ins, needs, shape:
       (xp.reshape(g, ins[0].shape),),
       samples=[S(args=[(3, 4)], attrs=dict(shape=(2, 6))),
                S(args=[(2, 3, 4)], attrs=dict(shape=(6, 4)))])
linear("permute", lambda x, axes: x.transpose(axes), lambda xp, g, out, ins, needs, axes:
       (xp.transpose(g, tuple(sorted(range(len(axes)), key=axes.__getitem__))),),
       samples=[S(args=[(2, 3, 4)], attrs=dict(axes=(2, 0, 1))),
                S(args=[(3, 4)], attrs=dict(axes=(1, 0)))])
# The engine sums a cotangent back to its input's shape: broadcasting needs no rule of its own.
linear("broadcast_to", np.broadcast_to, lambda xp, g, out, ins, needs, shape: (g,),
       samples=[S(args=[(3, 1)], attrs=dict(shape=(2, 3, 4)))])


def _getitem_fwd(x, key):
    return x[key]


linear("getitem", _getitem_fwd, lambda xp, g, out, ins, needs, key:
       (xp.add_at(ins[0].shape, key, g),),
       samples=[S(args=[(4, 5)], attrs=dict(key=(slice(1, 3), 2))),
                S(args=[(4, 5)], attrs=dict(key=(np.array([0, 2, 2]),))),
                S(args=[(4, 5)], attrs=dict(key=(Ellipsis, None, slice(None, None, 2)))),
                S(args=[(3, 4)], attrs=dict(key=(np.array([[True, False, True, True]] * 3),)))])


def _add_at_fwd(g, key, shape):
    return npns.add_at(shape, key, g)


linear("add_at", _add_at_fwd, lambda xp, g, out, ins, needs, key, shape: (g[key],),
       samples=[S(args=[(3,)], attrs=dict(key=(np.array([0, 2, 2]),), shape=(4,)))])


def _cat_fwd(*xs, axis):
    return np.concatenate(xs, axis=axis)


def _cat_vjp(xp, g, out, ins, needs, axis):
    res = []
    start = 0
    lead = (slice(None),) * axis
    for x, nd in zip(ins, needs):
        n = x.shape[axis]
        res.append(g[lead + (slice(start, start + n),)] if nd else None)
        start += n
    return tuple(res)


def _cat_jvp(xp, ts, out, ins, axis):
    if all(t is None for t in ts):
        return None
    ts = [xp.zeros_like(x) if t is None else t for t, x in zip(ts, ins)]
    return xp.apply("cat", *ts, axis=axis)


explicit("cat", _cat_fwd, _cat_vjp, _cat_jvp,
         samples=[S(args=[(2, 3), (4, 3)], attrs=dict(axis=0)),
                  S(args=[(2, 3), (2, 1), (2, 2)], attrs=dict(axis=1))])


def _pad_fwd(x, widths, value=0.0):
    return np.pad(x, widths, mode="constant", constant_values=value)


def _pad_vjp(xp, g, out, ins, needs, widths, value=0.0):
    key = tuple(slice(a, a + n) for (a, b), n in zip(widths, ins[0].shape))
    return (g[key],)


def _pad_jvp(xp, ts, out, ins, widths, value=0.0):
    return xp.apply("pad", ts[0], widths=widths, value=0.0)


explicit("pad", _pad_fwd, _pad_vjp, _pad_jvp,
         samples=[S(args=[(3, 4)], attrs=dict(widths=((1, 0), (2, 1)), value=0.5))])
linear("flip", lambda x, axis: np.flip(x, axis),
       lambda xp, g, out, ins, needs, axis: (xp.flip(g, axis),),
       samples=[S(args=[(3, 4)], attrs=dict(axis=(1,))), S(args=[(3, 4)], attrs=dict(axis=(0, 1)))])
linear("roll", lambda x, shift, axis: np.roll(x, shift, axis),
       lambda xp, g, out, ins, needs, shift, axis: (xp.roll(g, _neg(shift), axis),),
       samples=[S(args=[(3, 4)], attrs=dict(shift=1, axis=1)),
                S(args=[(3, 4)], attrs=dict(shift=(1, -2), axis=(0, 1)))])


def _neg(shift):
    return tuple(-s for s in shift) if isinstance(shift, tuple) else -shift


linear("gather", lambda x, axis, index: np.take_along_axis(x, index, axis=axis),
       lambda xp, g, out, ins, needs, axis, index:
       (xp.scatter_add(ins[0].shape, axis, index, g),),
       samples=[S(args=[(3, 4)], attrs=dict(axis=1, index=np.array([[0, 0], [3, 1], [2, 2]]))),
                S(args=[(3, 4)], attrs=dict(axis=0, index=np.array([[0, 1, 2, 2]])))])
linear("scatter_add_into", lambda src, shape, axis, index: npns.scatter_add(shape, axis, index,
                                                                             src),
       lambda xp, g, out, ins, needs, shape, axis, index: (xp.gather(g, axis, index),),
       samples=[S(args=[(3, 2)], attrs=dict(shape=(3, 4), axis=1,
                                            index=np.array([[0, 0], [3, 1], [2, 2]])))])


# -- front-end ---------------------------------------------------------------------------------
def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _resolve_shape(shape, size):
    """``shape`` as a tuple of ints with its one -1 (if any) worked out, or None when no such
    shape holds exactly ``size`` elements. Plain arithmetic on the dims, where numpy would
    work it out by reshaping an empty array of the input's shape: a shape-changing reshape
    costs 4.4 -> 1.9 us with it (and the array method in the forward rule)."""
    dims = [operator.index(s) for s in shape]
    known, free = 1, None
    for i, s in enumerate(dims):
        if s >= 0:
            known *= s
        elif s == -1 and free is None:
            free = i
        else:  # below -1, or a second -1
            return None
    if free is None:
        return tuple(dims) if known == size else None
    if known == 0 or size % known:
        return None
    dims[free] = size // known
    return tuple(dims)


def reshape(input, *shape):  # noqa: A002
    """A tensor of the same values in a new shape (one dim may be -1)."""
    x = as_tensor(input)
    shape = _shape_args(shape)
    try:
        new = _resolve_shape(shape, x.data.size)
    except TypeError:
        raise ArgumentError(f"reshape: argument 'shape' expected integers, got {shape}") \
            from None
    if new is None:
        raise ShapeError(f"reshape: argument 'shape' expected a shape with {x.data.size} "
                         f"elements (input shape {x.shape}), got {shape}")
    if new == x.shape:
        return x
    return apply(op("reshape"), x, shape=new)


view = reshape


def flatten(input, start_dim=0, end_dim=-1):  # noqa: A002
    x = as_tensor(input)
    if x.ndim == 0:
        return reshape(x, (1,))
    s = norm_dim("flatten", start_dim, x.ndim)
    e = norm_dim("flatten", end_dim, x.ndim)
    return reshape(x, x.shape[:s] + (-1,) + x.shape[e + 1:])


def unflatten(input, dim, sizes):  # noqa: A002
    x = as_tensor(input)
    d = norm_dim("unflatten", dim, x.ndim)
    return reshape(x, x.shape[:d] + tuple(sizes) + x.shape[d + 1:])


def permute(input, *dims):  # noqa: A002
    x = as_tensor(input)
    dims = _shape_args(dims)
    if len(dims) != x.ndim or sorted(d % max(x.ndim, 1) for d in dims) != list(range(x.ndim)):
        raise ShapeError(f"permute: argument 'dims' expected a permutation of {x.ndim} dims "
                         f"(input shape {x.shape}), got {dims}")
    axes = tuple(d % x.ndim for d in dims)
    if axes == tuple(range(x.ndim)):
        return x
    return apply(op("permute"), x, axes=axes)


def transpose(input, dim0=-2, dim1=-1):  # noqa: A002
    """Swap two dims (the last two by default)."""
    x = as_tensor(input)
    if x.ndim < 2:
        return x
    a, b = norm_dim("transpose", dim0, x.ndim), norm_dim("transpose", dim1, x.ndim)
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return permute(x, axes)


swapaxes = swapdims = transpose


def movedim(input, source, destination):  # noqa: A002
    x = as_tensor(input)
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [norm_dim("movedim", s, x.ndim) for s in src]
    dst = [norm_dim("movedim", d, x.ndim) for d in dst]
    order = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(x, order)


moveaxis = movedim


def squeeze(input, dim=None, *, axis=None):  # noqa: A002
    x = as_tensor(input)
    d = dim_arg("squeeze", dim, axis)
    if d is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    dims = (d,) if isinstance(d, int) else tuple(d)
    dims = {norm_dim("squeeze", i, x.ndim) for i in dims}
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in dims and s == 1)))


def unsqueeze(input, dim):  # noqa: A002
    x = as_tensor(input)
    d = norm_dim("unsqueeze", dim, x.ndim + 1)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def expand_dims(input, axis):  # noqa: A002
    x = as_tensor(input)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    nd = x.ndim + len(axes)
    axes = sorted(a % nd for a in axes)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return reshape(x, tuple(shape))


def broadcast_to(input, *shape):  # noqa: A002
    x = as_tensor(input)
    shape = _shape_args(shape)
    if len(shape) < x.ndim:
        raise ShapeError(f"broadcast_to: argument 'shape' expected at least {x.ndim} dims, got "
                         f"{shape} for input shape {x.shape}")
    lead = len(shape) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    try:
        np.broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ShapeError(f"broadcast_to: can't broadcast input shape {x.shape} to {shape}") \
            from None
    if shape == x.shape:
        return x
    return apply(op("broadcast_to"), x, shape=shape)


def expand(input, *sizes):  # noqa: A002
    return broadcast_to(input, *sizes)


def broadcast_tensors(*tensors):
    ts = [as_tensor(t) for t in tensors]
    shape = np.broadcast_shapes(*[t.shape for t in ts])
    return tuple(broadcast_to(t, shape) for t in ts)


def getitem(input, key):  # noqa: A002
    """``input[key]``: ints, slices, None, Ellipsis, integer arrays and boolean masks."""
    x = as_tensor(input)
    key = _index_key(key)
    if not isinstance(key, tuple):
        key = (key,)
    key = tuple(np.asarray(k) if isinstance(k, list) else k for k in key)
    try:
        out = apply(op("getitem"), x, key=key)
    except IndexError as e:
        raise ShapeError(f"getitem: index {_fmt_key(key)} doesn't fit a tensor of shape "
                         f"{x.shape}: {e}") from None
    return out


def _fmt_key(key):
    return "[" + ", ".join(f"array{k.shape}" if isinstance(k, np.ndarray) else repr(k)
                           for k in key) + "]"


def add_at(shape, key, src):
    return apply(op("add_at"), as_tensor(src), key=key, shape=tuple(shape))


def cat(tensors, dim=0, *, axis=None):
    """Concatenate along an existing dim."""
    ts = [as_tensor(t) for t in tensors]
    if not ts:
        raise ArgumentError("cat: argument 'tensors' expected a non-empty sequence")
    d = dim_arg("cat", dim if axis is None else None, axis, 0)
    nd = ts[0].ndim
    d = norm_dim("cat", d, nd)
    for i, t in enumerate(ts):
        if t.ndim != nd or t.shape[:d] + t.shape[d + 1:] != ts[0].shape[:d] + ts[0].shape[d + 1:]:
            raise ShapeError(f"cat: tensors must match except in dim {d}; tensor 0 has shape "
                             f"{ts[0].shape}, tensor {i} has shape {t.shape}")
    dt = ts[0].dtype
    if any(t.dtype != dt for t in ts):
        dt = np.result_type(*[t.dtype for t in ts])
        ts = [as_tensor(t, dt) for t in ts]
    if len(ts) == 1:
        return ts[0]
    return apply(op("cat"), *ts, axis=d)


concatenate = concat = cat


def stack(tensors, dim=0, *, axis=None):
    """Join tensors of equal shape along a new dim."""
    ts = [as_tensor(t) for t in tensors]
    if not ts:
        raise ArgumentError("stack: argument 'tensors' expected a non-empty sequence")
    for i, t in enumerate(ts):
        if t.shape != ts[0].shape:
            raise ShapeError(f"stack: all tensors must have the same shape; tensor 0 has shape "
                             f"{ts[0].shape}, tensor {i} has shape {t.shape}")
    d = dim_arg("stack", dim if axis is None else None, axis, 0)
    d = norm_dim("stack", d, ts[0].ndim + 1)
    return cat([unsqueeze(t, d) for t in ts], d)


def _narrow(x, d, start, stop):
    return getitem(x, (slice(None),) * d + (slice(start, stop),))


def narrow(input, dim, start, length):  # noqa: A002
    x = as_tensor(input)
    d = norm_dim("narrow", dim, x.ndim)
    return _narrow(x, d, start, start + length)


def split(tensor, split_size_or_sections, dim=0):
    """Split into chunks of a given size, or of the given list of sizes."""
    x = as_tensor(tensor)
    d = norm_dim("split", dim, x.ndim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, int):
        s = split_size_or_sections
        if s <= 0:
            raise ArgumentError(f"split: argument 'split_size' expected a positive int, got {s}")
        sizes = [s] * (n // s) + ([n % s] if n % s else [])
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ShapeError(f"split: sizes {sizes} must sum to dim {d}'s size {n}")
    out, start = [], 0
    for s in sizes:
        out.append(_narrow(x, d, start, start + s))
        start += s
    return tuple(out)


def chunk(input, chunks, dim=0):  # noqa: A002
    x = as_tensor(input)
    d = norm_dim("chunk", dim, x.ndim)
    n = x.shape[d]
    size = -(-n // chunks)
    return split(x, max(size, 1), d)


def unbind(input, dim=0):  # noqa: A002
    x = as_tensor(input)
    d = norm_dim("unbind", dim, x.ndim)
    return tuple(getitem(x, (slice(None),) * d + (i,)) for i in range(x.shape[d]))


def pad(input, pad, mode="constant", value=0.0):  # noqa: A002
    """Pad the last dims: ``pad=(left, right, top, bottom, ...)`` as PyTorch (last dim first).

    Modes: 'constant', 'reflect', 'replicate' and 'circular'.
    """
    x = as_tensor(input)
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ShapeError(f"pad: argument 'pad' expected an even number of values for at most "
                         f"{x.ndim} dims, got {pad}")
    k = len(pad) // 2
    widths = [(0, 0)] * (x.ndim - k) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(k))]
    if mode == "constant":
        if all(a == 0 and b == 0 for a, b in widths):
            return x
        if any(a < 0 or b < 0 for a, b in widths):
            key = tuple(slice(-a if a < 0 else 0, n + b if b < 0 else n)
                        for (a, b), n in zip(widths, x.shape))
            x = getitem(x, key)
            widths = [(max(a, 0), max(b, 0)) for a, b in widths]
        return apply(op("pad"), x, widths=tuple(widths), value=value)
    if mode not in ("reflect", "replicate", "circular"):
        raise ArgumentError(f"pad: argument 'mode' expected 'constant', 'reflect', 'replicate' "
                            f"or 'circular', got {mode!r}")
    np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    for d, (a, b) in enumerate(widths):
        if a == 0 and b == 0:
            continue
        n = x.shape[d]
        if mode == "reflect" and (a >= n or b >= n):
            raise ShapeError(f"pad: reflect padding ({a}, {b}) must be smaller than the dim's "
                             f"size {n} (input shape {x.shape})")
        idx = np.pad(np.arange(n), (a, b), mode=np_mode)
        x = getitem(x, (slice(None),) * d + (idx,))
    return x


def flip(input, dims):  # noqa: A002
    x = as_tensor(input)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return apply(op("flip"), x, axis=tuple(norm_dim("flip", d, x.ndim) for d in dims))


def roll(input, shifts, dims=None):  # noqa: A002
    x = as_tensor(input)
    if dims is None:
        return reshape(roll(flatten(x), shifts, 0), x.shape)
    if isinstance(shifts, int):
        shifts, dims = (shifts,), (dims,) if isinstance(dims, int) else tuple(dims)
    dims = tuple(norm_dim("roll", d, x.ndim) for d in (dims if isinstance(dims, tuple)
                                                          else (dims,)))
    return apply(op("roll"), x, shift=tuple(shifts), axis=dims)


def tile(input, dims):  # noqa: A002
    """Repeat the whole tensor ``dims[i]`` times along each dim (as ``torch.tile``)."""
    x = as_tensor(input)
    reps = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(reps) < x.ndim:
        reps = (1,) * (x.ndim - len(reps)) + reps
    if len(reps) > x.ndim:
        x = reshape(x, (1,) * (len(reps) - x.ndim) + x.shape)
    inter = []
    for s in x.shape:
        inter += [1, s]
    target = []
    for r, s in zip(reps, x.shape):
        target += [r, s]
    y = broadcast_to(reshape(x, tuple(inter)), tuple(target))
    return reshape(y, tuple(r * s for r, s in zip(reps, x.shape)))


def repeat(input, *sizes):  # noqa: A002
    """``torch.Tensor.repeat``: tile the tensor by ``sizes``."""
    return tile(input, _shape_args(sizes))


def repeat_interleave(input, repeats, dim=None):  # noqa: A002
    x = as_tensor(input)
    if dim is None:
        x, dim = flatten(x), 0
    d = norm_dim("repeat_interleave", dim, x.ndim)
    reps = repeats.data if isinstance(repeats, Tensor) else repeats
    idx = np.repeat(np.arange(x.shape[d]), reps)
    return getitem(x, (slice(None),) * d + (idx,))


def _index_array(name, index):
    idx = index.data if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        from ..errors import DTypeError

        raise DTypeError(f"{name}: argument 'index' expected an integer tensor, got dtype "
                         f"{idx.dtype}")
    return idx.astype(np.int64, copy=False)


def _check_range(name, idx, n, d, shape):
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise ShapeError(f"{name}: index out of range for dim {d} of size {n} (input shape "
                         f"{shape}); got indices from {idx.min()} to {idx.max()}")


def index_select(input, dim, index):  # noqa: A002
    x = as_tensor(input)
    d = norm_dim("index_select", dim, x.ndim)
    idx = _index_array("index_select", index)
    _check_range("index_select", idx, x.shape[d], d, x.shape)
    return getitem(x, (slice(None),) * d + (idx.reshape(-1),))


def gather(input, dim, index):  # noqa: A002
    """Values along ``dim`` at ``index`` (same ndim as input), as ``torch.gather``."""
    x = as_tensor(input)
    d = norm_dim("gather", dim, x.ndim)
    idx = _index_array("gather", index)
    if idx.ndim != x.ndim:
        raise ShapeError(f"gather: argument 'index' expected {x.ndim} dims like the input "
                         f"(shape {x.shape}), got shape {idx.shape}")
    _check_range("gather", idx, x.shape[d], d, x.shape)
    if any(i > s for k, (i, s) in enumerate(zip(idx.shape, x.shape)) if k != d):
        x = getitem(x, tuple(slice(0, i) if k != d else slice(None)
                             for k, i in enumerate(idx.shape)))
    elif idx.shape[:d] + idx.shape[d + 1:] != x.shape[:d] + x.shape[d + 1:]:
        x = getitem(x, tuple(slice(0, i) if k != d else slice(None)
                             for k, i in enumerate(idx.shape)))
    return apply(op("gather"), x, axis=d, index=idx % x.shape[d])


def take_along_dim(input, indices, dim=None):  # noqa: A002
    """``numpy.take_along_axis`` with broadcasting of the index."""
    x = as_tensor(input)
    idx = _index_array("take_along_dim", indices)
    if dim is None:
        return apply(op("gather"), flatten(x), axis=0, index=idx.reshape(-1))
    d = norm_dim("take_along_dim", dim, x.ndim)
    shape_x = list(x.shape)
    shape_i = list(idx.shape)
    shape_x[d] = shape_i[d] = 1
    b = np.broadcast_shapes(tuple(shape_x), tuple(shape_i))
    xs = list(b)
    xs[d] = x.shape[d]
    is_ = list(b)
    is_[d] = idx.shape[d]
    x = broadcast_to(x, tuple(xs))
    idx = np.broadcast_to(idx, tuple(is_))
    _check_range("take_along_dim", idx, x.shape[d], d, x.shape)
    return apply(op("gather"), x, axis=d, index=idx % x.shape[d])


def scatter_add(input, dim, index, src):  # noqa: A002
    """``input`` plus ``src`` added at ``index`` along ``dim``."""
    x = as_tensor(input)
    d = norm_dim("scatter_add", dim, x.ndim)
    idx = _index_array("scatter_add", index)
    _check_range("scatter_add", idx, x.shape[d], d, x.shape)
    s = as_tensor(src, x.dtype)
    if s.shape != idx.shape:
        s = getitem(s, tuple(slice(0, i) for i in idx.shape))
    return x + apply(op("scatter_add_into"), s, shape=x.shape, axis=d, index=idx % x.shape[d])


def scatter(input, dim, index, src=None, value=None):  # noqa: A002
    """``input`` with the entries at ``index`` along ``dim`` replaced by ``src`` (or ``value``).

    With repeated indices the written values are summed (PyTorch leaves that case undefined).
    """
    x = as_tensor(input)
    d = norm_dim("scatter", dim, x.ndim)
    idx = _index_array("scatter", index)
    _check_range("scatter", idx, x.shape[d], d, x.shape)
    idx = idx % x.shape[d]
    if src is None:
        src = value
    if not isinstance(src, Tensor):
        src = Tensor._wrap(np.full(idx.shape, src, dtype=x.dtype))
    s = as_tensor(src, x.dtype)
    if s.shape != idx.shape:
        s = getitem(s, tuple(slice(0, i) for i in idx.shape))
    hit = npns.scatter_add(x.shape, d, idx, np.ones(idx.shape, dtype=x.dtype)) > 0
    keep = Tensor._wrap(~hit)
    return x * keep + apply(op("scatter_add_into"), s, shape=x.shape, axis=d, index=idx)


def masked_fill(input, mask, value):  # noqa: A002
    """``value`` where ``mask`` is True, else ``input``."""
    from .elementwise import where

    x = as_tensor(input)
    m = as_tensor(mask)
    if m.dtype != np.bool_:
        from ..errors import DTypeError

        raise DTypeError(f"masked_fill: argument 'mask' expected a bool tensor, got dtype "
                         f"{m.dtype}")
    v = value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value, dtype=x.dtype))
    return where(m, v, x)


def masked_select(input, mask):  # noqa: A002
    x = as_tensor(input)
    m = as_tensor(mask).data
    shape = np.broadcast_shapes(x.shape, m.shape)
    x = broadcast_to(x, shape)
    return getitem(x, (np.broadcast_to(m, shape),))


def _tri(name, x, diagonal, lower):
    from .elementwise import where

    x = as_tensor(x)
    if x.ndim < 2:
        raise ShapeError(f"{name}: expected a tensor with at least 2 dims, got shape {x.shape}")
    n, m = x.shape[-2:]
    mask = np.tri(n, m, k=diagonal, dtype=bool)
    if not lower:
        mask = ~np.tri(n, m, k=diagonal - 1, dtype=bool)
    return where(Tensor._wrap(mask), x, Tensor._wrap(np.zeros((), x.dtype)))


def tril(input, diagonal=0):  # noqa: A002
    return _tri("tril", input, diagonal, True)


def triu(input, diagonal=0):  # noqa: A002
    return _tri("triu", input, diagonal, False)


def diagonal(input, offset=0, dim1=0, dim2=1):  # noqa: A002
    """The diagonal over dims ``dim1`` and ``dim2``, moved to the last dim (as PyTorch)."""
    x = as_tensor(input)
    x = movedim(x, (dim1, dim2), (-2, -1))
    n, m = x.shape[-2:]
    if offset >= 0:
        k = max(min(n, m - offset), 0)
        rows, cols = np.arange(k), np.arange(k) + offset
    else:
        k = max(min(n + offset, m), 0)
        rows, cols = np.arange(k) - offset, np.arange(k)
    return getitem(x, (Ellipsis, rows, cols))


def diag_embed(input):  # noqa: A002
    x = as_tensor(input)
    n = x.shape[-1]
    eye = Tensor._wrap(np.eye(n, dtype=x.dtype))
    return unsqueeze(x, -1) * eye
