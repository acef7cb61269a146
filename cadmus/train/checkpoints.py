"""Checkpoints: ``accelerator.save_state`` folders ``checkpoints/step-0000100`` plus a
``trainer_state.json``. Keeps the newest ``limit`` checkpoints and the best one (lowest eval loss).

Crash safety: the newest complete checkpoint survives a kill at any point of ``save``. A
checkpoint is written into ``.tmp-step-N``, every file and folder fsynced, ``trainer_state.json``
written (and fsynced) last, and only then renamed to ``step-N``: the rename is the moment it
exists. Replacing an existing ``step-N`` moves it aside to ``.old-step-N`` first (a folder
cannot be renamed over a non-empty one), and it counts as ``step-N`` until the new one is in
place; a checkpoint is deleted by renaming it to ``.del-step-N`` first, so a half-deleted
folder never looks complete. Resuming ignores the leftovers of a killed save and the main
process deletes them.

The rotation is ours, not accelerate's ``ProjectConfiguration(total_limit=...)``: that one
only works with its automatic ``checkpoint_<i>`` naming, deletes the oldest folders before the
new save is written (a kill then leaves fewer complete checkpoints), and cannot keep the best.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

STATE_FILE = "trainer_state.json"
PREFIX = "step-"
TMP, OLD, DELETED = ".tmp-", ".old-", ".del-"
_NAME = re.compile(r"(\.old-)?step-(\d+)\Z")


class CheckpointError(ValueError):
    """A checkpoint to resume from is missing or does not fit this recipe."""


def _stage(name: str) -> None:
    """Called at each step of ``save`` (a no-op); tests replace it to kill the process there."""


def checkpoint_dir(output_dir) -> Path:
    return Path(output_dir) / "checkpoints"


def _step(path: Path) -> int:
    return int(_NAME.match(path.name).group(2))


def complete_checkpoints(output_dir) -> list:
    """Complete checkpoint folders, oldest first: ``step-N`` holding ``trainer_state.json``, or
    ``.old-step-N`` where a save replacing ``step-N`` was killed between its two renames."""
    root = checkpoint_dir(output_dir)
    if not root.is_dir():
        return []
    found = {}
    for path in root.iterdir():
        match = _NAME.match(path.name)
        if match and (path / STATE_FILE).is_file():
            step, aside = int(match.group(2)), match.group(1) is not None
            if not aside or step not in found:
                found[step] = path
    return [found[step] for step in sorted(found)]


def read_state(path) -> dict:
    return json.loads((Path(path) / STATE_FILE).read_text())


def _is_main_process() -> bool:
    # resolve_resume runs in every process before an accelerator exists; torchrun and
    # accelerate launch set RANK, a single process has none
    return os.environ.get("RANK", "0") == "0"


def clean(output_dir) -> list:
    """Delete what killed saves left behind (nothing ``complete_checkpoints`` lists); returns
    the deleted paths. Safe while other processes list checkpoints: none of these is one."""
    root = checkpoint_dir(output_dir)
    if not root.is_dir():
        return []
    complete = set(complete_checkpoints(output_dir))
    removed = []
    for path in root.iterdir():
        leftover = path.name.startswith((TMP, DELETED)) or (
            _NAME.match(path.name) is not None and path not in complete)  # incomplete, or aside and replaced
        if leftover and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def resolve_resume(resume, output_dir):
    """The checkpoint folder to resume from, or None to start fresh. The main process first
    deletes the leftovers of a save that was killed (see ``clean``)."""
    if not resume:
        return None
    if _is_main_process():
        clean(output_dir)
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


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform without directory handles (Windows): nothing to sync
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    """Flush every file under ``folder`` and every folder's entries to disk."""
    folders = [folder]
    for path in folder.rglob("*"):
        if path.is_dir():
            folders.append(path)
        elif path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    for path in reversed(folders):
        _fsync_dir(path)


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _remove(path: Path) -> None:
    """Delete a checkpoint so that no kill leaves a partial folder that looks complete."""
    doomed = path.with_name(DELETED + path.name.lstrip("."))
    if doomed.exists():
        shutil.rmtree(doomed)
    path.rename(doomed)
    _fsync_dir(path.parent)
    _stage("deleting")
    shutil.rmtree(doomed)


def _restore_aside(root: Path) -> None:
    """Put back ``.old-step-N`` where no ``step-N`` replaced it (a save killed between renames)."""
    for path in root.glob(f"{OLD}{PREFIX}*"):
        final = root / path.name[len(OLD):]
        if _NAME.match(path.name) and not final.exists() and (path / STATE_FILE).is_file():
            path.rename(final)
    _fsync_dir(root)


def save(accelerator, output_dir, state: dict, limit: int) -> Path:
    """Save the full training state for ``state['step']``; prune old checkpoints."""
    root = checkpoint_dir(output_dir)
    final = root / f"{PREFIX}{state['step']:07d}"
    tmp = root / f"{TMP}{final.name}"
    if accelerator.is_main_process:
        root.mkdir(parents=True, exist_ok=True)
        _restore_aside(root)  # every process loaded its checkpoint long before this save
        if tmp.exists():
            shutil.rmtree(tmp)
    _stage("start")
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        _stage("written")
        _seal(tmp, state)
        _publish(tmp, final)
        prune(output_dir, limit)
        _stage("pruned")
    accelerator.wait_for_everyone()
    return final


def _seal(tmp: Path, state: dict) -> None:
    """Flush the written state to disk, then mark it complete with ``trainer_state.json``."""
    _fsync_tree(tmp)
    _write_synced(tmp / STATE_FILE, json.dumps(state, indent=1))  # last: marks it complete
    _fsync_dir(tmp)
    _stage("complete")


def _publish(tmp: Path, final: Path) -> None:
    """Rename the complete ``tmp`` to ``final``; an existing ``final`` waits aside until then."""
    aside = final.with_name(f"{OLD}{final.name}")
    if final.exists():
        if aside.exists():
            shutil.rmtree(aside)
        final.rename(aside)  # still counts as this step until the new one is in place
        _stage("aside")
    tmp.rename(final)  # the new checkpoint exists from here on
    _fsync_dir(final.parent)
    _stage("renamed")
    if aside.exists():
        shutil.rmtree(aside)
    _stage("replaced")


def prune(output_dir, limit: int) -> None:
    found = complete_checkpoints(output_dir)
    losses = {p: read_state(p).get("eval_loss") for p in found}
    scored = [p for p in found if losses[p] is not None]
    best = min(scored, key=lambda p: losses[p]) if scored else None
    keep = set(found[-limit:] if limit > 0 else found) | {best}
    for p in found:
        if p not in keep:
            _stage("pruning")
            _remove(p)


def best_checkpoint(output_dir):
    found = [(read_state(p).get("eval_loss"), p) for p in complete_checkpoints(output_dir)]
    found = [(loss, p) for loss, p in found if loss is not None]
    return min(found, key=lambda t: t[0])[1] if found else None
