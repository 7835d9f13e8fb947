"""MNIST-1D: a small, fast, yet non-trivial one-dimensional digit classification problem.

The data come from the generator of the ``mnist1d`` package (``pip install mnist1d``): ten
one-dimensional digit templates are padded, shifted, scaled, sheared, blurred with correlated
noise and resampled to 40 points. The set is built locally from a seed; nothing is downloaded and
no pickle is ever read. The result is cached as a plain ``.npz`` file so later calls are instant.

Cache location, first match wins:

1. the ``root`` argument,
2. ``$CHAINRULE_DATA/mnist1d``,
3. ``~/.cache/chainrule/mnist1d``.

Example
-------
>>> data = load_mnist1d()  # doctest: +SKIP
>>> data["x"].shape, data["x_test"].shape, data["y"].dtype  # doctest: +SKIP
((4000, 40), (1000, 40), dtype('int64'))
"""

from __future__ import annotations

import math
import os
import random
import tempfile
import warnings
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from chainrule.errors import DataError

__all__ = ["NUM_CLASSES", "default_cache_dir", "load_mnist1d", "make_mnist1d"]

NUM_CLASSES = 10
# Bumped whenever the stored layout changes, so stale caches are never read.
_CACHE_FORMAT = 1
_KEYS = ("x", "y", "x_test", "y_test", "t")


def default_cache_dir() -> Path:
    """Directory MNIST-1D is cached in when no ``root`` is given.

    ``$CHAINRULE_DATA/mnist1d`` when the environment variable is set, otherwise
    ``~/.cache/chainrule/mnist1d``.

    Examples
    --------
    >>> default_cache_dir().name
    'mnist1d'
    """
    base = os.environ.get("CHAINRULE_DATA")
    if base:
        return Path(base).expanduser() / "mnist1d"
    return Path.home() / ".cache" / "chainrule" / "mnist1d"


def _check_args(seed, num_samples, train_split) -> tuple[int, int, float]:
    fn = "load_mnist1d"
    if isinstance(seed, bool) or not isinstance(seed, Integral) or not 0 <= seed < 2**32:
        raise DataError(f"{fn}: argument 'seed' expected an integer in [0, 2**32), got {seed!r}")
    if (
        isinstance(num_samples, bool)
        or not isinstance(num_samples, Integral)
        or num_samples < NUM_CLASSES
        or num_samples % NUM_CLASSES
    ):
        raise DataError(
            f"{fn}: argument 'num_samples' expected a positive multiple of {NUM_CLASSES} "
            f"(the generator makes the same number of examples per class), got {num_samples!r}"
        )
    if (
        isinstance(train_split, bool)
        or not isinstance(train_split, Real)
        or not math.isfinite(train_split)
        or not 0.0 < train_split < 1.0
    ):
        raise DataError(
            f"{fn}: argument 'train_split' expected a number strictly between 0 and 1, "
            f"got {train_split!r}"
        )
    n_train = int(num_samples * train_split)
    if not 0 < n_train < num_samples:
        raise DataError(
            f"{fn}: argument 'train_split' expected a value leaving at least one training and "
            f"one test example out of {num_samples}, got {train_split!r} "
            f"({n_train} training examples)"
        )
    return int(seed), int(num_samples), float(train_split)


def _cache_name(seed: int, num_samples: int, train_split: float, shuffle_seq: bool) -> str:
    # repr() of a float round-trips exactly, so different splits never share a file.
    variant = "shuffled" if shuffle_seq else "ordered"
    return (
        f"mnist1d-v{_CACHE_FORMAT}-seed{seed}-n{num_samples}-split{train_split!r}-{variant}.npz"
    )


