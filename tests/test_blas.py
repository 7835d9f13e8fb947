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


def test_restart_unless_already_on_the_preferred_kernels(linux):
    assert _blas.wants_reexec({}, ZEN4) == "Haswell"
    assert _blas.wants_reexec({}, XEON) == "SkylakeX"
    assert _blas.wants_reexec({}, ZEN3) is None
    # an inherited setting naming other kernels is replaced; the preferred ones are kept
    assert _blas.wants_reexec({"OPENBLAS_CORETYPE": "Haswell"}, ZEN5) == "SkylakeX"
    assert _blas.wants_reexec({"OPENBLAS_CORETYPE": "SkylakeX"}, ZEN4) == "Haswell"
    assert _blas.wants_reexec({"OPENBLAS_CORETYPE": "skylakex"}, ZEN5) is None
    assert _blas.wants_reexec({"OPENBLAS_CORETYPE": "Haswell"}, ZEN4) is None
    assert _blas.wants_reexec({"OPENBLAS_CORETYPE": "Zen"}, ZEN3) is None  # nothing preferred
    assert _blas.wants_reexec({"CHAINRULE_NO_REEXEC": "1", "OPENBLAS_CORETYPE": "Haswell"},
                              ZEN5) is None  # the environment exactly as it is
    assert _blas.wants_reexec({_blas._GUARD: "1"}, ZEN4) is None  # never twice


def test_cpu_info_reads_this_machine():
    info = _blas.cpu_info()
    assert set(info) == {"vendor", "family", "flags"}
    if os.path.exists("/proc/cpuinfo"):
        assert info["flags"] and info["vendor"]
        assert _blas.cpu_flags() == info["flags"]


def _version(env, cwd):
    out = subprocess.run([sys.executable, "-m", "chainrule", "--version"], env=env,
                         capture_output=True, text=True, cwd=cwd, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_command_runs_with_the_kernels_it_chose(tmp_path):
    """``--version`` names the kernels OpenBLAS itself reports running."""
    env = dict(os.environ)
    for k in ("CHAINRULE_NO_REEXEC", _blas._GUARD, _blas._WAS):
        env.pop(k, None)
    chosen = _blas.wants_reexec(env)
    out = _version(env, tmp_path)
    if chosen is not None:
        assert f"OpenBLAS kernels: {chosen}" in out
        inherited = env.get("OPENBLAS_CORETYPE")
        assert (f"over the inherited OPENBLAS_CORETYPE={inherited}" in out) == bool(inherited)
    if not {"avx2", "fma"} <= _blas.cpu_flags():
        return  # the kernel names below are x86 ones with AVX2
    env["CHAINRULE_NO_REEXEC"] = "1"
    for core in ("Haswell", "Sandybridge"):  # kept as it is, whatever the CPU
        env["OPENBLAS_CORETYPE"] = core
        out = _version(env, tmp_path)
        assert f"OpenBLAS kernels: {core}" in out and "inherited" not in out


def test_an_inherited_setting_is_replaced_and_reported(tmp_path):
    kernels = _blas.preferred_kernels()
    if kernels is None:
        pytest.skip("no kernel set is preferred on this CPU")
    other = "Sandybridge"  # AVX kernels: runs on every CPU that has a preferred set
    env = dict(os.environ, OPENBLAS_CORETYPE=other)
    for k in ("CHAINRULE_NO_REEXEC", _blas._GUARD, _blas._WAS):
        env.pop(k, None)
    out = _version(env, tmp_path)
    assert f"OpenBLAS kernels: {kernels} (chosen for this CPU over the inherited " \
           f"OPENBLAS_CORETYPE={other}" in out
