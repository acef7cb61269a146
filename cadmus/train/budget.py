"""A run's wall-clock budget (``max_minutes``), in one of two modes (``max_minutes_mode``).

``fit`` (the default): step times differ by machine and load, so a budget cannot be turned
into ``max_steps`` before training starts. :class:`TimeBudget` measures as training goes:
after ``calibration_steps`` steps and after every evaluation it gives the steps that still
fit, counting the measured cost of a training step and of the evaluations still due (the
final one included), never above the recipe's own ``max_steps``. The trainer's step plan
(``trainer.StepPlan``) takes that number; the cosine schedule reads it when it is called, so
it stretches or shrinks with the estimate: the trained model depends on the machine. The
recipe keeps its ``max_steps``; cadmus.json records it and, apart, ``steps_run``.

``cap``: the recipe's schedule runs as written (the same seed gives the same model on any
machine) and the budget is only a safety deadline: the run stops early only when the time
left would not cover the final evaluation and the save. A caller sees that it was cut by
``step < max_steps`` without ``stop_at_accuracy`` having been reached.

In both modes a hard deadline backs the estimate: a run that falls behind (the machine got
busier) stops at the next check and still evaluates and saves. The main process decides and
broadcasts, so every process of a distributed run stops together.
"""
from __future__ import annotations

import time

SAVE_RESERVE_S = 5.0  # saving the model and plotting the curves after the last step
MODES = ("fit", "cap")


class TimeBudget:
    def __init__(self, minutes: float, recipe_max_steps: int, eval_steps: int, calibration_steps: int = 20,
                 mode: str = "fit"):
        if minutes <= 0:
            raise ValueError(f"max_minutes must be > 0, got {minutes}")
        if mode not in MODES:
            raise ValueError(f"max_minutes_mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.seconds = minutes * 60.0
        self.cap = recipe_max_steps
        self.eval_steps = eval_steps
        self.calibration_steps = calibration_steps
        self.mode = mode
        self.start = time.perf_counter()
        self.eval_seconds = []  # duration of each evaluation so far

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def record_eval(self, seconds: float) -> None:
        self.eval_seconds.append(seconds)

    def _per_eval(self) -> float:
        return (sum(self.eval_seconds) / len(self.eval_seconds)) if self.eval_seconds else 0.0

    def fit(self, step: int, train_seconds: float) -> int:
        """The ``max_steps`` to run to, measured at ``step`` (> 0): in ``fit`` mode the steps
        that fit the budget; in ``cap`` mode the recipe's, or ``step`` once the time is out."""
        if self.mode == "cap":
            return step if self.over() else self.cap
        per_step = train_seconds / step
        per_eval = self._per_eval()
        remaining = self.seconds - self.elapsed() - per_eval - SAVE_RESERVE_S  # the final evaluation always runs
        # each further step also carries its share of the periodic evaluations
        cost = per_step + (per_eval / self.eval_steps if self.eval_steps else 0.0)
        more = int(max(0.0, remaining) / cost) if cost > 0 else self.cap
        return max(step, min(self.cap, step + more))

    def due(self, step: int) -> bool:
        """Whether to re-estimate at ``step``: the end of calibration (evaluations call fit themselves)."""
        return step == self.calibration_steps

    def over(self) -> bool:
        """Past the deadline; in ``cap`` mode, once the final evaluation and the save no longer fit."""
        reserve = self._per_eval() + SAVE_RESERVE_S if self.mode == "cap" else 0.0
        return self.elapsed() >= self.seconds - reserve


def agree(accelerator, value: int) -> int:
    """The main process's ``value`` on every process."""
    if accelerator.num_processes == 1:
        return value
    from accelerate.utils import broadcast_object_list

    box = [value]
    broadcast_object_list(box, from_process=0)
    return int(box[0])
