"""``random``: programs drawn from a small grammar, in levels; no description.

Input: 1..3 values read with ``in`` into registers; output: 1..2 registers written with
``out``. Level 1: straight-line code over most of the arithmetic, bitwise and compare
instructions; level 2 adds forward branches (if / if-else); level 3 adds counted loops (a
counter register the loop body never writes, 1..5 iterations, one level deep) and memory
(``store``/``load`` at literal addresses 0..15). Every program therefore terminates, within
a few hundred steps. ``div``/``mod`` divide by a literal 1..9 and shifts use a literal 0..8,
so no input can make a run fail. The oracle is a small Python interpreter of the grammar's
statements (independent of the VM). difficulty: level = grammar level, size = instructions.
Most drawn programs leave some registers equal on every case; one with no input-dependent
register is drawn again, and one output is always a register whose value varies. Variants:
``level1``..``level3``.
"""
from __future__ import annotations

import operator
import random
from typing import Optional

from . import edges as E
from .base import (LevelledFamily, Params, RecordCases, REGISTERS, Task, choice, contained,
                   is_constant, randint, sample, wrap)

BINARY = ("add", "sub", "mul", "min", "max", "and", "or", "xor", "eq", "ne", "lt", "le", "gt", "ge")
UNARY = ("neg", "abs", "not", "sign", "mov")
JUMP_IF_NOT = {"<": "jge", "<=": "jgt", ">": "jle", ">=": "jlt", "==": "jne", "!=": "jeq"}
LEVEL_LENGTH = {1: (3, 8), 2: (4, 10), 3: (5, 12)}
# draws of a program before one with no register that varies over the cases is kept: 40% of
# the training lengths' programs have none, 75-80% at 20 instructions (ood_length)
REDRAWS = 200


_HALF, _MASK = 1 << 63, (1 << 64) - 1  # ``wrap`` written out where hot: ((v + _HALF) & _MASK) - _HALF

