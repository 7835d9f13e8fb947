"""Activation modules: one per activation in the core, with PyTorch's names and keywords."""

from __future__ import annotations

from ..errors import ArgumentError
from ..ops import elementwise as _E
from . import functional as F
from .module import Module


def _simple(name, fn, doc):
    def forward(self, input):  # noqa: A002
        return fn(input)

    def __init__(self, inplace=False):
        Module.__init__(self)
        # inplace is accepted for PyTorch compatibility; results are always new tensors.
        self.inplace = inplace

    cls = type(name, (Module,), {"__init__": __init__, "forward": forward,
                                 "__doc__": doc, "__module__": __name__})
    return cls


ReLU = _simple("ReLU", _E.relu, """``max(0, x)``; the gradient at 0 is 0.

    >>> import chainrule as cr
    >>> cr.nn.ReLU()(cr.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """)
ReLU6 = _simple("ReLU6", _E.relu6, "``min(max(0, x), 6)``.")
SELU = _simple("SELU", _E.selu, "Scaled ELU with the self-normalising constants.")
SiLU = _simple("SiLU", _E.silu, "``x * sigmoid(x)`` (swish).")
Mish = _simple("Mish", _E.mish, "``x * tanh(softplus(x))``.")
Hardsigmoid = _simple("Hardsigmoid", _E.hardsigmoid, "``relu6(x + 3) / 6``.")
Hardswish = _simple("Hardswish", _E.hardswish, "``x * relu6(x + 3) / 6``.")
Sigmoid = _simple("Sigmoid", _E.sigmoid, "``1 / (1 + exp(-x))``.")
Tanh = _simple("Tanh", _E.tanh, "Hyperbolic tangent.")
Softsign = _simple("Softsign", _E.softsign, "``x / (1 + |x|)``.")
LogSigmoid = _simple("LogSigmoid", F.logsigmoid, "``log(sigmoid(x))``.")
Tanhshrink = _simple("Tanhshrink", F.tanhshrink, "``x - tanh(x)``.")


class LeakyReLU(Module):
    """``x`` for ``x > 0``, else ``negative_slope * x``.

    >>> import chainrule as cr
    >>> cr.nn.LeakyReLU(0.1)(cr.tensor([-1.0, 2.0])).tolist()
    [-0.10000000149011612, 2.0]
    """

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):  # noqa: A002
        return _E.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):  # noqa: A002
        return _E.elu(input, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class CELU(Module):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):  # noqa: A002
        return _E.celu(input, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class GELU(Module):
    """Gaussian error linear unit; ``approximate='tanh'`` uses the tanh approximation.

    >>> import chainrule as cr
    >>> cr.nn.GELU(approximate="tanh")(cr.zeros(2)).tolist()
    [0.0, 0.0]
    """

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ArgumentError(f"GELU: argument 'approximate' expected 'none' or 'tanh', got "
                                f"{approximate!r}")
        self.approximate = approximate

    def forward(self, input):  # noqa: A002
        return _E.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """``log(1 + exp(beta x)) / beta``, linear above ``threshold``."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):  # noqa: A002
        return _E.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """``clamp(x, min_val, max_val)``."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input):  # noqa: A002
        return _E.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class Softmax(Module):
    """Softmax along ``dim``.

    >>> import chainrule as cr
    >>> cr.nn.Softmax(dim=-1)(cr.zeros(1, 2)).tolist()
    [[0.5, 0.5]]
    """

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):  # noqa: A002
        return F.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """Log-softmax along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):  # noqa: A002
        return F.log_softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmin(Module):
    """Softmax of ``-x`` along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):  # noqa: A002
        return F.softmin(input, self.dim)


class Sign(Module):
    """``sign(x)`` in {-1, 0, 1}.

    Its true gradient is zero everywhere (undefined at 0), so by default nothing flows back, as
    the notes say. With ``straight_through=True`` the backward pass treats the layer as the
    identity (the straight-through estimator): the gradient passes through unchanged, with no
    clipping to ``|x| <= 1``.

    >>> import chainrule as cr
    >>> x = cr.tensor([-2.0, 0.5], requires_grad=True)
    >>> cr.nn.Sign(straight_through=True)(x).sum().backward()
    >>> x.grad.tolist()
    [1.0, 1.0]
    """

    def __init__(self, straight_through=False):
        super().__init__()
        self.straight_through = straight_through

    def forward(self, input):  # noqa: A002
        x = F._float(input)
        s = _E.sign(x)
        if not self.straight_through:
            return s
        # sign(x) exactly in the forward pass; x - x.detach() is exactly 0 but carries the
        # identity's gradient.
        return s.detach() + (x - x.detach())

    def extra_repr(self):
        return f"straight_through={self.straight_through}"
