"""Loading a built dataset directory (``cadmus data build ... --out DIR``)."""
from __future__ import annotations

from pathlib import Path


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
