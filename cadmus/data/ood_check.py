"""The ood_family check: no program of a training family solves an ood_family record.

ood_family is the synthesis generalisation test: its families are never trained on. If a
train family's program passes an ood_family record's tests (``gcd`` on ``gcd_recursive``), that
record measures recall, not generalisation, and the build stops (``OodFamilyError``).

Candidates are the distinct canonical programs of the training data, at most ``per_group`` per
(family, variant), the first in index order: every program of a template family (one per
variant once registers are renamed), a sample of the parametric, ``arith`` and ``random``
ones. They run on at most ``per_group`` records of each ood_family (family, variant), first on
each record's first visible test, in one batched VM run; a (program, record) pair that passes it
runs on all the record's tests, visible and hidden; one that passes them all is a hit.
"""
from __future__ import annotations

import numpy as np

from ..canonical import canonical_program
from ..judge import outputs_match

PER_GROUP = 32  # candidate programs per train (family, variant), and checked records per ood one


class OodFamilyError(RuntimeError):
    """A train family's program solves an ood_family record (the message names both)."""


def _first_per_group(groups: list, keys, per_group: int) -> list:
    """Rows (in index order) of the first ``per_group`` distinct ``keys`` of each group (keys
    None: the first ``per_group`` rows of each group)."""
    taken, seen, rows = {}, set(), []
    for row, group in enumerate(groups):
        if taken.get(group, 0) >= per_group:
            continue
        if keys is not None:
            key = (group, int(keys[row]))
            if key in seen:
                continue
            seen.add(key)
        taken[group] = taken.get(group, 0) + 1
        rows.append(row)
    return rows


def train_candidates(table, program_keys: np.ndarray, per_group: int = PER_GROUP) -> list:
    """(family, variant, canonical program) of the candidates from a train split's table and its
    records' program keys."""
    groups = list(zip(table.column("family").to_pylist(), table.column("variant").to_pylist()))
    rows = _first_per_group(groups, program_keys, per_group)
    programs = table.column("program").take(rows).to_pylist()
    return [(*groups[r], canonical_program(p)) for r, p in zip(rows, programs)]


def _runs(programs: list, pairs: list, cases: list):
    """(program_index, flat inputs, input offsets, want lengths, flat wanted outputs) of running
    program ``p`` on every case of ``cases[r]`` for each pair ``(p, r)``."""
    prog, ins, outs = [], [], []
    for p, r in pairs:
        for inputs, outputs in cases[r]:
            prog.append(p)
            ins.append(inputs)
            outs.append(outputs)
    in_len = np.fromiter(map(len, ins), np.int64, len(ins))
    offsets = np.zeros(len(ins) + 1, np.int64)
    np.cumsum(in_len, out=offsets[1:])
    flat_in = np.fromiter((v for x in ins for v in x), np.int64, int(in_len.sum()))
    want_len = np.fromiter(map(len, outs), np.int64, len(outs))
    flat_out = np.fromiter((v for x in outs for v in x), np.int64, int(want_len.sum()))
    return np.asarray(prog, np.int64), flat_in, offsets, want_len, flat_out


def _passed(programs: list, pairs: list, cases: list, fuel: int) -> np.ndarray:
    """Per pair (program, record): whether the program passes every case of the record."""
    import cadmus

    if not pairs:
        return np.zeros(0, bool)
    prog, flat_in, offsets, want_len, want = _runs(programs, pairs, cases)
    res = cadmus.run_batch(programs, inputs=flat_in, input_offsets=offsets, program_index=prog, fuel=fuel,
                           outputs_per_program=16)
    ok = outputs_match(res, want_len, want)
    runs_per_pair = np.fromiter((len(cases[r]) for _, r in pairs), np.int64, len(pairs))
    pair_of_run = np.repeat(np.arange(len(pairs)), runs_per_pair)
    failed = np.zeros(len(pairs), bool)
    failed[pair_of_run[~ok]] = True
    return ~failed


def check_ood_family(candidates: list, ood_table, fuel: int, per_group: int = PER_GROUP) -> dict:
    """Raise :class:`OodFamilyError` if a candidate (``train_candidates``) passes every test of an
    ood_family record; else return what was checked."""
    n = len(ood_table)
    report = {"candidates": len(candidates), "records": 0, "runs": 0, "screened_pairs": 0, "hits": 0}
    if not n or not candidates:
        return report
    groups = list(zip(ood_table.column("family").to_pylist(), ood_table.column("variant").to_pylist()))
    rows = _first_per_group(groups, None, per_group)
    sample = ood_table.take(rows)
    ids = sample.column("id").to_pylist()
    cases = [[(t["input"], t["output"]) for t in [*visible, *hidden]]
             for visible, hidden in zip(sample.column("tests").to_pylist(), sample.column("challenge_tests").to_pylist())]
    programs = [c[2] for c in candidates]
    first = [cs[:1] for cs in cases]
    pairs = [(p, r) for p in range(len(programs)) for r in range(len(rows))]
    screened = [pair for pair, ok in zip(pairs, _passed(programs, pairs, first, fuel)) if ok]
    solved = [pair for pair, ok in zip(screened, _passed(programs, screened, cases, fuel)) if ok]
    report.update(records=len(rows), runs=len(pairs) + sum(len(cases[r]) for _, r in screened),
                  screened_pairs=len(screened), hits=len(solved))
    if solved:
        lines = [f"  {candidates[p][0]}/{candidates[p][1]} solves {ids[r]} ({groups[rows[r]][0]}/{groups[rows[r]][1]})"
                 for p, r in solved[:10]]
        p, r = solved[0]
        raise OodFamilyError(
            f"{len(solved)} (train program, ood_family record) pairs pass every test of the record, so ood_family "
            f"does not test generalisation to unseen families (held_out_families: choose families no train "
            f"family reproduces):\n" + "\n".join(lines) + f"\nfirst such program ({candidates[p][0]}):\n"
            f"{candidates[p][2]}")
    return report
