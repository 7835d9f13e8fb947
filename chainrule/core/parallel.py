"""Batch-parallel execution of the heavy convolution and pooling primitives on a thread pool.

NumPy releases the GIL inside ufunc loops, copies and matrix products, so the samples of a
convolution or a pooling can be split into contiguous chunks that run on separate cores. Only
ops with enough work use it (a chunk must outweigh the tens of microseconds a thread hand-off
costs); everything else runs on the calling thread.

It is off by default (one thread). OpenBLAS's own worker threads keep spinning on their cores
for a while after every multi-threaded matrix product, so splitting next to them gains
nothing; it can only pay with OpenBLAS held to one thread::

    OPENBLAS_NUM_THREADS=1 CHAINRULE_NUM_THREADS=2 chainrule train

and on the convolutional nets measured it no longer does: chunked convolutions keep no im2col
columns for their weight gradients (``forward_saving`` runs whole batches only), which the
default path does (the cnn2d benchmark step on 2 cores: 10.2 ms by default, 11.2 ms this way;
the default ``chainrule train`` run: 9.2 s against 10.3 s of training). Matrix-bound nets
(MLPs, transformers) are faster with OpenBLAS's threads. While chunks run, OpenBLAS is held to
one thread and gets its setting back afterwards.

The thread count is ``CHAINRULE_NUM_THREADS`` if set, else 1, and ``set_num_threads(n)``
changes it. Chunk boundaries depend only on the batch size and the thread count, so results
are reproducible for a given thread count; a weight gradient summed over chunks can differ in
the last bits between thread counts.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from .. import _openblas

# Work (elements touched) below which an op is not split: one chunk hand-off costs tens of
# microseconds, so a chunk must take well over that.
MIN_WORK = 1 << 18

_local = threading.local()
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_threads: int | None = None


def get_num_threads() -> int:
    """Threads the batch-parallel ops use (1: everything on the calling thread)."""
    global _threads
    if _threads is None:
        env = os.environ.get("CHAINRULE_NUM_THREADS", "").strip()
        n = int(env) if env.isdigit() and int(env) > 0 else 1
        _threads = max(1, min(n, os.cpu_count() or 1))
    return _threads


def serial() -> bool:
    """True when batch-parallel ops should run whole without further checks (the default)."""
    return _threads == 1 or (_threads is None and get_num_threads() == 1)


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for the batch-parallel ops (1 turns splitting off)."""
    from ..errors import ArgumentError

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ArgumentError(f"set_num_threads: argument 'n' expected an int >= 1, got {n!r}")
    global _threads
    _threads = n


def _get_pool(size: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < size:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(size, thread_name_prefix="chainrule")
            _pool_size = size
        return _pool


def _reset_after_fork() -> None:  # a forked child has none of the parent's threads
    global _pool, _pool_size
    _pool, _pool_size = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def chunks(n: int, work: int) -> list[tuple[int, int]] | None:
    """Contiguous ``[start, stop)`` ranges splitting ``n`` samples across the threads, or None
    when the op should run whole on the calling thread (one thread, too little work, one
    sample, or already inside a parallel region)."""
    k = min(get_num_threads(), n)
    if k < 2 or work < MIN_WORK or getattr(_local, "active", False):
        return None
    bounds = [n * i // k for i in range(k + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def _run_marked(fn, a, b):
    _local.active = True
    try:
        return fn(a, b)
    finally:
        _local.active = False


def run_chunks(fn, parts):
    """``[fn(a, b) for a, b in parts]`` with the chunks on separate threads (the first on the
    calling thread), OpenBLAS held to one thread meanwhile."""
    pool = _get_pool(len(parts) - 1)
    saved = _openblas.get_threads()
    if saved not in (None, 1):
        _openblas.set_threads(1)
    try:
        futures = [pool.submit(_run_marked, fn, a, b) for a, b in parts[1:]]
        try:
            first = _run_marked(fn, *parts[0])
        finally:
            wait(futures)  # never hand BLAS its threads back while a chunk still runs
        return [first] + [f.result() for f in futures]
    finally:
        if saved not in (None, 1):
            _openblas.set_threads(saved)


def batch_map(fn, n: int, work: int):
    """Results of ``fn(start, stop)`` over the chunks of ``n`` samples, or None when the op
    should run whole (see :func:`chunks`)."""
    parts = chunks(n, work)
    return None if parts is None else run_chunks(fn, parts)


def over_batch(fn, batched, work: int, join: str = "concat"):
    """``fn(*batched)``, split along the leading (batch) axis of every array in ``batched``
    when it pays: the chunks' results joined along the batch (``"concat"``) or added
    (``"sum"``, for a gradient summed over samples)."""
    parts = None if serial() else batch_map(
        lambda a, z: fn(*[b[a:z] for b in batched]), batched[0].shape[0], work)
    if parts is None:
        return fn(*batched)
    if join == "sum":
        out = parts[0]
        for p in parts[1:]:
            out += p
        return out
    return np.concatenate(parts)
