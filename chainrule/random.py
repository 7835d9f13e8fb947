"""Seedable randomness through explicit generators.

Every random function takes ``generator=``; without one it draws from the default generator,
which :func:`manual_seed` reseeds. The same seed gives the same numbers on every machine
(numpy's PCG64 bit generator).
"""

from __future__ import annotations

import numpy as np


class Generator:
    """A random-number generator (PCG64), as ``torch.Generator``.

    Examples
    --------
    >>> import chainrule as cr
    >>> g = cr.Generator().manual_seed(0)
    >>> a = cr.randn(3, generator=g)
    >>> b = cr.randn(3, generator=cr.Generator().manual_seed(0))
    >>> bool((a == b).all())
    True
    """

    def __init__(self, seed=None):
        self._seed = seed
        self.np = np.random.Generator(np.random.PCG64(seed))

    def manual_seed(self, seed: int):
        self._seed = int(seed)
        self.np = np.random.Generator(np.random.PCG64(int(seed)))
        return self

    def initial_seed(self):
        return self._seed

    def get_state(self) -> dict:
        """The generator's full state as a JSON-able dict."""
        return _jsonable(self.np.bit_generator.state)

    def set_state(self, state: dict):
        self.np.bit_generator.state = state
        return self

    def spawn(self, n: int):
        """``n`` independent child generators derived from this one's stream."""
        seeds = self.np.integers(0, 2**63 - 1, size=n)
        return [Generator(int(s)) for s in seeds]


def _jsonable(d):
    if isinstance(d, dict):
        return {k: _jsonable(v) for k, v in d.items()}
    if isinstance(d, np.integer):
        return int(d)
    return d


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Reseed the default generator and return it."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    s = int(np.random.SeedSequence().entropy % (2**63))
    default_generator.manual_seed(s)
    return s


def _gen(generator) -> np.random.Generator:
    from .core.state import STATE

    if STATE.tracer is not None:
        STATE.tracer.unsupported("random numbers drawn (e.g. dropout)")
    if generator is None:
        return default_generator.np
    if isinstance(generator, Generator):
        return generator.np
    if isinstance(generator, np.random.Generator):
        return generator
    from .errors import ArgumentError

    raise ArgumentError(f"generator: expected a chainrule.Generator, got "
                        f"{type(generator).__name__}")
