"""Elementwise ops: arithmetic, math functions, activations, comparisons.

Most entries state one local derivative per input and get both rules from it (``elementwise``).
Derivatives are written against ``xp`` so they run on raw arrays and, for higher orders, on
tensors. Kinks follow PyTorch: relu'(0) = 0, abs'(0) = 0, clamp's gradient is 1 at its bounds.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..core import npns
from ..core.dispatch import apply
from ..core.registry import elementwise, explicit, linear, nondiff
from ..tensor import Tensor
from ._util import _wrap_scalar, as_tensor, binary_args, op

# Functions on NumPy arrays that other modules' rules share: not tensor ops, not exported.
ARRAY_HELPERS = ("blockwise", "blockwise_times")
S = dict  # a sample: dict(args=[...shapes or arrays], attrs={...}, domain=(lo, hi))

LN2 = math.log(2.0)
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

_BIN = [S(args=[(3, 4), (3, 4)]), S(args=[(2, 3, 4), (4,)]), S(args=[(3, 1), (1, 4)])]
_UN = [S(args=[(3, 4)]), S(args=[(2, 3, 2)])]
_POS = [S(args=[(3, 4)], domain=(0.2, 2.0))]


# -- binary arithmetic ---------------------------------------------------------------------
linear("add", np.add, lambda xp, g, out, ins, needs: (g, g), nin=2, samples=_BIN)
linear("sub", np.subtract, lambda xp, g, out, ins, needs: (g, -g), nin=2, samples=_BIN)
linear("neg", np.negative, lambda xp, g, out, ins, needs: (-g,), samples=_UN)
elementwise("mul", np.multiply, (lambda xp, out, x, y: y, lambda xp, out, x, y: x),
            samples=_BIN)
elementwise("div", np.true_divide,
            (lambda xp, out, x, y: 1.0 / y, lambda xp, out, x, y: -out / y),
            samples=[S(args=[(3, 4), (3, 4)], domain=(0.5, 2.0)),
                     S(args=[(2, 3), (3,)], domain=(0.5, 2.0))])
elementwise("floor_divide", np.floor_divide, (None, None), smooth=False,
            samples=[S(args=[(3, 4), (3, 4)], domain=(0.5, 3.0))])
elementwise("remainder", np.remainder,
            (lambda xp, out, x, y: xp.ones_like(x),
             lambda xp, out, x, y: -xp.apply("floor_divide", x, y)), smooth=False,
            samples=[S(args=[(3, 4), (3, 4)], domain=(0.5, 3.0))])


def _pow_fwd(x, y):
    return np.power(x, y)


def _pow_dy(xp, out, x, y):
    pos = x > 0
    return xp.where(pos, out * xp.log(xp.where(pos, x, 1.0)), 0.0)


elementwise("pow", _pow_fwd, (lambda xp, out, x, y: y * x ** (y - 1.0), _pow_dy),
            samples=[S(args=[(3, 4), (3, 4)], domain=(0.5, 2.0))])
elementwise("pow_scalar", lambda x, p: np.power(x, p),
            (lambda xp, out, x, p: p * x ** (p - 1) if p != 2 else 2.0 * x,),
            samples=[S(args=[(3, 4)], attrs=dict(p=3)), S(args=[(3, 4)], attrs=dict(p=2)),
                     S(args=[(3, 4)], attrs=dict(p=0.5), domain=(0.3, 2.0))])
elementwise("rpow_scalar", lambda x, base: np.power(base, x),
            (lambda xp, out, x, base: out * math.log(base),),
            samples=[S(args=[(3, 4)], attrs=dict(base=2.5))])


def _mask(xp, cond, like):
    """A 0/1 mask in ``like``'s dtype (bool * Python float would give float64)."""
    return xp.astype(cond, like.dtype)


def _ties(xp, out, x, y, first):
    gt = (x > y) if first else (y > x)
    return _mask(xp, gt, x) + _mask(xp, x == y, x) * 0.5


elementwise("maximum", np.maximum, (lambda xp, out, x, y: _ties(xp, out, x, y, True),
                                    lambda xp, out, x, y: _ties(xp, out, x, y, False)),
            smooth=False, samples=_BIN)
elementwise("minimum", np.minimum, (lambda xp, out, x, y: _ties(xp, out, y, x, True),
                                    lambda xp, out, x, y: _ties(xp, out, y, x, False)),
            smooth=False, samples=_BIN)


def _where_vjp(xp, g, out, ins, needs):
    c = ins[0]
    return (None, xp.where(c, g, 0.0) if needs[1] else None,
            xp.where(c, 0.0, g) if needs[2] else None)


