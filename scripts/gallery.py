"""Run the course notes' experiments and collect their figures for the README gallery.

Each experiment runs in full (or ``--quick``) with its output in ``--runs DIR/NAME``; its first
figure is copied to ``docs/gallery/NAME.png`` and its conclusion is written beside the others
to ``docs/gallery/conclusions.md``.

Usage::

    python scripts/gallery.py                      # every experiment, full size
    python scripts/gallery.py zero-init width      # some of them
    python scripts/gallery.py --quick --jobs 2
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_one(name: str, quick: bool, runs: str) -> dict:
    import chainrule.experiments as X

    t0 = time.perf_counter()
    res = X.run(name, quick=quick, seed=0, out=Path(runs) / name, progress=False)
    return {"name": name, "figures": [str(p) for p in res.figures],
            "conclusion": res.conclusion, "seconds": time.perf_counter() - t0}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help="experiments (default: all)")
    p.add_argument("--quick", action="store_true", help="the quick forms (seconds each)")
    p.add_argument("--jobs", type=int, default=1, help="experiments run in parallel")
    p.add_argument("--runs", default="runs/gallery", help="where the experiments write")
    p.add_argument("--dest", default=str(ROOT / "docs" / "gallery"), help="gallery folder")
    a = p.parse_args(argv)
    import chainrule.experiments as X

    names = a.names or list(X.available())
    dest = Path(a.dest)
    dest.mkdir(parents=True, exist_ok=True)
    results = []
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max(1, a.jobs), mp_context=ctx) as pool:
        futs = [pool.submit(run_one, n, a.quick, a.runs) for n in names]
        for f in cf.as_completed(futs):
            r = f.result()
            results.append(r)
            if r["figures"]:
                shutil.copyfile(r["figures"][0], dest / f"{r['name']}.png")
            print(f"{r['name']:<16} {r['seconds']:6.1f} s  {r['conclusion']}", flush=True)
    results.sort(key=lambda r: names.index(r["name"]))
    lines = [f"- **{r['name']}** ({r['seconds']:.0f} s): {r['conclusion']}" for r in results]
    (dest / "conclusions.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (dest / "gallery.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
