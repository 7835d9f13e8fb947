"""Fused recurrences: a whole scan over time as one primitive with its own rules.

``rnn_scan(xw, h0, w_hh)`` runs the Elman recurrence ``s_t = act(xw_t + s_{t-1} @ w_hh.T)`` over
the leading (time) dim of ``xw`` and returns every state, shape (T, B, H). ``gru_scan(xw, h0,
w_hh[, b_hh])`` and ``lstm_scan(xw, h0, c0, w_hh)`` do the same for PyTorch's GRU and LSTM
equations (the LSTM returns hidden and cell states stacked, (2, T, B, H)). The input projection
``xw = x @ w_ih.T + b`` is computed for all steps at once by the caller (one matmul), so only the
recurrent product is left inside the time loop. One graph node for the whole sequence keeps the
per-step cost to a few numpy calls, in the forward and in the backward pass (back-propagation
through time).

The Elman reverse rule recomputes nothing: the activation's derivative comes from the saved
states (``1 - s^2`` for tanh, ``s > 0`` for relu). The gated rules take every step's gates from
the forward pass when it kept them (``forward_saving``, while a graph is recorded), else
recompute them from the saved states in one batched matmul, before the time loop. Weight
gradients are one matmul over all steps after the loop. With ``reverse=True`` a scan runs from
the last step to the first (the backward direction of a bidirectional layer) and still returns
states in time order.
"""

from __future__ import annotations

import numpy as np

from ..core import npns
from ..core.registry import explicit
from .linalg import sum_leading

S = dict


def _nn_layout(wt, rows):
    """The transposed recurrent weight as a contiguous copy, made once per sequence: every
    step's ``h @ w.T`` is then a plain product, which OpenBLAS runs faster than one with a
    transposed operand on small shapes ((32, 128) @ (128, 128): 16.5 -> 13.0 us, up to 3x
    with 8 rows; the rnn benchmark's 50-step forward 0.92 -> 0.66 ms), with the same result.
    A single row (one sequence) keeps the transposed view: OpenBLAS takes a matrix-vector
    product there, faster that way round."""
    return np.ascontiguousarray(wt) if rows >= 2 else wt


def _steps(n, reverse):
    return range(n - 1, -1, -1) if reverse else range(n)


def _rnn_fwd(xw, h0, w, nonlinearity="tanh", reverse=False):
    n = xw.shape[0]
    out = np.empty(np.broadcast_shapes(xw.shape, (n,) + h0.shape),
                   dtype=np.result_type(xw, h0, w))
    wt = _nn_layout(w.T, out.shape[1])
    h = h0
    for t in _steps(n, reverse):
        o = out[t]
        np.matmul(h, wt, out=o)
        o += xw[t]
        if nonlinearity == "tanh":
            np.tanh(o, out=o)
        else:
            np.maximum(o, 0, out=o)
        h = o
    return out


def _act_deriv(xp, out, nonlinearity):
    """The activation's derivative at every step, from the saved states."""
    if nonlinearity == "tanh":
        return 1.0 - out * out
    return xp.astype(out > 0, out.dtype)


def _previous(xp, out, h0, reverse):
    """The state each step started from, shape (T, B, H): h0 then the states but the last."""
    first = xp.expand_dims(h0, 0)
    if out.shape[0] == 1:
        return first
    if reverse:
        return xp.concatenate([out[1:], first], axis=0)
    return xp.concatenate([first, out[:-1]], axis=0)


def _weight_grad(xp, dall, out, h0, reverse):
    """sum_t dA_t^T @ s_{t-1}: one matmul over all steps but the first, one for the first."""
    hid = out.shape[-1]
    first = 0 if not reverse else out.shape[0] - 1
    gw = xp.matmul(xp.swapaxes(dall[first], 0, 1), h0)
    if out.shape[0] > 1:
        da = dall[1:] if not reverse else dall[:-1]
        prev = out[:-1] if not reverse else out[1:]
        gw = gw + xp.matmul(xp.swapaxes(xp.reshape(da, (-1, hid)), 0, 1),
                            xp.reshape(prev, (-1, hid)))
    return gw