def _where_jvp(xp, ts, out, ins):
    c = ins[0]
    tx = ts[1] if ts[1] is not None else 0.0
    ty = ts[2] if ts[2] is not None else 0.0
    if ts[1] is None and ts[2] is None:
        return None
    return xp.where(c, tx, ty)


explicit("where", np.where, _where_vjp, _where_jvp, nin=3, smooth=False,
         samples=[S(args=[np.array([[True, False, True, False]] * 3), (3, 4), (3, 4)]),
                  S(args=[np.array([True, False, True, False]), (3, 4), (4,)])])


def _astype_fwd(x, dtype):
    return x.astype(dtype, copy=False)


linear("astype", _astype_fwd, lambda xp, g, out, ins, needs, dtype: (g,),
       samples=[S(args=[(3, 4)], attrs=dict(dtype=np.dtype(np.float64)))])
linear("alias", lambda x: x, lambda xp, g, out, ins, needs: (g,), samples=_UN)
linear("clone", np.copy, lambda xp, g, out, ins, needs: (g,), samples=_UN)


# -- unary math ------------------------------------------------------------------------------
def _un(name, fwd, d, samples=_UN, smooth=True):
    elementwise(name, fwd, (d,), samples=samples, smooth=smooth)


_un("exp", np.exp, lambda xp, out, x: out)
_un("exp2", np.exp2, lambda xp, out, x: out * LN2)
_un("log", np.log, lambda xp, out, x: 1.0 / x, _POS)
_un("log2", np.log2, lambda xp, out, x: 1.0 / (x * LN2), _POS)
_un("log10", np.log10, lambda xp, out, x: 1.0 / (x * math.log(10.0)), _POS)
_un("log1p", np.log1p, lambda xp, out, x: 1.0 / (1.0 + x), _POS)
_un("expm1", np.expm1, lambda xp, out, x: out + 1.0)
_un("sqrt", np.sqrt, lambda xp, out, x: 0.5 / out, _POS)
_un("rsqrt", lambda x: 1.0 / np.sqrt(x), lambda xp, out, x: -0.5 * out / x, _POS)
_un("square", np.square, lambda xp, out, x: 2.0 * x)
_un("reciprocal", np.reciprocal, lambda xp, out, x: -(out * out), _POS)
_un("abs", np.abs, lambda xp, out, x: xp.sign(x), smooth=False)
_un("sign", np.sign, None, smooth=False)
_un("sin", np.sin, lambda xp, out, x: xp.cos(x))
_un("cos", np.cos, lambda xp, out, x: -xp.sin(x))
_un("tan", np.tan, lambda xp, out, x: 1.0 + out * out, [S(args=[(3, 4)], domain=(-1.2, 1.2))])
_ones: dict = {}


def _one(dtype):
    """A read-only 0-d one of ``dtype``: NumPy converts a Python 1.0 afresh on every call,
    which on small arrays costs as much as the arithmetic (``1.0 - a``: 0.63 us, ``a * a``:
    0.29 us on 10 float32s)."""
    one = _ones.get(dtype)
    if one is None:
        one = np.ones((), dtype)
        one.flags.writeable = False
        one = _ones.setdefault(dtype, one)
    return one


# The tanh and sigmoid reverse rules on arrays: the derivative rules' own arithmetic, bit for
# bit, with a 0-d one of the output's dtype for the Python 1.0 (10 float32s: 1.18 -> 0.85 us),
# looked up inline (``_one`` makes it the first time).
def _tanh_vjp(g, out, x, saved=None):
    return g * ((_ones.get(out.dtype) or _one(out.dtype)) - out * out)


def _sigmoid_vjp(g, out, x, saved=None):
    return g * (out * ((_ones.get(out.dtype) or _one(out.dtype)) - out))


elementwise("tanh", np.tanh, (lambda xp, out, x: 1.0 - out * out,), samples=_UN,
            fused_vjp=_tanh_vjp)
_un("sinh", np.sinh, lambda xp, out, x: xp.cosh(x))
_un("cosh", np.cosh, lambda xp, out, x: xp.sinh(x))
_un("arctan", np.arctan, lambda xp, out, x: 1.0 / (1.0 + x * x))
_un("arcsin", np.arcsin, lambda xp, out, x: xp.rsqrt(1.0 - x * x),
    [S(args=[(3, 4)], domain=(-0.8, 0.8))])
_un("arccos", np.arccos, lambda xp, out, x: -xp.rsqrt(1.0 - x * x),
    [S(args=[(3, 4)], domain=(-0.8, 0.8))])
_un("erf", npns.erf, lambda xp, out, x: (2.0 / math.sqrt(math.pi)) * xp.exp(-(x * x)))
elementwise("sigmoid", npns.sigmoid, (lambda xp, out, x: out * (1.0 - out),), samples=_UN,
            fused_vjp=_sigmoid_vjp)
