"""Normalisation layers: LayerNorm, BatchNorm1d/2d (running statistics, momentum, eval mode),
GroupNorm."""

from __future__ import annotations

import numpy as np

from ..errors import ArgumentError
from ..tensor import Tensor
from . import functional as F
from .layers import _dtype, float_input, layer_shape_error
from .module import Module
from .parameter import Parameter


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dims, then an elementwise affine map
    (weight ones, bias zeros, as PyTorch).

    >>> import chainrule as cr
    >>> ln = cr.nn.LayerNorm(4)
    >>> ln(cr.randn(2, 4)).shape, sorted(ln.state_dict())
    ((2, 4), ['bias', 'weight'])
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        ns = (normalized_shape,) if isinstance(normalized_shape, int) else \
            tuple(normalized_shape)
        self.normalized_shape = ns
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dt = _dtype(dtype)
        if elementwise_affine:
            self.weight = Parameter(np.ones(ns, dt))
            if bias:
                self.bias = Parameter(np.zeros(ns, dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self):
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def forward(self, input):  # noqa: A002
        x = float_input(self, input)
        k = len(self.normalized_shape)
        if x.ndim < k or x.shape[x.ndim - k:] != self.normalized_shape:
            raise layer_shape_error(self, f"input with trailing dims {self.normalized_shape}",
                                    x.shape)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class _BatchNorm(Module):
    _ndims = (2, 3)
    _expect = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None):
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) \
                or num_features <= 0:
            raise ArgumentError(f"{type(self).__name__}: argument 'num_features' expected a "
                                f"positive int, got {num_features!r}")
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dt = _dtype(dtype)
        c = self.num_features
        if affine:
            self.weight = Parameter(np.ones(c, dt))
            self.bias = Parameter(np.zeros(c, dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor._wrap(np.zeros(c, dt)))
            self.register_buffer("running_var", Tensor._wrap(np.ones(c, dt)))
            self.register_buffer("num_batches_tracked", Tensor._wrap(np.array(0, np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            self.weight.data[...] = 1
            self.bias.data[...] = 0

    def forward(self, input):  # noqa: A002
        x = float_input(self, input)
        if x.ndim not in self._ndims or x.shape[1] != self.num_features:
            raise layer_shape_error(self, self._expect.format(c=self.num_features), x.shape)
        use_batch = self.training or not self.track_running_stats
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data = self.num_batches_tracked.data + 1
            if self.momentum is None:  # cumulative moving average, as PyTorch
                momentum = 1.0 / float(self.num_batches_tracked.data)
        update = self.training and self.track_running_stats
        return F.batch_norm(x, self.running_mean if update or not use_batch else None,
                            self.running_var if update or not use_batch else None,
                            self.weight, self.bias, use_batch, momentum, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs over the batch (and length) dims.

    Training mode normalises with the batch's statistics and updates ``running_mean`` /
    ``running_var`` (unbiased variance) with ``momentum`` (``None``: cumulative average) and
    counts ``num_batches_tracked``; eval mode uses the running statistics.

    >>> import chainrule as cr
    >>> bn = cr.nn.BatchNorm1d(3)
    >>> bn(cr.randn(8, 3)).shape, int(bn.num_batches_tracked.item())
    ((8, 3), 1)
    """

    _ndims = (2, 3)
    _expect = "input (N, {c}) or (N, {c}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs over the batch and spatial dims.

    >>> import chainrule as cr
    >>> cr.nn.BatchNorm2d(3)(cr.randn(4, 3, 5, 5)).shape
    (4, 3, 5, 5)
    """

    _ndims = (4,)
    _expect = "input (N, {c}, H, W)"


class GroupNorm(Module):
    """Normalise each group of ``num_channels / num_groups`` channels per sample, then a
    per-channel affine map.

    >>> import chainrule as cr
    >>> cr.nn.GroupNorm(2, 4)(cr.randn(3, 4, 5)).shape
    (3, 4, 5)
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None):
        super().__init__()
        if num_channels % num_groups:
            raise ArgumentError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                                f"num_groups ({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        dt = _dtype(dtype)
        if affine:
            self.weight = Parameter(np.ones(num_channels, dt))
            self.bias = Parameter(np.zeros(num_channels, dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input):  # noqa: A002
        x = float_input(self, input)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise layer_shape_error(self, f"input (N, {self.num_channels}, ...)", x.shape)
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
