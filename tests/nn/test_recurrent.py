"""Recurrent layers without PyTorch: the recurrences against numpy references, gradient checks
through time, shapes, state_dict names, initialisation, dropout, dtypes and error messages."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import ArgumentError, DTypeError, ShapeError
from chainrule.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from chainrule.testing import check_grads


def _np(t):
    return t.detach().numpy()


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _with_params(module, names, values):
    """Point ``module``'s parameters at given tensors, so check_grads can vary them."""
    for n, v in zip(names, values):
        module._parameters[n] = v


# -- numpy references of the recurrences --------------------------------------------------------
def _elman_ref(x, h, w_ih, w_hh, b, act):
    outs = []
    for t in range(x.shape[0]):
        h = act(x[t] @ w_ih.T + h @ w_hh.T + b)
        outs.append(h)
    return np.stack(outs), h


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_is_the_elman_recurrence(nonlinearity):
    rng = np.random.default_rng(0)
    m = RNN(3, 4, nonlinearity=nonlinearity, dtype=cr.float64)
    x = rng.standard_normal((6, 2, 3))
    h0 = rng.standard_normal((1, 2, 4))
    out, h_n = m(cr.tensor(x), cr.tensor(h0))
    act = np.tanh if nonlinearity == "tanh" else (lambda a: np.maximum(a, 0))
    sd = {k: _np(v) for k, v in m.state_dict().items()}
    want, last = _elman_ref(x, h0[0], sd["weight_ih_l0"], sd["weight_hh_l0"],
                            sd["bias_ih_l0"] + sd["bias_hh_l0"], act)
    np.testing.assert_allclose(_np(out), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_np(h_n)[0], last, rtol=1e-12, atol=1e-12)


def test_bidirectional_reverse_direction_reads_time_backwards():
    rng = np.random.default_rng(1)
    m = RNN(3, 4, bidirectional=True, dtype=cr.float64)
    x = rng.standard_normal((5, 2, 3))
    out, h_n = m(cr.tensor(x))
    sd = {k: _np(v) for k, v in m.state_dict().items()}
    back, last = _elman_ref(x[::-1], np.zeros((2, 4)), sd["weight_ih_l0_reverse"],
                            sd["weight_hh_l0_reverse"],
                            sd["bias_ih_l0_reverse"] + sd["bias_hh_l0_reverse"], np.tanh)
    np.testing.assert_allclose(_np(out)[:, :, 4:], back[::-1], atol=1e-12)
    np.testing.assert_allclose(_np(h_n)[1], last, atol=1e-12)
    np.testing.assert_allclose(_np(h_n)[0], _np(out)[-1, :, :4], atol=1e-12)


def test_gru_and_lstm_cells_match_their_equations():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5))
    h = rng.standard_normal((3, 4))
    c = rng.standard_normal((3, 4))
    gru = GRUCell(5, 4, dtype=cr.float64)
    p = {k: _np(v) for k, v in gru.state_dict().items()}
    gi = x @ p["weight_ih"].T + p["bias_ih"]
    gh = h @ p["weight_hh"].T + p["bias_hh"]
    r = _sig(gi[:, :4] + gh[:, :4])
    z = _sig(gi[:, 4:8] + gh[:, 4:8])
    n = np.tanh(gi[:, 8:] + r * gh[:, 8:])
    np.testing.assert_allclose(_np(gru(cr.tensor(x), cr.tensor(h))), (1 - z) * n + z * h,
                               atol=1e-12)
    lstm = LSTMCell(5, 4, dtype=cr.float64)
    p = {k: _np(v) for k, v in lstm.state_dict().items()}
    a = x @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]
    i, f, g, o = _sig(a[:, :4]), _sig(a[:, 4:8]), np.tanh(a[:, 8:12]), _sig(a[:, 12:])
    c1 = f * c + i * g
    h1, c1_got = lstm(cr.tensor(x), (cr.tensor(h), cr.tensor(c)))
    np.testing.assert_allclose(_np(c1_got), c1, atol=1e-12)
    np.testing.assert_allclose(_np(h1), o * np.tanh(c1), atol=1e-12)


