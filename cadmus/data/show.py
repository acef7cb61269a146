"""``cadmus data show``: counts per split, family and difficulty, and a few samples of each view."""
from __future__ import annotations

from collections import Counter

from .recipe import SPLITS
from .views import VIEWS


def summary(dd) -> str:
    lines = []
    for split in [s for s in SPLITS if s in dd]:
        table = dd[split].data.table
        fams = Counter(table.column("family").to_pylist())
        diffs = Counter((d["level"]) for d in table.column("difficulty").to_pylist())
        lines.append(f"{split}: {len(dd[split])} records")
        lines.append("  families: " + ", ".join(f"{f} {n}" for f, n in fams.most_common()))
        lines.append("  levels:   " + ", ".join(f"{lv}: {n}" for lv, n in sorted(diffs.items())))
        if split != "train" and "novelty" in table.column_names:  # whether the answer program occurs in train
            novelty = Counter(table.column("novelty").to_pylist())
            lines.append("  novelty:  " + ", ".join(f"{k} {novelty[k]}" for k in ("seen", "novel") if novelty[k]))
    return "\n".join(lines)


def samples(dd, split: str = "train", n: int = 2) -> str:
    ds = dd[split]
    out = []
    for i in range(min(n, len(ds))):
        rec = ds[i * max(1, len(ds) // n)]
        for view in VIEWS:
            prompt, target = rec[f"{view}_prompt"], rec[f"{view}_target"]
            if not prompt:
                continue
            out.append(f"--- {rec['id']} {rec['family']}/{rec['variant']} {view} (prompt, then <<target>>)")
            out.append(f"{prompt}<<{target}>>")
    return "\n".join(out)
