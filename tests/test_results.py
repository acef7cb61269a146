"""``cadmus report``: the results page from real (tiny) training runs and eval folders written by
``cadmus eval``'s own report code, with known pass counts, so every number on the page is checked."""
import json
import re
import shutil

import pytest

from cadmus.cli import main
from cadmus.eval.report import summarize, write_outputs
from cadmus.results import group_runs, load_run, report
from cadmus.results.runs import tokenizer_label
from cadmus.results.tables import cell

TRAIN = ["--preset", "tiny", "--n_layer", "1", "--n_embd", "32", "--n_head", "2", "--per_device_batch_size", "8",
         "--max_steps", "6", "--eval_steps", "3", "--logging_steps", "2", "--accuracy_samples", "4",
         "--max_eval_samples", "8", "--save_steps", "0", "--progress_bar", "false"]


def rows(split, spec):
    """Sample rows of a greedy suite: ``spec`` is [(family, level, novelty, passed), ...], one prompt each."""
    return [{"id": f"{split}-{i}", "split": split, "family": fam, "level": lv, "novelty": nov, "sample_index": 0,
             "sample": "1", "status": "OK" if ok else "ASSERT_FAILED", "passed": ok, "passed_visible": None,
             "reason": ""} for i, (fam, lv, nov, ok) in enumerate(spec)]


# seed 1: arith level 1 passes 3 of 4 (the novel one fails); seed 2: 1 of 4 (the novel one passes)
SPECS = {
    1: [("arith", 1, "seen", True), ("arith", 1, "seen", True), ("arith", 1, "seen", True),
        ("arith", 1, "novel", False), ("gcd", 2, "novel", True), ("gcd", 2, "seen", False)],
    2: [("arith", 1, "seen", False), ("arith", 1, "seen", False), ("arith", 1, "seen", False),
        ("arith", 1, "novel", True), ("gcd", 2, "novel", False), ("gcd", 2, "seen", False)],
}


def write_eval(folder, model, data, spec, suite="completion"):
    found = rows("test", spec)
    summary = summarize(found, [1])
    summary["config"] = {"suite": suite, "model": str(model), "data": str(data), "split": "test", "limit": None,
                         "n": 1, "seed": 0, "out": str(folder), "command": None, "model_sha256": None,
                         "dataset_sha256": "d" * 64}
    write_outputs(folder, found, summary, plot=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_data):
    """Two seeds of one configuration and one run with another learning rate, each with an eval folder."""
    from cadmus.train import config, train

    root = tmp_path_factory.mktemp("runs")
    data = tiny_data  # the builder's tiny data (tests/conftest.py)
    made = {}
    for name, seed, extra in (("s1", 1, []), ("s2", 2, []), ("lr", 1, ["--learning_rate", "5e-3"])):
        model = root / name / "model"
        train(*config.parse(None, [*TRAIN, *extra, "--dataset_path", str(data), "--output_dir", str(model),
                                   "--seed", str(seed)]))
        write_eval(root / name / "eval" / "completion", model, data, SPECS[seed])
        made[name] = root / name
    return made


def test_seeds_group_with_mean_and_worst_and_other_configs_apart(runs):
    groups = group_runs([load_run(runs[n]) for n in ("s1", "lr", "s2")])
    assert [[r.path.name for r in members] for _, members in groups] == [["s1", "s2"], ["lr"]]
    assert cell([0.75, 0.25]) == "0.500 / 0.250" and cell([0.5]) == "0.500" and cell([None]) == "-"


