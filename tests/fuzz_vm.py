"""Differential fuzzing of the VM (a script; ``tests/test_fuzz.py`` runs it in a subprocess).

    python tests/fuzz_vm.py --programs 100000 --seed 1

1. Random valid programs (all opcodes, loops, calls, memory, edge values) run in the
   compiled VM three ways (text batch, bytecode batch, single ``run``) and in the pure-Python
   reference interpreter: status, outputs and steps must agree.
2. Mutated program texts and random character soup: the compiled parser accepts exactly the
   texts ``assemble`` accepts, with identical bytecode, and every run ends in a status.
3. Random bytecode arrays: validation agrees with the reference, nothing reads out of bounds.
A crash (segfault) shows as the process dying; a hang as the subprocess timing out.
Exit status 0 means every check passed.
"""
from __future__ import annotations

import argparse
import random
import sys
import time

import cadmus
from cadmus import progen
from cadmus.reference import run_reference
from cadmus.vm import parse_compiled

STATUSES = set(int(s) for s in cadmus.Status)


def _report(kind: str, detail: str, failures: list) -> None:
    failures.append(kind)
    if failures.count(kind) <= 3:
        print(f"MISMATCH ({kind}): {detail}", file=sys.stderr)


def check_programs(rng: random.Random, n: int, fuel: int, failures: list) -> dict:
    texts = [progen.random_program(rng, rng.randint(1, 24), rng.randint(0, 4)) for _ in range(n)]
    inputs = [progen.random_inputs(rng) for _ in range(n)]
    by_text = cadmus.run_batch(texts, inputs, fuel=fuel)
    by_code = cadmus.run_batch(cadmus.pack(texts), inputs, fuel=fuel)
    counts: dict = {}
    for i, (text, inp) in enumerate(zip(texts, inputs)):
        status, outputs, steps = run_reference(text, inp, fuel=fuel)
        counts[status.name] = counts.get(status.name, 0) + 1
        want = (status, outputs, steps)
        for name, res in (("text batch", by_text[i]), ("bytecode batch", by_code[i])):
            if (res.status, res.outputs, res.steps) != want:
                _report(name, f"{text!r} inputs={inp} reference={want} vm={res}", failures)
        if i % 50 == 0:  # the single-program entry point, on a sample
            res = cadmus.run(text, inp, fuel=fuel)
            if (res.status, res.outputs, res.steps) != want:
                _report("run", f"{text!r} inputs={inp} reference={want} vm={res}", failures)
    return counts


def check_texts(rng: random.Random, n: int, fuel: int, failures: list) -> int:
    texts = []
    for k in range(n):
        if k % 3 == 2:
            texts.append(progen.random_text(rng))
        else:
            base = progen.random_program(rng, rng.randint(0, 10), rng.randint(0, 3))
            texts.append(progen.mutate_text(rng, base, rng.randint(1, 4)))
    batch = cadmus.run_batch(texts, fuel=fuel)
    accepted = 0
    for i, text in enumerate(texts):
        try:
            ref = cadmus.assemble(text)
        except cadmus.AsmError:
            ref = None
        fast = parse_compiled(text)
        if (ref is None) != (fast is None) or (ref is not None and ref != fast):
            _report("parser", f"{text!r}: assemble={ref} compiled={fast}", failures)
        status = int(batch.status[i])
        if status not in STATUSES or (status == cadmus.Status.PARSE_ERROR) != (ref is None):
            _report("text status", f"{text!r}: status {status}, assembles={ref is not None}", failures)
        accepted += ref is not None
    return accepted


def check_bytecode(rng: random.Random, n: int, fuel: int, failures: list) -> int:
    progs = [progen.random_bytecode(rng) for _ in range(n)]
    batch = cadmus.run_batch(progs, fuel=fuel)
    valid = 0
    for i, prog in enumerate(progs):
        status, outputs, steps = run_reference(prog, fuel=fuel)
        res = batch[i]
        if (res.status, res.outputs, res.steps) != (status, outputs, steps):
            _report("bytecode", f"{prog.code.tolist()} {prog.consts.tolist()}: reference="
                    f"{(status, outputs, steps)} vm={res}", failures)
        valid += status != cadmus.Status.BAD_PROGRAM
    return valid


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=100_000, help="random valid programs")
    parser.add_argument("--texts", type=int, default=None, help="hostile texts (default: programs / 2)")
    parser.add_argument("--bytecode", type=int, default=None, help="random bytecode (default: programs / 2)")
    parser.add_argument("--fuel", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    failures: list = []
    t0 = time.time()
    counts = check_programs(rng, args.programs, args.fuel, failures)
    accepted = check_texts(rng, args.texts if args.texts is not None else args.programs // 2, args.fuel, failures)
    valid = check_bytecode(rng, args.bytecode if args.bytecode is not None else args.programs // 2, args.fuel, failures)
    print(f"programs: {args.programs} statuses {dict(sorted(counts.items()))}")
    print(f"hostile texts: {accepted} assembled; random bytecode: {valid} valid")
    print(f"{len(failures)} mismatches in {time.time() - t0:.1f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
