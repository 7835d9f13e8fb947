"""Run the course notes' experiments and collect their figures for the README gallery.

Each experiment runs in full (or ``--quick``) with its output in ``--runs DIR/NAME``; its first
figure is copied to ``docs/gallery/NAME.png`` and its conclusion is written beside the others
to ``docs/gallery/conclusions.md``.

Usage::

    python scripts/gallery.py                      # every experiment, full size
    python scripts/gallery.py zero-init width      # some of them
    python scripts/gallery.py --quick --jobs 2
    python scripts/gallery.py rnn-sentiment --data rnn-sentiment=PATH
    python scripts/gallery.py --readme README.md   # and the README's gallery table
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


def run_one(name: str, quick: bool, runs: str, data=None) -> dict:
    import chainrule.experiments as X

    t0 = time.perf_counter()
    res = X.run(name, quick=quick, seed=0, out=Path(runs) / name, progress=False, data=data)
    return {"name": name, "figures": [str(p) for p in res.figures],
            "conclusion": res.conclusion, "seconds": time.perf_counter() - t0}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help="experiments (default: all)")
    p.add_argument("--quick", action="store_true", help="the quick forms (seconds each)")
    p.add_argument("--jobs", type=int, default=1, help="experiments run in parallel")
    p.add_argument("--runs", default="runs/gallery", help="where the experiments write")
    p.add_argument("--dest", default=str(ROOT / "docs" / "gallery"), help="gallery folder")
    p.add_argument("--data", action="append", default=[], metavar="NAME=PATH",
                   help="a data path for one experiment, e.g. rnn-sentiment=DIR (repeatable)")
    p.add_argument("--readme", help="also rewrite the gallery block of this README")
    a = p.parse_args(argv)
    data = dict(d.split("=", 1) for d in a.data)
    import chainrule.experiments as X

    names = a.names or list(X.available())
    dest = Path(a.dest)
    dest.mkdir(parents=True, exist_ok=True)
    results = []
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max(1, a.jobs), mp_context=ctx) as pool:
        futs = [pool.submit(run_one, n, a.quick, a.runs, data.get(n)) for n in names]
        for f in cf.as_completed(futs):
            r = f.result()
            results.append(r)
            if r["figures"]:
                shutil.copyfile(r["figures"][0], dest / f"{r['name']}.png")
            print(f"{r['name']:<16} {r['seconds']:6.1f} s  {r['conclusion']}", flush=True)
    # runs of some experiments update their entries and keep the others'
    index = dest / "gallery.json"
    if index.exists():
        done = {r["name"] for r in results}
        results += [r for r in json.loads(index.read_text(encoding="utf-8"))
                    if r["name"] not in done]
    order = list(X.available())
    results.sort(key=lambda r: order.index(r["name"]) if r["name"] in order else len(order))
    lines = [f"- **{r['name']}** ({r['seconds']:.0f} s): {r['conclusion']}" for r in results]
    (dest / "conclusions.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    index.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if a.readme:
        write_readme_gallery(Path(a.readme), dest, results, X.available())
    return 0


START, END = "<!-- gallery -->", "<!-- /gallery -->"


def write_readme_gallery(readme: Path, dest: Path, results, modules) -> None:
    """Replace the block between the gallery markers in ``readme``: one figure per experiment
    with its one-line summary (what it shows)."""
    rel = dest.resolve().relative_to(readme.resolve().parent)
    cells = []
    for r in results:
        if r["name"] not in modules or not (dest / f"{r['name']}.png").exists():
            continue
        summary = modules[r["name"]].SUMMARY
        cells.append(f"| **{r['name']}**: {summary[:1].upper() + summary[1:]}. | "
                     f"![{r['name']}]({rel.as_posix()}/{r['name']}.png) |")
    block = "\n".join([START, "| experiment | figure |", "|---|---|", *cells, END])
    text = readme.read_text(encoding="utf-8")
    if START in text and END in text:
        text = text[:text.index(START)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    readme.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
