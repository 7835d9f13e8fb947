"""The --quick forms of the sequence experiments (rnn-lm, rnn-sentiment) assert the
findings they are about."""

from pathlib import Path

import numpy as np
import pytest

import chainrule.experiments as X


def test_rnn_lm_learns_text_and_gradients_vanish_through_time(tmp_path, saved):
    res = X.run("rnn-lm", quick=True, out=tmp_path, progress=False)
    n = res.numbers
    saved(tmp_path, res)
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


REVIEWS = Path(__file__).resolve().parents[3] / "shared" / "data" / "sentiment-labelled-sentences"


@pytest.mark.skipif(not REVIEWS.is_dir(), reason="the review sentences are not on this machine")
def test_rnn_sentiment_on_real_reviews_beats_chance_and_gru_holds_on_long_sentences(tmp_path,
                                                                                   saved):
    res = X.run("rnn-sentiment", quick=True, out=tmp_path, progress=False, data=REVIEWS)
    n = res.numbers
    saved(tmp_path, res)
    assert n["sentences"] == 3000 and n["test_size"] == 600
    acc, chance = n["test_accuracy"], n["chance"]
    # word counts alone go a long way on short reviews; both recurrent nets learn too
    assert acc["bag of words"] > chance + 0.2
    assert acc["GRU"] > chance + 0.15 and acc["RNN"] > chance + 0.05
    # the gated net is at least as good as the plain RNN on the longest sentences
    long = n["accuracy_by_length"]
    assert long["GRU"][2] >= long["RNN"][2] - 0.02
    assert "sentiment-labelled-sentences" in res.conclusion


def test_rnn_sentiment_builtin_corpus_fits_and_says_how_little_it_shows(tmp_path, saved):
    res = X.run("rnn-sentiment", quick=True, out=tmp_path, progress=False)
    n = res.numbers
    saved(tmp_path, res)
    assert n["sentences"] == 80
    # every model fits the 64 training sentences ...
    assert min(n["train_accuracy"].values()) >= 0.95
    # ... and the conclusion says that 16 test sentences cannot rank them
    assert "built-in corpus" in res.conclusion and "--data" in res.conclusion
