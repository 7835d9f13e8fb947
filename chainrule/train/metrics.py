"""Metrics for classification and language models, computed over a whole epoch.

A metric object gathers what it needs batch by batch (:meth:`Metric.update`) and gives its value
at the end (:meth:`Metric.compute`), so epoch values are exact, not averages of batch averages.
The functions :func:`accuracy`, :func:`confusion_matrix`, :func:`per_class_accuracy` and
:func:`perplexity` compute the same quantities in one call.

Outputs are the model's raw scores (logits) of shape ``(N, C)``, or ``(N, T, C)`` for a sequence
model whose targets have shape ``(N, T)``; predictions are the arg-max over the last axis.
A binary model may instead return one logit per example, shape ``(N,)`` or ``(N, 1)``; its
prediction is ``logit > 0``.

Example
-------
>>> import numpy as np
>>> logits = np.array([[2.0, 0.1], [0.2, 1.0], [3.0, -1.0]])
>>> accuracy(logits, np.array([0, 1, 1]))
0.6666666666666666
>>> confusion_matrix(np.array([0, 1, 1]), logits.argmax(-1), num_classes=2).tolist()
[[1, 0], [1, 1]]
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError, DataError
from ..tensor import Tensor

__all__ = [
    "METRICS",
    "Accuracy",
    "ConfusionMatrix",
    "Metric",
    "PerClassAccuracy",
    "Perplexity",
    "accuracy",
    "confusion_matrix",
    "get_metric",
    "per_class_accuracy",
    "perplexity",
    "predictions",
]


def _array(x) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, Tensor):
        return x.data
    return np.asarray(x)


def predictions(output) -> np.ndarray:
    """Predicted class indices from model outputs (arg-max of the last axis; ``> 0`` for one
    logit per example).

    Examples
    --------
    >>> predictions(np.array([[0.1, 0.9], [2.0, 0.0]])).tolist()
    [1, 0]
    >>> predictions(np.array([-0.5, 1.5])).tolist()
    [0, 1]
    """
    out = _array(output)
    if out.ndim == 1 or (out.ndim == 2 and out.shape[-1] == 1):
        return (out.reshape(out.shape[0]) > 0).astype(np.int64)
    return out.argmax(axis=-1)


def _pair(output, target) -> tuple[np.ndarray, np.ndarray]:
    pred = predictions(output).reshape(-1)
    tgt = _array(target).reshape(-1)
    if pred.shape != tgt.shape:
        raise DataError(
            f"metrics: outputs give {pred.size} predictions but the target has {tgt.size} "
            "labels; a classifier must return (N, C) scores for N labels, or (N, T, C) for "
            "(N, T) labels"
        )
    return pred, tgt.astype(np.int64, copy=False)


def accuracy(output, target) -> float:
    """Fraction of correct predictions.

    Examples
    --------
    >>> accuracy(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0, 0]))
    0.5
    """
    pred, tgt = _pair(output, target)
    return float((pred == tgt).mean()) if tgt.size else float("nan")


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Counts ``M[i, j]`` of examples of true class ``i`` predicted as class ``j``.

    Examples
    --------
    >>> confusion_matrix([0, 1, 1], [0, 0, 1]).tolist()
    [[1, 0], [1, 1]]
    """
    t = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    if num_classes is None:
        num_classes = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    k = int(num_classes)
    if t.size and (t.min() < 0 or t.max() >= k or p.min() < 0 or p.max() >= k):
        raise DataError(f"confusion_matrix: labels must lie in [0, {k}), got labels in "
                        f"[{min(t.min(), p.min())}, {max(t.max(), p.max())}]")
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def per_class_accuracy(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Recall of each class (NaN for a class with no examples).

    Examples
    --------
    >>> per_class_accuracy([0, 1, 1], [0, 0, 1]).tolist()
    [1.0, 0.5]
    """
    cm = confusion_matrix(y_true, y_pred, num_classes)
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diag(cm) / support


def perplexity(mean_nll: float) -> float:
    """``exp`` of the mean negative log-likelihood per token (natural log).

    Examples
    --------
    >>> round(perplexity(math.log(4.0)), 6)
    4.0
    """
    try:
        return math.exp(mean_nll)
    except OverflowError:
        return float("inf")


class Metric:
    """Base class: ``reset()``, ``update(output, target, loss, n)``, ``compute()``.

    ``name`` is the key under which the trainer logs the value (prefixed by ``val_`` for the
    validation pass). ``scalar`` says whether the value is one number (goes into CSV history and
    progress lines) or an array (JSON history only).
    """

    name = "metric"
    scalar = True

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, output, target, loss: float | None = None, n: int | None = None) -> None:
        raise NotImplementedError

    def compute(self):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


class Accuracy(Metric):
    """Fraction of correct arg-max predictions over everything seen since :meth:`reset`.

    Examples
    --------
    >>> m = Accuracy()
    >>> m.update(np.array([[1.0, 0.0]]), np.array([0]))
    >>> m.update(np.array([[1.0, 0.0]]), np.array([1]))
    >>> m.compute()
    0.5
    """

    name = "accuracy"

    def __init__(self):
        self.reset()

    def reset(self):
        self.correct = 0
        self.total = 0

    def update(self, output, target, loss=None, n=None):
        pred, tgt = _pair(output, target)
        self.correct += int((pred == tgt).sum())
        self.total += tgt.size

    def compute(self):
        return self.correct / self.total if self.total else float("nan")


class ConfusionMatrix(Metric):
    """Confusion matrix over the epoch; ``num_classes`` is inferred from the outputs if omitted.

    Examples
    --------
    >>> m = ConfusionMatrix(2)
    >>> m.update(np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([0, 1]))
    >>> m.compute().tolist()
    [[1, 0], [1, 0]]
    """

    name = "confusion_matrix"
    scalar = False

    def __init__(self, num_classes: int | None = None):
        self.num_classes = num_classes
        self.reset()

    def reset(self):
        self.matrix = None

    def update(self, output, target, loss=None, n=None):
        out = _array(output)
        k = self.num_classes
        if k is None:
            k = 2 if out.ndim == 1 or out.shape[-1] == 1 else out.shape[-1]
            self.num_classes = k
        pred, tgt = _pair(out, target)
        cm = confusion_matrix(tgt, pred, k)
        self.matrix = cm if self.matrix is None else self.matrix + cm

    def compute(self):
        if self.matrix is None:
            k = self.num_classes or 0
            return np.zeros((k, k), dtype=np.int64)
        return self.matrix


class PerClassAccuracy(ConfusionMatrix):
    """Accuracy (recall) of each class over the epoch, NaN for a class not seen.

    Examples
    --------
    >>> m = PerClassAccuracy(2)
    >>> m.update(np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([0, 1]))
    >>> m.compute().tolist()
    [1.0, 0.0]
    """

    name = "per_class_accuracy"

    def compute(self):
        cm = super().compute()
        support = cm.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.diag(cm) / support


class Perplexity(Metric):
    """``exp`` of the mean loss per target element, for language models trained with mean
    cross-entropy; each batch's loss is weighted by its number of target tokens.

    Examples
    --------
    >>> m = Perplexity()
    >>> m.update(None, np.zeros((2, 3)), loss=math.log(2.0))
    >>> round(m.compute(), 6)
    2.0
    """

    name = "perplexity"

    def __init__(self):
        self.reset()

    def reset(self):
        self.total = 0.0
        self.count = 0

    def update(self, output, target, loss=None, n=None):
        if loss is None:
            raise ConfigError("Perplexity: needs the batch loss; the trainer passes it")
        count = int(_array(target).size)
        self.total += float(loss) * count
        self.count += count

    def compute(self):
        return perplexity(self.total / self.count) if self.count else float("nan")


METRICS = {
    "accuracy": Accuracy,
    "per_class_accuracy": PerClassAccuracy,
    "confusion_matrix": ConfusionMatrix,
    "perplexity": Perplexity,
}
"""Metric names accepted by :func:`get_metric` (and by ``fit(metrics=[...])``)."""


def get_metric(spec) -> Metric:
    """A metric from a name in :data:`METRICS`, a :class:`Metric` instance or class.

    Examples
    --------
    >>> get_metric("accuracy").name
    'accuracy'
    """
    if isinstance(spec, Metric):
        return spec
    if isinstance(spec, type) and issubclass(spec, Metric):
        return spec()
    if isinstance(spec, str):
        key = spec.strip().lower().replace("-", "_")
        if key in ("acc",):
            key = "accuracy"
        if key in METRICS:
            return METRICS[key]()
    known = ", ".join(sorted(METRICS))
    raise ConfigError(f"metrics: unknown metric {spec!r}; choose from {known} or pass a "
                      "chainrule.train.metrics.Metric")
