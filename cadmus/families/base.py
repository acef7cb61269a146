"""Shared machinery of the task families: parameters, templates and the ``Task`` they produce.

A family turns :class:`Draws` (a numpy generator) and :class:`Params` into a batch of
:class:`Task`: the bare program (canonical text reading its inputs with ``in`` and writing its
outputs with ``out``), its *self-contained* form for the first case (inputs loaded with
``mov``/``store``, outputs checked by trailing ``assert`` lines; the completion view), the input
cases and, computed by the family's independent Python oracle, the expected outputs.

Batches, not single records: the random choices of a whole batch (templates, registers,
inputs, constants) are drawn by numpy at once, so that per record only the oracle and the text
remain in Python (the builder generates a million records).

Tests that discriminate: of a task's cases the first ``n_visible`` are its visible tests (shown
in prompts), the others hidden. The hidden ones start with the family's edge cases
(``Family.edge_cases``: 0, 1, the range's bounds, both answers of a yes/no family, ...; see
``edges``) and never repeat a visible input, and a task whose outputs are equal on every case
(a constant program would pass it) is drawn again.

Programs are written as :class:`Template` parts with placeholders: ``{x}`` (lower case) is a
register role, drawn at random per record so no model can lean on one register layout;
``{Lname}`` is a label, numbered ``L0``, ``L1``... in order of first appearance (the canonical
form); ``{K}`` (upper case) is a constant of the task.
"""
from __future__ import annotations

import itertools
import random
import string
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Callable, NamedTuple, Optional, Sequence

import numpy as np

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


class Draws:
    """The random source of a batch of records: numpy's PCG64, drawn in vectors.

    Every family takes its batch's choices from here in a fixed order, so a batch is a pure
    function of the generator's seed (the builder seeds one per chunk of records).
    """

    def __init__(self, seed: int):
        self.gen = np.random.Generator(np.random.PCG64(seed))

    def ints(self, lo: int, hi: int, shape) -> np.ndarray:
        """Uniform integers in [lo, hi] (int64)."""
        return self.gen.integers(lo, hi, shape, dtype=np.int64, endpoint=True)

    def index(self, n: int, count: int) -> list:
        """``count`` uniform indices into a sequence of length ``n`` (a Python list)."""
        return self.gen.integers(0, n, count).tolist()

    def uniform(self, shape) -> np.ndarray:
        return self.gen.random(shape)

    def registers(self, k: int, count: int) -> list:
        """``count`` lists of ``k`` distinct registers in random order (a random permutation's prefix)."""
        if k == 0:
            return [[] for _ in range(count)]
        perm = np.argsort(self.gen.random((count, len(REGISTERS))), axis=1)[:, :k]
        return _REGISTER_ARRAY[perm].tolist()

    def python_rng(self) -> random.Random:
        """A ``random.Random`` for a generator that draws record by record (arith, random)."""
        return random.Random(int(self.gen.integers(0, 1 << 62)))


_REGISTER_ARRAY = np.array(list(REGISTERS))
_INPUT_FIELDS = [f"_i{j}" for j in range(8)]  # the first case's values in a contained format string
_OUTPUT_FIELDS = [f"_o{j}" for j in range(8)]


class Task(NamedTuple):
    """One generated program with its cases; rendered into a record by ``cadmus.data``."""

    family: str
    variant: str
    level: int
    size: int
    description: str
    program: str  # canonical, bare (in/out)
    true_program: str  # canonical, self-contained for cases[0] (inputs loaded, outputs asserted)
    cases: list  # input lists: the visible tests first, then the challenge tests
    outputs: list  # oracle outputs, one list per case


def contained(head: str, reads: Sequence, body: str, writes: Sequence, inputs: Sequence[int],
              outputs: Sequence[int]) -> str:
    """The self-contained true program for one case: ``head``, the inputs loaded (``prologue``),
    ``body``, then the outputs asserted (``checks``)."""
    parts = [head] if head else []
    parts.append(prologue(reads, inputs))
    if body:
        parts.append(body)
    parts.append(checks(writes, inputs, outputs))
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
        return "\n".join(map("assert %s %s".__mod__, zip(writes[1], outputs)))
    addresses = writes[1](inputs, outputs)
    return "\n".join(map(_LOAD_ASSERT.__mod__, zip(addresses, outputs)))


