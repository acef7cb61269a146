"""``arith``: straight-line integer arithmetic with constants (the headline completion task).

Input: 1..3 values x, y, z (read in that order); output: one value, the expression in the
description. Knobs: number of operations, operand range (the recipe's number range, used for
the inputs and the literal constants) and operator set, chosen by level:

=====  ==========  ==============================================
level  operations  operators
=====  ==========  ==============================================
1      1           add, sub
2      2..3        add, sub, mul
3      3..6        add, sub, mul, div, mod, min, max
=====  ==========  ==============================================

A recipe's ``ops`` range replaces the level's number of operations (``ood_length``). ``div``
and ``mod`` always divide by a non-zero literal so that no input can make them fail. An
expression whose value is the same on every case (a quarter of level 3's, e.g.
``max(max((y div 78) mod 33, 33), 75)``) is drawn again with the same level and number of
operations.
Variants: ``fresh`` writes every result to a new register, ``in_place`` overwrites the first
operand's register. difficulty: level as above, size = number of operations.
"""
from __future__ import annotations

import random
from typing import Optional

from . import edges as E
from .base import LevelledFamily, Params, RecordCases, REGISTERS, Task, is_constant, sample, wrap

LEVEL_OPS = {1: ("add", "sub"), 2: ("add", "sub", "mul"),
             3: ("add", "sub", "mul", "div", "mod", "min", "max")}
LEVEL_COUNT = {1: (1, 1), 2: (2, 3), 3: (3, 6)}
JOINING_OPS = {level: tuple(o for o in ops if o not in ("div", "mod")) for level, ops in LEVEL_OPS.items()}
NAMES = "xyz"
DESCRIPTIONS = ["read {inputs} and output {expr}", "compute {expr} for the inputs {inputs}",
                "given {inputs}, print the value of {expr}", "output {expr} where {inputs} are read in that order"]
INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "div", "mod": "mod"}
# draws of an expression that is constant on every case before one is kept: level 3's are
# constant 38% of the time at 6 operations, 87% at 20 (ood_length), so 200 leave none
REDRAWS = 200


