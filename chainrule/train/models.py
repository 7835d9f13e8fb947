"""The named model zoo: ``logistic``, ``mlp``, ``cnn``, ``rnn``, ``gru``, ``lstm``,
``transformer``.

:func:`build_model` makes a classifier from a name, the shape of one input example and the
number of classes; everything else is an option with a default. Inputs are either real-valued
(a vector such as an MNIST-1D signal of 40 points, or an image) or token ids (``vocab_size``
given), which the sequence models embed first.

:data:`MNIST1D_PAPER` holds the options of the MNIST-1D paper's models (Greydanus, 2020) on
40-point signals; they are the defaults of ``logistic``, ``mlp`` and ``gru``, and of ``cnn`` but
for its width (64 channels by default, which trains to about 94% instead of 92% in seconds):

* logistic: 40 -> 10;
* mlp: 40 -> 100, a residual block ``h + relu(W h + b)`` of width 100, -> 10 (ReLU);
* cnn: three ``Conv1d`` layers of 25 channels, kernels 5/3/3, stride 2, padding 1, ReLU, then a
  linear layer 125 -> 10;
* gru: a bidirectional GRU of hidden size 6 reading the signal one point per step, all 40 steps'
  outputs flattened (480) -> 10.

Example
-------
>>> model = build_model("mlp", input_shape=(40,), num_classes=10)  # doctest: +SKIP
>>> model.num_parameters()  # doctest: +SKIP
15210
"""

from __future__ import annotations

import difflib
import inspect
import math
from numbers import Integral, Real

from .. import ops
from ..errors import ConfigError
from ..nn.module import Module

__all__ = [
    "CNN",
    "MLP",
    "MNIST1D_PAPER",
    "MODELS",
    "Logistic",
    "RecurrentClassifier",
    "TransformerClassifier",
    "build_model",
    "check_model_options",
    "model_options",
]

_ACTIVATIONS = {
    "relu": ops.relu,
    "tanh": ops.tanh,
    "sigmoid": ops.sigmoid,
    "gelu": ops.gelu,
    "elu": ops.elu,
    "silu": ops.silu,
    "leaky_relu": ops.leaky_relu,
}


def _activation(name: str):
    try:
        return _ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"model: unknown activation {name!r}; choose from "
                          f"{', '.join(sorted(_ACTIVATIONS))}") from None


def _nn():
    from .. import nn

    return nn


def _flat_size(shape) -> int:
    return int(math.prod(shape)) if shape else 1


class Logistic(Module):
    """Multinomial logistic regression: one linear layer on the flattened input.

    Examples
    --------
    >>> Logistic(40, 10)  # doctest: +SKIP
    """

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.linear = _nn().Linear(in_features, num_classes)

    def forward(self, x):
        return self.linear(x.reshape(x.shape[0], -1))


class MLP(Module):
    """Multi-layer perceptron on the flattened input.

    Parameters
    ----------
    in_features, num_classes : int
    hidden : list of int
        Widths of the hidden layers. A layer whose input and output widths agree is a residual
        block ``h + act(W h + b)`` when ``residual`` is true.
    activation : str
        ``relu``, ``tanh``, ``sigmoid``, ``gelu``, ``elu``, ``silu`` or ``leaky_relu``.
    residual : bool
    dropout : float
        Dropout probability after each hidden layer (0 disables it).

    Examples
    --------
    >>> MLP(40, 10, hidden=(100, 100), residual=True)  # doctest: +SKIP
    """

    def __init__(self, in_features: int, num_classes: int, hidden=(100, 100),
                 activation: str = "relu", residual: bool = True, dropout: float = 0.0):
        super().__init__()
        nn = _nn()
        self.act = _activation(activation)
        self.residual = bool(residual)
        self._names = []
        width = in_features
        for i, h in enumerate(hidden):
            self.add_module(f"fc{i + 1}", nn.Linear(width, int(h)))
            self._names.append((f"fc{i + 1}", self.residual and width == int(h)))
            width = int(h)
        self.out = nn.Linear(width, num_classes)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None

    def forward(self, x):
        h = x.reshape(x.shape[0], -1)
        for name, res in self._names:
            z = self.act(getattr(self, name)(h))
            h = h + z if res else z
            if self.dropout is not None:
                h = self.dropout(h)
        return self.out(h)


def _conv_len(n: int, k: int, s: int, p: int) -> int:
    return (n + 2 * p - k) // s + 1


