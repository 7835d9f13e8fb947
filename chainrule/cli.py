"""The ``chainrule`` command (also ``python -m chainrule``).

Sub-commands
------------
``chainrule train``
    Train a model. With no arguments: a 1-D CNN on MNIST-1D, a progress bar, and a final report
    (test accuracy and loss, time, parameter count, run folder). A run folder
    (``runs/<timestamp>-<model>`` or ``--out``) receives ``config.toml``, ``history.csv``,
    ``history.jsonl``, ``curves.png``, ``checkpoints/`` and ``report.json``.
``chainrule train --resume RUN_DIR``
    Continue an interrupted run from its latest checkpoint, bit-identically.
``chainrule evaluate RUN_DIR``
    Score a run's best (or latest) checkpoint on the test split.
``chainrule search --config search.toml``
    Grid or random search; results table (CSV and printed), plot, best model's test score.
``chainrule experiment [NAME]``
    The course notes' experiments (when :mod:`chainrule.experiments` is installed).

Errors in the input (unknown names, malformed configuration files, missing data folders, bad
values) print one message naming the problem and the fix, without a traceback, and exit with
status 2.

Speed: where NumPy's OpenBLAS would not run its fastest matrix-multiply kernels for this CPU,
:func:`main` restarts itself once with ``OPENBLAS_CORETYPE`` set to them (``SkylakeX`` on
AVX-512 CPUs, ``Haswell`` on AMD Zen 4), replacing an inherited setting that names other
kernels; see :mod:`chainrule._blas` for when. ``CHAINRULE_NO_REEXEC=1`` turns this off.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

__all__ = ["build_parser", "main"]

# --------------------------------------------------------------------------- parser


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=32)


def _kv(text: str):
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    from .config import parse_value

    return key.strip(), parse_value(value.strip())


def _csv_ints(text: str):
    try:
        return [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") \
            from None


_TRAIN_EPILOG = """\
examples:
  chainrule train                                   # CNN on MNIST-1D, the default run
  chainrule train --data moons --model mlp --hidden 32,32 --epochs 30 --lr 0.05
  chainrule train --model gru --set model.hidden_size=16 --schedule cosine
  chainrule train --data idx --data-path ~/data/mnist --model cnn --epochs 5
  chainrule train --data sentiment --model lstm --set model.readout=mean
  chainrule train --config run.toml --seed 3        # flags override the file
  chainrule train --resume runs/20260101-120000-cnn --epochs 60

