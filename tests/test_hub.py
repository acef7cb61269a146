"""``cadmus hub``, ``cadmus train --push_to_hub`` and ``cadmus data build --push-to-hub`` against a
local fake Hub (tests/hub_server.py): the real huggingface_hub, datasets and transformers clients,
no network, no mocks. Every client runs in a subprocess whose HF_ENDPOINT points at the server
(huggingface_hub reads it at import time) and whose HF_HOME is a fresh cache."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cadmus.hub import CARD_MARKER, HubError, folder_kind, model_card, write_model_card
from tests.hub_server import FakeHub

REPO = Path(__file__).resolve().parents[1]
DEAD = "http://127.0.0.1:9"  # nothing listens on the discard port: proves a client made no request
TRAIN = ["--preset", "tiny", "--n_layer", "1", "--n_embd", "32", "--n_head", "2", "--per_device_batch_size", "8",
         "--max_steps", "4", "--warmup_steps", "1", "--eval_steps", "0", "--save_steps", "2", "--logging_steps", "2",
         "--max_eval_samples", "16", "--accuracy_samples", "0", "--progress_bar", "false"]

# Loads a model and tokenizer by repo id and from a local folder; prints next-token logits of both.
LOAD_MODEL = r"""
import json, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
out = {}
for name in sys.argv[1:]:
    tok = AutoTokenizer.from_pretrained(name)
    model = AutoModelForCausalLM.from_pretrained(name).eval()
    ids = tok("mov a 1\nadd b a 2\nassert b ", return_tensors="pt").input_ids
    with torch.no_grad():
        out[name] = {"ids": ids[0].tolist(), "logits": model(ids).logits[0, -1].tolist()}
