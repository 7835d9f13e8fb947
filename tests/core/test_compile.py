"""chainrule.compile: a traced and replayed step gives exactly the eager step's results, or runs
eagerly with a warning saying why."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F


def _pair(make_model, make_opt):
    """Two identical models and optimisers, and a step function for each."""
    steps, models = [], []
    for _ in range(2):
        cr.manual_seed(0)
        model = make_model()
        opt = make_opt(model.parameters())

        def step(x, y, model=model, opt=opt):
            opt.zero_grad()
            out = model(x)
            loss = F.cross_entropy(out, y)
            loss.backward()
            opt.step()
            acc = (out.argmax(1) == y).float().mean()  # read after the backward pass
            return loss, acc

        steps.append(step)
        models.append(model)
    return models, steps[0], cr.compile(steps[1])


def _batches(shape, classes, n=6, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield (cr.tensor(rng.standard_normal(shape).astype(np.float32)),
               cr.tensor(rng.integers(0, classes, shape[0])))


def _same_run(models, eager, compiled, batches):
    for x, y in batches:
        a, b = eager(x, y), compiled(x, y)
        for u, v in zip(a, b):
            assert np.array_equal(u.detach().numpy(), v.detach().numpy())
    for p, q in zip(models[0].parameters(), models[1].parameters()):
        assert np.array_equal(p.data, q.data)
        assert np.array_equal(p.grad.data, q.grad.data)
    assert compiled.eager_reason is None


MODELS = {
    "mlp + sgd momentum": (lambda: nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 5)),
                           lambda ps: cr.optim.SGD(ps, lr=0.1, momentum=0.9), (8, 12)),
    "cnn + adam": (lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
                                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 5)),
                   lambda ps: cr.optim.Adam(ps, lr=1e-2), (6, 1, 8, 8)),
    "transformer layer": (lambda: nn.Sequential(
        nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True,
                                   norm_first=True, activation="gelu"),
        nn.Flatten(), nn.Linear(40, 5)),
        lambda ps: cr.optim.SGD(ps, lr=0.05), (4, 5, 8)),
}


@pytest.mark.parametrize("name", MODELS)
def test_replayed_steps_equal_eager_steps_bit_for_bit(name):
    make_model, make_opt, shape = MODELS[name]
    models, eager, compiled = _pair(make_model, make_opt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning
        _same_run(models, eager, compiled, _batches(shape, 5))
    loss, _ = compiled(*next(_batches(shape, 5, seed=9)))
    assert not loss.requires_grad  # a replayed call returns tensors without a graph


def test_new_shapes_are_traced_again():
    make_model, make_opt, _ = MODELS["mlp + sgd momentum"]
    models, eager, compiled = _pair(make_model, make_opt)
    batches = [b for n in (8, 3, 8, 3, 8) for b in _batches((n, 12), 5, n=2, seed=n)]
    _same_run(models, eager, compiled, batches)
    assert len(compiled._traces) == 2


def test_a_gradient_with_respect_to_the_input_is_replayed():
    w = cr.tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=False)

    def grad_of_input(x):
        loss = (x @ w).tanh().sum()
        loss.backward()
        return loss

    compiled = cr.compile(grad_of_input)
    for seed in range(4):
        data = np.random.default_rng(seed).standard_normal((2, 3))
        xa, xb = cr.tensor(data, requires_grad=True), cr.tensor(data, requires_grad=True)
        la, lb = grad_of_input(xa), compiled(xb)
        assert la.item() == lb.item()
        assert np.array_equal(xa.grad.numpy(), xb.grad.numpy())
    assert compiled.eager_reason is None


def _warns_and_matches(make_model, reason, shape=(8, 12), mode_train=True):
    models, eager, compiled = _pair(make_model, lambda ps: cr.optim.SGD(ps, lr=0.1))
    for m in models:
        m.train(mode_train)
    cr.manual_seed(5)
    with pytest.warns(RuntimeWarning, match="runs eagerly"):
        _same_run_reseeded(models, eager, compiled, shape)
    assert reason in compiled.eager_reason


def _same_run_reseeded(models, eager, compiled, shape):
    for i, (x, y) in enumerate(_batches(shape, 5)):
        cr.manual_seed(i)
        a = eager(x, y)
        cr.manual_seed(i)
        b = compiled(x, y)
        for u, v in zip(a, b):
            assert np.array_equal(u.detach().numpy(), v.detach().numpy())
    for p, q in zip(models[0].parameters(), models[1].parameters()):
        assert np.array_equal(p.data, q.data)


def test_random_numbers_make_it_run_eagerly():
    _warns_and_matches(lambda: nn.Sequential(nn.Linear(12, 16), nn.Dropout(0.5),
                                             nn.Linear(16, 5)), "random")


def test_state_updated_outside_the_ops_makes_it_run_eagerly():
    """Batch norm's running statistics change outside the ops (and would be left behind by a
    replay, unseen by the step's outputs)."""
    _warns_and_matches(lambda: nn.Sequential(nn.Linear(12, 16), nn.BatchNorm1d(16),
                                             nn.Linear(16, 5)), "running statistics")


