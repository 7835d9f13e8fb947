"""Choosing OpenBLAS's matrix-multiply kernels for the ``chainrule`` command and the benchmark
harness.

NumPy's bundled OpenBLAS picks its kernels once, when NumPy loads, from the
``OPENBLAS_CORETYPE`` environment variable or its own CPU detection, and neither is always the
fastest choice:

* On AMD Zen 5 (EPYC, family 26, full-width AVX-512) the AVX-512 ("SkylakeX") kernels run
  float32 products at about twice the speed of the AVX2 ("Haswell") ones: 415-455 against
  210-257 GFLOP/s on 2 cores. Some OpenBLAS builds detect it as an AVX2 CPU, and machines
  that run many OpenBLAS versions side by side may set ``OPENBLAS_CORETYPE=Haswell`` for
  every process (the 2-core Zen 5 the benchmarks were last run on does).
* On AMD Zen 4, which runs AVX-512 at AVX2's width, OpenBLAS picks the SkylakeX kernels, and
  the Haswell ones are faster on all but tiny products. On a 2-core Zen 4 (EPYC, family 25),
  processes alternated, in GFLOP/s: 128x784 @ 784x512 193-198 against 180-184, 128x512 @
  512x512 186-190 against 172-173, 256x4096 @ 4096x4096 211-213 against 193, the
  convolution's 32x145 @ 145x12544 146-159 against 133-141, 1024x128 @ 128x384 205-213 against
  193-200; 512x128 @ 128x784 the same (184-186 against 186-187), and 32x40 @ 40x100 slower (60
  against 71-73), where a step's time is the interpreter's anyway.

Results agree to float32 rounding. A running process cannot change the choice, so the
command-line entry points restart themselves once, before NumPy loads, with
``OPENBLAS_CORETYPE`` set to the kernels :func:`preferred_kernels` names for this CPU:
Haswell kernels on AMD family 25 with AVX-512 (Zen 4); SkylakeX kernels where every AVX-512
subset they use (``avx512f``, ``avx512bw``, ``avx512dq``, ``avx512vl``, ``avx512cd``) is listed
in Linux's ``/proc/cpuinfo``, on any other CPU. An ``OPENBLAS_CORETYPE`` the process inherited
is replaced when it names other kernels (its value is kept in ``CHAINRULE_OPENBLAS_WAS`` and the
reports say so): a machine-wide setting would otherwise halve the speed of every product on a
Zen 5. ``CHAINRULE_NO_REEXEC=1`` keeps the environment exactly as it is, inherited kernels
included.

A library user gets the same by setting the variable before Python starts, e.g. on Zen 5::

    OPENBLAS_CORETYPE=SkylakeX python train.py

This module imports nothing heavy, so entry points can call it first.
"""

from __future__ import annotations

import os
import sys

_GUARD = "CHAINRULE_REEXECED"
_WAS = "CHAINRULE_OPENBLAS_WAS"  # the inherited OPENBLAS_CORETYPE a restart replaced
_NEEDED = ("avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd")


def cpu_info() -> dict:
    """``{"vendor": ..., "family": int or None, "flags": set}`` of the first CPU in
    ``/proc/cpuinfo`` (empty values where it is not available)."""
    info = {"vendor": "", "family": None, "flags": set()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "vendor_id":
                    info["vendor"] = value
                elif key == "cpu family" and value.isdigit():
                    info["family"] = int(value)
                elif key == "flags":
                    info["flags"] = set(value.split())
                    break  # the first processor's block is enough
    except OSError:
        pass
    return info


def cpu_flags() -> set[str]:
    """The CPU feature flags from ``/proc/cpuinfo`` (empty where it is not available)."""
    return cpu_info()["flags"]


def avx512_kernels_safe(flags=None) -> bool:
    """True when the CPU has every AVX-512 subset OpenBLAS's SkylakeX kernels use."""
    flags = cpu_flags() if flags is None else flags
    return sys.platform.startswith("linux") and set(_NEEDED) <= flags


def preferred_kernels(info=None) -> str | None:
    """The OpenBLAS kernel set the entry points run with on this CPU (``"Haswell"`` on AMD Zen
    4, ``"SkylakeX"`` where its AVX-512 kernels are safe elsewhere), or None to leave
    OpenBLAS's own choice."""
    info = cpu_info() if info is None else info
    if not sys.platform.startswith("linux"):
        return None
    flags = info["flags"]
    if info["vendor"] == "AuthenticAMD" and info["family"] == 25 and "avx512f" in flags:
        return "Haswell" if {"avx2", "fma"} <= flags else None
    return "SkylakeX" if avx512_kernels_safe(flags) else None


def wants_reexec(env=None, info=None) -> str | None:
    """The kernel set a fresh process should run with (see :func:`preferred_kernels`), or None
    when this one should carry on as it is: it already runs with them, it is a restart, or
    ``CHAINRULE_NO_REEXEC`` is set."""
    env = os.environ if env is None else env
    if env.get(_GUARD) or env.get("CHAINRULE_NO_REEXEC"):
        return None
    kernels = preferred_kernels(info)
    if kernels is None or env.get("OPENBLAS_CORETYPE", "").lower() == kernels.lower():
        return None
    return kernels


def maybe_reexec(module: str, argv) -> None:
    """Replace this process by ``python -m module *argv`` with the preferred kernels selected.

    Does nothing when :func:`wants_reexec` gives None. A guard variable prevents a second
    restart. Only entry points call this (the process is replaced, whatever it had loaded).
    """
    kernels = wants_reexec()
    if kernels is None:
        return
    env = dict(os.environ)
    if env.get("OPENBLAS_CORETYPE"):
        env[_WAS] = env["OPENBLAS_CORETYPE"]
    env["OPENBLAS_CORETYPE"] = kernels
    env[_GUARD] = "1"
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, "-m", module, *argv], env)
    except OSError:
        pass  # carry on with the kernels already chosen


def kernel_note() -> str:
    """One line saying which OpenBLAS kernels this process uses, for reports: OpenBLAS's own
    name for them once NumPy is loaded, and an inherited setting a restart replaced."""
    core = None
    if "numpy" in sys.modules:
        from . import _openblas

        core = _openblas.core_name()
    core = core or os.environ.get("OPENBLAS_CORETYPE") or "auto-detected"
    note = f"OpenBLAS kernels: {core}"
    was = os.environ.get(_WAS) if os.environ.get(_GUARD) else None
    if was:
        note += (f" (chosen for this CPU over the inherited OPENBLAS_CORETYPE={was}; "
                 "CHAINRULE_NO_REEXEC=1 keeps that)")
    return note
