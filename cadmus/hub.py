"""``cadmus hub push | pull``: models and datasets on the Hugging Face Hub, with cards.

    cadmus hub push runs/tiny USER/cadmus-tiny              # a model folder from `cadmus train`
    cadmus hub push runs/tiny USER/cadmus-tiny --eval runs/tiny-eval   # its card shows these `cadmus eval` results
    cadmus hub push data/cadmus USER/cadmus-programs        # a dataset folder from `cadmus data build`
    cadmus hub pull USER/cadmus-tiny models/tiny --revision 0123abcd
    cadmus hub pull USER/cadmus-programs data/cadmus        # back to a save_to_disk folder

A pushed model loads by repo id (``AutoModelForCausalLM.from_pretrained(REPO)``,
``AutoTokenizer.from_pretrained(REPO)``), a pushed dataset with ``datasets.load_dataset(REPO)``;
both then work offline (``HF_HUB_OFFLINE=1``) from the standard cache. Endpoint and token are
huggingface_hub's own: ``HF_ENDPOINT``, ``HF_TOKEN`` or ``hf auth login``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

CARD_MARKER = "<!-- cadmus:model-card -->"  # a README.md without it was written by a person: keep it
MODEL_IGNORE = ["checkpoints/*", ".cache/*"]  # optimizer states stay local (resume needs the same machine anyway)
DATASET_EXTRAS = ("README.md", "build_info.json", "audit.json")  # card and provenance next to the parquet shards
HUB_RECORD = "hub.json"  # written into a dataset folder after a push or pull: repo id + commit, for model cards


class HubError(RuntimeError):
    """A push or pull that cannot go on; the message is one line naming the repo or path."""


# ------------------------------------------------------------------ what a folder is

def folder_kind(path) -> str:
    """``"model"`` (config.json + weights) or ``"dataset"`` (``save_to_disk`` output); else HubError."""
    path = Path(path)
    if not path.is_dir():
        raise HubError(f"{path}: no such directory")
    weights = any(path.glob("*.safetensors")) or (path / "pytorch_model.bin").is_file()
    if (path / "config.json").is_file() and weights:
        return "model"
    if (path / "dataset_dict.json").is_file() or (path / "dataset_info.json").is_file():
        return "dataset"
    raise HubError(f"{path} is neither a model folder (config.json + *.safetensors, from `cadmus train`) nor a "
                   "dataset folder (dataset_dict.json, from `cadmus data build`)")


# ------------------------------------------------------------------ model card

# The card's body (a Jinja template for huggingface_hub.ModelCard); the YAML front matter comes
# from ModelCardData.
MODEL_CARD_TEMPLATE = """---
{{ card_data }}
---
""" + CARD_MARKER + """
# {{ repo_id }}

A GPT-2 model ({{ shape }}) trained with Cadmus on verified programs in the Cadmus DSL v1, with a character-level \
tokenizer. Prompts are program text; see the Cadmus README for the completion, synthesis and execution views.

```python
from transformers import AutoModelForCausalLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{{ repo_id }}")
model = AutoModelForCausalLM.from_pretrained("{{ repo_id }}")
```
{% if training %}
## Training

{{ training }}
{% endif %}{% if evaluation %}
## Evaluation

pass@k with VM-verified samples (`cadmus eval`).{{ headline }}

{{ evaluation }}

Commands:

```
{{ commands }}
```
{% endif %}"""


def load_evals(evals) -> list:
    """``(folder, summary)`` pairs from ``cadmus eval`` outputs given as summary.json paths, their
    folders, or summary dicts (folder None: no per-sample tables). Raises HubError naming a bad one."""
    from .results.runs import is_eval_summary

    found = []
    for item in evals or ():
        if isinstance(item, dict):
            folder, summary = None, item
        else:
            path = Path(item)
            path = path / "summary.json" if path.is_dir() else path
            try:
                folder, summary = path.parent, json.loads(path.read_text())
            except (OSError, ValueError) as err:
                raise HubError(f"eval summary {path}: cannot read it ({err})") from None
        if not is_eval_summary(summary):
            raise HubError(f"eval summary {item if not isinstance(item, dict) else '(dict)'}: not a `cadmus eval` "
                           "summary.json (no config, metrics and splits)")
        found.append((folder, summary))
    return found


def _dataset_repo(info: dict):
    """The Hub id of the training dataset, when its folder records one (``hub.json``)."""
    path = info.get("dataset", {}).get("path")
    try:
        return json.loads((Path(path) / HUB_RECORD).read_text())["repo_id"] if path else None
    except (OSError, ValueError, KeyError):
        return None


def _metrics_table(metrics: dict) -> str:
    rows = [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |"
            for k, v in metrics.items() if v is not None]
    return "| metric | value |\n|---|---:|\n" + "\n".join(rows)


def _shape(info: dict, config: dict) -> str:
    model = info.get("model", {})
    parts = [f"{model['parameters']:,} parameters" if model.get("parameters") else None,
             f"preset `{model['preset']}`" if model.get("preset") else None,
             f"n_layer {config['n_layer']}, n_embd {config['n_embd']}" if "n_layer" in config else None,
             f"context {config['n_positions']} tokens" if "n_positions" in config else None]
    return ", ".join(p for p in parts if p)


def _steps(info: dict, recipe: dict) -> str:
    """The steps run, and the recipe's max_steps when a time budget or stop_at_accuracy ended it sooner."""
    run = info.get("steps_run", info.get("metrics", {}).get("step", recipe.get("max_steps")))
    planned = recipe.get("max_steps")
    return f"{run}" if run == planned or planned is None else f"{run} (recipe max_steps {planned})"


