"""Recurrent layers: RNN (the Elman recurrence), GRU and LSTM, and their single-step cells.

Every layer follows PyTorch exactly: constructor keywords, gate order and equations, parameter
names (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ``..._reverse``),
shapes of inputs, initial states and outputs, so weights copied from PyTorch give the same
results.

How a layer runs one direction of one layer over a sequence of length T:

1. the input projection ``x @ W_ih.T + b`` for all T steps at once (one matmul on (T*B, in));
2. a loop over time for the recurrent part only;
3. all states returned together, shape (T, B, H).

Step 2 is a fused primitive (``rnn_scan``, ``gru_scan``, ``lstm_scan`` in
:mod:`chainrule.ops.recurrent`): one graph node for the whole sequence, with its own reverse and
forward rules. The single-step cells compose their step from core ops.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..core.dispatch import apply
from ..core.registry import REGISTRY
from ..errors import ArgumentError, DTypeError, ShapeError
from ..ops import cat, linear, sigmoid, stack, tanh
from ..ops import relu as _relu
from ..ops._util import as_tensor
from ..random import _gen
from ..tensor import Tensor
from . import functional as F
from .module import Module
from .parameter import Parameter

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}


# -- shared helpers ------------------------------------------------------------------------------
def _check_size(layer, name, value):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ArgumentError(f"{layer}: argument '{name}' expected a positive int, got {value!r}")
    return int(value)


def _uniform_params(module, shapes, hidden_size, generator, dtype):
    """Register parameters drawn from U(-1/sqrt(hidden), 1/sqrt(hidden)), PyTorch's default."""
    rng = _gen(generator)
    k = 1.0 / math.sqrt(hidden_size)
    for name, shape in shapes:
        setattr(module, name, Parameter(rng.uniform(-k, k, shape).astype(dtype)))


def _float_input(layer, name, x, dtype):
    x = as_tensor(x)
    if x.dtype != dtype:
        if x.dtype.kind != "f":
            raise DTypeError(f"{layer}: argument '{name}' expected a floating tensor of dtype "
                             f"{dtype} (the layer's), got {x.dtype}")
        raise DTypeError(f"{layer}: argument '{name}' has dtype {x.dtype} but the layer's "
                         f"parameters are {dtype}; convert one of them (e.g. "
                         f"module.to({x.dtype}) or input.astype({dtype}))")
    return x


def _zeros(shape, dtype):
    return Tensor._wrap(np.zeros(shape, dtype=dtype))


def _shape_str(shape):
    return "(" + ", ".join(str(s) for s in shape) + ")"


# -- one step of each recurrence (cells and the GRU/LSTM layers use them) --------------------------
def _gru_step(xt, h, w_hh, b_hh, hidden):
    """GRU step from the projected input ``xt = x @ W_ih.T + b_ih`` of shape (B, 3H).

    r = sigmoid(x_r + h W_hr + b_hr), z = sigmoid(x_z + h W_hz + b_hz),
    n = tanh(x_n + r * (h W_hn + b_hn)), h' = (1 - z) * n + z * h
    """
    hw = linear(h, w_hh, b_hh)
    rz = sigmoid(xt[..., :2 * hidden] + hw[..., :2 * hidden])
    r = rz[..., :hidden]
    z = rz[..., hidden:]
    n = tanh(xt[..., 2 * hidden:] + r * hw[..., 2 * hidden:])
    return n + z * (h - n)


def _lstm_step(xt, h, c, w_hh, hidden):
    """LSTM step from ``xt = x @ W_ih.T + b_ih + b_hh`` of shape (B, 4H); gates i, f, g, o.

    c' = f * c + i * g, h' = o * tanh(c')
    """
    gates = xt + linear(h, w_hh)
    s = sigmoid(gates)
    i = s[..., :hidden]
    f = s[..., hidden:2 * hidden]
    o = s[..., 3 * hidden:]
    g = tanh(gates[..., 2 * hidden:3 * hidden])
    c = f * c + i * g
    return o * tanh(c), c


