"""Weight penalties to add to a loss: ``l1_penalty`` (sum of |w|) and ``l2_penalty`` (sum of
w^2), both differentiable.

By default only weights count: biases (parameters named ``bias`` or ``bias_*``, e.g. an RNN's
``bias_ih_l0``) and the parameters of normalisation layers (LayerNorm, BatchNorm, GroupNorm)
are left out, because penalising them does not reduce a model's capacity the way shrinking
weights does. Ask for them with ``include_bias=True`` / ``include_norm=True``.

>>> import chainrule as cr
>>> net = cr.nn.Linear(3, 2)
>>> loss = (net(cr.ones(4, 3)) ** 2).mean() + 1e-3 * cr.nn.l2_penalty(net)
>>> loss.backward()
"""

from __future__ import annotations

from ..errors import ArgumentError
from ..ops import elementwise as _E
from ..ops import reduce as _R
from .module import Module
from .norm import GroupNorm, LayerNorm, _BatchNorm


def _is_bias(name):
    return name == "bias" or name.startswith("bias_") or name.endswith("_bias")


def penalized_parameters(module, include_bias=False, include_norm=False):
    """The ``(name, parameter)`` pairs a penalty covers (shared parameters once)."""
    if not isinstance(module, Module):
        raise ArgumentError(f"penalty: expected an nn.Module, got {type(module).__name__}")
    seen = set()
    out = []
    for mname, m in module.named_modules():
        is_norm = isinstance(m, (LayerNorm, _BatchNorm, GroupNorm))
        for pname, p in m._parameters.items():
            if p is None or id(p) in seen or not p.requires_grad:
                continue
            if is_norm and not include_norm:
                continue
            if _is_bias(pname) and not include_bias and not is_norm:
                continue
            seen.add(id(p))
            out.append((f"{mname}.{pname}" if mname else pname, p))
    return out


def _total(terms):
    total = None
    for t in terms:
        total = t if total is None else total + t
    if total is None:
        from ..creation import tensor

        return tensor(0.0)
    return total


def l1_penalty(module, include_bias=False, include_norm=False):
    """``sum |w|`` over the module's weights (see the module docstring for what counts).

    >>> import chainrule as cr
    >>> lin = cr.nn.Linear(2, 1, bias=False)
    >>> lin.weight.data[...] = [[1.0, -2.0]]
    >>> cr.nn.l1_penalty(lin).item()
    3.0
    """
    return _total(_R.sum(_E.abs(p)) for _, p in
                  penalized_parameters(module, include_bias, include_norm))


def l2_penalty(module, include_bias=False, include_norm=False):
    """``sum w^2`` over the module's weights (no factor 1/2; scale it in the loss).

    >>> import chainrule as cr
    >>> lin = cr.nn.Linear(2, 1, bias=False)
    >>> lin.weight.data[...] = [[1.0, -2.0]]
    >>> cr.nn.l2_penalty(lin).item()
    5.0
    """
    return _total(_R.sum(p * p) for _, p in
                  penalized_parameters(module, include_bias, include_norm))
