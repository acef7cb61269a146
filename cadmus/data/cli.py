"""``cadmus data build | audit | show``.

    cadmus data build tiny --out /tmp/cadmus-tiny        # a shipped recipe by name (cadmus recipes)
    cadmus data build my_recipe.yaml --out /tmp/mine     # or a file
    cadmus data build --out data/cadmus --seed 1 --limit 1000 --format jsonl
    cadmus data audit /tmp/cadmus-tiny
    cadmus data show /tmp/cadmus-tiny --split test -n 3
"""
from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import Path

DEFAULT_RECIPE = "default"


class DataBuildError(RuntimeError):
    """A recipe, output folder or build problem; ``exit_code`` is the CLI's (2 usage, 1 build)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise DataBuildError(f"{out} exists and is not empty (use --overwrite)", 2)
        if not (out / "dataset_dict.json").exists():
            raise DataBuildError(f"refusing to overwrite {out}: it is not a dataset directory", 2)
        shutil.rmtree(out)


def _export(dd, out: Path, fmt: str) -> None:
    target = out / "export"
    target.mkdir(exist_ok=True)
    for split, ds in dd.items():
        path = target / f"{split}.{fmt}"
        ds.to_json(str(path), lines=True) if fmt == "jsonl" else ds.to_parquet(str(path))
        print(f"wrote {path}")


def build_dataset(recipe: str, out, seed=None, limit=None, workers=None, overwrite: bool = False,
                  quiet: bool = False, audit_sample: int = 1000, audit_train_sample: int = 20000,
                  command: str = None) -> tuple:
    """Build the data ``recipe`` (a file or a shipped name) into ``out``: the DatasetDict, its card
    (README.md), ``audit.json`` and ``build_info.json``. Returns ``(dd, build_info, audit report)``;
    raises :class:`DataBuildError`."""
    from .audit import audit, format_audit
    from .builder import BuildError, build
    from .card import render_card
    from ..resources import ResourceNotFound, find_recipe
    from .recipe import RecipeError, load_recipe, recipe_dict

    out = Path(out)
    if limit is not None and limit < 0:
        raise DataBuildError("--limit must be >= 0", 2)
    try:
        recipe_obj = load_recipe(find_recipe(recipe, "data"), {"seed": seed})
    except (RecipeError, ResourceNotFound) as err:
        raise DataBuildError(str(err), 2) from None
    _prepare_out(out, overwrite)
    if quiet:
        import datasets

        datasets.disable_progress_bars()
    try:
        dd, info = build(recipe_obj, workers=workers, limit=limit, progress=not quiet)
    except (BuildError, RecipeError) as err:
        raise DataBuildError(str(err)) from None
    # An empty split (e.g. no held-out families) would be saved with no shard at all, which
    # load_from_disk cannot read back: give every empty split one (empty) shard.
    dd.save_to_disk(str(out), num_shards={s: 1 for s, d in dd.items() if len(d) == 0} or None)
    hashes = info.hashes
    build_info = {**info.as_dict(), "recipe": recipe_dict(recipe_obj)}
    report = audit(dd, sample=audit_sample, train_sample=audit_train_sample, recipe=recipe_obj,
                   build_info=build_info)
    (out / "README.md").write_text(render_card(dd, recipe_obj, info, hashes, report,
                                               command or f"cadmus data build {recipe} --out {out}"))
    (out / "audit.json").write_text(json.dumps(report, indent=1))
    (out / "build_info.json").write_text(json.dumps(build_info, indent=1))
    n = sum(info.sizes.values())
    print(f"wrote {out}: {n} records in {info.seconds:.1f} s ({n / max(info.seconds, 1e-9):,.0f} records/s, "
          f"{info.workers} workers); sha256 {hashes['all'][:16]}")
    print(format_audit(report))
    return dd, build_info, report


def cmd_build(args) -> int:
    command = "cadmus data " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["data"] else None
    try:
        dd, _, report = build_dataset(args.recipe, args.out, args.seed, args.limit, args.workers, args.overwrite,
                                      args.quiet, args.audit_sample, args.audit_train_sample, command)
    except DataBuildError as err:
        print(f"cadmus data build: {err}", file=sys.stderr)
        return err.exit_code
    out = Path(args.out)
    if args.format:
        _export(dd, out, args.format)
    code = 0 if report["ok"] else 1
    if args.push_to_hub:  # the Hub belongs to the app layer, which passes its publisher in the arguments
        code = args.publisher.push_dataset(out, args.push_to_hub) or code
    return code


def _load(path: str, command: str):
    """The DatasetDict at ``path``, or None after printing why it cannot be loaded."""
    from .io import DatasetDirError, load_dataset_dir

    try:
        return load_dataset_dir(path)
    except DatasetDirError as err:
        print(f"cadmus data {command}: {err}", file=sys.stderr)
        return None


def cmd_audit(args) -> int:
    from .audit import audit, format_audit
    from .io import read_build_info, recipe_of

    dd = _load(args.dir, "audit")
    if dd is None:
        return 2
    info = read_build_info(args.dir)  # the recipe and the dropped records, when the build recorded them
    report = audit(dd, n=args.n, sample=args.sample, train_sample=args.train_sample, recipe=recipe_of(info),
                   build_info=info)
    print(format_audit(report))
    if args.hash:
        report["hash_ok"] = _check_hash(dd, Path(args.dir))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0 if report["ok"] and report.get("hash_ok", True) else 1


def _check_hash(dd, path: Path) -> bool:
    from .builder import content_hashes

    recorded = json.loads((path / "build_info.json").read_text())["hashes"] if (path / "build_info.json").exists() else {}
    actual = content_hashes(dd)
    same = actual == recorded
    print(f"content sha256 {actual['all']}: {'matches' if same else 'DIFFERS FROM'} build_info.json")
    return same


def cmd_show(args) -> int:
    from .show import samples, summary

    dd = _load(args.dir, "show")
    if dd is None:
        return 2
    if args.split not in dd:
        print(f"cadmus data show: no split {args.split!r} (have {', '.join(dd)})", file=sys.stderr)
        return 2
    print(summary(dd))
    print(samples(dd, args.split, args.n))
    return 0


def register(sub) -> None:
    data = sub.add_parser("data", help="build, audit and inspect true-program datasets")
    dsub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    dsub.required = True

    p = dsub.add_parser("build", help="generate a verified dataset from a YAML recipe")
    p.add_argument("recipe", nargs="?", default=DEFAULT_RECIPE,
                   help=f"data recipe: a file, or a shipped name (default {DEFAULT_RECIPE}; list: cadmus recipes)")
    p.add_argument("--out", required=True, help="output directory (datasets.DatasetDict.save_to_disk + README.md)")
    p.add_argument("--seed", type=int, default=None, help="overrides the recipe's seed")
    p.add_argument("--limit", type=int, default=None,
                   help="draw the first N records of every split (smoke runs): train is a prefix of the full "
                        "build's; a held-out split keeps those of its N draws with an unseen question (fewer "
                        "when a family's domain is exhausted; ids keep their index)")
    p.add_argument("--workers", type=int, default=None, help="generator processes (default: all cores)")
    p.add_argument("--format", choices=("jsonl", "parquet"), help="also export every split to DIR/export/")
    p.add_argument("--push-to-hub", metavar="REPO", help="push the DatasetDict to this Hub dataset repository")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset directory")
    p.add_argument("--audit-sample", type=int, default=1000, help="held-out records per split in the n-gram audit")
    p.add_argument("--audit-train-sample", type=int, default=20000, help="train records in the n-gram audit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_build)

    p = dsub.add_parser("audit", help="how independent the held-out splits are: canonical duplicates, shared "
                                      "questions, seen/novel answers, mix against the recipe, dropped records")
    p.add_argument("dir", help="dataset directory")
    p.add_argument("--n", type=int, default=8, help="n-gram length in whitespace tokens")
    p.add_argument("--sample", type=int, default=1000, help="held-out records per split in the n-gram measure")
    p.add_argument("--train-sample", type=int, default=20000, help="train records in the n-gram measure")
    p.add_argument("--json", help="also write the report to this JSON file")
    p.add_argument("--hash", action="store_true", help="recompute the content sha256 and compare with build_info.json")
    p.set_defaults(func=cmd_audit)

    p = dsub.add_parser("show", help="counts per split, family and difficulty, and samples of each view")
    p.add_argument("dir", help="dataset directory")
    p.add_argument("--split", default="train", help="split to take samples from")
    p.add_argument("-n", type=int, default=2, help="records to show")
    p.set_defaults(func=cmd_show)

    from .importer import register as register_import  # `cadmus data import`: hand-written tasks

    register_import(dsub)
