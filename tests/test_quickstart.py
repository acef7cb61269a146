"""The shortened quickstart (CI): every stage runs and every report file exists."""
import json

import pytest

from cadmus.cli import main
from cadmus.quickstart import (QuickstartArgs, QuickstartError, cap_notes, phase_outcome, phases_table, results_table,
                                run, target_result, train_model)

REPORT_FILES = ("summary.json", "results.md", "accuracy_by_difficulty.png", "training_curves.png", "dataset_card.md",
                "model/model.safetensors", "model/cadmus.json", "model_first/model.safetensors", "data/dataset_dict.json")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    import torch

    out = tmp_path_factory.mktemp("quickstart") / "run"
    threads = torch.get_num_threads()
    # the defaults (the curriculum's two phases: copy rows, then arith and copy rows) on a tiny step budget
    code = main(["quickstart", "--first-max-steps", "30", "--train-max-steps", "20", "--seed", "3",
                 "--data-limit", "800", "--eval-limit", "20", "--out", str(out)])
    assert code == 0
    assert torch.get_num_threads() == threads  # the quickstart's one thread is restored for the caller
    return out


def test_every_stage_ran_and_every_report_file_exists(report):
    for name in REPORT_FILES:
        assert (report / name).is_file(), name
    summary = json.loads((report / "summary.json").read_text())
    assert set(summary["runtime_s"]) == {"data", "train", "eval", "report", "total"}
    assert summary["model"]["steps"] >= 1
    first, last = summary["curriculum"]  # the copy phase, then arith started from its model
    assert first["recipe"].endswith("quickstart_copy.yaml") and last["recipe"].endswith("quickstart_after_copy.yaml")
    assert last["step"] == summary["model"]["steps"] == 20 and last["ended_by"] == "max_steps"
    assert first["planned_steps"] == 30 and first["ended_by"] in ("max_steps", "stop_at_accuracy")
    schedule = summary["schedule"]
    assert schedule["seed"] == 3 and not schedule["cut_by_time_cap"] and schedule["cap_notes"] == []
    for phase in ("model_first", "model"):  # both phases ran with the quickstart's seed, on their step schedule
        recipe = json.loads((report / phase / "cadmus.json").read_text())["recipe"]
        assert recipe["seed"] == 3 and recipe["max_minutes_mode"] == "cap"
    assert recipe["init_from"] == first["model"] and recipe["families"] == ["arith", "copy"]
    results = (report / "results.md").read_text()
    assert "| quickstart_after_copy | 20 | 20 | max_steps |" in results and "WARNING" not in results
    for suite in ("completion", "synthesis", "execution"):
        splits = summary["suites"][suite]["splits"]
        assert set(splits) == {"test", "ood_numbers"}
        for entry in splits.values():  # cadmus eval's summary format: pass@1, per-level breakdown
            assert 0.0 <= entry["metrics"]["pass@1"] <= 1.0 and entry["prompts"] == 20
            assert "level 1" in entry["by_level"] and set(entry["by_family"]) == {"arith"}  # copy rows stay out
    test = summary["suites"]["completion"]["splits"]["test"]
    assert summary["target"]["measured"] == test["by_family_level"]["arith level 1"]["pass@1"]


def test_the_summary_holds_each_eval_summary_as_written_and_the_thread_count_that_trained(report):
    summary = json.loads((report / "summary.json").read_text())
    for suite in ("completion", "synthesis", "execution"):  # eval returns what it writes: no re-read from disk
        assert summary["suites"][suite] == json.loads((report / "eval" / suite / "summary.json").read_text())
    assert summary["quickstart"]["threads"] == 1 and summary["machine"]["torch_threads"] == 1


def test_threads_are_set_and_restored():
    import torch

    from cadmus.quickstart import set_threads

    before = torch.get_num_threads()
    assert set_threads(1) == before and torch.get_num_threads() == 1
    assert set_threads(before) == 1 and torch.get_num_threads() == before
    assert set_threads(0) == before and torch.get_num_threads() == before  # 0 leaves torch's choice


