"""Max pooling against a window-by-window reference, ties included (the first maximum in
row-major order takes the gradient, as in PyTorch)."""

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import functional as F


def _reference(x, g, k, s, p, d):
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2 * p[0], w + 2 * p[1]), -np.inf)
    xp[:, :, p[0]:p[0] + h, p[1]:p[1] + w] = x
    ho = (xp.shape[2] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    wo = (xp.shape[3] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    out = np.empty((n, c, ho, wo))
    dxp = np.zeros_like(xp)
    for b, ch, i, j in itertools.product(range(n), range(c), range(ho), range(wo)):
        taps = [(i * s[0] + a * d[0], j * s[1] + e * d[1])
                for a in range(k[0]) for e in range(k[1])]
        vals = [xp[b, ch, r, q] for r, q in taps]
        best = int(np.argmax(vals))  # the first maximum
        out[b, ch, i, j] = vals[best]
        if g is not None:
            dxp[b, ch, taps[best][0], taps[best][1]] += g[b, ch, i, j]
    return out, dxp[:, :, p[0]:p[0] + h, p[1]:p[1] + w]


@pytest.mark.parametrize("k,s,p,d,hw", [((2, 2), (2, 2), (0, 0), (1, 1), (8, 6)),
                                        ((2, 2), (2, 2), (0, 0), (1, 1), (12, 10)),
                                        ((2, 2), (2, 2), (0, 0), (1, 1), (7, 5)),
                                        ((3, 3), (2, 2), (1, 1), (1, 1), (7, 8)),
                                        ((3, 2), (1, 2), (1, 0), (1, 1), (6, 7)),
                                        ((2, 3), (2, 1), (0, 1), (2, 2), (9, 8)),
                                        ((1, 3), (1, 3), (0, 0), (1, 1), (4, 9))])
def test_max_pool2d_matches_the_window_reference(k, s, p, d, hw):
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, (2, 3) + hw).astype(np.float32)  # small integers: many ties
    xt = cr.tensor(x, requires_grad=True)
    y = F.max_pool2d(xt, k, stride=s, padding=p, dilation=d)
    g = rng.standard_normal(y.shape).astype(np.float32)
    (y * cr.tensor(g)).sum().backward()
    out, dx = _reference(x.astype(np.float64), g.astype(np.float64), k, s, p, d)
    np.testing.assert_array_equal(y.detach().numpy(), out.astype(np.float32))
    np.testing.assert_allclose(xt.grad.numpy(), dx, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tiling_2x2_pool_routes_ties_and_infinities_like_the_reference(dtype):
    """The separable gradient of 2x2 windows that tile the input (a path of its own)."""
    rng = np.random.default_rng(1)
    x = rng.integers(-1, 2, (3, 2, 6, 8)).astype(dtype)  # mostly ties
    x[0, 0, :2, :2] = -np.inf
    x[1, 1, 2:4, 2:4] = [[np.inf, 1], [np.inf, np.inf]]
    xt = cr.tensor(x, requires_grad=True)
    y = F.max_pool2d(xt, 2)
    g = rng.standard_normal(y.shape).astype(dtype)
    (y * cr.tensor(g)).sum().backward()
    out, dx = _reference(x.astype(np.float64), g.astype(np.float64), (2, 2), (2, 2), (0, 0),
                         (1, 1))
    np.testing.assert_array_equal(y.detach().numpy(), out)
    np.testing.assert_array_equal(xt.grad.numpy(), dx)
