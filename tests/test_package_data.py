"""Cadmus works installed, without the checkout: the recipes and the tokenizer are package data
(declared in setup.cfg, found by name or path through cadmus.resources); the commands that need
the checkout (``bench``, ``isa --write``) say so. The slow test installs a wheel into a fresh
venv and runs the data build, the quickstart, train and eval from an empty folder."""
import fnmatch
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest
import yaml

from cadmus import resources
from cadmus.cli import main
from cadmus.resources import ResourceNotFound, find_recipe, find_tokenizer, recipe_names

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "cadmus"


def declared_package_data() -> dict:
    from setuptools.config.setupcfg import read_configuration

    return read_configuration(str(REPO / "setup.cfg"))["options"]["package_data"]


def test_every_data_file_of_the_package_is_declared():
    """Each non-Python file under cadmus/ matches a package_data glob of its package (setuptools
    globs them relative to the package folder), so a wheel carries it."""
    declared = declared_package_data()
    data_files = [p for p in PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix not in (".py", ".pyc")]
    assert len(data_files) >= 20  # the recipes, the tokenizer, the hand-written tasks
    missing = []
    for path in data_files:
        covered = False
        for package, patterns in declared.items():
            folder = REPO.joinpath(*package.split("."))
            if folder in path.parents:
                rel = path.relative_to(folder).as_posix()
                # fnmatch's * crosses "/", glob's does not: compare the folder depth too
                covered |= any(fnmatch.fnmatch(rel, pat) and rel.count("/") == pat.count("/") for pat in patterns)
        if not covered:
            missing.append(str(path.relative_to(REPO)))
    assert not missing, f"package data not declared in setup.cfg [options.package_data]: {missing}"


def test_manifest_ships_the_same_folders():
    manifest = (REPO / "MANIFEST.in").read_text()
    for folder in ("cadmus/recipes", "cadmus/tokenizer", "cadmus/data/handwritten"):
        assert f"recursive-include {folder} " in manifest


def test_every_shipped_recipe_parses_by_name():
    from cadmus.data.recipe import load_recipe
    from cadmus.train import config

    assert {"tiny", "small", "base", "quickstart_copy", "quickstart_after_copy"} <= set(recipe_names("train"))
    assert {"default", "tiny", "quickstart"} <= set(recipe_names("data"))
    for name in recipe_names("train"):
        margs, dargs, targs = config.parse(find_recipe(name, "train"))
        assert margs.preset and dargs.dataset_path and targs.max_steps > 0, name
    for name in recipe_names("data"):
        assert load_recipe(find_recipe(name, "data")).splits, name
    for name in recipe_names("accelerate"):
        assert isinstance(yaml.safe_load(find_recipe(name, "accelerate").read_text()), dict), name


def test_a_name_is_a_file_inside_the_package():
    assert find_recipe("tiny") == PACKAGE / "recipes" / "tiny.yaml"
    assert find_recipe("tiny.yaml", "data") == PACKAGE / "recipes" / "data" / "tiny.yaml"
    assert find_tokenizer() == find_tokenizer("char") == PACKAGE / "tokenizer"


def test_an_existing_path_wins_over_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("tiny").write_text("preset: tiny\n")
    assert find_recipe("tiny") == Path("tiny")
    (tmp_path / "char").mkdir()
    assert find_tokenizer("char") == Path("char")


@pytest.mark.parametrize("kind", ["train", "data"])
def test_an_unknown_name_lists_the_known_ones(kind):
    with pytest.raises(ResourceNotFound) as err:
        find_recipe("no_such_recipe", kind)
    assert f"no {kind} recipe 'no_such_recipe'" in str(err.value) and "tiny" in str(err.value)
    with pytest.raises(ResourceNotFound, match="not a file"):
        find_recipe("old/place/tiny.yaml", kind)  # a path is never read as a name
    with pytest.raises(ResourceNotFound, match=r"\(char\)"):
        find_tokenizer("no_such_tokenizer")