def _rnn_vjp(xp, g, out, ins, needs, nonlinearity="tanh", reverse=False):
    xw, h0, w = ins
    n = out.shape[0]
    order = list(_steps(n, not reverse))  # backward walks time the other way
    if xp.is_tensor_ns:
        d = _act_deriv(xp, out, nonlinearity)
        da = [None] * n
        carry = None
        for t in order:
            gt = g[t] if carry is None else g[t] + carry
            da[t] = gt * d[t]
            carry = xp.matmul(da[t], w)
        dall = xp.concatenate([xp.expand_dims(a, 0) for a in da], axis=0)
        gh0 = carry
    else:
        # dall starts as the activation's derivative and becomes the pre-activation cotangent
        # step by step, in place: one (T, B, H) allocation for the whole backward pass.
        if nonlinearity == "tanh":
            dall = np.multiply(out, out)
            np.subtract(1, dall, out=dall)
        else:
            dall = (out > 0).astype(out.dtype)
        dall[order[0]] *= g[order[0]]
        buf = np.empty(out.shape[1:], dtype=out.dtype)
        prev = order[0]
        for t in order[1:]:
            np.matmul(dall[prev], w, out=buf)
            buf += g[t]
            dall[t] *= buf
            prev = t
        gh0 = np.matmul(dall[prev], w) if needs[1] else None
    gw = None
    if needs[2]:
        gw = _weight_grad(xp, dall, out, xp.broadcast_to(h0, out.shape[1:]), reverse)
    return (dall if needs[0] else None), (gh0 if needs[1] else None), gw


def _rnn_jvp(xp, ts, out, ins, nonlinearity="tanh", reverse=False):
    xw, h0, w = ins
    txw, th0, tw = ts
    n = out.shape[0]
    d = _act_deriv(xp, out, nonlinearity)
    drive = txw
    if tw is not None:
        prev_states = _previous(xp, out, xp.broadcast_to(h0, out.shape[1:]), reverse)
        term = xp.matmul(prev_states, xp.swapaxes(tw, 0, 1))
        drive = term if drive is None else drive + term
    wt = xp.swapaxes(w, 0, 1)
    res = [None] * n
    th = th0
    for t in _steps(n, reverse):
        a = None if drive is None else drive[t]
        if th is not None:
            rec = xp.matmul(th, wt)
            a = rec if a is None else a + rec
        th = None if a is None else a * d[t]
        res[t] = th
    if all(r is None for r in res):
        return None
    res = [xp.zeros_like(out[t]) if r is None else r for t, r in enumerate(res)]
    return xp.concatenate([xp.expand_dims(r, 0) for r in res], axis=0)


explicit("rnn_scan", _rnn_fwd, _rnn_vjp, _rnn_jvp, nin=3,
         samples=[S(args=[(4, 2, 3), (2, 3), (3, 3)], domain=(-0.8, 0.8)),
                  S(args=[(3, 2, 3), (2, 3), (3, 3)], attrs=dict(reverse=True),
                    domain=(-0.8, 0.8)),
                  S(args=[(1, 2, 2), (2, 2), (2, 2)])])


# -- shared pieces of the gated scans ---------------------------------------------------------
def _stack(xp, items):
    return xp.concatenate([xp.expand_dims(a, 0) for a in items], axis=0)


def _state_before(xp, states, first, reverse):
    """The state each step started from, (T, B, H): ``first`` then all states but the last."""
    return _previous(xp, states, xp.broadcast_to(first, states.shape[1:]), reverse)


def _sigmoid_inplace(a):
    # 0.5 * (1 + tanh(a / 2)): exact and overflow-free, as npns.sigmoid, without temporaries
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


