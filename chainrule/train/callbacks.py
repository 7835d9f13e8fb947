"""Callbacks: code the training loop calls at fixed points of a run.

A callback overrides any of ``on_fit_start``, ``on_epoch_start``, ``on_batch_end``,
``on_epoch_end`` and ``on_fit_end``; each receives the :class:`~chainrule.train.loop.Trainer`,
whose ``model``, ``history``, ``epoch``, ``step`` and ``stop_training`` it may read or set.
Callbacks run in the order of their ``order`` attribute (lower first), so early stopping has
decided before a checkpoint records its state and the history files are written last.

A callback with state that a resumed run must continue from (the best value seen, a patience
counter) returns it from ``state_dict`` and takes it back in ``load_state_dict``; the trainer
stores it in every checkpoint.

Provided: :class:`EarlyStopping`, :class:`ModelCheckpoint`, :class:`HistoryLogger` (CSV and JSON
Lines), :class:`ProgressBar` (tqdm), :class:`LearningCurves` (PNG) and :class:`LambdaCallback`.

Example
-------
>>> stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
>>> stop.mode
'min'
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import uuid
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .checkpoint import CheckpointManager

__all__ = [
    "Callback",
    "EarlyStopping",
    "HistoryLogger",
    "LambdaCallback",
    "LearningCurves",
    "ModelCheckpoint",
    "ProgressBar",
]


class Callback:
    """Base class; every hook does nothing by default.

    Examples
    --------
    >>> class CountEpochs(Callback):
    ...     def __init__(self):
    ...         self.n = 0
    ...     def on_epoch_end(self, trainer, epoch, logs):
    ...         self.n += 1
    """

    order = 20

    def on_fit_start(self, trainer) -> None:
        pass

    def on_epoch_start(self, trainer, epoch: int) -> None:
        pass

    def on_batch_end(self, trainer, batch: int, loss: float) -> None:
        pass

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        pass

    def on_fit_end(self, trainer) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def _resolve_mode(monitor: str, mode: str, who: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ConfigError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor.lower()
    return "max" if any(k in name for k in ("acc", "f1", "auc", "precision", "recall")) else "min"


def _monitored(logs: dict, monitor: str, who: str) -> float:
    if monitor not in logs:
        have = ", ".join(k for k, v in logs.items() if isinstance(v, (int, float)))
        hint = " (validation metrics need a val_loader)" if monitor.startswith("val_") else ""
        raise ConfigError(f"{who}: monitored quantity {monitor!r} is not logged{hint}; "
                          f"logged: {have}")
    return float(logs[monitor])


class _Tracker:
    """Remembers the best value of a monitored quantity."""

    def __init__(self, monitor, mode, min_delta, who):
        self.monitor = monitor
        self.mode = _resolve_mode(monitor, mode, who)
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0

    def improved(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(Callback):
    """Stop training when a monitored quantity has stopped improving.

    Parameters
    ----------
    monitor : str
        A key of the epoch logs, e.g. ``"val_loss"`` or ``"val_accuracy"``.
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better; ``"auto"`` picks ``"max"`` for accuracy-like names.
    patience : int
        Epochs without improvement before stopping.
    min_delta : float
        Smallest change that counts as an improvement.
    restore_best_weights : bool
        At the end of training, put back the weights of the best epoch (also when training ran
        all its epochs without stopping early).

    Examples
    --------
    >>> es = EarlyStopping("val_accuracy", patience=2)
    >>> es.mode, es.patience
    ('max', 2)
    """

    order = 0

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", patience: int = 5,
                 min_delta: float = 0.0, restore_best_weights: bool = False):
        if int(patience) < 0:
            raise ConfigError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self._tracker = _Tracker(monitor, mode, min_delta, "EarlyStopping")
        self.monitor = monitor
        self.mode = self._tracker.mode
        self.patience = int(patience)
        self.restore_best_weights = bool(restore_best_weights)
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None

    @property
    def best(self) -> float:
        return self._tracker.best

    @property
    def best_epoch(self) -> int:
        return self._tracker.best_epoch

    def on_epoch_end(self, trainer, epoch, logs):
        value = _monitored(logs, self.monitor, "EarlyStopping")
        if self._tracker.improved(value):
            self._tracker.best = value
            self._tracker.best_epoch = epoch
            self.wait = 0
            if self.restore_best_weights:
                self.best_weights = {k: np.array(v.data, copy=True)
                                     for k, v in trainer.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.stop_training = True
            trainer.stop_reason = (f"early stopping: {self.monitor} has not improved for "
                                   f"{self.wait} epochs (best {self.best:.6g} at epoch "
                                   f"{self.best_epoch})")

    def on_fit_end(self, trainer):
        if self.restore_best_weights and self.best_weights is not None \
                and self.best_epoch != trainer.epoch:
            trainer.model.load_state_dict(self.best_weights)
            trainer.log(f"restored the weights of epoch {self.best_epoch} "
                        f"({self.monitor} = {self.best:.6g})")

    def state_dict(self):
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state):
        self._tracker.best = float(state["best"])
        self._tracker.best_epoch = int(state["best_epoch"])
        self.wait = int(state["wait"])
        self.stopped_epoch = int(state["stopped_epoch"])
        bw = state.get("best_weights")
        self.best_weights = None if bw is None else {k: np.asarray(getattr(v, "data", v))
                                                     for k, v in bw.items()}


class ModelCheckpoint(Callback):
    """Save the full training state: the last epoch's and the best epoch's.

    Each checkpoint holds the model, optimiser, scheduler, random-generator states, epoch,
    step, history and callback states (see :mod:`chainrule.train.checkpoint`), so
    ``Trainer.resume`` continues a run exactly.

    Parameters
    ----------
    directory : str or PathLike
        Folder of the checkpoints; ``latest.json`` and ``best.json`` point into it.
    monitor, mode, min_delta
        What "best" means (as in :class:`EarlyStopping`); ignored if ``save_best`` is False.
    save_best, save_last : bool
        Which checkpoints to write.
    every : int
        Write the "last" checkpoint every ``every`` epochs (and always after the final epoch).
    keep_last : int
        How many numbered checkpoints to keep; the previous complete one always survives a
        failed write.

    Examples
    --------
    >>> import tempfile
    >>> ck = ModelCheckpoint(tempfile.mkdtemp(), monitor="val_accuracy")
    >>> ck.mode
    'max'
    """

    order = 50

    def __init__(self, directory, monitor: str = "val_loss", mode: str = "auto",
                 save_best: bool = True, save_last: bool = True, every: int = 1,
                 keep_last: int = 2, min_delta: float = 0.0):
        if int(every) < 1:
            raise ConfigError(f"ModelCheckpoint: every must be >= 1, got {every}")
        self.manager = CheckpointManager(directory, keep_last=keep_last)
        self.directory = Path(directory)
        self._tracker = _Tracker(monitor, mode, min_delta, "ModelCheckpoint")
        self.monitor = monitor
        self.mode = self._tracker.mode
        self.save_best = bool(save_best)
        self.save_last = bool(save_last)
        self.every = int(every)
        self.last_path = None
        self.best_path = None

    @property
    def best(self) -> float:
        return self._tracker.best

    def on_epoch_end(self, trainer, epoch, logs):
        is_best = False
        if self.save_best:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            is_best = self._tracker.improved(value)
            if is_best:
                self._tracker.best = value
                self._tracker.best_epoch = epoch
        meta = {"step": trainer.step,
                **{k: v for k, v in logs.items() if isinstance(v, (int, float, str))}}
        final = trainer.stop_training or epoch >= trainer.target_epochs
        pointers = []
        if self.save_last and (epoch % self.every == 0 or final):
            pointers.append("latest")
        if is_best:
            pointers.append("best")
        if pointers:
            # The state is taken after this callback updated its own tracker, so a resumed run
            # keeps comparing against the right best value.
            path = self.manager.save(trainer.state_dict(), epoch, meta=meta, pointers=pointers)
            if "latest" in pointers:
                self.last_path = path
            if is_best:
                self.best_path = path

    def state_dict(self):
        return {"best": self.best, "best_epoch": self._tracker.best_epoch}

    def load_state_dict(self, state):
        self._tracker.best = float(state["best"])
        self._tracker.best_epoch = int(state["best_epoch"])


def _scalar_items(row: dict) -> dict:
    return {k: v for k, v in row.items()
            if isinstance(v, (int, float, str, bool, np.integer, np.floating))}


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _replace_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_history(history, csv_path=None, jsonl_path=None) -> None:
    """Write a list of per-epoch dicts as CSV (scalar columns) and/or JSON Lines (everything,
    arrays as lists). Files are replaced atomically."""
    rows = list(history)
    if csv_path is not None:
        cols: list[str] = []
        for row in rows:
            for k in _scalar_items(row):
                if k not in cols:
                    cols.append(k)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({k: _jsonable(v) for k, v in _scalar_items(row).items()})
        _replace_text(Path(csv_path), buf.getvalue())
    if jsonl_path is not None:
        text = "".join(json.dumps({k: _jsonable(v) for k, v in row.items()}) + "\n"
                       for row in rows)
        _replace_text(Path(jsonl_path), text)


class HistoryLogger(Callback):
    """Write the history after every epoch to ``history.csv`` and ``history.jsonl``.

    The CSV holds the scalar columns (epoch, loss, accuracy, val_loss, lr, time, ...); the JSON
    Lines file holds every logged value, per-class accuracies and confusion matrices included.
    Both files are rewritten whole and atomically, so they always hold complete rows, also
    after a resumed run.

    Examples
    --------
    >>> import tempfile
    >>> HistoryLogger(tempfile.mkdtemp()).csv_path.name
    'history.csv'
    """

    order = 90

    def __init__(self, directory, csv_name: str = "history.csv",
                 jsonl_name: str = "history.jsonl"):
        self.directory = Path(directory)
        self.csv_path = self.directory / csv_name if csv_name else None
        self.jsonl_path = self.directory / jsonl_name if jsonl_name else None

    def on_epoch_end(self, trainer, epoch, logs):
        self.directory.mkdir(parents=True, exist_ok=True)
        write_history(trainer.history, self.csv_path, self.jsonl_path)


def plot_history(history, path, title: str | None = None) -> Path:
    """Draw learning curves (loss, and accuracy-like metrics if logged) into a PNG file.

    Uses matplotlib's Agg backend, so no display is needed.

    Examples
    --------
    >>> import tempfile
    >>> rows = [{"epoch": 1, "loss": 1.0, "val_loss": 1.1}, {"epoch": 2, "loss": 0.5,
    ...          "val_loss": 0.7}]
    >>> plot_history(rows, tempfile.mkdtemp() + "/curves.png").suffix
    '.png'
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    rows = list(history)
    path = Path(path)
    epochs = [r.get("epoch", i + 1) for i, r in enumerate(rows)]
    keys = [k for k in rows[0] if isinstance(rows[0][k], (int, float))] if rows else []
    base = [k for k in keys if not k.startswith("val_")
            and k not in ("epoch", "lr", "time", "steps", "step")]
    panels = [k for k in base if k == "loss"] + [k for k in base if k != "loss"]
    if any("lr" in r for r in rows) and len({r.get("lr") for r in rows}) > 1:
        panels.append("lr")
    panels = panels or ["loss"]
    fig = Figure(figsize=(4.2 * len(panels), 3.4), dpi=100)
    for i, key in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for name, style in ((key, "-"), (f"val_{key}", "--")):
            ys = [r.get(name) for r in rows]
            if any(isinstance(y, (int, float)) for y in ys):
                ax.plot(epochs, [np.nan if y is None else y for y in ys], style,
                        label="validation" if name.startswith("val_") else "training")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        if key in ("loss", "lr"):
            vals = [r.get(key) for r in rows if isinstance(r.get(key), (int, float))]
            if vals and min(vals) > 0:
                ax.set_yscale("log")
        ax.grid(alpha=0.3)
        if key != "lr":
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp.png")
    fig.savefig(tmp)
    os.replace(tmp, path)
    return path


