"""The accelerate training loop. It knows the model only as ``model(**batch).loss``.

The same code runs on a laptop CPU (``cadmus train``), one GPU, or many processes
(``accelerate launch ... -m cadmus.train``). Resuming is exact: the data order is a
function of (seed, epoch) and a resumed run skips the batches it has already seen.
"""
from __future__ import annotations

import json
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

from .. import models
from ..provenance import git_revision, machine
from ..tokenization import load_tokenizer
from . import checkpoints, data, evaluation
from .optim import make_optimizer, make_scheduler
from .budget import TimeBudget, agree
from .config import to_dict
from .metrics import MetricsLog, plot


class RecipeError(ValueError):
    """The recipe does not fit the dataset (e.g. a context shorter than the longest sample)."""


class EpochSampler:
    """A permutation of the rows that depends only on (seed, epoch): resumable by construction.

    With ``lengths`` (group by length), each window of ``GROUP_WINDOW`` batches of the
    permutation is sorted by length before it is cut into batches, and the batches are then
    shuffled: a batch holds rows of similar length, so cutting it to its longest row
    (``data.trim_padding``) removes most padding when views of very different lengths are
    mixed, while the order stays random at the scale of the window."""

    GROUP_WINDOW = 50

    def __init__(self, n: int, seed: int, lengths=None, batch_size: int = 1):
        self.n, self.seed, self.epoch = n, seed, 0
        self.lengths, self.batch_size = lengths, batch_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self):
        return self.n

    def __iter__(self):
        import torch

        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.n, generator=g).tolist()
        if self.lengths is None:
            return iter(order)
        window = self.GROUP_WINDOW * self.batch_size
        batches = []
        for start in range(0, self.n, window):
            chunk = sorted(order[start:start + window], key=lambda i: -self.lengths[i])
            batches += [chunk[b:b + self.batch_size] for b in range(0, len(chunk), self.batch_size)]
        full = [b for b in batches if len(b) == self.batch_size]
        short = [b for b in batches if len(b) < self.batch_size]  # at most one: it goes last
        shuffled = torch.randperm(len(full), generator=g).tolist()
        return iter([i for b in shuffled for i in full[b]] + [i for b in short for i in b])


@dataclass
class Prepared:
    train: object  # block datasets (torch format)
    valid: object
    prompts: list  # (prompt, target) pairs for the accuracy check
    context_length: int  # training block width
    n_positions: int  # position table: every eval prompt of the dataset fits
    non_pad_share: float
    dataset_hash: str


def prepare_data(accelerator, margs, dargs, targs, tokenizer) -> Prepared:
    ds = data.load_dataset_dict(dargs.dataset_path)
    weights = dargs.view_weights()
    with accelerator.main_process_first():  # the main process fills the map cache, the others read it
        train = data.filter_families(ds["train"], dargs.families)
        valid = data.filter_families(ds["valid"], dargs.families)
        if dargs.max_train_samples:
            train = train.select(range(min(dargs.max_train_samples, len(train))))
        valid_eval = valid.select(range(min(dargs.max_eval_samples, len(valid))))
        train_tok = data.tokenize(train, tokenizer, weights, targs.seed, dargs.num_proc)
        valid_tok = data.tokenize(valid_eval, tokenizer, weights, targs.seed, dargs.num_proc)
        if len(train_tok) == 0:
            raise data.DatasetError(f"dataset {dargs.dataset_path}: no training samples for views "
                                    f"{list(weights)} and families {dargs.families or 'all'}")
        prompts = data.completion_prompts(valid, targs.accuracy_samples) if targs.accuracy_samples else []
        # char-level: a completion prompt + target + EOS is that many tokens
        longest = max(data.longest_sample(train_tok), data.longest_sample(valid_tok),
                      max((len(p) + len(t) + 1 for p, t in prompts), default=0))
        ctx = resolve_context(margs.context_length, longest)
        n_positions = resolve_positions(margs.n_positions, ctx, data.longest_eval_sample(ds, tokenizer),
                                        accelerator.is_main_process)
        blocks = dict(block_size=ctx, packing=dargs.packing, target_only=dargs.target_only_loss,
                      pad_id=tokenizer.pad_token_id, num_proc=dargs.num_proc)
        train_blocks = data.to_blocks(train_tok, **blocks)
        valid_blocks = data.to_blocks(valid_tok, **blocks)
    return Prepared(
        train=train_blocks,
        valid=valid_blocks,
        prompts=prompts,
        context_length=ctx,
        n_positions=n_positions,
        non_pad_share=data.non_pad_share(train_blocks),
        dataset_hash=data.content_hash(dargs.dataset_path),
    )


