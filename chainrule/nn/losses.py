"""Loss modules, as ``torch.nn`` (``reduction`` 'none' | 'mean' | 'sum'), plus the notes'
hinge and exponential losses for labels in {-1, 1} and a padded-sequence cross-entropy.

Errors raised inside a loss name the loss module (e.g. ``CrossEntropyLoss: ...``).
"""

from __future__ import annotations

import numpy as np

from ..errors import ChainruleError
from ..tensor import Tensor
from . import functional as F
from .module import Module


class _Loss(Module):
    _fn = None

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        self.reduction = F._reduction(type(self).__name__, reduction, size_average, reduce,
                                      extra=("batchmean",) if type(self) is KLDivLoss else ())

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ChainruleError as e:
            raise type(e)(f"{type(self).__name__}: {e}") from None

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


def _buffer(module, name, value):
    if value is None:
        module.register_buffer(name, None)
    else:
        arr = value.data if isinstance(value, Tensor) else np.asarray(value)
        module.register_buffer(name, Tensor._wrap(np.array(arr)))


class MSELoss(_Loss):
    """Mean squared error.

    >>> import chainrule as cr
    >>> cr.nn.MSELoss()(cr.tensor([1.0, 3.0]), cr.tensor([0.0, 0.0])).item()
    5.0
    """

    def forward(self, input, target):  # noqa: A002
        return self._call(F.mse_loss, input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error.

    >>> import chainrule as cr
    >>> cr.nn.L1Loss()(cr.tensor([1.0, -3.0]), cr.zeros(2)).item()
    2.0
    """

    def forward(self, input, target):  # noqa: A002
        return self._call(F.l1_loss, input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Quadratic below ``beta``, linear above (``0.5 d^2 / beta`` or ``|d| - beta / 2``).

    >>> import chainrule as cr
    >>> cr.nn.SmoothL1Loss(reduction="sum")(cr.tensor([0.5, 3.0]), cr.zeros(2)).item()
    2.625
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):  # noqa: A002
        return self._call(F.smooth_l1_loss, input, target, reduction=self.reduction,
                          beta=self.beta)


class HuberLoss(_Loss):
    """Quadratic below ``delta``, linear above (``0.5 d^2`` or ``delta (|d| - delta / 2)``).

    >>> import chainrule as cr
    >>> cr.nn.HuberLoss(delta=2.0)(cr.tensor([3.0]), cr.zeros(1)).item()
    4.0
    """

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):  # noqa: A002
        return self._call(F.huber_loss, input, target, reduction=self.reduction,
                          delta=self.delta)


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits (N, C, ...) against class indices or class probabilities, with
    ``weight``, ``ignore_index`` and ``label_smoothing``.

    >>> import chainrule as cr
    >>> loss = cr.nn.CrossEntropyLoss()(cr.zeros(2, 4), cr.tensor([1, 3]))
    >>> round(loss.item(), 4)
    1.3863
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(size_average, reduce, reduction)
        _buffer(self, "weight", weight)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):  # noqa: A002
        return self._call(F.cross_entropy, input, target, weight=self.weight,
                          ignore_index=self.ignore_index, reduction=self.reduction,
                          label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood of class indices given log-probabilities.

    >>> import chainrule as cr
    >>> cr.nn.NLLLoss()(cr.tensor([[-1.0, -2.0]]), cr.tensor([1])).item()
    2.0
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        _buffer(self, "weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input, target):  # noqa: A002
        return self._call(F.nll_loss, input, target, weight=self.weight,
                          ignore_index=self.ignore_index, reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities.

    >>> import chainrule as cr
    >>> round(cr.nn.BCELoss()(cr.tensor([0.5]), cr.tensor([1.0])).item(), 4)
    0.6931
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        _buffer(self, "weight", weight)

    def forward(self, input, target):  # noqa: A002
        return self._call(F.binary_cross_entropy, input, target, weight=self.weight,
                          reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits (stable), with ``pos_weight`` for the positive class.

    >>> import chainrule as cr
    >>> round(cr.nn.BCEWithLogitsLoss()(cr.tensor([0.0]), cr.tensor([1.0])).item(), 4)
    0.6931
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        _buffer(self, "weight", weight)
        _buffer(self, "pos_weight", pos_weight)

    def forward(self, input, target):  # noqa: A002
        return self._call(F.binary_cross_entropy_with_logits, input, target,
                          weight=self.weight, reduction=self.reduction,
                          pos_weight=self.pos_weight)


class KLDivLoss(_Loss):
    """``target * (log target - input)`` for log-probability inputs; use
    ``reduction='batchmean'`` for the KL divergence itself.

    >>> import chainrule as cr
    >>> cr.nn.KLDivLoss(reduction="batchmean")(cr.zeros(1, 2), cr.tensor([[0.5, 0.5]])).shape
    ()
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):  # noqa: A002
        return self._call(F.kl_div, input, target, reduction=self.reduction,
                          log_target=self.log_target)


class HingeLoss(_Loss):
    """``max(0, margin - y * y_hat)`` for labels ``y`` in {-1, 1} (the SVM loss).

    >>> import chainrule as cr
    >>> cr.nn.HingeLoss()(cr.tensor([0.5, 2.0]), cr.tensor([1.0, -1.0])).item()
    1.75
    """

    def __init__(self, margin=1.0, reduction="mean"):
        super().__init__(reduction=reduction)
        self.margin = margin

    def forward(self, input, target):  # noqa: A002
        return self._call(F.hinge_loss, input, target, margin=self.margin,
                          reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """PyTorch's HingeEmbeddingLoss: ``x`` where ``y = 1``, ``max(0, margin - x)`` where
    ``y = -1``."""

    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input, target):  # noqa: A002
        return self._call(F.hinge_embedding_loss, input, target, margin=self.margin,
                          reduction=self.reduction)


class ExponentialLoss(_Loss):
    """``exp(-y * y_hat)`` for labels ``y`` in {-1, 1}.

    >>> import chainrule as cr
    >>> cr.nn.ExponentialLoss()(cr.tensor([0.0]), cr.tensor([-1.0])).item()
    1.0
    """

    def __init__(self, reduction="mean"):
        super().__init__(reduction=reduction)

    def forward(self, input, target):  # noqa: A002
        return self._call(F.exponential_loss, input, target, reduction=self.reduction)


class SequenceCrossEntropyLoss(_Loss):
    """Token cross-entropy for teacher-forced language models: logits (B, T, V), targets
    (B, T); positions equal to ``ignore_index`` (the padding index) or beyond ``lengths[b]``
    are skipped, and the mean is over real tokens only.

    >>> import chainrule as cr
    >>> loss_fn = cr.nn.SequenceCrossEntropyLoss(ignore_index=0)
    >>> round(loss_fn(cr.zeros(2, 3, 5), cr.tensor([[1, 2, 0], [3, 0, 0]])).item(), 4)
    1.6094
    """

    def __init__(self, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction=reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, logits, targets, lengths=None):
        return self._call(F.sequence_cross_entropy, logits, targets,
                          ignore_index=self.ignore_index, lengths=lengths,
                          reduction=self.reduction, label_smoothing=self.label_smoothing)
