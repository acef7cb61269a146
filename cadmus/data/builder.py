"""Build a dataset from a recipe: generate records, verify them in the VM, keep held-out splits
new with respect to earlier splits, and assemble a ``datasets.DatasetDict``.

Determinism: the records of a split are generated in fixed chunks of ``CHUNK`` records, each
from a numpy generator (``Draws``) seeded by ``(seed, split, chunk)``: it draws every record's
family, then each family's records as one batch; a redraw of record ``index`` uses its own
generator seeded by ``(seed, split, index, attempt)``. A chunk is always generated whole
(``--limit`` keeps a prefix of it) and workers return chunks that are concatenated in index
order, so the data does not depend on the number of processes.

Held-out splits by question (``heldout``): splits are built in the order of ``SPLITS``; the keys
of a finished split (its canonical view texts and questions, ``cadmus.canonical``) are forbidden
to the later ones. A held-out record that repeats one is redrawn inside its family, variant and
level, or dropped when that group's domain is exhausted (``BuildInfo.dropped``): a held-out split
can have fewer records than its recipe asks, never repeated ones. Held-out records get
``novelty`` "seen" or "novel" (their canonical program occurs in train or not), train records
"". At the end, no train family's program may solve an ood_family record (``ood_check``).

``--limit N`` (``limit``) builds the first N draws (indices 0..N-1) of every split: train is a
prefix of the full build's train; a held-out split keeps those of its first N draws that
survive (ids keep their index, so a dropped record leaves a gap) and may differ from the full
build's where a redraw or a drop depended on train records past the limit.

Throughput: a worker generates a chunk family by family in batches (``generate_chunk``),
renders its columns and keys directly (``chunk_columns``; ``make_record`` + ``record_keys`` is
the one-record reference it must equal), verifies all its VM runs in one ``run_batch``
(``verify_columns``), and returns an Arrow table, built from flat arrays, with its digest (the
table as an Arrow IPC file in ``/dev/shm``, 3-4x cheaper for the parent to receive than through
the result pipe); the parent only checks keys, redraws, tags and concatenates.
``benchmarks/bench_data.py`` measures it.
"""
from __future__ import annotations

import collections
import functools
import gc
import itertools
import json
import multiprocessing
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from typing import NamedTuple, Optional

import numpy as np

from ..canonical import canonical_program, canonical_programs
from ..families import get as get_family
from ..families.base import Draws
from ..judge import outputs_match
from ..provenance import HASH_CHUNK, chunk_digest, digests_hash, split_hash, whole_hash
from ..provenance import dataset_hashes as content_hashes  # noqa: F401  (its name here before provenance)
from .heldout import KEYS, N_FORBIDDEN, PROGRAM, KeySet, Redrawer, digest as key_digest, novelty, question_text
from .ood_check import OodFamilyError, check_ood_family, train_candidates
from .recipe import SPLITS, Recipe, RecipeError
from .views import VIEWS, Check, execution_prompt, judge, render_views, run_checks, trace_prompt, trace_view  # noqa: F401

SPLIT_IDS = {name: i for i, name in enumerate(SPLITS)}
RECORD_COLUMNS = ("id", "family", "variant", "difficulty", "description", "program", "true_program",
                  "tests", "challenge_tests", "split", "novelty")
VIEW_COLUMNS = tuple(f"{v}_{part}" for v in VIEWS for part in ("prompt", "target"))
COLUMNS = RECORD_COLUMNS + VIEW_COLUMNS
CHUNK = HASH_CHUNK  # records per work item (never affects the data); a worker digests its chunk for the hash
_NOT_TEXT = re.compile(r"[^\x20-\x7e\n]")


class BuildError(RuntimeError):
    """A record failed verification (the message shows it) or a split could not be filled."""


def features():
    from datasets import Features, List, Value

    case = List({"input": List(Value("int64")), "output": List(Value("int64"))})
    cols = {name: Value("string") for name in COLUMNS}
    cols.update(difficulty={"level": Value("int64"), "size": Value("int64")}, tests=case, challenge_tests=case)
    return Features({name: cols[name] for name in COLUMNS})


