"""Public VM API: ``run``, ``run_batch``, ``trace``, ``validate`` and ``pack``.

This module only marshals arrays; the work happens in ``vm_kernel`` (Numba), which is
imported on first use so that ``import cadmus`` never pays for Numba or the JIT.

Numba does not bounds-check, so every argument is checked here before compiled code sees it
(types, shapes, dtypes, ranges, and every size computed in Python within explicit caps); a
wrong argument raises TypeError or ValueError naming it. The kernels check the index arrays
again once per chunk (``vm_kernel.indices_ok``) on arrays no other thread can change: the
parallel kernel holds the GIL, and a kernel that releases it gets copies. A batch changed by
another thread between the two checks is BAD_ARGUMENT, never an out-of-bounds access.
"""
from __future__ import annotations

import itertools
import operator
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Optional, Sequence, Union

import numpy as np

from .asm import AsmError, Program, assemble, checked_program as _checked_program, int64_array, validate
from .isa import BY_OPCODE, DEFAULT_FUEL, INT64_MAX, INT64_MIN, MAX_OUTPUTS, N_REGS, Status, kind_table, mnemonic_table

ProgramLike = Union[Program, str]
MAX_TRACE_STEPS = 10_000_000  # a trace row is 144 bytes; beyond this, trace a shorter run
DEFAULT_OUTPUTS_PER_PROGRAM = 8  # average output-region size per program in a batch
SERIAL_BATCH = 64  # batches up to this size run on the calling thread
# A batch's output buffer holds at most this many words (1 GiB); beyond, the space reserved
# per run shrinks (runs that need more are redone with a full tape).
MAX_OUTPUT_WORDS = 1 << 27
# Read-only like the buffers of real texts, so the kernels compile for one signature only.
_NO_TEXT = np.frombuffer(b"", np.uint8)
_FIRST = np.zeros(1, np.int64)  # program_index of a single run


@lru_cache(maxsize=None)
def _tables():
    kinds = kind_table()
    mslots, mkeys = mnemonic_table()
    return kinds, mslots, mkeys


def _kernel():
    from . import vm_kernel  # deferred: importing Numba costs ~0.5 s, compiling more

    return vm_kernel


@dataclass
class Result:
    """Outcome of one run."""

    status: Status
    outputs: list
    steps: int
    error: Optional[str] = None  # the assembler's message when status is PARSE_ERROR

    @property
    def ok(self) -> bool:
        return self.status == Status.OK


@dataclass
class Trace:
    """Per executed step: the pc, the opcode and the registers *before* the step ran."""

    pc: np.ndarray  # (steps,)
    opcode: np.ndarray  # (steps,)
    registers: np.ndarray  # (steps, 16)
    final_registers: np.ndarray  # (16,) after the last step
    result: Result

    def __len__(self) -> int:
        return len(self.pc)

    @property
    def mnemonics(self) -> list:
        return [BY_OPCODE[int(op)].mnemonic for op in self.opcode]

    def rows(self) -> list:
        """The trace as a list of dicts (for JSON or a DataFrame)."""
        return [
            {"step": i, "pc": int(self.pc[i]), "op": m, "registers": self.registers[i].tolist()}
            for i, m in enumerate(self.mnemonics)
        ]


@dataclass
class ProgramBatch:
    """Programs packed into flat arrays, ready for ``run_batch`` (see ``pack``).

    Program ``i`` is ``code[code_offsets[i]:code_offsets[i + 1]]`` (a multiple of 4 words) with
    literals ``consts[const_offsets[i]:const_offsets[i + 1]]``. Checked when built and again by
    ``run_batch`` (integer arrays within int64; offsets rising, within the arrays, one more
    than programs); the words themselves may be anything: malformed code runs as BAD_PROGRAM.
    """

    code: np.ndarray
    code_offsets: np.ndarray  # word offsets, len n + 1
    consts: np.ndarray
    const_offsets: np.ndarray

    def __post_init__(self):
        self.code, self.code_offsets, self.consts, self.const_offsets = _checked_batch(self)

    def __len__(self) -> int:
        return len(self.code_offsets) - 1

    def __getitem__(self, i: int) -> Program:
        i = operator.index(i)
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"program {i} of a batch of {n}")
        i %= n
        return Program(self.code[self.code_offsets[i]:self.code_offsets[i + 1]],
                       self.consts[self.const_offsets[i]:self.const_offsets[i + 1]])


