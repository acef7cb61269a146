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
from array import array
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .isa import (
    BY_MNEMONIC,
    BY_OPCODE,
    INT64_MAX,
    INT64_MIN,
    N_REGS,
    REG_NAMES,
    WORDS_PER_INSN,
    kind_table,
)

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_IDENT_AT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT = re.compile(r"-?[0-9]+\Z")
_SEPARATORS = re.compile(r"[^ \t\r]+")


class AsmError(ValueError):
    """A text that does not assemble; ``line`` and ``col`` are 1-based."""

    def __init__(self, message: str, line: int, col: int):
        super().__init__(f"line {line}, col {col}: {message}")
        self.message = message
        self.line = line
        self.col = col


def int64_array(values, what: str, *, flat: bool = False) -> np.ndarray:
    """``values`` as a C-contiguous 1-D int64 array, checked before any compiled code sees it.

    Integers only (Python or numpy ints, bools as 0/1), each within int64: a float, a string or
    a value such as ``2**63`` raises TypeError / ValueError naming ``what`` instead of being
    truncated or wrapped. ``flat``: any shape is flattened (else only 1-D is accepted). An
    int64 array is used as it is (no copy).
    """
    if isinstance(values, (str, bytes, bytearray)):
        raise TypeError(f"{what} must be a sequence of integers, got {type(values).__name__}")
    if not isinstance(values, np.ndarray):
        try:  # list() reads what iteration yields, whatever a subclass's __len__ says
            values = np.asarray(values if type(values) in (list, tuple) else list(values))
        except (TypeError, ValueError) as err:
            raise TypeError(f"{what} must be a flat sequence of integers ({err})") from None
    if values.size == 0:
        return np.zeros(0, np.int64)
    if values.ndim != 1 and not flat:
        raise TypeError(f"{what} must be a flat sequence of integers, got shape {values.shape}")
    kind = values.dtype.kind
    if kind == "u" and values.max() > INT64_MAX:
        raise ValueError(f"{what} holds {int(values.max())}, outside int64")
    if kind == "O":
        bad = next((v for v in values.flat if not isinstance(v, (int, np.integer))), None)
        if bad is not None:
            raise TypeError(f"{what} must hold integers, got {type(bad).__name__} {bad!r:.40}")
        bad = next((v for v in values.flat if not INT64_MIN <= v <= INT64_MAX), None)
        if bad is not None:
            raise ValueError(f"{what} holds {int(bad)}, outside int64")
    elif kind not in "iub":
        raise TypeError(f"{what} must hold integers, got dtype {values.dtype}")
    return np.ascontiguousarray(values.reshape(-1), dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Program:
    """An assembled program: flat int64 ``code`` (4 words per instruction) and ``consts``.

    Any integer values are accepted (malformed bytecode runs as BAD_PROGRAM); floats, strings
    and values outside int64 raise TypeError / ValueError here, naming the field.
    """

    code: np.ndarray
    consts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self):
        object.__setattr__(self, "code", int64_array(self.code, "Program code", flat=True))
        object.__setattr__(self, "consts", int64_array(self.consts, "Program consts", flat=True))

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


def _shown(token: str) -> str:
    """A token as quoted in a message: a long one is cut (a message stays short)."""
    return f"'{token}'" if len(token) <= 40 else f"'{token[:24]}...' ({len(token):,} characters)"


def _parse_value(token: str, consts: array, line: int, col: int, what: str) -> int:
    if len(token) == 1 and token in REG_NAMES:
        return REG_NAMES.index(token)
    if _INT.match(token):
        if len(token) <= 19:
            value = int(token)
        else:  # int64 has at most 19 digits (leading zeros aside); int() refuses over 4300
            digits = token.lstrip("-").lstrip("0") or "0"
            value = INT64_MAX + 1 if len(digits) > 19 else -int(digits) if token[0] == "-" else int(digits)
        if not INT64_MIN <= value <= INT64_MAX:
            raise AsmError(f"literal out of int64 range: {_shown(token)}", line, col)
        consts.append(value)
        return N_REGS + len(consts) - 1
    raise AsmError(f"{what} must be a register a..p or an integer literal, got {_shown(token)}", line, col)


_BLOCK = 1 << 16  # characters split into lines at a time


def _lines(text: str):
    """(offset, line) for each ``\\n``-separated line, split a block at a time: a list of every
    line of a long text would cost several times its size."""
    pos, end = 0, len(text)
    while True:
        cut = text.find("\n", pos + _BLOCK) if pos + _BLOCK < end else -1
        for line in (text[pos:] if cut < 0 else text[pos:cut]).split("\n"):
            yield pos, line
            pos += len(line) + 1
        if cut < 0:
            return


