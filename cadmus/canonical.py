"""Canonical forms of programs, view texts and questions: what "the same task" means when
held-out data must be new.

Two programs that differ only in register letters, label names, spacing or the spelling of a
literal (``007``) compute the same thing, and a model that memorised one has seen the other.
``canonical_program`` maps them to one text: the disassembler's canonical text
(``cadmus.canonical``: single spaces, literals as integers, labels ``L0``, ``L1``... in order of
first appearance, one label per jump target, unreferenced labels dropped) with the registers
renamed ``a``, ``b``, ``c``... in order of first use. Comment lines and blank lines are not part
of the program: comment lines stay as they are, where they are (a prompt's description and
tests), blank lines stay as empty lines, and a comment after an instruction stays after it.

A trace view's text (a program, ``# input: ...``, then ``# trace:`` and the VM's trace lines
``c=42`` / ``out 42``, ``cadmus.data.views``) is not a program: ``canonical_program`` takes the
part before the ``# trace:`` line as the program and renames the registers of the trace lines
as it renamed the program's, so a renamed program's trace view has the same canonical text.

``canonical_view`` is ``canonical_program`` of a view's full text (prompt + target);
``question_key`` is what a completion or execution prompt asks: (family, variant, canonical
program, first visible test input).

Speed: the builder canonicalises two programs per record (millions). Generated programs are
already the disassembler's text, which one regular expression built from the ISA table
recognises (with a check of the label names); such a text, also between comment lines as in a
view, only needs its registers renamed (``canonical_programs``: many texts in one numpy pass).
Any other text takes the general path (``assemble`` to validate it, then a parse that keeps the
comments). Both give the same result, which the tests hold against ``assemble``/``disassemble``.
"""
from __future__ import annotations

import re
import sys
import types

import numpy as np

from .asm import assemble, canonical as _disassembler_canonical
from .isa import BY_MNEMONIC, INSTRUCTIONS, REG_NAMES
from .schema import VIEWS

TRACE_HEAD = "\n# trace:\n"  # where a trace view's program part ends (judge.TRACE_HEAD after a newline)

__all__ = ["canonical_program", "canonical_programs", "canonical_view", "canonical_views", "question_key"]

_REG = "[a-p]"
_LIT = "(?:0|-?(?:[1-9][0-9]{0,17}|[1-8][0-9]{18}))"  # canonical literals that surely fit int64
_LABEL = "L(?:0|[1-9][0-9]*)"
_KIND = {"r": _REG, "v": f"(?:{_REG}|{_LIT})", "L": _LABEL}


def _line_pattern() -> str:
    """One line of disassembler output: a label, or a mnemonic with its operands by kind. The
    mnemonics are grouped by operand kinds (ten groups: a shorter alternation to try)."""
    by_kinds = {}
    for ins in sorted(INSTRUCTIONS, key=lambda i: -len(i.mnemonic)):  # "inc" before "in"
        by_kinds.setdefault(ins.operands, []).append(ins.mnemonic)
    alternatives = ("(?:" + "|".join(names) + ")" + "".join(" " + _KIND[k] for k in kinds)
                    for kinds, names in by_kinds.items())
    return f"(?:{_LABEL}:|{'|'.join(alternatives)})"


_LINE = _line_pattern()
# A text of disassembler-shaped lines (no comment, no blank line, nothing else on a line).
_CANONICAL_SHAPE = re.compile(f"(?:{_LINE}\n)*{_LINE}")
# Comment lines, code, comment lines (a view's text): the code is tried on the fast path.
_FRAME = re.compile(r"((?:#[^\n]*\n)*)([^#]*)((?:\n#[^\n]*)*)")
_LABEL_TOKEN = re.compile("L[0-9]+:?")
# A register operand of such a text: a space then a letter (mnemonics start lines; labels and
# literals start with "L", a digit or "-").
_REGISTER_OPERAND = re.compile(f" ({_REG})")
_SPACED_REGISTERS = [" " + r for r in REG_NAMES]
VECTOR_MIN = 64  # texts from which canonical_programs renames in numpy
_LABEL_NAMES = [f"L{i}" for i in range(1024)]
_TOKENS = re.compile(r"[^ \t\r]+")
_TRACE_REGISTER = re.compile(f"(?<![a-z])({_REG})=")  # a register written on a trace line


