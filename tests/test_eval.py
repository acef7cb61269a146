"""Evaluation: pass@k against enumeration, known-answer checks per suite, rejection of
question-restating samples, CLI (export / score / model runs / repair), stopping at the answer."""
import itertools
import json
from math import comb
from pathlib import Path

import pytest

from cadmus.eval import cli as eval_cli
from cadmus.eval.passk import mean_pass_at_k, parse_ks, pass_at_k
from cadmus.eval.prompts import SUITES, build_prompts, cut_sample, few_shot_prefix
from cadmus.eval.repair import pass_at_k_by_round, repair_prompt, run_repair
from cadmus.eval.score import score_samples

SCORED = ("completion", "synthesis", "execution", "input")


# ---------------------------------------------------------------- pass@k

def _enumerated(n, c, k):
    """pass@k by brute force: the share of k-subsets of n samples holding a correct one."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


def test_pass_at_k_matches_enumeration():
    for n in range(1, 8):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(_enumerated(n, c, k), abs=1e-12)
                assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k), abs=1e-12)


def test_pass_at_k_edges():
    assert pass_at_k(20, 0, 10) == 0.0
    assert pass_at_k(20, 20, 1) == 1.0
    assert pass_at_k(200, 1, 1) == pytest.approx(1 / 200)
    with pytest.raises(ValueError, match="at least 5 samples"):
        pass_at_k(3, 1, 5)
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        mean_pass_at_k([(10, 2), (2, 1)], [5])
    assert mean_pass_at_k([(2, 1), (2, 0)], [1]) == {"pass@1": pytest.approx(0.25)}
    assert parse_ks("10,1,5,1") == [1, 5, 10]
    with pytest.raises(ValueError):
        parse_ks("0,1")


# ---------------------------------------------------------------- fixtures (data_dir, model_dir: conftest.py)

@pytest.fixture(scope="session")
def dataset(data_dir):
    from cadmus.data import load_dataset_dir

    return load_dataset_dir(data_dir)


def _prompts(dataset, suite, split="test"):
    return build_prompts(dataset[split], split, suite)


# ---------------------------------------------------------------- scoring

@pytest.mark.parametrize("suite", SCORED)
def test_references_pass_and_wrong_answers_fail(dataset, suite):
    prompts = [p for split in ("test", "ood_numbers", "ood_family") for p in _prompts(dataset, suite, split)]
    records = [dataset[p.split][p.index] for p in prompts]
    good = score_samples(suite, [(r, p.reference) for r, p in zip(records, prompts)])
    assert all(v["passed"] and v["reason"] == "passed" for v in good)
    if suite == "synthesis":
        assert all(v["passed_visible"] for v in good)
    else:
        assert all(v["passed_visible"] is None for v in good)
    wrong = {"completion": lambda p: str(int(p.reference) + 1), "synthesis": lambda p: "mov a 0\nhalt",
             "execution": lambda p: p.reference + " 1", "input": lambda p: "1 x"}[suite]  # any int input may be right
    bad = score_samples(suite, [(r, wrong(p)) for r, p in zip(records, prompts)])
    assert not any(v["passed"] for v in bad)
    assert all(v["reason"].startswith(("failed:", "rejected:")) for v in bad)


def test_samples_that_restate_the_question_are_rejected(dataset):
    comp = next(r for r in dataset["test"])
    register = comp["completion_prompt"].rstrip().split()[-1]  # `assert d d` always holds
    v = score_samples("completion", [(comp, register), (comp, "")])
    assert [x["status"] for x in v] == ["REJECTED", "REJECTED"]
    rec = next(r for r in dataset["test"] if r["synthesis_prompt"])
    v = score_samples("synthesis", [(rec, rec["synthesis_prompt"])])[0]
    assert v["status"] == "REJECTED" and v["passed"] is False and v["passed_visible"] is False
    v = score_samples("execution", [(rec, "# output: " + rec["execution_target"])])[0]
    assert v["status"] == "REJECTED"
    v = score_samples("input", [(rec, "# input: 1")])[0]
    assert v["status"] == "REJECTED"


def test_failure_reason_names_test_expected_and_got(dataset):
    rec = next(r for r in dataset["test"] if r["synthesis_prompt"] and r["tests"][0]["output"] != [123456789])
    first = rec["tests"][0]
    v = score_samples("synthesis", [(rec, "out 123456789")])[0]
    assert v["status"] == "WRONG_OUTPUT" and not v["passed"]
    assert v["reason"] == (f"failed: wrong output on input [{' '.join(map(str, first['input']))}]: "
                           f"expected [{' '.join(map(str, first['output']))}], got [123456789]")
    v = score_samples("synthesis", [(rec, "mov a\nout a")])[0]
    assert v["status"] == "PARSE_ERROR" and v["reason"].startswith("failed: PARSE_ERROR on input [")
    v = score_samples("synthesis", [(rec, "L0:\njmp L0")])[0]
    assert v["status"] == "OUT_OF_FUEL"


def test_synthesis_headline_needs_the_hidden_tests(dataset):
    from cadmus.eval.baselines import lookup_program

    records = [r for r in dataset["test"] if r["synthesis_prompt"]]
    # a look-up table of the visible tests passes them; the hidden ones fail it, and the reason
    # (the repair loop's feedback) never shows a hidden test
    verdicts = score_samples("synthesis", [(r, lookup_program(r["tests"])) for r in records])
    assert all(v["passed_visible"] for v in verdicts)
    rec, v = next((r, v) for r, v in zip(records, verdicts) if not v["passed"])
    assert v["status"] != "OK" and "hidden" in v["reason"]
    assert not any(f"[{' '.join(map(str, t['input']))}]" in v["reason"] for t in rec["challenge_tests"])


def test_check_references_names_a_broken_record(dataset):
    prompts = _prompts(dataset, "completion")
    records = dict(dataset["test"][0])
    records["completion_prompt"] = records["completion_prompt"].replace("assert", "assert 1 2\nassert", 1)

    class Fake(dict):
        pass

    dd = Fake(test=[records] + [dataset["test"][i] for i in range(1, len(dataset["test"]))])
    with pytest.raises(eval_cli.ReferenceCheckFailed, match=f"REFERENCE CHECK FAILED: 1 of .*test/{records['id']}"):
        eval_cli.check_references(dd, prompts, "completion")


# ---------------------------------------------------------------- prompts

def test_prompts_are_the_dataset_views_and_cut_at_stop(dataset):
    rec = dataset["test"][0]
    p = _prompts(dataset, "completion")[0]
    assert p.text == rec["completion_prompt"] and p.reference == rec["completion_target"]
    p = _prompts(dataset, "input")[0]
    assert p.text.startswith(rec["program"] + "\n# output: ") and p.text.endswith("# input: ")
    assert all(dataset["test"][p.index]["synthesis_prompt"] for p in _prompts(dataset, "synthesis"))
    assert cut_sample("completion", "12\nassert a 1") == "12"
    assert cut_sample("synthesis", "in a\nout a\n\n# next task") == "in a\nout a"
    assert cut_sample("synthesis", "in a\nout a\n# 1 -> 1") == "in a\nout a"
    shots = few_shot_prefix("completion", dataset["valid"], 2)
    assert shots.count("\n\n") == 2 and shots.startswith(dataset["valid"][0]["completion_prompt"])


# ---------------------------------------------------------------- CLI

@pytest.mark.parametrize("argv", [["--help"], ["export-prompts", "--help"], ["score", "-h"], ["baselines", "-h"]])
def test_help(argv, capsys):
    from cadmus.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["eval", *argv])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: cadmus eval" in out and "--data" in out


def test_export_then_score_external_answers(data_dir, dataset, tmp_path):
    from cadmus.cli import main

    for suite in SCORED:
        prompts_file = tmp_path / f"{suite}.jsonl"
        assert main(["eval", "export-prompts", "--data", str(data_dir), "--suite", suite, "--split",
                     "test,ood_numbers", "--out", str(prompts_file)]) == 0
        exported = [json.loads(line) for line in prompts_file.read_text().splitlines()]
        assert exported and {e["split"] for e in exported} == {"test", "ood_numbers"}
        by_id = {r["id"]: r for split in ("test", "ood_numbers") for r in dataset[split]}
        good, bad = tmp_path / f"{suite}-good.jsonl", tmp_path / f"{suite}-bad.jsonl"
        refs = {p.id: p.reference for s in ("test", "ood_numbers") for p in build_prompts(dataset[s], s, suite)}
        # two samples per prompt; an external model may add text after the answer's end
        extra = "\n" if suite != "synthesis" else "\n\n# another task\n"
        good.write_text("".join(json.dumps({"id": e["id"], "sample": refs[e["id"]] + extra}) + "\n" for e in exported) * 2)
        bad.write_text("".join(json.dumps({"id": e["id"], "sample": "x"}) + "\n" for e in exported))
        assert set(by_id) >= set(refs)
        assert main(["eval", "score", str(good), "--data", str(data_dir), "--suite", suite, "--split",
                     "test,ood_numbers", "--out", str(tmp_path / f"{suite}-good")]) == 0
        summary = json.loads((tmp_path / f"{suite}-good" / "summary.json").read_text())
        assert summary["metrics"] == {"pass@1": 1.0}
        assert summary["samples"] == 2 * len(exported)
        assert main(["eval", "score", str(bad), "--data", str(data_dir), "--suite", suite, "--split",
                     "test,ood_numbers"]) == 0
        summary = json.loads(bad.with_suffix(".results").joinpath("summary.json").read_text())
        assert summary["metrics"] == {"pass@1": 0.0}


def test_score_refuses_unknown_or_missing_ids(data_dir, tmp_path, capsys):
    from cadmus.cli import main

    answers = tmp_path / "a.jsonl"
    answers.write_text(json.dumps({"id": "nope", "sample": "1"}) + "\n")
    assert main(["eval", "score", str(answers), "--data", str(data_dir)]) == 2
    assert "not prompts" in capsys.readouterr().err
    answers.write_text(json.dumps({"id": "test-0000000", "sample": "1"}) + "\n")
    assert main(["eval", "score", str(answers), "--data", str(data_dir)]) == 2
    assert "no answers for" in capsys.readouterr().err
    answers.write_text("{not json\n")
    assert main(["eval", "score", str(answers), "--data", str(data_dir)]) == 2
    assert "a.jsonl:1" in capsys.readouterr().err


def test_check_references_cli_and_usage_errors(data_dir, capsys):
    from cadmus.cli import main

    for suite in SUITES:
        assert main(["eval", "--check-references", "--data", str(data_dir), "--suite", suite,
                     "--split", "test,ood_length,ood_family"]) == 0
    assert "100%" not in capsys.readouterr().err
    assert main(["eval", "--data", str(data_dir)]) == 2  # no model, no check
    assert main(["eval", "--check-references", "--data", str(data_dir), "--few-shot", "1", "--shot-split", "test"]) == 2
    assert "few-shot" in capsys.readouterr().err
    assert main(["eval", "--check-references", "--data", str(data_dir), "--split", "nosuch"]) == 2


# ---------------------------------------------------------------- generation

def test_generation_stops_at_the_answer(model_dir, dataset):
    import torch

    from cadmus.eval.generate import GenerationSettings, generate_samples
    from cadmus.models import load_model
    from cadmus.tokenization import load_tokenizer

    model, tok = load_model(model_dir), load_tokenizer(model_dir)
    prompts = [p.text for p in _prompts(dataset, "completion")[:4]]
    samples, stats = generate_samples(model, tok, prompts, "completion", GenerationSettings(n=2, batch_size=8,
                                                                                         max_new_tokens=12, seed=1))
    assert [len(s) for s in samples] == [2] * 4
    assert all("\n" not in s for group in samples for s in group)
    assert stats["past_answer_tokens"] == 0 and stats["rows"] == 8
    assert stats["answer_tokens"] + stats["padded_slots"] == stats["generated_tokens"]
    greedy = [generate_samples(model, tok, prompts, "completion", GenerationSettings(n=1, batch_size=b,
                                                                                   max_new_tokens=12))[0]
              for b in (1, 4)]
    assert greedy[0] == greedy[1]  # left padding does not change greedy answers
    # a model whose every next token is a newline: each row ends after one token, and so does the batch
    with torch.no_grad():
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias.copy_(model.transformer.wte.weight[tok.convert_tokens_to_ids("\n")] * 50)
    samples, stats = generate_samples(model, tok, prompts, "completion", GenerationSettings(n=1, max_new_tokens=12))
    assert samples == [[""]] * 4
    assert stats["generated_tokens"] == 4 and stats["past_answer_tokens"] == 0


def test_eval_run_writes_reports(model_dir, data_dir, tmp_path):
    from cadmus.cli import main

    out = tmp_path / "run"
    assert main(["eval", str(model_dir), "--data", str(data_dir), "--suite", "execution", "--split",
                 "test,ood_numbers", "--limit", "4", "--n", "2", "--k", "1,2", "--max-new-tokens", "8",
                 "--check-references", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["metrics"]) == {"pass@1", "pass@2"}
    assert set(summary["splits"]) == {"test", "ood_numbers"}
    assert summary["config"]["model_sha256"] and summary["config"]["dataset_sha256"]
    assert summary["config"]["seed"] == 0 and summary["config"]["generation"]["n"] == 2
    assert summary["generation_stats"]["past_answer_tokens"] == 0
    assert all(e["by_family"] and e["by_level"] for e in summary["splits"].values())
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 16 and all({"id", "sample", "status", "passed", "reason"} <= set(r) for r in rows)
    assert (out / "accuracy_by_difficulty.png").stat().st_size > 0
    assert "| ood_numbers |" in (out / "results.md").read_text()
    # the run's own samples file is a valid answers file: external scoring gives the same verdicts
    assert main(["eval", "score", str(out / "samples.jsonl"), "--data", str(data_dir), "--suite", "execution",
                 "--split", "test,ood_numbers", "--limit", "4", "--k", "1,2", "--out", str(tmp_path / "rescored")]) == 0
    again = json.loads((tmp_path / "rescored" / "summary.json").read_text())
    assert again["metrics"] == summary["metrics"] and again["splits"] == summary["splits"]
    assert main(["eval", str(model_dir), "--data", str(data_dir), "--n", "2", "--k", "5", "--out", str(out)]) == 2


def test_repair_rounds_with_model(model_dir, data_dir, tmp_path):
    from cadmus.cli import main

    out = tmp_path / "repair"
    assert main(["eval", str(model_dir), "--data", str(data_dir), "--suite", "repair", "--limit", "2", "--n", "2",
                 "--k", "1,2", "--rounds", "1", "--max-new-tokens", "12", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["by_round"]) == {"round 0", "round 1"}
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert {r["round"] for r in rows} == {0, 1} or all(r["passed"] for r in rows if r["round"] == 0)
    assert summary["metrics"] == summary["by_round"]["round 1"]


def test_repair_loop_counts_chains_by_round(dataset):
    prompts = _prompts(dataset, "synthesis")[:3]
    records = [dataset["test"][p.index] for p in prompts]
    first_samples = [["halt", "halt"] for _ in prompts]
    verdicts = iter(score_samples("synthesis", [(r, s) for r, g in zip(records, first_samples) for s in g]))
    first = [[{"id": p.id, "split": p.split, "sample_index": j, "sample": s, **next(verdicts)}
              for j, s in enumerate(g)] for p, g in zip(prompts, first_samples)]
    seen = []

    def fixer(texts):  # round 1 fixes only the first prompt's chains; round 2 all
        seen.append(texts)
        return [records[0]["synthesis_target"] if len(seen) == 1 else records[[p.text in t for p in prompts].index(True)]
                ["synthesis_target"] for t in texts]

    rows = run_repair([p.text for p in prompts], records, first, 3, fixer, lambda items: score_samples("synthesis", items))
    assert "\n# vm: failed: wrong output on input [" in seen[0][0]
    assert seen[0][0] == repair_prompt(prompts[0].text, "halt", first[0][0]["reason"])
    by_round = pass_at_k_by_round(rows, 3, [1, 2])
    assert by_round["round 0"]["pass@1"] == 0.0
    assert by_round["round 1"]["pass@1"] == pytest.approx(1 / 3)
    assert by_round["round 2"] == by_round["round 3"] == {"pass@1": 1.0, "pass@2": 1.0}
    assert len(seen) == 2  # nothing left to repair after round 2


@pytest.mark.slow
def test_accelerate_sharded_generation_matches_one_process(model_dir, data_dir, tmp_path):
    """Two `accelerate launch` CPU processes each generate a slice; the gathered greedy samples
    are those of a single process, in prompt order, and only the main process writes."""
    import subprocess
    import sys

    from cadmus.cli import main

    args = [str(model_dir), "--data", str(data_dir), "--suite", "completion", "--limit", "6", "--max-new-tokens", "6"]
    assert main(["eval", *args, "--out", str(tmp_path / "one")]) == 0
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1",
              "--mixed_precision", "no", "--dynamo_backend", "no", "--cpu", "-m", "cadmus.cli", "eval", *args,
              "--out", str(tmp_path / "two")]
    subprocess.run(launch, check=True, capture_output=True, cwd=Path(__file__).resolve().parents[1])

    def samples(d):
        return [(r["id"], r["sample"]) for r in map(json.loads, (tmp_path / d / "samples.jsonl").read_text().splitlines())]

    assert samples("one") == samples("two")


def test_check_references_cli_fails_loudly_on_a_broken_dataset(dataset, tmp_path, capsys):
    from cadmus.cli import main

    broken_id = dataset["test"][1]["id"]

    def corrupt(rec):  # the true program now asserts something false before the completion point
        if rec["id"] == broken_id:
            rec["completion_prompt"] = "assert 1 2\n" + rec["completion_prompt"]
        return rec

    from datasets import DatasetDict

    dd = DatasetDict({**dataset, "test": dataset["test"].map(corrupt)})
    dd.save_to_disk(str(tmp_path / "broken"))
    assert main(["eval", "--check-references", "--data", str(tmp_path / "broken"), "--suite", "completion"]) == 1
    err = capsys.readouterr().err
    assert "REFERENCE CHECK FAILED: 1 of" in err and f"test/{broken_id}: failed: ASSERT_FAILED" in err


def test_prompts_longer_than_the_context_are_scored_too_long(dataset, tmp_path):
    from cadmus.eval.generate import GenerationSettings, generate_samples
    from cadmus.eval.report import markdown_table, summarize
    from cadmus.models import build_model, make_config
    from cadmus.tokenization import load_tokenizer

    tok = load_tokenizer()
    model = build_model(make_config("tiny", len(tok), 24, n_layer=1, n_head=2, n_embd=16,
                                    eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id))
    prompts = _prompts(dataset, "completion")[:3]
    texts = [p.text for p in prompts] + ["mov a 1\nassert a "]
    samples, stats = generate_samples(model, tok, texts, "completion", GenerationSettings(max_new_tokens=4))
    assert [s[0] is None for s in samples] == [len(t) >= 24 for t in texts] and stats["too_long"] == 3
    records = [dataset["test"][p.index] for p in prompts]
    verdicts = score_samples("completion", [(r, s[0]) for r, s in zip(records, samples)])
    assert {v["status"] for v in verdicts} == {"TOO_LONG"}
    rows = [{"id": p.id, "split": "test", "family": "f", "level": 1, **v} for p, v in zip(prompts, verdicts)]
    summary = {**summarize(rows, [1]), "config": {"suite": "completion"}}
    assert summary["splits"]["test"]["too_long"] == 3
    assert "test: 3 of 3 prompts do not fit the model's context" in markdown_table(summary)