_LOAD_ASSERT = f"load {CHECK_REGISTER} %s\nassert {CHECK_REGISTER} %s"


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

    def render(self, names: dict) -> tuple:
        """(bare program, head, body) with registers and constants (``names``) filled in."""
        bare, head, body, _ = self.compiled
        return bare.format_map(names), head.format_map(names) if head else "", body.format_map(names)


class _KeepFields(dict):
    """Fills in some fields of a format string and leaves the others as they were."""

    def __missing__(self, key):
        return "{" + key + "}"


@dataclass
class Family:
    """A task family: variants, descriptions, an input sampler and an independent oracle.

    ``sample_cases(draws, params, count)`` returns ``count`` input lists (None when ``params``
    leave no valid input); ``oracle(inputs, consts)`` the expected outputs; ``layout(variant,
    regs)`` returns the (reads, writes) specs of the self-contained form; ``level_size(cases,
    consts, program)`` gives the difficulty dict's values for one task (from its visible cases);
    ``consts(draws, params, count)`` the task constants of ``count`` records (a list of dicts;
    parametric families); ``edges(params)`` the edge cases, and ``const_edges(params, consts)``
    those of one record's constants (e.g. values equal to ``count_greater``'s K).
    """

    name: str
    group: str
    doc: str  # input/output convention (shown in the dataset card)
    templates: list
    descriptions: list  # paraphrases; may use {K}-style constants
    sample_cases: Callable
    oracle: Callable
    layout: Callable
    level_size: Callable = None
    consts: Callable = None  # draws, params, count -> list of dicts of task constants, or None
    has_length: bool = False  # has a length knob (array length), so it can take part in ood_length
    edges: Callable = None  # params -> the family's edge cases (input lists valid under params)
    const_edges: Callable = None  # (params, consts) -> edge cases of one record's constants (parametric)
    _contained_formats: dict = field(default_factory=dict, repr=False, compare=False)  # variant -> str or None
    _feasible: dict = field(default_factory=dict, repr=False, compare=False)  # Params -> bool
    _edges: dict = field(default_factory=dict, repr=False, compare=False)  # Params -> list of tuples

    def feasible(self, params: Params) -> bool:
        """Whether ``params`` leave inputs to draw (e.g. factorial has none above 20)."""
        if params not in self._feasible:  # asked per split by every build and worker
            draws = Draws(0)
            consts = self.consts(draws, params, 1) if self.consts else [{}]
            self._feasible[params] = consts is not None and self.sample_cases(draws, params, 1) is not None
        return self._feasible[params]

    def size_range(self, params: Params) -> Optional[tuple]:
        """The range of the family's length knob under ``params`` (None: it has none); ``ood_length``
        takes a family only when this range lies wholly outside the training one."""
        return clip(params.lengths, 1, 500) if self.has_length else None

    def edge_cases(self, params: Params) -> list:
        """The family's edge cases under ``params`` (input lists, each valid for the split: 0, 1,
        the bounds of the number range clipped to the domain, ...), without repeats. The hidden
        tests of a record start with a random subset of them (see ``arrange_cases``)."""
        if params not in self._edges:  # asked once per batch
            found = self.edges(params) if self.edges is not None else []
            self._edges[params] = list(dict.fromkeys(map(tuple, found)))
        return [list(e) for e in self._edges[params]]

    def variants(self) -> list:
        return [t.variant for t in self.templates]

    def generate(self, draws: Draws, params: Params, n_cases: int, count: int, *, variant: Optional[str] = None,
                 n_visible: Optional[int] = None) -> list:
        """``count`` tasks with ``n_cases`` cases each; their choices are drawn for the whole batch
        first (see the module docstring). ``variant``: every task uses that template;
        ``n_visible``: the first ``n_visible`` cases are the visible tests, the others hidden
        (they start with edge cases and never repeat a visible input; None: all visible, no
        edge cases). A task whose outputs are equal on every case is redrawn (see ``REDRAWS``)."""
        chosen = self._template_ids(variant)
        n_visible = visible_count(n_cases, n_visible)
        tasks = self._batch(draws, params, n_cases, count, chosen, n_visible)
        bad = constant_tasks(tasks)
        for _ in range(REDRAWS):
            if not bad:
                break
            redrawn = self._batch(draws, params, n_cases, len(bad), chosen, n_visible)
            for i, task in zip(bad, redrawn):
                tasks[i] = task
            bad = [i for i, task in zip(bad, redrawn) if is_constant(task.outputs)]
        return tasks

    def _template_ids(self, variant: Optional[str]) -> list:
        if variant is None:
            return list(range(len(self.templates)))
        ids = [i for i, t in enumerate(self.templates) if t.variant == variant]
        if not ids:
            raise ValueError(f"family {self.name!r} has no variant {variant!r}; known: {', '.join(self.variants())}")
        return ids

    def _batch(self, draws: Draws, params: Params, n_cases: int, count: int, chosen: list, n_visible: int) -> list:
        templates, descriptions = self.templates, self.descriptions
        template_of = draws.index(len(templates), count) if len(chosen) == len(templates) else [chosen[0]] * count
        description_of = draws.index(len(descriptions), count)
        consts = self.consts(draws, params, count) if self.consts else [None] * count
        registers = draws.registers(max(len(t.roles) for t in templates), count)
        edges = self.edge_cases(params) if n_visible < n_cases else []
        extra = None
        if self.const_edges is not None and n_visible < n_cases:
            extra = [self.const_edges(params, k) for k in consts]
        cases = arrange_cases(draws, self.sample_cases, params, count, n_cases, n_visible, edges, extra)
        oracle, layout, level_size, name = self.oracle, self.layout, self.level_size, self.name
        contained_formats = [self._contained_format(t) for t in templates]
        slots = [fmt is not None and "{_prologue}" in fmt for fmt in contained_formats]
        tasks = []
        for t, d, k, regs, cs in zip(template_of, description_of, consts, registers, cases):
            template = templates[t]
            names = dict(zip(template.roles, regs))
            if k:
                names.update(k)
            outputs = [oracle(c, k) for c in cs]
            bare = template.compiled[0].format_map(names)
            fmt = contained_formats[t]
            if fmt is None:  # the general path, which the formats must equal
                _, head, body = template.render(names)
                reads, writes = layout(template.variant, names)
                true_program = contained(head, reads, body, writes, cs[0], outputs[0])
            else:  # one format call with the first case's values (or its prologue and checks)
                if slots[t]:
                    reads, writes = layout(template.variant, names)
                    names["_prologue"] = prologue(reads, cs[0])
                    names["_checks"] = checks(writes, cs[0], outputs[0])
                else:
                    names.update(zip(_INPUT_FIELDS, cs[0]))
                    names.update(zip(_OUTPUT_FIELDS, outputs[0]))
                true_program = fmt.format_map(names)
            # difficulty from the visible cases: the hidden edge cases would set every record's
            # level and size to the range's bounds
            shown = cs if n_visible >= n_cases else cs[:n_visible]
            if level_size is None:  # level: digits of the largest |input|; size: the template's instructions
                level, size = digits(max(map(abs, itertools.chain.from_iterable(shown)))), template.compiled[3]
            else:
                level, size = level_size(shown, k, bare)
            description = descriptions[d].format_map(k) if k else descriptions[d]
            tasks.append(Task(name, template.variant, level, size, description, bare, true_program, cs, outputs))
        return tasks

    def _contained_format(self, template: Template) -> Optional[str]:
        """The self-contained form of ``template`` as one format string (fields: its roles and
        constants, and when the family's layout reads and writes registers only, ``{_i0}``... for
        the first case's inputs and ``{_o0}``... for its outputs; otherwise ``{_prologue}`` and
        ``{_checks}``, whose lines depend on an array's length). Built by ``contained`` itself
        (from the layout of placeholder registers) or as it joins its parts, so that both paths
        render the same text (a test holds them equal)."""
        if template.variant not in self._contained_formats:
            placeholders = {role: "{" + role + "}" for role in template.roles}
            reads, writes = self.layout(template.variant, placeholders)
            _, head, body, _ = template.compiled
            if all(spec[0] == "reg" for spec in reads) and writes[0] == "regs":
                inputs = [f"{{_i{j}}}" for j in range(len(reads))]
                outputs = [f"{{_o{j}}}" for j in range(len(writes[1]))]
                fmt = contained(head, reads, body, writes, inputs, outputs)
            else:
                fmt = "\n".join([*([head] if head else []), "{_prologue}", *([body] if body else []), "{_checks}"])
            self._contained_formats[template.variant] = fmt
        return self._contained_formats[template.variant]