@dataclass
class Plan:
    """What one split draws from: its knobs and its families with cumulative weights."""

    split: str
    params: object
    families: list
    cumulative: list


def _longer(fam, params, train_params) -> bool:
    """Whether the family's length knob under ``params`` lies wholly outside its training range."""
    ood, train = fam.size_range(params), fam.size_range(train_params)
    return ood is not None and train is not None and (ood[0] > train[1] or ood[1] < train[0])


def make_plans(recipe: Recipe) -> dict:
    """Per split: the families it can draw (weight > 0, feasible, and for ``ood_length`` only
    families whose length knob range is disjoint from training's), with cumulative weights."""
    plans = {}
    train_params = recipe.params("train")
    for split in SPLITS:
        params = recipe.params(split)
        fams = []
        for name, weight in recipe.families_of(split).items():
            fam = get_family(name)
            if weight > 0 and fam.feasible(params) and (split != "ood_length" or _longer(fam, params, train_params)):
                fams.append((fam, weight))
        if recipe.splits[split].size and not fams:
            raise RecipeError(f"split {split}: no family of the mixture can be drawn with {params}")
        cumulative, total = [], 0.0
        for _, w in fams:
            total += w
            cumulative.append(total)
        plans[split] = Plan(split, params, [f for f, _ in fams], cumulative)
    return plans


def record_seed(seed: int, split: str, index: int, attempt: int) -> int:
    """The seed of a redraw (attempt >= 1) of record ``index``; also of chunks (see ``chunk_seed``)."""
    return (((seed << 4 | SPLIT_IDS[split]) << 40 | index) << 16) | attempt


def chunk_seed(seed: int, split: str, chunk: int) -> int:
    """The seed of the first draws of chunk ``chunk`` (records ``chunk * CHUNK ...``). Chunks are
    fixed by ``CHUNK``, never by the number of workers. The attempt field 0xFFFF keeps it apart
    from every redraw's."""
    return (((seed << 4 | SPLIT_IDS[split]) << 40 | chunk) << 16) | 0xFFFF


def generate_chunk(plan: Plan, recipe: Recipe, draws: Draws, length: int) -> list:
    """``length`` tasks in index order: every record's family first, then each family's records
    as one batch (in the plan's family order), put back at their indices."""
    n_cases = recipe.n_tests + recipe.n_challenge
    cumulative = np.asarray(plan.cumulative)
    family_of = np.searchsorted(cumulative, draws.uniform(length) * cumulative[-1], side="right")
    family_of = np.minimum(family_of, len(plan.families) - 1)  # guards a rounding at the top end
    tasks = [None] * length
    for f, fam in enumerate(plan.families):
        rows = np.flatnonzero(family_of == f).tolist()
        if rows:
            for r, task in zip(rows, fam.generate(draws, plan.params, n_cases, len(rows), n_visible=recipe.n_tests)):
                tasks[r] = task
    return tasks


def make_record(task, split: str, index: int, n_tests: int, trace: bool = False) -> dict:
    """The one-record reference of ``chunk_columns`` (views by ``render_views``; the trace view
    only with ``trace``, the recipe's ``trace_view``)."""
    cases = [{"input": c, "output": o} for c, o in zip(task.cases, task.outputs)]
    rec = {"id": f"{split}-{index:07d}", "family": task.family, "variant": task.variant,
           "difficulty": {"level": task.level, "size": task.size}, "description": task.description,
           "program": task.program, "true_program": task.true_program, "tests": cases[:n_tests],
           "challenge_tests": cases[n_tests:], "split": split, "novelty": ""}
    rec.update(render_views(rec, trace))
    return rec


# --- worker processes: generate and verify a chunk, return it as columns ---------------------

_WORKER: dict = {}


