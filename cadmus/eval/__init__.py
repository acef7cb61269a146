"""Evaluation: prompts per suite, batched generation, batched VM verification, pass@k reports.

Modules, one job each: ``passk`` (the unbiased estimator), ``prompts`` (suites -> prompts,
stop strings, few-shot), ``generate`` (``transformers.generate`` with per-row stopping and
``accelerate`` sharding), ``score`` (every sample of a run in one ``cadmus.run_batch``),
``report`` (samples.jsonl, summary.json, markdown, PNG), ``repair`` (VM feedback rounds),
``baselines`` (look-up-table and constant programs built from the prompt's examples: the
headline must stay ~0 for them), ``cli`` (``cadmus eval``). Generation and scoring are
separate steps: ``cadmus eval export-prompts`` (``--preamble`` states the DSL for a model that
has not seen it) and ``cadmus eval score`` let any other system answer the same prompts.
"""
from .passk import mean_pass_at_k, pass_at_k
from .prompts import SUITES, Prompt, build_prompts, cut_sample, stop_strings
from .score import score_samples

__all__ = ["SUITES", "Prompt", "build_prompts", "cut_sample", "mean_pass_at_k", "pass_at_k", "score_samples",
           "stop_strings"]
