"""The newest complete checkpoint survives a kill at every stage of ``checkpoints.save``.

A child process saves with a stand-in accelerator (its ``save_state`` writes two files, with a
stage between them) and ``checkpoints._stage`` replaced by a hook that ``os._exit``s at one
stage; then resuming must find the newest complete checkpoint, whole, and no leftovers.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from cadmus.train import checkpoints

KILLED = 77
CHILD = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from cadmus.train import checkpoints

    out, scenario, kill_at = sys.argv[1], sys.argv[2], sys.argv[3]

    class Accelerator:  # what save() uses of accelerate's Accelerator
        is_main_process = True

        def __init__(self, payload):
            self.payload = payload

        def wait_for_everyone(self):
            pass

        def save_state(self, path):
            Path(path).mkdir(parents=True, exist_ok=True)
            (Path(path) / "model.safetensors").write_text(self.payload)
            checkpoints._stage("saving")  # half written
            (Path(path) / "optimizer.bin").write_text(self.payload[::-1])

    def save(step, payload):
        checkpoints.save(Accelerator(payload), out, {"step": step, "eval_loss": None, "payload": payload}, limit=2)

    if kill_at == "setup":
        save(10, "w10")
        save(20, "w20")
        if scenario == "replace":
            save(30, "w30-old")
        sys.exit(0)
    checkpoints._stage = lambda name: os._exit(%d) if name == kill_at else None
    save(30, "w30-new")
""" % KILLED)

# Stages of save(), in order; "aside" happens only when a step is saved again, "pruning"
# and "deleting" only when a checkpoint is pruned (saving step 30 new prunes step 10).
STAGES = ["start", "saving", "written", "complete", "aside", "renamed", "replaced", "pruning", "deleting", "pruned"]
CASES = [(scenario, stage) for scenario in ("new", "replace") for stage in STAGES
         if not (scenario == "new" and stage == "aside") and not (scenario == "replace" and stage in ("pruning", "deleting"))]


def run_child(out, scenario, stage):
    return subprocess.run([sys.executable, "-c", CHILD, str(out), scenario, stage], capture_output=True, text=True,
                          timeout=120)


def check_whole(path):
    state = json.loads((path / checkpoints.STATE_FILE).read_text())
    payload = state["payload"]
    assert (path / "model.safetensors").read_text() == payload
    assert (path / "optimizer.bin").read_text() == payload[::-1]
    assert int(path.name.rsplit("-", 1)[1]) == state["step"]
    return state["step"], payload


@pytest.mark.parametrize("scenario, stage", CASES)
def test_newest_complete_checkpoint_survives_a_kill(tmp_path, scenario, stage):
    out = tmp_path / "run"
    setup = run_child(out, scenario, "setup")
    assert setup.returncode == 0, setup.stderr
    killed = run_child(out, scenario, stage)
    assert killed.returncode == KILLED, f"never reached stage {stage!r}: {killed.stderr[-2000:]}"

    committed = STAGES.index(stage) >= STAGES.index("renamed")  # the rename makes the new one exist
    if scenario == "new":
        want = (30, "w30-new") if committed else (20, "w20")
    else:
        want = (30, "w30-new") if committed else (30, "w30-old")
    latest = checkpoints.resolve_resume("latest", out)
    assert check_whole(latest) == want
    root = checkpoints.checkpoint_dir(out)
    leftovers = [p.name for p in root.iterdir() if p.name.startswith((".tmp-", ".del-"))]
    assert leftovers == [], leftovers
    for path in checkpoints.complete_checkpoints(out):  # everything listed is whole
        check_whole(path)
    assert all((p / checkpoints.STATE_FILE).is_file() for p in root.glob("step-*"))

    # the run goes on: the next save tidies up and keeps the newest two
    finish = subprocess.run([sys.executable, "-c", CHILD.replace('kill_at = sys.argv[3]', 'kill_at = "none"')
                             .replace('save(30, "w30-new")', 'save(40, "w40")'), str(out), scenario, "none"],
                            capture_output=True, text=True, timeout=120)
    assert finish.returncode == 0, finish.stderr
    assert sorted(p.name for p in root.iterdir()) == [f"step-{want[0]:07d}", "step-0000040"]


def test_incomplete_and_aside_folders_from_older_saves(tmp_path):
    root = checkpoints.checkpoint_dir(tmp_path)
    for name, files in (("step-0000010", {"model.safetensors": "a", checkpoints.STATE_FILE: '{"step": 10}'}),
                        ("step-0000020", {"model.safetensors": "b"}),  # killed mid-delete by an older version
                        (".old-step-0000010", {checkpoints.STATE_FILE: '{"step": 10}'}),  # replaced already
                        (".old-step-0000030", {checkpoints.STATE_FILE: '{"step": 30}', "model.safetensors": "c"}),
                        (".tmp-step-0000040", {checkpoints.STATE_FILE: '{"step": 40}'}),  # never renamed
                        ("step-best", {checkpoints.STATE_FILE: "{}"})):  # not ours: left alone
        (root / name).mkdir(parents=True)
        for file, text in files.items():
            (root / name / file).write_text(text)
    listed = [p.name for p in checkpoints.complete_checkpoints(tmp_path)]
    assert listed == ["step-0000010", ".old-step-0000030"]  # step 30's replacement never landed
    assert checkpoints.resolve_resume("latest", tmp_path).name == ".old-step-0000030"
    assert sorted(p.name for p in root.iterdir()) == [".old-step-0000030", "step-0000010", "step-best"]


def test_only_the_main_process_cleans(tmp_path, monkeypatch):
    stale = checkpoints.checkpoint_dir(tmp_path) / ".tmp-step-0000010"
    stale.mkdir(parents=True)
    monkeypatch.setenv("RANK", "1")
    assert checkpoints.resolve_resume("latest", tmp_path) is None and stale.exists()
    monkeypatch.setenv("RANK", "0")
    assert checkpoints.resolve_resume("latest", tmp_path) is None and not stale.exists()
