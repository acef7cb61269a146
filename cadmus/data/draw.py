"""Which tasks a split's records are: per split a plan of families, seeds fixed by (seed, split,
chunk) or (seed, split, record, attempt), and chunks of tasks drawn family by family.

A chunk of ``CHUNK`` records is always drawn whole (``--limit`` keeps a prefix of it), so the data
does not depend on the number of worker processes (see :mod:`cadmus.data.builder`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..families import get as get_family
from ..families.base import Draws
from ..provenance import HASH_CHUNK
from .recipe import SPLITS, Recipe, RecipeError

SPLIT_IDS = {name: i for i, name in enumerate(SPLITS)}
CHUNK = HASH_CHUNK  # records per work item (never affects the data); a worker digests its chunk for the hash


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


def chunk_jobs(recipe: Recipe, split: str, size: int) -> list:
    """(recipe, split, start, stop, length) per chunk: records ``start..stop`` of a chunk of
    ``length`` (a chunk of the full split is generated whole, so that ``--limit`` keeps a prefix)."""
    full_size = recipe.splits[split].size
    return [(recipe, split, s, min(s + CHUNK, size), min(CHUNK, full_size - s)) for s in range(0, size, CHUNK)]
