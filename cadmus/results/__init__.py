"""``cadmus report RUN_DIR... --out docs/``: the results page, generated from run folders.

    cadmus report runs/quickstart-s1 runs/quickstart-s2 runs/cpu_hour --out docs/

Writes ``OUT/results.md`` and its PNGs (``OUT/results/``): per run group, a table of runs (seed,
steps, times, final metrics), learning curves, pass@k by difficulty level, per suite a table of
splits (headline, visible only, seen / novel) and per split a family x level table, then the
exact commands, seeds, dataset and model hashes and machine of every run. Runs of one
configuration that differ only by the seed form a group whose cells are mean / worst.
A RUN_DIR is a quickstart report, a ``cadmus train`` folder (with the ``cadmus eval`` folders in
or next to it), a ``cadmus eval`` folder, or a folder holding these (see :mod:`cadmus.results.runs`).
"""
from __future__ import annotations

import sys
from pathlib import Path

from .runs import Eval, Run, RunError, collect_evals, group_runs, load_run
from .tables import suite_sections

__all__ = ["Eval", "Run", "RunError", "collect_evals", "group_runs", "load_run", "suite_sections", "report"]


def report(run_dirs, out, command: str = "cadmus report") -> Path:
    """Read the runs, group them by configuration, write the page; returns its path."""
    from .page import write_page

    runs = [load_run(d) for d in run_dirs]
    return write_page(group_runs(runs), Path(out), command)


def cmd_report(args) -> int:
    command = "cadmus report " + " ".join([*args.runs, "--out", args.out])
    try:
        page = report(args.runs, args.out, command)
    except RunError as err:
        print(f"cadmus report: error: {err}", file=sys.stderr)
        return 2
    print(f"cadmus report: wrote {page}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("report", help="write the results page (results.md + PNGs) from run folders",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", metavar="RUN_DIR",
                   help="quickstart report, cadmus train or cadmus eval folder, or a folder holding them")
    p.add_argument("--out", default="docs", help="folder for results.md and results/*.png (default docs)")
    p.set_defaults(func=cmd_report)
