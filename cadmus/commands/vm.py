"""``cadmus run``, ``cadmus fmt``, ``cadmus isa`` and ``cadmus bench`` (one benchmark, or ``all``)."""
from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

from ..isa import DEFAULT_FUEL, INT64_MAX, INT64_MIN
from ..resources import CheckoutRequired, checkout_root, require_checkout

KERNEL_FILE = Path(__file__).resolve().parents[1] / "vm_kernel.py"


def _repo_root() -> Path:
    """The source checkout, or where it would be for an installed package (benchmarks/ and docs/
    live in the checkout only: `cadmus bench` and `cadmus isa --write` check for it first)."""
    return checkout_root() or Path(__file__).resolve().parents[2]


def __getattr__(name: str):
    """``REPO_ROOT``, ``ISA_DOC`` and ``BENCHMARKS`` (the scripts in benchmarks/), looked up when
    asked for, never at import: `cadmus run` imports this module and must not pay for them."""
    if name == "REPO_ROOT":
        return _repo_root()
    if name == "ISA_DOC":
        return _repo_root() / "docs" / "ISA.md"
    if name == "BENCHMARKS":
        return tuple(sorted(p.stem[len("bench_"):] for p in (_repo_root() / "benchmarks").glob("bench_*.py")))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _int_list(text: str) -> list:
    try:
        values = [int(v) for v in text.replace(",", " ").split()]
    except ValueError:  # also a number of over 4300 digits
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text[:60]!r}") from None
    bad = next((v for v in values if not INT64_MIN <= v <= INT64_MAX), None)
    if bad is not None:
        raise argparse.ArgumentTypeError(f"input {bad} is outside int64")
    return values


def _fuel(text: str) -> int:
    try:
        fuel = int(text)
    except ValueError:
        fuel = -1
    if not 0 <= fuel <= INT64_MAX:
        raise argparse.ArgumentTypeError(f"expected an integer in 0..2**63-1, got {text[:60]!r}")
    return fuel


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SystemExit(f"cadmus: cannot read {path}: {err}")


def cmd_run(args) -> int:
    import cadmus

    text = _read(args.file)
    try:  # a wrong argument (e.g. --trace with more fuel than it records) is one line, no traceback
        if args.trace:
            tr = cadmus.trace(text, args.input, fuel=args.fuel)
        else:
            res = cadmus.run(text, args.input, fuel=args.fuel)
    except (TypeError, ValueError) as err:
        print(f"cadmus run: {err}", file=sys.stderr)
        return 2
    if args.trace:
        names = cadmus.isa.REG_NAMES
        for row in tr.rows():
            regs = " ".join(f"{names[r]}={v}" for r, v in enumerate(row["registers"]) if v)
            print(f"{row['step']:>6} pc={row['pc']:<4} {row['op']:<6} {regs}")
        res = tr.result
    if res.error:
        print(f"{args.file}: {res.error}", file=sys.stderr)
    for v in res.outputs:
        print(v)
    print(f"status: {res.status.name} ({res.steps} steps)", file=sys.stderr)
    return 0 if res.ok else 1


def cmd_fmt(args) -> int:
    import cadmus

    text = _read(args.file)
    try:
        print(cadmus.canonical(text))
    except cadmus.AsmError as err:
        print(f"{args.file}:{err.line}:{err.col}: {err.message}", file=sys.stderr)
        return 1
    return 0


def write_generated() -> list:
    """Regenerate docs/ISA.md and the constants block of vm_kernel.py; returns changed paths."""
    from .. import isa

    changed = []
    text = KERNEL_FILE.read_text()
    start = text.index(isa.BEGIN_GENERATED)
    end = text.index(isa.END_GENERATED) + len(isa.END_GENERATED)
    new = text[:start] + isa.opcode_constant_block() + text[end:]
    if new != text:
        KERNEL_FILE.write_text(new)
        changed.append(KERNEL_FILE)
    doc = isa.render_markdown()
    isa_doc = _repo_root() / "docs" / "ISA.md"
    if not isa_doc.exists() or isa_doc.read_text() != doc:
        isa_doc.parent.mkdir(parents=True, exist_ok=True)
        isa_doc.write_text(doc)
        changed.append(isa_doc)
    return changed