class CNN(Module):
    """A stack of convolutions (1-D for signals, 2-D for images), then a linear layer.

    Parameters
    ----------
    input_shape : tuple
        ``(length,)`` or ``(channels, length)`` for signals; ``(height, width)`` or
        ``(channels, height, width)`` for images.
    num_classes : int
    channels : list of int
        Output channels of each convolution.
    kernel_sizes : list of int
        One per convolution.
    stride, padding : int
    activation : str
    dropout : float
        Dropout before the final linear layer.

    Examples
    --------
    >>> CNN((40,), 10)  # the MNIST-1D paper's CNN  # doctest: +SKIP
    """

    def __init__(self, input_shape, num_classes: int, channels=(25, 25, 25),
                 kernel_sizes=(5, 3, 3), stride: int = 2, padding: int = 1,
                 activation: str = "relu", dropout: float = 0.0):
        super().__init__()
        nn = _nn()
        if len(channels) != len(kernel_sizes):
            raise ConfigError(f"model 'cnn': channels ({len(channels)} entries) and kernel_sizes "
                              f"({len(kernel_sizes)} entries) must have the same length")
        shape = tuple(int(s) for s in input_shape)
        two_d = len(shape) == 3 or (len(shape) == 2 and shape[0] > 4 and shape[1] > 4)
        if len(shape) == 1:
            shape = (1, shape[0])
        elif len(shape) == 2 and two_d:
            shape = (1, *shape)
        self._in_shape = shape
        self.act = _activation(activation)
        conv = nn.Conv2d if two_d else nn.Conv1d
        c, sizes = shape[0], list(shape[1:])
        self._n = len(channels)
        for i, (co, k) in enumerate(zip(channels, kernel_sizes)):
            self.add_module(f"conv{i + 1}", conv(c, int(co), int(k), stride=stride,
                                                 padding=padding))
            sizes = [_conv_len(n, int(k), stride, padding) for n in sizes]
            if min(sizes) < 1:
                raise ConfigError(f"model 'cnn': the input {input_shape} shrinks to nothing after "
                                  f"convolution {i + 1}; use fewer layers, smaller kernels or "
                                  "stride 1")
            c = int(co)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        self.linear = nn.Linear(c * _flat_size(sizes), num_classes)

    def forward(self, x):
        h = x.reshape(x.shape[0], *self._in_shape)
        for i in range(self._n):
            h = self.act(getattr(self, f"conv{i + 1}")(h))
        h = h.reshape(h.shape[0], -1)
        if self.dropout is not None:
            h = self.dropout(h)
        return self.linear(h)


class RecurrentClassifier(Module):
    """An RNN, GRU or LSTM over a sequence, then a linear read-out.

    Real-valued inputs of shape ``(N, T)`` are read one value per step (``(N, T, F)`` gives F
    features per step); token ids are embedded first when ``vocab_size`` is given.

    Parameters
    ----------
    cell : {"rnn", "gru", "lstm"}
    input_shape : tuple
        ``(T,)`` or ``(T, F)``.
    num_classes : int
    hidden_size, num_layers : int
    bidirectional : bool
    readout : {"flatten", "last", "mean"}
        ``flatten``: all steps' outputs concatenated (the MNIST-1D paper's GRU); ``last``: the
        final hidden state(s); ``mean``: outputs averaged over time.
    vocab_size : int, optional
        Inputs are token ids in ``[0, vocab_size)``.
    embedding_dim : int
    dropout : float
        Dropout before the read-out.

    Examples
    --------
    >>> RecurrentClassifier("gru", (40,), 10)  # the paper's GRU  # doctest: +SKIP
    """

    def __init__(self, cell: str, input_shape, num_classes: int, hidden_size: int = 6,
                 num_layers: int = 1, bidirectional: bool = True, readout: str = "flatten",
                 vocab_size: int | None = None, embedding_dim: int = 32, dropout: float = 0.0):
        super().__init__()
        nn = _nn()
        if readout not in ("flatten", "last", "mean"):
            raise ConfigError(f"model '{cell}': readout must be 'flatten', 'last' or 'mean', got "
                              f"{readout!r}")
        shape = tuple(int(s) for s in input_shape)
        self.seq_len = shape[0]
        self.vocab_size = vocab_size
        if vocab_size:
            self.embed = nn.Embedding(int(vocab_size), int(embedding_dim))
            features = int(embedding_dim)
        else:
            features = _flat_size(shape[1:])
        layer = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.cell = cell
        self.rnn = layer(features, int(hidden_size), num_layers=int(num_layers),
                         batch_first=True, bidirectional=bool(bidirectional))
        self.readout = readout
        self._dirs = 2 if bidirectional else 1
        width = int(hidden_size) * self._dirs
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        self.linear = nn.Linear(width * self.seq_len if readout == "flatten" else width,
                                num_classes)

    def forward(self, x):
        n = x.shape[0]
        h = self.embed(x) if self.vocab_size else x.reshape(n, self.seq_len, -1)
        out, state = self.rnn(h)
        if self.readout == "flatten":
            z = out.reshape(n, -1)
        elif self.readout == "mean":
            z = out.mean(dim=1)
        else:
            h_n = state[0] if isinstance(state, tuple) else state
            last = h_n[-self._dirs:]  # (dirs, N, H): the top layer's final states
            z = last.permute(1, 0, 2).reshape(n, -1)
        if self.dropout is not None:
            z = self.dropout(z)
        return self.linear(z)


