"""The one table that defines the Cadmus instruction set (DSL v1).

Everything VM-related derives from ``INSTRUCTIONS``: the assembler and disassembler
(mnemonics, operand kinds), the generated ``docs/ISA.md``, the opcode constants of the
Numba interpreter (a generated block in ``vm_kernel.py``, checked by a test) and the
pure-Python reference interpreter (the ``fn`` / ``cond`` semantics below).

Bytecode layout (shared by every consumer): a program of ``n`` instructions is an int64
array ``code`` of ``4 * n`` words ``[opcode, x, y, z]`` plus an int64 array ``consts``.
Operand encoding by kind:

* ``r`` (register): index 0..15 (``a``..``p``);
* ``v`` (value): index into the *value file* ``[a..p, consts[0], consts[1], ...]``, i.e.
  0..15 is a register and ``16 + j`` is literal ``consts[j]``;
* ``L`` (label): the target instruction index, 0..n (``n`` = past the end = stop OK).

Unused operand words are 0. Literals get one ``consts`` slot per occurrence, in text order.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Callable, Optional

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

N_REGS = 16
REG_NAMES = "abcdefghijklmnop"
MEM_SIZE = 1024
DATA_STACK_SIZE = 256
CALL_STACK_SIZE = 64
MAX_OUTPUTS = 1024  # capacity of the output tape; one more `out` is OUTPUT_OVERFLOW
WORDS_PER_INSN = 4  # opcode + up to three operands
MAX_OPERANDS = 3
DEFAULT_FUEL = 100_000

# Operand-kind codes as stored in the kind table that the compiled code reads.
KIND_NONE, KIND_REG, KIND_VALUE, KIND_LABEL = 0, 1, 2, 3
KIND_CODES = {"r": KIND_REG, "v": KIND_VALUE, "L": KIND_LABEL}


class Status(IntEnum):
    """How a run ended. The numbers are part of the bytecode/VM contract."""

    OK = 0
    ASSERT_FAILED = 1
    OUT_OF_FUEL = 2
    DIV_BY_ZERO = 3
    BAD_ADDRESS = 4
    STACK_OVERFLOW = 5
    STACK_UNDERFLOW = 6
    INPUT_EXHAUSTED = 7
    OUTPUT_OVERFLOW = 8
    BAD_ARGUMENT = 9
    BAD_PROGRAM = 10
    PARSE_ERROR = 11


class Trap(Exception):
    """Raised by a reference semantic function to stop the run with ``status``."""

    def __init__(self, status: Status):
        super().__init__(status.name)
        self.status = status


# --- Reference semantics, on unbounded Python ints (the reference VM wraps results) ---

def wrap(x: int) -> int:
    """Two's-complement wrap of a Python int to int64."""
    return ((x - INT64_MIN) % (1 << 64)) + INT64_MIN


def _div(x: int, y: int) -> int:
    if y == 0:
        raise Trap(Status.DIV_BY_ZERO)
    return x // y  # Python floors; INT64_MIN // -1 = 2**63 wraps to INT64_MIN


def _mod(x: int, y: int) -> int:
    if y == 0:
        raise Trap(Status.DIV_BY_ZERO)
    return x % y


def _shift_count(s: int) -> int:
    if not 0 <= s <= 63:
        raise Trap(Status.BAD_ARGUMENT)
    return s


def _pow(x: int, e: int) -> int:
    if e < 0:
        raise Trap(Status.BAD_ARGUMENT)
    return pow(x, e, 1 << 64)  # modular: exact low 64 bits without a huge integer


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


@dataclass(frozen=True)
class Instr:
    mnemonic: str
    opcode: int
    operands: str  # operand kinds, one letter each: r, v, L
    group: str
    doc: str
    # Reference semantics. ALU instructions: dest (operand 1) = wrap(fn(*source values)),
    # where the sources are the remaining operands or, when there are none (inc/dec),
    # the destination's own value. Conditional jumps: jump when cond(*values) holds.
    fn: Optional[Callable[..., int]] = None
    cond: Optional[Callable[..., bool]] = None

    @property
    def arity(self) -> int:
        return len(self.operands)

    @property
    def signature(self) -> str:
        return " ".join([self.mnemonic, *self.operands])


