"""The dataset builder, the audit and the ``cadmus data`` commands, on tiny builds."""
import json

import pytest

from cadmus.cli import build_parser, main
from cadmus.data import DatasetDirError, load_dataset_dir
from cadmus.data.audit import audit, format_audit
from cadmus.data.builder import COLUMNS, VIEW_COLUMNS, BuildError, build, content_hashes
from cadmus.data.recipe import SPLITS, load_recipe
from cadmus.data.views import VIEWS

LIMIT = 30


@pytest.fixture(scope="module")
def tiny(request):
    root = request.config.rootpath
    recipe = load_recipe(root / "cadmus" / "recipes" / "data" / "tiny.yaml")
    dd, info = build(recipe, workers=1, limit=LIMIT, progress=False)
    return recipe, dd, info


def test_build_has_all_splits_columns_and_counts(tiny):
    recipe, dd, info = tiny
    assert list(dd) == list(SPLITS)
    for split in SPLITS:
        assert len(dd[split]) == LIMIT
        assert set(COLUMNS) <= set(dd[split].column_names)
        rec = dd[split][0]
        assert rec["split"] == split and set(rec["difficulty"]) == {"level", "size"}
        assert len(rec["tests"]) == recipe.n_tests and len(rec["challenge_tests"]) == recipe.n_challenge
        assert (rec["novelty"] == "") == (split == "train") and rec["novelty"] in ("", "seen", "novel")
    held = set(recipe.held_out_families)
    assert held.isdisjoint(dd["train"]["family"]) and set(dd["ood_family"]["family"]) <= held


def test_determinism_independent_of_workers(tiny):
    recipe, dd, _ = tiny
    dd2, info2 = build(recipe, workers=2, limit=LIMIT, progress=False)
    assert info2.hashes == tiny[2].hashes == content_hashes(dd2) == content_hashes(dd)
    assert dd2["test"]["completion_prompt"] == dd["test"]["completion_prompt"]
    recipe.seed += 1
    try:
        dd3, _ = build(recipe, workers=1, limit=5, progress=False)
    finally:
        recipe.seed -= 1
    assert dd3["train"]["program"] != dd["train"]["program"][:5]


def test_chunk_transfer_by_file_and_by_pipe_agree(tmp_path):
    import pickle

    import pyarrow as pa

    from cadmus.data.builder import _ship

    table = pa.table({"n": [1, 2, 3], "s": ["x", "yy", ""], "l": [[1], [], [2, 3]]})
    by_file = _ship(table, str(tmp_path), "train-0")
    assert [p.name for p in tmp_path.iterdir()] == ["train-0.arrow"]
    assert pickle.loads(pickle.dumps(by_file)).equals(table)
    assert not list(tmp_path.iterdir())  # read once, then deleted
    by_pipe = _ship(table, str(tmp_path / "gone"), "train-0")  # unwritable folder: the pipe instead
    assert pickle.loads(pickle.dumps(by_pipe)).equals(table)


def test_a_build_removes_its_transfer_folder(tiny, tmp_path, monkeypatch):
    import cadmus.data.builder as builder

    recipe, _, info = tiny
    folder = tmp_path / "transfer"

    def make_folder():
        folder.mkdir()
        return str(folder)

    monkeypatch.setattr(builder, "transfer_folder", make_folder)
    _, info2 = build(recipe, workers=2, limit=LIMIT, progress=False)
    assert info2.hashes == info.hashes and not folder.exists()


def test_a_shared_pool_serves_builds_of_different_recipes(tiny):
    """Workers of ``worker_pool`` take each job's recipe: a second build on the same pool, with
    another seed, gets its own data, and the first recipe's data stays that of ``workers=1``."""
    import copy

    from cadmus.data.builder import worker_pool

    recipe, _, info = tiny
    other = copy.deepcopy(recipe)
    other.seed += 1
    with worker_pool(2) as pool:
        _, first = build(other, workers=2, limit=8, progress=False, pool=pool)
        _, second = build(recipe, workers=2, limit=LIMIT, progress=False, pool=pool)
    assert second.hashes == info.hashes
    assert first.hashes == build(other, workers=1, limit=8, progress=False)[1].hashes != info.hashes


def test_limit_keeps_a_prefix(tiny):
    recipe, dd, _ = tiny
    small, _ = build(recipe, workers=1, limit=10, progress=False)
    assert small["train"]["id"] == dd["train"]["id"][:10]
    assert small["train"]["program"] == dd["train"]["program"][:10]