def _training(info: dict, dataset_repo) -> str:
    """The Training section: recipe, dataset, views, schedule, precision, final metrics."""
    data, recipe = info.get("dataset", {}), info.get("recipe", {})
    views = ", ".join(f"{v} x{recipe.get(f'{v}_weight')}" for v in ("completion", "synthesis", "execution")
                      if recipe.get(f"{v}_weight"))
    return "\n".join([
        f"* recipe: `{info.get('recipe_file')}`; every field is in `cadmus.json`",
        f"* dataset: {f'`{dataset_repo}`, ' if dataset_repo else ''}built at `{data.get('path')}`, "
        f"content sha256 `{data.get('content_hash')}`",
        f"* views: {views}",
        f"* steps: {_steps(info, recipe)}, batch {recipe.get('per_device_batch_size')} x "
        f"{info.get('num_processes', 1)} processes x {recipe.get('gradient_accumulation_steps')} "
        f"accumulation, peak learning rate {recipe.get('learning_rate')}, seed {recipe.get('seed')}",
        f"* precision: {info.get('mixed_precision')}, git revision `{info.get('git_revision')}`", "",
        _metrics_table(info.get("metrics", {}))])


def _eval_results(evals: dict, dataset_repo) -> list:
    """The headline pass@k of every suite and split, as the Hub's model-index entries."""
    from huggingface_hub import EvalResult

    return [EvalResult(task_type="text-generation", task_name=f"Cadmus {label}",
                       dataset_type=dataset_repo or "cadmus", dataset_name=dataset_repo or "Cadmus programs",
                       dataset_split=split, metric_type=ev.headline_metric(), metric_name=ev.headline_metric(),
                       metric_value=entry["metrics"][ev.headline_metric()])
            for label, ev in evals.items() for split, entry in ev.splits.items()
            if ev.headline_metric() in entry.get("metrics", {})]


def model_card(folder, repo_id=None, dataset_repo=None, evals=()) -> str:
    """README.md for a model folder: front matter for the Hub, then recipe, data, metrics and the
    ``cadmus eval`` results given in ``evals`` (see ``load_evals``), with the results page's tables."""
    from huggingface_hub import ModelCard, ModelCardData

    from .results import collect_evals, suite_sections

    folder = Path(folder)
    info = json.loads((folder / "cadmus.json").read_text()) if (folder / "cadmus.json").is_file() else {}
    config = json.loads((folder / "config.json").read_text()) if (folder / "config.json").is_file() else {}
    repo_id = repo_id or folder.name
    dataset_repo = dataset_repo or _dataset_repo(info)
    found = load_evals(evals)
    collected = collect_evals(found)  # the same tables as the results page (cadmus report)
    data = ModelCardData(
        library_name="transformers", pipeline_tag="text-generation", license="mit",
        tags=["cadmus", "gpt2", "program-synthesis", "text-generation"],
        datasets=[dataset_repo] if dataset_repo else None,
        metrics=list(dict.fromkeys(k for _, s in found for k in s["metrics"])) or None,
        model_name=repo_id, eval_results=_eval_results(collected, dataset_repo) or None)
    headlines = list(dict.fromkeys(s["headline"] for _, s in found if s.get("headline")))
    card = ModelCard.from_template(
        data, template_str=MODEL_CARD_TEMPLATE, repo_id=repo_id, shape=_shape(info, config),
        training=_training(info, dataset_repo) if info else "",
        evaluation=suite_sections([collected], "###").rstrip() if found else "",
        headline="".join(" " + h for h in headlines),
        commands="\n".join(c for ev in collected.values() for c in ev.commands()))
    return str(card).rstrip() + "\n"


def write_model_card(folder, repo_id=None, dataset_repo=None, evals=()) -> bool:
    """Write README.md unless a person wrote one (no marker); True when written."""
    readme = Path(folder) / "README.md"
    if readme.is_file() and CARD_MARKER not in readme.read_text(errors="replace"):
        return False
    readme.write_text(model_card(folder, repo_id, dataset_repo, evals))
    return True