def test_layers_equal_their_cells_stepped_by_hand():
    rng = np.random.default_rng(3)
    x = cr.tensor(rng.standard_normal((4, 2, 3)))
    for layer_cls, cell_cls in ((RNN, RNNCell), (GRU, GRUCell), (LSTM, LSTMCell)):
        layer = layer_cls(3, 5, dtype=cr.float64)
        cell = cell_cls(3, 5, dtype=cr.float64)
        cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
        out, _ = layer(x)
        state = None
        for t in range(4):
            state = cell(x[t], state)
            h = state[0] if layer_cls is LSTM else state
            np.testing.assert_allclose(_np(out[t]), _np(h), atol=1e-12)


# -- gradients ---------------------------------------------------------------------------------
def test_check_grads_through_rnn_over_20_steps():
    rng = np.random.default_rng(4)
    m = RNN(2, 3, dtype=cr.float64)
    names = list(m._parameters)
    params = [cr.tensor(_np(p)) for p in m.parameters()]
    x = cr.tensor(rng.standard_normal((20, 2, 2)))
    h0 = cr.tensor(rng.standard_normal((1, 2, 3)) * 0.5)

    def f(x, h0, *ps):
        _with_params(m, names, ps)
        out, h_n = m(x, h0)
        return out.sum(0) * 0.5 + h_n[0]

    check_grads(f, [x, h0, *params], modes=("rev", "fwd"))


@pytest.mark.parametrize("cls", [RNN, GRU, LSTM])
def test_check_grads_two_layer_bidirectional(cls):
    rng = np.random.default_rng(5)
    m = cls(2, 3, num_layers=2, bidirectional=True, batch_first=True, dtype=cr.float64)
    names = list(m._parameters)
    params = [cr.tensor(_np(p)) for p in m.parameters()]
    x = cr.tensor(rng.standard_normal((2, 4, 2)))
    h0 = cr.tensor(rng.standard_normal((4, 2, 3)) * 0.5)

    def f(x, h0, *ps):
        _with_params(m, names, ps)
        hx = (h0, h0 * 0.5) if cls is LSTM else h0
        out, state = m(x, hx)
        h_n = state[0] if cls is LSTM else state
        return out.sum(1) + h_n.sum(0)[:, :1]

    check_grads(f, [x, h0, *params], modes=("rev", "fwd"))


def test_second_order_through_rnn():
    rng = np.random.default_rng(6)
    m = RNN(2, 3, dtype=cr.float64)
    x = cr.tensor(rng.standard_normal((5, 1, 2)))

    def f(x):
        return (m(x)[0] ** 2).sum()

    check_grads(f, [x], modes=("rev", "fwd"), order=2)


def test_cells_check_grads():
    rng = np.random.default_rng(7)
    x = cr.tensor(rng.standard_normal((2, 3)))
    h = cr.tensor(rng.standard_normal((2, 4)))
    for cell in (RNNCell(3, 4, dtype=cr.float64), GRUCell(3, 4, dtype=cr.float64)):
        check_grads(cell, [x, h])
    lstm = LSTMCell(3, 4, dtype=cr.float64)
    check_grads(lambda x, h, c: cr.cat(lstm(x, (h, c)), -1), [x, h, h * 0.3])


def test_parameters_receive_gradients():
    m = LSTM(3, 4, num_layers=2, bidirectional=True)
    out, (h, c) = m(cr.randn(5, 2, 3))
    (out.sum() + c.sum()).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert p.grad.dtype == np.float32


