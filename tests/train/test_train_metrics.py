"""Epoch metrics: accuracy, confusion matrix, per-class accuracy, perplexity."""

import math

import numpy as np
import pytest

from chainrule.errors import ConfigError, DataError
from chainrule.train import metrics as M


def test_accuracy_and_confusion_match_a_direct_count():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 4)).astype(np.float32)
    y = rng.integers(0, 4, size=200)
    pred = logits.argmax(1)
    assert M.accuracy(logits, y) == pytest.approx(np.mean(pred == y))
    cm = M.confusion_matrix(y, pred, 4)
    for i in range(4):
        for j in range(4):
            assert cm[i, j] == np.sum((y == i) & (pred == j))
    pca = M.per_class_accuracy(y, pred, 4)
    np.testing.assert_allclose(pca, [np.mean(pred[y == k] == k) for k in range(4)])


def test_epoch_metrics_accumulate_exactly_over_batches():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(103, 3))
    y = rng.integers(0, 3, size=103)
    acc, cm, pca = M.Accuracy(), M.ConfusionMatrix(), M.PerClassAccuracy(3)
    for s in range(0, 103, 10):
        for m in (acc, cm, pca):
            m.update(logits[s:s + 10], y[s:s + 10])
    assert acc.compute() == pytest.approx(M.accuracy(logits, y))
    np.testing.assert_array_equal(cm.compute(), M.confusion_matrix(y, logits.argmax(1), 3))
    np.testing.assert_allclose(pca.compute(), M.per_class_accuracy(y, logits.argmax(1), 3))
    acc.reset()
    assert math.isnan(acc.compute())


def test_sequence_outputs_and_binary_logits():
    logits = np.zeros((2, 3, 5))
    logits[..., 2] = 1.0
    target = np.array([[2, 2, 0], [2, 1, 2]])
    assert M.accuracy(logits, target) == pytest.approx(4 / 6)
    assert M.accuracy(np.array([-1.0, 2.0, 0.5]), np.array([0, 1, 0])) == pytest.approx(2 / 3)


def test_perplexity_weights_batches_by_tokens():
    m = M.Perplexity()
    m.update(None, np.zeros((1, 10)), loss=1.0)
    m.update(None, np.zeros((1, 30)), loss=2.0)
    assert m.compute() == pytest.approx(math.exp((10 * 1.0 + 30 * 2.0) / 40))
    assert M.perplexity(1e6) == math.inf


def test_bad_metric_inputs_raise_typed_errors():
    with pytest.raises(ConfigError, match="unknown metric"):
        M.get_metric("f2-score")
    with pytest.raises(DataError, match="predictions"):
        M.accuracy(np.zeros((4, 3)), np.zeros(5, dtype=int))
    with pytest.raises(DataError, match="labels must lie"):
        M.confusion_matrix([0, 3], [0, 1], num_classes=2)
