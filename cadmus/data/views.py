"""The three views of a record, and how to judge a model's sample for each.

Views (a view's full text is ``prompt + target``; all text is printable ASCII and ``\\n``):

* ``completion``: the record's ``true_program`` (self-contained: inputs loaded with
  ``mov``/``store``, outputs checked by trailing ``assert`` lines, for the first visible
  test). The prompt is everything up to the *last* assert's value (``...\\nassert d ``,
  trailing space), the target is that value (``126``). Earlier asserts of a multi-output
  program stay in the prompt with their values.
* ``synthesis`` (MBPP style): prompt = ``# description`` then one ``# INPUTS -> OUTPUTS``
  comment line per visible test (values separated by spaces), each ending in ``\\n``;
  target = the canonical program. Challenge tests never appear. Empty for ``random``.
* ``execution``: prompt = the program, then ``\\n# input: INPUTS\\n# output: `` for the first
  visible test; target = the outputs separated by spaces.

``judge(view, record, sample)`` returns a :class:`Check`: the full program text to run and
the (input, expected outputs) cases; ``run_checks(checks)`` runs many of them in one
``cadmus.run_batch`` and says which passed. A completion or execution sample is cut at its
first newline (the target is one line); a synthesis sample is used whole.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

VIEWS = ("completion", "synthesis", "execution")
_INT_LITERAL = re.compile(r"-?[0-9]+")


def ints(values) -> str:
    return " ".join(map(str, values))


def split_completion(true_program: str) -> tuple:
    """(prompt, target): cut after the last ``assert REG `` of a self-contained program."""
    cut = true_program.rindex(" ") + 1
    return true_program[:cut], true_program[cut:]


def synthesis_prompt(description: str, tests: Sequence[dict]) -> str:
    lines = [f"# {description}\n"]
    lines.extend(f"# {ints(t['input'])} -> {ints(t['output'])}\n" for t in tests)
    return "".join(lines)


def execution_prompt(program: str, inputs: Sequence[int]) -> str:
    return f"{program}\n# input: {ints(inputs)}\n# output: "


def render_views(record: dict) -> dict:
    """The six view columns of a record (``*_prompt``, ``*_target`` for the three views)."""
    first = record["tests"][0]
    completion = split_completion(record["true_program"])
    if record["description"]:
        synthesis = (synthesis_prompt(record["description"], record["tests"]), record["program"])
    else:
        synthesis = ("", "")
    return {
        "completion_prompt": completion[0], "completion_target": completion[1],
        "synthesis_prompt": synthesis[0], "synthesis_target": synthesis[1],
        "execution_prompt": execution_prompt(record["program"], first["input"]),
        "execution_target": ints(first["output"]),
    }


@dataclass(frozen=True)
class Check:
    """Run ``program`` on each case's input; it passes iff every run ends OK with exactly the
    case's expected outputs (None: the sample could not be read, so it fails)."""

    program: str
    cases: tuple  # ((inputs, expected outputs or None), ...)


def _parse_ints(text: str) -> Optional[list]:
    try:
        return [int(tok) for tok in text.split()]
    except ValueError:
        return None


def completion_answer(sample: str) -> Optional[str]:
    """The answer of a completion sample: its first line if that is an integer literal, else
    None. Anything else must fail: ``assert c `` completed with ``c`` always holds."""
    answer = sample.split("\n", 1)[0]
    return answer if _INT_LITERAL.fullmatch(answer) else None


def judge(view: str, record: dict, sample: str) -> Check:
    """What to run in the VM to judge ``sample`` (a model's target text) for ``view``."""
    if view == "completion":
        answer = completion_answer(sample)
        if answer is None:  # expected outputs None: fails without running
            return Check(record["completion_prompt"], (((), None),))
        return Check(record["completion_prompt"] + answer, (((), ()),))
    if view == "synthesis":
        cases = tuple((t["input"], t["output"]) for t in [*record["tests"], *record["challenge_tests"]])
        return Check(record["synthesis_prompt"] + sample, cases)
    if view == "execution":
        first = record["tests"][0]
        return Check(record["program"], ((first["input"], _parse_ints(sample.split("\n", 1)[0])),))
    raise ValueError(f"unknown view {view!r}; expected one of {', '.join(VIEWS)}")


def run_checks(checks: Sequence[Check], fuel: int = 100_000, timings: Optional[dict] = None):
    """A numpy bool array: which checks passed (one ``run_batch`` over all their cases).

    Outputs are compared in numpy, not per run in Python: the builder verifies millions of runs.
    ``timings``, when given, accumulates the CPU seconds spent in the VM under ``"vm"``.
    """
    import time

    import numpy as np

    import cadmus

    texts, inputs, expected, owner = [], [], [], []
    for k, check in enumerate(checks):
        for case_input, want in check.cases:
            texts.append(check.program)
            inputs.append(case_input)
            expected.append(want)
            owner.append(k)
    if not texts:
        return np.ones(len(checks), bool)
    start = time.process_time()
    res = cadmus.run_batch(texts, inputs=inputs, fuel=fuel, outputs_per_program=16)
    if timings is not None:
        timings["vm"] = timings.get("vm", 0.0) + time.process_time() - start
    want_len = np.fromiter((-1 if e is None else len(e) for e in expected), np.int64, len(expected))
    ok = (res.status == 0) & (res.out_count == want_len)
    lengths = np.maximum(want_len, 0)
    flat = np.fromiter((v for e in expected if e is not None for v in e), np.int64, int(lengths.sum()))
    run_of_value = np.repeat(np.arange(len(texts)), lengths)
    offset_in_run = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    where = np.minimum(res.out_start[run_of_value] + offset_in_run, len(res.out_values) - 1)
    mismatched = run_of_value[res.out_values[where] != flat]
    ok[mismatched] = False
    failed_checks = np.asarray(owner)[~ok]
    passed = np.ones(len(checks), bool)
    passed[failed_checks] = False
    return passed
