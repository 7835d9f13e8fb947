"""A quick form of the benchmark harness inside the test suite: every workload's loss must agree
with PyTorch's after 20 identical steps, and steps must not allocate without bound. Speed is
reported (printed), never asserted: these machines are noisy."""

import os
import tracemalloc

import numpy as np
import pytest

from benchmarks import workloads as W

SMALL = ["mlp-small", "mlp-mnist", "cnn1d", "cnn2d", "rnn", "transformer", "mlp-mnist-infer"]


@pytest.mark.parametrize("name", SMALL)
def test_loss_agrees_with_pytorch(name):
    pytest.importorskip("torch")
    from benchmarks.run import check_losses

    lc, lt = check_losses(name)
    assert abs(lc - lt) <= 1e-4 * max(abs(lt), 1e-12), (name, lc, lt)


def _held_after(step, n):
    """Bytes still allocated after ``n`` more calls of ``step`` than after one."""
    tracemalloc.start()
    try:
        step()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(n):
            step()
        return tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", ["mlp-small", "cnn1d", "rnn", "transformer"])
def test_step_memory_is_bounded(name):
    model, x, y, infer = W.build(name)
    step = W.chainrule_step(model, x, y, infer)
    for _ in range(3):
        step()
    grown = _held_after(step, 15)
    assert grown < 256 * 1024, f"{name}: {grown} bytes still held after 15 more steps"


def _rss_mb():
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_ten_thousand_steps_keep_resident_memory_flat():
    model, x, y, infer = W.build("mlp-small")
    step = W.chainrule_step(model, x, y, infer)
    for _ in range(500):
        step()
    before = _rss_mb()
    losses = [float(step().item()) for _ in range(10_000)]
    after = _rss_mb()
    print(f"\nmlp-small: RSS {before:.1f} MB after 500 steps, {after:.1f} MB after 10,500")
    assert np.isfinite(losses[-1])
    assert after - before < 8, f"resident memory grew {after - before:.1f} MB"


def test_profile_splits_the_step_by_op_and_restores_the_registry():
    from benchmarks.profile import profile
    from chainrule.core.registry import REGISTRY

    before = {n: (op.forward, op.vjp, op.forward_saving) for n, op in REGISTRY.items()}
    res = profile("cnn1d", steps=3, warmup=1)
    rows = {(n, kind): (ms, calls) for n, kind, ms, calls in res["ops"]}
    assert rows[("conv2d", "forward")][1] == 3  # the three convolution layers
    assert rows[("conv2d", "backward")][1] == 3
    assert rows[("linear", "forward")][1] == 1 and rows[("cross_entropy", "backward")][1] == 1
    in_ops = sum(ms for ms, _ in rows.values())
    assert in_ops > 0 and res["outside_ms"] >= 0
    assert abs(in_ops + res["outside_ms"] - res["step_ms"]) < 1e-6 * max(1.0, res["step_ms"])
    assert all((op.forward, op.vjp, op.forward_saving) == before[n]
               for n, op in REGISTRY.items())


