"""Differential fuzzing of the VM (a script; ``tests/test_fuzz.py`` runs it in a subprocess).

    python tests/fuzz_vm.py --programs 100000 --seed 1

1. Random valid programs (all opcodes, loops, calls, memory, edge values) run in the
   compiled VM three ways (text batch, bytecode batch, single ``run``) and in the pure-Python
   reference interpreter: status, outputs and steps must agree.
2. Mutated program texts and random character soup: the compiled parser accepts exactly the
   texts ``assemble`` accepts, with identical bytecode, and every run ends in a status.
3. Random bytecode arrays: validation agrees with the reference, nothing reads out of bounds.
4. ``--api N``: N hypothesis cases over every public entry point and argument with hostile
   values (see ``check_api``); ``--log`` keeps the recipe of the running case, so a crash
   leaves its reproducer, and ``--replay RECIPE`` runs one recipe again.
A crash (segfault) shows as the process dying; a hang as the subprocess timing out.
Exit status 0 means every check passed.
"""
from __future__ import annotations

import argparse
import ast
import random
import sys
import time
from pathlib import Path

import cadmus
from cadmus import progen
from cadmus.isa import INT64_MAX, INT64_MIN
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


# ----------------------------------------------------------------------------- the public API
# Property-based (hypothesis) fuzzing of every public entry point with hostile arguments. A
# case is a *recipe*: plain data (tuples, lists, str, int, float, bool, None) that ``build``
# turns into the real arguments (numpy arrays of any dtype, list subclasses whose len() lies,
# iterators, str subclasses, junk), so that the recipe printed for a crash reproduces it:
#
#     python tests/fuzz_vm.py --replay "('run', ('text', 'out 1'), ('list', [2 ** 63]), 10)"
#
# Each call must return a well-formed result that agrees with the reference interpreter, or
# raise TypeError / ValueError (AsmError included). Anything else fails; a segfault kills the
# process, and ``--log`` holds the recipe of the case that was running.

API_ERRORS = (TypeError, ValueError)
EDGE_INTS = [INT64_MIN, INT64_MAX, -1, 0, 1, 2 ** 63, -(2 ** 63) - 1, 2 ** 64, 2 ** 70, -(2 ** 70), 10 ** 15]
DTYPES = ["int64", "int32", "int8", "uint64", "uint8", "bool", "float64", "object"]
JUNK = ["none", "str", "bytes", "int", "float", "dict", "nested", "ragged", "object", "set"]
TOKENS = ([ins.mnemonic for ins in cadmus.INSTRUCTIONS] + list("abcdp") +
          ["q", "L0", "L1", "x", "L0:", "L1:", "x:", ":", "#", "# c", "0", "1", "-1", "-", "300", "1023", "1024",
           "9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
           "0" * 30 + "7", "9" * 25, "0" * 5000 + "1", "9" * 5000, "-" + "0" * 4400, "\x00", "\r", "\t", "é", "\ud800"])


class LyingList(list):
    """A list whose len() disagrees with what iterating it yields."""

    def __init__(self, values, claimed):
        super().__init__(values)
        self.claimed = claimed

    def __len__(self):
        return self.claimed


class LyingStr(str):
    """A str whose len() disagrees with its contents."""

    def __new__(cls, text, claimed):
        obj = super().__new__(cls, text)
        obj.claimed = claimed
        return obj

    def __len__(self):
        return self.claimed


def _cast(values, dtype):
    import numpy as np

    if dtype == "object":
        return np.array(values + [0], dtype=object)[:-1]  # stays object even when all fit int64
    if dtype == "float64":
        return np.array([float(v) for v in values], np.float64)
    if dtype == "bool":
        return np.array([bool(v) for v in values], bool)
    bits = np.dtype(dtype).itemsize * 8
    signed = dtype.startswith("int")
    wrap = [(v % 2 ** bits) - (2 ** (bits - 1) if signed and v % 2 ** bits >= 2 ** (bits - 1) else 0) for v in values]
    wrap = [v + (2 ** bits if signed and v < -(2 ** (bits - 1)) else 0) for v in wrap]
    return np.array(wrap, dtype)


