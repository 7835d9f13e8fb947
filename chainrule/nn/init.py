"""``chainrule.nn.init``: weight initialisation, as ``torch.nn.init`` plus the course notes'
schemes.

Every function fills a tensor in place (keeping its dtype), returns it, and draws from
``generator=`` (default: the global default generator, reseeded by ``cr.manual_seed``), so the
same seed gives the same weights.

>>> import chainrule as cr
>>> w = cr.empty(3, 4)
>>> _ = cr.nn.init.xavier_uniform_(w, generator=cr.Generator().manual_seed(0))
>>> bool((w.abs() <= (6 / 7) ** 0.5).all())
True
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ArgumentError, ShapeError
from ..random import _gen
from ..tensor import Tensor


def _fill(tensor, values):
    tensor.data[...] = np.asarray(values).astype(tensor.data.dtype, copy=False)
    return tensor


def _check(name, tensor):
    if not isinstance(tensor, Tensor):
        raise ArgumentError(f"init.{name}: expected a Tensor or Parameter, got "
                            f"{type(tensor).__name__}")


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    linear/conv/sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu: sqrt(2 / (1 + slope^2))
    (slope 0.01 by default); selu: 3/4.

    >>> round(calculate_gain("relu"), 4)
    1.4142
    """
    linear_fns = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d", "sigmoid", "identity")
    if nonlinearity in linear_fns:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ArgumentError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ArgumentError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    if tensor.ndim < 2:
        raise ShapeError(f"init: fan in and fan out need a tensor with at least 2 dims, got "
                         f"shape {tuple(tensor.shape)}")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ArgumentError(f"init: mode must be 'fan_in' or 'fan_out', got {mode!r}")


# -- constants and plain distributions -----------------------------------------------------------
def zeros_(tensor):
    """Fill with 0."""
    _check("zeros_", tensor)
    return _fill(tensor, 0)


def ones_(tensor):
    """Fill with 1."""
    _check("ones_", tensor)
    return _fill(tensor, 1)


def constant_(tensor, val):
    """Fill with ``val``."""
    _check("constant_", tensor)
    return _fill(tensor, val)


def eye_(tensor):
    """Fill a 2-D tensor with the identity."""
    if tensor.ndim != 2:
        raise ShapeError(f"init.eye_: expected a 2-D tensor, got shape {tuple(tensor.shape)}")
    return _fill(tensor, np.eye(*tensor.shape))


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with draws from ``U(a, b)``.

    >>> import chainrule as cr
    >>> w = uniform_(cr.empty(100), -0.1, 0.1)
    >>> bool((w.abs() <= 0.1).all())
    True
    """
    _check("uniform_", tensor)
    return _fill(tensor, _gen(generator).uniform(a, b, tensor.shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with draws from ``N(mean, std^2)``."""
    _check("normal_", tensor)
    return _fill(tensor, _gen(generator).normal(mean, std, tensor.shape))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with ``N(mean, std^2)`` draws restricted to ``[a, b]`` (resampled until inside).

    >>> import chainrule as cr
    >>> w = trunc_normal_(cr.empty(1000), std=1.0, a=-1.0, b=1.0)
    >>> bool((w.abs() <= 1).all())
    True
    """
    _check("trunc_normal_", tensor)
    if not a < b:
        raise ArgumentError(f"init.trunc_normal_: need a < b, got a={a}, b={b}")
    rng = _gen(generator)
    n = int(np.prod(tensor.shape))
    out = rng.normal(mean, std, n)
    bad = (out < a) | (out > b)
    for _ in range(1000):  # each round redraws only the rejected entries
        k = int(bad.sum())
        if not k:
            break
        out[bad] = rng.normal(mean, std, k)
        bad = (out < a) | (out > b)
    np.clip(out, a, b, out=out)
    return _fill(tensor, out.reshape(tensor.shape))


# -- fan-scaled schemes ----------------------------------------------------------------------------
def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot uniform: ``U(-bound, bound)`` with ``bound = gain * sqrt(6 / (fan_in + fan_out))``."""
    _check("xavier_uniform_", tensor)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot normal: ``N(0, std^2)`` with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    _check("xavier_normal_", tensor)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: ``U(-bound, bound)`` with ``bound = gain * sqrt(3 / fan)``.

    >>> import chainrule as cr
    >>> w = kaiming_uniform_(cr.empty(10, 50), nonlinearity="relu")
    >>> bool((w.abs() <= (6 / 50) ** 0.5).all())
    True
    """
    _check("kaiming_uniform_", tensor)
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: ``N(0, std^2)`` with ``std = gain / sqrt(fan)``."""
    _check("kaiming_normal_", tensor)
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std, generator)


