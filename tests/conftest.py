"""Test-session settings shared by every test module.

BLAS thread pools are pinned to one thread before numpy is imported: the suite's
arrays are small, so a second OpenBLAS thread only adds synchronisation, and on a
busy two-core machine (CI) it can make a matmul-heavy test many times slower.
Subprocesses started by tests inherit the setting; the benchmark harness chooses
its own thread count explicitly.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
