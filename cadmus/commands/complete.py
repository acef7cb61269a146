"""``cadmus complete``: complete a program prefix with a trained model and run each sample.

    cadmus complete runs/tiny "mov a 17\\nmov b 25\\nadd c a b\\nassert c "
    cadmus complete runs/tiny "mov a 17\\nassert a " --samples 8 --temperature 0.8 --verify --json
    printf 'mov a 3\\nassert a ' | cadmus complete runs/tiny -

In the PREFIX argument the two characters ``\\n`` stand for a newline (the DSL has no other use
for a backslash); ``-`` reads the prefix verbatim from stdin. Mind the trailing space of an
open ``assert d `` line. One line per sample: status, log-probability, outputs and the
completion (quoted). See :mod:`cadmus.pipeline` for what each field means; ``--verify`` keeps
only samples whose program runs OK, best log-probability first, and exits 1 when none does.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


class CompleteError(Exception):
    """A usage problem reported as one line on stderr (exit code 2)."""


def _prefix(arg: str) -> str:
    return sys.stdin.read() if arg == "-" else arg.replace("\\n", "\n")


def _device(text):
    """``0`` -> GPU 0, ``cpu`` / ``cuda:1`` -> that device, None -> the pipeline's default."""
    if text is None:
        return None
    return int(text) if text.lstrip("-").isdigit() else text


def load_pipeline(model_dir: Path, device=None):
    """The program-completion pipeline for a local model folder (built-in GPT-2 code, never
    remote code; the committed tokenizer when the folder has none, as ``cadmus eval`` does)."""
    if not model_dir.is_dir():
        raise CompleteError(f"model folder {model_dir} not found")
    if not (model_dir / "config.json").is_file():
        raise CompleteError(f"{model_dir}: not a model folder (no config.json); train one with `cadmus train`")
    from transformers import pipeline

    from ..models import load_model
    from ..pipeline import TASK
    from ..tokenization import load_tokenizer

    tokenizer = load_tokenizer(model_dir if (model_dir / "tokenizer.json").is_file() else None)
    return pipeline(TASK, model=load_model(model_dir), tokenizer=tokenizer, device=_device(device))


def format_sample(rank: int, sample: dict) -> str:
    outputs = " ".join(map(str, sample["outputs"]))
    return (f"[{rank}] {sample['status']:<13} logprob {sample['logprob']:9.3f}  outputs [{outputs}]  "
            f"completion {sample['completion']!r}")


def cmd_complete(args) -> int:
    try:
        if args.samples < 1:
            raise CompleteError("--samples must be at least 1")
        if args.temperature is not None and args.temperature < 0:
            raise CompleteError("--temperature must be >= 0")
        if args.temperature == 0 and args.samples > 1:
            raise CompleteError("--temperature 0 is greedy decoding: one sample; use --samples 1 or a temperature > 0")
        prefix = _prefix(args.prefix)
        pipe = load_pipeline(Path(args.model), args.device)
    except CompleteError as err:
        print(f"cadmus complete: {err}", file=sys.stderr)
        return 2
    options = dict(num_return_sequences=args.samples, temperature=args.temperature, verify=args.verify,
                   seed=args.seed)
    if args.max_new_tokens is not None:
        options["max_new_tokens"] = args.max_new_tokens
    try:
        samples = pipe(prefix, **options)
    except ValueError as err:  # a prefix too long for the model, a character outside the alphabet
        print(f"cadmus complete: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(samples, indent=1))
    else:
        for rank, sample in enumerate(samples, 1):
            print(format_sample(rank, sample))
    if args.verify and not samples:
        print(f"cadmus complete: none of {args.samples} samples ran OK", file=sys.stderr)
        return 1
    return 0


def register(sub) -> None:
    import argparse

    summary = "complete a program prefix with a trained model; run each sample in the VM"
    p = sub.add_parser("complete", help=summary, description=summary, epilog=__doc__.split("\n\n", 1)[1],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="trained model folder (config.json, model.safetensors, tokenizer)")
    p.add_argument("prefix", help="program prefix; '\\n' means a newline; '-' reads stdin")
    p.add_argument("--samples", type=int, default=1, help="samples to draw (default 1: greedy)")
    p.add_argument("--temperature", type=float, default=None,
                   help="sampling temperature (0: greedy; default 1.0 when --samples > 1)")
    p.add_argument("--verify", action="store_true", help="keep only samples that run OK, best log-probability first")
    p.add_argument("--max-new-tokens", type=int, default=None, help="longest completion (default: the model's)")
    p.add_argument("--seed", type=int, default=0, help="random seed for sampling")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 or a GPU index (default: GPU 0 if any)")
    p.add_argument("--json", action="store_true", help="print the samples as JSON")
    p.set_defaults(func=cmd_complete)