def _junk(kind):
    return {"none": None, "str": "12", "bytes": b"12", "int": 5, "float": 1.5, "dict": {1: 2}, "nested": [[1, 2], [3, 4]],
            "ragged": [[1, 2], [3]], "object": object(), "set": {3}}[kind]


def build_seq(r):
    """A 'sequence of integers' argument from its recipe."""
    import numpy as np

    kind = r[0]
    if kind == "list":
        return list(r[1])
    if kind == "tuple":
        return tuple(r[1])
    if kind == "array":
        return _cast(list(r[2]), r[1])
    if kind == "lying":
        return LyingList(r[1], r[2])
    if kind == "iter":
        return iter(list(r[1]))
    if kind == "noncontig":
        return _cast(list(r[1]) * 2, "int64")[::2]
    if kind == "readonly":
        arr = _cast(list(r[1]), "int64")
        arr.flags.writeable = False
        return arr
    if kind == "array2d":
        vals = list(r[1])[: len(r[1]) // 2 * 2]
        return _cast(vals, "int64").reshape(-1, 2)
    if kind == "floats":
        return list(r[1])
    if kind == "npint":
        return [np.int64(v) for v in r[1]]
    return _junk(r[1])


def build_program(r):
    kind = r[0]
    if kind == "text":
        return r[1]
    if kind == "program":
        return cadmus.Program(build_seq(r[1]), build_seq(r[2]))
    if kind == "strsub":
        return LyingStr(r[1], r[2])
    return _junk(r[1])


def build_programs(r):
    kind = r[0]
    if kind == "list":
        return [build_program(p) for p in r[1]]
    if kind == "packed":
        return cadmus.pack(list(r[1]))
    if kind == "batch":
        return cadmus.ProgramBatch(*(build_seq(s) for s in r[1:]))
    return _junk(r[1])


def _n_programs(programs):
    try:
        return len(programs)
    except TypeError:
        return 0


def build_inputs(r, n_runs):
    """None, or one sequence per run (cycled to ``n_runs`` when the recipe asks it to fit)."""
    if r is None:
        return None
    if r[0] == "runs":
        runs = [build_seq(s) for s in r[1]]
        if r[2] and runs:
            runs = [runs[i % len(runs)] if i < len(runs) else build_seq(r[1][i % len(r[1])]) for i in range(n_runs)]
        return runs
    if r[0] == "flat":
        return build_seq(r[1])
    return _junk(r[1])


def build_index(r, n_programs):
    if r is None:
        return None
    if r[0] == "fit":
        return [v % n_programs for v in r[1]] if n_programs else []
    return build_seq(r)


def build_offsets(r, n_runs, n_values):
    if r is None:
        return None
    if r[0] == "fit":  # valid offsets: rising from 0 within the values
        cuts = sorted(v % (n_values + 1) for v in (r[1] * (n_runs + 1))[:n_runs]) if r[1] else [0] * n_runs
        return [0] + cuts
    return build_seq(r)


def _scalar(r):
    import numpy as np

    kind, value = r
    return {"int": value, "np": np.int64(value) if INT64_MIN <= value <= INT64_MAX else value,
            "bool": bool(value), "float": float(value), "str": str(value), "none": None}[kind]


def _weighted(*pairs):
    """one_of with weights: (weight, strategy) pairs (one_of would merge a repeated strategy)."""
    from hypothesis import strategies as st

    return st.sampled_from([strategy for weight, strategy in pairs for _ in range(weight)]).flatmap(lambda s: s)


def _valid_text(st):
    """Programs that assemble: every instruction with operands of the right kind, labels L0..L2
    all defined; values are registers, small literals or int64 edges (fuel keeps loops short)."""
    regs = st.sampled_from(list("abcdefghijklmnop"))
    values = st.one_of(regs, regs, st.integers(-5, 1030).map(str), st.sampled_from([str(INT64_MIN), str(INT64_MAX), "63", "64"]))
    kinds = {"r": regs, "v": values, "L": st.sampled_from(["L0", "L1", "L2"])}
    line = st.sampled_from(cadmus.INSTRUCTIONS).flatmap(
        lambda ins: st.tuples(*(kinds[k] for k in ins.operands)).map(lambda ops: " ".join([ins.mnemonic, *ops])))
    body = st.lists(line, max_size=12)
    return st.tuples(body, st.lists(st.integers(0, 12), min_size=3, max_size=3)).map(
        lambda t: "\n".join(sum(([f"L{k}:" for k, at in enumerate(t[1]) if at == i] + t[0][i:i + 1]
                                  for i in range(max(len(t[0]), max(t[1])) + 1)), [])))


def api_strategies():
    from hypothesis import strategies as st

    ints = st.one_of(st.integers(-3, 40), st.sampled_from(EDGE_INTS), st.integers(INT64_MIN, INT64_MAX))
    int_lists = st.lists(ints, max_size=8)
    code_words = st.lists(st.one_of(st.integers(-1, 50), st.integers(-1, 50), ints), max_size=24)
    seq = st.one_of(
        st.tuples(st.just("list"), int_lists), st.tuples(st.just("tuple"), int_lists),
        st.tuples(st.just("array"), st.sampled_from(DTYPES), int_lists),
        st.tuples(st.just("lying"), int_lists, st.integers(0, 60)), st.tuples(st.just("iter"), int_lists),
        st.tuples(st.just("noncontig"), int_lists), st.tuples(st.just("readonly"), int_lists),
        st.tuples(st.just("array2d"), int_lists), st.tuples(st.just("npint"), st.lists(st.integers(-5, 5), max_size=4)),
        st.tuples(st.just("floats"), st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=4)),
        st.tuples(st.just("junk"), st.sampled_from(JUNK)))
    small_ints = st.lists(st.integers(-50, 50), max_size=6)
    good_seq = _weighted((3, st.tuples(st.sampled_from(["list", "tuple", "iter", "noncontig", "readonly", "npint"]),
                                       small_ints)),
                         (1, st.tuples(st.just("array"), st.sampled_from(["int64", "int8", "uint8", "bool"]), small_ints)),
                         (1, st.tuples(st.just("lying"), small_ints, st.integers(0, 60))), (1, seq))
    code_seq = st.one_of(st.tuples(st.just("list"), code_words), st.tuples(st.just("array"), st.sampled_from(DTYPES), code_words),
                         seq)
    line = st.lists(st.sampled_from(TOKENS), max_size=4).map(" ".join)
    valid = _valid_text(st)
    text = _weighted((3, valid), (2, st.lists(line, max_size=12).map("\n".join)), (1, st.text(max_size=60)),
                     (1, st.lists(st.sampled_from(TOKENS), max_size=20).map("".join)))
    prog = _weighted((4, st.tuples(st.just("text"), text)),
                     (2, st.tuples(st.just("program"), code_seq, st.one_of(st.tuples(st.just("list"), int_lists), seq))),
                     (1, st.tuples(st.just("strsub"), text, st.integers(0, 80))), (1, st.tuples(st.just("junk"), st.sampled_from(JUNK))))
    bytecode = _weighted((4, st.tuples(st.just("program"), code_seq, st.tuples(st.just("list"), int_lists))),
                         (1, st.tuples(st.just("program"), code_seq, seq)), (1, prog))
    programs = _weighted(
        (4, st.tuples(st.just("list"), st.lists(st.tuples(st.just("text"), text), max_size=6))),
        (2, st.tuples(st.just("list"), st.lists(prog, max_size=6))),
        (2, st.tuples(st.just("packed"), st.lists(valid, max_size=5))),
        (1, st.tuples(st.just("batch"), code_seq, good_seq, good_seq, good_seq)),
        (1, st.tuples(st.just("junk"), st.sampled_from(JUNK))))
    bad_ints = st.one_of(st.integers(max_value=-1), st.integers(min_value=INT64_MAX + 1), st.sampled_from(EDGE_INTS))
    small = st.integers(0, 3000)
    fuel = _weighted((6, st.tuples(st.sampled_from(["int", "int", "int", "np"]), small)),  # a huge valid fuel could hang
                     (1, st.tuples(st.sampled_from(["int", "np", "bool", "float", "str", "none"]), bad_ints)))
    trace_fuel = st.one_of(fuel, st.just(("int", 10_000_001)))
    runs = st.lists(good_seq, max_size=8)
    flat = st.tuples(st.just("flat"), good_seq)
    cuts = st.tuples(st.just("fit"), st.lists(st.integers(0, 30), max_size=10))
    inputs_offsets = _weighted(  # (inputs, input_offsets): the two only fit together in some pairs
        (2, st.tuples(st.none(), st.none())), (4, st.tuples(st.tuples(st.just("runs"), runs, st.just(True)), st.none())),
        (1, st.tuples(st.tuples(st.just("runs"), runs, st.just(False)), st.none())), (3, st.tuples(flat, cuts)),
        (1, st.tuples(flat, seq)), (1, st.tuples(st.tuples(st.just("junk"), st.sampled_from(JUNK)), st.none())),
        (1, st.tuples(st.tuples(st.just("runs"), runs, st.booleans()), cuts)))
    index = _weighted((3, st.none()), (3, st.tuples(st.just("fit"), st.lists(st.integers(0, 20), max_size=10))), (1, seq))
    per_run = _weighted((5, st.tuples(st.sampled_from(["int", "int", "np"]), st.integers(0, 40))),
                        (1, st.tuples(st.sampled_from(["int", "np", "bool", "float", "str", "none"]), ints)))
    messages = _weighted((4, st.booleans()), (1, st.sampled_from([0, 1, "yes", None])))
    run_batch = st.tuples(programs, inputs_offsets, fuel, index, messages, per_run).map(
        lambda t: ("run_batch", t[0], t[1][0], t[2], t[3], t[4], t[5], t[1][1]))
    cli_args = st.tuples(st.sampled_from(["run", "fmt"]), text, st.one_of(st.just(""), st.text("0123456789,- x", max_size=12),
                                                                       st.sampled_from(["9223372036854775808", "1" * 5000])),
                         st.one_of(st.just("1000"), st.sampled_from(["-1", "x", "9" * 30, "0"])), st.booleans())
    return _weighted(
        (1, st.tuples(st.just("assemble"), st.one_of(text, st.sampled_from(JUNK).map(lambda j: ("junk", j))))),
        (1, st.tuples(st.just("disassemble"), bytecode)), (1, st.tuples(st.just("validate"), bytecode)),
        (1, st.tuples(st.just("canonical"), text)), (1, st.tuples(st.just("parse_compiled"), text)),
        (1, st.tuples(st.just("Program"), code_seq, seq)),
        (1, st.tuples(st.just("pack"), st.lists(prog, max_size=5), st.sampled_from([True, False, 1, None]))),
        (2, st.tuples(st.just("run"), prog, good_seq, fuel)), (1, st.tuples(st.just("trace"), prog, good_seq, trace_fuel)),
        (5, run_batch), (1, st.tuples(st.just("cli"), cli_args)))


