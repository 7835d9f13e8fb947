"""Side-by-side benchmark: chainrule vs PyTorch eager on the workloads of BENCHMARKS.md.

Run ``python -m benchmarks.run`` (``--quick`` for a few-second smoke run, ``--json FILE`` to
save the table, ``--only NAME ...`` to pick workloads, ``--threads N`` to pin BLAS threads;
``--compile`` to add each training step traced by ``chainrule.compile``; ``python -m
benchmarks.profile NAME`` splits one workload's step by op).

Both frameworks start from identical weights and batch, are timed in the same process with
their steps interleaved in rounds, and must agree on the loss after 20 steps (1e-4 relative)
before any time counts. Beside the ratio of the two medians, each round's ratio is given (its
median and p10-p90 over the rounds): a round's steps of both ran in the same spell of a
drifting host, so their spread shows how far the host moves the ratio. The per-op overhead (a
chain of tiny ops with backward, PyTorch's same chain alternating with it) is timed in a short
round after every workload and reported as the best round, with the median and range of all
rounds and each round's ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def _set_threads(n):
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)


def _percentiles(ts):
    import numpy as np

    a = np.asarray(ts) * 1e3
    return float(np.median(a)), float(np.percentile(a, 10)), float(np.percentile(a, 90))


_REFERENCE_FLOPS = 2 * 256 * 4096 * 4096  # mlp-wide's largest product


def numpy_matmul():
    """One call of numpy's float32 product on mlp-wide's largest shapes (the reference rate)."""
    import numpy as np

    a = np.random.default_rng(0).standard_normal((256, 4096)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((4096, 4096)).astype(np.float32)
    return lambda: a @ b


def numpy_matmul_gflops(seconds=1.0):
    """The float32 matrix-multiply rate numpy reaches here, on mlp-wide's largest product."""
    product = numpy_matmul()
    product()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 3:
        product()
        n += 1
    dt = (time.perf_counter() - t0) / n
    return _REFERENCE_FLOPS / dt / 1e9


def check_losses(name, steps=20):
    """Train both frameworks 20 steps from the same start; return both final losses."""
    from benchmarks import workloads as W

    model, x, y, infer = W.build(name)
    if infer:
        import numpy as np

        import chainrule as cr

        tm = W.torch_model(name, model)
        import torch

        with cr.no_grad():
            a = model(cr.from_numpy(x)).numpy()
        with torch.no_grad():
            b = tm(torch.from_numpy(x)).numpy()
        return float(np.abs(a).sum()), float(np.abs(b).sum())
    tm = W.torch_model(name, model)
    cs, ts = W.chainrule_step(model, x, y, False), W.torch_step(tm, x, y, False)
    for _ in range(steps):
        lc = cs()
        lt = ts()
    return float(lc.item()), float(lt.item())