def _init_worker(threads: Optional[int] = None, schema=None) -> None:
    if threads:  # one VM thread per process: the processes already use every core
        import numba

        numba.set_num_threads(threads)
    _WORKER["schema"] = schema  # from the parent: importing ``datasets`` would cost a worker ~1 s
    # one-time costs up front (the VM kernel's load, Arrow's first conversion and compute calls,
    # ~0.5 s), so that the per-chunk timings measure the steady state
    import cadmus

    cadmus.run_batch(["out 1"], fuel=10)
    chunk_digest(columns_to_arrow({c: [] for c in COLUMNS}))


def _use_recipe(recipe: Recipe) -> None:
    """Make ``recipe`` the worker's (a pool may serve several builds, see ``worker_pool``)."""
    if _WORKER.get("recipe") != recipe:
        _WORKER["recipe"], _WORKER["plans"] = recipe, make_plans(recipe)


def worker_pool(workers: int):
    """``workers`` started worker processes (``spawn``, one VM thread each) for ``build(...,
    pool=)``: builds that share a pool pay the start (~1 s: imports, the VM kernel's load) once.
    Shut it down with ``pool.shutdown()`` or use it as a context manager.

    A ``concurrent.futures`` executor, not a ``multiprocessing.Pool``: the pool's worker-handler
    thread spins while a result waits in the pipe (it polls the result pipe without reading it),
    which with chunks of ~1 MB cost the parent ~4 us of CPU per record."""
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the parent may already run Numba threads, which do not survive a fork
    return ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"), initializer=_init_worker,
                               initargs=(1, features().arrow_schema))


def to_columns(records: list) -> dict:
    return {c: [r[c] for r in records] for c in COLUMNS}


def as_lists(cols: dict) -> dict:
    """``cols`` with its Arrow columns (difficulty, tests) as Python lists: ``to_columns``'s form."""
    return {c: v.to_pylist() if hasattr(v, "to_pylist") else list(v) for c, v in cols.items()}


def _generate_chunk(job: tuple) -> tuple:
    """(Arrow table, sha256 digest, view keys per record, timings) of records ``start..stop`` of
    ``split``, generated and verified."""
    # a chunk allocates millions of small objects that all live until it is done: the cyclic
    # garbage collector would scan them again and again (10-20% of the CPU) and find nothing
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _chunk(*job)
    finally:
        if enabled:
            gc.enable()


def _generate_shipped(job: tuple, folder: Optional[str] = None) -> tuple:
    """``_generate_chunk`` for a worker process: its table travels as one Arrow IPC stream, in a
    file of ``folder`` (``transfer_folder``) when there is one, else through the result pipe."""
    table, *rest = _generate_chunk(job)
    return (_ship(table, folder, f"{job[1]}-{job[2]}"), *rest)


def _ship(table, folder: Optional[str], name: str):
    if folder:
        path = os.path.join(folder, name + ".arrow")
        try:
            _write_ipc(table, path)
            return _ShippedFile(path)
        except OSError:  # e.g. the folder's file system is full: the pipe always works
            if os.path.exists(path):
                os.unlink(path)
    return _Shipped(table)


def _write_ipc(table, sink) -> None:
    import pyarrow as pa

    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)


class _Shipped:
    """An Arrow table that pickles as one Arrow IPC stream (half the cost of pickling the table)
    and unpickles as the table itself."""

    def __init__(self, table):
        self.table = table

    def __reduce__(self):
        import pyarrow as pa

        sink = pa.BufferOutputStream()
        _write_ipc(self.table, sink)
        return _from_ipc, (sink.getvalue().to_pybytes(),)