def test_commands_report_an_unknown_recipe(tmp_path, capsys):
    assert main(["train", "no_such_recipe"]) == 2
    assert main(["data", "build", "no_such_recipe", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "no train recipe 'no_such_recipe'" in err and "no data recipe 'no_such_recipe'" in err
    assert "quickstart_copy" in err and not (tmp_path / "d").exists()


def test_recipes_command_lists_and_locates(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    for kind in ("train", "data", "accelerate"):
        assert all(f"  {name} " in out for name in recipe_names(kind)), kind
    assert main(["recipes", "multi_gpu", "--kind", "accelerate"]) == 0
    assert Path(capsys.readouterr().out.strip()) == PACKAGE / "recipes" / "accelerate" / "multi_gpu.yaml"


def test_bench_and_isa_write_need_the_checkout(monkeypatch, capsys):
    from cadmus.commands import vm

    before = vm.ISA_DOC.read_text()
    monkeypatch.setattr(resources, "checkout_root", lambda: None)  # as installed
    assert main(["bench", "vm"]) == 2
    assert main(["bench", "all", "--quick"]) == 2
    assert main(["isa", "--write"]) == 2
    err = capsys.readouterr().err
    assert err.count("needs a source checkout of Cadmus") == 3 and "Traceback" not in err
    assert vm.ISA_DOC.read_text() == before


# ---------------------------------------------------------------- installed (slow)

def _run(cmd, cwd, env, timeout=900):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return proc


def _ok(proc):
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv with cadmus installed from a wheel (not editable); its dependencies come from the
    test interpreter's site-packages (a path in a .pth file), so nothing is downloaded."""
    tmp = tmp_path_factory.mktemp("installed")
    src = tmp / "src"  # a copy: building writes build/ and *.egg-info next to the sources
    src.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md", "MANIFEST.in"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(PACKAGE, src / "cadmus", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _ok(_run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp / "dist",
              src], src, os.environ))
    wheel = next((tmp / "dist").glob("cadmus-*.whl"))
    venv = tmp / "venv"
    _ok(_run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], tmp, os.environ))
    python = venv / "bin" / "python"
    _ok(_run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel], tmp, os.environ))
    purelib = Path(_ok(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            tmp, os.environ)).stdout.strip())
    # a plain path line: the test venv's own .pth files there (an editable cadmus) are not run
    (purelib / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", OMP_NUM_THREADS="1",
               TOKENIZERS_PARALLELISM="false", HF_DATASETS_DISABLE_PROGRESS_BARS="1")
    return venv, env


@pytest.mark.slow
def test_installed_package_runs_from_an_empty_folder(installed, tmp_path):
    venv, env = installed
    cadmus = venv / "bin" / "cadmus"
    where = _ok(_run([venv / "bin" / "python", "-c", "import cadmus; print(cadmus.__file__)"], tmp_path, env))
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout  # the wheel's copy, not the checkout
    start = time.perf_counter()

    _ok(_run([cadmus, "data", "build", "tiny", "--out", "d", "--limit", "200", "--workers", "1", "--quiet"],
             tmp_path, env))
    assert (tmp_path / "d" / "dataset_dict.json").is_file() and (tmp_path / "d" / "README.md").is_file()
    _ok(_run([cadmus, "train", "tiny", "--dataset_path", "d", "--output_dir", "m", "--max_steps", "2",
              "--per_device_batch_size", "8", "--eval_steps", "0", "--accuracy_samples", "0", "--save_steps", "0",
              "--progress_bar", "false"], tmp_path, env))
    assert (tmp_path / "m" / "model.safetensors").is_file() and (tmp_path / "m" / "tokenizer.json").is_file()

    _ok(_run([cadmus, "quickstart", "--minutes", "1", "--out", "q", "--data-limit", "400", "--first-max-steps", "20",
              "--train-max-steps", "20", "--eval-limit", "10"], tmp_path, env))
    assert (tmp_path / "q" / "summary.json").is_file() and (tmp_path / "q" / "results.md").is_file()
    _ok(_run([cadmus, "eval", "q/model", "--data", "q/data", "--suite", "completion", "--split", "test",
              "--limit", "10", "--out", "e"], tmp_path, env))
    assert (tmp_path / "e" / "summary.json").is_file() and (tmp_path / "e" / "samples.jsonl").is_file()

    for argv in (["bench", "vm"], ["isa", "--write"]):
        proc = _run([cadmus, *argv], tmp_path, env)
        assert proc.returncode == 2 and "needs a source checkout of Cadmus" in proc.stderr, proc.stderr
    print(f"installed-package commands took {time.perf_counter() - start:.0f} s")
