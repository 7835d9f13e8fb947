"""``chainrule.train``: the training loop, callbacks, metrics, checkpoints, model selection and
the named model zoo.

>>> from chainrule.train import fit, EarlyStopping, ModelCheckpoint  # doctest: +SKIP
>>> history = fit(model, F.cross_entropy, opt, train_loader, val_loader, epochs=20,
...               callbacks=[EarlyStopping(patience=3, restore_best_weights=True),
...                          ModelCheckpoint("run/checkpoints")])  # doctest: +SKIP

Modules: :mod:`~chainrule.train.loop` (:func:`fit`, :class:`Trainer`, :func:`evaluate`),
:mod:`~chainrule.train.callbacks`, :mod:`~chainrule.train.metrics`,
:mod:`~chainrule.train.checkpoint`, :mod:`~chainrule.train.search`,
:mod:`~chainrule.train.models` and :mod:`~chainrule.train.runner` (configuration to trained run,
used by the ``chainrule`` command). The general search function is
:func:`chainrule.train.search.search`.
"""

from .callbacks import (
    Callback,
    EarlyStopping,
    HistoryLogger,
    LambdaCallback,
    LearningCurves,
    ModelCheckpoint,
    ProgressBar,
    plot_history,
    write_history,
)
from .checkpoint import (
    CheckpointManager,
    find_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
    verify_checkpoint,
)
from .loop import Trainer, evaluate, fit
from .metrics import (
    METRICS,
    Accuracy,
    ConfusionMatrix,
    Metric,
    PerClassAccuracy,
    Perplexity,
    accuracy,
    confusion_matrix,
    per_class_accuracy,
    perplexity,
)
from .models import MNIST1D_PAPER, MODELS, build_model, model_options
from .search import (
    Choice,
    Integer,
    LogUniform,
    SearchResult,
    Uniform,
    grid_search,
    random_search,
    run_search,
)

__all__ = [
    "Accuracy", "Callback", "CheckpointManager", "Choice", "ConfusionMatrix", "EarlyStopping",
    "HistoryLogger", "Integer", "LambdaCallback", "LearningCurves", "LogUniform", "METRICS",
    "MNIST1D_PAPER", "MODELS", "Metric", "ModelCheckpoint", "PerClassAccuracy", "Perplexity",
    "ProgressBar", "SearchResult", "Trainer", "Uniform", "accuracy", "build_model",
    "confusion_matrix", "evaluate", "find_checkpoint", "fit", "grid_search", "list_checkpoints",
    "load_checkpoint", "model_options", "per_class_accuracy", "perplexity", "plot_history",
    "random_search", "run_search", "save_checkpoint", "verify_checkpoint",
    "write_history",
]