glorot_uniform_ = xavier_uniform_
glorot_normal_ = xavier_normal_
he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_


def fan_in_normal_(tensor, generator=None):
    """``N(0, 1 / fan_in)``: weights whose pre-activations keep unit variance for unit-variance
    inputs (the notes' fan-in scaling; LeCun normal).

    >>> import chainrule as cr
    >>> w = fan_in_normal_(cr.empty(400, 100), generator=cr.Generator().manual_seed(0))
    >>> abs(float(w.var()) - 0.01) < 0.001
    True
    """
    _check("fan_in_normal_", tensor)
    fan_in, _ = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, 1.0 / math.sqrt(fan_in), generator)


def orthogonal_(tensor, gain=1.0, generator=None):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one, times ``gain``.

    >>> import chainrule as cr
    >>> w = orthogonal_(cr.empty(4, 4)).numpy()
    >>> bool(abs(w @ w.T - np.eye(4)).max() < 1e-5)
    True
    """
    _check("orthogonal_", tensor)
    if tensor.ndim < 2:
        raise ShapeError(f"init.orthogonal_: expected at least 2 dims, got shape "
                         f"{tuple(tensor.shape)}")
    rows = tensor.shape[0]
    cols = tensor.data.size // rows
    flat = _gen(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # makes the result uniformly distributed over orthogonal matrices
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))


def notes_uniform_(tensor, a=0.7, generator=None):
    """``U(-a, a)`` with ``a = 0.7``: the notes' rule of thumb for weights acting on
    standardised inputs.

    >>> import chainrule as cr
    >>> bool((notes_uniform_(cr.empty(50)).abs() <= 0.7).all())
    True
    """
    return uniform_(tensor, -a, a, generator)


def random_offset_bias_(bias, weight, data=None, scale=1.0, generator=None):
    """Set each unit's bias so that its ReLU kink passes through a random point.

    Unit ``j`` computes ``w_j . x + b_j``; its kink is the hyperplane ``w_j . x = -b_j``. This
    sets ``b_j = -w_j . c_j`` so the hyperplane passes through the point ``c_j``, where
    ``c_j`` is

    - a row of ``data`` (shape (n, in_features)) drawn uniformly with replacement, when ``data``
      is given: every kink then cuts through the data cloud;
    - otherwise a point drawn uniformly from the box ``[-scale, scale]^in_features`` (for
      standardised inputs ``scale = 1`` covers most of the data).

    ``weight`` (shape (out_features, in_features)) must already be initialised; ``bias`` is
    filled in place and returned.

    >>> import chainrule as cr
    >>> lin = cr.nn.Linear(2, 3)
    >>> x = cr.randn(10, 2)
    >>> _ = random_offset_bias_(lin.bias, lin.weight, data=x)
    """
    _check("random_offset_bias_", bias)
    w = weight.data if isinstance(weight, Tensor) else np.asarray(weight)
    if w.ndim != 2 or tuple(bias.shape) != (w.shape[0],):
        raise ShapeError(f"init.random_offset_bias_: expected weight (out, in) and bias (out,), "
                         f"got shapes {w.shape} and {tuple(bias.shape)}")
    rng = _gen(generator)
    if data is not None:
        x = data.data if isinstance(data, Tensor) else np.asarray(data)
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != w.shape[1]:
            raise ShapeError(f"init.random_offset_bias_: data rows have {x.shape[1]} features, "
                             f"the weight expects {w.shape[1]}")
        points = x[rng.integers(0, x.shape[0], w.shape[0])]
    else:
        points = rng.uniform(-scale, scale, w.shape)
    return _fill(bias, -np.sum(w * points, axis=1))


def default_linear_init_(weight, bias=None, generator=None):
    """PyTorch's default for Linear and Conv: ``kaiming_uniform_(a=sqrt(5))`` on the weight,
    i.e. ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, and the same bound for the bias."""
    kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound, generator)
    return weight