def canonical_program(text: str) -> str:
    """The canonical text of an assembler-valid program (see the module docstring).

    Raises ``cadmus.AsmError`` for a text that does not assemble (in a trace view: its part
    before ``# trace:``)."""
    if TRACE_HEAD in text:
        return _canonical_trace_view(text)
    return _canonical_renamed(text)[0]


def _canonical_renamed(text: str) -> tuple:
    """(``canonical_program`` of a program text, {old register: new register})."""
    frame = _FRAME.fullmatch(text)
    if frame and _is_disassembled(frame.group(2)):
        head, code, tail = frame.groups()
        renamed, renaming = _rename_registers(code)
        return head + renamed + tail, renaming
    return _general_renamed(text)


def _canonical_trace_view(text: str) -> str:
    """A trace view's text: its program part canonical, the trace lines' registers renamed alike
    (a register the program never names keeps its name)."""
    program, head, trace = text.partition(TRACE_HEAD)
    canonical, renaming = _canonical_renamed(program)
    return canonical + head + _TRACE_REGISTER.sub(lambda m: renaming.get(m.group(1), m.group(1)) + "=", trace)


def canonical_programs(texts) -> list:
    """``canonical_program`` of each text: the registers of the disassembler-shaped code (between
    comment lines) of all of them renamed in one numpy pass, any other text by the general path."""
    texts = list(texts)
    if len(texts) < VECTOR_MIN:  # numpy's fixed costs outweigh its speed on a few texts
        return list(map(canonical_program, texts))
    out = [None] * len(texts)
    fast, frames = [], []
    for i, text in enumerate(texts):
        frame = _FRAME.fullmatch(text) if TRACE_HEAD not in text else None
        if frame and _is_disassembled(frame.group(2)):
            fast.append(i)
            frames.append(frame.groups())
    for i, (head, _, tail), code in zip(fast, frames, _rename_many([f[1] for f in frames])):
        out[i] = head + code + tail
    for i, text in enumerate(texts):
        if out[i] is None:
            out[i] = canonical_program(text)
    return out


def _rename_many(texts: list) -> list:
    """The texts, disassembler-shaped (ASCII, no NUL), with their registers renamed in order of
    first use, vectorised: a register operand is a byte a..p after a space; within each text, a
    register's new name is the rank of its first use."""
    if not texts:
        return []
    buf = np.frombuffer("\0".join(texts).encode("ascii"), np.uint8).copy()
    at = np.flatnonzero((buf[1:] >= 97) & (buf[1:] <= 112) & (buf[:-1] == 32)) + 1
    if not len(at):
        return texts
    lengths = np.fromiter(map(len, texts), np.int64, len(texts)) + 1
    text_of = np.searchsorted(np.cumsum(lengths), at, side="right")
    key = text_of * 16 + (buf[at] - 97)
    distinct, first = np.unique(key, return_index=True)
    by_first = np.argsort(first, kind="stable")  # distinct registers in order of first use
    owner = distinct[by_first] // 16  # non-decreasing: texts are joined in order
    rank = np.empty(len(distinct), np.int64)
    rank[by_first] = np.arange(len(distinct)) - np.searchsorted(owner, owner, side="left")
    buf[at] = 97 + rank[np.searchsorted(distinct, key)]
    return buf.tobytes().decode("ascii").split("\0")


def _rename_registers(code: str) -> tuple:
    """``_rename_many`` of one text, in Python: split at the register operands, rename, join;
    with the renaming ({old: new} register names)."""
    parts = _REGISTER_OPERAND.split(code)  # text, register, text, register, ...
    regs = parts[1::2]
    rename = dict(zip(dict.fromkeys(regs), _SPACED_REGISTERS))
    parts[1::2] = map(rename.__getitem__, regs)
    return "".join(parts), {old: new[1] for old, new in rename.items()}


