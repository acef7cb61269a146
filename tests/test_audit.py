"""The audit's independence numbers, on a small build and datasets made to fail them."""
import json

import pytest

from cadmus.cli import main
from cadmus.data.audit import audit, first_draws, format_audit, tvd
from cadmus.data.builder import build
from cadmus.data.recipe import SPLITS, load_recipe

LIMIT = 20


@pytest.fixture(scope="module")
def small(request):
    recipe = load_recipe(request.config.rootpath / "cadmus" / "recipes" / "data" / "tiny.yaml")
    dd, info = build(recipe, workers=1, limit=LIMIT, progress=False)
    return recipe, dd, info


def _replace(dd, split: str, rows: list):
    from datasets import Dataset, DatasetDict

    return DatasetDict({**dd, split: Dataset.from_list(rows, features=dd[split].features)})


def test_tvd():
    assert tvd({"a": 0.5, "b": 0.5}, {"a": 0.5, "b": 0.5}) == 0
    assert tvd({"a": 1.0}, {"b": 1.0}) == 1
    assert tvd({"a": 0.75, "b": 0.25}, {"a": 0.25, "b": 0.75}) == 0.5


def test_a_clean_build_passes_with_its_numbers(small):
    recipe, dd, info = small
    report = audit(dd, sample=20, train_sample=50, recipe=recipe, build_info=info.as_dict())
    assert report["ok"] and not report["warnings"]
    assert all(c == 0 for c in report["repeating_records"].values())
    for split in SPLITS[1:]:
        nov = report["novelty"][split]
        assert nov["seen"] + nov["novel"] == len(dd[split]) and nov["column_mismatches"] == 0
        assert sum(c["seen"] + c["novel"] for c in nov["by_family"].values()) == len(dd[split])
    # nothing dropped: every split's mix is exactly that of its first draws
    assert all(m["tvd"]["variant_vs_drawn"] == m["tvd"]["level_vs_drawn"] == 0 for m in report["mix"].values())
    assert report["dropped"]["test"] == {"requested": LIMIT, "records": LIMIT, "dropped": 0, "by_group": {},
                                         "exhausted": []}


def test_first_draws_are_the_build_s_draws(small):
    """Train is never redrawn: its mix is the regenerated first draws', record for record."""
    recipe, dd, _ = small
    rows = first_draws(recipe, "train", LIMIT)
    assert rows == [(r["family"], r["variant"], r["difficulty"]["level"]) for r in dd["train"]]


def test_a_wrong_novelty_tag_fails(small):
    _, dd, _ = small
    rows = dd["valid"].to_list()
    rows[2]["novelty"] = "novel" if rows[2]["novelty"] == "seen" else "seen"
    report = audit(_replace(dd, "valid", rows), sample=10, train_sample=10)
    assert not report["ok"] and report["novelty"]["valid"]["column_mismatches"] == 1
    assert any("novelty column disagrees" in w for w in report["warnings"])


def test_a_question_shared_between_held_out_splits_fails(small):
    """valid's record copied into test: every view and the question repeat an earlier split."""
    _, dd, _ = small
    rows = dd["test"].to_list()
    rows[0] = {**dd["valid"][5], "id": rows[0]["id"], "split": "test"}
    report = audit(_replace(dd, "test", rows), sample=10, train_sample=10)
    assert not report["ok"]
    assert report["shared_questions"]["valid|test"] == {"texts": 1, "records": 1}
    assert report["repeating_records"]["valid|test"] == 1 and report["repeating_records"]["train|test"] == 0
    assert "valid|test" in format_audit(report)


def test_dropped_records_move_the_mix_and_warn(small):
    """Dropping every record of one family from test: the family mix departs from the first draws
    and the dropped records (from build_info) are a warning."""
    recipe, dd, info = small
    family = dd["test"][0]["family"]
    rows = [r for r in dd["test"].to_list() if r["family"] != family]
    build_info = info.as_dict()
    build_info["dropped"] = {**build_info["dropped"], "test": {f"{family}/x/1": LIMIT - len(rows)}}
    report = audit(_replace(dd, "test", rows), sample=10, train_sample=10, recipe=recipe, build_info=build_info)
    assert report["ok"] and report["mix"]["test"]["tvd"]["family_vs_drawn"] > 0
    assert report["mix"]["test"]["family"][family]["final"] == 0 < report["mix"]["test"]["family"][family]["drawn"]
    assert report["warnings"] == [f"test: {LIMIT - len(rows)} of {LIMIT} records dropped, their domain has no question "
                                  f"left that an earlier split lacks ({family}/x/1 {LIMIT - len(rows)})"]


def test_a_dataset_without_train_or_recipe(small):
    """An imported set (one split, no recipe): duplicates and questions are measured, no novelty."""
    from datasets import DatasetDict

    _, dd, _ = small
    report = audit(DatasetDict({"test": dd["test"]}), sample=10, train_sample=10)
    assert report["ok"] and report["novelty"] == {} and "mix" not in report and "held-out" in format_audit(report)


def test_cli_audit_reads_the_recipe_from_build_info(tmp_path, capsys, request):
    out = tmp_path / "ds"
    recipe = request.config.rootpath / "cadmus" / "recipes" / "data" / "tiny.yaml"
    assert main(["data", "build", str(recipe), "--out", str(out), "--limit", "6", "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["data", "audit", str(out), "--sample", "5", "--json", str(tmp_path / "a.json")]) == 0
    shown = capsys.readouterr().out
    assert "audit: PASS" in shown and "mix against the recipe" in shown and "seen %" in shown
    saved = json.loads((tmp_path / "a.json").read_text())
    assert saved["dropped"]["valid"]["requested"] == 6 and set(saved["mix"]) == set(SPLITS)
