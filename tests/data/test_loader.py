"""Data sets, the loader, splits and transforms."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    Standardizer,
    Subset,
    TensorDataset,
    check_finite,
    default_collate,
    one_hot,
    random_split,
)
from chainrule.errors import ArgumentError, DataError, ShapeError


def _ds(n=10):
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n)
    return TensorDataset(X, y)


class ListDataset(Dataset):
    """A plain Python data set (no fast path)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(3, i, dtype=np.float32), i


# --------------------------------------------------------------------------------- batching
@pytest.mark.parametrize("n,bs,drop,count,last", [
    (10, 1, False, 10, 1), (10, 3, False, 4, 1), (10, 3, True, 3, 3), (10, 10, False, 1, 10),
    (10, None, False, 1, 10), (10, 25, False, 1, 10), (10, 25, True, 0, None),
])
@pytest.mark.parametrize("fast", [True, False])
def test_batch_counts(n, bs, drop, count, last, fast):
    ds = _ds(n) if fast else ListDataset(n)
    loader = DataLoader(ds, batch_size=bs, drop_last=drop)
    batches = list(loader)
    assert len(loader) == len(batches) == count
    if count:
        assert batches[-1][0].shape == (last, 3)
        xs = np.concatenate([b[1].data for b in batches])
        assert xs.tolist() == list(range(len(xs)))  # sequential order


def test_batches_are_tuples_of_tensors_with_dtypes_kept():
    for ds in (_ds(), ListDataset(10)):
        xb, yb = next(iter(DataLoader(ds, batch_size=4)))
        assert isinstance(xb, cr.Tensor) and xb.dtype == np.float32 and xb.shape == (4, 3)
        assert isinstance(yb, cr.Tensor) and yb.dtype == np.int64


def test_fast_path_equals_item_by_item_collation():
    ds = _ds(17)
    g1, g2 = cr.Generator().manual_seed(3), cr.Generator().manual_seed(3)
    fast = list(DataLoader(ds, batch_size=5, shuffle=True, generator=g1))
    slow = list(DataLoader(ds, batch_size=5, shuffle=True, generator=g2,
                           collate_fn=default_collate))
    for (fx, fy), (sx, sy) in zip(fast, slow):
        np.testing.assert_array_equal(fx.data, sx.data)
        np.testing.assert_array_equal(fy.data, sy.data)


def test_batches_are_copies():
    ds = _ds()
    xb, _ = next(iter(DataLoader(ds, batch_size=4)))
    xb.data[...] = -1
    assert ds.tensors[0].data.min() >= 0


def test_shuffle_is_deterministic_by_generator_and_changes_per_epoch():
    ds = _ds(50)

    def epochs(seed, k=2):
        loader = DataLoader(ds, batch_size=8, shuffle=True,
                            generator=cr.Generator().manual_seed(seed))
        return [np.concatenate([yb.data for _, yb in loader]) for _ in range(k)]

    a, b, c = epochs(0), epochs(0), epochs(1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a[0], c[0])
    assert sorted(a[0].tolist()) == list(range(50))
    # the default generator is reseeded by cr.manual_seed
    cr.manual_seed(5)
    d = np.concatenate([yb.data for _, yb in DataLoader(ds, batch_size=8, shuffle=True)])
    cr.manual_seed(5)
    e = np.concatenate([yb.data for _, yb in DataLoader(ds, batch_size=8, shuffle=True)])
    np.testing.assert_array_equal(d, e)


def test_subset_of_tensor_dataset_uses_composed_indices():
    ds = _ds(20)
    sub = Subset(Subset(ds, np.arange(19, -1, -1)), [0, 5, 7])
    (_, yb), = list(DataLoader(sub, batch_size=None))
    assert yb.tolist() == [19, 14, 12]
    assert [sub[i][1].item() for i in range(3)] == [19, 14, 12]


