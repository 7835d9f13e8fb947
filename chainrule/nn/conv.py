"""Convolution and pooling layers: Conv1d/2d, ConvTranspose1d/2d, MaxPool1d/2d, AvgPool1d/2d,
AdaptiveAvgPool1d/2d, with PyTorch's keywords, weight shapes and default initialisation."""

from __future__ import annotations

from ..errors import ArgumentError
from . import functional as F
from . import init
from .layers import _dtype, _empty, _positive, float_input, layer_shape_error
from .module import Module

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    _nsp = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None, generator=None, output_padding=0):
        super().__init__()
        name = type(self).__name__
        n = self._nsp
        self.in_channels = _positive(name, "in_channels", in_channels)
        self.out_channels = _positive(name, "out_channels", out_channels)
        self.groups = _positive(name, "groups", groups)
        if in_channels % groups or out_channels % groups:
            raise ArgumentError(f"{name}: in_channels ({in_channels}) and out_channels "
                                f"({out_channels}) must be divisible by groups ({groups})")
        self.kernel_size = F._ntuple(name, "kernel_size", kernel_size, n)
        self.stride = F._ntuple(name, "stride", stride, n)
        self.dilation = F._ntuple(name, "dilation", dilation, n)
        self.output_padding = F._ntuple(name, "output_padding", output_padding, n)
        if isinstance(padding, str):
            if padding not in ("same", "valid") or self._transposed:
                raise ArgumentError(f"{name}: argument 'padding' expected an int, a tuple, "
                                    f"'same' or 'valid', got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ArgumentError(f"{name}: padding='same' is not supported for strided "
                                    "convolutions")
            self.padding = padding
        else:
            self.padding = F._ntuple(name, "padding", padding, n)
        if padding_mode not in _PADDING_MODES or (self._transposed and padding_mode != "zeros"):
            allowed = ("zeros",) if self._transposed else _PADDING_MODES
            raise ArgumentError(f"{name}: argument 'padding_mode' expected one of "
                                f"{list(allowed)}, got {padding_mode!r}")
        self.padding_mode = padding_mode
        dt = _dtype(dtype)
        if self._transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = _empty(shape, dt)
        if bias:
            self.bias = _empty((out_channels,), dt)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None):
        init.default_linear_init_(self.weight, self.bias, generator)

    def _check(self, x):
        n = self._nsp
        dims = "L" if n == 1 else "H, W"
        if x.ndim not in (n + 1, n + 2) or x.shape[-n - 1] != self.in_channels:
            raise layer_shape_error(self, f"input (N, {self.in_channels}, {dims}) or "
                                          f"({self.in_channels}, {dims})", x.shape)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._nsp:
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else \
                f", padding={self.padding}"
        if self.dilation != (1,) * self._nsp:
            s += f", dilation={self.dilation}"
        if self._transposed and self.output_padding != (0,) * self._nsp:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        return s


