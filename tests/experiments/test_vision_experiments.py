"""The --quick forms of the vision experiments (locality, lottery-ticket, adversarial) assert the
findings they are about."""

import numpy as np

import chainrule.experiments as X


def test_locality_cnn_advantage_needs_ordered_positions(tmp_path, saved):
    res = X.run("locality", quick=True, out=tmp_path, progress=False)
    saved(tmp_path, res)
    assert (tmp_path / "locality.png").exists()
    n = res.numbers
    acc = n["accuracy"]
    # ordered signals: the CNN beats the MLP by a clear margin
    assert n["gap_ordered"] > 0.07
    # one fixed shuffle of the positions: the CNN's lead is gone
    assert n["gap_shuffled"] < 0.02
    assert n["gap_shuffled"] < n["gap_ordered"] - 0.08
    assert acc["CNN/shuffled"] < acc["CNN/ordered"] - 0.08
    # the MLP does not care: same accuracy within noise, and exactly the same once its
    # first-layer columns are permuted with the signal
    assert abs(n["mlp_change"]) < 0.04
    assert n["mlp_relabelled_accuracy"] == acc["MLP/ordered"]
    # the GRU reads in order and loses from the shuffle too
    assert n["gru_drop"] > 0.0
    # random shifts of the training signals help the CNN
    assert n["augment_gain"] > 0.04
    assert np.all(np.sort(n["permutation"]) == np.arange(40))
    assert "CNN" in res.conclusion and "MLP" in res.conclusion


def test_lottery_ticket_rewinding_beats_random_reinit(tmp_path, saved):
    res = X.run("lottery-ticket", quick=True, out=tmp_path, progress=False)
    saved(tmp_path, res)
    assert (tmp_path / "lottery_ticket.png").exists()
    n = res.numbers
    density, ticket, reinit = n["density"], n["rewind_test"], n["reinit_test"]
    # each round prunes a fixed share of what is left
    assert density[0] == 1.0 and np.all(np.diff(density) < 0) and density[-1] < 0.05
    assert ticket[0] == n["dense_accuracy"]
    # the rewound ticket keeps the dense accuracy with at most 30% of the weights...
    assert n["kept_to_density"] <= 0.3
    at = int(np.nonzero(density == n["kept_to_density"])[0][0])
    # ...while the same mask with new random weights has already lost accuracy there
    assert reinit[at] < n["dense_accuracy"] - 0.03
    # rewinding beats re-initialisation at every sparse level, clearly on average
    sparse = density < 0.6
    assert np.all(n["advantage"][sparse] > 0.01)
    assert n["advantage"][sparse].mean() > 0.05
    assert "re-initialisation" in res.conclusion


def test_adversarial_fgsm_direction_not_size_fools_the_network(tmp_path, saved):
    res = X.run("adversarial", quick=True, out=tmp_path, progress=False)
    saved(tmp_path, res)
    assert (tmp_path / "adversarial.png").exists()
    n = res.numbers
    eps = n["eps"]
    k = int(np.argmin(np.abs(eps - 0.1)))
    assert eps[0] == 0 and abs(eps[k] - 0.1) < 1e-6
    assert n["models"]["MLP"]["clean"] > 0.5 and n["models"]["CNN"]["clean"] > 0.7
    for r in n["models"].values():
        fgsm, noise = r["fgsm"], r["random"]
        assert fgsm[0] == noise[0] == r["clean"]
        # a step of 10% of the signals' std along sign(gradient) costs a lot of accuracy...
        assert fgsm[k] < r["clean"] - 0.2
        # ...random signs of the same size cost almost nothing
        assert noise[k] > r["clean"] - 0.03
        assert np.all(fgsm[1:] < noise[1:] - 0.01)
        assert np.all(np.diff(fgsm) <= 0.005) and fgsm[-1] < 0.3
    # the example: right on the clean signal, wrong after FGSM, right after random signs
    label = n["example_label"]
    assert n["example_clean_pred"] == label == n["example_noise_pred"] != n["example_adv_pred"]
    assert np.allclose(np.abs(n["example_perturbation"]), n["example_eps"])
    assert "FGSM" in res.conclusion