def resolve_context(requested, longest: int) -> int:
    if requested is None:
        return -(-longest // 8) * 8  # round up: friendlier shapes for the kernels
    if requested < longest:
        raise RecipeError(f"context_length={requested} is too short: the dataset's longest sample has "
                          f"{longest} tokens (prompt + target + end-of-sequence); raise context_length "
                          f"or leave it unset to fit the data")
    return requested


def resolve_positions(requested, ctx: int, longest_eval: tuple, verbose: bool = True) -> int:
    """The position table: by default the longest prompt + answer of any split (rounded up to 8),
    never below the training context; an explicit size below the longest eval sample is allowed
    (its prompts are then counted TOO_LONG at eval) but said."""
    tokens, where = longest_eval
    if requested is None:
        return max(ctx, -(-tokens // 8) * 8)
    if requested < ctx:
        raise RecipeError(f"n_positions={requested} is below context_length={ctx}: the training blocks would not fit")
    if requested < tokens and verbose:
        print(f"cadmus train: n_positions={requested} is shorter than the dataset's longest eval sample "
              f"({tokens} tokens, {where}); such prompts will be scored TOO_LONG")
    return requested


def make_accelerator(targs):
    import torch
    from accelerate import Accelerator
    from accelerate.utils import TorchDynamoPlugin

    precision = targs.mixed_precision
    if precision == "auto":
        precision = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    dynamo = TorchDynamoPlugin(backend="inductor") if targs.torch_compile else None
    # `accelerate launch --multi_gpu` (torchrun) on a machine without GPUs: accelerate only
    # picks its multi-CPU (gloo) mode when told cpu=True, else every process trains alone.
    cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    return Accelerator(mixed_precision=precision, dynamo_plugin=dynamo, cpu=cpu)


def batches(loader, sampler, accelerator, start: int):
    """Endless micro-batches starting at micro-batch number ``start`` of the epoch sequence."""
    per_epoch = len(loader)
    if per_epoch == 0:
        raise RecipeError("the training data gives no full batch: lower per_device_batch_size or add data")
    epoch, skip = divmod(start, per_epoch)
    while True:
        epoch_loader = accelerator.skip_first_batches(loader, skip) if skip else loader
        # accelerate's loaders re-seed the sampler from their own epoch counter when iterated,
        # so the epoch goes through them (a fresh skip loader would otherwise say epoch 0)
        epoch_loader.set_epoch(epoch)
        sampler.set_epoch(epoch)
        yield from epoch_loader
        epoch, skip = epoch + 1, 0


def model_shape(config) -> dict:
    return {k: getattr(config, k) for k in models.SHAPE_FIELDS}


class StepPlan:
    """The step the loop runs to. It starts at the recipe's ``max_steps``; a time budget
    (budget.py) refits it and ``stop_at_accuracy`` ends the run early. The cosine schedule reads
    ``max_steps`` at every step (optim.make_scheduler) from ``schedule``, a copy of the training
    arguments, so the parsed recipe keeps the value it was given (cadmus.json records it)."""

    def __init__(self, targs):
        self.schedule = replace(targs)
        # the budget counts from here: data preparation and model set-up use it too
        self.budget = (TimeBudget(targs.max_minutes, targs.max_steps, targs.eval_steps, mode=targs.max_minutes_mode)
                       if targs.max_minutes else None)
        self.bar = None  # the progress bar shows the current plan

    @property
    def max_steps(self) -> int:
        return self.schedule.max_steps

    def _set(self, accelerator, max_steps: int) -> None:
        self.schedule.max_steps = agree(accelerator, max_steps)
        if self.bar is not None:
            self.bar.total = self.schedule.max_steps
            self.bar.refresh()

    def refit(self, accelerator, step: int, train_time_s: float) -> None:
        """The steps that still fit the time budget, measured at ``step``."""
        self._set(accelerator, self.budget.fit(step, train_time_s))

    def stop(self, accelerator, step: int) -> None:
        """End the run after this step (its logging, evaluation and saving still happen)."""
        self._set(accelerator, step)


@dataclass
class Run:
    """What set-up hands the loop: the prepared model, optimizer and data, and the checkpoint
    the run resumes from (None: a fresh start)."""
    accelerator: object
    tokenizer: object
    prep: Prepared
    config: object
    n_params: int
    model: object
    optimizer: object
    scheduler: object
    sampler: EpochSampler
    loader: object
    eval_loader: object
    resume_from: Optional[Path]
    out: Path
    git_revision: Optional[str]  # read at set-up: a commit made while the run trains is not its code


def train(margs, dargs, targs, recipe_path=None) -> dict:
    """Train from the three argument dataclasses (left as parsed); returns the final metrics."""
    plan = StepPlan(targs)
    run = setup(margs, dargs, targs, plan.schedule)
    state = start_state(run)
    log = MetricsLog(run.out, run.accelerator.is_main_process,
                     resume_step=state["step"] if run.resume_from is not None else None)
    announce(run, margs, state)
    loop(run, targs, plan, state, log)
    final = {k: log.last(k) for k in ("train_loss", "eval_loss", "valid_accuracy", "tokens_per_s")}
    final.update(step=state["step"], tokens=state["tokens"], non_pad_share=run.prep.non_pad_share)
    save_final(run, final, (margs, dargs, targs), recipe_path, log)
    return final


def setup(margs, dargs, targs, schedule) -> Run:
    """Accelerator, tokenizer, data, model, optimizer and loaders, prepared by accelerate;
    ``schedule`` holds the ``max_steps`` the learning-rate schedule reads (see StepPlan)."""
    from accelerate.utils import set_seed

    accelerator = make_accelerator(targs)
    out = Path(targs.output_dir)
    set_seed(targs.seed)
    tokenizer = load_tokenizer(margs.tokenizer_path)
    prep = prepare_data(accelerator, margs, dargs, targs, tokenizer)
    config = models.make_config(
        margs.preset, len(tokenizer), prep.n_positions, dropout=margs.dropout,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        n_layer=margs.n_layer, n_head=margs.n_head, n_embd=margs.n_embd,
    )
    model = initial_model(margs, config)
    n_params = models.count_parameters(model)
    resume_from = find_resume(targs, out, config, accelerator.is_main_process)
    optimizer = make_optimizer(model, targs)
    scheduler = make_scheduler(optimizer, schedule)
    sampler, loader, eval_loader = make_loaders(prep, dargs, targs)
    model, optimizer, loader, eval_loader = accelerator.prepare(model, optimizer, loader, eval_loader)
    # Not prepared: accelerate would step it once per process; our schedule counts optimizer steps.
    accelerator.register_for_checkpointing(scheduler)
    return Run(accelerator, tokenizer, prep, config, n_params, model, optimizer, scheduler, sampler, loader,
               eval_loader, resume_from, out, git_revision())


def initial_model(margs, config):
    """A fresh model, or the weights of ``init_from`` (a curriculum's next phase)."""
    if not margs.init_from:
        return models.build_model(config)
    try:
        return models.start_from(margs.init_from, config)
    except (ValueError, OSError) as err:
        raise RecipeError(str(err)) from err


def find_resume(targs, out: Path, config, main: bool):
    """The checkpoint to resume from (None: start fresh), checked against the model's shape."""
    resume_from = checkpoints.resolve_resume(targs.resume, out)
    if resume_from is not None:
        checkpoints.check_shape(resume_from, model_shape(config))
    elif checkpoints.complete_checkpoints(out):
        # a fresh run would mix its checkpoints (and its "best") with the old run's
        raise checkpoints.CheckpointError(f"{out} already holds checkpoints: pass --resume to continue that run, "
                                          f"or choose another output_dir")
    elif targs.resume and main:
        print(f"cadmus train: no checkpoint in {checkpoints.checkpoint_dir(out)}; starting from scratch")
    return resume_from


def make_loaders(prep: Prepared, dargs, targs) -> tuple:
    """(sampler, train loader, eval loader); the sampler's order depends only on (seed, epoch)."""
    from torch.utils.data import DataLoader

    lengths = None
    if dargs.group_by_length and not dargs.packing:
        lengths = [sum(row) for row in prep.train.with_format(None)["attention_mask"]]
    sampler = EpochSampler(len(prep.train), targs.seed, lengths, targs.per_device_batch_size)
    loader = DataLoader(prep.train, batch_size=targs.per_device_batch_size, sampler=sampler, drop_last=True)
    eval_loader = DataLoader(prep.valid, batch_size=targs.per_device_batch_size)
    return sampler, loader, eval_loader


def start_state(run: Run) -> dict:
    """The loop's counters (saved in every checkpoint), restored with the weights when resuming."""
    state = {"step": 0, "eval_loss": None, "valid_accuracy": None, "tokens": 0, "train_time_s": 0.0,
             "window_loss": 0.0, "window_steps": 0, "model_shape": model_shape(run.config)}
    if run.resume_from is not None:
        try:
            run.accelerator.load_state(str(run.resume_from))
        except RuntimeError as err:  # a shape mismatch that slipped past check_shape
            raise checkpoints.CheckpointError(f"checkpoint {run.resume_from} does not fit this model: {err}") from err
        state.update(checkpoints.read_state(run.resume_from))
    return state


def announce(run: Run, margs, state: dict) -> None:
    if not run.accelerator.is_main_process:
        return
    prep, accelerator = run.prep, run.accelerator
    print(f"cadmus train: {margs.preset} ({run.n_params:,} parameters), context {prep.context_length} "
          f"(position table {prep.n_positions}), "
          f"{len(prep.train):,} train blocks, non-pad tokens {prep.non_pad_share:.1%}, "
          f"{accelerator.num_processes} process(es) on {accelerator.device}, "
          f"precision {accelerator.mixed_precision}"
          + (f", starting from {margs.init_from}" if margs.init_from else "")
          + (f", resuming at step {state['step']}" if run.resume_from is not None else ""))


def loop(run: Run, targs, plan: StepPlan, state: dict, log: MetricsLog) -> None:
    """Optimizer steps up to ``plan.max_steps``, with logging, evaluation, re-planning and checkpoints."""
    ga = targs.gradient_accumulation_steps
    step_tokens = targs.per_device_batch_size * run.prep.context_length * run.accelerator.num_processes * ga
    stream = batches(run.loader, run.sampler, run.accelerator, state["step"] * ga)
    plan.bar = _progress(targs, plan, run.accelerator.is_main_process, state["step"])
    run.model.train()
    while state["step"] < plan.max_steps:
        t0 = time.perf_counter()
        loss = train_step(run.model, run.optimizer, run.scheduler, stream, run.accelerator, ga, targs.max_grad_norm)
        step = count_step(state, time.perf_counter() - t0, loss, step_tokens)
        record = {"step": step}
        if step % targs.logging_steps == 0 or step == plan.max_steps:
            record.update(train_window(run, state))
        check_budget(run, targs, plan, state, step)
        if (targs.eval_steps and step % targs.eval_steps == 0) or step == plan.max_steps:
            record.update(evaluate_and_replan(run, targs, plan, state, step))
        if len(record) > 1:
            log.log(record)
            if plan.bar is not None:
                plan.bar.set_postfix({k: f"{v:.4g}" for k, v in record.items()
                                      if k in ("train_loss", "eval_loss", "valid_accuracy")})
        if targs.save_steps and (step % targs.save_steps == 0 or step == plan.max_steps):
            checkpoints.save(run.accelerator, run.out, dict(state), targs.save_total_limit)
        if plan.bar is not None:
            plan.bar.update(1)
    if plan.bar is not None:
        plan.bar.close()


def count_step(state: dict, seconds: float, loss: float, tokens: int) -> int:
    state["train_time_s"] += seconds
    state["step"] += 1
    state["tokens"] += tokens
    state["window_loss"] += loss
    state["window_steps"] += 1
    return state["step"]


def train_window(run: Run, state: dict) -> dict:
    """The logged train loss (mean over the steps since the last log, over all processes) and speed."""
    import torch

    accelerator = run.accelerator
    window = accelerator.reduce(torch.tensor(state["window_loss"] / state["window_steps"],
                                             device=accelerator.device), "mean").item()
    state["window_loss"], state["window_steps"] = 0.0, 0
    return dict(train_loss=window, lr=run.scheduler.get_last_lr()[0], tokens=state["tokens"],
                train_time_s=round(state["train_time_s"], 4),
                tokens_per_s=state["tokens"] / max(state["train_time_s"], 1e-9))


def check_budget(run: Run, targs, plan: StepPlan, state: dict, step: int) -> None:
    """Between evaluations: re-plan at the end of calibration; stop now when behind the estimate."""
    if plan.budget is None or step >= plan.max_steps:
        return
    if plan.budget.due(step):
        plan.refit(run.accelerator, step, state["train_time_s"])
    elif step % targs.logging_steps == 0 and agree(run.accelerator, int(plan.budget.over())):
        plan.stop(run.accelerator, step)  # behind the estimate: stop here, still evaluate and save


def evaluate(run: Run, targs, state: dict, step: int) -> dict:
    record = {"step": step, "eval_loss": evaluation.eval_loss(run.model, run.eval_loader, run.accelerator)}
    if run.prep.prompts:
        record["valid_accuracy"] = evaluation.completion_accuracy(
            run.model, run.tokenizer, run.prep.prompts, run.accelerator, targs.generation_batch_size,
            targs.max_new_tokens)
    state.update(eval_loss=record["eval_loss"], valid_accuracy=record.get("valid_accuracy"))
    return record


def evaluate_and_replan(run: Run, targs, plan: StepPlan, state: dict, step: int) -> dict:
    """Evaluate; then end the run if ``stop_at_accuracy`` is reached, else refit the time budget."""
    t_eval = time.perf_counter()
    record = evaluate(run, targs, state, step)
    if plan.budget is not None:
        plan.budget.record_eval(time.perf_counter() - t_eval)
    if step < plan.max_steps and reached(record.get("valid_accuracy"), targs.stop_at_accuracy, run.accelerator):
        plan.stop(run.accelerator, step)  # the loop ends after this step's logging and saving
        if run.accelerator.is_main_process:
            print(f"cadmus train: valid accuracy {record['valid_accuracy']:.3f} >= stop_at_accuracy "
                  f"{targs.stop_at_accuracy} at step {step}: done")
    elif plan.budget is not None and step < plan.max_steps:
        plan.refit(run.accelerator, step, state["train_time_s"])
    return record


def reached(accuracy, threshold, accelerator) -> bool:
    """Whether a run with ``stop_at_accuracy`` is done; every process gets the main one's answer."""
    if threshold is None:
        return False
    return bool(agree(accelerator, int(accuracy is not None and accuracy >= threshold)))


def train_step(model, optimizer, scheduler, stream, accelerator, ga: int, max_grad_norm: float) -> float:
    """One optimizer step over ``ga`` micro-batches; returns the mean micro-batch loss."""
    total = 0.0
    for micro in range(ga):
        batch = data.trim_padding(next(stream))
        # gradients are all-reduced only on the last micro-batch of the step
        with accelerator.no_sync(model) if micro < ga - 1 else nullcontext():
            loss = model(**batch).loss / ga
            accelerator.backward(loss)
        total += loss.item()
    if max_grad_norm:
        accelerator.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return total


def _progress(targs, plan: StepPlan, main, initial):
    if not (targs.progress_bar and main):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=plan.max_steps, initial=initial, desc="train", dynamic_ncols=True)


def save_final(run: Run, final: dict, args: tuple, recipe_path, log: MetricsLog) -> None:
    """The output folder: safetensors model, tokenizer, generation config, cadmus.json, curves."""
    accelerator = run.accelerator
    accelerator.wait_for_everyone()
    state_dict = accelerator.get_state_dict(run.model)  # gathers FSDP shards: every process takes part
    if accelerator.is_main_process:
        save_model(run, state_dict, args[2].max_new_tokens)
        summary = run_summary(run, final, args, recipe_path)
        (run.out / "cadmus.json").write_text(json.dumps(summary, indent=1) + "\n")
        if log.records:
            plot(log.records, run.out / "curves.png")
        log.close()
    accelerator.wait_for_everyone()


def save_model(run: Run, state_dict, max_new_tokens: int) -> None:
    """Weights (safetensors), greedy generation config and tokenizer: a folder from_pretrained loads."""
    from transformers import GenerationConfig

    unwrapped = run.accelerator.unwrap_model(run.model)
    tokenizer = run.tokenizer
    unwrapped.generation_config = GenerationConfig(
        do_sample=False, max_new_tokens=max_new_tokens,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.eos_token_id,
    )
    unwrapped.save_pretrained(str(run.out), state_dict=state_dict, save_function=run.accelerator.save)
    tokenizer.save_pretrained(str(run.out))


def run_summary(run: Run, final: dict, args: tuple, recipe_path) -> dict:
    """cadmus.json: the recipe as given (its max_steps too), the steps run, data, model and machine."""
    margs, dargs, _ = args
    prep, accelerator = run.prep, run.accelerator
    best = checkpoints.best_checkpoint(run.out)
    return {
        "recipe": to_dict(args),
        "recipe_file": str(recipe_path) if recipe_path else None,
        "steps_run": final["step"],  # below recipe.max_steps when a time budget or stop_at_accuracy ended it
        "dataset": {"path": str(Path(dargs.dataset_path).resolve()), "content_hash": prep.dataset_hash,
                    "train_blocks": len(prep.train), "non_pad_share": prep.non_pad_share},
        "model": {"preset": margs.preset, "parameters": run.n_params, "context_length": prep.context_length,
                  "n_positions": prep.n_positions},
        "git_revision": run.git_revision,
        "machine": machine(),
        "num_processes": accelerator.num_processes,
        "mixed_precision": accelerator.mixed_precision,
        "best_checkpoint": str(best) if best else None,
        "metrics": final,
    }
