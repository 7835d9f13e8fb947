"""The --quick forms of the training experiments (learning-rate, width, depth, regularization)
assert the findings they are about."""

import numpy as np

import chainrule.experiments as X


def test_learning_rate_small_good_large_batch_noise_and_decreasing_schedule(tmp_path, saved):
    res = X.run("learning-rate", quick=True, out=tmp_path, progress=False)
    saved(tmp_path, res)
    n = res.numbers
    final, peak, start = n["final_loss"], n["peak_loss"], n["initial_loss"]
    small, good, large = (str(n[k]) for k in ("small_lr", "good_lr", "large_lr"))
    # too small: hundreds of steps and the loss has barely moved; good: it is low
    assert final[small] > 0.7 * start
    assert final[good] < 0.25 * start
    # too large: the loss jumps far above its start and ends worse than not training at all
    assert peak[large] > 10 * start
    assert not final[large] < start and not final[large] < 5 * final[good]
    # per-example SGD is bumpy, full-batch descent goes down on every step
    b = n["batches"]
    per, mini, full = b["1"], b["10"], b[str(max(int(k) for k in b))]
    assert per["frac_up"] > 0.3 and np.all(np.diff(full["loss"]) <= 0)
    assert full["roughness"] < 1.01 and per["roughness"] > 10 * full["roughness"]
    assert per["roughness"] > mini["roughness"] > full["roughness"]
    # ... and, per epoch, gets further than full batches
    assert per["loss"][-1] < full["loss"][-1]
    # constant rate: SGD stalls at a noise floor; decreasing rates end far below it
    s = n["schedules"]
    const = s["constant"]
    for name in ("inverse time", "step (halve every 1/6 of the run)"):
        assert s[name]["final"] < const["final"] / 20
        assert s[name]["last_epoch_mean"] < const["last_epoch_mean"] / 20
    assert "worse than" in res.conclusion


def _rank_correlation(a, b):
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def test_width_accuracy_rises_with_width_and_double_descent_peaks_at_threshold(tmp_path, saved):
    res = X.run("width", quick=True, out=tmp_path, progress=False)
    saved(tmp_path, res)
    n = res.numbers
    widths, tr, te = n["widths"], n["train_acc"], n["test_acc"]
    # training (and test) accuracy rise with the width of the hidden layer
    assert _rank_correlation(widths, tr) > 0.8
    assert tr[-3:].min() > tr[:3].max() + 0.2 and tr[-1] > 0.9
    assert te[-3:].min() > te[:3].max() + 0.2
    # at a fixed number of steps there is a band of good learning rates: both ends are worse
    wide = n["lr_sweep"]["128"]["test"]
    assert wide[0] < wide.max() - 0.2 and wide[-1] < wide.max() - 0.1
    # double descent: the test error peaks where the features just suffice to interpolate
    dd, n_train = n["double_descent"], n["n_train"]
    f, mse, err = dd["features"], dd["test_mse"], dd["test_error"]
    assert 0.8 * n_train <= n["peak_features"] <= 1.25 * n_train
    assert dd["train_error"][f >= n_train].max() == 0.0 and dd["train_error"][0] > 0.1
    small = f == n["best_small_features"]
    peak = f == n["peak_features"]
    assert mse[peak][0] > 10 * max(mse[small][0], mse[-1])
    assert err[peak][0] > err[small][0] + 0.1 and err[peak][0] > err[-1] + 0.08
    # ... and comes down again past the threshold
    assert mse[-1] < 2 * mse[f < n_train / 2].min() and "came down again" in res.conclusion


def test_depth_parameter_counts_and_matched_budget_accuracy(tmp_path, saved):
    res = X.run("depth", quick=True, out=tmp_path, progress=False)
    saved(tmp_path, res)
    n = res.numbers
    depths, counts, budget = n["depths"], n["counts"], n["budget"]
    assert depths == [1, 2, 3]
    for d in depths:
        c = counts[str(d)]
        sizes = c["sizes"]
        assert sizes[0] == 784 and sizes[-1] == 10 and len(sizes) == d + 2
        # counted from the models' parameters; the closed form, written out here
        weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
        assert c["without_bias"] == weights
        assert c["with_bias"] == weights + sum(sizes[1:])
        # the budgets match within 5%
        assert abs(c["with_bias"] - budget) <= 0.05 * budget
    acc = n["accuracy"]
    tw = [acc[f"twisted sectors/{d}"] for d in depths]
    se = [acc[f"sectors/{d}"]["test"] for d in depths]
    # a class that needs composition: deeper is better at the same budget, train and test
    assert tw[1]["test"] > tw[0]["test"] + 0.07 and tw[2]["test"] > tw[0]["test"] + 0.15
    assert tw[2]["train"] > tw[0]["train"] + 0.1
    # a class one hidden layer represents directly: depth makes no difference
    assert min(se) > 0.75 and max(se) - min(se) < 0.05
    assert "matched the formula" in res.conclusion


def test_regularization_l1_is_sparse_l2_is_not_and_early_stopping_restores_best(tmp_path, saved):
    res = X.run("regularization", quick=True, out=tmp_path, progress=False)
    saved(tmp_path, res)
    n = res.numbers
    lams, l1, l2 = n["lambdas"], n["sweep"]["L1"], n["sweep"]["L2"]
    assert lams[0] == 0 and len(lams) >= 4
    pos = lams > 0
    # at the same lambda, L1 leaves many more weights near zero than L2 ...
    assert np.all(l1["near_zero"][pos] > l2["near_zero"][pos] + 0.15)
    strong = lams >= 3e-3
    assert np.all(l1["near_zero"][strong] > 3 * l2["near_zero"][strong])
    assert l1["near_zero"][strong].max() > 0.8 and l2["near_zero"].max() < 0.5
    # ... more of them the larger lambda
    assert np.all(np.diff(l1["near_zero"]) > 0) and l1["near_zero"][-1] > l1["near_zero"][0] + 0.7
    # the weights L1 keeps are those from the informative inputs
    i = list(lams).index(n["shown_lambda"])
    assert l1["informative_share"][i] > 1.5 * l2["informative_share"][i]
    assert l1["test_acc"].max() > l1["test_acc"][0] + 0.03
    # early stopping: the restored weights beat the final, overfit ones on validation data
    es = n["early_stopping"]
    assert es["stop_epoch"] - es["best_epoch"] == es["patience"]
    assert es["stop_epoch"] < len(es["val_loss"]) - 1
    assert es["restored_val_loss"] == es["val_loss"].min()
    assert es["restored_val_loss"] < 0.8 * es["final_val_loss"]
    assert es["train_loss"][-1] < es["train_loss"][es["best_epoch"]] - 0.1