for _name, _fn in (("floor", np.floor), ("ceil", np.ceil), ("round", np.round),
                   ("trunc", np.trunc)):
    _un(_name, _fn, None, smooth=False)
_un("frac", lambda x: x - np.trunc(x), lambda xp, out, x: xp.ones_like(x), smooth=False)


def _logit_fwd(x, eps=None):
    if eps is not None:
        x = np.clip(x, eps, 1.0 - eps)
    return np.log(x) - np.log1p(-x)


def _logit_d(xp, out, x, eps=None):
    d = 1.0 / (x * (1.0 - x))
    if eps is None:
        return d
    return xp.where((x >= eps) & (x <= 1.0 - eps), d, 0.0)


elementwise("logit", _logit_fwd, (_logit_d,), samples=[S(args=[(3, 4)], domain=(0.1, 0.9))])

# -- activations -------------------------------------------------------------------------------
# np.maximum and np.minimum against the scalar 0 run NumPy's element-by-element loop; against
# an array of zeros, its vectorised one. So max(x, 0) and min(x, 0) are taken against one
# block of zeros, kept and reused, over flat chunks of the input: ReLU of (64, 16, 28, 28)
# float32, 378 -> 129 us; of (128, 512), 31 -> 13 us.
_ZEROS_CHUNK = 1 << 18
_zero_blocks: dict = {}


def _with_zeros(ufunc, x, out=None):
    """``ufunc(x, 0)`` for ``np.maximum`` or ``np.minimum``, as a new array (also for 0-d
    inputs, where NumPy would give a scalar), or into ``out`` (which may be ``x``)."""
    n = x.size
    if x.dtype.kind != "f":
        return ufunc(x, 0) if out is None else ufunc(x, 0, out=out)
    if out is None:
        out = np.empty_like(x)
    if n < 4096 or not x.flags.c_contiguous:
        return ufunc(x, 0, out=out)
    z = _zero_blocks.get(x.dtype)
    if z is None:
        z = np.zeros(_ZEROS_CHUNK, x.dtype)
        z.flags.writeable = False
        z = _zero_blocks.setdefault(x.dtype, z)
    xf, of = x.reshape(-1), out.reshape(-1)
    for i in range(0, n, _ZEROS_CHUNK):
        j = min(n, i + _ZEROS_CHUNK)
        ufunc(xf[i:j], z[:j - i], out=of[i:j])
    return out


def _relu_fwd(x):
    return _with_zeros(np.maximum, x)


def _relu_in_place(t):
    """ReLU of tensor ``t`` written over its own array, recording nothing: only for an array
    no one else holds and no graph needs (see ``nn.Sequential``). Returns ``t``."""
    _with_zeros(np.maximum, t.data, out=t.data)
    return t


# The reverse rule multiplies by the mask as floats, not booleans (NumPy casts a boolean
# operand through a buffer): 251 -> 203 us on a (64, 16, 28, 28) float32 input.
def _relu_vjp(g, out, x, saved=None):
    if g.shape != x.shape or g.dtype.kind != "f":
        return None
    m = np.greater(x, 0).astype(g.dtype)
    m *= g
    return m


elementwise("relu", _relu_fwd, (lambda xp, out, x: x > 0,), samples=_UN, smooth=False,
            fused_vjp=_relu_vjp)
_un("relu6", lambda x: np.clip(x, 0, 6), lambda xp, out, x: (x > 0) & (x < 6), smooth=False,
    samples=[S(args=[(3, 4)], domain=(-3.0, 9.0))])
# The piecewise activations below choose between their two pieces by arithmetic on arrays, not
# np.where: on random signs its branches mispredict (leaky ReLU of 1M float32 values: 4.5 ->
# 0.7 ms forward, 4.4 -> 1.1 ms derivative). Each choice is exact: the piece not chosen is
# finite and multiplied by 0, or it is exactly 0 (max(x, 0) beside expm1(min(x, 0))).
def _min0(x):
    """min(x, 0) as a new array (also for 0-d inputs, where NumPy would give a scalar)."""
    return _with_zeros(np.minimum, x)


def _blend(x, a, b):
    """where(x > 0, a, b) on arrays, for an ``a`` and ``b`` finite where they are not chosen."""
    m = np.greater(x, 0, out=np.empty(x.shape, bool)).astype(x.dtype)
    r = np.subtract(1, m, dtype=x.dtype)
    r *= b
    if isinstance(a, float) and a == 1.0:
        r += m
    else:
        m *= a
        r += m
    return r


def _leaky_fwd(x, negative_slope=0.01):
    if 0 < negative_slope <= 1:
        return np.maximum(x, x * negative_slope)  # = x where x > 0, slope * x elsewhere
    return np.where(x > 0, x, x * negative_slope)


