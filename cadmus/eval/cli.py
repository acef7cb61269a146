"""``cadmus eval``: generate and score, or each step alone.

    cadmus eval MODEL_DIR --data DIR --suite completion --split test,ood_numbers --out OUT
    cadmus eval MODEL_DIR --data DIR --suite synthesis --n 20 --k 1,5,10 --temperature 0.8 --out OUT
    cadmus eval MODEL_DIR --data DIR --suite repair --rounds 2 --n 5 --k 1,5 --out OUT
    cadmus eval --check-references --data DIR --suite synthesis --split test   (no model: must be 100%)
    cadmus eval MODEL_DIR --data DIR --suite trace --split test --out OUT   (data built with trace_view: true)
    cadmus eval export-prompts --data DIR --suite synthesis --split test --out prompts.jsonl
    cadmus eval export-prompts --preamble --data DIR --suite synthesis --split test --out prompts.jsonl
    cadmus eval score ANSWERS.jsonl --data DIR --suite synthesis --out OUT
    cadmus eval baselines --data DIR --split test   (look-up table and constant programs: must score ~0)
    accelerate launch -m cadmus.cli eval MODEL_DIR ...   (each process generates a slice)

``MODEL_DIR`` is a folder written by ``cadmus train`` (or any GPT-2 ``save_pretrained`` folder
with a tokenizer; without one the committed ``cadmus/tokenizer/`` is used). ``--n 1`` is greedy.
An answers file for ``score`` has one JSON object per line, ``{"id": ..., "sample": ...}``,
with any number of samples per id (pass@k needs ``k <= n``); samples are cut at the suite's
stop string, as generated ones are. ``--preamble`` puts a DSL reference (generated from the ISA
table), the suite's task and the record's I/O convention before each prompt, for a model that has
not seen Cadmus; the export and the summary record it.

The headline pass@k of synthesis and repair counts the visible and the hidden tests; the
visible-only pass@k is a secondary column (see :mod:`cadmus.eval.report`).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..provenance import file_sha256
from .passk import parse_ks
from .prompts import SUITES, build_prompts, check_shot_split, cut_sample, few_shot_prefix, stop_strings

SUBCOMMANDS = ("export-prompts", "score", "baselines")
DEFAULT_KS = (1, 5, 10)
# default --max-new-tokens per suite (others 256): a trace has up to 64 lines (judge.TRACE_MAX_LINES)
BUDGETS = {"completion": 24, "execution": 24, "input": 24, "trace": 768}


class EvalError(ValueError):
    """A usage or data problem reported as ``cadmus eval: ...`` with exit code 2."""


class ReferenceCheckFailed(EvalError):
    """The dataset's own answers do not all pass: the verifier or the data is broken (exit 1)."""


def _common(p, split_help="split(s), comma-separated (e.g. test,ood_numbers)", ks=True) -> None:
    p.add_argument("--data", required=True, help="dataset directory (cadmus data build ... --out DIR)")
    p.add_argument("--suite", choices=SUITES, default="completion", help="what to evaluate (default completion)")
    p.add_argument("--split", default="test", help=split_help + " (default test)")
    p.add_argument("--limit", type=int, default=None, help="first N usable records of each split")
    if ks:
        p.add_argument("--k", default=None, help="pass@k values, e.g. 1,5,10 (default: those of 1,5,10 <= n)")
    p.add_argument("--few-shot", type=int, default=0, help="solved examples before each prompt (default 0)")
    p.add_argument("--shot-split", default="valid", help="split the few-shot examples come from (never test)")
    p.add_argument("--preamble", action="store_true",
                   help="put a DSL reference (from the ISA table), the task and the record's I/O convention before "
                        "each prompt (for models that have not seen Cadmus); recorded in the export and the summary")


def run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cadmus eval", description="Generate samples with a model and verify them "
                                "in the VM (pass@k). Also: `cadmus eval export-prompts -h`, `cadmus eval score -h`, "
                                "`cadmus eval baselines -h`.")
    p.add_argument("model", nargs="?", help="model folder (from cadmus train); optional with --check-references")
    _common(p)
    p.add_argument("--out", help="output directory (samples.jsonl, summary.json, results.md, PNG)")
    p.add_argument("--n", type=int, default=1, help="samples per prompt (1: greedy; default 1)")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (n > 1)")
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling mass (n > 1)")
    p.add_argument("--batch-size", type=int, default=64, help="rows per generate call")
    p.add_argument("--max-new-tokens", type=int, default=None,
                   help="answer budget (default: 24 for line answers, 256 for programs, 768 for traces)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--rounds", type=int, default=2, help="repair rounds (suite repair)")
    p.add_argument("--check-references", action="store_true",
                   help="first score the dataset's own answers; anything below 100%% is a loud failure")
    return p


