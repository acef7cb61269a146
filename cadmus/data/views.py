"""The four views of a record, and how to judge a model's sample for each.

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
* ``trace``: the execution view with the VM's execution in between: prompt = the program, then
  ``\\n# input: INPUTS\\n# trace:\\n``; target = one line per executed instruction that writes a
  register (``c=42``; a ``swap a b`` writes ``a=5 b=3``) or an output (``out 42``), in execution
  order (memory, stacks and jumps write no line), then ``# output: OUTPUTS`` (no newline after).
  Empty (prompt and target) when the run takes more than 512 instructions or writes more than 64
  lines (``judge.TRACE_MAX_STEPS``, ``TRACE_MAX_LINES``), and in datasets whose recipe does not
  set ``trace_view: true`` (rendering a trace costs a traced VM run per record).

Answers are judged by :mod:`cadmus.judge`, with the same rules in the builder, evaluation,
training-time accuracy and the completion pipeline. A completion answer is the first line of
the sample without trailing spaces, tabs and ``\\r``, and must be one int64 in canonical
decimal (``126``, ``-7``, ``0``; not ``0126``, ``-0``, ``+7`` nor a leading space) with which the
program's asserts hold; an execution answer is such integers separated by single spaces, the
program's outputs on the first visible test; a trace answer is the trace lines and the output
line, each exactly as the VM's (what follows the output line is ignored); a synthesis answer is
a program that must give the expected outputs on every visible test and every hidden test
(``challenge_tests``) to pass.
``judge(view, record, sample)`` and ``run_checks(checks)`` here are the builder's entry points.
"""
from __future__ import annotations

import time
from typing import Optional, Sequence

from .. import judge as _judge
from ..isa import DEFAULT_FUEL
from ..judge import TRACE_HEAD, Check, completion_answer, execution_trace, trace_target  # noqa: F401  (re-exported)
from ..schema import VIEWS


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


def trace_prompt(program: str, inputs: Sequence[int]) -> str:
    return f"{program}\n# input: {ints(inputs)}\n{TRACE_HEAD}"


def trace_view(program: str, inputs: Sequence[int]) -> tuple:
    """(prompt, target) of the trace view; ("", "") over the trace caps."""
    trace = execution_trace(program, inputs)
    if trace is None:
        return "", ""
    return trace_prompt(program, inputs), trace_target(*trace)


def render_views(record: dict, trace: bool = True) -> dict:
    """The eight view columns of a record (``*_prompt``, ``*_target`` for the four views); the
    trace view is empty unless ``trace``."""
    first = record["tests"][0]
    completion = split_completion(record["true_program"])
    if record["description"]:
        synthesis = (synthesis_prompt(record["description"], record["tests"]), record["program"])
    else:
        synthesis = ("", "")
    views = {
        "completion_prompt": completion[0], "completion_target": completion[1],
        "synthesis_prompt": synthesis[0], "synthesis_target": synthesis[1],
        "execution_prompt": execution_prompt(record["program"], first["input"]),
        "execution_target": ints(first["output"]),
    }
    views["trace_prompt"], views["trace_target"] = trace_view(record["program"], first["input"]) if trace else ("", "")
    return views


def judge(view: str, record: dict, sample) -> Check:
    """What to run in the VM to judge ``sample`` (a model's target text) for ``view``
    (:func:`cadmus.judge.check`)."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; expected one of {', '.join(VIEWS)}")
    return _judge.check(view, record, sample)


def run_checks(checks: Sequence[Check], fuel: int = DEFAULT_FUEL, timings: Optional[dict] = None):
    """A numpy bool array: which checks passed (one ``run_batch`` over all their cases).
    ``timings``, when given, accumulates the CPU seconds spent in the VM under ``"vm"``."""
    return _judge.run_checks(checks, fuel, timings, clock=time.process_time)
