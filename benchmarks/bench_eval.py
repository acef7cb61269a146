"""python benchmarks/bench_eval.py --model MODEL_DIR --data DATA_DIR [--split test] [--limit 200] [--n 1 10]

Throughput of ``cadmus eval`` for a model on CPU: prompts/s and generated tokens/s, the share
of wall time spent in VM verification (target < 5%) and the share of generated tokens (and so,
roughly, of generation time) that lie past the answer's end (target ~0; the per-row stopping
criterion makes it 0, padding of rows that finished before the rest of their batch is reported
apart as ``pad%``). Without ``--model``, an untrained ``tiny`` preset and the tiny data recipe are
used (an untrained model rarely ends its answers, so its rates are a worst case). Writes JSON to
benchmarks/results/bench_eval.json.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def untrained_tiny(tmp: Path) -> tuple:
    from cadmus.cli import main
    from cadmus.models import build_model, make_config
    from cadmus.tokenization import load_tokenizer

    data = tmp / "data"
    main(["data", "build", "tiny", "--out", str(data), "--quiet", "--workers", "1"])
    tok = load_tokenizer()
    model = build_model(make_config("tiny", len(tok), 512, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id))
    model.save_pretrained(str(tmp / "model"))
    tok.save_pretrained(str(tmp / "model"))
    return tmp / "model", data


def bench(model_dir, data, suite, split, limit, n, batch_size) -> dict:
    from cadmus.data import load_dataset_dir
    from cadmus.eval.cli import _load_model, score_prompts
    from cadmus.eval.generate import GenerationSettings, generate_samples
    from cadmus.eval.prompts import build_prompts

    dd = load_dataset_dir(data)
    prompts = build_prompts(dd[split], split, suite, limit)
    model, tok = _load_model(Path(model_dir))
    import cadmus

    cadmus.run_batch(["halt"] * 128)  # load the compiled VM once (a per-process cost, not verification)
    cadmus.run_batch(["halt"])
    settings = GenerationSettings(n=n, batch_size=batch_size, max_new_tokens=24 if suite != "synthesis" else 256)
    start = time.perf_counter()
    samples, stats = generate_samples(model, tok, [p.text for p in prompts], suite, settings)
    timings = {}
    rows = score_prompts(dd, prompts, samples, suite, timings)
    wall = time.perf_counter() - start
    gen = stats["generated_tokens"]
    return {"suite": suite, "split": split, "n": n, "prompts": len(prompts), "samples": len(rows),
            "wall_s": round(wall, 2), "prompts_per_s": round(len(prompts) / wall, 1),
            "samples_per_s": round(len(rows) / wall, 1),
            "answer_tokens_per_s": round(stats["answer_tokens"] / stats["seconds"], 1),
            "vm_share": round(timings.get("vm", 0.0) / wall, 4),
            "past_answer_share": round(stats["past_answer_tokens"] / max(gen, 1), 4),
            "pad_share": round(stats["padded_slots"] / max(gen, 1), 4),
            "too_long": stats["too_long"], "pass@1": round(sum(r["passed"] for r in rows) / max(len(rows), 1), 3)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="model folder (default: an untrained tiny preset)")
    p.add_argument("--data", help="dataset folder (default: the tiny data recipe)")
    p.add_argument("--suite", default="completion")
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--n", type=int, nargs="+", default=[1, 10])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--json", default=str(Path(__file__).parent / "results" / "bench_eval.json"))
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model, data = (args.model, args.data) if args.model else untrained_tiny(Path(tmp))
        data = args.data or data
        rows = [bench(model, data, args.suite, args.split, args.limit, n, args.batch_size) for n in args.n]
    cols = ["suite", "n", "prompts", "samples", "wall_s", "prompts_per_s", "samples_per_s", "answer_tokens_per_s",
            "vm_share", "past_answer_share", "pad_share", "pass@1"]
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    Path(args.json).write_text(json.dumps({"args": vars(args), "results": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
