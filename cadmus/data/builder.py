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

The jobs, each in its own module: ``draw`` (plans, seeds and chunks of tasks), ``render`` (a
chunk's columns and keys), ``verify`` (the VM and oracle checks, from the columns), ``dedup``
(held-out redraws and novelty), ``write`` (a chunk's way to the parent, the ``DatasetDict``);
the content hash is :mod:`cadmus.provenance`'s. This module runs them: worker processes and the
build.

Throughput: a worker generates a chunk family by family in batches (``generate_chunk``),
renders its columns and keys column by column (``chunk_columns``, the one renderer: redraws
use it too), verifies all its VM runs in one ``run_batch`` (``verify_columns``, the one
verifier: redraws too), and returns an Arrow table, built from flat arrays, with its digest (the
table as an Arrow IPC file in ``/dev/shm``, 3-4x cheaper for the parent to receive than through
the result pipe); the parent only checks keys, redraws, tags and concatenates.
``benchmarks/bench_data.py`` measures it.
"""
from __future__ import annotations

import collections
import functools
import gc
import multiprocessing
import os
import shutil
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..families.base import Draws
from ..provenance import chunk_digest, digests_hash, split_hash, whole_hash
from .dedup import hold_out
from .draw import CHUNK, chunk_jobs, chunk_seed, generate_chunk, make_plans, record_seed
from .heldout import KEYS, N_FORBIDDEN, PROGRAM, KeySet, Redrawer
from .ood_check import OodFamilyError, check_ood_family, train_candidates
from .recipe import SPLITS, Recipe
from .render import (COLUMNS, BuildError, arrow_schema, chunk_columns, columns_to_arrow, features, records_at,
                     use_schema)
from .verify import add_time, verify_columns
from .write import dataset_dict, ship as _ship, transfer_folder

# Names callers import from here, from before the builder's jobs moved to their own modules.
from ..provenance import dataset_hashes as content_hashes  # noqa: E402,F401
from .render import VIEW_COLUMNS, as_lists, to_columns  # noqa: E402,F401
from .verify import _printable  # noqa: E402,F401


# --- worker processes: generate and verify a chunk, return it as columns ---------------------

_WORKER: dict = {}


def _init_worker(threads: Optional[int] = None, schema=None) -> None:
    if threads:  # one VM thread per process: the processes already use every core
        import numba

        numba.set_num_threads(threads)
    use_schema(schema)  # from the parent: importing ``datasets`` would cost a worker ~1 s
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


def _chunk(recipe: Recipe, split: str, start: int, stop: int, length: int) -> tuple:
    """Records ``start..stop`` of the chunk of ``length`` records at ``start`` (generated whole)."""
    _use_recipe(recipe)
    plan = _WORKER["plans"][split]
    # CPU time, not wall time: the measure must not depend on what else runs on the machine
    t0 = time.process_time()
    draws = Draws(chunk_seed(recipe.seed, split, start // CHUNK))
    tasks = generate_chunk(plan, recipe, draws, length)[:stop - start]
    cols, keys = chunk_columns(tasks, split, start, recipe.n_tests, recipe.trace_view)
    timings = {"generate": time.process_time() - t0}
    # Arrow conversion and hashing here, not in the parent: the parent is one process for all
    # workers, and an Arrow table crosses the process boundary far cheaper than Python columns
    t1 = time.process_time()
    table = columns_to_arrow(cols)
    timings["pack"] = time.process_time() - t1
    t2 = time.process_time()
    verify_columns(cols, recipe.fuel, timings, table)
    timings["verify"] = time.process_time() - t2
    t3 = time.process_time()
    # a held-out chunk changes in the parent (novelty, redraws), which hashes the final split
    digest = chunk_digest(table) if split == "train" else b""
    timings["pack"] += time.process_time() - t3
    return table, digest, keys, timings


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


def build(recipe: Recipe, workers: Optional[int] = None, limit: Optional[int] = None,
          progress: bool = True, pool=None) -> tuple:
    """Generate, verify and hold out every split; returns (DatasetDict, BuildInfo).

    ``workers > 1`` starts processes with ``spawn`` (safe next to Numba threads): a script that
    calls ``build`` must do so under ``if __name__ == "__main__":``. ``pool``: worker processes
    from ``worker_pool`` to use instead of starting ``workers`` (it is left open; pass its size
    as ``workers``, which the build info reports).
    """
    start = time.perf_counter()
    workers = max(1, workers or os.cpu_count() or 1)
    plans = make_plans(recipe)
    sizes = {s: min(recipe.splits[s].size, limit) if limit is not None else recipe.splits[s].size for s in SPLITS}
    info = BuildInfo(sizes=sizes, workers=workers,
                     families={s: [f.name for f in plans[s].families] for s in SPLITS})
    own_pool = pool is None and workers > 1  # a pool of ours is closed at the end
    if own_pool:
        pool = worker_pool(workers)
    elif pool is None:
        _init_worker(schema=features().arrow_schema)
    folder = transfer_folder() if pool else None
    try:
        tables, keys = _build_splits(recipe, plans, info, pool, folder, progress)
    finally:
        if own_pool:
            pool.shutdown(cancel_futures=True)  # after a failure, chunks not yet started are dropped
        if folder:
            shutil.rmtree(folder, ignore_errors=True)  # chunks a failure left unread
    _check_ood_family(recipe, tables, keys, info)
    info.hashes["all"] = whole_hash(info.hashes)
    dd = dataset_dict(tables, info.hashes)
    info.seconds = time.perf_counter() - start
    return dd, info


def _build_splits(recipe: Recipe, plans: dict, info: BuildInfo, pool, folder: Optional[str], progress: bool) -> tuple:
    """(tables, keys) per split, in ``SPLITS`` order, each split held out against those before it;
    ``info`` gets their hashes and held-out reports."""
    from tqdm import tqdm

    forbidden, train_programs, tables, keys = KeySet(), KeySet(), {}, {}
    ship = functools.partial(_generate_shipped, folder=folder)
    render = functools.partial(records_at, trace=recipe.trace_view)
    with tqdm(total=sum(info.sizes.values()), unit="rec", disable=not progress, desc="build") as bar:
        for split in SPLITS:
            jobs = chunk_jobs(recipe, split, info.sizes[split])
            chunks = pool.map(ship, jobs) if pool else map(_generate_chunk, jobs)
            redrawer = Redrawer(plans[split], recipe, forbidden, render, record_seed)
            tables[split], keys[split], digests = _collect(split, jobs, chunks, redrawer, train_programs, info, bar)
            info.hashes[split] = digests_hash(digests) if split == "train" else split_hash(tables[split])
            forbidden.add(keys[split][:, :N_FORBIDDEN])
            if split == "train":
                train_programs.add(keys[split][:, PROGRAM])
            else:
                _report(info, split, redrawer, tables[split])
    return tables, keys


def _check_ood_family(recipe: Recipe, tables: dict, keys: dict, info: BuildInfo) -> None:
    """No train family's program may solve an ood_family record (``ood_check``)."""
    if not len(tables["ood_family"]):
        return
    t0 = time.process_time()
    try:
        info.ood_check = check_ood_family(train_candidates(tables["train"], keys["train"][:, PROGRAM]),
                                          tables["ood_family"], recipe.fuel)
    except OodFamilyError as err:
        raise BuildError(str(err)) from None
    add_time(info.timings, "ood_check", time.process_time() - t0)


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
        add_time(info.timings, "main", time.process_time() - t0)
        for k, v in timings.items():
            add_time(info.timings, k, v)
        bar.update(job[3] - job[2])
    table = pa.concat_tables(parts) if parts else arrow_schema().empty_table()
    return table, np.concatenate(split_keys) if split_keys else np.zeros((0, len(KEYS)), np.uint64), digests


def _report(info: BuildInfo, split: str, redrawer: Redrawer, table) -> None:
    info.redrawn[split] = redrawer.redrawn
    info.dropped[split] = dict(sorted(redrawer.dropped.items()))
    info.exhausted[split] = ["/".join(map(str, g)) for g in redrawer.exhausted]
    counts = collections.Counter(table.column("novelty").to_pylist())
    info.novelty[split] = {"seen": counts.get("seen", 0), "novel": counts.get("novel", 0)}