# -- LSTM: gates i, f, g, o (PyTorch's order) -------------------------------------------------
def _lstm_fwd(xw, h0, c0, w, reverse=False, keep=False):
    n, b, four_h = xw.shape
    hid = four_h // 4
    out = np.empty((2, n, b, hid), dtype=np.result_type(xw, h0, c0, w))
    if keep:  # every step's activated gates i, f, g, o and tanh(c), for the reverse rule
        acts = np.empty((n, b, four_h), dtype=out.dtype)
        tcs = np.empty((n, b, hid), dtype=out.dtype)
    else:
        gates = np.empty((b, four_h), dtype=out.dtype)
    wt = _nn_layout(w.T, b)
    h, c = h0, c0
    for t in _steps(n, reverse):
        if keep:
            gates = acts[t]
        np.matmul(h, wt, out=gates)
        gates += xw[t]
        g = np.tanh(gates[:, 2 * hid:3 * hid])
        _sigmoid_inplace(gates)
        if keep:
            gates[:, 2 * hid:3 * hid] = g
        h_new, c_new = out[0, t], out[1, t]
        np.multiply(gates[:, hid:2 * hid], c, out=c_new)
        g *= gates[:, :hid]
        c_new += g
        np.tanh(c_new, out=h_new)
        if keep:
            tcs[t] = h_new
        h_new *= gates[:, 3 * hid:]
        h, c = h_new, c_new
    return (out, (acts, tcs)) if keep else out


def _lstm_fwd_saving(xw, h0, c0, w, reverse=False):
    """The forward, and every step's gates and tanh(c) for the reverse rule (which otherwise
    recomputes them in one batched product: the same values up to its rounding)."""
    if xw.dtype.kind != "f" or xw.shape[0] == 0:
        return _lstm_fwd(xw, h0, c0, w, reverse), None
    return _lstm_fwd(xw, h0, c0, w, reverse, keep=True)


def _lstm_recompute(xp, xw, h0, c0, w, out, reverse):
    """Gate activations and previous states of every step at once (one matmul, no loop)."""
    hid = w.shape[1]
    hs, cs = out[0], out[1]
    h_prev = _state_before(xp, hs, h0, reverse)
    c_prev = _state_before(xp, cs, c0, reverse)
    a = xw + xp.matmul(h_prev, xp.swapaxes(w, 0, 1))
    i = xp.sigmoid(a[..., :hid])
    f = xp.sigmoid(a[..., hid:2 * hid])
    g = xp.tanh(a[..., 2 * hid:3 * hid])
    o = xp.sigmoid(a[..., 3 * hid:])
    return i, f, g, o, xp.tanh(cs), h_prev, c_prev