# ------------------------------------------------------------------ errors

def _endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def _explain(err: Exception, repo: str, action: str, revision=None) -> HubError:
    """One line for the common failures of a huggingface_hub call."""
    from huggingface_hub import errors

    where = f"{repo} at {_endpoint()}"
    if isinstance(err, errors.RevisionNotFoundError):
        return HubError(f"{action} {where}: no branch, tag or commit {revision!r}")
    if isinstance(err, errors.RepositoryNotFoundError):
        return HubError(f"{action} {where}: no such repository (or no access with this token)")
    if isinstance(err, errors.OfflineModeIsEnabled):
        return HubError(f"{action} {where}: HF_HUB_OFFLINE is set")
    if isinstance(err, errors.LocalEntryNotFoundError) or type(err).__module__.split(".")[0].startswith("http"):
        return HubError(f"{action} {where}: cannot reach the Hub ({_first_line(err)})")
    if isinstance(err, errors.HfHubHTTPError) and err.response is not None and err.response.status_code in (401, 403):
        return HubError(f"{action} {where}: the Hub refused the token (HTTP {err.response.status_code}); "
                        "check HF_TOKEN or `hf auth login`")
    return HubError(f"{action} {where}: {type(err).__name__}: {_first_line(err)}")


def _first_line(err: Exception) -> str:
    text = " ".join(str(err).split("\n\n")[0].split())
    return text[:300]


def require_token(repo: str) -> None:
    from huggingface_hub import get_token

    if not get_token():
        raise HubError(f"cannot push to {repo}: no Hugging Face token (set HF_TOKEN or run `hf auth login`)")


# ------------------------------------------------------------------ push

def push(folder, repo: str, private: bool = False, revision=None, commit_message=None, dataset_repo=None,
         evals=()) -> str:
    """Push a model or dataset folder to ``repo``; returns the commit sha. Raises HubError. A model's
    card shows the ``cadmus eval`` results in ``evals`` (summary.json paths, their folders or dicts)."""
    kind = folder_kind(folder)
    if evals and kind != "model":
        raise HubError(f"{folder}: eval results go on a model card; this is a dataset folder")
    load_evals(evals)  # a bad summary path fails here, before any request
    require_token(repo)
    try:
        if kind == "model":
            return _push_model(Path(folder), repo, private, revision, commit_message, dataset_repo, evals)
        return _push_dataset(Path(folder), repo, private, revision, commit_message)
    except HubError:
        raise
    except Exception as err:  # huggingface_hub / httpx / datasets errors: one line
        raise _explain(err, repo, f"push {folder} to {kind} repository", revision) from err


def _prepare_repo(api, repo: str, repo_type: str, private: bool, revision) -> None:
    api.create_repo(repo, repo_type=repo_type, private=private, exist_ok=True)
    if revision and revision != "main":
        api.create_branch(repo, repo_type=repo_type, branch=revision, exist_ok=True)


def _push_model(folder: Path, repo: str, private: bool, revision, message, dataset_repo, evals) -> str:
    from huggingface_hub import HfApi

    api = HfApi()
    _prepare_repo(api, repo, "model", private, revision)  # first contact: fails before any local write
    if not write_model_card(folder, repo, dataset_repo, evals):
        print(f"cadmus hub: keeping the README.md in {folder} (written by hand)", file=sys.stderr)
    info = api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="model", revision=revision,
                             commit_message=message or f"cadmus hub push {folder.name}",
                             ignore_patterns=MODEL_IGNORE)
    return info.oid


def _push_dataset(folder: Path, repo: str, private: bool, revision, message) -> str:
    from datasets import Dataset, DatasetDict, load_from_disk
    from huggingface_hub import CommitOperationAdd, HfApi

    dd = load_from_disk(str(folder))
    if isinstance(dd, Dataset):  # a single split saved on its own
        dd = DatasetDict({"train": dd})
    api = HfApi()
    _prepare_repo(api, repo, "dataset", private, revision)
    # The card first: DatasetDict.push_to_hub then merges its dataset_info/configs metadata into it.
    extras = [CommitOperationAdd(name, str(folder / name)) for name in DATASET_EXTRAS if (folder / name).is_file()]
    if extras:
        api.create_commit(repo, extras, repo_type="dataset", revision=revision,
                          commit_message=f"cadmus hub push {folder.name}: card and build info")
    info = dd.push_to_hub(repo, private=private, revision=revision,
                          commit_message=message or f"cadmus hub push {folder.name}")
    (folder / HUB_RECORD).write_text(json.dumps({"repo_id": repo, "repo_type": "dataset", "commit": info.oid,
                                                 "endpoint": _endpoint()}, indent=1) + "\n")
    return info.oid