def _as_input_list(obj) -> list:
    """What the VM must read for a built inputs object (rebuilt: an iterator is used up)."""
    return [int(v) for v in (list(obj) if not hasattr(obj, "reshape") else obj.reshape(-1).tolist())]


def _check_result(res, fuel: int, where: str, single: bool = True) -> None:
    assert isinstance(res, cadmus.Result), where
    assert res.status in cadmus.Status and len(res.outputs) <= cadmus.isa.MAX_OUTPUTS, where
    assert all(isinstance(v, int) and INT64_MIN <= v <= INT64_MAX for v in res.outputs), where
    assert 0 <= res.steps <= fuel, where
    if single:  # run() explains every PARSE_ERROR and BAD_PROGRAM, and nothing else
        assert (res.error is not None) == (res.status in (cadmus.Status.PARSE_ERROR, cadmus.Status.BAD_PROGRAM)), where


def _expect(prog, inputs: list, fuel: int, res, where: str) -> None:
    """``res`` must be what the reference interpreter gives (for small fuel)."""
    if fuel <= 3000:
        want = run_reference(prog, inputs, fuel=fuel)
        assert (res.status, res.outputs, res.steps) == want, f"{where}: VM {res} reference {want}"


def _length(make):
    """len() of the flat integer list a builder makes, or None where it is not one."""
    try:
        return len(_as_input_list(make()))
    except Exception:
        return None


