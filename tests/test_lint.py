"""The linter is part of the test suite: style problems fail the tests like bugs do."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    if shutil.which("ruff") is None:
        try:
            import ruff  # noqa: F401
        except ImportError:
            pytest.fail("ruff is not installed: install the test extra, pip install -e '.[test]'")
    paths = [p for p in ("chainrule", "tests", "benchmarks", "scripts") if (ROOT / p).exists()]
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", *paths,
                           "--output-format", "concise"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