_ROWS = [
    # data
    ("mov", "rv", "data", "r = v", lambda x: x, None),
    ("swap", "rr", "data", "exchange two registers", None, None),
    ("in", "r", "data", "r = next value of the input tape (INPUT_EXHAUSTED if none)", None, None),
    ("out", "v", "data", "append v to the output tape (OUTPUT_OVERFLOW past 1024 values)", None, None),
    ("push", "v", "data", "push v on the data stack (STACK_OVERFLOW past 256)", None, None),
    ("pop", "r", "data", "r = pop the data stack (STACK_UNDERFLOW if empty)", None, None),
    ("load", "rv", "data", "r = mem[v] (BAD_ADDRESS unless 0 <= v < 1024)", None, None),
    ("store", "vv", "data", "mem[v1] = v2 (BAD_ADDRESS unless 0 <= v1 < 1024)", None, None),
    ("nop", "", "data", "do nothing", None, None),
    # arithmetic (int64, wrapping)
    ("add", "rvv", "arithmetic", "r = v1 + v2", lambda x, y: x + y, None),
    ("sub", "rvv", "arithmetic", "r = v1 - v2", lambda x, y: x - y, None),
    ("mul", "rvv", "arithmetic", "r = v1 * v2", lambda x, y: x * y, None),
    ("div", "rvv", "arithmetic", "r = floor(v1 / v2) (DIV_BY_ZERO if v2 = 0)", _div, None),
    ("mod", "rvv", "arithmetic", "r = v1 - v2 * floor(v1 / v2), sign of v2 (DIV_BY_ZERO if v2 = 0)", _mod, None),
    ("neg", "rv", "arithmetic", "r = -v", lambda x: -x, None),
    ("abs", "rv", "arithmetic", "r = |v| (INT64_MIN stays INT64_MIN)", abs, None),
    ("inc", "r", "arithmetic", "r = r + 1", lambda x: x + 1, None),
    ("dec", "r", "arithmetic", "r = r - 1", lambda x: x - 1, None),
    ("min", "rvv", "arithmetic", "r = min(v1, v2)", min, None),
    ("max", "rvv", "arithmetic", "r = max(v1, v2)", max, None),
    ("pow", "rvv", "arithmetic", "r = v1 ** v2, wrapping (BAD_ARGUMENT if v2 < 0)", _pow, None),
    ("sign", "rv", "arithmetic", "r = -1, 0 or 1 by the sign of v", _sign, None),
    # bitwise
    ("and", "rvv", "bitwise", "r = v1 & v2", lambda x, y: x & y, None),
    ("or", "rvv", "bitwise", "r = v1 | v2", lambda x, y: x | y, None),
    ("xor", "rvv", "bitwise", "r = v1 ^ v2", lambda x, y: x ^ y, None),
    ("not", "rv", "bitwise", "r = ~v", lambda x: ~x, None),
    ("shl", "rvv", "bitwise", "r = v1 << v2, wrapping (BAD_ARGUMENT unless 0 <= v2 <= 63)",
     lambda x, s: x << _shift_count(s), None),
    ("shr", "rvv", "bitwise", "r = v1 >> v2, arithmetic (BAD_ARGUMENT unless 0 <= v2 <= 63)",
     lambda x, s: x >> _shift_count(s), None),
    # compare
    ("eq", "rvv", "compare", "r = 1 if v1 == v2 else 0", lambda x, y: int(x == y), None),
    ("ne", "rvv", "compare", "r = 1 if v1 != v2 else 0", lambda x, y: int(x != y), None),
    ("lt", "rvv", "compare", "r = 1 if v1 < v2 else 0", lambda x, y: int(x < y), None),
    ("le", "rvv", "compare", "r = 1 if v1 <= v2 else 0", lambda x, y: int(x <= y), None),
    ("gt", "rvv", "compare", "r = 1 if v1 > v2 else 0", lambda x, y: int(x > y), None),
    ("ge", "rvv", "compare", "r = 1 if v1 >= v2 else 0", lambda x, y: int(x >= y), None),
    # control
    ("jmp", "L", "control", "jump to L", None, lambda: True),
    ("jz", "vL", "control", "jump to L if v == 0", None, lambda x: x == 0),
    ("jnz", "vL", "control", "jump to L if v != 0", None, lambda x: x != 0),
    ("jeq", "vvL", "control", "jump to L if v1 == v2", None, lambda x, y: x == y),
    ("jne", "vvL", "control", "jump to L if v1 != v2", None, lambda x, y: x != y),
    ("jlt", "vvL", "control", "jump to L if v1 < v2", None, lambda x, y: x < y),
    ("jle", "vvL", "control", "jump to L if v1 <= v2", None, lambda x, y: x <= y),
    ("jgt", "vvL", "control", "jump to L if v1 > v2", None, lambda x, y: x > y),
    ("jge", "vvL", "control", "jump to L if v1 >= v2", None, lambda x, y: x >= y),
    ("call", "L", "control", "push the return address on the call stack (STACK_OVERFLOW past 64), jump to L", None, None),
    ("ret", "", "control", "jump to the popped return address (STACK_UNDERFLOW if empty)", None, None),
    ("halt", "", "control", "stop with status OK", None, None),
    # check
    ("assert", "vv", "check", "stop with ASSERT_FAILED unless v1 == v2", None, None),
]

