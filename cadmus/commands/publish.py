"""The Hub side of ``cadmus data build --push-to-hub`` and ``cadmus train --push_to_hub``.

``cadmus.data`` and ``cadmus.train`` build datasets and train models; they import nothing of the
app layer, to which ``cadmus.hub`` belongs. The command line (``cadmus.cli``) hands them
:data:`HUB` through the parsed arguments (``args.publisher``), and they call it once their folder
is written.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class Publisher:
    """What a command calls to publish its output folder; each returns an exit code or a verdict."""
    can_push: Callable[[str, str], bool]  # (command, repo): a token is there, checked before long work
    push_dataset: Callable[[Path, str], int]  # (dataset folder, repo)
    push_model: Callable[[str, str], int]  # (model folder, repo), from the main process only


def can_push(command: str, repo: str) -> bool:
    """Fail before training, not after it, when there is no token to push with."""
    from ..hub import HubError, require_token

    try:
        require_token(repo)
    except HubError as err:
        print(f"cadmus {command}: error: {err}", file=sys.stderr)
        return False
    return True


def push_dataset(out: Path, repo: str) -> int:
    """The saved folder with its card and build info, so ``load_dataset(repo)`` works."""
    from ..hub import HubError, push

    try:
        sha = push(out, repo)
    except HubError as err:  # no network, no token, no such repo: say so, keep the local copy
        print(f"cadmus data build: push to the Hub repository {repo!r} failed ({err}); "
              f"the dataset is saved locally in {out}", file=sys.stderr)
        return 1
    print(f"pushed {out} to the Hub dataset repository {repo} (commit {sha[:12]})")
    return 0


def push_model(output_dir: str, repo: str) -> int:
    """The output folder with a model card, from the main process only."""
    from accelerate import PartialState

    from ..hub import HubError, push

    if not PartialState().is_main_process:
        return 0
    try:
        sha = push(output_dir, repo)
    except HubError as err:
        print(f"cadmus train: {err}; the model is saved in {output_dir} (retry with `cadmus hub push`)",
              file=sys.stderr)
        return 1
    print(f"cadmus train: pushed {output_dir} to {repo} (commit {sha[:12]})")
    return 0


HUB = Publisher(can_push=can_push, push_dataset=push_dataset, push_model=push_model)


def attach(parser) -> None:
    """Every command parsed by ``parser`` gets ``args.publisher``."""
    parser.set_defaults(publisher=HUB)
