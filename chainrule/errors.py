"""Typed errors of chainrule.

Every error the library raises on purpose derives from :class:`ChainruleError`, and each also
derives from the built-in exception a Python user would expect (``ValueError``, ``TypeError``,
``RuntimeError``), so ``except ValueError`` keeps working. Messages name the operation, the
argument, what was expected and what was received, and where possible how to fix it.
"""

from __future__ import annotations


class ChainruleError(Exception):
    """Base class of every error raised by chainrule on purpose."""


class ShapeError(ChainruleError, ValueError):
    """Shapes of the arguments do not fit the operation."""


class DTypeError(ChainruleError, TypeError):
    """An argument has a dtype the operation does not accept."""


class ArgumentError(ChainruleError, ValueError):
    """An argument has a value the operation does not accept."""


class NotDifferentiableError(ChainruleError, RuntimeError):
    """A gradient was asked for through something that has none."""


class GraphError(ChainruleError, RuntimeError):
    """The computation graph cannot be used as asked (freed, non-scalar output, ...)."""


class NumericalError(ChainruleError, FloatingPointError):
    """A NaN or infinity appeared where it must not."""


class DataError(ChainruleError, ValueError):
    """A data set, file or batch is malformed."""


class ConfigError(ChainruleError, ValueError):
    """A configuration is malformed: unknown keys, wrong types, unknown names."""


class CheckpointError(ChainruleError, RuntimeError):
    """A checkpoint or model file is missing, incomplete, corrupted or hostile."""


def shape_error(op: str, arg: str, expected: str, got) -> ShapeError:
    """Build a :class:`ShapeError` with the standard message layout."""
    return ShapeError(f"{op}: argument '{arg}' expected {expected}, got {got}")
