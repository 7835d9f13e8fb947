"""The --quick forms of the initialisation experiments assert the findings they are about."""

import numpy as np

import chainrule.experiments as X


def test_zero_init_never_breaks_symmetry_random_init_learns(tmp_path, saved):
    res = X.run("zero-init", quick=True, out=tmp_path, progress=False)
    saved(tmp_path, res)
    curves = res.numbers["curves"]
    for act in ("relu", "tanh"):
        z, c, r = (curves[f"{act}/{k}"] for k in ("zero", "constant", "random"))
        # all-zero: the loss does not move and no gradient reaches the hidden layers
        assert np.all(z["loss"] == z["loss"][0])
        assert z["hidden_grad_norm"].max() == 0.0
        # constant: the hidden units are still identical after training
        assert c["unit_spread"].max() == 0.0
        # random: learns two moons
        assert r["loss"][-1] < 0.25 * r["loss"][0]
        assert r["accuracy"] > 0.95 > c["accuracy"]
    assert "exactly zero" in res.conclusion


def test_init_scale_he_for_relu_fan_in_for_tanh_fixed_scales_vanish_or_explode(tmp_path, saved):
    res = X.run("init-scale", quick=True, out=tmp_path, progress=False)
    saved(tmp_path, res)
    r = res.numbers["layers"]
    # zero: nothing passes forward or backward
    for act in ("relu", "tanh"):
        z = r[f"{act}/zero"]
        assert z["act_std"].max() == z["back_std"].max() == z["weight_grad_std"].max() == 0.0
    # ReLU: He keeps the activations and the backward signal within a factor 3 over 20 layers;
    # the schemes without ReLU's factor 2 lose them geometrically (about 2^-10)
    assert 1 / 3 < r["relu/he"]["act_ratio"] < 3 and 1 / 5 < r["relu/he"]["back_ratio"] < 5
    for scheme in ("fan-in", "fan-out", "glorot"):
        assert r[f"relu/{scheme}"]["act_ratio"] < 0.01 * r["relu/he"]["act_ratio"]
        assert r[f"relu/{scheme}"]["back_ratio"] < 0.01 * r["relu/he"]["back_ratio"]
    # tanh: fan-in and Glorot keep the activations within a factor 10, unsaturated
    for scheme in ("fan-in", "glorot"):
        t = r[f"tanh/{scheme}"]
        assert 0.1 < t["act_ratio"] <= 1.0 and 0.1 < t["back_ratio"] < 10
        assert t["saturated"].max() < 0.05
    # too small vanishes, too large explodes (ReLU) or saturates (tanh)
    for act in ("relu", "tanh"):
        assert r[f"{act}/too small"]["act_ratio"] < 1e-10
        assert r[f"{act}/too small"]["back_ratio"] < 1e-10
    assert r["relu/too large"]["act_ratio"] > 1e10 and r["relu/too large"]["back_ratio"] > 1e10
    assert r["tanh/too large"]["saturated"].mean() > 0.5
    assert r["tanh/too large"]["back_ratio"] > 1e3
    assert "exactly zero" in res.conclusion


def test_random_features_accuracy_rises_with_units_and_classes_separate_along_w(tmp_path, saved):
    res = X.run("random-features", quick=True, out=tmp_path, progress=False)
    numbers = saved(tmp_path, res)
    assert len(numbers["figures"]) == 2
    n = res.numbers
    units, tr, te = n["units"], n["train_acc"], n["test_acc"]
    assert units[0] == 2 and units[-1] == 1000
    many = units >= 50
    # two random units are too few; from 50 on the output layer separates the moons
    assert tr[0] < 0.9 and tr[many].min() > 0.95 and tr[many].min() > tr[0] + 0.08
    assert te[many].min() > 0.9 and te[many].min() > te[0] + 0.05
    # more random units than there are lines needed: beyond the best line in the input plane
    assert tr[many].min() > n["acc_best_input_line"] + 0.04
    # in hidden space the classes separate along w and overlap orthogonally to it
    assert n["acc_along_w"] > 0.95 and n["acc_orthogonal"] < 0.75


def test_hidden_units_two_solve_xor_not_spirals_and_kinks_at_origin_train_worse(tmp_path, saved):
    res = X.run("hidden-units", quick=True, out=tmp_path, progress=False)
    numbers = saved(tmp_path, res)
    assert len(numbers["figures"]) == 2
    acc, runs = res.numbers["accuracy"], res.numbers["runs"]
    # 2 hidden units: enough for XOR (from the best start), not for 1.5-turn spirals
    assert acc["xor/2"] > 0.97 and acc["spirals/2"] < 0.75
    # 10 units with random offsets get further on the spirals, 100 solve them
    assert acc["spirals/2"] < acc["spirals/10/random"] < 0.95 < acc["spirals/100/random"]
    # kinks all through the origin: the same nets train to a higher loss and lower accuracy
    for h in ("10", "100"):
        bad, good = runs[f"spirals/{h}/origin"], runs[f"spirals/{h}/random"]
        assert bad["loss"][-1] > 1.2 * good["loss"][-1]
        assert bad["accuracy"] < good["accuracy"] - 0.05
    bad, good = runs["spirals/100/origin"], runs["spirals/100/random"]
    assert bad["loss"][-1] > 3 * good["loss"][-1] and bad["accuracy"] < 0.92
    # ... because the kinks stay near the origin instead of spreading over the data
    assert np.median(bad["kink_distance"]) < 0.25 * np.median(good["kink_distance"])
    # on XOR, whose class border passes through the origin, both starts succeed
    assert min(acc[f"xor/{h}/{i}"] for h in ("10", "100") for i in ("origin", "random")) > 0.97
