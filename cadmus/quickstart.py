"""``cadmus quickstart``: the whole research loop on embedded defaults, on a schedule in steps.

    cadmus quickstart                      # about 17 minutes on a 2-core CPU, writes runs/quickstart/
    cadmus quickstart --seed 3             # the same data, another initialisation and data order
    cadmus quickstart --first-max-steps 30 --train-max-steps 20 --data-limit 800 --eval-limit 20 \\
        --out /tmp/qs                      # a smoke run (CI)

Stages, each with a progress bar and a time estimate:

1. data   ``cadmus data build quickstart`` (arith and copy rows, VM-verified,
          audited)
2. train  a two-phase curriculum whose length is in steps, from the recipes, on one torch
          thread (``--threads``), so that the same ``--seed`` gives the same model on any machine
          (up to CPU kernels: each thread count or instruction set rounds sums differently, and a
          training run amplifies such differences over thousands of steps): ``cadmus train
          quickstart_copy`` (copy rows: the register look-up) until its
          ``stop_at_accuracy`` or its ``max_steps``, then ``quickstart_after_copy``
          (arith and copy rows, its fixed ``max_steps``) started from its model with
          ``--init_from``. ``--minutes`` is only a safety cap (``max_minutes_mode: cap``, see
          ``cadmus/train/budget.py``): if it cuts a phase short, the report says so in its first
          lines. ``--first-recipe '' --train-recipe quickstart`` trains a single
          arith phase instead
3. eval   ``cadmus eval`` greedy, suites completion / synthesis / execution, splits test and
          ood_numbers (``eval_limit`` prompts each)
4. report ``OUT/summary.json`` (each suite's eval summary, in ``cadmus eval``'s format, plus the
          stage runtimes and the machine), ``results.md``, ``accuracy_by_difficulty.png``,
          ``training_curves.png`` and ``dataset_card.md``

The folder also keeps what each stage wrote: ``OUT/data`` (the DatasetDict), ``OUT/model``
(the trained model, loadable with ``from_pretrained``), ``OUT/model_first`` (a curriculum's
first-phase model) and ``OUT/eval/<suite>``.
The recipes hold every tuned choice; the measurements behind them are in docs/experiments/.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from .provenance import machine

SUITES = ("completion", "synthesis", "execution")
SPLITS = ("test", "ood_numbers")
TARGET = {"suite": "completion", "split": "test", "family": "arith", "level": 1, "accuracy": 0.95}


@dataclass
class QuickstartArgs:
    seed: int = field(default=0, metadata={
        "help": "training seed of every phase: initialisation and data order (the data recipe has its own)"})
    minutes: float = field(default=60.0, metadata={
        "help": "safety cap on the whole run's wall-clock time: training stops early only if it would pass it, "
                "and the report says so (the schedule itself is in steps, in the recipes)"})
    threads: int = field(default=1, metadata={
        "help": "torch threads for training and evaluation; 1 (the default) gives a seed the same model whatever "
                "the machine's core count, since each thread count rounds sums differently; 0 = torch's default"})
    out: str = field(default="runs/quickstart", metadata={"help": "report directory"})
    # recipes: a file, or a shipped name (cadmus/recipes/, `cadmus recipes`)
    data_recipe: str = field(default="quickstart", metadata={"help": "data recipe"})
    first_recipe: str = field(default="quickstart_copy", metadata={
        "help": "the curriculum's first phase: its model starts train_recipe ('' = none: train_recipe alone)"})
    first_max_steps: Optional[int] = field(default=None, metadata={
        "help": "replace the first phase's max_steps (its upper bound: it ends sooner at its stop_at_accuracy)"})
    train_recipe: str = field(default="quickstart_after_copy", metadata={"help": "training recipe (the last phase)"})
    train_max_steps: Optional[int] = field(default=None, metadata={"help": "replace the last phase's max_steps"})
    data_limit: Optional[int] = field(default=None, metadata={"help": "cap every split (smoke runs)"})
    eval_limit: int = field(default=300, metadata={"help": "prompts per suite and split"})
    eval_share: float = field(default=0.03, metadata={
        "help": "share of the time cap kept for evaluation and the report (at least 20 s)"})
    overwrite: bool = field(default=False, metadata={"help": "replace an existing report directory"})


class QuickstartError(RuntimeError):
    """A stage failed; the message names it."""


def _stage(n: int, name: str, detail: str) -> None:
    print(f"\n[{n}/4] {name}: {detail}", flush=True)


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise QuickstartError(f"{out} exists and is not empty (use --overwrite or another --out)")
        if not (out / "quickstart.json").is_file() and not (out / "summary.json").is_file():
            raise QuickstartError(f"refusing to overwrite {out}: it is not a quickstart report directory")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "quickstart.json").write_text("{}\n")  # marks the folder as ours from the start


def build_data(args: QuickstartArgs, data_dir: Path) -> None:
    from .data.cli import DataBuildError, build_dataset

    try:
        _, _, report = build_dataset(args.data_recipe, data_dir, limit=args.data_limit, overwrite=True)
    except DataBuildError as err:
        raise QuickstartError(f"data build failed: {err}") from None
    if not report["ok"]:
        raise QuickstartError(f"data build: the audit of {data_dir} failed (see {data_dir / 'audit.json'})")


def train_phase(recipe: str, data_dir: Path, model_dir: Path, seed: int, minutes: float, max_steps=None,
                init_from=None) -> dict:
    """One ``cadmus train`` run on the recipe's step schedule, ``minutes`` a safety cap only.
    Returns its final metrics and how it ended (:func:`phase_outcome`)."""
    from .resources import find_recipe
    from .train import config
    from .train.trainer import train

    overrides = ["--dataset_path", str(data_dir), "--output_dir", str(model_dir), "--seed", str(seed),
                 "--max_minutes", f"{minutes:.4f}", "--max_minutes_mode", "cap"]
    if max_steps is not None:
        overrides += ["--max_steps", str(max_steps)]
    if init_from is not None:
        overrides += ["--init_from", str(init_from)]
    recipe = find_recipe(recipe, "train")
    margs, dargs, targs = config.parse(recipe, overrides)
    start = time.perf_counter()
    metrics = train(margs, dargs, targs, recipe_path=recipe)
    records = [json.loads(line) for line in (model_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {**metrics, **phase_outcome(records, metrics["step"], targs.max_steps, targs.stop_at_accuracy),
            "seconds": round(time.perf_counter() - start, 1)}


def phase_outcome(records: list, step: int, planned: int, stop_at) -> dict:
    """How a phase ended, from its metrics records: ``stop_at_accuracy`` (the skill formed),
    ``max_steps`` (the planned schedule ran out), or ``time cap`` (cut short: nothing else stops
    a run early). ``reached_at`` is the first evaluation at or above ``stop_at``."""
    reached_at = next((r["step"] for r in records if stop_at is not None
                       and r.get("valid_accuracy") is not None and r["valid_accuracy"] >= stop_at), None)
    if reached_at is not None and reached_at == step:
        ended_by = "stop_at_accuracy"
    elif step >= planned:
        ended_by = "max_steps"
    else:
        ended_by = "time cap"
    return {"planned_steps": planned, "stop_at_accuracy": stop_at, "reached_at": reached_at, "ended_by": ended_by}


def train_model(args: QuickstartArgs, data_dir: Path, out: Path, minutes: float) -> dict:
    """The curriculum: the first phase (if any) on its step schedule, then the train recipe from
    its model, all within the ``minutes`` safety cap. Returns the last phase's final metrics, with
    each phase's under ``phases``."""
    deadline, phases, init_from = time.perf_counter() + minutes * 60.0, [], None
    plan = [(args.train_recipe, out / "model", args.train_max_steps)]
    if args.first_recipe:
        plan.insert(0, (args.first_recipe, out / "model_first", args.first_max_steps))
    for recipe, model_dir, max_steps in plan:
        left = max((deadline - time.perf_counter()) / 60.0, 0.05)  # a phase always runs a few steps and saves
        metrics = train_phase(recipe, data_dir, model_dir, args.seed, left, max_steps, init_from)
        phases.append({"recipe": recipe, "model": str(model_dir), **metrics})
        init_from = model_dir
    return {**metrics, "phases": phases}


