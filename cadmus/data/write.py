"""How a worker's chunk reaches the parent (one Arrow IPC stream, in a file in shared memory,
``/dev/shm``, when there is one, else through the result pipe), and the splits' tables become
the ``DatasetDict``."""
from __future__ import annotations

import os
from typing import Optional


def ship(table, folder: Optional[str], name: str):
    if folder:
        path = os.path.join(folder, name + ".arrow")
        try:
            _write_ipc(table, path)
            return _ShippedFile(path)
        except OSError:  # e.g. the folder's file system is full: the pipe always works
            if os.path.exists(path):
                os.unlink(path)
    return _Shipped(table)


def _write_ipc(table, sink) -> None:
    import pyarrow as pa

    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)


class _Shipped:
    """An Arrow table that pickles as one Arrow IPC stream (half the cost of pickling the table)
    and unpickles as the table itself."""

    def __init__(self, table):
        self.table = table

    def __reduce__(self):
        import pyarrow as pa

        sink = pa.BufferOutputStream()
        _write_ipc(self.table, sink)
        return _from_ipc, (sink.getvalue().to_pybytes(),)


class _ShippedFile:
    """An Arrow table written to a file by a worker: it pickles as the path and unpickles as the
    table, read into memory and the file deleted. A megabyte chunk through a pipe costs the
    receiving parent ~1.8 ms of CPU (``multiprocessing`` reads it 64 KB at a time into fresh
    buffers); through a file in memory (``/dev/shm``), ~0.5 ms."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return _from_file, (self.path,)


def _from_ipc(data: bytes):
    import pyarrow as pa

    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def _from_file(path: str):
    import pyarrow as pa

    with pa.OSFile(path, "rb") as f:
        data = f.read_buffer()
    os.unlink(path)
    return pa.ipc.open_stream(data).read_all()


def transfer_folder() -> Optional[str]:
    """A new folder in shared memory (``/dev/shm``) for chunks on their way from the workers
    to the parent, or None where there is none; ``build`` removes it when it is done."""
    import tempfile

    if not (os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)):
        return None
    try:
        return tempfile.mkdtemp(prefix="cadmus-build-", dir="/dev/shm")
    except OSError:
        return None


def dataset_dict(tables: dict, hashes: dict):
    """The ``DatasetDict`` of the splits' Arrow tables (in memory: ``cadmus data build`` saves it),
    each split's fingerprint the start of its content hash."""
    from datasets import Dataset, DatasetDict, DatasetInfo
    from datasets.table import InMemoryTable

    from .render import features

    feats = features()
    return DatasetDict({s: Dataset(InMemoryTable(table), info=DatasetInfo(features=feats), split=s,
                                   fingerprint=hashes[s][:16]) for s, table in tables.items()})
