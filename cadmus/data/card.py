"""The dataset card (README.md in the output directory): recipe, counts, hashes, conventions, audit."""
from __future__ import annotations

from collections import Counter

import yaml

from ..families import registry
from .audit import format_audit
from .ood_check import PER_GROUP
from .recipe import SPLITS, recipe_dict
from .views import __doc__ as VIEWS_DOC

DIFFICULTY = """`difficulty` is `{level, size}` for every family:

* `arith`: level 1 = one `add`/`sub`; 2 = two or three of `add`/`sub`/`mul`; 3 = three to six
  including `div`/`mod`/`min`/`max` (a recipe's `ops` range replaces the count); size = number of operations;
* `random`: level = grammar level 1..3, size = instructions in the program;
* array families and `count_greater`: level = decimal digits of the largest |value| in the record's
  cases, size = the longest array among them;
* every other family: level = decimal digits of the largest |input| in the record's cases,
  size = instructions in the program."""


def counts_table(dd) -> str:
    fams = sorted({f for s in SPLITS for f in dd[s].data.table.column("family").to_pylist()})
    per = {s: Counter(dd[s].data.table.column("family").to_pylist()) for s in SPLITS}
    head = "| family | " + " | ".join(SPLITS) + " |\n|---|" + "---:|" * len(SPLITS)
    rows = [f"| {f} | " + " | ".join(str(per[s].get(f, 0)) for s in SPLITS) + " |" for f in fams]
    total = "| **total** | " + " | ".join(str(len(dd[s])) for s in SPLITS) + " |"
    return "\n".join([head, *rows, total])


def conventions() -> str:
    return "\n".join(f"* `{name}` ({fam.group}): {fam.doc}; variants: "
                     f"{', '.join(t.variant for t in fam.templates) or 'generated, see ' + type(fam).__module__}"
                     for name, fam in registry().items())


def _percent(part: int, total: int) -> str:
    return f"{100 * part / total:.1f}%" if total else "-"


def independence(report: dict, info) -> str:
    """The card's section on how independent the held-out splits are (numbers from the audit)."""
    held = [s for s, nov in report["novelty"].items()
            if nov["seen"] + nov["novel"] or report.get("dropped", {}).get(s, {}).get("dropped")]
    rows = ["| split | records | repeating train (view or question) | shared questions | seen | novel | seen share "
            "| dropped |", "|---|" + "---:|" * 7]
    for s in held:
        nov, pair = report["novelty"][s], f"train|{s}"
        total = nov["seen"] + nov["novel"]
        drop = report.get("dropped", {}).get(s, {}).get("dropped", 0)
        rows.append(f"| {s} | {total} | {report['repeating_records'][pair]} | {report['shared_questions'][pair]['records']} "
                    f"| {nov['seen']} | {nov['novel']} | {_percent(nov['seen'], total)} | {drop} |")
    fams = sorted({f for s in held for f in report["novelty"][s]["by_family"]})
    novelty_rows = ["| family | " + " | ".join(held) + " |", "|---|" + "---:|" * len(held)]
    for f in fams:
        cells = []
        for s in held:
            c = report["novelty"][s]["by_family"].get(f)
            cells.append(f"{_percent(c['seen'], c['seen'] + c['novel'])} of {c['seen'] + c['novel']}" if c else "")
        novelty_rows.append(f"| {f} | " + " | ".join(cells) + " |")
    dropped = [f"* `{s}`: {r['dropped']} of {r['requested']} ({', '.join(f'{g} {n}' for g, n in r['by_group'].items())})"
               for s, r in report.get("dropped", {}).items() if r["dropped"]] or ["* none"]
    ood = info.ood_check
    ood_line = (f"{ood['candidates']} distinct canonical programs of the training families (at most {PER_GROUP} per "
                f"family and variant) ran on {ood['records']} `ood_family` records (at most {PER_GROUP} per family and variant), "
                f"visible and hidden tests: none passes every test of a record." if ood.get("candidates")
                else "no `ood_family` records or no training programs: nothing to check.")
    return f"""A held-out record never repeats an earlier split under another spelling: no canonical view text
(the view with registers renamed in order of first use, `cadmus.canonical`) and no question (family,
variant, canonical program, first visible input: what the completion and execution prompts ask) of
valid, test or an OOD split occurs in an earlier split. A record that would repeat one was redrawn in
its family, variant and level ({', '.join(f'{s} {n}' for s, n in info.redrawn.items())}); where a
family's domain had no unseen question left, the record was dropped rather than repeated, so these
splits can be smaller than the recipe asks. The audit below recomputes all of this from the data.

{chr(10).join(rows)}

`novelty`: "seen" when the record's canonical answer program also occurs in train (a template family
has one program per variant once registers are renamed, so its synthesis answers are mostly seen: the
task is then to pick the right program from the description and tests), "novel" otherwise; "" in
train. Seen share per family and split:

{chr(10).join(novelty_rows)}

Records dropped because their (family/variant/level) domain was exhausted:

{chr(10).join(dropped)}

ood_family check: {ood_line}"""


