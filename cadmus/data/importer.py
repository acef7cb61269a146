"""``cadmus data import``: hand-written tasks (JSONL) -> a dataset folder like a built one.

    cadmus data import TASKS.jsonl --out DIR [--split test]

One JSON object per line (blank lines are skipped)::

    {"id": str, "description": str, "tests": [{"input": [int...], "output": [int...]}, ...],
     "challenge_tests": [...], "reference": str, "family": str, "level": int}

``id``, ``description`` and ``tests`` (at least one) are required; the rest are optional
(``family`` defaults to ``handwritten``, ``level`` to 1). Any other key is an error, so a typo
(``challenge_test``) never silently drops hidden tests. Every problem names the file, the line
and the field.

The records have the columns and on-disk layout of ``cadmus data build`` (every split present,
the other splits empty), so every ``cadmus eval`` suite, ``cadmus data show`` and ``audit`` read
them unchanged:

* ``program`` is the reference in canonical form (``cadmus.asm.canonical``: labels renamed
  ``L0, L1, ...``, comments and blank lines dropped, as generated programs are written). It is
  verified in the VM on every visible and challenge test at import; a failure is an error naming
  the task id and the test. ``difficulty.size`` is its instruction count.
* The synthesis view exists for every task (its target is "" without a reference); the
  execution view for every task with a reference.
* The completion view needs a *self-contained* true program for the first visible test (no
  input tape, outputs checked by ``assert``), which a free-form reference does not always
  allow. It is made from one run of the reference on that test (:func:`contained_program`):

  - outputs: every ``out`` line must run exactly once and the program's last line must be
    ``out REGISTER``; each becomes ``assert REGISTER VALUE`` in place (the last one is the
    completion question, as in generated programs);
  - inputs: if every ``in`` line runs exactly once, each becomes ``mov REGISTER VALUE`` (the
    families' form); otherwise (reads in a loop), if the program never uses the data stack, the
    inputs are pushed in reverse order at the top and each ``in r`` becomes ``pop r``.

  Anything else (``out`` in a loop or a branch, a stack program reading in a loop) gets no
  completion view: its completion columns are "" and the completion suite skips it. The
  contained program is itself run in the VM and must end OK.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..isa import DEFAULT_FUEL, INT64_MAX, INT64_MIN, MAX_OUTPUTS, REG_NAMES
from .recipe import SPLITS

DEFAULT_FAMILY = "handwritten"
FIELDS = ("id", "description", "tests", "challenge_tests", "reference", "family", "level")
REQUIRED = ("id", "description", "tests")
STACK_SIZE = 256  # the VM's data stack: the most inputs the stack form can hand out
_ID = re.compile(r"[A-Za-z0-9_.:+-]+")
_LINE_TEXT = re.compile(r"[\x20-\x7e]+")  # one line of printable ASCII: what a prompt comment may hold


class TaskFileError(ValueError):
    """A task that cannot be imported; the message names the file, line, task and field."""


@dataclass(frozen=True)
class HandTask:
    """One parsed line of a task file."""

    id: str
    description: str
    tests: list
    challenge_tests: list = field(default_factory=list)
    reference: str = ""
    family: str = DEFAULT_FAMILY
    level: int = 1
    where: str = ""  # "FILE:LINE", for messages


# --- parsing --------------------------------------------------------------------------------

def _ints(value, where: str, name: str, limit: Optional[int] = None) -> list:
    ok = isinstance(value, list) and all(type(v) is int and INT64_MIN <= v <= INT64_MAX for v in value)
    if not ok:
        raise TaskFileError(f"{where}: field {name!r} must be a list of int64 integers, got {json.dumps(value)[:80]}")
    if limit is not None and len(value) > limit:
        raise TaskFileError(f"{where}: field {name!r} has {len(value)} values (at most {limit})")
    return value


def _cases(value, where: str, name: str, required: bool) -> list:
    if not isinstance(value, list):
        raise TaskFileError(f"{where}: field {name!r} must be a list of {{\"input\": [...], \"output\": [...]}}")
    if required and not value:
        raise TaskFileError(f"{where}: field {name!r} is empty (a task needs at least one test)")
    cases = []
    for k, case in enumerate(value):
        item = f"{name}[{k}]"
        if not isinstance(case, dict) or set(case) != {"input", "output"}:
            raise TaskFileError(f"{where}: field {item!r} must be an object with exactly the keys "
                                f"'input' and 'output', got {json.dumps(case)[:80]}")
        cases.append({"input": _ints(case["input"], where, f"{item}.input"),
                      "output": _ints(case["output"], where, f"{item}.output", MAX_OUTPUTS)})
    return cases


def _text(obj: dict, key: str, where: str, pattern, what: str, default: Optional[str] = None) -> str:
    value = obj.get(key, default)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise TaskFileError(f"{where}: field {key!r} must be {what}, got {json.dumps(value)[:80]}")
    return value


def parse_task(line: str, where: str) -> HandTask:
    """One task from one line of JSON; ``where`` ("FILE:LINE") prefixes every error."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise TaskFileError(f"{where}: not valid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(obj, dict):
        raise TaskFileError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    unknown = [k for k in obj if k not in FIELDS]
    if unknown:
        raise TaskFileError(f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(FIELDS)})")
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise TaskFileError(f"{where}: missing field {missing[0]!r}")
    task_id = _text(obj, "id", where, _ID, "a non-empty id of letters, digits and _.:+-")
    where = f"{where} (task {task_id!r})"
    description = _text(obj, "description", where, _LINE_TEXT, "one non-empty line of printable ASCII")
    if description != description.strip():
        raise TaskFileError(f"{where}: field 'description' has leading or trailing spaces")
    reference = obj.get("reference", "")
    if not isinstance(reference, str):
        raise TaskFileError(f"{where}: field 'reference' must be program text, got {json.dumps(reference)[:80]}")
    level = obj.get("level", 1)
    if type(level) is not int or level < 0:
        raise TaskFileError(f"{where}: field 'level' must be an integer >= 0, got {json.dumps(level)}")
    return HandTask(task_id, description, _cases(obj["tests"], where, "tests", True),
                    _cases(obj.get("challenge_tests", []), where, "challenge_tests", False), reference,
                    _text(obj, "family", where, _ID, "a name of letters, digits and _.:+-", DEFAULT_FAMILY),
                    level, where)


