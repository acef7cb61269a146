"""Adversarial synthesis baselines: programs built from the prompt's examples, not from the task.

* ``lookup``: reads the input, compares it with the visible tests' inputs and prints the
  matching test's outputs, else the first test's outputs. It passes every visible test by
  construction, so the visible-only pass@1 of a benchmark is ~100% for it.
* ``constant``: prints the first visible test's outputs whatever the input.

Both are scored by the judge like any model's samples (:func:`cadmus.eval.score.score_samples`).
A headline pass@1 well above 0 for either means the hidden tests do not discriminate: the
benchmark would reward copying the prompt.

    cadmus eval baselines --data DIR --split test [--limit N] [--out DIR] [--fail-above 0.01]
"""
from __future__ import annotations

from typing import Sequence


def _outs(values) -> list:
    return [f"out {v}" for v in values]


def lookup_program(tests: Sequence[dict]) -> str:
    """A decision tree over the visible inputs, read one value at a time (``in`` only as far as
    some visible input goes, so a run never reads past a matching input)."""
    lines, labels = [], iter(range(10 ** 9))

    def node(candidates, depth):
        ended = [i for i in candidates if len(tests[i]["input"]) == depth]
        if ended:  # this input is fully read: no way to ask whether more follows
            lines.extend(_outs(tests[ended[0]]["output"]) + ["halt"])
            return
        lines.append("in a")
        by_value = {}
        for i in candidates:
            by_value.setdefault(tests[i]["input"][depth], []).append(i)
        for value, group in by_value.items():
            label = f"L{next(labels)}"
            lines.append(f"jne a {value} {label}")
            node(group, depth + 1)  # ends in halt; a still holds this depth's value at the label
            lines.append(f"{label}:")
        lines.extend(_outs(tests[0]["output"]) + ["halt"])  # no visible input matches

    node(list(range(len(tests))), 0)
    return "\n".join(lines)


def constant_program(tests: Sequence[dict]) -> str:
    """The first visible test's outputs, whatever the input."""
    return "\n".join(_outs(tests[0]["output"]) + ["halt"])


BASELINES = {"lookup": lookup_program, "constant": constant_program}


def baseline_rows(dd, prompts, name: str) -> list:
    """Sample rows (``samples.jsonl`` form) of baseline ``name`` on synthesis ``prompts``."""
    from .report import sample_row
    from .score import score_samples

    records = [dd[p.split][p.index] for p in prompts]
    programs = [BASELINES[name](r["tests"]) for r in records]
    verdicts = score_samples("synthesis", list(zip(records, programs)))
    return [sample_row(p, r, 0, prog, v) for p, r, prog, v in zip(prompts, records, programs, verdicts)]


def family_table(summaries: dict) -> str:
    """Markdown: per split and family, each baseline's headline and visible-only pass@1."""
    names = list(summaries)
    head = "| split / family | prompts | " + " | ".join(f"{n} headline | {n} visible only" for n in names) + " |\n"
    lines = [head, "|---|---:|" + "---:|---:|" * len(names) + "\n"]
    first = summaries[names[0]]
    for split, entry in first["splits"].items():
        groups = [("all", entry["prompts"])] + [(f, m["prompts"]) for f, m in entry["by_family"].items()]
        for fam, prompts in groups:
            cells = []
            for n in names:
                e = summaries[n]["splits"][split]
                m = {**e["metrics"], "visible": e["metrics_visible"]} if fam == "all" else e["by_family"][fam]
                cells.append(f"{m['pass@1']:.3f} | {m['visible']['pass@1']:.3f}")
            lines.append(f"| {split} / {fam} | {prompts} | " + " | ".join(cells) + " |\n")
    return "".join(lines)
