"""chainrule: a readable deep-learning system, from the chain rule up.

>>> import chainrule as cr
>>> x = cr.tensor([1.0, 2.0], requires_grad=True)
>>> y = (x.tanh() * x).sum()
>>> y.backward()
"""

from __future__ import annotations

from . import errors
from .backend import (
    bool_, float16, float32, float64, get_default_dtype, int8, int16, int32, int64,
    set_default_dtype, uint8,
)
from .core.state import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .random import Generator, default_generator, manual_seed, seed
from .tensor import Tensor

from . import ops  # noqa: E402  (fills the op registry, gives Tensor its methods)
from .ops import *  # noqa: E402,F401,F403
from .creation import *  # noqa: E402,F401,F403
from .creation import tensor  # noqa: E402
from . import autograd  # noqa: E402
from .core.transforms import (  # noqa: E402
    grad, hessian, hvp, jacfwd, jacobian, jacrev, jvp, value_and_grad, vjp,
)
from .core.registry import REGISTRY  # noqa: E402
from .core.parallel import get_num_threads, set_num_threads  # noqa: E402
from .core.trace import compile  # noqa: E402,A004
from . import testing  # noqa: E402

bool = bool_  # noqa: A001
float = float32  # noqa: A001
double = float64
long = int64
half = float16

__version__ = "0.1.0"


def __getattr__(name):
    # Heavier layers load on first use, so `import chainrule` stays light.
    import importlib

    if name in ("nn", "optim", "data", "train", "functional", "io", "cli", "experiments"):
        mod = importlib.import_module(f".{name}", __name__)
        globals()[name] = mod
        return mod
    if name in ("save", "load"):
        io = importlib.import_module(".io", __name__)
        return getattr(io, name)
    if name == "detect_anomaly":
        from .debug import detect_anomaly

        return detect_anomaly
    raise AttributeError(f"module 'chainrule' has no attribute '{name}'")
