"""The one judge: what an answer is for each suite, and whether it passes.

The dataset builder (its own targets), ``cadmus eval`` and ``score``, the repair loop, the
in-training accuracy and the ``program-completion`` pipeline all judge through this module,
so a sample gets the same verdict everywhere. Judging never raises on a sample's text.

**Every suite.** A sample that is not a ``str``, or is longer than :data:`MAX_ANSWER_CHARS`
characters, is ``REJECTED`` unread. ``None`` is a sample that was not generated because its
prompt did not fit the model (``TOO_LONG``).

**Integers** are written in canonical decimal: ``0``, or an optional ``-``, a digit 1-9 and
more ASCII digits, of a value inside int64 -- the one way the dataset writes a value. So
``" 30"``, ``"030"``, ``"-0"``, ``"+5"``, ``"3e1"`` and non-ASCII digits are not integers
(REJECTED).
A literal of more than 19 digits, or outside int64, is REJECTED as well ("integer outside
int64"): no int64 computation prints it, and it is never converted.

**Line answers** (completion, execution, input): the answer is the sample's first line (up
to the first ``\\n``), with trailing spaces, tabs and ``\\r`` removed -- the DSL's own
separators, so ``"30 "``, ``"30\\r"`` and ``"30\\n junk"`` all answer ``30``. Leading
whitespace is kept, so it fails: the prompt already ends in the separator.

* completion: exactly one integer; passes iff ``completion_prompt + answer`` runs to status
  OK (its asserts hold; outputs are not compared). The strict form is what stops a register
  (``assert d d``, which always holds) from counting.
* execution: integers separated by single spaces (the empty line is "no outputs"); passes iff
  the record's program on its first visible input ends OK with exactly these outputs.
* input: the same form; passes iff the program, given these integers as input, ends OK with
  exactly the first visible test's outputs (values it never reads do not matter: that is
  still an input giving those outputs).

**Trace answers** (trace): the sample's lines up to and including the first line that starts
with ``# output:`` (what follows it is ignored), each without trailing spaces, tabs and ``\\r``.
Every line before it must be a trace line, ``REG=INT``, ``REG=INT REG=INT`` (a ``swap``) or
``out INT``, with canonical integers, and the output line ``# output:`` then a space and the
outputs as in execution (``# output:`` alone: no outputs); anything else is REJECTED. It passes
iff the lines are exactly those of :func:`execution_trace` of the record's program on its first
visible input (the VM's trace: one line per executed instruction that writes a register or an
output) and the program, run on that input, ends OK with exactly the claimed outputs. A wrong
line fails without a run (``WRONG_OUTPUT``, its reason names the first wrong line).

**Program answers** (synthesis, repair): the whole sample is the program (the evaluation has
already cut it at the suite's stop strings); one with no instruction line (only blanks,
comments, labels) is REJECTED. It runs on every visible test and every hidden test
(``challenge_tests``); a run passes iff it ends OK with exactly the expected outputs.

**Verdict** (:func:`score_samples`, one dict per sample): ``passed`` is the headline -- every
test passes, visible and hidden; ``passed_visible`` counts the visible tests only
(synthesis/repair; None for the other suites); ``status`` is ``OK``, the VM status of the
first failing run, ``WRONG_OUTPUT``, ``REJECTED`` or ``TOO_LONG``; ``reason`` is
greppable (``passed``, ``failed: ...``, ``rejected: ...``) and names the first failing visible
test with expected vs got. A failure on hidden tests only is reported as a count, never with
their values: the reason is the repair loop's feedback, and hidden tests never reach a prompt.

Every run has ``fuel`` instructions (default :data:`DEFAULT_FUEL`, the VM's 100,000). Runs are
batched: :func:`execute` sends every run of many checks to one ``cadmus.run_batch``
(each program parsed once) and compares outputs in numpy (:func:`outputs_match`), so the
builder can verify millions of runs through :func:`run_checks`.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Optional, Sequence

import numpy as np

from .isa import DEFAULT_FUEL, INT64_MAX, INT64_MIN, REG_NAMES, Status
from .schema import SUITES

PROGRAM_SUITES = ("synthesis", "repair")
MAX_ANSWER_CHARS = 65_536  # far above any real answer; bounds the memory one sample can take
TRAILING = " \t\r"  # removed from the end of a line answer: the DSL's separators
_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,18})")  # canonical decimal, at most int64's 19 digits
_DIGITS = re.compile(r"[-+]?[0-9]+")
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e]")
_SHOWN_VALUES = 32  # a reason lists at most this many values of a long output
_SHOWN_ERROR = 200  # and at most this many characters of an assembler message


class Rejected(ValueError):
    """A sample that is not an answer of its suite's form (the message says why)."""


