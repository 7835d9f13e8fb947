"""When the command-line entry points restart with OpenBLAS's AVX-512 kernels."""

import os
import subprocess
import sys

import pytest

from chainrule import _blas

AVX512 = {"avx2", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"}


@pytest.fixture
def avx512_cpu(monkeypatch):
    monkeypatch.setattr(_blas, "cpu_flags", lambda: set(AVX512))
    monkeypatch.setattr(_blas.sys, "platform", "linux")


def test_restart_only_where_avx512_is_complete_and_not_chosen(avx512_cpu, monkeypatch):
    assert _blas.wants_reexec({})
    assert _blas.wants_reexec({"OPENBLAS_CORETYPE": "Haswell"})
    assert not _blas.wants_reexec({"OPENBLAS_CORETYPE": "SkylakeX"})
    assert not _blas.wants_reexec({"OPENBLAS_CORETYPE": "sapphirerapids"})
    assert not _blas.wants_reexec({"CHAINRULE_NO_REEXEC": "1"})
    assert not _blas.wants_reexec({_blas._GUARD: "1"})  # never twice
    monkeypatch.setattr(_blas, "cpu_flags", lambda: AVX512 - {"avx512bw"})
    assert not _blas.wants_reexec({})
    monkeypatch.setattr(_blas, "cpu_flags", set)
    assert not _blas.wants_reexec({})


def test_command_runs_with_the_kernels_it_chose(tmp_path):
    env = dict(os.environ)
    env.pop("CHAINRULE_NO_REEXEC", None)
    env.pop(_blas._GUARD, None)
    out = subprocess.run([sys.executable, "-m", "chainrule", "--version"], env=env,
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    chosen = "SkylakeX" if _blas.wants_reexec(env) else (
        env.get("OPENBLAS_CORETYPE") or "auto-detected")
    assert f"OpenBLAS kernels: {chosen}" in out.stdout
    env["CHAINRULE_NO_REEXEC"] = "1"
    out = subprocess.run([sys.executable, "-m", "chainrule", "--version"], env=env,
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert f"OpenBLAS kernels: {env.get('OPENBLAS_CORETYPE') or 'auto-detected'}" in out.stdout
