"""Small two-dimensional classification problems generated from a seed.

Every generator has the form ``f(n=..., noise=..., seed=0, ...) -> (X, y)`` where ``X`` is a
``float32`` array of shape ``(n, 2)`` and ``y`` an ``int64`` array of shape ``(n,)`` holding class
indices ``0 .. k-1``. Classes are as balanced as ``n`` allows (counts differ by at most one) and
the rows come in random order. Randomness comes only from ``numpy.random.default_rng(seed)``, so
the same arguments always give the same arrays and the global NumPy random state is never used.

``noise`` is always the standard deviation of isotropic Gaussian noise added to the noise-free
points, and the noise is drawn after every other random number. Two calls that differ only in
``noise`` therefore place the same underlying points and differ by exactly ``noise * eps`` for a
shared standard-normal ``eps``, which makes the effect of ``noise`` easy to see and to test.

Example
-------
>>> X, y = two_moons(n=100, noise=0.1, seed=0)
>>> X.shape, X.dtype, y.shape, y.dtype
((100, 2), dtype('float32'), (100,), dtype('int64'))
>>> import numpy as np
>>> np.bincount(y).tolist()
[50, 50]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral, Real

import numpy as np

from chainrule.errors import ConfigError, DataError

__all__ = [
    "blobs",
    "circles",
    "gaussian_two_class",
    "generate",
    "GENERATORS",
    "linearly_separable",
    "spirals",
    "two_moons",
    "xor",
]


# --------------------------------------------------------------------------- argument checks


def _error(fn: str, arg: str, expected: str, got) -> DataError:
    return DataError(f"{fn}: argument '{arg}' expected {expected}, got {got!r}")


def _check_int(fn: str, arg: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise _error(fn, arg, f"an integer >= {minimum}", value)
    if value < minimum:
        raise _error(fn, arg, f"an integer >= {minimum}", value)
    return int(value)


def _check_real(
    fn: str, arg: str, value, minimum: float = 0.0, strict: bool = False, maximum=None
) -> float:
    low = f"> {minimum}" if strict else f">= {minimum}"
    expected = f"a finite number {low}" + (f" and < {maximum}" if maximum is not None else "")
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise _error(fn, arg, expected, value)
    too_low = value <= minimum if strict else value < minimum
    too_high = maximum is not None and value >= maximum
    if too_low or too_high:
        raise _error(fn, arg, expected, value)
    return float(value)


def _check_seed(fn: str, seed) -> int | None:
    if seed is None:
        return None
    return _check_int(fn, "seed", seed, 0)


# --------------------------------------------------------------------------- shared helpers


def _balanced_labels(n: int, k: int) -> np.ndarray:
    """Labels ``0..k-1`` in blocks whose sizes differ by at most one (lower classes get more)."""
    counts = np.full(k, n // k, dtype=np.int64)
    counts[: n % k] += 1
    return np.repeat(np.arange(k, dtype=np.int64), counts)


def _finish(points: np.ndarray, labels: np.ndarray, noise: float, rng: np.random.Generator):
    """Add Gaussian noise, shuffle the rows and cast to the documented dtypes."""
    eps = rng.standard_normal(points.shape)
    order = rng.permutation(len(labels))
    X = (points + noise * eps)[order]
    y = labels[order]
    return X.astype(np.float32), y.astype(np.int64)


# --------------------------------------------------------------------------- generators


def blobs(n: int = 200, centers=2, std=1.0, seed: int | None = 0, center_box: float = 5.0):
    """Isotropic Gaussian blobs, one per class.

    Parameters
    ----------
    n : int
        Number of points, at least 1.
    centers : int or array_like of shape (k, 2)
        Number of classes (centres are then drawn uniformly from the square
        ``[-center_box, center_box]^2``) or the centres themselves.
    std : float or array_like of shape (k,)
        Standard deviation of each blob, positive.
    seed : int or None
        Seed of ``numpy.random.default_rng``.
    center_box : float
        Half width of the square random centres are drawn from.

    Returns
    -------
    X : ndarray, float32, shape (n, 2)
    y : ndarray, int64, shape (n,)

    Examples
    --------
    >>> X, y = blobs(n=6, centers=[[0, 0], [10, 10]], std=0.1, seed=1)
    >>> sorted(set(y.tolist()))
    [0, 1]
    """
    fn = "blobs"
    n = _check_int(fn, "n", n, 1)
    seed = _check_seed(fn, seed)
    center_box = _check_real(fn, "center_box", center_box, 0.0, strict=True)
    rng = np.random.default_rng(seed)

    if isinstance(centers, Integral) and not isinstance(centers, bool):
        k = _check_int(fn, "centers", centers, 1)
        means = rng.uniform(-center_box, center_box, size=(k, 2))
    else:
        try:
            means = np.asarray(centers, dtype=np.float64)
        except (TypeError, ValueError):
            raise _error(
                fn, "centers", "an integer >= 1 or an array of shape (k, 2)", centers
            ) from None
        if means.ndim != 2 or means.shape[0] < 1 or means.shape[1] != 2:
            raise _error(fn, "centers", "an array of shape (k, 2) with k >= 1", means.shape)
        if not np.all(np.isfinite(means)):
            raise _error(fn, "centers", "finite coordinates", centers)
        k = means.shape[0]

    expected_std = f"a positive number or an array of {k} positive numbers"
    try:
        stds = np.asarray(std, dtype=np.float64) if not isinstance(std, bool) else None
    except (TypeError, ValueError):
        raise _error(fn, "std", expected_std, std) from None
    if stds is None or stds.ndim > 1 or (stds.ndim == 1 and stds.shape[0] != k):
        raise _error(fn, "std", expected_std, std)
    if not np.all(np.isfinite(stds)) or np.any(stds <= 0):
        raise _error(fn, "std", "positive finite values", std)
    stds = np.broadcast_to(stds, (k,))

    labels = _balanced_labels(n, k)
    # The blob spread is the noise of this generator: points start at their centre.
    points = means[labels]
    eps = rng.standard_normal(points.shape)
    order = rng.permutation(n)
    X = (points + stds[labels, None] * eps)[order]
    return X.astype(np.float32), labels[order].astype(np.int64)


def two_moons(n: int = 200, noise: float = 0.1, seed: int | None = 0):
    """Two interleaving half circles.

    Class 0 is the upper half of the unit circle centred at ``(0, 0)``; class 1 the lower half of
    the unit circle centred at ``(1, 0.5)``. The classes are not linearly separable.

    Parameters
    ----------
    n : int
        Number of points, at least 1.
    noise : float
        Standard deviation of the Gaussian noise added to each coordinate, ``>= 0``.
    seed : int or None
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray, float32, shape (n, 2)
    y : ndarray, int64, shape (n,)

    Examples
    --------
    >>> X, y = two_moons(n=10, noise=0.0, seed=0)
    >>> bool(abs(float(X[y == 0, 0].max())) <= 1.0)
    True
    """
    fn = "two_moons"
    n = _check_int(fn, "n", n, 1)
    noise = _check_real(fn, "noise", noise)
    seed = _check_seed(fn, seed)
    rng = np.random.default_rng(seed)

    labels = _balanced_labels(n, 2)
    angle = rng.uniform(0.0, math.pi, size=n)
    outer = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    inner = np.stack([1.0 - np.cos(angle), 0.5 - np.sin(angle)], axis=1)
    points = np.where(labels[:, None] == 0, outer, inner)
    return _finish(points, labels, noise, rng)


def circles(n: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int | None = 0):
    """A small circle inside a large one.

    Class 0 lies on the unit circle, class 1 on the circle of radius ``factor``.

    Parameters
    ----------
    n : int
        Number of points, at least 1.
    noise : float
        Standard deviation of the Gaussian noise added to each coordinate, ``>= 0``.
    factor : float
        Radius of the inner circle relative to the outer one, strictly between 0 and 1.
    seed : int or None
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray, float32, shape (n, 2)
    y : ndarray, int64, shape (n,)

    Examples
    --------
    >>> X, y = circles(n=8, noise=0.0, factor=0.5, seed=0)
    >>> import numpy as np
    >>> np.round(np.hypot(X[:, 0], X[:, 1])[y == 1], 4).tolist()
    [0.5, 0.5, 0.5, 0.5]
    """
    fn = "circles"
    n = _check_int(fn, "n", n, 1)
    noise = _check_real(fn, "noise", noise)
    factor = _check_real(fn, "factor", factor, 0.0, strict=True, maximum=1.0)
    seed = _check_seed(fn, seed)
    rng = np.random.default_rng(seed)

    labels = _balanced_labels(n, 2)
    angle = rng.uniform(0.0, 2.0 * math.pi, size=n)
    radius = np.where(labels == 0, 1.0, factor)
    points = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return _finish(points, labels, noise, rng)


def spirals(
    n: int = 300,
    noise: float = 0.05,
    classes: int = 2,
    turns: float = 1.0,
    seed: int | None = 0,
):
    """Interleaved spiral arms, one per class.

    Arm ``c`` starts at the origin and winds ``turns`` times around it, rotated by
    ``2 * pi * c / classes``; the radius grows linearly from 0 to 1 along the arm.

    Parameters
    ----------
    n : int
        Number of points, at least 1.
    noise : float
        Standard deviation of the Gaussian noise added to each coordinate, ``>= 0``.
    classes : int
        Number of arms (and classes), at least 2.
    turns : float
        How many full turns each arm makes, positive.
    seed : int or None
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray, float32, shape (n, 2)
    y : ndarray, int64, shape (n,)

    Examples
    --------
    >>> X, y = spirals(n=90, classes=3, seed=0)
    >>> import numpy as np
    >>> np.bincount(y).tolist()
    [30, 30, 30]
    """
    fn = "spirals"
    n = _check_int(fn, "n", n, 1)
    noise = _check_real(fn, "noise", noise)
    classes = _check_int(fn, "classes", classes, 2)
    turns = _check_real(fn, "turns", turns, 0.0, strict=True)
    seed = _check_seed(fn, seed)
    rng = np.random.default_rng(seed)

    labels = _balanced_labels(n, classes)
    t = rng.uniform(0.0, 1.0, size=n)  # position along the arm
    angle = 2.0 * math.pi * (turns * t + labels / classes)
    points = t[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return _finish(points, labels, noise, rng)


def xor(n: int = 200, noise: float = 0.0, seed: int | None = 0):
    """The XOR problem: the label is 1 where the two coordinates have opposite signs.

    Noise-free points are uniform in the four open unit quadrants around the origin; class 0
    fills the first and third quadrants, class 1 the second and fourth.

    Parameters
    ----------
    n : int
        Number of points, at least 1.
    noise : float
        Standard deviation of the Gaussian noise added to each coordinate, ``>= 0``.
    seed : int or None
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray, float32, shape (n, 2)
    y : ndarray, int64, shape (n,)

    Examples
    --------
    >>> X, y = xor(n=100, noise=0.0, seed=0)
    >>> bool(((X[:, 0] * X[:, 1] < 0) == (y == 1)).all())
    True
    """
    fn = "xor"
    n = _check_int(fn, "n", n, 1)
    noise = _check_real(fn, "noise", noise)
    seed = _check_seed(fn, seed)
    rng = np.random.default_rng(seed)

    labels = _balanced_labels(n, 2)
    magnitude = rng.uniform(0.0, 1.0, size=(n, 2))
    first_sign = rng.choice([-1.0, 1.0], size=n)
    second_sign = np.where(labels == 0, first_sign, -first_sign)
    points = magnitude * np.stack([first_sign, second_sign], axis=1)
    return _finish(points, labels, noise, rng)


def linearly_separable(
    n: int = 200, margin: float = 0.25, noise: float = 0.0, seed: int | None = 0
):
    """Two classes on either side of a random line through the origin, with a gap between them.

    The noise-free points are ``u * w + v * w_perp`` for a random unit normal ``w``, with
    ``|u|`` uniform in ``[margin, 1 + margin]`` (sign ``+`` for class 1, ``-`` for class 0) and
    ``v`` uniform in ``[-1, 1]``. With ``noise=0`` the classes are separated by a band of width
    ``2 * margin``, so a linear classifier can reach 100 % accuracy.

    Parameters
    ----------
    n : int
        Number of points, at least 1.
    margin : float
        Half width of the empty band between the classes, ``>= 0``.
    noise : float
        Standard deviation of the Gaussian noise added to each coordinate, ``>= 0``.
    seed : int or None
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray, float32, shape (n, 2)
    y : ndarray, int64, shape (n,)

    Examples
    --------
    >>> X, y = linearly_separable(n=50, margin=0.5, seed=3)
    >>> X.shape
    (50, 2)
    """
    fn = "linearly_separable"
    n = _check_int(fn, "n", n, 1)
    margin = _check_real(fn, "margin", margin)
    noise = _check_real(fn, "noise", noise)
    seed = _check_seed(fn, seed)
    rng = np.random.default_rng(seed)

    labels = _balanced_labels(n, 2)
    theta = rng.uniform(0.0, 2.0 * math.pi)
    normal = np.array([math.cos(theta), math.sin(theta)])
    along = np.array([-normal[1], normal[0]])
    u = (margin + rng.uniform(0.0, 1.0, size=n)) * np.where(labels == 1, 1.0, -1.0)
    v = rng.uniform(-1.0, 1.0, size=n)
    points = u[:, None] * normal + v[:, None] * along
    return _finish(points, labels, noise, rng)


def gaussian_two_class(
    n: int = 200, distance: float = 3.0, std: float = 1.0, seed: int | None = 0
):
    """Two Gaussian clouds of equal spread whose means are ``distance`` apart.

    The means sit at ``-distance / 2`` (class 0) and ``+distance / 2`` (class 1) along the first
    axis. The Bayes-optimal boundary is the line ``x0 = 0``.

    Parameters
    ----------
    n : int
        Number of points, at least 1.
    distance : float
        Distance between the two means, ``>= 0``.
    std : float
        Standard deviation of each cloud, positive.
    seed : int or None
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray, float32, shape (n, 2)
    y : ndarray, int64, shape (n,)

    Examples
    --------
    >>> X, y = gaussian_two_class(n=1000, distance=20.0, std=1.0, seed=0)
    >>> bool(((X[:, 0] > 0) == (y == 1)).all())
    True
    """
    fn = "gaussian_two_class"
    n = _check_int(fn, "n", n, 1)
    distance = _check_real(fn, "distance", distance)
    std = _check_real(fn, "std", std, 0.0, strict=True)
    seed = _check_seed(fn, seed)
    rng = np.random.default_rng(seed)

    labels = _balanced_labels(n, 2)
    points = np.zeros((n, 2))
    points[:, 0] = np.where(labels == 1, distance / 2.0, -distance / 2.0)
    return _finish(points, labels, std, rng)


GENERATORS: dict[str, Callable] = {
    "blobs": blobs,
    "two_moons": two_moons,
    "moons": two_moons,
    "circles": circles,
    "spirals": spirals,
    "xor": xor,
    "linearly_separable": linearly_separable,
    "gaussian_two_class": gaussian_two_class,
}


def generate(name: str, **kwargs):
    """Call the generator registered under ``name`` with ``kwargs``.

    Useful when the data set is chosen by a configuration file.

    Parameters
    ----------
    name : str
        A key of :data:`GENERATORS`, e.g. ``"two_moons"`` or ``"spirals"``.
    **kwargs
        Passed on to the generator.

    Returns
    -------
    X : ndarray, float32, shape (n, 2)
    y : ndarray, int64, shape (n,)

    Examples
    --------
    >>> X, y = generate("circles", n=10, seed=2)
    >>> X.shape
    (10, 2)
    """
    try:
        fn = GENERATORS[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(GENERATORS))
        raise ConfigError(
            f"generate: argument 'name' expected one of {known}, got {name!r}"
        ) from None
    return fn(**kwargs)
