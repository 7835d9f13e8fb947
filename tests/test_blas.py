"""Which OpenBLAS kernels the command-line entry points restart with, and when."""

import os
import subprocess
import sys

import pytest

from chainrule import _blas

AVX512 = {"avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"}
ZEN4 = {"vendor": "AuthenticAMD", "family": 25, "flags": set(AVX512)}
ZEN3 = {"vendor": "AuthenticAMD", "family": 25, "flags": {"avx2", "fma"}}
ZEN5 = {"vendor": "AuthenticAMD", "family": 26, "flags": set(AVX512)}
XEON = {"vendor": "GenuineIntel", "family": 6, "flags": set(AVX512)}


@pytest.fixture
def linux(monkeypatch):
    monkeypatch.setattr(_blas.sys, "platform", "linux")


def test_kernels_preferred_per_cpu(linux, monkeypatch):
    assert _blas.preferred_kernels(ZEN4) == "Haswell"  # AVX-512 at AVX2's width
    assert _blas.preferred_kernels(ZEN5) == "SkylakeX"
    assert _blas.preferred_kernels(XEON) == "SkylakeX"
    assert _blas.preferred_kernels(ZEN3) is None  # OpenBLAS's own choice is already AVX2
    partial = dict(XEON, flags=AVX512 - {"avx512bw"})
    assert _blas.preferred_kernels(partial) is None
    assert _blas.preferred_kernels({"vendor": "", "family": None, "flags": set()}) is None
    monkeypatch.setattr(_blas.sys, "platform", "darwin")
    assert _blas.preferred_kernels(ZEN4) is None and _blas.preferred_kernels(XEON) is None


def test_restart_only_without_a_choice_already_made(linux):
    assert _blas.wants_reexec({}, ZEN4) == "Haswell"
    assert _blas.wants_reexec({}, XEON) == "SkylakeX"
    assert _blas.wants_reexec({}, ZEN3) is None
    for core in ("Haswell", "SkylakeX", "Zen"):  # the user's setting is kept
        assert _blas.wants_reexec({"OPENBLAS_CORETYPE": core}, ZEN4) is None
        assert _blas.wants_reexec({"OPENBLAS_CORETYPE": core}, XEON) is None
    assert _blas.wants_reexec({"CHAINRULE_NO_REEXEC": "1"}, ZEN4) is None
    assert _blas.wants_reexec({_blas._GUARD: "1"}, ZEN4) is None  # never twice


def test_cpu_info_reads_this_machine():
    info = _blas.cpu_info()
    assert set(info) == {"vendor", "family", "flags"}
    if os.path.exists("/proc/cpuinfo"):
        assert info["flags"] and info["vendor"]
        assert _blas.cpu_flags() == info["flags"]


def test_command_runs_with_the_kernels_it_chose(tmp_path):
    env = dict(os.environ)
    env.pop("CHAINRULE_NO_REEXEC", None)
    env.pop(_blas._GUARD, None)
    out = subprocess.run([sys.executable, "-m", "chainrule", "--version"], env=env,
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    chosen = _blas.wants_reexec(env) or env.get("OPENBLAS_CORETYPE") or "auto-detected"
    assert f"OpenBLAS kernels: {chosen}" in out.stdout
    env["CHAINRULE_NO_REEXEC"] = "1"
    out = subprocess.run([sys.executable, "-m", "chainrule", "--version"], env=env,
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert f"OpenBLAS kernels: {env.get('OPENBLAS_CORETYPE') or 'auto-detected'}" in out.stdout
