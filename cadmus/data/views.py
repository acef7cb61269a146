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

from dataclasses import dataclass
from typing import Optional, Sequence

VIEWS = ("completion", "synthesis", "execution")


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


def judge(view: str, record: dict, sample: str) -> Check:
    """What to run in the VM to judge ``sample`` (a model's target text) for ``view``."""
    if view == "completion":
        return Check(record["completion_prompt"] + sample.split("\n", 1)[0], (((), ()),))
    if view == "synthesis":
        cases = tuple((t["input"], t["output"]) for t in [*record["tests"], *record["challenge_tests"]])
        return Check(record["synthesis_prompt"] + sample, cases)
    if view == "execution":
        first = record["tests"][0]
        return Check(record["program"], ((first["input"], _parse_ints(sample.split("\n", 1)[0])),))
    raise ValueError(f"unknown view {view!r}; expected one of {', '.join(VIEWS)}")


def run_checks(checks: Sequence[Check], fuel: int = 100_000):
    """A numpy bool array: which checks passed (one ``run_batch`` over all their cases)."""
    import numpy as np

    import cadmus

    texts, inputs, owner = [], [], []
    for k, check in enumerate(checks):
        for case_input, _ in check.cases:
            texts.append(check.program)
            inputs.append(list(case_input))
            owner.append(k)
    res = cadmus.run_batch(texts, inputs=inputs, fuel=fuel, outputs_per_program=16)
    passed = np.ones(len(checks), bool)
    j = 0
    for k, check in enumerate(checks):
        for _, expected in check.cases:
            ok = res.status[j] == 0 and expected is not None and res.outputs_of(j) == list(expected)
            passed[k] &= bool(ok)
            j += 1
    return passed
