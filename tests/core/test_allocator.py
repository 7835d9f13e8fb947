"""Freed array memory is reused instead of being faulted in again every step (Linux, glibc)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Ten training steps of the benchmark's transformer block (arrays of a few MB made and freed).
PROBE = """
import resource, sys
sys.path.insert(0, sys.argv[1])
import chainrule as cr
from benchmarks import workloads as W
step = W.chainrule_step(*W.build("transformer"))
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(cr.backend.malloc_top_pad, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _probe(**env):
    out = subprocess.run([sys.executable, "-c", PROBE, str(ROOT)], capture_output=True,
                         text=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1", **env},
                         timeout=120)
    assert out.returncode == 0, out.stderr
    pad, faults = map(int, out.stdout.split())
    return pad, faults


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_training_steps_reuse_memory_without_page_faults():
    pad, faults = _probe()
    if pad == 0:
        pytest.skip("not glibc: the allocator is left alone")
    assert pad == 256 << 20
    off_pad, off_faults = _probe(CHAINRULE_MALLOC_TOP_PAD="0")
    assert off_pad == 0
    print(f"minor page faults in 10 steps: {faults} with the setting, {off_faults} without")
    assert faults < 2_000, faults
    assert off_faults > 5 * max(faults, 1_000)  # what the setting saves