class _Conv(_ConvNd):
    """Conv1d and Conv2d: their keywords, and the forward of either."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None, generator=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype, generator)

    def forward(self, input):  # noqa: A002
        x = float_input(self, input)
        self._check(x)
        return F._convnd(self._op, self._nsp, x, self.weight, self.bias, self.stride,
                         self.padding, self.dilation, self.groups, self.padding_mode)


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L); weight (C_out, C_in / groups, k).

    ``padding`` is an int, 'valid' or 'same'; ``padding_mode`` 'zeros', 'reflect', 'replicate'
    or 'circular'. Initialised as PyTorch: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.

    >>> import chainrule as cr
    >>> conv = cr.nn.Conv1d(1, 32, 5, padding=2)
    >>> conv(cr.ones(4, 1, 40)).shape
    (4, 32, 40)
    """

    _nsp = 1
    _op = "conv1d"


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W); weight (C_out, C_in / groups, kh, kw).

    >>> import chainrule as cr
    >>> conv = cr.nn.Conv2d(1, 16, 3, padding=1)
    >>> conv(cr.ones(2, 1, 28, 28)).shape, conv.weight.shape
    ((2, 16, 28, 28), (16, 1, 3, 3))
    """

    _nsp = 2
    _op = "conv2d"


class _ConvTranspose(_ConvNd):
    """ConvTranspose1d and ConvTranspose2d: their keywords, and the forward of either."""

    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None, generator=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype, generator, output_padding)

    def forward(self, input, output_size=None):  # noqa: A002
        x = float_input(self, input)
        self._check(x)
        return self._fn(x, self.weight, self.bias, self.stride, self.padding,
                        self._opad(x, output_size), self.groups, self.dilation)

    def _opad(self, x, output_size):
        if output_size is None:
            return self.output_padding
        want = tuple(output_size)[-self._nsp:]
        opad = []
        for i, size in enumerate(x.shape[-self._nsp:]):
            base = ((size - 1) * self.stride[i] - 2 * self.padding[i]
                    + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            opad.append(want[i] - base)
        if any(not 0 <= p < max(s, d) for p, s, d in zip(opad, self.stride, self.dilation)):
            raise layer_shape_error(self, f"an output_size reachable from the input, not "
                                          f"{want}", x.shape)
        return tuple(opad)


class ConvTranspose1d(_ConvTranspose):
    """Transposed 1-D convolution; weight (C_in, C_out / groups, k).

    >>> import chainrule as cr
    >>> cr.nn.ConvTranspose1d(4, 2, 3, stride=2)(cr.ones(1, 4, 5)).shape
    (1, 2, 11)
    """

    _nsp = 1
    _fn = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """Transposed 2-D convolution; weight (C_in, C_out / groups, kh, kw).

    >>> import chainrule as cr
    >>> up = cr.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)
    >>> up(cr.ones(1, 4, 5, 5)).shape
    (1, 2, 10, 10)
    """

    _nsp = 2
    _fn = staticmethod(F.conv_transpose2d)


class _PoolNd(Module):
    _nsp = 2

    def _check(self, x):
        n = self._nsp
        dims = "L" if n == 1 else "H, W"
        if x.ndim not in (n + 1, n + 2):
            raise layer_shape_error(self, f"input (N, C, {dims}) or (C, {dims})", x.shape)
        k = F._ntuple(type(self).__name__, "kernel_size", self.kernel_size, n) \
            if hasattr(self, "kernel_size") else None
        if k is not None:
            pad = F._ntuple(type(self).__name__, "padding", self.padding, n)
            dil = F._ntuple(type(self).__name__, "dilation", getattr(self, "dilation", 1), n)
            for size, kk, p, d in zip(x.shape[-n:], k, pad, dil):
                if size + 2 * p < d * (kk - 1) + 1:
                    raise layer_shape_error(self, f"spatial size at least {d * (kk - 1) + 1} "
                                                  f"(with padding {p})", x.shape)


class MaxPool1d(_PoolNd):
    """Max over windows of (N, C, L).

    >>> import chainrule as cr
    >>> cr.nn.MaxPool1d(2)(cr.ones(1, 2, 6)).shape
    (1, 2, 3)
    """

    _nsp = 1

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):  # noqa: A002
        x = float_input(self, input)
        self._check(x)
        fn = F.max_pool1d if self._nsp == 1 else F.max_pool2d
        return fn(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                  self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(MaxPool1d):
    """Max over windows of (N, C, H, W); ``return_indices`` gives PyTorch's flat per-plane
    indices.

    >>> import chainrule as cr
    >>> cr.nn.MaxPool2d(2)(cr.ones(1, 16, 28, 28)).shape
    (1, 16, 14, 14)
    """

    _nsp = 2


class AvgPool1d(_PoolNd):
    """Mean over windows of (N, C, L).

    >>> import chainrule as cr
    >>> cr.nn.AvgPool1d(2)(cr.ones(1, 2, 6)).shape
    (1, 2, 3)
    """

    _nsp = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):  # noqa: A002
        x = float_input(self, input)
        self._check(x)
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_PoolNd):
    """Mean over windows of (N, C, H, W).

    >>> import chainrule as cr
    >>> cr.nn.AvgPool2d(2)(cr.ones(1, 2, 6, 6)).shape
    (1, 2, 3, 3)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):  # noqa: A002
        x = float_input(self, input)
        self._check(x)
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(_PoolNd):
    """Average (N, C, L) down to ``output_size`` positions.

    >>> import chainrule as cr
    >>> cr.nn.AdaptiveAvgPool1d(4)(cr.ones(1, 2, 10)).shape
    (1, 2, 4)
    """

    _nsp = 1

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):  # noqa: A002
        x = float_input(self, input)
        self._check(x)
        fn = F.adaptive_avg_pool1d if self._nsp == 1 else F.adaptive_avg_pool2d
        return fn(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(AdaptiveAvgPool1d):
    """Average (N, C, H, W) down to ``output_size``; ``(1, 1)`` is global average pooling.

    >>> import chainrule as cr
    >>> cr.nn.AdaptiveAvgPool2d((1, 1))(cr.ones(2, 8, 5, 5)).shape
    (2, 8, 1, 1)
    """

    _nsp = 2


__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d",
           "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d"]
