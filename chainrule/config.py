"""Run configurations: TOML files, command-line overrides and their validation.

A run configuration is a nested dict with the tables ``data``, ``model``, ``optim``,
``schedule`` and ``train`` plus the top-level keys ``seed`` and ``out``. Every key has a default
(:data:`DEFAULTS`), so a file only needs what differs::

    seed = 1

    [data]
    name = "moons"        # mnist1d, blobs, moons, circles, spirals, xor, idx, sentiment
    batch_size = 32

    [model]
    name = "mlp"          # logistic, mlp, cnn, rnn, gru, lstm, transformer
    hidden = [64, 64]     # any option of the model (see chainrule.train.models)

    [optim]
    name = "sgd"          # sgd, adam, adamw, rmsprop, adagrad
    lr = 0.1
    momentum = 0.9

    [schedule]
    name = "cosine"       # none, step, multistep, exponential, cosine, linear, polynomial,
                          # constant, inverse_time, power, plateau
    [train]
    epochs = 20
    l2 = 1e-4

:func:`load_config` reads a file (TOML; ``.json`` works too), merges it over the defaults,
applies overrides given as dotted keys (``{"optim.lr": 0.05}``) and validates the result.
Unknown keys, wrong types and out-of-range values raise
:class:`~chainrule.errors.ConfigError` naming the key, what was expected and what was found.
:func:`dump_toml` writes a configuration back as TOML, so a run folder's ``config.toml`` can be
passed to ``chainrule train --config`` to repeat the run.

Example
-------
>>> cfg = validate_config({"model": {"name": "mlp"}, "optim": {"lr": 0.05}})
>>> cfg["optim"]["lr"], cfg["data"]["name"]
(0.05, 'mnist1d')
>>> validate_config({"optim": {"lr": -1.0}})
Traceback (most recent call last):
...
chainrule.errors.ConfigError: config: 'optim.lr' must be > 0, got -1.0
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import sys
from numbers import Integral, Real
from pathlib import Path

from .errors import ConfigError

__all__ = [
    "DATASETS",
    "DEFAULTS",
    "INITS",
    "OPTIMIZERS",
    "SCHEDULES",
    "SEARCH_DEFAULTS",
    "check_space",
    "dump_toml",
    "load_config",
    "load_search_config",
    "parse_value",
    "read_config_file",
    "set_path",
    "validate_config",
    "validate_search",
]

DATASETS = ("mnist1d", "blobs", "moons", "circles", "spirals", "xor", "idx", "sentiment")
"""Data set names ``data.name`` accepts."""

OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
              "adagrad": "Adagrad"}
"""``optim.name`` values and the :mod:`chainrule.optim` classes they select."""

SCHEDULES = {
    "none": None,
    "step": "StepLR",
    "multistep": "MultiStepLR",
    "exponential": "ExponentialLR",
    "cosine": "CosineAnnealingLR",
    "linear": "LinearLR",
    "polynomial": "PolynomialLR",
    "constant": "ConstantLR",
    "inverse_time": "InverseTimeLR",
    "power": "PowerLR",
    "plateau": "ReduceLROnPlateau",
}
"""``schedule.name`` values and the :mod:`chainrule.optim.lr_scheduler` classes they select."""

INITS = ("default", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
         "orthogonal", "fan_in_normal", "notes_uniform", "zeros")
"""``train.init`` values: ``default`` keeps each layer's own (PyTorch's) initialisation, other
names apply the :mod:`chainrule.nn.init` function of that name (``kaiming_*`` with the ReLU gain)
to every weight matrix or kernel; biases keep their layer's initialisation."""

