"""The training loop: learning, early stopping, non-finite losses, bit-identical resume."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.data.datasets import blobs
from chainrule.errors import DataError, NumericalError, ShapeError
from chainrule.train import (
    EarlyStopping,
    HistoryLogger,
    LearningCurves,
    ModelCheckpoint,
    Trainer,
    evaluate,
    fit,
)

F = cr.nn.functional


class ArrayLoader:
    """Minimal loader over arrays: shuffles with a chainrule Generator each epoch."""

    def __init__(self, x, y, batch_size, shuffle=False, generator=None):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.shuffle, self.generator = shuffle, generator

    def __len__(self):
        return -(-len(self.y) // self.batch_size)

    def __iter__(self):
        n = len(self.y)
        idx = self.generator.np.permutation(n) if self.shuffle else np.arange(n)
        for s in range(0, n, self.batch_size):
            j = idx[s:s + self.batch_size]
            yield self.x[j], self.y[j]


def _data(n=300, seed=0):
    x, y = blobs(n=n, centers=3, std=1.0, seed=seed)
    return x[: n * 2 // 3], y[: n * 2 // 3], x[n * 2 // 3:], y[n * 2 // 3:]


def _mlp(dropout=0.0, seed=0):
    cr.manual_seed(seed)
    layers = [cr.nn.Linear(2, 32), cr.nn.ReLU()]
    if dropout:
        layers.append(cr.nn.Dropout(dropout))
    return cr.nn.Sequential(*layers, cr.nn.Linear(32, 3))


def test_fit_learns_blobs_and_logs_history(tmp_path):
    xt, yt, xv, yv = _data()
    model = _mlp()
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    hist = fit(model, F.cross_entropy, opt, ArrayLoader(xt, yt, 32, True, cr.Generator(1)),
               ArrayLoader(xv, yv, 64), epochs=15, progress=False,
               metrics=["accuracy", "confusion_matrix"],
               callbacks=[HistoryLogger(tmp_path), LearningCurves(tmp_path / "curves.png")])
    assert len(hist) == 15 and hist[-1]["epoch"] == 15
    assert hist[-1]["val_accuracy"] > 0.9
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert hist[-1]["val_confusion_matrix"].sum() == len(yv)
    res = evaluate(model, F.cross_entropy, ArrayLoader(xv, yv, 50))
    assert res["accuracy"] == pytest.approx(hist[-1]["val_accuracy"])
    csv_lines = (tmp_path / "history.csv").read_text().splitlines()
    assert csv_lines[0].startswith("epoch,loss,accuracy") and len(csv_lines) == 16
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 15
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_early_stopping_stops_and_restores_the_best_weights():
    xt, yt, xv, yv = _data()
    # Labels of the training points are noise: memorising them drives the validation loss up
    # after a few epochs, so there is a best epoch before the last.
    yt = np.random.default_rng(0).integers(0, 3, size=len(yt))
    model = _mlp()
    opt = cr.optim.Adam(model.parameters(), lr=0.05)
    snapshots = {}

    class Snap(cr.train.Callback):
        order = 1

        def on_epoch_end(self, trainer, epoch, logs):
            snapshots[epoch] = {k: v.numpy().copy() for k, v in model.state_dict().items()}

    stop = EarlyStopping("val_loss", patience=2, restore_best_weights=True)
    hist = fit(model, F.cross_entropy, opt, ArrayLoader(xt, yt, 16, True, cr.Generator(0)),
               ArrayLoader(xv, yv, 100), epochs=40, progress=False, callbacks=[stop, Snap()])
    assert len(hist) < 40, "never stopped"
    best = min(hist, key=lambda r: r["val_loss"])["epoch"]
    assert stop.best_epoch == best != len(hist)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), snapshots[best][k])
    assert evaluate(model, F.cross_entropy, ArrayLoader(xv, yv, 100))["loss"] == \
        pytest.approx(hist[best - 1]["val_loss"], rel=1e-6)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nonfinite_loss_raises_or_stops_keeping_last_checkpoint(tmp_path):
    xt, yt, xv, yv = _data()
    xt = xt.copy()
    model = _mlp()
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    poisoned = {"on": False}

    class Poison(ArrayLoader):
        def __iter__(self):
            for x, y in super().__iter__():
                yield (x * np.float32(np.inf) if poisoned["on"] else x), y

    ck = ModelCheckpoint(tmp_path, monitor="val_loss")
    trainer = Trainer(model, F.cross_entropy, opt, Poison(xt, yt, 50), ArrayLoader(xv, yv, 100),
                      callbacks=[ck], progress=False)
    trainer.fit(2)
    poisoned["on"] = True
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    with pytest.raises(NumericalError, match="epoch 3.*epoch-0002"):
        trainer.fit(4)
    for k, v in model.state_dict().items():  # the bad step was not taken
        np.testing.assert_array_equal(v.numpy(), before[k])
    assert cr.train.load_checkpoint(tmp_path)["epoch"] == 2

    messages = []
    t2 = Trainer(model, F.cross_entropy, opt, Poison(xt, yt, 50), on_nonfinite="stop",
                 progress=False, log=messages.append)
    t2.fit(3)
    assert t2.epoch == 0 and t2.stop_training and "non-finite" in t2.stop_reason
    assert any("inf" in m or "nan" in m for m in messages)


def test_regularizer_shrinks_weights():
    xt, yt, _, _ = _data()
    norms = []
    for coef in (0.0, 0.05):
        model = _mlp()
        opt = cr.optim.SGD(model.parameters(), lr=0.1)
        reg = (lambda m, c=coef: c * sum((p * p).sum() for p in m.parameters()))
        fit(model, F.cross_entropy, opt, ArrayLoader(xt, yt, 50), epochs=5, progress=False,
            regularizer=reg)
        norms.append(math.sqrt(sum(float((p.detach().numpy() ** 2).sum())
                                   for p in model.parameters())))
    assert norms[1] < 0.9 * norms[0]


def test_bad_batches_raise_clear_errors():
    xt, yt, _, _ = _data()
    model = _mlp()
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(DataError, match=r"labels range over \[5, 7\].*3 class"):
        fit(model, F.cross_entropy, opt, ArrayLoader(xt, yt + 5, 50), epochs=1, progress=False)
    with pytest.raises(DataError, match="no batches"):
        fit(model, F.cross_entropy, opt, ArrayLoader(xt[:0], yt[:0], 50), epochs=1,
            progress=False)
    with pytest.raises(ShapeError, match="number of features"):
        fit(model, F.cross_entropy, opt, ArrayLoader(np.ones((10, 5), np.float32), yt[:10], 5),
            epochs=1, progress=False)


def _trainer(tmp_path):
    x, y = blobs(n=120, centers=3, seed=3)
    model = _mlp(dropout=0.3)
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    sched = cr.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.8)
    loader = ArrayLoader(x, y, 16, shuffle=True, generator=cr.Generator(7))
    return Trainer(model, F.cross_entropy, opt, loader, ArrayLoader(x, y, 60), scheduler=sched,
                   callbacks=[ModelCheckpoint(tmp_path, monitor="val_accuracy"),
                              EarlyStopping("val_loss", patience=10)], progress=False)


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    straight = _trainer(tmp_path / "a")
    straight.fit(4)
    first = _trainer(tmp_path / "b")
    first.fit(2)
    cr.manual_seed(12345)  # whatever happened in between must not matter
    resumed = _trainer(tmp_path / "b").resume(tmp_path / "b")
    assert resumed.epoch == 2
    resumed.fit(4)
    for (k, v), (_, w) in zip(straight.model.state_dict().items(),
                              resumed.model.state_dict().items()):
        assert np.array_equal(v.numpy(), w.numpy()), k
    assert [r["loss"] for r in straight.history] == [r["loss"] for r in resumed.history]
    assert straight.optimizer.param_groups[0]["lr"] == resumed.optimizer.param_groups[0]["lr"]


def test_max_steps_stops_mid_epoch_and_validates_the_partial_epoch():
    xt, yt, xv, yv = _data()
    model = _mlp()
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    trainer = Trainer(model, F.cross_entropy, opt, ArrayLoader(xt, yt, 32),
                      ArrayLoader(xv, yv, 64), progress=False, max_steps=10)
    hist = trainer.fit(5)
    # 200 training points in batches of 32 is 7 steps an epoch: 10 steps end inside epoch 2
    assert trainer.step == 10
    assert len(hist) == 2 and "val_loss" in hist[-1]
    assert "max_steps" in trainer.stop_reason
    with pytest.raises(cr.errors.ConfigError, match="max_steps"):
        Trainer(model, F.cross_entropy, opt, ArrayLoader(xt, yt, 32), max_steps=-1)


def test_quiet_trainer_warns_when_it_stops_on_a_nonfinite_loss():
    xt, yt, _, _ = _data()
    model = _mlp()
    opt = cr.optim.SGD(model.parameters(), lr=1e30)
    with pytest.warns(RuntimeWarning, match="training loss became"):
        Trainer(model, F.cross_entropy, opt, ArrayLoader(xt, yt, 32), progress=False,
                on_nonfinite="stop").fit(5)