def _lstm_vjp_np(gout, out, ins, needs, reverse, saved=None):
    """The numpy path of :func:`_lstm_vjp`: the same math with preallocated buffers, from the
    forward's gates when it kept them."""
    xw, h0, c0, w = ins
    n, bsz, hid = out.shape[1:]
    h_prev = _previous(np, out[0], np.broadcast_to(h0, (bsz, hid)), reverse)
    c_prev = _previous(np, out[1], np.broadcast_to(c0, (bsz, hid)), reverse)
    if saved is not None:
        a = saved[0].reshape(n, bsz, 4, hid)
        g = a[:, :, 2]
        tc = saved[1]
    else:
        a = np.matmul(h_prev, w.T)
        a += xw
        a = a.reshape(n, bsz, 4, hid)
        g = np.tanh(a[:, :, 2])
        _sigmoid_inplace(a)
        tc = np.tanh(out[1])
    i, f, o = a[:, :, 0], a[:, :, 1], a[:, :, 3]
    coef = np.empty_like(a)  # dA = [dc * ci, dc * cf, dc * cg, dh * co]
    tmp = np.empty_like(g)
    np.subtract(1, i, out=tmp)
    tmp *= i
    np.multiply(tmp, g, out=coef[:, :, 0])
    np.subtract(1, f, out=tmp)
    tmp *= f
    np.multiply(tmp, c_prev, out=coef[:, :, 1])
    np.multiply(g, g, out=tmp)
    np.subtract(1, tmp, out=tmp)
    np.multiply(tmp, i, out=coef[:, :, 2])
    np.subtract(1, o, out=tmp)
    tmp *= o
    np.multiply(tmp, tc, out=coef[:, :, 3])
    # k = o * (1 - tanh(c)^2), dc gets dh * k (the kept tanh(c) is left as it is)
    k = np.multiply(tc, tc, out=tc if saved is None else None)
    np.subtract(1, k, out=k)
    k *= o
    gh, gc = gout[0], gout[1]
    da = np.empty_like(a)
    dh = np.empty((bsz, hid), dtype=a.dtype)
    dc = np.empty_like(dh)
    carry_h = np.zeros_like(dh)
    carry_c = np.zeros_like(dh)
    for t in _steps(n, not reverse):
        np.add(gh[t], carry_h, out=dh)
        np.multiply(dh, k[t], out=dc)
        dc += gc[t]
        dc += carry_c
        np.multiply(coef[t, :, :3], dc[:, None, :], out=da[t, :, :3])
        np.multiply(coef[t, :, 3], dh, out=da[t, :, 3])
        np.multiply(dc, f[t], out=carry_c)
        np.matmul(da[t].reshape(bsz, 4 * hid), w, out=carry_h)
    da = da.reshape(n, bsz, 4 * hid)
    gw = None
    if needs[3]:
        gw = np.matmul(da.reshape(-1, 4 * hid).T, h_prev.reshape(-1, hid))
    return ((da if needs[0] else None), (carry_h if needs[1] else None),
            (carry_c if needs[2] else None), gw)


def _lstm_vjp(xp, gout, out, ins, needs, reverse=False, saved=None):
    if not xp.is_tensor_ns:
        return _lstm_vjp_np(gout, out, ins, needs, reverse, saved)
    xw, h0, c0, w = ins
    n = out.shape[1]
    i, f, g, o, tc, h_prev, c_prev = _lstm_recompute(xp, xw, h0, c0, w, out, reverse)
    # dA = [dc * ci, dc * cf, dc * cg, dh * co] and dc = gc + carry + dh * k, per step
    ci, cf, cg = g * (i - i * i), c_prev * (f - f * f), i * (1.0 - g * g)
    co, k = tc * (o - o * o), o * (1.0 - tc * tc)
    gh, gc = gout[0], gout[1]
    da = [None] * n
    carry_h = carry_c = None
    for t in _steps(n, not reverse):
        dh = gh[t] if carry_h is None else gh[t] + carry_h
        dc = gc[t] + dh * k[t]
        if carry_c is not None:
            dc = dc + carry_c
        da[t] = xp.concatenate([dc * ci[t], dc * cf[t], dc * cg[t], dh * co[t]], axis=-1)
        carry_c = dc * f[t]
        carry_h = xp.matmul(da[t], w)
    dall = _stack(xp, da)
    gw = None
    if needs[3]:
        four_h, hid = w.shape
        gw = xp.matmul(xp.swapaxes(xp.reshape(dall, (-1, four_h)), 0, 1),
                       xp.reshape(h_prev, (-1, hid)))
    return ((dall if needs[0] else None), (carry_h if needs[1] else None),
            (carry_c if needs[2] else None), gw)


