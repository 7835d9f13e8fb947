"""``chainrule.data``: data sets, loaders and transforms, as ``torch.utils.data``, plus ready-made
data sets (:mod:`chainrule.data.datasets`: synthetic 2-D problems, MNIST-1D, IDX files, text).

>>> import chainrule as cr
>>> from chainrule.data import two_moons
>>> X, y = two_moons(n=100, noise=0.1, seed=0)
>>> train, test = cr.data.random_split(cr.data.TensorDataset(X, y), [0.8, 0.2],
...                                    generator=cr.Generator().manual_seed(0))
>>> loader = cr.data.DataLoader(train, batch_size=16, shuffle=True,
...                             generator=cr.Generator().manual_seed(1))
>>> len(loader)
5
"""

from . import datasets
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, check_finite, random_split
from .datasets import *  # noqa: F403
from .datasets import (
    BUILTIN_SENTIMENT,
    BUILTIN_TEXT,
    GENERATORS,
    IDX_DTYPES,
    MNIST1D_NUM_CLASSES,
    PAD,
    UNK,
    CharCorpus,
    DataFileNotFound,
    Vocab,
    blobs,
    bucket_by_length,
    builtin_sentiment,
    circles,
    default_cache_dir,
    gaussian_two_class,
    generate,
    linearly_separable,
    load_mnist1d,
    load_mnist_idx,
    make_mnist1d,
    pad_sequences,
    read_idx,
    read_labelled_sentences,
    spirals,
    tokenize,
    two_moons,
    write_idx,
    xor,
)
from .loader import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    Sampler,
    SequentialSampler,
    default_collate,
)
from .transforms import Standardizer, one_hot

__all__ = [
    "BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "RandomSampler", "Sampler",
    "SequentialSampler", "Standardizer", "Subset", "TensorDataset", "check_finite",
    "datasets", "default_collate", "one_hot", "random_split",
    *datasets.__all__,
]