class TransformerClassifier(Module):
    """A small pre-norm Transformer encoder over a sequence, mean-pooled, then linear.

    Real-valued inputs ``(N, T)`` or ``(N, T, F)`` are projected to ``d_model`` per step; token
    ids are embedded when ``vocab_size`` is given. A learned position embedding is added.

    Parameters
    ----------
    input_shape : tuple
        ``(T,)`` or ``(T, F)``.
    num_classes : int
    d_model, nhead, num_layers, dim_feedforward : int
    dropout : float
    vocab_size : int, optional

    Examples
    --------
    >>> TransformerClassifier((40,), 10)  # doctest: +SKIP
    """

    def __init__(self, input_shape, num_classes: int, d_model: int = 32, nhead: int = 4,
                 num_layers: int = 2, dim_feedforward: int = 64, dropout: float = 0.0,
                 vocab_size: int | None = None):
        super().__init__()
        nn = _nn()
        shape = tuple(int(s) for s in input_shape)
        self.seq_len = shape[0]
        self.vocab_size = vocab_size
        if vocab_size:
            self.embed = nn.Embedding(int(vocab_size), d_model)
        else:
            self.embed = nn.Linear(_flat_size(shape[1:]), d_model)
        self.pos = nn.Embedding(self.seq_len, d_model)
        self._n = int(num_layers)
        for i in range(self._n):
            self.add_module(f"block{i + 1}", nn.TransformerEncoderLayer(
                d_model, nhead, dim_feedforward=dim_feedforward, dropout=dropout,
                batch_first=True, norm_first=True))
        self.norm = nn.LayerNorm(d_model)
        self.linear = nn.Linear(d_model, num_classes)

    def forward(self, x):
        from ..creation import arange

        n = x.shape[0]
        h = self.embed(x) if self.vocab_size else self.embed(x.reshape(n, self.seq_len, -1))
        h = h + self.pos(arange(h.shape[1]))
        for i in range(self._n):
            h = getattr(self, f"block{i + 1}")(h)
        return self.linear(self.norm(h).mean(dim=1))


def _logistic(input_shape, num_classes, vocab_size=None):
    return Logistic(_flat_size(input_shape), num_classes)


def _mlp(input_shape, num_classes, vocab_size=None, hidden=(100, 100), activation="relu",
         residual=True, dropout=0.0):
    return MLP(_flat_size(input_shape), num_classes, hidden, activation, residual, dropout)


def _cnn(input_shape, num_classes, vocab_size=None, channels=(64, 64, 64),
         kernel_sizes=(5, 3, 3), stride=2, padding=1, activation="relu", dropout=0.0):
    return CNN(input_shape, num_classes, channels, kernel_sizes, stride, padding, activation,
               dropout)


def _recurrent(cell):
    def make(input_shape, num_classes, vocab_size=None, hidden_size=6, num_layers=1,
             bidirectional=True, readout="flatten", embedding_dim=32, dropout=0.0):
        return RecurrentClassifier(cell, input_shape, num_classes, hidden_size, num_layers,
                                   bidirectional, readout, vocab_size, embedding_dim, dropout)

    make.__name__ = f"_{cell}"
    return make


def _transformer(input_shape, num_classes, vocab_size=None, d_model=32, nhead=4, num_layers=2,
                 dim_feedforward=64, dropout=0.0):
    return TransformerClassifier(input_shape, num_classes, d_model, nhead, num_layers,
                                 dim_feedforward, dropout, vocab_size)


MODELS = {
    "logistic": _logistic,
    "mlp": _mlp,
    "cnn": _cnn,
    "rnn": _recurrent("rnn"),
    "gru": _recurrent("gru"),
    "lstm": _recurrent("lstm"),
    "transformer": _transformer,
}
"""Model builders by name; each takes ``(input_shape, num_classes, vocab_size, **options)``."""

