"""What every experiment's run must leave behind, shared by the experiment tests."""

import json

import pytest


@pytest.fixture
def saved():
    """A check that a run wrote its figures and its numbers (``results.json``, with the same
    conclusion it returned); returns the saved numbers."""

    def check(out_dir, res):
        for f in res.figures:
            assert f.exists() and f.stat().st_size > 5000
        numbers = json.loads((out_dir / "results.json").read_text())
        assert numbers["conclusion"] == res.conclusion and numbers["figures"]
        return numbers

    return check
