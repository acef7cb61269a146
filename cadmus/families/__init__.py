"""Task families: generators of true programs, each with an independent Python oracle.

``FAMILIES`` is built on first use (``registry()``); ``get(name)`` returns one family.
Every family turns ``(Draws, Params, n_cases, count)`` into a batch of :class:`Task` (see ``base``);
``variant=`` forces one variant, ``n_visible=`` splits the cases into visible and hidden tests
(the hidden ones start with ``family.edge_cases(params)``, see ``edges``).
Groups, one module each: ``arith`` (straight-line arithmetic, and ``copy``: the register look-up
alone, a curriculum's first phase), ``scalar`` (loops and branches), ``arrays`` (arrays in
memory), ``calls`` (recursion with call/ret), ``parametric`` (a constant of the task in the
description and the program) and ``random_programs`` (the ``random`` grammar family).
Each module's docstring gives its input/output conventions.
"""
from __future__ import annotations

from functools import lru_cache

from .base import Draws, Family, Params, Task, wrap

GROUP_MODULES = ("arith", "scalar", "arrays", "calls", "parametric", "random_programs")


@lru_cache(maxsize=None)
def registry() -> dict:
    """name -> Family, in a fixed order (groups as above, families as each module lists them)."""
    import importlib

    out = {}
    for module in GROUP_MODULES:
        for fam in importlib.import_module(f"{__name__}.{module}").families():
            out[fam.name] = fam
    return out


def names() -> list:
    return list(registry())


def get(name: str) -> Family:
    try:
        return registry()[name]
    except KeyError:
        raise KeyError(f"unknown task family {name!r}; known: {', '.join(registry())}") from None


__all__ = ["Draws", "Family", "Params", "Task", "get", "names", "registry", "wrap"]