def test_page_tables_hashes_commands_and_pictures(runs, tmp_path):
    page = report([runs["s1"], runs["s2"]], tmp_path / "docs", "cadmus report X").read_text()
    # family x level of the two seeds: arith level 1 is 3/4 and 1/4
    assert "| arith | 0.500 / 0.250 | - | 0.500 / 0.250 | 4 |" in page
    assert "| gcd | - | 0.250 / 0.000 | 0.250 / 0.000 | 2 |" in page
    # families weigh alike in the mean (the all-prompts row weighs arith's 4 prompts twice gcd's 2)
    assert "| **all prompts** | 0.500 / 0.250 | 0.250 / 0.000 | 0.417 / 0.167 | 6 |" in page
    assert "| **mean over families** | 0.500 / 0.250 | 0.250 / 0.000 | 0.375 / 0.125 | |" in page
    assert "| **families with pass@1 > 0** | 1.0 / 1 | 0.5 / 0 | 1.5 / 1 | |" in page
    # split table with the seen / novel breakdown; novel only: arith 0/1 and 1/1, gcd 1/1 and 0/1
    assert "| test / novel | 2 | 0.500 / 0.500 |" in page and "| test / seen | 4 | 0.375 / 0.000 |" in page
    novel = page.split("novel prompts only")[1]
    assert "| arith | 0.500 / 0.000 | - | 0.500 / 0.000 | 1 |" in novel
    info = json.loads((runs["s2"] / "model" / "cadmus.json").read_text())
    assert info["dataset"]["content_hash"] in page and "d" * 64 in page
    assert re.search(r"model weights: sha256 `[0-9a-f]{64}`", page)
    assert "--seed 2" in page and "cadmus eval " in page and "2 runs (seeds 1, 2)" in page
    assert "not measured on GPU" in page and "no GPU" in page and "machine: not recorded" not in page
    for png in re.findall(r"\]\((results/[^)]+\.png)\)", page):
        assert (tmp_path / "docs" / png).stat().st_size > 1000, png
    assert len(re.findall(r"\]\((results/[^)]+\.png)\)", page)) == 2


def test_model_card_carries_the_pages_table(runs, tmp_path):
    from cadmus.hub import model_card
    from cadmus.results.runs import model_evals

    page = report([runs["lr"]], tmp_path / "docs", "cadmus report X").read_text()
    card = model_card(runs["lr"] / "model", "user/tiny", evals=[f for f, _ in model_evals(runs["lr"] / "model")])
    table = page.split("#### completion, test: pass@1 by family and level\n\n")[1].split("\n\n")[0]
    assert "| arith | 0.750 | - | 0.750 | 4 |" in table and table in card


def test_quickstart_report_folder(runs, tmp_path):
    """A quickstart folder: its summary's suites, target, machine and seed; phases from its curriculum."""
    qs = tmp_path / "qs"
    shutil.copytree(runs["s1"] / "model", qs / "model")
    suite = json.loads((runs["s1"] / "eval" / "completion" / "summary.json").read_text())
    summary = {"quickstart": {"seed": 7, "out": str(qs), "minutes": 3.0}, "suites": {"completion": suite},
               "target": {"suite": "completion", "split": "test", "family": "arith", "level": 1, "accuracy": 0.95,
                          "measured": 0.75, "met": False},
               "machine": {"cpus": 2, "torch": "2.x", "cuda": None}, "runtime_s": {"total": 90.0},
               "curriculum": [{"model": "/elsewhere/model"}]}
    (qs / "summary.json").write_text(json.dumps(summary))
    run = load_run(qs)
    assert run.kind == "quickstart" and run.seed == 7 and run.steps() == 6
    assert run.commands == ["cadmus quickstart --seed 7 --out " + str(qs) + " --minutes 3.0"]
    page = report([qs], tmp_path / "docs", "cadmus report X").read_text()
    assert "0.750 (NOT met)" in page and "met by 0 of 1 run(s)" in page and "2 CPUs" in page


def test_cli_errors_and_help(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "docs")]) == 2
    assert "no run here" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["report", "--help"])
    assert exc.value.code == 0 and "RUN_DIR" in capsys.readouterr().out


def test_quickstart_runs_group_by_what_shapes_the_model_not_by_the_cap_or_the_checkout(runs, tmp_path):
    """The time cap and where the recipe files lay do not split seeds apart; the thread count does
    (each rounds sums differently), and the group's title says which."""
    from cadmus.results.runs import group_runs

    suite = json.loads((runs["s1"] / "eval" / "completion" / "summary.json").read_text())
    folders = []
    for name, seed, minutes, checkout, threads in (("a", 0, 30.0, "/x", 1), ("b", 1, 120.0, "/y", 1),
                                                   ("c", 0, 30.0, "/x", 2)):
        qs = tmp_path / name
        shutil.copytree(runs["s1"] / "model", qs / "model")
        args = {"seed": seed, "out": str(qs), "minutes": minutes, "data_recipe": f"{checkout}/data/quickstart.yaml"}
        summary = {"quickstart": args, "suites": {"completion": suite}, "machine": {"torch_threads": threads},
                   "curriculum": [{"model": "/elsewhere/model"}]}
        (qs / "summary.json").write_text(json.dumps(summary))
        folders.append(qs)
    groups = group_runs([load_run(f) for f in folders])
    assert [(title, [r.path.name for r in members]) for title, members in groups] == [
        ("cadmus quickstart (1 torch thread)", ["a", "b"]), ("cadmus quickstart (2 torch threads)", ["c"])]


