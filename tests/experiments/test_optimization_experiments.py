"""The --quick forms of the optimisation and generalisation experiments assert their findings."""

import numpy as np

import chainrule.experiments as X


def test_memorization_random_labels_fit_perfectly_but_test_at_chance(tmp_path, saved):
    res = X.run("memorization", quick=True, out=tmp_path, progress=False)
    saved(tmp_path, res)
    n = res.numbers
    runs, chance = n["runs"], n["chance"]
    true, rand = runs[0.0], runs[1.0]
    # the network has far more parameters than there are training examples
    assert n["n_params"] > 20 * n["n_train"]
    # both labellings are fitted: training accuracy 100% (at least 99%)
    assert true["train_acc"][-1] >= 0.99 and rand["train_acc"][-1] >= 0.99
    # random labels take longer to fit than true ones
    assert rand["epochs_to_99"] >= 1.5 * true["epochs_to_99"]
    assert rand["train_loss"][5] > 3 * true["train_loss"][5]
    # test accuracy: at chance for random labels, far above it for true ones, in between for
    # half-random labels
    assert abs(rand["test_acc"][-1] - chance) < 0.04
    assert true["test_acc"][-1] > chance + 0.6
    assert rand["test_acc"][-1] + 0.2 < runs[0.5]["test_acc"][-1] < true["test_acc"][-1] - 0.2
    assert "%, at chance" in res.conclusion


def test_newton_converges_in_few_iterations_on_logistic_regression_damped_on_a_net(tmp_path, saved):
    res = X.run("newton", quick=True, out=tmp_path, progress=False)
    saved(tmp_path, res)
    n = res.numbers
    logit, net = n["logistic"], n["net"]
    first_order = ("gradient descent", "SGD", "momentum")
    # logistic regression: pure Newton is at the minimum (to round-off) within 10 iterations,
    # far below where the best tuned first-order method is after 300 iterations
    assert n["first_order_iters"] >= 300
    assert n["logistic_newton_gap_at_10"] < 1e-10
    assert n["logistic_best_first_order_gap"] > 1e4 * max(n["logistic_newton_gap_at_10"], 1e-16)
    l_star = n["logistic_best_loss"]
    newton = logit["Newton"]
    reach = int(np.nonzero(newton["loss"] - l_star <= n["logistic_best_first_order_gap"])[0][0])
    assert reach <= 6
    # ... and in less wall time than the first-order method's 300 iterations
    assert newton["time"][reach] < logit[n["logistic_best_first_order"]]["time"][-1]
    for m in first_order:
        assert logit[m]["loss"][10] - l_star > 1e3 * (newton["loss"][10] - l_star + 1e-16)
    # tanh net: Newton with almost no damping raises the loss far above its start ...
    plain, lm = net["Newton (damping 1e-3)"], net["damped Newton (LM)"]
    assert plain["loss"].max() > 5 * plain["loss"][0]
    # ... damped Newton lowers it at every step, below every first-order method at the same
    # iteration count, but per second the best first-order method gets further
    k = n["net_newton_iters"]
    assert n["net_newton_monotone"] and lm["loss"][-1] < 0.3 * lm["loss"][0]
    for m in first_order:
        assert lm["loss"][-1] < 0.9 * net[m]["loss"][k]
    assert n["net_first_order_at_newton_time"] < 0.5 * n["net_newton_final"]
    assert "damped Newton lost" in res.conclusion


def test_loss_landscape_assignment_is_exact_on_small_matrices():
    import itertools

    from chainrule.experiments.loss_landscape import assign

    rng = np.random.default_rng(0)
    for t in range(60):
        n = int(rng.integers(1, 7))
        c = rng.normal(size=(n, n))
        if t % 3 == 0:
            c = np.round(c)  # ties
        perm = assign(c)
        best = min(sum(c[i, q[i]] for i in range(n)) for q in itertools.permutations(range(n)))
        assert sorted(perm.tolist()) == list(range(n))
        assert abs(c[np.arange(n), perm].sum() - best) < 1e-9


def test_loss_landscape_no_barrier_from_init_and_alignment_lowers_the_barrier(tmp_path, saved):
    res = X.run("loss-landscape", quick=True, out=tmp_path, progress=False)
    saved(tmp_path, res)
    n = res.numbers
    barrier, lines = n["barrier"], n["lines"]
    # the permuted network is a different point computing the same function
    assert n["permutation_moved"] > 1.0
    assert n["same_function_max_diff"] < 1e-5 * max(1.0, n["output_scale"])
    # init -> solution: the loss falls (almost) monotonically, no barrier to climb
    assert n["init_line_total_drop"] > 1.0
    assert n["init_line_largest_rise"] < 0.02 * n["init_line_total_drop"]
    # two solutions from different seeds: a barrier in between, with the midpoint far worse
    ab, abp = lines["A to B"], lines["A to permuted B"]
    mid = len(n["alphas"]) // 2
    assert barrier["A to B"] > 0.5
    assert ab["test_acc"][mid] < min(ab["test_acc"][0], ab["test_acc"][-1]) - 0.15
    # after aligning the hidden units the barrier is much lower and the midpoint works
    assert barrier["A to permuted B"] < 0.3 * barrier["A to B"]
    assert abp["test_acc"][mid] > ab["test_acc"][mid] + 0.15
    assert n["distance_after"] < n["distance_before"]
    for before, after in zip(n["mean_corr_before"], n["mean_corr_after"]):
        assert after > before + 0.3


def test_sharp_flat_power_iteration_is_exact_and_full_batch_ends_sharper(tmp_path, saved):
    res = X.run("sharp-flat", quick=True, out=tmp_path, progress=False)
    saved(tmp_path, res)
    n = res.numbers
    # power iteration on Hessian-vector products = largest-magnitude eigenvalue of the dense
    # Hessian (cr.hessian + eigvalsh) of a tiny net
    chk = n["dense_check"]
    assert chk["relative_error"] < 1e-6 and chk["dense"] > 0
    runs, lr, target = n["runs"], n["lr"], n["target_loss"]
    small, large = n["batches"][0], n["batches"][-1]
    assert small <= 10 and large >= 1000
    for s in n["seeds"]:
        rs, rl = runs[f"{s}/{small}"], runs[f"{s}/{large}"]
        # both reached the same training loss
        assert rs["train_loss"] < target and rl["train_loss"] < target
        for r in (rs, rl):  # the power iteration converged
            h = r["power_history"]
            assert abs(h[-1] - h[-2]) < 1e-3 * abs(h[-1])
        # full batch: sharpness up at the stability limit 2/lr; batch 10: far below it
        assert 0.7 * 2 / lr < rl["sharpness"] < 1.4 * 2 / lr
        assert rs["sharpness"] < 0.4 * 2 / lr
        assert rl["sharpness"] > 2.5 * rs["sharpness"]
        # ... and the loss rises faster around it, along its top eigenvector and at random
        if "slice_eig" in rl:
            rise_l = rl["slice_eig"][[0, -1]].mean() - rl["train_loss"]
            rise_s = rs["slice_eig"][[0, -1]].mean() - rs["train_loss"]
            assert rise_l > 2.5 * rise_s
            assert rl["slice_random"][[0, -1]].min() > rs["slice_random"][[0, -1]].max()
    assert "times sharper" in res.conclusion and "Generalisation gap" in res.conclusion
