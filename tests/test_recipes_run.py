"""The training recipes are real: they parse, name data their headers say how to build, launch as
their headers write (``accelerate launch`` on the CPU here: -m slow), and train in fp32 where bf16
is not available whatever the accelerate config file asks."""
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cadmus.resources import find_recipe
from cadmus.train import config

REPO = Path(__file__).resolve().parents[1]
LAUNCHED = ["small", "base", "cadmus-280m", "cpu_hour"]  # recipes whose header names their data build
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def header(name: str) -> str:
    text = (REPO / "cadmus" / "recipes" / f"{name}.yaml").read_text()
    return "".join(line[1:] + "\n" for line in text.splitlines() if line.startswith("#"))


def launch_line(name: str) -> list:
    """The header's ``accelerate launch ... -m cadmus.train NAME`` (or ``cadmus train``) line."""
    for line in header(name).splitlines():
        if ("accelerate launch" in line or "cadmus train" in line) and name in shlex.split(line.strip()):
            return shlex.split(line.strip())  # the line naming the recipe
    raise AssertionError(f"cadmus/recipes/{name}.yaml: no launch line naming {name!r} in the header")


@pytest.mark.parametrize("path", sorted((REPO / "cadmus" / "recipes").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_recipe_parses(path):
    margs, dargs, targs = config.parse(path)
    assert dargs.dataset_path and targs.max_steps > 0 and margs.preset


@pytest.mark.parametrize("name", LAUNCHED)
def test_header_builds_the_data_and_launches_this_recipe(name):
    _, dargs, targs = config.parse(REPO / "cadmus" / "recipes" / f"{name}.yaml")
    build = re.search(r"cadmus data build (\S+) --out " + re.escape(dargs.dataset_path) + r"\b", header(name))
    assert build, f"{name}: no `cadmus data build RECIPE --out {dargs.dataset_path}` line"
    assert find_recipe(build.group(1), "data").is_file()
    line = launch_line(name)
    if "--config_file" in line:
        assert (REPO / line[line.index("--config_file") + 1]).is_file()
    assert targs.mixed_precision == "auto"  # bf16 on GPUs that have it, fp32 elsewhere (the trainer decides)


def test_accelerate_configs_ask_bf16_on_gpus_only():
    configs = {p.stem: yaml.safe_load(p.read_text()) for p in (REPO / "cadmus" / "recipes" / "accelerate").glob("*.yaml")}
    assert configs["cpu"]["use_cpu"] and configs["cpu"]["mixed_precision"] == "no"
    assert all(configs[n]["mixed_precision"] == "bf16" for n in ("single_gpu", "multi_gpu", "fsdp"))


def test_cpu_hour_data_has_every_default_family():
    default = yaml.safe_load((REPO / "cadmus" / "recipes" / "data" / "default.yaml").read_text())
    hour = yaml.safe_load((REPO / "cadmus" / "recipes" / "data" / "cpu_hour.yaml").read_text())
    assert hour["mixture"] == default["mixture"] and hour["held_out_families"] == default["held_out_families"]
    assert set(hour["splits"]) == set(default["splits"])
    _, dargs, _ = config.parse(REPO / "cadmus" / "recipes" / "cpu_hour.yaml")
    assert dargs.view_weights().keys() == {"completion", "execution"} and not dargs.families


# ---------------------------------------------------------------- launched (slow)

@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "tiny"
    subprocess.run([sys.executable, "-m", "cadmus.cli", "data", "build", "tiny", "--out", str(out),
                    "--workers", "1", "--quiet"], cwd=REPO, env=ENV, check=True, capture_output=True)
    return out


SHORT = ["--max_steps", "2", "--per_device_batch_size", "2", "--eval_steps", "0", "--accuracy_samples", "2",
         "--max_eval_samples", "4", "--save_steps", "0", "--progress_bar", "false"]


@pytest.mark.slow
@pytest.mark.parametrize("name,processes", [("small", 1), ("base", 2)])
def test_gpu_recipe_launches_as_written_on_cpu(name, processes, tiny_data, tmp_path):
    """The header's launch line, pointed at the tiny data for 2 steps: on the CPU its bf16 accelerate
    config degrades to fp32; base also runs as 2 processes over gloo."""
    line = launch_line(name)
    accelerate = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(processes),
                  *line[line.index("launch") + 1:]]
    out = tmp_path / name
    proc = subprocess.run([*accelerate, "--dataset_path", str(tiny_data), "--output_dir", str(out), *SHORT],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    info = json.loads((out / "cadmus.json").read_text())
    assert info["metrics"]["step"] == 2 and info["num_processes"] == processes
    assert info["mixed_precision"] == "no" and info["model"]["preset"] == name
