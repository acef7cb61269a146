"""``transformers.pipeline("program-completion")``: complete DSL program prefixes, run every
completed program in the VM, and optionally keep only the verified ones.

    import cadmus.pipeline                       # registers the task with transformers
    from transformers import pipeline

    complete = pipeline("program-completion", model="runs/tiny", device=0)   # or device="cpu"
    complete("mov a 17\\nmov b 25\\nadd c a b\\nassert c ", num_return_sequences=8, temperature=0.8, verify=True)
    # [{"completion": "42", "program": "mov a 17\\n...\\nassert c 42", "status": "OK", "outputs": [],
    #   "logprob": -0.02}, ...]

Input: one prefix (a str; the result is a list of samples) or a list of prefixes (the result is
one list of samples per prefix, generated together in left-padded batches of ``batch_size``
rows, default 64). Each sample is a dict:

* ``completion``: the generated text, cut where a completion ends: at the first newline or
  end-of-sequence (the ``completion`` suite's stop strings, :mod:`cadmus.eval.prompts`), or at
  ``max_new_tokens``;
* ``program``: prefix + completion, the text that was run;
* ``status``: the VM status name of ``program`` (``OK``, ``ASSERT_FAILED``, ``PARSE_ERROR``, ...),
  run exactly as ``cadmus.run(program, fuel=fuel)``. When the prefix ends inside an ``assert``
  line (the completion view, ``...\\nassert d ``) the completion is an answer, judged as in
  evaluation and training by :mod:`cadmus.judge`: one that is not a canonical integer literal
  gets ``REJECTED`` and is not run (``assert d d`` would always hold), and ``program`` is the
  prefix + the answer (trailing spaces, tabs and ``\\r`` removed);
* ``outputs``: the integers the program wrote (empty when REJECTED);
* ``logprob``: the sum of the model's log-probabilities (temperature 1, whatever the sampling
  temperature) of the completion's tokens and of the newline or end-of-sequence token that
  ended it, when one did: counting the end keeps ``12`` from outranking ``126`` just for being
  its prefix.

Options (at ``pipeline(...)`` or per call): ``num_return_sequences`` (samples per prefix,
default 1), ``temperature`` (0, or None with one sample, is greedy; sampling defaults to 1.0),
``top_p`` (default 1.0), ``max_new_tokens`` (default: the model's generation config, else 24;
always within the position table), ``verify`` (keep only samples whose status is OK, ranked by
``logprob``, highest first; without it samples keep their generation order), ``fuel`` (VM
instruction budget), ``seed`` (seeds torch before sampling), ``batch_size``, and the standard
``device``. Greedy decoding is deterministic; sampled runs repeat for the same seed and batch.

Loading without importing cadmus first: ``pipe.save_pretrained(folder)`` (standard
transformers) copies this module into the folder and names it in ``config.json``
(``custom_pipelines``); ``pipeline("program-completion", model=folder, trust_remote_code=True)``
then finds it. :func:`add_pipeline_code` does the same to an existing model folder without
rewriting its weights. The copied module imports ``cadmus``, so cadmus must be installed.
transformers asks for ``trust_remote_code=True`` for such a folder even after
``import cadmus.pipeline``.

Importing this module imports torch and transformers; ``import cadmus`` does not import it.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from transformers import AutoModelForCausalLM, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from cadmus import generation, judge
from cadmus.eval.prompts import stop_strings
from cadmus.isa import DEFAULT_FUEL
from cadmus.tokenization import encode

TASK = "program-completion"
SUITE = "completion"  # its stop strings end an answer
DEFAULT_MAX_NEW_TOKENS = 24  # the trainer's default for completion answers
DEFAULT_BATCH_ROWS = 64


class _Prefixes(tuple):
    """All prefixes of one call: one pipeline input, so that they are generated together."""


class ProgramCompletionPipeline(Pipeline):
    """Program prefixes -> completions verified by the Cadmus VM (see the module docstring)."""

    _load_tokenizer = True
    _load_processor = False
    _load_image_processor = False
    _load_video_processor = False
    _load_feature_extractor = False

    def __call__(self, inputs, *, batch_size=None, **kwargs):
        single = isinstance(inputs, str)
        prefixes = [inputs] if single else list(inputs)
        if not all(isinstance(p, str) for p in prefixes):
            raise TypeError("program-completion takes a program prefix (str) or a list of them")
        if not prefixes:
            return []
        if batch_size is not None:
            kwargs["batch_size_rows"] = batch_size
        results = super().__call__(_Prefixes(prefixes), **kwargs)
        return results[0] if single else results

    def _sanitize_parameters(self, num_return_sequences=None, temperature=None, top_p=None, max_new_tokens=None,
                             verify=None, fuel=None, seed=None, batch_size_rows=None):
        forward = {k: v for k, v in dict(num_return_sequences=num_return_sequences, temperature=temperature,
                                         top_p=top_p, max_new_tokens=max_new_tokens, seed=seed,
                                         batch_size_rows=batch_size_rows).items() if v is not None}
        post = {k: v for k, v in dict(verify=verify, fuel=fuel).items() if v is not None}
        return {}, forward, post

    def preprocess(self, prefixes):
        return {"prefixes": list(prefixes), "ids": [encode(self.tokenizer, p) for p in prefixes]}

    def _forward(self, model_inputs, num_return_sequences=1, temperature=None, top_p=1.0, max_new_tokens=None,
                 seed=None, batch_size_rows=None):
        n, ids = int(num_return_sequences), model_inputs["ids"]
        sampling = _sampling(n, temperature, top_p)
        limit = self.model.config.n_positions
        if min(map(len, ids)) == 0 or max(map(len, ids)) >= limit:
            bad = sorted({len(r) for r in ids if not 0 < len(r) < limit})
            raise ValueError(f"a prefix must be 1 to {limit - 1} tokens long to leave room in the model's {limit} "
                             f"positions; got {', '.join(map(str, bad))} tokens")
        budget = max_new_tokens or getattr(self.model.generation_config, "max_new_tokens", None) \
            or DEFAULT_MAX_NEW_TOKENS
        settings = generation.GenerationSettings(
            n=n, max_new_tokens=budget, seed=seed, sample_one=bool(sampling),
            batch_size=batch_size_rows or self._batch_size or DEFAULT_BATCH_ROWS, **sampling)
        samples, _ = generation.generate(self.model, self.tokenizer, model_inputs["prefixes"], stop_strings(SUITE),
                                         settings, self.device)
        return {"prefixes": model_inputs["prefixes"], "samples": samples}

    def postprocess(self, model_outputs, verify=False, fuel=DEFAULT_FUEL):
        prefixes = model_outputs["prefixes"]
        results = [[{"completion": s.text, "program": prefix + s.text, "logprob": s.logprob} for s in group]
                   for prefix, group in zip(prefixes, model_outputs["samples"])]
        _run_in_vm([s for group in results for s in group],
                   [prefix for prefix, group in zip(prefixes, results) for _ in group], fuel)
        if verify:
            results = [sorted((s for s in group if s["status"] == "OK"), key=lambda s: -s["logprob"])
                       for group in results]
        return results


def _sampling(n: int, temperature, top_p) -> dict:
    """Sampling settings for ``generate``; empty for greedy decoding."""
    if n < 1:
        raise ValueError(f"num_return_sequences must be at least 1, got {n}")
    if temperature == 0 or (temperature is None and n == 1):
        if n > 1:
            raise ValueError("temperature=0 is greedy decoding, which gives one sample; ask for "
                             "num_return_sequences=1 or a temperature above 0")
        return {}
    return {"temperature": 1.0 if temperature is None else temperature, "top_p": top_p}


def _ends_in_assert(prefix: str) -> bool:
    """True when the prefix's last line is an open ``assert`` (the completion view)."""
    return prefix[prefix.rfind("\n") + 1:].startswith("assert ")