def test_splits_are_disjoint_per_view(tiny):
    _, dd, _ = tiny
    for view in VIEWS:
        seen = {}
        for split in SPLITS:
            texts = {p + t for p, t in zip(dd[split][f"{view}_prompt"], dd[split][f"{view}_target"]) if p}
            for other, other_texts in seen.items():
                assert not texts & other_texts, (view, split, other)
            seen[split] = texts


def test_views_only_printable_ascii(tiny):
    _, dd, _ = tiny
    for split in SPLITS:
        for col in VIEW_COLUMNS:
            assert all(all(32 <= ord(c) <= 126 or c == "\n" for c in text) for text in dd[split][col])


def test_ood_numbers_use_values_outside_training_range(tiny):
    _, dd, _ = tiny
    for rec in dd["ood_numbers"]:
        if rec["family"] in ("sort", "array_sum", "array_max", "reverse", "prefix_sum"):
            assert all(v >= 100 for t in rec["tests"] for v in t["input"][1:])


def test_audit_passes_then_fails_on_a_renamed_copy_of_train(tiny):
    """A test row that is a train row with its registers renamed: no exact duplicate, but the
    audit's canonical views and questions find it."""
    _, dd, _ = tiny
    report = audit(dd, sample=50, train_sample=100)
    assert report["ok"] and set(report["novelty"]) == set(SPLITS[1:])
    leaked = _renamed(dd["train"][3])
    rows = dd["test"].to_list()
    rows[0] = {**leaked, "id": rows[0]["id"], "split": "test", "novelty": "seen"}
    from datasets import Dataset

    dd_bad = dict(dd)
    dd_bad["test"] = Dataset.from_list(rows, features=dd["test"].features)
    bad = audit(dd_bad, sample=50, train_sample=100)
    assert not bad["ok"] and "audit: FAIL" in format_audit(bad)
    assert bad["exact_duplicates"]["completion"]["train|test"]["texts"] == 0
    assert bad["canonical_duplicates"]["completion"]["train|test"] == {"texts": 1, "records": 1}
    assert bad["shared_questions"]["train|test"] == {"texts": 1, "records": 1}
    assert bad["repeating_records"]["train|test"] == 1


def _renamed(rec: dict) -> dict:
    """``rec`` with every register in its program texts renamed (a, b, ... swapped with p, o, ...)."""
    import re

    from cadmus.data.views import render_views

    swap = dict(zip("abcdefghijklmnop", "ponmlkjihgfedcba"))
    rename = lambda text: re.sub(r"(?<= )[a-p](?=$|[ \n])", lambda m: swap[m.group()], text)  # noqa: E731
    out = {**rec, "program": rename(rec["program"]), "true_program": rename(rec["true_program"])}
    out.update(render_views(out))
    assert out["completion_prompt"] != rec["completion_prompt"]
    return out


def test_a_failing_chunk_in_a_worker_stops_the_build(tiny):
    """Too little fuel for the programs: a worker's verification fails and the parent raises it,
    with the record."""
    import copy

    recipe = copy.deepcopy(tiny[0])
    recipe.fuel = 3
    with pytest.raises(BuildError, match="disagrees with the VM"):
        build(recipe, workers=2, limit=LIMIT, progress=False)


def test_verify_columns_names_the_record_that_disagrees(tiny):
    """Records as dicts (a redraw's way) verify through the same columns as a worker's chunk."""
    from cadmus.data.render import to_columns
    from cadmus.data.verify import verify_columns

    _, dd, _ = tiny
    good = [dd["train"][i] for i in range(4)]
    verify_columns(to_columns(good), 100_000)
    rec = dd["train"][0]
    rec["challenge_tests"][1]["output"] = [123456789]  # an oracle that disagrees with the VM
    with pytest.raises(BuildError, match="disagrees with the VM .oracle or synthesis view") as err:
        verify_columns(to_columns([dd["train"][1], rec]), 100_000)
    assert rec["id"] in str(err.value) and "123456789" in str(err.value)
    rec = {**dd["train"][2], "completion_target": "123456789"}  # the completion view's full text is run
    with pytest.raises(BuildError, match="disagrees with the VM .oracle or completion view") as err:
        verify_columns(to_columns([*good, rec]), 100_000)
    assert f'"id": "{rec["id"]}"' in str(err.value)


