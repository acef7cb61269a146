"""Per-sample results -> ``samples.jsonl``, ``summary.json``, ``results.md``, ``accuracy_by_difficulty.png``.

A sample row (one line of ``samples.jsonl``) holds ``id`` (the prompt's record id),
``split``, ``family``, ``level``, ``sample_index``, ``sample``, ``status``, ``passed``,
``passed_challenge`` (synthesis: the challenge tests as well; else null), ``reason`` and, for
repair, ``round``. pass@k is computed per prompt from ``(n, c)`` and averaged
(:mod:`cadmus.eval.passk`); breakdowns per split, family and difficulty level use the same rule.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Sequence

from .passk import mean_pass_at_k


def per_prompt(rows: Sequence[dict], field: str = "passed") -> dict:
    """``(split, id) -> [n, c]`` over the rows (``field`` chooses which verdict counts)."""
    counts = {}
    for row in rows:
        nc = counts.setdefault((row["split"], row["id"]), [0, 0])
        nc[0] += 1
        nc[1] += bool(row[field])
    return counts


def _metrics(rows, ks, field="passed") -> dict:
    return mean_pass_at_k([tuple(v) for v in per_prompt(rows, field).values()], ks)


def _grouped(rows, key, ks) -> dict:
    groups = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return {name: {**_metrics(g, ks), "prompts": len(per_prompt(g))} for name, g in sorted(groups.items())}


def summarize(rows: Sequence[dict], ks: Sequence[int]) -> dict:
    """pass@k overall, per split, and per split x family, split x difficulty level and split x family x
    level; status counts."""
    out = {"metrics": _metrics(rows, ks), "prompts": len(per_prompt(rows)), "samples": len(rows),
           "status_counts": dict(Counter(r["status"] for r in rows).most_common()), "splits": {}}
    if any(r.get("passed_challenge") is not None for r in rows):
        out["metrics_challenge"] = _metrics(rows, ks, "passed_challenge")
    for split in dict.fromkeys(r["split"] for r in rows):
        mine = [r for r in rows if r["split"] == split]
        entry = {"metrics": _metrics(mine, ks), "prompts": len(per_prompt(mine)),
                 "too_long": len({r["id"] for r in mine if r["status"] == "TOO_LONG"}),
                 "by_family": _grouped(mine, lambda r: r["family"], ks),
                 "by_level": _grouped(mine, lambda r: f"level {r['level']}", ks),
                 "by_family_level": _grouped(mine, lambda r: f"{r['family']} level {r['level']}", ks)}
        if "metrics_challenge" in out:
            entry["metrics_challenge"] = _metrics(mine, ks, "passed_challenge")
        out["splits"][split] = entry
    return out


def markdown_table(summary: dict) -> str:
    """One row per split (pass@k), then per split x difficulty level."""
    ks = list(summary["metrics"])
    head = "| split | prompts | " + " | ".join(ks) + " |\n|---|---:|" + "---:|" * len(ks) + "\n"
    notes = [f"{s}: {e['too_long']} of {e['prompts']} prompts do not fit the model's context (scored as failures)"
             for s, e in summary["splits"].items() if e.get("too_long")]
    lines = [f"# Cadmus eval: suite `{summary['config']['suite']}`, model `{summary['config'].get('model')}`\n\n", head]
    for split, entry in summary["splits"].items():
        lines.append(f"| {split} | {entry['prompts']} | " + " | ".join(f"{entry['metrics'][k]:.3f}" for k in ks) + " |\n")
        if "metrics_challenge" in entry:
            lines.append(f"| {split} (challenge tests) | {entry['prompts']} | "
                         + " | ".join(f"{entry['metrics_challenge'][k]:.3f}" for k in ks) + " |\n")
    lines.append("\n" + head.replace("| split |", "| split / difficulty |"))
    for split, entry in summary["splits"].items():
        for level, m in entry["by_level"].items():
            lines.append(f"| {split} / {level} | {m['prompts']} | " + " | ".join(f"{m[k]:.3f}" for k in ks) + " |\n")
    if "by_round" in summary:
        lines.append("\n| repair round | " + " | ".join(ks) + " |\n|---|" + "---:|" * len(ks) + "\n")
        for rnd, m in summary["by_round"].items():
            lines.append(f"| {rnd} | " + " | ".join(f"{m[k]:.3f}" for k in ks) + " |\n")
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
