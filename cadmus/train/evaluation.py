"""In-training evaluation: token-weighted eval loss and VM-verified greedy completion accuracy."""
from __future__ import annotations

from ..judge import verify_completions  # the one judge decides in-training accuracy too
from .data import IGNORE_INDEX, trim_padding

# The judge reads a completion answer's first line (cadmus.judge.answer_line): what follows the
# newline changes no verdict, so generation stops there.
COMPLETION_STOPS = ("\n",)


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


def completion_accuracy(model, tokenizer, pairs, accelerator, batch_size=64, max_new_tokens=24) -> float:
    """Share of prompts whose greedy completion, spliced into the prompt, runs with status OK.

    Prompts are split across processes (:func:`cadmus.generation.generate_sharded`); sharded
    models (FSDP, DeepSpeed) keep every process stepping until all are done (``synced_gpus``)."""
    from cadmus.generation import GenerationSettings, generate_sharded

    if not pairs:
        return float("nan")
    prompts = [p for p, _ in pairs]
    unwrapped = accelerator.unwrap_model(model)
    synced = accelerator.num_processes > 1 and accelerator.distributed_type.name in ("FSDP", "DEEPSPEED")
    # seed None: greedy needs no randomness, and reseeding would change the training's own draws
    settings = GenerationSettings(batch_size=batch_size, max_new_tokens=max_new_tokens, seed=None)
    with accelerator.autocast():
        samples, _ = generate_sharded(unwrapped, tokenizer, prompts, COMPLETION_STOPS, settings, accelerator, synced)
    return float(verify_completions(prompts, [group[0].text for group in samples]).mean())
