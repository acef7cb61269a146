"""python benchmarks/bench_train.py [--presets tiny small] [--steps 20] [--batch 16] [--context 256]

Tokens/s of the Cadmus training loop (``cadmus.train``: accelerate, scheduler, clipping,
logging) against a minimal raw-PyTorch loop on the same model, batches and data, in the
same run. Prints a table and writes JSON to benchmarks/results/bench_train.json.
Target: Cadmus >= 0.9 x raw tokens/s with >= 95% non-pad tokens.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

WARMUP = 5  # steps excluded from timing (allocator warm-up, first-call overheads)
# Both loops are timed per optimizer step (data fetch, forward, backward, clipping, update) and
# compared by their median step time: on a shared machine a burst of someone else's work hits
# a few steps, not the median. Logging, eval and checkpoints are outside both timings.


def cadmus_loop(preset, dataset, out, steps, batch, context):
    from cadmus.train import config, train

    margs, dargs, targs = config.parse(None, [
        "--preset", preset, "--dataset_path", dataset, "--context_length", str(context),
        "--packing", "true", "--output_dir", out, "--max_steps", str(steps), "--per_device_batch_size", str(batch),
        "--logging_steps", "1", "--eval_steps", "0", "--accuracy_samples", "0", "--max_eval_samples", "16",
        "--save_steps", "0", "--warmup_steps", "2", "--progress_bar", "false", "--mixed_precision", "no",
    ])
    final = train(margs, dargs, targs)
    records = [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]
    clock = [0.0] + [r["train_time_s"] for r in records if "train_time_s" in r]
    step_times = [b - a for a, b in zip(clock, clock[1:])][WARMUP:]
    return batch * context / statistics.median(step_times), final["non_pad_share"]


def raw_loop(preset, dataset, steps, batch, context):
    """The same model, data and optimizer in the plainest PyTorch loop."""
    import torch
    from torch.utils.data import DataLoader

    from cadmus import models
    from cadmus.tokenization import load_tokenizer
    from cadmus.train import data

    torch.manual_seed(0)
    tok = load_tokenizer()
    blocks = data.to_blocks(data.tokenize(data.load_dataset_dict(dataset)["train"], tok, {"completion": 1.0}),
                            context, True, False, tok.pad_token_id)
    model = models.build_model(models.make_config(preset, len(tok), context)).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = iter(DataLoader(blocks, batch_size=batch, shuffle=True, drop_last=True))
    step_times = []
    for step in range(steps):
        t0 = time.perf_counter()  # data fetching counts, as it does in the Cadmus loop
        b = next(loader)
        loss = model(input_ids=b["input_ids"], labels=b["labels"]).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
        step_times.append(time.perf_counter() - t0)
    return batch * context / statistics.median(step_times[WARMUP:])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", nargs="+", default=["tiny", "small"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--context", type=int, default=256)
    p.add_argument("--rows", type=int, default=4000, help="arith rows in the generated dataset")
    p.add_argument("--dataset", help="an existing dataset folder (default: a generated arith one)")
    p.add_argument("--json", default=str(Path(__file__).parent / "results" / "bench_train.json"))
    args = p.parse_args(argv)

    from cadmus.train.toydata import arith_dataset

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        dataset = args.dataset or str(Path(tmp) / "arith")
        if not args.dataset:
            arith_dataset(args.rows).save_to_disk(dataset)
        for preset in args.presets:
            raw = raw_loop(preset, dataset, args.steps, args.batch, args.context)
            ours, share = cadmus_loop(preset, dataset, str(Path(tmp) / preset), args.steps, args.batch, args.context)
            rows.append(dict(preset=preset, cadmus_tokens_per_s=round(ours), raw_tokens_per_s=round(raw),
                             ratio=round(ours / raw, 3), non_pad_share=round(share, 4)))
    print(f"\n{'preset':<8} {'cadmus tok/s':>13} {'raw tok/s':>10} {'ratio':>6} {'non-pad':>8}")
    for r in rows:
        print(f"{r['preset']:<8} {r['cadmus_tokens_per_s']:>13,} {r['raw_tokens_per_s']:>10,} {r['ratio']:>6.2f} "
              f"{r['non_pad_share']:>8.1%}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"args": vars(args), "results": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
