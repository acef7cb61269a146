"""The results page: ``OUT/results.md`` and its PNGs in ``OUT/results/``, from groups of runs."""
from __future__ import annotations

import re
import time
from pathlib import Path

from .plots import by_level, learning_curves
from .tables import cell, metric, suite_sections

ASSETS = "results"  # PNG folder next to results.md (ours: its PNGs are rewritten each time)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "run"


def machine_text(machine) -> str:
    if not machine:
        return "not recorded"
    parts = [machine.get("processor"), machine.get("platform"),
             f"{machine['cpus']} CPUs" if machine.get("cpus") else None,
             f"{machine['torch_threads']} torch threads" if machine.get("torch_threads") else None,
             f"torch {machine['torch']}" if machine.get("torch") else None,
             f"GPU {machine['cuda']}" if machine.get("cuda") else "no GPU"]
    return ", ".join(p for p in parts if p)


def on_gpu(run) -> bool:
    """Trained on a GPU: the recorded machine names one, or the precision was bf16/fp16 (the trainer's
    ``auto`` picks those only on a GPU)."""
    if run.machine and run.machine.get("cuda"):
        return True
    return any(p.info.get("mixed_precision") in ("bf16", "fp16") for p in run.phases)


def _minutes(seconds) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


def runs_table(runs: list) -> str:
    """One row per run: seed, steps, times, final training metrics, each suite's first split, target."""
    columns = []  # (label, split, metric name)
    for run in runs:
        for label, ev in run.evals.items():
            split = next(iter(ev.splits), None)
            if split and (label, split) not in [c[:2] for c in columns]:
                columns.append((label, split, ev.headline_metric()))
    has_target = any(r.target for r in runs)
    head = ["run", "seed", "steps", "train loop", "wall clock", "eval loss", "valid accuracy"]
    head += [f"{label}: {split} {name}" for label, split, name in columns]
    head += ["target"] if has_target else []
    lines = ["| " + " | ".join(head) + " |\n", "|---|---:|" + "---:|" * (len(head) - 2) + "\n"]
    for run in runs:
        final = run.phases[-1].info.get("metrics", {}) if run.phases else {}
        cells = [f"`{run.name}`", str(run.seed), str(run.steps()), _minutes(run.train_time_s()),
                 _minutes(run.runtime_s), cell([final.get("eval_loss")]), cell([final.get("valid_accuracy")])]
        for label, split, name in columns:
            ev = run.evals.get(label)
            cells.append(cell([metric(ev.splits.get(split), name) if ev else None]))
        if has_target:
            t = run.target or {}
            cells.append(f"{cell([t.get('measured')])} ({'met' if t.get('met') else 'NOT met'})" if t else "-")
        lines.append("| " + " | ".join(cells) + " |\n")
    return "".join(lines)


def target_line(runs: list) -> str:
    targets = [r.target for r in runs if r.target]
    if not targets:
        return ""
    t = targets[0]
    values = [x.get("measured") for x in targets]
    met = sum(bool(x.get("met")) for x in targets)
    return (f"Target: {t['suite']} accuracy on {t['split']} {t['family']} level {t['level']} >= {t['accuracy']}: "
            f"{cell(values)}{' (mean / worst)' if len(values) > 1 else ''}; met by {met} of {len(targets)} run(s).\n\n")


def provenance(runs: list) -> str:
    """Per run: where, seed, data and model hashes, machine, git revision, the exact commands."""
    out = []
    for run in runs:
        revisions = sorted({p.info.get("git_revision") for p in run.phases} - {None})
        lines = [f"- `{run.name}` ({run.kind}), seed {run.seed}"]
        lines += [f"  - {name}: sha256 `{sha}`" for name, sha in run.dataset.items()]
        lines.append(f"  - model weights: sha256 `{run.model_sha256() or 'not recorded'}`")
        if run.phases:
            params = run.phases[-1].info.get("model", {}).get("parameters")
            procs = run.phases[-1].info.get("num_processes")
            lines.append(f"  - model: {params:,} parameters; {procs} process(es), precision "
                         f"{run.phases[-1].info.get('mixed_precision')}" if params else "  - model: not recorded")
        lines.append(f"  - machine: {machine_text(run.machine)}")
        if revisions:
            lines.append(f"  - git revision: {', '.join(f'`{r}`' for r in revisions)}")
        lines.append("  - commands:\n\n    ```\n" + "".join(f"    {c}\n" for c in run.commands) + "    ```\n")
        out.append("\n".join(lines))
    return "\n".join(out) + "\n"


def split_repeats(runs: list) -> tuple:
    """``(one run per seed, the later runs of a seed already seen)``: a repeat checks reproducibility
    and must not weigh twice in a mean over seeds."""
    firsts, repeats = {}, []
    for run in runs:
        if run.seed in firsts:
            repeats.append((run, firsts[run.seed]))
        else:
            firsts[run.seed] = run
    return list(firsts.values()), repeats


