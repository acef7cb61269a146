"""Benchmark validity on the eval side: the headline counts the hidden tests, summaries break
results down by novelty, prompts for external models state the DSL, and programs that only copy
the prompt's examples score ~0."""
import json

import pytest

import cadmus
from cadmus.eval.baselines import constant_program, lookup_program
from cadmus.eval.prompts import build_prompts, dsl_reference, preamble
from cadmus.eval.report import markdown_table, summarize


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """The whole tiny recipe (every family, 40 records per held-out split): a few seconds."""
    from cadmus.cli import main

    out = tmp_path_factory.mktemp("validity") / "tiny"
    assert main(["data", "build", "tiny", "--out", str(out), "--workers", "1", "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def tiny(tiny_dir):
    from cadmus.data import load_dataset_dir

    return load_dataset_dir(tiny_dir)


# ---------------------------------------------------------------- summaries

def _row(i, split="test", passed=False, visible=None, novelty=None, family="f", status=None):
    row = {"id": f"p{i}", "split": split, "family": family, "level": 1, "status": status or ("OK" if passed else
           "WRONG_OUTPUT"), "passed": passed, "passed_visible": visible}
    if novelty is not None:
        row["novelty"] = novelty
    return row


def test_headline_counts_hidden_tests_visible_only_is_a_second_column():
    rows = [_row(0, passed=True, visible=True, novelty="seen"), _row(1, visible=True, novelty="seen"),
            _row(2, visible=True, novelty="novel"), _row(3, visible=False, novelty="novel")]
    s = {**summarize(rows, [1]), "config": {"suite": "synthesis"}}
    assert s["metrics"]["pass@1"] == 0.25 and s["metrics_visible"]["pass@1"] == 0.75
    test = s["splits"]["test"]
    assert test["metrics"]["pass@1"] == 0.25 and test["metrics_visible"]["pass@1"] == 0.75
    assert test["by_novelty"]["seen"] == {"pass@1": 0.5, "prompts": 2, "visible": {"pass@1": 1.0}}
    assert test["by_novelty"]["novel"] == {"pass@1": 0.0, "prompts": 2, "visible": {"pass@1": 0.5}}
    assert test["by_family"]["f"]["visible"]["pass@1"] == 0.75
    md = markdown_table(s)
    assert "| split | prompts | pass@1 | visible only pass@1 |" in md
    assert "| test | 4 | 0.250 | 0.750 |" in md
    assert "| test / seen | 2 | 0.500 | 1.000 |" in md and "| test / novel | 2 | 0.000 | 0.500 |" in md


def test_suites_without_visible_tests_and_datasets_without_novelty():
    # completion rows: passed_visible None; a dataset built before the novelty column: no key at all
    rows = [_row(i, passed=i < 3) for i in range(4)] + [_row(9, split="train", passed=True, novelty="")]
    s = {**summarize(rows, [1]), "config": {"suite": "completion"}}
    assert "metrics_visible" not in s and "by_novelty" not in s["splits"]["test"]
    assert "by_novelty" not in s["splits"]["train"]  # train rows carry "": nothing to break down
    md = markdown_table(s)
    assert "| test | 4 | 0.750 |\n" in md and "visible only" not in md and "novelty" not in md


def test_too_long_is_counted_apart():
    rows = [_row(0, passed=True, visible=True), _row(1, visible=False, status="TOO_LONG")]
    s = {**summarize(rows, [1]), "config": {"suite": "synthesis"}}
    assert s["splits"]["test"]["too_long"] == 1 and s["splits"]["test"]["status_counts"]["TOO_LONG"] == 1
    assert "test: 1 of 2 prompts do not fit the model's context" in markdown_table(s)


def test_sample_rows_carry_novelty_from_the_record(tiny):
    from cadmus.eval.report import sample_row

    p = build_prompts(tiny["test"], "test", "synthesis")[0]
    record = dict(tiny["test"][p.index])
    verdict = {"passed": True, "passed_visible": True, "status": "OK", "reason": "passed"}
    assert sample_row(p, {**record, "novelty": "novel"}, 0, "x", verdict)["novelty"] == "novel"
    record.pop("novelty", None)  # an older build
    assert sample_row(p, record, 0, "x", verdict)["novelty"] == ""


# ---------------------------------------------------------------- preamble

def test_dsl_reference_is_generated_from_the_isa_table(monkeypatch):
    from cadmus import isa

    text = dsl_reference()
    assert all(f"#   {ins.signature}: {ins.doc}\n" in text for ins in cadmus.INSTRUCTIONS)
    extra = isa.Instr("frob", 99, "rv", "data", "r = frobnicated v")
    monkeypatch.setattr(isa, "INSTRUCTIONS", isa.INSTRUCTIONS + (extra,))
    assert "#   frob r v: r = frobnicated v\n" in dsl_reference()
    assert all(line.startswith("#") for line in text.splitlines())  # the prompt stays a comment block


def test_preamble_states_the_task_and_the_family_convention(tiny):
    from cadmus.families import get

    record = next(r for r in tiny["test"] if r["family"] in ("sort", "reverse", "array_sum", "array_max"))
    text = preamble("synthesis", record)
    assert text.startswith(dsl_reference())
    assert get(record["family"]).doc in text and "length first" in text and "own `out`" in text
    assert "hidden tests" in text and "blank line" in text
    assert "inputs and outputs as in the examples" in preamble("execution", {"family": "hand_written"})
    plain = build_prompts(tiny["test"], "test", "synthesis")
    with_pre = build_prompts(tiny["test"], "test", "synthesis", with_preamble=True)
    assert [p.text for p in with_pre] == [p.preamble + q.text for p, q in zip(with_pre, plain)]
    assert all(p.preamble == preamble("synthesis", tiny["test"][p.index]) for p in with_pre)


def test_export_and_score_record_the_preamble(tiny_dir, tiny, tmp_path):
    from cadmus.cli import main

    prompts = tmp_path / "p.jsonl"
    assert main(["eval", "export-prompts", "--preamble", "--data", str(tiny_dir), "--suite", "synthesis",
                 "--limit", "5", "--out", str(prompts)]) == 0
    lines = [json.loads(x) for x in prompts.read_text().splitlines()]
    assert len(lines) == 5 and all(x["prompt"].startswith(x["preamble"]) for x in lines)
    assert all(x["preamble"].startswith(dsl_reference()) for x in lines)
    answers = tmp_path / "a.jsonl"
    answers.write_text("".join(json.dumps({"id": x["id"], "sample": "out 0"}) + "\n" for x in lines))
    assert main(["eval", "score", str(answers), "--preamble", "--data", str(tiny_dir), "--suite", "synthesis",
                 "--limit", "5", "--out", str(tmp_path / "r")]) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    recorded = summary["config"]["preamble_text"]
    assert recorded["dsl_reference"] == dsl_reference() and "hidden tests" in recorded["task"]
    families = {tiny["test"][i]["family"] for i in range(len(tiny["test"])) if tiny["test"][i]["id"] in
                {x["id"] for x in lines}}
    assert set(recorded["io_conventions"]) == families
    assert "DSL preamble" in (tmp_path / "r" / "results.md").read_text()


# ---------------------------------------------------------------- baselines

def _runs(program, inputs):
    res = cadmus.run_batch([program] * len(inputs), inputs=[list(i) for i in inputs])
    return [(cadmus.Status(int(s)).name, res.outputs_of(k)) for k, s in enumerate(res.status)]


def test_lookup_program_answers_each_visible_input_and_the_first_output_otherwise():
    tests = [{"input": [3, 5, 1, 2, 3], "output": [6]}, {"input": [3, 5, 1, 2, 4], "output": [7, 8]},
             {"input": [1, 9], "output": [9]}, {"input": [0], "output": []}, {"input": [2, 1, 9], "output": [-4]}]
    program = lookup_program(tests)
    got = _runs(program, [t["input"] for t in tests] + [[3, 6], [5], [2, 1, 8]])
    assert got[:5] == [("OK", t["output"]) for t in tests]
    assert got[5:] == [("OK", [6])] * 3  # no match: the first visible output
    # a visible input that is a prefix of another: the shorter one's output (the tape cannot be asked)
    assert _runs(lookup_program([{"input": [1], "output": [5]}, {"input": [1, 2], "output": [6]}]), [[1]]) == [("OK", [5])]
    assert _runs(constant_program(tests), [[1], [7, 7]]) == [("OK", [6]), ("OK", [6])]
    assert _runs(constant_program([{"input": [1], "output": []}]), [[4]]) == [("OK", [])]


def test_baselines_pass_the_visible_tests_and_not_the_headline(tiny):
    """The look-up table passes every visible test; with >= 10 hidden tests holding the family's
    edge cases and no constant tasks, neither it nor a constant program passes the headline."""
    from cadmus.eval.baselines import baseline_rows

    splits = [s for s in ("test", "ood_numbers", "ood_length", "ood_family") if s in tiny]
    prompts = [p for s in splits for p in build_prompts(tiny[s], s, "synthesis")]
    assert len(prompts) > 100
    lookup = summarize(baseline_rows(tiny, prompts, "lookup"), [1])
    constant = summarize(baseline_rows(tiny, prompts, "constant"), [1])
    assert lookup["metrics_visible"]["pass@1"] == 1.0
    assert lookup["metrics"]["pass@1"] <= 0.01, lookup["splits"]
    assert constant["metrics"]["pass@1"] <= 0.01, constant["splits"]


def test_baselines_cli(tiny_dir, tmp_path, capsys):
    from cadmus.cli import main

    out = tmp_path / "b"
    code = main(["eval", "baselines", "--data", str(tiny_dir), "--split", "test", "--limit", "10", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "| test / all | 10 |" in printed
    assert "lookup on test: headline pass@1" in printed and "visible only 1.0000" in printed
    for name in ("lookup", "constant"):
        summary = json.loads((out / name / "summary.json").read_text())
        assert summary["config"]["model"] == f"baseline:{name}" and summary["prompts"] == 10
    assert "lookup visible only" in (out / "baselines.md").read_text()
    assert main(["eval", "baselines", "--data", str(tiny_dir), "--split", "test", "--limit", "10",
                 "--fail-above", "-1"]) == 1
    assert "the hidden tests do not discriminate" in capsys.readouterr().err
