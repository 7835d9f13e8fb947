"""Tests of chainrule.data.datasets: synthetic generators, MNIST-1D, IDX files and text tools."""

from __future__ import annotations

import gzip
import os
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule.data.datasets import idx, mnist1d, synthetic, text
from chainrule.errors import ChainruleError, ConfigError, DataError

SENTIMENT_DIR = Path("/work/shared/data/sentiment-labelled-sentences")

# name -> (generator, keyword arguments, number of classes)
GENERATORS = {
    "blobs": (synthetic.blobs, {"centers": 3}, 3),
    "two_moons": (synthetic.two_moons, {}, 2),
    "circles": (synthetic.circles, {}, 2),
    "spirals": (synthetic.spirals, {"classes": 3}, 3),
    "xor": (synthetic.xor, {}, 2),
    "linearly_separable": (synthetic.linearly_separable, {}, 2),
    "gaussian_two_class": (synthetic.gaussian_two_class, {}, 2),
}
NOISY = ["two_moons", "circles", "spirals", "xor", "linearly_separable"]


# --------------------------------------------------------------------------- synthetic


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_synthetic_shapes_dtypes_and_balance(name):
    fn, kwargs, k = GENERATORS[name]
    X, y = fn(n=301, seed=0, **kwargs)
    assert X.shape == (301, 2) and X.dtype == np.float32
    assert y.shape == (301,) and y.dtype == np.int64
    assert np.all(np.isfinite(X))
    counts = np.bincount(y, minlength=k)
    assert len(counts) == k
    assert counts.max() - counts.min() <= 1
    # Rows are shuffled: the labels are not sorted.
    assert not np.all(np.diff(y) >= 0)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_synthetic_determinism(name):
    fn, kwargs, _ = GENERATORS[name]
    X1, y1 = fn(n=100, seed=7, **kwargs)
    X2, y2 = fn(n=100, seed=7, **kwargs)
    X3, _ = fn(n=100, seed=8, **kwargs)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


def test_synthetic_does_not_touch_global_rng():
    np.random.seed(0)
    state = np.random.get_state()
    for fn, kwargs, _ in GENERATORS.values():
        fn(n=10, seed=1, **kwargs)
    after = np.random.get_state()
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2:] == after[2:]


@pytest.mark.parametrize("name", NOISY)
def test_noise_is_exactly_scaled_gaussian(name):
    fn, kwargs, _ = GENERATORS[name]
    X0, y0 = fn(n=4000, noise=0.0, seed=3, **kwargs)
    X1, y1 = fn(n=4000, noise=0.3, seed=3, **kwargs)
    np.testing.assert_array_equal(y0, y1)
    delta = (X1 - X0).astype(np.float64)
    assert abs(delta.std() - 0.3) < 0.02
    assert abs(delta.mean()) < 0.02


def test_noise_free_geometry():
    X, y = synthetic.circles(n=200, noise=0.0, factor=0.3, seed=0)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(radius[y == 1], 0.3, atol=1e-6)

    X, y = synthetic.xor(n=500, noise=0.0, seed=0)
    assert np.all((X[:, 0] * X[:, 1] < 0) == (y == 1))

    X, y = synthetic.two_moons(n=400, noise=0.0, seed=0)
    np.testing.assert_allclose(np.hypot(X[y == 0, 0], X[y == 0, 1]), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.hypot(X[y == 1, 0] - 1, X[y == 1, 1] - 0.5), 1.0, atol=1e-6)

    X, _ = synthetic.spirals(n=300, noise=0.0, seed=0)
    assert np.hypot(X[:, 0], X[:, 1]).max() <= 1.0 + 1e-6


def test_linearly_separable_has_a_margin():
    X, y = synthetic.linearly_separable(n=500, margin=0.4, seed=5)
    # Least squares on +-1 targets finds a separating line for such well separated data.
    A = np.hstack([X.astype(np.float64), np.ones((len(X), 1))])
    w, *_ = np.linalg.lstsq(A, np.where(y == 1, 1.0, -1.0), rcond=None)
    assert np.all((A @ w > 0) == (y == 1))