def read_tasks(path) -> list:
    """Every task of a JSONL file, in file order; ids must be unique."""
    path = Path(path)
    if not path.is_file():
        raise TaskFileError(f"{path}: no such file")
    tasks, seen = [], {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            task = parse_task(line, f"{path}:{lineno}")
            if task.id in seen:
                raise TaskFileError(f"{path}:{lineno}: field 'id': {task.id!r} already used on line {seen[task.id]}")
            seen[task.id] = lineno
            tasks.append(task)
    if not tasks:
        raise TaskFileError(f"{path}: no tasks")
    return tasks


# --- the reference in the VM ----------------------------------------------------------------

def canonical_reference(task: HandTask) -> str:
    """The reference in canonical form ("" without one); an assembler error names the task."""
    from ..asm import AsmError, canonical

    if not task.reference.strip():
        return ""
    try:
        return canonical(task.reference)
    except AsmError as err:
        raise TaskFileError(f"{task.where}: field 'reference' does not assemble: {err}") from None


def verify_reference(task: HandTask, program: str, fuel: int = DEFAULT_FUEL) -> None:
    """Run ``program`` on every visible and challenge test; raise naming the first failure."""
    import cadmus

    cases = [("tests", k, c) for k, c in enumerate(task.tests)]
    cases += [("challenge_tests", k, c) for k, c in enumerate(task.challenge_tests)]
    width = max(len(c["output"]) for _, _, c in cases) + 1  # room for one surplus output, to see it
    res = cadmus.run_batch([program] * len(cases), inputs=[c["input"] for _, _, c in cases], fuel=fuel,
                           outputs_per_program=width)
    for i, (name, k, case) in enumerate(cases):
        got = res[i]
        if got.status != cadmus.Status.OK or got.outputs != case["output"]:
            raise TaskFileError(f"{task.where}: the reference fails {name}[{k}]: input {case['input']}, "
                                f"expected {case['output']}, got {got.outputs} (status {got.status.name})")


def contained_program(program: str, inputs: list, fuel: int = DEFAULT_FUEL) -> Optional[str]:
    """The self-contained form of ``program`` for one input (see the module docstring), or None
    when the program's shape does not allow one."""
    import cadmus
    from ..isa import BY_MNEMONIC

    lines = program.split("\n")
    last = lines[-1].split()
    if last[0] != "out" or last[1] not in REG_NAMES:
        return None
    tr = cadmus.trace(program, inputs, fuel)
    if tr.result.status != cadmus.Status.OK:
        return None
    insn_line = [i for i, text in enumerate(lines) if not text.endswith(":")]  # pc -> text line
    mnemonic = [lines[i].split()[0] for i in insn_line]
    runs = Counter(tr.pc.tolist())
    in_op, out_op = BY_MNEMONIC["in"].opcode, BY_MNEMONIC["out"].opcode
    if any(runs[pc] != 1 for pc, m in enumerate(mnemonic) if m == "out"):
        return None
    new = list(lines)
    for value, pc in zip(tr.result.outputs, tr.pc[tr.opcode == out_op].tolist()):
        new[insn_line[pc]] = f"assert {lines[insn_line[pc]].split()[1]} {value}"
    in_pcs = [pc for pc, m in enumerate(mnemonic) if m == "in"]
    prologue = []
    if all(runs[pc] == 1 for pc in in_pcs):
        for value, pc in zip(inputs, tr.pc[tr.opcode == in_op].tolist()):
            new[insn_line[pc]] = f"mov {lines[insn_line[pc]].split()[1]} {value}"
    elif "push" not in mnemonic and "pop" not in mnemonic and len(inputs) <= STACK_SIZE:
        prologue = [f"push {v}" for v in reversed(inputs)]
        for pc in in_pcs:
            new[insn_line[pc]] = "pop " + lines[insn_line[pc]].split()[1]
    else:
        return None
    text = "\n".join(prologue + new)
    res = cadmus.run(text, fuel=fuel)
    return text if res.status == cadmus.Status.OK and not res.outputs else None


# --- records --------------------------------------------------------------------------------

def _views(rec: dict) -> dict:
    """The view columns of ``render_views``; the views a task cannot have are "" (module doc)."""
    from .render import VIEW_COLUMNS
    from .views import render_views

    # stand-ins let render_views run whatever its views are; their columns are blanked below
    stand_ins = {"true_program": rec["true_program"] or "assert 0 0", "program": rec["program"] or "nop"}
    views = render_views({**rec, **stand_ins})
    for col in VIEW_COLUMNS:
        if col == "synthesis_prompt":
            continue
        if not rec["program"] or (col.startswith("completion_") and not rec["true_program"]):
            views[col] = ""
    return views


def task_record(task: HandTask, split: str, fuel: int = DEFAULT_FUEL) -> dict:
    """The dataset record of a task, its reference verified (all columns of ``builder.COLUMNS``)."""
    program = canonical_reference(task)
    true_program = ""
    if program:
        verify_reference(task, program, fuel)
        true_program = contained_program(program, task.tests[0]["input"], fuel) or ""
    size = sum(1 for line in program.split("\n") if line and not line.endswith(":"))  # instructions
    rec = {"id": task.id, "family": task.family, "variant": "", "difficulty": {"level": task.level, "size": size},
           "description": task.description, "program": program, "true_program": true_program,
           "tests": task.tests, "challenge_tests": task.challenge_tests, "split": split, "novelty": "novel"}
    rec.update(_views(rec))
    return rec


@dataclass
class ImportInfo:
    source: str
    source_sha256: str
    split: str
    tasks: int
    with_reference: int
    with_completion: int
    hashes: dict = field(default_factory=dict)


def import_tasks(path, split: str = "test", fuel: int = DEFAULT_FUEL) -> tuple:
    """(DatasetDict with every split, the tasks in ``split``; :class:`ImportInfo`)."""
    from datasets import Dataset, DatasetDict

    from ..provenance import dataset_hashes
    from .render import COLUMNS, features

    if split not in SPLITS:
        raise TaskFileError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    records = [task_record(t, split, fuel) for t in read_tasks(path)]
    feats = features()
    empty = {c: [] for c in COLUMNS}
    dd = DatasetDict({s: Dataset.from_dict({c: [r[c] for r in records] for c in COLUMNS} if s == split else empty,
                                           features=feats, split=s) for s in SPLITS})
    info = ImportInfo(str(path), hashlib.sha256(Path(path).read_bytes()).hexdigest(), split, len(records),
                      sum(bool(r["program"]) for r in records), sum(bool(r["true_program"]) for r in records))
    info.hashes = dataset_hashes(dd)
    return dd, info


def render_card(dd, info: ImportInfo, command: str) -> str:
    fams = Counter(dd[info.split]["family"])
    return f"""# Imported hand-written tasks

Imported by `{command}` from `{Path(info.source).name}` (sha256 `{info.source_sha256}`) into split
`{info.split}` (the other splits are empty). Load with `cadmus.data.load_dataset_dir(DIR)`.

* tasks: {info.tasks} ({', '.join(f'{f} {n}' for f, n in fams.most_common())})
* with a reference program (verified in the VM on every visible and challenge test; synthesis
  target, execution view): {info.with_reference}
* with a completion view (a self-contained form of the reference exists): {info.with_completion}
* content sha256 (as `cadmus data audit DIR --hash` recomputes it): `{info.hashes['all']}`

Columns are those of `cadmus data build`; `variant` is "", `novelty` is "novel",
`difficulty.size` is the reference's instruction count. How views are made:

{_VIEWS_DOC}"""


_VIEWS_DOC = "* ``program``" + __doc__.split("* ``program``", 1)[1]  # the module docstring's list


def save_import(dd, info: ImportInfo, out, command: str) -> None:
    out = Path(out)
    dd.save_to_disk(str(out), num_shards={s: 1 for s, d in dd.items() if len(d) == 0} or None)
    (out / "README.md").write_text(render_card(dd, info, command))
    (out / "build_info.json").write_text(json.dumps(
        {"hashes": info.hashes, "sizes": {s: len(d) for s, d in dd.items()}, "source": info.source,
         "source_sha256": info.source_sha256, "with_reference": info.with_reference,
         "with_completion": info.with_completion}, indent=1))


# --- command line ---------------------------------------------------------------------------

def cmd_import(args) -> int:
    import shlex
    import shutil
    import sys

    try:
        dd, info = import_tasks(args.tasks, args.split, args.fuel)
    except TaskFileError as err:
        print(f"cadmus data import: {err}", file=sys.stderr)
        return 1
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        if not args.overwrite or not (out / "dataset_dict.json").exists():
            print(f"cadmus data import: {out} exists and is not empty" + (
                " (use --overwrite)" if not args.overwrite else ": refusing to overwrite what is not a dataset"),
                file=sys.stderr)
            return 2
        shutil.rmtree(out)
    import datasets

    datasets.disable_progress_bars()  # a few records: the save's bars would be all the output
    command = "cadmus data " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if sys.argv[1:2] == ["data"] else \
        f"cadmus data import {args.tasks} --out {args.out}"
    save_import(dd, info, out, command)
    print(f"wrote {out}: {info.tasks} tasks in split {info.split} ({info.with_reference} with a verified reference, "
          f"{info.with_completion} with a completion view); sha256 {info.hashes['all'][:16]}")
    return 0


def register(dsub) -> None:
    """Add ``import`` to the ``cadmus data`` subcommands."""
    p = dsub.add_parser("import", help="hand-written tasks (JSONL) -> a dataset folder every eval suite reads")
    p.add_argument("tasks", help="JSONL file: one task object per line (see cadmus.data.importer)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--split", default="test", choices=SPLITS, help="split the tasks go to (default test)")
    p.add_argument("--fuel", type=int, default=DEFAULT_FUEL, help="instruction budget of each verification run")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset directory")
    p.set_defaults(func=cmd_import)
