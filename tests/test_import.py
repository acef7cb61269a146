"""``cadmus data import`` and the shipped hand-written task set."""
import json

import pytest

import cadmus
from cadmus.data import handwritten
from cadmus.data import importer as im
from cadmus.data.builder import COLUMNS, features
from cadmus.data.recipe import SPLITS
from cadmus.eval.cli import score_prompts
from cadmus.eval.prompts import SUITES, build_prompts

SUM_LIST = "in a\nmov b 0\nloop:\njz a done\nin c\nadd b b c\ndec a\njmp loop\ndone:\nout b"
ADD = "in a\nin b\nadd c a b  # the sum\nout c"


def task(**kw) -> dict:
    base = {"id": "add", "description": "add two numbers",
            "tests": [{"input": [1, 2], "output": [3]}, {"input": [5, 5], "output": [10]}],
            "challenge_tests": [{"input": [-4, 4], "output": [0]}], "reference": ADD}
    base.update(kw)
    return base


def write(tmp_path, *tasks, raw=()):
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks) + "".join(raw))
    return path


@pytest.fixture(scope="module")
def shipped():
    dd, info = im.import_tasks(handwritten.TASKS_FILE)  # raises if any reference fails any test
    return dd, info


@pytest.fixture(scope="module")
def shipped_dir(shipped, tmp_path_factory):
    out = tmp_path_factory.mktemp("handwritten") / "data"
    im.save_import(*shipped, out, "test")
    return str(out)


# --- the shipped set ----------------------------------------------------------------------------

def test_shipped_set_has_60_tasks_with_5_plus_5_tests_and_a_reference():
    tasks = im.read_tasks(handwritten.TASKS_FILE)
    assert len(tasks) >= 60
    assert len({t.id for t in tasks}) == len(tasks)
    for t in tasks:
        assert len(t.tests) >= 5 and len(t.challenge_tests) >= 5, t.id
        assert t.reference.strip() and len(t.description.split()) >= 5, t.id
        inputs = [tuple(c["input"]) for c in t.tests + t.challenge_tests]
        assert len(set(inputs)) == len(inputs), f"{t.id}: an input repeats"


@pytest.mark.parametrize("suite", SUITES)
def test_check_references_is_100_percent_on_every_suite(shipped, shipped_dir, suite, capsys):
    from cadmus.cli import main

    info = shipped[1]
    assert info.with_reference == info.tasks and info.with_completion >= 60
    assert main(["eval", "--check-references", "--data", shipped_dir, "--suite", suite, "--split", "test"]) == 0
    n = info.with_completion if suite == "completion" else info.tasks
    if suite == "trace":  # tasks whose run fits the trace caps
        n = sum(bool(p) for p in shipped[0]["test"]["trace_prompt"])
    assert f"{n} of {n} reference answers pass" in capsys.readouterr().out


def test_committed_files_are_what_the_source_writes(shipped):
    from cadmus.data.handwritten import source

    assert handwritten.TASKS_FILE.read_text() == source.render(), "run python -m cadmus.data.handwritten.source"
    assert handwritten.CARD_FILE.read_text() == source.render_card(shipped[1].with_completion)


def test_oracles_agree_with_the_committed_outputs():
    from cadmus.data.handwritten import source

    by_id = {t.id: t for t in im.read_tasks(handwritten.TASKS_FILE)}
    for spec in source.SPECS:
        for case in by_id[spec.id].tests + by_id[spec.id].challenge_tests:
            assert spec.oracle(case["input"]) == case["output"], spec.id