# Opcode 0 is deliberately invalid so that zeroed or truncated bytecode is BAD_PROGRAM.
INSTRUCTIONS: tuple[Instr, ...] = tuple(
    Instr(m, i + 1, ops, group, doc, fn, cond) for i, (m, ops, group, doc, fn, cond) in enumerate(_ROWS)
)
BY_MNEMONIC: dict[str, Instr] = {ins.mnemonic: ins for ins in INSTRUCTIONS}
BY_OPCODE: dict[int, Instr] = {ins.opcode: ins for ins in INSTRUCTIONS}
N_OPCODES = len(INSTRUCTIONS) + 1  # table rows are indexed by opcode; row 0 is invalid
MAX_MNEMONIC_LEN = max(len(ins.mnemonic) for ins in INSTRUCTIONS)
GROUPS = ("data", "arithmetic", "bitwise", "compare", "control", "check")


def kind_table():
    """int64 array (N_OPCODES, 4): arity, then the kind code of each operand slot."""
    import numpy as np

    table = np.zeros((N_OPCODES, 1 + MAX_OPERANDS), dtype=np.int64)
    for ins in INSTRUCTIONS:
        table[ins.opcode, 0] = ins.arity
        for j, k in enumerate(ins.operands):
            table[ins.opcode, 1 + j] = KIND_CODES[k]
    return table


def mnemonic_key(word: bytes) -> int:
    """Pack a mnemonic (<= 8 ASCII bytes) into an int64, as the compiled parser does."""
    key = 0
    for i, b in enumerate(word):
        key |= b << (8 * i)
    return key


MNEMONIC_HASH_BITS = 9  # slots in the compiled parser's mnemonic hash table: 2**9 = 512


def _mnemonic_slot(key: int, mult: int) -> int:
    return ((key * mult) % (1 << 64)) >> (64 - MNEMONIC_HASH_BITS)


def mnemonic_hash_multiplier() -> int:
    """The first odd multiplier (from a fixed sequence) that hashes every mnemonic to its own slot.

    The compiled parser looks a mnemonic up with one multiply, one shift and one compare; a
    binary search over sorted keys cost it a third of all parsing time in branch misses.
    """
    keys = [mnemonic_key(ins.mnemonic.encode()) for ins in INSTRUCTIONS]
    mult = 0x9E3779B97F4A7C15  # golden-ratio increment, then odd steps of it
    while len({_mnemonic_slot(k, mult) for k in keys}) < len(keys):
        mult = (mult + 0x9E3779B97F4A7C16) % (1 << 64) | 1
    return mult


