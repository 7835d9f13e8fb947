"""Where a workload's step time goes, op by op.

Run ``python -m benchmarks.profile NAME`` (``--steps N``, ``--top K``) for a table of every
registered op's forward and backward (reverse rule) time per step, exclusive of the ops a rule
calls itself, and of the time spent outside ops (graph bookkeeping, the optimiser update,
Python). The timers wrap the op registry's entries for the duration of the run only.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict


def profile(name: str, steps: int = 100, warmup: int = 10) -> dict:
    """Time ``steps`` steps of workload ``name`` with every op's forward and backward timed.

    Returns ``{"step_ms": ..., "ops": [(op, "forward"|"backward", ms per step, calls per
    step), ...] sorted by time, "outside_ms": step time not spent in any op}``.
    """
    from benchmarks import workloads as W
    from chainrule.core.registry import REGISTRY

    model, x, y, infer = W.build(name)
    step = W.chainrule_step(model, x, y, infer)
    totals: dict = defaultdict(float)
    calls: Counter = Counter()
    children = [0.0]  # time of the timed calls made inside the one running now

    def timed(key, fn):
        def run(*args, **kwargs):
            children.append(0.0)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.perf_counter() - t0
                totals[key] += dt - children.pop()
                calls[key] += 1
                children[-1] += dt

        return run

    originals = {n: (op.forward, op.vjp, op.forward_saving) for n, op in REGISTRY.items()}
    try:
        for n, op in REGISTRY.items():
            op.forward = timed((n, "forward"), op.forward)
            if op.forward_saving is not None:  # the forward the engine runs while recording
                op.forward_saving = timed((n, "forward"), op.forward_saving)
            if op.vjp is not None:
                op.vjp = timed((n, "backward"), op.vjp)
        for _ in range(warmup):
            step()
        totals.clear()
        calls.clear()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        total = time.perf_counter() - t0
    finally:
        for n, (fwd, vjp, saving) in originals.items():
            REGISTRY[n].forward, REGISTRY[n].vjp, REGISTRY[n].forward_saving = fwd, vjp, saving
    ops = sorted(((n, kind, t / steps * 1e3, calls[(n, kind)] / steps)
                  for (n, kind), t in totals.items()), key=lambda r: -r[2])
    in_ops = sum(totals.values())
    return {"step_ms": total / steps * 1e3, "ops": ops,
            "outside_ms": (total - in_ops) / steps * 1e3}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="a workload of benchmarks/workloads.py, e.g. cnn2d")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--top", type=int, default=20, help="rows to show")
    a = p.parse_args(argv)
    if argv is None:  # as a command: the same OpenBLAS kernels as the harness
        from chainrule._blas import maybe_reexec

        maybe_reexec("benchmarks.profile", sys.argv[1:])
    res = profile(a.name, a.steps)
    print(f"{a.name}: {res['step_ms']:.3f} ms per step (timers included)")
    print(f"{'op':<26}{'pass':<10}{'ms/step':>9}{'share':>8}{'calls':>7}")
    for n, kind, ms, c in res["ops"][:a.top]:
        print(f"{n:<26}{kind:<10}{ms:>9.3f}{100 * ms / res['step_ms']:>7.1f}%{c:>7.0f}")
    rest = res["outside_ms"]
    print(f"{'(outside ops)':<36}{rest:>9.3f}{100 * rest / res['step_ms']:>7.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
