"""Every layer and loss against PyTorch: same weights, same inputs; forward values and the
gradients with respect to inputs and parameters, in float64 and float32."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional

TOL = {np.float64: dict(rtol=1e-9, atol=1e-10), np.float32: dict(rtol=2e-4, atol=2e-5)}
DTYPES = [np.float64, np.float32]
TDT = {np.float64: torch.float64, np.float32: torch.float32}


def _copy_weights(cm, tm, dtype):
    sd = {k: v.detach().numpy().astype(dtype) if v.dtype.is_floating_point else v.numpy()
          for k, v in tm.state_dict().items()}
    cm.load_state_dict(sd)


def _compare_module(cm, tm, inputs, dtype, int_inputs=(), tol=None):
    """Forward both, backward a random cotangent, compare outputs and every gradient."""
    tol = tol or TOL[dtype]
    tm = tm.to(TDT[dtype])
    cm = cm.to(dtype)
    _copy_weights(cm, tm, dtype)
    assert set(cm.state_dict()) == set(tm.state_dict())
    for k, v in tm.state_dict().items():
        assert tuple(cm.state_dict()[k].shape) == tuple(v.shape), k
    cx, tx = [], []
    for i, a in enumerate(inputs):
        if i in int_inputs:
            cx.append(cr.tensor(a))
            tx.append(torch.tensor(a))
        else:
            a = a.astype(dtype)
            cx.append(cr.tensor(a, requires_grad=True))
            tx.append(torch.tensor(a, requires_grad=True))
    cy = cm(*cx)
    ty = tm(*tx)
    if isinstance(ty, tuple):
        cy, ty = cy[0], ty[0]
    assert cy.dtype == dtype
    np.testing.assert_allclose(cy.detach().numpy(), ty.detach().numpy(), **tol)
    g = np.random.default_rng(1).standard_normal(ty.shape).astype(dtype)
    cy.backward(cr.tensor(g))
    ty.backward(torch.tensor(g))
    for i, (a, b) in enumerate(zip(cx, tx)):
        if i in int_inputs:
            continue
        assert a.grad.dtype == dtype
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol)
    tp = dict(tm.named_parameters())
    for name, p in cm.named_parameters():
        assert p.grad is not None, name
        assert p.grad.dtype == dtype, name
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), **tol,
                                   err_msg=name)
    return cm, tm


R = np.random.default_rng(0)


def _x(*shape):
    return R.standard_normal(shape)


LAYERS = [
    ("Linear", lambda: nn.Linear(5, 3), lambda: tnn.Linear(5, 3), [_x(4, 5)]),
    ("Linear-nobias-3d", lambda: nn.Linear(5, 3, bias=False),
     lambda: tnn.Linear(5, 3, bias=False), [_x(2, 4, 5)]),
    ("Bilinear", lambda: nn.Bilinear(3, 4, 2), lambda: tnn.Bilinear(3, 4, 2),
     [_x(5, 3), _x(5, 4)]),
    ("LayerNorm", lambda: nn.LayerNorm(6), lambda: tnn.LayerNorm(6), [_x(3, 6)]),
    ("LayerNorm-2d", lambda: nn.LayerNorm((3, 4)), lambda: tnn.LayerNorm((3, 4)),
     [_x(2, 3, 4)]),
    ("LayerNorm-noaffine", lambda: nn.LayerNorm(6, elementwise_affine=False),
     lambda: tnn.LayerNorm(6, elementwise_affine=False), [_x(3, 6)]),
    ("BatchNorm1d", lambda: nn.BatchNorm1d(4), lambda: tnn.BatchNorm1d(4), [_x(6, 4)]),
    ("BatchNorm1d-3d", lambda: nn.BatchNorm1d(4), lambda: tnn.BatchNorm1d(4), [_x(6, 4, 5)]),
    ("BatchNorm2d", lambda: nn.BatchNorm2d(3), lambda: tnn.BatchNorm2d(3), [_x(4, 3, 5, 5)]),
    ("GroupNorm", lambda: nn.GroupNorm(2, 4), lambda: tnn.GroupNorm(2, 4), [_x(3, 4, 5)]),
    ("GroupNorm-2d", lambda: nn.GroupNorm(3, 6), lambda: tnn.GroupNorm(3, 6),
     [_x(2, 6, 3, 3)]),
    ("Flatten", lambda: nn.Flatten(), lambda: tnn.Flatten(), [_x(2, 3, 4)]),
    ("Unflatten", lambda: nn.Unflatten(1, (3, 4)), lambda: tnn.Unflatten(1, (3, 4)),
     [_x(2, 12)]),
    ("Identity", lambda: nn.Identity(), lambda: tnn.Identity(), [_x(2, 3)]),
    ("Softmax", lambda: nn.Softmax(dim=1), lambda: tnn.Softmax(dim=1), [_x(3, 4, 2)]),
    ("LogSoftmax", lambda: nn.LogSoftmax(dim=-1), lambda: tnn.LogSoftmax(dim=-1), [_x(3, 4)]),
    ("Conv1d", lambda: nn.Conv1d(1, 4, 5, padding=2), lambda: tnn.Conv1d(1, 4, 5, padding=2),
     [_x(3, 1, 12)]),
    ("Conv1d-groups", lambda: nn.Conv1d(4, 6, 3, stride=2, dilation=2, groups=2),
     lambda: tnn.Conv1d(4, 6, 3, stride=2, dilation=2, groups=2), [_x(2, 4, 11)]),
    ("Conv1d-same-even", lambda: nn.Conv1d(2, 3, 4, padding="same", bias=False),
     lambda: tnn.Conv1d(2, 3, 4, padding="same", bias=False), [_x(2, 2, 9)]),
    ("Conv2d", lambda: nn.Conv2d(3, 4, 3, padding=1), lambda: tnn.Conv2d(3, 4, 3, padding=1),
     [_x(2, 3, 6, 5)]),
    ("Conv2d-strided", lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0),
                                         dilation=(1, 2), groups=2),
     lambda: tnn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2),
                        groups=2), [_x(2, 4, 7, 6)]),
    ("Conv2d-same-even", lambda: nn.Conv2d(2, 3, (2, 4), padding="same"),
     lambda: tnn.Conv2d(2, 3, (2, 4), padding="same"), [_x(2, 2, 5, 6)]),
    ("Conv2d-reflect", lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"),
     lambda: tnn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"), [_x(2, 2, 5, 6)]),
    ("Conv2d-replicate", lambda: nn.Conv2d(2, 3, 3, padding=2, padding_mode="replicate"),
     lambda: tnn.Conv2d(2, 3, 3, padding=2, padding_mode="replicate"), [_x(2, 2, 5, 6)]),
    ("Conv2d-unbatched", lambda: nn.Conv2d(2, 3, 3), lambda: tnn.Conv2d(2, 3, 3),
     [_x(2, 5, 6)]),
    ("ConvTranspose1d", lambda: nn.ConvTranspose1d(4, 2, 3, stride=2, padding=1,
                                                   output_padding=1),
     lambda: tnn.ConvTranspose1d(4, 2, 3, stride=2, padding=1, output_padding=1),
     [_x(2, 4, 6)]),
    ("ConvTranspose2d", lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2,
                                                   output_padding=1),
     lambda: tnn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2, output_padding=1),
     [_x(2, 4, 4, 5)]),
    ("ConvTranspose2d-dilated", lambda: nn.ConvTranspose2d(3, 2, (2, 3), dilation=2,
                                                           bias=False),
     lambda: tnn.ConvTranspose2d(3, 2, (2, 3), dilation=2, bias=False), [_x(2, 3, 4, 4)]),
    ("MaxPool1d", lambda: nn.MaxPool1d(3, 2, 1), lambda: tnn.MaxPool1d(3, 2, 1),
     [_x(2, 3, 10)]),
    ("MaxPool2d", lambda: nn.MaxPool2d(2), lambda: tnn.MaxPool2d(2), [_x(2, 3, 6, 7)]),
    ("MaxPool2d-overlap", lambda: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
     lambda: tnn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), [_x(2, 3, 6, 7)]),
    ("MaxPool2d-dilated", lambda: nn.MaxPool2d(2, stride=1, dilation=2),
     lambda: tnn.MaxPool2d(2, stride=1, dilation=2), [_x(1, 2, 6, 5)]),
    ("AvgPool1d", lambda: nn.AvgPool1d(3, 2, 1), lambda: tnn.AvgPool1d(3, 2, 1),
     [_x(2, 3, 10)]),
    ("AvgPool2d", lambda: nn.AvgPool2d(2), lambda: tnn.AvgPool2d(2), [_x(2, 3, 6, 7)]),
    ("AvgPool2d-pad", lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
     lambda: tnn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
     [_x(2, 3, 6, 7)]),
    ("AdaptiveAvgPool1d", lambda: nn.AdaptiveAvgPool1d(4), lambda: tnn.AdaptiveAvgPool1d(4),
     [_x(2, 3, 10)]),
    ("AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d((3, 2)),
     lambda: tnn.AdaptiveAvgPool2d((3, 2)), [_x(2, 3, 7, 6)]),
    ("AdaptiveAvgPool2d-global", lambda: nn.AdaptiveAvgPool2d(1),
     lambda: tnn.AdaptiveAvgPool2d(1), [_x(2, 3, 4, 6)]),
    ("Sequential", lambda: nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)),
     lambda: tnn.Sequential(tnn.Linear(4, 6), tnn.Tanh(), tnn.Linear(6, 2)), [_x(3, 4)]),
]

ACTIVATIONS = [
    ("ReLU", {}), ("ReLU6", {}), ("LeakyReLU", dict(negative_slope=0.2)), ("ELU", dict(alpha=0.5)),
    ("SELU", {}), ("CELU", dict(alpha=1.5)), ("GELU", {}), ("GELU", dict(approximate="tanh")),
    ("SiLU", {}), ("Mish", {}), ("Softplus", dict(beta=2.0)), ("Softsign", {}),
    ("Hardtanh", dict(min_val=-0.5, max_val=0.7)), ("Hardsigmoid", {}), ("Hardswish", {}),
    ("Sigmoid", {}), ("Tanh", {}), ("LogSigmoid", {}), ("Tanhshrink", {}), ("Softmin", dict(dim=1)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name,cf,tf,inputs", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_torch(name, cf, tf, inputs, dtype):
    cr.manual_seed(0)
    torch.manual_seed(0)
    cm, tm = _compare_module(cf(), tf(), inputs, dtype)
    for k, v in tm.state_dict().items():  # buffers (running statistics) too
        np.testing.assert_allclose(cm.state_dict()[k].numpy(), v.numpy(), **TOL[dtype],
                                   err_msg=k)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name,kw", ACTIVATIONS, ids=[f"{a}{i}" for i, (a, _) in
                                                      enumerate(ACTIVATIONS)])
def test_activation_matches_torch(name, kw, dtype):
    x = _x(4, 5) * 3
    x[np.abs(x) < 1e-3] = 0.5  # keep away from kinks
    # PyTorch's float64 hardsigmoid backward uses a float32 constant 1/6.
    tol = TOL[np.float32] if name == "Hardsigmoid" else None
    _compare_module(getattr(nn, name)(**kw), getattr(tnn, name)(**kw), [x], dtype, tol=tol)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("cls", ["BatchNorm1d", "BatchNorm2d"])
def test_batchnorm_running_stats_and_eval(cls, dtype):
    shape = (6, 3) if cls == "BatchNorm1d" else (4, 3, 2, 2)
    for momentum in (0.1, None):
        cm = getattr(nn, cls)(3, momentum=momentum).to(dtype)
        tm = getattr(tnn, cls)(3, momentum=momentum).to(TDT[dtype])
        for step in range(3):
            x = (_x(*shape) * (step + 1) + step).astype(dtype)
            cm(cr.tensor(x))
            tm(torch.tensor(x))
        for k, v in tm.state_dict().items():
            np.testing.assert_allclose(cm.state_dict()[k].numpy(), v.numpy(), **TOL[dtype],
                                       err_msg=k)
        cm.eval()
        tm.eval()
        _compare_module(cm, tm, [_x(*shape)], dtype)