def _leaky_d(xp, out, x, negative_slope=0.01):
    if xp.is_tensor_ns:
        return xp.where(x > 0, xp.ones_like(x), negative_slope)
    return _blend(x, 1.0, negative_slope)


elementwise("leaky_relu", _leaky_fwd, (_leaky_d,), smooth=False,
            samples=[S(args=[(3, 4)], attrs=dict(negative_slope=0.1)),
                     S(args=[(3, 4)], attrs=dict(negative_slope=1.5))])


def _elu_fwd(x, alpha=1.0):
    r = _min0(x)
    np.expm1(r, out=r)
    r *= alpha
    r += _relu_fwd(x)  # x > 0: 0 + x; else alpha expm1(x) + 0
    return r


def _elu_d(xp, out, x, alpha=1.0):
    if xp.is_tensor_ns:
        return xp.where(x > 0, 1.0, out + alpha)
    r = _min0(out)
    r += alpha
    return _blend(x, 1.0, r)


def _selu_d(xp, out, x):
    if xp.is_tensor_ns:
        return xp.where(x > 0, SELU_SCALE, SELU_SCALE * SELU_ALPHA * xp.exp(xp.minimum(x, 0.0)))
    e = np.exp(_min0(x))
    e *= SELU_SCALE * SELU_ALPHA
    return _blend(x, SELU_SCALE, e)


def _celu_fwd(x, alpha=1.0):
    r = _min0(x)
    r /= alpha
    np.expm1(r, out=r)
    r *= alpha
    r += _relu_fwd(x)
    return r


def _celu_d(xp, out, x, alpha=1.0):
    if xp.is_tensor_ns:
        return xp.where(x > 0, 1.0, xp.exp(xp.minimum(x, 0.0) / alpha))
    e = _min0(x)
    e /= alpha
    np.exp(e, out=e)
    return _blend(x, 1.0, e)


elementwise("elu", _elu_fwd, (_elu_d,), smooth=False,
            samples=[S(args=[(3, 4)], attrs=dict(alpha=0.7))])
elementwise("selu", lambda x: SELU_SCALE * _elu_fwd(x, SELU_ALPHA), (_selu_d,), smooth=False,
            samples=_UN)
elementwise("celu", _celu_fwd, (_celu_d,), smooth=False,
            samples=[S(args=[(3, 4)], attrs=dict(alpha=1.5))])


# The standard normal CDF for float32 arrays without scipy's erf, which works in float64 and
# is slow (about 6 ms for half a million values). Numerical Recipes' erfc(z) = t exp(-z^2 +
# P(t)), t = 1 / (1 + z/2), has relative error below 1.2e-7 for every z >= 0, so both tails of
# the CDF keep float32 precision. Horner's rule runs in place on one buffer.
_ERFC_COEF = tuple(np.float32(c) for c in (
    0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418,
    0.37409196, 1.00002368, -1.26551223))


def _normal_cdf_f32(x):
    if x.ndim == 0:  # NumPy gives scalars for 0-d arrays; the in-place passes need arrays
        return _normal_cdf_f32(x.reshape(1)).reshape(())
    z = np.abs(x)
    z *= np.float32(1.0 / math.sqrt(2.0))
    t = z * np.float32(0.5)
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    p = np.full_like(t, _ERFC_COEF[0])
    for c in _ERFC_COEF[1:]:
        p *= t
        p += c
    z *= z
    p -= z
    np.exp(p, out=p)
    p *= t
    p *= np.float32(0.5)  # the tail beyond |x|: 1 - cdf(|x|) = cdf(-|x|)
    # 1 - p where x > 0, else p, without np.where: on random signs its branches mispredict
    # (2.1 ms against 0.3 ms for these passes on half a million values). Both sides are exact:
    # (1 - p) * 1 - p * 0 and (1 - p) * 0 - p * -1.
    m = np.greater(x, 0).astype(p.dtype)
    q = np.float32(1.0) - p
    q *= m
    m -= np.float32(1.0)
    p *= m
    q -= p
    return q


# Long chains of elementwise passes run block by block: each block's temporaries stay in the
# core's cache instead of every pass streaming the whole array through memory (the tanh GELU
# of a (16, 64, 512) float32 activation: 0.75 -> 0.57 ms forward, its reverse rule 1.7 ->
# 1.0 ms). The per-element arithmetic is unchanged, so results are identical.
_BLOCK = 1 << 16


