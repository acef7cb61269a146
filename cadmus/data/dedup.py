"""Held-out splits new by question: a held-out chunk's records that share a key with an earlier
split are redrawn inside their family, variant and level, or dropped when that group's domain is
exhausted, and every record is tagged ``novelty`` (see :mod:`cadmus.data.heldout`)."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .heldout import KEYS, N_FORBIDDEN, PROGRAM, KeySet, Redrawer, novelty
from .render import columns_to_arrow, to_columns
from .verify import verify_columns


def hold_out(table, keys: np.ndarray, start: int, redrawer: Redrawer, train_programs: KeySet,
             timings: Optional[dict] = None) -> tuple:
    """(table, keys) of a held-out chunk (records ``start...``) with every record that shares a
    key with an earlier split redrawn or, when its domain is exhausted, dropped, and ``novelty``
    tagged. Records are taken in index order (see ``heldout``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    hit = redrawer.forbidden.contains(keys[:, :N_FORBIDDEN]).any(axis=1)
    if not hit.any():
        redrawer.keep_all(keys)
    else:
        family, variant = table.column("family").to_pylist(), table.column("variant").to_pylist()
        level = pc.struct_field(table.column("difficulty"), "level").to_pylist()
        order, records, new_keys = [], [], []
        for i in range(len(table)):
            if not hit[i]:
                redrawer.keep(keys[i])
                order.append(i)
                continue
            got = redrawer.replace(start + i, family[i], variant[i], level[i])
            if got is not None:
                order.append(len(table) + len(records))
                records.append(got[0])
                new_keys.append(got[1])
        if records:
            cols = to_columns(records)
            redrawn = columns_to_arrow(cols)
            verify_columns(cols, redrawer.recipe.fuel, timings, redrawn)
            table = pa.concat_tables([table, redrawn])
        table = table.take(order)
        keys = np.concatenate([keys, np.asarray(new_keys, np.uint64).reshape(-1, len(KEYS))])[order]
    column = pa.array(novelty(keys[:, PROGRAM], train_programs), pa.string())
    return table.set_column(table.schema.get_field_index("novelty"), "novelty", column), keys