def _lstm_jvp(xp, ts, out, ins, reverse=False):
    xw, h0, c0, w = ins
    txw, th0, tc0, tw = ts
    n, hid = out.shape[1], w.shape[1]
    i, f, g, o, tc, h_prev, c_prev = _lstm_recompute(xp, xw, h0, c0, w, out, reverse)
    drive = txw
    if tw is not None:
        term = xp.matmul(h_prev, xp.swapaxes(tw, 0, 1))
        drive = term if drive is None else drive + term
    wt = xp.swapaxes(w, 0, 1)
    th_all, tc_all = [None] * n, [None] * n
    th = xp.zeros_like(out[0, 0]) if th0 is None else xp.broadcast_to(th0, out.shape[2:])
    tcs = xp.zeros_like(out[0, 0]) if tc0 is None else xp.broadcast_to(tc0, out.shape[2:])
    for t in _steps(n, reverse):
        ta = xp.matmul(th, wt)
        if drive is not None:
            ta = ta + drive[t]
        ti = (i[t] - i[t] * i[t]) * ta[..., :hid]
        tf = (f[t] - f[t] * f[t]) * ta[..., hid:2 * hid]
        tg = (1.0 - g[t] * g[t]) * ta[..., 2 * hid:3 * hid]
        to = (o[t] - o[t] * o[t]) * ta[..., 3 * hid:]
        tcs = tf * c_prev[t] + f[t] * tcs + ti * g[t] + i[t] * tg
        th = to * tc[t] + o[t] * (1.0 - tc[t] * tc[t]) * tcs
        th_all[t], tc_all[t] = th, tcs
    return _stack(xp, [_stack(xp, th_all), _stack(xp, tc_all)])


explicit("lstm_scan", _lstm_fwd, _lstm_vjp, _lstm_jvp, nin=4, forward_saving=_lstm_fwd_saving,
         samples=[S(args=[(3, 2, 8), (2, 2), (2, 2), (8, 2)]),
                  S(args=[(3, 2, 8), (2, 2), (2, 2), (8, 2)], attrs=dict(reverse=True))])


# -- GRU: gates r, z, n (PyTorch's order); b_hh stays inside the reset gate's product ------------
def _gru_fwd(xw, h0, w, b=None, reverse=False, keep=False):
    n, bsz, three_h = xw.shape
    hid = three_h // 3
    dt = np.result_type(xw, h0, w)
    out = np.empty((n, bsz, hid), dtype=dt)
    if keep:  # every step's h @ w.T + b, gates r and z, and candidate n, for the reverse rule
        hws = np.empty((n, bsz, three_h), dtype=dt)
        rzs = np.empty((n, bsz, 2 * hid), dtype=dt)
        ns = np.empty((n, bsz, hid), dtype=dt)
    else:
        hw = np.empty((bsz, three_h), dtype=dt)
        rz = np.empty((bsz, 2 * hid), dtype=dt)
    d = np.empty((bsz, hid), dtype=dt)
    wt = _nn_layout(w.T, bsz)
    h = h0
    for t in _steps(n, reverse):
        if keep:
            hw, rz, cand = hws[t], rzs[t], ns[t]
        else:
            cand = out[t]
        np.matmul(h, wt, out=hw)
        if b is not None:
            hw += b
        x = xw[t]
        np.add(x[:, :2 * hid], hw[:, :2 * hid], out=rz)
        _sigmoid_inplace(rz)
        np.multiply(rz[:, :hid], hw[:, 2 * hid:], out=cand)
        cand += x[:, 2 * hid:]
        np.tanh(cand, out=cand)  # n
        # h' = n + z * (h - n)
        np.subtract(h, cand, out=d)
        d *= rz[:, hid:]
        h_new = out[t]
        np.add(cand, d, out=h_new)
        h = h_new
    return (out, (hws, rzs, ns)) if keep else out


def _gru_fwd_saving(xw, h0, w, b=None, reverse=False):
    """The forward, and every step's gates for the reverse rule (which otherwise recomputes
    them in one batched product: the same values up to the rounding of that product)."""
    if xw.dtype.kind != "f" or xw.shape[0] == 0:
        return _gru_fwd(xw, h0, w, b, reverse), None
    return _gru_fwd(xw, h0, w, b, reverse, keep=True)


