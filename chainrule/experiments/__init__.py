"""The course notes' studies as runnable experiments.

``chainrule experiment --list`` lists them; ``chainrule experiment NAME [--quick] [--seed N]
[--out DIR]`` runs one: it shows progress, writes its figures (PNG) and the numbers behind them
(JSON) into the output directory, and prints a conclusion drawn from the numbers it measured.

Each experiment is a module in this package with ``NAME``, ``SUMMARY`` and
``run(ctx) -> dict``; it uses only chainrule's public API. Add one by writing the module and
listing it in ``_MODULES``.
"""

from __future__ import annotations

import importlib

from ._base import Context, ExperimentResult

_MODULES = [
    "zero_init", "random_features", "hidden_units", "init_scale", "learning_rate", "width",
    "depth", "regularization", "rnn_lm", "rnn_sentiment", "locality", "lottery_ticket",
    "adversarial", "loss_landscape", "sharp_flat", "memorization", "newton", "ad_modes",
    "gradient_check",
]


def available():
    """``{name: module}`` for every experiment whose module exists."""
    out = {}
    for m in _MODULES:
        try:
            mod = importlib.import_module(f".{m}", __name__)
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{m}":
                continue
            raise
        out[mod.NAME] = mod
    return out


def run(name, quick=False, seed=0, out=None, progress=True, data=None) -> ExperimentResult:
    """Run experiment ``name``; return its result (numbers, figure paths, conclusion)."""
    from ..errors import ConfigError

    exps = available()
    if name not in exps:
        raise ConfigError(f"experiment: unknown experiment '{name}'; known: "
                          f"{', '.join(sorted(exps))} (see `chainrule experiment --list`)")
    ctx = Context(name, quick=quick, seed=seed, out=out, progress=progress, data=data)
    numbers = exps[name].run(ctx)
    return ctx.finish(numbers)


def cli(args) -> int:
    """Entry point of ``chainrule experiment`` (``args`` from argparse)."""
    exps = available()
    if getattr(args, "list", False) or not getattr(args, "name", None):
        width = max(len(n) for n in exps) if exps else 0
        for n, mod in exps.items():
            print(f"{n:<{width}}  {mod.SUMMARY}")
        return 0
    res = run(args.name, quick=args.quick, seed=args.seed, out=args.out,
              progress=not getattr(args, "no_progress", False),
              data=getattr(args, "data", None))
    print(f"\n{args.name}: {res.conclusion}")
    print(f"figures and numbers in {res.out}")
    return 0