def _call_run_batch(recipe):
    _, prog_r, in_r, fuel_r, index_r, messages, per_run_r, off_r = recipe
    programs = build_programs(prog_r)
    n_programs = _n_programs(programs)
    index = build_index(index_r, n_programs)
    n_runs = n_programs if index is None else (_length(lambda: build_index(index_r, n_programs)) or 0)
    inputs = build_inputs(in_r, n_runs)
    n_values = _length(lambda: build_inputs(in_r, n_runs)) or 0
    offsets = build_offsets(off_r, n_runs, n_values)
    fuel = _scalar(fuel_r)
    bat = cadmus.run_batch(programs, inputs, fuel, program_index=index, messages=messages,
                           outputs_per_program=_scalar(per_run_r), input_offsets=offsets)
    # The call succeeded, so every argument was valid: rebuild each run's program and inputs
    # (iterators are used up) and hold every run to the reference interpreter.
    assert isinstance(bat, cadmus.BatchResult) and len(bat) == n_runs, (len(bat), n_runs)
    assert (bat.errors is not None) == bool(messages)
    progs = programs if isinstance(programs, list) else [programs[i] for i in range(len(programs))]
    index = list(range(n_programs)) if index is None else _as_input_list(build_index(index_r, n_programs))
    if offsets is not None:
        flat = _as_input_list(build_inputs(in_r, n_runs))
        off = _as_input_list(build_offsets(off_r, n_runs, n_values))
        run_inputs = [flat[off[i]:off[i + 1]] for i in range(n_runs)]
    elif inputs is None:
        run_inputs = [[] for _ in range(n_runs)]
    else:
        run_inputs = [_as_input_list(x) for x in build_inputs(in_r, n_runs)]
    for i in range(n_runs):
        res = bat[i]
        _check_result(res, fuel, f"run {i}", single=False)
        prog = progs[index[i]]
        _expect(str.__str__(prog) if isinstance(prog, str) else prog, run_inputs[i], fuel, res, f"run {i}")
        if messages and isinstance(prog, str):
            assert (bat.errors[i] is not None) == (res.status == cadmus.Status.PARSE_ERROR), f"run {i} message"


