"""True programs generated and verified per second, and the share of time spent in the VM.

    .venv/bin/python benchmarks/bench_data.py --records 50000
    .venv/bin/python benchmarks/bench_data.py --records 20000 --workers 1 --json /tmp/bench_data.json

Builds the train split of ``recipes/data/default.yaml`` (mixed families, the default mixture)
with the real builder: generation, VM verification, Arrow conversion and the hash's JSON in
worker processes; deduplication and hashing in the parent. Prints a table and a JSON line. Wall-clock
records/s depends on what else runs on the machine; the CPU times per record do not.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(records: int, workers: int, recipe_path: Path) -> dict:
    from cadmus.data.builder import build
    from cadmus.data.recipe import load_recipe

    recipe = load_recipe(recipe_path)
    for spec in recipe.splits.values():
        spec.size = 0
    recipe.splits["train"].size = records
    _, info = build(recipe, workers=workers, progress=False)
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
        "vm_share": round(t.get("vm", 0) / busy, 3) if busy else 0.0,
        # what the measured CPU cost allows on `workers` idle cores (the parent overlaps the workers)
        "cpu_bound_records_per_s": round(workers * records / max(busy, 1e-9)),
    }


def table(rows: list) -> str:
    cols = ["records", "workers", "seconds", "records_per_s", "generate_us_per_record",
            "verify_us_per_record", "vm_us_per_record", "pack_us_per_record", "parent_us_per_record", "vm_share",
            "cpu_bound_records_per_s"]
    head = "| " + " | ".join(cols) + " |\n|" + "---:|" * len(cols)
    return "\n".join([head, *("| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows)])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=50_000, help="train records to build")
    p.add_argument("--workers", type=int, default=os.cpu_count(), help="processes (default: all cores)")
    p.add_argument("--recipe", type=Path, default=REPO / "recipes" / "data" / "default.yaml")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    run(min(2000, args.records), args.workers, args.recipe)  # warm-up: worker start, VM kernel load
    row = run(args.records, args.workers, args.recipe)
    print(f"cadmus data benchmark on {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(table([row]))
    print("per-record times: CPU microseconds summed over processes (generate, verify, pack = Arrow + hash JSON "
          "in the workers; verify includes vm; parent = dedup, hashing, concatenation); "
          "vm_share = vm / (generate + verify + pack + parent); "
          "cpu_bound_records_per_s = workers / CPU time per record, the rate on otherwise idle cores")
    print(json.dumps(row))
    if args.json:
        Path(args.json).write_text(json.dumps(row, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
