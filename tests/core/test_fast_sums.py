"""Sums done as products with a ones vector (bias gradients, softmax, normalisation) agree with
NumPy's reductions."""

import numpy as np
import pytest

from chainrule.ops import linalg
from chainrule.ops.linalg import matmul_nt, max_kept, sum_kept, sum_leading


@pytest.fixture(autouse=True, params=["all sizes", "default sizes"])
def fast_sums_everywhere(request, monkeypatch):
    """Run every case with the BLAS path on for small arrays too, and with the default cutoff."""
    if request.param == "all sizes":
        monkeypatch.setattr(linalg, "_FAST_SUM_MIN", 0)


@pytest.mark.parametrize("shape", [(7, 5), (3, 4, 9), (2, 3, 5, 6), (1, 8), (6, 1, 1),
                                   (700, 7), (16, 8, 6, 6)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_leading_matches_numpy(shape, dtype):
    a = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    got = sum_leading(a)
    want = a.astype(np.float64).sum(axis=(0,) + tuple(range(2, a.ndim)))
    assert got.dtype == dtype and got.shape == (shape[1],)
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("a", [np.arange(12, dtype=np.int64).reshape(4, 3),
                               np.ones((4, 3), np.float16),
                               np.ones((0, 3), np.float32),
                               np.ones(((1 << 16) + 1, 2), np.float32)])
def test_other_cases_use_numpys_sum(a):
    got = sum_leading(a)
    assert got.dtype == a.sum(axis=0).dtype
    np.testing.assert_array_equal(got, a.sum(axis=0))


@pytest.mark.parametrize("shape,axes", [((4, 5), (-1,)), ((2, 3, 4), (-2, -1)), ((4, 3), (0,)),
                                        ((4, 3, 2, 2), (0, 2, 3)), ((5,), (0,)),
                                        ((2, 3, 4), (1,)), ((2, 0, 3), (-1,)),
                                        ((3, 70000), (-1,)), ((64, 80), (-1,)),
                                        ((8, 30, 40), (-2, -1)), ((5000, 3), (0,)),
                                        ((16, 8, 6, 6), (0, 2, 3))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_sum_kept_matches_numpy(shape, axes, dtype):
    a = (np.random.default_rng(1).standard_normal(shape) * 10).astype(dtype)
    want = a.sum(axis=axes, keepdims=True)
    exact = a.astype(np.float64).sum(axis=axes, keepdims=True)
    for arr in (a, np.asfortranarray(a)):  # contiguous, and a layout that falls back
        got = sum_kept(arr, axes)
        assert got.shape == want.shape and got.dtype == want.dtype
        # float32 sums of up to 70,000 terms of size 10: a few float32 ulps of the total
        tol = 1e-10 if dtype != np.float32 else 1e-5 * np.abs(a).sum() / max(1, exact.size)
        np.testing.assert_allclose(got, exact, rtol=1e-6, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_max_kept_is_the_row_maximum(dtype):
    a = (np.random.default_rng(2).standard_normal((33, 64)) * 10).astype(dtype)
    if dtype != np.int64:
        a[3] = -np.inf
        a[4, 5] = np.inf
        a[5, :] = 0.0
        a[5, 7] = -0.0
    cases = [(a, -1), (a, 0), (a, 1), (a[:, ::2], -1), (a.reshape(3, 11, 4, 16), -1),
             (a.reshape(3, 11, 4, 16), 2), (a[:2, :10], -1)]
    for arr, axis in cases:
        got = max_kept(arr, axis)
        assert got.dtype == a.dtype
        np.testing.assert_array_equal(got, arr.max(axis=axis, keepdims=True))


@pytest.mark.parametrize("rows", [4, 20])
def test_softmax_rules_keep_nan_rows_nan(rows):
    """max_kept returns a row's NaN (argmax, from 65 entries) or skips it (fmax, few entries);
    the rows come out NaN all the same."""
    import chainrule as cr
    from chainrule.nn import functional as F

    x = np.random.default_rng(3).standard_normal((rows, 6)).astype(np.float32)
    x[1, 2] = np.nan
    assert np.isnan(max_kept(x, -1)).sum() == (rows * 6 > 64)
    for f in (F.softmax, F.log_softmax):
        y = f(cr.tensor(x), dim=-1).numpy()
        assert np.isnan(y[1]).all() and np.isfinite(np.delete(y, 1, axis=0)).all()
    q = cr.tensor(x.reshape(1, rows, 6))
    p = F.scaled_dot_product_attention(q, q, q).numpy()[0]
    assert np.isnan(p).all()  # the NaN reaches every query through its key


@pytest.mark.parametrize("shape_a, shape_b", [
    ((6, 5, 4), (6, 7, 4)), ((2, 3, 64, 32), (2, 3, 64, 32)), ((3, 128, 64), (3, 128, 64)),
    ((5, 4), (7, 4))])
def test_matmul_nt_is_a_times_b_transposed(shape_a, shape_b):
    """a @ b^T, with b^T copied contiguous for batches of small matrices or used as a view."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape_a).astype(np.float32)
    b = rng.standard_normal(shape_b).astype(np.float32)
    want = np.einsum("...ik,...jk->...ij", a.astype(np.float64), b.astype(np.float64))
    np.testing.assert_allclose(matmul_nt(a, b), want, rtol=1e-4, atol=1e-4)


def test_array_helpers_are_not_tensor_ops():
    """Helpers on NumPy arrays shared by rules stay out of the public namespace."""
    import chainrule as cr
    from chainrule import ops
    from chainrule.ops import elementwise, linalg

    for name in linalg.ARRAY_HELPERS + elementwise.ARRAY_HELPERS:
        assert name not in ops.__all__ and not hasattr(cr, name)
