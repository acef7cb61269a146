"""The one generation path of Cadmus: batched ``transformers.generate`` that stops each row at
text, returns each sample's text and log-probability, and shards prompts across processes.

Every caller goes through it: training-time accuracy (:mod:`cadmus.train.evaluation`),
``cadmus eval`` and its repair rounds (:mod:`cadmus.eval.generate`) and the
``program-completion`` pipeline (:mod:`cadmus.pipeline`). Verdicts are :mod:`cadmus.judge`'s.

* A row ends at end-of-sequence or as soon as its generated text holds one of ``stops``; a stop
  string that starts inside the prompt does not count. Rows stop independently: ``generate``
  pads a finished row, and the batch ends when every row has.
* A :class:`Sample`'s ``text`` is the generated text before its end-of-sequence or first stop
  string; its ``logprob`` is the sum of the model's own log-probabilities (temperature 1,
  whatever the sampling temperature) of the text's tokens and of those that ended it (the stop
  string or end-of-sequence), when one did: so ``12`` does not outrank ``126`` for being its prefix.
* Prompts are sorted by length before batching (less padding) and padded on the left by the
  tokenizer; the ``n`` samples of a prompt are ``n`` rows. ``n == 1`` is greedy unless
  ``sample_one``. Sampled runs repeat for the same seed, batch size and number of processes.
* A prompt that leaves no room in the model's position table gets ``Sample(None, None)``
  (counted in ``stats["too_long"]``).
* :func:`generate_sharded` gives each ``accelerate`` process the slice ``rank::world`` of the
  prompts and gathers every sample on every process.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional, Sequence


@dataclass
class GenerationSettings:
    n: int = 1
    temperature: float = 0.8
    top_p: float = 0.95
    batch_size: int = 64
    max_new_tokens: int = 256
    seed: Optional[int] = 0  # None: leave torch's random state alone (training draws from it too)
    sample_one: bool = False  # sample even when n == 1 (repair rounds of a sampled run)

    @property
    def greedy(self) -> bool:
        return self.n == 1 and not self.sample_one


@dataclass(frozen=True)
class Sample:  # a dataclass, not a tuple: transformers' Pipeline rebuilds tuples as plain ones
    text: Optional[str]  # None: the prompt leaves no room in the position table
    logprob: Optional[float]


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """The answer part of a generated ``text``: everything before its first stop string."""
    ends = [at for at in (text.find(s) for s in stops) if at != -1]
    return text[:min(ends)] if ends else text


def stop_criterion(tokenizer, stops: Sequence[str], prompt_width: int):
    """A ``StoppingCriteria`` that marks each row done at its first generated stop string."""
    import torch
    from transformers import StoppingCriteria

    # not GenerationConfig(stop_strings=...): it also fires on a stop begun in the prompt ("...\n" + "\n")
    encoded = [torch.tensor(tokenizer(s, add_special_tokens=False, split_special_tokens=True)["input_ids"])
               for s in stops]

    class StopOnText(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
            generated = input_ids.shape[1] - prompt_width
            for stop in encoded:
                if generated >= len(stop):
                    done |= (input_ids[:, -len(stop):] == stop.to(input_ids.device)).all(dim=1)
            return done

    return StopOnText()


def prompt_lengths(tokenizer, prompts: Sequence[str]) -> list:
    """Each prompt's length in tokens, encoded as :func:`generate` encodes it."""
    return [len(r) for r in tokenizer(list(prompts), add_special_tokens=False,
                                      split_special_tokens=True)["input_ids"]] if prompts else []