class _ShippedFile:
    """An Arrow table written to a file by a worker: it pickles as the path and unpickles as the
    table, read into memory and the file deleted. A megabyte chunk through a pipe costs the
    receiving parent ~1.8 ms of CPU (``multiprocessing`` reads it 64 KB at a time into fresh
    buffers); through a file in memory (``/dev/shm``), ~0.5 ms."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return _from_file, (self.path,)


def _from_ipc(data: bytes):
    import pyarrow as pa

    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def _from_file(path: str):
    import pyarrow as pa

    with pa.OSFile(path, "rb") as f:
        data = f.read_buffer()
    os.unlink(path)
    return pa.ipc.open_stream(data).read_all()


def transfer_folder() -> Optional[str]:
    """A new folder in shared memory (``/dev/shm``) for chunks on their way from the workers
    to the parent, or None where there is none; ``build`` removes it when it is done."""
    import tempfile

    if not (os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)):
        return None
    try:
        return tempfile.mkdtemp(prefix="cadmus-build-", dir="/dev/shm")
    except OSError:
        return None


def _chunk(recipe: Recipe, split: str, start: int, stop: int, length: int) -> tuple:
    """Records ``start..stop`` of the chunk of ``length`` records at ``start`` (generated whole)."""
    _use_recipe(recipe)
    plan = _WORKER["plans"][split]
    # CPU time, not wall time: the measure must not depend on what else runs on the machine
    t0 = time.process_time()
    draws = Draws(chunk_seed(recipe.seed, split, start // CHUNK))
    tasks = generate_chunk(plan, recipe, draws, length)[:stop - start]
    cols, keys, runs = chunk_columns(tasks, split, start, recipe.n_tests, recipe.trace_view)
    timings = {"generate": time.process_time() - t0}
    # Arrow conversion and hashing here, not in the parent: the parent is one process for all
    # workers, and an Arrow table crosses the process boundary far cheaper than Python columns
    t1 = time.process_time()
    table = columns_to_arrow(cols)
    timings["pack"] = time.process_time() - t1
    t2 = time.process_time()
    verify_columns(cols, runs, recipe.fuel, timings, table)
    timings["verify"] = time.process_time() - t2
    t3 = time.process_time()
    # a held-out chunk changes in the parent (novelty, redraws), which hashes the final split
    digest = chunk_digest(table) if split == "train" else b""
    timings["pack"] += time.process_time() - t3
    return table, digest, keys, timings


def _schema():
    if _WORKER.get("schema") is None:
        _WORKER["schema"] = features().arrow_schema
    return _WORKER["schema"]


def columns_to_arrow(cols: dict):
    """An Arrow table of the dataset's schema from columns: Python lists, or Arrow arrays
    already built (``chunk_columns`` builds the nested ones from flat arrays)."""
    import pyarrow as pa

    schema = _schema()
    return pa.Table.from_arrays([cols[c] if isinstance(cols[c], pa.Array) else pa.array(cols[c], schema.field(c).type)
                                 for c in COLUMNS], schema=schema)


def chunk_columns(tasks: list, split: str, start: int, n_tests: int, trace: bool = False) -> tuple:
    """The columns of records ``start, start + 1, ...`` made of ``tasks``, built directly (no record
    dicts: the same values as ``make_record``, at a fraction of the cost), their keys (an
    ``(n, 6)`` uint64 array, see ``heldout``), and the VM runs that verify them (see
    ``verify_columns``).

    Byte for byte the output of ``make_record`` + ``record_keys`` (a test holds it so). The trace
    view (only with ``trace``) is one traced run per record, its outputs checked here against the
    first test's (which ``verify_columns`` verifies)."""
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
    synths = [sp + prog for sp, prog in zip(s_prompt, program)]  # the bare program without a description
    e_tail = [f"\n# input: {inputs}\n# output: " for inputs in first_in]  # after the program
    e_prompt = [prog + tail for prog, tail in zip(program, e_tail)]
    t_prompt, t_target = _trace_columns(split, start, program, cases, outputs) if trace else ([""] * n, [""] * n)
    keys = _keys(family, variant, program, true_program, s_prompt, e_tail, first_in, first_out, t_prompt, t_target)
    difficulty, tests, challenge, runs = _nested_columns(level, size, cases, outputs, true_program, synths, n_tests)
    cols = {"id": [f"{split}-{i:07d}" for i in range(start, start + n)], "family": family, "variant": variant,
            "difficulty": difficulty, "description": description, "program": program,
            "true_program": true_program, "tests": tests, "challenge_tests": challenge, "split": [split] * n,
            "novelty": [""] * n, "completion_prompt": c_prompt, "completion_target": c_target,
            "synthesis_prompt": s_prompt, "synthesis_target": s_target, "execution_prompt": e_prompt,
            "execution_target": first_out, "trace_prompt": t_prompt, "trace_target": t_target}
    return cols, keys, runs


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


