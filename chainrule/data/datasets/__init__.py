"""Ready-made data sets and data-loading helpers, all returning NumPy arrays.

* :mod:`~chainrule.data.datasets.synthetic`: seeded two-dimensional classification problems
  (blobs, moons, circles, spirals, XOR, ...).
* :mod:`~chainrule.data.datasets.mnist1d`: MNIST-1D, generated locally and cached as ``.npz``.
* :mod:`~chainrule.data.datasets.idx`: readers for MNIST / Fashion-MNIST IDX files.
* :mod:`~chainrule.data.datasets.text`: tokenising, vocabularies, padding, bucketing and small
  built-in text corpora.

Example
-------
>>> from chainrule.data.datasets import two_moons
>>> X, y = two_moons(n=100, noise=0.1, seed=0)
>>> X.shape, y.shape
((100, 2), (100,))
"""

from chainrule.data.datasets.idx import (
    IDX_DTYPES,
    DataFileNotFound,
    load_mnist_idx,
    read_idx,
    write_idx,
)
from chainrule.data.datasets.mnist1d import (
    NUM_CLASSES as MNIST1D_NUM_CLASSES,
)
from chainrule.data.datasets.mnist1d import (
    default_cache_dir,
    load_mnist1d,
    make_mnist1d,
)
from chainrule.data.datasets.synthetic import (
    GENERATORS,
    blobs,
    circles,
    gaussian_two_class,
    generate,
    linearly_separable,
    spirals,
    two_moons,
    xor,
)
from chainrule.data.datasets.text import (
    BUILTIN_SENTIMENT,
    BUILTIN_TEXT,
    PAD,
    UNK,
    CharCorpus,
    Vocab,
    bucket_by_length,
    builtin_sentiment,
    pad_sequences,
    read_labelled_sentences,
    tokenize,
)

__all__ = [
    "BUILTIN_SENTIMENT",
    "BUILTIN_TEXT",
    "CharCorpus",
    "DataFileNotFound",
    "GENERATORS",
    "IDX_DTYPES",
    "MNIST1D_NUM_CLASSES",
    "PAD",
    "UNK",
    "Vocab",
    "blobs",
    "bucket_by_length",
    "builtin_sentiment",
    "circles",
    "default_cache_dir",
    "gaussian_two_class",
    "generate",
    "linearly_separable",
    "load_mnist1d",
    "load_mnist_idx",
    "make_mnist1d",
    "pad_sequences",
    "read_idx",
    "read_labelled_sentences",
    "spirals",
    "tokenize",
    "two_moons",
    "write_idx",
    "xor",
]