# ------------------------------------------------------------------ pull

def pull(repo: str, out, revision=None, repo_type=None) -> Path:
    """Download ``repo`` into ``out``: a model as its files, a dataset as a ``save_to_disk`` folder
    (plus its card and build info), so every ``cadmus`` command reads it. ``repo_type`` None: model,
    then dataset. Raises HubError; ``out`` is not created when the repo or revision is not found."""
    from huggingface_hub import errors

    out = Path(out)
    kinds = [repo_type] if repo_type else ["model", "dataset"]
    for kind in kinds:
        try:
            return _pull_model(repo, out, revision) if kind == "model" else _pull_dataset(repo, out, revision)
        except HubError:
            raise
        except errors.RepositoryNotFoundError as err:
            if kind != kinds[-1]:
                continue  # not a model: maybe a dataset of that name
            raise _explain(err, repo, f"pull {' or '.join(kinds)}", revision) from err
        except Exception as err:
            raise _explain(err, repo, f"pull {kind}", revision) from err


def _pull_model(repo: str, out: Path, revision) -> Path:
    from huggingface_hub import snapshot_download

    snapshot_download(repo, repo_type="model", revision=revision, local_dir=str(out))
    return out


def _pull_dataset(repo: str, out: Path, revision) -> Path:
    from datasets import load_dataset
    from huggingface_hub import HfApi, hf_hub_download

    sha = HfApi().dataset_info(repo, revision=revision).sha
    if out.exists() and any(out.iterdir()) and not (out / "dataset_dict.json").is_file():
        raise HubError(f"pull dataset {repo}: {out} exists and is not a dataset folder; choose an empty directory")
    dd = load_dataset(repo, revision=sha)
    dd.save_to_disk(str(out), num_shards={s: 1 for s, d in dd.items() if len(d) == 0} or None)
    files = HfApi().list_repo_files(repo, repo_type="dataset", revision=sha)
    for name in DATASET_EXTRAS:
        if name in files:
            (out / name).write_bytes(Path(hf_hub_download(repo, name, repo_type="dataset", revision=sha)).read_bytes())
    (out / HUB_RECORD).write_text(json.dumps({"repo_id": repo, "repo_type": "dataset", "commit": sha,
                                              "endpoint": _endpoint()}, indent=1) + "\n")
    return out


# ------------------------------------------------------------------ command line

def cmd_push(args) -> int:
    try:
        sha = push(args.folder, args.repo, private=args.private, revision=args.revision,
                   commit_message=args.commit_message, dataset_repo=args.dataset_repo, evals=args.eval)
    except HubError as err:
        print(f"cadmus hub push: {err}", file=sys.stderr)
        return 1
    print(f"pushed {args.folder} to {args.repo} (revision {args.revision or 'main'}, commit {sha})")
    return 0


def cmd_pull(args) -> int:
    try:
        out = pull(args.repo, args.dir, revision=args.revision, repo_type=args.repo_type)
    except HubError as err:
        print(f"cadmus hub pull: {err}", file=sys.stderr)
        return 1
    print(f"pulled {args.repo} ({args.revision or 'main'}) to {out}")
    return 0


def register(sub) -> None:
    hub = sub.add_parser("hub", help="push models and datasets to the Hugging Face Hub, or pull them")
    hsub = hub.add_subparsers(dest="hub_command", metavar="SUBCOMMAND")
    hsub.required = True

    p = hsub.add_parser("push", help="push a model folder (cadmus train) or dataset folder (cadmus data build)")
    p.add_argument("folder", help="model folder (config.json + safetensors) or dataset folder (save_to_disk)")
    p.add_argument("repo", help="Hub repository id, e.g. USER/cadmus-tiny")
    p.add_argument("--private", action="store_true", help="create the repository private")
    p.add_argument("--revision", help="branch to push to (created from main if missing)")
    p.add_argument("--commit-message", help="commit message (default: cadmus hub push FOLDER)")
    p.add_argument("--dataset-repo", help="model card: the Hub dataset it was trained on (default: from the "
                                          "dataset folder's hub.json, if any)")
    p.add_argument("--eval", nargs="+", default=[], metavar="SUMMARY",
                   help="model card: `cadmus eval` results to show (summary.json files or their folders)")
    p.set_defaults(func=cmd_push)

    p = hsub.add_parser("pull", help="download a model, or a dataset as a save_to_disk folder")
    p.add_argument("repo", help="Hub repository id")
    p.add_argument("dir", help="target folder")
    p.add_argument("--revision", help="branch, tag or commit sha (default main)")
    p.add_argument("--repo-type", choices=("model", "dataset"), help="default: model, else dataset")
    p.set_defaults(func=cmd_pull)