MNIST1D_PAPER = {
    "logistic": {},
    "mlp": {"hidden": [100, 100], "residual": True},
    "cnn": {"channels": [25, 25, 25], "kernel_sizes": [5, 3, 3], "stride": 2, "padding": 1},
    "gru": {"hidden_size": 6, "bidirectional": True, "readout": "flatten"},
}
"""Options reproducing the models of the MNIST-1D paper (the defaults, but for cnn's width)."""

_DATA_ARGS = ("input_shape", "num_classes", "vocab_size")


def model_options(name: str) -> dict:
    """The options of model ``name`` with their defaults.

    Examples
    --------
    >>> model_options("cnn")["channels"]
    (64, 64, 64)
    """
    builder = _builder(name)
    return {p.name: p.default for p in inspect.signature(builder).parameters.values()
            if p.name not in _DATA_ARGS}


def _builder(name):
    if not isinstance(name, str) or name.lower() not in MODELS:
        close = difflib.get_close_matches(str(name).lower(), list(MODELS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown model {name!r}{hint}; choose from {', '.join(MODELS)}")
    return MODELS[name.lower()]


def _check_option(model: str, key: str, value, default):
    where = f"model '{model}': option '{key}'"
    if isinstance(default, bool):
        ok = isinstance(value, bool)
        want = "true or false"
    elif isinstance(default, int):
        ok = isinstance(value, Integral) and not isinstance(value, bool)
        want = "an integer"
    elif isinstance(default, float):
        ok = isinstance(value, Real) and not isinstance(value, bool)
        want = "a number"
    elif isinstance(default, str):
        ok = isinstance(value, str)
        want = "a string"
    elif isinstance(default, tuple):
        ok = isinstance(value, (list, tuple)) and all(
            isinstance(v, Integral) and not isinstance(v, bool) and v > 0 for v in value)
        want = "a list of positive integers"
    else:
        return value
    if not ok:
        raise ConfigError(f"{where} expected {want}, got {value!r}")
    if isinstance(default, (int, float)) and not isinstance(default, bool) and value < 0:
        raise ConfigError(f"{where} must be >= 0, got {value!r}")
    if key == "dropout" and not 0 <= value < 1:
        raise ConfigError(f"{where} must be in [0, 1), got {value!r}")
    return tuple(value) if isinstance(default, tuple) else value


def build_model(name: str, input_shape, num_classes: int, vocab_size: int | None = None,
                **options) -> Module:
    """Build model ``name`` for inputs of shape ``input_shape`` (one example) and
    ``num_classes`` classes.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.
    input_shape : tuple of int
        Shape of one example, e.g. ``(40,)`` for MNIST-1D, ``(28, 28)`` for MNIST images,
        ``(T,)`` for token-id sequences.
    num_classes : int
    vocab_size : int, optional
        Inputs are token ids; sequence models embed them, ``logistic``/``mlp`` read them as
        numbers (use a sequence model for text).
    **options
        Model options (see :func:`model_options`); unknown names and wrong types raise
        :class:`~chainrule.errors.ConfigError`.

    Examples
    --------
    >>> m = build_model("cnn", (40,), 10, channels=[32, 32, 32])  # doctest: +SKIP
    """
    builder = _builder(name)
    checked = check_model_options(name, options)
    if isinstance(num_classes, bool) or not isinstance(num_classes, Integral) or num_classes < 1:
        raise ConfigError(f"model '{name}': num_classes must be a positive integer, got "
                          f"{num_classes!r}")
    return builder(tuple(input_shape), int(num_classes), vocab_size, **checked)


def check_model_options(name: str, options: dict) -> dict:
    """Check ``options`` against model ``name``'s options: names, types, ranges.

    Returns the options with lists turned into tuples.

    Examples
    --------
    >>> check_model_options("mlp", {"hidden": [8, 8]})
    {'hidden': (8, 8)}
    >>> check_model_options("mlp", {"hiden": [8]})
    Traceback (most recent call last):
    ...
    chainrule.errors.ConfigError: model 'mlp': unknown option 'hiden' (did you mean 'hidden'?); \
options: hidden, activation, residual, dropout
    """
    _builder(name)
    name = name.lower()
    allowed = model_options(name)
    for key in options:
        if key not in allowed:
            close = difflib.get_close_matches(key, list(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"model '{name}': unknown option {key!r}{hint}; options: "
                              f"{', '.join(allowed) or 'none'}")
    checked = {k: _check_option(name, k, v, allowed[k]) for k, v in options.items()}
    if "activation" in checked:
        _activation(checked["activation"])
    return checked