def test_collate_structures():
    Pair = namedtuple("Pair", "x y")
    batch = [{"a": 1.0, "b": (np.ones(2), "s", [1, 2])}, {"a": 2.0, "b": (np.zeros(2), "t",
                                                                          [3, 4])}]
    out = default_collate(batch)
    assert out["a"].dtype == np.float32 and out["a"].tolist() == [1.0, 2.0]
    arr, strs, lst = out["b"]
    assert isinstance(out["b"], tuple) and arr.shape == (2, 2) and strs == ["s", "t"]
    assert isinstance(lst, list) and [t.tolist() for t in lst] == [[1, 3], [2, 4]]
    p = default_collate([Pair(cr.ones(2), 0), Pair(cr.zeros(2), 1)])
    assert isinstance(p, Pair) and p.x.shape == (2, 2) and p.y.dtype == np.int64
    with pytest.raises(DataError, match="different shapes"):
        default_collate([np.ones(2), np.ones(3)])
    with pytest.raises(DataError, match="can't batch"):
        default_collate([object(), object()])


def test_custom_sampler_and_batch_sampler():
    ds = _ds(6)
    got = [yb.tolist() for _, yb in DataLoader(ds, batch_size=2, sampler=[5, 4, 3, 0])]
    assert got == [[5, 4], [3, 0]]
    got = [yb.tolist() for _, yb in DataLoader(ds, batch_sampler=[[1], [2, 3, 4]])]
    assert got == [[1], [2, 3, 4]]
    sampler = cr.data.RandomSampler(ds, generator=cr.Generator().manual_seed(0))
    loader = DataLoader(ds, batch_size=4, sampler=sampler)
    assert len(loader) == 2 and sorted(np.concatenate([y.data for _, y in loader])) == list(
        range(6))


@pytest.mark.parametrize("bs", [0, -3, 2.5, True])
def test_bad_batch_size(bs):
    with pytest.raises(DataError, match="batch_size.*int >= 1"):
        DataLoader(_ds(), batch_size=bs)


def test_bad_loader_arguments():
    with pytest.raises(DataError, match="empty"):
        DataLoader(ListDataset(0))
    with pytest.raises(ArgumentError, match="exclude"):
        DataLoader(_ds(), shuffle=True, sampler=[0, 1])
    with pytest.raises(ArgumentError, match="batch_sampler"):
        DataLoader(_ds(), batch_size=2, batch_sampler=[[0]])


