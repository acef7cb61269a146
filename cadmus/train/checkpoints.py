"""Checkpoints: ``accelerator.save_state`` folders ``checkpoints/step-0000100`` plus a
``trainer_state.json`` written last, so a folder without it (a run killed mid-save) is
ignored. Keeps the newest ``limit`` checkpoints and the best one (lowest eval loss)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

STATE_FILE = "trainer_state.json"
PREFIX = "step-"


class CheckpointError(ValueError):
    """A checkpoint to resume from is missing or does not fit this recipe."""


def checkpoint_dir(output_dir) -> Path:
    return Path(output_dir) / "checkpoints"


def complete_checkpoints(output_dir) -> list:
    """Complete checkpoint folders, oldest first."""
    root = checkpoint_dir(output_dir)
    found = [p for p in root.glob(f"{PREFIX}*") if (p / STATE_FILE).is_file()] if root.is_dir() else []
    return sorted(found, key=lambda p: int(p.name[len(PREFIX):]))


def read_state(path) -> dict:
    return json.loads((Path(path) / STATE_FILE).read_text())


def resolve_resume(resume, output_dir):
    """The checkpoint folder to resume from, or None to start fresh."""
    if not resume:
        return None
    if resume == "latest":
        found = complete_checkpoints(output_dir)
        return found[-1] if found else None
    path = Path(resume)
    if not (path / STATE_FILE).is_file():
        raise CheckpointError(f"{path} is not a complete checkpoint (no {STATE_FILE})")
    return path


def check_shape(path, model_shape: dict) -> None:
    """Fail clearly when a checkpoint was saved from a differently shaped model."""
    saved = read_state(path).get("model_shape", {})
    diff = {k: (saved.get(k), v) for k, v in model_shape.items() if saved.get(k) != v}
    if diff:
        parts = ", ".join(f"{k}: checkpoint {a} vs recipe {b}" for k, (a, b) in diff.items())
        raise CheckpointError(f"checkpoint {path} is from another model shape ({parts})")


def save(accelerator, output_dir, state: dict, limit: int) -> Path:
    """Save the full training state for ``state['step']``; prune old checkpoints."""
    root = checkpoint_dir(output_dir)
    final = root / f"{PREFIX}{state['step']:07d}"
    tmp = root / f".tmp-{final.name}"
    if accelerator.is_main_process and tmp.exists():
        shutil.rmtree(tmp)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / STATE_FILE).write_text(json.dumps(state, indent=1))
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)  # atomic: a checkpoint is either complete or absent
        prune(output_dir, limit)
    accelerator.wait_for_everyone()
    return final


def prune(output_dir, limit: int) -> None:
    found = complete_checkpoints(output_dir)
    losses = {p: read_state(p).get("eval_loss") for p in found}
    scored = [p for p in found if losses[p] is not None]
    best = min(scored, key=lambda p: losses[p]) if scored else None
    keep = set(found[-limit:] if limit > 0 else found) | {best}
    for p in found:
        if p not in keep:
            shutil.rmtree(p)


def best_checkpoint(output_dir):
    found = [(read_state(p).get("eval_loss"), p) for p in complete_checkpoints(output_dir)]
    found = [(loss, p) for loss, p in found if loss is not None]
    return min(found, key=lambda t: t[0])[1] if found else None