def test_gradient_clipping_and_schedulers_make_it_run_eagerly():
    for extra, reason in ((lambda m, o, s: cr.nn.utils.clip_grad_norm_(m.parameters(), 0.1),
                           "clipping"),
                          (lambda m, o, s: s.step(), "scheduler")):
        cr.manual_seed(0)
        model = nn.Linear(4, 2)
        opt = cr.optim.SGD(model.parameters(), lr=0.1)
        sched = cr.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)

        def step(x, y, extra=extra, model=model, opt=opt, sched=sched):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            extra(model, opt, sched)
            opt.step()
            return loss

        compiled = cr.compile(step)
        with pytest.warns(RuntimeWarning, match="runs eagerly"):
            compiled(cr.ones(3, 4), cr.tensor([0, 1, 0]))
        assert reason in compiled.eager_reason


def test_a_replay_that_differs_from_the_eager_step_is_caught():
    """An array prepared from the input outside the ops (here by hand) would be replayed as a
    stale constant: the check on the second call sees it and keeps the step eager."""
    lin = nn.Linear(3, 1)

    def step(x):
        doubled = cr.Tensor(x.data * 2)  # bypasses the ops
        return lin(doubled).sum()

    compiled = cr.compile(step)
    xs = [cr.full((2, 3), float(v)) for v in (1, 2, 3)]
    with pytest.warns(RuntimeWarning, match="did not reproduce"):
        out = [compiled(x).item() for x in xs]
    assert out == [step(x).item() for x in xs]


def test_values_read_out_of_tensors_make_it_run_eagerly():
    lin = nn.Linear(3, 1)

    def step(x):
        y = lin(x).sum()
        if y.item() > 0:  # a Python branch on a value
            y = y * 2
        return y

    compiled = cr.compile(step)
    with pytest.warns(RuntimeWarning, match="item"):
        compiled(cr.ones(2, 3))
    for s in (1.0, -1.0):
        x = cr.full((2, 3), s)
        assert compiled(x).item() == step(x).item()


def test_an_evaluation_step_follows_later_changes_of_the_model():
    """A traced evaluation step reads parameters and batch-norm statistics afresh on every
    replay: training the model eagerly between evaluations changes its results, as it should."""
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    opt = cr.optim.SGD(model.parameters(), lr=0.1)

    def evaluate(x):
        with cr.no_grad():
            return model(x)

    compiled = cr.compile(evaluate)
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((5, 6)).astype(np.float32))
    for _ in range(4):
        model.eval()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = compiled(x).numpy()
        np.testing.assert_array_equal(got, evaluate(x).numpy())
        model.train()  # one eager training step: new weights and running statistics
        opt.zero_grad()
        F.cross_entropy(model(x), cr.tensor([0, 1, 2, 0, 1])).backward()
        opt.step()
    assert compiled.eager_reason is None
