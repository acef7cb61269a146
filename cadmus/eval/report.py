"""Per-sample results -> ``samples.jsonl``, ``summary.json``, ``results.md``, ``accuracy_by_difficulty.png``.

A sample row (one line of ``samples.jsonl``) holds ``id`` (the prompt's record id),
``split``, ``family``, ``level``, ``novelty`` (``seen``/``novel``: whether the record's answer
program occurs in train under renaming; empty in train and in datasets built before the
column), ``sample_index``, ``sample``, ``status``, ``passed`` (the headline: for synthesis and
repair, the visible *and* the hidden tests), ``passed_visible`` (synthesis/repair: the tests
shown in the prompt only; else null), ``reason`` and, for repair, ``round``.

pass@k is computed per prompt from ``(n, c)`` and averaged (:mod:`cadmus.eval.passk`);
breakdowns per split, family, difficulty level and novelty use the same rule. The headline is
``passed``; where a suite has visible tests, every entry also carries the visible-only
pass@k (``metrics_visible`` / ``visible``), a secondary number: a look-up table of the prompt's
examples passes it.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Sequence

from .passk import mean_pass_at_k

VISIBLE = "passed_visible"
HEADLINE_NOTE = ("pass@k counts a sample only if it passes every test: for synthesis and repair, the visible tests "
                 "of the prompt and the hidden ones; \"visible only\" counts the prompt's tests alone.")


def sample_row(prompt, record: dict, j: int, sample, verdict: dict) -> dict:
    """One line of ``samples.jsonl``: the prompt's keys, the record's family, level and novelty, the
    judge's verdict (datasets built before the ``novelty`` column give "")."""
    return {"id": prompt.id, "split": prompt.split, "family": record["family"],
            "level": record["difficulty"]["level"], "novelty": record.get("novelty") or "",
            "sample_index": j, "sample": sample, **verdict}


def per_prompt(rows: Sequence[dict], field: str = "passed") -> dict:
    """``(split, id) -> [n, c]`` over the rows (``field`` chooses which verdict counts)."""
    counts = {}
    for row in rows:
        nc = counts.setdefault((row["split"], row["id"]), [0, 0])
        nc[0] += 1
        nc[1] += bool(row.get(field))
    return counts


def _metrics(rows, ks, field="passed") -> dict:
    return mean_pass_at_k([tuple(v) for v in per_prompt(rows, field).values()], ks)


def has_visible(rows) -> bool:
    """Whether the rows carry a visible-only verdict (synthesis and repair)."""
    return any(r.get(VISIBLE) is not None for r in rows)


def _entry(rows, ks, visible: bool) -> dict:
    out = {**_metrics(rows, ks), "prompts": len(per_prompt(rows))}
    if visible:
        out["visible"] = _metrics(rows, ks, VISIBLE)
    return out


def _grouped(rows, key, ks, visible) -> dict:
    groups = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return {name: _entry(g, ks, visible) for name, g in sorted(groups.items())}


def novelty(row) -> str:
    return row.get("novelty") or ""


def summarize(rows: Sequence[dict], ks: Sequence[int]) -> dict:
    """pass@k overall and per split; per split also per family, difficulty level, family x level and
    (held-out splits of datasets that tag it) novelty; status counts, TOO_LONG prompts apart."""
    visible = has_visible(rows)
    out = {"metrics": _metrics(rows, ks), "prompts": len(per_prompt(rows)), "samples": len(rows),
           "headline": HEADLINE_NOTE,
           "status_counts": dict(Counter(r["status"] for r in rows).most_common()), "splits": {}}
    if visible:
        out["metrics_visible"] = _metrics(rows, ks, VISIBLE)
    for split in dict.fromkeys(r["split"] for r in rows):
        mine = [r for r in rows if r["split"] == split]
        entry = {"metrics": _metrics(mine, ks), "prompts": len(per_prompt(mine)),
                 "too_long": len({r["id"] for r in mine if r["status"] == "TOO_LONG"}),
                 "status_counts": dict(Counter(r["status"] for r in mine).most_common()),
                 "by_family": _grouped(mine, lambda r: r["family"], ks, visible),
                 "by_level": _grouped(mine, lambda r: f"level {r['level']}", ks, visible),
                 "by_family_level": _grouped(mine, lambda r: f"{r['family']} level {r['level']}", ks, visible)}
        if visible:
            entry["metrics_visible"] = _metrics(mine, ks, VISIBLE)
        if any(novelty(r) for r in mine):
            entry["by_novelty"] = _grouped(mine, lambda r: novelty(r) or "untagged", ks, visible)
        out["splits"][split] = entry
    return out