class Runs(NamedTuple):
    """The VM runs that verify a chunk: run ``i`` executes ``programs[program_index[i]]`` on
    ``inputs[input_offsets[i]:input_offsets[i + 1]]`` and must write ``want_len[i]`` values, the
    next ones of ``want``."""

    programs: list
    program_index: np.ndarray
    inputs: np.ndarray
    input_offsets: np.ndarray
    want_len: np.ndarray
    want: np.ndarray


def _nested_columns(level, size, cases, outputs, true_program, synths, n_tests) -> tuple:
    """The difficulty and test columns as Arrow arrays built from flat int64 arrays (not from
    per-record dicts), and the VM :class:`Runs`: per record its completion text once (no
    inputs), then its synthesis text (the bare program for ``random``) on every case."""
    import pyarrow as pa

    n = len(cases)
    n_cases = len(cases[0]) if n else 0
    all_cases = list(itertools.chain.from_iterable(cases))
    all_outputs = list(itertools.chain.from_iterable(outputs))
    in_len, in_values = _flat(all_cases)
    out_len, out_values = _flat(all_outputs)
    schema = _schema()
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
    programs = list(itertools.chain.from_iterable(zip(true_program, synths)))
    program_index = np.repeat(np.arange(2 * n), np.tile([1, n_cases], n))
    run_in_len = np.zeros((n, n_cases + 1), np.int64)  # the completion run reads nothing
    run_in_len[:, 1:] = in_len.reshape(n, n_cases)
    input_offsets = np.zeros(n * (n_cases + 1) + 1, np.int64)
    np.cumsum(run_in_len.ravel(), out=input_offsets[1:])
    want_len = np.zeros((n, n_cases + 1), np.int64)
    want_len[:, 1:] = out_len.reshape(n, n_cases)
    runs = Runs(programs, program_index, in_values, input_offsets, want_len.ravel(), out_values)
    return difficulty, tests, challenge, runs


# --- verification ----------------------------------------------------------------------------

def record_checks(rec: dict) -> list:
    """The VM checks of a record, by the judge's rules (:mod:`cadmus.judge`): the completion
    target is an answer that holds, and the synthesis view's full text (the bare program for
    ``random``) passes as a synthesis answer, with the oracle's outputs on every visible and
    hidden test. The execution view runs the same program on the first test, so its target is
    checked against that test's verified output in Python rather than by a seventh VM run. A
    trace view is judged as a trace answer (its lines against a traced run, its outputs run)."""
    checks = [judge("completion", rec, rec["completion_target"]),
              judge("synthesis", rec, rec["synthesis_prompt"] + rec["program"])]
    if rec["trace_prompt"]:  # a trace view is every line of the VM's trace and the outputs
        checks.append(judge("trace", rec, rec["trace_target"]))
    return checks


def _execution_view_holds(rec: dict) -> bool:
    first = rec["tests"][0]
    return (rec["execution_prompt"] == execution_prompt(rec["program"], first["input"])
            and rec["execution_target"] == " ".join(map(str, first["output"]))
            and rec["trace_prompt"] in ("", trace_prompt(rec["program"], first["input"])))


