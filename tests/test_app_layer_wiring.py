"""cadmus.data and cadmus.train import nothing of the app layer (cadmus.hub, the command line):
the Hub pushes of ``data build`` and ``train`` reach them through ``args.publisher``."""
import ast
from pathlib import Path

import pytest

from cadmus.cli import build_parser
from cadmus.commands.publish import HUB

PACKAGE = Path(__file__).resolve().parents[1] / "cadmus"
APP = ("cadmus.hub", "cadmus.cli", "cadmus.commands", "cadmus.quickstart", "cadmus.pipeline")


def imported_modules(path: Path) -> set:
    """Absolute names of the modules a file imports (relative imports resolved)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module) if p)
            names |= {module} | {f"{module}.{a.name}" for a in node.names}
    return names


def test_the_resolver_sees_a_relative_import():
    assert "cadmus.cli" in imported_modules(PACKAGE / "train" / "__main__.py")
    assert "cadmus.resources" in imported_modules(PACKAGE / "data" / "cli.py")


@pytest.mark.parametrize("layer", ["data", "train"])
def test_layer_imports_nothing_of_the_app(layer):
    offending = {}
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        if path.name == "__main__.py":  # `python -m cadmus.train` is an entry point: it runs `cadmus train`
            continue
        bad = sorted(m for m in imported_modules(path) if m.startswith(APP))
        if bad:
            offending[str(path.relative_to(PACKAGE))] = bad
    assert not offending, offending


@pytest.mark.parametrize("argv", [["train", "tiny"], ["data", "build", "tiny", "--out", "d"]])
def test_the_command_line_hands_the_publisher_in(argv):
    assert build_parser().parse_args(argv).publisher is HUB