def _run_in_vm(samples, prefixes, fuel) -> None:
    """Set ``status`` and ``outputs`` of every sample: one batched run of all of them. A prefix
    ending in an ``assert`` asks a completion question, judged by :mod:`cadmus.judge`; any
    other prefix is run as it is completed."""
    checks = [judge.completion_check(prefix, sample["completion"]) if _ends_in_assert(prefix)
              else judge.Check(prefix + sample["completion"], (((), None),)) for sample, prefix in zip(samples, prefixes)]
    judged = judge.execute(checks, fuel)
    for k, (sample, c) in enumerate(zip(samples, checks)):
        sample.update(status=judged.status(k), outputs=judged.outputs(k))
        if c.rejected is None:
            sample["program"] = c.program


def add_pipeline_code(model_dir) -> Path:
    """Make ``pipeline(model=model_dir, trust_remote_code=True)`` find this pipeline without
    ``import cadmus.pipeline``: copy this module into the folder and name it in config.json,
    as ``Pipeline.save_pretrained`` does, without rewriting the weights. Returns config.json."""
    folder = Path(model_dir)
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{folder} is not a model folder (no config.json)")
    config = json.loads(config_file.read_text())
    module = Path(__file__).stem
    config["custom_pipelines"] = {TASK: {"impl": f"{module}.{ProgramCompletionPipeline.__name__}",
                                         "pt": ["AutoModelForCausalLM"], "type": "text"}}
    shutil.copyfile(__file__, folder / f"{module}.py")
    config_file.write_text(json.dumps(config, indent=2) + "\n")
    return config_file


PIPELINE_REGISTRY.register_pipeline(TASK, pipeline_class=ProgramCompletionPipeline, pt_model=AutoModelForCausalLM,
                                    type="text")