@dataclass
class BatchResult:
    """Outcome of ``run_batch``: numpy arrays ``status`` and ``steps``, outputs per program."""

    status: np.ndarray
    steps: np.ndarray
    out_values: np.ndarray
    out_start: np.ndarray
    out_count: np.ndarray
    errors: Optional[list] = None  # assembler messages (PARSE_ERROR only) when asked for
    _outputs: Optional[list] = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.status)

    def outputs_of(self, i: int) -> list:
        s = self.out_start[i]
        return self.out_values[s:s + self.out_count[i]].tolist()

    @property
    def outputs(self) -> list:
        """Per-program output lists (built on first access)."""
        if self._outputs is None:
            self._outputs = [self.outputs_of(i) for i in range(len(self))]
        return self._outputs

    def __getitem__(self, i: int) -> Result:
        error = self.errors[i] if self.errors is not None else None
        return Result(Status(int(self.status[i])), self.outputs_of(i), int(self.steps[i]), error)

    def counts(self) -> dict:
        """Number of programs per status name."""
        values, counts = np.unique(self.status, return_counts=True)
        return {Status(int(v)).name: int(c) for v, c in zip(values, counts)}


def _check_int(value, what: str, lo: int, hi: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise ValueError(f"{what} must be an integer in {lo}..{hi}, got {value}")
    return int(value)


def _check_fuel(fuel) -> int:
    return _check_int(fuel, "fuel", 0, INT64_MAX)


def _writable(arr: np.ndarray) -> np.ndarray:
    # Numba types a read-only array apart: it would compile every kernel again for it
    return arr if arr.flags.writeable else arr.copy()


def _private(arr: np.ndarray, given) -> np.ndarray:
    """``arr``, copied where it may share memory with an array among (or in a ProgramBatch
    among) the caller's arguments ``given``."""
    arrays = [a for g in given for a in (vars(g).values() if isinstance(g, ProgramBatch) else (g,))]
    shared = any(isinstance(a, np.ndarray) and np.may_share_memory(arr, a) for a in arrays)
    return arr.copy() if shared else arr


def _sequence(values, what: str) -> list:
    """A list of the items of ``values`` (a sequence of programs), never one str."""
    if isinstance(values, (str, bytes, bytearray)):
        raise TypeError(f"{what} must be a sequence of texts or Programs, not one {type(values).__name__}")
    try:
        return list(values)
    except TypeError:
        raise TypeError(f"{what} must be a sequence of texts or Programs, got {type(values).__name__}") from None


def _check_offsets(off: np.ndarray, n: int, size: int, what: str, *, from_zero: bool = False,
                   words: int = 1) -> None:
    """``off`` must hold n + 1 offsets rising within ``0..size`` (spans of 4 words if ``words``).

    No int64 temporaries: a fresh array of a large batch costs more in page faults than the
    comparisons themselves.
    """
    if len(off) != n + 1:
        raise ValueError(f"{what} must hold {n + 1} offsets (one more than runs or programs), got {len(off)}")
    falling = np.less(off[1:], off[:-1])
    if off[0] < 0 or (from_zero and off[0] != 0) or off[-1] > size or falling.any():
        start = "0" if from_zero else ">= 0"
        where = f" (falling at {int(np.flatnonzero(falling)[0])})" if falling.any() else ""
        raise ValueError(f"{what} must rise from {start} to at most {size}, got {off[0]}..{off[-1]}{where}")
    if words == 4:  # every span a multiple of 4 words: every offset the same modulo 4
        rem = np.bitwise_and(off, 3, out=np.empty(len(off), np.int8), casting="unsafe")
        odd = np.not_equal(rem, rem[0])
        if odd.any():
            i = int(np.flatnonzero(odd)[0]) - 1
            raise ValueError(f"{what}: program {i} has {off[i + 1] - off[i]} words, not a multiple of 4")


def _checked_batch(batch) -> tuple:
    """(code, code_offsets, consts, const_offsets) of a ProgramBatch, checked."""
    code = _writable(int64_array(batch.code, "ProgramBatch.code"))
    consts = _writable(int64_array(batch.consts, "ProgramBatch.consts"))
    code_off = _writable(int64_array(batch.code_offsets, "ProgramBatch.code_offsets"))
    const_off = _writable(int64_array(batch.const_offsets, "ProgramBatch.const_offsets"))
    if len(code_off) == 0:
        raise ValueError("ProgramBatch.code_offsets must hold n + 1 offsets for n programs, got none")
    n = len(code_off) - 1
    _check_offsets(code_off, n, len(code), "ProgramBatch.code_offsets", words=4)
    _check_offsets(const_off, n, len(consts), "ProgramBatch.const_offsets")
    return code, code_off, consts, const_off


def _program(prog: ProgramLike, what: str = "program") -> Program:
    if isinstance(prog, Program):
        return _checked_program(prog, what)
    if isinstance(prog, str):
        return assemble(prog)
    raise TypeError(f"{what} must be a Program or a str, got {type(prog).__name__}")


def _parse_message(text: str) -> str:
    """The assembler's message for a text the compiled parser rejected."""
    try:
        assemble(text)
    except AsmError as err:
        return str(err)
    return "the compiled parser rejects this text, assemble() does not (please report)"


def _run_one(from_text: bool, buf, text_off, code_args, inputs: np.ndarray, fuel: int):
    """One run through the batch loop on the calling thread: (status, outputs, steps)."""
    kinds, mslots, mkeys = _tables()
    outs = np.zeros(MAX_OUTPUTS, np.int64)
    status, steps, out_start, out_count = (np.zeros(1, np.int64) for _ in range(4))
    _kernel().run_checked(0, 1, from_text, buf, text_off, *code_args, _FIRST, inputs,
                           np.array([0, len(inputs)], np.int64), fuel, kinds, mslots, mkeys, 0, MAX_OUTPUTS,
                           status, steps, out_start, out_count, outs)
    return Status(int(status[0])), outs[:out_count[0]].tolist(), int(steps[0])


_NO_CODE = (np.zeros(0, np.int64), np.zeros(1, np.int64)) * 2  # code arguments of a text run


def _run(prog: ProgramLike, inputs, fuel, tracing: bool):
    """Run one program on the calling thread; returns (Result, trace arrays or None)."""
    fuel = _check_fuel(fuel)
    inputs = _writable(int64_array(inputs, "inputs"))  # values only: no index comes from them
    if isinstance(prog, str) and not tracing:  # the compiled parser: no Python objects per line
        buf, text_off, _ = _pack_texts([prog])
        status, outputs, steps = _run_one(True, buf, text_off, _NO_CODE, inputs, fuel)
        error = _parse_message(prog) if status == Status.PARSE_ERROR else None
        return Result(status, outputs, steps, error), None
    try:
        program = _program(prog, "prog")
    except AsmError as err:
        return Result(Status.PARSE_ERROR, [], 0, str(err)), None
    if len(program.code) % 4:
        return Result(Status.BAD_PROGRAM, [], 0, validate(program)), None
    if tracing:
        kinds, _, _ = _tables()
        outs = np.zeros(MAX_OUTPUTS, np.int64)
        arrays = (np.zeros(fuel, np.int64), np.zeros(fuel, np.int64),
                  np.zeros((fuel, N_REGS), np.int64), np.zeros(N_REGS, np.int64))
        # copies: the kernel validates once, then runs with the GIL released
        st, n, n_out = _kernel().trace_program(program.code.copy(), program.consts.copy(), inputs, fuel,
                                               kinds, outs, *arrays)
        result = Result(Status(int(st)), outs[:n_out].tolist(), int(n))
    else:
        # no copies needed: the kernel copies the code into its scratch and validates that
        code, consts = _writable(program.code), _writable(program.consts)
        code_args = (code, np.array([0, len(code)], np.int64), consts, np.array([0, len(consts)], np.int64))
        result = Result(*_run_one(False, _NO_TEXT, np.zeros(1, np.int64), code_args, inputs, fuel))
        arrays = None
    if result.status == Status.BAD_PROGRAM:
        result.error = validate(program)
    if arrays is None:
        return result, None
    tr_pc, tr_op, tr_regs, final = arrays
    n = result.steps
    return result, (tr_pc[:n], tr_op[:n], tr_regs[:n], final)


def run(prog: ProgramLike, inputs: Sequence[int] = (), fuel: int = DEFAULT_FUEL) -> Result:
    """Run one program (a :class:`Program` or DSL text) on ``inputs``.

    Never raises for a bad program: text that does not assemble gives PARSE_ERROR (with the
    assembler's message in ``.error``), malformed bytecode gives BAD_PROGRAM. A wrong argument
    (not a Program or str, inputs that are not integers within int64, fuel outside
    0..2**63-1) raises TypeError or ValueError naming it.
    """
    return _run(prog, inputs, fuel, tracing=False)[0]


def trace(prog: ProgramLike, inputs: Sequence[int] = (), fuel: int = DEFAULT_FUEL) -> Trace:
    """Run one program and record every executed step (pc, opcode, registers before it).

    Arguments as for :func:`run`; fuel is at most 10,000,000 (the trace holds a row per step).
    """
    if _check_fuel(fuel) > MAX_TRACE_STEPS:
        raise ValueError(f"trace() records every step: fuel must be <= {MAX_TRACE_STEPS:,}")
    result, arrays = _run(prog, inputs, fuel, tracing=True)
    if arrays is None:
        empty = np.zeros(0, np.int64)
        return Trace(empty, empty, np.zeros((0, N_REGS), np.int64), np.zeros(N_REGS, np.int64), result)
    return Trace(*arrays, result)


def pack(programs: Sequence[ProgramLike], texts: bool = True) -> ProgramBatch:
    """Pack programs (or texts, assembled here, when ``texts``) into one :class:`ProgramBatch`.

    Raises AsmError for a text that does not assemble, ValueError for code whose length is
    not a multiple of 4 words, TypeError for anything that is not a Program (or a text).
    """
    if not isinstance(texts, (bool, np.bool_)):
        raise TypeError(f"texts must be a bool, got {type(texts).__name__}")
    progs = _sequence(programs, "programs")
    if texts:
        progs = [_program(p, f"programs[{i}]") for i, p in enumerate(progs)]
    else:
        bad = next((i for i, p in enumerate(progs) if not isinstance(p, Program)), None)
        if bad is not None:
            raise TypeError(f"programs[{bad}] is a {type(progs[bad]).__name__}: run_batch() takes a list "
                            "of texts or a list of Programs, not a mix")
    n_words = np.fromiter((len(p.code) for p in progs), np.int64, count=len(progs))
    n_consts = np.fromiter((len(p.consts) for p in progs), np.int64, count=len(progs))
    if np.any(n_words % 4):
        i = int(np.flatnonzero(n_words % 4)[0])
        raise ValueError(f"programs[{i}] has {n_words[i]} code words, not a multiple of 4")
    empty = np.zeros(0, np.int64)
    return ProgramBatch(
        np.concatenate([p.code for p in progs]) if progs else empty,
        np.concatenate([[0], np.cumsum(n_words)]).astype(np.int64),
        np.concatenate([p.consts for p in progs]) if progs else empty,
        np.concatenate([[0], np.cumsum(n_consts)]).astype(np.int64),
    )


ASCII_VIEW_MIN = 1 << 20  # below this, encoding costs less than setting a view up


def _ascii_view(text: str):
    """A read-only uint8 view of the characters of a long ASCII ``text`` without a copy, or None.

    A 100 MB batch spends about a tenth of its text-to-verdict time encoding a copy it only
    reads. CPython stores an ASCII str's characters contiguously after its header, at
    ``getsizeof(text) - len(text) - 1`` from ``id(text)``; the view is used only where its first
    and last bytes read back as the text's own, and it keeps ``text`` alive."""
    import ctypes

    if sys.implementation.name != "cpython" or len(text) < ASCII_VIEW_MIN or not text.isascii():
        return None
    n = len(text)
    chars = (ctypes.c_uint8 * n).from_address(id(text) + sys.getsizeof(text) - n - 1)
    chars.text = text  # the view's base holds the str: its memory lives as long as the view
    view = np.ctypeslib.as_array(chars)
    if bytes(view[:64]) != text[:64].encode("ascii") or bytes(view[-64:]) != text[-64:].encode("ascii"):
        return None
    view.flags.writeable = False  # as a bytes buffer's: one kernel signature, and nothing writes it
    return view


def _pack_texts(texts: list):
    """(one UTF-8 buffer, byte offsets, the texts as plain str), without a Python loop over
    the texts when they are plain ASCII str."""
    if set(map(type, texts)) != {str}:
        bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
        if bad is not None:
            raise TypeError(f"programs[{bad}] is a {type(texts[bad]).__name__}, not a str: run_batch() takes "
                            "a list of texts or a list of Programs, not a mix")
        # a str subclass may report a len() other than its contents' (offsets come from len)
        texts = [str.__str__(t) for t in texts]
    joined = "".join(texts)
    if joined.isascii():
        buf = _ascii_view(joined)
        if buf is None:
            buf = np.frombuffer(joined.encode("ascii"), np.uint8)
        lengths = np.fromiter(map(len, texts), np.int64, count=len(texts))
    else:  # byte lengths differ from character lengths; surrogates must not crash the encode
        encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
        buf = np.frombuffer(b"".join(encoded), np.uint8)
        lengths = np.fromiter(map(len, encoded), np.int64, count=len(texts))
    offsets = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] != len(buf):  # cannot happen for plain str; the kernel indexes with these
        raise ValueError("programs: text lengths disagree with their contents")
    return buf, offsets, texts


