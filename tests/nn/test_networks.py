"""Whole networks: a gradient check through a small CNN, and the notes' parameter counts."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import check_grads

nn = cr.nn


def _set_params(module, values):
    """Point every parameter of ``module`` at the given tensors (named_parameters order)."""
    for (name, _), v in zip(list(module.named_parameters()), values):
        *path, leaf = name.split(".")
        owner = module
        for p in path:
            owner = getattr(owner, p)
        owner._parameters[leaf] = v


def test_check_grads_through_a_small_cnn():
    # conv -> tanh -> max pool -> conv (stride 2, padding) -> avg pool -> flatten -> linear,
    # then cross-entropy: both modes against finite differences, inputs and every parameter
    rng = np.random.default_rng(3)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, dtype=cr.float64), nn.Tanh(),
                        nn.MaxPool2d(2),
                        nn.Conv2d(3, 4, 3, stride=2, padding=1, dtype=cr.float64), nn.Tanh(),
                        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4, 3, dtype=cr.float64))
    params = [cr.tensor(p.detach().numpy() + 0.1 * rng.standard_normal(p.shape))
              for p in net.parameters()]
    x = cr.tensor(rng.standard_normal((2, 2, 8, 8)))
    y = cr.tensor(np.array([0, 2]))

    def loss(x, *ps):
        _set_params(net, ps)
        return nn.functional.cross_entropy(net(x), y)

    check_grads(loss, [x, *params], modes=("rev", "fwd"))
    assert len(params) == 6


@pytest.mark.parametrize("hidden, bias, expected", [
    # one hidden layer of 100 units: 784*100 + 100*10 weights (+ 100 + 10 biases)
    ([100], True, 79_510),
    ([100], False, 79_400),
    # two hidden layers of 100: 784*100 + 100*100 + 100*10 (+ 100 + 100 + 10)
    ([100, 100], True, 89_610),
    ([100, 100], False, 89_400),
    # the same budget spent on one layer of 113 units, or on two of 50 and 300
    ([113], True, 89_845),
    ([50, 300], True, 57_560),
])
def test_parameter_counts_of_784_input_10_class_networks(hidden, bias, expected):
    sizes = [784, *hidden, 10]
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b, bias=bias), nn.ReLU()]
    net = nn.Sequential(*layers[:-1])
    assert net.num_parameters() == expected
    assert nn.count_parameters(net) == expected
    assert repr(net).startswith(f"Sequential(  # {expected:,} params\n")


def test_2d_convolution_layers_are_not_their_1d_siblings():
    """As in PyTorch, `isinstance(m, nn.Conv1d)` picks out 1-D convolutions only."""
    pairs = [(nn.Conv1d, nn.Conv2d(1, 2, 3)), (nn.ConvTranspose1d, nn.ConvTranspose2d(1, 2, 3)),
             (nn.Conv2d, nn.Conv1d(1, 2, 3)), (nn.ConvTranspose2d, nn.ConvTranspose1d(1, 2, 3))]
    for cls, m in pairs:
        assert not isinstance(m, cls), (cls, m)
    assert nn.Conv2d(1, 2, 3)(cr.ones(1, 1, 5, 5)).shape == (1, 2, 3, 3)
    assert nn.ConvTranspose2d(1, 2, 3)(cr.ones(1, 1, 5, 5)).shape == (1, 2, 7, 7)
    assert nn.ConvTranspose1d(1, 2, 3)(cr.ones(1, 1, 5)).shape == (1, 2, 7)


def test_linear_weight_is_fortran_ordered_through_training_and_loading():
    """x @ weight.T runs as a plain product on a Fortran-ordered weight; its gradient, a
    loaded state dict and a training step keep that layout, and the numbers are x @ W.T + b."""
    gen = cr.Generator().manual_seed(0)
    lin = nn.Linear(6, 4, generator=gen)
    w = lin.weight.data
    assert lin.weight.shape == (4, 6) and w.flags.f_contiguous and not w.flags.c_contiguous
    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    y = lin(cr.from_numpy(x))
    np.testing.assert_allclose(y.detach().numpy(), x @ w.T + lin.bias.data, rtol=1e-6)
    y.sum().backward()
    g = lin.weight.grad.data
    assert g.flags.f_contiguous
    np.testing.assert_allclose(g, np.ones((5, 4), np.float32).T @ x, rtol=1e-6)
    opt = cr.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
    opt.step()
    assert lin.weight.data.flags.f_contiguous
    other = nn.Linear(6, 4)
    other.load_state_dict({k: np.ascontiguousarray(v.numpy())
                           for k, v in lin.state_dict().items()})
    assert other.weight.data.flags.f_contiguous
    np.testing.assert_array_equal(other.weight.data, lin.weight.data)


def test_rewritten_linear_weights_keep_their_layout():
    """Writing a Linear's parameters from a vector, or an optimiser replacing a read-only
    weight by a writable copy, keeps the weight Fortran-ordered (and the values right)."""
    from chainrule.nn.utils import parameters_to_vector, vector_to_parameters

    lin = nn.Linear(5, 3, generator=cr.Generator().manual_seed(1))
    v = parameters_to_vector(lin.parameters()).numpy()
    vector_to_parameters(cr.tensor(2 * v), lin.parameters())
    assert lin.weight.data.flags.f_contiguous and not lin.weight.data.flags.c_contiguous
    np.testing.assert_array_equal(parameters_to_vector(lin.parameters()).numpy(), 2 * v)
    w = lin.weight.data
    w.flags.writeable = False
    lin.weight.grad = cr.tensor(np.ones((3, 5), np.float32))
    cr.optim.SGD([lin.weight], lr=0.5).step()
    assert lin.weight.data.flags.f_contiguous and lin.weight.data.flags.writeable
    np.testing.assert_array_equal(lin.weight.data, w - 0.5)
