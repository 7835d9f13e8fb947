"""From a configuration to a trained, saved, evaluated model: what ``chainrule train``,
``chainrule evaluate`` and ``chainrule search`` run.

* :func:`prepare_data` loads the configured data set and splits it into training, validation
  and test parts (always the same split for the same ``data.seed``);
* :func:`build_run` makes the model, optimiser, scheduler, loaders and loss from a configuration;
* :func:`train` runs it, writing a run folder (``config.toml``, ``history.csv``,
  ``history.jsonl``, ``curves.png``, ``checkpoints/``, ``report.json``) and returns the report;
* :func:`evaluate_run` re-loads a run folder's checkpoint and scores it on a split;
* :func:`trial` trains one configuration in memory and returns its validation scores (the unit
  of :mod:`chainrule.train.search`).

Example
-------
>>> from chainrule.config import load_config
>>> cfg = load_config(overrides={"data.name": "moons", "model.name": "mlp",
...                              "train.epochs": 3})  # doctest: +SKIP
>>> report = train(cfg, out="runs/moons", progress=False)  # doctest: +SKIP
>>> report["test_accuracy"] > 0.8  # doctest: +SKIP
True
"""

from __future__ import annotations

import inspect
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import OPTIMIZERS, SCHEDULES, dump_toml, validate_config
from ..errors import ConfigError, DataError
from ..random import Generator, manual_seed
from .callbacks import EarlyStopping, HistoryLogger, LearningCurves, ModelCheckpoint
from .loop import Trainer, _evaluate
from .metrics import get_metric
from .models import build_model

__all__ = ["DataSplits", "Run", "build_run", "evaluate_run", "prepare_data", "train", "trial"]