@dataclass(frozen=True)
class Check:
    """Run ``program`` on each case's input; the check passes iff every run ends OK with exactly
    the case's expected outputs (None: outputs are not compared).

    ``cases[:n_visible]`` are the visible tests and the rest hidden (None: all visible). A
    check with ``rejected`` set is a sample that is no answer: it fails without running."""

    program: str
    cases: tuple = ()  # ((inputs, expected outputs or None), ...)
    n_visible: Optional[int] = None
    rejected: Optional[str] = None
    suite: str = ""
    wrong: Optional[str] = None  # an answer already known wrong (a trace line): fails without running  # how a failure is described (execution: the answer is the expected output)


# --- answers ---------------------------------------------------------------------------------

def _integer(token: str) -> int:
    """The value of a canonical int64 literal; raises :class:`Rejected`."""
    if _INT.fullmatch(token) and token != "-0":
        value = int(token)  # at most 19 digits: never a long conversion
        if INT64_MIN <= value <= INT64_MAX:
            return value
        raise Rejected("integer outside int64")
    if _DIGITS.fullmatch(token):  # digits, but "030", "-0", "+5" or longer than int64
        digits = token.lstrip("+-").lstrip("0")
        if len(digits) > 19:
            raise Rejected("integer outside int64")
        raise Rejected(f"not a canonical integer: {_shown(token)} (no sign +, leading zero or -0)")
    if not token:
        raise Rejected("empty answer")
    if token[0] in TRAILING:
        raise Rejected("leading whitespace")
    raise Rejected(f"not an integer: {_shown(token)}")


def _shown(text: str, limit: int = 40) -> str:
    """``text`` cut at ``limit`` characters, anything but printable ASCII escaped: reasons are
    printable whatever the sample held."""
    text = text if len(text) <= limit else text[:limit] + "..."
    return _NOT_PRINTABLE.sub(lambda m: ascii(m.group())[1:-1], text)


def answer_line(sample: str) -> str:
    """The first line of a sample, without trailing spaces, tabs and ``\\r``."""
    end = sample.find("\n")
    return (sample if end == -1 else sample[:end]).rstrip(TRAILING)


def _checked_text(sample) -> str:
    if not isinstance(sample, str):
        raise Rejected(f"not text but {type(sample).__name__}")
    if len(sample) > MAX_ANSWER_CHARS:
        raise Rejected(f"longer than {MAX_ANSWER_CHARS} characters")
    return sample


def read_answer(suite: str, sample):
    """The answer a sample gives: the literal (completion), the integers (execution, input) or
    the program (synthesis, repair); raises :class:`Rejected` when it is none."""
    sample = _checked_text(sample)
    if suite in PROGRAM_SUITES:
        if not _has_instruction(sample):
            raise Rejected("no instruction")
        return sample
    line = answer_line(sample)
    if suite == "completion":
        _integer(line)
        return line
    if suite in ("execution", "input"):
        tokens = line.split(" ") if line else []
        if "" in tokens:
            raise Rejected("not integers separated by single spaces")
        return tuple(_integer(t) for t in tokens)
    if suite == "trace":
        return _trace_answer(sample)
    raise ValueError(f"unknown suite {suite!r}; expected one of {', '.join(SUITES)}")


