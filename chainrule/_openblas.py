"""The OpenBLAS that NumPy loaded, reached through ctypes for what NumPy does not expose.

Two things: its thread count (``get_threads``/``set_threads``, for the batch-parallel ops in
``chainrule.core.parallel``) and the level-1 updates ``y <- a x + y`` (``axpy``) and
``y <- b y + x`` (``scale_add``: scal, then axpy), which the optimisers use on large
parameters: on OpenBLAS's threads and without temporaries, where the same updates in NumPy
take more passes on one core (SGD with momentum on a 21M-parameter MLP: 33 ms -> 10 ms per
step on 2 cores). OpenBLAS's axpby does the latter in one call but was slower here (7.9 ms
against 5.0 ms for scal + axpy on 21M floats, 2 threads).

Only NumPy's own bundled OpenBLAS with the 64-bit integer interface (the ``scipy_openblas64``
build of NumPy's wheels) is used; anywhere else every function here reports that it is not
available and callers keep their NumPy code.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

_I64 = ctypes.c_int64
_PTR = ctypes.c_void_p
_lib = None  # the found functions (a dict), or False


def _library_paths():
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            paths = {p for p in (line.split()[-1] for line in f if "/" in line)
                     if "openblas" in os.path.basename(p).lower() and ".so" in p}
    except OSError:
        return []
    # NumPy's own copy first (another package may bring a second OpenBLAS)
    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))
    return sorted(paths, key=lambda p: (not p.startswith(os.path.join(numpy_dir, "numpy")), p))


def _functions():
    global _lib
    if _lib is not None:
        return _lib
    _lib = False
    for path in _library_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        names = {"get": "scipy_openblas_get_num_threads64_",
                 "set": "scipy_openblas_set_num_threads64_",
                 "saxpy": "scipy_cblas_saxpy64_", "daxpy": "scipy_cblas_daxpy64_",
                 "sscal": "scipy_cblas_sscal64_", "dscal": "scipy_cblas_dscal64_"}
        found = {k: getattr(lib, n, None) for k, n in names.items()}
        if any(f is None for f in found.values()):
            continue
        found["get"].restype = ctypes.c_int
        found["set"].argtypes, found["set"].restype = [ctypes.c_int], None
        for k, scalar in (("saxpy", ctypes.c_float), ("daxpy", ctypes.c_double)):
            found[k].argtypes = [_I64, scalar, _PTR, _I64, _PTR, _I64]
            found[k].restype = None
        for k, scalar in (("sscal", ctypes.c_float), ("dscal", ctypes.c_double)):
            found[k].argtypes = [_I64, scalar, _PTR, _I64]
            found[k].restype = None
        _lib = found
        break
    return _lib


def available() -> bool:
    return bool(_functions())


def get_threads() -> int | None:
    f = _functions()
    return int(f["get"]()) if f else None


def set_threads(n: int) -> None:
    f = _functions()
    if f:
        f["set"](int(n))


# Below this many elements NumPy's in-place ufuncs are as fast as OpenBLAS through ctypes,
# whose threads cost more to wake than they save (a momentum update of 65536 float32s: 21 us
# with NumPy, 28 us with OpenBLAS; of 131072: 52 vs 44 us).
MIN_SIZE = 80_000
_PREFIX = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}


def _fits(*arrays) -> bool:
    a = arrays[0]
    return (a.size >= MIN_SIZE and a.dtype in _PREFIX
            and all(x.dtype == a.dtype and x.shape == a.shape for x in arrays)
            and (all(x.flags.c_contiguous for x in arrays)
                 or all(x.flags.f_contiguous for x in arrays))  # one layout: the same order
            and arrays[-1].flags.writeable and bool(_functions()))


def axpy(a: float, x: np.ndarray, y: np.ndarray) -> bool:
    """``y += a * x`` in place; False (nothing done) where it does not apply."""
    if not _fits(x, y):
        return False
    _lib[_PREFIX[x.dtype] + "axpy"](x.size, a, x.ctypes.data, 1, y.ctypes.data, 1)
    return True


def scale_add(b: float, x: np.ndarray, y: np.ndarray) -> bool:
    """``y = b * y + x`` in place (rounded as ``y *= b; y += x``); False (nothing done) where
    it does not apply."""
    if not _fits(x, y):
        return False
    p = _PREFIX[x.dtype]
    _lib[p + "scal"](y.size, b, y.ctypes.data, 1)
    _lib[p + "axpy"](x.size, 1.0, x.ctypes.data, 1, y.ctypes.data, 1)
    return True