def test_no_family_template_produces_a_task():
    """No reference has the instruction sequence of a program the families generate."""
    from cadmus.families import Draws, Params, registry

    seen = set()
    for name, fam in registry().items():
        if name == "random":  # the grammar family: no description, no template
            continue
        for levels in ((1,), (2,), (3,)):
            params = Params(levels=levels)
            if fam.feasible(params):
                for t in fam.generate(Draws(0), params, 4, 12):
                    seen.add(tuple(line.split()[0] for line in t.program.split("\n")))
    for t in im.read_tasks(handwritten.TASKS_FILE):
        ops = tuple(line.split()[0] for line in im.canonical_reference(t).split("\n"))
        assert ops not in seen, t.id
        assert t.id not in registry()


def test_a_wrong_answer_fails_like_in_a_built_dataset(shipped):
    dd, _ = shipped
    rec_index = next(i for i, r in enumerate(dd["test"]) if r["id"] == "leap_year")
    prompts = [p for p in build_prompts(dd["test"], "test", "synthesis") if p.index == rec_index]
    always_zero = "in a\nmov b 0\nout b"  # right on most years, wrong on leap ones
    rows = score_prompts(dd, prompts, [[prompts[0].reference, always_zero]], "synthesis")
    assert [r["passed"] for r in rows] == [True, False]


# --- the import ---------------------------------------------------------------------------------

def test_folder_has_the_builders_columns_and_every_split(tmp_path):
    dd, info = im.import_tasks(write(tmp_path, task(), task(id="sum", description="sum of a list",
                                                            tests=[{"input": [2, 4, 5], "output": [9]}],
                                                            challenge_tests=[], reference=SUM_LIST)), split="valid")
    im.save_import(dd, info, tmp_path / "out", "test")
    loaded = cadmus.data.load_dataset_dir(tmp_path / "out")
    assert list(loaded) == list(SPLITS)
    assert loaded["valid"].features == features() and loaded["valid"].column_names == list(COLUMNS)
    assert [len(loaded[s]) for s in SPLITS] == [0, 2, 0, 0, 0, 0]
    rec = loaded["valid"][0]
    assert (rec["family"], rec["variant"], rec["split"]) == ("handwritten", "", "valid")
    assert rec["program"] == "in a\nin b\nadd c a b\nout c"  # canonical: the comment is gone
    assert rec["completion_prompt"] == "mov a 1\nmov b 2\nadd c a b\nassert c " and rec["completion_target"] == "3"
    assert rec["synthesis_prompt"] == "# add two numbers\n# 1 2 -> 3\n# 5 5 -> 10\n"
    assert rec["execution_prompt"].endswith("# input: 1 2\n# output: ") and rec["execution_target"] == "3"
    build_info = json.loads((tmp_path / "out" / "build_info.json").read_text())
    from cadmus.data.builder import content_hashes

    assert build_info["hashes"] == content_hashes(loaded)
    assert "tasks: 2 (handwritten 2)" in (tmp_path / "out" / "README.md").read_text()


def test_reads_in_a_loop_are_contained_with_the_stack():
    text = im.contained_program(cadmus.asm.canonical(SUM_LIST), [3, 1, 2, 3])
    assert text.startswith("push 3\npush 2\npush 1\npush 3\npop a\n") and text.endswith("assert b 6")
    assert "in " not in text and cadmus.run(text).status == cadmus.Status.OK


def test_programs_without_a_self_contained_form():
    countdown = "in a\nL0:\nout a\ndec a\njnz a L0"  # an `out` in a loop
    assert im.contained_program(countdown, [3]) is None
    stack_reader = "in a\nL0:\nin b\npush b\ndec a\njnz a L0\npop c\nout c"  # reads in a loop, uses the stack
    assert im.contained_program(stack_reader, [2, 5, 6]) is None
    literal_last = "in a\nout 7"  # the question would not depend on the program
    assert im.contained_program(literal_last, [1]) is None