def cmd_isa(args) -> int:
    from .. import isa

    if args.write:
        try:
            require_checkout("cadmus isa --write (it regenerates docs/ISA.md)", "docs")
        except CheckoutRequired as err:
            print(f"cadmus isa: {err}", file=sys.stderr)
            return 2
        for path in write_generated():
            print(f"wrote {path}")
        return 0
    print(isa.render_markdown())
    return 0


# ``cadmus bench all``: each benchmark in its own process, then one table of their headline rows.
# Per benchmark: the JSON file it writes (in --out) and the options of its --quick run.
ALL_BENCHMARKS = {
    "vm": ("vm.json", ["--quick"]),
    "data": ("bench_data.json", ["--records", "400", "--workers", "1"]),
    "train": ("bench_train.json", ["--presets", "tiny", "--steps", "10", "--batch", "4", "--context", "64",
                                   "--rows", "200"]),
    "eval": ("bench_eval.json", ["--limit", "8", "--n", "1", "2", "--batch-size", "8"]),
}


def _vm_headlines(res: dict) -> list:
    def versus(r):  # the VM's rows: its ratio to the minimal loop and its goal; baselines: the speed-up
        if r.get("ratio_text"):
            return r["ratio_text"] + (f"; goal {r['goal']}" if r.get("goal") else "")
        if r.get("goal"):
            return f"goal {r['goal']}"
        return None if r["vm_speedup"] is None else f"compiled VM {r['vm_speedup']:,.0f}x faster"

    return [(f"{r['implementation']}: {r['measurement']}", r["value"], r["unit"], versus(r)) for r in res["rows"]]


def _data_headlines(res: dict) -> list:
    def cpu(row):  # CPU microseconds per record, all stages
        return sum(row.get(f"{s}_us_per_record", 0) for s in ("generate", "verify", "pack", "parent"))

    base = res.get("baseline")
    vs = f"{cpu(base) / cpu(res):.2f}x less than {base['rev']}" if base and cpu(res) else None
    workers = f"{res['workers']} worker" + ("s" if res["workers"] != 1 else "")
    return [(f"records built and verified ({res['records']:,} records, {workers})",
             res["records_per_s"], "rec/s", None),
            ("CPU per record, all processes", cpu(res), "us", vs),
            ("VM share of CPU", res["vm_share"], "share", None)]


def _train_headlines(res: dict) -> list:
    return [(f"training throughput, preset {r['preset']}", r["cadmus_tokens_per_s"], "tok/s",
             f"{r['ratio']:.2f}x the raw PyTorch loop") for r in res["results"]]


def _eval_headlines(res: dict) -> list:
    rows = []
    for r in res["results"]:
        tag = f"{r['suite']}, n={r['n']}"
        rows += [(f"eval samples ({tag})", r["samples_per_s"], "samples/s", None),
                 (f"eval VM share of wall time ({tag})", r["vm_share"], "share", None),
                 (f"eval tokens past the answer ({tag})", r["past_answer_share"], "share", None)]
    return rows


HEADLINES = {"vm": _vm_headlines, "data": _data_headlines, "train": _train_headlines, "eval": _eval_headlines}


def _value(value, unit: str) -> str:
    if unit == "share":
        return f"{value:.2%}"
    text = f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{text} {unit}".strip()


def merge_results(results: dict) -> tuple:
    """``(markdown table, rows)`` from ``{benchmark: its JSON, or an int exit code if it failed}``."""
    rows = []
    for name, res in results.items():
        if isinstance(res, int):
            rows.append({"benchmark": name, "metric": f"FAILED (exit code {res})", "value": None, "unit": "",
                         "vs_baseline": None})
            continue
        rows += [{"benchmark": name, "metric": m, "value": v, "unit": u, "vs_baseline": b}
                 for m, v, u, b in HEADLINES[name](res)]
    lines = ["| benchmark | metric | value | vs baseline |", "|---|---|---:|---|"]
    lines += [f"| {r['benchmark']} | {r['metric']} | {'' if r['value'] is None else _value(r['value'], r['unit'])} "
              f"| {r['vs_baseline'] or ''} |" for r in rows]
    return "\n".join(lines), rows


