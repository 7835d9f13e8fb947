"""The --quick form of each experiment asserts the finding it is about."""

import json

import chainrule.experiments as X


def test_gradient_check_v_curve_and_wrong_derivative(tmp_path):
    res = X.run("gradient-check", quick=True, out=tmp_path, progress=False)
    n = res.numbers
    assert n["wrong_derivative_caught"]
    c = n["central_error"]
    best = c.argmin()
    # V shape: the best epsilon is interior, and both ends are clearly worse
    assert 0 < best < len(c) - 1
    assert c[0] > 100 * c[best] and c[-1] > 100 * c[best]
    assert 1e-8 < n["best_central_eps"] < 1e-2
    assert (tmp_path / "fd_error_vs_epsilon.png").stat().st_size > 1000
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["conclusion"] == res.conclusion and "caught" in res.conclusion


def test_ad_modes_costs_scale_with_inputs_vs_outputs(tmp_path):
    res = X.run("ad-modes", quick=True, out=tmp_path, progress=False)
    g = res.numbers["growth"]
    # forward mode pays per input, reverse mode per output
    assert g["fwd_in"] > 2 * g["rev_in"]
    assert g["rev_out"] > 2 * g["fwd_out"]


def test_list_names_every_available_experiment(capsys):
    class A:
        list = True
        name = None

    assert X.cli(A()) == 0
    out = capsys.readouterr().out
    assert "gradient-check" in out and "ad-modes" in out
