"""Data recipes: YAML files under ``cadmus/recipes/data/`` parsed into dataclasses.

Keys are exactly the dataclass fields below (each documented in its ``help``); an unknown
key is an error naming the key and the file. Ranges are ``[lo, hi]`` inclusive.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, get_args, get_origin, get_type_hints

import yaml

from ..families import Params, names as family_names

from ..schema import SPLITS
MIN_CHALLENGE = 10  # hidden tests per record, at least: room for a family's edge cases and random ones
HELD_OUT_SPLITS = SPLITS[1:]


class RecipeError(ValueError):
    """A recipe that cannot be used; the message names the file and the field."""


@dataclass
class Distribution:
    """The knobs of the training distribution (and the defaults of every split)."""

    levels: list = field(default_factory=lambda: [1, 2, 3], metadata={
        "help": "difficulty levels drawn (arith: operator set and number of operations; random: grammar level)"})
    numbers: list = field(default_factory=lambda: [0, 99], metadata={
        "help": "[lo, hi] range of input values and literal operands (each family clips it to its domain)"})
    lengths: list = field(default_factory=lambda: [1, 8], metadata={
        "help": "[lo, hi] range of array lengths (arrays, count_greater)"})
    ops: Optional[list] = field(default=None, metadata={
        "help": "[lo, hi] number of operations for arith / instructions for random; null: the level's default"})


@dataclass
class SplitSpec:
    """One split: its size and any knob that differs from ``distribution``."""

    size: int = field(default=0, metadata={"help": "number of records"})
    levels: Optional[list] = field(default=None, metadata={"help": "overrides distribution.levels"})
    numbers: Optional[list] = field(default=None, metadata={"help": "overrides distribution.numbers"})
    lengths: Optional[list] = field(default=None, metadata={"help": "overrides distribution.lengths"})
    ops: Optional[list] = field(default=None, metadata={"help": "overrides distribution.ops"})
    mixture: Optional[dict] = field(default=None, metadata={
        "help": "overrides the recipe's mixture (e.g. a curriculum's warm-up family kept out of test)"})


@dataclass
class Recipe:
    """A dataset: family mixture, distribution, held-out families, split sizes and seed."""

    seed: int = field(default=0, metadata={"help": "seed of every record's random generator"})
    mixture: dict = field(default_factory=dict, metadata={
        "help": "family name -> sampling weight; families not listed are not generated"})
    held_out_families: list = field(default_factory=list, metadata={
        "help": "families kept out of train/valid/test/ood_numbers/ood_length; they make up ood_family"})
    distribution: Distribution = field(default_factory=Distribution, metadata={
        "help": "knobs of the training distribution"})
    splits: dict = field(default_factory=dict, metadata={
        "help": f"split name -> SplitSpec; names among {', '.join(SPLITS)}"})
    n_tests: int = field(default=3, metadata={"help": "visible tests per record (in the synthesis prompt)"})
    n_challenge: int = field(default=MIN_CHALLENGE, metadata={
        "help": f"hidden (challenge) tests per record, never in a prompt; at least {MIN_CHALLENGE}: they start "
                "with the family's edge cases"})
    fuel: int = field(default=100_000, metadata={"help": "VM step budget when verifying records"})
    max_attempts: int = field(default=200, metadata={
        "help": "draws per held-out record before giving up when every draw collides with an earlier split"})
    trace_view: bool = field(default=False, metadata={
        "help": "render the trace view (the VM's execution line by line, one traced run per record); "
                "false: its columns are empty"})

    def params(self, split: str) -> Params:
        spec, dist = self.splits[split], self.distribution
        pick = lambda name: getattr(spec, name) if getattr(spec, name) is not None else getattr(dist, name)  # noqa: E731
        ops = pick("ops")
        return Params(tuple(pick("levels")), tuple(pick("numbers")), tuple(pick("lengths")),
                      tuple(ops) if ops is not None else None)

    def families_of(self, split: str) -> dict:
        """name -> weight of the families a split draws from (before feasibility filtering)."""
        held = set(self.held_out_families)
        own = self.splits[split].mixture if split in self.splits else None
        mixture = self.mixture if own is None else own
        if split == "ood_family":
            return {f: w for f, w in mixture.items() if f in held}
        return {f: w for f, w in mixture.items() if f not in held}


# Hand-written rather than HfArgumentParser.parse_dict: that builds flat dataclasses from a dict
# with no type check, while a data recipe nests dataclasses (distribution, splits.NAME) whose
# wrong types must name the file and the dotted key.
def _coerce(tp, value, where: str, source: str):
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise RecipeError(f"{source}: {where} must be a mapping, got {type(value).__name__}")
        return from_dict(tp, value, source, where + ".")
    origin = get_origin(tp)
    if origin is Optional or (origin is not None and type(None) in get_args(tp)):
        if value is None:
            return None
        return _coerce(next(a for a in get_args(tp) if a is not type(None)), value, where, source)
    base = origin or tp
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if base in (int, float, str, list, dict) and (not isinstance(value, base) or isinstance(value, bool) and base is not bool):
        raise RecipeError(f"{source}: {where} must be {base.__name__}, got {value!r}")
    return value


def from_dict(cls, data: dict, source: str = "<recipe>", prefix: str = ""):
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types name the file and key."""
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in known:
            raise RecipeError(f"{source}: unknown key '{prefix}{key}' (known: {', '.join(sorted(known))})")
    kwargs = {k: _coerce(hints[k], v, f"{prefix}{k}", source) for k, v in data.items()}
    return cls(**kwargs)


