"""Metrics: one JSON object per line in ``metrics.jsonl``, mirrored to ``metrics.csv``,
to TensorBoard when it is installed, and plotted to ``curves.png`` at the end."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path


class MetricsLog:
    """Append-only log on the main process; other processes get a no-op."""

    def __init__(self, output_dir, enabled: bool, resume_step=None):
        self.dir = Path(output_dir)
        self.enabled = enabled
        self.jsonl = self.dir / "metrics.jsonl"
        self.records = []
        self.tb = None
        if not enabled:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        if resume_step is not None and self.jsonl.exists():
            # drop what the interrupted run logged after its checkpoint: it is about to be redone
            old = [json.loads(line) for line in self.jsonl.read_text().splitlines() if line.strip()]
            self.records = [r for r in old if r["step"] <= resume_step]
        self.jsonl.write_text("".join(json.dumps(r) + "\n" for r in self.records))
        self.tb = _tensorboard_writer(self.dir / "tensorboard")

    def log(self, record: dict) -> None:
        if not self.enabled:
            return
        self.records.append(record)
        with open(self.jsonl, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)):
                    self.tb.add_scalar(key, value, record["step"])
        self.write_csv()

    def write_csv(self) -> None:
        columns = list(dict.fromkeys(k for r in self.records for k in r))
        with open(self.dir / "metrics.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.records)

    def last(self, key):
        for r in reversed(self.records):
            if key in r:
                return r[key]
        return None

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _tensorboard_writer(path):
    try:
        import tensorboard  # noqa: F401  (optional dependency)
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(path))


def plot(records: list, path, marks=None) -> None:
    """Loss curves (train, eval) and valid completion accuracy against optimizer steps;
    ``marks`` (step -> label) draws a labelled vertical line, e.g. where a curriculum phase starts."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    def series(key):
        pts = [(r["step"], r[key]) for r in records if key in r and r[key] is not None and math.isfinite(r[key])]
        return [p[0] for p in pts], [p[1] for p in pts]

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for key in ("train_loss", "eval_loss"):
        ax_loss.plot(*series(key), label=key, marker="." if key == "eval_loss" else None)
    ax_loss.set(xlabel="step", ylabel="loss (nats/token)", yscale="log", title="loss")
    ax_loss.legend()
    ax_acc.plot(*series("valid_accuracy"), marker="o")
    ax_acc.set(xlabel="step", ylabel="share correct (VM-verified)", ylim=(-0.02, 1.02),
               title="valid greedy completion accuracy")
    for step, label in (marks or {}).items():
        for ax in (ax_loss, ax_acc):
            ax.axvline(step, color="grey", linestyle=":", linewidth=1)
        ax_acc.annotate(label, (step, 1.0), xytext=(3, -12), textcoords="offset points", fontsize=8, color="grey")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
