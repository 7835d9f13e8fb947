"""Fused recurrences: a whole Elman scan as one primitive with its own rules.

``rnn_scan(xw, h0, w_hh)`` runs ``s_t = act(xw_t + s_{t-1} @ w_hh.T)`` over the leading (time) dim
of ``xw`` and returns every state, shape (T, B, H). The input projection ``xw = x @ w_ih.T + b``
is computed for all steps at once by the caller (one matmul), so only the recurrent product is
left inside the time loop. One graph node for the whole sequence keeps the per-step cost to a
few numpy calls, in the forward and in the backward pass (back-propagation through time).

The reverse rule recomputes nothing: the activation's derivative comes from the saved states
(``1 - s^2`` for tanh, ``s > 0`` for relu), and the weight gradient is one matmul over all steps
after the loop. With ``reverse=True`` the scan runs from the last step to the first (the
backward direction of a bidirectional layer) and still returns states in time order.
"""

from __future__ import annotations

import numpy as np

from ..core.registry import explicit

S = dict


def _steps(n, reverse):
    return range(n - 1, -1, -1) if reverse else range(n)


def _rnn_fwd(xw, h0, w, nonlinearity="tanh", reverse=False):
    n = xw.shape[0]
    out = np.empty(np.broadcast_shapes(xw.shape, (n,) + h0.shape),
                   dtype=np.result_type(xw, h0, w))
    wt = w.T
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