def cap_notes(phases: list) -> list:
    """One line per phase that the time cap cut short (empty when none was)."""
    return [f"{Path(p['recipe']).stem}: cut by the time cap at step {p['step']} of {p['planned_steps']}"
            for p in phases if p["ended_by"] == "time cap"]


def phases_table(phases: list) -> str:
    """Markdown: per training phase, the steps run of those planned, how it ended, its time."""
    lines = ["| phase | steps | of | ended by | stop_at_accuracy reached at | minutes |\n",
             "|---|---:|---:|---|---:|---:|\n"]
    for p in phases:
        reached = "-" if p["stop_at_accuracy"] is None else (p["reached_at"] or f"not (>= {p['stop_at_accuracy']})")
        lines.append(f"| {Path(p['recipe']).stem} | {p['step']} | {p['planned_steps']} | {p['ended_by']} | "
                     f"{reached} | {p['seconds'] / 60:.1f} |\n")
    return "".join(lines)


def training_curves(out: Path, phases: list) -> None:
    """Every phase's metrics on one step axis, a line where each phase starts."""
    from .train.metrics import plot

    records, marks, offset = [], {}, 0
    for phase in phases:
        lines = (Path(phase["model"]) / "metrics.jsonl").read_text().splitlines()
        marks[offset] = Path(phase["recipe"]).stem
        records += [{**r, "step": r["step"] + offset} for r in map(json.loads, lines) if r]
        offset += phase["step"]
    plot(records, out / "training_curves.png", marks if len(phases) > 1 else None)