Every configuration key can be set with --set KEY=VALUE (dotted, e.g. train.l2=1e-4,
model.channels=[32,32,32], schedule.step_size=10); see chainrule.config for the keys and
their defaults. Data sets: mnist1d, blobs, moons, circles, spirals, xor, idx (MNIST-style IDX
files in --data-path), sentiment (tab-separated 'sentence<TAB>label' files in --data-path, or a
small built-in corpus). Models: logistic, mlp, cnn, rnn, gru, lstm, transformer.
Optimisers: sgd, adam, adamw, rmsprop, adagrad. Schedules: none, step, multistep,
exponential, cosine, linear, polynomial, constant, inverse_time, power, plateau.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``chainrule`` command."""
    from .config import DATASETS, INITS, OPTIMIZERS, SCHEDULES
    from .train.models import MODELS

    p = argparse.ArgumentParser(
        prog="chainrule", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="chainrule: train, evaluate and compare neural networks on the CPU.",
        epilog="Run 'chainrule COMMAND --help' for a command's options. Input errors exit with "
               "status 2.\nOn AVX-512 CPUs the command restarts itself once with "
               "OPENBLAS_CORETYPE set to\nOpenBLAS's fastest kernels there (SkylakeX; "
               "Haswell on AMD Zen 4), replacing an\ninherited setting; set "
               "CHAINRULE_NO_REEXEC=1 to prevent that.")
    import numpy as np

    from . import __version__
    from ._blas import kernel_note

    p.add_argument("--version", action="version",
                   version=f"chainrule {__version__} (numpy {np.__version__}; {kernel_note()})")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser(
        "train", formatter_class=_Formatter, epilog=_TRAIN_EPILOG,
        help="train a model (no arguments: a 1-D CNN on MNIST-1D)",
        description="Train a model from a configuration file and/or flags, write a run folder "
                    "(config.toml, history.csv, history.jsonl, curves.png, checkpoints/, "
                    "report.json) and print a final report. Without arguments: a 1-D CNN on "
                    "MNIST-1D.")
    t.add_argument("--config", metavar="FILE", help="TOML (or JSON) run configuration; flags "
                   "given as well override it")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its "
                   "latest checkpoint (uses RUN_DIR/config.toml; --epochs raises the total)")
    t.add_argument("--out", metavar="DIR", help="run folder (default runs/<timestamp>-<model>)")
    g = t.add_argument_group("data")
    g.add_argument("--data", choices=DATASETS, help="data set (default mnist1d)")
    g.add_argument("--data-path", metavar="PATH", help="IDX folder, sentiment files/folder, or "
                   "MNIST-1D cache folder")
    g.add_argument("--batch-size", type=int, metavar="N", help="training batch size (default "
                   "100)")
    g.add_argument("--val-fraction", type=float, metavar="F", help="fraction of the training "
                   "data held out for validation (default 0.1)")
    g.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=None,
                   help="scale features to zero mean and unit variance (training statistics)")
    g.add_argument("--n", type=int, metavar="N", help="number of points of a synthetic data set")
    g.add_argument("--noise", type=float, metavar="F", help="noise of a synthetic data set")
    g = t.add_argument_group("model")
    g.add_argument("--model", choices=list(MODELS), help="model (default cnn)")
    g.add_argument("--hidden", type=_csv_ints, metavar="W,W", help="mlp hidden widths, e.g. "
                   "64,64")
    g.add_argument("--channels", type=_csv_ints, metavar="C,C,C", help="cnn channels per "
                   "convolution, e.g. 32,32,32")
    g.add_argument("--hidden-size", type=int, metavar="H", help="rnn/gru/lstm hidden size")
    g.add_argument("--dropout", type=float, metavar="P", help="dropout probability")
    g.add_argument("--init", choices=INITS, metavar="NAME", help="weight initialisation: "
                   f"{', '.join(INITS)} (default: each layer's own)")
    g = t.add_argument_group("optimisation")
    g.add_argument("--optimizer", "--optim", dest="optimizer", choices=list(OPTIMIZERS),
                   help="optimiser (default adam)")
    g.add_argument("--lr", type=float, metavar="LR", help="learning rate (default 0.01)")
    g.add_argument("--momentum", type=float, metavar="M", help="momentum (sgd, rmsprop)")
    g.add_argument("--weight-decay", type=float, metavar="W", help="weight decay of the "
                   "optimiser")
    g.add_argument("--schedule", choices=list(SCHEDULES), help="learning-rate schedule "
                   "(options via --set schedule.KEY=VALUE)")
    g.add_argument("--l1", type=float, metavar="C", help="L1 penalty coefficient added to the "
                   "loss")
    g.add_argument("--l2", type=float, metavar="C", help="L2 penalty coefficient added to the "
                   "loss")
    g.add_argument("--clip-grad-norm", type=float, metavar="C", help="clip the gradient's "
                   "global norm to C")
    g.add_argument("--epochs", type=int, metavar="N", help="number of epochs (default 60)")
    g.add_argument("--patience", type=int, metavar="N", help="early stopping after N epochs "
                   "without improvement (0: off)")
    g.add_argument("--seed", type=int, metavar="S", help="seed of initialisation, shuffling "
                   "and dropout (default 0)")
    g.add_argument("--detect-anomaly", action="store_true", default=None,
                   help="find the op that first makes a NaN/Inf (slow)")
    g.add_argument("--set", dest="sets", action="append", type=_kv, default=[],
                   metavar="KEY=VALUE", help="set any configuration key, e.g. "
                   "model.channels=[32,32,32] (repeatable)")
    t.add_argument("-q", "--quiet", action="store_true", help="print only the final report")

    e = sub.add_parser(
        "evaluate", formatter_class=_Formatter, help="score a trained run on its test split",
        description="Rebuild the data and model of a run folder, load a checkpoint (verified "
                    "by checksum) and print loss and metrics on a split.")
    e.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by 'chainrule train'")
    e.add_argument("--checkpoint", default="best", metavar="WHICH", help="'best' (default), "
                   "'latest' or a checkpoint folder name such as epoch-0007")
    e.add_argument("--split", default="test", choices=("test", "val", "train"),
                   help="which split to score (default test)")
    e.add_argument("--json", action="store_true", help="print the result as JSON")

    s = sub.add_parser(
        "search", formatter_class=_Formatter, help="grid or random search over a configuration",
        description="Train one model per configuration drawn from the [search.space] of a "
                    "TOML file, score each on the validation split, print and save the table "
                    "(results.csv, results.json, search.png), and evaluate the best once on "
                    "the test split. Trials run in parallel with --n-jobs; results do not "
                    "depend on it.",
        epilog='example search.toml:\n  [data]\n  name = "moons"\n  [model]\n  name = "mlp"\n'
               '  [train]\n  epochs = 20\n  [search]\n  method = "random"   # or "grid"\n'
               '  n_trials = 8\n  n_jobs = 2\n  metric = "val_accuracy"\n  [search.space]\n'
               '  "optim.lr" = {log_uniform = [1e-3, 1e-1]}\n'
               '  "model.hidden" = [[16], [64, 64]]\n'
               '  "train.l2" = {uniform = [0.0, 1e-3]}\n  "train.epochs" = {integer = [10, 30]}')
    s.add_argument("--config", required=True, metavar="FILE", help="TOML file with a [search] "
                   "table and the base run configuration")
    s.add_argument("--n-jobs", type=int, metavar="N", help="worker processes (overrides "
                   "search.n_jobs)")
    s.add_argument("--n-trials", type=int, metavar="N", help="random-search trials (overrides "
                   "search.n_trials)")
    s.add_argument("--out", metavar="DIR", help="where results go (default "
                   "runs/<timestamp>-search)")
    s.add_argument("--set", dest="sets", action="append", type=_kv, default=[],
                   metavar="KEY=VALUE", help="override a key of the file (repeatable)")
    s.add_argument("-q", "--quiet", action="store_true", help="print only the table")

    x = sub.add_parser(
        "experiment", formatter_class=_Formatter,
        help="run one of the course notes' experiments (see --list)",
        description="Run an experiment from chainrule.experiments: it shows progress, writes "
                    "figures and numbers to a folder and prints its conclusion.")
    x.add_argument("name", nargs="?", help="experiment name (omit to list them)")
    x.add_argument("--list", action="store_true", help="list the experiments")
    x.add_argument("--quick", action="store_true", help="a smaller, faster version")
    x.add_argument("--seed", type=int, default=0, help="random seed")
    x.add_argument("--out", metavar="DIR", help="output folder")
    x.add_argument("--data", metavar="PATH", help="data folder, for experiments that read files")
    x.add_argument("--no-progress", action="store_true", help="no progress output")
    return p


# --------------------------------------------------------------------------- commands


def _train_overrides(a) -> dict:
    o = {}
    pairs = [("data.name", a.data), ("data.path", a.data_path), ("data.batch_size", a.batch_size),
             ("data.val_fraction", a.val_fraction), ("data.standardize", a.standardize),
             ("data.n", a.n), ("data.noise", a.noise), ("model.name", a.model),
             ("model.hidden", a.hidden), ("model.channels", a.channels),
             ("model.hidden_size", a.hidden_size), ("model.dropout", a.dropout),
             ("train.init", a.init), ("optim.name", a.optimizer), ("optim.lr", a.lr),
             ("optim.momentum", a.momentum), ("optim.weight_decay", a.weight_decay),
             ("schedule.name", a.schedule), ("train.l1", a.l1), ("train.l2", a.l2),
             ("train.clip_grad_norm", a.clip_grad_norm), ("train.epochs", a.epochs),
             ("train.patience", a.patience), ("seed", a.seed),
             ("train.detect_anomaly", a.detect_anomaly), ("out", a.out)]
    for k, v in pairs:
        if v is not None:
            o[k] = v
    for k, v in a.sets:
        o[k] = v
    return o


def _cmd_train(a) -> int:
    from .config import DEFAULTS, load_config, read_config_file
    from .train.runner import format_report, train

    overrides = _train_overrides(a)
    if a.resume:
        from pathlib import Path

        run_dir = Path(a.resume)
        if not (run_dir / "config.toml").is_file():
            from .errors import ConfigError

            raise ConfigError(f"train --resume: {run_dir} is not a run folder (no config.toml); "
                              "pass the folder 'chainrule train' printed as 'saved in'")
        if a.config:
            from .errors import ConfigError

            raise ConfigError("train: use either --resume (the run's own config.toml) or "
                              "--config, not both")
        overrides.pop("out", None)
        cfg = load_config(run_dir / "config.toml", overrides)
        out = run_dir
    else:
        base = DEFAULTS
        if a.config:
            read_config_file(a.config)  # fail early with the file's own message
        cfg = load_config(a.config, overrides, base=base)
        out = None
    quiet = a.quiet or not cfg["train"]["progress"]
    log = (lambda msg: None) if quiet else print
    report = train(cfg, out=out, resume=bool(a.resume), progress=not quiet, log=log)
    print(format_report(report))
    return 0


def _cmd_evaluate(a) -> int:
    from .train.runner import evaluate_run

    res = evaluate_run(a.run_dir, which=a.checkpoint, split=a.split)
    if a.json:
        print(json.dumps({k: (v.tolist() if hasattr(v, "tolist") else v)
                          for k, v in res.items()}, indent=2))
        return 0
    print(f"{a.split} split of {a.run_dir} ({res['examples']} examples), checkpoint "
          f"{res['checkpoint']} (epoch {res['epoch']}, {res['parameters']:,} parameters)")
    for k, v in res.items():
        if isinstance(v, float):
            shown = f"{v:.2%}" if "accuracy" in k else f"{v:.4f}"
            print(f"  {k:<10} {shown}")
    return 0


def _cmd_search(a) -> int:
    import time
    from pathlib import Path

    from .config import load_search_config
    from .train.search import run_search

    overrides = dict(a.sets)
    if a.n_jobs is not None:
        overrides["search.n_jobs"] = a.n_jobs
    if a.n_trials is not None:
        overrides["search.n_trials"] = a.n_trials
    base, search_cfg = load_search_config(a.config, overrides)
    out = Path(a.out or search_cfg["out"] or
               Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-search")
    log = None if a.quiet else print
    if log:
        n = ("every grid point" if search_cfg["method"] == "grid"
             else f"{search_cfg['n_trials']} trials")
        log(f"chainrule search: {search_cfg['method']} search, {n}, {search_cfg['n_jobs']} "
            f"worker(s), optimising {search_cfg['metric']} -> {out}")
    result = run_search(base, search_cfg, out_dir=out, log=log)
    print(result.format_table())
    best = {k: result.best[k] for k in result.params}
    print(f"\nbest: {json.dumps(best)}  {result.metric} {result.best[result.metric]:.4f}")
    if result.test:
        shown = ", ".join(f"{k} {v:.4f}" for k, v in result.test.items() if k.startswith("test_")
                          and isinstance(v, float))
        print(f"best re-evaluated on the test split: {shown}")
    print(f"{len(result.table)} trials in {result.seconds:.1f} s; table {result.files['csv']}, "
          f"plot {result.files['plot']}")
    return 0


def _cmd_experiment(a) -> int:
    try:
        mod = importlib.import_module("chainrule.experiments")
    except ModuleNotFoundError as exc:
        if exc.name == "chainrule.experiments":
            print("chainrule experiment: error: the experiments package (chainrule.experiments) "
                  "is not installed in this copy of chainrule", file=sys.stderr)
            return 2
        raise
    fn = getattr(mod, "cli", None)
    if fn is None:
        print("chainrule experiment: error: chainrule.experiments has no cli(args) entry point",
              file=sys.stderr)
        return 2
    return int(fn(a) or 0)


_COMMANDS = {"train": _cmd_train, "evaluate": _cmd_evaluate, "search": _cmd_search,
             "experiment": _cmd_experiment}


def main(argv=None) -> int:
    """Run the ``chainrule`` command; returns the exit status.

    ``argv`` defaults to ``sys.argv[1:]`` (only then may the process re-execute itself with
    ``OPENBLAS_CORETYPE`` set, see the module docstring).

    Examples
    --------
    >>> main(["train", "--data", "xor", "--model", "logistic", "--epochs", "1", "-q",
    ...       "--out", "/tmp/cr-doc"])  # doctest: +SKIP
    0
    """
    if argv is None:
        argv = sys.argv[1:]
        from ._blas import maybe_reexec

        maybe_reexec("chainrule", argv)
    from .errors import ChainruleError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return _COMMANDS[args.command](args)
    except ChainruleError as exc:
        print(f"chainrule {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"chainrule {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = ""
        if args.command == "train":
            hint = "; continue with 'chainrule train --resume RUN_DIR'"
        print(f"\nchainrule {args.command}: interrupted{hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