def verify(records: list, fuel: int, timings: Optional[dict] = None) -> None:
    """Raise :class:`BuildError` showing the first record whose view or oracle disagrees with the VM."""
    checks, owner = [], []
    for k, rec in enumerate(records):
        for c in record_checks(rec):
            checks.append(c)
            owner.append(k)
    passed = run_checks(checks, fuel, timings)
    for rec in records:
        if not _execution_view_holds(rec):
            raise BuildError(f"execution view (or trace prompt) does not match the verified first test:\n{json.dumps(rec, indent=1)}")
    if passed.all():
        text = "".join(r[c] for r in records for c in VIEW_COLUMNS)
        bad = _NOT_TEXT.search(text)
        if bad:
            raise BuildError(f"a view contains {bad.group()!r}, outside printable ASCII and newline")
        return
    import cadmus

    j = int((~passed).nonzero()[0][0])
    check, rec = checks[j], records[owner[j]]
    if check.rejected is not None:
        raise BuildError(f"record's target is not an answer ({check.rejected}):\n{json.dumps(rec, indent=1)}")
    if check.wrong is not None:
        raise BuildError(f"record's trace view disagrees with the VM ({check.wrong}):\n{json.dumps(rec, indent=1)}")
    # run_batch, not run: the batch kernel is already compiled, the single-run one may not be
    res = cadmus.run_batch([check.program] * len(check.cases), inputs=[list(i) for i, _ in check.cases],
                           fuel=fuel, messages=True)
    runs = [(list(i), e, res[k]) for k, (i, e) in enumerate(check.cases)]
    detail = "\n".join(f"  input {i}: expected {e}, VM {r.status.name} {r.outputs} {r.error or ''}" for i, e, r in runs)
    raise BuildError(f"record disagrees with the VM (oracle or view broken):\n{json.dumps(rec, indent=1)}\n"
                     f"program run:\n{check.program}\n{detail}")


def verify_columns(cols: dict, runs: Runs, fuel: int, timings: Optional[dict] = None, table=None) -> None:
    """``verify`` for the output of ``chunk_columns``: all its runs in one ``run_batch`` (each
    program parsed once for its consecutive runs), outputs compared in numpy, view texts checked
    for printable ASCII in ``table`` (the columns as Arrow, built here when not given). The
    execution view is built from the program and first test that these runs verify
    (``chunk_columns`` renders it as ``make_record`` does). On a failure, ``verify`` of the
    chunk's records explains it."""
    import cadmus

    programs, program_index, inputs, input_offsets, want_len, flat = runs
    start = time.process_time()
    res = cadmus.run_batch(programs, inputs=inputs, fuel=fuel, program_index=program_index, outputs_per_program=16,
                           input_offsets=input_offsets)
    if timings is not None:
        _add(timings, "vm", time.process_time() - start)
    ok = outputs_match(res, want_len, flat)  # the judge's rule for a run, in numpy
    if ok.all() and _printable(columns_to_arrow(cols) if table is None else table):
        return
    lists = as_lists(cols)
    records = [dict(zip(COLUMNS, row)) for row in zip(*(lists[c] for c in COLUMNS))]
    verify(records, fuel)
    raise BuildError("chunk failed verification, but its records pass one by one (builder bug)")


def _printable(table) -> bool:
    """Whether every view text of ``table`` is printable ASCII or newline: numpy comparisons over
    each view column's UTF-8 bytes (a non-ASCII character has bytes >= 0x80, never printable)."""
    for c in VIEW_COLUMNS:
        arr = table.column(c).combine_chunks()
        if len(arr) == 0 or arr.buffers()[2] is None:
            continue
        off = np.frombuffer(arr.buffers()[1], np.int32, len(arr) + 1, arr.offset * 4)
        data = np.frombuffer(arr.buffers()[2], np.uint8)[off[0]:off[-1]]
        if not np.all(((data >= 0x20) & (data < 0x7F)) | (data == 0x0A)):
            return False
    return True


# --- the build ---------------------------------------------------------------------------------

