"""The training loop: :class:`Trainer` and the one-call :func:`fit`.

Each epoch runs forward, loss, backward and an optimiser step over the training loader, then (if
a validation loader is given) one pass over it without gradients. Per-epoch values go into
``trainer.history`` (a list of dicts: ``epoch``, ``loss``, ``accuracy``, ``val_loss``, ...,
``lr``, ``time``, ``steps``) and to the callbacks.

A trainer's whole state (model, optimiser, scheduler, random generators, epoch, step, history,
callback states) round-trips through :meth:`Trainer.state_dict` / :meth:`Trainer.load_state_dict`
and through checkpoints, so a run resumed from a checkpoint produces exactly the weights an
uninterrupted run with the same seed would have.

Example
-------
>>> import chainrule as cr
>>> from chainrule.data.datasets import blobs
>>> from chainrule.train import fit
>>> x, y = blobs(n=200, centers=2, seed=0)
>>> train = cr.data.DataLoader(cr.data.TensorDataset(cr.tensor(x), cr.tensor(y)),
...                            batch_size=20, shuffle=True, generator=cr.Generator(0))
>>> model = cr.nn.Sequential(cr.nn.Linear(2, 16), cr.nn.ReLU(), cr.nn.Linear(16, 2))
>>> opt = cr.optim.Adam(model.parameters(), lr=1e-2)
>>> history = fit(model, cr.nn.functional.cross_entropy, opt, train, epochs=5,
...               progress=False)
>>> history[-1]["accuracy"] > 0.9
True
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
import warnings
from collections.abc import Callable, Iterable
from numbers import Integral

import numpy as np

from ..core.state import no_grad
from ..errors import ConfigError, DataError, NumericalError, ShapeError
from ..random import Generator, default_generator
from ..tensor import Tensor
from .callbacks import Callback, ProgressBar
from .checkpoint import load_checkpoint, save_checkpoint
from .metrics import Metric, get_metric

__all__ = ["Trainer", "evaluate", "fit"]

_NONFINITE = ("raise", "stop", "ignore")


def _to_tensor(x):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor._wrap(x)
    return Tensor(x)


def _unpack(batch):
    """``(inputs..., target)`` from a batch (tuple/list/dict with 'x'/'y')."""
    if isinstance(batch, dict):
        try:
            return [_to_tensor(batch["x"])], _to_tensor(batch["y"])
        except KeyError:
            raise DataError("fit: a dict batch needs keys 'x' and 'y', got "
                            f"{sorted(batch)}") from None
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return [_to_tensor(b) for b in batch[:-1]], _to_tensor(batch[-1])
    raise DataError(f"fit: each batch must be (inputs, target) or (inputs..., target), got "
                    f"{type(batch).__name__}" + (f" of length {len(batch)}"
                                                 if isinstance(batch, (tuple, list)) else ""))


def _scalar_of(loss, who: str) -> float:
    if not isinstance(loss, Tensor):
        raise ConfigError(f"{who}: loss_fn must return a scalar Tensor, got "
                          f"{type(loss).__name__}")
    if loss.data.size != 1:
        raise ShapeError(f"{who}: loss_fn must return a scalar, got shape {loss.shape}; use "
                         "reduction='mean'")
    return float(loss.data.reshape(()))


def _check_labels(output: Tensor, target: Tensor, who: str) -> None:
    """Class labels must index the model's outputs; catch it here with a clear message."""
    t = target.data
    o = output.data
    if t.dtype.kind not in "iu" or o.ndim < 2 or o.shape[:-1] != t.shape or t.size == 0:
        return
    lo, hi = int(t.min()), int(t.max())
    n_cls = o.shape[-1]
    if lo < 0 or hi >= n_cls:
        raise DataError(
            f"{who}: labels range over [{lo}, {hi}] but the model outputs {n_cls} class scores; "
            f"labels must lie in [0, {n_cls - 1}]. Fix the labels or give the model "
            f"{hi + 1} outputs")


def _loader_generators(loader) -> list[Generator]:
    found = []
    for obj in (loader, getattr(loader, "sampler", None),
                getattr(getattr(loader, "batch_sampler", None), "sampler", None)):
        g = getattr(obj, "generator", None)
        if isinstance(g, Generator) and all(g is not h for h in found):
            found.append(g)
    return found


def _module_generators(model) -> list[Generator]:
    found = []
    modules = model.modules() if hasattr(model, "modules") else []
    for m in modules:
        for v in vars(m).values():
            if isinstance(v, Generator) and all(v is not h for h in found):
                found.append(v)
    return found


