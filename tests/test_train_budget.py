"""max_minutes: the step count is fitted to a wall-clock budget while training runs."""
import json
import time

import pytest

from cadmus.train import config, train
from cadmus.train.budget import SAVE_RESERVE_S, TimeBudget
from cadmus.train.toydata import arith_dataset

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


def test_training_stops_inside_its_budget(tmp_path):
    ds = tmp_path / "arith"
    arith_dataset(400, 32, seed=3).save_to_disk(str(ds))
    out = tmp_path / "run"
    args = config.parse(None, [*SMALL, "--dataset_path", str(ds), "--output_dir", str(out), "--max_steps", "100000",
                               "--eval_steps", "40", "--max_minutes", "0.25"])
    start = time.perf_counter()
    final = train(*args)
    seconds = time.perf_counter() - start
    # stopped by the budget, not by max_steps; the bound is loose (a loaded machine is slow to
    # set up, evaluate and save), the budget arithmetic itself is checked exactly above
    assert final["step"] < 100000
    assert seconds < 0.25 * 60 + 60
    saved = json.loads((out / "cadmus.json").read_text())
    assert saved["recipe"]["max_minutes"] == 0.25
    assert saved["recipe"]["max_steps"] == final["step"]  # the fitted step count is what ran
    assert final["eval_loss"] is not None
