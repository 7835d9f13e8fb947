"""The OpenBLAS that NumPy loaded, reached through ctypes for what NumPy does not expose.

Three things: its thread count (``get_threads``/``set_threads``, for the batch-parallel ops in
``chainrule.core.parallel``), a matrix product into (or added to) a given output whose operands
may be windows of larger arrays (``matmul_into``, for the convolutions' per-tap products), and
the level-1 updates ``y <- a x + y`` (``axpy``) and
``y <- b y + x`` (``scale_add``), which the optimisers use on large
parameters: on OpenBLAS's threads and without temporaries, where the same updates in NumPy
take more passes on one core (SGD with momentum on a 21M-parameter MLP: 33 ms -> 10 ms per
step on 2 cores). ``scale_add`` is scal then axpy, two passes on OpenBLAS's threads, or below
``AXPBY_MAX`` elements OpenBLAS's axpby, one pass on one thread: faster there (401k floats:
40-45 against 54-58 us; in mlp-mnist's step the whole SGD update went 257 -> 238 us in fast
spells of the host and 1083 -> 997 us in slow ones), slower on 2M floats (314-414 against
271-339 us). Both give NumPy's ``y *= b; y += x`` bit for bit.

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
        for k, scalar in (("saxpby", ctypes.c_float), ("daxpby", ctypes.c_double)):
            f = getattr(lib, f"scipy_cblas_{k}64_", None)
            if f is not None:  # optional: scale_add uses scal + axpy without it
                f.argtypes = [_I64, scalar, _PTR, _I64, scalar, _PTR, _I64]
                f.restype = None
                found[k] = f
        f = getattr(lib, "scipy_openblas_get_corename64_", None)
        if f is not None:  # optional: core_name reports None without it
            f.argtypes, f.restype = [], ctypes.c_char_p
            found["corename"] = f
        for k, scalar in (("sgemm", ctypes.c_float), ("dgemm", ctypes.c_double)):
            f = getattr(lib, f"scipy_cblas_{k}64_", None)
            if f is not None:  # optional: matmul_into reports it is not available without it
                _INT = ctypes.c_int
                f.argtypes = [_INT, _INT, _INT, _I64, _I64, _I64, scalar, _PTR, _I64, _PTR, _I64,
                              scalar, _PTR, _I64]
                f.restype = None
                found[k] = f
        _lib = found
        break
    return _lib


def available() -> bool:
    return bool(_functions())


def core_name() -> str | None:
    """OpenBLAS's name for the kernel set it runs (``"Haswell"``, ``"SkylakeX"``, ...), or None
    where it is not reachable."""
    f = (_functions() or {}).get("corename")
    if f is None:
        return None
    name = f()
    return (name.decode("ascii", "replace").strip() or None) if name else None


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


# Below this many elements scale_add is one axpby call (see the module docstring).
AXPBY_MAX = 1 << 20


def scale_add(b: float, x: np.ndarray, y: np.ndarray) -> bool:
    """``y = b * y + x`` in place (rounded as ``y *= b; y += x``); False (nothing done) where
    it does not apply."""
    if not _fits(x, y):
        return False
    p = _PREFIX[x.dtype]
    if y.size < AXPBY_MAX and p + "axpby" in _lib:
        _lib[p + "axpby"](x.size, 1.0, x.ctypes.data, 1, b, y.ctypes.data, 1)
        return True
    _lib[p + "scal"](y.size, b, y.ctypes.data, 1)
    _lib[p + "axpy"](x.size, 1.0, x.ctypes.data, 1, y.ctypes.data, 1)
    return True


_ROW_MAJOR, _NO_TRANS = 101, 111


def _rows(x, itemsize):
    """The leading dimension of 2-D ``x`` if its rows are contiguous (however far apart), else
    None."""
    if x.ndim != 2 or (x.shape[1] > 1 and x.strides[1] != itemsize):
        return None
    if x.shape[0] <= 1:
        return max(1, x.shape[1])
    ld, r = divmod(x.strides[0], itemsize)
    return ld if r == 0 and ld >= max(1, x.shape[1]) else None


def gemm_available(dtype) -> bool:
    """Whether ``matmul_into`` can run for arrays of ``dtype`` (float32 or float64, with
    NumPy's OpenBLAS and its gemm found)."""
    p = _PREFIX.get(np.dtype(dtype))
    f = _functions()
    return p is not None and bool(f) and (p + "gemm") in f


def matmul_into(a: np.ndarray, b: np.ndarray, out: np.ndarray, accumulate=False) -> bool:
    """``out[...] = a @ b``, or ``out += a @ b`` with ``accumulate``, in one OpenBLAS gemm
    call; False (nothing done) where it does not apply.

    Each operand is 2-D with contiguous rows that may lie apart, as in a window
    ``big[:, s:s + n]`` of a larger array: no copy is made of it. ``out`` must not overlap
    ``a`` or ``b``.
    """
    if not gemm_available(out.dtype) or a.dtype != out.dtype or b.dtype != out.dtype \
            or not out.flags.writeable:
        return False
    p, f = _PREFIX[out.dtype], _lib
    size = out.dtype.itemsize
    lda, ldb, ldc = _rows(a, size), _rows(b, size), _rows(out, size)
    if lda is None or ldb is None or ldc is None:
        return False
    (m, k), (k2, n) = a.shape, b.shape
    if k != k2 or out.shape != (m, n) or 0 in (m, n, k):
        return False
    f[p + "gemm"](_ROW_MAJOR, _NO_TRANS, _NO_TRANS, m, n, k, 1.0, a.ctypes.data, lda,
                  b.ctypes.data, ldb, 1.0 if accumulate else 0.0, out.ctypes.data, ldc)
    return True