def export_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cadmus eval export-prompts",
                                description="Write the prompts of a suite as JSONL (id, split, suite, prompt, stop).")
    _common(p, ks=False)
    p.add_argument("--out", required=True, help="output JSONL file")
    return p


def score_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cadmus eval score",
                                description="Score answers from any system (JSONL of {id, sample}) in the VM.")
    p.add_argument("answers", help="JSONL file: one {\"id\": ..., \"sample\": ...} per line")
    _common(p, "split(s) the ids belong to")
    p.add_argument("--out", help="output directory (default: ANSWERS with .results instead of .jsonl)")
    return p


def baselines_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cadmus eval baselines",
                                description="Score the look-up-table and constant-output programs of each synthesis "
                                            "prompt (built from its visible tests): headline and visible-only pass@1 "
                                            "per family. A headline above ~0 means the hidden tests do not "
                                            "discriminate.")
    p.add_argument("--data", required=True, help="dataset directory (cadmus data build ... --out DIR)")
    p.add_argument("--split", default="test", help="split(s), comma-separated (default test)")
    p.add_argument("--limit", type=int, default=None, help="first N synthesis records of each split")
    p.add_argument("--out", help="output directory: baselines.md and one eval folder per baseline")
    p.add_argument("--fail-above", type=float, default=None,
                   help="exit 1 when a baseline's headline pass@1 on a split is above this (e.g. 0.01)")
    return p


def _ks(text, n_min: int) -> list:
    if text is None:
        return [k for k in DEFAULT_KS if k <= n_min] or [1]
    ks = parse_ks(text)
    if ks[-1] > n_min:
        raise EvalError(f"pass@{ks[-1]} needs at least {ks[-1]} samples per prompt, have n={n_min}")
    return ks


def _load(args) -> tuple:
    from ..data import DatasetDirError, load_dataset_dir

    try:
        dd = load_dataset_dir(args.data)
    except DatasetDirError as err:
        raise EvalError(str(err)) from err
    splits = [s for s in args.split.split(",") if s]
    missing = [s for s in splits if s not in dd]
    if missing:
        raise EvalError(f"no split(s) {', '.join(missing)} in {args.data} (have {', '.join(dd)})")
    if args.limit is not None and args.limit < 1:
        raise EvalError("--limit must be >= 1")
    prefix = ""
    if args.few_shot:
        try:
            check_shot_split(args.shot_split, splits)
            prefix = few_shot_prefix(args.suite, dd[args.shot_split], args.few_shot)
        except (KeyError, ValueError) as err:
            raise EvalError(f"few-shot: {err}") from err
    prompts = []
    for split in splits:
        prompts.extend(build_prompts(dd[split], split, args.suite, args.limit, prefix, args.preamble))
    if not prompts:
        raise EvalError(f"no prompts for suite {args.suite} in {', '.join(splits)}")
    return dd, prompts


def score_prompts(dd, prompts, samples, suite, timings=None) -> list:
    """Score ``samples[i]`` (a list) of each prompt in one batched VM call; returns sample rows."""
    from .report import sample_row
    from .score import score_samples

    records = [dd[p.split][p.index] for p in prompts]
    items = [(records[i], s) for i, group in enumerate(samples) for s in group]
    verdicts = iter(score_samples("synthesis" if suite == "repair" else suite, items, timings=timings))
    return [sample_row(p, records[i], j, s, next(verdicts)) for i, p in enumerate(prompts)
            for j, s in enumerate(samples[i])]


