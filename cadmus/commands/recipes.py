"""``cadmus recipes``: the shipped recipes by name, with where they are and their first header line.

    cadmus recipes                                   # training, data and accelerate recipes
    cadmus recipes --kind data                       # data recipes only
    cadmus recipes cpu --kind accelerate             # one recipe's path, e.g. for --config_file:
    accelerate launch --config_file "$(cadmus recipes multi_gpu --kind accelerate)" -m cadmus.train small
"""
from __future__ import annotations

import sys

from ..resources import RECIPE_KINDS, ResourceNotFound, find_recipe, package_dir, recipe_names

USE = {"train": "cadmus train NAME", "data": "cadmus data build NAME",
       "accelerate": "accelerate launch --config_file PATH"}


def summary(path) -> str:
    """The recipe's first comment line: what it is for."""
    for line in path.read_text().splitlines():
        if line.startswith("#") and line.strip("# "):
            return line.strip("# ")
    return ""


def listing(kinds) -> str:
    lines = []
    for kind in kinds:
        folder = package_dir(*RECIPE_KINDS[kind])
        lines.append(f"{kind} ({USE[kind]}), in {folder}:")
        names = recipe_names(kind)
        width = max(map(len, names), default=0)
        lines += [f"  {name:<{width}}  {summary(folder / f'{name}.yaml')}" for name in names]
    return "\n".join(lines)


def cmd_recipes(args) -> int:
    if args.name is None:
        print(listing([args.kind] if args.kind else list(RECIPE_KINDS)))
        return 0
    try:
        print(find_recipe(args.name, args.kind or "train"))
    except ResourceNotFound as err:
        print(f"cadmus recipes: {err}", file=sys.stderr)
        return 2
    return 0


def register(sub) -> None:
    p = sub.add_parser("recipes", help="list the shipped recipes (train, data, accelerate), or print one's path")
    p.add_argument("name", nargs="?", help="print this recipe's path (a name of --kind, default train)")
    p.add_argument("--kind", choices=tuple(RECIPE_KINDS), help="only this kind")
    p.set_defaults(func=cmd_recipes)
