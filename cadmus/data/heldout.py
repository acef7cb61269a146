"""Held-out splits by question: the keys that say "same task", redraws inside a record's family,
variant and level, domains that run out, and novelty tags.

Keys (64-bit xxh3 of canonical texts, ``cadmus.canonical``), six per record, in ``KEYS`` order:
the canonical full text of each view (completion, synthesis, execution, trace; 0 when a view
is empty), the record's *question* (family, variant, first visible input, canonical program: what
its completion and execution prompts ask) and its canonical bare program (for ``novelty``).
A held-out record may share none of the first five with an earlier split. Two texts with one
64-bit key (odds about 1e-8 at a million records) cost an unneeded redraw or a wrong "seen";
the audit recounts from the texts themselves.

A held-out record that does is redrawn from its own generators (seeded by split, index and
batch) inside its family, variant and level, so the split keeps the family/variant/level
mix its recipe draws. A redraw must also differ from the keys of the records kept before it
in its split: redraws do not pile onto the few questions a small domain has left. When a
(family, variant, level) has failed ``max_attempts`` redraws in a row, or ``TOTAL_FAILURES``
times ``max_attempts`` in all (``Redrawer.replace`` says what counts as one), its domain is *exhausted*: that record and every later one of
the group are dropped (counted in ``BuildInfo``, the audit and the card), never filled with
repeats. Records are handled in index order, so all of this is deterministic.
"""
from __future__ import annotations

from collections import Counter
from typing import Optional

import numpy as np
import xxhash

from ..canonical import canonical_programs
from ..families import get as get_family
from ..families.base import Draws

KEYS = ("completion", "synthesis", "execution", "trace", "question", "program")
VIEW_KEYS = 4  # the views' keys come first
N_FORBIDDEN = 5  # the first five keys: a held-out record may share none with an earlier split
PROGRAM = KEYS.index("program")
SEED = {name: i for i, name in enumerate(KEYS)}  # each kind of key hashes with its own seed
CANDIDATES = 4  # tasks of the record's variant generated per batch of redraws (those of its level are tried)
TOTAL_FAILURES = 10  # a group's failed redraws in all, in units of max_attempts
NOVELTY = ("novel", "seen")


def digest(text: str, kind: str) -> int:
    """The 64-bit key of ``text`` as a ``kind`` key (never 0: 0 marks an empty view)."""
    return xxhash.xxh3_64_intdigest(text.encode(), SEED[kind]) or 1


def question_text(family: str, variant: str, first_input: str, canonical: str) -> str:
    """The text hashed as a record's question (``canonical.question_key`` as one string;
    ``first_input`` is the first visible input's values joined by spaces)."""
    return f"{family}\n{variant}\n{first_input}\n{canonical}"


def record_keys(rec: dict) -> list:
    """The six keys of a record dict (the reference of ``builder.chunk_columns``'s keys): each
    view's full text and the program canonicalised on their own (``canonical_view``)."""
    texts = [rec[f"{v}_prompt"] + rec[f"{v}_target"] for v in KEYS[:VIEW_KEYS]]
    *views, program = canonical_programs([*texts, rec["program"]])
    first = " ".join(map(str, rec["tests"][0]["input"]))
    return [*(digest(c, v) if t else 0 for c, t, v in zip(views, texts, KEYS)),
            digest(question_text(rec["family"], rec["variant"], first, program), "question"),
            digest(program, "program")]


class KeySet:
    """A growing set of 64-bit keys as one sorted numpy array (a Python set of millions of
    keys would cost ~100 bytes each)."""

    def __init__(self):
        self.keys = np.zeros(0, np.uint64)

    def add(self, keys: np.ndarray) -> None:
        keys = np.asarray(keys, np.uint64).ravel()
        self.keys = np.union1d(self.keys, keys[keys != 0])

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Elementwise membership (0, an empty view, is never a member)."""
        keys = np.asarray(keys, np.uint64)
        if not len(self.keys):
            return np.zeros(keys.shape, bool)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return (self.keys[at] == keys) & (keys != 0)

    def __len__(self) -> int:
        return len(self.keys)


class Redrawer:
    """Fresh records for the held-out records of one split that repeat an earlier split."""

    def __init__(self, plan, recipe, forbidden: KeySet, render, record_seed):
        # render(tasks, split, index, n_tests): (record, keys) of each, every one with record index's id
        self.plan, self.recipe, self.forbidden = plan, recipe, forbidden
        self.render, self.record_seed = render, record_seed
        self.kept = set()  # keys (first five) of the split's records kept so far
        self.in_a_row = Counter()  # group -> failed redraws since its last success
        self.failures = Counter()  # group -> failed redraws in all
        self.exhausted = []  # groups in the order they ran out
        self.redrawn = 0
        self.dropped = Counter()  # "family/variant/level" -> records dropped

    def keep(self, keys) -> None:
        """Record the keys of a record kept in the split (a later redraw must differ from them)."""
        self.kept.update(int(k) for k in keys[:N_FORBIDDEN] if k)

    def keep_all(self, keys: np.ndarray) -> None:
        self.kept.update(keys[:, :N_FORBIDDEN].ravel().tolist())
        self.kept.discard(0)

    def fresh(self, keys: list) -> bool:
        head = keys[:N_FORBIDDEN]
        return not self.forbidden.contains(np.asarray(head, np.uint64)).any() and not any(k in self.kept for k in head)

    def replace(self, index: int, family: str, variant: str, level: int) -> Optional[tuple]:
        """(record, keys) of the first fresh redraw of record ``index``, or None once its group's
        domain is exhausted (the record is then dropped). Redraws come in batches (one generator
        per batch, seeded by the record's index and the batch number); every candidate of the
        record's level is an attempt, and so is a batch without one."""
        group = (family, variant, level)
        batch = 0
        while group not in self.exhausted:
            batch += 1
            for rec, keys in self._candidates(index, batch, family, variant, level) or [(None, None)]:
                if keys is not None and self.fresh(keys):
                    self.in_a_row[group] = 0
                    self.redrawn += 1
                    self.keep(keys)
                    return rec, keys
                if self._failed(group):
                    break
        self.dropped["/".join(map(str, group))] += 1
        return None

    def _failed(self, group: tuple) -> bool:
        """Count a failed attempt of ``group``; whether its domain is now exhausted."""
        limit = self.recipe.max_attempts
        self.in_a_row[group] += 1
        self.failures[group] += 1
        if self.in_a_row[group] >= limit or self.failures[group] >= TOTAL_FAILURES * limit:
            self.exhausted.append(group)
            return True
        return False

    def _candidates(self, index: int, batch: int, family: str, variant: str, level: int) -> list:
        """(record, keys) of the candidates of one batch of redraws that have the family, variant
        and level."""
        recipe, plan = self.recipe, self.plan
        draws = Draws(self.record_seed(recipe.seed, plan.split, index, batch))
        tasks = get_family(family).generate(draws, plan.params, recipe.n_tests + recipe.n_challenge, CANDIDATES,
                                            variant=variant, n_visible=recipe.n_tests)
        return self.render([t for t in tasks if t.level == level], plan.split, index, recipe.n_tests)


def novelty(program_keys: np.ndarray, train_programs: KeySet) -> list:
    """"seen" where the canonical program occurs in train, else "novel"."""
    return [NOVELTY[s] for s in train_programs.contains(program_keys).tolist()]