@dataclass
class DataSplits:
    """Arrays of a data set split three ways, and what a model needs to know about them."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    input_shape: tuple
    num_classes: int
    vocab_size: int | None = None
    name: str = ""
    info: dict = field(default_factory=dict)

    def sizes(self) -> str:
        return (f"{len(self.y_train)} train / {len(self.y_val)} val / {len(self.y_test)} test")


def _split(n: int, fraction: float, rng: np.random.Generator):
    """Indices of a random (first) part of ``fraction * n`` and the rest."""
    perm = rng.permutation(n)
    k = int(round(n * fraction))
    return perm[:k], perm[k:]


def _text_arrays(sentences, labels, cfg, rng):
    from ..data.datasets import Vocab, pad_sequences, tokenize

    tokens = [tokenize(s) for s in sentences]
    d = cfg["data"]
    test_idx, rest = _split(len(tokens), d["test_fraction"], rng)
    vocab = Vocab.build([tokens[i] for i in rest], min_freq=d["min_freq"])
    ids, _ = pad_sequences([vocab.encode(t) for t in tokens], pad_id=vocab.pad_id,
                           max_len=d["max_len"])
    if ids.shape[1] < d["max_len"]:
        ids = np.pad(ids, ((0, 0), (0, d["max_len"] - ids.shape[1])),
                     constant_values=vocab.pad_id)
    return ids.astype(np.int64), np.asarray(labels, np.int64), test_idx, rest, len(vocab.itos)


def prepare_data(cfg: dict) -> DataSplits:
    """Load and split the data set ``cfg["data"]`` describes.

    The validation part is ``data.val_fraction`` of the training part; data sets without a
    fixed test part (synthetic ones, sentiment text, IDX folders without ``t10k`` files) give
    ``data.test_fraction`` of their examples to the test part. Splits depend only on
    ``data.seed``, so every trial of a search sees the same ones.

    Raises
    ------
    DataError
        For a missing directory or file, malformed files, labels out of range, or an empty split.

    Examples
    --------
    >>> from chainrule.config import load_config
    >>> d = prepare_data(load_config(overrides={"data.name": "xor", "data.n": 100}))
    >>> d.input_shape, d.num_classes, d.sizes()
    ((2,), 2, '72 train / 8 val / 20 test')
    """
    from ..data import datasets as ds

    d = cfg["data"]
    name = d["name"]
    rng = np.random.default_rng(d["seed"])
    vocab_size = None
    info: dict = {}
    if name == "mnist1d":
        data = ds.load_mnist1d(root=d["path"], seed=d["seed"])
        x, y, x_test, y_test = data["x"], data["y"], data["x_test"], data["y_test"]
    elif name in ("blobs", "moons", "circles", "spirals", "xor"):
        kwargs = {"n": d["n"], "seed": d["seed"]}
        if d["noise"] is not None:
            kwargs["noise" if name != "blobs" else "std"] = d["noise"]
        if d["classes"] is not None:
            if name == "blobs":
                kwargs["centers"] = d["classes"]
            elif name == "spirals":
                kwargs["k"] = d["classes"]
        gen = {"moons": "two_moons"}.get(name, name)
        try:
            xa, ya = ds.generate(gen, **kwargs)
        except TypeError as exc:
            raise ConfigError(f"data '{name}': {exc}") from None
        test_idx, rest = _split(len(ya), d["test_fraction"], rng)
        x, y, x_test, y_test = xa[rest], ya[rest], xa[test_idx], ya[test_idx]
    elif name == "idx":
        path = Path(d["path"]).expanduser()
        x, y = ds.load_mnist_idx(path, "train")
        try:
            x_test, y_test = ds.load_mnist_idx(path, "test")
        except ds.DataFileNotFound:
            test_idx, rest = _split(len(y), d["test_fraction"], rng)
            x, y, x_test, y_test = x[rest], y[rest], x[test_idx], y[test_idx]
        scale = np.float32(255.0) if x.dtype == np.uint8 else np.float32(1.0)
        x = x.astype(np.float32) / scale
        x_test = x_test.astype(np.float32) / scale
    elif name == "sentiment":
        if d["path"]:
            sentences, labels = ds.read_labelled_sentences(d["path"])
        else:
            sentences, labels = ds.builtin_sentiment()
        ids, labels, test_idx, rest, vocab_size = _text_arrays(sentences, labels, cfg, rng)
        x, y, x_test, y_test = ids[rest], labels[rest], ids[test_idx], labels[test_idx]
        info["vocab_size"] = vocab_size
    else:  # validate_config rejects other names; kept for direct callers
        raise ConfigError(f"data: unknown data set {name!r}")

    x = np.ascontiguousarray(x)
    y = np.asarray(y)
    if len(y) == 0:
        raise DataError(f"data '{name}': the data set is empty; check data.path / data.n")
    if y.dtype.kind not in "iu":
        raise DataError(f"data '{name}': labels must be integers, got dtype {y.dtype}")
    val_idx, tr_idx = _split(len(y), d["val_fraction"], rng)
    x_val, y_val = x[val_idx], y[val_idx]
    x, y = x[tr_idx], y[tr_idx]
    for part, arr in (("training", y), ("test", y_test)):
        if len(arr) == 0:
            raise DataError(f"data '{name}': the {part} split is empty; use more data or smaller "
                            "data.val_fraction / data.test_fraction")
    all_y = np.concatenate([y, y_val, y_test]).astype(np.int64)
    lo, hi = int(all_y.min()), int(all_y.max())
    if lo < 0:
        raise DataError(f"data '{name}': labels must be >= 0, found {lo}")
    num_classes = d["classes"] if d["classes"] is not None else hi + 1
    if hi >= num_classes:
        raise DataError(f"data '{name}': labels out of range: found label {hi} but "
                        f"data.classes = {num_classes}; raise data.classes to {hi + 1} or fix "
                        "the labels")
    num_classes = max(int(num_classes), 2)
    if d["standardize"] and vocab_size is None:
        mean = x.mean(axis=0, keepdims=True, dtype=np.float64).astype(x.dtype)
        std = x.std(axis=0, keepdims=True, dtype=np.float64).astype(x.dtype)
        std[std == 0] = 1
        x, x_val, x_test = ((a - mean) / std for a in (x, x_val, x_test))
        info["standardize"] = True
    if vocab_size is None:
        x, x_val, x_test = (np.ascontiguousarray(a, dtype=np.float32) for a in (x, x_val, x_test))
    return DataSplits(x, y.astype(np.int64), x_val, y_val.astype(np.int64), x_test,
                      np.asarray(y_test, np.int64), tuple(x.shape[1:]), num_classes, vocab_size,
                      name, info)


def loader(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool = False,
           generator: Generator | None = None, drop_last: bool = False):
    """A :class:`chainrule.data.DataLoader` over in-memory arrays."""
    from ..data import DataLoader, TensorDataset
    from ..tensor import Tensor

    return DataLoader(TensorDataset(Tensor._wrap(x), Tensor._wrap(y)), batch_size=batch_size,
                      shuffle=shuffle, generator=generator, drop_last=drop_last)


@dataclass
class Run:
    """Everything :class:`~chainrule.train.loop.Trainer` needs, built from a configuration."""

    cfg: dict
    data: DataSplits
    model: object
    optimizer: object
    scheduler: object
    train_loader: object
    val_loader: object
    test_loader: object
    loss_fn: object
    regularizer: object
    loader_generator: Generator


def _accepted(cls, what: str, name: str, options: dict, skip=("self", "params", "optimizer")):
    sig = inspect.signature(cls.__init__)
    params = {p.name: p for p in sig.parameters.values() if p.name not in skip
              and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    for k in options:
        if k not in params:
            raise ConfigError(f"config: {what} '{name}' has no option '{k}'; its options: "
                              f"{', '.join(params) or 'none'}")
    missing = [p for p, v in params.items() if v.default is inspect.Parameter.empty
               and p not in options]
    return missing


def _optimizer(cfg, params):
    from .. import optim

    o = cfg["optim"]
    cls = getattr(optim, OPTIMIZERS[o["name"]])
    kwargs = {k: v for k, v in o.items() if k != "name" and v is not None}
    if "betas" in kwargs:
        if len(kwargs["betas"]) != 2:
            raise ConfigError(f"config: 'optim.betas' needs two numbers, got {kwargs['betas']}")
        kwargs["betas"] = tuple(kwargs["betas"])
    if not kwargs.get("weight_decay"):
        kwargs.pop("weight_decay", None)
    _accepted(cls, "optimizer", o["name"], kwargs)
    return cls(params, **kwargs)


def _scheduler(cfg, optimizer, steps_per_epoch):
    from ..optim import lr_scheduler

    s = dict(cfg["schedule"])
    name = s.pop("name")
    interval = s.pop("interval")
    cls_name = SCHEDULES[name]
    if cls_name is None:
        if s:
            raise ConfigError(f"config: schedule 'none' takes no options, got {sorted(s)}")
        return None
    cls = getattr(lr_scheduler, cls_name)
    horizon = cfg["train"]["epochs"] * (steps_per_epoch if interval == "step" else 1)
    if name == "cosine":
        s.setdefault("T_max", horizon)
    if name in ("linear", "polynomial", "constant"):
        s.setdefault("total_iters", horizon)
    missing = _accepted(cls, "schedule", name, s)
    if missing:
        raise ConfigError(f"config: schedule '{name}' needs {', '.join(missing)} in [schedule], "
                          f"e.g. {missing[0]} = ...")
    return cls(optimizer, **s)


def _initialise(model, scheme: str) -> None:
    if scheme == "default":
        return
    from ..nn import init

    fn = getattr(init, scheme + "_", None)
    if fn is None:
        raise ConfigError(f"config: 'train.init' = {scheme!r} is not available in "
                          "chainrule.nn.init")
    kwargs = {"nonlinearity": "relu"} if scheme.startswith("kaiming") else {}
    for name, p in model.named_parameters():
        if p.ndim >= 2 and not name.endswith("pos.weight"):
            fn(p, **kwargs)


def _regularizer(cfg):
    l1, l2 = cfg["train"]["l1"], cfg["train"]["l2"]
    if not l1 and not l2:
        return None
    from .. import nn

    def penalty(model):
        total = None
        if l1:
            total = l1 * nn.l1_penalty(model)
        if l2:
            term = l2 * nn.l2_penalty(model)
            total = term if total is None else total + term
        return total

    return penalty


def _seeds(seed: int) -> tuple[int, int]:
    """Independent seeds for model initialisation (and dropout) and for shuffling."""
    a, b = np.random.SeedSequence(seed).generate_state(2, np.uint32)
    return int(a), int(b)


def build_run(cfg: dict, data: DataSplits | None = None) -> Run:
    """Build model, optimiser, scheduler, loaders and loss from a validated configuration.

    The default generator is reseeded from ``cfg["seed"]`` first, so the same configuration
    always builds the same initial weights and the same shuffling order.

    Examples
    --------
    >>> from chainrule.config import load_config
    >>> run = build_run(load_config(overrides={"data.name": "moons", "model.name": "mlp"}))
    >>> type(run.model).__name__, type(run.optimizer).__name__
    ('MLP', 'Adam')
    """
    from ..nn import functional as F

    data = data if data is not None else prepare_data(cfg)
    init_seed, shuffle_seed = _seeds(cfg["seed"])
    manual_seed(init_seed)
    m = dict(cfg["model"])
    model = build_model(m.pop("name"), data.input_shape, data.num_classes, data.vocab_size, **m)
    _initialise(model, cfg["train"]["init"])
    optimizer = _optimizer(cfg, model.parameters())
    bs = cfg["data"]["batch_size"]
    gen = Generator(shuffle_seed)
    train_loader = loader(data.x_train, data.y_train, bs, shuffle=cfg["data"]["shuffle"],
                          generator=gen, drop_last=cfg["data"]["drop_last"])
    if cfg["data"]["drop_last"] and len(data.y_train) < bs:
        raise DataError(f"data: the training split has {len(data.y_train)} examples, fewer than "
                        f"one batch of {bs} with data.drop_last = true; lower data.batch_size")
    eval_bs = max(bs, 1000)
    val_loader = loader(data.x_val, data.y_val, eval_bs) if len(data.y_val) else None
    test_loader = loader(data.x_test, data.y_test, eval_bs)
    steps = math.ceil(len(data.y_train) / bs)
    scheduler = _scheduler(cfg, optimizer, steps)
    return Run(cfg, data, model, optimizer, scheduler, train_loader, val_loader, test_loader,
               F.cross_entropy, _regularizer(cfg), gen)


def _monitor(cfg, run: Run) -> str:
    monitor = cfg["train"]["monitor"]
    if run.val_loader is None and monitor.startswith("val_"):
        return monitor[4:]
    return monitor


def make_trainer(run: Run, out_dir: Path | None = None, progress: bool | None = True,
                 log=print) -> Trainer:
    """A :class:`Trainer` for ``run`` with the callbacks the configuration asks for (and, with
    ``out_dir``, checkpoints, history files and learning curves)."""
    t = run.cfg["train"]
    monitor = _monitor(run.cfg, run)
    callbacks = []
    if t["patience"] or t["restore_best"]:
        patience = t["patience"] if t["patience"] else t["epochs"] + 1
        callbacks.append(EarlyStopping(monitor, patience=patience,
                                       restore_best_weights=t["restore_best"]))
    if out_dir is not None:
        callbacks += [
            ModelCheckpoint(out_dir / "checkpoints", monitor=monitor, every=t["checkpoint_every"],
                            keep_last=t["keep_last"]),
            HistoryLogger(out_dir),
            LearningCurves(out_dir / "curves.png",
                           title=f"{run.cfg['model']['name']} on {run.data.name}"),
        ]
    interval = run.cfg["schedule"]["interval"]
    return Trainer(run.model, run.loss_fn, run.optimizer, run.train_loader, run.val_loader,
                   scheduler=run.scheduler, scheduler_interval=interval,
                   plateau_monitor=monitor if monitor.startswith("val_") else "loss",
                   callbacks=callbacks, metrics=t["metrics"], progress=progress,
                   regularizer=run.regularizer, clip_grad_norm=t["clip_grad_norm"],
                   on_nonfinite=t["on_nonfinite"], detect_anomaly=t["detect_anomaly"], log=log)


def default_run_dir(cfg: dict, root="runs") -> Path:
    """``runs/<YYYYmmdd-HHMMSS>-<model>`` (with a numeric suffix if it exists already)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{stamp}-{cfg['model']['name']}"
    path, i = base, 1
    while path.exists():
        i += 1
        path = base.with_name(f"{base.name}-{i}")
    return path


