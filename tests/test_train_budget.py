"""max_minutes: the step count is fitted to a wall-clock budget while training runs."""
import json
import time

import pytest

from cadmus.train import config, train
from cadmus.train.budget import SAVE_RESERVE_S, TimeBudget

from .test_train_loop import SMALL


def test_fit_counts_step_time_and_evaluations():
    budget = TimeBudget(minutes=1.0, recipe_max_steps=10_000, eval_steps=100)
    budget.start = time.perf_counter() - 10.0  # 10 s gone, of which 5 s in 50 training steps
    steps = budget.fit(step=50, train_seconds=5.0)  # 0.1 s per step
    assert 50 + 430 <= steps <= 50 + 450  # about 50 s left, less the save reserve, / 0.1 s
    budget.record_eval(2.0)  # each evaluation costs 2 s: one final, one per 100 steps
    with_evals = budget.fit(step=50, train_seconds=5.0)
    assert with_evals < steps
    assert with_evals == pytest.approx(50 + (50 - 2.0 - SAVE_RESERVE_S) / (0.1 + 2.0 / 100), abs=3)


def test_fit_never_exceeds_the_recipe_nor_goes_back():
    budget = TimeBudget(minutes=10.0, recipe_max_steps=300, eval_steps=0)
    assert budget.fit(step=20, train_seconds=0.2) == 300
    budget.start = time.perf_counter() - 700.0  # past the deadline
    assert budget.over()
    assert budget.fit(step=20, train_seconds=0.2) == 20


def test_bad_budget_is_an_error():
    with pytest.raises(ValueError, match="max_minutes"):
        TimeBudget(minutes=0, recipe_max_steps=10, eval_steps=0)
    with pytest.raises(ValueError, match="max_minutes_mode"):
        TimeBudget(minutes=1, recipe_max_steps=10, eval_steps=0, mode="stretch")


def test_cap_keeps_the_recipe_steps_until_the_deadline():
    budget = TimeBudget(minutes=1.0, recipe_max_steps=10_000, eval_steps=100, mode="cap")
    budget.start = time.perf_counter() - 10.0  # 10 s gone in 50 steps: 10,000 steps would not fit
    assert budget.fit(step=50, train_seconds=5.0) == 10_000  # the schedule stays the recipe's
    budget.record_eval(4.0)
    budget.start = time.perf_counter() - (60.0 - 4.0 - SAVE_RESERVE_S + 0.5)  # the final eval and save no longer fit
    assert budget.over()
    assert budget.fit(step=70, train_seconds=7.0) == 70
    fit_mode = TimeBudget(minutes=1.0, recipe_max_steps=10_000, eval_steps=100)
    fit_mode.start = budget.start
    assert not fit_mode.over()  # fit mode's deadline is the budget itself (its estimate keeps the reserve)


def test_a_capped_run_follows_its_recipe_schedule(tmp_path, tiny_data):
    ds = tiny_data  # the builder's tiny data (tests/conftest.py)
    common = [*SMALL, "--dataset_path", str(ds), "--max_steps", "30", "--eval_steps", "0", "--logging_steps", "10"]
    logs = {}
    for name, budget in (("plain", []), ("cap", ["--max_minutes", "5", "--max_minutes_mode", "cap"])):
        out = tmp_path / name
        assert train(*config.parse(None, [*common, "--output_dir", str(out), *budget]))["step"] == 30
        logs[name] = [(r["lr"], r["train_loss"]) for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
                      if "lr" in r]
    # the same seed and steps: a capped run has the learning rates and losses of a run without a budget
    assert len(logs["cap"]) == 3 and logs["cap"] == logs["plain"]


def test_a_fitted_run_records_the_recipe_and_the_steps_it_ran(tmp_path, tiny_data):
    ds = tiny_data  # the builder's tiny data (tests/conftest.py)
    args = config.parse(None, [*SMALL, "--dataset_path", str(ds), "--output_dir", str(tmp_path / "run"),
                               "--max_steps", "100000", "--eval_steps", "0", "--save_steps", "0",
                               "--max_minutes", "0.05"])  # 3 s: the budget, not max_steps, ends the run
    final = train(*args)
    summary = json.loads((tmp_path / "run" / "cadmus.json").read_text())
    assert 0 < final["step"] < 100_000 and summary["steps_run"] == final["step"]
    assert summary["recipe"]["max_steps"] == args[2].max_steps == 100_000  # the recipe as given
