"""Global switches of the engine: grad mode and the active forward-mode levels.

The state is process-wide (like PyTorch's grad mode per thread, but shared by threads here):
toggle it from one thread at a time.
"""

from __future__ import annotations

import contextlib
import functools


class _State:
    __slots__ = ("grad_enabled", "fw_active", "fw_inactive", "next_level", "anomaly", "tracer",
                 "hooked")

    def __init__(self):
        self.grad_enabled = True
        self.fw_active: list[int] = []  # forward-mode levels currently open, innermost last
        self.fw_inactive: set[int] = set()  # levels hidden while their own tangent is computed
        self.next_level = 0
        self.anomaly = False
        self.tracer = None  # a chainrule.core.trace.Tracer while compile records a step

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
        if name in ("anomaly", "tracer", "fw_active"):
            self.rehook()

    def rehook(self):
        """Recompute ``hooked``: whether forward mode, anomaly detection or a compile trace is
        on, the one flag every op application checks (call it after changing ``fw_active`` in
        place)."""
        g = getattr  # (fields not yet set while __init__ runs count as off)
        hooked = bool(g(self, "fw_active", None)) or bool(g(self, "anomaly", False)) or \
            g(self, "tracer", None) is not None
        object.__setattr__(self, "hooked", hooked)


STATE = _State()


def untraceable(why: str) -> None:
    """Tell a running ``chainrule.compile`` trace that the step did something it cannot
    replay (it then runs eagerly); nothing happens outside tracing."""
    if STATE.tracer is not None:
        STATE.tracer.unsupported(why)


class _GradMode(contextlib.ContextDecorator):
    """Context manager and decorator that sets grad mode for its body."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._prev: list[bool] = []

    def __enter__(self):
        self._prev.append(STATE.grad_enabled)
        STATE.grad_enabled = self.enabled
        return self

    def __exit__(self, *exc):
        STATE.grad_enabled = self._prev.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _GradMode(self.enabled):
                return fn(*args, **kwargs)

        return wrapper


def no_grad():
    """Disable graph recording in a block or a decorated function.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.ones(3, requires_grad=True)
    >>> with cr.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """
    return _GradMode(False)


def enable_grad():
    """Re-enable graph recording inside a ``no_grad`` block."""
    return _GradMode(True)


def set_grad_enabled(mode: bool):
    """Set grad mode for a block (context manager), as ``torch.set_grad_enabled``."""
    return _GradMode(bool(mode))


def is_grad_enabled() -> bool:
    return STATE.grad_enabled