def completion_answer(sample) -> Optional[str]:
    """The integer literal a completion sample answers, or None when it answers none."""
    try:
        return read_answer("completion", sample)
    except Rejected:
        return None


def _has_instruction(program: str) -> bool:
    for line in program.split("\n"):
        line = line.strip(TRAILING)
        if line and not line.startswith("#") and not line.endswith(":"):
            return True
    return False


# --- traces ----------------------------------------------------------------------------------

TRACE_HEAD = "# trace:\n"  # the trace view's prompt ends with it
OUTPUT_HEAD = "# output:"  # the line that ends a trace answer
TRACE_MAX_LINES = 64  # a longer trace is no view: the record's trace columns are empty
TRACE_MAX_STEPS = 512  # and so is a run of more instructions (it bounds the trace's memory)
_TRACE_LINE = re.compile(r"([a-p])=([^ ]+)(?: ([a-p])=([^ ]+))?|out ([^ ]+)")


def _trace_opcodes() -> tuple:
    """(per opcode: whether it writes a trace line, the opcode of swap, of out)."""
    from .isa import BY_MNEMONIC, INSTRUCTIONS, N_OPCODES

    shown = np.zeros(N_OPCODES, bool)
    for ins in INSTRUCTIONS:
        shown[ins.opcode] = ins.operands[:1] == "r" or ins.mnemonic == "out"  # a register written, or out
    return shown, BY_MNEMONIC["swap"].opcode, BY_MNEMONIC["out"].opcode


_SHOWN, _SWAP, _OUT = _trace_opcodes()


def execution_trace(program: str, inputs: Sequence[int], max_lines: int = TRACE_MAX_LINES,
                    max_steps: int = TRACE_MAX_STEPS) -> Optional[tuple]:
    """``(lines, outputs)`` of ``program``'s run on ``inputs`` (``cadmus.trace``): one line per
    executed instruction that writes a register, ``c=42`` (``swap a b``: ``a=5 b=3``, both
    registers in operand order), or an output, ``out 42``, in execution order; memory, stacks
    and jumps write no line. None when the text does not assemble, or the run does not end OK
    within ``max_steps`` instructions, or it writes more than ``max_lines`` lines."""
    from .asm import AsmError, assemble
    from .vm import trace

    try:
        prog = assemble(program)
    except AsmError:
        return None
    tr = trace(prog, inputs, fuel=max_steps)
    if tr.result.status != Status.OK:
        return None
    op = tr.opcode
    rows = np.flatnonzero(_SHOWN[op])
    if len(rows) > max_lines:
        return None
    after = np.concatenate([tr.registers, tr.final_registers[None]])[rows + 1]  # registers after each step
    code = prog.code.reshape(-1, 4)[tr.pc[rows]]
    first, second = code[:, 1], np.minimum(code[:, 2], 15)  # a swap's two registers
    ops, regs1, regs2 = op[rows].tolist(), first.tolist(), second.tolist()
    values1 = after[np.arange(len(rows)), np.minimum(first, 15)].tolist()
    values2 = after[np.arange(len(rows)), second].tolist()
    outputs = iter(tr.result.outputs)
    lines = []
    for o, r1, v1, r2, v2 in zip(ops, regs1, values1, regs2, values2):
        if o == _OUT:
            lines.append(f"out {next(outputs)}")
        elif o == _SWAP:
            lines.append(f"{REG_NAMES[r1]}={v1} {REG_NAMES[r2]}={v2}")
        else:
            lines.append(f"{REG_NAMES[r1]}={v1}")
    return tuple(lines), tuple(tr.result.outputs)


def trace_target(lines: Sequence[str], outputs: Sequence[int]) -> str:
    """The trace view's target: the lines, then ``# output: OUTPUTS``."""
    return "".join(line + "\n" for line in lines) + f"{OUTPUT_HEAD} {' '.join(map(str, outputs))}"


@lru_cache(maxsize=4096)
def _true_trace(program: str, inputs: tuple) -> Optional[tuple]:
    return execution_trace(program, inputs)


