"""Assembler and disassembler for DSL v1 text (pure Python; the reference parser).

The compiled text fast path (``vm_kernel.parse_program``) accepts exactly the texts this
module accepts and produces the same bytecode; a differential test holds them together.
Grammar, per line (lines split on ``\\n`` only):

* ``#`` starts a comment that runs to the end of the line;
* tokens are separated by spaces, tabs or carriage returns;
* a label definition is a single token ``name:``; names are ``[A-Za-z_][A-Za-z0-9_]*``;
* an instruction is a lower-case mnemonic followed by exactly its operands;
* a register is one of ``a``..``p``; a literal is ``-?[0-9]+`` within int64.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .isa import (
    BY_MNEMONIC,
    BY_OPCODE,
    INT64_MAX,
    INT64_MIN,
    N_REGS,
    REG_NAMES,
    WORDS_PER_INSN,
)

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INT = re.compile(r"-?[0-9]+\Z")
_SEPARATORS = re.compile(r"[^ \t\r]+")


class AsmError(ValueError):
    """A text that does not assemble; ``line`` and ``col`` are 1-based."""

    def __init__(self, message: str, line: int, col: int):
        super().__init__(f"line {line}, col {col}: {message}")
        self.message = message
        self.line = line
        self.col = col


@dataclass(frozen=True, eq=False)
class Program:
    """An assembled program: flat int64 ``code`` (4 words per instruction) and ``consts``."""

    code: np.ndarray
    consts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self):
        object.__setattr__(self, "code", np.ascontiguousarray(self.code, dtype=np.int64).reshape(-1))
        object.__setattr__(self, "consts", np.ascontiguousarray(self.consts, dtype=np.int64).reshape(-1))

    def __len__(self) -> int:
        return len(self.code) // WORDS_PER_INSN

    def __eq__(self, other) -> bool:
        return (
            isinstance(other, Program)
            and np.array_equal(self.code, other.code)
            and np.array_equal(self.consts, other.consts)
        )

    def __repr__(self) -> str:
        return f"Program({len(self)} instructions, {len(self.consts)} literals)"


def _parse_value(token: str, consts: list[int], line: int, col: int, what: str) -> int:
    if len(token) == 1 and token in REG_NAMES:
        return REG_NAMES.index(token)
    if _INT.match(token):
        # int64 has at most 19 digits; int() of a much longer token raises ValueError
        value = int(token) if len(token.lstrip("-").lstrip("0")) <= 19 else INT64_MAX + 1
        if not INT64_MIN <= value <= INT64_MAX:
            raise AsmError(f"literal out of int64 range: '{token}'", line, col)
        consts.append(value)
        return N_REGS + len(consts) - 1
    raise AsmError(f"{what} must be a register a..p or an integer literal, got '{token}'", line, col)


def assemble(text: str) -> Program:
    """Assemble DSL text into a :class:`Program`; raises :class:`AsmError` on bad text."""
    if not isinstance(text, str):
        raise TypeError(f"assemble() expects str, got {type(text).__name__}")
    code: list[int] = []
    consts: list[int] = []
    labels: dict[str, tuple[int, int]] = {}  # name -> (pc, line)
    refs: list[tuple[str, int, int, int]] = []  # (name, code index, line, col)
    for lineno, raw in enumerate(text.split("\n"), start=1):
        body = raw.split("#", 1)[0]
        tokens = [(m.group(), m.start() + 1) for m in _SEPARATORS.finditer(body)]
        if not tokens:
            continue
        word, col = tokens[0]
        if word.endswith(":"):
            name = word[:-1]
            if not _IDENT.match(name):
                raise AsmError(f"bad label name '{name}'", lineno, col)
            if len(tokens) > 1:
                raise AsmError(f"unexpected '{tokens[1][0]}' after label '{name}'", lineno, tokens[1][1])
            if name in labels:
                raise AsmError(f"label '{name}' defined twice (first on line {labels[name][1]})", lineno, col)
            labels[name] = (len(code) // WORDS_PER_INSN, lineno)
            continue
        ins = BY_MNEMONIC.get(word)
        if ins is None:
            raise AsmError(f"unknown mnemonic '{word}'", lineno, col)
        operands = tokens[1:]
        if len(operands) != ins.arity:
            noun = "operand" if ins.arity == 1 else "operands"
            raise AsmError(f"'{word}' takes {ins.arity} {noun}, got {len(operands)}", lineno, col)
        words = [ins.opcode, 0, 0, 0]
        for j, ((tok, tcol), kind) in enumerate(zip(operands, ins.operands)):
            what = f"operand {j + 1} of '{word}'"
            if kind == "r":
                if not (len(tok) == 1 and tok in REG_NAMES):
                    raise AsmError(f"{what} must be a register a..p, got '{tok}'", lineno, tcol)
                words[1 + j] = REG_NAMES.index(tok)
            elif kind == "v":
                words[1 + j] = _parse_value(tok, consts, lineno, tcol, what)
            else:
                if not _IDENT.match(tok):
                    raise AsmError(f"{what} must be a label name, got '{tok}'", lineno, tcol)
                refs.append((tok, len(code) + 1 + j, lineno, tcol))
        code.extend(words)
    for name, index, lineno, col in refs:
        if name not in labels:
            raise AsmError(f"label '{name}' is never defined", lineno, col)
        code[index] = labels[name][0]
    return Program(np.array(code, dtype=np.int64), np.array(consts, dtype=np.int64))


def _operand_text(prog: Program, kind: str, word: int, label_of) -> str:
    if kind == "r":
        return REG_NAMES[word]
    if kind == "v":
        return REG_NAMES[word] if word < N_REGS else str(int(prog.consts[word - N_REGS]))
    return label_of(word)


def disassemble(prog: Program) -> str:
    """Canonical text of a valid program: labels ``L0, L1, ...`` in order of first appearance.

    Comments and blank lines are not part of the bytecode, so they are not reproduced.
    Raises ``ValueError`` for bytecode that does not validate (see ``cadmus.validate``).
    """
    from .vm import validate

    if not isinstance(prog, Program):
        raise TypeError(f"disassemble() expects a Program, got {type(prog).__name__}")
    problem = validate(prog)
    if problem:
        raise ValueError(f"cannot disassemble invalid bytecode: {problem}")
    n = len(prog)
    code = prog.code.reshape(n, WORDS_PER_INSN)
    targets = {int(code[pc, 1 + j]) for pc in range(n) for j, k in enumerate(BY_OPCODE[int(code[pc, 0])].operands) if k == "L"}
    names: dict[int, str] = {}

    def label_of(target: int) -> str:
        if target not in names:
            names[target] = f"L{len(names)}"
        return names[target]

    lines = []
    for pc in range(n + 1):
        if pc in targets:
            lines.append(label_of(pc) + ":")
        if pc == n:
            break
        ins = BY_OPCODE[int(code[pc, 0])]
        ops = [_operand_text(prog, k, int(code[pc, 1 + j]), label_of) for j, k in enumerate(ins.operands)]
        lines.append(" ".join([ins.mnemonic, *ops]))
    return "\n".join(lines)


def canonical(text: str) -> str:
    """The canonical form of a program text (what ``cadmus fmt`` prints)."""
    return disassemble(assemble(text))