def _call_cli(recipe):
    import contextlib
    import io
    import tempfile

    from cadmus.cli import main as cli_main

    command, text, inputs, fuel, trace = recipe[1]
    with tempfile.NamedTemporaryFile("w", suffix=".cad", encoding="utf-8", errors="surrogatepass", delete=False) as f:
        f.write(text)
    argv = [command, f.name] + (["--input", inputs, "--fuel", fuel] + (["--trace"] if trace else []) if command == "run" else [])
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            code = cli_main(argv)
    except SystemExit as stop:  # argparse's usage errors, an unreadable file
        code = 2 if isinstance(stop.code, str) else stop.code
    finally:
        Path(f.name).unlink()
    assert code in (0, 1, 2), f"cli exit code {code}: {sink.getvalue()[-300:]}"
    assert "Traceback" not in sink.getvalue(), sink.getvalue()[-500:]


def check_api(recipe) -> None:
    """Run one recipe; raise AssertionError for anything but a right result or a TypeError/ValueError."""
    from cadmus.vm import parse_compiled

    what = recipe[0]
    if what == "cli":
        return _call_cli(recipe)
    try:
        if what == "assemble":
            arg = recipe[1] if isinstance(recipe[1], str) else _junk(recipe[1][1])
            prog = cadmus.assemble(arg)
            assert cadmus.assemble(cadmus.disassemble(prog)) == prog
            fast = parse_compiled(arg)
            assert fast == prog, f"compiled parser {fast} vs assemble {prog}"
        elif what == "parse_compiled":
            fast = parse_compiled(recipe[1])
            try:
                ref = cadmus.assemble(recipe[1])
            except cadmus.AsmError:
                ref = None
            assert (fast is None) == (ref is None) and (ref is None or fast == ref), f"compiled {fast} vs assemble {ref}"
        elif what == "canonical":
            assert isinstance(cadmus.canonical(recipe[1]), str)
        elif what in ("disassemble", "validate"):
            prog = build_program(recipe[1])
            out = getattr(cadmus, what)(prog)
            assert isinstance(out, str) or (what == "validate" and out is None)
        elif what == "Program":
            prog = cadmus.Program(build_seq(recipe[1]), build_seq(recipe[2]))
            assert prog.code.dtype == prog.consts.dtype == "int64" and prog.code.ndim == prog.consts.ndim == 1
            res = cadmus.run(prog, fuel=500)
            _check_result(res, 500, "run")
            _expect(prog, [], 500, res, "run")
        elif what == "pack":
            batch = cadmus.pack([build_program(p) for p in recipe[1]], texts=recipe[2])
            for i in range(len(batch)):
                _expect(batch[i], [], 500, cadmus.run(batch[i], fuel=500), f"program {i}")
        elif what in ("run", "trace"):
            prog, inputs, fuel = build_program(recipe[1]), build_seq(recipe[2]), _scalar(recipe[3])
            res = cadmus.run(prog, inputs, fuel) if what == "run" else cadmus.trace(prog, inputs, fuel)
            if what == "trace":
                assert len(res) == res.result.steps and res.registers.shape == (len(res), 16)
                res = res.result
            _check_result(res, fuel, what)
            prog = str.__str__(prog) if isinstance(prog, str) else prog
            _expect(prog, _as_input_list(build_seq(recipe[2])), fuel, res, what)
        elif what == "run_batch":
            _call_run_batch(recipe)
        else:
            raise AssertionError(f"unknown recipe {what}")
    except API_ERRORS as err:
        if isinstance(err, AssertionError):
            raise
        return