def evaluate(args: QuickstartArgs, data_dir: Path, model_dir: Path, eval_dir: Path, splits) -> dict:
    from .eval.cli import EvalError, eval_options
    from .eval.cli import evaluate as evaluate_suite

    summaries = {}
    for suite in SUITES:
        options = eval_options(model_dir, data_dir, suite=suite, split=",".join(splits), limit=args.eval_limit,
                               out=eval_dir / suite)
        try:
            summaries[suite] = evaluate_suite(options)
        except EvalError as err:
            raise QuickstartError(f"eval of suite {suite} failed: {err}") from None
    return summaries


def accuracy(entry: dict) -> float:
    """Greedy accuracy (pass@1 with one sample per prompt) of a split entry of an eval summary
    (metrics under ``metrics``) or of one of its breakdowns (metrics inline)."""
    return entry.get("metrics", entry)["pass@1"]


def target_result(summaries: dict) -> dict:
    """The headline number: completion, IID test, arith level 1 (only arith's rows, whatever
    else the split holds)."""
    split = summaries[TARGET["suite"]]["splits"].get(TARGET["split"], {})
    level = split.get("by_family_level", {}).get(f"{TARGET['family']} level {TARGET['level']}")
    value = accuracy(level) if level else None
    return {**TARGET, "measured": value, "prompts": level["prompts"] if level else 0,
            "met": value is not None and value >= TARGET["accuracy"]}


def results_table(summaries: dict) -> str:
    """Markdown: one row per suite x split, greedy accuracy overall and per difficulty level."""
    levels = sorted({lv for s in summaries.values() for e in s["splits"].values() for lv in e["by_level"]})
    head = "| suite | split | prompts | accuracy | " + " | ".join(levels) + " |\n"
    lines = [head, "|---|---|---:|---:|" + "---:|" * len(levels) + "\n"]
    for suite, summary in summaries.items():
        for split, entry in summary["splits"].items():
            cells = []
            for lv in levels:
                m = entry["by_level"].get(lv)
                cells.append(f"{accuracy(m):.3f} ({m['prompts']})" if m else "-")
            lines.append(f"| {suite} | {split} | {entry['prompts']} | {accuracy(entry):.3f} | " + " | ".join(cells) + " |\n")
    return "".join(lines)


