"""Repair: show the model the VM's verdict on its failed synthesis sample and sample again.

Each of the ``n`` samples of a prompt is a chain. Round 0 is plain synthesis; in round
``r`` every chain that has not passed yet gets one new sample for the prompt
:func:`repair_prompt` (the original prompt, the failed program, the judge's verdict as a
comment: status, failing visible test, expected vs got; a failure on hidden tests only is a
count, never their values, so hidden tests stay out of every prompt). A chain passes on the
headline verdict (visible and hidden tests, :mod:`cadmus.judge`); pass@k by round counts a
chain as passed once any of its rounds passed: the automated analogue of MBPP's
human-feedback experiment.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

from ..judge import score_samples
from .passk import mean_pass_at_k

FEEDBACK_HEADER = "# vm: "
FIX_LINE = "# fixed program:\n"


def repair_prompt(prompt: str, sample: str, reason: str) -> str:
    """The prompt for the next round: prompt, the failed sample, the judge's reason, a cue."""
    return f"{prompt}{(sample or '').rstrip(chr(10))}\n{FEEDBACK_HEADER}{reason}\n{FIX_LINE}"


def judge_repairs(items: Sequence[tuple]) -> list:
    """The judge's verdicts on ``(record, sample)`` pairs of the repair suite."""
    return score_samples("repair", items)


def run_repair(prompt_texts: Sequence[str], records: Sequence[dict], first: Sequence[list], rounds: int,
               generate: Callable, score: Optional[Callable] = None) -> list:
    """Rows of every round (``round`` field set), starting from ``first[i]``: the scored rows of
    prompt ``i`` (dicts with ``sample``, ``passed``, ``reason``).

    ``generate(texts)`` returns one sample per text; ``score([(record, sample), ...])``
    returns one verdict dict per pair (default :func:`judge_repairs`)."""
    score = score or judge_repairs
    rows = [dict(r, round=0) for chain in first for r in chain]
    last = {(i, j): r for i, chain in enumerate(first) for j, r in enumerate(chain)}
    for rnd in range(1, rounds + 1):
        todo = [key for key, r in last.items() if not r["passed"]]
        if not todo:
            break
        texts = [repair_prompt(prompt_texts[i], last[(i, j)]["sample"], last[(i, j)]["reason"]) for i, j in todo]
        samples = generate(texts)
        verdicts = score([(records[i], s) for (i, _), s in zip(todo, samples)])
        for key, sample, verdict in zip(todo, samples, verdicts):
            row = {**last[key], **verdict, "sample": sample, "round": rnd}
            rows.append(row)
            last[key] = row
    return rows


def pass_at_k_by_round(rows: Sequence[dict], rounds: int, ks: Sequence[int]) -> dict:
    """``{"round r": {"pass@k": ...}}``: a chain counts as passed from the round it first passed."""
    first_pass = {}
    n = {}
    for row in rows:
        prompt = (row["split"], row["id"])
        chain = (prompt, row["sample_index"])
        if row["round"] == 0:
            n[prompt] = n.get(prompt, 0) + 1
        if row["passed"]:
            first_pass[chain] = min(first_pass.get(chain, rounds + 1), row["round"])
    out = {}
    for rnd in range(rounds + 1):
        counts = []
        for prompt, total in n.items():
            c = sum(1 for (p, _), r in first_pass.items() if p == prompt and r <= rnd)
            counts.append((total, c))
        out[f"round {rnd}"] = mean_pass_at_k(counts, ks)
    return out
