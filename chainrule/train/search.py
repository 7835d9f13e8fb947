"""Model selection: grid search and random search over a configuration.

A *space* maps dotted configuration keys to the values to try::

    {"optim.lr": LogUniform(1e-4, 1e-1),       # random search draws from distributions
     "model.hidden": Choice([[32], [64, 64]]),
     "train.epochs": Integer(5, 20),
     "optim.name": ["sgd", "adam"]}            # a plain list: grid values / uniform choice

In a TOML file the same space reads ``"optim.lr" = {log_uniform = [1e-4, 1e-1]}``,
``"optim.name" = ["sgd", "adam"]`` (also ``choice``, ``uniform``, ``integer``; add ``num = 5``
to put evenly spaced points of a range on a grid).

Each trial trains on the training split with its own seed, derived from the base seed and the
trial's index only, and is scored on the validation split. Trials may run in parallel worker
processes (``n_jobs``; the ``spawn`` start method, one BLAS thread per worker); the parameters,
seeds and therefore the results table do not depend on ``n_jobs``. The best trial is then
re-run once and scored on the test split.

Example
-------
>>> space = {"optim.lr": LogUniform(1e-3, 1e-1), "optim.name": ["sgd", "adam"]}
>>> [sorted(p) for p in sample_space(space, 2, seed=0)]
[['optim.lr', 'optim.name'], ['optim.lr', 'optim.name']]
>>> len(grid_points({"a": [1, 2], "b": [3, 4, 5]}))
6
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import csv
import functools
import io
import itertools
import json
import math
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from ..errors import ConfigError

__all__ = [
    "Choice",
    "Integer",
    "LogUniform",
    "SearchResult",
    "Uniform",
    "grid_points",
    "grid_search",
    "parse_space",
    "random_search",
    "run_search",
    "sample_space",
    "search",
    "trial_seed",
]


class Distribution:
    """A set of values to search: ``sample(rng)`` draws one; ``grid()`` lists grid points."""

    def sample(self, rng: np.random.Generator):
        raise NotImplementedError

    def grid(self) -> list:
        raise NotImplementedError

    @property
    def log_scale(self) -> bool:
        return False


class Choice(Distribution):
    """One of a list of values, each equally likely.

    Examples
    --------
    >>> Choice(["sgd", "adam"]).grid()
    ['sgd', 'adam']
    """

    def __init__(self, values):
        values = list(values)
        if not values:
            raise ConfigError("search: a choice needs at least one value")
        self.values = values

    def sample(self, rng):
        return self.values[int(rng.integers(len(self.values)))]

    def grid(self):
        return list(self.values)

    def __repr__(self):
        return f"Choice({self.values!r})"


def _bounds(cls, low, high, positive=False):
    for v in (low, high):
        if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v):
            raise ConfigError(f"search: {cls} bounds must be finite numbers, got {low!r}, "
                              f"{high!r}")
    if not low <= high:
        raise ConfigError(f"search: {cls} needs low <= high, got [{low}, {high}]")
    if positive and low <= 0:
        raise ConfigError(f"search: {cls} needs positive bounds, got [{low}, {high}]")


class Uniform(Distribution):
    """A float drawn uniformly from ``[low, high]``; ``num`` grid points evenly spaced.

    Examples
    --------
    >>> Uniform(0.0, 1.0, num=3).grid()
    [0.0, 0.5, 1.0]
    """

    def __init__(self, low: float, high: float, num: int | None = None):
        _bounds("uniform", low, high)
        self.low, self.high, self.num = float(low), float(high), num

    def sample(self, rng):
        return float(rng.uniform(self.low, self.high))

    def grid(self):
        if not self.num:
            raise ConfigError(f"search: grid search over {self!r} needs a number of points; "
                              "add num = ... or give a list of values")
        return [float(v) for v in np.linspace(self.low, self.high, int(self.num))]

    def __repr__(self):
        return f"Uniform({self.low}, {self.high})"


class LogUniform(Uniform):
    """A positive float whose logarithm is uniform on ``[log low, log high]``.

    Examples
    --------
    >>> [round(v, 6) for v in LogUniform(1e-3, 1e-1, num=3).grid()]
    [0.001, 0.01, 0.1]
    """

    def __init__(self, low: float, high: float, num: int | None = None):
        _bounds("log_uniform", low, high, positive=True)
        self.low, self.high, self.num = float(low), float(high), num

    @property
    def log_scale(self):
        return True

    def sample(self, rng):
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))

    def grid(self):
        if not self.num:
            raise ConfigError(f"search: grid search over {self!r} needs a number of points; "
                              "add num = ... or give a list of values")
        return [float(v) for v in np.geomspace(self.low, self.high, int(self.num))]

    def __repr__(self):
        return f"LogUniform({self.low}, {self.high})"


class Integer(Distribution):
    """An integer drawn uniformly from ``low..high`` (both included).

    Examples
    --------
    >>> Integer(1, 3).grid()
    [1, 2, 3]
    """

    def __init__(self, low: int, high: int, num: int | None = None):
        for v in (low, high):
            if isinstance(v, bool) or not isinstance(v, Integral):
                raise ConfigError(f"search: integer bounds must be integers, got {low!r}, "
                                  f"{high!r}")
        if low > high:
            raise ConfigError(f"search: integer needs low <= high, got [{low}, {high}]")
        self.low, self.high, self.num = int(low), int(high), num

    def sample(self, rng):
        return int(rng.integers(self.low, self.high + 1))

    def grid(self):
        if self.num:
            pts = np.linspace(self.low, self.high, int(self.num))
            return sorted({int(round(v)) for v in pts})
        return list(range(self.low, self.high + 1))

    def __repr__(self):
        return f"Integer({self.low}, {self.high})"


_KINDS = {"choice": Choice, "uniform": Uniform, "log_uniform": LogUniform, "integer": Integer}


def _parse_one(key: str, spec) -> Distribution:
    if isinstance(spec, Distribution):
        return spec
    if isinstance(spec, (list, tuple)):
        return Choice(spec)
    if isinstance(spec, dict):
        kinds = [k for k in spec if k in _KINDS]
        extra = [k for k in spec if k not in _KINDS and k != "num"]
        if len(kinds) != 1 or extra:
            raise ConfigError(
                f"search: '{key}' must be a list of values or a table with exactly one of "
                f"{', '.join(_KINDS)} (and optionally num), got keys {sorted(spec)}")
        kind = kinds[0]
        args = spec[kind]
        num = spec.get("num")
        if num is not None and (isinstance(num, bool) or not isinstance(num, Integral)
                                or num < 1):
            raise ConfigError(f"search: '{key}.num' must be a positive integer, got {num!r}")
        if kind == "choice":
            if not isinstance(args, (list, tuple)):
                raise ConfigError(f"search: '{key}' choice needs a list, got {args!r}")
            return Choice(args)
        if not isinstance(args, (list, tuple)) or len(args) != 2:
            raise ConfigError(f"search: '{key}' {kind} needs [low, high], got {args!r}")
        return _KINDS[kind](args[0], args[1], num)
    raise ConfigError(f"search: '{key}' must be a list of values or a distribution table, got "
                      f"{spec!r}")


def parse_space(space: dict, prefix: str = "") -> dict:
    """Turn a space written as plain data (TOML/JSON) into distributions.

    Nested tables are read as dotted keys, so ``[search.space.optim] lr = [...]`` equals
    ``"optim.lr" = [...]``.

    Examples
    --------
    >>> parse_space({"optim.lr": {"log_uniform": [1e-4, 1e-1]}, "model": {"hidden": [[8], [16]]}})
    {'optim.lr': LogUniform(0.0001, 0.1), 'model.hidden': Choice([[8], [16]])}
    """
    out = {}
    for k, v in space.items():
        key = prefix + k
        if isinstance(v, dict) and not any(kind in v for kind in _KINDS):
            out.update(parse_space(v, key + "."))
        else:
            out[key] = _parse_one(key, v)
    return out


def grid_points(space: dict) -> list[dict]:
    """Every combination of the space's grid values, the first key varying slowest.

    Examples
    --------
    >>> grid_points({"a": [1, 2], "b": ["x"]})
    [{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'x'}]
    """
    space = parse_space(space)
    keys = list(space)
    return [dict(zip(keys, combo))
            for combo in itertools.product(*(space[k].grid() for k in keys))]


def sample_space(space: dict, n: int, seed: int = 0) -> list[dict]:
    """``n`` random configurations drawn in order from one generator seeded with ``seed``.

    Examples
    --------
    >>> sample_space({"x": Integer(0, 9)}, 3, seed=1) == sample_space({"x": Integer(0, 9)}, 3,
    ...                                                                 seed=1)
    True
    """
    space = parse_space(space)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5EA7C4]))
    return [{k: d.sample(rng) for k, d in space.items()} for _ in range(int(n))]


def trial_seed(base_seed: int, index: int) -> int:
    """The seed of trial ``index``: a function of the base seed and the index only.

    Examples
    --------
    >>> trial_seed(0, 1) == trial_seed(0, 1) != trial_seed(0, 2)
    True
    """
    return int(np.random.SeedSequence([int(base_seed), int(index)]).generate_state(1)[0]
               % (2**31 - 1))


@dataclass
class SearchResult:
    """The outcome of a search.

    Attributes
    ----------
    table : list of dict
        One row per trial, in trial order: ``trial`` (1, 2, ...), ``seed``, the parameters,
        the scores.
    metric, mode : str
        What was optimised and in which direction.
    best : dict
        The best row.
    test : dict or None
        Test-split scores of the best configuration, re-run once.
    seconds : float
        Wall time of the whole search.
    """

    table: list
    metric: str
    mode: str
    params: list
    best: dict
    test: dict | None = None
    seconds: float = 0.0
    files: dict = field(default_factory=dict)

    def columns(self) -> list[str]:
        cols = []
        for row in self.table:
            for k in row:
                if k not in cols:
                    cols.append(k)
        return cols

    def to_csv(self, path=None) -> str:
        """The table as CSV text (and into ``path`` if given)."""
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.columns(), lineterminator="\n")
        w.writeheader()
        for row in self.table:
            w.writerow({k: _cell(v) for k, v in row.items()})
        text = buf.getvalue()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def format_table(self, max_rows: int | None = None) -> str:
        """The table as aligned text, best first, the best row marked with ``*``."""
        cols = [c for c in self.columns() if c != "seed"]
        reverse = self.mode == "max"
        rows = sorted(self.table, key=lambda r: _sort_key(r.get(self.metric), reverse))
        if max_rows:
            rows = rows[:max_rows]
        cells = [[_fmt(r.get(c)) for c in cols] for r in rows]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
        lines = ["  " + "  ".join(c.rjust(w) for c, w in zip(cols, widths))]
        for r, row in zip(rows, cells):
            mark = "* " if r["trial"] == self.best["trial"] else "  "
            lines.append(mark + "  ".join(v.rjust(w) for v, w in zip(row, widths)))
        return "\n".join(lines)

    def plot(self, path) -> Path:
        """Scores against each parameter (log axis for log-uniform ones) into a PNG."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure

        keys = self.params
        fig = Figure(figsize=(4 * max(1, len(keys)), 3.3), dpi=100)
        for i, k in enumerate(keys):
            ax = fig.add_subplot(1, max(1, len(keys)), i + 1)
            xs = [r.get(k) for r in self.table]
            ys = [r.get(self.metric) for r in self.table]
            numeric = all(isinstance(x, Real) and not isinstance(x, bool) for x in xs)
            if numeric:
                pos = xs
            else:
                labels = []
                for x in xs:
                    if str(x) not in labels:
                        labels.append(str(x))
                pos = [labels.index(str(x)) for x in xs]
                ax.set_xticks(range(len(labels)), labels, rotation=20, fontsize=8)
            ax.scatter(pos, [np.nan if y is None else y for y in ys], s=22)
            bi = self.table.index(self.best)
            ax.scatter([pos[bi]], [ys[bi]], s=80, facecolors="none", edgecolors="red",
                       label="best")
            if numeric and all(x > 0 for x in xs) and max(xs) / min(xs) > 50:
                ax.set_xscale("log")
            ax.set_xlabel(k)
            ax.set_ylabel(self.metric)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
        return path


