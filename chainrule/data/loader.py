"""``DataLoader``: batches from a data set, as ``torch.utils.data.DataLoader``.

``batch_size=1`` gives per-example stochastic gradient descent, any other size mini-batches,
and ``batch_size=None`` (or ``len(dataset)``) one full batch per epoch for full-batch gradient
descent. Shuffling draws a fresh permutation each epoch from an explicit ``generator``, so runs
repeat exactly.

When the data set is a :class:`~chainrule.data.TensorDataset` (or a :class:`Subset` of one) and
the default collate function is used, each batch is cut from the underlying arrays with one
index array per tensor instead of being assembled example by example.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Integral

import numpy as np

from .. import backend
from ..errors import ArgumentError, DataError
from ..random import _gen
from ..tensor import Tensor
from .dataset import Subset, TensorDataset

__all__ = ["BatchSampler", "DataLoader", "RandomSampler", "Sampler", "SequentialSampler",
           "default_collate"]


class Sampler:
    """Base class of index orders: iterate over the indices of one epoch."""

    def __iter__(self):
        raise NotImplementedError

    def _order(self):
        return np.fromiter(iter(self), dtype=np.int64)


class SequentialSampler(Sampler):
    """Indices ``0, 1, ..., n-1``.

    Examples
    --------
    >>> import chainrule as cr
    >>> list(cr.data.SequentialSampler(range(3)))
    [0, 1, 2]
    """

    def __init__(self, data_source):
        self.n = len(data_source)

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n

    def _order(self):
        return np.arange(self.n)


class RandomSampler(Sampler):
    """A random permutation each epoch (or ``num_samples`` draws with replacement).

    Examples
    --------
    >>> import chainrule as cr
    >>> s = cr.data.RandomSampler(range(4), generator=cr.Generator().manual_seed(0))
    >>> sorted(s)
    [0, 1, 2, 3]
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.n = len(data_source)
        self.replacement = bool(replacement)
        if num_samples is not None and (not isinstance(num_samples, Integral) or
                                        num_samples < 1):
            raise DataError(f"RandomSampler: argument 'num_samples' expected an int >= 1, got "
                            f"{num_samples!r}")
        self.num_samples = self.n if num_samples is None else int(num_samples)
        if not self.replacement and self.num_samples > self.n:
            raise DataError(f"RandomSampler: can't draw {self.num_samples} of {self.n} examples "
                            "without replacement; pass replacement=True")
        self.generator = generator

    def _order(self):
        g = _gen(self.generator)
        if self.replacement:
            return g.integers(0, self.n, size=self.num_samples)
        return g.permutation(self.n)[:self.num_samples]

    def __iter__(self):
        return iter(self._order().tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size``.

    Examples
    --------
    >>> import chainrule as cr
    >>> list(cr.data.BatchSampler(cr.data.SequentialSampler(range(5)), 2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler, batch_size, drop_last):
        self.sampler = sampler
        self.batch_size = _check_batch_size(batch_size, "BatchSampler")
        self.drop_last = bool(drop_last)

    def __iter__(self):
        order = self.sampler._order() if isinstance(self.sampler, Sampler) else \
            np.fromiter(iter(self.sampler), dtype=np.int64)
        for b in _batches(order, self.batch_size, self.drop_last):
            yield b.tolist()

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def _check_batch_size(batch_size, who):
    if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or batch_size < 1:
        raise DataError(f"{who}: argument 'batch_size' expected an int >= 1 (or None for one "
                        f"full batch), got {batch_size!r}")
    return int(batch_size)


def _batches(order, bs, drop_last):
    n = len(order)
    stop = n - n % bs if drop_last else n
    for s in range(0, stop, bs):
        yield order[s:s + bs]


def default_collate(batch):
    """Stack a list of examples into a batch.

    Tensors, arrays and numbers become one Tensor with a new leading dimension (Python floats
    give the default float dtype, ints int64); tuples stay tuples, lists lists and dicts dicts,
    collated entry by entry; strings are kept as a list.

    Examples
    --------
    >>> import chainrule as cr
    >>> xb, yb = cr.data.default_collate([(cr.ones(2), 0), (cr.zeros(2), 1)])
    >>> xb.shape, yb.tolist()
    ((2, 2), [0, 1])
    """
    if not batch:
        raise DataError("default_collate: got an empty batch")
    elem = batch[0]
    if isinstance(elem, (Tensor, np.ndarray, np.generic)):
        arrs = [b.data if isinstance(b, Tensor) else np.asarray(b) for b in batch]
        shapes = {a.shape for a in arrs}
        if len(shapes) != 1:
            raise DataError(f"default_collate: can't stack examples of different shapes "
                            f"{sorted(shapes)[:4]}; pad them to one length (e.g. "
                            "chainrule.data.pad_sequences) or pass a collate_fn")
        return Tensor._wrap(np.stack(arrs))
    if isinstance(elem, bool):
        return Tensor._wrap(np.array(batch, dtype=np.bool_))
    if isinstance(elem, Integral):
        return Tensor._wrap(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return Tensor._wrap(np.array(batch, dtype=backend.get_default_dtype()))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, Sequence):
        n = len(elem)
        if any(len(b) != n for b in batch):
            raise DataError("default_collate: the examples have different numbers of fields; "
                            "each example must have the same structure")
        cols = [default_collate(list(s)) for s in zip(*batch)]
        return tuple(cols) if isinstance(elem, tuple) else cols
    raise DataError(f"default_collate: can't batch examples of type {type(elem).__name__}; "
                    "return tensors, arrays, numbers, strings or tuples/dicts of them from "
                    "the data set, or pass a collate_fn")


def _tensor_source(dataset):
    """(arrays, index map or None) when batches can be sliced straight from arrays."""
    idx = None
    ds = dataset
    while type(ds) is Subset or (isinstance(ds, Subset) and
                                 type(ds).__getitem__ is Subset.__getitem__):
        idx = ds.indices if idx is None else ds.indices[idx]
        ds = ds.dataset
    if isinstance(ds, TensorDataset) and type(ds).__getitem__ is TensorDataset.__getitem__:
        return [t.data for t in ds.tensors], idx
    return None


class DataLoader:
    """Iterate over a data set in batches.

    Parameters
    ----------
    dataset : Dataset
        Anything with ``__len__`` and ``__getitem__``.
    batch_size : int or None
        Examples per batch; 1 for per-example SGD; ``None`` for the whole data set in one batch
        (full-batch gradient descent). Note: PyTorch's ``batch_size=None`` turns batching off;
        here it means one full batch.
    shuffle : bool
        Draw a new random order every epoch.
    sampler : Sampler or iterable of int, optional
        A custom order of indices (excludes ``shuffle``).
    batch_sampler : iterable of lists of int, optional
        Custom batches of indices (excludes ``batch_size``, ``shuffle``, ``sampler``,
        ``drop_last``).
    num_workers, pin_memory, timeout, worker_init_fn, prefetch_factor, persistent_workers :
        Accepted for PyTorch compatibility; loading runs in the calling process.
    collate_fn : callable, optional
        Turns a list of examples into a batch (default :func:`default_collate`).
    drop_last : bool
        Drop the last batch if it is smaller than ``batch_size``.
    generator : chainrule.Generator, optional
        Source of the shuffling order (default: the global generator).

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> ds = cr.data.TensorDataset(np.arange(10, dtype=np.float32), np.arange(10))
    >>> loader = cr.data.DataLoader(ds, batch_size=4, shuffle=True,
    ...                             generator=cr.Generator().manual_seed(0))
    >>> len(loader), [xb.shape for xb, yb in loader]
    (3, [(4,), (4,), (2,)])
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, *, generator=None, prefetch_factor=None,
                 persistent_workers=False):
        try:
            n = len(dataset)
        except TypeError:
            raise DataError(f"DataLoader: the data set ({type(dataset).__name__}) has no "
                            "__len__; define __len__ and __getitem__") from None
        if n == 0:
            raise DataError(f"DataLoader: the data set ({type(dataset).__name__}) is empty; "
                            "check how it was built (a filter that removed everything, an "
                            "empty split?)")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ArgumentError("DataLoader: batch_sampler excludes batch_size, shuffle, "
                                    "sampler and drop_last")
            batch_size = None
        elif batch_size is None:
            batch_size = n
        else:
            batch_size = _check_batch_size(batch_size, "DataLoader")
        if sampler is not None and shuffle:
            raise ArgumentError("DataLoader: sampler and shuffle exclude each other; shuffle "
                                "inside the sampler")
        if collate_fn is not None and not callable(collate_fn):
            raise ArgumentError(f"DataLoader: argument 'collate_fn' expected a callable, got "
                                f"{type(collate_fn).__name__}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = generator
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.collate_fn = collate_fn
        self.num_workers = num_workers
        self._n = n
        self._source = _tensor_source(dataset) if collate_fn is None else None

    def __len__(self):
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        bs = self.batch_size
        return n // bs if self.drop_last else -(-n // bs)

    def _order(self):
        if self.sampler is not None:
            if isinstance(self.sampler, Sampler):
                return self.sampler._order()
            return np.fromiter(iter(self.sampler), dtype=np.int64)
        if self.shuffle:
            return _gen(self.generator).permutation(self._n)
        return None

    def __iter__(self):
        # Re-read the data set each epoch, in case it was changed in between.
        self._n = len(self.dataset)
        self._source = _tensor_source(self.dataset) if self.collate_fn is None else None
        if self.batch_sampler is not None:
            for idx in self.batch_sampler:
                yield self._fetch(np.asarray(idx, dtype=np.int64))
            return
        order = self._order()
        bs = self.batch_size
        if order is None:
            n = self._n
            stop = n - n % bs if self.drop_last else n
            for s in range(0, stop, bs):
                yield self._fetch(slice(s, min(s + bs, n)))
            return
        for idx in _batches(order, bs, self.drop_last):
            yield self._fetch(idx)

    def _fetch(self, idx):
        src = self._source
        if src is not None:
            arrays, base = src
            if base is not None:
                idx = base[idx]
            if isinstance(idx, slice):
                return tuple(Tensor._wrap(a[idx].copy()) for a in arrays)
            return tuple(Tensor._wrap(np.take(a, idx, axis=0)) for a in arrays)
        if isinstance(idx, slice):
            idx = range(idx.start, idx.stop)
        items = [self.dataset[int(i)] for i in idx]
        return (self.collate_fn or default_collate)(items)

    def __repr__(self):
        return (f"DataLoader({type(self.dataset).__name__} of {self._n}, batch_size="
                f"{self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last})")
