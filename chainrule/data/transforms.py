"""Data transforms: feature standardisation fitted on the training split, and one-hot labels."""

from __future__ import annotations

from numbers import Integral

import numpy as np

from ..errors import ArgumentError, DataError, ShapeError
from ..tensor import Tensor

__all__ = ["Standardizer", "one_hot"]


def _array(x, who):
    if isinstance(x, Tensor):
        return x.data
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise DataError(f"{who}: expected numeric data, got dtype {a.dtype}")
    return a


class Standardizer:
    """Shift and scale each feature to zero mean and unit variance.

    Fit it on the training split only, then apply the same transform to validation and test
    data, so no information from those splits leaks into training. Features with zero variance
    are only centred (their scale is taken as 1).

    Parameters
    ----------
    axis : int or tuple of int
        The axes averaged over (default 0, the examples): with data of shape ``(n, d)`` each of
        the ``d`` features gets its own mean and standard deviation.
    eps : float
        Standard deviations at or below this count as zero.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> X_train = np.array([[1.0, 10.0], [3.0, 30.0]], dtype=np.float32)
    >>> s = cr.data.Standardizer().fit(X_train)
    >>> s.transform(X_train).tolist()
    [[-1.0, -1.0], [1.0, 1.0]]
    >>> s.transform(np.array([[2.0, 50.0]], dtype=np.float32)).tolist()
    [[0.0, 3.0]]
    """

    def __init__(self, axis=0, eps=1e-12):
        self.axis = tuple(axis) if isinstance(axis, (tuple, list)) else int(axis)
        self.eps = float(eps)
        self.mean = None
        self.std = None

    def fit(self, X):
        """Learn per-feature mean and standard deviation from ``X`` (the training split)."""
        a = _array(X, "Standardizer.fit")
        axes = self.axis if isinstance(self.axis, tuple) else (self.axis,)
        try:
            count = int(np.prod([a.shape[ax] for ax in axes]))
        except IndexError:
            raise ShapeError(f"Standardizer.fit: axis {self.axis} doesn't exist for data of "
                             f"shape {a.shape}") from None
        if count == 0:
            raise DataError(f"Standardizer.fit: no examples to fit on (data of shape {a.shape})")
        a64 = a.astype(np.float64)
        if not np.isfinite(a64).all():
            raise DataError("Standardizer.fit: the data holds NaN or Inf; clean it first "
                            "(chainrule.data.check_finite shows where)")
        mean = a64.mean(axis=self.axis, keepdims=True)
        std = a64.std(axis=self.axis, keepdims=True)
        self.mean = mean
        self.std = np.where(std <= self.eps, 1.0, std)
        return self

    def _params(self, a, who):
        if self.mean is None:
            raise DataError(f"Standardizer.{who}: not fitted yet; call fit(X_train) first")
        try:
            np.broadcast_shapes(a.shape, self.mean.shape)
        except ValueError:
            raise ShapeError(f"Standardizer.{who}: data of shape {a.shape} doesn't match the "
                             f"fitted statistics of shape {self.mean.shape}") from None
        if a.ndim != self.mean.ndim:
            raise ShapeError(f"Standardizer.{who}: data has {a.ndim} dimensions but the "
                             f"Standardizer was fitted on {self.mean.ndim}")
        dt = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
        return self.mean.astype(dt), self.std.astype(dt)

    def transform(self, X):
        """``(X - mean) / std`` with the fitted statistics; Tensors stay Tensors (graph kept)."""
        a = X.data if isinstance(X, Tensor) else _array(X, "Standardizer.transform")
        mean, std = self._params(a, "transform")
        if isinstance(X, Tensor):
            return (X - Tensor._wrap(mean)) / Tensor._wrap(std)
        return (a - mean) / std

    def fit_transform(self, X):
        """Fit on ``X`` and transform it."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z):
        """Undo :meth:`transform`: ``Z * std + mean``."""
        a = Z.data if isinstance(Z, Tensor) else _array(Z, "Standardizer.inverse_transform")
        mean, std = self._params(a, "inverse_transform")
        if isinstance(Z, Tensor):
            return Z * Tensor._wrap(std) + Tensor._wrap(mean)
        return a * std + mean

    def state_dict(self) -> dict:
        """The fitted statistics as arrays (saveable with ``chainrule.save``)."""
        if self.mean is None:
            raise DataError("Standardizer.state_dict: not fitted yet; call fit(X_train) first")
        return {"mean": self.mean.copy(), "std": self.std.copy(),
                "axis": list(self.axis) if isinstance(self.axis, tuple) else self.axis}

    def load_state_dict(self, state_dict) -> None:
        mean = state_dict["mean"]
        std = state_dict["std"]
        mean = np.array(mean.data if isinstance(mean, Tensor) else mean, dtype=np.float64)
        std = np.array(std.data if isinstance(std, Tensor) else std, dtype=np.float64)
        if mean.shape != std.shape:
            raise ShapeError(f"Standardizer.load_state_dict: mean shape {mean.shape} and std "
                             f"shape {std.shape} differ")
        axis = state_dict.get("axis", 0)
        self.axis = tuple(axis) if isinstance(axis, (list, tuple)) else int(axis)
        self.mean, self.std = mean, std

    def __repr__(self):
        fitted = "unfitted" if self.mean is None else f"fitted, stats shape {self.mean.shape}"
        return f"Standardizer(axis={self.axis}, {fitted})"


def one_hot(labels, num_classes=None, dtype=np.float32):
    """Class indices to one-hot rows: shape ``labels.shape + (num_classes,)``.

    Unlike ``torch.nn.functional.one_hot`` (int64), the default dtype is float32, ready to use
    as a regression target. An ndarray gives an ndarray, anything else a Tensor.

    Parameters
    ----------
    labels : array_like of int
        Class indices in ``[0, num_classes)``.
    num_classes : int, optional
        Number of classes (default: largest label + 1).
    dtype : dtype

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.data.one_hot([0, 2], num_classes=3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    from .. import backend

    y = labels.data if isinstance(labels, Tensor) else np.asarray(labels)
    if y.dtype.kind not in "iu":
        if y.dtype.kind == "f" and y.size and np.all(np.isfinite(y)) and \
                np.all(y == np.round(y)):
            y = y.astype(np.int64)
        elif y.size == 0:
            y = y.astype(np.int64)
        else:
            raise DataError(f"one_hot: labels must be integer class indices, got dtype {y.dtype}")
    if num_classes is None:
        if y.size == 0:
            raise DataError("one_hot: can't infer num_classes from no labels; pass num_classes")
        num_classes = int(y.max()) + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, Integral) or \
            num_classes < 1:
        raise ArgumentError(f"one_hot: argument 'num_classes' expected an int >= 1, got "
                            f"{num_classes!r}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        bad = y[(y < 0) | (y >= num_classes)].reshape(-1)[0]
        raise DataError(f"one_hot: label {int(bad)} is outside [0, {num_classes}); labels must be "
                        "class indices 0 .. num_classes-1")
    dt = backend.as_dtype(dtype)
    out = np.zeros(y.shape + (int(num_classes),), dtype=dt)
    np.put_along_axis(out, y[..., None].astype(np.intp), 1, axis=-1)
    return out if isinstance(labels, np.ndarray) else Tensor._wrap(out)
