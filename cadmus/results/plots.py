"""PNGs of a group of runs: learning curves (one line per seed) and pass@k by difficulty level."""
from __future__ import annotations

import math
from pathlib import Path
from statistics import mean


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path, title: str) -> None:
    """Title the figure, write it to ``path`` and free it (a report draws many)."""
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_series(run, key: str) -> tuple:
    """``(steps, values)`` of ``key`` over the run's phases on one step axis, and the phase starts."""
    xs, ys, starts, offset = [], [], [], 0
    for phase in run.phases:
        starts.append(offset)
        for r in phase.records:
            value = r.get(key)
            if isinstance(value, (int, float)) and math.isfinite(value):
                xs.append(r["step"] + offset)
                ys.append(value)
        offset += phase.steps
    return xs, ys, starts[1:]


def learning_curves(runs: list, path: Path, title: str) -> bool:
    """Train/eval loss and valid greedy completion accuracy per step; False when no run logged any."""
    if not any(p.records for run in runs for p in run.phases):
        return False
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, run in enumerate(runs):
        color = colors[i % len(colors)]
        tag = f"seed {run.seed}" if len(runs) > 1 else ""
        for key, style in (("train_loss", "-"), ("eval_loss", "--")):
            xs, ys, _ = run_series(run, key)
            ax_loss.plot(xs, ys, style, color=color, label=f"{key} {tag}".strip(), linewidth=1)
        xs, ys, starts = run_series(run, "valid_accuracy")
        ax_acc.plot(xs, ys, "o-", color=color, label=tag or None, markersize=3, linewidth=1)
        for step in starts:  # where a curriculum's next phase starts
            for ax in (ax_loss, ax_acc):
                ax.axvline(step, color=color, linestyle=":", linewidth=1)
    ax_loss.set(xlabel="step", ylabel="loss (nats/token)", yscale="log", title="loss")
    ax_loss.legend(fontsize=7)
    ax_acc.set(xlabel="step", ylabel="share correct (VM-verified)", ylim=(-0.02, 1.02),
               title="valid greedy completion accuracy")
    if len(runs) > 1:
        ax_acc.legend(fontsize=7)
    _save(plt, fig, path, title)
    return True


def by_level(per_seed: list, path: Path, title: str) -> bool:
    """One panel per suite: the headline pass@k per difficulty level, a bar per split (mean over the
    seeds, a black tick at the worst seed). False when there is nothing to plot."""
    from .tables import metric

    labels = list(dict.fromkeys(label for evals in per_seed for label in evals))
    if not labels:
        return False
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(labels), figsize=(4.5 * len(labels), 3.6), squeeze=False)
    for ax, label in zip(axes[0], labels):
        evs = [evals[label] for evals in per_seed if label in evals]
        name = evs[0].headline_metric()
        splits = list(dict.fromkeys(s for e in evs for s in e.splits))
        levels = sorted({lv for e in evs for en in e.splits.values() for lv in en["by_level"]})
        width = 0.8 / max(1, len(splits))
        for j, split in enumerate(splits):
            xs = [i + j * width for i in range(len(levels))]
            values = [[metric(e.splits.get(split, {}).get("by_level", {}).get(lv), name) for e in evs] for lv in levels]
            values = [[v for v in vs if v is not None] for vs in values]
            bars = ax.bar(xs, [mean(vs) if vs else float("nan") for vs in values], width, label=split)
            ax.bar_label(bars, fmt="%.2f", fontsize=7)
            if len(evs) > 1:
                ax.scatter(xs, [min(vs) if vs else float("nan") for vs in values], marker="_", color="black", s=80)
        ax.set_xticks([i + width * (len(splits) - 1) / 2 for i in range(len(levels))], levels)
        ax.set(ylim=(0, 1.05), ylabel=name, title=label)
        ax.title.set_fontsize(9)
        ax.legend(fontsize=7)
    _save(plt, fig, path, title)
    return True