def blockwise(fn, *arrays):
    """``fn(*arrays)`` for an elementwise ``fn`` of same-shape arrays, computed on blocks of
    ``_BLOCK`` elements when the arrays are large and C-contiguous (else in one call)."""
    a = arrays[0]
    n = a.size
    if n < 2 * _BLOCK or not all(b.shape == a.shape and b.flags.c_contiguous for b in arrays):
        return fn(*arrays)
    flat = [b.reshape(-1) for b in arrays]
    first = fn(*(f[:_BLOCK] for f in flat))
    out = np.empty(n, dtype=first.dtype)
    out[:_BLOCK] = first
    for s in range(_BLOCK, n, _BLOCK):
        out[s:s + _BLOCK] = fn(*(f[s:s + _BLOCK] for f in flat))
    return out.reshape(a.shape)


def blockwise_times(g, d, *arrays):
    """``g * d(*arrays)`` for an elementwise ``d`` (a local derivative) of arrays shaped like
    ``g``, block by block as :func:`blockwise`, each block's product written straight into the
    result (no copy of it afterwards)."""
    n = g.size
    if n < 2 * _BLOCK or not all(b.shape == g.shape and b.flags.c_contiguous
                                 for b in (g, *arrays)):
        return d(*arrays) * g
    flat = [b.reshape(-1) for b in arrays]
    gf = g.reshape(-1)
    first = d(*(f[:_BLOCK] for f in flat))
    out = np.empty(n, dtype=np.result_type(first, g))
    np.multiply(first, gf[:_BLOCK], out=out[:_BLOCK])
    for s in range(_BLOCK, n, _BLOCK):
        np.multiply(d(*(f[s:s + _BLOCK] for f in flat)), gf[s:s + _BLOCK],
                    out=out[s:s + _BLOCK])
    return out.reshape(g.shape)


def _gelu_tanh_inner(x):
    """A new array holding c (x + a x^3) = x (c + c a x^2), the tanh GELU's argument."""
    t = np.square(x)
    t *= 0.044715 * SQRT_2_OVER_PI
    t += SQRT_2_OVER_PI
    t *= x
    return t


def _gelu_tanh_f(x, keep=None):
    if x.ndim == 0:  # NumPy gives scalars for 0-d arrays; the in-place passes need arrays
        return _gelu_tanh_f(x.reshape(1)).reshape(())
    # 0.5 x (1 + tanh(x (c + c a x^2))) in place on one buffer: half the passes over memory
    # of the textbook expression, which allocates a temporary per operator
    t = _gelu_tanh_inner(x)
    if keep is not None:  # the tanh, for the reverse rule, written where it is kept (no copy)
        np.tanh(t, out=keep)
        np.add(keep, 1.0, out=t)
    else:
        np.tanh(t, out=t)
        t += 1.0
    t *= x
    t *= 0.5
    return t


def _gelu_erf_f32(x):
    return x * _normal_cdf_f32(x)


def _gelu_fwd(x, approximate="none"):
    if approximate == "tanh":
        if x.dtype.kind == "f":
            return blockwise(_gelu_tanh_f, x)
        inner = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1.0 + np.tanh(inner))
    if x.dtype == np.float32:
        return blockwise(_gelu_erf_f32, x)
    return 0.5 * x * (1.0 + npns.erf(x * (1.0 / math.sqrt(2.0))))


def _gelu_fwd_saving(x, approximate="none"):
    """The forward and, for the tanh form on floats, its tanh (a third of the reverse rule's
    work: g * gelu'(x) on (16, 64, 512) float32 1.11 -> 0.74 ms, for 2 MB kept). The tanh is
    computed into the kept array itself, not copied there (this forward in the transformer
    benchmark's step: 1191 -> 978 us)."""
    if approximate != "tanh" or x.dtype.kind != "f" or x.ndim == 0:
        return _gelu_fwd(x, approximate), None
    t = np.empty(x.shape, x.dtype)
    return blockwise(_gelu_tanh_f, x, t), t


def _gelu_d(xp, out, x, approximate="none", t=None):
    if not xp.is_tensor_ns and x.ndim == 0:  # the in-place passes below need arrays
        return _gelu_d(xp, None if out is None else out.reshape(1), x.reshape(1),
                       approximate).reshape(())
    if approximate == "tanh":
        if not xp.is_tensor_ns and x.dtype.kind == "f":
            # 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2), t = tanh(x (c + c a x^2))
            if t is None:
                t = _gelu_tanh_inner(x)
                np.tanh(t, out=t)
            r = np.square(x)
            r *= 3 * 0.044715 * SQRT_2_OVER_PI
            r += SQRT_2_OVER_PI
            r *= x
            u = np.square(t)
            np.subtract(1.0, u, out=u)
            r *= u
            r += t
            r += 1.0
            r *= 0.5
            return r
        t = xp.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (
            1.0 + 3 * 0.044715 * x * x)
    if not xp.is_tensor_ns and x.dtype == np.float32:
        # cdf(x) = gelu(x) / x, read off the saved output (0.5 at x = 0)
        d = np.full_like(x, 0.5)
        np.divide(out, x, out=d, where=x != 0)
        e = np.square(x)
        e *= np.float32(-0.5)
        np.exp(e, out=e)
        e *= x
        e *= np.float32(INV_SQRT_2PI)
        d += e
        return d
    cdf = 0.5 * (1.0 + xp.erf(x * (1.0 / math.sqrt(2.0))))
    return cdf + x * INV_SQRT_2PI * xp.exp(-0.5 * x * x)


