"""Loading a built dataset directory (``cadmus data build ... --out DIR``)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional


class DatasetDirError(ValueError):
    """A directory that is not a dataset written by ``cadmus data build``."""


def load_dataset_dir(path):
    """The ``datasets.DatasetDict`` saved in ``path``; a clear error when it is missing or garbled."""
    from datasets import load_from_disk

    path = Path(path)
    if not path.is_dir():
        raise DatasetDirError(f"{path}: no such directory (build one with `cadmus data build RECIPE --out {path}`)")
    if not (path / "dataset_dict.json").is_file():
        raise DatasetDirError(f"{path}: not a dataset directory (no dataset_dict.json); "
                              f"build one with `cadmus data build RECIPE --out {path}`")
    try:
        return load_from_disk(str(path))
    except Exception as err:  # datasets raises many types for a damaged directory
        raise DatasetDirError(f"{path}: cannot load the dataset ({type(err).__name__}: {err})") from err


def read_build_info(path) -> Optional[dict]:
    """The ``build_info.json`` of a dataset directory (hashes, sizes, dropped records, recipe),
    or None when there is none (e.g. a dataset saved by other means)."""
    info = Path(path) / "build_info.json"
    return json.loads(info.read_text()) if info.is_file() else None


def recipe_of(build_info: Optional[dict]):
    """The ``Recipe`` a build recorded in its ``build_info.json``, or None when it has none that
    this version can read."""
    from .recipe import Recipe, RecipeError, from_dict, validate

    if not build_info or "recipe" not in build_info:
        return None
    try:
        return validate(from_dict(Recipe, dict(build_info["recipe"]), "build_info.json"), "build_info.json")
    except RecipeError:
        return None
