"""Verification of records against the VM and the oracle, by the judge's rules, from their
columns: every record's VM runs in one batch, outputs compared in numpy, view texts checked for
printable ASCII (``verify_columns``). A failure names the first record that disagrees."""
from __future__ import annotations

import json
import re
import time
from typing import NamedTuple, Optional

import numpy as np

from ..judge import outputs_match
from .render import VIEW_COLUMNS, BuildError, columns_to_arrow, rows

_NOT_TEXT = re.compile(r"[^\x20-\x7e\n]")


class Runs(NamedTuple):
    """The VM runs that verify some records: run ``i`` executes ``programs[program_index[i]]``
    on ``inputs[input_offsets[i]:input_offsets[i + 1]]`` and must write ``want_len[i]`` values,
    the next ones of ``want``. Program ``2 r`` is record ``r``'s completion view's full text,
    run once without inputs (its asserts must hold, it writes nothing); program ``2 r + 1`` its
    synthesis view's full text (the bare program for ``random``), run on every case."""

    programs: list
    program_index: np.ndarray
    inputs: np.ndarray
    input_offsets: np.ndarray
    want_len: np.ndarray
    want: np.ndarray


def verify_columns(cols: dict, fuel: int, timings: Optional[dict] = None, table=None) -> None:
    """Raise :class:`BuildError` naming the first record of ``cols`` (columns as
    ``render.chunk_columns`` or ``render.to_columns`` give them; ``table``, the same as Arrow,
    is built here when not given) whose views or oracle disagree with the VM, or whose view
    texts are not printable ASCII and newline.

    The judge's runs of a record's completion view (its full text, the prompt and the target,
    ends OK: its asserts hold) and synthesis view (its full text gives the oracle's outputs on
    every visible and hidden test), all in one ``run_batch`` (each program parsed once for its
    consecutive runs). The execution and trace views are not run: the renderer builds them from the program
    and first test that these runs verify (the trace from a traced VM run, its outputs checked
    against that test as it is rendered)."""
    import cadmus

    table = columns_to_arrow(cols) if table is None else table
    if not len(table):
        return
    runs = record_runs(cols, table)
    start = time.process_time()
    res = cadmus.run_batch(runs.programs, inputs=runs.inputs, fuel=fuel, program_index=runs.program_index,
                           outputs_per_program=16, input_offsets=runs.input_offsets)
    if timings is not None:
        add_time(timings, "vm", time.process_time() - start)
    ok = outputs_match(res, runs.want_len, runs.want)  # the judge's rule for a run, in numpy
    if not ok.all():
        _disagrees(cols, runs, int((~ok).nonzero()[0][0]), fuel)
    if not _printable(table):
        _not_text(cols)


def record_runs(cols: dict, table) -> Runs:
    """The :class:`Runs` of the records of ``cols`` and its Arrow ``table``: programs from the
    view columns, inputs and outputs from the test columns (visible tests, then challenge)."""
    completions = [p + t for p, t in zip(cols["completion_prompt"], cols["completion_target"])]
    synths = [p + prog for p, prog in zip(cols["synthesis_prompt"], cols["program"])]
    cases, per_record = _cases(table)
    in_len, inputs = _lengths_values(cases.field("input"))
    out_len, want = _lengths_values(cases.field("output"))
    n = len(per_record)
    # per record one completion run (no inputs, no outputs), then one run per case
    first = np.zeros(n, np.int64)
    np.cumsum(per_record[:-1] + 1, out=first[1:])
    is_case = np.ones(n + len(in_len), bool)
    is_case[first] = False
    run_in_len, want_len = np.zeros(len(is_case), np.int64), np.zeros(len(is_case), np.int64)
    run_in_len[is_case], want_len[is_case] = in_len, out_len
    input_offsets = np.zeros(len(is_case) + 1, np.int64)
    np.cumsum(run_in_len, out=input_offsets[1:])
    program_index = np.repeat(np.arange(2 * n), np.stack([np.ones(n, np.int64), per_record], 1).ravel())
    programs = [""] * (2 * n)
    programs[::2], programs[1::2] = completions, synths
    return Runs(programs, program_index, inputs, input_offsets, want_len, want)


def _cases(table) -> tuple:
    """(every case as one Arrow struct array, record by record: its visible tests, then its
    challenge tests; the number of cases per record)."""
    import pyarrow as pa

    tests, challenge = (table.column(c).combine_chunks() for c in ("tests", "challenge_tests"))
    n_tests, n_challenge = (np.diff(np.asarray(a.offsets)) for a in (tests, challenge))
    owner = np.concatenate([np.repeat(np.arange(len(tests)), n_tests), np.repeat(np.arange(len(tests)), n_challenge)])
    order = np.argsort(owner, kind="stable")  # stable: a record's tests stay before its challenge tests
    return pa.concat_arrays([tests.flatten(), challenge.flatten()]).take(pa.array(order)), n_tests + n_challenge


def _lengths_values(lists) -> tuple:
    """(lengths, values) of an Arrow list<int64> array, as writable int64 numpy arrays: a
    read-only view of Arrow's buffer would be a new argument type to the VM's kernel, which Numba
    would compile again (~20 s) instead of loading."""
    values = np.array(lists.flatten().to_numpy(zero_copy_only=False), np.int64)
    return np.diff(np.asarray(lists.offsets)).astype(np.int64), values


def _disagrees(cols: dict, runs: Runs, failed: int, fuel: int) -> None:
    """Raise the :class:`BuildError` of run ``failed``: its record, its program and that program's
    runs, each with the VM's status and outputs (run again, with the assembler's messages)."""
    import cadmus

    p = int(runs.program_index[failed])
    own = np.flatnonzero(runs.program_index == p)
    at = runs.input_offsets
    inputs = [runs.inputs[at[i]:at[i + 1]].tolist() for i in own]
    ends = np.cumsum(runs.want_len)
    expected = [runs.want[ends[i] - runs.want_len[i]:ends[i]].tolist() for i in own]
    # run_batch, not run: the batch kernel is already compiled, the single-run one may not be
    res = cadmus.run_batch([runs.programs[p]] * len(own), inputs=inputs, fuel=fuel, messages=True)
    detail = "\n".join(f"  input {i}: expected {e}, VM {r.status.name} {r.outputs} {r.error or ''}"
                       for i, e, r in zip(inputs, expected, res))
    view = "completion" if p % 2 == 0 else "synthesis"
    raise BuildError(f"record disagrees with the VM (oracle or {view} view broken):\n"
                     f"{json.dumps(rows(cols)[p // 2], indent=1)}\nprogram run:\n{runs.programs[p]}\n{detail}")


def _not_text(cols: dict) -> None:
    """Raise the :class:`BuildError` of the first view text outside printable ASCII and newline."""
    for c in VIEW_COLUMNS:
        for i, text in enumerate(cols[c]):
            bad = _NOT_TEXT.search(text)
            if bad:
                raise BuildError(f"record {cols['id'][i]}: {c} contains {bad.group()!r}, outside printable ASCII "
                                 f"and newline")
    raise BuildError("a view text is not printable ASCII, but no column shows it (builder bug)")


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