def check_references(dd, prompts, suite) -> list:
    """Rows of the dataset's own answers; raises :class:`EvalError` naming any that fail."""
    rows = score_prompts(dd, prompts, [[p.reference] for p in prompts], suite)
    bad = [r for r in rows if not r["passed"] or r.get("passed_visible") is False]
    if bad:
        names = "; ".join(f"{r['split']}/{r['id']}: {r['reason']}" for r in bad[:10])
        raise ReferenceCheckFailed(f"REFERENCE CHECK FAILED: {len(bad)} of {len(rows)} reference answers do not pass "
                        f"(suite {suite}): {names}")
    return rows


def _config(args, ks, extra=None) -> dict:
    from ..provenance import dataset_hash, git_revision

    cfg = {k: v for k, v in vars(args).items() if k != "func" and not callable(v)}
    cfg.update(ks=ks, dataset_sha256=dataset_hash(args.data), git_revision=git_revision(),
               command="cadmus eval " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["eval"] else None)
    cfg.update(extra or {})
    return cfg


def _finish(out, rows, ks, config, extra=None, file_rows=None) -> dict:
    """Summarize ``rows`` and write the outputs (``file_rows``, default ``rows``, to samples.jsonl)."""
    from .report import summarize, write_outputs

    summary = summarize(rows, ks)
    summary["config"] = config
    summary.update(extra or {})
    if out:
        write_outputs(Path(out), rows if file_rows is None else file_rows, summary)
    return summary


def _preamble_info(args, dd, prompts) -> dict:
    """With --preamble, the config's ``preamble_text``: the DSL reference, the task line and the
    I/O convention of each family prompted (each prompt's preamble is these three, in order)."""
    if not args.preamble:
        return {}
    from .prompts import TASK_LINES, dsl_reference, io_convention

    names = sorted({dd[p.split][p.index]["family"] for p in prompts})
    return {"preamble_text": {"dsl_reference": dsl_reference(), "task": TASK_LINES[args.suite],
                              "io_conventions": {name: io_convention(name) for name in names}}}


def _line(metrics, visible=None) -> str:
    text = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
    if visible is not None:
        text += " (visible only: " + ", ".join(f"{k} {v:.4f}" for k, v in visible.items()) + ")"
    return text


def _print(summary) -> None:
    print(f"{summary['config']['suite']}: {summary['prompts']} prompts, {summary['samples']} samples: "
          + _line(summary["metrics"], summary.get("metrics_visible")))
    for split, entry in summary["splits"].items():
        print(f"  {split}: " + _line(entry["metrics"], entry.get("metrics_visible")))
        for name, m in entry.get("by_novelty", {}).items():
            print(f"    {name}: {m['prompts']} prompts, " + _line({k: v for k, v in m.items() if k.startswith("pass@")},
                                                                    m.get("visible")))
    for rnd, m in summary.get("by_round", {}).items():
        print(f"  repair {rnd}: " + ", ".join(f"{k} {v:.4f}" for k, v in m.items()))


def _load_model(path: Path):
    from ..models import load_model
    from ..tokenization import load_tokenizer

    if not (path / "config.json").is_file():
        raise EvalError(f"{path}: not a model folder (no config.json); train one with `cadmus train`")
    tokenizer = load_tokenizer(path if (path / "tokenizer.json").is_file() else None)
    return load_model(path), tokenizer


def eval_options(model, data, **values) -> argparse.Namespace:
    """The options of ``cadmus eval MODEL_DIR --data DIR``: the parser's defaults with ``values``
    (option names with underscores, e.g. ``suite="execution", split="test,ood_numbers"``)."""
    args = run_parser().parse_args([str(model), "--data", str(data)])
    unknown = sorted(set(values) - set(vars(args)))
    if unknown:
        raise TypeError(f"unknown cadmus eval option(s): {', '.join(unknown)}")
    for name, value in values.items():
        setattr(args, name, str(value) if name in ("out", "data") and value is not None else value)
    return args


def cmd_run(args) -> int:
    evaluate(args)
    return 0


