"""The ``cadmus`` command line.

Each command group lives in the module that does its work and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed
namespace; its return value is the exit code). This file only lists the groups.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .commands import publish

# Modules that provide ``register(subparsers)``, in the order shown by ``cadmus --help``.
# A group whose optional dependencies are missing is skipped with a note, not a crash.
COMMAND_MODULES = [
    "cadmus.quickstart",
    "cadmus.commands.vm",
    "cadmus.data.cli",
    "cadmus.tokenizer_cli",
    "cadmus.train.cli",
    "cadmus.commands.recipes",
    "cadmus.eval.cli",
    "cadmus.instruments.cli",
    "cadmus.hub",
    "cadmus.results",
    "cadmus.commands.complete",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cadmus", description=__doc__.splitlines()[0])
    publish.attach(parser)  # the Hub pushes of `data build` and `train`: data/ and train/ never import it
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name and (err.name == name or name.startswith(err.name + ".")):
                continue  # not written yet in this checkout
            # an optional dependency is missing: keep the rest of the CLI usable
            print(f"cadmus: commands from {name} unavailable ({err})", file=sys.stderr)
            continue
        module.register(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    code = args.func(args)
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
