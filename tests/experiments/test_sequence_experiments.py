"""The --quick forms of the sequence experiments (rnn-lm, rnn-sentiment, locality) assert the
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


def test_rnn_lm_learns_text_and_gradients_vanish_through_time(tmp_path):
    res = X.run("rnn-lm", quick=True, out=tmp_path, progress=False)
    n = res.numbers
    _saved(tmp_path, res)
    assert (tmp_path / "rnn_lm.png").exists()
    ppl = n["train_perplexity"]
    # starts near a uniform guess over the characters, ends far below it
    assert ppl[0] > 0.6 * n["vocab_size"]
    assert ppl[-1] < 0.25 * ppl[0]
    # held-out text: better than character frequencies alone at the best point
    assert n["best_val_perplexity"] < 0.8 * n["unigram_val_perplexity"]
    # samples turn from random characters into (some) real words
    words = [s["real_words"] for s in n["samples"]]
    assert words[-1] > words[0] + 0.2
    # backprop through time: the signal reaching 20 steps back is orders of magnitude smaller
    init = n["bptt_init"] / n["bptt_init"][0]
    assert init[20] < 1e-3
    assert n["bptt_decay_per_step_init"] < 0.9
    assert np.isfinite(n["grad_norm"]).all()
    assert "perplexity" in res.conclusion