# -- shapes, layout, names ------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [RNN, GRU, LSTM])
def test_shapes_batch_first_and_unbatched(cls):
    m = cls(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    x = cr.randn(2, 5, 3)
    out, state = m(x)
    h = state[0] if cls is LSTM else state
    assert out.shape == (2, 5, 8) and h.shape == (4, 2, 4)
    # batch_first is a transpose of the time-major layout
    m.batch_first = False
    out_tm, _ = m(x.transpose(0, 1))
    np.testing.assert_allclose(_np(out_tm).transpose(1, 0, 2), _np(out), rtol=1e-6)
    # unbatched input gives unbatched results equal to a batch of one
    out_u, state_u = m(x[0])
    assert out_u.shape == (5, 8)
    h_u = state_u[0] if cls is LSTM else state_u
    assert h_u.shape == (4, 4)
    np.testing.assert_allclose(_np(out_u), _np(out)[0], rtol=1e-5, atol=1e-6)


def test_state_dict_keys_are_pytorchs():
    m = GRU(3, 4, num_layers=2, bidirectional=True)
    keys = list(m.state_dict())
    want = []
    for layer in range(2):
        for sfx in ("", "_reverse"):
            want += [f"{n}_l{layer}{sfx}" for n in ("weight_ih", "weight_hh", "bias_ih",
                                                   "bias_hh")]
    assert keys == want
    assert m.weight_ih_l0.shape == (12, 3) and m.weight_ih_l1.shape == (12, 8)
    assert list(RNN(3, 4, bias=False).state_dict()) == ["weight_ih_l0", "weight_hh_l0"]
    assert list(LSTMCell(3, 4).state_dict()) == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    assert LSTMCell(3, 4).weight_hh.shape == (16, 4)


def test_init_is_uniform_in_pytorchs_range_and_seeded():
    a = LSTM(3, 16, generator=cr.Generator().manual_seed(3))
    b = LSTM(3, 16, generator=cr.Generator().manual_seed(3))
    c = LSTM(3, 16, generator=cr.Generator().manual_seed(4))
    for (name, p), q, r in zip(a.named_parameters(), b.parameters(), c.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
        assert not np.array_equal(p.data, r.data)
        assert np.abs(p.data).max() <= 0.25 and np.abs(p.data).max() > 0.2, name
        assert p.dtype == np.float32


def test_dropout_between_layers_only_in_training():
    x = cr.randn(4, 3, 2)
    m = RNN(2, 8, num_layers=2, dropout=0.5, generator=cr.Generator().manual_seed(0))
    m.generator = cr.Generator().manual_seed(1)
    a = _np(m(x)[0])
    m.generator = cr.Generator().manual_seed(1)
    b = _np(m(x)[0])
    m.generator = cr.Generator().manual_seed(2)
    c = _np(m(x)[0])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    m.eval()
    e1, e2 = _np(m(x)[0]), _np(m(x)[0])
    np.testing.assert_array_equal(e1, e2)
    m.dropout = 0.0
    np.testing.assert_allclose(_np(m.train()(x)[0]), e1)


def test_float64_module_and_float32_stays_float32():
    m = GRU(3, 4)
    out, h = m(cr.randn(5, 2, 3))
    assert out.dtype == np.float32 and h.dtype == np.float32
    m.double()
    out, h = m(cr.randn(5, 2, 3, dtype=cr.float64))
    assert out.dtype == np.float64


# -- errors ---------------------------------------------------------------------------------------
def test_wrong_input_size_names_layer_and_shapes():
    m = RNN(3, 4)
    with pytest.raises(ShapeError, match=r"RNN.*input_size=3.*\(5, 2, 7\)"):
        m(cr.randn(5, 2, 7))
    with pytest.raises(ShapeError, match=r"LSTM.*input"):
        LSTM(3, 4)(cr.randn(5, 2, 3, 1))


def test_wrong_h0_shape():
    with pytest.raises(ShapeError, match=r"GRU.*'hx' expected shape \(2, 2, 4\).*\(1, 2, 4\)"):
        GRU(3, 4, bidirectional=True)(cr.randn(5, 2, 3), cr.zeros(1, 2, 4))
    with pytest.raises(ShapeError, match=r"LSTM.*'c_0' expected shape \(1, 2, 4\)"):
        LSTM(3, 4)(cr.randn(5, 2, 3), (cr.zeros(1, 2, 4), cr.zeros(1, 3, 4)))
    with pytest.raises(ArgumentError, match="LSTM.*tuple"):
        LSTM(3, 4)(cr.randn(5, 2, 3), cr.zeros(1, 2, 4))
    with pytest.raises(ShapeError, match=r"RNNCell.*'hx' expected shape \(2, 4\)"):
        RNNCell(3, 4)(cr.randn(2, 3), cr.zeros(3, 4))
    with pytest.raises(ShapeError, match=r"GRUCell.*'input' expected shape \(N, 3\)"):
        GRUCell(3, 4)(cr.randn(2, 5))


def test_bad_arguments_and_dtypes():
    with pytest.raises(ArgumentError, match="nonlinearity"):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ArgumentError, match="hidden_size"):
        GRU(3, 0)
    with pytest.raises(ArgumentError, match="dropout"):
        LSTM(3, 4, dropout=1.5)
    with pytest.raises(DTypeError, match="RNN.*float64.*float32"):
        RNN(3, 4)(cr.randn(5, 2, 3, dtype=cr.float64))


def test_repr():
    assert repr(RNN(3, 4, num_layers=2, nonlinearity="relu")).startswith(
        "RNN(3, 4, num_layers=2, nonlinearity='relu'")