@dataclass
class BuildInfo:
    """What the card reports about a build besides the data."""

    sizes: dict = field(default_factory=dict)  # split -> records drawn (the recipe's size, or --limit)
    redrawn: dict = field(default_factory=dict)  # held-out records redrawn after a collision
    dropped: dict = field(default_factory=dict)  # split -> {"family/variant/level": records dropped}
    exhausted: dict = field(default_factory=dict)  # split -> ["family/variant/level" whose domain ran out]
    novelty: dict = field(default_factory=dict)  # held-out split -> {"seen": n, "novel": n}
    ood_check: dict = field(default_factory=dict)  # what the ood_family check ran (ood_check)
    families: dict = field(default_factory=dict)  # split -> families it could draw from
    seconds: float = 0.0
    workers: int = 1
    hashes: dict = field(default_factory=dict)  # split -> sha256 of its content, and "all"
    timings: dict = field(default_factory=dict)  # CPU seconds summed over processes: generate, verify, vm, pack, main

    def as_dict(self) -> dict:
        """What ``build_info.json`` records (with the recipe, added by the caller)."""
        return {"hashes": self.hashes, "sizes": self.sizes, "redrawn": self.redrawn, "dropped": self.dropped,
                "exhausted": self.exhausted, "novelty": self.novelty, "ood_check": self.ood_check,
                "families": self.families, "seconds": round(self.seconds, 2), "workers": self.workers,
                "cpu_seconds": {k: round(v, 2) for k, v in self.timings.items()}}


def _jobs(recipe: Recipe, split: str, size: int) -> list:
    """(recipe, split, start, stop, length) per chunk: records ``start..stop`` of a chunk of
    ``length`` (a chunk of the full split is generated whole, so that ``--limit`` keeps a prefix)."""
    full_size = recipe.splits[split].size
    return [(recipe, split, s, min(s + CHUNK, size), min(CHUNK, full_size - s)) for s in range(0, size, CHUNK)]