def test_blobs_explicit_centers_and_std():
    centers = np.array([[-10.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    X, y = synthetic.blobs(n=3000, centers=centers, std=[0.1, 0.5, 1.0], seed=0)
    for c in range(3):
        pts = X[y == c].astype(np.float64)
        np.testing.assert_allclose(pts.mean(0), centers[c], atol=0.1)
    assert X[y == 0].std() < X[y == 2].std()


def test_gaussian_two_class_distance():
    X, y = synthetic.gaussian_two_class(n=2000, distance=4.0, std=0.5, seed=0)
    gap = X[y == 1, 0].mean() - X[y == 0, 0].mean()
    assert abs(gap - 4.0) < 0.1


@pytest.mark.parametrize(
    ("call", "arg"),
    [
        (lambda: synthetic.two_moons(n=0), "n"),
        (lambda: synthetic.two_moons(n=2.5), "n"),
        (lambda: synthetic.two_moons(n=True), "n"),
        (lambda: synthetic.circles(noise=-1.0), "noise"),
        (lambda: synthetic.circles(factor=1.0), "factor"),
        (lambda: synthetic.spirals(classes=1), "classes"),
        (lambda: synthetic.spirals(turns=0), "turns"),
        (lambda: synthetic.xor(noise=float("nan")), "noise"),
        (lambda: synthetic.blobs(centers=[[0, 0, 0]]), "centers"),
        (lambda: synthetic.blobs(centers=2, std=[1.0, 2.0, 3.0]), "std"),
        (lambda: synthetic.blobs(std=0.0), "std"),
        (lambda: synthetic.gaussian_two_class(seed=-1), "seed"),
    ],
)
def test_synthetic_argument_errors(call, arg):
    with pytest.raises(DataError) as info:
        call()
    assert isinstance(info.value, ValueError) and isinstance(info.value, ChainruleError)
    assert f"'{arg}'" in str(info.value) and "expected" in str(info.value)


def test_synthetic_error_names_function():
    with pytest.raises(DataError, match=r"^spirals: argument 'n' expected .*got 0"):
        synthetic.spirals(n=0)


def test_generate_by_name():
    X, y = synthetic.generate("spirals", n=30, seed=1)
    X2, y2 = synthetic.spirals(n=30, seed=1)
    np.testing.assert_array_equal(X, X2)
    with pytest.raises(ConfigError, match="two_moons"):
        synthetic.generate("moon")


def test_tiny_n_is_allowed():
    X, y = synthetic.spirals(n=1, classes=3, seed=0)
    assert X.shape == (1, 2) and y.tolist() == [0]


# --------------------------------------------------------------------------- MNIST-1D


def _same_state(a, b) -> bool:
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


def test_mnist1d_default_split_and_cache_round_trip(tmp_path):
    np.random.seed(123)
    random.seed(123)
    np_state, py_state = np.random.get_state(), random.getstate()

    data = mnist1d.load_mnist1d(root=tmp_path)
    assert _same_state(np_state, np.random.get_state())
    assert py_state == random.getstate()

    assert data["x"].shape == (4000, 40) and data["x"].dtype == np.float32
    assert data["x_test"].shape == (1000, 40) and data["x_test"].dtype == np.float32
    assert data["y"].shape == (4000,) and data["y"].dtype == np.int64
    assert data["y_test"].shape == (1000,) and data["y_test"].dtype == np.int64
    assert data["t"].shape == (40,)
    assert set(np.unique(data["y"]).tolist()) == set(range(10))
    assert set(np.unique(data["y_test"]).tolist()) == set(range(10))

    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"
    with np.load(files[0], allow_pickle=False) as archive:
        assert sorted(archive.files) == ["t", "x", "x_test", "y", "y_test"]

    again = mnist1d.load_mnist1d(root=tmp_path)
    for key in data:
        np.testing.assert_array_equal(data[key], again[key])


def test_mnist1d_matches_package_generator(tmp_path):
    from mnist1d.data import get_dataset_args, make_dataset

    data = mnist1d.load_mnist1d(root=tmp_path, num_samples=200, seed=5)
    args = get_dataset_args()
    args.num_samples, args.seed = 200, 5
    state = np.random.get_state(), random.getstate()
    try:
        raw = make_dataset(args)
    finally:
        np.random.set_state(state[0])
        random.setstate(state[1])
    np.testing.assert_array_equal(data["x"], raw["x"].astype(np.float32))
    np.testing.assert_array_equal(data["y_test"], raw["y_test"])


def test_mnist1d_cache_keys_and_variants(tmp_path):
    a = mnist1d.load_mnist1d(root=tmp_path, num_samples=100, train_split=0.5, seed=1)
    b = mnist1d.load_mnist1d(root=tmp_path, num_samples=100, train_split=0.5, seed=2)
    c = mnist1d.load_mnist1d(
        root=tmp_path, num_samples=100, train_split=0.5, seed=1, shuffle_seq=True
    )
    d = mnist1d.load_mnist1d(root=tmp_path, num_samples=100, train_split=0.7, seed=1)
    assert a["x"].shape == (50, 40) and d["x"].shape == (70, 40) and d["x_test"].shape == (30, 40)
    assert not np.array_equal(a["x"], b["x"])
    assert not np.array_equal(a["x"], c["x"])
    np.testing.assert_array_equal(a["y"], c["y"])
    assert len(list(tmp_path.glob("*.npz"))) == 4
    assert not list(tmp_path.glob("*.tmp"))


def test_mnist1d_reads_cache_without_generating(tmp_path, monkeypatch):
    first = mnist1d.load_mnist1d(root=tmp_path, num_samples=100)

    def boom(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(mnist1d, "make_mnist1d", boom)
    second = mnist1d.load_mnist1d(root=tmp_path, num_samples=100)
    np.testing.assert_array_equal(first["x"], second["x"])
    with pytest.raises(AssertionError):
        mnist1d.load_mnist1d(root=tmp_path, num_samples=100, regenerate=True)


def test_mnist1d_corrupt_cache_is_rebuilt(tmp_path):
    first = mnist1d.load_mnist1d(root=tmp_path, num_samples=100)
    (path,) = tmp_path.glob("*.npz")
    path.write_bytes(b"not a zip file")
    second = mnist1d.load_mnist1d(root=tmp_path, num_samples=100)
    np.testing.assert_array_equal(first["x"], second["x"])


def test_mnist1d_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    assert mnist1d.default_cache_dir() == tmp_path / "mnist1d"
    mnist1d.load_mnist1d(num_samples=100)
    assert len(list((tmp_path / "mnist1d").glob("*.npz"))) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_samples": 105},
        {"num_samples": 0},
        {"train_split": 1.0},
        {"train_split": 0.001, "num_samples": 100},
        {"seed": -1},
    ],
)
def test_mnist1d_argument_errors(tmp_path, kwargs):
    with pytest.raises(DataError, match="load_mnist1d: argument"):
        mnist1d.load_mnist1d(root=tmp_path, **kwargs)
    assert not list(tmp_path.iterdir())


def test_mnist1d_missing_package(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(DataError, match="pip install mnist1d"):
        mnist1d.load_mnist1d(root=tmp_path, num_samples=100)


# --------------------------------------------------------------------------- IDX


def _idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(idx.IDX_DTYPES[code]).tobytes()


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip_handmade(tmp_path, compress):
    images = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28).astype(np.uint8)
    payload = _idx_bytes(images, 0x08)
    path = tmp_path / "images"
    path.write_bytes(gzip.compress(payload) if compress else payload)
    out = idx.read_idx(path)
    assert out.dtype == np.uint8 and out.shape == (3, 28, 28)
    np.testing.assert_array_equal(out, images)


@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
@pytest.mark.parametrize("name", ["a-idx", "a-idx.gz"])
def test_idx_write_read_all_dtypes(tmp_path, dtype, name):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    idx.write_idx(tmp_path / name, array)
    out = idx.read_idx(tmp_path / name)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)
    assert (tmp_path / name).read_bytes()[:2] == (b"\x1f\x8b" if name.endswith(".gz") else b"\0\0")


def _write_mnist_dir(directory: Path, prefix: str, n: int, compress: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    suffix = ".gz" if compress else ""
    idx.write_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}", images)
    idx.write_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
    return images, labels


def test_load_mnist_idx(tmp_path):
    train_images, train_labels = _write_mnist_dir(tmp_path, "train", 7, compress=True)
    test_images, test_labels = _write_mnist_dir(tmp_path, "t10k", 4, compress=False, seed=1)
    X, y = idx.load_mnist_idx(tmp_path, kind="train")
    assert X.shape == (7, 28, 28) and X.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(X, train_images)
    np.testing.assert_array_equal(y, train_labels)
    X, y = idx.load_mnist_idx(tmp_path, kind="test")
    np.testing.assert_array_equal(X, test_images)
    np.testing.assert_array_equal(y, test_labels)


def test_load_mnist_idx_missing(tmp_path):
    with pytest.raises(idx.DataFileNotFound) as info:
        idx.load_mnist_idx(tmp_path / "nowhere")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, DataError)
    _write_mnist_dir(tmp_path, "train", 2, compress=False)
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        idx.load_mnist_idx(tmp_path)
    with pytest.raises(DataError, match="'kind'"):
        idx.load_mnist_idx(tmp_path, kind="validation")
    with pytest.raises(idx.DataFileNotFound):
        idx.read_idx(tmp_path / "missing")