# -- the multi-layer, optionally bidirectional layers ---------------------------------------------
class RNNBase(Module):
    """Shared machinery of :class:`RNN`, :class:`GRU` and :class:`LSTM`."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, *, generator=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        self.mode = mode
        self.input_size = _check_size(name, "input_size", input_size)
        self.hidden_size = _check_size(name, "hidden_size", hidden_size)
        self.num_layers = _check_size(name, "num_layers", num_layers)
        if not 0.0 <= float(dropout) <= 1.0:
            raise ArgumentError(f"{name}: argument 'dropout' expected a probability in [0, 1], "
                                f"got {dropout}")
        if proj_size:
            raise ArgumentError(f"{name}: proj_size={proj_size} is not supported; use "
                                "proj_size=0 and an nn.Linear on the outputs")
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = 0
        self.generator = generator
        dt = backend.as_dtype(dtype) or backend.get_default_dtype()
        gates = _GATES[mode] * self.hidden_size
        dirs = 2 if self.bidirectional else 1
        shapes = []
        for layer in range(self.num_layers):
            layer_in = self.input_size if layer == 0 else self.hidden_size * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes += [(f"weight_ih{sfx}", (gates, layer_in)),
                           (f"weight_hh{sfx}", (gates, self.hidden_size))]
                if self.bias:
                    shapes += [(f"bias_ih{sfx}", (gates,)), (f"bias_hh{sfx}", (gates,))]
        _uniform_params(self, shapes, self.hidden_size, generator, dt)

    @property
    def _param_dtype(self):
        return self.weight_ih_l0.dtype

    def flatten_parameters(self):
        """Kept for compatibility with PyTorch code; parameters are always usable as they are."""

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s

    # -- argument checks ------------------------------------------------------------------------
    def _check_input(self, x):
        name = type(self).__name__
        x = _float_input(name, "input", x, self._param_dtype)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            layout = "(N, L, H_in)" if self.batch_first else "(L, N, H_in)"
            raise ShapeError(f"{name}: argument 'input' expected shape {layout} or (L, H_in) "
                             f"unbatched, with H_in=input_size={self.input_size}, got "
                             f"{_shape_str(x.shape)}")
        return x

    def _check_state(self, state, arg, batched, batch):
        name = type(self).__name__
        state = _float_input(name, arg, state, self._param_dtype)
        lead = self.num_layers * (2 if self.bidirectional else 1)
        want = (lead, batch, self.hidden_size) if batched else (lead, self.hidden_size)
        if state.shape != want:
            what = "(num_layers * num_directions, N, H_out)" if batched else \
                "(num_layers * num_directions, H_out) for unbatched input"
            raise ShapeError(f"{name}: argument '{arg}' expected shape {_shape_str(want)} "
                             f"{what}, got {_shape_str(state.shape)}")
        return state

    # -- the pass ---------------------------------------------------------------------------------
    def forward(self, input, hx=None):  # noqa: A002
        x = self._check_input(input)
        batched = x.ndim == 3
        if not batched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        steps, batch = x.shape[0], x.shape[1]
        if steps == 0:
            raise ShapeError(f"{type(self).__name__}: argument 'input' has 0 time steps")
        lead = self.num_layers * (2 if self.bidirectional else 1)
        zero = (lead, batch, self.hidden_size)
        lstm = self.mode == "LSTM"
        if lstm:
            if hx is None:
                h0 = c0 = None
            else:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise ArgumentError("LSTM: argument 'hx' expected a tuple (h_0, c_0), got "
                                        f"{type(hx).__name__}")
                h0 = self._check_state(hx[0], "h_0", batched, batch)
                c0 = self._check_state(hx[1], "c_0", batched, batch)
                if not batched:
                    h0, c0 = h0.unsqueeze(1), c0.unsqueeze(1)
        else:
            h0 = None if hx is None else self._check_state(hx, "hx", batched, batch)
            if h0 is not None and not batched:
                h0 = h0.unsqueeze(1)
        dt = self._param_dtype
        dirs = 2 if self.bidirectional else 1
        h_n, c_n = [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                h_init = _zeros(zero[1:], dt) if h0 is None else h0[k]
                w_ih = getattr(self, "weight_ih" + sfx)
                w_hh = getattr(self, "weight_hh" + sfx)
                b_ih = getattr(self, "bias_ih" + sfx) if self.bias else None
                b_hh = getattr(self, "bias_hh" + sfx) if self.bias else None
                if lstm:
                    c_init = _zeros(zero[1:], dt) if c0 is None else c0[k]
                    out, (hl, cl) = self._lstm_dir(layer_in, h_init, c_init, w_ih, w_hh, b_ih,
                                                   b_hh, bool(d))
                    c_n.append(cl)
                elif self.mode == "GRU":
                    out, hl = self._gru_dir(layer_in, h_init, w_ih, w_hh, b_ih, b_hh, bool(d))
                else:
                    out, hl = self._rnn_dir(layer_in, h_init, w_ih, w_hh, b_ih, b_hh, bool(d))
                outs.append(out)
                h_n.append(hl)
            layer_in = outs[0] if dirs == 1 else cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True, generator=self.generator)
        out = layer_in
        h_n = stack(h_n, 0)
        if lstm:
            c_n = stack(c_n, 0)
        if not batched:
            out = out.squeeze(1)
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if lstm else c_n
        elif self.batch_first:
            out = out.transpose(0, 1)
        return (out, (h_n, c_n)) if lstm else (out, h_n)

    def _rnn_dir(self, x, h0, w_ih, w_hh, b_ih, b_hh, reverse):
        b = None if b_ih is None else b_ih + b_hh
        xw = linear(x, w_ih, b)
        states = apply(REGISTRY["rnn_scan"], xw, h0, w_hh,
                       nonlinearity="relu" if self.mode == "RNN_RELU" else "tanh",
                       reverse=reverse)
        return states, states[0 if reverse else states.shape[0] - 1]

    def _gru_dir(self, x, h0, w_ih, w_hh, b_ih, b_hh, reverse):
        xw = linear(x, w_ih, b_ih)
        args = (xw, h0, w_hh) if b_hh is None else (xw, h0, w_hh, b_hh)
        states = apply(REGISTRY["gru_scan"], *args, reverse=reverse)
        return states, states[0 if reverse else states.shape[0] - 1]

    def _lstm_dir(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse):
        xw = linear(x, w_ih, None if b_ih is None else b_ih + b_hh)
        hc = apply(REGISTRY["lstm_scan"], xw, h0, c0, w_hh, reverse=reverse)
        last = 0 if reverse else hc.shape[1] - 1
        return hc[0], (hc[0, last], hc[1, last])


class RNN(RNNBase):
    r"""Elman recurrent layer: :math:`s_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} s_{t-1} + b_{hh})`.

    Parameters
    ----------
    input_size, hidden_size : int
    num_layers : int
        Stacked layers; layer k > 0 reads the states of layer k - 1.
    nonlinearity : {'tanh', 'relu'}
    bias : bool
    batch_first : bool
        Input and output are (N, L, H) instead of (L, N, H).
    dropout : float
        Dropout on the outputs of every layer but the last, in training mode.
    bidirectional : bool
    generator : chainrule.Generator, optional
        Source of the initial weights (U(-1/sqrt(H), 1/sqrt(H))) and of the dropout masks.
    dtype : dtype, optional

    ``forward(input, hx=None)`` returns ``(output, h_n)``: ``output`` holds the last layer's state
    at every step, (L, N, D*H), and ``h_n`` every layer's last state, (num_layers*D, N, H).
    Unbatched input (L, H_in) gives unbatched results.

    Examples
    --------
    >>> import chainrule as cr
    >>> rnn = cr.nn.RNN(4, 8, num_layers=2, batch_first=True)
    >>> out, h_n = rnn(cr.randn(3, 5, 4))
    >>> out.shape, h_n.shape
    ((3, 5, 8), (2, 3, 8))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, *, generator=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ArgumentError(f"RNN: argument 'nonlinearity' expected 'tanh' or 'relu', got "
                                f"{nonlinearity!r}")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         generator=generator, dtype=dtype)
        self.nonlinearity = nonlinearity