def test_cli_help_for_every_data_command(capsys):
    for argv in (["data", "--help"], ["data", "build", "--help"], ["data", "audit", "--help"], ["data", "show", "--help"]):
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args(argv)
        assert exc.value.code == 0
        assert "usage: cadmus data" in capsys.readouterr().out


def test_cli_build_show_audit(tmp_path, capsys, request):
    out = tmp_path / "ds"
    recipe = request.config.rootpath / "cadmus" / "recipes" / "data" / "tiny.yaml"
    code = main(["data", "build", str(recipe), "--out", str(out), "--limit", "8", "--workers", "1",
                 "--quiet", "--format", "jsonl"])
    assert code == 0
    assert "audit: PASS" in capsys.readouterr().out
    card = (out / "README.md").read_text()
    assert "## Content hashes" in card and "`all`:" in card and "audit: PASS" in card
    assert json.loads((out / "audit.json").read_text())["ok"]
    assert (out / "export" / "train.jsonl").read_text().count("\n") == 8
    assert len(load_dataset_dir(out)["valid"]) == 8
    assert main(["data", "show", str(out), "-n", "1"]) == 0
    shown = capsys.readouterr().out
    assert "train: 8 records" in shown and "completion" in shown and "  novelty:  " in shown
    assert main(["data", "audit", str(out), "--hash"]) == 0
    assert "matches build_info.json" in capsys.readouterr().out
    assert main(["data", "build", str(recipe), "--out", str(out), "--limit", "2", "--quiet"]) == 2
    assert "exists and is not empty" in capsys.readouterr().err


