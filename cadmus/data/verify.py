"""Verification of records against the VM and the oracle, by the judge's rules: a chunk's runs in
one batch (``verify_columns``), or record by record with a message that shows the first record
that disagrees (``verify``, which also explains a chunk that failed)."""
from __future__ import annotations

import json
import re
import time
from typing import Optional

import numpy as np

from ..judge import outputs_match
from .render import COLUMNS, VIEW_COLUMNS, BuildError, Runs, as_lists, columns_to_arrow
from .views import execution_prompt, judge, run_checks, trace_prompt

_NOT_TEXT = re.compile(r"[^\x20-\x7e\n]")


def record_checks(rec: dict) -> list:
    """The VM checks of a record, by the judge's rules (:mod:`cadmus.judge`): the completion
    target is an answer that holds, and the synthesis view's full text (the bare program for
    ``random``) passes as a synthesis answer, with the oracle's outputs on every visible and
    hidden test. The execution view runs the same program on the first test, so its target is
    checked against that test's verified output in Python rather than by a seventh VM run. A
    trace view is judged as a trace answer (its lines against a traced run, its outputs run)."""
    checks = [judge("completion", rec, rec["completion_target"]),
              judge("synthesis", rec, rec["synthesis_prompt"] + rec["program"])]
    if rec["trace_prompt"]:  # a trace view is every line of the VM's trace and the outputs
        checks.append(judge("trace", rec, rec["trace_target"]))
    return checks


def _execution_view_holds(rec: dict) -> bool:
    first = rec["tests"][0]
    return (rec["execution_prompt"] == execution_prompt(rec["program"], first["input"])
            and rec["execution_target"] == " ".join(map(str, first["output"]))
            and rec["trace_prompt"] in ("", trace_prompt(rec["program"], first["input"])))


def verify(records: list, fuel: int, timings: Optional[dict] = None) -> None:
    """Raise :class:`BuildError` showing the first record whose view or oracle disagrees with the VM."""
    checks, owner = [], []
    for k, rec in enumerate(records):
        for c in record_checks(rec):
            checks.append(c)
            owner.append(k)
    passed = run_checks(checks, fuel, timings)
    for rec in records:
        if not _execution_view_holds(rec):
            raise BuildError(f"execution view (or trace prompt) does not match the verified first test:\n{json.dumps(rec, indent=1)}")
    if passed.all():
        text = "".join(r[c] for r in records for c in VIEW_COLUMNS)
        bad = _NOT_TEXT.search(text)
        if bad:
            raise BuildError(f"a view contains {bad.group()!r}, outside printable ASCII and newline")
        return
    import cadmus

    j = int((~passed).nonzero()[0][0])
    check, rec = checks[j], records[owner[j]]
    if check.rejected is not None:
        raise BuildError(f"record's target is not an answer ({check.rejected}):\n{json.dumps(rec, indent=1)}")
    if check.wrong is not None:
        raise BuildError(f"record's trace view disagrees with the VM ({check.wrong}):\n{json.dumps(rec, indent=1)}")
    # run_batch, not run: the batch kernel is already compiled, the single-run one may not be
    res = cadmus.run_batch([check.program] * len(check.cases), inputs=[list(i) for i, _ in check.cases],
                           fuel=fuel, messages=True)
    runs = [(list(i), e, res[k]) for k, (i, e) in enumerate(check.cases)]
    detail = "\n".join(f"  input {i}: expected {e}, VM {r.status.name} {r.outputs} {r.error or ''}" for i, e, r in runs)
    raise BuildError(f"record disagrees with the VM (oracle or view broken):\n{json.dumps(rec, indent=1)}\n"
                     f"program run:\n{check.program}\n{detail}")


def verify_columns(cols: dict, runs: Runs, fuel: int, timings: Optional[dict] = None, table=None) -> None:
    """``verify`` for the output of ``chunk_columns``: all its runs in one ``run_batch`` (each
    program parsed once for its consecutive runs), outputs compared in numpy, view texts checked
    for printable ASCII in ``table`` (the columns as Arrow, built here when not given). The
    execution view is built from the program and first test that these runs verify
    (``chunk_columns`` renders it as ``make_record`` does). On a failure, ``verify`` of the
    chunk's records explains it."""
    import cadmus

    programs, program_index, inputs, input_offsets, want_len, flat = runs
    start = time.process_time()
    res = cadmus.run_batch(programs, inputs=inputs, fuel=fuel, program_index=program_index, outputs_per_program=16,
                           input_offsets=input_offsets)
    if timings is not None:
        add_time(timings, "vm", time.process_time() - start)
    ok = outputs_match(res, want_len, flat)  # the judge's rule for a run, in numpy
    if ok.all() and _printable(columns_to_arrow(cols) if table is None else table):
        return
    lists = as_lists(cols)
    records = [dict(zip(COLUMNS, row)) for row in zip(*(lists[c] for c in COLUMNS))]
    verify(records, fuel)
    raise BuildError("chunk failed verification, but its records pass one by one (builder bug)")


def _printable(table) -> bool:
    """Whether every view text of ``table`` is printable ASCII or newline: numpy comparisons over
    each view column's UTF-8 bytes (a non-ASCII character has bytes >= 0x80, never printable)."""
    for c in VIEW_COLUMNS:
        arr = table.column(c).combine_chunks()
        if len(arr) == 0 or arr.buffers()[2] is None:
            continue
        off = np.frombuffer(arr.buffers()[1], np.int32, len(arr) + 1, arr.offset * 4)
        data = np.frombuffer(arr.buffers()[2], np.uint8)[off[0]:off[-1]]
        if not np.all(((data >= 0x20) & (data < 0x7F)) | (data == 0x0A)):
            return False
    return True


def add_time(timings: dict, key: str, seconds: float) -> None:
    timings[key] = timings.get(key, 0.0) + seconds