_NONE = np.zeros(0, np.int64)  # the kernels' "no inputs" offsets and "run i is program i" index


def _pack_inputs(inputs, n: int, offsets=None):
    """(flat int64 inputs, n + 1 offsets), checked against each other; no offsets (empty) for
    no inputs."""
    if inputs is None:
        if offsets is not None:
            raise ValueError("input_offsets is given without inputs")
        return _NONE, _NONE
    if offsets is not None:  # already flat: check what the kernel will index with
        flat = _writable(int64_array(inputs, "inputs"))
        off = _writable(int64_array(offsets, "input_offsets"))
        _check_offsets(off, n, len(flat), "input_offsets", from_zero=True)
        return flat, off
    if isinstance(inputs, np.ndarray) and inputs.ndim == 2 and inputs.dtype != object:
        if len(inputs) != n:
            raise ValueError(f"inputs has {len(inputs)} rows for {n} runs")
        flat = _writable(int64_array(inputs, "inputs", flat=True))
        return flat, np.arange(n + 1, dtype=np.int64) * inputs.shape[1]
    if isinstance(inputs, (str, bytes, bytearray)):
        raise TypeError(f"inputs must be one sequence of integers per run, got {type(inputs).__name__}")
    try:  # a plain list is used as it is (its len() is its length)
        runs = inputs if type(inputs) is list else list(inputs)
    except TypeError:
        raise TypeError(f"inputs must be one sequence of integers per run, got {type(inputs).__name__}") from None
    if len(runs) != n:
        raise ValueError(f"inputs has {len(runs)} entries for {n} runs")
    if not set(map(type, runs)) <= {list, tuple}:
        # anything but a plain list or tuple (a subclass's len() may disagree with what it
        # yields) becomes its own int64 array first, whose length is right by construction
        runs = [r if type(r) in (list, tuple) else int64_array(r, f"inputs[{i}]") for i, r in enumerate(runs)]
    lengths = np.fromiter(map(len, runs), np.int64, count=n)
    try:
        flat = int64_array(itertools.chain.from_iterable(runs), "inputs")
    except (TypeError, ValueError):
        for i, r in enumerate(runs):  # name the run that holds the bad value
            int64_array(r, f"inputs[{i}]")
        raise
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] != len(flat):  # cannot happen for lists, tuples and arrays
        raise ValueError("inputs: the runs' lengths disagree with their contents")
    return flat, offsets


