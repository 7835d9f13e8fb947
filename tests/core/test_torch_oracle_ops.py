"""Every public op against PyTorch: forward values and gradients for the same inputs and
cotangents, in float64 (tight) and float32 (loose). Skipped cleanly without PyTorch."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)
A34 = rng.uniform(-2, 2, (3, 4))
B34 = rng.uniform(-2, 2, (3, 4))
B4 = rng.uniform(-2, 2, (4,))
P34 = rng.uniform(0.3, 2, (3, 4))
U34 = rng.uniform(0.1, 0.9, (3, 4))
M45 = rng.uniform(-2, 2, (4, 5))
C234 = rng.uniform(-2, 2, (2, 3, 4))
IDX = np.array([[0, 2], [1, 1], [3, 0]])
MASK = np.eye(3, 4, dtype=bool)

# name, chainrule fn, torch fn, float inputs
UNARY = ["exp", "exp2", "expm1", "square", "abs", "sign", "sin", "cos", "tanh", "sigmoid",
         "relu", "floor", "ceil", "round", "trunc", "frac", "erf", "sinh", "cosh"]
POSITIVE = ["log", "log2", "log10", "log1p", "sqrt", "rsqrt", "reciprocal"]
F_ACTS = ["relu6", "selu", "silu", "mish", "softsign", "hardsigmoid", "hardswish"]

CASES = []
for n in UNARY:
    CASES.append((n, getattr(cr, n), getattr(torch, n), [A34]))
for n in POSITIVE:
    CASES.append((n, getattr(cr, n), getattr(torch, n), [P34]))
for n in F_ACTS:
    CASES.append((n, getattr(cr, n), getattr(torch.nn.functional, n), [A34]))
CASES += [
    ("tan", cr.tan, torch.tan, [A34 * 0.5]),
    ("logit", cr.logit, torch.logit, [U34]),
    ("leaky_relu", lambda x: cr.leaky_relu(x, 0.2),
     lambda x: torch.nn.functional.leaky_relu(x, 0.2), [A34]),
    ("elu", lambda x: cr.elu(x, 0.5), lambda x: torch.nn.functional.elu(x, 0.5), [A34]),
    ("celu", lambda x: cr.celu(x, 1.5), lambda x: torch.nn.functional.celu(x, 1.5), [A34]),
    ("gelu", cr.gelu, torch.nn.functional.gelu, [A34]),
    ("gelu_tanh", lambda x: cr.gelu(x, approximate="tanh"),
     lambda x: torch.nn.functional.gelu(x, approximate="tanh"), [A34]),
    ("softplus", lambda x: cr.softplus(x, 2.0, 3.0),
     lambda x: torch.nn.functional.softplus(x, 2.0, 3.0), [A34]),
    ("hardtanh", lambda x: cr.hardtanh(x, -0.5, 1.0),
     lambda x: torch.nn.functional.hardtanh(x, -0.5, 1.0), [A34]),
    ("add", cr.add, torch.add, [A34, B4]), ("sub", cr.sub, torch.sub, [A34, B34]),
    ("mul", cr.mul, torch.mul, [A34, B4]), ("div", cr.div, torch.div, [A34, P34]),
    ("pow", cr.pow, torch.pow, [P34, B34]),
    ("pow_scalar", lambda x: x ** 3, lambda x: x ** 3, [A34]),
    ("rpow", lambda x: 2.0 ** x, lambda x: 2.0 ** x, [A34]),
    ("maximum", cr.maximum, torch.maximum, [A34, B4]),
    ("minimum", cr.minimum, torch.minimum, [A34, B34]),
    ("clamp", lambda x: x.clamp(-0.5, 0.7), lambda x: x.clamp(-0.5, 0.7), [A34]),
    ("where", lambda a, b: cr.where(cr.tensor(MASK), a, b),
     lambda a, b: torch.where(torch.tensor(MASK), a, b), [A34, B34]),
    ("lerp", lambda a, b: cr.lerp(a, b, 0.3), lambda a, b: torch.lerp(a, b, 0.3), [A34, B34]),
    ("sum", lambda x: x.sum(1), lambda x: x.sum(1), [A34]),
    ("mean", lambda x: x.mean((0, 1), keepdim=True), lambda x: x.mean((0, 1), keepdim=True),
     [C234]),
    ("var", lambda x: x.var(1), lambda x: x.var(1), [A34]),
    ("std", lambda x: x.std(0, correction=0), lambda x: x.std(0, correction=0), [A34]),
    ("prod", lambda x: x.prod(1), lambda x: x.prod(1), [P34]),
    ("max_dim", lambda x: x.max(1)[0], lambda x: x.max(1)[0], [A34]),
    ("min_dim", lambda x: x.min(0)[0], lambda x: x.min(0)[0], [A34]),
    ("amax", lambda x: x.amax(1), lambda x: x.amax(1), [A34]),
    ("amin", lambda x: x.amin((0, 2)), lambda x: x.amin((0, 2)), [C234]),
    ("logsumexp", lambda x: x.logsumexp(1), lambda x: x.logsumexp(1), [A34]),
    ("norm2", lambda x: x.norm(), lambda x: x.norm(), [A34]),
    ("norm1", lambda x: x.norm(1, dim=1), lambda x: x.norm(1, dim=1), [A34]),
    ("norm_inf", lambda x: x.norm(float("inf"), dim=0),
     lambda x: x.norm(float("inf"), dim=0), [A34]),
    ("cumsum", lambda x: x.cumsum(1), lambda x: x.cumsum(1), [A34]),
    ("cumprod", lambda x: x.cumprod(1), lambda x: x.cumprod(1), [P34]),
    ("reshape", lambda x: x.reshape(4, 3), lambda x: x.reshape(4, 3), [A34]),
    ("flatten", lambda x: x.flatten(1), lambda x: x.flatten(1), [C234]),
    ("unflatten", lambda x: x.unflatten(1, (2, 2)), lambda x: x.unflatten(1, (2, 2)), [A34]),
    ("transpose", lambda x: x.transpose(0, 2), lambda x: x.transpose(0, 2), [C234]),
    ("permute", lambda x: x.permute(2, 0, 1), lambda x: x.permute(2, 0, 1), [C234]),
    ("movedim", lambda x: x.movedim(0, 2), lambda x: x.movedim(0, 2), [C234]),
    ("squeeze", lambda x: x.unsqueeze(1).squeeze(1), lambda x: x.unsqueeze(1).squeeze(1),
     [A34]),
    ("expand", lambda x: x.reshape(3, 1, 4).expand(3, 2, 4),
     lambda x: x.reshape(3, 1, 4).expand(3, 2, 4), [A34]),
    ("getitem", lambda x: x[1:, [0, 3]], lambda x: x[1:, [0, 3]], [A34]),
    ("getitem_mask", lambda x: x[cr.tensor(MASK)], lambda x: x[torch.tensor(MASK)], [A34]),
    ("cat", lambda a, b: cr.cat([a, b], 1), lambda a, b: torch.cat([a, b], 1), [A34, B34]),
    ("stack", lambda a, b: cr.stack([a, b], 2), lambda a, b: torch.stack([a, b], 2),
     [A34, B34]),
    ("split", lambda x: x.split([1, 3], 1)[1] * 2, lambda x: x.split([1, 3], 1)[1] * 2, [A34]),
    ("chunk", lambda x: x.chunk(2, 1)[0], lambda x: x.chunk(2, 1)[0], [A34]),
    ("unbind", lambda x: x.unbind(0)[1], lambda x: x.unbind(0)[1], [A34]),
    ("pad_const", lambda x: cr.pad(x, (1, 2), value=0.5),
     lambda x: torch.nn.functional.pad(x, (1, 2), value=0.5), [A34]),
    ("pad_reflect", lambda x: cr.pad(x, (2, 1), mode="reflect"),
     lambda x: torch.nn.functional.pad(x, (2, 1), mode="reflect"), [C234]),
    ("pad_replicate", lambda x: cr.pad(x, (1, 2), mode="replicate"),
     lambda x: torch.nn.functional.pad(x, (1, 2), mode="replicate"), [C234]),
    ("flip", lambda x: x.flip((0, 1)), lambda x: x.flip((0, 1)), [A34]),
    ("roll", lambda x: x.roll(1, 1), lambda x: x.roll(1, 1), [A34]),
    ("repeat", lambda x: x.repeat(2, 1, 3), lambda x: x.repeat(2, 1, 3), [A34]),
    ("tile", lambda x: x.tile((2,)), lambda x: x.tile((2,)), [A34]),
    ("repeat_interleave", lambda x: x.repeat_interleave(2, dim=1),
     lambda x: x.repeat_interleave(2, dim=1), [A34]),
    ("gather", lambda x: x.gather(1, cr.tensor(IDX)),
     lambda x: x.gather(1, torch.tensor(IDX)), [A34]),
    ("scatter_add", lambda x, s: x.scatter_add(1, cr.tensor(IDX), s),
     lambda x, s: x.scatter_add(1, torch.tensor(IDX), s), [A34, B34[:, :2].copy()]),
    ("scatter", lambda x, s: x.scatter(1, cr.tensor(np.array([[0, 2], [1, 3], [3, 0]])), s),
     lambda x, s: x.scatter(1, torch.tensor(np.array([[0, 2], [1, 3], [3, 0]])), s),
     [A34, B34[:, :2].copy()]),
    ("index_select", lambda x: x.index_select(1, cr.tensor([3, 0, 0])),
     lambda x: x.index_select(1, torch.tensor([3, 0, 0])), [A34]),
    ("take_along_dim", lambda x: cr.take_along_dim(x, cr.tensor(IDX), 1),
     lambda x: torch.take_along_dim(x, torch.tensor(IDX), 1), [A34]),
    ("masked_fill", lambda x: x.masked_fill(cr.tensor(MASK), 3.0),
     lambda x: x.masked_fill(torch.tensor(MASK), 3.0), [A34]),
    ("masked_select", lambda x: x.masked_select(cr.tensor(MASK)),
     lambda x: x.masked_select(torch.tensor(MASK)), [A34]),
    ("tril", lambda x: x.tril(-1), lambda x: x.tril(-1), [A34]),
    ("triu", lambda x: x.triu(1), lambda x: x.triu(1), [A34]),
    ("diagonal", lambda x: x.diagonal(1), lambda x: x.diagonal(1), [A34]),
    ("matmul", cr.matmul, torch.matmul, [A34, M45]),
    ("matmul_batched", cr.matmul, torch.matmul, [C234, M45]),
    ("matmul_vec", cr.matmul, torch.matmul, [B4, M45]),
    ("dot", cr.dot, torch.dot, [B4, B4[::-1].copy()]),
    ("mv", cr.mv, torch.mv, [A34, B4]),
    ("outer", cr.outer, torch.outer, [B4, B4]),
    ("einsum", lambda a, b: cr.einsum("ij,jk->ki", a, b),
     lambda a, b: torch.einsum("ij,jk->ki", a, b), [A34, M45]),
]


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-9), (np.float32, 2e-5)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("name,cfn,tfn,inputs", CASES, ids=[c[0] for c in CASES])
def test_op_matches_torch(name, cfn, tfn, inputs, dtype, rtol):
    xs = [cr.tensor(a.astype(dtype), requires_grad=True) for a in inputs]
    ts = [torch.tensor(a.astype(dtype), requires_grad=True) for a in inputs]
    out = cfn(*xs)
    tout = tfn(*ts)
    assert out.shape == tuple(tout.shape), name
    assert out.dtype == np.dtype(str(tout.dtype).replace("torch.", "")), name
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=rtol,
                               atol=rtol)
    ct = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    out.backward(cr.tensor(ct))
    tout.backward(torch.tensor(ct))
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=rtol * 10,
                                   atol=rtol * 10, err_msg=name)


def test_floor_divide_forward_matches_torch():
    # PyTorch defines no derivative for floor_divide; chainrule's is zero (flat almost everywhere)
    a, b = cr.tensor(A34), cr.tensor(P34)
    np.testing.assert_allclose((a // b).numpy(),
                               (torch.tensor(A34) // torch.tensor(P34)).numpy())
