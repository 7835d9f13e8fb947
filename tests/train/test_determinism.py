"""The same seed gives bitwise-identical weights: training twice in a row with shuffling and
dropout on, through the Trainer and through a whole configured run (the default job's path).
(``n_jobs`` in searches: tests/train/test_search.py.)"""

import numpy as np

import chainrule as cr
from chainrule.config import load_config
from chainrule.data.datasets import blobs
from chainrule.train import CheckpointManager, Trainer, load_checkpoint
from chainrule.train.runner import train

F = cr.nn.functional


def _trainer_run(seed):
    x, y = blobs(n=96, centers=3, seed=0)
    cr.manual_seed(seed)
    model = cr.nn.Sequential(cr.nn.Linear(2, 32), cr.nn.ReLU(), cr.nn.Dropout(0.3),
                             cr.nn.Linear(32, 32), cr.nn.Tanh(), cr.nn.Dropout(0.3),
                             cr.nn.Linear(32, 3))
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    loader = cr.data.DataLoader(cr.data.TensorDataset(cr.tensor(x), cr.tensor(y)),
                                batch_size=8, shuffle=True, generator=cr.Generator(seed))
    Trainer(model, F.cross_entropy, opt, loader, progress=False).fit(5)
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def test_training_twice_with_shuffle_and_dropout_is_bitwise_identical():
    a, b = _trainer_run(7), _trainer_run(7)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    c = _trainer_run(8)  # and the seed matters: another one gives other weights
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def _configured_run(tmp_path, name, seed):
    cfg = load_config(overrides={
        "data.name": "mnist1d", "data.n": 600, "model.name": "cnn", "model.channels": [8, 8],
        "model.kernel_sizes": [5, 3], "model.dropout": 0.2, "train.epochs": 2,
        "data.batch_size": 32, "seed": seed})
    report = train(cfg, out=tmp_path / name, progress=False, log=lambda *a: None)
    latest = CheckpointManager(tmp_path / name / "checkpoints").latest()
    return report, load_checkpoint(latest)["model"]


def test_a_configured_run_twice_gives_the_same_checkpointed_weights(tmp_path):
    r1, m1 = _configured_run(tmp_path, "a", 3)
    r2, m2 = _configured_run(tmp_path, "b", 3)
    assert m1.keys() == m2.keys()
    for k in m1:
        assert np.array_equal(np.asarray(m1[k]), np.asarray(m2[k])), k
    assert r1["test_accuracy"] == r2["test_accuracy"] and r1["test_loss"] == r2["test_loss"]