def test_profile_spells_splits_the_rounds_into_a_fast_and_a_slow_group(capsys):
    import numpy as np

    from benchmarks.profile import _rounds, main, profile_spells
    from chainrule.core.registry import REGISTRY

    before = {n: (op.forward, op.vjp, op.forward_saving) for n, op in REGISTRY.items()}
    rounds = list(_rounds("mlp-small", steps=2, warmup=1, seconds=0.3))
    assert len(rounds) > 1 and all(r["step_ms"] > 0 for r in rounds)
    res = profile_spells("mlp-small", seconds=0.3, steps=2, warmup=1)
    fast, slow = res["fast"], res["slow"]
    assert fast["rounds"] >= 1 and fast["rounds"] + slow["rounds"] == res["rounds"] > 1
    assert ("linear", "forward") in fast["ops"] and fast["ops"][("linear", "forward")] > 0
    if slow["rounds"]:  # the split is by step time: every slow round is slower
        assert slow["step_ms"] > fast["step_ms"]
        assert set(slow["ops"]) == set(fast["ops"])
    assert all((op.forward, op.vjp, op.forward_saving) == before[n]
               for n, op in REGISTRY.items())
    assert main(["mlp-small", "--spells", "0.2", "--steps", "2", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mlp-small: ") and "fast spell" in out
    assert np.isfinite(fast["step_ms"])


@pytest.mark.parametrize("name", ["mlp-small", "mlp-mnist", "cnn1d", "cnn2d", "rnn",
                                  "transformer"])
def test_every_training_workload_compiles_to_the_eager_numbers(name):
    """chainrule.compile traces each benchmark step (no fallback) and its replays train the
    model exactly as the eager step does; memory stays bounded across replays."""
    import chainrule as cr

    model_a, x, y, _ = W.build(name)
    model_b = W.build(name)[0]
    eager = W.chainrule_step(model_a, x, y, False)
    compiled = cr.compile(W.chainrule_step(model_b, x, y, False))
    for _ in range(4):
        la, lb = eager(), compiled()
        assert la.item() == lb.item()
    assert compiled.eager_reason is None
    for p, q in zip(model_a.parameters(), model_b.parameters()):
        assert np.array_equal(p.data, q.data)
    grown = _held_after(compiled, 10)
    assert grown < 256 * 1024, f"{name}: {grown} bytes still held after 10 more replays"


def test_reference_product_is_timed_in_the_workloads_rounds():
    """mlp-wide's share of NumPy's product rate compares medians from the same rounds: the
    reference runs as one more runner, and gets no GFLOP/s of the workload's products."""
    from benchmarks.run import time_workload

    calls = []
    out = time_workload("mlp-small", 5, 0.0, with_torch=False,
                        reference=lambda: calls.append(1))
    assert out["reference"]["steps"] == out["chainrule"]["steps"] == len(calls) - 3  # warm-up
    assert "gflops" in out["chainrule"] and "gflops" not in out["reference"]


def test_per_op_chain_is_timed_against_pytorch_in_the_same_rounds():
    """The per-op overhead figure comes with PyTorch's same chain, alternating rep by rep."""
    from benchmarks.run import chain_overhead_us

    alone = chain_overhead_us(n=30, reps=3)
    assert alone["chainrule"] > 0 and alone["torch"] is None
    pytest.importorskip("torch")
    both = chain_overhead_us(n=30, reps=3, with_torch=True)
    assert both["chainrule"] > 0 and both["torch"] > 0


def test_per_op_rounds_report_the_best_round_with_its_own_pytorch_figure():
    """The rounds spread through a run are summed up as the best round (with PyTorch's figure
    from that same round, not another one's), the median round and each round's ratio."""
    from benchmarks.run import chain_report, chain_summary

    rounds = [{"chainrule": 6.0, "torch": 12.0}, {"chainrule": 4.0, "torch": 9.0},
              {"chainrule": 5.0, "torch": 8.0}]
    s = chain_summary(rounds)
    assert s["chain_us_per_op"] == 4.0 and s["chain_us_per_op_torch"] == 9.0
    assert s["chain_us_per_op_median"] == 5.0
    assert s["chain_ratios"] == [0.5, 4.0 / 9.0, 0.625]
    text = chain_report(s)
    assert "4.00 us/op in the best of 3" in text and "median 5.00" in text
    assert "ratio 0.44-0.62" in text
    alone = chain_summary([{"chainrule": 3.0, "torch": None}])
    assert alone["chain_us_per_op"] == 3.0 and "chain_us_per_op_torch" not in alone
    assert "PyTorch" not in chain_report(alone)


def test_workload_ratio_is_also_given_per_round():
    """Each round's medians are kept, so the ratio can be read per round (both frameworks'
    steps of a round ran in the same spell of the host) beside the ratio of whole medians."""
    from benchmarks.run import round_ratios, rounds_text, time_workload

    out = time_workload("mlp-small", 10, 0.0, with_torch=False, reference=lambda: None)
    for k in ("chainrule", "reference"):
        assert len(out[k]["round_medians_ms"]) == 5 == out[k]["steps"] // 2
    assert min(out["chainrule"]["round_medians_ms"]) <= out["chainrule"]["median_ms"]
    assert max(out["chainrule"]["round_medians_ms"]) >= out["chainrule"]["median_ms"]
    ours = {"round_medians_ms": [2.0, 3.0, 6.0]}
    theirs = {"round_medians_ms": [4.0, 2.0, 4.0]}
    assert round_ratios(ours, theirs) == [0.5, 1.5, 1.5]
    assert rounds_text([0.5, 1.5, 1.5]) == "rounds 1.50 (0.70-1.50) of 3"