def mnemonic_table():
    """(slots, keys): ``slots[hash(key)]`` is the opcode whose packed mnemonic is
    ``keys[opcode]`` (0 for an empty slot); see ``mnemonic_hash_multiplier``."""
    import numpy as np

    mult = mnemonic_hash_multiplier()
    slots = np.zeros(1 << MNEMONIC_HASH_BITS, dtype=np.int64)
    keys = np.full(N_OPCODES, -1, dtype=np.int64)  # -1 never equals a packed ASCII key
    for ins in INSTRUCTIONS:
        key = mnemonic_key(ins.mnemonic.encode())
        slots[_mnemonic_slot(key, mult)] = ins.opcode
        keys[ins.opcode] = key
    return slots, keys


BEGIN_GENERATED = "# BEGIN GENERATED CONSTANTS (from cadmus/isa.py; regenerate with `cadmus isa --write`)"
END_GENERATED = "# END GENERATED CONSTANTS"


def opcode_constant_block() -> str:
    """The generated constants block of ``vm_kernel.py`` (see ``cadmus isa --write``)."""
    # Numba freezes globals at compile time and its cache only notices edits to the file
    # that defines a function, so the kernel file carries these values literally.
    lines = [BEGIN_GENERATED]
    lines += [f"OP_{ins.mnemonic.upper()} = {ins.opcode}" for ins in INSTRUCTIONS]
    lines += [f"ST_{s.name} = {s.value}" for s in Status]
    lines += [f"KIND_{name} = {value}" for name, value in
              (("NONE", KIND_NONE), ("REG", KIND_REG), ("VALUE", KIND_VALUE), ("LABEL", KIND_LABEL))]
    lines += [f"{name} = {value}" for name, value in (
        ("N_REGS", N_REGS), ("MEM_SIZE", MEM_SIZE), ("DATA_STACK_SIZE", DATA_STACK_SIZE),
        ("CALL_STACK_SIZE", CALL_STACK_SIZE), ("MAX_OUTPUTS", MAX_OUTPUTS), ("MAX_MNEMONIC_LEN", MAX_MNEMONIC_LEN),
        ("MNEMONIC_HASH_MULT", mnemonic_hash_multiplier()), ("MNEMONIC_HASH_SHIFT", 64 - MNEMONIC_HASH_BITS))]
    lines.append(END_GENERATED)
    return "\n".join(lines)


def render_markdown() -> str:
    """docs/ISA.md, generated from the table (a test fails when the file is stale)."""
    out = [
        "# Cadmus DSL v1 instruction set",
        "",
        "Generated from `cadmus/isa.py` by `cadmus isa --write`; do not edit by hand.",
        "",
        f"Machine: {N_REGS} registers `{REG_NAMES[0]}`..`{REG_NAMES[-1]}` (int64, zero at start), "
        f"{MEM_SIZE} memory cells (zero at start), a data stack of {DATA_STACK_SIZE}, a call stack of "
        f"{CALL_STACK_SIZE}, an input tape and an output tape of at most {MAX_OUTPUTS} values.",
        "Arithmetic wraps (two's complement). Operand kinds: `r` register, `v` register or integer "
        "literal, `L` label. A run ends at `halt` or past the last line (OK), at a failed `assert`, "
        "when fuel runs out, or at an error status.",
        "",
        "Syntax: one item per line: an instruction (`mnemonic op1 op2 ...`, operands separated by "
        "spaces), a label (`name:`), a comment (`# ...`, also after an instruction) or a blank line.",
        "",
    ]
    for group in GROUPS:
        out += [f"## {group}", "", "| opcode | instruction | semantics |", "|---:|---|---|"]
        for ins in INSTRUCTIONS:
            if ins.group == group:
                out.append(f"| {ins.opcode} | `{ins.signature}` | {ins.doc} |")
        out.append("")
    out += ["## Status codes", "", "| code | name |", "|---:|---|"]
    out += [f"| {s.value} | {s.name} |" for s in Status]
    return "\n".join(out) + "\n"
