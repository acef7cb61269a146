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
from dataclasses import dataclass
from pathlib import Path

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


def train(margs, dargs, targs, recipe_path=None) -> dict:
    """Train from the three argument dataclasses; returns the final metrics."""
    import torch
    from accelerate.utils import set_seed
    from torch.utils.data import DataLoader

    # the budget counts from here: data preparation and model set-up use it too
    budget = (TimeBudget(targs.max_minutes, targs.max_steps, targs.eval_steps, mode=targs.max_minutes_mode)
              if targs.max_minutes else None)
    accelerator = make_accelerator(targs)
    out = Path(targs.output_dir)
    main = accelerator.is_main_process
    set_seed(targs.seed)
    tokenizer = load_tokenizer(margs.tokenizer_path)
    prep = prepare_data(accelerator, margs, dargs, targs, tokenizer)

    config = models.make_config(
        margs.preset, len(tokenizer), prep.n_positions, dropout=margs.dropout,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        n_layer=margs.n_layer, n_head=margs.n_head, n_embd=margs.n_embd,
    )
    if margs.init_from:
        try:
            model = models.start_from(margs.init_from, config)
        except (ValueError, OSError) as err:
            raise RecipeError(str(err)) from err
    else:
        model = models.build_model(config)
    n_params = models.count_parameters(model)
    resume_from = checkpoints.resolve_resume(targs.resume, out)
    if resume_from is not None:
        checkpoints.check_shape(resume_from, model_shape(config))
    elif checkpoints.complete_checkpoints(out):
        # a fresh run would mix its checkpoints (and its "best") with the old run's
        raise checkpoints.CheckpointError(f"{out} already holds checkpoints: pass --resume to continue that run, "
                                          f"or choose another output_dir")
    elif targs.resume and main:
        print(f"cadmus train: no checkpoint in {checkpoints.checkpoint_dir(out)}; starting from scratch")

    optimizer = make_optimizer(model, targs)
    scheduler = make_scheduler(optimizer, targs)
    lengths = None
    if dargs.group_by_length and not dargs.packing:
        lengths = [sum(row) for row in prep.train.with_format(None)["attention_mask"]]
    sampler = EpochSampler(len(prep.train), targs.seed, lengths, targs.per_device_batch_size)
    loader = DataLoader(prep.train, batch_size=targs.per_device_batch_size, sampler=sampler, drop_last=True)
    eval_loader = DataLoader(prep.valid, batch_size=targs.per_device_batch_size)
    model, optimizer, loader, eval_loader = accelerator.prepare(model, optimizer, loader, eval_loader)
    # Not prepared: accelerate would step it once per process; our schedule counts optimizer steps.
    accelerator.register_for_checkpointing(scheduler)

    state = {"step": 0, "eval_loss": None, "valid_accuracy": None, "tokens": 0, "train_time_s": 0.0,
             "window_loss": 0.0, "window_steps": 0, "model_shape": model_shape(config)}
    if resume_from is not None:
        try:
            accelerator.load_state(str(resume_from))
        except RuntimeError as err:  # a shape mismatch that slipped past check_shape
            raise checkpoints.CheckpointError(f"checkpoint {resume_from} does not fit this model: {err}") from err
        state.update(checkpoints.read_state(resume_from))
    log = MetricsLog(out, main, resume_step=state["step"] if resume_from is not None else None)
    if main:
        print(f"cadmus train: {margs.preset} ({n_params:,} parameters), context {prep.context_length} "
              f"(position table {prep.n_positions}), "
              f"{len(prep.train):,} train blocks, non-pad tokens {prep.non_pad_share:.1%}, "
              f"{accelerator.num_processes} process(es) on {accelerator.device}, "
              f"precision {accelerator.mixed_precision}"
              + (f", starting from {margs.init_from}" if margs.init_from else "")
              + (f", resuming at step {state['step']}" if resume_from is not None else ""))

    def evaluate(step):
        record = {"step": step, "eval_loss": evaluation.eval_loss(model, eval_loader, accelerator)}
        if prep.prompts:
            record["valid_accuracy"] = evaluation.completion_accuracy(
                model, tokenizer, prep.prompts, accelerator, targs.generation_batch_size, targs.max_new_tokens)
        state.update(eval_loss=record["eval_loss"], valid_accuracy=record.get("valid_accuracy"))
        return record

    ga = targs.gradient_accumulation_steps
    block_tokens = targs.per_device_batch_size * prep.context_length * accelerator.num_processes
    stream = batches(loader, sampler, accelerator, state["step"] * ga)
    bar = _progress(targs, main, state["step"])

    def refit(step, stop_now=False):
        targs.max_steps = agree(accelerator, step if stop_now else budget.fit(step, state["train_time_s"]))
        if bar is not None:
            bar.total = targs.max_steps
            bar.refresh()

    model.train()
    while state["step"] < targs.max_steps:
        t0 = time.perf_counter()
        loss = train_step(model, optimizer, scheduler, stream, accelerator, ga, targs.max_grad_norm)
        state["train_time_s"] += time.perf_counter() - t0
        step = state["step"] = state["step"] + 1
        state["tokens"] += block_tokens * ga
        state["window_loss"] += loss
        state["window_steps"] += 1
        record = {"step": step}
        if step % targs.logging_steps == 0 or step == targs.max_steps:
            window = accelerator.reduce(torch.tensor(state["window_loss"] / state["window_steps"],
                                                     device=accelerator.device), "mean").item()
            record.update(train_loss=window, lr=scheduler.get_last_lr()[0], tokens=state["tokens"],
                          train_time_s=round(state["train_time_s"], 4),
                          tokens_per_s=state["tokens"] / max(state["train_time_s"], 1e-9))
            state["window_loss"], state["window_steps"] = 0.0, 0
        if budget is not None and step < targs.max_steps:
            if budget.due(step):
                refit(step)
            elif step % targs.logging_steps == 0 and agree(accelerator, int(budget.over())):
                refit(step, stop_now=True)  # behind the estimate: stop here, still evaluate and save
        if (targs.eval_steps and step % targs.eval_steps == 0) or step == targs.max_steps:
            t_eval = time.perf_counter()
            record.update(evaluate(step))
            if budget is not None:
                budget.record_eval(time.perf_counter() - t_eval)
            if step < targs.max_steps and reached(record.get("valid_accuracy"), targs.stop_at_accuracy, accelerator):
                refit(step, stop_now=True)  # the loop ends after this step's logging and saving
                if main:
                    print(f"cadmus train: valid accuracy {record['valid_accuracy']:.3f} >= stop_at_accuracy "
                          f"{targs.stop_at_accuracy} at step {step}: done")
            elif budget is not None and step < targs.max_steps:
                refit(step)
        if len(record) > 1:
            log.log(record)
            if bar is not None:
                bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k in ("train_loss", "eval_loss", "valid_accuracy")})
        if targs.save_steps and (step % targs.save_steps == 0 or step == targs.max_steps):
            checkpoints.save(accelerator, out, dict(state), targs.save_total_limit)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    final = {k: log.last(k) for k in ("train_loss", "eval_loss", "valid_accuracy", "tokens_per_s")}
    final.update(step=state["step"], tokens=state["tokens"], non_pad_share=prep.non_pad_share)
    save_final(accelerator, model, tokenizer, out, final, prep, n_params, (margs, dargs, targs), recipe_path, log)
    return final


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


