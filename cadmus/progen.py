"""Random programs, texts and bytecode for differential testing, fuzzing and benchmarks.

``random_program`` draws valid DSL text over the whole instruction set with edge values
(INT64_MIN, -1, 0, shift counts 63/64, addresses at the memory bounds), loops, calls and
memory; the other generators produce hostile input (mutated text, random characters,
random bytecode). All are deterministic given a ``random.Random``.
"""
from __future__ import annotations

import random

import numpy as np

from .asm import Program
from .isa import INSTRUCTIONS, INT64_MAX, INT64_MIN, MEM_SIZE, REG_NAMES

EDGE_VALUES = (0, 1, -1, 2, -2, 3, 7, 10, 63, 64, -64, 100, 255, 256, MEM_SIZE - 1, MEM_SIZE,
               INT64_MIN, INT64_MAX, INT64_MIN + 1, INT64_MAX - 1, 1 << 32, -(1 << 31))
# The registers random programs mostly use: few enough that values flow between instructions.
HOT_REGISTERS = "abcdef"


def _value(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(HOT_REGISTERS) if rng.random() < 0.9 else rng.choice(REG_NAMES)
    if roll < 0.75:
        return str(rng.randint(-20, 120))
    if roll < 0.95:
        return str(rng.choice(EDGE_VALUES))
    return str(rng.randint(INT64_MIN, INT64_MAX))


def _register(rng: random.Random) -> str:
    return rng.choice(HOT_REGISTERS) if rng.random() < 0.9 else rng.choice(REG_NAMES)


def random_program(rng: random.Random, length: int = 12, n_labels: int = 3) -> str:
    """A valid program text of ``length`` instructions using every kind of instruction.

    Labels are placed at random lines (including the end); jumps mostly go forward so
    that many programs finish, while the rest loop until fuel runs out or a stack fills.
    """
    labels = sorted(rng.randint(0, length) for _ in range(n_labels))
    lines = []
    for pc in range(length + 1):
        for k, at in enumerate(labels):
            if at == pc:
                lines.append(f"L{k}:")
        if pc == length:
            break
        ins = rng.choice(INSTRUCTIONS)
        if "L" in ins.operands and not labels:
            ins = rng.choice([i for i in INSTRUCTIONS if "L" not in i.operands])
        ops = []
        for kind in ins.operands:
            if kind == "r":
                ops.append(_register(rng))
            elif kind == "v":
                ops.append(_value(rng))
            else:
                forward = [k for k, at in enumerate(labels) if at > pc]
                pool = forward if forward and rng.random() < 0.8 else range(len(labels))
                ops.append(f"L{rng.choice(list(pool))}")
        lines.append(" ".join([ins.mnemonic, *ops]))
    return "\n".join(lines)


def random_inputs(rng: random.Random, max_len: int = 4) -> list:
    return [rng.choice(EDGE_VALUES) if rng.random() < 0.3 else rng.randint(-50, 50)
            for _ in range(rng.randint(0, max_len))]


_NOISE = list("abcdefghijklmnopqrstuvwxyzLABCXYZ0123456789-:#_ \t\r\n,.;+*/()[]") + [
    "\x00", "\x0b", "é", "\u2028", "\ud800", "ℵ", "9999999999999999999999", "-", "L", ":"]


def mutate_text(rng: random.Random, text: str, n_edits: int = 3) -> str:
    """Apply random character- and line-level edits (the kind of damage model samples show)."""
    chars = list(text)
    for _ in range(n_edits):
        op = rng.random()
        pos = rng.randint(0, len(chars))
        if op < 0.3 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif op < 0.6:
            chars.insert(pos, rng.choice(_NOISE))
        elif op < 0.8 and chars:
            chars[min(pos, len(chars) - 1)] = rng.choice(_NOISE)
        else:  # duplicate or drop a whole line
            lines = "".join(chars).split("\n")
            k = rng.randrange(len(lines))
            if rng.random() < 0.5:
                lines.insert(k, lines[k])
            else:
                del lines[k]
            chars = list("\n".join(lines))
    return "".join(chars)


def random_text(rng: random.Random, max_len: int = 80) -> str:
    return "".join(rng.choice(_NOISE) for _ in range(rng.randint(0, max_len)))


def random_bytecode(rng: random.Random, max_len: int = 12) -> Program:
    """Arbitrary int64 words, sometimes close to valid (small opcodes and operands)."""
    n = rng.randint(0, max_len)
    words = []
    for _ in range(4 * n):
        roll = rng.random()
        if roll < 0.6:
            words.append(rng.randint(0, 20))
        elif roll < 0.9:
            words.append(rng.randint(-2, 60))
        else:
            words.append(rng.randint(INT64_MIN, INT64_MAX))
    consts = [rng.randint(INT64_MIN, INT64_MAX) for _ in range(rng.randint(0, 4))]
    return Program(np.array(words, np.int64), np.array(consts, np.int64))