def test_an_empty_first_recipe_trains_the_train_recipe_alone(report, tmp_path):
    args = QuickstartArgs(first_recipe="", train_recipe="quickstart", train_max_steps=5)
    metrics = train_model(args, report / "data", tmp_path, minutes=5)
    assert [phase["recipe"] for phase in metrics["phases"]] == [args.train_recipe] and metrics["step"] == 5
    assert (tmp_path / "model" / "model.safetensors").is_file() and not (tmp_path / "model_first").exists()
    recipe = json.loads((tmp_path / "model" / "cadmus.json").read_text())["recipe"]
    assert recipe["init_from"] is None and recipe["families"] == ["arith"]


def test_the_time_cap_cuts_a_phase_and_says_so(report, tmp_path):
    args = QuickstartArgs(first_max_steps=1_000_000, train_max_steps=5, seed=1)
    first, last = train_model(args, report / "data", tmp_path, minutes=0.2)["phases"]
    assert first["ended_by"] == "time cap" and 1 <= first["step"] < 1_000_000
    assert last["ended_by"] == "max_steps" and last["step"] == 5  # the next phase still runs (a few steps at least)
    assert cap_notes([first, last]) == [f"quickstart_copy: cut by the time cap at step {first['step']} of 1000000"]
    assert f"| quickstart_copy | {first['step']} | 1000000 | time cap |" in phases_table([first, last])


def test_phase_outcome_tells_how_a_phase_ended():
    records = [{"step": 100, "valid_accuracy": 0.4}, {"step": 150}, {"step": 200, "valid_accuracy": 0.98}]
    assert phase_outcome(records, 200, 5000, 0.97)["ended_by"] == "stop_at_accuracy"
    assert phase_outcome(records, 200, 5000, 0.97)["reached_at"] == 200
    assert phase_outcome(records, 200, 200, None) == {"planned_steps": 200, "stop_at_accuracy": None,
                                                      "reached_at": None, "ended_by": "max_steps"}
    records[-1]["valid_accuracy"] = 0.5
    assert phase_outcome(records, 200, 5000, 0.97)["ended_by"] == "time cap"  # nothing else ends a run early


def test_results_table_and_target_come_from_the_summaries():
    entry = {"metrics": {"pass@1": 0.5}, "prompts": 4,
             "by_level": {"level 1": {"pass@1": 0.7, "prompts": 3}, "level 2": {"pass@1": 0.0, "prompts": 1}},
             "by_family_level": {"arith level 1": {"pass@1": 0.96, "prompts": 2},
                                 "copy level 1": {"pass@1": 0.2, "prompts": 1}}}
    summaries = {"completion": {"splits": {"test": entry}}}
    table = results_table(summaries)
    assert "| completion | test | 4 | 0.500 | 0.700 (3) | 0.000 (1) |" in table
    target = target_result(summaries)  # arith's level 1 only, not the level's other families
    assert target["measured"] == 0.96 and target["prompts"] == 2 and target["met"]
    entry["by_family_level"]["arith level 1"]["pass@1"] = 0.5
    assert not target_result(summaries)["met"]


def test_refuses_to_overwrite_a_foreign_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(QuickstartError, match="exists"):
        run(QuickstartArgs(out=str(tmp_path)))
    with pytest.raises(QuickstartError, match="not a quickstart"):
        run(QuickstartArgs(out=str(tmp_path), overwrite=True))
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_bad_budget_is_a_clear_error(tmp_path, capsys):
    assert main(["quickstart", "--minutes", "0", "--out", str(tmp_path / "q")]) == 2
    assert "--minutes must be > 0" in capsys.readouterr().err
    assert main(["quickstart", "--threads", "-1", "--out", str(tmp_path / "q")]) == 2
    assert "--threads must be >= 0" in capsys.readouterr().err
    assert not (tmp_path / "q").exists()  # refused before any work


def test_an_unknown_recipe_name_fails_before_any_work(tmp_path, capsys):
    assert main(["quickstart", "--train-recipe", "no_such_recipe", "--out", str(tmp_path / "q")]) == 2
    err = capsys.readouterr().err
    assert "no train recipe 'no_such_recipe'" in err and "quickstart_after_copy" in err
    assert not (tmp_path / "q").exists()