# Each leaf: (kind, default, constraint). kind: int, float, bool, str, list_int, list_float,
# list_str, table (free-form options checked by the part that uses them), str? (optional).
_SCHEMA = {
    "seed": ("int", 0, ">=0"),
    "out": ("str?", None, None),
    "data": {
        "name": ("str", "mnist1d", DATASETS),
        "path": ("str?", None, None),
        "batch_size": ("int", 100, ">=1"),
        "val_fraction": ("float", 0.1, "[0,1)"),
        "test_fraction": ("float", 0.2, "(0,1)"),
        "standardize": ("bool", False, None),
        "n": ("int", 1000, ">=1"),
        "noise": ("float?", None, ">=0"),
        "classes": ("int?", None, ">=2"),
        "max_len": ("int", 32, ">=1"),
        "min_freq": ("int", 1, ">=1"),
        "seed": ("int", 42, ">=0"),
        "shuffle": ("bool", True, None),
        "drop_last": ("bool", False, None),
    },
    "model": {
        "name": ("str", "cnn", None),
        "*": "model options",
    },
    "optim": {
        "name": ("str", "adam", tuple(OPTIMIZERS)),
        "lr": ("float", 1e-2, ">0"),
        "weight_decay": ("float", 0.0, ">=0"),
        "momentum": ("float?", None, ">=0"),
        "nesterov": ("bool?", None, None),
        "dampening": ("float?", None, ">=0"),
        "betas": ("list_float?", None, "[0,1)"),
        "eps": ("float?", None, ">0"),
        "alpha": ("float?", None, "[0,1)"),
        "centered": ("bool?", None, None),
        "amsgrad": ("bool?", None, None),
        "lr_decay": ("float?", None, ">=0"),
    },
    "schedule": {
        "name": ("str", "cosine", tuple(SCHEDULES)),
        "interval": ("str", "epoch", ("epoch", "step")),
        "*": "schedule options",
    },
    "train": {
        "epochs": ("int", 60, ">=1"),
        "loss": ("str", "cross_entropy", ("cross_entropy",)),
        "metrics": ("list_str", ["accuracy"], None),
        "l1": ("float", 0.0, ">=0"),
        "l2": ("float", 0.0, ">=0"),
        "init": ("str", "default", INITS),
        "clip_grad_norm": ("float?", None, ">0"),
        "detect_anomaly": ("bool", False, None),
        "on_nonfinite": ("str", "stop", ("raise", "stop")),
        "patience": ("int", 0, ">=0"),
        "monitor": ("str", "val_accuracy", None),
        "restore_best": ("bool", True, None),
        "checkpoint_every": ("int", 1, ">=1"),
        "keep_last": ("int", 2, ">=1"),
        "progress": ("bool", True, None),
    },
}

_SEARCH_SCHEMA = {
    "method": ("str", "random", ("grid", "random")),
    "n_trials": ("int", 10, ">=1"),
    "n_jobs": ("int", 1, ">=1"),
    "seed": ("int", 0, ">=0"),
    "metric": ("str", "val_accuracy", None),
    "mode": ("str", "auto", ("auto", "min", "max")),
    "out": ("str?", None, None),
    "space": "search space",
}


def _defaults(schema) -> dict:
    out = {}
    for k, spec in schema.items():
        if k == "*" or isinstance(spec, str):
            continue
        out[k] = _defaults(spec) if isinstance(spec, dict) else copy.deepcopy(spec[1])
    return out


DEFAULTS = _defaults(_SCHEMA)
"""The default run configuration (what ``chainrule train`` with no arguments runs)."""

SEARCH_DEFAULTS = _defaults({k: v for k, v in _SEARCH_SCHEMA.items() if k != "space"})


# --------------------------------------------------------------------------- reading


def _toml_loads(text: str, source: str) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - depends on the Python version
        try:
            import tomli as tomllib
        except ImportError:
            raise ConfigError("reading TOML on Python 3.10 needs the 'tomli' package: "
                              "pip install tomli (or chainrule[train])") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {source} is not valid TOML: {exc}") from None


def read_config_file(path) -> dict:
    """Read a TOML (or ``.json``) file into a dict, without validating it.

    Examples
    --------
    >>> read_config_file("/nonexistent.toml")
    Traceback (most recent call last):
    ...
    chainrule.errors.ConfigError: config file /nonexistent.toml does not exist
    """
    path = Path(path).expanduser()
    if path.is_dir():
        for name in ("config.toml", "config.json"):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise ConfigError(f"config: {path} is a directory without config.toml; pass the "
                              "file itself")
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"config file {path} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path} must hold a JSON object at the top level")
        return data
    return _toml_loads(text, str(path))