def _is_disassembled(text: str) -> bool:
    """Whether ``text`` is exactly what ``disassemble`` writes for some program (cheap checks)."""
    if not text:
        return True
    if not _CANONICAL_SHAPE.fullmatch(text):
        return False
    if ":" not in text:
        return "L" not in text  # a jump to a label that is never defined does not assemble
    # 'L' starts nothing but a label here (mnemonics and registers are lower case): the label
    # tokens in text order are "Lk:" (a definition) and "Lk" (a use)
    tokens = _LABEL_TOKEN.findall(text)
    names, definitions = {}, 0
    for token in tokens:
        if token[-1] == ":":
            definitions += 1
            token = token[:-1]
        if token not in names:  # numbered L0, L1, ... in order of first appearance
            if len(names) == len(_LABEL_NAMES) or token != _LABEL_NAMES[len(names)]:
                return False
            names[token] = None
    # every name defined once and used (else disassemble drops it), no two names for one target
    return definitions == len(names) and len(set(tokens)) == 2 * len(names) and ":\nL" not in text


def _general(text: str) -> str:
    """Any assembler-valid text: instruction lines rewritten, comment and blank lines kept."""
    return _general_renamed(text)[0]


def _general_renamed(text: str) -> tuple:
    """``_general`` with the register renaming ({old: new})."""
    assemble(text)  # raises AsmError on invalid text, so the parse below can trust it
    lines = []  # ("keep", raw) | ("label", pc, comment) | ("ins", instr, tokens, comment)
    label_pc = {}
    pc = 0
    for raw in text.split("\n"):
        code, hash_, note = raw.partition("#")
        comment = hash_ + note
        tokens = _TOKENS.findall(code)
        if not tokens:
            lines.append(("keep", comment and raw))  # a blank line stays, emptied
        elif tokens[0].endswith(":"):
            label_pc[tokens[0][:-1]] = pc
            lines.append(("label", pc, comment))
        else:
            lines.append(("ins", BY_MNEMONIC[tokens[0]], tokens[1:], comment))
            pc += 1
    targets = {label_pc[tok] for item in lines if item[0] == "ins"
               for kind, tok in zip(item[1].operands, item[2]) if kind == "L"}
    labels, registers, out, placed = {}, {}, [], set()

    def label_of(target: int) -> str:
        return labels.setdefault(target, f"L{len(labels)}")

    def operand(kind: str, tok: str) -> str:
        if kind == "L":
            return label_of(label_pc[tok])
        if len(tok) == 1 and tok in REG_NAMES:
            return registers.setdefault(tok, REG_NAMES[len(registers)])
        return str(int(tok))

    for item in lines:
        if item[0] == "keep":
            out.append(item[1])
        elif item[0] == "label":
            _, target, comment = item
            if target in targets and target not in placed:  # one label per target, the first
                placed.add(target)
                out.append(_with_comment(label_of(target) + ":", comment))
            elif comment:
                out.append(comment)
        else:
            _, ins, ops, comment = item
            out.append(_with_comment(" ".join([ins.mnemonic, *map(operand, ins.operands, ops)]), comment))
    return "\n".join(out), registers


def _with_comment(line: str, comment: str) -> str:
    return f"{line} {comment}" if comment else line


def canonical_view(prompt: str, target: str) -> str:
    """The canonical text of one view: ``canonical_program(prompt + target)``. A synthesis
    prompt's comment lines and an execution prompt's trailing ``# input:`` / ``# output:`` lines
    stay as they are."""
    return canonical_program(prompt + target)


def canonical_views(record: dict) -> dict:
    """view -> ``canonical_view`` of a record with the dataset's view columns."""
    return {v: canonical_view(record[f"{v}_prompt"], record[f"{v}_target"]) for v in VIEWS}


def question_key(record: dict) -> tuple:
    """What a completion or execution prompt asks: (family, variant, canonical program, first
    visible test input). Two records with one key ask the same question in other words."""
    return (record["family"], record["variant"], canonical_program(record["program"]),
            tuple(record["tests"][0]["input"]))


class _CallableModule(types.ModuleType):
    """``cadmus.canonical(text)`` is the package's public disassembler-canonical function, and
    importing this module sets the package attribute ``canonical`` to the module: calling the
    module keeps that name working (it is ``cadmus.asm.canonical``, without register renaming)."""

    def __call__(self, text: str) -> str:
        return _disassembler_canonical(text)


sys.modules[__name__].__class__ = _CallableModule
