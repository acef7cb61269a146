"""Shared machinery of the task families: parameters, templates and the ``Task`` they produce.

A family turns a random generator and :class:`Params` into a :class:`Task`: the bare program
(canonical text reading its inputs with ``in`` and writing its outputs with ``out``), the input
cases and, computed by the family's independent Python oracle, the expected outputs. The task
also knows how to render its *self-contained* form for one case (inputs loaded with
``mov``/``store``, outputs checked by trailing ``assert`` lines), which the completion view uses.

Programs are written as :class:`Template` parts with placeholders: ``{x}`` (lower case) is a
register role, drawn at random per record so no model can lean on one register layout;
``{Lname}`` is a label, numbered ``L0``, ``L1``... in order of first appearance (the canonical
form); ``{K}`` (upper case) is a constant of the task.
"""
from __future__ import annotations

import random
import string
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Callable, Optional, Sequence

INT64_MIN = -(1 << 63)
REGISTERS = "abcdefghijklmno"  # `p` is reserved for the checks of the self-contained form
CHECK_REGISTER = "p"


def randint(rng: random.Random, lo: int, hi: int) -> int:
    """Uniform integer in [lo, hi]; 5x faster than ``rng.randint`` (the generator's hot path).

    Exact for ranges far below 2**53, which is all the families use.
    """
    return lo + int(rng.random() * (hi - lo + 1))


def choice(rng: random.Random, seq):
    return seq[int(rng.random() * len(seq))]


def sample(rng: random.Random, seq, k: int) -> list:
    """``k`` distinct items of ``seq`` in random order: a partial Fisher-Yates shuffle on
    ``rng.random()``, 3-4x faster than ``rng.sample`` (which draws ``getrandbits`` in Python)."""
    pool = list(seq)
    r, n = rng.random, len(pool)
    for i in range(k):
        j = i + int(r() * (n - i))
        pool[i], pool[j] = pool[j], pool[i]
    return pool[:k]


def wrap(v: int) -> int:
    """``v`` as the VM holds it: int64 two's complement."""
    return ((v - INT64_MIN) & 0xFFFFFFFFFFFFFFFF) + INT64_MIN


@dataclass(frozen=True)
class Params:
    """The controlled part of a record's distribution (one per split, from the recipe)."""

    levels: tuple = (1, 2, 3)  # difficulty levels (arith: operator set; random: grammar level)
    numbers: tuple = (0, 99)  # range of input and operand values (each family clips to its domain)
    lengths: tuple = (1, 8)  # array lengths
    ops: Optional[tuple] = None  # number of operations (arith, random); None: the level's default


@dataclass
class Task:
    """One generated program with its cases; rendered into a record by ``cadmus.data``."""

    family: str
    variant: str
    level: int
    size: int
    description: str
    program: str  # canonical, bare (in/out)
    cases: list  # input lists: the visible tests first, then the challenge tests
    outputs: list  # oracle outputs, one list per case
    head: str  # lines before the input-reading part (e.g. functions jumped over), may be ""
    body: str  # the computing part as it appears in the self-contained form
    reads: tuple  # ("reg", r) | ("array", length_reg, base), consumed in input order
    writes: tuple  # ("regs", [r...]) | ("mem", fn(inputs, outputs) -> addresses)

    def contained(self, case: int = 0) -> str:
        """The self-contained true program for one case (inputs loaded, outputs asserted)."""
        parts = [self.head] if self.head else []
        parts.append(prologue(self.reads, self.cases[case]))
        if self.body:
            parts.append(self.body)
        parts.append(checks(self.writes, self.cases[case], self.outputs[case]))
        return "\n".join(parts)


def prologue(reads: Sequence, inputs: Sequence[int]) -> str:
    """``mov``/``store`` lines that put ``inputs`` where the bare program's reading part would."""
    lines, pos = [], 0
    for spec in reads:
        if spec[0] == "reg":
            lines.append(f"mov {spec[1]} {inputs[pos]}")
            pos += 1
        else:
            _, length_reg, base = spec
            n = inputs[pos]
            lines.append(f"mov {length_reg} {n}")
            lines.extend(map("store %d %d".__mod__, zip(range(base, base + n), inputs[pos + 1:pos + 1 + n])))
            pos += 1 + n
    return "\n".join(lines)


def checks(writes: Sequence, inputs: Sequence[int], outputs: Sequence[int]) -> str:
    """Trailing ``assert`` lines: one per output value, in output order."""
    if writes[0] == "regs":
        return "\n".join(map("assert %s %d".__mod__, zip(writes[1], outputs)))
    addresses = writes[1](inputs, outputs)
    return "\n".join(map(_LOAD_ASSERT.__mod__, zip(addresses, outputs)))


_LOAD_ASSERT = f"load {CHECK_REGISTER} %d\nassert {CHECK_REGISTER} %d"


