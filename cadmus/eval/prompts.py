"""Suites -> prompts: what the model sees, where its answer ends, and the reference answer.

Suites (every one runs on any split, IID or OOD):

* ``completion``: the record's ``completion_prompt`` (the true program up to the last
  ``assert REG ``); the answer is one integer literal, ended by a newline.
* ``synthesis``: ``synthesis_prompt`` (description + visible tests as comments); the answer
  is a program, ended by end-of-sequence, a blank line, or a line starting with ``#``
  (what would begin a new task). Records without a description (family ``random``) are
  skipped.
* ``execution`` (CRUXEval-O): ``execution_prompt`` (program, ``# input: ...``,
  ``# output: ``); the answer is the outputs as integers on one line.
* ``input`` (CRUXEval-I): the program, ``# output: OUTPUTS`` and ``# input: ``; the answer
  is an input (integers on one line) on which the program produces those outputs.
* ``repair``: synthesis prompts, then rounds of VM feedback (see :mod:`cadmus.eval.repair`).
* ``trace``: ``trace_prompt`` (program, ``# input: ...``, ``# trace:``); the answer is the
  VM's trace lines then ``# output: OUTPUTS``, ended by end-of-sequence or a blank line
  (what follows the output line is ignored by the judge). Records without a trace view (over
  the trace caps, or a dataset built without ``trace_view: true``) are skipped.

Few-shot: ``shots`` solved examples (prompt + reference answer, each followed by a blank
line) are put before every prompt. They come from a fixed prompt split, never ``test`` and
never the split under evaluation (:func:`few_shot_prefix`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from ..schema import SUITES
# The text that ends an answer (besides end-of-sequence), per suite.
LINE_SUITES = ("completion", "execution", "input")
SYNTHESIS_STOPS = ("\n\n", "\n#")
TRACE_STOPS = ("\n\n",)  # a trace answer has several lines and ends with a comment line


@dataclass(frozen=True)
class Prompt:
    """One evaluation problem: ``text`` goes to the model; ``index`` is the record's row."""

    id: str
    split: str
    suite: str
    text: str
    index: int
    reference: str  # the dataset's own answer (the known-answer check feeds these)
    preamble: str = ""  # the DSL reference and I/O convention at the start of ``text`` (--preamble)


def stop_strings(suite: str) -> tuple:
    """Texts that end a sample of ``suite`` (end-of-sequence always ends one too)."""
    if suite == "trace":
        return TRACE_STOPS
    return ("\n",) if suite in LINE_SUITES else SYNTHESIS_STOPS


def cut_sample(suite: str, text: str) -> str:
    """The answer part of a generated ``text``: everything before the first stop string."""
    end = len(text)
    for stop in stop_strings(suite):
        at = text.find(stop)
        if at != -1:
            end = min(end, at)
    return text[:end]


def ints(values) -> str:
    return " ".join(map(str, values))


def input_prompt(program: str, outputs: Sequence[int]) -> str:
    return f"{program}\n# output: {ints(outputs)}\n# input: "


def record_prompt(suite: str, record: dict) -> Optional[tuple]:
    """``(prompt text, reference answer)`` for a record, or None when the suite skips it."""
    # imported hand-written tasks may lack a program (no reference) or a completion view
    needed = {"completion": "completion_prompt", "execution": "execution_prompt", "input": "program",
              "trace": "trace_prompt"}.get(suite)
    if needed and not record.get(needed):  # .get: a dataset built before the trace view
        return None
    if suite == "completion":
        return record["completion_prompt"], record["completion_target"]
    if suite in ("synthesis", "repair"):
        if not record["synthesis_prompt"]:
            return None
        return record["synthesis_prompt"], record["synthesis_target"]
    if suite == "execution":
        return record["execution_prompt"], record["execution_target"]
    if suite == "trace":
        return record["trace_prompt"], record["trace_target"]
    if suite == "input":
        first = record["tests"][0]
        return input_prompt(record["program"], first["output"]), ints(first["input"])
    raise ValueError(f"unknown suite {suite!r}; expected one of {', '.join(SUITES)}")


