"""Build a dataset from a recipe: generate records, verify them in the VM, keep held-out splits
disjoint from earlier splits, and assemble a ``datasets.DatasetDict``.

Determinism: record ``index`` of a split is drawn from ``random.Random`` seeded by
``(seed, split, index, attempt)`` only; workers generate fixed chunks that are concatenated in
index order, so the data does not depend on the number of processes. Splits are built in the
order of ``SPLITS``; every view text of a finished split is forbidden to the later ones, and a
held-out record any of whose view texts is forbidden is redrawn with ``attempt + 1`` (a new
family, difficulty and values), so valid/test/OOD never repeat a view of train or of each other.
"""
from __future__ import annotations

import bisect
import hashlib
import json
import multiprocessing
import os
import random
import re
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from ..families import get as get_family
from .recipe import SPLITS, Recipe, RecipeError
from .views import VIEWS, Check, judge, render_views, run_checks

SPLIT_IDS = {name: i for i, name in enumerate(SPLITS)}
RECORD_COLUMNS = ("id", "family", "variant", "difficulty", "description", "program", "true_program",
                  "tests", "challenge_tests", "split")
VIEW_COLUMNS = tuple(f"{v}_{part}" for v in VIEWS for part in ("prompt", "target"))
COLUMNS = RECORD_COLUMNS + VIEW_COLUMNS
CHUNK = 1000  # records per work item (affects scheduling only, never the data)
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


def make_plans(recipe: Recipe) -> dict:
    plans = {}
    for split in SPLITS:
        params = recipe.params(split)
        fams = []
        for name, weight in recipe.families_of(split).items():
            fam = get_family(name)
            if weight > 0 and fam.feasible(params) and (split != "ood_length" or fam.has_length):
                fams.append((fam, weight))
        if recipe.splits[split].size and not fams:
            raise RecipeError(f"split {split}: no family of the mixture can be drawn with {params}")
        cumulative, total = [], 0.0
        for _, w in fams:
            total += w
            cumulative.append(total)
        plans[split] = Plan(split, params, [f for f, _ in fams], cumulative)
    return plans


def record_rng(seed: int, split: str, index: int, attempt: int) -> random.Random:
    return random.Random((((seed << 4 | SPLIT_IDS[split]) << 40 | index) << 16) | attempt)


def make_record(task, split: str, index: int, n_tests: int) -> dict:
    cases = [{"input": c, "output": o} for c, o in zip(task.cases, task.outputs)]
    rec = {"id": f"{split}-{index:07d}", "family": task.family, "variant": task.variant,
           "difficulty": {"level": task.level, "size": task.size}, "description": task.description,
           "program": task.program, "true_program": task.contained(0), "tests": cases[:n_tests],
           "challenge_tests": cases[n_tests:], "split": split}
    rec.update(render_views(rec))
    return rec


def draw(plan: Plan, recipe: Recipe, index: int, attempt: int = 0) -> dict:
    rng = record_rng(recipe.seed, plan.split, index, attempt)
    fam = plan.families[bisect.bisect(plan.cumulative, rng.random() * plan.cumulative[-1])]
    task = fam.generate(rng, plan.params, recipe.n_tests + recipe.n_challenge)
    return make_record(task, plan.split, index, recipe.n_tests)


def view_keys(rec: dict) -> list:
    """128-bit digests of the record's non-empty view texts (prompt + target), tagged by view."""
    keys = []
    for v in VIEWS:
        text = rec[f"{v}_prompt"] + rec[f"{v}_target"]
        if text:
            keys.append(hashlib.blake2b(f"{v}\0{text}".encode(), digest_size=16).digest())
    return keys


# --- worker processes: generation only (verification runs in the parent, in the VM) -------

_WORKER: dict = {}


def _init_worker(recipe: Recipe) -> None:
    _WORKER["recipe"], _WORKER["plans"] = recipe, make_plans(recipe)


def _generate_chunk(job: tuple) -> list:
    split, start, stop = job
    recipe, plan = _WORKER["recipe"], _WORKER["plans"][split]
    return [draw(plan, recipe, i) for i in range(start, stop)]


# --- verification ----------------------------------------------------------------------------

def record_checks(rec: dict) -> list:
    """Checks that every view's full text holds in the VM and the program agrees with the oracle."""
    checks = [judge("completion", rec, rec["completion_target"]),
              judge("execution", rec, rec["execution_target"])]
    if rec["synthesis_prompt"]:
        checks.append(judge("synthesis", rec, rec["synthesis_target"]))
    else:  # random: no synthesis view, run the bare program on every case instead
        cases = tuple((t["input"], t["output"]) for t in [*rec["tests"], *rec["challenge_tests"]])
        checks.append(Check(rec["program"], cases))
    return checks


