"""Model selection: spaces, grid and random search, results independent of n_jobs."""

import csv

import numpy as np
import pytest

from chainrule.config import load_config, validate_search
from chainrule.errors import ConfigError
from chainrule.train import search as S


def test_spaces_grids_and_samples():
    space = S.parse_space({"optim.lr": {"log_uniform": [1e-3, 1e-1], "num": 3},
                           "model": {"hidden": [[8], [16]]},
                           "train.epochs": {"integer": [2, 4]}})
    assert list(space) == ["optim.lr", "model.hidden", "train.epochs"]
    pts = S.grid_points(space)
    assert len(pts) == 3 * 2 * 3
    assert pts[0] == {"optim.lr": pytest.approx(1e-3), "model.hidden": [8], "train.epochs": 2}
    draws = S.sample_space(space, 200, seed=5)
    assert draws == S.sample_space(space, 200, seed=5)
    lrs = np.array([d["optim.lr"] for d in draws])
    assert lrs.min() >= 1e-3 and lrs.max() <= 1e-1
    # log-uniform: about half the draws below the geometric midpoint 1e-2
    assert 0.35 < np.mean(lrs < 1e-2) < 0.65
    assert {d["train.epochs"] for d in draws} == {2, 3, 4}
    assert S.trial_seed(0, 3) == S.trial_seed(0, 3) != S.trial_seed(1, 3)


@pytest.mark.parametrize("spec, match", [
    ({"x": {"uniform": [1.0]}}, r"needs \[low, high\]"),
    ({"x": {"log_uniform": [0.0, 1.0]}}, "positive bounds"),
    ({"x": {"uniform": [0, 1], "gaussian": [0, 1]}}, "exactly one of"),
    ({"x": {"integer": [1.5, 3]}}, "integers"),
    ({"x": 3}, "list of values"),
])
def test_bad_spaces_are_config_errors(spec, match):
    with pytest.raises(ConfigError, match=match):
        S.parse_space(spec)


def test_space_keys_are_checked_against_the_configuration():
    base = load_config()
    with pytest.raises(ConfigError, match="optim.lr.gaussian"):
        S.run_search(base, validate_search({"space": {"optim.lr": {"gaussian": [0, 1]}}}))
    with pytest.raises(ConfigError, match="did you mean 'hidden'"):
        S.run_search(dict(base, model={"name": "mlp"}),
                     validate_search({"space": {"model.hiden": [[4]]}}))


def test_grid_needs_points_for_continuous_ranges():
    with pytest.raises(ConfigError, match="num"):
        S.grid_points({"lr": {"uniform": [0.1, 0.2]}})


def _quadratic(params, seed):
    rng = np.random.default_rng(seed)
    return {"val_loss": (params["x"] - 0.3) ** 2 + 1e-3 * rng.random(), "seed_used": seed}


def test_search_picks_the_best_and_calls_the_test_objective_once(tmp_path):
    calls = []

    def test_obj(params, seed):
        calls.append((params, seed))
        return {"test_loss": 0.0}

    res = S.search(_quadratic, {"x": [0.0, 0.25, 0.5, 1.0]}, method="grid", metric="val_loss",
                   test_objective=test_obj, out_dir=tmp_path)
    assert res.mode == "min" and res.best["x"] == 0.25
    assert calls == [({"x": 0.25}, res.best["seed"])]
    assert [r["seed_used"] for r in res.table] == [S.trial_seed(0, i) for i in range(4)]
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert [float(r["x"]) for r in rows] == [0.0, 0.25, 0.5, 1.0]
    assert (tmp_path / "search.png").read_bytes()[:4] == b"\x89PNG"
    assert "*" in res.format_table().splitlines()[1]


def test_config_search_table_is_the_same_for_one_and_two_jobs(tmp_path):
    base = load_config(overrides={"data.name": "xor", "data.n": 120, "model.name": "mlp",
                                  "model.hidden": [8], "train.epochs": 2})
    s = validate_search({"method": "random", "n_trials": 3, "seed": 4,
                         "space": {"optim.lr": {"log_uniform": [1e-3, 1e-1]},
                                   "model.hidden": [[4], [8, 8]]}})
    one = S.run_search(base, dict(s, n_jobs=1))
    two = S.run_search(base, dict(s, n_jobs=2), out_dir=tmp_path)
    assert one.table == two.table
    assert one.best == two.best and one.test == two.test
    assert "test_accuracy" in two.test
    assert len({r["seed"] for r in one.table}) == 3