def test_load_mnist_idx_count_mismatch(tmp_path):
    _write_mnist_dir(tmp_path, "train", 5, compress=False)
    idx.write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(DataError, match="5 images .* 4 labels"):
        idx.load_mnist_idx(tmp_path)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_truncated(tmp_path, compress):
    payload = _idx_bytes(np.ones((4, 28, 28), np.uint8), 0x08)[:-100]
    path = tmp_path / "cut"
    path.write_bytes(gzip.compress(payload) if compress else payload)
    with pytest.raises(DataError, match="truncated"):
        idx.read_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_trailing_bytes(tmp_path, compress):
    payload = _idx_bytes(np.ones((2, 3), np.uint8), 0x08) + b"extra"
    path = tmp_path / "long"
    path.write_bytes(gzip.compress(payload) if compress else payload)
    with pytest.raises(DataError, match="trailing"):
        idx.read_idx(path)


@pytest.mark.parametrize(
    ("payload", "pattern"),
    [
        (b"", "too short"),
        (b"\0\0", "too short"),
        (b"\x01\x02\x08\x01" + b"\0\0\0\1" + b"\0", "magic"),
        (b"\0\0\x07\x01" + b"\0\0\0\1" + b"\0", "type code"),
        (b"\0\0\x08\x00", "0 dimensions"),
        (b"\0\0\x08\x03" + b"\0\0\0\1", "header"),
    ],
)
def test_idx_bad_headers(tmp_path, payload, pattern):
    path = tmp_path / "bad"
    path.write_bytes(payload)
    with pytest.raises(DataError, match=pattern):
        idx.read_idx(path)


