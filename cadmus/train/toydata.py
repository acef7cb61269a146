"""A tiny arith DatasetDict following the dataset contract, for tests and benchmarks.

``python -m cadmus.train.toydata OUT_DIR [N_TRAIN]`` writes one (the real builder is
``cadmus data build``; this one exists so training can be tested on its own).
Programs: ``mov a X / mov b Y / <op> c a b / assert c `` with target the VM-verified result.
"""
from __future__ import annotations

import random
import sys

SPLITS = ("train", "valid", "test", "ood_numbers", "ood_length", "ood_family")
OPS = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y}


def arith_rows(n: int, seed: int, lo: int = 0, hi: int = 99, prefix: str = "r") -> list:
    import cadmus

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        x, y, op = rng.randint(lo, hi), rng.randint(lo, hi), rng.choice(sorted(OPS))
        body = f"mov a {x}\nmov b {y}\n{op} c a b\n"
        target = str(OPS[op](x, y))
        rows.append({
            "id": f"{prefix}{seed}-{i}", "family": "arith", "variant": op,
            "program": body + f"assert c {target}",
            "description": f"# {op} two numbers",
            "completion_prompt": body + "assert c ", "completion_target": target,
            "synthesis_prompt": f"# {op} two numbers\n# -> {target}\n", "synthesis_target": body,
            "execution_prompt": body + "out c\n# output:\n", "execution_target": target,
        })
    status = cadmus.run_batch([r["program"] for r in rows]).status
    assert (status == int(cadmus.Status.OK)).all(), "a toy program failed its own assert"
    return rows


def arith_dataset(n_train: int = 512, n_eval: int = 64, seed: int = 0):
    from datasets import Dataset, DatasetDict

    sizes = {s: (n_train if s == "train" else n_eval) for s in SPLITS}
    return DatasetDict({s: Dataset.from_list(arith_rows(n, seed * 10 + k, prefix=s)) for k, (s, n) in enumerate(sizes.items())})


if __name__ == "__main__":
    out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 512
    arith_dataset(n).save_to_disk(out)
    print(f"wrote {out}")
