"""Where a result came from: the dataset's content hash, the git revision and the machine.

One content hash for a dataset, whoever computes it: the builder (``build_info.json`` and the
dataset card), ``cadmus data audit --hash``, training (``cadmus.json`` and the model card) and
evaluation (``summary.json``). So a model card's dataset hash equals its dataset card's.

The hash is of the data, not of its files: per split, the sha256 of the ``HASH_CHUNK``-record
slices' digests in order (``chunk_digest``: every column, in the table's column order, as its
values and list lengths in Arrow's flat buffers); the whole is the sha256 of the lines
``split:hash``. Caches that ``datasets.map`` writes next to a saved dataset, the shard layout
and Arrow's file framing do not change it. The builder hashes each chunk in the worker that
made it (its chunks are these slices), which is why the slicing is part of the definition.

Core layer: imports nothing from cadmus but :mod:`cadmus.schema` and :mod:`cadmus.resources`.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
from typing import Optional

from .resources import checkout_root
from .schema import SPLITS

HASH_CHUNK = 1000  # records per digested slice (part of the hash's definition; the builder's chunk size)


# --- dataset content hash ----------------------------------------------------------------------

def chunk_digest(table) -> bytes:
    """sha256 of one slice of a split's Arrow table (``HASH_CHUNK`` records, or fewer at the end):
    every column in the table's order, as its values and list lengths in Arrow's flat buffers.
    Hashing the buffers, not a JSON text of the rows, costs well under a microsecond per record."""
    h = hashlib.sha256()
    for name in table.column_names:
        for part in _flat_parts(table.column(name).combine_chunks()):
            h.update(part)
    return h.digest()


def _flat_parts(arr):
    """Bytes that determine a (possibly sliced) Arrow array of the dataset's types exactly."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    t = arr.type
    if pa.types.is_string(t):
        off = np.frombuffer(arr.buffers()[1], np.int32, len(arr) + 1, arr.offset * 4)
        data = arr.buffers()[2]
        yield np.diff(off).tobytes()
        yield memoryview(data)[off[0]:off[-1]] if data is not None else b""
    elif pa.types.is_integer(t):
        yield arr.to_numpy(zero_copy_only=False).astype(np.int64).tobytes()
    elif pa.types.is_struct(t):
        for child in arr.flatten():
            yield from _flat_parts(child)
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        yield pc.list_value_length(arr).to_numpy(zero_copy_only=False).astype(np.int64).tobytes()
        yield from _flat_parts(arr.flatten())
    else:
        raise TypeError(f"no content hash for Arrow type {t} (column types: string, integer, struct, list)")


def digests_hash(digests) -> str:
    """A split's hash from its slices' ``chunk_digest``s, in order (the builder's route)."""
    return hashlib.sha256(b"".join(digests)).hexdigest()


def split_hash(table) -> str:
    """sha256 of a split's Arrow table."""
    return digests_hash(chunk_digest(table.slice(s, HASH_CHUNK)) for s in range(0, len(table), HASH_CHUNK))


def whole_hash(hashes: dict) -> str:
    """The dataset's hash (``"all"``) from its splits' hashes, in ``dataset_splits`` order."""
    return hashlib.sha256("".join(f"{s}:{hashes[s]}\n" for s in dataset_splits(hashes)).encode()).hexdigest()


def dataset_splits(names) -> list:
    """The split names of ``names`` in build order (``SPLITS``), any others after them by name."""
    names = [n for n in names if n != "all"]
    return [s for s in SPLITS if s in names] + sorted(set(names) - set(SPLITS))


def dataset_hashes(dd) -> dict:
    """sha256 per split of a ``DatasetDict`` (built, or loaded from disk) and of the whole (``"all"``):
    equal to the build's ``build_info.json`` hashes."""
    out = {split: split_hash(dd[split].data.table) for split in dataset_splits(dd)}
    out["all"] = whole_hash(out)
    return out


def dataset_hash(path) -> str:
    """The content hash (``"all"``) of the dataset saved in ``path``: what ``cadmus data build``
    printed and wrote for it."""
    from datasets import load_from_disk

    return dataset_hashes(load_from_disk(str(path)))["all"]


# --- files -------------------------------------------------------------------------------------

def file_sha256(path) -> str:
    """sha256 of a file's bytes (a model's weights, an answers file), read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- code and machine --------------------------------------------------------------------------

def git_revision() -> Optional[str]:
    """The checkout's commit, with ``-dirty`` when tracked files differ from it; None outside a
    checkout (an installed package inside another git project must not record that project's)."""
    root = checkout_root()
    if root is None:
        return None
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True)
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def machine() -> dict:
    """Where a run ran (the results page shows it): CPU, cores, torch threads, versions and the
    GPU (None without one)."""
    import platform

    import torch

    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "torch": torch.__version__, "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