def generate(model, tokenizer, prompts: Sequence[str], stops: Sequence[str], settings: GenerationSettings,
             device=None, synced: bool = False, calls: Optional[int] = None) -> tuple:
    """``(samples, stats)``: ``samples[i]`` is the list of ``settings.n`` :class:`Sample` of
    ``prompts[i]``; ``stats`` counts rows, tokens and seconds. ``synced``: every process keeps
    stepping until all are done (``synced_gpus``, for models sharded across processes).
    ``calls``: make at least this many ``generate`` calls, the extra ones on a one-line filler
    whose output is dropped: synced processes must all make the same number, or one waits forever."""
    import torch

    device = device if device is not None else model.device
    limit = model.config.n_positions
    lengths = prompt_lengths(tokenizer, prompts)
    rows = [i for i in range(len(prompts)) for _ in range(settings.n)]
    order = sorted(range(len(rows)), key=lambda r: lengths[rows[r]])
    fits = [r for r in order if lengths[rows[r]] < limit]
    out = [Sample(None, None)] * len(rows)
    stats = {"rows": len(rows), "generated_tokens": 0, "answer_tokens": 0, "past_answer_tokens": 0,
             "padded_slots": 0, "too_long": len(rows) - len(fits), "seconds": 0.0}
    if settings.seed is not None:
        torch.manual_seed(settings.seed)
    start = time.perf_counter()
    was_training = model.training
    model.eval()
    try:
        for b in range(0, len(fits), settings.batch_size):
            chunk = fits[b:b + settings.batch_size]
            generated = _generate_batch(model, tokenizer, [prompts[rows[r]] for r in chunk], stops, settings,
                                        device, synced)
            for r, (ids, logp) in zip(chunk, generated):
                out[r] = _sample(tokenizer, stops, ids, logp, stats)
        for _ in range(-(-len(fits) // settings.batch_size), calls or 0):
            _generate_batch(model, tokenizer, [SYNC_FILLER], stops, settings, device, synced)
    finally:  # a training run goes on in train mode
        model.train(was_training)
    stats["seconds"] = time.perf_counter() - start
    samples = [[] for _ in prompts]
    for r, sample in enumerate(out):
        samples[rows[r]].append(sample)
    return samples, stats


def _generate_batch(model, tokenizer, texts, stops, settings, device, synced) -> list:
    """``(new token ids, their log-probabilities)`` per text: one left-padded ``generate``."""
    import torch
    from transformers import GenerationConfig, StoppingCriteriaList

    batch = tokenizer(list(texts), add_special_tokens=False, split_special_tokens=True, padding=True,
                      padding_side="left", return_tensors="pt")
    width = batch["input_ids"].shape[1]
    sampling = {} if settings.greedy else {"temperature": settings.temperature, "top_p": settings.top_p}
    # top_k=None: sampling is temperature + nucleus only (transformers would add top-k 50)
    cfg = GenerationConfig(max_new_tokens=min(settings.max_new_tokens, model.config.n_positions - width),
                           do_sample=not settings.greedy, top_k=None, eos_token_id=tokenizer.eos_token_id,
                           pad_token_id=tokenizer.pad_token_id, use_cache=True, output_logits=True,
                           return_dict_in_generate=True, **sampling)
    with torch.no_grad():
        out = model.generate(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device),
                             generation_config=cfg, synced_gpus=synced,
                             stopping_criteria=StoppingCriteriaList([stop_criterion(tokenizer, stops, width)]))
    new = out.sequences[:, width:]
    # output_logits are the raw logits (before temperature and top-p): the model's own distribution
    logp = torch.stack(out.logits, dim=1).float().log_softmax(-1).gather(-1, new.unsqueeze(-1)).squeeze(-1)
    return list(zip(new.tolist(), logp.tolist()))


def _sample(tokenizer, stops, row, logp, stats) -> Sample:
    """Decode one generated row, cut it at its answer's end and count its tokens."""
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    stats["generated_tokens"] += len(row)
    eos_at = row.index(eos) if eos in row else len(row)
    body = tokenizer.decode(row[:eos_at])
    answer = cut_at_stop(body, stops)
    if answer != body:  # ended by a stop string: the answer's tokens run through it
        stop = min((s for s in stops if body.startswith(s, len(answer))), key=len)
        answer_end = tokens_covering(tokenizer, row[:eos_at], len(answer) + len(stop))
    else:  # ended by end-of-sequence (counted) or by the token budget
        answer_end = min(eos_at + 1, len(row))
    tail = row[answer_end:]
    past_answer = sum(1 for t in tail if t != pad)
    stats["answer_tokens"] += answer_end
    stats["past_answer_tokens"] += past_answer
    stats["padded_slots"] += len(tail) - past_answer
    return Sample(answer, float(sum(logp[:answer_end])))


def tokens_covering(tokenizer, ids, n_chars: int) -> int:
    """How many of the generated ``ids`` it takes to decode at least ``n_chars`` characters.
    Counted on the ids themselves: re-encoding the text would miscount a generated special
    token (``<|unk|>`` decodes to several characters)."""
    seen = 0
    for i, t in enumerate(ids, 1):
        seen += len(tokenizer.decode([t]))
        if seen >= n_chars:
            return i
    return len(ids)


SYNC_FILLER = "\n"  # what a synced process with no batch left generates from, to keep in step


def synced_calls(tokenizer, prompts: Sequence[str], settings: GenerationSettings, limit: int, world: int) -> int:
    """The most ``generate`` calls any process makes on its slice (``rank::world``) of ``prompts``:
    every process can count them all, since each holds every prompt."""
    fits = [n < limit for n in prompt_lengths(tokenizer, prompts)]
    return max(-(-sum(fits[r::world]) * settings.n // settings.batch_size) for r in range(world))


def generate_sharded(model, tokenizer, prompts: Sequence[str], stops: Sequence[str], settings: GenerationSettings,
                     accelerator=None, synced: bool = False) -> tuple:
    """:func:`generate` over this process's slice of ``prompts`` (``rank::world``, seed + rank),
    gathered so that every process returns the samples of all prompts in order; ``stats`` are
    summed over processes (``seconds``: the slowest)."""
    if accelerator is None or accelerator.num_processes == 1:
        device = accelerator.device if accelerator is not None else None
        return generate(model, tokenizer, prompts, stops, settings, device, synced)
    from dataclasses import replace

    from accelerate.utils import gather_object

    rank, world = accelerator.process_index, accelerator.num_processes
    mine = list(range(rank, len(prompts), world))
    local = settings if settings.seed is None else replace(settings, seed=settings.seed + rank)
    calls = synced_calls(tokenizer, prompts, settings, model.config.n_positions, world) if synced else None
    samples, stats = generate(model, tokenizer, [prompts[i] for i in mine], stops, local, accelerator.device, synced,
                              calls)
    merged = [None] * len(prompts)
    total = {}
    for indices, part, st in gather_object([(mine, samples, stats)]):
        for i, s in zip(indices, part):
            merged[i] = s
        for k, v in st.items():
            total[k] = max(total.get(k, 0), v) if k == "seconds" else total.get(k, 0) + v
    return merged, total