def _progress(targs, main, initial):
    if not (targs.progress_bar and main):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=targs.max_steps, initial=initial, desc="train", dynamic_ncols=True)


def save_final(accelerator, model, tokenizer, out, final, prep, n_params, args, recipe_path, log) -> None:
    """The output folder: safetensors model, tokenizer, generation config, cadmus.json, curves."""
    from transformers import GenerationConfig

    accelerator.wait_for_everyone()
    unwrapped = accelerator.unwrap_model(model)
    state_dict = accelerator.get_state_dict(model)  # gathers FSDP shards
    if accelerator.is_main_process:
        unwrapped.generation_config = GenerationConfig(
            do_sample=False, max_new_tokens=args[2].max_new_tokens,
            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.eos_token_id,
        )
        unwrapped.save_pretrained(str(out), state_dict=state_dict, save_function=accelerator.save)
        tokenizer.save_pretrained(str(out))
        dargs = args[1]
        best = checkpoints.best_checkpoint(out)
        summary = {
            "recipe": to_dict(args),
            "recipe_file": str(recipe_path) if recipe_path else None,
            "dataset": {"path": str(Path(dargs.dataset_path).resolve()), "content_hash": prep.dataset_hash,
                        "train_blocks": len(prep.train), "non_pad_share": prep.non_pad_share},
            "model": {"preset": args[0].preset, "parameters": n_params, "context_length": prep.context_length,
                      "n_positions": prep.n_positions},
            "git_revision": git_revision(),
            "machine": machine(),
            "num_processes": accelerator.num_processes,
            "mixed_precision": accelerator.mixed_precision,
            "best_checkpoint": str(best) if best else None,
            "metrics": final,
        }
        (out / "cadmus.json").write_text(json.dumps(summary, indent=1) + "\n")
        if log.records:
            plot(log.records, out / "curves.png")
        log.close()
    accelerator.wait_for_everyone()
