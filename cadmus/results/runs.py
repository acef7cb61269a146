"""Run folders -> :class:`Run` records: what was trained, how, on which data, and how it scored.

A run folder is one of
- a quickstart report (``cadmus quickstart``: ``summary.json`` with a ``quickstart`` entry; the
  phases' models and the ``eval/<suite>`` folders inside it),
- a training output folder (``cadmus train``: ``cadmus.json``, ``metrics.jsonl``) with the
  ``cadmus eval`` folders inside it, or next to it when their summary names it as the model,
- a ``cadmus eval`` output folder alone,
- a folder that holds such folders one or two levels down (e.g. ``runs/cpu_hour`` with ``model/``
  and ``eval/completion/``): one run, whose training phases follow their ``init_from`` chain.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..provenance import file_sha256
from ..resources import TOKENIZER_NAMES

# Recipe keys that say where things are, or that only shape how the run was watched: runs that
# differ only in these (and the seed) are seeds of one experiment.
NOT_CONFIG = {"seed", "output_dir", "dataset_path", "init_from", "resume", "push_to_hub", "progress_bar",
              "num_proc", "tokenizer_path"}
# a quickstart's safety cap (minutes) and eval_share shape the run only when it cuts training, which
# the report flags; its recipes are compared by content (the phases), not by where the files were
QUICKSTART_NOT_CONFIG = {"seed", "out", "overwrite", "minutes", "eval_share", "data_recipe", "first_recipe",
                         "train_recipe", "threads"}


class RunError(ValueError):
    """A folder that holds no run this report can read; the message names it."""


def read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def is_eval_summary(obj) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("config"), dict) and "splits" in obj and "metrics" in obj


@dataclass
class Phase:
    """One ``cadmus train`` output folder: its ``cadmus.json`` and ``metrics.jsonl`` records."""
    path: Path
    info: dict
    records: list

    @classmethod
    def load(cls, path: Path) -> "Phase":
        lines = (path / "metrics.jsonl").read_text().splitlines() if (path / "metrics.jsonl").is_file() else []
        return cls(path, read_json(path / "cadmus.json") or {}, [json.loads(x) for x in lines if x.strip()])

    @property
    def recipe(self) -> dict:
        return self.info.get("recipe", {})

    @property
    def steps(self) -> int:
        step = self.info.get("metrics", {}).get("step")
        return step if step is not None else (self.records[-1]["step"] if self.records else 0)

    @property
    def train_time_s(self) -> Optional[float]:
        times = [r["train_time_s"] for r in self.records if "train_time_s" in r]
        return times[-1] if times else None

    def command(self) -> str:
        """The recorded command line, else one rebuilt from the recipe file and the fields that differ."""
        if self.info.get("command"):
            return self.info["command"]
        recipe_file = self.info.get("recipe_file")
        written = {}
        if recipe_file and Path(recipe_file).is_file():
            from ..train.config import load_recipe

            written = load_recipe(recipe_file)
        # cadmus.json from before steps_run recorded a time-fitted max_steps, not the one given
        fitted = (self.recipe.get("max_minutes") and self.recipe.get("max_minutes_mode", "fit") == "fit"
                  and "steps_run" not in self.info)
        flags = []
        for key, value in self.recipe.items():
            if key == "progress_bar" or (key == "max_steps" and fitted):  # fitted: the steps the minutes allowed
                continue
            if value == (written[key] if key in written else _default(key)):
                continue
            text = " ".join(map(str, value)) if isinstance(value, list) else (
                str(value).lower() if isinstance(value, bool) else str(value))
            flags.append(f"--{key} {text}")
        procs = self.info.get("num_processes") or 1
        head = f"accelerate launch --num_processes {procs} -m cadmus.train" if procs > 1 else "cadmus train"
        return " ".join([head, *([recipe_file] if recipe_file else []), *flags])


def _default(key: str):
    from dataclasses import MISSING, fields

    from ..train.config import ARG_CLASSES

    for cls in ARG_CLASSES:
        for f in fields(cls):
            if f.name == key:
                return f.default_factory() if f.default_factory is not MISSING else f.default
    return None


@dataclass
class Eval:
    """The ``cadmus eval`` results of one suite (and sampling setting) of a run, splits merged."""
    label: str
    ks: list
    visible: bool
    splits: dict = field(default_factory=dict)  # split -> entry, as in cadmus eval's summary.json
    folders: dict = field(default_factory=dict)  # split -> folder holding samples.jsonl
    configs: list = field(default_factory=list)

    def add(self, summary: dict, folder: Optional[Path]) -> None:
        for split, entry in summary["splits"].items():
            self.splits[split] = entry
            self.folders[split] = folder
        self.configs.append(summary["config"])
        self.visible = self.visible or "metrics_visible" in summary

    def headline_metric(self) -> str:
        """The pass@k the family tables show: the largest k up to 10 (pass@1 for greedy runs)."""
        ks = [int(k.split("@")[1]) for k in self.ks]
        return f"pass@{max([k for k in ks if k <= 10] or ks)}"

    def novelty_entry(self, split: str, tag: str) -> Optional[dict]:
        """The split's entry over the prompts tagged ``tag`` (seen/novel) only, from samples.jsonl."""
        folder = self.folders.get(split)
        if folder is None or not (folder / "samples.jsonl").is_file():
            return None
        from ..eval.report import summarize

        rows = [r for r in _samples(folder / "samples.jsonl") if r["split"] == split and r.get("novelty") == tag]
        if not rows:
            return None
        return summarize(rows, [int(k.split("@")[1]) for k in self.ks])["splits"][split]

    def commands(self) -> list:
        return [c.get("command") or eval_command(c) for c in self.configs]


