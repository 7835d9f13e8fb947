"""What every experiment shares: its output folder, progress, figures, numbers, conclusion."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ExperimentResult:
    name: str
    out: Path
    numbers: dict
    figures: list = field(default_factory=list)
    conclusion: str = ""
    seconds: float = 0.0


class Context:
    """Handed to an experiment's ``run``: settings, a progress bar, figure and number writers.

    An experiment calls :meth:`conclude` with a sentence built from the numbers it measured.
    """

    def __init__(self, name, quick=False, seed=0, out=None, progress=True, data=None):
        self.name = name
        self.quick = quick
        self.seed = int(seed)
        self.data = data
        self.progress_enabled = progress
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.out = Path(out) if out else Path("runs") / "experiments" / f"{name}-{stamp}"
        self.out.mkdir(parents=True, exist_ok=True)
        self.figures = []
        self.conclusion = ""
        self._t0 = time.perf_counter()

    def pick(self, quick, full):
        """``quick`` in --quick mode, else ``full``."""
        return quick if self.quick else full

    def progress(self, iterable=None, total=None, desc=None):
        """A tqdm progress bar (silent when not on a terminal or when disabled)."""
        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover
            return iterable if iterable is not None else range(total or 0)
        import sys

        disable = not self.progress_enabled or not sys.stderr.isatty()
        return tqdm(iterable, total=total, desc=desc or self.name, disable=disable,
                    leave=False)

    def figure(self, fig, name):
        """Save a matplotlib figure as ``name.png`` in the output folder and close it."""
        import matplotlib.pyplot as plt

        path = self.out / f"{name}.png"
        tmp = path.with_suffix(".png.tmp")
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
        os.replace(tmp, path)
        plt.close(fig)
        self.figures.append(path)
        return path

    def conclude(self, text):
        self.conclusion = text

    def finish(self, numbers):
        seconds = time.perf_counter() - self._t0
        payload = {"experiment": self.name, "quick": self.quick, "seed": self.seed,
                   "seconds": round(seconds, 3), "conclusion": self.conclusion,
                   "figures": [p.name for p in self.figures], "numbers": _jsonable(numbers)}
        path = self.out / "results.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(payload, indent=2))
        os.replace(tmp, path)
        return ExperimentResult(self.name, self.out, numbers, list(self.figures),
                                self.conclusion, seconds)


def mlp(sizes, seed):
    """A ReLU MLP with layer widths ``sizes`` (e.g. ``[40, 100, 100, 10]``), its weights drawn
    from a generator of its own seeded with ``seed`` (the same seed, the same network)."""
    import chainrule as cr

    nn = cr.nn
    g = cr.Generator().manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b, generator=g))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def sgd_epoch(model, opt, X, Y, batch, rng):
    """One epoch over tensors ``X``, ``Y`` in mini-batches of ``batch`` shuffled by ``rng``:
    cross-entropy, backward, optimiser step."""
    import chainrule as cr

    perm = rng.permutation(X.shape[0])
    for i in range(0, len(perm), batch):
        b = perm[i:i + batch]
        opt.zero_grad()
        cr.nn.functional.cross_entropy(model(X[b]), Y[b]).backward()
        opt.step()


def plt():
    """matplotlib.pyplot with a non-interactive backend."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as pyplot

    return pyplot


def _jsonable(x):
    import numpy as np

    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return x.item()
    if hasattr(x, "numpy") and hasattr(x, "shape"):
        return _jsonable(np.asarray(x.detach().numpy()))
    if isinstance(x, float) and (x != x or x in (float("inf"), float("-inf"))):
        return str(x)
    return x
