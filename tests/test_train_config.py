"""Recipes and their parser: YAML keys are dataclass fields, CLI flags override, typos fail."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cadmus.models import PRESETS
from cadmus.train import config

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "cadmus" / "recipes").glob("*.yaml"))
ACCELERATE = sorted((REPO / "cadmus" / "recipes" / "accelerate").glob("*.yaml"))


def test_all_recipes_exist():
    assert {p.stem for p in RECIPES} >= {"tiny", "small", "base", "cadmus-280m"}
    assert {p.stem for p in ACCELERATE} == {"cpu", "single_gpu", "multi_gpu", "fsdp"}


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_parses_and_documents_itself(path):
    text = path.read_text()
    header = text.split("# Model")[0]
    assert "cadmus train" in header or "accelerate launch" in header, "header gives the launch line"
    assert "untime" in header and "xpected" in header, "header gives the runtime and expected metric"
    sections = [line.strip() for line in text.splitlines() if line.strip() in ("# Model", "# Data", "# Training")]
    assert sections == ["# Model", "# Data", "# Training"]
    margs, dargs, targs = config.parse(path)
    if path.stem in PRESETS:  # the preset recipes are named after their preset
        assert margs.preset == path.stem
    assert targs.max_steps > 0 and dargs.view_weights()


@pytest.mark.parametrize("path", ACCELERATE, ids=lambda p: p.stem)
def test_accelerate_configs_are_valid_yaml(path):
    cfg = yaml.safe_load(path.read_text())
    assert cfg["distributed_type"] in ("NO", "MULTI_GPU", "FSDP") and cfg["num_processes"] >= 1
    assert path.read_text().startswith("#"), "each config says what it is for"


def test_cli_overrides_recipe_and_types_are_converted(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("# Model\npreset: tiny\n# Data\ndataset_path: a\n# Training\nlearning_rate: 1e-3\nmax_steps: 5\n")
    margs, dargs, targs = config.parse(recipe, ["--max_steps", "7", "--families", "arith", "loops"])
    assert targs.learning_rate == 1e-3 and isinstance(targs.learning_rate, float)  # PyYAML reads 1e-3 as a string
    assert targs.max_steps == 7 and dargs.dataset_path == "a" and dargs.families == ["arith", "loops"]


def test_bare_resume_means_latest():
    assert config.parse(None, ["--resume"])[2].resume == "latest"
    assert config.parse(None, ["--resume", "--seed", "3"])[2].resume == "latest"
    assert config.parse(None, ["--resume", "runs/x/checkpoints/step-0000010"])[2].resume.endswith("0010")


def test_unknown_keys_are_errors(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("preset: tiny\nlearning_rte: 0.1\n")
    with pytest.raises(ValueError, match="learning_rte"):
        config.parse(recipe)
    with pytest.raises(ValueError, match="--bogus"):
        config.parse(None, ["--bogus", "1"])
    with pytest.raises(FileNotFoundError):
        config.parse(tmp_path / "missing.yaml")


def test_every_field_has_help():
    from dataclasses import fields

    for cls in config.ARG_CLASSES:
        for f in fields(cls):
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name}"


def test_train_help_lists_fields():
    out = subprocess.run([sys.executable, "-m", "cadmus.cli", "train", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "--dataset_path" in out.stdout and "--max_steps" in out.stdout and "--resume" in out.stdout


def test_module_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "cadmus.train", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "recipe" in out.stdout


def test_unknown_preset_is_a_parse_error():
    with pytest.raises(ValueError, match="unknown model preset 'huge'"):
        config.parse(None, ["--preset", "huge"])


def test_a_cli_flag_at_its_default_still_overrides_the_recipe(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("seed: 5\npacking: false\nmax_steps: null\nfamilies: arith\nlearning_rate: 1\n")
    margs, dargs, targs = config.parse(recipe, ["--seed", "0", "--packing"])
    assert targs.seed == 0 and dargs.packing is True  # flags win even when they name the default
    assert targs.max_steps == 1000 and dargs.families == ["arith"]  # null = default; a scalar is a one-item list
    assert targs.learning_rate == 1.0 and isinstance(targs.learning_rate, float)
    assert config.parse(recipe)[2].seed == 5 and config.parse(recipe)[1].packing is False


@pytest.mark.parametrize("line, words", [
    ("max_steps: 1.5", ["max_steps", "1.5", "int"]),
    ("max_steps: [1, 2]", ["max_steps", "[1, 2]"]),
    ("packing: maybe", ["packing", "'maybe'", "true or false"]),
    ("optimizer: sgd", ["optimizer", "'sgd'", "adamw, muon"]),
])
def test_a_recipe_value_of_the_wrong_type_names_file_key_and_value(tmp_path, line, words):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(line + "\n")
    with pytest.raises(ValueError) as err:
        config.parse(recipe)
    assert all(w in str(err.value) for w in [str(recipe), *words]), str(err.value)


def test_a_flag_of_the_wrong_type_names_flag_and_value():
    with pytest.raises(ValueError, match=r"--max_steps.*'ten'"):
        config.parse(None, ["--max_steps", "ten"])
    with pytest.raises(ValueError, match=r"--optimizer.*'sgd'"):
        config.parse(None, ["--optimizer", "sgd"])