def plot_by_difficulty(summaries: dict, path: Path) -> None:
    """One panel per suite: greedy accuracy per difficulty level, IID and OOD bars side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(summaries), figsize=(4.2 * len(summaries), 3.4), squeeze=False)
    for ax, (suite, summary) in zip(axes[0], summaries.items()):
        splits = list(summary["splits"])
        levels = sorted({lv for e in summary["splits"].values() for lv in e["by_level"]})
        width = 0.8 / max(1, len(splits))
        for j, split in enumerate(splits):
            values = [accuracy(summary["splits"][split]["by_level"][lv]) if lv in summary["splits"][split]["by_level"]
                      else float("nan") for lv in levels]
            bars = ax.bar([i + j * width for i in range(len(levels))], values, width, label=split)
            ax.bar_label(bars, fmt="%.2f", fontsize=8)
        ax.set_xticks([i + width * (len(splits) - 1) / 2 for i in range(len(levels))], levels)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{suite} (greedy)", fontsize=10)
        ax.set_ylabel("accuracy")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(out: Path, args: QuickstartArgs, summaries: dict, runtimes: dict, trained: dict) -> dict:
    """Write the tables, plots and copies; return the summary (the caller writes summary.json
    once the report's own runtime is known)."""
    model = json.loads((out / "model" / "cadmus.json").read_text())
    summary = {
        "quickstart": asdict(args),
        "target": target_result(summaries),
        "runtime_s": {k: round(v, 1) for k, v in runtimes.items()},
        "machine": machine(),
        "dataset": {"path": str(out / "data"),
                    "content_sha256": json.loads((out / "data" / "build_info.json").read_text())["hashes"]["all"]},
        "model": {**model["model"], "steps": trained.get("step"), "train_metrics": trained},
        "curriculum": trained["phases"],
        "schedule": schedule_summary(args, trained["phases"]),
        "suites": summaries,
    }
    table = results_table(summaries)
    t = summary["target"]
    verdict = (f"target: {t['suite']} accuracy on {t['split']} {t['family']} level {t['level']} = "
               + (f"{t['measured']:.3f}" if t["measured"] is not None else "n/a")
               + f" (goal >= {t['accuracy']}: {'met' if t['met'] else 'NOT met'})")
    warning = cap_warning(args, summary["schedule"]["cap_notes"])
    (out / "results.md").write_text(
        "# Cadmus quickstart\n\n" + (f"{warning}\n\n" if warning else "") + f"{table}\n{verdict}\n\n"
        + f"## Training (seed {args.seed}, schedule in steps)\n\n{phases_table(trained['phases'])}\nruntime (s): "
        + ", ".join(f"{k} {v:.0f}" for k, v in summary["runtime_s"].items()) + "\n")
    plot_by_difficulty(summaries, out / "accuracy_by_difficulty.png")
    training_curves(out, trained["phases"])
    shutil.copyfile(out / "data" / "README.md", out / "dataset_card.md")
    (out / "quickstart.json").write_text(json.dumps({"stages_done": list(runtimes)}, indent=1) + "\n")
    print("\n" + table + "\n" + verdict + "\n\n" + phases_table(trained["phases"]) + (f"\n{warning}" if warning else ""))
    return summary


def schedule_summary(args: QuickstartArgs, phases: list) -> dict:
    """The schedule as it ran: seed, per phase steps run / planned and how it ended, the cap."""
    notes = cap_notes(phases)
    return {"seed": args.seed, "time_cap_minutes": args.minutes, "cut_by_time_cap": bool(notes), "cap_notes": notes,
            "phases": [{k: p[k] for k in ("recipe", "step", "planned_steps", "ended_by", "stop_at_accuracy",
                                          "reached_at", "seconds")} for p in phases]}


def cap_warning(args: QuickstartArgs, notes: list) -> str:
    if not notes:
        return ""
    return (f"**WARNING: the time cap (--minutes {args.minutes:g}) cut training short, so this is not the model "
            "the step schedule defines (a slower or busier machine; raise --minutes):** "
            + "; ".join(notes) + ".")


def resolve_recipes(args: QuickstartArgs) -> QuickstartArgs:
    """The arguments with each recipe name replaced by its file, so that an unknown one fails
    before any work and the report records which files ran."""
    from dataclasses import replace

    from .resources import ResourceNotFound, find_recipe

    try:
        return replace(args, data_recipe=str(find_recipe(args.data_recipe, "data")),
                       first_recipe=str(find_recipe(args.first_recipe, "train")) if args.first_recipe else "",
                       train_recipe=str(find_recipe(args.train_recipe, "train")))
    except ResourceNotFound as err:
        raise QuickstartError(str(err)) from None


def set_threads(threads: int) -> int:
    """Use ``threads`` torch threads (0: leave torch's choice); returns the count before."""
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    return before


def evaluate_stage(args: QuickstartArgs, data_dir: Path, model_dir: Path, eval_dir: Path, reserve: float,
                   runtimes: dict) -> dict:
    from .data.io import load_dataset_dir

    present = [s for s in SPLITS if len(load_dataset_dir(data_dir).get(s, [])) > 0]
    _stage(3, "eval", f"greedy, suites {', '.join(SUITES)} on {', '.join(present)}, "
           f"up to {args.eval_limit} prompts each (about {reserve:.0f} s)")
    t = time.perf_counter()
    summaries = evaluate(args, data_dir, model_dir, eval_dir, present)
    runtimes["eval"] = time.perf_counter() - t
    return summaries


def run(args: QuickstartArgs) -> dict:
    if args.minutes <= 0:
        raise QuickstartError(f"--minutes must be > 0, got {args.minutes}")
    if args.threads < 0:
        raise QuickstartError(f"--threads must be >= 0, got {args.threads}")
    args = resolve_recipes(args)
    budget_s = args.minutes * 60.0
    start = time.perf_counter()
    out = Path(args.out)
    _prepare_out(out, args.overwrite)
    data_dir, model_dir, eval_dir = out / "data", out / "model", out / "eval"
    runtimes = {}

    _stage(1, "data", f"building {Path(args.data_recipe).name} into {data_dir}")
    t = time.perf_counter()
    build_data(args, data_dir)
    runtimes["data"] = time.perf_counter() - t

    reserve = max(20.0, args.eval_share * budget_s)
    train_minutes = (budget_s - (time.perf_counter() - start) - reserve) / 60.0
    if train_minutes <= 0.05:
        raise QuickstartError(f"the data stage used the budget ({runtimes['data']:.0f} s of {budget_s:.0f} s): "
                              "raise --minutes or lower --data-limit")
    recipes = [Path(r).name for r in (args.first_recipe, args.train_recipe) if r]
    _stage(2, "train", f"{' then '.join(recipes)}, seed {args.seed}, on the recipes' step schedule "
           f"(time cap {train_minutes:.1f} min, then about {reserve:.0f} s for evaluation and the report)")
    t = time.perf_counter()
    threads_before = set_threads(args.threads)
    try:  # the report's machine record names the thread count that trained the model
        trained = train_model(args, data_dir, out, train_minutes)
        runtimes["train"] = time.perf_counter() - t
        summaries = evaluate_stage(args, data_dir, model_dir, eval_dir, reserve, runtimes)
        _stage(4, "report", str(out))
        t = time.perf_counter()
        summary = write_report(out, args, summaries, runtimes, trained)
    finally:
        set_threads(threads_before)
    runtimes["report"] = time.perf_counter() - t
    runtimes["total"] = time.perf_counter() - start
    summary["runtime_s"] = {k: round(v, 1) for k, v in runtimes.items()}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")  # once, with every runtime
    over = runtimes["total"] - budget_s
    print(f"\ncadmus quickstart: done in {runtimes['total'] / 60:.1f} min (time cap {args.minutes:g} min"
          + (f", over by {over:.0f} s" if over > 0 else "") + f"); report in {out}")
    return summary


def cmd_quickstart(ns) -> int:
    args = QuickstartArgs(**{k: getattr(ns, k) for k in QuickstartArgs.__dataclass_fields__})
    try:
        run(args)
    except QuickstartError as err:
        print(f"cadmus quickstart: error: {err}", file=sys.stderr)
        return 2
    return 0


def register(sub) -> None:
    from dataclasses import MISSING, fields

    p = sub.add_parser("quickstart", help="build data, train tiny on a step schedule, evaluate and report (CPU)",
                       description=__doc__.split("\n\n")[0])
    for f in fields(QuickstartArgs):
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not MISSING else None
        if f.type in (bool, "bool"):
            p.add_argument(flag, action="store_true", help=f.metadata["help"])
        else:
            kind = {"float": float, "int": int, "str": str}.get(str(f.type).replace("Optional[", "").rstrip("]"), str)
            p.add_argument(flag, type=kind, default=default, dest=f.name,
                           help=f"{f.metadata['help']} (default {default})")
    p.set_defaults(func=cmd_quickstart)
