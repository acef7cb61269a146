"""In-training evaluation: token-weighted eval loss and VM-verified greedy completion accuracy."""
from __future__ import annotations

from .data import IGNORE_INDEX, trim_padding


def eval_loss(model, loader, accelerator) -> float:
    """Mean loss per target token over the eval blocks (summed over every process)."""
    import torch

    model.eval()
    total = torch.zeros(2, device=accelerator.device)  # loss * tokens, tokens
    with torch.no_grad():
        for batch in loader:
            batch = trim_padding(batch)
            n = (batch["labels"][:, 1:] != IGNORE_INDEX).sum()
            total += torch.stack([model(**batch).loss.float() * n, n.float()])
    total = accelerator.reduce(total, "sum")
    model.train()
    return (total[0] / total[1].clamp(min=1)).item()


def left_pad(rows, pad_id):
    """(input_ids, attention_mask) tensors of token-id rows padded on the left (for generate)."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = torch.tensor(r)
        mask[i, width - len(r):] = 1
    return ids, mask


def greedy_completions(model, tokenizer, prompts, batch_size, max_new_tokens, device, synced=False) -> list:
    """Greedy continuation of each prompt, cut at the first end-of-sequence token."""
    import torch
    from transformers import GenerationConfig

    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    limit = model.config.n_positions
    out = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start:start + batch_size]
        rows = tokenizer(chunk, add_special_tokens=False, split_special_tokens=True)["input_ids"]
        ids, mask = left_pad(rows, pad)
        new = max(1, min(max_new_tokens, limit - ids.shape[1]))  # stay inside the position table
        cfg = GenerationConfig(max_new_tokens=new, do_sample=False, eos_token_id=eos, pad_token_id=pad)
        with torch.no_grad():
            gen = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                 generation_config=cfg, synced_gpus=synced)
        for row in gen[:, ids.shape[1]:].tolist():
            row = row[:row.index(eos)] if eos in row else row
            out.append(tokenizer.decode(row))
    return out


def verify_completions(prompts, samples):
    """Per sample: whether it passes as the answer to its completion prompt, by the one judge
    (:func:`cadmus.judge.verify_completions`): an integer literal with which the prompt's
    asserts hold. Echoing the register (``assert c c``) would otherwise always pass."""
    from cadmus.judge import verify_completions as judged

    return judged(prompts, samples)


def completion_accuracy(model, tokenizer, pairs, accelerator, batch_size=64, max_new_tokens=24) -> float:
    """Share of prompts whose greedy completion, spliced into the prompt, runs with status OK.

    Prompts are split across processes; every process runs the same number of batches so
    sharded models (FSDP) stay in step (``synced_gpus``)."""
    import torch

    if not pairs:
        return float("nan")
    rank, world = accelerator.process_index, accelerator.num_processes
    mine = [p for p, _ in pairs[rank::world]]
    unwrapped = accelerator.unwrap_model(model)
    synced = world > 1 and accelerator.distributed_type.name in ("FSDP", "DEEPSPEED")
    unwrapped.eval()
    with accelerator.autocast():
        samples = greedy_completions(unwrapped, tokenizer, mine, batch_size, max_new_tokens,
                                     accelerator.device, synced) if mine else []
    unwrapped.train()
    ok = 0
    if samples:
        ok = int(verify_completions(mine, samples).sum())
    counts = accelerator.reduce(torch.tensor([ok, len(mine)], device=accelerator.device), "sum")
    return counts[0].item() / max(1, counts[1].item())