def _check_range(value, where: str, source: str, lo_min=None):
    if value is None:
        return
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            and value[0] <= value[1]):
        raise RecipeError(f"{source}: {where} must be [lo, hi] integers with lo <= hi, got {value!r}")
    if lo_min is not None and value[0] < lo_min:
        raise RecipeError(f"{source}: {where} must start at {lo_min} or more, got {value!r}")


def _disjoint(a: list, b: list) -> bool:
    return a[1] < b[0] or b[1] < a[0]


def _check_mixture(mixture: dict, where: str, source: str) -> None:
    known = set(family_names())
    for name, w in mixture.items():
        if name not in known:
            raise RecipeError(f"{source}: {where}: unknown family '{name}' (known: {', '.join(family_names())})")
        if not isinstance(w, (int, float)) or isinstance(w, bool) or w < 0:
            raise RecipeError(f"{source}: {where}.{name} must be a weight >= 0, got {w!r}")


def validate(recipe: Recipe, source: str) -> Recipe:
    _check_mixture(recipe.mixture, "mixture", source)
    for name in recipe.held_out_families:
        if name not in recipe.mixture:
            raise RecipeError(f"{source}: held_out_families: '{name}' must also appear in mixture (its weight in ood_family)")
    splits = {}
    for name, spec in recipe.splits.items():
        if name not in SPLITS:
            raise RecipeError(f"{source}: unknown key 'splits.{name}' (known: {', '.join(SPLITS)})")
        splits[name] = _coerce(SplitSpec, spec or {}, f"splits.{name}", source) if isinstance(spec, (dict, type(None))) else spec
    recipe.splits = {name: splits.get(name, SplitSpec()) for name in SPLITS}
    dist = recipe.distribution
    for where, obj in [("distribution", dist), *((f"splits.{n}", s) for n, s in recipe.splits.items())]:
        for key, lo_min in (("numbers", None), ("lengths", 1), ("ops", 1)):
            _check_range(getattr(obj, key), f"{where}.{key}", source, lo_min)
        if not isinstance(getattr(obj, "levels"), (list, type(None))):
            raise RecipeError(f"{source}: {where}.levels must be a list of integers")
    for name, spec in recipe.splits.items():
        if not isinstance(spec.size, int) or spec.size < 0:
            raise RecipeError(f"{source}: splits.{name}.size must be an integer >= 0, got {spec.size!r}")
        if spec.mixture is not None:
            _check_mixture(spec.mixture, f"splits.{name}.mixture", source)
    ood_n, ood_l = recipe.splits["ood_numbers"], recipe.splits["ood_length"]
    if ood_n.size and ood_n.numbers is not None and not _disjoint(ood_n.numbers, dist.numbers):
        raise RecipeError(f"{source}: splits.ood_numbers.numbers {ood_n.numbers} overlaps distribution.numbers {dist.numbers}")
    if ood_l.size and ood_l.lengths is not None and not _disjoint(ood_l.lengths, dist.lengths):
        raise RecipeError(f"{source}: splits.ood_length.lengths {ood_l.lengths} overlaps distribution.lengths {dist.lengths}")
    if not isinstance(recipe.trace_view, bool):
        raise RecipeError(f"{source}: trace_view must be true or false, got {recipe.trace_view!r}")
    if recipe.seed < 0:
        raise RecipeError(f"{source}: seed must be >= 0, got {recipe.seed}")
    if recipe.n_tests < 3:
        raise RecipeError(f"{source}: n_tests must be >= 3, got {recipe.n_tests}")
    if recipe.n_challenge < MIN_CHALLENGE:
        raise RecipeError(f"{source}: n_challenge must be >= {MIN_CHALLENGE} (hidden tests that discriminate: "
                          f"the family's edge cases, then random ones), got {recipe.n_challenge}")
    if recipe.splits["ood_family"].size and not recipe.held_out_families:
        raise RecipeError(f"{source}: splits.ood_family.size > 0 needs held_out_families")
    return recipe


def load_recipe(path, overrides: Optional[dict] = None) -> Recipe:
    """Parse a YAML recipe; ``overrides`` (e.g. ``{"seed": 3}``) replace top-level keys."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise RecipeError(f"cannot read recipe {path}: {err}") from None
    except yaml.YAMLError as err:
        raise RecipeError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe must be a mapping of keys to values")
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return validate(from_dict(Recipe, data, str(path)), str(path))


def recipe_dict(recipe: Recipe) -> dict:
    """The recipe as plain data (for the dataset card), with every default filled in."""
    return dataclasses.asdict(recipe)