def run_api(cases: int, seed: int, log=None) -> int:
    """``cases`` hypothesis examples of ``api_strategies``; each recipe is written to ``log``
    (overwritten) before it runs, so a crash leaves its reproducer there. Returns the count."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed

    count = [0]
    sink = open(log, "w") if log else None

    @hseed(seed)
    @settings(max_examples=cases, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(api_strategies())
    def case(recipe):
        if sink is not None:
            sink.seek(0)
            sink.write(repr(recipe))
            sink.truncate()
            sink.flush()
        count[0] += 1
        check_api(recipe)

    case()
    return count[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=100_000, help="random valid programs")
    parser.add_argument("--texts", type=int, default=None, help="hostile texts (default: programs / 2)")
    parser.add_argument("--bytecode", type=int, default=None, help="random bytecode (default: programs / 2)")
    parser.add_argument("--fuel", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--api", type=int, default=0, help="hypothesis cases over the public API (only those)")
    parser.add_argument("--log", help="file that holds the recipe of the running API case")
    parser.add_argument("--replay", help="run one API recipe (as printed for a failure)")
    args = parser.parse_args(argv)
    if args.replay:
        check_api(ast.literal_eval(args.replay))
        print("replayed: no failure")
        return 0
    if args.api:
        t0 = time.time()
        count = run_api(args.api, args.seed, args.log)
        print(f"api: {count} cases, 0 failures in {time.time() - t0:.1f}s")
        return 0
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