class GRU(RNNBase):
    r"""Gated recurrent unit layer, PyTorch's equations and gate order (r, z, n).

    .. math::
        r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}),\quad
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}),\\
        n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})),\quad
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    Arguments and results as :class:`RNN` (no ``nonlinearity``).

    Examples
    --------
    >>> import chainrule as cr
    >>> gru = cr.nn.GRU(4, 8, bidirectional=True)
    >>> out, h_n = gru(cr.randn(5, 3, 4))
    >>> out.shape, h_n.shape
    ((5, 3, 16), (2, 3, 8))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, generator=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, generator=generator, dtype=dtype)


class LSTM(RNNBase):
    r"""Long short-term memory layer, PyTorch's equations and gate order (i, f, g, o).

    .. math::
        c_t = f_t \odot c_{t-1} + i_t \odot g_t,\quad h_t = o_t \odot \tanh(c_t)

    ``forward(input, hx=None)`` takes ``hx = (h_0, c_0)`` and returns
    ``(output, (h_n, c_n))``; other arguments as :class:`RNN`.

    Examples
    --------
    >>> import chainrule as cr
    >>> lstm = cr.nn.LSTM(4, 8, num_layers=2)
    >>> out, (h_n, c_n) = lstm(cr.randn(5, 3, 4))
    >>> out.shape, h_n.shape, c_n.shape
    ((5, 3, 8), (2, 3, 8), (2, 3, 8))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, *, generator=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, generator=generator, dtype=dtype)