def repeats_text(repeats: list) -> str:
    lines = []
    for run, first in repeats:
        same = run.model_sha256() is not None and run.model_sha256() == first.model_sha256()
        lines.append(f"- `{run.name}` repeats seed {run.seed} of `{first.name}`: "
                     + ("byte-identical model weights (same sha256)" if same else "different model weights") + ".\n")
    return ("Repeats (shown in the table, counted once in every mean / worst):\n\n" + "".join(lines) + "\n"
            if lines else "")


def group_section(title: str, runs: list, out: Path) -> str:
    name = slug(title)
    every = runs
    runs, repeats = split_repeats(runs)
    seeds = f"{len(runs)} runs (seeds {', '.join(str(r.seed) for r in runs)}); every cell below is mean / worst " \
            "over them" if len(runs) > 1 else "1 run"
    parts = [f'<a id="{name}"></a>\n\n## {title}\n\n{seeds}.\n\n', target_line(runs), runs_table(every), "\n",
             repeats_text(repeats)]
    assets = out / ASSETS
    if learning_curves(runs, assets / f"{name}-curves.png", title):
        parts.append(f"![learning curves of {title}]({ASSETS}/{name}-curves.png)\n\n")
    per_seed = [r.evals for r in runs]
    if by_level(per_seed, assets / f"{name}-levels.png", title):
        parts.append(f"![pass@k by difficulty level of {title}]({ASSETS}/{name}-levels.png)\n\n")
    parts.append(suite_sections(per_seed, "###"))
    parts.append(f"### Provenance\n\n{provenance(every)}\n")
    return "".join(parts)


def _eval_datasets(ev) -> tuple:
    return tuple(sorted({c.get("dataset_sha256") for c in ev.configs} - {None}))


def comparisons(groups: list) -> str:
    """Where two or more groups were evaluated with the same suite, split and data: one table, a row
    per group, pass@k by level over all families. Controlled comparisons (traces or not, one
    tokenizer or another) read from here; each group's own section has the details."""
    shared: dict = {}  # (label, split, data hashes) -> [(title, [entry per seed], metric)]
    for title, runs in groups:
        found: dict = {}
        for run in split_repeats(runs)[0]:
            for label, ev in run.evals.items():
                data = _eval_datasets(ev)
                for split, entry in ev.splits.items():
                    found.setdefault((label, split, data), ([], ev.headline_metric()))[0].append(entry)
        for key, (entries, name) in found.items():
            shared.setdefault(key, []).append((title, entries, name))
    parts = []
    for (label, split, data), rows in shared.items():
        if len(rows) < 2 or not data:
            continue
        name = rows[0][2]
        levels = sorted({lv for _, entries, _ in rows for e in entries for lv in e.get("by_level", {})},
                        key=lambda lv: (len(lv), lv))
        lines = [f"### {label}, {split}: {name} by level (data sha256 `{data[0][:12]}`)\n\n",
                 "| group | runs | " + " | ".join(levels) + " | all |\n", "|---|---:|" + "---:|" * (len(levels) + 1) + "\n"]
        for title, entries, _ in rows:
            cells = [cell([metric(e.get("by_level", {}).get(lv), name) for e in entries]) for lv in levels]
            cells.append(cell([metric(e, name) for e in entries]))
            lines.append(f"| [{title}](#{slug(title)}) | {len(entries)} | " + " | ".join(cells) + " |\n")
        parts.append("".join(lines) + "\n")
    if not parts:
        return ""
    return ("## Comparisons\n\nGroups evaluated with the same suite on the same split of the same data "
            "(mean / worst over a group's seeds).\n\n" + "".join(parts))


def gpu_section(groups: list) -> str:
    gpu = [r for _, runs in groups for r in runs if on_gpu(r)]
    if not gpu:
        return ("## GPU\n\n`cadmus/recipes/small.yaml` and `cadmus/recipes/base.yaml`: **not measured on GPU** (no run on this "
                "page was trained on a GPU).\n\n")
    return "## GPU\n\nRuns trained on a GPU: " + ", ".join(f"`{r.name}` ({machine_text(r.machine)})" for r in gpu) \
        + ".\n\n"


def write_page(groups: list, out: Path, command: str) -> Path:
    """Write ``out/results.md`` and its PNGs; returns the page's path."""
    from ..eval.report import HEADLINE_NOTE
    from ..provenance import git_revision

    assets = out / ASSETS
    assets.mkdir(parents=True, exist_ok=True)
    for old in list(assets.glob("*-curves.png")) + list(assets.glob("*-levels.png")):
        old.unlink()  # a group that is gone must not leave its pictures behind
    head = (f"# Cadmus results\n\nGenerated by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
            f"at git revision `{git_revision()}` from the run folders named below; regenerate it with that command "
            "rather than editing it. " + HEADLINE_NOTE + " Greedy runs report pass@1 = accuracy. A group of runs "
            "that differ only by their seed shows mean / worst over the seeds in each cell.\n\n")
    contents = "".join(f"- [{title}](#{slug(title)}): {len(runs)} run(s)\n" for title, runs in groups)
    body = "".join(group_section(title, runs, out) for title, runs in groups)
    page = out / "results.md"
    page.write_text(head + gpu_section(groups) + "## Contents\n\n" + contents + "\n" + comparisons(groups) + body)
    return page
