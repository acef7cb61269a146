"""Files shipped inside the package, found by name or by path; the source checkout, when there is one.

The recipes (``cadmus/recipes/``: training recipes ``*.yaml``, data recipes ``data/*.yaml``,
accelerate configs ``accelerate/*.yaml``) and the char tokenizer (``cadmus/tokenizer/``) are
package data: an installed Cadmus finds them through importlib.resources, from any working
directory, with no checkout. ``benchmarks/`` and ``docs/`` are not installed, so the commands
that run or write them (``cadmus bench``, ``cadmus isa --write``) need the checkout and say so.

Core layer: the standard library only.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

# Recipe kind -> its folder inside the package.
RECIPE_KINDS = {"train": ("recipes",), "data": ("recipes", "data"), "accelerate": ("recipes", "accelerate")}
TOKENIZER_NAMES = {"char": ("tokenizer",)}  # the committed tokenizer folder; the variants are built


class ResourceNotFound(FileNotFoundError):
    """Neither a file nor a shipped name; the message lists the shipped names."""


class CheckoutRequired(RuntimeError):
    """A command needs the source checkout (benchmarks/, docs/), which an installed package lacks."""


def package_dir(*parts: str) -> Path:
    """A folder of the imported ``cadmus`` package, on disk."""
    root = resources.files(__package__)
    if not isinstance(root, Path):  # e.g. imported from a zip: recipes must be real files for yaml/accelerate
        raise ResourceNotFound(f"the cadmus package at {root} is not a folder on disk; install it with pip")
    return root.joinpath(*parts)


def recipe_names(kind: str = "train") -> list:
    """The names of the shipped recipes of one kind (``train``, ``data``, ``accelerate``)."""
    return sorted(p.stem for p in package_dir(*RECIPE_KINDS[kind]).glob("*.yaml"))


def find_recipe(arg, kind: str = "train") -> Path:
    """The recipe file ``arg`` names: an existing file wins; otherwise a shipped name (``tiny``,
    ``tiny.yaml``) of ``kind``. Raises :class:`ResourceNotFound` listing the shipped names."""
    if kind not in RECIPE_KINDS:
        raise ValueError(f"unknown recipe kind {kind!r}; choose from {', '.join(RECIPE_KINDS)}")
    path = Path(arg)
    if path.is_file():
        return path
    name = path.name[:-len(".yaml")] if path.name.endswith(".yaml") else path.name
    shipped = package_dir(*RECIPE_KINDS[kind]) / f"{name}.yaml"
    if str(arg) in (name, f"{name}.yaml") and name and shipped.is_file():
        return shipped
    raise ResourceNotFound(f"no {kind} recipe {str(arg)!r}: not a file, nor a shipped name "
                           f"({', '.join(recipe_names(kind))})")


def find_tokenizer(arg=None) -> Path:
    """The tokenizer folder ``arg`` names: an existing folder wins; None or ``char`` is the shipped one."""
    if arg is not None and Path(arg).is_dir():
        return Path(arg)
    parts = TOKENIZER_NAMES.get("char" if arg is None else str(arg))
    if parts is None:
        raise ResourceNotFound(f"no tokenizer folder {str(arg)!r}: not a folder, nor a shipped name "
                               f"({', '.join(TOKENIZER_NAMES)}); `cadmus tokenizer build --kind ... --out DIR` "
                               "writes one")
    return package_dir(*parts)


def checkout_root():
    """The source checkout the package is imported from (the folder holding ``cadmus/``,
    ``setup.cfg`` and ``pyproject.toml``), or None for an installed package."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "setup.cfg").is_file() and (root / "pyproject.toml").is_file() else None


def require_checkout(what: str, folder: str) -> Path:
    """The checkout root, or :class:`CheckoutRequired` naming ``what`` needs the missing ``folder``."""
    root = checkout_root()
    if root is None or not (root / folder).is_dir():
        where = Path(__file__).resolve().parent
        raise CheckoutRequired(f"{what} needs a source checkout of Cadmus: {folder}/ is not installed with the "
                               f"package (imported from {where}); run it from a clone of the repository "
                               "(pip install -e .)")
    return root