def make_mnist1d(
    seed: int = 42, num_samples: int = 5000, train_split: float = 0.8, shuffle_seq: bool = False
) -> dict[str, np.ndarray]:
    """Generate MNIST-1D in memory with the ``mnist1d`` package, without touching any cache.

    The package seeds Python's and NumPy's global random generators; their states are saved
    before and restored after generation, so the caller's random streams are unaffected.

    Parameters
    ----------
    seed : int
        Seed passed to the generator.
    num_samples : int
        Total number of examples, a positive multiple of 10.
    train_split : float
        Fraction of examples in the training part, strictly between 0 and 1.
    shuffle_seq : bool
        Apply one fixed random permutation to the 40 positions of every signal (destroys the
        spatial structure while keeping the information).

    Returns
    -------
    dict
        ``x`` float32 ``(n_train, 40)``, ``y`` int64 ``(n_train,)``, ``x_test`` float32,
        ``y_test`` int64 and ``t`` float32 ``(40,)`` (the sample positions, for plotting).

    Raises
    ------
    DataError
        If an argument is invalid or the ``mnist1d`` package is not installed.

    Examples
    --------
    >>> data = make_mnist1d(num_samples=100)  # doctest: +SKIP
    >>> data["x"].shape  # doctest: +SKIP
    (80, 40)
    """
    seed, num_samples, train_split = _check_args(seed, num_samples, train_split)
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:
        raise DataError(
            "load_mnist1d: the 'mnist1d' package is needed to generate MNIST-1D; install it with "
            f"`pip install mnist1d` (import failed: {exc})"
        ) from exc

    args = get_dataset_args()
    args.seed = seed
    args.num_samples = num_samples
    args.train_split = train_split
    args.shuffle_seq = bool(shuffle_seq)

    numpy_state = np.random.get_state()
    python_state = random.getstate()
    try:
        raw = make_dataset(args)
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)

    return {
        "x": np.ascontiguousarray(raw["x"], dtype=np.float32),
        "y": np.ascontiguousarray(raw["y"], dtype=np.int64),
        "x_test": np.ascontiguousarray(raw["x_test"], dtype=np.float32),
        "y_test": np.ascontiguousarray(raw["y_test"], dtype=np.int64),
        "t": np.ascontiguousarray(raw["t"], dtype=np.float32),
    }


def _read_cache(path: Path, n_train: int, n_test: int) -> dict[str, np.ndarray] | None:
    """Load a cached file; ``None`` if it is missing, unreadable or not what is expected."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            data = {key: archive[key] for key in _KEYS}
    except (OSError, KeyError, ValueError, EOFError):
        return None
    ok = (
        data["x"].shape == (n_train, 40)
        and data["x_test"].shape == (n_test, 40)
        and data["y"].shape == (n_train,)
        and data["y_test"].shape == (n_test,)
        and data["x"].dtype == np.float32
        and data["x_test"].dtype == np.float32
        and data["y"].dtype == np.int64
        and data["y_test"].dtype == np.int64
    )
    return data if ok else None


def _write_atomically(path: Path, data: dict[str, np.ndarray]) -> None:
    """Write ``data`` to ``path`` so readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise


def load_mnist1d(
    root: str | os.PathLike | None = None,
    seed: int = 42,
    num_samples: int = 5000,
    train_split: float = 0.8,
    regenerate: bool = False,
    shuffle_seq: bool = False,
) -> dict[str, np.ndarray]:
    """Load MNIST-1D from the local cache, generating and caching it first if needed.

    With the defaults this is the standard MNIST-1D set: 4000 training and 1000 test signals of
    length 40 over 10 classes.

    Parameters
    ----------
    root : str or PathLike, optional
        Cache directory. Defaults to :func:`default_cache_dir`.
    seed : int
        Seed passed to the generator.
    num_samples : int
        Total number of examples, a positive multiple of 10.
    train_split : float
        Fraction of examples in the training part, strictly between 0 and 1.
    regenerate : bool
        Ignore any cached copy, generate afresh and overwrite the cache.
    shuffle_seq : bool
        Use the variant whose 40 positions are permuted by one fixed permutation.

    Returns
    -------
    dict
        ``x`` float32 ``(n_train, 40)``, ``y`` int64 ``(n_train,)``, ``x_test`` float32
        ``(n_test, 40)``, ``y_test`` int64 ``(n_test,)`` and ``t`` float32 ``(40,)``.

    Raises
    ------
    DataError
        If an argument is invalid, or the cache is missing and the ``mnist1d`` package is not
        installed.

    Examples
    --------
    >>> data = load_mnist1d()  # doctest: +SKIP
    >>> data["x"].shape, data["x_test"].shape  # doctest: +SKIP
    ((4000, 40), (1000, 40))
    """
    seed, num_samples, train_split = _check_args(seed, num_samples, train_split)
    directory = Path(root).expanduser() if root is not None else default_cache_dir()
    path = directory / _cache_name(seed, num_samples, train_split, bool(shuffle_seq))
    n_train = int(num_samples * train_split)
    n_test = num_samples - n_train

    if not regenerate:
        cached = _read_cache(path, n_train, n_test)
        if cached is not None:
            return cached

    data = make_mnist1d(seed, num_samples, train_split, shuffle_seq)
    try:
        _write_atomically(path, data)
    except OSError as exc:
        warnings.warn(
            f"load_mnist1d: could not write the cache file {path} ({exc}); the data set will be "
            "generated again next time. Pass a writable directory as 'root' or set "
            "CHAINRULE_DATA.",
            stacklevel=2,
        )
    return data
