"""The --quick forms of the initialisation experiments assert the findings they are about."""

import json

import numpy as np

import chainrule.experiments as X


def _saved(tmp_path, res):
    for f in res.figures:
        assert f.exists() and f.stat().st_size > 5000
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["conclusion"] == res.conclusion and saved["figures"]
    return saved


def test_zero_init_never_breaks_symmetry_random_init_learns(tmp_path):
    res = X.run("zero-init", quick=True, out=tmp_path, progress=False)
    _saved(tmp_path, res)
    curves = res.numbers["curves"]
    for act in ("relu", "tanh"):
        z, c, r = (curves[f"{act}/{k}"] for k in ("zero", "constant", "random"))
        # all-zero: the loss does not move and no gradient reaches the hidden layers
        assert np.all(z["loss"] == z["loss"][0])
        assert z["hidden_grad_norm"].max() == 0.0
        # constant: the hidden units are still identical after training
        assert c["unit_spread"].max() == 0.0
        # random: learns two moons
        assert r["loss"][-1] < 0.25 * r["loss"][0]
        assert r["accuracy"] > 0.95 > c["accuracy"]
    assert "exactly zero" in res.conclusion