# -- single-step cells --------------------------------------------------------------------------
class RNNCellBase(Module):
    """Shared machinery of the cells: parameters ``weight_ih``, ``weight_hh``, ``bias_*``."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, generator=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        self.input_size = _check_size(name, "input_size", input_size)
        self.hidden_size = _check_size(name, "hidden_size", hidden_size)
        self.bias = bool(bias)
        dt = backend.as_dtype(dtype) or backend.get_default_dtype()
        g = num_chunks * self.hidden_size
        shapes = [("weight_ih", (g, self.input_size)), ("weight_hh", (g, self.hidden_size))]
        if self.bias:
            shapes += [("bias_ih", (g,)), ("bias_hh", (g,))]
        _uniform_params(self, shapes, self.hidden_size, generator, dt)
        if not self.bias:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s

    def _check(self, x, state, arg):
        name = type(self).__name__
        dt = self.weight_ih.dtype
        x = _float_input(name, "input", x, dt)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ShapeError(f"{name}: argument 'input' expected shape (N, {self.input_size}) "
                             f"or ({self.input_size},) unbatched, got {_shape_str(x.shape)}")
        batched = x.ndim == 2
        want = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        if state is None:
            return x, None, batched
        state = _float_input(name, arg, state, dt)
        if state.shape != want:
            raise ShapeError(f"{name}: argument '{arg}' expected shape {_shape_str(want)}, got "
                             f"{_shape_str(state.shape)}")
        return x, state, batched


class RNNCell(RNNCellBase):
    r"""One Elman step: :math:`h' = \tanh(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})`.

    ``forward(input, hx=None)``: input (N, H_in) or (H_in,), hx of (N, H) or (H,), zeros if
    omitted; returns h'.

    Examples
    --------
    >>> import chainrule as cr
    >>> cell = cr.nn.RNNCell(4, 8)
    >>> cell(cr.randn(3, 4)).shape
    (3, 8)
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", *, generator=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ArgumentError(f"RNNCell: argument 'nonlinearity' expected 'tanh' or 'relu', "
                                f"got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, 1, generator, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):  # noqa: A002
        x, h, _ = self._check(input, hx, "hx")
        a = linear(x, self.weight_ih, self.bias_ih)
        if h is not None:
            a = a + linear(h, self.weight_hh, self.bias_hh)
        elif self.bias:
            a = a + self.bias_hh
        return tanh(a) if self.nonlinearity == "tanh" else _relu(a)


class GRUCell(RNNCellBase):
    """One GRU step, PyTorch's equations (see :class:`GRU`).

    Examples
    --------
    >>> import chainrule as cr
    >>> cell = cr.nn.GRUCell(4, 8)
    >>> cell(cr.randn(3, 4)).shape
    (3, 8)
    """

    def __init__(self, input_size, hidden_size, bias=True, *, generator=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, generator, dtype)

    def forward(self, input, hx=None):  # noqa: A002
        x, h, batched = self._check(input, hx, "hx")
        if h is None:
            h = _zeros(x.shape[:-1] + (self.hidden_size,), x.dtype)
        xt = linear(x, self.weight_ih, self.bias_ih)
        return _gru_step(xt, h, self.weight_hh, self.bias_hh, self.hidden_size)


class LSTMCell(RNNCellBase):
    """One LSTM step, PyTorch's equations (see :class:`LSTM`); returns ``(h', c')``.

    Examples
    --------
    >>> import chainrule as cr
    >>> cell = cr.nn.LSTMCell(4, 8)
    >>> h, c = cell(cr.randn(3, 4))
    >>> h.shape, c.shape
    ((3, 8), (3, 8))
    """

    def __init__(self, input_size, hidden_size, bias=True, *, generator=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, generator, dtype)

    def forward(self, input, hx=None):  # noqa: A002
        name = type(self).__name__
        if hx is None:
            h = c = None
        elif not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise ArgumentError(f"{name}: argument 'hx' expected a tuple (h_0, c_0), got "
                                f"{type(hx).__name__}")
        else:
            h, c = hx
        x, h, _ = self._check(input, h, "h_0")
        _, c, _ = self._check(input, c, "c_0")
        zero_shape = x.shape[:-1] + (self.hidden_size,)
        if h is None:
            h = _zeros(zero_shape, x.dtype)
        if c is None:
            c = _zeros(zero_shape, x.dtype)
        b = None if not self.bias else self.bias_ih + self.bias_hh
        xt = linear(x, self.weight_ih, b)
        return _lstm_step(xt, h, c, self.weight_hh, self.hidden_size)