def assemble(text: str) -> Program:
    """Assemble DSL text into a :class:`Program`; raises :class:`AsmError` on bad text.

    Memory: the bytecode and label references in flat int64 buffers, a dict of label names,
    and one line at a time.
    """
    if not isinstance(text, str):
        raise TypeError(f"assemble() expects str, got {type(text).__name__}")
    text = str.__str__(text)  # a plain str: a subclass's len() could disagree with its contents
    code = array("q")
    consts = array("q")
    base = len(text) + 2  # above any line number: a label's pc and line packed in one int
    labels: dict[str, int] = {}  # name -> pc * base + line
    refs = array("q")  # per label reference: code index, line, offset of the name in the text
    for lineno, (start, raw) in enumerate(_lines(text), start=1):
        body = raw.partition("#")[0]
        tokens = [(m.group(), m.start() + 1) for m in _SEPARATORS.finditer(body)]
        if not tokens:
            continue
        word, col = tokens[0]
        if word.endswith(":"):
            name = word[:-1]
            if not _IDENT.match(name):
                raise AsmError(f"bad label name {_shown(name)}", lineno, col)
            if len(tokens) > 1:
                raise AsmError(f"unexpected {_shown(tokens[1][0])} after label {_shown(name)}", lineno, tokens[1][1])
            if name in labels:
                raise AsmError(f"label {_shown(name)} defined twice (first on line {labels[name] % base})",
                               lineno, col)
            labels[name] = len(code) // WORDS_PER_INSN * base + lineno
            continue
        ins = BY_MNEMONIC.get(word)
        if ins is None:
            raise AsmError(f"unknown mnemonic {_shown(word)}", lineno, col)
        operands = tokens[1:]
        if len(operands) != ins.arity:
            noun = "operand" if ins.arity == 1 else "operands"
            raise AsmError(f"'{word}' takes {ins.arity} {noun}, got {len(operands)}", lineno, col)
        words = [ins.opcode, 0, 0, 0]
        for j, ((tok, tcol), kind) in enumerate(zip(operands, ins.operands)):
            what = f"operand {j + 1} of '{word}'"
            if kind == "r":
                if not (len(tok) == 1 and tok in REG_NAMES):
                    raise AsmError(f"{what} must be a register a..p, got {_shown(tok)}", lineno, tcol)
                words[1 + j] = REG_NAMES.index(tok)
            elif kind == "v":
                words[1 + j] = _parse_value(tok, consts, lineno, tcol, what)
            else:
                if not _IDENT.match(tok):
                    raise AsmError(f"{what} must be a label name, got {_shown(tok)}", lineno, tcol)
                refs.fromlist([len(code) + 1 + j, lineno, start + tcol - 1])
        code.fromlist(words)
    triples = iter(refs)
    for index, lineno, pos in zip(triples, triples, triples):
        name = _IDENT_AT.match(text, pos).group()  # the whole token: it was checked above
        if name not in labels:
            col = pos - text.rfind("\n", 0, pos)
            raise AsmError(f"label {_shown(name)} is never defined", lineno, col)
        code[index] = labels[name] // base
    return Program(np.frombuffer(code, np.int64), np.frombuffer(consts, np.int64))


def _operand_text(prog: Program, kind: str, word: int, label_of) -> str:
    if kind == "r":
        return REG_NAMES[word]
    if kind == "v":
        return REG_NAMES[word] if word < N_REGS else str(int(prog.consts[word - N_REGS]))
    return label_of(word)


def checked_program(prog, what: str) -> Program:
    """``prog`` if it is a Program whose arrays are what Program() made them."""
    if not isinstance(prog, Program):
        raise TypeError(f"{what} must be a Program, got {type(prog).__name__}")
    for name in ("code", "consts"):
        arr = getattr(prog, name)
        if not (isinstance(arr, np.ndarray) and arr.dtype == np.int64 and arr.ndim == 1 and arr.flags.c_contiguous):
            raise TypeError(f"{what}.{name} is not a flat int64 array (Program() makes it one)")
    return prog


def validate(prog: Program) -> Optional[str]:
    """None if the bytecode is well formed, else a message naming the first bad instruction (the
    VM kernel's own check, the one every run of bytecode applies)."""
    from . import vm_kernel  # deferred: importing Numba costs ~0.5 s, compiling more

    prog = checked_program(prog, "validate()'s argument")
    if len(prog.code) % 4:
        return f"code length {len(prog.code)} is not a multiple of 4"
    code = prog.code if prog.code.flags.writeable else prog.code.copy()  # Numba compiles read-only apart
    bad = vm_kernel.validate(code, 0, len(prog), len(prog.consts), kind_table())
    if bad < 0:
        return None
    return f"instruction {bad}: {prog.code[4 * bad:4 * bad + 4].tolist()} is not a valid instruction"


def disassemble(prog: Program) -> str:
    """Canonical text of a valid program: labels ``L0, L1, ...`` in order of first appearance.

    Comments and blank lines are not part of the bytecode, so they are not reproduced.
    Raises ``ValueError`` for bytecode that does not validate (see ``cadmus.validate``).
    """
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