_SAMPLES_CACHE: dict = {}


def _samples(path: Path) -> list:
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _SAMPLES_CACHE:
        _SAMPLES_CACHE[key] = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return _SAMPLES_CACHE[key]


def eval_command(config: dict) -> str:
    """A ``cadmus eval`` line rebuilt from a summary's config (runs started in-process record none)."""
    parts = ["cadmus eval", str(config.get("model") or ""), "--data", str(config.get("data")),
             "--suite", str(config.get("suite")), "--split", str(config.get("split"))]
    for key in ("limit", "n", "k", "few_shot", "max_new_tokens", "seed", "rounds"):
        value = config.get(key)
        if value not in (None, 0, False) and not (key == "n" and value == 1) and not (key == "rounds" and
                                                                                     config.get("suite") != "repair"):
            parts += [f"--{key.replace('_', '-')}", str(value)]
    if (config.get("n") or 1) > 1:
        parts += ["--temperature", str(config.get("temperature")), "--top-p", str(config.get("top_p"))]
    if config.get("preamble"):
        parts.append("--preamble")
    if config.get("out"):
        parts += ["--out", str(config["out"])]
    return " ".join(parts)


def eval_label(config: dict) -> str:
    n = config.get("n") or 1
    return config["suite"] if n == 1 else f"{config['suite']} (n={n}, temperature {config.get('temperature')})"


def collect_evals(found: list) -> dict:
    """``label -> Eval`` from ``(folder, summary)`` pairs; one suite's splits from several folders merge."""
    evals = {}
    for folder, summary in found:
        label = eval_label(summary["config"])
        if label not in evals:
            evals[label] = Eval(label, list(summary["metrics"]), False)
        evals[label].add(summary, folder)
    return evals


@dataclass
class Run:
    path: Path
    kind: str  # quickstart, train or eval
    seed: Optional[int]
    phases: list  # Phase, in training order
    evals: dict  # label -> Eval
    commands: list
    machine: Optional[dict]
    config: dict  # what runs must share to be seeds of one experiment
    title: str
    target: Optional[dict] = None  # the quickstart's headline number
    runtime_s: Optional[float] = None  # wall clock of the whole run, when recorded
    dataset: dict = field(default_factory=dict)  # name -> sha256

    @property
    def name(self) -> str:
        return str(self.path)

    def key(self) -> str:
        return json.dumps(self.config, sort_keys=True, default=str)

    def model_sha256(self) -> Optional[str]:
        shas = {c.get("model_sha256") for e in self.evals.values() for c in e.configs} - {None}
        if shas:
            return ", ".join(sorted(shas))
        weights = self.phases[-1].path / "model.safetensors" if self.phases else None
        return file_sha256(weights) if weights is not None and weights.is_file() else None

    def steps(self) -> int:
        return sum(p.steps for p in self.phases)

    def train_time_s(self) -> Optional[float]:
        times = [p.train_time_s for p in self.phases]
        return sum(times) if times and None not in times else None


def eval_folders(root: Path, depth: int = 2) -> list:
    """``(folder, summary)`` of every ``cadmus eval`` summary at ``root`` and ``depth`` levels below."""
    paths = [root / "summary.json"]
    for level in range(1, depth + 1):
        paths += sorted(root.glob("/".join(["*"] * level) + "/summary.json"))
    found = []
    for path in paths:
        summary = read_json(path) if path.is_file() else None
        if is_eval_summary(summary) and "checkpoints" not in path.parts:
            found.append((path.parent, summary))
    return found