class Template:
    """A program variant: parts ``head``, ``read``, ``body``, ``write`` with placeholders."""

    def __init__(self, variant: str, read: str, body: str, write: str, head: str = ""):
        self.variant = variant
        self.parts = {"head": head.strip("\n"), "read": read.strip("\n"),
                      "body": body.strip("\n"), "write": write.strip("\n")}

    def _fields(self, names) -> list:
        seen = []
        for name in names:
            for _, f, _, _ in string.Formatter().parse(self.parts[name]):
                if f is not None and f not in seen:
                    seen.append(f)
        return seen

    @cached_property
    def roles(self) -> list:
        return [f for f in self._fields(self.parts) if f[0].islower()]

    def _labels(self, names) -> dict:
        labels = [f for f in self._fields(names) if f[0] == "L" and f[1:2].islower()]
        return {f: f"L{i}" for i, f in enumerate(labels)}

    @cached_property
    def bare_labels(self) -> dict:
        return self._labels(("head", "read", "body", "write"))

    @cached_property
    def contained_labels(self) -> dict:
        return self._labels(("head", "body"))

    @cached_property
    def compiled(self) -> tuple:
        """(bare, head, body) format strings with the labels already filled in (they never vary),
        and the bare program's instruction count (neither registers nor constants change it)."""
        bare = "\n".join(self.parts[p] for p in ("head", "read", "body", "write") if self.parts[p])
        bare = bare.format_map(_KeepFields(self.bare_labels))
        keep = _KeepFields(self.contained_labels)
        size = bare.count("\n") + 1 - bare.count(":")  # labels are the only lines with ':'
        return bare, self.parts["head"].format_map(keep), self.parts["body"].format_map(keep), size

    def render(self, regs: dict, consts: dict) -> tuple:
        """(bare program, head, body) with registers and constants filled in."""
        names = {**regs, **consts} if consts else regs
        bare, head, body, _ = self.compiled
        return bare.format_map(names), head.format_map(names) if head else "", body.format_map(names)


class _KeepFields(dict):
    """Fills in some fields of a format string and leaves the others as they were."""

    def __missing__(self, key):
        return "{" + key + "}"


@dataclass
class Family:
    """A task family: variants, descriptions, an input sampler and an independent oracle.

    ``sample_inputs(rng, params, consts)`` returns one input list (None when ``params`` leave
    no valid input); ``oracle(inputs, consts)`` the expected outputs; ``layout(variant, regs)``
    returns the (reads, writes) specs of the self-contained form; ``level_size(cases, consts,
    program)`` gives the difficulty dict's values for one task.
    """

    name: str
    group: str
    doc: str  # input/output convention (shown in the dataset card)
    templates: list
    descriptions: list  # paraphrases; may use {K}-style constants
    sample_inputs: Callable
    oracle: Callable
    layout: Callable
    level_size: Callable = None
    consts: Callable = None  # rng, params -> dict of task constants (parametric families)
    has_length: bool = False  # has a length knob (array length), so it can take part in ood_length

    def feasible(self, params: Params) -> bool:
        """Whether ``params`` leave inputs to draw (e.g. factorial has none above 20)."""
        rng = random.Random(0)
        consts = self.consts(rng, params) if self.consts else {}
        return consts is not None and self.sample_inputs(rng, params, consts) is not None

    def size_range(self, params: Params) -> Optional[tuple]:
        """The range of the family's length knob under ``params`` (None: it has none); ``ood_length``
        takes a family only when this range lies wholly outside the training one."""
        return clip(params.lengths, 1, 500) if self.has_length else None

    def generate(self, rng: random.Random, params: Params, n_cases: int) -> Task:
        r = rng.random
        template = self.templates[int(r() * len(self.templates))]
        consts = self.consts(rng, params) if self.consts else {}
        roles = template.roles
        regs = dict(zip(roles, sample(rng, REGISTERS, len(roles))))
        cases = distinct_inputs(rng, self.sample_inputs, params, consts, n_cases)
        oracle = self.oracle
        outputs = [oracle(c, consts) for c in cases]
        bare, head, body = template.render(regs, consts)
        reads, writes = self.layout(template.variant, regs)
        if self.level_size is None:  # default_level_size, with the template's size known
            level, size = len(str(max([abs(v) for c in cases for v in c], default=0))), template.compiled[3]
        else:
            level, size = self.level_size(cases, consts, bare)
        description = self.descriptions[int(r() * len(self.descriptions))]
        if consts:
            description = description.format_map(consts)
        return Task(self.name, template.variant, level, size, description, bare, cases, outputs,
                    head, body, reads, writes)


def distinct_inputs(rng: random.Random, sample_inputs: Callable, params: Params, consts: dict, n: int,
                    tries: int = 8) -> list:
    """``n`` input lists from ``sample_inputs(rng, params, consts)``, distinct where the domain
    allows (a few redraws, then repeats)."""
    cases, seen = [], set()
    for _ in range(n):
        for _ in range(tries):
            c = sample_inputs(rng, params, consts)
            key = tuple(c)
            if key not in seen:
                break
        seen.add(key)
        cases.append(c)
    return cases


def level_size_range(params: Params, table: dict) -> tuple:
    """(min, max) size over the recipe's levels that ``table`` (level -> (lo, hi)) knows, level 1
    if none; ``params.ops`` overrides. Shared by the level-driven families (arith, random)."""
    if params.ops:
        return tuple(params.ops)
    levels = [lv for lv in params.levels if lv in table] or [1]
    return min(table[lv][0] for lv in levels), max(table[lv][1] for lv in levels)


def digits(v: int) -> int:
    return len(str(abs(v)))


def default_level_size(cases, consts, program) -> tuple:
    """Scalar families: level = digits of the largest input, size = instructions in the program."""
    level = digits(max((abs(v) for c in cases for v in c), default=0))
    return level, program.count("\n") + 1 - program.count(":")  # labels are the only lines with ':'


@lru_cache(maxsize=4096)
def clip(params_range: tuple, lo: int, hi: int) -> Optional[tuple]:
    """The recipe's range intersected with a family's domain, or None when empty (cached: hot path)."""
    a, b = max(params_range[0], lo), min(params_range[1], hi)
    return (a, b) if a <= b else None
