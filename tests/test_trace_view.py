"""The trace view: the VM's execution as text, its caps, its judge, its canonical key, a build
with ``trace_view: true``, its reference check and a training run on it."""
import copy
import re

import pytest

import cadmus
from cadmus import judge
from cadmus.canonical import canonical_program
from cadmus.data.views import render_views, trace_view

# a swap, a push/pop, a store/load, a call, a jump and an out of a literal
PROGRAM = """in a
in b
mul c a b
swap a b
push c
pop d
store 5 d
load e 5
call L0
out 7
halt
L0:
sub e e 1
jnz 0 L0
out e
ret"""
TRACE = ["a=3", "b=4", "c=12", "a=4 b=3", "d=12", "e=12", "e=11", "out 11", "out 7"]


def record(program=PROGRAM, inputs=(3, 4)):
    out = cadmus.run(program, list(inputs)).outputs
    rec = {"description": "", "program": program, "true_program": "assert 0 0",
           "tests": [{"input": list(inputs), "output": list(out)}] * 3, "challenge_tests": []}
    rec.update(render_views(rec))
    return rec


def test_the_trace_of_a_known_program():
    lines, outputs = judge.execution_trace(PROGRAM, [3, 4])
    assert list(lines) == TRACE and outputs == (11, 7)
    prompt, target = trace_view(PROGRAM, [3, 4])
    assert prompt == PROGRAM + "\n# input: 3 4\n# trace:\n"
    assert target == "\n".join(TRACE) + "\n# output: 11 7"
    assert trace_view("out 5", []) == ("out 5\n# input: \n# trace:\n", "out 5\n# output: 5")
    assert trace_view("in a", [])[1] == ""  # INPUT_EXHAUSTED: no trace
    # an input is read into a register and shown with its sign
    assert judge.execution_trace("in a\nneg b a\nout b", [-9])[0] == ("a=-9", "b=9", "out 9")


def test_caps_leave_the_view_empty():
    loop = "in a\nL0:\ndec a\njnz a L0\nout a"
    assert len(judge.execution_trace(loop, [judge.TRACE_MAX_LINES - 2])[0]) == judge.TRACE_MAX_LINES
    assert judge.execution_trace(loop, [judge.TRACE_MAX_LINES - 1]) is None  # one line too many
    quiet = lambda n: "nop\n" * n + "out 1"  # noqa: E731  (steps that write nothing: the step cap binds)
    assert judge.execution_trace(quiet(judge.TRACE_MAX_STEPS - 1), []) == (("out 1",), (1,))
    assert judge.execution_trace(quiet(judge.TRACE_MAX_STEPS), []) is None
    assert judge.execution_trace("L0:\njmp L0", []) is None  # never ends within the step cap
    assert trace_view(loop, [500]) == ("", "")
    rec = record(loop, (500,))
    assert rec["trace_prompt"] == rec["trace_target"] == "" and rec["execution_prompt"]
    assert render_views(record(), trace=False)["trace_prompt"] == ""


def test_judge_verdicts_on_right_and_wrong_traces():
    rec = record()
    right = rec["trace_target"]
    samples = [right, right + "\n\nmore", right.replace("e=11", "e=10"), right.replace("out 7\n", ""),
               right.replace("# output: 11 7", "# output: 11 8"), right.replace("a=4 b=3", "a=4"),
               right.replace("c=12", "c=+12"), "\n".join(TRACE), None]
    v = judge.score_samples("trace", [(rec, s) for s in samples])
    assert [x["passed"] for x in v] == [True, True] + [False] * 7
    assert [x["status"] for x in v] == ["OK", "OK"] + ["WRONG_OUTPUT"] * 4 + ["REJECTED"] * 2 + ["TOO_LONG"]
    assert v[2]["reason"] == "failed: wrong trace line 7: expected e=11, got e=10"
    assert v[3]["reason"] == "failed: the trace has 8 lines, expected 9"
    assert v[4]["reason"] == "failed: wrong output on input [3 4]: expected [11 7], got [11 8]"
    assert v[6]["reason"].startswith("rejected: not a canonical integer: +12")
    assert v[7]["reason"] == "rejected: no '# output:' line"
    over = record("in a\nL0:\ndec a\njnz a L0\nout a", (500,))
    assert judge.score_samples("trace", [(over, "# output: 0")])[0]["reason"].startswith("failed: the record's run")


def test_canonical_trace_view_renames_registers_like_the_program():
    swap = dict(zip("abcde", "pomnk"))
    renamed = re.sub(r"(?<= )[a-e](?=$|[ \n])", lambda m: swap[m.group()], PROGRAM)  # register operands
    one, other = record(), record(renamed)
    assert one["trace_target"] != other["trace_target"]
    assert canonical_program(one["trace_prompt"] + one["trace_target"]) == \
        canonical_program(other["trace_prompt"] + other["trace_target"])
    changed = record(PROGRAM.replace("mul c a b", "add c a b"))
    assert canonical_program(changed["trace_prompt"] + changed["trace_target"]) != \
        canonical_program(one["trace_prompt"] + one["trace_target"])