# What each suite asks for, in the preamble (the answer's form and where it ends).
TASK_LINES = {
    "completion": "Task: give the integer that makes the program's last `assert` hold; answer with that integer "
                  "on one line.",
    "synthesis": "Task: write a program that, on every input, prints the outputs the description asks for; the "
                 "`# INPUTS -> OUTPUTS` lines are examples (hidden tests check more inputs). Answer with the "
                 "program only, ended by a blank line.",
    "execution": "Task: give the outputs the program prints on the input shown, as integers on one line.",
    "input": "Task: give an input (integers on one line) on which the program prints the outputs shown.",
    "trace": "Task: give the program's execution on the input shown: one line per executed instruction that "
             "writes a register (`c=42`; a swap: `a=5 b=3`) or an output (`out 42`), then `# output: ` and the "
             "outputs.",
}
TASK_LINES["repair"] = TASK_LINES["synthesis"]


def dsl_reference() -> str:
    """A short DSL reference as comment lines, generated from the ISA table (``cadmus.isa``)."""
    from .. import isa

    lines = [
        "Cadmus DSL reference.",
        "One item per line: `mnemonic op1 op2 ...` (operands separated by spaces), a label `name:`, or a "
        "comment `# ...`.",
        f"Machine: {isa.N_REGS} int64 registers {isa.REG_NAMES[0]}..{isa.REG_NAMES[-1]} (zero at start), "
        f"{isa.MEM_SIZE} memory cells (zero at start), a data stack of {isa.DATA_STACK_SIZE}, a call stack of "
        f"{isa.CALL_STACK_SIZE}; arithmetic wraps (two's complement).",
        "Operands: r = a register, v = a register or an integer literal, L = a label. A run ends OK at `halt` or "
        "after the last line; anything else (a failed assert, an error, running out of fuel) fails.",
        "I/O: each `in r` reads the next input value; each `out v` prints one output value. An array input is "
        "given length first (n, then v1..vn); a program prints each output value with its own `out`.",
    ]
    for group in isa.GROUPS:
        lines.append(f"{group}:")
        lines.extend(f"  {ins.signature}: {ins.doc}" for ins in isa.INSTRUCTIONS if ins.group == group)
    return "".join(f"# {line}\n" for line in lines)


def io_convention(family: str) -> str:
    """The family's input/output convention (its ``doc``), or a generic line for an unknown family."""
    from .. import families

    try:
        return families.get(family).doc
    except KeyError:
        return "inputs and outputs as in the examples"


def preamble(suite: str, record: dict) -> str:
    """What goes before a prompt for a model that has not seen Cadmus: the DSL reference, the task
    of the suite and the record's I/O convention, all as comment lines."""
    return (dsl_reference() + f"# {TASK_LINES[suite]}\n"
            + f"# This task's input and output: {io_convention(record['family'])}.\n#\n")


def few_shot_prefix(suite: str, shot_records: Sequence[dict], shots: int) -> str:
    """The first ``shots`` usable records of the prompt split, solved, one blank line apart."""
    parts = []
    for record in shot_records:
        if len(parts) == shots:
            break
        pair = record_prompt(suite, record)
        if pair is not None:
            parts.append(pair[0] + pair[1] + "\n\n")
    if len(parts) < shots:
        raise ValueError(f"the prompt split has only {len(parts)} usable records for {shots} shots")
    return "".join(parts)


def check_shot_split(shot_split: str, eval_splits: Sequence[str]) -> None:
    """Few-shot examples never come from ``test`` nor from a split being evaluated."""
    if shot_split == "test" or shot_split in eval_splits:
        raise ValueError(f"few-shot prompts cannot come from {shot_split!r}: it is test or under evaluation")


def build_prompts(records, split: str, suite: str, limit: Optional[int] = None, prefix: str = "",
                  with_preamble: bool = False) -> list:
    """Prompts for the records of one split (the first ``limit`` usable ones); with
    ``with_preamble`` each starts with :func:`preamble` (before any few-shot ``prefix``)."""
    out = []
    for index, record in enumerate(records):
        if limit is not None and len(out) >= limit:
            break
        pair = record_prompt(suite, record)
        if pair is not None:
            head = preamble(suite, record) if with_preamble else ""
            out.append(Prompt(record["id"], split, suite, head + prefix + pair[0], index, pair[1], head))
    return out