REDRAWS = 20  # a task whose outputs are all equal is redrawn at most this often (a one-value range allows no other)
CANDIDATES = 4  # fresh cases drawn per repeated case and try (small domains: factorial, fib_recursive)


def visible_count(n_cases: int, n_visible: Optional[int]) -> int:
    """``n_visible`` checked (None: every case is visible, no hidden ones)."""
    if n_visible is None:
        return n_cases
    if not 1 <= n_visible <= n_cases:
        raise ValueError(f"n_visible must be in 1..n_cases ({n_cases}), got {n_visible}")
    return n_visible


def is_constant(outputs: list) -> bool:
    """Whether every case has the same outputs: a program printing constants would pass the task."""
    return len(outputs) > 1 and outputs.count(outputs[0]) == len(outputs)


def constant_tasks(tasks: list) -> list:
    return [i for i, task in enumerate(tasks) if is_constant(task.outputs)]


def edge_slots(n_hidden: int) -> int:
    """How many of the hidden cases may be edge cases: all but two, which stay random (half of a few)."""
    return max(n_hidden - 2, (n_hidden + 1) // 2)


def arrange_cases(draws: Draws, sample_cases: Callable, params: Params, count: int, n: int, n_visible: int,
                  edges: list, extra: Optional[list] = None, tries: int = 8) -> list:
    """``count`` records' ``n`` input lists from ``sample_cases(draws, params, k)``: ``n_visible``
    visible cases, then the hidden ones: the edge cases (``edges`` and the record's own
    ``extra[r]``; a random ``edge_slots`` of them when there are more) that no visible case
    equals, then random cases.

    Cases are distinct within a record where the domain allows: a repeated case is redrawn (all
    repeats of the batch together, ``CANDIDATES`` fresh cases each) up to ``tries`` times, the
    visible ones before the edge cases are placed, then the hidden ones; a repeat is then kept,
    except that a hidden case still equal to a visible one becomes a copy of a hidden one that
    is not (a tiny domain repeats hidden cases, never a visible one among the hidden)."""
    flat = sample_cases(draws, params, count * n)
    cases = [flat[i:i + n] for i in range(0, count * n, n)]
    if n_visible >= n:
        _redraw_repeats(draws, sample_cases, params, cases, 0, n, tries)
        return cases
    slots = edge_slots(n - n_visible)
    picks = _edge_picks(draws, count, slots, edges, extra)
    # one pass for the common case: distinct visible cases, then the edge cases, then the hidden
    # random cases that repeat none of them (taken in order)
    slow = []
    for r, (cs, mine) in enumerate(zip(cases, picks)):
        keys = list(map(tuple, cs))
        visible = set(keys[:n_visible])
        picked = [e for e in mine if e not in visible][:slots]
        taken = visible.union(picked)
        rest = [j for j in range(n_visible, n) if keys[j] not in taken][:n - n_visible - len(picked)]
        if len(visible) == n_visible and len(rest) + len(picked) == n - n_visible \
                and len({keys[j] for j in rest}) == len(rest):
            cs[n_visible:] = list(map(list, picked)) + [cs[j] for j in rest]
        else:
            slow.append(r)
    if slow:
        _arrange_slowly(draws, sample_cases, params, [cases[r] for r in slow], n_visible, slots,
                        [picks[r] for r in slow], tries)
    return cases


def _edge_picks(draws: Draws, count: int, slots: int, edges: list, extra: Optional[list]) -> list:
    """Per record, its edge cases as tuples: all in their order when they fit in ``slots`` (every
    record the same list), else in a random order (the first ``slots`` that no visible case
    equals are used)."""
    base = list(map(tuple, edges))
    if extra is None:
        if len(base) <= slots:
            return [base] * count
        order = np.argsort(draws.uniform((count, len(base))), axis=1).tolist()
        return [[base[j] for j in perm] for perm in order]
    own = [list(dict.fromkeys([*base, *map(tuple, more)])) for more in extra]
    keys = draws.uniform((count, len(base) + max(map(len, extra), default=0))).tolist()
    return [mine if len(mine) <= slots else sorted(mine, key=dict(zip(mine, key)).__getitem__)
            for mine, key in zip(own, keys)]


def _arrange_slowly(draws: Draws, sample_cases: Callable, params: Params, cases: list, n_visible: int,
                    slots: int, picks: list, tries: int) -> None:
    """``arrange_cases`` for records with a repeat (in place): redraw the visible repeats, place
    the edge cases, redraw the hidden repeats; a tiny domain's hidden cases then copy a hidden
    case rather than equal a visible one."""
    n = len(cases[0])
    _redraw_repeats(draws, sample_cases, params, cases, 0, n_visible, tries)
    for cs, mine in zip(cases, picks):
        visible = set(map(tuple, cs[:n_visible]))
        picked = [list(e) for e in mine if e not in visible][:slots]
        cs[n_visible:n_visible + len(picked)] = picked
    for r in _redraw_repeats(draws, sample_cases, params, cases, n_visible, n, tries):
        cs = cases[r]
        visible = set(map(tuple, cs[:n_visible]))
        spare = next((c for c in cs[n_visible:] if tuple(c) not in visible), None)
        if spare is not None:
            cs[n_visible:] = [spare if tuple(c) in visible else c for c in cs[n_visible:]]


def _redraw_repeats(draws: Draws, sample_cases: Callable, params: Params, cases: list, lo: int, hi: int,
                    tries: int) -> list:
    """Redraw the cases at positions ``lo..hi-1`` of each record equal to an earlier one (among
    its first ``hi``); returns the records that may still hold a repeat."""
    suspects = range(len(cases))
    for _ in range(tries):
        suspects = [r for r in suspects if len(set(map(tuple, cases[r][:hi]))) < hi]
        repeats = [(r, j) for r in suspects for j in _repeated(cases[r][:hi]) if j >= lo]
        if not repeats:
            return []
        fresh = sample_cases(draws, params, CANDIDATES * len(repeats))
        for k, (r, j) in enumerate(repeats):
            taken = set(map(tuple, cases[r][:hi]))
            new = next((c for c in fresh[CANDIDATES * k:CANDIDATES * (k + 1)] if tuple(c) not in taken), None)
            if new is not None:
                cases[r][j] = new
    return suspects


def _repeated(cases: list) -> list:
    """Positions of the cases equal to an earlier one."""
    seen, out = set(), []
    for j, c in enumerate(cases):
        key = tuple(c)
        if key in seen:
            out.append(j)
        seen.add(key)
    return out


def level_size_range(params: Params, table: dict) -> tuple:
    """(min, max) size over the recipe's levels that ``table`` (level -> (lo, hi)) knows, level 1
    if none; ``params.ops`` overrides. Shared by the level-driven families (arith, random)."""
    if params.ops:
        return tuple(params.ops)
    levels = [lv for lv in params.levels if lv in table] or [1]
    return min(table[lv][0] for lv in levels), max(table[lv][1] for lv in levels)


def digits(v: int) -> int:
    return len(str(abs(v)))


@lru_cache(maxsize=4096)
def clip(params_range: tuple, lo: int, hi: int) -> Optional[tuple]:
    """The recipe's range intersected with a family's domain, or None when empty (cached: hot path)."""
    a, b = max(params_range[0], lo), min(params_range[1], hi)
    return (a, b) if a <= b else None


class RecordCases:
    """The cases of one record of a family drawn record by record (arith, random, copy), whose
    number of inputs is known only once the record's program is: ``arrange(raw, width)`` takes
    the first ``width`` values of each raw case (3 values each, drawn for the whole batch) and
    arranges them like ``arrange_cases``: distinct (a repeat is redrawn from ``rng``), the hidden
    ones starting with a random subset of the edge cases of that width."""

    def __init__(self, rng: random.Random, numbers: tuple, n_visible: int, edges: list, tries: int = 16):
        self.rng, self.lo, self.span = rng, numbers[0], numbers[1] - numbers[0] + 1
        self.n_visible, self.tries = n_visible, tries
        # width -> the edge cases' prefixes of that width, without repeats
        self.edges = {w: list(dict.fromkeys(tuple(e[:w]) for e in edges)) for w in (1, 2, 3)}

    def arrange(self, raw: list, width: int) -> list:
        nv, n = self.n_visible, len(raw)
        rows = raw if width == len(raw[0]) else [c[:width] for c in raw]
        keys = list(map(tuple, rows))
        edges = self.edges[width] if n > nv else ()
        if not edges and len(set(keys)) == n:
            return rows  # distinct, nothing to place
        visible = set(keys[:nv])
        if len(visible) == nv and len(edges) <= edge_slots(n - nv):  # the common case, without a loop
            picked = [e for e in edges if e not in visible]
            taken = visible.union(picked)
            rest = [t for t in keys[nv:] if t not in taken][:n - nv - len(picked)]
            if len(rest) == n - nv - len(picked) and len(set(rest)) == len(rest):
                return list(map(list, keys[:nv] + picked + rest))
        seen, out = set(), []
        for t in keys[:nv]:
            if t in seen:
                t = self._fresh(seen, width)
            seen.add(t)
            out.append(t)
        if edges:
            slots = edge_slots(n - nv)
            for e in edges if len(edges) <= slots else sample(self.rng, edges, len(edges)):
                if e not in seen:
                    seen.add(e)
                    out.append(e)
                    if len(out) - nv == slots:
                        break
        visible = set(out[:nv])
        for t in keys[nv:]:
            if len(out) == n:
                break
            if t in seen:
                t = self._fresh(seen, width)
                if t in seen and len(out) > nv and t in visible:  # a tiny domain: repeat a hidden case,
                    t = out[nv]  # never a visible one
            seen.add(t)
            out.append(t)
        return list(map(list, out))

    def _fresh(self, seen: set, width: int) -> tuple:
        """A random case not in ``seen`` (the last one drawn when ``tries`` draws all are)."""
        r, lo, span = self.rng.random, self.lo, self.span
        for _ in range(self.tries):
            t = tuple(lo + int(r() * span) for _ in range(width))
            if t not in seen:
                break
        return t


class LevelledFamily(Family):
    """A family drawn record by record from a grammar with named levels (arith, random): the
    program's shape is decided per record, only the inputs are drawn for the whole batch.
    Subclasses set ``LEVELS`` (the level names they know), ``SIZES`` (level -> size range of
    their length knob) and ``VARIANTS`` (their variant names), and write ``_task(rng, params,
    numbers, levels, inputs, variant, cases)`` (``cases``: a :class:`RecordCases`), which
    redraws a task whose outputs are all equal. Their edge cases have 3 values; a record reads
    a prefix."""

    LEVELS: dict = {}
    SIZES: dict = {}
    VARIANTS: tuple = ()

    def feasible(self, params: Params) -> bool:
        return clip(params.numbers, -10**9, 10**9) is not None and any(lv in self.LEVELS for lv in params.levels)

    def size_range(self, params: Params) -> tuple:
        return level_size_range(params, self.SIZES)

    def variants(self) -> list:
        return list(self.VARIANTS)

    def generate(self, draws: Draws, params: Params, n_cases: int, count: int, *, variant: Optional[str] = None,
                 n_visible: Optional[int] = None) -> list:
        if variant is not None and variant not in self.VARIANTS:
            raise ValueError(f"family {self.name!r} has no variant {variant!r}; known: {', '.join(self.VARIANTS)}")
        numbers = clip(params.numbers, -10**9, 10**9)
        rng = draws.python_rng()
        levels = [lv for lv in params.levels if lv in self.LEVELS]
        n_visible = visible_count(n_cases, n_visible)
        cases = RecordCases(rng, numbers, n_visible, self.edge_cases(params) if n_visible < n_cases else [])
        inputs = draws.ints(*numbers, (count, n_cases, 3)).tolist()
        return [self._task(rng, params, numbers, levels, raw, variant, cases) for raw in inputs]