def _cells(m: dict, ks, visible: bool) -> str:
    cells = [f"{m[k]:.3f}" for k in ks]
    if visible:
        cells += [f"{m['visible'][k]:.3f}" for k in ks]
    return " | ".join(cells)


def _table(title: str, ks, visible: bool, rows: list) -> list:
    """A markdown table: ``rows`` are (label, prompts, metrics with ``visible`` inside)."""
    head = f"| {title} | prompts | " + " | ".join(ks)
    if visible:
        head += " | " + " | ".join(f"visible only {k}" for k in ks)
    n = len(ks) * (2 if visible else 1)
    lines = [head + " |\n", "|---|---:|" + "---:|" * n + "\n"]
    lines += [f"| {label} | {prompts} | {_cells(m, ks, visible)} |\n" for label, prompts, m in rows]
    return lines


def markdown_table(summary: dict) -> str:
    """One row per split (headline pass@k, then visible-only where it applies), then per split x
    novelty, per split x difficulty level and per split x family."""
    ks = list(summary["metrics"])
    visible = "metrics_visible" in summary
    splits = summary["splits"]
    config = summary["config"]
    lines = [f"# Cadmus eval: suite `{config['suite']}`, model `{config.get('model')}`\n\n"]
    if visible:
        lines.append(summary.get("headline", HEADLINE_NOTE) + "\n\n")
    lines += _table("split", ks, visible, [(s, e["prompts"], {**e["metrics"], "visible": e.get("metrics_visible")})
                                            for s, e in splits.items()])
    novel = [(f"{s} / {name}", m["prompts"], m) for s, e in splits.items() for name, m in e.get("by_novelty", {}).items()]
    if novel:
        lines += ["\n"] + _table("split / novelty", ks, visible, novel)
    lines += ["\n"] + _table("split / difficulty", ks, visible, [(f"{s} / {lv}", m["prompts"], m)
                                                                  for s, e in splits.items()
                                                                  for lv, m in e["by_level"].items()])
    lines += ["\n"] + _table("split / family", ks, visible, [(f"{s} / {fam}", m["prompts"], m)
                                                              for s, e in splits.items()
                                                              for fam, m in e["by_family"].items()])
    if "by_round" in summary:
        lines.append("\n| repair round | " + " | ".join(ks) + " |\n|---|" + "---:|" * len(ks) + "\n")
        for rnd, m in summary["by_round"].items():
            lines.append(f"| {rnd} | " + " | ".join(f"{m[k]:.3f}" for k in ks) + " |\n")
    notes = [f"{s}: {e['too_long']} of {e['prompts']} prompts do not fit the model's context (scored as failures, "
             "status TOO_LONG)" for s, e in splits.items() if e.get("too_long")]
    if config.get("preamble_text"):
        notes.append("every prompt began with the DSL preamble (summary.json: config.preamble_text)")
    if notes:
        lines.append("\n" + "".join(f"- {note}\n" for note in notes))
    return "".join(lines)


def plot_by_difficulty(summary: dict, path: Path) -> None:
    """Bars of pass@1 per difficulty level, one bar per split side by side (IID vs OOD)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = next(iter(summary["metrics"]))
    splits = list(summary["splits"])
    levels = sorted({lv for e in summary["splits"].values() for lv in e["by_level"]})
    width = 0.8 / max(1, len(splits))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.5 + 1.5 * len(levels)), 3.5))
    for j, split in enumerate(splits):
        values = [summary["splits"][split]["by_level"].get(lv, {}).get(metric, float("nan")) for lv in levels]
        bars = ax.bar([i + j * width for i in range(len(levels))], values, width, label=split)
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
    ax.set_xticks([i + width * (len(splits) - 1) / 2 for i in range(len(levels))], levels)
    ax.set_ylim(0, 1)
    ax.set_ylabel(metric)
    ax.set_title(f"{summary['config']['suite']}: {metric} by difficulty", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_outputs(out: Path, rows: Sequence[dict], summary: dict, plot: bool = True) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "samples.jsonl", "w") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "results.md").write_text(markdown_table(summary))
    if plot and summary["splits"]:
        plot_by_difficulty(summary, out / "accuracy_by_difficulty.png")