def _gru_recompute(xp, xw, h0, w, b, out, reverse):
    hid = w.shape[1]
    h_prev = _state_before(xp, out, h0, reverse)
    hw = xp.matmul(h_prev, xp.swapaxes(w, 0, 1))
    if b is not None:
        hw = hw + b
    r = xp.sigmoid(xw[..., :hid] + hw[..., :hid])
    z = xp.sigmoid(xw[..., hid:2 * hid] + hw[..., hid:2 * hid])
    hn = hw[..., 2 * hid:]
    nn_ = xp.tanh(xw[..., 2 * hid:] + r * hn)
    return r, z, nn_, hn, h_prev


def _gru_vjp_np(g, out, ins, needs, reverse, saved):
    """The numpy path of :func:`_gru_vjp`: the same math with preallocated buffers, from the
    forward's gates when it kept them."""
    xw, h0, w = ins[0], ins[1], ins[2]
    b = ins[3] if len(ins) > 3 else None
    n, bsz, hid = out.shape
    if saved is not None:
        hws, rzs, nn_ = saved
        r, z, hn = rzs[..., :hid], rzs[..., hid:], hws[..., 2 * hid:]
        h_prev = _previous(np, out, np.broadcast_to(h0, (bsz, hid)), reverse)
    else:
        r, z, nn_, hn, h_prev = _gru_recompute(npns, xw, h0, w, b, out, reverse)
    # with dh the step's total cotangent: dxw = dh * [cr, cz, cn], dhw = dh * [cr, cz, cn * r]
    coef = np.empty((n, bsz, 3, hid), dtype=out.dtype)  # [cr, cz, cn * r]
    cn = np.multiply(nn_, nn_)
    np.subtract(1.0, cn, out=cn)
    tmp = np.subtract(1.0, z)
    cn *= tmp  # (1 - z) (1 - n^2)
    cr = coef[:, :, 0]
    np.multiply(r, r, out=tmp)
    np.subtract(r, tmp, out=tmp)
    np.multiply(cn, hn, out=cr)
    cr *= tmp  # cn hn r (1 - r)
    cz = coef[:, :, 1]
    np.multiply(z, z, out=tmp)
    np.subtract(z, tmp, out=tmp)
    np.subtract(h_prev, nn_, out=cz)
    cz *= tmp  # (h - n) z (1 - z)
    np.multiply(cn, r, out=coef[:, :, 2])
    dhw = np.empty_like(coef)
    dhs = np.empty((n, bsz, hid), dtype=out.dtype)
    carry = np.zeros((bsz, hid), dtype=out.dtype)
    back = np.empty_like(carry)
    for t in _steps(n, not reverse):
        dh = dhs[t]
        np.add(g[t], carry, out=dh)
        np.multiply(coef[t], dh[:, None, :], out=dhw[t])
        np.matmul(dhw[t].reshape(bsz, 3 * hid), w, out=back)
        np.multiply(dh, z[t], out=carry)
        carry += back
    gxw = gw = gb = None
    three_h = 3 * hid
    dhw_all = dhw.reshape(-1, three_h)
    if needs[0]:
        gxw = dhw.copy()
        np.multiply(dhs, cn, out=gxw[:, :, 2])  # dxw's candidate part has no factor r
        gxw = gxw.reshape(n, bsz, three_h)
    if needs[2]:
        gw = np.matmul(dhw_all.T, h_prev.reshape(-1, hid))
    if b is not None and needs[3]:
        gb = sum_leading(dhw_all)
    res = (gxw, carry if needs[1] else None, gw)
    return res if b is None else res + (gb,)