def _sort_key(v, reverse):
    if not isinstance(v, Real) or math.isnan(v):
        return math.inf
    return -v if reverse else v


def _cell(v):
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v)
    return v


def _fmt(v) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v)
    return str(v)


@contextlib.contextmanager
def _single_threaded_children():
    """Workers inherit the environment at start-up; one BLAS thread each avoids
    oversubscribing the cores when several trials run at once."""
    names = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {n: os.environ.get(n) for n in names}
    for n in names:
        os.environ[n] = "1"
    try:
        yield
    finally:
        for n, v in saved.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


def _call(objective, params, seed):
    return objective(params, seed)


def search(objective, space: dict, method: str = "random", n_trials: int = 10, n_jobs: int = 1,
           seed: int = 0, metric: str = "val_accuracy", mode: str = "auto",
           test_objective=None, out_dir=None, log=None) -> SearchResult:
    """Run a grid or random search.

    Parameters
    ----------
    objective : callable
        ``objective(params, seed) -> dict`` of scores (containing ``metric``). With
        ``n_jobs > 1`` it must be picklable: a module-level function or a
        ``functools.partial`` of one.
    space : dict
        Dotted keys to lists or distributions (see the module docstring).
    method : {"grid", "random"}
    n_trials : int
        Number of random draws (ignored by grid search, which tries every combination).
    n_jobs : int
        Worker processes; 1 runs in this process.
    seed : int
        Base seed: fixes the random draws and every trial's seed.
    metric : str
        Score to optimise, e.g. ``"val_accuracy"`` or ``"val_loss"``.
    mode : {"auto", "min", "max"}
        ``auto`` maximises accuracy-like names and minimises the rest.
    test_objective : callable, optional
        ``test_objective(params, seed) -> dict``, called once for the best trial.
    out_dir : str or PathLike, optional
        Writes ``results.csv``, ``results.json`` and ``search.png`` there.
    log : callable, optional
        Progress messages (one per finished trial).

    Examples
    --------
    >>> def f(params, seed):
    ...     return {"score": -(params["x"] - 2) ** 2}
    >>> r = search(f, {"x": [0, 1, 2, 3]}, method="grid", metric="score", mode="max")
    >>> r.best["x"]
    2
    """
    if method not in ("grid", "random"):
        raise ConfigError(f"search: method must be 'grid' or 'random', got {method!r}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, Integral) or n_jobs < 1:
        raise ConfigError(f"search: n_jobs must be a positive integer, got {n_jobs!r}")
    if mode == "auto":
        mode = "max" if any(k in metric for k in ("acc", "f1", "auc")) else "min"
    if mode not in ("min", "max"):
        raise ConfigError(f"search: mode must be 'auto', 'min' or 'max', got {mode!r}")
    space = parse_space(space)
    points = grid_points(space) if method == "grid" else sample_space(space, n_trials, seed)
    seeds = [trial_seed(seed, i) for i in range(len(points))]
    t0 = time.perf_counter()
    results: list = [None] * len(points)

    def done(i, scores):
        if not isinstance(scores, dict) or metric not in scores:
            have = sorted(scores) if isinstance(scores, dict) else type(scores).__name__
            raise ConfigError(f"search: trial {i + 1} did not report '{metric}'; it reported "
                              f"{have}")
        results[i] = scores
        if log:
            shown = ", ".join(f"{k}={_fmt(v)}" for k, v in points[i].items())
            log(f"trial {i + 1}/{len(points)}: {shown} -> {metric} {_fmt(scores[metric])}")

    if n_jobs == 1 or len(points) == 1:
        for i, (p, s) in enumerate(zip(points, seeds)):
            done(i, objective(dict(p), s))
    else:
        ctx = multiprocessing.get_context("spawn")
        with _single_threaded_children(), cf.ProcessPoolExecutor(
                max_workers=min(n_jobs, len(points)), mp_context=ctx) as pool:
            futures = {pool.submit(_call, objective, dict(p), s): i
                       for i, (p, s) in enumerate(zip(points, seeds))}
            for fut in cf.as_completed(futures):
                done(futures[fut], fut.result())

    table = [{"trial": i + 1, "seed": s, **p, **r}
             for i, (p, s, r) in enumerate(zip(points, seeds, results))]
    reverse = mode == "max"
    best = min(table, key=lambda r: _sort_key(r[metric], reverse))
    test = None
    if test_objective is not None:
        bp = {k: best[k] for k in space}
        test = test_objective(bp, best["seed"])
    result = SearchResult(table, metric, mode, list(space), best, test,
                          time.perf_counter() - t0)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        result.to_csv(out / "results.csv")
        (out / "results.json").write_text(json.dumps(
            {"metric": metric, "mode": mode, "method": method, "seed": seed,
             "table": table, "best": best, "test": test, "seconds": result.seconds},
            indent=2, default=_cell) + "\n", encoding="utf-8")
        result.files = {"csv": str(out / "results.csv"), "json": str(out / "results.json")}
        result.files["plot"] = str(result.plot(out / "search.png"))
    return result


def grid_search(objective, space: dict, **kwargs) -> SearchResult:
    """:func:`search` with ``method="grid"``."""
    return search(objective, space, method="grid", **kwargs)


def random_search(objective, space: dict, n_trials: int = 10, **kwargs) -> SearchResult:
    """:func:`search` with ``method="random"``."""
    return search(objective, space, method="random", n_trials=n_trials, **kwargs)


def run_search(base_cfg: dict, search_cfg: dict, out_dir=None, log=None) -> SearchResult:
    """Search over a run configuration (what ``chainrule search --config`` runs).

    Each trial is :func:`chainrule.train.runner.trial` on ``base_cfg`` with the trial's
    parameters; the best is re-trained once and scored on the test split.

    Examples
    --------
    >>> from chainrule.config import load_config, validate_search
    >>> base = load_config(overrides={"data.name": "moons", "model.name": "mlp"})
    >>> s = validate_search({"method": "grid", "space": {"optim.lr": [0.01, 0.1]}})
    >>> run_search(base, s).best["optim.lr"]  # doctest: +SKIP
    0.1
    """
    from ..config import check_space
    from .runner import trial

    check_space(base_cfg, parse_space(search_cfg["space"]))
    objective = functools.partial(trial, base_cfg)
    test_objective = functools.partial(trial, base_cfg, test=True)
    return search(objective, search_cfg["space"], method=search_cfg["method"],
                  n_trials=search_cfg["n_trials"], n_jobs=search_cfg["n_jobs"],
                  seed=search_cfg["seed"], metric=search_cfg["metric"], mode=search_cfg["mode"],
                  test_objective=test_objective, out_dir=out_dir, log=log)