def model_evals(folder) -> list:
    """``(folder, summary)`` of the ``cadmus eval`` runs of a model folder: summaries in it, one or
    two levels down (``MODEL/eval/<suite>``), or in a sibling folder whose config names this model."""
    folder = Path(folder).resolve()
    candidates = [folder / "summary.json", *folder.glob("*/summary.json"), *folder.glob("*/*/summary.json"),
                  *folder.parent.glob("*/summary.json"), *folder.parent.glob("*/*/summary.json")]
    found = {}
    for path in candidates:
        summary = read_json(path) if path not in found and path.is_file() else None
        if not is_eval_summary(summary):
            continue
        model = summary["config"].get("model")
        if folder in path.parents or (model and Path(model).resolve() == folder):
            found[path] = summary
    return [(path.parent, summary) for path, summary in sorted(found.items())]


def tokenizer_label(path) -> str:
    """A recipe's ``tokenizer_path`` as a title: the shipped tokenizer by its name, others by folder."""
    shipped = {name: Path("cadmus", *parts) for name, parts in TOKENIZER_NAMES.items()}
    for name, folder in shipped.items():
        if str(path) == name or Path(path).parts[-len(folder.parts):] == folder.parts:
            return f"{name}, shipped"
    return Path(path).name


def _order_phases(phases: list) -> list:
    """Follow the ``init_from`` chain: a phase started from another's model comes after it."""
    by_path = {p.path.resolve(): p for p in phases}
    ordered, seen = [], set()

    def visit(phase):
        if phase.path.resolve() in seen:
            return
        seen.add(phase.path.resolve())
        parent = phase.recipe.get("init_from")
        if parent and Path(parent).resolve() in by_path:
            visit(by_path[Path(parent).resolve()])
        ordered.append(phase)

    for phase in sorted(phases, key=lambda p: str(p.path)):
        visit(phase)
    return ordered


def _train_config(phases: list) -> dict:
    def recipe_key(phase):
        recipe = {k: v for k, v in phase.recipe.items() if k not in NOT_CONFIG}
        if recipe.get("max_minutes_mode") == "cap":
            recipe.pop("max_minutes", None)  # a safety cap: the step schedule defines the run
        if (recipe.get("max_minutes") and recipe.get("max_minutes_mode", "fit") == "fit"
                and "steps_run" not in phase.info):
            recipe.pop("max_steps", None)  # an older cadmus.json's time-fitted value: it varies between seeds
        tokenizer = phase.path / "tokenizer.json"  # the vocabulary shapes the model; its path does not
        if tokenizer.is_file():
            recipe["tokenizer_sha256"] = file_sha256(tokenizer)
        return {"recipe_file": Path(phase.info.get("recipe_file") or "").name, **recipe}

    return {"kind": "train", "phases": [recipe_key(p) for p in phases]}


def _dataset_hashes(phases: list, evals: dict) -> dict:
    """Label -> content hash (``cadmus.provenance``) of each dataset the run trained or evaluated
    on: training and evaluation on the same data record the same hash, and show as one line."""
    uses = {}  # hash -> {folder name: None}, {role: None} (ordered sets)
    for phase in phases:
        data = phase.info.get("dataset", {})
        if data.get("content_hash"):
            _use(uses, data["content_hash"], Path(data.get("path", "")).name, "train")
    for ev in evals.values():
        for c in ev.configs:
            if c.get("dataset_sha256"):
                _use(uses, c["dataset_sha256"], Path(str(c.get("data"))).name, "eval")
    return {f"data {', '.join(f'`{n}`' for n in names)} ({', '.join(roles)})": sha
            for sha, (names, roles) in uses.items()}


def _use(uses: dict, sha: str, name: str, role: str) -> None:
    names, roles = uses.setdefault(sha, ({}, {}))
    names[name] = roles[role] = None


def train_run(path: Path, phases: list, found: list) -> Run:
    phases = _order_phases(phases)
    evals = collect_evals(found)
    last = phases[-1] if phases else None
    commands = [p.command() for p in phases] + [c for e in evals.values() for c in e.commands()]
    machine = next((p.info["machine"] for p in reversed(phases) if p.info.get("machine")), None)
    title = Path(last.info.get("recipe_file") or path.name).stem if last else path.name
    if last and last.recipe.get("tokenizer_path"):
        title += f" (tokenizer {tokenizer_label(last.recipe['tokenizer_path'])})"
    config = _train_config(phases) if phases else {"kind": "eval", "path": str(path.resolve())}
    return Run(path, "train" if phases else "eval", last.recipe.get("seed") if last else None, phases, evals,
               commands, machine, config, title, dataset=_dataset_hashes(phases, evals))


