"""The records of a chunk of tasks, as columns: ids, tasks, tests and the four views (nested
columns as Arrow arrays), and their held-out keys (:mod:`cadmus.data.verify` checks them).

``chunk_columns`` is the one renderer, of a worker's chunk and of a redraw alike: column by
column from the tasks, never record by record (a fraction of the cost). Its views are
``views.render_views``'s and its keys ``heldout.record_keys``'s, byte for byte (tests hold it so).
"""
from __future__ import annotations

import itertools
import re

import numpy as np

from ..canonical import canonical_program, canonical_programs
from .heldout import KEYS, digest as key_digest, question_text
from .views import VIEWS, trace_view

RECORD_COLUMNS = ("id", "family", "variant", "difficulty", "description", "program", "true_program",
                  "tests", "challenge_tests", "split", "novelty")
VIEW_COLUMNS = tuple(f"{v}_{part}" for v in VIEWS for part in ("prompt", "target"))
COLUMNS = RECORD_COLUMNS + VIEW_COLUMNS
_SCHEMA: dict = {}  # the Arrow schema of ``features()``, once per process (see ``use_schema``)


class BuildError(RuntimeError):
    """A record failed verification (the message shows it) or a split could not be filled."""


def features():
    from datasets import Features, List, Value

    case = List({"input": List(Value("int64")), "output": List(Value("int64"))})
    cols = {name: Value("string") for name in COLUMNS}
    cols.update(difficulty={"level": Value("int64"), "size": Value("int64")}, tests=case, challenge_tests=case)
    return Features({name: cols[name] for name in COLUMNS})


def use_schema(schema) -> None:
    """Take the Arrow schema from the parent: importing ``datasets`` would cost a worker ~1 s."""
    _SCHEMA["schema"] = schema


def arrow_schema():
    if _SCHEMA.get("schema") is None:
        _SCHEMA["schema"] = features().arrow_schema
    return _SCHEMA["schema"]


def to_columns(records: list) -> dict:
    return {c: [r[c] for r in records] for c in COLUMNS}


def rows(cols: dict) -> list:
    """The records of ``cols`` as dicts (``to_columns``'s inverse)."""
    lists = as_lists(cols)
    return [dict(zip(COLUMNS, row)) for row in zip(*(lists[c] for c in COLUMNS))]


def as_lists(cols: dict) -> dict:
    """``cols`` with its Arrow columns (difficulty, tests) as Python lists: ``to_columns``'s form."""
    return {c: v.to_pylist() if hasattr(v, "to_pylist") else list(v) for c, v in cols.items()}


def columns_to_arrow(cols: dict):
    """An Arrow table of the dataset's schema from columns: Python lists, or Arrow arrays
    already built (``chunk_columns`` builds the nested ones from flat arrays)."""
    import pyarrow as pa

    schema = arrow_schema()
    return pa.Table.from_arrays([cols[c] if isinstance(cols[c], pa.Array) else pa.array(cols[c], schema.field(c).type)
                                 for c in COLUMNS], schema=schema)


def chunk_columns(tasks: list, split: str, start: int, n_tests: int, trace: bool = False) -> tuple:
    """(columns, keys) of records ``start, start + 1, ...`` made of ``tasks``, built column by
    column (no record dicts); the keys are an ``(n, 6)`` uint64 array (see ``heldout``). The
    trace view (only with ``trace``, the recipe's ``trace_view``) is one traced run per record,
    its outputs checked here against the first test's (which ``verify_columns`` verifies)."""
    n = len(tasks)
    family, variant, level, size, description, program, true_program, cases, outputs = (
        zip(*tasks) if tasks else ((),) * 9)
    # the visible tests' values as text, once: the synthesis and execution views both show them
    shown = _as_texts([c for cs in cases for c in cs[:n_tests]])
    shown_out = _as_texts([o for os_ in outputs for o in os_[:n_tests]])
    first_in, first_out = shown[::n_tests], shown_out[::n_tests]
    # column by column (comprehensions: a loop appending to eight lists costs a third more)
    cuts = [full.rindex(" ") + 1 for full in true_program]
    c_prompt = [full[:cut] for full, cut in zip(true_program, cuts)]
    c_target = [full[cut:] for full, cut in zip(true_program, cuts)]
    # the description, then each visible test's input and outputs; empty without a description
    synthesis_format = "# %s\n" + "# %s -> %s\n" * n_tests
    pairs = list(itertools.chain.from_iterable(zip(shown, shown_out)))
    s_prompt = [synthesis_format % (d, *pairs[2 * k:2 * k + 2 * n_tests]) if d else ""
                for d, k in zip(description, range(0, n * n_tests, n_tests))]
    s_target = [prog if d else "" for d, prog in zip(description, program)]
    e_tail = [f"\n# input: {inputs}\n# output: " for inputs in first_in]  # after the program
    e_prompt = [prog + tail for prog, tail in zip(program, e_tail)]
    t_prompt, t_target = _trace_columns(split, start, program, cases, outputs) if trace else ([""] * n, [""] * n)
    keys = _keys(family, variant, program, true_program, s_prompt, e_tail, first_in, first_out, t_prompt, t_target)
    difficulty, tests, challenge = _nested_columns(level, size, cases, outputs, n_tests)
    cols = {"id": [f"{split}-{i:07d}" for i in range(start, start + n)], "family": family, "variant": variant,
            "difficulty": difficulty, "description": description, "program": program,
            "true_program": true_program, "tests": tests, "challenge_tests": challenge, "split": [split] * n,
            "novelty": [""] * n, "completion_prompt": c_prompt, "completion_target": c_target,
            "synthesis_prompt": s_prompt, "synthesis_target": s_target, "execution_prompt": e_prompt,
            "execution_target": first_out, "trace_prompt": t_prompt, "trace_target": t_target}
    return cols, keys


