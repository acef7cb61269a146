"""``cadmus eval``'s samples: :mod:`cadmus.generation` with the suite's stop strings.

Each row stops at end-of-sequence or at the suite's stop string (:func:`prompts.stop_strings`),
so no tokens are generated past an answer (``stats["past_answer_tokens"]`` counts any that are,
for the benchmark). Prompts that leave no room in the model's position table get the sample
None (scored ``TOO_LONG``, counted in ``stats["too_long"]``). ``cadmus train`` sizes the table
to the longest prompt + answer of every split of its dataset, so only foreign data, few-shot
examples, a preamble or repair feedback can make a prompt ``TOO_LONG``.

Sharding: :func:`generate_sharded` gives each ``accelerate`` process a slice of the prompts
and gathers the samples on every process (``accelerate launch -m cadmus.cli eval ...``).
"""
from __future__ import annotations

from typing import Sequence

from .. import generation
from ..generation import GenerationSettings  # noqa: F401  (the settings of every eval run)
from .prompts import stop_strings


def generate_samples(model, tokenizer, prompts: Sequence[str], suite: str, settings: GenerationSettings,
                     device="cpu") -> tuple:
    """``(samples, stats)``: ``samples[i]`` is the list of ``n`` answers (texts) to ``prompts[i]``,
    each cut at the suite's stop string; ``stats`` counts tokens and time."""
    samples, stats = generation.generate(model.to(device), tokenizer, prompts, stop_strings(suite), settings, device)
    return _texts(samples), stats


def generate_sharded(model, tokenizer, prompts: Sequence[str], suite: str, settings: GenerationSettings,
                     accelerator=None) -> tuple:
    """:func:`generate_samples` over this process's slice of ``prompts`` (``rank::world``),
    gathered so that every process returns the samples of all prompts in order."""
    device = accelerator.device if accelerator is not None else "cpu"
    samples, stats = generation.generate_sharded(model.to(device), tokenizer, prompts, stop_strings(suite), settings,
                                                 accelerator)
    return _texts(samples), stats


def _texts(samples) -> list:
    return [[s.text for s in group] for group in samples]