def test_idx_huge_declared_shape_is_rejected_before_reading(tmp_path):
    # Declares 2**32-1 cubed bytes: must fail fast, plain or compressed, without allocating.
    header = b"\0\0\x08\x03" + b"\xff\xff\xff\xff" * 3
    plain = tmp_path / "huge"
    plain.write_bytes(header + b"\0" * 10)
    with pytest.raises(DataError, match="truncated"):
        idx.read_idx(plain)
    packed = tmp_path / "huge.gz"
    packed.write_bytes(gzip.compress(header + b"\0" * 10))
    with pytest.raises(DataError, match="gzip file can hold"):
        idx.read_idx(packed)


def test_idx_corrupt_gzip(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(_idx_bytes(np.ones(1000, np.uint8), 0x08))[:30])
    with pytest.raises(DataError):
        idx.read_idx(path)


def test_write_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(DataError, match="dtype"):
        idx.write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))


# --------------------------------------------------------------------------- text


def test_tokenize():
    assert text.tokenize("Hello, World! It's 3 o'clock.") == [
        "hello", ",", "world", "!", "it's", "3", "o'clock", ".",
    ]  # fmt: skip
    assert text.tokenize("ABC def", lower=False) == ["ABC", "def"]
    assert text.tokenize("") == []
    with pytest.raises(DataError):
        text.tokenize(None)


def test_vocab_build_order_specials_and_limits():
    docs = [["b", "a", "c"], ["a", "b"], ["a", "d"]]
    vocab = text.Vocab.build(docs)
    assert vocab.itos == ["<pad>", "<unk>", "a", "b", "c", "d"]
    assert vocab.stoi["<pad>"] == 0 and vocab.stoi["<unk>"] == 1
    assert vocab.pad_id == 0 and vocab.unk_id == 1 and len(vocab) == 6
    assert text.Vocab.build(docs, min_freq=2).itos == ["<pad>", "<unk>", "a", "b"]
    assert text.Vocab.build(docs, max_size=3).itos == ["<pad>", "<unk>", "a"]
    assert text.Vocab.build(reversed(docs)).itos == vocab.itos
    assert "a" in vocab and "z" not in vocab
    with pytest.raises(DataError, match="min_freq"):
        text.Vocab.build(docs, min_freq=0)
    with pytest.raises(DataError, match="max_size"):
        text.Vocab.build(docs, max_size=1)
    with pytest.raises(DataError, match="tokenize"):
        text.Vocab.build(["a sentence"])


