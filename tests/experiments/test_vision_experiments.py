"""The --quick forms of the vision experiments (locality, lottery-ticket, adversarial) assert the
findings they are about."""

import json

import numpy as np

import chainrule.experiments as X


def _saved(tmp_path, res):
    for f in res.figures:
        assert f.exists() and f.stat().st_size > 5000
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["conclusion"] == res.conclusion and saved["figures"]
    return saved


def test_locality_cnn_advantage_needs_ordered_positions(tmp_path):
    res = X.run("locality", quick=True, out=tmp_path, progress=False)
    _saved(tmp_path, res)
    assert (tmp_path / "locality.png").exists()
    n = res.numbers
    acc = n["accuracy"]
    # ordered signals: the CNN beats the MLP by a clear margin
    assert n["gap_ordered"] > 0.07
    # one fixed shuffle of the positions: the CNN's lead is gone
    assert n["gap_shuffled"] < 0.02
    assert n["gap_shuffled"] < n["gap_ordered"] - 0.08
    assert acc["CNN/shuffled"] < acc["CNN/ordered"] - 0.08
    # the MLP does not care: same accuracy within noise, and exactly the same once its
    # first-layer columns are permuted with the signal
    assert abs(n["mlp_change"]) < 0.04
    assert n["mlp_relabelled_accuracy"] == acc["MLP/ordered"]
    # the GRU reads in order and loses from the shuffle too
    assert n["gru_drop"] > 0.0
    # random shifts of the training signals help the CNN
    assert n["augment_gain"] > 0.04
    assert np.all(np.sort(n["permutation"]) == np.arange(40))
    assert "CNN" in res.conclusion and "MLP" in res.conclusion