def evaluate(args) -> dict:
    """Generate with the model and score the suite (``args`` from :func:`eval_options` or the
    command line); writes ``args.out`` and returns its summary (empty on a non-main process of a
    distributed run, and without a model, after ``--check-references`` alone). Raises :class:`EvalError`."""
    from .generate import GenerationSettings, generate_sharded

    dd, prompts = _load(args)
    if args.n < 1:
        raise EvalError("--n must be >= 1")
    ks = _ks(args.k, args.n)
    if args.check_references:
        rows = check_references(dd, prompts, args.suite)
        print(f"reference check: {len(rows)} of {len(rows)} reference answers pass (suite {args.suite})")
        if args.model is None:
            if args.out:
                return _finish(args.out, rows, [1], _config(args, [1], {"model": None, **_preamble_info(args, dd, prompts)}),
                               {"reference_check": "passed"})
            return {}
    if args.model is None:
        raise EvalError("give MODEL_DIR (or --check-references alone)")
    if not args.out:
        raise EvalError("--out is required with a model")
    model_dir = Path(args.model)
    model, tokenizer = _load_model(model_dir)
    accelerator = _accelerator()
    budget = args.max_new_tokens or BUDGETS.get(args.suite, 256)
    settings = GenerationSettings(n=args.n, temperature=args.temperature, top_p=args.top_p,
                                  batch_size=args.batch_size, max_new_tokens=budget, seed=args.seed)
    suite = "synthesis" if args.suite == "repair" else args.suite
    samples, stats = generate_sharded(model, tokenizer, [p.text for p in prompts], suite, settings, accelerator)
    timings = {}
    rows = score_prompts(dd, prompts, samples, args.suite, timings)
    extra = {"generation_stats": {**stats, "vm_seconds": timings.get("vm", 0.0)},
             "reference_check": "passed" if args.check_references else "not run"}
    summary_rows = rows
    if args.suite == "repair":
        from .report import summarize

        extra["metrics_round0"] = summarize(rows, ks)["metrics"]
        rows, extra["by_round"] = _repair(dd, prompts, rows, args, model, tokenizer, settings, accelerator, ks)
        last = {}
        for row in rows:  # a chain's verdict is that of its last round
            last[(row["split"], row["id"], row["sample_index"])] = row
        summary_rows = list(last.values())
    if accelerator is not None and not accelerator.is_main_process:
        return {}
    weights = model_dir / "model.safetensors"
    config = _config(args, ks, {"model": str(model_dir),
                                "model_sha256": file_sha256(weights) if weights.is_file() else None,
                                "generation": settings.__dict__, "stop": list(stop_strings(suite)),
                                **_preamble_info(args, dd, prompts)})
    summary = _finish(args.out, summary_rows, ks, config, extra, file_rows=rows)
    _print(summary)
    print(f"wrote {args.out}")
    return summary


def _repair(dd, prompts, rows, args, model, tokenizer, settings, accelerator, ks):
    from .generate import GenerationSettings, generate_sharded
    from .repair import pass_at_k_by_round, run_repair
    from .score import score_samples

    records = [dd[p.split][p.index] for p in prompts]
    chains = {}
    for row in rows:
        chains.setdefault((row["split"], row["id"]), []).append(row)
    first = [chains[(p.split, p.id)] for p in prompts]
    one = GenerationSettings(**{**settings.__dict__, "n": 1, "sample_one": settings.n > 1})

    def generate(texts):
        samples, _ = generate_sharded(model, tokenizer, texts, "synthesis", one, accelerator)
        return [s[0] for s in samples]

    all_rows = run_repair([p.text for p in prompts], records, first, args.rounds, generate,
                          lambda items: score_samples("synthesis", items))
    return all_rows, pass_at_k_by_round(all_rows, args.rounds, ks)


def _accelerator():
    """The ``Accelerator``: its device (a GPU when there is one) and, under ``accelerate launch``,
    this process's rank among several."""
    from accelerate import Accelerator

    return Accelerator()


