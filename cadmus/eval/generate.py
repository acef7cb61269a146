"""Batched sampling with ``transformers.generate``: left padding, KV cache, per-row stopping.

A row stops at end-of-sequence or at the suite's stop string (:func:`prompts.stop_strings`);
:class:`StopOnText` marks each row done as soon as its generated text contains a stop string,
``generate`` then pads that row, and the batch ends when every row is done, so no tokens are
generated past an answer (``stats["past_answer_tokens"]`` counts any that are, for the
benchmark). Prompts are sorted by length before batching (less padding); ``n`` samples of a
prompt are ``n`` rows; ``n == 1`` is greedy. Sampled runs are reproducible for the same seed,
batch size and number of processes. Prompts that leave no room in the model's
position table get the sample None (scored ``TOO_LONG``, counted in ``stats["too_long"]``).
``cadmus train`` sizes the table to the longest prompt + answer of every split of its dataset,
so only foreign data, few-shot examples, a preamble or repair feedback can make a prompt
``TOO_LONG``.

Sharding: :func:`generate_sharded` gives each ``accelerate`` process a slice of the prompts
and gathers the samples on every process (``accelerate launch -m cadmus.cli eval ...``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

from .prompts import cut_sample, stop_strings


@dataclass
class GenerationSettings:
    n: int = 1
    temperature: float = 0.8
    top_p: float = 0.95
    batch_size: int = 64
    max_new_tokens: int = 256
    seed: int = 0
    sample_one: bool = False  # sample even when n == 1 (repair rounds of a sampled run)

    @property
    def greedy(self) -> bool:
        return self.n == 1 and not self.sample_one


def stop_criterion(tokenizer, suite: str, prompt_width: int):
    """A ``StoppingCriteria`` that ends each row at its first stop string (checked on token ids)."""
    import torch
    from transformers import StoppingCriteria

    stops = [torch.tensor(tokenizer(s, add_special_tokens=False, split_special_tokens=True)["input_ids"])
             for s in stop_strings(suite)]

    class StopOnText(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
            generated = input_ids.shape[1] - prompt_width  # stop strings inside the prompt do not count
            for stop in stops:
                if generated >= len(stop):
                    done |= (input_ids[:, -len(stop):] == stop.to(input_ids.device)).all(dim=1)
            return done

    return StopOnText()


def generate_samples(model, tokenizer, prompts: Sequence[str], suite: str, settings: GenerationSettings,
                     device="cpu") -> tuple:
    """``(samples, stats)``: ``samples[i]`` is the list of ``n`` answers to ``prompts[i]``, each
    cut at the suite's stop string; ``stats`` counts tokens and time."""
    import torch
    from transformers import GenerationConfig, StoppingCriteriaList

    from ..train.evaluation import left_pad

    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    limit = model.config.n_positions
    encoded = tokenizer(list(prompts), add_special_tokens=False, split_special_tokens=True)["input_ids"]
    rows = [i for i in range(len(prompts)) for _ in range(settings.n)]
    order = sorted(range(len(rows)), key=lambda r: len(encoded[rows[r]]))
    texts = [None] * len(rows)  # None: the prompt leaves no room in the position table
    stats = {"rows": len(rows), "generated_tokens": 0, "answer_tokens": 0, "past_answer_tokens": 0,
             "padded_slots": 0, "too_long": 0, "seconds": 0.0}
    stats["too_long"] = sum(1 for r in rows if len(encoded[r]) >= limit)
    torch.manual_seed(settings.seed)
    start = time.perf_counter()
    model.eval()
    for b in range(0, len(order), settings.batch_size):
        chunk = [r for r in order[b:b + settings.batch_size] if len(encoded[rows[r]]) < limit]
        if not chunk:
            continue
        ids, mask = left_pad([encoded[rows[r]] for r in chunk], pad)
        width = ids.shape[1]
        sampling = {} if settings.greedy else {"temperature": settings.temperature, "top_p": settings.top_p}
        # top_k=None: sampling is temperature + nucleus only (transformers would add top-k 50)
        cfg = GenerationConfig(max_new_tokens=min(settings.max_new_tokens, limit - width), do_sample=not settings.greedy,
                               top_k=None, eos_token_id=eos, pad_token_id=pad, use_cache=True, **sampling)
        with torch.no_grad():
            out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), generation_config=cfg,
                                 stopping_criteria=StoppingCriteriaList([stop_criterion(tokenizer, suite, width)]))
        for r, row in zip(chunk, out[:, width:].tolist()):
            texts[r] = _account(tokenizer, suite, row, eos, pad, stats)
    stats["seconds"] = time.perf_counter() - start
    samples = [[] for _ in prompts]
    for r, text in enumerate(texts):
        samples[rows[r]].append(text)
    return samples, stats


def _account(tokenizer, suite, row, eos, pad, stats) -> str:
    """Decode one generated row, cut it at its answer's end and count its tokens."""
    stats["generated_tokens"] += len(row)
    eos_at = row.index(eos) if eos in row else len(row)
    body = tokenizer.decode(row[:eos_at])
    answer = cut_sample(suite, body)
    if answer != body:  # ended by a stop string: the answer's tokens run through it
        stop = min((s for s in stop_strings(suite) if body.startswith(s, len(answer))), key=len)
        answer_end = _tokens_covering(tokenizer, row[:eos_at], len(answer) + len(stop))
    else:  # ended by end-of-sequence (counted) or by the token budget
        answer_end = min(eos_at + 1, len(row))
    tail = row[answer_end:]
    stats["answer_tokens"] += answer_end
    stats["past_answer_tokens"] += sum(1 for t in tail if t != pad)
    stats["padded_slots"] += len(tail) - sum(1 for t in tail if t != pad)
    return answer


def _tokens_covering(tokenizer, ids, n_chars: int) -> int:
    """How many of the generated ``ids`` it takes to decode at least ``n_chars`` characters.
    Counted on the ids themselves: re-encoding the text would miscount a generated special
    token (``<unk>`` decodes to five characters)."""
    seen = 0
    for i, t in enumerate(ids, 1):
        seen += len(tokenizer.decode([t]))
        if seen >= n_chars:
            return i
    return len(ids)


def generate_sharded(model, tokenizer, prompts: Sequence[str], suite: str, settings: GenerationSettings,
                     accelerator=None) -> tuple:
    """:func:`generate_samples` over this process's slice of ``prompts`` (``rank::world``),
    gathered so that every process returns the samples of all prompts in order."""
    if accelerator is None or accelerator.num_processes == 1:
        device = accelerator.device if accelerator is not None else "cpu"
        return generate_samples(model.to(device), tokenizer, prompts, suite, settings, device)
    from accelerate.utils import gather_object

    rank, world = accelerator.process_index, accelerator.num_processes
    mine = list(range(rank, len(prompts), world))
    local = GenerationSettings(**{**settings.__dict__, "seed": settings.seed + rank})
    samples, stats = generate_samples(model.to(accelerator.device), tokenizer, [prompts[i] for i in mine], suite,
                                      local, accelerator.device)
    gathered = gather_object([(mine, samples, stats)])
    merged = [None] * len(prompts)
    total = {}
    for indices, part, st in gathered:
        for i, s in zip(indices, part):
            merged[i] = s
        for k, v in st.items():
            total[k] = max(total.get(k, 0), v) if k == "seconds" else total.get(k, 0) + v
    return merged, total