def time_workload(name, min_steps, min_seconds, with_torch, rounds=5, compiled=False,
                  reference=None):
    """Median/p10/p90 ms per step of each framework's step, interleaved in rounds; with
    ``reference`` (a callable), it is timed in the same rounds as one more runner."""
    from benchmarks import workloads as W

    model, x, y, infer = W.build(name)
    cstep = W.chainrule_step(model, x, y, infer)
    runners = {"chainrule": cstep}
    if compiled:
        import chainrule as cr

        model2 = W.build(name)[0]  # the same weights, trained by the traced step
        runners["compiled"] = cr.compile(W.chainrule_step(model2, x, y, infer))
    if with_torch:
        runners["torch"] = W.torch_step(W.torch_model(name, model), x, y, infer)
        if name == "rnn":
            runners["torch-fused"] = W.torch_step(W.torch_model(name, model, fused=True), x, y,
                                                  infer)
    if reference is not None:
        runners["reference"] = reference
    for fn in runners.values():  # warm-up
        for _ in range(3):
            fn()
    times = {k: [] for k in runners}
    per_round = max(1, min_steps // rounds)
    t_start = time.perf_counter()
    r = 0
    while r < rounds or time.perf_counter() - t_start < min_seconds:
        for k, fn in runners.items():
            for _ in range(per_round):
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
        r += 1
        if r > 50 * rounds:
            break
    out = {k: dict(zip(("median_ms", "p10_ms", "p90_ms"), _percentiles(v)), steps=len(v),
                   round_medians_ms=_round_medians(v, per_round))
           for k, v in times.items()}
    if "compiled" in runners:
        out["compiled"]["eager_reason"] = runners["compiled"].eager_reason
    flops = W.matmul_flops(name)
    if flops:
        for k in out:
            if k != "reference":  # a different product (see numpy_matmul)
                out[k]["gflops"] = flops / (out[k]["median_ms"] * 1e-3) / 1e9
    out["peak_mb"] = _peak_memory(cstep)
    del model
    return out


def _round_medians(ts, per_round):
    """The median ms per step of each round (``per_round`` consecutive steps)."""
    import numpy as np

    return [float(np.median(ts[i:i + per_round]) * 1e3) for i in range(0, len(ts), per_round)]


def round_ratios(ours, theirs):
    """Each round's ratio of median step times: both frameworks' steps of one round ran in the
    same spell of the host, so their spread shows how far its drift moves the ratio."""
    return [a / b for a, b in zip(ours["round_medians_ms"], theirs["round_medians_ms"])]


def rounds_text(ratios):
    """The per-round ratios as printed: their median and their p10-p90 span."""
    import numpy as np

    med, lo, hi = np.median(ratios), np.percentile(ratios, 10), np.percentile(ratios, 90)
    return f"rounds {med:.2f} ({lo:.2f}-{hi:.2f}) of {len(ratios)}"


def _peak_memory(step):
    """Peak traced allocation (numpy buffers included) of one chainrule step, in MB."""
    import tracemalloc

    tracemalloc.start()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a few seconds: few steps, no mlp-wide")
    p.add_argument("--only", nargs="+", help="workload names to run")
    p.add_argument("--json", help="write the results to this file")
    p.add_argument("--threads", type=int, help="BLAS threads for both frameworks")
    p.add_argument("--compile", action="store_true",
                   help="also time each training step traced by chainrule.compile")
    p.add_argument("--min-steps", type=int, default=200)
    p.add_argument("--min-seconds", type=float, default=2.0)
    args = p.parse_args(argv)
    if args.threads:  # before numpy loads: OpenBLAS reads its thread count once
        if "numpy" in sys.modules:
            print("warning: numpy was loaded before --threads took effect", file=sys.stderr)
        _set_threads(args.threads)
    if argv is None:  # run as a command: with OpenBLAS's fastest kernels for this CPU
        from chainrule._blas import maybe_reexec

        maybe_reexec("benchmarks.run", sys.argv[1:])
    import numpy as np  # noqa: F401  (after thread settings)

    from benchmarks import workloads as W

    try:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        with_torch = True
    except ImportError:
        with_torch = False
        print("PyTorch is not installed: timing chainrule alone (pip install torch)")
    names = args.only or ([n for n in W.ALL if n != "mlp-wide"] if args.quick else W.ALL)
    min_steps, min_seconds = (10, 0.2) if args.quick else (args.min_steps, args.min_seconds)
    from chainrule._blas import kernel_note

    results = {"numpy_matmul_gflops": numpy_matmul_gflops(0.3 if args.quick else 1.0),
               "blas": kernel_note(), "threads": args.threads or os.cpu_count(),
               "workloads": {}}
    print(f"{results['blas']}; {results['threads']} thread(s) for numpy and PyTorch")
    header = (f"{'workload':<16}{'chainrule ms (p10-p90)':>26}{'torch ms (p10-p90)':>24}"
              f"{'ratio':>8}{'GFLOP/s':>9}{'peak MB':>9}  loss check; ratio per round")
    print(header)
    print("-" * len(header))
    # The per-op chain is timed in a short round after every workload: the host's speed drifts
    # over seconds, so rounds spread through the run show both its fast and slow spells.
    chain_reps = 5 if args.quick else 15
    chain_rounds = []
    for name in names:
        row = {}
        if with_torch:
            lc, lt = check_losses(name)
            rel = abs(lc - lt) / max(abs(lt), 1e-12)
            row["loss_chainrule"], row["loss_torch"], row["loss_rel_diff"] = lc, lt, rel
            row["loss_ok"] = rel <= 1e-4
        row.update(time_workload(name, min_steps, min_seconds, with_torch,
                                 compiled=args.compile,
                                 reference=numpy_matmul() if name == "mlp-wide" else None))
        c = row["chainrule"]
        line = f"{name:<16}{c['median_ms']:>9.3f} ({c['p10_ms']:.3f}-{c['p90_ms']:.3f})"
        line = f"{line:<42}"
        if with_torch:
            t = row["torch"]
            row["ratio"] = c["median_ms"] / t["median_ms"]
            line += f"{t['median_ms']:>9.3f} ({t['p10_ms']:.3f}-{t['p90_ms']:.3f})"
            line = f"{line:<66}{row['ratio']:>8.2f}"
        else:
            line = f"{line:<66}{'':>8}"
        line += f"{c.get('gflops', float('nan')):>9.1f}" if "gflops" in c else f"{'':>9}"
        line += f"{row['peak_mb']:>9.1f}"
        if with_torch:
            line += f"  {'ok' if row['loss_ok'] else 'MISMATCH'} ({row['loss_rel_diff']:.1e})"
            row["round_ratios"] = rr = round_ratios(c, row["torch"])
            line += f"  {rounds_text(rr)}"
        print(line, flush=True)
        if "torch-fused" in row:
            tf = row["torch-fused"]
            row["ratio_vs_fused"] = c["median_ms"] / tf["median_ms"]
            row["round_ratios_vs_fused"] = rr = round_ratios(c, tf)
            print(f"{'  vs nn.RNN':<16}{'':<26}{tf['median_ms']:>9.3f} "
                  f"({tf['p10_ms']:.3f}-{tf['p90_ms']:.3f}){row['ratio_vs_fused']:>8.2f}"
                  f"{'':>18}  {rounds_text(rr)}")
        if "compiled" in row:
            cc = row["compiled"]
            line = (f"{'  compiled':<16}{cc['median_ms']:>9.3f} "
                    f"({cc['p10_ms']:.3f}-{cc['p90_ms']:.3f})")
            if with_torch:
                row["ratio_compiled"] = cc["median_ms"] / row["torch"]["median_ms"]
                line = f"{line:<66}{row['ratio_compiled']:>8.2f}"
            if cc["eager_reason"]:
                line += f"  (ran eagerly: {cc['eager_reason']})"
            print(line, flush=True)
        results["workloads"][name] = row
        chain_rounds.append(chain_overhead_us(reps=chain_reps, with_torch=with_torch))
    if "mlp-wide" in results["workloads"]:
        # the reference product timed in mlp-wide's own rounds, so both see the same spells
        # of a busy host
        wide = results["workloads"]["mlp-wide"]
        g = wide["chainrule"]["gflops"]
        ref = _REFERENCE_FLOPS / (wide["reference"]["median_ms"] * 1e-3) / 1e9
        results["numpy_matmul_gflops_in_rounds"] = ref
        results["mlp_wide_fraction_of_numpy"] = g / ref
        print(f"mlp-wide reaches {g:.0f} GFLOP/s = "
              f"{100 * results['mlp_wide_fraction_of_numpy']:.0f}% of numpy's float32 matmul "
              f"rate timed in the same rounds ({ref:.0f} GFLOP/s; "
              f"{results['numpy_matmul_gflops']:.0f} before the workloads)")
    else:
        print(f"numpy float32 matmul rate here: {results['numpy_matmul_gflops']:.0f} GFLOP/s")
    if not chain_rounds:
        chain_rounds.append(chain_overhead_us(reps=chain_reps, with_torch=with_torch))
    summary = chain_summary(chain_rounds)
    results.update(summary)
    print(chain_report(summary))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


def chain_summary(rounds):
    """The per-op chain's rounds (``chain_overhead_us`` results) summed up: the best round
    (the host's fastest spell, as BENCHMARKS.md's best-of-rounds reference figures), the
    median round, and each round with PyTorch's figure and the ratio where it ran."""
    import numpy as np

    ours = [r["chainrule"] for r in rounds]
    best = rounds[int(np.argmin(ours))]
    out = {"chain_us_per_op": best["chainrule"], "chain_us_per_op_median": float(np.median(ours)),
           "chain_rounds": rounds}
    if best["torch"] is not None:
        out["chain_us_per_op_torch"] = best["torch"]
        out["chain_ratios"] = [r["chainrule"] / r["torch"] for r in rounds]
    return out


def chain_report(s):
    """The per-op chain's line(s) of the printed report."""
    rounds = s["chain_rounds"]
    ours = [r["chainrule"] for r in rounds]
    line = (f"per-op overhead, 1000-op chain of tiny ops with backward: "
            f"{s['chain_us_per_op']:.2f} us/op in the best of {len(rounds)} round(s)")
    if "chain_us_per_op_torch" in s:
        line += f" (PyTorch's same chain in that round: {s['chain_us_per_op_torch']:.2f})"
    if len(rounds) > 1:
        line += (f"\n  rounds, one after each workload: median {s['chain_us_per_op_median']:.2f}, "
                 f"range {min(ours):.2f}-{max(ours):.2f} us/op")
        if "chain_ratios" in s:
            r = s["chain_ratios"]
            line += (f"; PyTorch {min(x['torch'] for x in rounds):.2f}-"
                     f"{max(x['torch'] for x in rounds):.2f}; ratio {min(r):.2f}-{max(r):.2f}")
    return line


def chain_overhead_us(n=1000, reps=15, with_torch=False):
    """Microseconds per op of a chain of tiny ops (mul, add, tanh) including backward; with
    ``with_torch``, also PyTorch's same chain, the two alternating rep by rep (the host's
    speed drifts by up to 2x over seconds; the ratio compares the same spells).

    Returns ``{"chainrule": us, "torch": us or None}`` (medians over ``reps``).
    """
    import numpy as np

    import chainrule as cr

    def chain(x):
        def run():
            y = x
            for _ in range(n // 3):
                y = (y * 1.0001 + 0.001).tanh()
            y.sum().backward()
        return run

    runners = {"chainrule": chain(cr.randn(10, requires_grad=True))}
    if with_torch:
        import torch

        runners["torch"] = chain(torch.randn(10, requires_grad=True))
    ts = {k: [] for k in runners}
    for _ in range(reps):
        for k, run in runners.items():
            t0 = time.perf_counter()
            run()
            ts[k].append((time.perf_counter() - t0) / (3 * (n // 3)) * 1e6)
    return {k: float(np.median(ts[k])) if k in ts else None for k in ("chainrule", "torch")}


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
