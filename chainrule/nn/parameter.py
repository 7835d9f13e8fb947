"""Parameters: tensors that a Module registers as trainable."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor that is a module's trainable parameter (``requires_grad=True`` by default).

    Examples
    --------
    >>> import chainrule as cr
    >>> p = cr.nn.Parameter(cr.zeros(3))
    >>> p.requires_grad
    True
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.zeros(0, dtype=np.float32)
        arr = data.data if isinstance(data, Tensor) else np.asarray(data)
        super().__init__(arr)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + Tensor.__repr__(self).replace(
            ", requires_grad=True", "")