class Trainer:
    """Runs epochs of training and validation, with callbacks, metrics and checkpoints.

    Parameters
    ----------
    model : chainrule.nn.Module
    loss_fn : callable
        ``loss_fn(output, target)`` returning a scalar tensor, e.g.
        ``chainrule.nn.functional.cross_entropy``.
    optimizer : chainrule.optim.Optimizer
    train_loader : iterable of batches
        Re-iterable; each batch is ``(inputs, target)`` (or ``(inputs..., target)``) of tensors
        or arrays, typically a ``chainrule.data.DataLoader``.
    val_loader : iterable of batches, optional
        Evaluated after every epoch; its values are logged with a ``val_`` prefix.
    scheduler : learning-rate scheduler, optional
        Stepped once per epoch (``scheduler_interval="epoch"``, PyTorch's convention) or once per
        batch (``"step"``). A ``ReduceLROnPlateau``-style scheduler gets ``plateau_monitor``'s
        value (``val_loss`` by default).
    callbacks : list of Callback
    metrics : list of str or Metric
        Names from :data:`chainrule.train.metrics.METRICS` (``"accuracy"``,
        ``"per_class_accuracy"``, ``"confusion_matrix"``, ``"perplexity"``) or Metric objects.
        The loss is always logged.
    progress : bool or None
        ``True``/``None``: a progress bar on a terminal and one line per epoch; ``False``: quiet.
    regularizer : callable, optional
        ``regularizer(model)`` returning a scalar tensor added to the loss before backward, e.g.
        ``lambda m: 1e-4 * chainrule.nn.l2_penalty(m)``. The logged ``loss`` is the data loss.
    clip_grad_norm : float, optional
        Rescale gradients so their global 2-norm is at most this, before each step.
    on_nonfinite : {"raise", "stop", "ignore"}
        What to do when the loss becomes NaN or infinite: raise
        :class:`~chainrule.errors.NumericalError`, or log a message and stop (in both cases the
        bad step is not taken and no checkpoint is written for the broken epoch, so the last
        checkpoint stays the last good one).
    detect_anomaly : bool
        Run every step under :func:`chainrule.detect_anomaly` (slow; finds the op that makes a
        NaN).
    generators : list of chainrule.Generator
        Extra generators whose state checkpoints must carry. The default generator, the train
        loader's shuffle generator and any generator stored on a module are found by themselves.
    max_steps : int, optional
        Stop after this many optimiser steps in total, even in the middle of an epoch (the
        partial epoch is validated and logged like a full one).
    log : callable
        Where messages go (default ``print``; with ``progress=False`` none, except that a stop
        on a non-finite loss is then issued as a ``RuntimeWarning``).

    Examples
    --------
    >>> trainer = Trainer(model, loss_fn, opt, train_loader, val_loader)  # doctest: +SKIP
    >>> trainer.fit(epochs=10)  # doctest: +SKIP
    """

    def __init__(self, model, loss_fn: Callable, optimizer, train_loader: Iterable,
                 val_loader: Iterable | None = None, *, scheduler=None,
                 scheduler_interval: str = "epoch", plateau_monitor: str = "val_loss",
                 callbacks: Iterable[Callback] = (), metrics=("accuracy",),
                 progress: bool | None = True, regularizer: Callable | None = None,
                 clip_grad_norm: float | None = None, on_nonfinite: str = "raise",
                 detect_anomaly: bool = False, generators: Iterable[Generator] = (),
                 max_steps: int | None = None, log: Callable[[str], None] | None = None):
        if scheduler_interval not in ("epoch", "step"):
            raise ConfigError(f"Trainer: scheduler_interval must be 'epoch' or 'step', got "
                              f"{scheduler_interval!r}")
        if on_nonfinite not in _NONFINITE:
            raise ConfigError(f"Trainer: on_nonfinite must be one of {_NONFINITE}, got "
                              f"{on_nonfinite!r}")
        if max_steps is not None and (isinstance(max_steps, bool)
                                      or not isinstance(max_steps, Integral) or max_steps < 0):
            raise ConfigError(f"Trainer: max_steps must be a non-negative integer, got "
                              f"{max_steps!r}")
        if clip_grad_norm is not None and not float(clip_grad_norm) > 0:
            raise ConfigError(f"Trainer: clip_grad_norm must be > 0, got {clip_grad_norm}")
        if not callable(loss_fn):
            raise ConfigError(f"Trainer: loss_fn must be callable, got {type(loss_fn).__name__}")
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.scheduler = scheduler
        self.scheduler_interval = scheduler_interval
        self.plateau_monitor = plateau_monitor
        self.metric_specs = list(metrics or ())
        self.train_metrics: list[Metric] = [get_metric(m) for m in self.metric_specs]
        self.val_metrics: list[Metric] = [get_metric(_fresh(m)) for m in self.metric_specs]
        self.regularizer = regularizer
        self.clip_grad_norm = None if clip_grad_norm is None else float(clip_grad_norm)
        self.on_nonfinite = on_nonfinite
        self.detect_anomaly = bool(detect_anomaly)
        self.max_steps = max_steps
        # Quiet trainers still report a stop on a non-finite loss, as a warning.
        self._warn_stops = log is None and progress is False
        self.log = log or (print if progress is not False else _silent)
        cbs = list(callbacks or ())
        if progress is not False and not any(isinstance(c, ProgressBar) for c in cbs):
            cbs.append(ProgressBar(enabled=None))
        for c in cbs:
            if not isinstance(c, Callback):
                raise ConfigError(f"Trainer: callbacks must be Callback instances, got "
                                  f"{type(c).__name__}")
        self.callbacks = sorted(cbs, key=lambda c: getattr(c, "order", 20))
        self.generators = [default_generator]
        for g in [*_loader_generators(train_loader), *_module_generators(model), *generators]:
            if all(g is not h for h in self.generators):
                self.generators.append(g)
        self.epoch = 0
        self.step = 0
        self.history: list[dict] = []
        self.stop_training = False
        self.stop_reason: str | None = None
        self.target_epochs = 0

    # ------------------------------------------------------------------ running

    def fit(self, epochs: int) -> list[dict]:
        """Train until ``epochs`` epochs in total are done (so a resumed trainer continues from
        its epoch), or a callback stops it. Returns ``history``."""
        if isinstance(epochs, bool) or not isinstance(epochs, Integral) or epochs < 0:
            raise ConfigError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
        self.target_epochs = int(epochs)
        self.stop_training = False
        self.stop_reason = None
        for cb in self.callbacks:
            cb.on_fit_start(self)
        try:
            while self.epoch < self.target_epochs and not self.stop_training:
                if self.max_steps is not None and self.step >= self.max_steps:
                    break
                logs = self._run_epoch()
                if logs is None:
                    break
        finally:
            for cb in self.callbacks:
                cb.on_fit_end(self)
        if self.stop_reason and self.progress_enabled():
            self.log(f"stopped: {self.stop_reason}")
        return self.history

    def progress_enabled(self) -> bool:
        return any(isinstance(c, ProgressBar) and c.enabled is not False for c in self.callbacks)

    def _run_epoch(self) -> dict | None:
        epoch = self.epoch + 1
        for cb in self.callbacks:
            cb.on_epoch_start(self, epoch)
        lr = self._lr()
        t0 = time.perf_counter()
        steps0 = self.step
        logs = self._train_epoch(epoch)
        if logs is None:
            return None
        if self.val_loader is not None:
            logs.update(self.evaluate(self.val_loader, prefix="val_"))
        if self.scheduler is not None and self.scheduler_interval == "epoch":
            self._scheduler_step(logs)
        self.epoch = epoch
        row = {"epoch": epoch, **logs, "lr": lr, "time": time.perf_counter() - t0,
               "steps": self.step - steps0}
        self.history.append(row)
        for cb in self.callbacks:
            cb.on_epoch_end(self, epoch, row)
        return row

    def _lr(self) -> float | None:
        groups = getattr(self.optimizer, "param_groups", None)
        if groups:
            return float(groups[0]["lr"])
        return None

    def _scheduler_step(self, logs: dict | None) -> None:
        sched = self.scheduler
        if type(sched).__name__ == "ReduceLROnPlateau":
            if logs is None or self.plateau_monitor not in logs:
                raise ConfigError(
                    f"fit: ReduceLROnPlateau needs '{self.plateau_monitor}' each epoch; give a "
                    "val_loader or set plateau_monitor to a logged key such as 'loss'")
            sched.step(logs[self.plateau_monitor])
        else:
            sched.step()

    def _anomaly(self):
        if not self.detect_anomaly:
            return contextlib.nullcontext()
        from ..debug import detect_anomaly

        return detect_anomaly()

    def _forward(self, inputs, who):
        try:
            return self.model(*inputs)
        except ShapeError as exc:
            shapes = ", ".join(str(tuple(x.shape)) for x in inputs)
            raise ShapeError(f"{who}: the model rejected a batch of inputs of shape {shapes}: "
                             f"{exc}. Check that the data's number of features matches the "
                             "model's input size") from exc

    def _train_epoch(self, epoch: int) -> dict | None:
        who = "fit"
        model, opt = self.model, self.optimizer
        model.train()
        for m in self.train_metrics:
            m.reset()
        total, count, batches, skipped = 0.0, 0, 0, 0
        params = None
        if self.clip_grad_norm is not None:
            from ..nn.utils import clip_grad_norm_

            params = [p for p in model.parameters() if p.requires_grad]
        for i, batch in enumerate(self.train_loader):
            if self.max_steps is not None and self.step >= self.max_steps:
                break
            inputs, target = _unpack(batch)
            with self._anomaly():
                output = self._forward(inputs, who)
                if i == 0:
                    _check_labels(output, target, who)
                loss = self.loss_fn(output, target)
                value = _scalar_of(loss, who)
                objective = loss
                if self.regularizer is not None:
                    objective = loss + self.regularizer(model)
                    obj_value = _scalar_of(objective, who)
                else:
                    obj_value = value
                if not math.isfinite(obj_value):
                    if self._nonfinite(obj_value, epoch, i):
                        return None
                    skipped += 1
                    continue
                opt.zero_grad()
                objective.backward()
                if params is not None:
                    clip_grad_norm_(params, self.clip_grad_norm)
                opt.step()
            self.step += 1
            if self.scheduler is not None and self.scheduler_interval == "step":
                self._scheduler_step(None)
            n = int(target.shape[0]) if target.ndim else 1
            total += value * n
            count += n
            batches += 1
            if self.train_metrics:
                out, tgt = output.data, target.data
                for m in self.train_metrics:
                    m.update(out, tgt, loss=value, n=n)
            for cb in self.callbacks:
                cb.on_batch_end(self, i, value)
        if batches == 0:
            if skipped:
                self.stop_reason = "every batch of the epoch had a non-finite loss"
                self.stop_training = True
                return None
            raise DataError("fit: the training loader yielded no batches; the training set is "
                            "empty or smaller than one batch with drop_last=True")
        logs = {"loss": total / count}
        for m in self.train_metrics:
            logs[m.name] = _plain(m.compute())
        if self.max_steps is not None and self.step >= self.max_steps:
            self.stop_training = True
            self.stop_reason = f"reached max_steps = {self.max_steps}"
        return logs

    def _nonfinite(self, value: float, epoch: int, batch: int) -> bool:
        """Handle a NaN/Inf loss; True means stop the run."""
        where = f"epoch {epoch}, batch {batch + 1} (optimiser step {self.step + 1})"
        last = "no checkpoint was written yet"
        for cb in self.callbacks:
            path = getattr(cb, "last_path", None)
            if path is not None:
                last = f"the last good checkpoint is {path}"
        msg = (f"fit: the training loss became {value} at {where}; the step was not taken and "
               f"{last}. Lower the learning rate, clip gradients (clip_grad_norm), check the "
               "inputs for NaN, or train with detect_anomaly=True to find the op that made it")
        if self.on_nonfinite == "raise":
            raise NumericalError(msg)
        if self.on_nonfinite == "stop":
            if self._warn_stops:
                warnings.warn(msg, RuntimeWarning, stacklevel=4)
            else:
                self.log(msg)
            self.stop_training = True
            self.stop_reason = f"non-finite loss ({value}) at {where}"
            return True
        return False

    def evaluate(self, loader: Iterable, prefix: str = "") -> dict:
        """Loss and metrics over ``loader`` in eval mode without gradients; keys get
        ``prefix`` (e.g. ``"val_"``). The model's train/eval mode is restored afterwards."""
        return _evaluate(self.model, self.loss_fn, loader, self.val_metrics, prefix,
                         self._forward)

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict:
        """Everything a resumed run needs, as nested dicts of arrays and JSON-able values."""
        cb_states = {}
        for i, cb in enumerate(self.callbacks):
            st = cb.state_dict()
            if st:
                cb_states[f"{i}:{type(cb).__name__}"] = st
        return {
            "model": dict(self.model.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "rng": [g.get_state() for g in self.generators],
            "epoch": self.epoch,
            "step": self.step,
            "history": [{k: _plain(v) for k, v in row.items()} for row in self.history],
            "callbacks": cb_states,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned (e.g. from a checkpoint)."""
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None and state.get("scheduler") is not None:
                self.scheduler.load_state_dict(state["scheduler"])
            rng = state.get("rng") or []
            if len(rng) != len(self.generators):
                raise ConfigError(
                    f"Trainer.load_state_dict: the checkpoint holds {len(rng)} generator states "
                    f"but this trainer has {len(self.generators)} generators; build the trainer "
                    "the same way as the run that wrote it (same loaders and model)")
            for g, s in zip(self.generators, rng):
                g.set_state(s)
            self.epoch = int(state["epoch"])
            self.step = int(state["step"])
            self.history = [dict(r) for r in state.get("history", [])]
            saved = state.get("callbacks") or {}
            for i, cb in enumerate(self.callbacks):
                key = f"{i}:{type(cb).__name__}"
                if key in saved:
                    cb.load_state_dict(saved[key])
        except KeyError as exc:
            raise ConfigError(f"Trainer.load_state_dict: the state lacks {exc}") from None

    def save_checkpoint(self, path) -> None:
        """Write the full state as a checkpoint directory (see
        :mod:`chainrule.train.checkpoint`)."""
        save_checkpoint(self.state_dict(), path, meta={"epoch": self.epoch, "step": self.step})

    def resume(self, path) -> Trainer:
        """Load a checkpoint (a checkpoint folder, or a folder with a ``latest.json``
        pointer) into this trainer; a following :meth:`fit` continues the run."""
        self.load_state_dict(load_checkpoint(path))
        return self


def _silent(msg: str) -> None:
    pass


def _fresh(spec):
    # Validation needs its own metric objects, apart from the training ones.
    return copy.deepcopy(spec) if isinstance(spec, Metric) else spec


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    return v


def _evaluate(model, loss_fn, loader, metrics, prefix, forward=None) -> dict:
    was_training = getattr(model, "training", False)
    model.eval()
    for m in metrics:
        m.reset()
    total, count = 0.0, 0
    try:
        with no_grad():
            for i, batch in enumerate(loader):
                inputs, target = _unpack(batch)
                output = forward(inputs, "evaluate") if forward else model(*inputs)
                if i == 0:
                    _check_labels(output, target, "evaluate")
                value = _scalar_of(loss_fn(output, target), "evaluate")
                n = int(target.shape[0]) if target.ndim else 1
                total += value * n
                count += n
                for m in metrics:
                    m.update(output.data, target.data, loss=value, n=n)
    finally:
        model.train(was_training)
    if count == 0:
        raise DataError("evaluate: the loader yielded no batches; the data set is empty")
    logs = {f"{prefix}loss": total / count}
    for m in metrics:
        logs[f"{prefix}{m.name}"] = _plain(m.compute())
    return logs


def evaluate(model, loss_fn: Callable, loader: Iterable, metrics=("accuracy",),
             prefix: str = "") -> dict:
    """Mean loss and metrics of ``model`` over ``loader`` (eval mode, no gradients).

    Examples
    --------
    >>> evaluate(model, cr.nn.functional.cross_entropy, test_loader)  # doctest: +SKIP
    {'loss': 0.21, 'accuracy': 0.94}
    """
    return _evaluate(model, loss_fn, loader, [get_metric(m) for m in metrics], prefix)


def fit(model, loss_fn: Callable, optimizer, train_loader: Iterable,
        val_loader: Iterable | None = None, epochs: int = 10, *, scheduler=None,
        callbacks: Iterable[Callback] = (), metrics=("accuracy",), progress: bool | None = True,
        regularizer: Callable | None = None, clip_grad_norm: float | None = None,
        on_nonfinite: str = "raise", detect_anomaly: bool = False,
        scheduler_interval: str = "epoch", max_steps: int | None = None,
        resume_from=None) -> list[dict]:
    """Train ``model`` for ``epochs`` epochs and return the history (one dict per epoch).

    All arguments are those of :class:`Trainer`; ``resume_from`` names a checkpoint to continue
    from (the run then continues up to ``epochs`` epochs in total).

    Examples
    --------
    >>> history = fit(model, F.cross_entropy, opt, train_loader, val_loader, epochs=5,
    ...               progress=False)  # doctest: +SKIP
    >>> sorted(history[-1])  # doctest: +SKIP
    ['accuracy', 'epoch', 'loss', 'lr', 'steps', 'time', 'val_accuracy', 'val_loss']
    """
    trainer = Trainer(model, loss_fn, optimizer, train_loader, val_loader, scheduler=scheduler,
                      scheduler_interval=scheduler_interval, callbacks=callbacks,
                      metrics=metrics, progress=progress, regularizer=regularizer,
                      clip_grad_norm=clip_grad_norm, on_nonfinite=on_nonfinite,
                      detect_anomaly=detect_anomaly, max_steps=max_steps)
    if resume_from is not None:
        trainer.resume(resume_from)
    return trainer.fit(epochs)