def verify(records: list, fuel: int) -> None:
    """Raise :class:`BuildError` showing the first record whose view or oracle disagrees with the VM."""
    checks, owner = [], []
    for k, rec in enumerate(records):
        for c in record_checks(rec):
            checks.append(c)
            owner.append(k)
    passed = run_checks(checks, fuel)
    if passed.all():
        text = "".join(r[c] for r in records for c in VIEW_COLUMNS)
        bad = _NOT_TEXT.search(text)
        if bad:
            raise BuildError(f"a view contains {bad.group()!r}, outside printable ASCII and newline")
        return
    import cadmus

    j = int((~passed).nonzero()[0][0])
    check, rec = checks[j], records[owner[j]]
    runs = [(list(i), e, cadmus.run(check.program, list(i), fuel=fuel)) for i, e in check.cases]
    detail = "\n".join(f"  input {i}: expected {e}, VM {r.status.name} {r.outputs} {r.error or ''}" for i, e, r in runs)
    raise BuildError(f"record disagrees with the VM (oracle or view broken):\n{json.dumps(rec, indent=1)}\n"
                     f"program run:\n{check.program}\n{detail}")


# --- the build ---------------------------------------------------------------------------------

@dataclass
class BuildInfo:
    """What the card reports about a build besides the data."""

    sizes: dict = field(default_factory=dict)
    redrawn: dict = field(default_factory=dict)  # held-out records redrawn after a collision
    families: dict = field(default_factory=dict)  # split -> families it could draw from
    seconds: float = 0.0
    workers: int = 1


def _jobs(split: str, size: int) -> list:
    return [(split, s, min(s + CHUNK, size)) for s in range(0, size, CHUNK)]


def _resolve(rec: dict, plan: Plan, recipe: Recipe, forbidden: set) -> tuple:
    """The record itself, or the first redraw none of whose views is forbidden; and #redraws."""
    index = int(rec["id"].rsplit("-", 1)[1])
    attempt = 0
    while any(k in forbidden for k in view_keys(rec)):
        attempt += 1
        if attempt >= recipe.max_attempts:
            raise BuildError(f"{rec['id']}: {attempt} draws all repeat a view of an earlier split; "
                             "widen the ranges or lower the split's size")
        rec = draw(plan, recipe, index, attempt)
    return rec, attempt


def build(recipe: Recipe, workers: Optional[int] = None, limit: Optional[int] = None,
          progress: bool = True, log: Callable = print) -> tuple:
    """Generate, verify and deduplicate every split; returns (DatasetDict, BuildInfo)."""
    from datasets import Dataset, DatasetDict
    from tqdm import tqdm

    start = time.perf_counter()
    workers = max(1, workers or os.cpu_count() or 1)
    plans = make_plans(recipe)
    sizes = {s: min(recipe.splits[s].size, limit) if limit is not None else recipe.splits[s].size for s in SPLITS}
    info = BuildInfo(sizes=sizes, workers=workers,
                     families={s: [f.name for f in plans[s].families] for s in SPLITS})
    pool = multiprocessing.get_context("fork").Pool(workers, _init_worker, (recipe,)) if workers > 1 else None
    if pool is None:
        _init_worker(recipe)
    forbidden, data = set(), {}
    bar = tqdm(total=sum(sizes.values()), unit="rec", disable=not progress, desc="build")
    try:
        for split in SPLITS:
            jobs = _jobs(split, sizes[split])
            chunks = pool.imap(_generate_chunk, jobs) if pool else map(_generate_chunk, jobs)
            records, redrawn = [], 0
            for chunk in chunks:
                if split != "train":
                    resolved = [_resolve(rec, plans[split], recipe, forbidden) for rec in chunk]
                    chunk = [r for r, _ in resolved]
                    redrawn += sum(1 for _, a in resolved if a)
                verify(chunk, recipe.fuel)
                records.extend(chunk)
                bar.update(len(chunk))
            for rec in records:
                forbidden.update(view_keys(rec))
            info.redrawn[split] = redrawn
            data[split] = records
    finally:
        bar.close()
        if pool:
            pool.close()
            pool.join()
    feats = features()
    dd = DatasetDict({s: Dataset.from_list(data[s], features=feats) if data[s] else
                      Dataset.from_dict({c: [] for c in COLUMNS}, features=feats) for s in SPLITS})
    info.seconds = time.perf_counter() - start
    return dd, info


def content_hashes(dd) -> dict:
    """sha256 of every split's content (columns in a fixed order, as JSON) and of the whole."""
    out, whole = {}, hashlib.sha256()
    for split in SPLITS:
        h = hashlib.sha256()
        table = dd[split].data.table
        for col in COLUMNS:
            h.update(col.encode())
            h.update(json.dumps(table.column(col).to_pylist(), separators=(",", ":")).encode())
        out[split] = h.hexdigest()
        whole.update(f"{split}:{out[split]}\n".encode())
    out["all"] = whole.hexdigest()
    return out
