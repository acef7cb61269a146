"""Public VM API: ``run``, ``run_batch``, ``trace``, ``validate`` and ``pack``.

This module only marshals arrays; the work happens in ``vm_kernel`` (Numba), which is
imported on first use so that ``import cadmus`` never pays for Numba or the JIT.
"""
from __future__ import annotations

import itertools
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Optional, Sequence, Union

import numpy as np

from .asm import AsmError, Program, assemble
from .isa import BY_OPCODE, DEFAULT_FUEL, INT64_MAX, INT64_MIN, MAX_OUTPUTS, N_REGS, Status, kind_table, mnemonic_table

ProgramLike = Union[Program, str]
MAX_TRACE_STEPS = 10_000_000  # a trace row is 144 bytes; beyond this, trace a shorter run
DEFAULT_OUTPUTS_PER_PROGRAM = 8  # average output-region size per program in a batch
SERIAL_BATCH = 64  # batches up to this size run on the calling thread
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
    """Programs packed into flat arrays, ready for ``run_batch`` (see ``pack``)."""

    code: np.ndarray
    code_offsets: np.ndarray  # word offsets, len n + 1
    consts: np.ndarray
    const_offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.code_offsets) - 1

    def __getitem__(self, i: int) -> Program:
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


def _check_fuel(fuel) -> int:
    if isinstance(fuel, bool) or not isinstance(fuel, (int, np.integer)) or not 0 <= fuel <= INT64_MAX:
        raise ValueError(f"fuel must be an integer in 0..2**63-1, got {fuel!r}")
    return int(fuel)


def _as_int64(values: Iterable, what: str) -> np.ndarray:
    try:
        arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values)
    except TypeError as exc:
        raise TypeError(f"{what} must be a sequence of integers") from exc
    if arr.size == 0:
        return np.zeros(0, np.int64)
    if arr.ndim != 1 or arr.dtype.kind not in "iub" and arr.dtype != object:
        raise TypeError(f"{what} must be a flat sequence of integers, got {arr.dtype} {arr.shape}")
    if arr.dtype == object:
        if not all(isinstance(v, (int, np.integer)) and INT64_MIN <= v <= INT64_MAX for v in arr):
            raise ValueError(f"{what} must hold integers within int64")
    return arr.astype(np.int64)


def _program(prog: ProgramLike) -> Program:
    if isinstance(prog, Program):
        return prog
    if isinstance(prog, str):
        return assemble(prog)
    raise TypeError(f"expected a Program or a str, got {type(prog).__name__}")


def validate(prog: Program) -> Optional[str]:
    """None if the bytecode is well formed, else a message naming the first bad instruction."""
    if len(prog.code) % 4:
        return f"code length {len(prog.code)} is not a multiple of 4"
    kinds, _, _ = _tables()
    bad = _kernel().validate(prog.code, 0, len(prog), len(prog.consts), kinds)
    if bad < 0:
        return None
    return f"instruction {bad}: {prog.code[4 * bad:4 * bad + 4].tolist()} is not a valid instruction"


def _run(prog: ProgramLike, inputs, fuel, tracing: bool):
    """Run one program on the calling thread; returns (Result, trace arrays or None)."""
    fuel = _check_fuel(fuel)
    inputs = _as_int64(inputs, "inputs")
    try:
        program = _program(prog)
    except AsmError as err:
        return Result(Status.PARSE_ERROR, [], 0, str(err)), None
    if len(program.code) % 4:
        return Result(Status.BAD_PROGRAM, [], 0, validate(program)), None
    kinds, mslots, mkeys = _tables()
    outs = np.zeros(MAX_OUTPUTS, np.int64)
    if tracing:
        arrays = (np.zeros(fuel, np.int64), np.zeros(fuel, np.int64),
                  np.zeros((fuel, N_REGS), np.int64), np.zeros(N_REGS, np.int64))
        st, n, n_out = _kernel().trace_program(program.code, program.consts, inputs, fuel, kinds, outs, *arrays)
    else:
        batch = pack([program])
        status, steps, out_start, out_count = (np.zeros(1, np.int64) for _ in range(4))
        _kernel().run_programs(0, 1, False, _NO_TEXT, np.zeros(2, np.int64), batch.code,
                               batch.code_offsets, batch.consts, batch.const_offsets, _FIRST, inputs,
                               np.array([0, len(inputs)]), fuel, kinds, mslots, mkeys, 0, MAX_OUTPUTS,
                               status, steps, out_start, out_count, outs)
        st, n, n_out, arrays = status[0], steps[0], out_count[0], None
    result = Result(Status(int(st)), outs[:n_out].tolist(), int(n))
    if result.status == Status.BAD_PROGRAM:
        result.error = validate(program)
    if arrays is None:
        return result, None
    tr_pc, tr_op, tr_regs, final = arrays
    return result, (tr_pc[:n], tr_op[:n], tr_regs[:n], final)