def _write_json(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _json_default(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return str(v)


def train(cfg: dict, out=None, resume: bool = False, progress: bool | None = True,
          log=print) -> dict:
    """Train the run ``cfg`` describes and return its report.

    Parameters
    ----------
    cfg : dict
        A configuration from :func:`chainrule.config.load_config`.
    out : str or PathLike, optional
        The run folder; default ``cfg["out"]``, else ``runs/<timestamp>-<model>``.
    resume : bool
        Continue the run in ``out`` from its latest checkpoint (bit-identical to an
        uninterrupted run); ``cfg["train"]["epochs"]`` is the total to reach.
    progress : bool or None
        Progress bar and epoch lines (``False``: quiet).
    log : callable
        Where the header and messages go.

    Returns
    -------
    dict
        ``test_loss``, ``test_accuracy`` (and other test metrics), ``epochs``, ``time_s``,
        ``parameters``, ``run_dir``, ``best_epoch``, ``stopped`` (reason or None).
    """
    t_start = time.perf_counter()
    cfg = validate_config(cfg)
    out_dir = Path(out or cfg["out"] or default_run_dir(cfg))
    if resume:
        if not (out_dir / "checkpoints").is_dir():
            raise ConfigError(f"resume: {out_dir} has no checkpoints folder; pass a run folder "
                              "written by 'chainrule train'")
    out_dir.mkdir(parents=True, exist_ok=True)
    # The run folder is not part of the saved configuration, so that passing config.toml to
    # 'chainrule train --config' starts a new run instead of overwriting this one.
    (out_dir / "config.toml").write_text(dump_toml(dict(cfg, out=None)), encoding="utf-8")
    data = prepare_data(cfg)
    run = build_run(cfg, data)
    n_params = run.model.num_parameters()
    quiet = progress is False
    if not quiet:
        o = cfg["optim"]
        sched = cfg["schedule"]["name"]
        log(f"chainrule: {cfg['model']['name']} ({n_params:,} parameters) on {data.name} "
            f"({data.sizes()}), {o['name']} lr {o['lr']:g}"
            + (f", {sched} schedule" if sched != "none" else "")
            + f", batch {cfg['data']['batch_size']}, {cfg['train']['epochs']} epochs, "
            f"seed {cfg['seed']}")
        log(f"run folder: {out_dir}")
    trainer = make_trainer(run, out_dir, progress=progress, log=log)
    if resume:
        trainer.resume(out_dir / "checkpoints")
        if not quiet:
            log(f"resumed at epoch {trainer.epoch} (step {trainer.step})")
    trainer.fit(cfg["train"]["epochs"])
    metric_objs = [get_metric(m) for m in cfg["train"]["metrics"]]
    test = _evaluate(run.model, run.loss_fn, run.test_loader, metric_objs, "test_")
    elapsed = time.perf_counter() - t_start
    best = next((c for c in trainer.callbacks if isinstance(c, EarlyStopping)), None)
    report = {
        "model": cfg["model"]["name"],
        "data": data.name,
        **{k: v for k, v in test.items()},
        "epochs": trainer.epoch,
        "steps": trainer.step,
        "best_epoch": best.best_epoch if best is not None else trainer.epoch,
        "monitor": _monitor(cfg, run),
        "stopped": trainer.stop_reason,
        "parameters": n_params,
        "time_s": elapsed,
        "train_time_s": sum(r.get("time", 0.0) for r in trainer.history),
        "run_dir": str(out_dir),
    }
    if trainer.history:
        report.update({k: v for k, v in trainer.history[-1].items()
                       if k.startswith("val_") and isinstance(v, float)})
    _write_json(out_dir / "report.json", report)
    return report


def format_report(report: dict) -> str:
    """The final report as a few aligned lines."""
    lines = ["", "final report"]
    rows = [("test accuracy", f"{report['test_accuracy']:.2%}" if "test_accuracy" in report
             else "n/a"),
            ("test loss", f"{report['test_loss']:.4f}")]
    for k, v in report.items():
        if k.startswith("test_") and k not in ("test_accuracy", "test_loss") \
                and isinstance(v, float):
            rows.append((k.replace("_", " "), f"{v:.4f}"))
    rows += [("epochs", f"{report['epochs']} ({report['steps']} steps); weights of epoch "
              f"{report['best_epoch']} (best {report['monitor']})"),
             ("time", f"{report['time_s']:.1f} s (training {report['train_time_s']:.1f} s)"),
             ("parameters", f"{report['parameters']:,}"),
             ("saved in", report["run_dir"])]
    if report.get("stopped"):
        rows.insert(2, ("stopped", report["stopped"]))
    width = max(len(k) for k, _ in rows)
    lines += [f"  {k:<{width}}  {v}" for k, v in rows]
    return "\n".join(lines)


def evaluate_run(run_dir, which: str = "best", split: str = "test") -> dict:
    """Rebuild a run from its folder, load a checkpoint and score it on a split.

    Parameters
    ----------
    run_dir : str or PathLike
        A folder written by :func:`train`.
    which : str
        ``"best"``, ``"latest"`` or a checkpoint folder name such as ``"epoch-0007"``.
    split : {"test", "val", "train"}

    Examples
    --------
    >>> evaluate_run("runs/20250101-120000-cnn")  # doctest: +SKIP
    {'loss': 0.2, 'accuracy': 0.94, ...}
    """
    from ..config import load_config
    from .checkpoint import find_checkpoint, load_checkpoint

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"evaluate: run folder {run_dir} does not exist")
    if split not in ("test", "val", "train"):
        raise ConfigError(f"evaluate: split must be 'test', 'val' or 'train', got {split!r}")
    cfg = load_config(run_dir / "config.toml")
    data = prepare_data(cfg)
    run = build_run(cfg, data)
    ck_dir = run_dir / "checkpoints"
    if which in ("best", "latest", "last"):
        path = find_checkpoint(ck_dir, "latest" if which == "last" else which)
    else:
        path = ck_dir / which
    state = load_checkpoint(path)
    run.model.load_state_dict(state["model"])
    loaders = {"test": run.test_loader, "val": run.val_loader,
               "train": loader(data.x_train, data.y_train, max(cfg["data"]["batch_size"], 1000))}
    if loaders[split] is None:
        raise ConfigError("evaluate: this run has no validation split (data.val_fraction = 0)")
    metric_objs = [get_metric(m) for m in cfg["train"]["metrics"]]
    result = _evaluate(run.model, run.loss_fn, loaders[split], metric_objs, "")
    result.update({"checkpoint": str(path), "epoch": int(state["epoch"]), "split": split,
                   "examples": int(len({"test": data.y_test, "val": data.y_val,
                                        "train": data.y_train}[split])),
                   "parameters": run.model.num_parameters()})
    return result


def trial(base_cfg: dict, params: dict, seed: int, test: bool = False) -> dict:
    """Train ``base_cfg`` with dotted overrides ``params`` and seed ``seed`` in memory; return
    the final validation scores (and test scores with ``test=True``).

    Module-level so that worker processes of a search can run it.
    """
    from ..config import set_path

    raw = json.loads(json.dumps(base_cfg))
    for k, v in params.items():
        set_path(raw, k, v)
    raw["seed"] = int(seed)
    cfg = validate_config(raw)
    cfg["train"]["progress"] = False
    data = prepare_data(cfg)
    run = build_run(cfg, data)
    trainer = make_trainer(run, None, progress=False, log=lambda msg: None)
    trainer.fit(cfg["train"]["epochs"])
    metric_objs = [get_metric(m) for m in cfg["train"]["metrics"]]
    scores = {}
    if run.val_loader is not None:
        scores.update(_evaluate(run.model, run.loss_fn, run.val_loader, metric_objs, "val_"))
    scores.update(_evaluate(run.model, run.loss_fn, run.train_loader, metric_objs, "train_"))
    if test:
        scores.update(_evaluate(run.model, run.loss_fn, run.test_loader, metric_objs, "test_"))
    scores["epochs"] = trainer.epoch
    return {k: v for k, v in scores.items() if not isinstance(v, np.ndarray)}