def quickstart_run(path: Path, summary: dict) -> Run:
    args = summary.get("quickstart", {})
    phases = []
    for phase in summary.get("curriculum") or [{"model": str(path / "model")}]:
        folder = Path(phase["model"])
        folder = folder if (folder / "cadmus.json").is_file() else path / folder.name
        if (folder / "cadmus.json").is_file():
            phases.append(Phase.load(folder))
    found = [(path / "eval" / suite, s) for suite, s in summary.get("suites", {}).items()]
    evals = collect_evals(found)
    seed = args.get("seed", phases[-1].recipe.get("seed") if phases else None)
    threads = (summary.get("machine") or {}).get("torch_threads")  # each thread count rounds sums differently
    config = {"kind": "quickstart", "torch_threads": threads, "data_recipe": Path(args.get("data_recipe", "")).name,
              **{k: v for k, v in args.items() if k not in QUICKSTART_NOT_CONFIG},
              "phases": _train_config(phases)["phases"] if phases else []}
    title = "cadmus quickstart" + (f" ({threads} torch thread{'s' if threads != 1 else ''})" if threads else "")
    dataset = dict(_dataset_hashes(phases, evals))
    if summary.get("dataset", {}).get("content_sha256") not in (None, *dataset.values()):
        dataset["quickstart data (build_info)"] = summary["dataset"]["content_sha256"]
    return Run(path, "quickstart", seed, phases, evals, [quickstart_command(summary)], summary.get("machine"),
               config, title, summary.get("target"), (summary.get("runtime_s") or {}).get("total"),
               dataset)


def quickstart_command(summary: dict) -> str:
    """The recorded command, else ``cadmus quickstart`` with the arguments that differ from the defaults."""
    if summary.get("command"):
        return summary["command"]
    from dataclasses import MISSING, fields

    from ..quickstart import QuickstartArgs

    defaults = {f.name: f.default for f in fields(QuickstartArgs) if f.default is not MISSING}
    flags = []
    for key, value in summary.get("quickstart", {}).items():
        if key == "eval_limit" or (key in defaults and defaults[key] == value) or value is None:
            continue  # eval_limit: recorded after the budget capped it, which the same flags redo
        flags.append(f"--{key.replace('_', '-')}" if value is True else f"--{key.replace('_', '-')} {value}")
    return " ".join(["cadmus quickstart", *flags])


def load_run(path) -> Run:
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"{path}: no such directory")
    summary = read_json(path / "summary.json")
    if isinstance(summary, dict) and "quickstart" in summary:
        return quickstart_run(path, summary)
    if (path / "cadmus.json").is_file():
        return train_run(path, [Phase.load(path)], model_evals(path))
    phases = [Phase.load(p.parent) for p in sorted(path.glob("*/cadmus.json")) + sorted(path.glob("*/*/cadmus.json"))
              if "checkpoints" not in p.parts]
    found = eval_folders(path)
    if not phases and not found:
        raise RunError(f"{path}: no run here (expected a quickstart report with summary.json, a `cadmus train` "
                       "folder with cadmus.json, a `cadmus eval` folder, or a folder holding them)")
    return train_run(path, phases, found)


def group_runs(runs: list) -> list:
    """Runs of one configuration (seeds apart), in the order first given: ``[(title, [runs])]``.
    Groups that would share a title are told apart by the settings they differ in."""
    groups: dict = {}
    for run in runs:
        groups.setdefault(run.key(), []).append(run)
    by_title: dict = {}
    for members in groups.values():
        by_title.setdefault(members[0].title, []).append(members)
    out = []
    for members in groups.values():
        title = members[0].title
        rivals = by_title[title]
        if len(rivals) > 1:
            title = f"{title} ({_difference(members[0], [r[0] for r in rivals]) or rivals.index(members) + 1})"
        out.append((title, members))
    return out


def _flat(obj, prefix: str = "") -> dict:
    if isinstance(obj, dict):
        return {k: v for key, value in obj.items() for k, v in _flat(value, f"{prefix}{key}.").items()}
    if isinstance(obj, list):
        return {k: v for i, value in enumerate(obj) for k, v in _flat(value, f"{prefix}{i}.").items()}
    return {prefix[:-1]: obj}


def _difference(run: Run, rivals: list, most: int = 2) -> str:
    """``key value`` of the settings (at most ``most``) in which ``run``'s configuration differs
    from another run's of the same title; a key is named by its last part (``max_steps 3600``)."""
    mine = _flat(run.config)
    others = [_flat(r.config) for r in rivals if r is not run]
    keys = [k for k in sorted(set(mine).union(*others)) if any(o.get(k) != mine.get(k) for o in others)]
    keys = [k for k in keys if not k.endswith("sha256")] or keys  # a hash says less than a setting
    shown = [f"{k.split('.')[-1]} {mine.get(k, '-')}" for k in keys[:most]]
    return ", ".join(shown) + (" ..." if len(keys) > most else "")