BINARY_OPS = {  # Python semantics of each instruction; wrap() brings results back to int64
    "add": lambda a, b: ((a + b + _HALF) & _MASK) - _HALF, "sub": lambda a, b: ((a - b + _HALF) & _MASK) - _HALF,
    "mul": lambda a, b: ((a * b + _HALF) & _MASK) - _HALF,
    "min": min, "max": max, "and": operator.and_, "or": operator.or_, "xor": operator.xor,
    "div": lambda a, b: ((a // b + _HALF) & _MASK) - _HALF, "mod": operator.mod, "shl": lambda a, b: wrap(a << b),
    "shr": operator.rshift,
    "eq": lambda a, b: int(a == b), "ne": lambda a, b: int(a != b), "lt": lambda a, b: int(a < b),
    "le": lambda a, b: int(a <= b), "gt": lambda a, b: int(a > b), "ge": lambda a, b: int(a >= b),
}
CONDITIONS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
              "==": operator.eq, "!=": operator.ne}


UNARY_OPS = {"neg": lambda a: ((_HALF - a) & _MASK) - _HALF, "abs": lambda a: ((abs(a) + _HALF) & _MASK) - _HALF,
             "not": operator.invert,
             "sign": lambda a: (a > 0) - (a < 0), "mov": lambda a: a}


class Machine:
    """The oracle: runs the statement tree on Python integers, for ``n`` cases at once.

    Each register (and memory cell) holds one value per case; a statement runs on a list of
    *lanes* (the cases that reach it): all of them until a branch, whose sides then run on the
    cases that take them. One pass over the tree per record instead of one per case.
    """

    def __init__(self, n: int = 1, registers: str = REGISTERS):
        self.n = n
        self.regs = {r: [0] * n for r in registers}  # the registers the program may use
        self.mem = {}  # address -> a value per case

    def value(self, v) -> list:
        """A register's values, or a literal's (the same in every case)."""
        return self.regs[v] if v.__class__ is str else [v] * self.n

    def run(self, stmts: list, lanes: Optional[list] = None):
        lanes = list(range(self.n)) if lanes is None else lanes
        every = len(lanes) == self.n
        regs, value = self.regs, self.value
        for s in stmts:
            kind = s[0]
            if kind == "bin":
                f, a, b = BINARY_OPS[s[1]], value(s[3]), value(s[4])
                if every:
                    regs[s[2]] = list(map(f, a, b))
                else:
                    dst = regs[s[2]]
                    for i in lanes:
                        dst[i] = f(a[i], b[i])
            elif kind == "un":
                f, a = UNARY_OPS[s[1]], value(s[3])
                if every:
                    regs[s[2]] = list(map(f, a))
                else:
                    dst = regs[s[2]]
                    for i in lanes:
                        dst[i] = f(a[i])
            elif kind == "if":
                cond, a, b = CONDITIONS[s[1]], value(s[2]), value(s[3])
                taken = [cond(a[i], b[i]) for i in lanes]  # all decided before either side runs
                then_lanes = [i for i, t in zip(lanes, taken) if t]
                else_lanes = [i for i, t in zip(lanes, taken) if not t]
                if then_lanes:
                    self.run(s[4], then_lanes)
                if else_lanes and s[5]:
                    self.run(s[5], else_lanes)
            elif kind == "loop":
                counter, body = s[1], s[3]
                for k in [*range(s[2], 0, -1), 0]:  # the body may read the counter: N, ..., 1; then 0
                    self.set(counter, lanes, k)
                    if k:
                        self.run(body, lanes)
            elif kind == "store":
                cells, v = self.mem.setdefault(s[1], [0] * self.n), value(s[2])
                for i in lanes:
                    cells[i] = v[i]
            elif kind == "load":
                cells, dst = self.mem.get(s[2], [0] * self.n), regs[s[1]]
                for i in lanes:
                    dst[i] = cells[i]

    def set(self, reg: str, lanes: list, v: int) -> None:
        dst = self.regs[reg]
        for i in lanes:
            dst[i] = v


class Grammar:
    """Draws statements over a working set of registers."""

    # ``randint(rng, lo, hi)`` is written out as ``lo + int(r() * (hi - lo + 1))`` and ``choice(rng,
    # seq)`` as ``seq[int(r() * len(seq))]`` (the generator's hot path): the same draws

    def __init__(self, rng: random.Random, level: int, numbers: tuple, work: list):
        self.rng, self.level, self.numbers, self.work = rng, level, numbers, work
        self.r = rng.random

    def operand(self):
        r = self.r
        if r() < 0.65:
            return self.work[int(r() * len(self.work))]
        if r() < 0.5:
            lo, hi = self.numbers
            return lo + int(r() * (hi - lo + 1))
        return int(r() * 10)

    def simple(self, writable: list):
        r = self.r
        roll = r()
        dst = writable[int(r() * len(writable))]
        if self.level >= 3 and roll < 0.15:
            if r() < 0.5:
                return ("store", int(r() * 16), self.operand())
            return ("load", dst, int(r() * 16))
        if roll < 0.25:
            return ("un", UNARY[int(r() * len(UNARY))], dst, self.operand())
        work = self.work
        if roll < 0.35:
            op = SHIFTS_DIVS[int(r() * 4)]
            src = work[int(r() * len(work))]
            return ("bin", op, dst, src, 1 + int(r() * 9) if op in ("div", "mod") else int(r() * 9))
        return ("bin", BINARY[int(r() * len(BINARY))], dst, work[int(r() * len(work))], self.operand())

    def block(self, length: int, writable: list) -> list:
        """Statements worth about ``length`` instructions (a compound one counts its parts)."""
        out, left, r = [], length, self.r
        while left > 0:
            roll = r()
            if self.level >= 2 and left >= 3 and roll < 0.25:
                stmt = self.branch(min(left - 1, 4), writable)
            elif self.level >= 3 and left >= 4 and roll < 0.45 and len(writable) > 1:
                stmt = self.loop(min(left - 3, 4), writable)
            else:
                stmt = self.simple(writable)
            out.append(stmt)
            left -= size(stmt)
        return out

    def branch(self, length: int, writable: list):
        r = self.r
        cond = CONDITION_NAMES[int(r() * len(CONDITION_NAMES))]
        then_len = 1 + int(r() * max(1, length - 1))
        else_len = length - then_len if r() < 0.5 else 0
        return ("if", cond, self.work[int(r() * len(self.work))], self.operand(),
                [self.simple(writable) for _ in range(then_len)], [self.simple(writable) for _ in range(else_len)])

    def loop(self, length: int, writable: list):
        r = self.r
        counter = writable[int(r() * len(writable))]
        inner = [w for w in writable if w != counter]
        return ("loop", counter, 1 + int(r() * 5), [self.simple(inner) for _ in range(max(1, length))])


SHIFTS_DIVS = ("div", "mod", "shl", "shr")
CONDITION_NAMES = tuple(JUMP_IF_NOT)


def size(stmt) -> int:
    if stmt[0] == "if":
        return 1 + len(stmt[4]) + (1 + len(stmt[5]) if stmt[5] else 0)
    if stmt[0] == "loop":
        return 3 + len(stmt[3])
    return 1


class Renderer:
    """Statements -> canonical DSL lines (labels numbered as they first appear)."""

    def __init__(self):
        self.lines, self.n_labels = [], 0

    def label(self) -> str:
        self.n_labels += 1
        return f"L{self.n_labels - 1}"

    def emit(self, stmts: list):
        for s in stmts:
            kind = s[0]
            if kind == "in":
                self.lines.append(f"in {s[1]}")
            elif kind == "bin":
                self.lines.append(f"{s[1]} {s[2]} {s[3]} {s[4]}")
            elif kind == "un":
                self.lines.append(f"{s[1]} {s[2]} {s[3]}")
            elif kind == "store":
                self.lines.append(f"store {s[1]} {s[2]}")
            elif kind == "load":
                self.lines.append(f"load {s[1]} {s[2]}")
            elif kind == "if":
                self.emit_if(s)
            elif kind == "loop":
                top = self.label()
                self.lines += [f"mov {s[1]} {s[2]}", f"{top}:"]
                self.emit(s[3])
                self.lines += [f"dec {s[1]}", f"jnz {s[1]} {top}"]

    def emit_if(self, s):
        _, cond, a, b, then, other = s
        skip = self.label()
        self.lines.append(f"{JUMP_IF_NOT[cond]} {a} {b} {skip}")
        self.emit(then)
        if other:
            end = self.label()
            self.lines += [f"jmp {end}", f"{skip}:"]
            self.emit(other)
            self.lines.append(f"{end}:")
        else:
            self.lines.append(f"{skip}:")


def tainted(stmts: list, taint: set) -> set:
    """The registers (and ``("mem", address)`` cells) whose value may depend on the inputs after
    ``stmts``, given those in ``taint`` before: a cheap over-estimate (what is not in it is the
    same on every case), so that a program with no input-dependent register is redrawn without
    running it. Branches on a tainted condition taint what either side writes; loops are run to
    a fixed point."""
    taint = set(taint)
    for s in stmts:
        kind = s[0]
        if kind == "if":
            after = tainted(s[4], taint) | tainted(s[5], taint)
            if s[2] in taint or s[3] in taint:
                after |= written(s[4]) | written(s[5])
            taint |= after
            continue
        if kind == "loop":  # the counter is set to literals; the body runs one or more times
            counter, body = s[1], s[3]
            while True:
                taint.discard(counter)
                grown = taint | tainted(body, taint)
                if grown == taint:
                    break
                taint = grown
            taint.discard(counter)
            continue
        if kind == "bin":
            dst, hit = s[2], s[3] in taint or s[4] in taint
        elif kind == "un":
            dst, hit = s[2], s[3] in taint
        elif kind == "store":
            dst, hit = ("mem", s[1]), s[2] in taint
        else:  # load
            dst, hit = s[1], ("mem", s[2]) in taint
        if hit:
            taint.add(dst)
        else:
            taint.discard(dst)  # overwritten with a value that is the same on every case
    return taint


def written(stmts: list) -> set:
    """Registers and memory cells that ``stmts`` may write."""
    out = set()
    for s in stmts:
        kind = s[0]
        if kind in ("bin", "un", "load"):
            out.add(s[2] if kind != "load" else s[1])
        elif kind == "store":
            out.add(("mem", s[1]))
        elif kind == "if":
            out |= written(s[4]) | written(s[5])
        else:
            out |= written(s[3]) | {s[1]}
    return out


def render(stmts: list) -> str:
    r = Renderer()
    r.emit(stmts)
    return "\n".join(r.lines)


class RandomPrograms(LevelledFamily):
    """Programs from the grammar above (see the module docstring)."""

    LEVELS, SIZES, VARIANTS = LEVEL_LENGTH, LEVEL_LENGTH, tuple(f"level{lv}" for lv in LEVEL_LENGTH)

    def __init__(self):
        super().__init__("random", "random", "input 1..3 values; output 1..2 values (no description)",
                         [], [""], None, lambda c, k: k["run"](c), None, has_length=True, edges=E.inputs3)

    def _task(self, rng: random.Random, params: Params, numbers: tuple, levels: list, raw: list,
              variant: Optional[str], arranger: RecordCases) -> Task:
        r = rng.random
        level = levels[int(r() * len(levels))] if variant is None else int(variant[len("level"):])
        lo, hi = params.ops or LEVEL_LENGTH[level]
        length = lo + int(r() * (hi - lo + 1))
        regs = sample(rng, REGISTERS, 3 + int(r() * 3))
        n_inputs = 1 + int(r() * min(3, len(regs)))
        cases = arranger.arrange(raw, n_inputs)
        # most programs leave some register equal on every case (never written, or set from
        # literals only); outputs must not all be such registers: the program is drawn again
        # while no register varies, then an output is moved to a register that does
        for _ in range(REDRAWS):
            body = Grammar(rng, level, numbers, regs).block(length, regs)
            if not any(x in regs for x in tainted(body, set(regs[:n_inputs]))):
                varying = []  # no register depends on the inputs: no need to run it
                continue
            values = run_registers(body, regs[:n_inputs], cases, regs)
            varying = [x for x in regs if not is_constant(values[x])]
            if varying:
                break
        else:
            values = run_registers(body, regs[:n_inputs], cases, regs)
        outs = sample(rng, regs, 1 + int(r() * 2))
        if varying and not any(x in varying for x in outs):
            outs[0] = varying[int(r() * len(varying))]
        outputs = [list(v) for v in zip(*(values[x] for x in outs))]
        body_text = render(body)
        program = "\n".join([*map("in %s".__mod__, regs[:n_inputs]), body_text, *map("out %s".__mod__, outs)])
        n_insns = program.count("\n") + 1 - program.count(":")
        # ``contained`` written out: the inputs loaded into their registers, the outputs asserted
        lines = [*map("mov %s %s".__mod__, zip(regs, cases[0])), body_text,
                 *map("assert %s %s".__mod__, zip(outs, outputs[0]))]
        if not body_text:
            lines.remove("")
        true_program = "\n".join(lines)
        return Task("random", f"level{level}", level, n_insns, "", program, true_program, cases, outputs)


def run_oracle(body: list, input_regs: list, inputs: list, outs: list) -> list:
    """The outputs of the program on one case."""
    return run_oracle_cases(body, input_regs, [inputs], outs)[0]


def run_oracle_cases(body: list, input_regs: list, cases: list, outs: list, registers: str = REGISTERS) -> list:
    """The outputs of the program on every case (one run of the lane machine); ``registers``:
    all that the program uses."""
    values = run_registers(body, input_regs, cases, registers)
    return [list(v) for v in zip(*(values[r] for r in outs))]


def run_registers(body: list, input_regs: list, cases: list, registers) -> dict:
    """register -> its value in every case at the end of the program."""
    m = Machine(len(cases), registers)
    for r, column in zip(input_regs, zip(*cases)):  # what the program's leading `in` lines do
        m.regs[r] = list(column)
    m.run(body)
    return m.regs


def families() -> list:
    return [RandomPrograms()]
