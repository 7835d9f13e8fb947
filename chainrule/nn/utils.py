"""Gradient clipping and parameter/vector conversion, as ``torch.nn.utils``.

Clipping rebinds each gradient to a new scaled array (``p.grad.data = p.grad.data * coef``)
instead of scaling in place, because one gradient array can be shared between leaves.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import memory_order
from ..core.state import untraceable
from ..errors import ArgumentError, NumericalError, ShapeError
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "parameters_to_vector",
           "vector_to_parameters"]


def _params(parameters, fn):
    if isinstance(parameters, Tensor):
        return [parameters]
    try:
        return list(parameters)
    except TypeError:
        raise ArgumentError(f"{fn}: argument 'parameters' expected a Tensor or an iterable of "
                            f"Tensors, got {type(parameters).__name__}") from None


def _unique_grads(params):
    seen, out = set(), []
    for p in params:
        g = p.grad
        if g is None or id(g) in seen:
            continue
        seen.add(id(g))
        out.append(g)
    return out


def _norm(arr, p):
    if p == math.inf:
        return float(np.max(np.abs(arr))) if arr.size else 0.0
    if p == -math.inf:
        return float(np.min(np.abs(arr))) if arr.size else math.inf
    flat = arr.reshape(-1)
    if p == 2:
        return math.sqrt(float(np.dot(flat, flat)))
    if p == 1:
        return float(np.abs(flat).sum())
    if p == 0:
        return float(np.count_nonzero(flat))
    return float((np.abs(flat) ** p).sum()) ** (1.0 / p)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False):
    """The ``norm_type``-norm of all the given tensors' entries taken together.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.utils import get_total_norm
    >>> get_total_norm([cr.tensor([3.0]), cr.tensor([4.0])]).item()
    5.0
    """
    p = float(norm_type)
    arrs = [t.data if isinstance(t, Tensor) else np.asarray(t) for t in tensors]
    if not arrs:
        return Tensor._wrap(np.array(0.0, dtype=np.float32))
    dtype = np.result_type(*[a.dtype for a in arrs])
    norms = np.array([_norm(a, p) for a in arrs], dtype=np.float64)
    total = _norm(norms, p)
    if error_if_nonfinite and not math.isfinite(total):
        raise NumericalError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                             f"gradients is {total}, so they can't be clipped; pass "
                             "error_if_nonfinite=False to proceed anyway")
    return Tensor._wrap(np.array(total, dtype=dtype))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scale the gradients so that their joint norm is at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``: the total norm is the norm of the per-tensor norms;
    gradients are scaled by ``min(1, max_norm / (total + 1e-6))``. Parameters without a gradient
    are skipped.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
    max_norm : float
        Largest allowed norm (>= 0).
    norm_type : float
        Order of the norm (``float('inf')`` for the largest absolute entry).
    error_if_nonfinite : bool
        Raise if the total norm is NaN or infinite.
    foreach : ignored
        Accepted for PyTorch compatibility.

    Returns
    -------
    Tensor
        The total norm of the gradients before clipping.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.utils import clip_grad_norm_
    >>> w = cr.zeros(2, requires_grad=True)
    >>> w.grad = cr.tensor([3.0, 4.0])
    >>> clip_grad_norm_([w], max_norm=1.0).item()
    5.0
    >>> [round(v, 4) for v in w.grad.tolist()]
    [0.6, 0.8]
    """
    untraceable("gradient clipping (done outside the ops)")
    params = _params(parameters, "clip_grad_norm_")
    max_norm = float(max_norm)
    if math.isnan(max_norm) or max_norm < 0:
        raise ArgumentError(f"clip_grad_norm_: argument 'max_norm' expected a number >= 0, got "
                            f"{max_norm}")
    grads = _unique_grads(params)
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if not grads:
        return total
    coef = max_norm / (float(total.data) + 1e-6)
    if coef < 1.0:
        for g in grads:
            g.data = g.data * np.asarray(coef, dtype=g.data.dtype)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient entry to ``[-clip_value, clip_value]``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.utils import clip_grad_value_
    >>> w = cr.zeros(3, requires_grad=True)
    >>> w.grad = cr.tensor([-5.0, 0.5, 5.0])
    >>> clip_grad_value_([w], 1.0)
    >>> w.grad.tolist()
    [-1.0, 0.5, 1.0]
    """
    untraceable("gradient clipping (done outside the ops)")
    params = _params(parameters, "clip_grad_value_")
    c = float(clip_value)
    if math.isnan(c) or c < 0:
        raise ArgumentError(f"clip_grad_value_: argument 'clip_value' expected a number >= 0, "
                            f"got {clip_value}")
    for g in _unique_grads(params):
        g.data = np.clip(g.data, -c, c).astype(g.data.dtype, copy=False)


def parameters_to_vector(parameters):
    """All parameters flattened and joined into one 1-d tensor (a copy, outside the graph).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.utils import parameters_to_vector
    >>> parameters_to_vector([cr.ones(2, 2), cr.zeros(3)]).shape
    (7,)
    """
    params = _params(parameters, "parameters_to_vector")
    if not params:
        return Tensor._wrap(np.zeros(0, dtype=np.float32))
    return Tensor._wrap(np.concatenate([p.data.reshape(-1) for p in params]))


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-d ``vec`` into the parameters, in place.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.utils import vector_to_parameters
    >>> a, b = cr.zeros(2), cr.zeros(1)
    >>> vector_to_parameters(cr.tensor([1.0, 2.0, 3.0]), [a, b])
    >>> b.tolist()
    [3.0]
    """
    untraceable("parameters rewritten outside the ops")
    v = vec.data if isinstance(vec, Tensor) else np.asarray(vec)
    params = _params(parameters, "vector_to_parameters")
    n = sum(p.data.size for p in params)
    if v.ndim != 1 or v.size != n:
        raise ShapeError(f"vector_to_parameters: argument 'vec' expected a 1-d tensor of {n} "
                         f"entries, got shape {v.shape}")
    off = 0
    for p in params:
        k = p.data.size
        p.data = np.array(v[off:off + k].reshape(p.data.shape), dtype=p.data.dtype,
                          order=memory_order(p.data))  # a copy, in the parameter's layout
        off += k
