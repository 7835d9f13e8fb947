"""A catalogue of wrong uses across the public API. Each must raise a typed chainrule error
whose message names the operation, the argument and what was received, never a raw numpy or
Python error from deep inside the library."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import errors as E


def _backward_twice():
    x = cr.ones(2, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


CORE = [
    ("add shape mismatch", lambda: cr.ones(2, 3) + cr.ones(4), E.ShapeError,
     ["add", "(2, 3)", "(4,)"]),
    ("mul shape mismatch", lambda: cr.ones(2, 3) * cr.ones(3, 2), E.ShapeError,
     ["mul", "(2, 3)", "(3, 2)"]),
    ("matmul inner dims", lambda: cr.ones(2, 3) @ cr.ones(4, 5), E.ShapeError,
     ["matmul", "(2, 3)", "(4, 5)"]),
    ("matmul batch dims", lambda: cr.ones(2, 2, 3) @ cr.ones(3, 3, 4), E.ShapeError,
     ["matmul", "(2, 2, 3)"]),
    ("matmul scalar", lambda: cr.tensor(1.0) @ cr.ones(2), E.ShapeError, ["matmul"]),
    ("reshape wrong size", lambda: cr.ones(2, 3).reshape(4, 2), E.ShapeError,
     ["reshape", "6", "(4, 2)"]),
    ("permute wrong dims", lambda: cr.ones(2, 3).permute(0, 0), E.ShapeError, ["permute"]),
    ("cat mismatched", lambda: cr.cat([cr.ones(2, 3), cr.ones(2, 4)]), E.ShapeError,
     ["cat", "(2, 3)", "(2, 4)"]),
    ("stack mismatched", lambda: cr.stack([cr.ones(2), cr.ones(3)]), E.ShapeError,
     ["stack", "(2,)", "(3,)"]),
    ("index out of range", lambda: cr.ones(2, 3)[5], E.ShapeError, ["getitem", "(2, 3)"]),
    ("gather out of range", lambda: cr.ones(2, 3).gather(1, cr.tensor([[5], [0]])),
     E.ShapeError, ["gather", "size 3"]),
    ("gather float index", lambda: cr.ones(2, 3).gather(1, cr.tensor([[0.0], [1.0]])),
     E.DTypeError, ["gather", "index", "float"]),
    ("dim out of range", lambda: cr.ones(2, 3).sum(dim=5), E.ShapeError, ["sum", "dim", "5"]),
    ("broadcast_to impossible", lambda: cr.ones(3).expand(2, 4), E.ShapeError,
     ["broadcast_to", "(3,)"]),
    ("einsum wrong subscripts", lambda: cr.einsum("ij,jk->ik", cr.ones(2, 3), cr.ones(3)),
     E.ShapeError, ["einsum", "operand 1"]),
    ("pad reflect too large", lambda: cr.pad(cr.ones(2, 3), (3, 0), mode="reflect"),
     E.ShapeError, ["pad", "reflect"]),
    ("requires_grad on ints", lambda: cr.tensor([1, 2], requires_grad=True), E.DTypeError,
     ["requires_grad", "int64"]),
    ("ragged data", lambda: cr.tensor([[1, 2], [3]]), E.DTypeError, ["tensor"]),
    ("item of many", lambda: cr.ones(3).item(), E.ArgumentError, ["item", "(3,)"]),
    ("backward twice", _backward_twice, E.GraphError, ["retain_graph=True"]),
    ("backward non-scalar", lambda: (cr.ones(3, requires_grad=True) * 2).backward(),
     E.GraphError, ["gradient", "(3,)"]),
    ("backward without grad", lambda: cr.ones(3).sum().backward(), E.NotDifferentiableError,
     ["requires_grad=True"]),
    ("backward wrong gradient shape",
     lambda: (cr.ones(3, requires_grad=True) * 2).backward(cr.ones(2)), E.ShapeError,
     ["gradient", "(3,)", "(2,)"]),
    ("grad of non-scalar", lambda: cr.grad(lambda x: x * 2)(cr.ones(3)), E.GraphError,
     ["scalar", "(3,)"]),
    ("jvp tangent shape", lambda: cr.jvp(lambda x: x, (cr.ones(2),), (cr.ones(3),)),
     E.ArgumentError, ["jvp", "(3,)", "(2,)"]),
    ("numpy of grad tensor", lambda: cr.ones(2, requires_grad=True).numpy(), E.GraphError,
     ["detach"]),
    ("in-place on leaf", lambda: cr.ones(2, requires_grad=True).zero_(), E.GraphError,
     ["no_grad"]),
    ("negative size", lambda: cr.zeros(-1), E.ArgumentError, ["size", "-1"]),
    ("randint empty range", lambda: cr.randint(5, 5, (2,)), E.ArgumentError, ["randint"]),
    ("bad generator", lambda: cr.randn(2, generator=42), E.ArgumentError, ["generator"]),
    ("gelu approximate", lambda: cr.gelu(cr.ones(2), approximate="fast"), E.ArgumentError,
     ["gelu", "approximate", "fast"]),
    ("norm p", lambda: cr.ones(2).norm(p="nuc"), E.ArgumentError, ["norm", "p"]),
    ("masked_fill float mask", lambda: cr.ones(2).masked_fill(cr.ones(2), 0.0),
     E.DTypeError, ["masked_fill", "mask"]),
]


@pytest.mark.parametrize("what,fn,exc,words", CORE, ids=[c[0] for c in CORE])
def test_core_bad_input(what, fn, exc, words):
    with pytest.raises(exc) as info:
        fn()
    assert isinstance(info.value, E.ChainruleError)
    msg = str(info.value)
    for w in words:
        assert w in msg, f"{what}: {w!r} missing from message: {msg}"


def test_catalogue_is_large():
    assert len(CORE) >= 30
    assert np.all([issubclass(c[2], E.ChainruleError) for c in CORE])


# -- networks, losses, optimisers, data, files, configuration ------------------------------------
def _nn():
    return cr.nn


def _state_dict_missing():
    m = cr.nn.Linear(3, 2)
    m.load_state_dict({"weight": np.zeros((2, 3), np.float32)})


def _state_dict_unexpected():
    m = cr.nn.Linear(3, 2)
    sd = {k: v.numpy() for k, v in m.state_dict().items()}
    sd["extra"] = np.zeros(1)
    m.load_state_dict(sd)


def _state_dict_shape():
    m = cr.nn.Linear(3, 2)
    m.load_state_dict({"weight": np.zeros((3, 3), np.float32), "bias": np.zeros(2, np.float32)})


def _rnn_h0():
    rnn = cr.nn.RNN(4, 8, batch_first=True)
    rnn(cr.randn(2, 5, 4), cr.zeros(1, 3, 8))


def _mha_dim():
    m = cr.nn.MultiheadAttention(8, 2, batch_first=True)
    x = cr.randn(2, 3, 6)
    m(x, x, x)


def _loader(**kw):
    ds = cr.data.TensorDataset(cr.randn(4, 2), cr.tensor([0, 1, 0, 1]))
    return cr.data.DataLoader(ds, **kw)


NETWORK = [
    ("linear wrong features", lambda: cr.nn.Linear(4, 3)(cr.randn(2, 5)), E.ShapeError,
     ["Linear", "4", "(2, 5)"]),
    ("conv1d wrong channels", lambda: cr.nn.Conv1d(3, 4, 3)(cr.randn(2, 2, 10)), E.ShapeError,
     ["Conv1d", "(2, 2, 10)"]),
    ("conv2d wrong ndim", lambda: cr.nn.Conv2d(1, 4, 3)(cr.randn(1, 10)), E.ShapeError,
     ["Conv2d", "(1, 10)"]),
    ("maxpool too small", lambda: cr.nn.MaxPool2d(4)(cr.randn(1, 1, 2, 2)), E.ShapeError,
     ["(1, 1, 2, 2)"]),
    ("rnn wrong input size", lambda: cr.nn.RNN(4, 8)(cr.randn(5, 2, 3)), E.ShapeError,
     ["RNN", "4", "(5, 2, 3)"]),
    ("rnn wrong h0", _rnn_h0, E.ShapeError, ["RNN", "(1, 3, 8)"]),
    ("gru wrong input size", lambda: cr.nn.GRU(4, 8)(cr.randn(5, 2, 3)), E.ShapeError,
     ["GRU", "(5, 2, 3)"]),
    ("lstm wrong input size", lambda: cr.nn.LSTM(4, 8)(cr.randn(5, 2, 3)), E.ShapeError,
     ["LSTM", "(5, 2, 3)"]),
    ("attention embed dim", _mha_dim, E.ShapeError, ["MultiheadAttention", "8", "6"]),
    ("layernorm shape", lambda: cr.nn.LayerNorm(5)(cr.randn(2, 4)), E.ShapeError,
     ["LayerNorm", "(2, 4)"]),
    ("embedding float indices", lambda: cr.nn.Embedding(5, 3)(cr.randn(2)), E.DTypeError,
     ["mbedding"]),
    ("embedding index out of range", lambda: cr.nn.Embedding(5, 3)(cr.tensor([7])),
     E.ChainruleError, ["mbedding", "7"]),
    ("cross_entropy float labels",
     lambda: cr.nn.functional.cross_entropy(cr.randn(4, 3), cr.randn(4)), E.ChainruleError,
     ["cross_entropy"]),
    ("cross_entropy label out of range",
     lambda: cr.nn.functional.cross_entropy(cr.randn(4, 3), cr.tensor([0, 1, 2, 3])),
     E.ChainruleError, ["cross_entropy", "3"]),
    ("cross_entropy batch mismatch",
     lambda: cr.nn.functional.cross_entropy(cr.randn(4, 3), cr.tensor([0, 1])),
     E.ShapeError, ["cross_entropy", "(4, 3)"]),
    ("mse shape mismatch", lambda: cr.nn.MSELoss()(cr.randn(4, 3), cr.randn(4)),
     E.ShapeError, ["mse", "(4, 3)", "(4,)"]),
    ("bce shape mismatch", lambda: cr.nn.BCEWithLogitsLoss()(cr.randn(4), cr.rand(3)),
     E.ShapeError, ["binary_cross_entropy", "(4,)", "(3,)"]),
    ("nll wrong ndim", lambda: cr.nn.NLLLoss()(cr.randn(4), cr.tensor([0, 1, 0, 1])),
     E.ShapeError, ["nll"]),
    ("state_dict missing key", _state_dict_missing, E.ShapeError, ["missing", "bias"]),
    ("state_dict unexpected key", _state_dict_unexpected, E.ShapeError,
     ["unexpected", "extra"]),
    ("state_dict wrong shape", _state_dict_shape, E.ShapeError, ["weight", "(2, 3)", "(3, 3)"]),
    ("sgd negative lr", lambda: cr.optim.SGD(cr.nn.Linear(2, 2).parameters(), lr=-0.1),
     E.ArgumentError, ["SGD", "lr", "-0.1"]),
    ("adam nan lr", lambda: cr.optim.Adam(cr.nn.Linear(2, 2).parameters(), lr=float("nan")),
     E.ArgumentError, ["Adam", "lr", "nan"]),
    ("sgd bad momentum",
     lambda: cr.optim.SGD(cr.nn.Linear(2, 2).parameters(), lr=0.1, momentum=-1),
     E.ArgumentError, ["SGD", "momentum"]),
    ("adam bad betas",
     lambda: cr.optim.Adam(cr.nn.Linear(2, 2).parameters(), betas=(1.5, 0.9)),
     E.ArgumentError, ["Adam", "beta"]),
    ("batch size zero", lambda: _loader(batch_size=0), E.DataError, ["batch_size", "0"]),
    ("batch size negative", lambda: _loader(batch_size=-3), E.DataError, ["batch_size", "-3"]),
    ("empty data set",
     lambda: cr.data.DataLoader(cr.data.TensorDataset(cr.zeros(0, 2)), batch_size=2),
     E.DataError, ["empty"]),
    ("tensor dataset lengths",
     lambda: cr.data.TensorDataset(cr.randn(4, 2), cr.tensor([0, 1, 0])), E.DataError,
     ["TensorDataset", "4", "3"]),
    ("non-finite data",
     lambda: cr.data.TensorDataset(cr.tensor([[1.0, float("nan")]]), check_finite=True),
     E.DataError, ["NaN"]),
    ("missing data directory",
     lambda: cr.data.datasets.load_mnist_idx("/nonexistent/mnist"), E.DataError,
     ["/nonexistent/mnist"]),
    ("load missing file", lambda: cr.load("/nonexistent/model.safetensors"), E.CheckpointError,
     ["/nonexistent/model.safetensors"]),
    ("config unknown key", lambda: _config({"bogus": 1}), E.ConfigError, ["bogus"]),
    ("config wrong type", lambda: _config({"train": {"epochs": "ten"}}), E.ConfigError,
     ["train.epochs", "integer", "ten"]),
    ("config unknown model", lambda: _config({"model": {"name": "resnet"}}), E.ConfigError,
     ["model.name", "resnet"]),
    ("config unknown optimiser", lambda: _config({"optim": {"name": "lbfgs"}}), E.ConfigError,
     ["optim.name", "lbfgs"]),
    ("config negative lr", lambda: _config({"optim": {"lr": -1.0}}), E.ConfigError,
     ["optim.lr", "-1.0"]),
    ("unknown experiment", lambda: cr.experiments.run("no-such-study"), E.ConfigError,
     ["no-such-study"]),
]


def _config(cfg):
    from chainrule.config import validate_config

    return validate_config(cfg)


@pytest.mark.parametrize("what,fn,exc,words", NETWORK, ids=[c[0] for c in NETWORK])
def test_api_bad_input(what, fn, exc, words):
    with pytest.raises(exc) as info:
        fn()
    assert isinstance(info.value, E.ChainruleError)
    msg = str(info.value)
    for w in words:
        assert w.lower() in msg.lower(), f"{what}: {w!r} missing from message: {msg}"


def test_whole_catalogue_has_at_least_fifty_entries():
    assert len(CORE) + len(NETWORK) >= 50