def cmd_export(args) -> int:
    _, prompts = _load(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as fh:
        for p in prompts:
            line = {"id": p.id, "split": p.split, "suite": p.suite, "prompt": p.text,
                    "stop": list(stop_strings(p.suite if p.suite != "repair" else "synthesis"))}
            if args.preamble:
                line["preamble"] = p.preamble  # the start of "prompt": what a system was told besides the task
            fh.write(json.dumps(line) + "\n")
    print(f"wrote {len(prompts)} prompts to {out}")
    return 0


def cmd_baselines(args) -> int:
    from .baselines import BASELINES, baseline_rows, family_table

    args.suite, args.few_shot, args.preamble = "synthesis", 0, False
    dd, prompts = _load(args)
    summaries = {}
    for name in BASELINES:
        rows = baseline_rows(dd, prompts, name)
        out = Path(args.out) / name if args.out else None
        summaries[name] = _finish(out, rows, [1], _config(args, [1], {"model": f"baseline:{name}"}))
    table = family_table(summaries)
    if args.out:
        (Path(args.out) / "baselines.md").write_text("# Synthesis baselines (pass@1; headline = visible and hidden "
                                                     "tests)\n\n" + table)
    print(table, end="")
    worst = max((e["metrics"]["pass@1"], name, split) for name, s in summaries.items() for split, e in s["splits"].items())
    for name, summary in summaries.items():
        for split, entry in summary["splits"].items():
            print(f"{name} on {split}: headline pass@1 {entry['metrics']['pass@1']:.4f}, visible only "
                  f"{entry['metrics_visible']['pass@1']:.4f} ({entry['prompts']} prompts)")
    if args.fail_above is not None and worst[0] > args.fail_above:
        print(f"cadmus eval baselines: {worst[1]} scores {worst[0]:.4f} headline pass@1 on {worst[2]}, above "
              f"{args.fail_above}: the hidden tests do not discriminate", file=sys.stderr)
        return 1
    return 0


def read_answers(path) -> dict:
    """``id -> [sample, ...]`` from a JSONL answers file (clear errors for malformed lines)."""
    answers = {}
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                answers.setdefault(str(obj["id"]), []).append(str(obj["sample"]))
            except (ValueError, KeyError, TypeError) as err:
                raise EvalError(f"{path}:{n}: expected a JSON object with 'id' and 'sample' ({err})") from err
    return answers


def cmd_score(args) -> int:
    if not Path(args.answers).is_file():
        raise EvalError(f"{args.answers}: no such file")
    answers = read_answers(args.answers)
    dd, prompts = _load(args)
    known = {p.id for p in prompts}
    unknown = [i for i in answers if i not in known]
    if unknown:
        raise EvalError(f"{len(unknown)} answer id(s) are not prompts of suite {args.suite} in split(s) "
                        f"{args.split} (limit {args.limit}): {', '.join(unknown[:5])}")
    missing = [p.id for p in prompts if p.id not in answers]
    if missing:
        raise EvalError(f"no answers for {len(missing)} prompt(s): {', '.join(missing[:5])} "
                        "(use --limit / --split to score a subset)")
    suite = "synthesis" if args.suite == "repair" else args.suite
    samples = [[cut_sample(suite, s) for s in answers[p.id]] for p in prompts]
    ks = _ks(args.k, min(len(s) for s in samples))
    rows = score_prompts(dd, prompts, samples, args.suite)
    out = args.out or str(Path(args.answers).with_suffix(".results"))
    summary = _finish(out, rows, ks, _config(args, ks, {"model": f"answers:{args.answers}",
                                                        "answers_sha256": file_sha256(Path(args.answers)),
                                                        **_preamble_info(args, dd, prompts)}))
    _print(summary)
    print(f"wrote {out}")
    return 0


COMMANDS = {None: (run_parser, cmd_run), "export-prompts": (export_parser, cmd_export), "score": (score_parser, cmd_score),
            "baselines": (baselines_parser, cmd_baselines)}


def main(argv) -> int:
    """Dispatch on the first word: a subcommand name, else the model form ``cadmus eval MODEL_DIR``."""
    argv = list(argv)
    name = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    make, func = COMMANDS[name]
    parser = make()
    if not argv:
        parser.print_help()
        return 2
    args = parser.parse_args(argv[1:] if name else argv)
    try:
        return func(args)
    except EvalError as err:
        print(f"{parser.prog}: {err}", file=sys.stderr)
        return 1 if isinstance(err, ReferenceCheckFailed) else 2


def register(sub) -> None:
    # The eval parser takes its words unparsed ('+' as its only option prefix, so '--data' and
    # '--help' pass through) and main() parses them: `cadmus eval MODEL_DIR ...` and the
    # subcommands `cadmus eval export-prompts|score ...` share one command name.
    p = sub.add_parser("eval", help="evaluate a model or external answers (pass@k, VM-verified)",
                       prefix_chars="+", add_help=False)
    p.add_argument("words", nargs="*", help="see `cadmus eval --help`")
    p.set_defaults(func=lambda args: main(args.words))
