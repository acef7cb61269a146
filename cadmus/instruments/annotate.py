"""Where each character of a DSL text sits, and what the VM held at each line.

The parser here is lenient on purpose: a completion prompt ends inside its last line
(``assert d ``), so it cannot go through ``cadmus.assemble``. Lines are split the way the
assembler splits them (``\\n``; ``#`` starts a comment; tokens separated by spaces, tabs or
carriage returns), and instruction lines are numbered in text order, which is the assembler's
pc numbering for any text that assembles.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..isa import BY_MNEMONIC, DEFAULT_FUEL, REG_NAMES

ROLES = ("opcode", "register", "literal", "label", "other")
_TOKEN = re.compile(r"[^ \t\r]+")
_INT = re.compile(r"-?[0-9]+\Z")
# Register operands (kind r) that the instruction reads as well as writes: inc/dec compute
# from their destination, swap exchanges its two registers. Every other r operand is written.
_READ_WRITE = frozenset({"inc", "dec", "swap"})


@dataclass(frozen=True)
class Span:
    """One DSL token of a line: ``text[start:end]``."""

    start: int
    end: int
    role: str
    slot: int  # 0: the mnemonic or label, 1..: operand number; -1: not part of an instruction
    register: str = ""  # a..p for a register operand
    access: str = ""  # "read", "write" or "read+write" for a register operand


@dataclass(frozen=True)
class Line:
    index: int  # 0-based line number
    start: int  # first character
    end: int  # one past the last character, the newline excluded
    mnemonic: str  # "" unless the line is an instruction
    pc: Optional[int]  # the instruction's index, None for label, comment and blank lines
    spans: tuple

    @property
    def writes(self) -> frozenset:
        return frozenset(s.register for s in self.spans if "write" in s.access)

    @property
    def reads(self) -> frozenset:
        return frozenset(s.register for s in self.spans if "read" in s.access)


def _operand(tok: str, kind: str, mnemonic: str):
    """(role, register, access) of an operand token of ``kind`` (r, v or L)."""
    is_reg = len(tok) == 1 and tok in REG_NAMES
    if kind == "r" and is_reg:
        return "register", tok, "read+write" if mnemonic in _READ_WRITE else "write"
    if kind == "v" and is_reg:
        return "register", tok, "read"
    if kind == "v" and _INT.match(tok):
        return "literal", "", ""
    if kind == "L":
        return "label", "", ""
    return "other", "", ""


def _line(index: int, start: int, raw: str, pc: int) -> Line:
    body = raw.split("#", 1)[0]
    tokens = [(m.start() + start, m.end() + start, m.group()) for m in _TOKEN.finditer(body)]
    end = start + len(raw)
    if not tokens:
        return Line(index, start, end, "", None, ())
    first = tokens[0]
    if first[2].endswith(":"):
        return Line(index, start, end, "", None, (Span(first[0], first[1], "label", 0),))
    ins = BY_MNEMONIC.get(first[2])
    if ins is None:  # not an instruction: nothing on the line has a role
        return Line(index, start, end, "", None, ())
    spans = [Span(first[0], first[1], "opcode", 0)]
    for j, (a, b, tok) in enumerate(tokens[1:]):
        if j < ins.arity:
            role, reg, access = _operand(tok, ins.operands[j], ins.mnemonic)
        else:
            role, reg, access = "other", "", ""
        spans.append(Span(a, b, role, j + 1, reg, access))
    return Line(index, start, end, ins.mnemonic, pc, tuple(spans))


def parse_lines(text: str) -> list:
    """The :class:`Line` of every line of ``text`` (a prefix of a program is fine)."""
    lines, start, pc = [], 0, 0
    for index, raw in enumerate(text.split("\n")):
        line = _line(index, start, raw, pc)
        pc += line.pc is not None
        lines.append(line)
        start += len(raw) + 1
    return lines


@dataclass
class CharMap:
    """Per character of a text: its line and the DSL token (index into ``spans``, -1: none)."""

    lines: list
    spans: list
    line_of: np.ndarray
    span_of: np.ndarray

    def locate(self, start: int, end: int):
        """(line, span or None) of the characters ``start:end`` (a model token): the line of its
        first character, the first DSL token it overlaps."""
        if start >= len(self.line_of):  # an empty or special token past the text
            return self.lines[-1], None
        hit = self.span_of[start:max(end, start + 1)]
        hit = hit[hit >= 0]
        return self.lines[self.line_of[start]], (self.spans[hit[0]] if len(hit) else None)


def char_map(text: str) -> CharMap:
    lines = parse_lines(text)
    line_of = np.zeros(len(text), np.int64)
    span_of = np.full(len(text), -1, np.int64)
    spans = []
    for line in lines:
        # a line owns its newline: a token that is the newline belongs to the line it ends
        line_of[line.start:min(line.end + 1, len(text))] = line.index
        for span in line.spans:
            span_of[span.start:span.end] = len(spans)
            spans.append(span)
    return CharMap(lines, spans, line_of, span_of)


@dataclass
class LineStates:
    """Per line: the registers before and after its *last* execution (None: the line is not an
    instruction, or never ran) and how many times it ran. A straight-line program runs every
    line once; in a loop the last execution is the state the program ended the loop with."""

    before: list
    after: list
    executions: list
    status: str  # how the run ended (OK for a record's true program)


def line_states(program: str, inputs: Sequence[int] = (), n_lines: Optional[int] = None,
                fuel: int = DEFAULT_FUEL) -> LineStates:
    """Trace ``program`` on ``inputs`` and attribute each step to the line of its pc.

    ``n_lines``: how many lines to describe (a prompt may have more lines than the program it
    contains, e.g. the execution view's trailing comments); default: the program's."""
    import cadmus

    lines = parse_lines(program)
    n = len(lines) if n_lines is None else n_lines
    before, after, runs = [None] * n, [None] * n, [0] * n
    tr = cadmus.trace(program, inputs, fuel=fuel)
    steps = len(tr)
    if steps:
        line_of_pc = {line.pc: line.index for line in lines if line.pc is not None}
        last = np.full(max(line_of_pc) + 1, -1, np.int64)
        np.maximum.at(last, tr.pc, np.arange(steps))
        counts = np.bincount(tr.pc, minlength=len(last))
        for pc, i in line_of_pc.items():
            if i >= n or last[pc] < 0:
                continue
            step = last[pc]
            before[i] = tr.registers[step].copy()
            after[i] = (tr.registers[step + 1] if step + 1 < steps else tr.final_registers).copy()
            runs[i] = int(counts[pc])
    return LineStates(before, after, runs, tr.result.status.name)


def writer_lines(lines: Sequence[Line]) -> dict:
    """``{(line index, register): index of the nearest earlier line that writes it}`` for every
    register a line reads: the look-up target in text order (in a loop the dynamic writer may
    be a later line; text order is what attention can see)."""
    last_write, out = {}, {}
    for line in lines:
        for reg in line.reads:
            if reg in last_write:
                out[(line.index, reg)] = last_write[reg]
        for reg in line.writes:
            last_write[reg] = line.index
    return out