def _gelu_fused_vjp(g, out, x, approximate="none", *, saved=None):
    """g * gelu'(x) block by block (float32, and float64 for the tanh form), else None;
    ``saved``: the forward's tanh (tanh form)."""
    if g.dtype != x.dtype or (x.dtype != np.float32 and not (
            approximate == "tanh" and x.dtype.kind == "f")):
        return None
    if approximate == "tanh":
        if saved is not None and saved.shape == x.shape:
            return blockwise_times(g, lambda xb, tb: _gelu_d(npns, None, xb, "tanh", tb),
                                   x, saved)
        return blockwise_times(g, lambda xb: _gelu_d(npns, None, xb, "tanh"), x)
    return blockwise_times(g, lambda ob, xb: _gelu_d(npns, ob, xb), out, x)


elementwise("gelu", _gelu_fwd, (_gelu_d,), fused_vjp=_gelu_fused_vjp,
            forward_saving=_gelu_fwd_saving,
            samples=[S(args=[(3, 4)]), S(args=[(3, 4)], attrs=dict(approximate="tanh"))])


def _silu_d(xp, out, x):
    s = xp.sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


_un("silu", lambda x: x * npns.sigmoid(x), _silu_d)


def _softplus_fwd(x, beta=1.0, threshold=20.0):
    bx = x * beta
    return np.where(bx > threshold, x, np.logaddexp(0, bx) / beta)


def _softplus_d(xp, out, x, beta=1.0, threshold=20.0):
    bx = x * beta
    return xp.where(bx > threshold, 1.0, xp.sigmoid(bx))


elementwise("softplus", _softplus_fwd, (_softplus_d,),
            samples=[S(args=[(3, 4)]), S(args=[(3, 4)], attrs=dict(beta=2.0, threshold=3.0))],
            smooth=False)


def _mish_fwd(x):
    return x * np.tanh(np.logaddexp(0, x))


def _mish_d(xp, out, x):
    t = xp.tanh(xp.apply("softplus", x))
    return t + x * xp.sigmoid(x) * (1.0 - t * t)


_un("mish", _mish_fwd, _mish_d)
_un("softsign", lambda x: x / (1.0 + np.abs(x)),
    lambda xp, out, x: 1.0 / xp.square(1.0 + xp.abs(x)))
elementwise("hardtanh", lambda x, min_val=-1.0, max_val=1.0: np.clip(x, min_val, max_val),
            (lambda xp, out, x, min_val=-1.0, max_val=1.0: (x > min_val) & (x < max_val),),
            smooth=False, samples=[S(args=[(3, 4)], attrs=dict(min_val=-0.5, max_val=1.0))])
_un("hardsigmoid", lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0),
    lambda xp, out, x: _mask(xp, (x > -3.0) & (x < 3.0), x) * (1.0 / 6.0), smooth=False,
    samples=[S(args=[(3, 4)], domain=(-5.0, 5.0))])
_un("hardswish", lambda x: x * np.clip(x / 6.0 + 0.5, 0.0, 1.0),
    lambda xp, out, x: xp.where(x < -3.0, 0.0, xp.where(x > 3.0, 1.0, (2.0 * x + 3.0) / 6.0)),
    smooth=False, samples=[S(args=[(3, 4)], domain=(-5.0, 5.0))])
elementwise("clamp", lambda x, min=None, max=None: np.clip(x, min, max),  # noqa: A002
            (lambda xp, out, x, min=None, max=None: _in_bounds(x, min, max),),  # noqa: A002
            smooth=False, samples=[S(args=[(3, 4)], attrs=dict(min=-0.5, max=0.7)),
                                   S(args=[(3, 4)], attrs=dict(min=-0.5))])


def _in_bounds(x, lo, hi):
    if lo is None:
        return x <= hi
    if hi is None:
        return x >= lo
    return (x >= lo) & (x <= hi)


# -- non-differentiable ----------------------------------------------------------------------
_BOOLS = [S(args=[np.array([[True, False, True]]), np.array([[True], [False]])])]
for _name, _fn in (("lt", np.less), ("le", np.less_equal), ("gt", np.greater),
                   ("ge", np.greater_equal), ("eq", np.equal), ("ne", np.not_equal)):
    nondiff(_name, _fn, samples=_BIN)