def test_cli_bad_recipe_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("mixture: {arith: 1}\nfoo: 1\n")
    assert main(["data", "build", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "unknown key 'foo'" in capsys.readouterr().err


def test_load_dataset_dir_errors(tmp_path):
    with pytest.raises(DatasetDirError, match="no such directory"):
        load_dataset_dir(tmp_path / "nope")
    with pytest.raises(DatasetDirError, match="not a dataset directory"):
        load_dataset_dir(tmp_path)
    (tmp_path / "dataset_dict.json").write_text("{garbled")
    with pytest.raises(DatasetDirError, match="cannot load"):
        load_dataset_dir(tmp_path)


def test_ood_length_takes_only_families_longer_than_training(tmp_path):
    from cadmus.data.builder import make_plans

    path = tmp_path / "r.yaml"
    path.write_text("mixture: {arith: 1, random: 1, sort: 1, gcd: 1}\n"
                    "splits: {train: {size: 5}, ood_length: {size: 5, lengths: [9, 16], ops: [7, 12]}}\n")
    names = [f.name for f in make_plans(load_recipe(path))["ood_length"].families]
    # random's training programs reach 12 instructions, so 7..12 is not out of distribution for it
    assert names == ["arith", "sort"]


def test_push_to_hub_failure_is_a_clear_error(tmp_path, capsys, monkeypatch, request):
    import huggingface_hub.constants

    # no token anywhere: the push stops before any request (test_hub.py covers real pushes)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))
    recipe = request.config.rootpath / "cadmus" / "recipes" / "data" / "tiny.yaml"
    code = main(["data", "build", str(recipe), "--out", str(tmp_path / "ds"), "--limit", "3", "--workers", "1",
                 "--quiet", "--push-to-hub", "someone/cadmus"])
    assert code == 1
    err = capsys.readouterr().err
    assert "push to the Hub repository 'someone/cadmus' failed" in err and "saved locally" in err
    assert load_dataset_dir(tmp_path / "ds")["train"].num_rows == 3


def test_cli_audit_exits_nonzero_on_a_leaked_view(tiny, tmp_path, capsys):
    from datasets import Dataset, DatasetDict

    _, dd, _ = tiny
    rows = dd["valid"].to_list()
    rows[1] = {**dd["train"][0], "id": rows[1]["id"], "split": "valid"}
    leaked = DatasetDict({**dd, "valid": Dataset.from_list(rows, features=dd["valid"].features)})
    leaked.save_to_disk(str(tmp_path / "leaked"))
    assert main(["data", "audit", str(tmp_path / "leaked"), "--sample", "20"]) == 1
    assert "train|valid" in capsys.readouterr().out


def _chunk(recipe, split, length, keep=None):
    from cadmus.data.builder import chunk_seed, generate_chunk, make_plans
    from cadmus.families.base import Draws

    tasks = generate_chunk(make_plans(recipe)[split], recipe, Draws(chunk_seed(recipe.seed, split, 0)), length)
    return tasks[:keep]


def reference_record(task, split: str, index: int, n_tests: int, trace: bool = False) -> dict:
    """Record ``index`` of ``split`` made of ``task`` one field at a time, its views by
    ``views.render_views`` (their definition): what ``chunk_columns`` must render."""
    from cadmus.data.views import render_views

    cases = [{"input": c, "output": o} for c, o in zip(task.cases, task.outputs)]
    rec = {"id": f"{split}-{index:07d}", "family": task.family, "variant": task.variant,
           "difficulty": {"level": task.level, "size": task.size}, "description": task.description,
           "program": task.program, "true_program": task.true_program, "tests": cases[:n_tests],
           "challenge_tests": cases[n_tests:], "split": split, "novelty": ""}
    rec.update(render_views(rec, trace))
    return rec


def test_chunk_columns_match_the_views_definition(tiny):
    """The one renderer, column by column, renders exactly what ``render_views`` defines record
    by record, and keys it as ``record_keys`` does; a redraw's candidates all get its index."""
    from cadmus.data.heldout import record_keys
    from cadmus.data.render import chunk_columns, records_at, rows

    recipe = tiny[0]
    for split in ("train", "ood_length"):
        tasks = _chunk(recipe, split, 40)
        cols, keys = chunk_columns(tasks, split, 0, recipe.n_tests)
        records = [reference_record(t, split, i, recipe.n_tests) for i, t in enumerate(tasks)]
        assert rows(cols) == records
        assert keys.tolist() == [record_keys(r) for r in records]
        candidates = [reference_record(t, split, 7, recipe.n_tests) for t in tasks[:3]]
        assert records_at(tasks[:3], split, 7, recipe.n_tests) == [(r, record_keys(r)) for r in candidates]
    assert records_at([], "valid", 7, recipe.n_tests) == []


def test_a_chunk_is_generated_whole_so_limits_keep_a_prefix(tiny):
    recipe = tiny[0]
    assert _chunk(recipe, "train", 40, 10) == _chunk(recipe, "train", 40)[:10] != _chunk(recipe, "train", 10)


def test_verify_columns_stops_on_a_wrong_oracle(tiny):
    import pyarrow as pa

    from cadmus.data.builder import chunk_columns, verify_columns

    recipe = tiny[0]
    cols, _ = chunk_columns(_chunk(recipe, "train", 20), "train", 0, recipe.n_tests)
    verify_columns(cols, recipe.fuel)
    challenge = cols["challenge_tests"].to_pylist()
    challenge[5][1]["output"] = [123456789]
    cols["challenge_tests"] = pa.array(challenge, cols["challenge_tests"].type)
    with pytest.raises(BuildError, match="disagrees with the VM") as err:
        verify_columns(cols, recipe.fuel)
    assert cols["id"][5] in str(err.value) and "expected [123456789]" in str(err.value)


def test_record_runs_follow_each_records_own_tests():
    """Per record: its completion text once (no inputs, no outputs), then its synthesis text on
    its visible tests and then its challenge tests, however many each record has."""
    from cadmus.data.render import columns_to_arrow, to_columns
    from cadmus.data.verify import record_runs

    def case(i):
        return {"input": [i, i + 1], "output": [10 * i]}

    base = {c: "" for c in COLUMNS} | {"difficulty": {"level": 0, "size": 0}, "program": "P", "true_program": "T",
                                       "completion_prompt": "C", "completion_target": "1"}
    records = [{**base, "tests": [case(1)], "challenge_tests": [case(2), case(3)]},
               {**base, "tests": [case(4), case(5)], "challenge_tests": [], "synthesis_prompt": "# s\n"}]
    cols = to_columns(records)
    runs = record_runs(cols, columns_to_arrow(cols))
    assert runs.programs == ["C1", "P", "C1", "# s\nP"]
    assert runs.program_index.tolist() == [0, 1, 1, 1, 2, 3, 3]
    assert runs.want_len.tolist() == [0, 1, 1, 1, 0, 1, 1] and runs.want.tolist() == [10, 20, 30, 40, 50]
    at = runs.input_offsets
    assert [runs.inputs[at[i]:at[i + 1]].tolist() for i in range(7)] == [[], [1, 2], [2, 3], [3, 4], [], [4, 5], [5, 6]]
    # the VM kernel's argument types: a read-only array would make Numba compile it again
    assert all(a.flags.writeable and a.dtype == "int64" for a in runs[1:])


def test_chunk_digest_ignores_slicing_and_sees_every_value(tiny):
    import pyarrow as pa

    from cadmus.data.builder import chunk_digest

    part = tiny[1]["train"].data.table.slice(5, 10)
    rows = part.to_pylist()
    assert chunk_digest(part) == chunk_digest(pa.Table.from_pylist(rows, schema=part.schema))
    rows[3]["tests"][0]["input"].append(0)
    rows[3]["tests"][0]["input"][0] += 1
    changed = chunk_digest(pa.Table.from_pylist(rows, schema=part.schema))
    rows[3]["tests"][0]["input"][0] -= 1
    assert changed != chunk_digest(pa.Table.from_pylist(rows, schema=part.schema)) != chunk_digest(part)


def test_verify_columns_stops_on_unprintable_view_text(tiny):
    from cadmus.data.builder import chunk_columns, verify_columns

    recipe = tiny[0]
    cols, _ = chunk_columns(_chunk(recipe, "train", 5), "train", 0, recipe.n_tests)
    cols["synthesis_target"][2] += "\t"
    with pytest.raises(BuildError, match=f"record {cols['id'][2]}: synthesis_target contains '\\\\t'"):
        verify_columns(cols, recipe.fuel)


def test_held_out_records_repeating_train_are_redrawn_in_their_family_variant_and_level(tiny, monkeypatch):
    """Force every first draw of ``valid`` to equal train's (same seed, same chunk length): every
    record is redrawn (or dropped) in its own family, variant and level, and the split's table and
    hash are rebuilt."""
    import copy

    from cadmus.data import builder

    recipe = copy.deepcopy(tiny[0])
    recipe.splits["train"].size = recipe.splits["valid"].size
    real = builder.chunk_seed
    monkeypatch.setattr(builder, "chunk_seed", lambda seed, split, chunk: real(seed, "train", chunk))
    dd, info = build(recipe, workers=1, limit=12, progress=False)
    dropped = sum(info.dropped["valid"].values())
    assert info.redrawn["valid"] + dropped == 12 and info.redrawn["valid"] >= 10
    assert info.hashes == content_hashes(dd)
    train = set(dd["train"]["completion_prompt"])
    assert not train & set(dd["valid"]["completion_prompt"])
    index = [int(i.rsplit("-", 1)[1]) for i in dd["valid"]["id"]]
    assert len(index) == 12 - dropped and index == sorted(index)

    def mix(ds, rows):
        return [(ds[i]["family"], ds[i]["variant"], ds[i]["difficulty"]["level"]) for i in rows]

    assert mix(dd["valid"], range(len(index))) == mix(dd["train"], index)


def test_held_out_questions_and_canonical_views_are_new(tiny):
    """Recomputed with ``cadmus.canonical`` from the records: no held-out record shares a canonical
    view text or (completion/execution) question with an earlier split, and ``novelty`` says
    whether its canonical program occurs in train."""
    from cadmus.canonical import canonical_program, canonical_views, question_key

    _, dd, _ = tiny
    seen_views, seen_questions = set(), set()
    train_programs = {canonical_program(p) for p in dd["train"]["program"]}
    for split in SPLITS:
        views, questions = set(), set()
        for rec in dd[split]:
            views |= {(v, t) for v, t in canonical_views(rec).items() if t}
            questions.add(question_key(rec))
            if split != "train":
                assert rec["novelty"] == ("seen" if canonical_program(rec["program"]) in train_programs else "novel")
        assert not views & seen_views and not questions & seen_questions, split
        seen_views |= views
        seen_questions |= questions
    assert {r["novelty"] for s in SPLITS[1:4] for r in dd[s]} == {"seen", "novel"}


def _small_recipe(tmp_path, text: str):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return load_recipe(path)


def test_an_exhausted_domain_drops_records_and_says_so(tmp_path):
    """factorial has 2 variants x 21 inputs = 42 questions; a train split of 400 asks them all,
    so valid can have none: its records are dropped (never repeated) and every report says so."""
    from cadmus.data.card import render_card

    recipe = _small_recipe(tmp_path, "seed: 1\nmixture: {factorial: 1, sum_range: 1}\nmax_attempts: 20\n"
                                     "splits: {train: {size: 400}, valid: {size: 30}}\n")
    dd, info = build(recipe, workers=1, progress=False)
    fams = dd["valid"]["family"]
    assert "factorial" not in fams and len(dd["valid"]) == fams.count("sum_range") > 0
    dropped = info.dropped["valid"]
    assert sum(dropped.values()) == 30 - len(dd["valid"]) and all(g.startswith("factorial/") for g in dropped)
    assert info.exhausted["valid"] and all(g.startswith("factorial/") for g in info.exhausted["valid"])
    report = audit(dd, sample=20, train_sample=100, recipe=recipe, build_info={**info.as_dict()})
    assert report["ok"] and report["dropped"]["valid"]["dropped"] == sum(dropped.values())
    assert any(w.startswith("valid: ") and "factorial/" in w for w in report["warnings"])
    assert "WARNING valid" in format_audit(report)
    card = render_card(dd, recipe, info, info.hashes, report, "cadmus data build r.yaml")
    assert f"* `valid`: {sum(dropped.values())} of 30 (factorial/" in card


def test_ood_family_solved_by_a_train_family_stops_the_build(tmp_path):
    """gcd_recursive computes what gcd does: held out next to a trained gcd, the build refuses it."""
    recipe = _small_recipe(tmp_path, "seed: 2\nmixture: {gcd: 1, gcd_recursive: 1}\nheld_out_families: [gcd_recursive]\n"
                                     "splits: {train: {size: 30}, ood_family: {size: 10}}\n")
    with pytest.raises(BuildError, match=r"gcd/\w+ solves ood_family-\d+ \(gcd_recursive/"):
        build(recipe, workers=1, progress=False)


def test_ood_check_finds_a_planted_program_and_passes_the_others(tiny):
    """The ood_family records' own programs, renamed and planted among train's candidates, solve
    them; train's real candidates solve none."""
    from cadmus.canonical import canonical_program
    from cadmus.data.heldout import digest
    from cadmus.data.ood_check import OodFamilyError, check_ood_family, train_candidates

    recipe, dd, _ = tiny
    train, ood = dd["train"].data.table, dd["ood_family"].data.table
    keys = [digest(canonical_program(p), "program") for p in train.column("program").to_pylist()]
    candidates = train_candidates(train, keys)
    report = check_ood_family(candidates, ood, recipe.fuel)
    assert report["hits"] == 0 and report["records"] == len(ood) and report["candidates"] == len(candidates)
    planted = ood.slice(0, 1).to_pylist()[0]  # the first record: the first hit listed
    with pytest.raises(OodFamilyError, match=f"planted/x solves {planted['id']} \\({planted['family']}/"):
        check_ood_family([*candidates, ("planted", "x", _renamed(planted)["program"])], ood, recipe.fuel)


def test_an_empty_split_saves_and_loads(tmp_path, request):
    """No held-out families means an empty ood_family split; the directory must still load."""
    from cadmus.data import load_dataset_dir

    text = (request.config.rootpath / "cadmus" / "recipes" / "data" / "tiny.yaml").read_text()
    recipe = tmp_path / "no_ood_family.yaml"
    recipe.write_text(text.replace("ood_family: {size: 40}", "ood_family: {size: 0}"))
    out = tmp_path / "ds"
    assert main(["data", "build", str(recipe), "--out", str(out), "--limit", "4", "--workers", "1", "--quiet"]) == 0
    sizes = {split: len(d) for split, d in load_dataset_dir(out).items()}
    assert sizes["ood_family"] == 0 and sizes["train"] == 4


@pytest.mark.parametrize("text, ok", [(" ~\nx", True), ("\t", False), ("\x7f", False), ("\x1f", False),
                                      ("é", False), ("\r", False), ("", True)])
def test_printable_checks_every_view_byte(text, ok):
    import pyarrow as pa

    from cadmus.data.builder import VIEW_COLUMNS, _printable

    cols = {c: ["plain", "text"] for c in VIEW_COLUMNS}
    cols["execution_target"] = ["plain", text]
    assert _printable(pa.table(cols)) is ok
