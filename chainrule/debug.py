"""Numerical-fault hunting: :func:`detect_anomaly`.

Inside ``detect_anomaly()`` every op checks its forward output, and backward checks every
gradient, for NaN and Inf. The first op that produces one raises
:class:`~chainrule.errors.NumericalError` naming the op, its input shapes and the line of the
user's code that created it. It slows every op down; use it to debug, not to train.
"""

from __future__ import annotations

import contextlib

from .core.state import STATE


class detect_anomaly(contextlib.ContextDecorator):  # noqa: N801  (PyTorch's name)
    """Context manager and decorator that turns on NaN/Inf checks in forward and backward.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([-1.0], requires_grad=True)
    >>> with cr.detect_anomaly():
    ...     try:
    ...         x.sqrt()
    ...     except cr.errors.NumericalError as e:
    ...         print("caught:", str(e).split(";")[0][:40])
    caught: detect_anomaly: op 'sqrt' produced NaN o
    """

    def __init__(self, check_nan: bool = True):
        self.enabled = bool(check_nan)
        self._prev = []

    def __enter__(self):
        self._prev.append(STATE.anomaly)
        STATE.anomaly = self.enabled
        return self

    def __exit__(self, *exc):
        STATE.anomaly = self._prev.pop()
        return False


def set_detect_anomaly(mode: bool) -> None:
    """Turn anomaly detection on or off for the whole process."""
    STATE.anomaly = bool(mode)


def is_anomaly_enabled() -> bool:
    return STATE.anomaly