# ------------------------------------------------------------------------------- data sets
def test_tensor_dataset_validation():
    with pytest.raises(DataError, match=r"same first dimension.*\[5, 4\].*aligned"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(DataError, match="at least one"):
        TensorDataset()
    with pytest.raises(DataError, match="0-d"):
        TensorDataset(np.float32(1.0))
    X = np.zeros((4, 2), np.float32)
    X[2, 1] = np.inf
    TensorDataset(X, np.arange(4))  # not checked unless asked
    with pytest.raises(DataError, match=r"tensor 0 has 1 NaN/Inf.*example 2.*drop or impute"):
        TensorDataset(X, np.arange(4), check_finite=True)
    with pytest.raises(DataError, match="features"):
        check_finite(np.array([np.nan]), names=["features"])
    check_finite(np.arange(3), np.ones(3))  # integers and finite floats pass


def test_random_split_sizes_fractions_and_determinism():
    ds = _ds(10)
    a = random_split(ds, [0.5, 0.3, 0.2], generator=cr.Generator().manual_seed(0))
    assert [len(s) for s in a] == [5, 3, 2]
    b = random_split(ds, [5, 3, 2], generator=cr.Generator().manual_seed(0))
    for s, t in zip(a, b):
        np.testing.assert_array_equal(s.indices, t.indices)
    allidx = np.concatenate([s.indices for s in a])
    assert sorted(allidx.tolist()) == list(range(10))
    assert [len(s) for s in random_split(_ds(7), [0.34, 0.33, 0.33])] == [3, 2, 2]
    with pytest.raises(DataError, match="sum to 9"):
        random_split(ds, [5, 4])
    with pytest.raises(DataError, match="lengths"):
        random_split(ds, [-1, 11])


def test_concat_dataset():
    both = ConcatDataset([_ds(3), _ds(2)])
    assert len(both) == 5 and both[4][1].item() == 1 and both[-1][1].item() == 1
    assert [y.tolist() for _, y in DataLoader(both, batch_size=None)] == [[0, 1, 2, 0, 1]]


# ------------------------------------------------------------------------------ transforms
def test_standardizer_fits_on_train_only():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(200, 4)) * [1, 10, 0.1, 0] + [5, -3, 0, 7]).astype(np.float32)
    train, test = X[:150], X[150:]
    s = Standardizer().fit(train)
    Z = s.transform(train)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z[:, :3].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(Z[:, :3].std(0), 1, rtol=1e-4)
    np.testing.assert_array_equal(Z[:, 3], 0)  # constant feature: centred, not divided by 0
    # the test split uses the training statistics
    np.testing.assert_allclose(s.transform(test), (test - train.mean(0)) /
                               np.where(train.std(0) > 0, train.std(0), 1), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(s.inverse_transform(s.transform(test)), test, rtol=1e-5,
                               atol=1e-5)
    t = s.transform(cr.tensor(test))
    assert isinstance(t, cr.Tensor) and t.dtype == np.float32
    s2 = Standardizer()
    s2.load_state_dict(s.state_dict())
    np.testing.assert_array_equal(s2.transform(test), s.transform(test))
    np.testing.assert_allclose(Standardizer().fit_transform(train), Z)


def test_standardizer_errors():
    with pytest.raises(DataError, match="fit"):
        Standardizer().transform(np.ones((2, 2)))
    s = Standardizer().fit(np.ones((3, 2)))
    with pytest.raises(ShapeError, match="doesn't match"):
        s.transform(np.ones((3, 5)))
    with pytest.raises(DataError, match="NaN"):
        Standardizer().fit(np.array([[np.nan, 1.0]]))
    with pytest.raises(DataError, match="no examples"):
        Standardizer().fit(np.ones((0, 2)))


def test_one_hot():
    out = one_hot(np.array([[0, 2], [1, 1]]), num_classes=3)
    assert isinstance(out, np.ndarray) and out.shape == (2, 2, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out.argmax(-1), [[0, 2], [1, 1]])
    t = one_hot(cr.tensor([1, 0]))
    assert isinstance(t, cr.Tensor) and t.tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert one_hot([2], 4, dtype=cr.int64).dtype == np.int64
    with pytest.raises(DataError, match=r"label 3 is outside \[0, 3\)"):
        one_hot([0, 3], num_classes=3)
    with pytest.raises(DataError, match="integer"):
        one_hot([0.5])
    with pytest.raises(ArgumentError, match="num_classes"):
        one_hot([0], num_classes=0)


def test_full_batch_and_per_example_training_run():
    # Full-batch gradient descent and per-example SGD both fit a line through the loader.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 1)).astype(np.float32)
    y = (3 * X[:, 0] - 1).astype(np.float32)
    ds = TensorDataset(X, y)
    for bs, epochs, lr in ((None, 200, 0.1), (1, 10, 0.05)):
        w = cr.zeros(1, requires_grad=True)
        b = cr.zeros(1, requires_grad=True)
        opt = cr.optim.SGD([w, b], lr=lr)
        loader = DataLoader(ds, batch_size=bs, shuffle=True,
                            generator=cr.Generator().manual_seed(0))
        for _ in range(epochs):
            for xb, yb in loader:
                opt.zero_grad()
                ((xb[:, 0] * w + b - yb) ** 2).mean().backward()
                opt.step()
        np.testing.assert_allclose([w.item(), b.item()], [3, -1], atol=1e-2)