def run(prog: ProgramLike, inputs: Sequence[int] = (), fuel: int = DEFAULT_FUEL) -> Result:
    """Run one program (a :class:`Program` or DSL text) on ``inputs``.

    Never raises for a bad program: text that does not assemble gives PARSE_ERROR (with the
    assembler's message in ``.error``), malformed bytecode gives BAD_PROGRAM.
    """
    return _run(prog, inputs, fuel, tracing=False)[0]


def trace(prog: ProgramLike, inputs: Sequence[int] = (), fuel: int = DEFAULT_FUEL) -> Trace:
    """Run one program and record every executed step (pc, opcode, registers before it)."""
    if _check_fuel(fuel) > MAX_TRACE_STEPS:
        raise ValueError(f"trace() records every step: fuel must be <= {MAX_TRACE_STEPS:,}")
    result, arrays = _run(prog, inputs, fuel, tracing=True)
    if arrays is None:
        empty = np.zeros(0, np.int64)
        return Trace(empty, empty, np.zeros((0, N_REGS), np.int64), np.zeros(N_REGS, np.int64), result)
    return Trace(*arrays, result)


def pack(programs: Sequence[ProgramLike], texts: bool = True) -> ProgramBatch:
    """Pack programs (or texts, assembled here, when ``texts``) into one :class:`ProgramBatch`."""
    if texts:
        progs = [_program(p) for p in programs]
    else:
        progs = list(programs)
        bad = next((i for i, p in enumerate(progs) if not isinstance(p, Program)), None)
        if bad is not None:
            raise TypeError(f"program {bad} is a {type(progs[bad]).__name__}: run_batch() takes a list "
                            "of texts or a list of Programs, not a mix")
    n_words = np.fromiter((len(p.code) for p in progs), np.int64, count=len(progs))
    n_consts = np.fromiter((len(p.consts) for p in progs), np.int64, count=len(progs))
    if np.any(n_words % 4):
        raise ValueError("a program's code length is not a multiple of 4")
    empty = np.zeros(0, np.int64)
    return ProgramBatch(
        np.concatenate([p.code for p in progs]) if progs else empty,
        np.concatenate([[0], np.cumsum(n_words)]).astype(np.int64),
        np.concatenate([p.consts for p in progs]) if progs else empty,
        np.concatenate([[0], np.cumsum(n_consts)]).astype(np.int64),
    )


def _pack_texts(texts: Sequence[str]):
    """One UTF-8 buffer and byte offsets, without a Python loop over the texts when ASCII."""
    try:
        joined = "".join(texts)
    except TypeError:
        bad = next(i for i, t in enumerate(texts) if not isinstance(t, str))
        raise TypeError(f"program {bad} is a {type(texts[bad]).__name__}, not a str") from None
    if joined.isascii():
        buf = np.frombuffer(joined.encode("ascii"), np.uint8)
        lengths = np.fromiter(map(len, texts), np.int64, count=len(texts))
    else:  # byte lengths differ from character lengths; surrogates must not crash the encode
        encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
        buf = np.frombuffer(b"".join(encoded), np.uint8)
        lengths = np.fromiter(map(len, encoded), np.int64, count=len(texts))
    offsets = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return buf, offsets


def _pack_inputs(inputs, n: int, offsets=None):
    if inputs is None:
        return np.zeros(0, np.int64), np.zeros(n + 1, np.int64)
    if offsets is not None:  # already flat: check what the kernel will index with
        flat, off = _as_int64(inputs, "inputs"), np.asarray(offsets)
        if off.shape != (n + 1,) or off.dtype.kind not in "iu":
            raise ValueError(f"input_offsets must be n + 1 = {n + 1} integers")
        off = off.astype(np.int64)
        if off[0] != 0 or off[-1] > len(flat) or np.any(off[1:] < off[:-1]):
            raise ValueError("input_offsets must rise from 0 to at most len(inputs)")
        return flat, off
    if len(inputs) != n:
        raise ValueError(f"inputs has {len(inputs)} entries for {n} programs")
    lengths = np.fromiter(map(len, inputs), np.int64, count=n)
    flat = _as_int64(itertools.chain.from_iterable(inputs), "inputs")
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return flat, offsets