def parse_value(text: str):
    """A command-line value as TOML would read it: ``3`` int, ``0.1`` float, ``true`` bool,
    ``[1, 2]`` list, anything else a string.

    Examples
    --------
    >>> parse_value("1e-3"), parse_value("[32, 32]"), parse_value("adam")
    (0.001, [32, 32], 'adam')
    """
    try:
        return _toml_loads(f"v = {text}", "command line")["v"]
    except ConfigError:
        return text


def set_path(cfg: dict, dotted: str, value) -> dict:
    """Set ``cfg[a][b] = value`` for ``dotted = "a.b"``, creating tables as needed.

    Examples
    --------
    >>> set_path({}, "optim.lr", 0.1)
    {'optim': {'lr': 0.1}}
    """
    parts = dotted.split(".")
    if not all(parts):
        raise ConfigError(f"config: bad key {dotted!r}; use dotted names such as 'optim.lr'")
    node = cfg
    for p in parts[:-1]:
        nxt = node.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"config: cannot set {dotted!r}: '{p}' is not a table")
        node = nxt
    node[parts[-1]] = value
    return cfg


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


# --------------------------------------------------------------------------- validation


def _type_name(v) -> str:
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, Integral):
        return "an integer"
    if isinstance(v, Real):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, (list, tuple)):
        return "a list"
    if isinstance(v, dict):
        return "a table"
    return type(v).__name__


def _check_leaf(key: str, value, spec):
    kind, _, cons = spec
    optional = kind.endswith("?")
    kind = kind.rstrip("?")
    if value is None:
        if optional:
            return None
        raise ConfigError(f"config: '{key}' must be set")
    want = {"int": "an integer", "float": "a number", "bool": "true or false",
            "str": "a string", "list_int": "a list of integers",
            "list_float": "a list of numbers", "list_str": "a list of strings"}[kind]

    def bad():
        return ConfigError(f"config: '{key}' expected {want}, got {_type_name(value)} "
                           f"({value!r})")

    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise bad()
        value = int(value)
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, Real):
            raise bad()
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"config: '{key}' must be a finite number, got {value!r}")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise bad()
    elif kind == "str":
        if not isinstance(value, str):
            raise bad()
    elif kind.startswith("list_"):
        item = kind[5:]
        if not isinstance(value, (list, tuple)):
            raise bad()
        checked = []
        for v in value:
            if item == "str" and not isinstance(v, str):
                raise bad()
            if item in ("int", "float") and (isinstance(v, bool) or not isinstance(v, Real)):
                raise bad()
            if item == "int" and not isinstance(v, Integral):
                raise bad()
            checked.append(float(v) if item == "float" else v)
        value = checked
    _check_constraint(key, value, cons)
    return value


def _check_constraint(key, value, cons):
    if cons is None:
        return
    if isinstance(cons, tuple):
        if value not in cons:
            close = difflib.get_close_matches(str(value), list(cons), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"config: '{key}' must be one of {', '.join(cons)}; got "
                              f"{value!r}{hint}")
        return
    values = value if isinstance(value, list) else [value]
    for v in values:
        ok = {">=0": v >= 0, ">0": v > 0, ">=1": v >= 1, ">=2": v >= 2,
              "[0,1)": 0 <= v < 1, "(0,1)": 0 < v < 1}[cons]
        if not ok:
            shown = {">=0": "must be >= 0", ">0": "must be > 0", ">=1": "must be >= 1",
                     ">=2": "must be >= 2", "[0,1)": "must be in [0, 1)",
                     "(0,1)": "must be strictly between 0 and 1"}[cons]
            raise ConfigError(f"config: '{key}' {shown}, got {v!r}")


def _unknown(key: str, allowed) -> ConfigError:
    leaf = key.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(leaf, list(allowed), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"config: unknown key '{key}'{hint}; allowed here: "
                       f"{', '.join(sorted(allowed))}")