print(json.dumps(out))
"""

# Loads each REPO=DIR pair with load_dataset(REPO) and load_from_disk(DIR); exits 1 unless all rows match.
COMPARE_DATASETS = r"""
import sys, datasets
for pair in sys.argv[1:]:
    repo, local = pair.split("=")
    hub, disk = datasets.load_dataset(repo), datasets.load_from_disk(local)
    assert sorted(hub) == sorted(disk), (sorted(hub), sorted(disk))
    for split in disk:
        assert hub[split].to_list() == disk[split].to_list(), (repo, split)
    print(repo, {s: len(d) for s, d in hub.items()})
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    server = FakeHub(tmp_path_factory.mktemp("hub")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def env(hub, tmp_path_factory):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    return {**base, "HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path_factory.mktemp("hf_home")),
            "HF_TOKEN": "dummy-token", "HF_HUB_DISABLE_XET": "1",  # the fake Hub speaks plain LFS, not Xet
            "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def run(env, *args, **changes):
    """``python -m cadmus.cli ARGS`` (or ``python -c CODE`` when the first arg is ``-c``)."""
    cmd = [sys.executable, *args] if args[0] == "-c" else [sys.executable, "-m", "cadmus.cli", *args]
    full = {k: v for k, v in {**env, **changes}.items() if v is not None}
    return subprocess.run(cmd, env=full, cwd=REPO, capture_output=True, text=True, timeout=900)


def ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def head(hub, repo, repo_type="model", branch="main"):
    return hub.repos[repo_type, repo].branches[branch]


def tree(folder, skip=("checkpoints", ".cache")) -> dict:
    folder = Path(folder)
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not set(p.relative_to(folder).parts) & set(skip)}


@pytest.fixture(scope="module")
def toy_data(tiny_data, tmp_path_factory):
    """The builder's tiny data (tests/conftest.py) as a bare saved dataset: no card, no build files."""
    path = tmp_path_factory.mktemp("toy") / "arith"
    shutil.copytree(tiny_data, path, ignore=shutil.ignore_patterns("README.md", "build_info.json", "audit.json",
                                                                   "cache-*"))
    return path


@pytest.fixture(scope="module")
def trained(env, hub, toy_data, tmp_path_factory):
    """``cadmus train ... --push_to_hub``: the output folder and the commit its push made."""
    out = tmp_path_factory.mktemp("train") / "tiny"
    proc = ok(run(env, "train", "tiny", *TRAIN, "--dataset_path", str(toy_data),
                  "--output_dir", str(out), "--push_to_hub", "cadmus-test/tiny"))
    assert "pushed" in proc.stdout
    return out, head(hub, "cadmus-test/tiny")


def test_train_pushes_and_the_model_loads_by_repo_id_online_and_offline(env, hub, trained):
    out, _ = trained
    assert CARD_MARKER in (out / "README.md").read_text()
    online = json.loads(ok(run(env, "-c", LOAD_MODEL, "cadmus-test/tiny", str(out))).stdout)
    assert online["cadmus-test/tiny"] == online[str(out)]  # same tokenizer ids, bit-identical logits
    assert (Path(env["HF_HOME"]) / "hub" / "models--cadmus-test--tiny").is_dir()  # the standard cache
    offline = json.loads(ok(run(env, "-c", LOAD_MODEL, "cadmus-test/tiny", HF_HUB_OFFLINE="1",
                                HF_ENDPOINT=DEAD)).stdout)
    assert offline["cadmus-test/tiny"] == online[str(out)]


def test_push_again_pull_identical_files_and_older_revisions(env, hub, trained, tmp_path):
    from cadmus.eval.report import summarize

    out, first = trained
    rows = [{"split": "test", "id": f"p{i}", "family": "arith", "level": 1, "status": "OK", "passed": i < 3}
            for i in range(4)]
    summary = {**summarize(rows, [1]), "config": {"suite": "completion", "model": str(out), "command": "cadmus eval"}}
    (out.parent / "eval").mkdir(exist_ok=True)
    (out.parent / "eval" / "summary.json").write_text(json.dumps(summary))  # pushed with --eval: joins its card

    ok(run(env, "hub", "push", str(out), "cadmus-test/tiny", "--commit-message", "eval table",
           "--eval", str(out.parent / "eval")))
    second = head(hub, "cadmus-test/tiny")
    assert second != first and "| test | 4 | 0.750 |" in (out / "README.md").read_text()
    ok(run(env, "hub", "pull", "cadmus-test/tiny", str(tmp_path / "latest")))
    assert tree(tmp_path / "latest") == tree(out)  # every file but the optimizer checkpoints, byte for byte

    ok(run(env, "hub", "pull", "cadmus-test/tiny", str(tmp_path / "first"), "--revision", first))
    old = tree(tmp_path / "first")
    assert "## Evaluation" not in old["README.md"].decode()
    assert old["model.safetensors"] == tree(out)["model.safetensors"]

    (out / "NOTES.md").write_text("a branch-only file\n")
    ok(run(env, "hub", "push", str(out), "cadmus-test/tiny", "--revision", "dev", "--private"))
    assert head(hub, "cadmus-test/tiny") == second and "NOTES.md" in hub.repos["model", "cadmus-test/tiny"].files("dev")
    ok(run(env, "hub", "pull", "cadmus-test/tiny", str(tmp_path / "dev"), "--revision", "dev", "--repo-type", "model"))
    assert (tmp_path / "dev" / "NOTES.md").is_file() and not (tmp_path / "latest" / "NOTES.md").exists()


@pytest.fixture(scope="module")
def programs(env, hub, tmp_path_factory):
    """``cadmus data build --push-to-hub``: the local dataset folder."""
    out = tmp_path_factory.mktemp("data") / "programs"
    ok(run(env, "data", "build", "tiny", "--limit", "5", "--workers", "1", "--quiet",
           "--audit-sample", "10", "--audit-train-sample", "10", "--out", str(out),
           "--push-to-hub", "cadmus-test/programs"))
    return out


def test_datasets_push_and_load_by_repo_id_online_and_offline(env, hub, programs, toy_data):
    ok(run(env, "hub", "push", str(toy_data), "cadmus-test/arith", "--private"))  # a folder without a card
    assert hub.repos["dataset", "cadmus-test/arith"].private
    pairs = [f"cadmus-test/programs={programs}", f"cadmus-test/arith={toy_data}"]
    ok(run(env, "-c", COMPARE_DATASETS, *pairs))
    ok(run(env, "-c", COMPARE_DATASETS, *pairs, HF_HUB_OFFLINE="1", HF_ENDPOINT=DEAD))
    # the card went up with the data, and datasets merged its metadata into it
    repo = hub.repos["dataset", "cadmus-test/programs"]
    card = hub.blob(repo.files("main")["README.md"][0]).decode()
    assert "pretty_name: Cadmus true programs" in card and "dataset_info:" in card and "# Cadmus true programs" in card
    assert {"build_info.json", "audit.json"} <= set(repo.files("main"))
    assert json.loads((programs / "hub.json").read_text())["repo_id"] == "cadmus-test/programs"


def test_pull_a_dataset_gives_a_save_to_disk_folder(env, programs, tmp_path):
    from datasets import load_from_disk

    ok(run(env, "hub", "pull", "cadmus-test/programs", str(tmp_path / "pulled")))  # model? no: then dataset
    pulled, local = load_from_disk(str(tmp_path / "pulled")), load_from_disk(str(programs))
    assert {s: d.to_list() for s, d in pulled.items()} == {s: d.to_list() for s, d in local.items()}
    for name in ("build_info.json", "audit.json"):
        assert (tmp_path / "pulled" / name).read_bytes() == (programs / name).read_bytes()
    body = (programs / "README.md").read_text().split("---\n", 2)[2]  # the Hub's card = ours + dataset_info
    assert (tmp_path / "pulled" / "README.md").read_text().endswith(body)


def _fails(proc, *words):
    """A non-zero exit with one line on stderr that holds ``words``."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1, proc.stderr
    assert all(w in lines[0] for w in words), lines[0]


def test_errors_are_one_line_and_leave_local_files_alone(env, hub, trained, tmp_path, capsys):
    from cadmus.cli import main

    model = tmp_path / "model"
    model.mkdir()
    for name, data in tree(trained[0]).items():
        if name != "README.md" and "/" not in name:
            (model / name).write_bytes(data)
    before = tree(model)
    _fails(run(env, "hub", "push", str(model), "cadmus-test/x", HF_ENDPOINT=DEAD), "cadmus-test/x", "cannot reach")
    no_token = run(env, "hub", "push", str(model), "cadmus-test/x", HF_TOKEN=None)
    _fails(no_token, "cadmus-test/x", "no Hugging Face token")
    _fails(run(env, "train", "tiny", "--output_dir", str(tmp_path / "never"), "--push_to_hub",
               "cadmus-test/x", HF_TOKEN=None), "cadmus-test/x", "no Hugging Face token")  # before training
    assert not (tmp_path / "never").exists()
    assert tree(model) == before and ("model", "cadmus-test/x") not in hub.repos

    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("hello")
    assert main(["hub", "push", str(tmp_path / "junk"), "cadmus-test/x"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "junk is neither a model folder" in err
    _fails(run(env, "hub", "pull", "cadmus-test/missing", str(tmp_path / "m")), "cadmus-test/missing",
           "no such repository")
    _fails(run(env, "hub", "pull", "cadmus-test/tiny", str(tmp_path / "r"), "--revision", "no-such-branch"),
           "cadmus-test/tiny", "no branch, tag or commit 'no-such-branch'")
    _fails(run(env, "hub", "pull", "cadmus-test/tiny", str(tmp_path / "u"), HF_ENDPOINT=DEAD), "cannot reach")
    assert not any((tmp_path / d).exists() for d in ("m", "r", "u"))


def test_model_card_front_matter_and_user_readme(trained, toy_data, tmp_path):
    import yaml

    from cadmus.eval.report import summarize

    out, _ = trained
    (toy_data / "hub.json").write_text(json.dumps({"repo_id": "cadmus-test/arith"}))  # as a push or pull leaves
    rows = [{"split": "test", "id": f"p{i}", "family": "arith", "level": 1, "status": "OK", "passed": i < 1}
            for i in range(4)]
    summary = {**summarize(rows, [1]), "config": {"suite": "completion", "model": str(out)}}
    card = model_card(out, "cadmus-test/tiny", evals=[summary])
    front = yaml.safe_load(card.split("---")[1])
    assert front["library_name"] == "transformers" and "cadmus" in front["tags"] and front["license"] == "mit"
    assert front["datasets"] == ["cadmus-test/arith"] and front["metrics"] == ["pass@1"]
    result = front["model-index"][0]["results"][0]  # the Hub's evaluation widget reads these
    assert result["dataset"]["split"] == "test" and result["metrics"][0] == {"type": "pass@1", "value": 0.25,
                                                                            "name": "pass@1"}
    assert "| test | 4 | 0.250 |" in card and summary["headline"] in card
    bare = model_card(out, "cadmus-test/tiny")  # no evals given: no section, whatever lies next to the folder
    assert "## Evaluation" not in bare and "model-index" not in bare and "## Training" in bare
    with pytest.raises(HubError, match="nowhere.json"):
        model_card(out, evals=[tmp_path / "nowhere.json"])
    info = json.loads((out / "cadmus.json").read_text())
    assert info["dataset"]["content_hash"] in card and f"{info['model']['parameters']:,} parameters" in card
    assert folder_kind(out) == "model" and folder_kind(toy_data) == "dataset"
    with pytest.raises(HubError, match="neither"):
        folder_kind(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"")
    (tmp_path / "README.md").write_text("# my own words\n")
    assert not write_model_card(tmp_path) and (tmp_path / "README.md").read_text() == "# my own words\n"


@pytest.mark.parametrize("argv", [["hub", "--help"], ["hub", "push", "--help"], ["hub", "pull", "--help"]])
def test_help(argv, capsys):
    from cadmus.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0 and "hub" in capsys.readouterr().out