@pytest.fixture(scope="module")
def traced(request, tmp_path_factory):
    """A tiny build with the trace view on, saved like ``cadmus data build`` does."""
    from cadmus.cli import main

    out = tmp_path_factory.mktemp("trace") / "data"
    recipe = tmp_path_factory.mktemp("recipe") / "traced.yaml"
    text = (request.config.rootpath / "cadmus" / "recipes" / "data" / "tiny.yaml").read_text()
    recipe.write_text(text.replace("trace_view: true", "") + "\ntrace_view: true\n")
    assert main(["data", "build", str(recipe), "--out", str(out), "--limit", "12", "--workers", "1", "--quiet",
                 "--audit-sample", "20", "--audit-train-sample", "50"]) == 0
    return recipe, out


def test_a_tiny_build_with_the_trace_view(traced):
    from cadmus.data import load_dataset_dir
    from cadmus.data.builder import as_lists, chunk_columns, to_columns
    from cadmus.data.heldout import KEYS, record_keys
    from cadmus.data.recipe import load_recipe
    from tests.test_data_build import reference_record

    recipe_path, out = traced
    dd = load_dataset_dir(out)
    rows = [r for split in dd for r in dd[split]]
    traced_rows = [r for r in rows if r["trace_prompt"]]
    assert len(traced_rows) >= len(rows) // 2
    for r in traced_rows:
        first = r["tests"][0]
        assert r["trace_prompt"] == r["execution_prompt"][:-len("# output: ")] + "# trace:\n"
        assert r["trace_target"].endswith("\n# output: " + " ".join(map(str, first["output"])))
    assert "`trace_prompt`/`_target` (rendered)" in (out / "README.md").read_text()
    # the workers' fast path renders and keys the trace view as the reference does
    recipe = load_recipe(recipe_path)
    from cadmus.data.builder import chunk_seed, generate_chunk, make_plans
    from cadmus.families.base import Draws

    tasks = generate_chunk(make_plans(recipe)["train"], recipe, Draws(chunk_seed(recipe.seed, "train", 0)), 40)
    cols, keys = chunk_columns(tasks, "train", 0, recipe.n_tests, trace=True)
    records = [reference_record(t, "train", i, recipe.n_tests, trace=True) for i, t in enumerate(tasks)]
    assert as_lists(cols) == to_columns(records)
    assert keys.tolist() == [record_keys(r) for r in records]
    trace_key = keys[:, KEYS.index("trace")]
    assert ((trace_key != 0) == [bool(r["trace_prompt"]) for r in records]).all()


def test_check_references_is_100_percent_on_the_trace_suite(traced, capsys):
    from cadmus.cli import main

    _, out = traced
    assert main(["eval", "--check-references", "--data", str(out), "--suite", "trace",
                 "--split", "train,test,ood_length,ood_family"]) == 0
    line = capsys.readouterr().out
    n = int(line.split("reference check: ")[1].split(" ")[0])
    assert n > 0 and f"{n} of {n} reference answers pass (suite trace)" in line


def test_held_out_trace_views_are_new(traced):
    from cadmus.data import load_dataset_dir
    from cadmus.data.recipe import SPLITS

    dd = load_dataset_dir(traced[1])
    seen = set()
    for split in SPLITS:
        texts = {canonical_program(p + t) for p, t in zip(dd[split]["trace_prompt"], dd[split]["trace_target"]) if p}
        assert not texts & seen, split
        seen |= texts


def test_two_training_steps_with_trace_weight(traced, tmp_path):
    from cadmus.train import config, train

    args = ["--preset", "tiny", "--n_layer", "1", "--n_embd", "32", "--n_head", "2", "--per_device_batch_size", "4",
            "--warmup_steps", "1", "--max_eval_samples", "8", "--accuracy_samples", "4", "--progress_bar", "false",
            "--dataset_path", str(traced[1]), "--output_dir", str(tmp_path / "run"), "--max_steps", "2",
            "--completion_weight", "0", "--trace_weight", "1"]
    final = train(*config.parse(None, args))
    assert final["step"] == 2


def test_trace_weight_on_a_dataset_without_traces_is_an_error(traced, tmp_path):
    from datasets import load_from_disk

    from cadmus.train.data import DatasetError, tokenize
    from cadmus.tokenization import load_tokenizer

    ds = load_from_disk(str(traced[1]))["train"]
    blank = ds.map(lambda r: {"trace_prompt": "", "trace_target": ""})
    with pytest.raises(DatasetError, match="trace_view: true"):
        tokenize(blank, load_tokenizer(), {"trace": 1.0})
    with pytest.raises(DatasetError, match="no trace_prompt column"):
        tokenize(ds.remove_columns(["trace_prompt", "trace_target"]), load_tokenizer(), {"trace": 1.0})
    rows = tokenize(ds, load_tokenizer(), {"trace": 1.0})
    assert len(rows) == sum(bool(p) for p in ds["trace_prompt"])


def test_recipe_trace_view_must_be_a_bool(tmp_path, request):
    from cadmus.data.recipe import RecipeError, load_recipe

    text = (request.config.rootpath / "cadmus" / "recipes" / "data" / "tiny.yaml").read_text().replace("trace_view: true", "")
    path = tmp_path / "r.yaml"
    path.write_text(text + "\ntrace_view: 1\n")
    with pytest.raises(RecipeError, match="trace_view"):
        load_recipe(path)
    path.write_text(text)
    assert load_recipe(path).trace_view is False
    assert copy.deepcopy(load_recipe(path, {"trace_view": True})).trace_view is True
