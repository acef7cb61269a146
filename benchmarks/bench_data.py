"""True programs generated and verified per second, and the share of time spent in the VM.

    .venv/bin/python benchmarks/bench_data.py --records 50000
    .venv/bin/python benchmarks/bench_data.py --records 20000 --repeat 3 --baseline 210a6dd --json benchmarks/results/bench_data.json

Builds the train split of ``cadmus/recipes/data/default.yaml`` (mixed families, the default mixture)
with the real builder: generation, VM verification, Arrow conversion and hashing in worker
processes; deduplication and concatenation in the parent. Prints a table and a JSON line.
The runs share one pool of worker processes, started before a warm-up run, so wall-clock
records/s excludes their start (1-2 s that a build on its own pays once) but depends on what
else runs on the machine; the CPU times per record (``time.process_time``, summed over
processes) do not, so ``--repeat`` keeps the run with the least CPU per record. They time the
work on each chunk, not a chunk's transfer to the parent nor the parent's fixed costs
(importing ``datasets``, building the ``DatasetDict``).

``--baseline REV`` also runs this benchmark as it was at git revision REV (extracted with
``git archive`` into a cache folder; its first run compiles the VM kernel there, a few minutes),
with the same arguments, alternating with the current code (each run a fresh process), and
reports the best of each: a before/after measured under the same load.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ["generate", "verify", "vm", "pack", "parent"]


def run(records: int, workers: int, recipe_path: Path, pool=None) -> dict:
    from cadmus.data.builder import build
    from cadmus.data.recipe import load_recipe

    recipe = load_recipe(recipe_path)
    for spec in recipe.splits.values():
        spec.size = 0
    recipe.splits["train"].size = records
    _, info = build(recipe, workers=workers, progress=False, pool=pool)
    t = info.timings
    busy = t.get("generate", 0) + t.get("verify", 0) + t.get("pack", 0) + t.get("main", 0)
    return {
        "records": records, "workers": workers, "seconds": round(info.seconds, 2),
        "records_per_s": round(records / info.seconds),
        "generate_us_per_record": round(1e6 * t.get("generate", 0) / records, 1),
        "verify_us_per_record": round(1e6 * t.get("verify", 0) / records, 1),
        "vm_us_per_record": round(1e6 * t.get("vm", 0) / records, 1),
        "pack_us_per_record": round(1e6 * t.get("pack", 0) / records, 1),
        "parent_us_per_record": round(1e6 * t.get("main", 0) / records, 1),
        "cpu_us_per_record": round(1e6 * busy / records, 1),
        "vm_share": round(t.get("vm", 0) / busy, 3) if busy else 0.0,
        # what the measured CPU cost allows on `workers` idle cores (the parent overlaps the workers)
        "cpu_bound_records_per_s": round(workers * records / max(busy, 1e-9)),
    }


COLS = ["records", "workers", "seconds", "records_per_s", "generate_us_per_record", "verify_us_per_record",
        "vm_us_per_record", "pack_us_per_record", "parent_us_per_record", "cpu_us_per_record", "vm_share",
        "cpu_bound_records_per_s"]


def table(rows: dict) -> str:
    head = "| code | " + " | ".join(COLS) + " |\n|---|" + "---:|" * len(COLS)
    return "\n".join([head, *(f"| {name} | " + " | ".join(str(r.get(c, "")) for c in COLS) + " |"
                              for name, r in rows.items())])


def extract(rev: str) -> tuple:
    """(short sha, folder) of git revision ``rev`` extracted from this repository (kept: the
    Numba cache of its VM makes later runs fast)."""
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=REPO, check=True, capture_output=True,
                         text=True).stdout.strip()
    root = Path(tempfile.gettempdir()) / f"cadmus-bench-{sha}"
    if not (root / "benchmarks" / "bench_data.py").exists():
        root.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha], cwd=REPO, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    return sha, root


def run_at(root: Path, args) -> dict:
    """One row of the benchmark as the code in ``root`` has it, run in a subprocess."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([sys.executable, "benchmarks/bench_data.py", "--records", str(args.records), "--workers",
                        str(args.workers), "--recipe", str(args.recipe), "--json", out.name],
                       cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, check=True, capture_output=True)
        row = json.loads(Path(out.name).read_text())
    row["cpu_us_per_record"] = round(cpu_per_record(row), 1)
    return row


def cpu_per_record(row: dict) -> float:
    return sum(row.get(f"{s}_us_per_record", 0) for s in ("generate", "verify", "pack", "parent"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=50_000, help="train records to build")
    p.add_argument("--workers", type=int, default=os.cpu_count(), help="processes (default: all cores)")
    p.add_argument("--recipe", type=Path, default=REPO / "cadmus" / "recipes" / "data" / "default.yaml")
    p.add_argument("--repeat", type=int, default=1, help="runs; the one with the least CPU per record is kept")
    p.add_argument("--baseline", metavar="REV", help="also run this benchmark at git revision REV, for a before/after")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    if args.baseline:
        # baseline and current alternate, each in a fresh process, so both see the same machine load
        sha, root = extract(args.baseline)
        runs = [(run_at(root, args), run_at(REPO, args)) for _ in range(args.repeat)]
        before = {"rev": sha, **min((b for b, _ in runs), key=cpu_per_record)}
        row = min((c for _, c in runs), key=cpu_per_record)
        # the load can change between runs: each back-to-back pair's CPU ratio is the fairer comparison
        row["cpu_speedup_per_pair"] = [round(cpu_per_record(b) / cpu_per_record(c), 2) for b, c in runs]
    else:
        from cadmus.data.builder import worker_pool

        before = None
        # the runs share one pool of workers, so that the warm-up pays their start (imports, VM kernel load)
        pool = worker_pool(args.workers) if args.workers > 1 else None
        try:
            run(min(2000, args.records), args.workers, args.recipe, pool)  # warm-up
            row = min((run(args.records, args.workers, args.recipe, pool) for _ in range(args.repeat)),
                      key=cpu_per_record)
        finally:
            if pool is not None:
                pool.shutdown()
    print(f"cadmus data benchmark on {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}, best of {args.repeat}")
    print(table({f"baseline {before['rev']}": before, "current": row} if before else {"current": row}))
    print("per-record times: CPU microseconds summed over processes (generate = families + views, verify "
          "includes vm, pack = Arrow + digest in the workers; parent = dedup, hashing, concatenation); "
          "cpu = generate + verify + pack + parent; vm_share = vm / cpu; "
          "cpu_bound_records_per_s = workers / CPU time per record, the rate on otherwise idle cores")
    result = {**row, "baseline": before} if before else row
    print(json.dumps(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