def records_at(tasks: list, split: str, index: int, n_tests: int, trace: bool = False) -> list:
    """(record dict, keys) of each of ``tasks``, every one record ``index`` of ``split``: the
    candidates of a redraw of that record (``heldout.Redrawer``), rendered in one ``chunk_columns``."""
    if not tasks:
        return []
    cols, keys = chunk_columns(tasks, split, index, n_tests, trace)
    cols["id"] = cols["id"][:1] * len(tasks)  # candidates for one index, not consecutive records
    return list(zip(rows(cols), keys.tolist()))


def _trace_columns(split: str, start: int, program, cases, outputs) -> tuple:
    """(prompts, targets) of the trace view (``views.trace_view``), each trace's outputs checked
    against the record's first test."""
    prompts, targets = [], []
    for i, (prog, cs, os_) in enumerate(zip(program, cases, outputs)):
        prompt, target = trace_view(prog, cs[0])
        if prompt and target[target.rindex("\n") + 1:] != f"# output: {' '.join(map(str, os_[0]))}":
            raise BuildError(f"record {split}-{start + i:07d}: the traced run's outputs differ from the first "
                             f"test's {os_[0]}:\n{prog}\n{target}")
        prompts.append(prompt)
        targets.append(target)
    return prompts, targets


def _keys(family, variant, program, true_program, s_prompt, e_tail, first_in, first_out, t_prompt, t_target) -> np.ndarray:
    """``record_keys`` of a chunk's records, from their columns: each program canonicalised once
    (the completion view's full text is the true program; the synthesis view is comment lines
    then the program; the execution view is the program then comment lines)."""
    both = canonical_programs([*program, *true_program])
    canon = both[:len(program)]
    completion = [key_digest(t, "completion") for t in both[len(program):]]
    synthesis = [key_digest(sp + c, "synthesis") if sp else 0 for sp, c in zip(s_prompt, canon)]
    execution = [key_digest(c + tail + out, "execution") for c, tail, out in zip(canon, e_tail, first_out)]
    trace = [key_digest(canonical_program(tp + tt), "trace") if tp else 0 for tp, tt in zip(t_prompt, t_target)]
    question = [key_digest(question_text(f, v, i, c), "question") for f, v, i, c in zip(family, variant, first_in, canon)]
    programs = [key_digest(c, "program") for c in canon]
    return np.array([completion, synthesis, execution, trace, question, programs],
                    np.uint64).T.reshape(len(canon), len(KEYS))


_INT_LISTS = re.compile(r"\[\[[0-9, \[\]-]*\]\]")


def _as_texts(lists: list) -> list:
    """``[" ".join(map(str, x)) for x in lists]`` for lists of Python ints, from one ``str`` of
    the whole list (a few C calls instead of a Python loop: 10x faster). Anything else in the
    lists (a numpy integer shows as ``np.int64(5)``) takes the loop."""
    text = str(lists)
    if lists and _INT_LISTS.fullmatch(text):
        texts = text[2:-2].replace(",", "").split("] [")
        if len(texts) == len(lists):
            return texts
    return [" ".join(map(str, x)) for x in lists]


def _flat(lists) -> tuple:
    """(lengths, values) of a sequence of int lists, as int64 arrays."""
    lengths = np.fromiter(map(len, lists), np.int64, len(lists))
    return lengths, np.fromiter(itertools.chain.from_iterable(lists), np.int64, int(lengths.sum()))


def _nested_columns(level, size, cases, outputs, n_tests) -> tuple:
    """The difficulty and test columns as Arrow arrays built from flat int64 arrays (not from
    per-record dicts)."""
    import pyarrow as pa

    n = len(cases)
    n_cases = len(cases[0]) if n else 0
    all_cases = list(itertools.chain.from_iterable(cases))
    all_outputs = list(itertools.chain.from_iterable(outputs))
    in_len, in_values = _flat(all_cases)
    out_len, out_values = _flat(all_outputs)
    schema = arrow_schema()
    case_type = schema.field("tests").type

    def lists(lengths, values):
        offsets = np.zeros(len(lengths) + 1, np.int32)
        np.cumsum(lengths, out=offsets[1:])
        return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))

    case_struct = pa.StructArray.from_arrays([lists(in_len, in_values), lists(out_len, out_values)],
                                             fields=list(case_type.value_type))
    slot = np.arange(n * n_cases).reshape(n, n_cases)
    tests = lists(np.full(n, n_tests), case_struct.take(pa.array(slot[:, :n_tests].ravel()))).cast(case_type)
    challenge = lists(np.full(n, n_cases - n_tests), case_struct.take(pa.array(slot[:, n_tests:].ravel()))).cast(case_type)
    difficulty = pa.StructArray.from_arrays([pa.array(level, pa.int64()), pa.array(size, pa.int64())],
                                            fields=list(schema.field("difficulty").type))
    return difficulty, tests, challenge
