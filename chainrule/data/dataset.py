"""Map-style data sets, as ``torch.utils.data``: ``Dataset``, ``TensorDataset``, ``Subset``,
``ConcatDataset``, ``random_split``, and ``check_finite`` for NaN/Inf screening."""

from __future__ import annotations

import bisect
import math
from numbers import Integral, Real

import numpy as np

from ..errors import DataError
from ..random import _gen
from ..tensor import Tensor

__all__ = ["ConcatDataset", "Dataset", "Subset", "TensorDataset", "check_finite",
           "random_split"]


class Dataset:
    """A map-style data set: ``len(ds)`` examples, ``ds[i]`` the ``i``-th.

    Subclass it and define ``__getitem__`` and ``__len__``.

    Examples
    --------
    >>> import chainrule as cr
    >>> class Squares(cr.data.Dataset):
    ...     def __len__(self):
    ...         return 4
    ...     def __getitem__(self, i):
    ...         return float(i), float(i * i)
    >>> Squares()[3]
    (3.0, 9.0)
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __add__(self, other):
        return ConcatDataset([self, other])


def _as_tensor(x, i):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor._wrap(x)
    try:
        return Tensor(x)
    except Exception as e:
        raise DataError(f"TensorDataset: tensor {i} can't be turned into a tensor ({e})") from None


class TensorDataset(Dataset):
    """Examples are the rows (first dimension) of equally long tensors or arrays.

    Parameters
    ----------
    *tensors : Tensor or array_like
        Inputs, targets, ...: all with the same first dimension.
    check_finite : bool
        Raise :class:`~chainrule.errors.DataError` if a floating-point tensor holds NaN or Inf.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> ds = cr.data.TensorDataset(np.zeros((5, 2), np.float32), np.arange(5))
    >>> len(ds), ds[1][1].item()
    (5, 1)
    """

    def __init__(self, *tensors, check_finite=False):
        if not tensors:
            raise DataError("TensorDataset: expected at least one tensor, got none")
        ts = tuple(_as_tensor(t, i) for i, t in enumerate(tensors))
        for i, t in enumerate(ts):
            if t.data.ndim == 0:
                raise DataError(f"TensorDataset: tensor {i} is 0-d; every tensor needs a first "
                                "dimension indexing the examples")
        sizes = [t.data.shape[0] for t in ts]
        if len(set(sizes)) != 1:
            raise DataError(f"TensorDataset: all tensors must have the same first dimension (the "
                            f"number of examples), got sizes {sizes}; check that inputs and "
                            "targets are aligned")
        self.tensors = ts
        if check_finite:
            _check_finite(self)

    def __getitem__(self, index):
        return tuple(Tensor._wrap(t.data[index]) for t in self.tensors)

    def __len__(self):
        return self.tensors[0].data.shape[0]

    def __repr__(self):
        shapes = ", ".join(str(t.shape) for t in self.tensors)
        return f"TensorDataset({shapes})"


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices``.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> ds = cr.data.TensorDataset(np.arange(10))
    >>> sub = cr.data.Subset(ds, [7, 2])
    >>> len(sub), sub[0][0].item()
    (2, 7)
    """

    def __init__(self, dataset, indices):
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise DataError(f"Subset: indices must lie in [-{n}, {n}) for a data set of {n} "
                            f"examples, got values from {idx.min()} to {idx.max()}")
        self.dataset = dataset
        self.indices = np.where(idx < 0, idx + n, idx)

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return [self.dataset[int(self.indices[i])] for i in index]
        return self.dataset[int(self.indices[index])]

    def __len__(self):
        return int(self.indices.size)


class ConcatDataset(Dataset):
    """Several data sets one after another.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> a, b = cr.data.TensorDataset(np.arange(3)), cr.data.TensorDataset(np.arange(10, 12))
    >>> both = a + b
    >>> len(both), both[3][0].item()
    (5, 10)
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise DataError("ConcatDataset: expected at least one data set, got none")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"ConcatDataset: index {index} out of range for {n} examples")
        k = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[k - 1] if k else 0
        return self.datasets[k][index - start]


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` at random into non-overlapping :class:`Subset` s.

    Parameters
    ----------
    dataset : Dataset
    lengths : sequence of int or of float
        Sizes summing to ``len(dataset)``, or fractions summing to 1 (sizes are rounded down and
        the remainder handed out one by one from the first split, as PyTorch does).
    generator : chainrule.Generator, optional
        Source of the permutation; the same seed gives the same split.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> ds = cr.data.TensorDataset(np.arange(10))
    >>> train, val = cr.data.random_split(ds, [0.8, 0.2], generator=cr.Generator().manual_seed(0))
    >>> len(train), len(val)
    (8, 2)
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise DataError("random_split: argument 'lengths' expected at least one size, got none")
    if all(isinstance(x, Real) and not isinstance(x, Integral) for x in lengths) and \
            math.isclose(sum(lengths), 1.0, abs_tol=1e-6):
        if any(not 0 <= x <= 1 for x in lengths):
            raise DataError(f"random_split: fractions must lie in [0, 1], got {lengths}")
        sizes = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
    else:
        if not all(isinstance(x, Integral) and not isinstance(x, bool) and x >= 0
                   for x in lengths):
            raise DataError(f"random_split: argument 'lengths' expected non-negative ints "
                            f"summing to {n} or fractions summing to 1, got {lengths}")
        sizes = [int(x) for x in lengths]
        if sum(sizes) != n:
            raise DataError(f"random_split: the lengths sum to {sum(sizes)} but the data set "
                            f"has {n} examples; give sizes summing to {n} or fractions summing "
                            "to 1")
    perm = _gen(generator).permutation(n)
    out, start = [], 0
    for s in sizes:
        out.append(Subset(dataset, perm[start:start + s]))
        start += s
    return out


def check_finite(*data, names=None):
    """Raise :class:`~chainrule.errors.DataError` if any floating-point array holds NaN or Inf.

    Parameters
    ----------
    *data : TensorDataset, Tensor or array_like
    names : list of str, optional
        Names to use in the message (default ``tensor 0``, ``tensor 1``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> cr.data.check_finite(np.array([[1.0, np.nan]]))
    Traceback (most recent call last):
    ...
    chainrule.errors.DataError: check_finite: tensor 0 has 1 NaN/Inf value(s), the first in \
example 0 at position (0, 1); drop or impute those examples before training
    """
    arrays = []
    for d in data:
        if isinstance(d, TensorDataset):
            arrays.extend(t.data for t in d.tensors)
        elif isinstance(d, Tensor):
            arrays.append(d.data)
        else:
            arrays.append(np.asarray(d))
    names = list(names) if names is not None else [f"tensor {i}" for i in range(len(arrays))]
    for name, a in zip(names, arrays):
        if a.dtype.kind not in "fc":
            continue
        bad = ~np.isfinite(a)
        if bad.any():
            pos = tuple(int(i) for i in np.argwhere(bad)[0])
            where = f"example {pos[0]} at position {pos}" if a.ndim else "the scalar"
            raise DataError(f"check_finite: {name} has {int(bad.sum())} NaN/Inf value(s), the "
                            f"first in {where}; drop or impute those examples before training")


_check_finite = check_finite  # TensorDataset's keyword argument shadows the name