def test_vocab_encode_decode_round_trip():
    sentences, _ = text.builtin_sentiment()
    token_lists = [text.tokenize(s) for s in sentences]
    vocab = text.Vocab.build(token_lists)
    for tokens in token_lists:
        ids = vocab.encode(tokens)
        assert ids.dtype == np.int64 and ids.shape == (len(tokens),)
        assert vocab.decode(ids) == tokens
    ids = vocab.encode(["the", "xylophone"])
    assert ids[1] == vocab.unk_id
    assert vocab.decode(ids) == ["the", "<unk>"]
    assert vocab.decode([vocab.stoi["the"], 0, 0], skip_pad=True) == ["the"]
    assert vocab.encode([]).shape == (0,)
    restored = text.Vocab(vocab.itos)
    assert restored.stoi == vocab.stoi
    with pytest.raises(DataError, match="ids"):
        vocab.decode([len(vocab)])
    with pytest.raises(DataError, match="tokenize"):
        vocab.encode("a string")
    with pytest.raises(DataError, match="start with"):
        text.Vocab(["a", "b"])
    with pytest.raises(DataError, match="unique"):
        text.Vocab(["<pad>", "<unk>", "a", "a"])


def test_pad_sequences():
    ids, lengths = text.pad_sequences([[1, 2, 3], [4], []], pad_id=0)
    assert ids.dtype == np.int64 and lengths.dtype == np.int64
    assert ids.tolist() == [[1, 2, 3], [4, 0, 0], [0, 0, 0]]
    assert lengths.tolist() == [3, 1, 0]
    ids, lengths = text.pad_sequences([np.array([5, 6, 7, 8]), [9]], pad_id=-1, max_len=2)
    assert ids.tolist() == [[5, 6], [9, -1]] and lengths.tolist() == [2, 1]
    ids, lengths = text.pad_sequences([[1]], max_len=4)
    assert ids.shape == (1, 4)
    ids, lengths = text.pad_sequences([])
    assert ids.shape == (0, 0) and lengths.shape == (0,)
    with pytest.raises(DataError, match="integers"):
        text.pad_sequences([[1.5, 2.0]])
    with pytest.raises(DataError, match="max_len"):
        text.pad_sequences([[1]], max_len=-1)


def test_bucket_by_length_covers_every_index_once():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 60, size=503)
    batches = text.bucket_by_length(lengths, batch_size=32, seed=1)
    everything = np.concatenate(batches)
    assert everything.dtype == np.int64
    assert sorted(everything.tolist()) == list(range(503))
    assert all(len(b) == 32 for b in batches if len(b) != 503 % 32)
    # Similar lengths together: the spread inside a batch is far below the overall spread.
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 0.2 * np.ptp(lengths)
    # Batch order is shuffled, not sorted by length.
    firsts = [lengths[b].min() for b in batches]
    assert firsts != sorted(firsts)
    again = text.bucket_by_length(lengths, batch_size=32, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    dropped = text.bucket_by_length(lengths, batch_size=32, seed=1, drop_last=True)
    assert len(dropped) == 503 // 32 and all(len(b) == 32 for b in dropped)
    assert text.bucket_by_length([], batch_size=4) == []
    with pytest.raises(DataError, match="batch_size"):
        text.bucket_by_length(lengths, batch_size=0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(2, 50), max_size=12), max_size=20),
    st.integers(1, 7),
    st.integers(0, 2**16),
)
def test_pad_and_bucket_properties(seqs, batch_size, seed):
    ids, lengths = text.pad_sequences(seqs, pad_id=0)
    assert ids.shape == (len(seqs), max((len(q) for q in seqs), default=0))
    for row, length, seq in zip(ids, lengths, seqs):
        assert row[:length].tolist() == seq and not row[length:].any()
    batches = text.bucket_by_length(lengths, batch_size, seed=seed)
    flat = np.concatenate(batches).tolist() if batches else []
    assert sorted(flat) == list(range(len(seqs)))
    assert all(1 <= len(b) <= batch_size for b in batches)