def bench_all(quick: bool, out: Path, only=None) -> int:
    """Run the benchmarks (all, or ``only``) one process each; write all.md and all.json in ``out``."""
    import json
    import os
    import platform
    import subprocess
    import time

    root = _repo_root()
    out.mkdir(parents=True, exist_ok=True)
    results, seconds = {}, {}
    for name in only or ALL_BENCHMARKS:
        file, quick_args = ALL_BENCHMARKS[name]
        cmd = [sys.executable, str(root / "benchmarks" / f"bench_{name}.py"), *(quick_args if quick else []),
               "--json", str(out / file)]
        print(f"== cadmus bench {name}: {' '.join(cmd[1:])}", flush=True)
        start = time.perf_counter()
        code = subprocess.run(cmd, cwd=root).returncode
        seconds[name] = round(time.perf_counter() - start, 1)
        results[name] = json.loads((out / file).read_text()) if code == 0 else code
    table, rows = merge_results(results)
    head = (f"# Cadmus benchmarks{' (--quick)' if quick else ''}\n\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
            f", {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
            f"seconds per benchmark: {', '.join(f'{k} {v}' for k, v in seconds.items())}\n\n")
    (out / "all.md").write_text(head + table + "\n")
    (out / "all.json").write_text(json.dumps({"quick": quick, "seconds": seconds, "rows": rows}, indent=1) + "\n")
    print("\n" + head + table + f"\n\nwrote {out / 'all.md'} and {out / 'all.json'}")
    return 0 if all(not isinstance(r, int) for r in results.values()) else 1


def cmd_bench_all(rest: list) -> int:
    p = argparse.ArgumentParser(prog="cadmus bench all", description="run every benchmark; one table of headlines")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run; numbers are not representative)")
    p.add_argument("--out", type=Path, help="folder for each benchmark's JSON, all.md and all.json (default: "
                   "benchmarks/results; with --quick, cadmus-bench-quick in the temp folder)")
    p.add_argument("--only", type=lambda s: s.split(","), help="comma-separated subset, e.g. vm,data")
    args = p.parse_args(rest)
    unknown = set(args.only or ()) - set(ALL_BENCHMARKS)
    if unknown:
        p.error(f"unknown benchmark {', '.join(sorted(unknown))}; choose from {', '.join(ALL_BENCHMARKS)}")
    if args.out is None:  # a smoke run never overwrites the recorded results
        import tempfile

        quick_out = Path(tempfile.gettempdir()) / "cadmus-bench-quick"
        args.out = quick_out if args.quick else _repo_root() / "benchmarks" / "results"
    return bench_all(args.quick, args.out, args.only)


def cmd_bench(args) -> int:
    try:
        require_checkout("cadmus bench", "benchmarks")
    except CheckoutRequired as err:
        print(f"cadmus bench: {err}", file=sys.stderr)
        return 2
    if args.which == "all":
        return cmd_bench_all(args.rest)
    script = _repo_root() / "benchmarks" / f"bench_{args.which}.py"
    sys.argv = [str(script), *args.rest]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def register(sub) -> None:
    p = sub.add_parser("run", help="run a program file and print its outputs and status")
    p.add_argument("file", help="DSL program file ('-' for stdin)")
    p.add_argument("--input", type=_int_list, default=[], help="input tape, e.g. 48,18")
    p.add_argument("--fuel", type=_fuel, default=DEFAULT_FUEL, help="maximum executed instructions")
    p.add_argument("--trace", action="store_true", help="print every executed step")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("fmt", help="print the canonical form of a program file")
    p.add_argument("file", help="DSL program file ('-' for stdin)")
    p.set_defaults(func=cmd_fmt)

    p = sub.add_parser("isa", help="print the instruction-set reference (docs/ISA.md)")
    p.add_argument("--write", action="store_true", help="regenerate docs/ISA.md and vm_kernel constants")
    p.set_defaults(func=cmd_isa)

    names = tuple(ALL_BENCHMARKS)  # no look at benchmarks/ here: a test holds the two lists equal
    p = sub.add_parser("bench", help="run a benchmark from benchmarks/ (table + JSON), or all of them (needs "
                                     "the source checkout)")
    p.add_argument("which", choices=(*names, "all"),
                   help="which benchmark: " + ", ".join(names) + "; all: each, then one table "
                        "(options --quick, --out DIR, --only vm,data)")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options passed to the benchmark")
    p.set_defaults(func=cmd_bench)
