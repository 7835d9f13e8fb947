"""Where a workload's step time goes, op by op.

Run ``python -m benchmarks.profile NAME`` (``--steps N``, ``--top K``) for a table of every
registered op's forward and backward (reverse rule) time per step, exclusive of the ops a rule
calls itself, and of the time spent outside ops (graph bookkeeping, the optimiser update,
Python). The timers wrap the op registry's entries for the duration of the run only.

``--spells SECONDS`` profiles rounds of ``--steps`` steps for that long instead and splits the
rounds by step time into the host's fast and slow spells (on a shared machine its speed can
switch between two levels every few seconds): a table of each op's time in both, which shows
which passes a slow spell hits.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from contextlib import contextmanager


@contextmanager
def _timed_registry(totals, calls):
    """Wrap every registered op's forward and reverse rule with a timer adding its exclusive
    time to ``totals[(op, "forward"|"backward")]`` and its calls to ``calls``; restored on
    exit."""
    from chainrule.core.registry import REGISTRY

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
        yield
    finally:
        for n, (fwd, vjp, saving) in originals.items():
            REGISTRY[n].forward, REGISTRY[n].vjp, REGISTRY[n].forward_saving = fwd, vjp, saving


def _rounds(name, steps, warmup, seconds=None):
    """Yield one ``profile`` result per round of ``steps`` timed steps of workload ``name`` (one
    model throughout): a single round, or rounds until ``seconds`` have passed."""
    from benchmarks import workloads as W

    model, x, y, infer = W.build(name)
    step = W.chainrule_step(model, x, y, infer)
    totals: dict = defaultdict(float)
    calls: Counter = Counter()
    with _timed_registry(totals, calls):
        for _ in range(warmup):
            step()
        end = None if seconds is None else time.perf_counter() + seconds
        while True:
            totals.clear()
            calls.clear()
            t0 = time.perf_counter()
            for _ in range(steps):
                step()
            total = time.perf_counter() - t0
            ops = sorted(((n, kind, t / steps * 1e3, calls[(n, kind)] / steps)
                          for (n, kind), t in totals.items()), key=lambda r: -r[2])
            in_ops = sum(totals.values())
            yield {"step_ms": total / steps * 1e3, "ops": ops,
                   "outside_ms": (total - in_ops) / steps * 1e3}
            if end is None or time.perf_counter() >= end:
                return


def profile(name: str, steps: int = 100, warmup: int = 10) -> dict:
    """Time ``steps`` steps of workload ``name`` with every op's forward and backward timed.

    Returns ``{"step_ms": ..., "ops": [(op, "forward"|"backward", ms per step, calls per
    step), ...] sorted by time, "outside_ms": step time not spent in any op}``.
    """
    rounds = _rounds(name, steps, warmup)
    try:
        return next(rounds)
    finally:
        rounds.close()  # restores the registry now, not whenever the generator is collected


def profile_spells(name: str, seconds: float, steps: int = 10, warmup: int = 10) -> dict:
    """Profile workload ``name`` in rounds of ``steps`` steps for ``seconds``, then split the
    rounds at the midpoint of their step times' p10 and p90 into a fast and a slow group.

    Returns ``{"rounds": n, "fast": group, "slow": group}``, each group ``{"rounds": n,
    "step_ms": median, "ops": {(op, pass): median ms per step}, "outside_ms": median}`` (a
    group without rounds has ``rounds`` 0 and no other keys).
    """
    import numpy as np

    rounds = list(_rounds(name, steps, warmup, seconds))
    t = np.array([r["step_ms"] for r in rounds])
    cut = (np.percentile(t, 10) + np.percentile(t, 90)) / 2
    keys = {(n, kind) for r in rounds for n, kind, _, _ in r["ops"]}

    def group(rs):
        if not rs:
            return {"rounds": 0}
        per = [{(n, kind): ms for n, kind, ms, _ in r["ops"]} for r in rs]
        return {"rounds": len(rs), "step_ms": float(np.median([r["step_ms"] for r in rs])),
                "ops": {k: float(np.median([p.get(k, 0.0) for p in per])) for k in keys},
                "outside_ms": float(np.median([r["outside_ms"] for r in rs]))}

    return {"rounds": len(rounds), "fast": group([r for r in rounds if r["step_ms"] <= cut]),
            "slow": group([r for r in rounds if r["step_ms"] > cut])}


def _print_profile(name, res, top):
    print(f"{name}: {res['step_ms']:.3f} ms per step (timers included)")
    print(f"{'op':<26}{'pass':<10}{'ms/step':>9}{'share':>8}{'calls':>7}")
    for n, kind, ms, c in res["ops"][:top]:
        print(f"{n:<26}{kind:<10}{ms:>9.3f}{100 * ms / res['step_ms']:>7.1f}%{c:>7.0f}")
    rest = res["outside_ms"]
    print(f"{'(outside ops)':<36}{rest:>9.3f}{100 * rest / res['step_ms']:>7.1f}%")


def _print_spells(name, res, top):
    fast, slow = res["fast"], res["slow"]
    print(f"{name}: {res['rounds']} rounds; fast spell: {fast['rounds']} rounds, "
          f"{fast['step_ms']:.3f} ms per step; slow spell: {slow['rounds']} rounds"
          + (f", {slow['step_ms']:.3f} ms per step" if slow["rounds"] else ""))
    if not slow["rounds"]:
        print("(no slow rounds: the host kept one speed)")
        return
    print(f"{'op':<26}{'pass':<10}{'fast ms':>9}{'slow ms':>9}{'slow/fast':>11}")
    rows = sorted(fast["ops"], key=lambda k: -slow["ops"][k])[:top]
    for k in rows:
        f, s = fast["ops"][k], slow["ops"][k]
        print(f"{k[0]:<26}{k[1]:<10}{f:>9.3f}{s:>9.3f}{(s / f if f else float('nan')):>10.2f}x")
    f, s = fast["outside_ms"], slow["outside_ms"]
    print(f"{'(outside ops)':<36}{f:>9.3f}{s:>9.3f}{s / f:>10.2f}x")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="a workload of benchmarks/workloads.py, e.g. cnn2d")
    p.add_argument("--steps", type=int, default=None,
                   help="steps timed (default 100), or per round with --spells (default 10)")
    p.add_argument("--top", type=int, default=20, help="rows to show")
    p.add_argument("--spells", type=float, default=None, metavar="SECONDS",
                   help="profile in rounds for this long and split them into fast and slow")
    a = p.parse_args(argv)
    if argv is None:  # as a command: the same OpenBLAS kernels as the harness
        from chainrule._blas import maybe_reexec

        maybe_reexec("benchmarks.profile", sys.argv[1:])
    if a.spells is not None:
        _print_spells(a.name, profile_spells(a.name, a.spells, a.steps or 10), a.top)
    else:
        _print_profile(a.name, profile(a.name, a.steps or 100), a.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