def test_task_without_reference_has_only_a_synthesis_prompt(tmp_path):
    dd, info = im.import_tasks(write(tmp_path, task(reference=""), task(id="b")))
    rec = dd["test"][0]
    assert rec["synthesis_prompt"] and not rec["synthesis_target"]
    assert not any(rec[c] for c in ("program", "true_program", "completion_prompt", "execution_prompt"))
    assert (info.with_reference, info.with_completion) == (1, 1)
    for suite in ("completion", "execution", "input"):
        assert [p.id for p in build_prompts(dd["test"], "test", suite)] == ["b"]
    assert [p.id for p in build_prompts(dd["test"], "test", "synthesis")] == ["add", "b"]


def test_wrong_reference_names_the_task_and_the_test(tmp_path):
    bad = task(challenge_tests=[{"input": [-4, 4], "output": [1]}])
    expected = r"tasks.jsonl:1 \(task 'add'\): the reference fails challenge_tests\[0\]: input \[-4, 4\], expected \[1\]"
    with pytest.raises(im.TaskFileError, match=expected + r", got \[0\]"):
        im.import_tasks(write(tmp_path, bad))
    crash = task(reference="in a\nin b\ndiv c a 0\nout c")
    with pytest.raises(im.TaskFileError, match=r"fails tests\[0\].*DIV_BY_ZERO"):
        im.import_tasks(write(tmp_path, crash))
    with pytest.raises(im.TaskFileError, match=r"task 'add'\): field 'reference' does not assemble: line 1"):
        im.import_tasks(write(tmp_path, task(reference="jump a")))


@pytest.mark.parametrize("line, message", [
    ("{not json", r":2: not valid JSON"),
    ("[1, 2]", r":2: expected a JSON object"),
    (json.dumps({"id": "x", "tests": []}), r":2: missing field 'description'"),
    (json.dumps(task(id="y", challenge_test=[])), r":2: unknown field 'challenge_test'"),
    (json.dumps(task(id="has space")), r":2: field 'id'"),
    (json.dumps(task(id="z", description="two\nlines")), r":2 \(task 'z'\): field 'description'"),
    (json.dumps(task(id="z", tests=[])), r":2 \(task 'z'\): field 'tests' is empty"),
    (json.dumps(task(id="z", tests=[{"input": [1], "output": ["3"]}])), r"field 'tests\[0\].output' must be a list"),
    (json.dumps(task(id="z", tests=[{"input": [2**63], "output": [3]}])), r"'tests\[0\].input' must be a list of int64"),
    (json.dumps(task(id="z", tests=[{"input": [1]}])), r"field 'tests\[0\]' must be an object"),
    (json.dumps(task(id="z", level=-1)), r"field 'level'"),
    (json.dumps(task()), r":2: field 'id': 'add' already used on line 1"),
])
def test_malformed_line_names_its_line_and_field(tmp_path, line, message):
    with pytest.raises(im.TaskFileError, match=message):
        im.read_tasks(write(tmp_path, task(), raw=[line + "\n"]))


def test_cli_import_and_its_errors(tmp_path, capsys):
    from cadmus.cli import main

    good = write(tmp_path, task())
    assert main(["data", "import", str(good), "--out", str(tmp_path / "out")]) == 0
    assert "1 tasks in split test" in capsys.readouterr().out
    assert main(["eval", "--check-references", "--data", str(tmp_path / "out"), "--suite", "completion"]) == 0
    (tmp_path / "bad.jsonl").write_text("{}\n")
    assert main(["data", "import", str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "out2")]) == 1
    assert "bad.jsonl:1: missing field 'id'" in capsys.readouterr().err
    assert not (tmp_path / "out2").exists()
    assert main(["data", "import", str(good), "--out", str(tmp_path / "out")]) == 2  # exists
    assert "use --overwrite" in capsys.readouterr().err
    assert main(["data", "import", str(good), "--out", str(tmp_path / "out"), "--overwrite"]) == 0


@pytest.mark.parametrize("argv", [["data", "import", "--help"], ["tokenizer", "build", "--help"]])
def test_help(argv, capsys):
    from cadmus.cli import main

    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0 and "--out" in capsys.readouterr().out