def _validate_table(cfg: dict, schema: dict, prefix: str) -> dict:
    if not isinstance(cfg, dict):
        raise ConfigError(f"config: '{prefix.rstrip('.')}' must be a table, got "
                          f"{_type_name(cfg)}")
    out = {}
    free = "*" in schema
    for k, v in cfg.items():
        key = prefix + k
        if k not in schema or k == "*":
            if free:
                if not isinstance(k, str) or not k.isidentifier():
                    raise ConfigError(f"config: '{key}' is not a valid option name")
                out[k] = v
                continue
            raise _unknown(key, [s for s in schema if s != "*"])
        spec = schema[k]
        if isinstance(spec, dict):
            out[k] = _validate_table(v, spec, key + ".")
        elif isinstance(spec, str):
            out[k] = v
        else:
            out[k] = _check_leaf(key, v, spec)
    return out


def validate_config(cfg: dict, base: dict | None = None) -> dict:
    """Merge ``cfg`` over ``base`` (default :data:`DEFAULTS`) and check every key.

    Model options (``[model]``) are checked against the model's own options and schedule
    options against the scheduler's parameters when the run is built; everything else here.

    Raises
    ------
    ConfigError
        For unknown keys (with a close match suggested), wrong types, out-of-range values,
        unknown data set, optimiser or schedule names.

    Examples
    --------
    >>> validate_config({"train": {"epoch": 3}})
    Traceback (most recent call last):
    ...
    chainrule.errors.ConfigError: config: unknown key 'train.epoch' (did you mean 'epochs'?); \
allowed here: checkpoint_every, clip_grad_norm, detect_anomaly, epochs, init, keep_last, l1, l2, \
loss, metrics, monitor, on_nonfinite, patience, progress, restore_best
    """
    if not isinstance(cfg, dict):
        raise ConfigError(f"config: expected a table at the top level, got {_type_name(cfg)}")
    checked = _validate_table(cfg, _SCHEMA, "")
    merged = _merge(DEFAULTS if base is None else base, checked)
    # Validate once more so values coming from ``base`` are checked too.
    merged = _merge(DEFAULTS, _validate_table(merged, _SCHEMA, ""))
    name = merged["model"]["name"]
    from .train.models import MODELS

    if name.lower() not in MODELS:
        close = difflib.get_close_matches(name.lower(), list(MODELS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"config: 'model.name' must be one of {', '.join(MODELS)}; got "
                          f"{name!r}{hint}")
    merged["model"]["name"] = name.lower()
    betas = merged["optim"]["betas"]
    if betas is not None and len(betas) != 2:
        raise ConfigError(f"config: 'optim.betas' needs two numbers [beta1, beta2], got {betas}")
    from .train.models import check_model_options

    check_model_options(name, {k: v for k, v in merged["model"].items() if k != "name"})
    from .train.metrics import get_metric

    for m in merged["train"]["metrics"]:
        get_metric(m)
    monitor = merged["train"]["monitor"]
    watched = monitor[4:] if monitor.startswith("val_") else monitor
    if watched != "loss" and watched not in merged["train"]["metrics"]:
        raise ConfigError(f"config: 'train.monitor' is {monitor!r} but {watched!r} is not in "
                          f"'train.metrics' {merged['train']['metrics']}; add it there or "
                          "monitor 'val_loss'")
    if merged["data"]["name"] == "idx" and not merged["data"]["path"]:
        raise ConfigError("config: data 'idx' needs 'data.path', the directory holding the IDX "
                          "files (e.g. --data-path ~/data/mnist)")
    return merged


def load_config(path=None, overrides: dict | None = None, base: dict | None = None) -> dict:
    """Read a configuration file (or none), apply dotted ``overrides``, validate.

    Parameters
    ----------
    path : str or PathLike, optional
        A ``.toml`` (or ``.json``) file, or a run folder holding ``config.toml``.
    overrides : dict, optional
        ``{"optim.lr": 0.1, "model.name": "mlp"}``; applied after the file.
    base : dict, optional
        What the file is merged over (default :data:`DEFAULTS`).

    Examples
    --------
    >>> load_config(overrides={"train.epochs": 3})["train"]["epochs"]
    3
    """
    raw = read_config_file(path) if path is not None else {}
    for k, v in (overrides or {}).items():
        set_path(raw, k, v)
    return validate_config(raw, base)


# --------------------------------------------------------------------------- search


def validate_search(search: dict) -> dict:
    """Check a ``[search]`` table (method, n_trials, n_jobs, seed, metric, mode, out, space)."""
    if not isinstance(search, dict):
        raise ConfigError(f"config: 'search' must be a table, got {_type_name(search)}")
    checked = _validate_table(search, _SEARCH_SCHEMA, "search.")
    out = _merge(SEARCH_DEFAULTS, checked)
    space = search.get("space")
    if not isinstance(space, dict) or not space:
        raise ConfigError("config: 'search.space' must be a non-empty table of dotted keys, "
                          "e.g. \"optim.lr\" = {log_uniform = [1e-4, 1e-1]}")
    from .train.search import parse_space

    out["space"] = parse_space(space)
    return out


def load_search_config(path, overrides: dict | None = None):
    """Read a search file: the ``[search]`` table plus a base run configuration (all other
    tables). Returns ``(base_config, search)``.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "s.toml")
    >>> _ = open(p, "w").write('[search]\\nmethod = "grid"\\n[search.space]\\n'
    ...                        '"optim.lr" = [0.1, 0.01]\\n')
    >>> base, search = load_search_config(p)
    >>> search["method"], len(search["space"])
    ('grid', 1)
    """
    raw = read_config_file(path)
    search = raw.pop("search", None)
    if search is None:
        raise ConfigError(f"config file {path} has no [search] table; add one with at least "
                          "[search.space]")
    for k, v in (overrides or {}).items():
        if k.startswith("search."):
            set_path(search, k[len("search."):], v)
        else:
            set_path(raw, k, v)
    base = validate_config(raw)
    search = validate_search(search)
    check_space(base, search["space"])
    return base, search


def check_space(base: dict, space: dict) -> None:
    """Check that every value a search may try makes a valid configuration, so a typo fails
    before any trial starts.

    Examples
    --------
    >>> from chainrule.train.search import parse_space
    >>> check_space(DEFAULTS, parse_space({"optim.lrr": [0.1]}))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    chainrule.errors.ConfigError: search.space: 'optim.lrr' = 0.1: config: unknown key \
'optim.lrr' (did you mean 'lr'?); allowed here: ...
    """
    from .train.search import Choice, Integer, Uniform

    for key, dist in space.items():
        if isinstance(dist, Choice):
            values = dist.values
        elif isinstance(dist, (Uniform, Integer)):
            values = [dist.low, dist.high]
        else:
            values = [dist.sample(__import__("numpy").random.default_rng(0))]
        for v in values:
            raw = copy.deepcopy(base)
            try:
                set_path(raw, key, v)
                validate_config(raw)
            except ConfigError as exc:
                raise ConfigError(f"search.space: {key!r} = {v!r}: {exc}") from None


# --------------------------------------------------------------------------- writing


def _toml_key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Integral):
        return str(int(v))
    if isinstance(v, Real):
        v = float(v)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()
                               if x is not None) + "}"
    raise ConfigError(f"dump_toml: cannot write {type(v).__name__}")


def dump_toml(cfg: dict) -> str:
    """Write a configuration as TOML text (``None`` values are left out).

    Examples
    --------
    >>> print(dump_toml({"seed": 1, "optim": {"name": "sgd", "lr": 0.1}}), end="")
    seed = 1
    <BLANKLINE>
    [optim]
    name = "sgd"
    lr = 0.1
    """
    lines = []
    tables = []
    for k, v in cfg.items():
        if isinstance(v, dict) and not _is_inline(v):
            tables.append((k, v))
        elif v is not None:
            lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
    for name, table in tables:
        lines.append("")
        lines.append(f"[{name}]")
        for k, v in table.items():
            if v is not None:
                lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


def _is_inline(v: dict) -> bool:
    return False
