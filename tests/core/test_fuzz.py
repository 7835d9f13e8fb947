"""Fuzzing: random programs of ops on random shapes. Each program runs on chainrule and on plain
numpy; values must agree and both derivative modes must match finite differences.

Set CHAINRULE_FUZZ_EXAMPLES to run more programs (CI runs the default)."""

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.testing import check_grads

N_EXAMPLES = int(os.environ.get("CHAINRULE_FUZZ_EXAMPLES", "300"))

# (name, chainrule fn, numpy fn, domain guard applied to the input first)
UNARY = [
    ("tanh", cr.tanh, np.tanh), ("sin", cr.sin, np.sin), ("exp_small", lambda x: (x * 0.3).exp(),
                                                          lambda a: np.exp(a * 0.3)),
    ("square", cr.square, np.square), ("sigmoid", cr.sigmoid, lambda a: 1 / (1 + np.exp(-a))),
    ("softplus", cr.softplus, lambda a: np.logaddexp(0, a)),
    ("log_pos", lambda x: (x * x + 1).log(), lambda a: np.log(a * a + 1)),
    ("sqrt_pos", lambda x: (x * x + 0.5).sqrt(), lambda a: np.sqrt(a * a + 0.5)),
    ("neg", lambda x: -x, lambda a: -a), ("scale", lambda x: x * 1.7 - 0.2,
                                          lambda a: a * 1.7 - 0.2),
]
REDUCE = [
    ("sum", lambda x, d: x.sum(d, keepdim=True), lambda a, d: a.sum(d, keepdims=True)),
    ("mean", lambda x, d: x.mean(d, keepdim=True), lambda a, d: a.mean(d, keepdims=True)),
    ("lse", lambda x, d: x.logsumexp(d, keepdim=True),
     lambda a, d: np.log(np.exp(a).sum(d, keepdims=True))),
    ("cumsum", lambda x, d: x.cumsum(d), lambda a, d: np.cumsum(a, d)),
]


@st.composite
def programs(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    steps = []
    cur_ndim = ndim
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["unary", "binary", "reduce", "perm", "slice", "matmul"]))
        if kind == "unary":
            steps.append(("unary", draw(st.integers(0, len(UNARY) - 1))))
        elif kind == "binary":
            steps.append(("binary", draw(st.sampled_from(["add", "mul", "sub"]))))
        elif kind == "reduce":
            steps.append(("reduce", draw(st.integers(0, len(REDUCE) - 1)),
                          draw(st.integers(0, cur_ndim - 1))))
        elif kind == "perm":
            steps.append(("perm", draw(st.permutations(list(range(cur_ndim))))))
        elif kind == "slice":
            steps.append(("slice", draw(st.integers(0, cur_ndim - 1))))
        else:
            steps.append(("matmul", draw(st.integers(1, 3))))
    seed = draw(st.integers(0, 2**31 - 1))
    return shape, steps, seed


def _run(x, steps, lib, consts):
    """Apply the program with chainrule (lib='cr') or numpy (lib='np')."""
    k = 0
    for step in steps:
        kind = step[0]
        if kind == "unary":
            _, c, n = UNARY[step[1]]
            x = c(x) if lib == "cr" else n(x)
        elif kind == "binary":
            other = consts[k]
            k += 1
            # broadcast against the trailing dim only, so shapes always fit
            other = other[: x.shape[-1]] if x.ndim else other[:1]
            if lib == "cr":
                other = cr.tensor(other)
            x = {"add": x + other, "mul": x * other, "sub": x - other}[step[1]]
        elif kind == "reduce":
            _, c, n = REDUCE[step[1]]
            d = step[2] % x.ndim
            x = c(x, d) if lib == "cr" else n(x, d)
        elif kind == "perm":
            p = [i for i in step[1] if i < x.ndim]
            if len(p) == x.ndim:
                x = x.permute(*p) if lib == "cr" else np.transpose(x, p)
        elif kind == "slice":
            d = step[1] % x.ndim
            if x.shape[d] > 1:
                key = (slice(None),) * d + (slice(1, None),)
                x = x[key]
        else:
            m = consts[k][: x.shape[-1] * step[1]].reshape(x.shape[-1], step[1])
            k += 1
            x = x @ (cr.tensor(m) if lib == "cr" else m)
    return x


@settings(max_examples=N_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs())
def test_random_programs(prog):
    shape, steps, seed = prog
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1.5, 1.5, shape)
    consts = [rng.uniform(-1, 1, 16) for _ in steps]
    got = _run(cr.tensor(a), steps, "cr", consts)
    want = _run(a, steps, "np", consts)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-12)
    check_grads(lambda x: _run(x, steps, "cr", consts), [cr.tensor(a)], order=1,
                n_directions=1, atol=1e-5, rtol=1e-4)