def _n_chunks(n: int) -> int:
    import numba

    # Many more chunks than threads, scheduled dynamically, so a few long-running programs
    # do not leave the other threads idle; few enough that per-chunk scratch is negligible.
    return max(1, min(n, max(numba.get_num_threads() * 16, n // 2048)))


def _program_index(program_index, n_programs: int) -> np.ndarray:
    if program_index is None:
        return np.arange(n_programs, dtype=np.int64)
    index = np.asarray(program_index)
    if index.ndim != 1 or (index.size and index.dtype.kind not in "iu"):
        raise TypeError("program_index must be a flat sequence of integers")
    index = index.astype(np.int64)
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
    space reserved per run (runs that need more are redone with a full tape).
    ``input_offsets``: ``inputs`` is then one flat sequence of integers, run ``i`` reading
    ``inputs[input_offsets[i]:input_offsets[i + 1]]`` (no list per run to build and flatten).
    """
    import numba

    fuel = _check_fuel(fuel)
    kinds, mslots, mkeys = _tables()
    k = _kernel()
    # A list whose first item is a str takes the text path, where joining the texts checks
    # that every item is a str; anything else must be all Programs (checked by pack).
    is_text = not isinstance(programs, ProgramBatch) and len(programs) > 0 and isinstance(programs[0], str)
    if is_text:
        buf, text_off = _pack_texts(programs)
        code_args = (np.zeros(0, np.int64), np.zeros(1, np.int64)) * 2
    else:
        batch = programs if isinstance(programs, ProgramBatch) else pack(programs, texts=False)
        buf, text_off = _NO_TEXT, np.zeros(1, np.int64)
        code_args = (batch.code, batch.code_offsets, batch.consts, batch.const_offsets)
    prog_of = _program_index(program_index, len(programs))
    n = len(prog_of)
    in_flat, in_off = _pack_inputs(inputs, n, input_offsets)
    status, steps, out_start, out_count = (np.zeros(n, np.int64) for _ in range(4))
    outs = np.zeros(max(1, n * outputs_per_program), np.int64)
    args = (buf, text_off, *code_args, prog_of, in_flat, in_off, fuel, kinds, mslots, mkeys)
    if 0 < n <= SERIAL_BATCH:  # starting the thread pool would cost more than it saves
        k.run_programs(0, n, is_text, *args, 0, len(outs), status, steps, out_start, out_count, outs)
    elif n:
        # chunks are taken dynamically by idle threads; torch's thread count is read first, as
        # entering parallel_chunksize starts Numba's pool
        with _torch_threads_kept(), numba.parallel_chunksize(1):
            k.run_batch(is_text, *args, _n_chunks(n), outputs_per_program, status, steps, out_start,
                        out_count, outs)
    rerun = np.flatnonzero(status == k.NEEDS_RERUN)
    if len(rerun):  # rare: a chunk's output region filled up; give these a full tape each
        extra = []
        cursor = len(outs)
        for i in rerun:
            p = prog_of[i]
            res = run(programs[p] if is_text else batch[p], in_flat[in_off[i]:in_off[i + 1]], fuel)
            status[i], steps[i], out_start[i], out_count[i] = res.status, res.steps, cursor, len(res.outputs)
            extra.append(np.asarray(res.outputs, np.int64))
            cursor += len(res.outputs)
        outs = np.concatenate([outs, *extra])
    errors = None
    if messages:
        errors = [None] * n
        if is_text:
            for i in np.flatnonzero(status == Status.PARSE_ERROR):
                try:
                    assemble(programs[prog_of[i]])
                except AsmError as err:
                    errors[i] = str(err)
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
    buf, _ = _pack_texts([text])
    kinds, mslots, mkeys = _tables()
    n, code, consts = _kernel().parse_one(buf, kinds, mslots, mkeys)
    return None if n < 0 else Program(code, consts)
