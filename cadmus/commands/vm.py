"""``cadmus run``, ``cadmus fmt``, ``cadmus isa`` and ``cadmus bench``."""
from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

from ..isa import DEFAULT_FUEL

REPO_ROOT = Path(__file__).resolve().parents[2]
ISA_DOC = REPO_ROOT / "docs" / "ISA.md"
KERNEL_FILE = Path(__file__).resolve().parents[1] / "vm_kernel.py"
BENCHMARKS = tuple(sorted(p.stem[len("bench_"):] for p in (REPO_ROOT / "benchmarks").glob("bench_*.py")))


def _int_list(text: str) -> list:
    try:
        return [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}") from None


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
    if args.trace:
        tr = cadmus.trace(text, args.input, fuel=args.fuel)
        names = cadmus.isa.REG_NAMES
        for row in tr.rows():
            regs = " ".join(f"{names[r]}={v}" for r, v in enumerate(row["registers"]) if v)
            print(f"{row['step']:>6} pc={row['pc']:<4} {row['op']:<6} {regs}")
        res = tr.result
    else:
        res = cadmus.run(text, args.input, fuel=args.fuel)
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
    if not ISA_DOC.exists() or ISA_DOC.read_text() != doc:
        ISA_DOC.parent.mkdir(parents=True, exist_ok=True)
        ISA_DOC.write_text(doc)
        changed.append(ISA_DOC)
    return changed


def cmd_isa(args) -> int:
    from .. import isa

    if args.write:
        for path in write_generated():
            print(f"wrote {path}")
        return 0
    print(isa.render_markdown())
    return 0


def cmd_bench(args) -> int:
    script = REPO_ROOT / "benchmarks" / f"bench_{args.which}.py"
    if not script.exists():
        raise SystemExit(f"cadmus: {script} not found (benchmarks run from a source checkout)")
    sys.argv = [str(script), *args.rest]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def register(sub) -> None:
    p = sub.add_parser("run", help="run a program file and print its outputs and status")
    p.add_argument("file", help="DSL program file ('-' for stdin)")
    p.add_argument("--input", type=_int_list, default=[], help="input tape, e.g. 48,18")
    p.add_argument("--fuel", type=int, default=DEFAULT_FUEL, help="maximum executed instructions")
    p.add_argument("--trace", action="store_true", help="print every executed step")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("fmt", help="print the canonical form of a program file")
    p.add_argument("file", help="DSL program file ('-' for stdin)")
    p.set_defaults(func=cmd_fmt)

    p = sub.add_parser("isa", help="print the instruction-set reference (docs/ISA.md)")
    p.add_argument("--write", action="store_true", help="regenerate docs/ISA.md and vm_kernel constants")
    p.set_defaults(func=cmd_isa)

    p = sub.add_parser("bench", help="run a benchmark from benchmarks/ (table + JSON)")
    p.add_argument("which", choices=BENCHMARKS or None, help="which benchmark: " + ", ".join(BENCHMARKS))
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options passed to the benchmark")
    p.set_defaults(func=cmd_bench)
