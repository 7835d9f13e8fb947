"""The array backend: numpy, the dtypes chainrule exposes, and the type-promotion rules.

Promotion follows PyTorch (see ``shared/API.md``): a float tensor keeps its float dtype when it
meets an integer tensor or a Python number; integer division gives the default float dtype.
"""

from __future__ import annotations

import os
import sys

import numpy as np

xp = np

# -- the memory allocator -----------------------------------------------------------------------
# A training step makes and frees many arrays of a few megabytes. With glibc's default settings
# the heap gives freed memory back to the kernel at once, so the next step's arrays fault every
# page in again: a transformer block step spent 40% of its time in page faults. Keeping up to
# 256 MiB of freed memory at the top of the heap (M_TOP_PAD) lets it be reused at no cost (64 MiB
# was enough alone, not beside another framework's buffers). Memory is only kept once a step
# has used it. CHAINRULE_MALLOC_TOP_PAD sets another size in bytes; 0 leaves the allocator alone.
_M_TOP_PAD = -2
MALLOC_TOP_PAD = 256 << 20


def _tune_allocator() -> int:
    """Set glibc's M_TOP_PAD (Linux only); return the size set, 0 where nothing was changed."""
    try:
        pad = int(os.environ.get("CHAINRULE_MALLOC_TOP_PAD", MALLOC_TOP_PAD))
    except ValueError:
        pad = MALLOC_TOP_PAD
    if pad <= 0 or not sys.platform.startswith("linux"):
        return 0
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return pad if libc.mallopt(_M_TOP_PAD, pad) == 1 else 0
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return 0


malloc_top_pad = _tune_allocator()

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

_ALIASES = {
    "float": float32, "float32": float32, "float64": float64, "double": float64,
    "half": float16, "float16": float16, "int": int64, "int64": int64, "long": int64,
    "int32": int32, "int16": int16, "int8": int8, "uint8": uint8, "bool": bool_,
}

_default_float = float32


def get_default_dtype() -> np.dtype:
    """The dtype of new floating-point tensors (float32 unless changed)."""
    return _default_float


def set_default_dtype(dtype) -> None:
    """Set the dtype of new floating-point tensors (float32 or float64)."""
    global _default_float
    d = as_dtype(dtype)
    if d.kind != "f":
        from .errors import DTypeError

        raise DTypeError(f"set_default_dtype: expected a floating dtype, got {d}")
    _default_float = d


def as_dtype(dtype) -> np.dtype:
    """Turn a dtype-like (numpy dtype, type, string, Python type) into a numpy dtype."""
    if dtype is None:
        return None
    if isinstance(dtype, np.dtype):
        return dtype
    if isinstance(dtype, str) and dtype in _ALIASES:
        return _ALIASES[dtype]
    if dtype is float:
        return _default_float
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    return np.dtype(dtype)


def is_float(dtype) -> bool:
    return dtype.kind == "f"


def result_type(a, b) -> np.dtype:
    """dtype of a binary op between arrays or Python scalars, with PyTorch's rules."""
    a_scalar = not isinstance(a, np.ndarray)
    b_scalar = not isinstance(b, np.ndarray)
    if a_scalar and b_scalar:
        return np.result_type(_scalar_dtype(a), _scalar_dtype(b))
    if a_scalar:
        return _with_scalar(b.dtype, a)
    if b_scalar:
        return _with_scalar(a.dtype, b)
    da, db = a.dtype, b.dtype
    if da == db:
        return da
    fa, fb = da.kind == "f", db.kind == "f"
    if fa and not fb:
        return da
    if fb and not fa:
        return db
    return np.promote_types(da, db)


def _scalar_dtype(s):
    if isinstance(s, (bool, np.bool_)):
        return bool_
    if isinstance(s, (int, np.integer)):
        return int64
    return _default_float


def _with_scalar(dt: np.dtype, s) -> np.dtype:
    if isinstance(s, (bool, np.bool_)):
        return dt
    if isinstance(s, (int, np.integer)):
        return int64 if dt.kind == "b" else dt
    if isinstance(s, (float, np.floating)):
        return dt if dt.kind in "fc" else _default_float
    return np.result_type(dt, np.asarray(s).dtype)


def memory_order(a) -> str:
    """``"F"`` for a Fortran-contiguous array that is not also C-contiguous (``nn.Linear``
    keeps its weight so), else ``"C"``: the layout a parameter's gradient, optimiser state and
    loaded values take, since NumPy's elementwise loops are several times slower across mixed
    layouts."""
    return "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"
