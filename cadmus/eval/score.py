"""VM verification of samples: every sample of a run in one batched ``cadmus.run_batch``.

Each sample becomes runs (program text, inputs, expected outputs, which test set); a run
passes iff it ends with status OK and exactly the expected outputs. Per sample we keep a
status (``OK``, a VM status name, ``WRONG_OUTPUT`` or ``REJECTED``), ``passed`` and a
greppable ``reason`` (``passed``, ``failed: ...``, ``rejected: ...``; a sample of None, a
prompt too long for the model, is ``TOO_LONG``) that names the first
failing test with expected vs got, which is also the feedback the repair loop shows.

What is run, per suite (``sample`` is already cut at the suite's stop string):

* completion: ``completion_prompt + sample``, no input, no output; the sample must be one
  integer literal (``assert d d`` would restate the question and always hold).
* synthesis / repair: the sample on every visible test (``passed``) and, reported apart,
  on the challenge tests (``passed_challenge``); a sample with no instruction is rejected.
* execution: the record's program on its first visible input; the sample (integers) must
  be exactly its outputs.
* input: the record's program on the sample (integers) as input; its outputs must be the
  first visible test's outputs.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Optional, Sequence

_INT = re.compile(r"-?\d+")
MAX_INT_TOKENS = 1024  # no real input or output is longer; a longer answer is rejected unread


@dataclass
class Run:
    program: str
    inputs: tuple
    expected: tuple
    challenge: bool  # a challenge test (synthesis): reported apart from the visible tests


class Rejected(ValueError):
    """A sample that is not an answer of the suite's form."""


def _int_line(sample: str) -> tuple:
    tokens = sample.split()
    if not tokens:
        raise Rejected("empty answer")
    if len(tokens) > MAX_INT_TOKENS:
        raise Rejected(f"more than {MAX_INT_TOKENS} integers")
    if not all(_INT.fullmatch(t) for t in tokens):
        raise Rejected("not a line of integers")
    values = tuple(int(t) for t in tokens)
    if any(not -2**63 <= v < 2**63 for v in values):
        raise Rejected("integer outside int64")
    return values


def _has_instruction(program: str) -> bool:
    for line in program.split("\n"):
        line = line.strip()
        if line and not line.startswith("#") and not line.endswith(":"):
            return True
    return False


def runs_for(suite: str, record: dict, sample: str) -> list:
    """The VM runs that judge ``sample`` for ``record``; raises :class:`Rejected`."""
    if suite == "completion":
        if not sample.strip():
            raise Rejected("empty answer")
        if not _INT.fullmatch(sample.strip(" ")):
            raise Rejected("not an integer literal")
        return [Run(record["completion_prompt"] + sample.strip(" "), (), (), False)]
    if suite in ("synthesis", "repair"):
        if not _has_instruction(sample):
            raise Rejected("no instruction")
        return [Run(sample, tuple(t["input"]), tuple(t["output"]), challenge)
                for tests, challenge in ((record["tests"], False), (record["challenge_tests"], True))
                for t in tests]
    first = record["tests"][0]
    if suite == "execution":
        return [Run(record["program"], tuple(first["input"]), _int_line(sample), False)]
    if suite == "input":
        return [Run(record["program"], _int_line(sample), tuple(first["output"]), False)]
    raise ValueError(f"unknown suite {suite!r}")


def _describe(run: Run, status: str, got: list, error: Optional[str]) -> str:
    where = f"on input [{' '.join(map(str, run.inputs))}]" if run.inputs or run.expected else "running the program"
    if status == "PARSE_ERROR":
        return f"failed: PARSE_ERROR {where}: {error}"
    if status != "OK":
        return f"failed: {status} {where}"
    return f"failed: wrong output {where}: expected [{' '.join(map(str, run.expected))}], got [{' '.join(map(str, got))}]"


def score_samples(suite: str, items: Sequence[tuple], fuel: int = 100_000, timings: Optional[dict] = None) -> list:
    """Judge ``(record, sample)`` pairs; one dict per pair (status, passed, reason, ...).

    All runs go to one ``cadmus.run_batch`` (identical runs are executed once).
    ``timings["vm"]`` accumulates the seconds spent in the VM call."""
    import cadmus

    plans, keys, unique = [], {}, []
    for record, sample in items:
        if sample is None:
            plans.append(None)
            continue
        try:
            runs = runs_for(suite, record, sample)
        except Rejected as why:
            plans.append(str(why))
            continue
        slots = []
        for run in runs:
            key = (run.program, run.inputs)
            if key not in keys:
                keys[key] = len(unique)
                unique.append(run)
            slots.append((keys[key], run))
        plans.append(slots)
    start = time.perf_counter()
    res = cadmus.run_batch([r.program for r in unique], inputs=[list(r.inputs) for r in unique], fuel=fuel,
                           messages=True, outputs_per_program=16) if unique else None
    if timings is not None:
        timings["vm"] = timings.get("vm", 0.0) + time.perf_counter() - start
    challenge = False if suite in ("synthesis", "repair") else None
    return [_verdict(plan, res, challenge) for plan in plans]


def _verdict(plan, res, rejected_challenge) -> dict:
    if plan is None:
        return {"passed": False, "passed_challenge": rejected_challenge, "status": "TOO_LONG",
                "reason": "not generated: the prompt does not fit the model's context"}
    if isinstance(plan, str):
        return {"passed": False, "passed_challenge": rejected_challenge, "status": "REJECTED", "reason": f"rejected: {plan}"}
    from cadmus import Status

    first_fail = {False: None, True: None}
    for slot, run in plan:
        status = Status(int(res.status[slot])).name
        got = res.outputs_of(slot)
        if (status != "OK" or tuple(got) != run.expected) and first_fail[run.challenge] is None:
            error = res.errors[slot] if res.errors is not None else None
            first_fail[run.challenge] = (run, status, got, error)
    visible, challenge = first_fail[False], first_fail[True]
    has_challenge = any(run.challenge for _, run in plan)
    out = {"passed": visible is None,
           "passed_challenge": visible is None and challenge is None if has_challenge else None}
    if visible is None:
        out.update(status="OK", reason="passed")
    else:
        run, status, got, error = visible
        out.update(status=status if status != "OK" else "WRONG_OUTPUT", reason=_describe(run, status, got, error))
    if has_challenge and challenge is not None and visible is None:
        run, status, got, error = challenge
        out["reason"] = "passed (challenge " + _describe(run, status, got, error) + ")"
    return out
