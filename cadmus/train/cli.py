"""``cadmus train RECIPE [--field value ...]``; also ``accelerate launch -m cadmus.train RECIPE``."""
from __future__ import annotations

import sys

USAGE_EPILOG = """recipe keys and flags (CLI flags override the recipe):
{fields}

RECIPE is a file or a shipped name (`cadmus recipes` lists them).

examples:
  cadmus train tiny --dataset_path data/arith --max_steps 200
  cadmus train tiny --resume            # continue from the latest checkpoint
  accelerate launch --config_file cadmus/recipes/accelerate/multi_gpu.yaml -m cadmus.train small
"""


def _field_help() -> str:
    from dataclasses import fields

    from .config import ARG_CLASSES

    lines = []
    for cls in ARG_CLASSES:
        lines.append(f"  [{cls.__name__}]")
        for f in fields(cls):
            lines.append(f"    --{f.name:<28} {f.metadata.get('help', '')}")
    return "\n".join(lines)


def cmd_train(args) -> int:
    from ..resources import find_recipe
    from ..tokenization import AlphabetError
    from . import config
    from .checkpoints import CheckpointError
    from .data import DatasetError
    from .trainer import RecipeError, train

    try:
        recipe = find_recipe(args.recipe, "train")
        margs, dargs, targs = config.parse(recipe, args.overrides)
    except (FileNotFoundError, ValueError) as err:  # unknown name, unreadable recipe, unknown key, bad value
        print(f"cadmus train: error: {err}", file=sys.stderr)
        return 2
    # the Hub belongs to the app layer (cadmus.commands.publish), which passes its publisher in the arguments
    if targs.push_to_hub and not args.publisher.can_push("train", targs.push_to_hub):
        return 2
    try:
        final = train(margs, dargs, targs, recipe_path=recipe)
    except (DatasetError, RecipeError, CheckpointError, AlphabetError, FileNotFoundError) as err:
        print(f"cadmus train: error: {err}", file=sys.stderr)
        return 2
    print("cadmus train: done: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                               for k, v in final.items() if v is not None))
    return args.publisher.push_model(targs.output_dir, targs.push_to_hub) if targs.push_to_hub else 0


def register(sub) -> None:
    import argparse

    p = sub.add_parser(
        "train", help="train a GPT-2 model from a recipe (CPU, one GPU, or `accelerate launch`)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=USAGE_EPILOG.format(fields=_field_help()),
    )
    p.add_argument("recipe", help="recipe: a YAML file, or a shipped name such as tiny (list: cadmus recipes)")
    p.add_argument("overrides", nargs=argparse.REMAINDER, help="--field value pairs overriding the recipe")
    p.set_defaults(func=cmd_train)