def mix_table(report: dict) -> str:
    """Family shares per split: in the data, and (in brackets) what the recipe's weights give."""
    mix = report.get("mix") or {}
    if not mix:
        return "(no recipe: mix not measured)"
    splits = list(mix)
    fams = sorted({f for m in mix.values() for f in m["family"]})
    rows = ["| family | " + " | ".join(splits) + " |", "|---|" + "---:|" * len(splits)]
    for f in fams:
        cells = [f"{100 * m['family'][f]['final']:.1f}% ({100 * m['family'][f]['recipe']:.1f}%)" if f in m["family"] else ""
                 for m in mix.values()]
        rows.append(f"| {f} | " + " | ".join(cells) + " |")
    rows.append("| **distance** (family / variant / level, vs first draws) | " + " | ".join(
        f"{m['tvd']['family_vs_drawn']:.3f} / {m['tvd']['variant_vs_drawn']:.3f} / {m['tvd']['level_vs_drawn']:.3f}"
        for m in mix.values()) + " |")
    return "\n".join(rows)


# The card's body (a Jinja template for huggingface_hub.DatasetCard); the YAML front matter comes
# from DatasetCardData.
TEMPLATE = """---
{{ card_data }}
---
# {{ pretty_name }}

Generated by `{{ command }}`: every record is a program in the Cadmus DSL v1, verified in the VM
against an independent Python oracle on all its tests. Load with
`datasets.load_from_disk(DIR)` or `cadmus.data.load_dataset_dir(DIR)`.

## Counts per split and family

{{ counts }}

Families each split draws from (a family is left out of `ood_numbers` when its domain lies inside
the training number range, and out of `ood_length` unless it has a length knob whose range there
lies wholly outside its training range):

{{ families }}

## Independence of the held-out splits

{{ independence }}

Mix per split: the share of each family in the data and, in brackets, its share by the recipe's
weights; the last row is the total variation distance of the family, family/variant and
family/level mix from the split's first draws (before anything was held out: only dropped
records move it).

{{ mix }}

## Content hashes (sha256)

Same recipe and seed give the same hashes, whatever the number of worker processes.

{{ hashes }}

## Columns

`id`, `family`, `variant`, `difficulty` ({level, size}), `description` ("" for `random`),
`program` (canonical, bare: reads inputs with `in`, writes outputs with `out`), `true_program`
(the self-contained form for the first visible test), `tests` (visible) and `challenge_tests`
(hidden, never in a prompt), each a list of `{"input": [int], "output": [int]}`, `split`,
`novelty` ("seen" or "novel" in held-out splits, see above; "" in train), and the views
`completion_prompt`/`_target`, `synthesis_prompt`/`_target`, `execution_prompt`/`_target`,
`trace_prompt`/`_target` ({{ trace }}).

{{ difficulty }}

## Views
{{ views }}
## Family conventions (inputs in this order on the input tape; outputs as written by `out`)

{{ conventions }}

## Audit

```
{{ audit }}
```

## Recipe

```yaml
{{ recipe }}
```
"""


def render_card(dd, recipe, info, hashes: dict, report: dict, command: str) -> str:
    from huggingface_hub import DatasetCard, DatasetCardData

    data = DatasetCardData(pretty_name="Cadmus true programs", license="mit", task_categories=["text-generation"],
                           tags=["program-synthesis", "cadmus", "synthetic"])
    card = DatasetCard.from_template(
        data, template_str=TEMPLATE, command=command, counts=counts_table(dd),
        families="\n".join(f"* `{s}`: {', '.join(info.families[s])}" for s in SPLITS),
        independence=independence(report, info), mix=mix_table(report),
        hashes="\n".join(f"* `{k}`: `{v}`" for k, v in hashes.items()),
        trace="rendered" if recipe.trace_view else "empty: the recipe does not set `trace_view: true`",
        difficulty=DIFFICULTY, views=VIEWS_DOC.split("\n", 1)[1], conventions=conventions(),
        audit=format_audit(report), recipe=yaml.safe_dump(recipe_dict(recipe), sort_keys=False).strip())
    return str(card).rstrip("\n") + "\n"
