"""The --quick forms of the training experiments (learning-rate, width, depth, regularization)
assert the findings they are about."""

import json

import numpy as np

import chainrule.experiments as X


def _saved(tmp_path, res):
    for f in res.figures:
        assert f.exists() and f.stat().st_size > 5000
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["conclusion"] == res.conclusion and saved["figures"]
    return saved


def test_learning_rate_small_good_large_batch_noise_and_decreasing_schedule(tmp_path):
    res = X.run("learning-rate", quick=True, out=tmp_path, progress=False)
    _saved(tmp_path, res)
    n = res.numbers
    final, peak, start = n["final_loss"], n["peak_loss"], n["initial_loss"]
    small, good, large = (str(n[k]) for k in ("small_lr", "good_lr", "large_lr"))
    # too small: hundreds of steps and the loss has barely moved; good: it is low
    assert final[small] > 0.7 * start
    assert final[good] < 0.25 * start
    # too large: the loss jumps far above its start and ends worse than not training at all
    assert peak[large] > 10 * start
    assert not final[large] < start and not final[large] < 5 * final[good]
    # per-example SGD is bumpy, full-batch descent goes down on every step
    b = n["batches"]
    per, mini, full = b["1"], b["10"], b[str(max(int(k) for k in b))]
    assert per["frac_up"] > 0.3 and np.all(np.diff(full["loss"]) <= 0)
    assert full["roughness"] < 1.01 and per["roughness"] > 10 * full["roughness"]
    assert per["roughness"] > mini["roughness"] > full["roughness"]
    # ... and, per epoch, gets further than full batches
    assert per["loss"][-1] < full["loss"][-1]
    # constant rate: SGD stalls at a noise floor; decreasing rates end far below it
    s = n["schedules"]
    const = s["constant"]
    for name in ("inverse time", "step (halve every 1/6 of the run)"):
        assert s[name]["final"] < const["final"] / 20
        assert s[name]["last_epoch_mean"] < const["last_epoch_mean"] / 20
    assert "worse than" in res.conclusion