def _gru_vjp(xp, g, out, ins, needs, reverse=False, saved=None):
    if not xp.is_tensor_ns:
        return _gru_vjp_np(g, out, ins, needs, reverse, saved)
    xw, h0, w = ins[0], ins[1], ins[2]
    b = ins[3] if len(ins) > 3 else None
    n = out.shape[0]
    r, z, nn_, hn, h_prev = _gru_recompute(xp, xw, h0, w, b, out, reverse)
    # with dh the step's total cotangent: dxw = dh * [cr, cz, cn], dhw = dh * [cr, cz, cn * r]
    cn = (1.0 - z) * (1.0 - nn_ * nn_)
    cr = cn * hn * (r - r * r)
    cz = (h_prev - nn_) * (z - z * z)
    cnr = cn * r
    dhs = [None] * n
    dhw = [None] * n
    carry = None
    for t in _steps(n, not reverse):
        dh = g[t] if carry is None else g[t] + carry
        dhs[t] = dh
        dhw[t] = xp.concatenate([dh * cr[t], dh * cz[t], dh * cnr[t]], axis=-1)
        carry = dh * z[t] + xp.matmul(dhw[t], w)
    gxw = gw = gb = None
    if needs[0]:
        dh_all = _stack(xp, dhs)
        gxw = xp.concatenate([dh_all * cr, dh_all * cz, dh_all * cn], axis=-1)
    if needs[2] or (b is not None and needs[3]):
        three_h, hid = w.shape
        dhw_all = xp.reshape(_stack(xp, dhw), (-1, three_h))
        if needs[2]:
            gw = xp.matmul(xp.swapaxes(dhw_all, 0, 1), xp.reshape(h_prev, (-1, hid)))
        if b is not None and needs[3]:
            gb = xp.sum(dhw_all, axis=0)
    res = (gxw, carry if needs[1] else None, gw)
    return res if b is None else res + (gb,)


def _gru_jvp(xp, ts, out, ins, reverse=False):
    xw, h0, w = ins[0], ins[1], ins[2]
    b = ins[3] if len(ins) > 3 else None
    txw, th0, tw = ts[0], ts[1], ts[2]
    tb = ts[3] if len(ts) > 3 else None
    n, hid = out.shape[0], w.shape[1]
    r, z, nn_, hn, h_prev = _gru_recompute(xp, xw, h0, w, b, out, reverse)
    dhw = None  # the tangent of h_prev @ w.T + b from tw and tb, for every step at once
    if tw is not None:
        dhw = xp.matmul(h_prev, xp.swapaxes(tw, 0, 1))
    if tb is not None:
        dhw = tb if dhw is None else dhw + tb
    wt = xp.swapaxes(w, 0, 1)
    th = xp.zeros_like(out[0]) if th0 is None else xp.broadcast_to(th0, out.shape[1:])
    res = [None] * n
    for t in _steps(n, reverse):
        thw = xp.matmul(th, wt)
        if dhw is not None:
            thw = thw + dhw[t]
        tx_r, tx_z, tx_n = thw[..., :hid], thw[..., hid:2 * hid], r[t] * thw[..., 2 * hid:]
        if txw is not None:
            x = txw[t]
            tx_r, tx_z, tx_n = tx_r + x[..., :hid], tx_z + x[..., hid:2 * hid], \
                tx_n + x[..., 2 * hid:]
        tr = (r[t] - r[t] * r[t]) * tx_r
        tz = (z[t] - z[t] * z[t]) * tx_z
        tn = (1.0 - nn_[t] * nn_[t]) * (tx_n + tr * hn[t])
        th = tn + tz * (h_prev[t] - nn_[t]) + z[t] * (th - tn)
        res[t] = th
    return _stack(xp, res)


explicit("gru_scan", _gru_fwd, _gru_vjp, _gru_jvp, forward_saving=_gru_fwd_saving,
         samples=[S(args=[(3, 2, 6), (2, 2), (6, 2), (6,)]),
                  S(args=[(3, 2, 6), (2, 2), (6, 2)], attrs=dict(reverse=True))])
