"""Loss modules against PyTorch (forward and input gradients, float64 and float32), the notes'
losses against their formulas, and bad labels."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule import errors as E
from chainrule.testing import check_grads

R = np.random.default_rng(0)
TOL = {np.float64: dict(rtol=1e-9, atol=1e-11), np.float32: dict(rtol=2e-4, atol=2e-6)}


def _labels(*shape, c=4):
    return R.integers(0, c, shape)


def _probs(*shape):
    p = R.uniform(size=shape)
    return p / p.sum(axis=1, keepdims=True)


W4 = np.array([1.0, 2.0, 0.5, 1.5])
T = _labels(6)
T_IGN = T.copy()
T_IGN[[1, 4]] = 2
LOSSES = [
    ("MSELoss", {}, (5, 3), R.standard_normal((5, 3))),
    ("MSELoss", dict(reduction="sum"), (5, 3), R.standard_normal((5, 3))),
    ("L1Loss", {}, (5, 3), R.standard_normal((5, 3))),
    ("L1Loss", dict(reduction="none"), (5, 3), R.standard_normal((5, 3))),
    ("SmoothL1Loss", dict(beta=0.5), (5, 3), R.standard_normal((5, 3))),
    ("SmoothL1Loss", dict(beta=0.0), (5, 3), R.standard_normal((5, 3))),
    ("HuberLoss", dict(delta=0.7), (5, 3), R.standard_normal((5, 3))),
    ("HuberLoss", dict(reduction="none"), (5, 3), R.standard_normal((5, 3))),
    ("CrossEntropyLoss", {}, (6, 4), T),
    ("CrossEntropyLoss", dict(reduction="sum", label_smoothing=0.1), (6, 4), T),
    ("CrossEntropyLoss", dict(weight=W4, ignore_index=2), (6, 4), T_IGN),
    ("CrossEntropyLoss", dict(weight=W4, ignore_index=2, label_smoothing=0.2), (6, 4), T_IGN),
    ("CrossEntropyLoss", dict(ignore_index=2, label_smoothing=0.2), (6, 4), T_IGN),
    ("CrossEntropyLoss", dict(reduction="none", weight=W4), (6, 4), T),
    ("CrossEntropyLoss", dict(), (2, 4, 3, 2), _labels(2, 3, 2)),
    ("CrossEntropyLoss", dict(reduction="none", ignore_index=0), (2, 4, 5), _labels(2, 5)),
    ("CrossEntropyLoss", dict(), (4,), np.array(2)),
    ("CrossEntropyLoss", dict(), (6, 4), _probs(6, 4)),
    ("CrossEntropyLoss", dict(weight=W4, label_smoothing=0.3), (6, 4), _probs(6, 4)),
    ("CrossEntropyLoss", dict(reduction="sum"), (2, 4, 3), _probs(2, 4, 3)),
    ("NLLLoss", {}, (6, 4), T),
    ("NLLLoss", dict(weight=W4, ignore_index=2), (6, 4), T_IGN),
    ("NLLLoss", dict(reduction="none"), (2, 4, 3), _labels(2, 3)),
    ("BCELoss", {}, (5, 3), R.uniform(size=(5, 3))),
    ("BCELoss", dict(weight=R.uniform(size=(3,)), reduction="sum"), (5, 3),
     (R.uniform(size=(5, 3)) > 0.5).astype(float)),
    ("BCEWithLogitsLoss", {}, (5, 3), R.uniform(size=(5, 3))),
    ("BCEWithLogitsLoss", dict(pos_weight=np.array([1.0, 3.0, 0.5]),
                               weight=R.uniform(size=(5, 1))), (5, 3),
     (R.uniform(size=(5, 3)) > 0.5).astype(float)),
    ("KLDivLoss", dict(reduction="batchmean"), (5, 3), _probs(5, 3)),
    ("KLDivLoss", dict(reduction="sum", log_target=True), (5, 3), np.log(_probs(5, 3))),
    ("KLDivLoss", dict(reduction="none"), (5, 3), np.where(np.eye(5, 3) > 0, 0.0,
                                                           _probs(5, 3))),
    ("HingeEmbeddingLoss", dict(margin=0.5), (5, 3), np.sign(R.standard_normal((5, 3)))),
]


def _input(name, shape):
    x = R.standard_normal(shape)
    if name == "BCELoss":
        return R.uniform(0.05, 0.95, shape)
    if name in ("NLLLoss", "KLDivLoss"):
        return np.log(_probs(*shape)) if len(shape) > 1 else x
    return x


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name,kw,shape,target", LOSSES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(LOSSES)])
def test_loss_matches_torch(name, kw, shape, target, dtype):
    torch = pytest.importorskip("torch")
    x = _input(name, shape).astype(dtype)
    tgt = target.astype(dtype) if target.dtype.kind == "f" else target
    ckw = {k: (v.astype(dtype) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    tkw = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in ckw.items()}
    cx = cr.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    cy = getattr(nn, name)(**ckw)(cx, cr.tensor(tgt))
    ty = getattr(torch.nn, name)(**tkw)(tx, torch.tensor(tgt))
    assert cy.dtype == dtype and cy.shape == tuple(ty.shape)
    np.testing.assert_allclose(cy.detach().numpy(), ty.detach().numpy(), **TOL[dtype])
    g = R.standard_normal(ty.shape).astype(dtype)
    cy.backward(cr.tensor(g))
    ty.backward(torch.tensor(g))
    assert cx.grad.dtype == dtype
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), **TOL[dtype])


def test_loss_state_dict_has_torch_buffers():
    torch = pytest.importorskip("torch")
    w = np.array([1.0, 2.0], dtype=np.float32)
    assert set(nn.CrossEntropyLoss(weight=w).state_dict()) == \
        set(torch.nn.CrossEntropyLoss(weight=torch.tensor(w)).state_dict()) == {"weight"}
    assert set(nn.BCEWithLogitsLoss(pos_weight=w).state_dict()) == \
        set(torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w)).state_dict())


def test_soft_target_gradient_wrt_target():
    x = cr.randn(3, 4, dtype=cr.float64)
    q = cr.tensor(_probs(3, 4))
    check_grads(lambda a, b: cr.nn.functional.cross_entropy(a, b, label_smoothing=0.1),
                [x, q], order=2)


def test_hinge_and_exponential_losses():
    yh = R.standard_normal(7)
    y = np.sign(R.standard_normal(7))
    x = cr.tensor(yh, requires_grad=True)
    h = nn.HingeLoss(margin=0.8)(x, cr.tensor(y))
    np.testing.assert_allclose(h.item(), np.maximum(0, 0.8 - y * yh).mean())
    h.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(0.8 - y * yh > 0, -y, 0) / 7)
    e = nn.ExponentialLoss(reduction="sum")(cr.tensor(yh), cr.tensor(y))
    np.testing.assert_allclose(e.item(), np.exp(-y * yh).sum())
    check_grads(lambda a: nn.ExponentialLoss()(a, cr.tensor(y)), [cr.tensor(yh)], order=2)
    none = nn.ExponentialLoss(reduction="none")(cr.tensor(yh), cr.tensor(y))
    assert none.shape == (7,)


@pytest.mark.parametrize("cls", [nn.HingeLoss, nn.ExponentialLoss])
def test_pm1_labels_checked(cls):
    with pytest.raises(E.ArgumentError, match=cls.__name__):
        cls()(cr.zeros(3), cr.tensor([0.0, 1.0, 1.0]))


def test_sequence_cross_entropy_skips_padding():
    b, t, v = 3, 5, 7
    logits = R.standard_normal((b, t, v))
    tgt = R.integers(1, v, (b, t))
    lengths = np.array([5, 2, 3])
    pad = np.arange(t)[None] >= lengths[:, None]
    padded = np.where(pad, 0, tgt)
    x = cr.tensor(logits, requires_grad=True)
    loss = nn.SequenceCrossEntropyLoss(ignore_index=0)(x, cr.tensor(padded))
    # reference: mean of -log softmax over the real tokens only
    lsm = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(lsm, tgt[..., None], -1)[..., 0]
    np.testing.assert_allclose(loss.item(), -picked[~pad].mean())
    loss.backward()
    assert np.all(x.grad.numpy()[pad] == 0)
    by_len = nn.SequenceCrossEntropyLoss()(cr.tensor(logits), cr.tensor(tgt),
                                           lengths=cr.tensor(lengths))
    np.testing.assert_allclose(by_len.item(), loss.item())
    per_tok = nn.SequenceCrossEntropyLoss(ignore_index=0, reduction="none")(
        cr.tensor(logits), cr.tensor(padded))
    assert per_tok.shape == (b, t)
    np.testing.assert_allclose(per_tok.numpy()[~pad], -picked[~pad])


def test_cross_entropy_float_labels_error_names_loss():
    with pytest.raises(E.DTypeError) as info:
        nn.CrossEntropyLoss()(cr.zeros(2, 3), cr.tensor([0.0, 1.0]))
    msg = str(info.value)
    assert "CrossEntropyLoss" in msg and "int" in msg and "float32" in msg
    with pytest.raises(E.DTypeError, match="cross_entropy"):
        cr.nn.functional.cross_entropy(cr.zeros(2, 3), cr.tensor([0.0, 1.0]))
    with pytest.raises(E.DTypeError, match="NLLLoss"):
        nn.NLLLoss()(cr.zeros(2, 3), cr.tensor([0.0, 1.0]))


@pytest.mark.parametrize("cls", [nn.CrossEntropyLoss, nn.NLLLoss])
def test_labels_out_of_range(cls):
    with pytest.raises(E.ArgumentError) as info:
        cls()(cr.zeros(2, 3), cr.tensor([0, 3]))
    msg = str(info.value)
    assert cls.__name__ in msg and "3" in msg and "out of range" in msg
    with pytest.raises(E.ArgumentError, match="-1"):
        cls()(cr.zeros(2, 3), cr.tensor([-1, 0]))
    # the ignore index is allowed anywhere
    assert np.isfinite(cls(ignore_index=-1)(cr.zeros(2, 3), cr.tensor([-1, 0])).item())


@settings(max_examples=120, deadline=None)
@given(st.integers(1, 6), st.integers(2, 5), st.data())
def test_class_index_losses_with_any_ignore_index_match_torch(n, c, data):
    """Cross-entropy and NLL with the ignore index inside, below or above the class range,
    hit by none, some or all targets, with and without weights and smoothing: PyTorch's loss
    and gradient, or the out-of-range error when a target is outside the classes and is not
    the ignore index."""
    torch = pytest.importorskip("torch")
    ignore = data.draw(st.sampled_from([-100, -1, 0, c - 1, c]), label="ignore_index")
    target = np.array(data.draw(st.lists(st.integers(-1, c), min_size=n, max_size=n)))
    name = data.draw(st.sampled_from(["CrossEntropyLoss", "NLLLoss"]))
    kw = dict(ignore_index=ignore, reduction=data.draw(st.sampled_from(["mean", "sum", "none"])))
    if data.draw(st.booleans(), label="weighted"):
        kw["weight"] = np.linspace(0.5, 2.0, c)
    if name == "CrossEntropyLoss" and data.draw(st.booleans(), label="smoothed"):
        kw["label_smoothing"] = 0.1
    x = np.random.default_rng(n * c).standard_normal((n, c))
    cx = cr.tensor(x, requires_grad=True)
    closs = getattr(nn, name)(**kw)
    if np.any((target != ignore) & ((target < 0) | (target >= c))):
        with pytest.raises(E.ArgumentError, match="out of range"):
            closs(cx, cr.tensor(target))
        return
    tkw = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    tx = torch.tensor(x, requires_grad=True)
    cy = closs(cx, cr.tensor(target))
    ty = getattr(torch.nn, name)(**tkw)(tx, torch.tensor(target))
    np.testing.assert_allclose(cy.detach().numpy(), ty.detach().numpy(), rtol=1e-9,
                               atol=1e-12, equal_nan=True)
    g = np.ones(ty.shape)
    cy.backward(cr.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12,
                               equal_nan=True)


def test_loss_shape_errors():
    with pytest.raises(E.ShapeError, match="CrossEntropyLoss"):
        nn.CrossEntropyLoss()(cr.zeros(2, 3), cr.tensor([0, 1, 2]))
    with pytest.raises(E.ShapeError, match="MSELoss"):
        nn.MSELoss()(cr.zeros(2, 3), cr.zeros(4))
    with pytest.raises(E.ArgumentError, match="reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(E.ArgumentError, match="BCELoss"):
        nn.BCELoss()(cr.tensor([1.5]), cr.tensor([1.0]))


@pytest.mark.parametrize("fn", [F.cross_entropy, F.nll_loss])
def test_empty_batch_sums_to_positive_zero_and_means_to_nan(fn):
    x, y = cr.zeros(0, 3, requires_grad=True), cr.tensor(np.zeros(0, np.int64))
    total = fn(x, y, reduction="sum").item()
    assert total == 0.0 and np.copysign(1.0, total) == 1.0
    mean = fn(x, y)
    assert np.isnan(mean.item())
    mean.backward()
    assert x.grad.shape == (0, 3)


def test_all_ignored_mean_is_nan_like_torch():
    out = nn.CrossEntropyLoss(ignore_index=0)(cr.zeros(2, 3), cr.tensor([0, 0]))
    assert np.isnan(out.item())
