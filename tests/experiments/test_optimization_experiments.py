"""The --quick forms of the optimisation and generalisation experiments assert their findings."""

import json

import chainrule.experiments as X


def _saved(tmp_path, res):
    for f in res.figures:
        assert f.exists() and f.stat().st_size > 5000
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["conclusion"] == res.conclusion and saved["figures"]
    return saved


def test_memorization_random_labels_fit_perfectly_but_test_at_chance(tmp_path):
    res = X.run("memorization", quick=True, out=tmp_path, progress=False)
    _saved(tmp_path, res)
    n = res.numbers
    runs, chance = n["runs"], n["chance"]
    true, rand = runs[0.0], runs[1.0]
    # the network has far more parameters than there are training examples
    assert n["n_params"] > 20 * n["n_train"]
    # both labellings are fitted: training accuracy 100% (at least 99%)
    assert true["train_acc"][-1] >= 0.99 and rand["train_acc"][-1] >= 0.99
    # random labels take longer to fit than true ones
    assert rand["epochs_to_99"] >= 1.5 * true["epochs_to_99"]
    assert rand["train_loss"][5] > 3 * true["train_loss"][5]
    # test accuracy: at chance for random labels, far above it for true ones, in between for
    # half-random labels
    assert abs(rand["test_acc"][-1] - chance) < 0.04
    assert true["test_acc"][-1] > chance + 0.6
    assert rand["test_acc"][-1] + 0.2 < runs[0.5]["test_acc"][-1] < true["test_acc"][-1] - 0.2
    assert "%, at chance" in res.conclusion