def _trace_answer(sample: str) -> tuple:
    """(trace lines, outputs) of a trace sample; raises :class:`Rejected`."""
    lines = []
    for k, line in enumerate(sample.split("\n")):
        line = line.rstrip(TRAILING)
        if line.startswith(OUTPUT_HEAD):
            rest = line[len(OUTPUT_HEAD):]
            if rest and rest[0] != " ":
                raise Rejected(f"not an output line: {_shown(line)}")
            return tuple(lines), read_answer("execution", rest[1:])
        form = _TRACE_LINE.fullmatch(line)
        if not form:
            raise Rejected(f"trace line {k + 1} is not REG=INT, REG=INT REG=INT nor out INT: {_shown(line)}")
        for value in form.group(2, 4, 5):
            if value is not None:
                _integer(value)
        lines.append(line)
    raise Rejected(f"no {OUTPUT_HEAD!r} line")


def _trace_check(record: dict, first: dict, lines: tuple, outputs: tuple) -> Check:
    """The trace lines compared here with the VM's; the outputs then run like an execution answer."""
    truth = _true_trace(record["program"], tuple(first["input"]))
    if truth is None:
        return Check(record["program"], suite="trace", wrong="the record's run has no trace (over the trace caps)")
    want = truth[0]
    for k, (w, g) in enumerate(zip(want, lines)):
        if w != g:
            return Check(record["program"], suite="trace", wrong=f"wrong trace line {k + 1}: expected {w}, got {_shown(g)}")
    if len(lines) != len(want):
        return Check(record["program"], suite="trace", wrong=f"the trace has {len(lines)} lines, expected {len(want)}")
    return Check(record["program"], ((first["input"], outputs),), suite="trace")


# --- checks ----------------------------------------------------------------------------------

def completion_check(prompt: str, sample) -> Check:
    """The check of a completion ``sample`` for a prompt ending in ``assert REG ``."""
    try:
        return Check(prompt + read_answer("completion", sample), (((), None),), suite="completion")
    except Rejected as why:
        return Check(prompt, rejected=str(why), suite="completion")