def hold_out(table, keys: np.ndarray, start: int, redrawer: Redrawer, train_programs: KeySet,
             timings: Optional[dict] = None) -> tuple:
    """(table, keys) of a held-out chunk (records ``start...``) with every record that shares a
    key with an earlier split redrawn or, when its domain is exhausted, dropped, and ``novelty``
    tagged. Records are taken in index order (see ``heldout``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    hit = redrawer.forbidden.contains(keys[:, :N_FORBIDDEN]).any(axis=1)
    if not hit.any():
        redrawer.keep_all(keys)
    else:
        family, variant = table.column("family").to_pylist(), table.column("variant").to_pylist()
        level = pc.struct_field(table.column("difficulty"), "level").to_pylist()
        order, records, new_keys = [], [], []
        for i in range(len(table)):
            if not hit[i]:
                redrawer.keep(keys[i])
                order.append(i)
                continue
            got = redrawer.replace(start + i, family[i], variant[i], level[i])
            if got is not None:
                order.append(len(table) + len(records))
                records.append(got[0])
                new_keys.append(got[1])
        if records:
            verify(records, redrawer.recipe.fuel, timings)
            table = pa.concat_tables([table, columns_to_arrow(to_columns(records))])
        table = table.take(order)
        keys = np.concatenate([keys, np.asarray(new_keys, np.uint64).reshape(-1, len(KEYS))])[order]
    column = pa.array(novelty(keys[:, PROGRAM], train_programs), pa.string())
    return table.set_column(table.schema.get_field_index("novelty"), "novelty", column), keys


def build(recipe: Recipe, workers: Optional[int] = None, limit: Optional[int] = None,
          progress: bool = True, pool=None) -> tuple:
    """Generate, verify and hold out every split; returns (DatasetDict, BuildInfo).

    ``workers > 1`` starts processes with ``spawn`` (safe next to Numba threads): a script that
    calls ``build`` must do so under ``if __name__ == "__main__":``. ``pool``: worker processes
    from ``worker_pool`` to use instead of starting ``workers`` (it is left open; pass its size
    as ``workers``, which the build info reports).
    """
    from datasets import Dataset, DatasetDict, DatasetInfo
    from datasets.table import InMemoryTable
    from tqdm import tqdm

    start = time.perf_counter()
    workers = max(1, workers or os.cpu_count() or 1)
    plans = make_plans(recipe)
    sizes = {s: min(recipe.splits[s].size, limit) if limit is not None else recipe.splits[s].size for s in SPLITS}
    info = BuildInfo(sizes=sizes, workers=workers,
                     families={s: [f.name for f in plans[s].families] for s in SPLITS})
    schema = features().arrow_schema
    own_pool = pool is None and workers > 1  # a pool of ours is closed at the end
    if own_pool:
        pool = worker_pool(workers)
    elif pool is None:
        _init_worker(schema=schema)
    forbidden, train_programs, tables, keys = KeySet(), KeySet(), {}, {}
    folder = transfer_folder() if pool else None
    ship = functools.partial(_generate_shipped, folder=folder)
    bar = tqdm(total=sum(sizes.values()), unit="rec", disable=not progress, desc="build")
    try:
        for split in SPLITS:
            jobs = _jobs(recipe, split, sizes[split])
            chunks = pool.map(ship, jobs) if pool else map(_generate_chunk, jobs)
            redrawer = Redrawer(plans[split], recipe, forbidden, functools.partial(make_record, trace=recipe.trace_view),
                                record_seed)
            tables[split], keys[split], digests = _collect(split, jobs, chunks, redrawer, train_programs, info, bar)
            info.hashes[split] = digests_hash(digests) if split == "train" else split_hash(tables[split])
            forbidden.add(keys[split][:, :N_FORBIDDEN])
            if split == "train":
                train_programs.add(keys[split][:, PROGRAM])
            else:
                _report(info, split, redrawer, tables[split])
    finally:
        bar.close()
        if own_pool:
            pool.shutdown(cancel_futures=True)  # after a failure, chunks not yet started are dropped
        if folder:
            shutil.rmtree(folder, ignore_errors=True)  # chunks a failure left unread
    if len(tables["ood_family"]):
        t0 = time.process_time()
        try:
            info.ood_check = check_ood_family(train_candidates(tables["train"], keys["train"][:, PROGRAM]),
                                              tables["ood_family"], recipe.fuel)
        except OodFamilyError as err:
            raise BuildError(str(err)) from None
        _add(info.timings, "ood_check", time.process_time() - t0)
    info.hashes["all"] = whole_hash(info.hashes)
    feats = features()
    dd = DatasetDict({s: Dataset(InMemoryTable(tables[s]), info=DatasetInfo(features=feats), split=s,
                                 fingerprint=info.hashes[s][:16]) for s in SPLITS})
    info.seconds = time.perf_counter() - start
    return dd, info


def _collect(split: str, jobs: list, chunks, redrawer: Redrawer, train_programs: KeySet, info: BuildInfo,
             bar) -> tuple:
    """(table, keys, chunk digests) of a split from its workers' chunks, in index order; a
    held-out split's chunks go through ``hold_out``."""
    import pyarrow as pa

    parts, split_keys, digests = [], [], []
    for job, (table, digest, chunk_keys, timings) in zip(jobs, chunks):
        t0 = time.process_time()
        if split != "train":
            table, chunk_keys = hold_out(table, chunk_keys, job[2], redrawer, train_programs, info.timings)
        parts.append(table)
        split_keys.append(chunk_keys)
        digests.append(digest)
        _add(info.timings, "main", time.process_time() - t0)
        for k, v in timings.items():
            _add(info.timings, k, v)
        bar.update(job[3] - job[2])
    table = pa.concat_tables(parts) if parts else _schema().empty_table()
    return table, np.concatenate(split_keys) if split_keys else np.zeros((0, len(KEYS)), np.uint64), digests


def _report(info: BuildInfo, split: str, redrawer: Redrawer, table) -> None:
    info.redrawn[split] = redrawer.redrawn
    info.dropped[split] = dict(sorted(redrawer.dropped.items()))
    info.exhausted[split] = ["/".join(map(str, g)) for g in redrawer.exhausted]
    counts = collections.Counter(table.column("novelty").to_pylist())
    info.novelty[split] = {"seen": counts.get("seen", 0), "novel": counts.get("novel", 0)}


def _add(timings: dict, key: str, seconds: float) -> None:
    timings[key] = timings.get(key, 0.0) + seconds