for _name, _fn in (("logical_and", np.logical_and), ("logical_or", np.logical_or),
                   ("logical_xor", np.logical_xor)):
    nondiff(_name, _fn, samples=_BOOLS)
for _name, _fn in (("logical_not", np.logical_not), ("isnan", np.isnan), ("isinf", np.isinf),
                   ("isfinite", np.isfinite), ("signbit", np.signbit)):
    nondiff(_name, _fn, samples=_UN)


# -- front-end functions -----------------------------------------------------------------------
def _binary(name):
    o = op(name)

    def f(input, other):  # noqa: A002
        # the common cases inline (a frame less than binary_args): a tensor with a float of
        # its kind, or two tensors of one dtype
        if type(input) is Tensor:
            d = input.data.dtype
            if type(other) is float:
                if d.kind == "f":
                    return apply(o, input, _wrap_scalar(other, d))
            elif type(other) is Tensor and other.data.dtype == d:
                return apply(o, input, other)
        a, b = binary_args(input, other)
        return apply(o, a, b)

    f.__name__ = name
    f.__doc__ = f"Elementwise ``{name}`` with broadcasting and PyTorch's type promotion."
    return f


add_ = _binary("add")
sub_ = _binary("sub")
mul = _binary("mul")
maximum = _binary("maximum")
minimum = _binary("minimum")
floor_divide = _binary("floor_divide")
remainder = _binary("remainder")
fmod = remainder
lt = _binary("lt")
le = _binary("le")
gt = _binary("gt")
ge = _binary("ge")
eq = _binary("eq")
ne = _binary("ne")
logical_and = _binary("logical_and")
logical_or = _binary("logical_or")
logical_xor = _binary("logical_xor")
greater, greater_equal, less, less_equal, equal, not_equal = gt, ge, lt, le, eq, ne


def add(input, other, alpha=1):  # noqa: A002
    """``input + alpha * other`` with broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    return add_(input, other)


def sub(input, other, alpha=1):  # noqa: A002
    """``input - alpha * other`` with broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    return sub_(input, other)


subtract, multiply = sub, mul


def div(input, other, rounding_mode=None):  # noqa: A002
    """True division (ints give the default float dtype), or ``rounding_mode='floor'|'trunc'``."""
    a, b = binary_args(input, other)
    if rounding_mode == "floor":
        return apply(op("floor_divide"), a, b)
    if a.data.dtype.kind != "f":
        a = as_tensor(a, backend.get_default_dtype())
        b = as_tensor(b, backend.get_default_dtype())
    out = apply(op("div"), a, b)
    if rounding_mode == "trunc":
        return trunc(out)
    return out


true_divide = divide = div


def pow(input, exponent):  # noqa: A001, A002
    """``input ** exponent`` for a tensor or scalar exponent."""
    if isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
        x = as_tensor(input)
        if x.data.dtype.kind != "f" and (isinstance(exponent, float) or exponent < 0):
            x = as_tensor(x, backend.get_default_dtype())
        if exponent == 1:
            return x
        return apply(op("pow_scalar"), x, p=exponent)
    if isinstance(input, (int, float)) and not isinstance(input, bool) and input > 0:
        e = as_tensor(exponent)
        if e.data.dtype.kind != "f":
            e = as_tensor(e, backend.get_default_dtype())
        return apply(op("rpow_scalar"), e, base=float(input))
    a, b = binary_args(input, exponent)
    return apply(op("pow"), a, b)


def neg(input):  # noqa: A002
    return apply(op("neg"), as_tensor(input))


negative = neg


def where(condition, input=None, other=None):  # noqa: A002
    """Elements of ``input`` where ``condition`` holds, else of ``other``."""
    c = as_tensor(condition)
    if input is None and other is None:
        return tuple(Tensor._wrap(i) for i in np.nonzero(c.data))
    if c.data.dtype != np.bool_:
        c = Tensor._wrap(c.data.astype(bool))
    a, b = binary_args(input, other)
    return apply(op("where"), c, a, b)


def _unary(name, float_only=True):
    o = op(name)

    def f(input):  # noqa: A002
        x = input if type(input) is Tensor else as_tensor(input)
        if float_only and x.data.dtype.kind != "f":
            x = as_tensor(x, backend.get_default_dtype())
        return apply(o, x)

    f.__name__ = name
    f.__doc__ = f"Elementwise ``{name}``."
    return f