class LearningCurves(Callback):
    """Write a PNG of the learning curves at the end of training (and, with ``every=n``,
    every ``n`` epochs).

    Examples
    --------
    >>> LearningCurves("run/curves.png").path.name
    'curves.png'
    """

    order = 95

    def __init__(self, path, every: int = 0, title: str | None = None):
        self.path = Path(path)
        self.every = int(every)
        self.title = title

    def on_epoch_end(self, trainer, epoch, logs):
        if self.every and epoch % self.every == 0:
            plot_history(trainer.history, self.path, self.title)

    def on_fit_end(self, trainer):
        if trainer.history:
            plot_history(trainer.history, self.path, self.title)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e-3 or abs(v) >= 1e4 else f"{v:.4f}"
    return str(v)


def format_logs(logs: dict, keys=None) -> str:
    """One line from an epoch's logs: ``epoch 3/10  loss 0.41  val_loss 0.45 ...``."""
    skip = {"epoch", "epochs", "time", "steps"}
    parts = []
    for k, v in logs.items():
        if (keys is None and k in skip) or (keys is not None and k not in keys):
            continue
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            parts.append(f"{k} {_fmt(v)}")
    return "  ".join(parts)


class ProgressBar(Callback):
    """A tqdm progress bar over each epoch's batches, and one summary line per epoch.

    Parameters
    ----------
    enabled : bool or None
        ``None`` (default): a bar only when standard output is a terminal; epoch lines are
        printed either way. ``False``: silent.
    stream : file, optional
        Where to write (default ``sys.stdout``).

    Examples
    --------
    >>> ProgressBar(enabled=False).enabled
    False
    """

    order = 80

    def __init__(self, enabled: bool | None = None, stream=None, epoch_lines: bool = True):
        self.stream = stream
        self.enabled = enabled
        self.epoch_lines = epoch_lines
        self._bar = None
        self._loss = 0.0
        self._n = 0

    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def _bar_wanted(self) -> bool:
        if self.enabled is False:
            return False
        out = self._out()
        return bool(getattr(out, "isatty", lambda: False)())

    def on_epoch_start(self, trainer, epoch):
        self._loss, self._n = 0.0, 0
        if self._bar_wanted():
            from tqdm.auto import tqdm

            try:
                total = len(trainer.train_loader)
            except TypeError:
                total = None
            self._bar = tqdm(total=total, desc=f"epoch {epoch}/{trainer.target_epochs}",
                             file=self._out(), leave=False, dynamic_ncols=True,
                             mininterval=0.2, unit="batch")

    def on_batch_end(self, trainer, batch, loss):
        if self._bar is not None:
            self._loss += loss
            self._n += 1
            self._bar.update(1)
            if self._n % 10 == 0:
                self._bar.set_postfix_str(f"loss {self._loss / self._n:.4f}", refresh=False)

    def on_epoch_end(self, trainer, epoch, logs):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self.enabled is not False and self.epoch_lines:
            width = len(str(trainer.target_epochs))
            line = (f"epoch {epoch:>{width}}/{trainer.target_epochs}  {format_logs(logs)}  "
                    f"({logs.get('time', 0.0):.1f}s)")
            print(line, file=self._out(), flush=True)

    def on_fit_end(self, trainer):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda t, e, logs:
    print(e))``.

    Examples
    --------
    >>> seen = []
    >>> cb = LambdaCallback(on_epoch_end=lambda trainer, epoch, logs: seen.append(epoch))
    >>> cb.on_epoch_end(None, 1, {}); seen
    [1]
    """

    def __init__(self, on_fit_start=None, on_epoch_start=None, on_batch_end=None,
                 on_epoch_end=None, on_fit_end=None, order: int = 20):
        self.order = order
        for name, fn in (("on_fit_start", on_fit_start), ("on_epoch_start", on_epoch_start),
                         ("on_batch_end", on_batch_end), ("on_epoch_end", on_epoch_end),
                         ("on_fit_end", on_fit_end)):
            if fn is not None:
                setattr(self, name, fn)
