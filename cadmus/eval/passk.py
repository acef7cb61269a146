"""The unbiased pass@k estimator (Chen et al. 2021, human-eval) and its aggregation.

For a problem with ``n`` samples of which ``c`` pass, ``pass@k = 1 - C(n-c, k) / C(n, k)``:
the probability that at least one of ``k`` samples drawn without replacement passes. It is
computed as the product ``1 - prod_{i=n-c+1..n} (1 - k/i)``, which never forms the (huge)
binomials. ``k > n`` is an error: the estimator is undefined there, and reporting 1.0 or the
pass@n instead would silently inflate a table.
"""
from __future__ import annotations

from typing import Iterable, Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with ``n`` samples, ``c`` of them correct."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem, got n={n}")
    if n - c < k:  # every k-subset holds a correct sample
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def mean_pass_at_k(counts: Iterable[tuple], ks: Sequence[int]) -> dict:
    """``{"pass@k": mean over problems}`` for ``counts`` = ``(n, c)`` per problem.

    ``k`` values larger than the smallest ``n`` raise (see :func:`pass_at_k`)."""
    counts = list(counts)
    out = {}
    for k in ks:
        values = [pass_at_k(n, c, k) for n, c in counts]
        out[f"pass@{k}"] = sum(values) / len(values) if values else float("nan")
    return out


def parse_ks(text: str) -> list:
    """``"1,5,10"`` -> ``[1, 5, 10]`` (sorted, unique, each >= 1)."""
    try:
        ks = sorted({int(part) for part in str(text).split(",") if part.strip()})
    except ValueError as err:
        raise ValueError(f"--k must be comma-separated integers, got {text!r}") from err
    if not ks or ks[0] < 1:
        raise ValueError(f"--k values must be >= 1, got {text!r}")
    return ks
