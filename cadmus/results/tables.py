"""Markdown tables of eval results: per suite, the splits (with seen/novel), then family x level per split.

Every function takes a list of ``label -> Eval`` dicts, one per seed of an experiment: one seed
gives plain numbers, several give "mean / worst" in each cell. The model card of a pushed model
(:func:`cadmus.hub.model_card`) uses :func:`suite_sections` for its one run.
"""
from __future__ import annotations

import re
from statistics import mean

LEVEL = re.compile(r"^(.*) level (\d+)$")


def cell(values: list) -> str:
    """One number, or ``mean / worst`` over seeds; ``-`` where no seed has the entry."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{mean(values):.3f} / {min(values):.3f}"


def metric(entry, name: str, visible: bool = False):
    """A pass@k of a split entry (``metrics``/``metrics_visible``) or of a breakdown entry (inline/``visible``)."""
    if entry is None:
        return None
    if visible:
        source = entry.get("metrics_visible") if "metrics" in entry else entry.get("visible")
    else:
        source = entry.get("metrics", entry)
    return (source or {}).get(name)


def family_levels(entries: list) -> tuple:
    """``(families, levels)`` over the ``by_family_level`` keys of the entries, sorted."""
    families, levels = set(), set()
    for entry in entries:
        for key in (entry or {}).get("by_family_level", {}):
            match = LEVEL.match(key)
            if match:
                families.add(match.group(1))
                levels.add(int(match.group(2)))
    return sorted(families), sorted(levels)


def family_level_table(entries: list, name: str) -> str:
    """Rows: families, then ``all``; columns: each level, then ``all`` and the family's prompts."""
    present = [e for e in entries if e]
    if not present:
        return "(no prompts)\n"
    families, levels = family_levels(present)
    head = "| family | " + " | ".join(f"level {lv}" for lv in levels) + " | all | prompts |\n"
    lines = [head, "|---|" + "---:|" * (len(levels) + 2) + "\n"]
    for fam in families:
        cells = [cell([metric(e["by_family_level"].get(f"{fam} level {lv}"), name) for e in present]) for lv in levels]
        prompts = present[0]["by_family"].get(fam, {}).get("prompts", "-")
        cells += [cell([metric(e["by_family"].get(fam), name) for e in present]), str(prompts)]
        lines.append(f"| {fam} | " + " | ".join(cells) + " |\n")
    cells = [cell([metric(e["by_level"].get(f"level {lv}"), name) for e in present]) for lv in levels]
    cells += [cell([metric(e, name) for e in present]), str(present[0]["prompts"])]
    lines.append("| **all prompts** | " + " | ".join(cells) + " |\n")
    columns = [(f"{{}} level {lv}", "by_family_level") for lv in levels] + [("{}", "by_family")]
    per_column = [[_family_values(e, key, group, name) for e in present] for key, group in columns]
    lines.append("| **mean over families** | " + " | ".join(
        cell([mean(vs) if vs else None for vs in col]) for col in per_column) + " | |\n")
    lines.append(f"| **families with {name} > 0** | " + " | ".join(
        count_cell([sum(v > 0 for v in vs) for vs in col]) for col in per_column) + " | |\n")
    return "".join(lines)


def _family_values(entry, key: str, group: str, name: str) -> list:
    """The metric of every family present in ``entry[group]`` under ``key`` (e.g. ``"{} level 1"``)."""
    values = []
    for label, m in entry.get(group, {}).items():
        match = LEVEL.match(label) if group == "by_family_level" else None
        fam = match.group(1) if match else label
        if label == key.format(fam) and metric(m, name) is not None:
            values.append(metric(m, name))
    return values


def count_cell(counts: list) -> str:
    if len(counts) == 1:
        return str(counts[0])
    return f"{mean(counts):.1f} / {min(counts)}"


def split_table(evs: list) -> str:
    """Rows: each split, then its seen / novel prompts; columns: every pass@k, then visible only."""
    ks, visible = evs[0].ks, any(e.visible for e in evs)
    head = "| split | prompts | " + " | ".join(ks)
    if visible:
        head += " | " + " | ".join(f"visible only {k}" for k in ks)
    lines = [head + " |\n", "|---|---:|" + "---:|" * (len(ks) * (2 if visible else 1)) + "\n"]
    for split in dict.fromkeys(s for e in evs for s in e.splits):
        entries = [e.splits.get(split) for e in evs]
        rows = [(split, entries)]
        tags = dict.fromkeys(t for en in entries if en for t in en.get("by_novelty", {}))
        rows += [(f"{split} / {tag}", [(en or {}).get("by_novelty", {}).get(tag) for en in entries]) for tag in tags]
        for label, group in rows:
            first = next((g for g in group if g), None)
            cells = [cell([metric(g, k) for g in group]) for k in ks]
            if visible:
                cells += [cell([metric(g, k, visible=True) for g in group]) for k in ks]
            lines.append(f"| {label} | {first['prompts'] if first else '-'} | " + " | ".join(cells) + " |\n")
    return "".join(lines)


def suite_sections(per_seed: list, heading: str = "###") -> str:
    """For each suite (eval label) present in any seed: its split table, then a family x level table
    per split, and per split with both seen and novel prompts a family x level table of the novel ones."""
    labels = list(dict.fromkeys(label for evals in per_seed for label in evals))
    seeds = len(per_seed)
    out = []
    for label in labels:
        evs = [evals[label] for evals in per_seed if label in evals]
        name = evs[0].headline_metric()
        note = (f" ({len(evs)} seeds: mean / worst)" if len(evs) > 1 else
                f" (1 of {seeds} seeds)" if seeds > 1 else "")
        out.append(f"{heading} {label}{note}\n\n{split_table(evs)}\n")
        for split in dict.fromkeys(s for e in evs for s in e.splits):
            entries = [e.splits.get(split) for e in evs]
            out.append(f"{heading}# {label}, {split}: {name} by family and level\n\n"
                       f"{family_level_table(entries, name)}\n")
            tags = {t for en in entries if en for t in en.get("by_novelty", {})}
            if {"seen", "novel"} <= tags:
                novel = [e.novelty_entry(split, "novel") for e in evs]
                if any(novel):
                    out.append(f"{heading}# {label}, {split}, novel prompts only: {name} by family and level\n\n"
                               f"{family_level_table(novel, name)}\n")
    return "".join(out)
