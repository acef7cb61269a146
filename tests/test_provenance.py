"""One dataset hash from build to model card; git revision and machine as recorded."""
import json
import re

from cadmus import provenance

TRAIN = ["--preset", "tiny", "--n_layer", "1", "--n_embd", "32", "--n_head", "2", "--per_device_batch_size", "4",
         "--max_steps", "1", "--eval_steps", "1", "--max_eval_samples", "4", "--accuracy_samples", "0",
         "--save_steps", "0", "--progress_bar", "false"]


def test_build_and_train_record_the_same_dataset_hash(tiny_data, tmp_path):
    """What `cadmus data build` printed and wrote (build_info.json, the dataset card) is what
    `cadmus train` records in cadmus.json for the same directory, map caches and all."""
    from cadmus.train import config, train

    printed = re.search(r"sha256 ([0-9a-f]{16})\b", (tiny_data.parent / "build.log").read_text()).group(1)
    built = json.loads((tiny_data / "build_info.json").read_text())["hashes"]["all"]
    train(*config.parse(None, [*TRAIN, "--dataset_path", str(tiny_data), "--output_dir", str(tmp_path / "model")]))
    trained = json.loads((tmp_path / "model" / "cadmus.json").read_text())["dataset"]["content_hash"]
    assert list(tiny_data.glob("train/cache-*.arrow")), "training wrote no map cache: the check below is weaker"
    assert built.startswith(printed) and trained == built == provenance.dataset_hash(tiny_data)
    assert f"`{built}`" in (tiny_data / "README.md").read_text()


def test_hash_follows_the_data_not_the_split_order(tiny_data):
    from datasets import DatasetDict, load_from_disk

    dd = load_from_disk(str(tiny_data))
    hashes = provenance.dataset_hashes(dd)
    assert hashes == json.loads((tiny_data / "build_info.json").read_text())["hashes"]
    assert provenance.dataset_hashes(DatasetDict({s: dd[s] for s in reversed(list(dd))})) == hashes
    changed = dict(dd)
    changed["valid"] = dd["valid"].map(lambda r, i: {"completion_target": r["completion_target"] + ("0" if i == 7 else "")},
                                       with_indices=True)
    other = provenance.dataset_hashes(DatasetDict(changed))
    assert other["valid"] != hashes["valid"] and other["all"] != hashes["all"] and other["train"] == hashes["train"]


def test_git_revision_and_machine():
    rev = provenance.git_revision()
    assert rev is None or re.fullmatch(r"[0-9a-f]{40}(-dirty)?", rev)
    info = provenance.machine()
    assert info["cpus"] >= 1 and info["torch_threads"] >= 1 and info["python"].count(".") == 2