def check(suite: str, record: dict, sample) -> Check:
    """What to run to judge ``sample`` (a model's answer text) for ``record`` in ``suite``."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; expected one of {', '.join(SUITES)}")
    if suite == "completion":
        return completion_check(record["completion_prompt"], sample)
    try:
        answer = read_answer(suite, sample)
    except Rejected as why:
        return Check("", rejected=str(why), suite=suite)
    if suite in PROGRAM_SUITES:
        visible = tuple((t["input"], t["output"]) for t in record["tests"])
        hidden = tuple((t["input"], t["output"]) for t in record["challenge_tests"])
        return Check(answer, visible + hidden, len(visible), suite=suite)
    first = record["tests"][0]
    if suite == "trace":
        return _trace_check(record, first, *answer)
    if suite == "execution":
        return Check(record["program"], ((first["input"], answer),), suite=suite)
    return Check(record["program"], ((answer, first["output"]),), suite=suite)


# --- running ---------------------------------------------------------------------------------

def outputs_match(res, want_len: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Per run of ``res`` (a ``BatchResult``): whether it ended OK with exactly its expected
    outputs. Run ``i`` expects the next ``want_len[i]`` values of ``expected`` (-1: outputs
    not compared, no values). Compared in numpy, never per run in Python."""
    want_len = np.asarray(want_len, np.int64)
    ok = (res.status == int(Status.OK)) & ((want_len < 0) | (res.out_count == want_len))
    lengths = np.maximum(want_len, 0)
    if len(expected):
        run_of_value = np.repeat(np.arange(len(want_len)), lengths)
        offset_in_run = np.arange(len(expected)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        # a run with fewer outputs than expected already failed; clip its reads into the array
        where = np.minimum(res.out_start[run_of_value] + offset_in_run, max(len(res.out_values) - 1, 0))
        ok[run_of_value[res.out_values[where] != expected]] = False
    return ok


class Judged:
    """The outcome of :func:`execute`: per check ``passed`` (every run) and ``passed_visible``
    (visible runs), and per check its runs, for statuses, outputs and verdicts."""

    def __init__(self, checks, res, run_ok, first_run):
        self.checks, self.res, self.run_ok, self.first_run = checks, res, run_ok, first_run
        n = len(checks)
        owner = np.repeat(np.arange(n), np.diff(first_run))
        hidden = np.zeros(len(run_ok), bool)
        for k, c in enumerate(checks):  # per check, not per run
            if c.n_visible is not None and c.n_visible < len(c.cases):
                hidden[first_run[k] + c.n_visible:first_run[k + 1]] = True
        rejected = np.fromiter((c.rejected is not None or c.wrong is not None for c in checks), bool, n)
        self.passed = ~rejected & (np.bincount(owner[~run_ok], minlength=n) == 0)
        self.passed_visible = ~rejected & (np.bincount(owner[~run_ok & ~hidden], minlength=n) == 0)

    def status(self, k: int) -> str:
        """``REJECTED``, else the VM status of check ``k``'s first run (``OK`` when it ended OK)."""
        if self.checks[k].rejected is not None:
            return "REJECTED"
        if self.checks[k].wrong is not None:
            return "WRONG_OUTPUT"
        if self.first_run[k] == self.first_run[k + 1]:  # nothing to run: nothing failed
            return "OK"
        return Status(int(self.res.status[self.first_run[k]])).name

    def outputs(self, k: int) -> list:
        """The outputs of check ``k``'s first run (empty when rejected)."""
        if not self._ran(self.checks[k]) or self.first_run[k] == self.first_run[k + 1]:
            return []
        return self.res.outputs_of(int(self.first_run[k]))

    def verdict(self, k: int) -> dict:
        """``passed``, ``passed_visible``, ``status``, ``reason`` of check ``k``."""
        c = self.checks[k]
        program_suite = c.suite in PROGRAM_SUITES
        out = {"passed": bool(self.passed[k]),
               "passed_visible": bool(self.passed_visible[k]) if program_suite else None}
        if c.rejected is not None:
            return {**out, "status": "REJECTED", "reason": f"rejected: {c.rejected}"}
        if c.wrong is not None:
            return {**out, "status": "WRONG_OUTPUT", "reason": f"failed: {c.wrong}"}
        if out["passed"]:
            return {**out, "status": "OK", "reason": "passed"}
        start = int(self.first_run[k])
        failed = [j for j in range(len(c.cases)) if not self.run_ok[start + j]]
        n_visible = len(c.cases) if c.n_visible is None else c.n_visible
        j = failed[0]
        status = self._status_of(start + j)
        if j < n_visible:
            return {**out, "status": status, "reason": self._describe(c, j, start + j, status)}
        n_hidden = len(c.cases) - n_visible
        return {**out, "status": status, "reason": f"failed: {len(failed)} of {n_hidden} hidden tests ({status})"}

    @staticmethod
    def _ran(c: Check) -> bool:
        return c.rejected is None and c.wrong is None

    def _status_of(self, run: int) -> str:
        status = Status(int(self.res.status[run])).name
        return "WRONG_OUTPUT" if status == "OK" else status

    def _describe(self, c: Check, j: int, run: int, status: str) -> str:
        inputs, expected = c.cases[j]
        got = self.res.outputs_of(run)
        where = f"on input [{_values(inputs)}]" if inputs or expected else "running the program"
        if status == "PARSE_ERROR":
            return f"failed: PARSE_ERROR {where}: {_parse_error(c.program)}"
        if status != "WRONG_OUTPUT":
            return f"failed: {status} {where}"
        if c.suite in ("execution", "trace"):  # the answer is the claimed output; the VM's is the truth
            expected, got = got, expected
        return f"failed: wrong output {where}: expected [{_values(expected)}], got [{_values(got)}]"


def _values(values) -> str:
    values = list(values)
    shown = " ".join(map(str, values[:_SHOWN_VALUES]))
    return shown if len(values) <= _SHOWN_VALUES else f"{shown} ... ({len(values)} values)"


def _parse_error(program: str) -> str:
    from .asm import assemble

    try:
        assemble(program)
    except Exception as err:  # the message only; any text must give a verdict
        return _shown(str(err), _SHOWN_ERROR)
    return "the program does not assemble"


def execute(checks: Sequence[Check], fuel: int = DEFAULT_FUEL, timings: Optional[dict] = None,
            clock: Callable[[], float] = time.perf_counter) -> Judged:
    """Run every case of every check in one ``cadmus.run_batch`` (each check's program parsed
    once). ``timings["vm"]`` accumulates the ``clock`` seconds spent in the VM."""
    import cadmus

    checks = list(checks)
    n_runs = np.fromiter((len(c.cases) if Judged._ran(c) else 0 for c in checks), np.int64, len(checks))
    first_run = np.zeros(len(checks) + 1, np.int64)
    np.cumsum(n_runs, out=first_run[1:])
    runnable = [c for c in checks if Judged._ran(c) and c.cases]
    cases = [case for c in runnable for case in c.cases]
    in_len = np.fromiter((len(i) for i, _ in cases), np.int64, len(cases))
    input_offsets = np.zeros(len(cases) + 1, np.int64)
    np.cumsum(in_len, out=input_offsets[1:])
    inputs = np.fromiter((v for i, _ in cases for v in i), np.int64, int(input_offsets[-1]))
    want_len = np.fromiter((-1 if e is None else len(e) for _, e in cases), np.int64, len(cases))
    expected = np.fromiter((v for _, e in cases if e is not None for v in e), np.int64,
                           int(np.maximum(want_len, 0).sum()))
    if cases:
        program_index = np.repeat(np.arange(len(runnable)), [len(c.cases) for c in runnable])
        start = clock()
        res = cadmus.run_batch([c.program for c in runnable], inputs=inputs, fuel=fuel, program_index=program_index,
                               outputs_per_program=16, input_offsets=input_offsets)
        if timings is not None:
            timings["vm"] = timings.get("vm", 0.0) + clock() - start
        run_ok = outputs_match(res, want_len, expected)
    else:
        res, run_ok = None, np.zeros(0, bool)
    return Judged(checks, res, run_ok, first_run)


def run_checks(checks: Sequence[Check], fuel: int = DEFAULT_FUEL, timings: Optional[dict] = None,
               clock: Callable[[], float] = time.perf_counter) -> np.ndarray:
    """A numpy bool array: which checks passed, every case (visible and hidden)."""
    return execute(checks, fuel, timings, clock).passed


def score_samples(suite: str, items: Sequence[tuple], fuel: int = DEFAULT_FUEL,
                  timings: Optional[dict] = None) -> list:
    """Judge ``(record, sample)`` pairs of ``suite``: one verdict dict per pair (``passed``,
    ``passed_visible``, ``status``, ``reason``). A sample of None is ``TOO_LONG``. The same
    sample for the same record object is run once."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; expected one of {', '.join(SUITES)}")
    slot_of, checks, slots = {}, [], []
    for record, sample in items:
        if sample is None:
            slots.append(None)
            continue
        key = (id(record), sample) if isinstance(sample, str) else None
        if key is None or key not in slot_of:
            if key is not None:
                slot_of[key] = len(checks)
            slots.append(len(checks))
            checks.append(check(suite, record, sample))
        else:
            slots.append(slot_of[key])
    judged = execute(checks, fuel, timings)
    verdicts = [judged.verdict(k) for k in range(len(checks))]
    too_long = {"passed": False, "passed_visible": False if suite in PROGRAM_SUITES else None,
                "status": "TOO_LONG", "reason": "not generated: the prompt does not fit the model's context"}
    return [dict(too_long) if s is None else dict(verdicts[s]) for s in slots]


def verify_completions(prompts: Sequence[str], samples: Sequence, fuel: int = DEFAULT_FUEL) -> np.ndarray:
    """Per (completion prompt, sample): whether the sample passes (a bool array)."""
    return run_checks([completion_check(p, s) for p, s in zip(prompts, samples)], fuel)