def test_groups_evaluated_on_the_same_data_are_compared_by_level(runs):
    from cadmus.results.page import comparisons

    groups = group_runs([load_run(runs[n]) for n in ("s1", "lr", "s2")])
    text = comparisons(groups)
    table = text.split("### completion, test: pass@1 by level (data sha256 `dddddddddddd`)\n\n")[1].split("\n\n")[0]
    lines = table.splitlines()
    assert lines[0] == "| group | runs | level 1 | level 2 | all |"
    # s1: level 1 3/4, level 2 1/2, all 4/6; s2: 1/4, 0/2, 1/6; lr (seed 1's spec): as s1
    assert lines[2].endswith("| 2 | 0.500 / 0.250 | 0.250 / 0.000 | 0.417 / 0.167 |")
    assert lines[3].endswith("| 1 | 0.750 | 0.500 | 0.667 |")
    assert comparisons(groups[:1]) == ""  # one group: nothing to compare


def test_a_repeated_seed_is_shown_checked_for_identical_weights_and_counted_once(runs, tmp_path):
    again = tmp_path / "s1_again"
    shutil.copytree(runs["s1"], again)
    page = report([runs["s1"], runs["s2"], again], tmp_path / "docs", "cadmus report X").read_text()
    assert "2 runs (seeds 1, 2)" in page and f"`{again}` repeats seed 1 of `{runs['s1']}`: byte-identical" in page
    table = page.split("#### completion, test: pass@1 by family and level\n\n")[1].split("\n\n")[0]
    assert "| arith | 0.500 / 0.250 |" in table  # seeds 1 and 2 once each (with the repeat: 0.583 / 0.250)


def test_a_model_folders_own_eval_folders_are_found_and_tokenizers_tell_runs_apart(runs, tmp_path, tiny_data):
    char, number = tmp_path / "char", tmp_path / "number"
    for folder in (char, number):
        shutil.copytree(runs["s1"] / "model", folder)
        shutil.rmtree(folder / "checkpoints", ignore_errors=True)
        write_eval(folder / "eval" / "completion", folder, tiny_data, SPECS[1])  # MODEL/eval/<suite>
    tok = json.loads((number / "tokenizer.json").read_text())
    tok["model"]["vocab"]["<|extra|>"] = len(tok["model"]["vocab"])  # another vocabulary
    (number / "tokenizer.json").write_text(json.dumps(tok))
    info = json.loads((number / "cadmus.json").read_text())
    info["recipe"]["tokenizer_path"] = "/elsewhere/tok_number"
    (number / "cadmus.json").write_text(json.dumps(info))
    loaded = [load_run(char), load_run(number)]
    assert [list(r.evals) for r in loaded] == [["completion"], ["completion"]]
    groups = group_runs(loaded)
    assert [[r.path for r in members] for _, members in groups] == [[char], [number]]
    assert groups[1][0].endswith(" (tokenizer tok_number)") and "tokenizer" not in groups[0][0]
    assert tokenizer_label("/x/cadmus/tokenizer") == tokenizer_label("char") == "char, shipped"


def test_groups_of_one_title_are_told_apart_by_the_settings_they_differ_in(runs, tmp_path):
    namesake = tmp_path / "s1"  # the lr run under the seed runs' folder name: the same title
    shutil.copytree(runs["lr"], namesake)
    groups = group_runs([load_run(runs["s1"]), load_run(namesake), load_run(runs["s2"])])
    assert [(title, len(members)) for title, members in groups] == [
        ("s1 (learning_rate 0.001)", 2), ("s1 (learning_rate 0.005)", 1)]
