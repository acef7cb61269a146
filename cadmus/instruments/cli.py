"""``cadmus inspect`` and ``cadmus probe``.

    cadmus inspect MODEL --data DIR --split train,test,ood_numbers --limit 200 --out OUT [--heads]
    cadmus probe OUT --train-split train --eval-split test,ood_numbers --target answer,value --out PROBES
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from . import ablation as ablation_mod
from . import heads as heads_mod
from . import probe as probe_mod
from .inspect import SUITES, InspectError


def _names(text: str) -> list:
    return [s.strip() for s in text.split(",") if s.strip()]


def _device(name: str) -> str:
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def cmd_inspect(args) -> int:
    from ..data.io import load_dataset_dir
    from .inspect import build_splits, collect_items, load_for_inspection, run_model, write_inspection

    device = _device(args.device)
    model, tokenizer = load_for_inspection(args.model, device)
    families = _names(args.family) if args.family else None
    items = collect_items(load_dataset_dir(args.data), _names(args.split), args.suite, args.limit, families)
    if not items:
        raise InspectError(f"no {args.suite} prompts in split(s) {args.split}"
                           + (f" of family {args.family}" if families else ""))
    cfg = model.config
    scorer = heads_mod.HeadScores(cfg.n_layer, cfg.n_head, example_index=args.heads_prompt) if args.heads else None
    skipped = []
    acts = run_model(model, tokenizer, items, batch_size=args.batch_size, attentions=args.attentions or args.heads,
                     device=device, skipped=skipped)
    on_act = (lambda act: scorer.add(act.tokens, act.attentions)) if scorer else None
    with tempfile.TemporaryDirectory(prefix="cadmus-inspect-") as scratch:
        splits = build_splits(acts, model, tokenizer, scratch, attentions=args.attentions, on_activation=on_act)
        meta = _meta(args, cfg, splits, skipped)
        write_inspection(args.out, splits, meta)
    print(f"wrote {args.out}: " + ", ".join(f"{s} {meta['prompts'][s]} prompts / {n} tokens"
                                            for s, n in meta["tokens"].items()))
    if skipped:
        print(f"skipped {len(skipped)} prompt(s) longer than the model's {cfg.n_positions} positions")
    detected = None
    if scorer:
        rep = heads_mod.write(scorer, args.out, args.heads_threshold, args.heads_ratio)
        print(heads_mod.markdown(rep), end="")
        print(f"wrote {Path(args.out) / 'heads.md'}, heads.json, heads.png")
        detected = {}  # pattern -> labels, a head detected over all queries not repeated for its line group
        for pattern, overall in rep["detected"].items():
            by_line = [label for label in rep["detected_by_line"][pattern] if label.split(" ")[0] not in overall]
            detected[pattern] = overall + by_line
    if args.ablate:
        rows = ablation_mod.answer_rows(items, tokenizer, args.suite, max_len=cfg.n_positions)
        result = ablation_mod.ablate_heads(model, rows, tokenizer.pad_token_id, batch_size=max(args.batch_size, 32),
                                           device=device, progress=True)
        rep = ablation_mod.write(result, args.out, cfg.n_layer, cfg.n_head, args.ablate_threshold, detected)
        print(ablation_mod.markdown(rep), end="")
        print(f"wrote {Path(args.out) / 'ablation.md'}, ablation.json, ablation.png")
    return 0


def _meta(args, cfg, splits, skipped) -> dict:
    return {"model": str(args.model), "data": str(args.data), "suite": args.suite, "limit": args.limit, "family": args.family,
            "n_layer": cfg.n_layer, "n_head": cfg.n_head, "n_embd": cfg.n_embd,
            "hidden": "hidden[k]: k=0 embeddings, k=1..n_layer block outputs (the last after ln_f)",
            "prompts": {s: len(set(d["prompt"])) for s, d in splits.items()},
            "tokens": {s: len(d) for s, d in splits.items()},
            "skipped_too_long": [f"{it.split}/{it.record['id']}" for it in skipped]}


def cmd_probe(args) -> int:
    from .inspect import load_inspection

    dd, meta = load_inspection(args.inspection)
    evals = _names(args.eval_split) if args.eval_split else [s for s in dd if s != args.train_split]
    families = _names(args.family) if args.family else None
    results = probe_mod.run_probes(dd, _names(args.target), args.train_split, evals, families, args.max_rows,
                                   args.scale)
    info = {"source": str(args.inspection), "model": meta.get("model"), "train_split": args.train_split,
            "eval_splits": evals, "families": families, "scale": args.scale}
    probe_mod.write(results, args.out, args.threshold, info)
    for line in probe_mod.verdicts(results, args.threshold):
        print(line)
    print(f"wrote {Path(args.out) / 'probe.md'}, probe.json, probe.png")
    return 0


def _guard(func):
    def run(args) -> int:
        try:
            return func(args)
        except (InspectError, probe_mod.ProbeError) as err:
            print(f"cadmus {args.command}: {err}", file=sys.stderr)
            return 2
    return run


def register(sub) -> None:
    p = sub.add_parser("inspect", help="hidden states (and attention) per prompt token, with the VM's state",
                       description="Run a model over a dataset's prompts; write, per token, its line, role, the "
                                   "VM's registers at its line and every layer's hidden state as a datasets folder. "
                                   "For `cadmus probe`, inspect a split to fit on and splits to score: "
                                   "--split train,test,ood_numbers.")
    p.add_argument("model", help="trained model folder (config.json + safetensors)")
    p.add_argument("--data", required=True, help="dataset folder from `cadmus data build`")
    p.add_argument("--split", default="test", help="split(s), comma-separated (default test)")
    p.add_argument("--suite", default="completion", choices=SUITES, help="which prompts (default completion)")
    p.add_argument("--limit", type=int, default=None, help="first N prompts per split")
    p.add_argument("--family", default=None,
                   help="only prompts of these families, comma-separated (e.g. copy: one look-up per prompt)")
    p.add_argument("--out", required=True, help="output folder (datasets.DatasetDict + inspect.json)")
    p.add_argument("--attentions", action="store_true",
                   help="also store every token's attention weights (large: layers x heads x tokens each)")
    p.add_argument("--heads", action="store_true",
                   help="score every head on named patterns: heads.md, heads.json, heads.png in --out")
    p.add_argument("--heads-threshold", type=float, default=heads_mod.DEFAULT_THRESHOLD,
                   help="detect a head when its mean attention on the pattern's keys is at least this")
    p.add_argument("--heads-ratio", type=float, default=heads_mod.DEFAULT_RATIO,
                   help="... and at least this many times what uniform attention scores")
    p.add_argument("--heads-prompt", type=int, default=0, help="which prompt (in order) the heatmap shows")
    p.add_argument("--ablate", action="store_true",
                   help="zero each head in turn and score the answers again (teacher-forced exact match): "
                        "ablation.md, ablation.json, ablation.png in --out; with --heads, the detected heads' drops")
    p.add_argument("--ablate-threshold", type=float, default=ablation_mod.DEFAULT_THRESHOLD,
                   help="a head is needed when zeroing it lowers the exact match by at least this")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="auto", help="cpu, cuda, ... (default: cuda when available)")
    p.set_defaults(func=_guard(cmd_inspect))

    p = sub.add_parser("probe", help="linear probes per layer on an inspection folder",
                       description="Fit a linear probe per layer on one split of a `cadmus inspect` folder, score "
                                   "it on the others: a table per target (layer x split), probe.json and probe.png.")
    p.add_argument("inspection", help="folder written by `cadmus inspect`")
    p.add_argument("--train-split", default="train", help="split the probes are fitted on (default train)")
    p.add_argument("--eval-split", default=None,
                   help="split(s) scored, comma-separated (default: every other split of the inspection)")
    p.add_argument("--target", default="answer",
                   help=f"target(s), comma-separated, from {', '.join(probe_mod.TARGETS)} (default answer)")
    p.add_argument("--family", default=None, help="only prompts of these families, comma-separated")
    p.add_argument("--scale", default="linear", choices=probe_mod.SCALES,
                   help="regression targets (value, answer) as they are, or sign(v) log10(1 + |v|) for data "
                        "whose values span many orders of magnitude (default linear)")
    p.add_argument("--max-rows", type=int, default=None, help="at most N rows per split and target (random)")
    p.add_argument("--threshold", type=float, default=probe_mod.DEFAULT_THRESHOLD,
                   help="score at which a target counts as linearly decodable (R^2 or accuracy)")
    p.add_argument("--out", required=True, help="output folder: probe.md, probe.json, probe.png")
    p.set_defaults(func=_guard(cmd_probe))