def _n_chunks(n: int) -> int:
    import numba

    # Many more chunks than threads, scheduled dynamically, so a few long-running programs
    # do not leave the other threads idle; few enough that per-chunk scratch is negligible.
    return max(1, min(n, max(numba.get_num_threads() * 16, n // 2048)))


def _program_index(program_index, n_programs: int) -> np.ndarray:
    """The checked program index; empty (run ``i`` is program ``i``) where none is given."""
    if program_index is None:
        return _NONE
    index = _writable(int64_array(program_index, "program_index"))
    bad = np.flatnonzero((index < 0) | (index >= n_programs))
    if len(bad):
        raise ValueError(f"program_index[{bad[0]}] = {index[bad[0]]} is not a program (0..{n_programs - 1})")
    return index


def run_batch(
    programs: Union[ProgramBatch, Sequence[ProgramLike]],
    inputs: Optional[Sequence[Sequence[int]]] = None,
    fuel: int = DEFAULT_FUEL,
    *,
    program_index: Optional[Sequence[int]] = None,
    messages: bool = False,
    outputs_per_program: int = DEFAULT_OUTPUTS_PER_PROGRAM,
    input_offsets: Optional[Sequence[int]] = None,
) -> BatchResult:
    """Run many programs in parallel (all cores); one result per run.

    ``programs``: a :class:`ProgramBatch`, a list of :class:`Program`, or a list of texts (parsed
    in compiled code, never in a Python loop). ``inputs``: None or one input list per run.
    ``program_index``: run ``i`` executes ``programs[program_index[i]]`` (default: one run per
    program); consecutive runs of one program parse and validate it once, so testing each
    program on several inputs costs one parse. ``messages=True`` fills ``.errors`` with the
    assembler's message for each PARSE_ERROR. ``outputs_per_program``: average output-tape
    space reserved per run, 1024 at most taken (runs that need more are redone with a full tape).
    ``input_offsets``: ``inputs`` is then one flat sequence of integers, run ``i`` reading
    ``inputs[input_offsets[i]:input_offsets[i + 1]]`` (no list per run to build and flatten).

    A text that does not assemble is a PARSE_ERROR, malformed bytecode BAD_PROGRAM; a wrong
    argument raises TypeError or ValueError naming it before anything runs.
    """
    import numba

    fuel = _check_fuel(fuel)
    if not isinstance(messages, (bool, np.bool_)):
        raise TypeError(f"messages must be a bool, got {type(messages).__name__}")
    # a run prints at most MAX_OUTPUTS values: reserving more would only waste memory
    per_run = min(_check_int(outputs_per_program, "outputs_per_program", 0, INT64_MAX), MAX_OUTPUTS)
    kinds, mslots, mkeys = _tables()
    k = _kernel()
    texts = None
    if isinstance(programs, ProgramBatch):
        code_args = _checked_batch(programs)
    else:
        progs = _sequence(programs, "programs")
        # A list whose first item is a str takes the text path, where every item must be a
        # str; anything else must be all Programs (checked by pack).
        if progs and isinstance(progs[0], str):
            buf, text_off, texts = _pack_texts(progs)
            code_args = _NO_CODE
        else:
            batch = pack(progs, texts=False)
            code_args = (batch.code, batch.code_offsets, batch.consts, batch.const_offsets)
    if texts is None:
        buf, text_off = _NO_TEXT, np.zeros(1, np.int64)
    n_programs = len(texts) if texts is not None else len(code_args[1]) - 1
    prog_of = _program_index(program_index, n_programs)
    n = n_programs if program_index is None else len(prog_of)
    in_flat, in_off = _pack_inputs(inputs, n, input_offsets)
    # Sizes in Python, within caps: the kernel's chunk regions (run * per_run) then fit in int64
    per_run = min(per_run, MAX_OUTPUT_WORDS // max(n, 1))
    status, steps, out_start, out_count = (np.zeros(n, np.int64) for _ in range(4))
    outs = np.zeros(max(1, n * per_run), np.int64)
    args = (buf, text_off, *code_args, prog_of, in_flat, in_off, fuel, kinds, mslots, mkeys)
    if 0 < n <= SERIAL_BATCH:  # starting the thread pool would cost more than it saves
        # this kernel releases the GIL: the index arrays it checks and uses must be its own
        given = (programs, program_index, input_offsets)
        code_args = (code_args[0], _private(code_args[1], given), code_args[2], _private(code_args[3], given))
        args = (buf, text_off, *code_args, _private(prog_of, given), in_flat, _private(in_off, given), fuel, kinds,
                mslots, mkeys)
        k.run_checked(0, n, texts is not None, *args, 0, len(outs), status, steps, out_start, out_count, outs)
    elif n:
        # chunks are taken dynamically by idle threads; torch's thread count is read first, as
        # entering parallel_chunksize starts Numba's pool
        with _torch_threads_kept(), numba.parallel_chunksize(1):
            k.run_batch(texts is not None, *args, _n_chunks(n), per_run, status, steps, out_start,
                        out_count, outs)
    rerun = np.flatnonzero(status == k.NEEDS_RERUN)
    if len(rerun):  # rare: a chunk's output region filled up; give these a full tape each
        extra = []
        cursor = len(outs)
        for i in rerun:
            p = prog_of[i] if len(prog_of) else i
            if texts is not None:
                prog = texts[p]
            else:
                code, code_off, consts, const_off = code_args
                prog = Program(code[code_off[p]:code_off[p + 1]], consts[const_off[p]:const_off[p + 1]])
            res = run(prog, in_flat[in_off[i]:in_off[i + 1]] if len(in_off) else _NONE, fuel)
            status[i], steps[i], out_start[i], out_count[i] = res.status, res.steps, cursor, len(res.outputs)
            extra.append(np.asarray(res.outputs, np.int64))
            cursor += len(res.outputs)
        outs = np.concatenate([outs, *extra])
    errors = None
    if messages:
        errors = [None] * n
        if texts is not None:
            for i in np.flatnonzero(status == Status.PARSE_ERROR):
                errors[i] = _parse_message(texts[prog_of[i] if len(prog_of) else i])
    return BatchResult(status, steps, outs, out_start, out_count, errors)


@contextmanager
def _torch_threads_kept():
    """Put PyTorch's thread count back after a parallel VM call.

    Numba's OpenMP threading layer shares libgomp with PyTorch, and starting its pool sets the
    process-wide OpenMP thread count to every core: a process that asked torch for one thread
    (several training runs or ``accelerate --cpu`` processes sharing a machine) would silently
    train on every core after its first VM batch, and the oversubscribed runs slowed down 4x."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    try:
        yield
    finally:
        if before is not None and torch.get_num_threads() != before:
            torch.set_num_threads(before)


def parse_compiled(text: str) -> Optional[Program]:
    """Assemble with the compiled parser of the text fast path (None where ``assemble`` raises).

    Exists so tests can hold the compiled parser to ``asm.assemble`` text by text.
    """
    buf, _, _ = _pack_texts([text])
    kinds, mslots, mkeys = _tables()
    n, code, consts = _kernel().parse_one(buf, kinds, mslots, mkeys)
    return None if n < 0 else Program(code, consts)