exp = _unary("exp")
exp2 = _unary("exp2")
log = _unary("log")
log2 = _unary("log2")
log10 = _unary("log10")
log1p = _unary("log1p")
expm1 = _unary("expm1")
sqrt = _unary("sqrt")
rsqrt = _unary("rsqrt")
square = _unary("square", float_only=False)
reciprocal = _unary("reciprocal")
abs = _unary("abs", float_only=False)  # noqa: A001
absolute = abs
sign = _unary("sign", float_only=False)
sin = _unary("sin")
cos = _unary("cos")
tan = _unary("tan")
tanh = _unary("tanh")
sinh = _unary("sinh")
cosh = _unary("cosh")
arctan = atan = _unary("arctan")
arcsin = asin = _unary("arcsin")
arccos = acos = _unary("arccos")
erf = _unary("erf")
sigmoid = _unary("sigmoid")
floor = _unary("floor", float_only=False)
ceil = _unary("ceil", float_only=False)
trunc = _unary("trunc", float_only=False)
frac = _unary("frac")
relu = _unary("relu", float_only=False)
relu6 = _unary("relu6")
selu = _unary("selu")
silu = _unary("silu")
mish = _unary("mish")
softsign = _unary("softsign")
hardsigmoid = _unary("hardsigmoid")
hardswish = _unary("hardswish")
logical_not = _unary("logical_not", float_only=False)
isnan = _unary("isnan", float_only=False)
isinf = _unary("isinf", float_only=False)
isfinite = _unary("isfinite", float_only=False)
signbit = _unary("signbit", float_only=False)


def _float(x):
    x = as_tensor(x)
    return x if x.data.dtype.kind == "f" else as_tensor(x, backend.get_default_dtype())


def round(input, decimals=0):  # noqa: A001, A002
    x = as_tensor(input)
    if decimals == 0:
        return apply(op("round"), x)
    s = 10.0 ** decimals
    return apply(op("round"), x * s) / s


def logit(input, eps=None):  # noqa: A002
    return apply(op("logit"), _float(input), eps=eps)


def leaky_relu(input, negative_slope=0.01):  # noqa: A002
    return apply(op("leaky_relu"), _float(input), negative_slope=negative_slope)


def elu(input, alpha=1.0):  # noqa: A002
    return apply(op("elu"), _float(input), alpha=alpha)


def celu(input, alpha=1.0):  # noqa: A002
    return apply(op("celu"), _float(input), alpha=alpha)


def gelu(input, approximate="none"):  # noqa: A002
    """Gaussian error linear unit, exact (erf) or ``approximate='tanh'``."""
    if approximate not in ("none", "tanh"):
        from ..errors import ArgumentError

        raise ArgumentError(f"gelu: argument 'approximate' expected 'none' or 'tanh', got "
                            f"{approximate!r}")
    return apply(op("gelu"), _float(input), approximate=approximate)


def softplus(input, beta=1.0, threshold=20.0):  # noqa: A002
    return apply(op("softplus"), _float(input), beta=beta, threshold=threshold)


def hardtanh(input, min_val=-1.0, max_val=1.0):  # noqa: A002
    return apply(op("hardtanh"), _float(input), min_val=min_val, max_val=max_val)


def clamp(input, min=None, max=None):  # noqa: A001, A002
    """Clamp to ``[min, max]`` (numbers or tensors); the gradient is 1 at the bounds."""
    x = as_tensor(input)
    if min is None and max is None:
        from ..errors import ArgumentError

        raise ArgumentError("clamp: at least one of 'min' and 'max' must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = x
        if min is not None:
            out = where(lt(out, min), min, out)
        if max is not None:
            out = where(gt(out, max), max, out)
        return out
    if x.data.dtype.kind != "f" and (isinstance(min, float) or isinstance(max, float)):
        x = as_tensor(x, backend.get_default_dtype())
    return apply(op("clamp"), x, min=min, max=max)


clip = clamp


def lerp(input, end, weight):  # noqa: A002
    """``input + weight * (end - input)``."""
    return add(input, mul(weight, sub(end, input)))


def astype(input, dtype):  # noqa: A002
    """Cast to ``dtype`` (differentiable between float dtypes)."""
    x = as_tensor(input)
    dtype = backend.as_dtype(dtype)
    if x.data.dtype == dtype:
        return x
    if x.data.dtype.kind != "f":  # nothing to differentiate; still an op, so compile sees it
        return apply(op("astype"), x, dtype=dtype)
    if dtype.kind != "f":  # float to integer or bool: the result leaves the graph
        return Tensor._wrap(x.data.astype(dtype))
    return apply(op("astype"), x, dtype=dtype)


def clone(input):  # noqa: A002
    return apply(op("clone"), as_tensor(input))


def alias(input):  # noqa: A002
    """A new tensor object for the same value, connected to ``input`` in the graph."""
    return apply(op("alias"), as_tensor(input))
