"""Imports flow one way: core <- families <- data <- tokenization, models <- train, eval, generation <- apps.

Every module of the package is parsed with ``ast`` (imports inside functions included, where the
deferred imports hide), each ``cadmus`` import resolved to the unit it names (a top-level module,
or a subpackage as a whole) and checked: a unit may import its own layer or lower ones, never a
higher one, and the units of one layer may not import each other in a circle.
"""
import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cadmus"

LAYERS = [
    ("core", {"cadmus", "isa", "asm", "vm_kernel", "vm", "reference", "judge", "canonical", "schema", "provenance",
              "resources"}),
    ("families", {"families"}),
    ("data", {"data"}),
    ("tokenization/models", {"tokenization", "models"}),
    ("train/eval/generation", {"train", "eval", "generation"}),
    ("apps", {"cli", "quickstart", "hub", "pipeline", "commands", "instruments", "results", "tokenizer_cli",
              "progen", "__main__"}),
]
LAYER_OF = {unit: rank for rank, (_, units) in enumerate(LAYERS) for unit in units}


def unit_of(module: str) -> str:
    """``cadmus.data.builder`` -> ``data``; ``cadmus`` (the package's public API) -> ``cadmus``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "cadmus"


def module_name(path: Path, root: Path = PACKAGE) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_submodule(module: str, root: Path) -> bool:
    path = root.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(path: Path, root: Path = PACKAGE):
    """(line, imported cadmus module, source text) of every import in ``path`` (a file of the
    package at ``root``), at any depth."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    seen = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "cadmus":
                    seen.add((node.lineno, alias.name))
                    yield node.lineno, alias.name, ast.unparse(node)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "cadmus":
                continue
            for alias in node.names:  # ``from . import vm_kernel`` names a module, not a value
                module = f"{target}.{alias.name}"
                module = module if _is_submodule(module, root) else target
                if (node.lineno, module) not in seen:
                    seen.add((node.lineno, module))
                    yield node.lineno, module, ast.unparse(node)


def edges():
    """(file relative to the repository, line, importing unit, imported module, source) of every
    cadmus import between two different units."""
    for path in sorted(PACKAGE.rglob("*.py")):
        # an entry point (``python -m cadmus.train``) is an app wherever it lives: it runs a command
        src = "__main__" if path.name == "__main__.py" else unit_of(module_name(path))
        for line, target, text in imports(path):
            if unit_of(target) != src:
                yield str(path.relative_to(PACKAGE.parent)), line, src, target, text


def test_every_unit_has_a_layer():
    units = {unit_of(module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert not units - set(LAYER_OF), f"units with no layer in {__file__}: {sorted(units - set(LAYER_OF))}"


def test_no_upward_imports():
    upward = []
    for file, line, src, target, text in edges():
        if LAYER_OF.get(unit_of(target), -1) > LAYER_OF.get(src, -1):
            upward.append(f"{file}:{line}: `{text}` ({LAYERS[LAYER_OF[src]][0]} imports "
                          f"{LAYERS[LAYER_OF[unit_of(target)]][0]})")
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def cycles(graph: dict) -> list:
    """The strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_within_a_layer():
    graph, where = defaultdict(set), defaultdict(list)
    for file, line, src, target, text in edges():
        dst = unit_of(target)
        if LAYER_OF.get(src) == LAYER_OF.get(dst):
            graph[src].add(dst)
            where[src, dst].append(f"{file}:{line}: `{text}`")
    found = cycles(graph)
    lines = [w for c in found for (a, b), ws in sorted(where.items()) if a in c and b in c for w in dict.fromkeys(ws)]
    assert not found, f"import cycles within a layer ({[sorted(c) for c in found]}):\n" + "\n".join(lines)


def test_the_checks_catch_an_upward_import_and_a_cycle(tmp_path):
    """The resolver sees relative, deferred and ``from . import`` imports, and the cycle finder a
    circle: without this, a resolver that found nothing would pass every check above."""
    pkg = tmp_path / "cadmus"
    (pkg / "data").mkdir(parents=True)
    for name in ("__init__.py", "vm_kernel.py", "data/__init__.py"):
        (pkg / name).write_text("")
    (pkg / "data" / "x.py").write_text("import numpy\nfrom .. import vm_kernel, run\n\n\n"
                                        "def f():\n    from ..train.data import load\n    import cadmus.eval\n")
    found = [(line, target) for line, target, _ in imports(pkg / "data" / "x.py", pkg)]
    assert found == [(2, "cadmus.vm_kernel"), (2, "cadmus"), (6, "cadmus.train.data"), (7, "cadmus.eval")]
    assert [unit_of(t) for _, t in found] == ["vm_kernel", "cadmus", "train", "eval"]
    assert ("data", "families") in {(src, unit_of(t)) for _, _, src, t, _ in edges()}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert cycles({"a": {"b"}, "b": set()}) == []
