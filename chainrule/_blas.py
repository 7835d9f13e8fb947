"""Choosing OpenBLAS's AVX-512 kernels for the ``chainrule`` command and the benchmark harness.

NumPy's bundled OpenBLAS picks its matrix-multiply kernels once, when NumPy loads, from the
``OPENBLAS_CORETYPE`` environment variable or its own CPU detection. On some AVX-512 machines
(AMD Zen 4/5 among them) it settles on the AVX2 ("Haswell") kernels, which run float32 matrix
products at about half the speed of its AVX-512 ("SkylakeX") ones; results agree to float32
rounding. A running process cannot change the choice, so the command-line entry points restart
themselves once, before NumPy loads, with ``OPENBLAS_CORETYPE=SkylakeX`` when that is safe:

* the CPU lists every AVX-512 subset those kernels use (``avx512f``, ``avx512bw``,
  ``avx512dq``, ``avx512vl``, ``avx512cd``) in ``/proc/cpuinfo`` (Linux only);
* ``OPENBLAS_CORETYPE`` is unset or names a kernel set without AVX-512 (``Haswell``, ``Zen``,
  ...);
* ``CHAINRULE_NO_REEXEC`` is not set (set it to keep the environment exactly as it is).

A library user gets the same by setting the variable before Python starts::

    OPENBLAS_CORETYPE=SkylakeX python train.py

This module imports nothing heavy, so entry points can call it first.
"""

from __future__ import annotations

import os
import sys

_GUARD = "CHAINRULE_REEXECED"
_NEEDED = ("avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd")
_AVX512_CORES = ("skylakex", "cooperlake", "sapphirerapids")


def cpu_flags() -> set[str]:
    """The CPU feature flags from ``/proc/cpuinfo`` (empty where it is not available)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def avx512_kernels_safe() -> bool:
    """True when the CPU has every AVX-512 subset OpenBLAS's SkylakeX kernels use."""
    return sys.platform.startswith("linux") and set(_NEEDED) <= cpu_flags()


def wants_reexec(env=None) -> bool:
    """Whether a fresh process with ``OPENBLAS_CORETYPE=SkylakeX`` would run faster kernels."""
    env = os.environ if env is None else env
    if env.get(_GUARD) or env.get("CHAINRULE_NO_REEXEC"):
        return False
    current = env.get("OPENBLAS_CORETYPE", "").strip().lower()
    if current in _AVX512_CORES:
        return False
    return avx512_kernels_safe()


def maybe_reexec(module: str, argv) -> None:
    """Replace this process by ``python -m module *argv`` with the AVX-512 kernels selected.

    Does nothing when :func:`wants_reexec` is false. A guard variable prevents a second
    restart. Only entry points call this (the process is replaced, whatever it had loaded).
    """
    if not wants_reexec():
        return
    env = dict(os.environ)
    env["OPENBLAS_CORETYPE"] = "SkylakeX"
    env[_GUARD] = "1"
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, "-m", module, *argv], env)
    except OSError:
        pass  # carry on with the kernels already chosen


def kernel_note() -> str:
    """One line saying which OpenBLAS kernels this process uses, for reports."""
    core = os.environ.get("OPENBLAS_CORETYPE") or "auto-detected"
    return f"OpenBLAS kernels: {core}"
