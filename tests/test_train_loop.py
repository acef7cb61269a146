"""End-to-end training: outputs, checkpoints, exact resume after SIGKILL, 2 processes, errors."""
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cadmus.train import checkpoints, config, train

REPO = Path(__file__).resolve().parents[1]
# A 1-layer, 32-wide model and a few dozen steps: every run here takes seconds.
SMALL = ["--preset", "tiny", "--n_layer", "1", "--n_embd", "32", "--n_head", "2", "--per_device_batch_size", "8",
         "--learning_rate", "3e-3", "--warmup_steps", "3", "--logging_steps", "5", "--max_eval_samples", "32",
         "--accuracy_samples", "16", "--progress_bar", "false"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="module")
def dsdir(tiny_data):
    return str(tiny_data)  # the builder's tiny data (tests/conftest.py)


def run_inprocess(dsdir, out, *extra):
    args = config.parse(None, [*SMALL, "--dataset_path", dsdir, "--output_dir", str(out), *extra])
    return train(*args)


def cli(*args, log=None):
    """``cadmus train tiny ARGS`` in a subprocess; output to pipes or to ``log``."""
    recipe = str(REPO / "cadmus" / "recipes" / "tiny.yaml")  # the quickstart recipe, overridden by the flags
    out = open(log, "w") if log else subprocess.PIPE  # a file never blocks a process nobody reads
    return subprocess.Popen([sys.executable, "-m", "cadmus.cli", "train", recipe, *args], env=ENV, cwd=REPO,
                            stdout=out, stderr=subprocess.STDOUT if log else subprocess.PIPE, text=True)


def records(out):
    return [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]


def test_training_learns_and_writes_a_complete_output_dir(dsdir, tmp_path):
    out = tmp_path / "run"
    final = run_inprocess(dsdir, out, "--max_steps", "40", "--eval_steps", "20", "--save_steps", "10",
                          "--save_total_limit", "1")
    logged = [r["train_loss"] for r in records(out) if "train_loss" in r]
    assert len(logged) == 8 and logged[-1] < logged[0] - 0.5
    evals = [r for r in records(out) if "eval_loss" in r]
    assert [r["step"] for r in evals] == [20, 40] and all(0 <= r["valid_accuracy"] <= 1 for r in evals)
    assert final["step"] == 40 and final["non_pad_share"] == 1.0
    for name in ("model.safetensors", "config.json", "generation_config.json", "tokenizer.json",
                 "cadmus.json", "metrics.csv", "curves.png"):
        assert (out / name).is_file(), name
    assert not list(out.glob("*.bin")) and not list(out.glob("*.py"))
    summary = json.loads((out / "cadmus.json").read_text())
    assert summary["recipe"]["max_steps"] == 40 and len(summary["dataset"]["content_hash"]) == 64
    assert summary["metrics"]["eval_loss"] == evals[-1]["eval_loss"] and "git_revision" in summary
    # last checkpoint + the best one (lowest eval loss) are kept; 10 and 30 are pruned
    kept = [p.name for p in checkpoints.complete_checkpoints(out)]
    assert kept == ["step-0000040"] or kept == ["step-0000020", "step-0000040"]


def test_git_revision_is_the_one_the_run_started_at(dsdir, tmp_path, monkeypatch):
    from cadmus.train import trainer

    head = {"rev": "revision-at-start"}
    monkeypatch.setattr(trainer, "git_revision", lambda: head["rev"])
    real_loop = trainer.loop

    def commit_then_loop(*args):  # a commit lands in the checkout while the run trains
        head["rev"] = "committed-while-training"
        return real_loop(*args)

    monkeypatch.setattr(trainer, "loop", commit_then_loop)
    out = tmp_path / "run"
    run_inprocess(dsdir, out, "--max_steps", "2", "--save_steps", "0", "--accuracy_samples", "0")
    assert json.loads((out / "cadmus.json").read_text())["git_revision"] == "revision-at-start"