def test_read_labelled_sentences_from_files(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("Great phone.  \t1\n\nTerrible battery.\t0\n", encoding="utf-8")
    b = tmp_path / "b.txt"
    b.write_text("Tabs\tinside\tare fine\t1\r\n", encoding="utf-8")
    (tmp_path / "README.txt").write_text("not data\n")
    sentences, labels = text.read_labelled_sentences([a, str(b)])
    assert sentences == ["Great phone.", "Terrible battery.", "Tabs\tinside\tare fine"]
    assert labels.dtype == np.int64 and labels.tolist() == [1, 0, 1]
    from_dir, dir_labels = text.read_labelled_sentences(tmp_path)
    assert from_dir == sentences and dir_labels.tolist() == [1, 0, 1]
    one, _ = text.read_labelled_sentences(a)
    assert len(one) == 2


def test_read_labelled_sentences_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("fine\t1\n\nno label here\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.txt, line 3"):
        text.read_labelled_sentences(bad)
    bad.write_text("fine\tpositive\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 1"):
        text.read_labelled_sentences(bad)
    with pytest.raises(text.DataFileNotFound):
        text.read_labelled_sentences(tmp_path / "missing.txt")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"no \*\.txt"):
        text.read_labelled_sentences(empty)


@pytest.mark.skipif(not SENTIMENT_DIR.is_dir(), reason="sentiment data set not present")
def test_read_labelled_sentences_real_data():
    files = sorted(SENTIMENT_DIR.glob("*_labelled.txt"))
    sentences, labels = text.read_labelled_sentences(files)
    assert len(sentences) == 3000 and labels.shape == (3000,)
    assert set(labels.tolist()) == {0, 1}
    assert all(s and "\t" not in s for s in sentences)
    from_dir, dir_labels = text.read_labelled_sentences(SENTIMENT_DIR)
    assert len(from_dir) == 3000 and np.array_equal(np.sort(dir_labels), np.sort(labels))


def test_builtin_sentiment_is_balanced():
    sentences, labels = text.builtin_sentiment()
    assert len(sentences) == len(text.BUILTIN_SENTIMENT) == 80
    assert np.bincount(labels).tolist() == [40, 40]
    assert len(set(sentences)) == 80


def test_char_corpus_basics():
    corpus = text.CharCorpus()
    assert corpus.text == text.BUILTIN_TEXT and len(text.BUILTIN_TEXT) > 2000
    assert corpus.vocab == sorted(set(text.BUILTIN_TEXT))
    assert corpus.vocab_size == len(corpus.vocab) and len(corpus) == len(text.BUILTIN_TEXT)
    assert corpus.data.dtype == np.int64 and corpus.decode(corpus.data) == corpus.text
    small = text.CharCorpus("abcab")
    assert small.encode("cab").tolist() == [2, 0, 1]
    with pytest.raises(DataError, match="'z'"):
        small.encode("z")
    with pytest.raises(DataError):
        small.decode([3])
    with pytest.raises(DataError):
        text.CharCorpus("")


def test_char_corpus_batches_teacher_forcing():
    corpus = text.CharCorpus()
    seq_len, batch_size = 16, 8
    batches = list(corpus.batches(seq_len, batch_size, seed=3))
    n_windows = (len(corpus) - 1) // seq_len
    assert sum(len(x) for x, _ in batches) == n_windows
    starts = set()
    for x, y in batches:
        assert x.dtype == np.int64 and y.dtype == np.int64
        assert x.shape == y.shape and x.shape[1] == seq_len and x.shape[0] <= batch_size
        np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
        for row_x, row_y in zip(x, y):
            s = corpus.text.find(corpus.decode(row_x) + corpus.decode(row_y[-1:]))
            assert s >= 0
            starts.add(s)
    assert len(starts) == n_windows  # windows do not repeat
    again = list(corpus.batches(seq_len, batch_size, seed=3))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(batches, again))
    other = list(corpus.batches(seq_len, batch_size, seed=4))
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(batches, other))
    full = list(corpus.batches(seq_len, batch_size, seed=3, drop_last=True))
    assert all(len(x) == batch_size for x, _ in full)
    with pytest.raises(DataError, match="seq_len"):
        next(text.CharCorpus("abc").batches(seq_len=3, batch_size=1))


def test_package_reexports():
    import chainrule.data.datasets as datasets

    for name in datasets.__all__:
        assert hasattr(datasets, name), name
    assert datasets.two_moons is synthetic.two_moons
    assert datasets.load_mnist1d is mnist1d.load_mnist1d
    assert os.fspath(datasets.default_cache_dir()).endswith("mnist1d")