def apply(op: str, a: int, b: int) -> int:
    """The oracle's arithmetic: Python integers, floor division, int64 wrap-around."""
    if op == "add":
        return wrap(a + b)
    if op == "sub":
        return wrap(a - b)
    if op == "mul":
        return wrap(a * b)
    if op == "div":
        return wrap(a // b)
    if op == "mod":
        return a % b
    return min(a, b) if op == "min" else max(a, b)


def evaluate(steps: list, inputs: list) -> int:
    """Run the expression DAG: each step is (op, src1, src2), a source is ('v', i) or a literal."""
    return evaluate_cases(steps, [inputs])[0]


def evaluate_cases(steps: list, cases: list) -> list:
    """``evaluate`` on every case at once: one pass over the steps, each mapped over the cases
    (the oracle's hot path: the per-step work is paid once per record, not once per case)."""
    n = len(cases)
    values = [list(column) for column in zip(*cases)]  # per input: its value in every case
    for op, s1, s2 in steps:
        a = values[s1[1]] if s1.__class__ is tuple else [s1] * n
        b = values[s2[1]] if s2.__class__ is tuple else [s2] * n
        values.append(list(map(APPLY[op], a, b)))
    return values[-1]


# ``apply`` as a table, with ``wrap`` written out (the oracle's hot path); a test holds the two equal
_HALF, _MASK = 1 << 63, (1 << 64) - 1
APPLY = {"add": lambda a, b: ((a + b + _HALF) & _MASK) - _HALF,
         "sub": lambda a, b: ((a - b + _HALF) & _MASK) - _HALF,
         "mul": lambda a, b: ((a * b + _HALF) & _MASK) - _HALF,
         "div": lambda a, b: ((a // b + _HALF) & _MASK) - _HALF,
         "mod": lambda a, b: a % b, "min": min, "max": max}


def draw_steps(rng: random.Random, level: int, n_ops: int, numbers: tuple):
    """(number of inputs, steps): a DAG that uses every input and ends in a single value."""
    # ``randint``, ``choice`` and ``_literal`` written out: the generator's hot path
    r = rng.random
    n_inputs = 1 + int(r() * min(3, n_ops + 1))
    binary = set(sample(rng, range(n_ops), n_inputs - 1))  # ops that join two pending values
    pending = list(range(n_inputs))
    steps = []
    joining, ops = JOINING_OPS[level], LEVEL_OPS[level]
    lo, span = numbers[0], numbers[1] - numbers[0] + 1
    for k in range(n_ops):
        a = ("v", pending.pop(int(r() * len(pending))))
        if k in binary:
            op = joining[int(r() * len(joining))]
            b = ("v", pending.pop(int(r() * len(pending))))
        else:
            op = ops[int(r() * len(ops))]
            b = lo + int(r() * span)
            if op in ("div", "mod"):
                if b == 0:
                    b = numbers[1] if numbers[1] != 0 else (numbers[0] if numbers[0] != 0 else 1)
                steps.append((op, a, b))
                pending.append(n_inputs + k)
                continue
        if op not in ("div", "mod") and r() < 0.3:
            a, b = b, a  # literal first, e.g. (17 - x)
        steps.append((op, a, b))
        pending.append(n_inputs + k)
    return n_inputs, steps


def render(rng: random.Random, n_inputs: int, steps: list, in_place: bool):
    """(reading lines, computing lines as one text, registers of the values) with registers
    drawn at random."""
    # only as many registers as can be used (a full shuffle of 15 would cost more than a record)
    free = sample(rng, REGISTERS, min(len(REGISTERS), n_inputs + (0 if in_place else len(steps))))
    reg = free[:-n_inputs - 1:-1]  # what n_inputs pops take
    del free[-n_inputs:]
    dead = []  # registers whose value was consumed (every value is used exactly once)
    body = []
    for op, s1, s2 in steps:
        if s1.__class__ is tuple:
            t1 = reg[s1[1]]
            if s2.__class__ is tuple:
                t2 = reg[s2[1]]
                dst = t1 if in_place else free.pop() if free else dead.pop(0)
                if t1 != dst:
                    dead.append(t1)
                if t2 != dst:
                    dead.append(t2)
            else:
                t2 = str(s2)
                dst = t1 if in_place else free.pop() if free else dead.pop(0)
                if t1 != dst:
                    dead.append(t1)
        else:  # a literal first, a register second
            t1, t2 = str(s1), reg[s2[1]]
            dst = t2 if in_place else free.pop() if free else dead.pop(0)
            if t2 != dst:
                dead.append(t2)
        # fresh: a new register while any is left; long (ood_length) chains then recycle dead ones
        body.append(f"{op} {dst} {t1} {t2}")
        reg.append(dst)
    return [f"in {r}" for r in reg[:n_inputs]], "\n".join(body), reg


def describe(rng: random.Random, n_inputs: int, steps: list) -> str:
    exprs = list(NAMES[:n_inputs])
    for op, s1, s2 in steps:
        a = exprs[s1[1]] if s1.__class__ is tuple else str(s1)
        b = exprs[s2[1]] if s2.__class__ is tuple else str(s2)
        exprs.append(f"{op}({a}, {b})" if op in ("min", "max") else f"({a} {INFIX[op]} {b})")
    expr = exprs[-1][1:-1] if exprs[-1][0] == "(" else exprs[-1]
    return DESCRIPTIONS[int(rng.random() * len(DESCRIPTIONS))].format(inputs=INPUT_NAMES[n_inputs], expr=expr)


INPUT_NAMES = {1: "x", 2: "x and y", 3: "x, y and z"}


COPY_INPUTS = {1: (2, 2), 2: (3, 3)}  # level -> number of inputs (the values the look-up chooses from)
COPY_DESCRIPTIONS = ["read {inputs} and output {name}", "given {inputs}, print {name}",
                     "output {name} where {inputs} are read in that order"]


class Copy(LevelledFamily):
    """``copy``: input x, y[, z]; output the one the description names, moved to another register.

    The register look-up alone, without arithmetic: ``mov d 69; mov k 25; mov f k; assert f 25``.
    A model must bind the moved register to the line that loaded it, the step the arith rows
    ``sub f d k`` also need (operand order) and learn slowest (see cadmus/recipes/quickstart.yaml); a
    curriculum can teach it first on these rows. Registers and input order are drawn at random
    so no fixed position answers. Variants: ``fresh`` moves to a new register, ``overwrite`` to
    the register of another input. difficulty: level 1 = 2 inputs, level 2 = 3; size = inputs.
    """

    LEVELS, SIZES, VARIANTS = COPY_INPUTS, COPY_INPUTS, ("fresh", "overwrite")

    def __init__(self):
        super().__init__("copy", "arith", "input x, y[, z]; output the input the description names",
                         [], [], None, lambda c, k: [c[k["chosen"]]], None, edges=E.distinct3)

    def _task(self, rng: random.Random, params: Params, numbers: tuple, levels: list, raw: list,
              variant: Optional[str], arranger: RecordCases) -> Task:
        r = rng.random
        level = levels[int(r() * len(levels))]
        n_inputs = COPY_INPUTS[level][0]
        cases = arranger.arrange(raw, n_inputs)
        # an input equal in every case would be a constant answer: choose another (distinct
        # cases leave at least one input that varies)
        for _ in range(REDRAWS):
            chosen = int(r() * n_inputs)
            if not is_constant([c[chosen] for c in cases]):
                break
        overwrite = r() < 0.5 if variant is None else variant == "overwrite"
        reg = sample(rng, REGISTERS, n_inputs + 1)
        src = reg[chosen]
        dst = reg[(chosen + 1 + int(r() * (n_inputs - 1))) % n_inputs] if overwrite else reg[n_inputs]
        outputs = [[c[chosen]] for c in cases]
        reads = [f"in {x}" for x in reg[:n_inputs]]
        program = "\n".join([*reads, f"mov {dst} {src}", f"out {dst}"])
        true_program = "\n".join([*map("mov %s %s".__mod__, zip(reg, cases[0])), f"mov {dst} {src}",
                                   f"assert {dst} {outputs[0][0]}"])
        description = COPY_DESCRIPTIONS[int(r() * len(COPY_DESCRIPTIONS))].format(
            inputs=INPUT_NAMES[n_inputs], name=NAMES[chosen])
        return Task("copy", "overwrite" if overwrite else "fresh", level, n_inputs, description,
                    program, true_program, cases, outputs)


class Arith(LevelledFamily):
    """Generated from an expression DAG instead of a template (see the module docstring)."""

    LEVELS, SIZES, VARIANTS = LEVEL_OPS, LEVEL_COUNT, ("fresh", "in_place")

    def __init__(self):
        super().__init__("arith", "arith", "input x[, y[, z]]; output the value of the expression in the description",
                         [], [], None, lambda c, k: [evaluate(k["steps"], c)], None, has_length=True,
                         edges=E.inputs3)

    def _task(self, rng: random.Random, params: Params, numbers: tuple, levels: list, raw: list,
              variant: Optional[str], arranger: RecordCases) -> Task:
        r = rng.random
        level = levels[int(r() * len(levels))]
        lo, hi = params.ops or LEVEL_COUNT[level]
        n_ops = lo + int(r() * (hi - lo + 1))
        arranged = {}  # number of inputs -> the record's cases
        # an expression that is constant on every case (e.g. max(max((y div 78) mod 33, 33), 75))
        # is drawn again, with the same level and number of operations
        for _ in range(REDRAWS):
            n_inputs, steps = draw_steps(rng, level, n_ops, numbers)
            cases = arranged.get(n_inputs) or arranged.setdefault(n_inputs, arranger.arrange(raw, n_inputs))
            values = evaluate_cases(steps, cases)
            if not is_constant(values):
                break
        in_place = r() < 0.5 if variant is None else variant == "in_place"
        reads, body_text, reg = render(rng, n_inputs, steps, in_place)
        outputs = [[v] for v in values]
        out = reg[-1]
        program = "\n".join([*reads, body_text, f"out {out}"])
        # ``contained`` written out: the inputs loaded into their registers, the output asserted
        lines = [*map("mov %s %s".__mod__, zip(reg, cases[0])), body_text, f"assert {out} {outputs[0][0]}"]
        if not body_text:  # no operations (an ``ops`` range from 0)
            lines.remove("")
        true_program = "\n".join(lines)
        return Task("arith", "in_place" if in_place else "fresh", level, n_ops, describe(rng, n_inputs, steps),
                    program, true_program, cases, outputs)


def families() -> list:
    return [Arith(), Copy()]