def test_output_dir_loads_as_plain_transformers(dsdir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "run"
    run_inprocess(dsdir, out, "--max_steps", "5", "--save_steps", "0", "--accuracy_samples", "0")
    model = AutoModelForCausalLM.from_pretrained(str(out), trust_remote_code=False, use_safetensors=True)
    tok = AutoTokenizer.from_pretrained(str(out))
    assert model.config.n_layer == 1 and model.generation_config.eos_token_id == tok.eos_token_id
    assert tok.decode(tok("mov a 1\n")["input_ids"]) == "mov a 1\n"


def test_padding_with_target_only_loss_trains(dsdir, tmp_path):
    final = run_inprocess(dsdir, tmp_path / "run", "--max_steps", "6", "--packing", "false",
                          "--target_only_loss", "true", "--gradient_accumulation_steps", "2",
                          "--save_steps", "0", "--accuracy_samples", "0")
    # padded to the longest sample: the tiny data's long array programs leave most positions padding
    assert math.isfinite(final["train_loss"]) and 0.1 < final["non_pad_share"] < 1.0


def test_mixed_views_grouped_by_length_train(dsdir, tmp_path):
    final = run_inprocess(dsdir, tmp_path / "run", "--max_steps", "6", "--packing", "false", "--group_by_length", "true",
                          "--execution_weight", "1", "--synthesis_weight", "1", "--target_only_loss", "true",
                          "--save_steps", "0", "--accuracy_samples", "0")
    assert math.isfinite(final["train_loss"]) and final["step"] == 6


def test_muon_optimizer_trains(dsdir, tmp_path):
    out = tmp_path / "run"
    final = run_inprocess(dsdir, out, "--optimizer", "muon", "--max_steps", "30", "--save_steps", "15",
                          "--accuracy_samples", "0")
    logged = [r["train_loss"] for r in records(out) if "train_loss" in r]
    assert final["step"] == 30 and logged[-1] < logged[0] - 0.5
    assert json.loads((out / "cadmus.json").read_text())["recipe"]["optimizer"] == "muon"


def test_every_parameter_changes(dsdir, tmp_path):
    import torch

    from cadmus.models import load_model

    a = load_model_after(dsdir, tmp_path / "a", 1, load_model)
    b = load_model_after(dsdir, tmp_path / "b", 4, load_model)
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        assert not torch.equal(p, q), name


def load_model_after(dsdir, out, steps, load_model):
    run_inprocess(dsdir, out, "--max_steps", str(steps), "--warmup_steps", "1", "--weight_decay", "0",
                  "--save_steps", "0", "--accuracy_samples", "0")
    return load_model(out)


def test_resume_after_sigkill_is_exact(dsdir, tmp_path):
    steps = ["--packing", "true", "--target_only_loss", "false", "--max_steps", "90", "--save_steps", "20",
             "--eval_steps", "30", "--logging_steps", "15", "--accuracy_samples", "0"]
    whole = tmp_path / "whole"
    log = tmp_path / "whole.log"
    uninterrupted = cli(*SMALL, "--dataset_path", dsdir, "--output_dir", str(whole), *steps, log=log)  # alongside

    cut = tmp_path / "cut"
    p = cli(*SMALL, "--dataset_path", dsdir, "--output_dir", str(cut), *steps)
    deadline = time.time() + 120
    while not (cut / "checkpoints" / "step-0000020" / checkpoints.STATE_FILE).exists():
        assert p.poll() is None and time.time() < deadline, "run ended before it could be killed"
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    assert p.wait() == -signal.SIGKILL
    assert not (cut / "cadmus.json").exists()
    resumed_at = checkpoints.read_state(checkpoints.complete_checkpoints(cut)[-1])["step"]
    assert resumed_at < 90

    p = cli(*SMALL, "--dataset_path", dsdir, "--output_dir", str(cut), *steps, "--resume")
    out, err = p.communicate()
    assert p.returncode == 0, err
    assert f"resuming at step {resumed_at}" in out
    assert uninterrupted.wait() == 0, log.read_text()
    a, b = records(whole), records(cut)
    assert [r["step"] for r in a] == [r["step"] for r in b]  # the killed run's extra lines were dropped
    for key in ("train_loss", "eval_loss"):
        assert b[-1][key] == pytest.approx(a[-1][key], abs=1e-5)


def test_resume_from_another_model_shape_is_a_clear_error(dsdir, tmp_path):
    out = tmp_path / "run"
    run_inprocess(dsdir, out, "--max_steps", "2", "--save_steps", "2", "--accuracy_samples", "0")
    with pytest.raises(checkpoints.CheckpointError, match="n_embd: checkpoint 32 vs recipe 64"):
        run_inprocess(dsdir, out, "--max_steps", "4", "--n_embd", "64", "--resume", "latest")


def test_init_from_starts_from_a_trained_model(dsdir, tmp_path):
    import torch

    from cadmus.models import load_model
    from cadmus.train.trainer import RecipeError

    first = load_model_after(dsdir, tmp_path / "first", 3, load_model)
    run_inprocess(dsdir, tmp_path / "zero", "--max_steps", "1", "--learning_rate", "0", "--warmup_steps", "0",
                  "--save_steps", "0", "--accuracy_samples", "0", "--init_from", str(tmp_path / "first"))
    for (name, p), q in zip(first.named_parameters(), load_model(tmp_path / "zero").parameters()):
        assert torch.equal(p, q), name  # learning rate 0: the run kept the weights it started from
    fresh = load_model_after(dsdir, tmp_path / "fresh", 1, load_model)
    assert not torch.equal(fresh.transformer.wte.weight, first.transformer.wte.weight)
    with pytest.raises(RecipeError, match=r"init_from=.*shape differs.*n_embd 32 \(this run: 64\)"):
        run_inprocess(dsdir, tmp_path / "wide", "--max_steps", "1", "--n_embd", "64", "--init_from", str(tmp_path / "first"))
    with pytest.raises(RecipeError, match="no trained model there"):
        run_inprocess(dsdir, tmp_path / "none", "--max_steps", "1", "--init_from", str(tmp_path / "missing"))


def test_stop_at_accuracy_ends_the_run_at_the_first_evaluation_that_reaches_it(dsdir, tmp_path):
    out = tmp_path / "run"
    args = config.parse(None, [*SMALL, "--dataset_path", dsdir, "--output_dir", str(out), "--max_steps", "30",
                               "--eval_steps", "10", "--save_steps", "0",
                               "--stop_at_accuracy", "0"])  # any accuracy reaches 0: the first evaluation ends it
    final = train(*args)
    assert final["step"] == 10 and [r["step"] for r in records(out) if "eval_loss" in r] == [10]
    assert args[2].max_steps == 30  # train() leaves the parsed recipe alone
    summary = json.loads((out / "cadmus.json").read_text())
    # the recipe as given, and separately the steps it ran
    assert summary["metrics"]["step"] == summary["steps_run"] == 10 and summary["recipe"]["max_steps"] == 30
    final = run_inprocess(dsdir, tmp_path / "never", "--max_steps", "20", "--eval_steps", "10", "--save_steps", "0",
                          "--stop_at_accuracy", "1.01")
    assert final["step"] == 20


def test_context_too_short_is_a_clear_error(dsdir, tmp_path):
    from cadmus.train.trainer import RecipeError

    with pytest.raises(RecipeError, match="context_length=16 is too short.*longest sample has"):
        run_inprocess(dsdir, tmp_path / "run", "--max_steps", "2", "--context_length", "16")


def test_cli_reports_a_missing_dataset(tmp_path, capsys):
    from cadmus.cli import main

    code = main(["train", str(REPO / "cadmus" / "recipes" / "tiny.yaml"), "--dataset_path", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2 and "does not exist" in err and "Traceback" not in err


def test_cli_reports_an_unknown_recipe_key(tmp_path, capsys):
    from cadmus.cli import main

    recipe = tmp_path / "r.yaml"
    recipe.write_text("# Model\npreset: tiny\nwidth: 3\n")
    assert main(["train", str(recipe)]) == 2
    assert "unknown key(s) width" in capsys.readouterr().err


def test_two_processes_with_accelerate_launch(dsdir, tmp_path):
    out = tmp_path / "ddp"
    cmd = [str(Path(sys.executable).parent / "accelerate"), "launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
           "-m", "cadmus.train", str(REPO / "cadmus" / "recipes" / "tiny.yaml"), *SMALL, "--dataset_path", dsdir,
           "--output_dir", str(out), "--max_steps", "4", "--logging_steps", "2", "--eval_steps", "0",
           "--save_steps", "0", "--accuracy_samples", "8", "--packing", "true", "--target_only_loss", "false"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=REPO, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    summary = json.loads((out / "cadmus.json").read_text())
    assert summary["num_processes"] == 2 and summary["metrics"]["step"] == 4
    assert math.isfinite(summary["metrics"]["train_loss"]) and math.isfinite(summary["metrics"]["eval_loss"])
    # two processes each take a batch per step: twice the tokens of one process
    assert summary["metrics"]["tokens"] == 4 * 2 * 8 * summary["model"]["context_length"]


@pytest.mark.slow
def test_trains_on_a_dataset_from_cadmus_data_build(tmp_path):
    """The real builder's output (every family, all three views) goes through the trainer."""
    ds = tmp_path / "tiny-data"
    built = subprocess.run([sys.executable, "-m", "cadmus.cli", "data", "build", str(REPO / "cadmus/recipes/data/tiny.yaml"),
                            "--out", str(ds), "--limit", "40", "--workers", "1", "--quiet"],
                           capture_output=True, text=True, env=ENV, cwd=REPO)
    assert built.returncode == 0, built.stderr[-2000:]
    final = run_inprocess(str(ds), tmp_path / "run", "--max_steps", "5", "--synthesis_weight", "1",
                          "--execution_weight", "1", "--save_steps", "0", "--accuracy_samples", "8")
    assert final["step"] == 5 and math.isfinite(final["eval_loss"]) and 0 <= final["valid_accuracy"] <= 1


def test_fresh_run_refuses_an_output_dir_with_checkpoints(dsdir, tmp_path):
    out = tmp_path / "run"
    run_inprocess(dsdir, out, "--max_steps", "2", "--save_steps", "2", "--accuracy_samples", "0")
    with pytest.raises(checkpoints.CheckpointError, match="already holds checkpoints: pass --resume"):
        run_inprocess(dsdir, out, "--max_steps", "2", "--accuracy_samples", "0")
