"""Fit a run's length to a wall-clock budget (``max_minutes``).

Step times differ by machine and load, so a budget cannot be turned into ``max_steps`` before
training starts. :class:`TimeBudget` measures as training goes: after ``calibration_steps``
steps and after every evaluation it sets ``max_steps`` to the steps that still fit, counting
the measured cost of a training step and of the evaluations still due (the final one included),
never above the recipe's own ``max_steps``. The cosine schedule reads ``max_steps`` when it is
called, so it stretches or shrinks with the estimate. A hard deadline backs the estimate: a run
that falls behind (the machine got busier) stops at the next check and still evaluates and saves.

The main process decides and broadcasts, so every process of a distributed run stops together.
"""
from __future__ import annotations

import time

SAVE_RESERVE_S = 5.0  # saving the model and plotting the curves after the last step


class TimeBudget:
    def __init__(self, minutes: float, recipe_max_steps: int, eval_steps: int, calibration_steps: int = 20):
        if minutes <= 0:
            raise ValueError(f"max_minutes must be > 0, got {minutes}")
        self.seconds = minutes * 60.0
        self.cap = recipe_max_steps
        self.eval_steps = eval_steps
        self.calibration_steps = calibration_steps
        self.start = time.perf_counter()
        self.eval_seconds = []  # duration of each evaluation so far

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def record_eval(self, seconds: float) -> None:
        self.eval_seconds.append(seconds)

    def fit(self, step: int, train_seconds: float) -> int:
        """The ``max_steps`` that fits the budget, measured at ``step`` (> 0)."""
        per_step = train_seconds / step
        per_eval = (sum(self.eval_seconds) / len(self.eval_seconds)) if self.eval_seconds else 0.0
        remaining = self.seconds - self.elapsed() - per_eval - SAVE_RESERVE_S  # the final evaluation always runs
        # each further step also carries its share of the periodic evaluations
        cost = per_step + (per_eval / self.eval_steps if self.eval_steps else 0.0)
        more = int(max(0.0, remaining) / cost) if cost > 0 else self.cap
        return max(step, min(self.cap, step + more))

    def due(self, step: int) -> bool:
        """Whether to re-estimate at ``step``: the end of calibration (evaluations call fit themselves)."""
        return step == self.calibration_steps

    def over(self) -> bool:
        return self.elapsed() >= self.seconds


def agree(accelerator, value: int) -> int:
    """The main process's ``value`` on every process."""
    if accelerator.num_processes == 1:
        return value
    from accelerate.utils import broadcast_object_list

    box = [value]
    broadcast_object_list(box, from_process=0)
    return int(box[0])
