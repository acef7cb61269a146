"""Contamination audit of a built dataset: how independent each held-out split is, in numbers,
measured from the written data (it reads nothing the builder kept about keys or redraws).

Per pair of splits (an earlier one, a later one):

* **canonical duplicates**, per view: distinct canonical view texts (``cadmus.canonical``:
  registers renamed in order of first use, so a renamed copy of a train row counts) in both
  splits, and the records of the later split carrying one; exact (byte) duplicates are shown
  too. Any canonical duplicate fails the audit.
* **shared questions**: records of the later split whose question (family, variant, canonical
  program, first visible input: what the completion and execution prompts ask) occurs in the
  earlier split. Any fails the audit.

Per held-out split:

* **novelty**: records whose canonical answer program occurs in train ("seen") or not
  ("novel"), per family; recomputed here and compared with the ``novelty`` column (a mismatch
  fails the audit).
* **mix**: the family, family/variant and family/level shares against what the recipe draws
  (``recipe``: its family weights, and the split's first draws regenerated from the recipe),
  as total variation distances (0: the same mix); redraws keep a record's family, variant and
  level, so only dropped records move it.
* **dropped**: records drawn but not kept because their family's domain had no unseen question
  left (from ``build_info.json``, checked against the split's size); each is a warning.
* **n-gram overlap** with train, on a sample: programs of one family share most n-grams by design.
"""
from __future__ import annotations

import hashlib
from collections import Counter

from ..canonical import canonical_programs
from .recipe import SPLITS
from .views import VIEWS

MIX_DRAWS = 20_000  # first draws per split regenerated for the mix


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _column(table, name: str) -> list:
    return table.column(name).to_pylist()


def _view_texts(ds, view: str) -> list:
    table = ds.data.table
    return [p + t for p, t in zip(_column(table, f"{view}_prompt"), _column(table, f"{view}_target"))]


def _first_inputs(table) -> list:
    import pyarrow.compute as pc

    if not len(table):
        return []
    first = pc.list_element(table.column("tests").combine_chunks(), 0)
    return [" ".join(map(str, x)) for x in pc.struct_field(first, "input").to_pylist()]


def split_keys(ds) -> dict:
    """Digests per record of a split: each view's exact and canonical full text ("" -> None),
    the question, and the canonical program (for novelty)."""
    table = ds.data.table
    out = {}
    for view in VIEWS:
        texts = _view_texts(ds, view)
        out[f"{view}_exact"] = [_digest(t) if t else None for t in texts]
        out[view] = [_digest(c) if t else None for t, c in zip(texts, canonical_programs(texts))]
    programs = canonical_programs(_column(table, "program"))
    questions = zip(_column(table, "family"), _column(table, "variant"), _first_inputs(table), programs)
    out["question"] = [_digest("\n".join(q)) for q in questions]
    out["program"] = [_digest(p) for p in programs]
    return out


def _shared(a: list, b: list) -> dict:
    """{"texts": distinct digests in both lists, "records": items of ``b`` with one}."""
    common = set(filter(None, a)) & set(filter(None, b))
    return {"texts": len(common), "records": sum(d in common for d in b)}


def duplicates(keys: dict, splits: list) -> tuple:
    """(canonical duplicates per view and pair, exact duplicates per view and pair, shared
    questions per pair, records of the later split repeating any canonical view or the question
    per pair), pairs named ``"A|B"`` with A before B in ``SPLITS``."""
    pairs = [(a, b) for i, a in enumerate(splits) for b in splits[i + 1:]]
    canonical = {v: {f"{a}|{b}": _shared(keys[a][v], keys[b][v]) for a, b in pairs} for v in VIEWS}
    exact = {v: {f"{a}|{b}": _shared(keys[a][f"{v}_exact"], keys[b][f"{v}_exact"]) for a, b in pairs} for v in VIEWS}
    questions = {f"{a}|{b}": _shared(keys[a]["question"], keys[b]["question"]) for a, b in pairs}
    kinds = [*VIEWS, "question"]
    repeating = {}
    for a, b in pairs:
        earlier = {k: set(keys[a][k]) for k in kinds}
        rows = zip(*(keys[b][k] for k in kinds))
        repeating[f"{a}|{b}"] = sum(any(d is not None and d in earlier[k] for k, d in zip(kinds, row)) for row in rows)
    return canonical, exact, questions, repeating


def novelty(dd, keys: dict, splits: list) -> dict:
    """split -> {"seen", "novel", "column_mismatches", "by_family": {family: {"seen", "novel"}}}."""
    train = set(keys["train"]["program"])
    out = {}
    for s in splits:
        if s == "train":
            continue
        table = dd[s].data.table
        seen = [p in train for p in keys[s]["program"]]
        column = _column(table, "novelty") if "novelty" in table.column_names else [None] * len(seen)
        by_family = {}
        for fam, is_seen in zip(_column(table, "family"), seen):
            counts = by_family.setdefault(fam, {"seen": 0, "novel": 0})
            counts["seen" if is_seen else "novel"] += 1
        out[s] = {"seen": sum(seen), "novel": len(seen) - sum(seen),
                  "column_mismatches": sum(c != ("seen" if x else "novel") for c, x in zip(column, seen)),
                  "by_family": dict(sorted(by_family.items()))}
    return out


def _shares(counter: Counter) -> dict:
    total = sum(counter.values())
    return {k: v / total for k, v in counter.items()} if total else {}


def tvd(p: dict, q: dict) -> float:
    """Total variation distance of two distributions given as {category: share}."""
    return round(0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q)), 4)


def _mix_counts(rows) -> dict:
    """Counters of family, family/variant and family/level over (family, variant, level) rows."""
    rows = list(rows)
    return {"family": Counter(f for f, _, _ in rows), "variant": Counter(f"{f}/{v}" for f, v, _ in rows),
            "level": Counter(f"{f}/{lv}" for f, _, lv in rows)}


def first_draws(recipe, split: str, size: int, limit: int = MIX_DRAWS) -> list:
    """(family, variant, level) of the split's first ``min(size, limit)`` draws, regenerated from
    the recipe exactly as the builder draws them before holding anything out."""
    from ..families.base import Draws
    from .draw import CHUNK, chunk_seed, generate_chunk, make_plans

    plan = make_plans(recipe)[split]
    n, rows = min(size, limit), []
    for start in range(0, n, CHUNK):
        length = min(CHUNK, recipe.splits[split].size - start)
        tasks = generate_chunk(plan, recipe, Draws(chunk_seed(recipe.seed, split, start // CHUNK)), length)
        rows += [(t.family, t.variant, t.level) for t in tasks[:min(CHUNK, n - start)]]
    return rows


def mix(dd, recipe, sizes: dict, splits: list, limit: int = MIX_DRAWS) -> dict:
    """split -> {"family": {family: {"recipe", "drawn", "final"} shares}, "tvd": {...}, "drawn": n}.
    "final" counts the split's records, "drawn" its first draws (at most ``limit``); the
    distances to the draws compare the same indices (the records of the first ``limit`` draws)."""
    from .draw import make_plans

    plans = make_plans(recipe)
    out = {}
    for s in splits:
        table = dd[s].data.table
        if not len(table):
            continue
        rows = first_draws(recipe, s, sizes.get(s, len(table)), limit)
        index = [int(i.rsplit("-", 1)[1]) for i in _column(table, "id")]
        level = [d["level"] for d in _column(table, "difficulty")]
        records = list(zip(_column(table, "family"), _column(table, "variant"), level))
        final = _shares(Counter(f for f, _, _ in records))
        kept = _mix_counts(r for r, i in zip(records, index) if i < len(rows))
        drawn = _mix_counts(rows)
        weights = recipe.families_of(s)
        expected = _shares(Counter({f.name: weights[f.name] for f in plans[s].families}))
        out[s] = {"family": {f: {"recipe": round(expected.get(f, 0.0), 4), "drawn": round(_shares(drawn["family"]).get(f, 0.0), 4),
                                 "final": round(final.get(f, 0.0), 4)} for f in sorted(set(expected) | set(final))},
                  "tvd": {"family_vs_recipe": tvd(final, expected),
                          **{f"{k}_vs_drawn": tvd(_shares(kept[k]), _shares(drawn[k])) for k in drawn}},
                  "drawn": len(rows)}
    return out


def dropped(dd, build_info: dict, splits: list) -> dict:
    """split -> {"requested", "records", "dropped", "by_group", "exhausted"} (held-out splits)."""
    out = {}
    for s in splits:
        if s == "train":
            continue
        by_group = (build_info.get("dropped") or {}).get(s, {})
        out[s] = {"requested": build_info.get("sizes", {}).get(s, len(dd[s])), "records": len(dd[s]),
                  "dropped": sum(by_group.values()), "by_group": by_group,
                  "exhausted": (build_info.get("exhausted") or {}).get(s, [])}
    return out


def audit(dd, n: int = 8, sample: int = 1000, train_sample: int = 20000, recipe=None,
          build_info: dict = None) -> dict:
    """The audit report (plain data, JSON-ready). ``report["ok"]`` is False on any canonical
    duplicate view, shared question or wrong novelty tag. ``recipe`` (a ``Recipe``) adds the mix
    against the recipe; ``build_info`` (``build_info.json``) the dropped records."""
    splits = [s for s in SPLITS if s in dd]
    keys = {s: split_keys(dd[s]) for s in splits}
    canonical, exact, questions, repeating = duplicates(keys, splits)
    report = {"canonical_duplicates": canonical, "exact_duplicates": exact, "shared_questions": questions,
              "repeating_records": repeating, "novelty": novelty(dd, keys, splits) if "train" in dd else {}}
    report["ok"] = (all(p["texts"] == 0 for pairs in canonical.values() for p in pairs.values())
                    and all(p["texts"] == 0 for p in questions.values())
                    and all(r["column_mismatches"] == 0 for r in report["novelty"].values()))
    if build_info is not None:
        report["dropped"] = dropped(dd, build_info, splits)
    if recipe is not None:
        report["mix"] = mix(dd, recipe, (build_info or {}).get("sizes", {}), splits)
    report["warnings"] = warnings(report)
    report["ngram_overlap"] = {"n": n, "sample": sample, "train_sample": train_sample,
                               "by_view": ngram_overlap(dd, splits, n, sample, train_sample)}
    return report


def warnings(report: dict) -> list:
    out = []
    for s, r in report.get("dropped", {}).items():
        if r["dropped"] or r["records"] < r["requested"]:
            groups = ", ".join(f"{g} {c}" for g, c in sorted(r["by_group"].items(), key=lambda x: -x[1]))
            out.append(f"{s}: {r['requested'] - r['records']} of {r['requested']} records dropped, their domain "
                       f"has no question left that an earlier split lacks ({groups or 'no groups recorded'})")
    for s, r in report["novelty"].items():
        if r["column_mismatches"]:
            out.append(f"{s}: {r['column_mismatches']} records whose novelty column disagrees with the data")
    return out


# --- n-gram overlap (a sample) ---------------------------------------------------------------

def _spread(n: int, k: int) -> list:
    """``k`` evenly spaced indices of ``range(n)`` (all when k >= n): a deterministic sample."""
    if k >= n:
        return list(range(n))
    return [i * n // k for i in range(k)]


def _ngrams(text: str, n: int) -> set:
    toks = text.split()
    return {" ".join(toks[i:i + n]) for i in range(len(toks) - n + 1)} or ({" ".join(toks)} if toks else set())


def ngram_overlap(dd, splits, n: int, sample: int, train_sample: int) -> dict:
    """view -> split -> {"mean": mean share of n-grams seen in train, "all_seen": share of records}."""
    out = {}
    if "train" not in dd:
        return out
    train = dd["train"]
    for view in VIEWS:
        texts = _view_texts(train, view)
        seen = set()
        for i in _spread(len(texts), train_sample):
            seen |= _ngrams(texts[i], n)
        per_split = {}
        for s in splits:
            if s == "train" or len(dd[s]) == 0:
                continue
            held = _view_texts(dd[s], view)
            shares = []
            for i in _spread(len(held), sample):
                grams = _ngrams(held[i], n)
                if grams:
                    shares.append(sum(g in seen for g in grams) / len(grams))
            if shares:
                per_split[s] = {"mean": round(sum(shares) / len(shares), 4),
                                "all_seen": round(sum(x == 1.0 for x in shares) / len(shares), 4),
                                "sampled": len(shares)}
        out[view] = per_split
    return out


# --- the text report ---------------------------------------------------------------------------

def format_audit(report: dict) -> str:
    """A plain-text summary (markdown-friendly) of :func:`audit`'s report."""
    canonical, questions = report["canonical_duplicates"], report["shared_questions"]
    leaked = sum(p["records"] for pairs in canonical.values() for p in pairs.values())
    asked = sum(p["records"] for p in questions.values())
    lines = [f"audit: {'PASS' if report['ok'] else 'FAIL'} (records repeating an earlier split's canonical view "
             f"text: {leaked}; its completion/execution question: {asked})", ""]
    lines.append("canonical duplicates (distinct shared canonical view texts / records of the later split; "
                 "exact byte duplicates after the semicolon), nonzero pairs only:")
    nonzero = [(v, pair, c, report["exact_duplicates"][v][pair]) for v, pairs in canonical.items()
               for pair, c in pairs.items() if c["texts"]]
    lines += [f"  {v:<10} {pair:<24} {c['texts']} / {c['records']}; exact {e['texts']} / {e['records']}"
              for v, pair, c, e in nonzero] or ["  none"]
    lines.append("shared questions (family, variant, canonical program, first input) / records of the later "
                 "split, nonzero pairs only:")
    lines += [f"  {pair:<35} {c['texts']} / {c['records']}" for pair, c in questions.items() if c["texts"]] or ["  none"]
    lines += ["", *independence_table(report)]
    if report["warnings"]:
        lines += ["", *(f"WARNING {w}" for w in report["warnings"])]
    if report.get("mix"):
        lines += ["", "mix against the recipe (total variation distance, 0 = the same mix; drawn = the split's "
                      f"first draws, at most {MIX_DRAWS:,}, before anything is held out):",
                  f"  {'split':<12} {'family~recipe':>13} {'family~drawn':>12} {'variant~drawn':>13} {'level~drawn':>11}"]
        for s, m in report["mix"].items():
            t = m["tvd"]
            lines.append(f"  {s:<12} {t['family_vs_recipe']:>13.4f} {t['family_vs_drawn']:>12.4f} "
                         f"{t['variant_vs_drawn']:>13.4f} {t['level_vs_drawn']:>11.4f}")
    ng = report["ngram_overlap"]
    lines += ["", f"{ng['n']}-gram overlap with train (sample {ng['sample']} per split, train sample {ng['train_sample']}):",
              f"  {'view':<10} {'split':<12} {'mean':>6} {'all_seen':>9}"]
    for view, per_split in ng["by_view"].items():
        for s, r in per_split.items():
            lines.append(f"  {view:<10} {s:<12} {r['mean']:>6.3f} {r['all_seen']:>9.3f}")
    return "\n".join(lines)


def independence_table(report: dict) -> list:
    """Per held-out split: records, repeats of train (canonical views, questions), novelty, drops."""
    questions = report["shared_questions"]
    lines = ["held-out splits against train, in records (repeating = a canonical view text or the question "
             "occurs in train; seen = the canonical answer program does):",
             f"  {'split':<12} {'records':>8} {'repeating':>9} {'questions':>9} {'seen':>7} {'novel':>7} "
             f"{'seen %':>7} {'dropped':>8}"]
    for s, nov in report["novelty"].items():
        pair = f"train|{s}"
        total = nov["seen"] + nov["novel"]
        drop = report.get("dropped", {}).get(s, {}).get("dropped", "?")
        if not total and not drop:
            continue  # a split the recipe leaves empty
        lines.append(f"  {s:<12} {total:>8} {report['repeating_records'][pair]:>9} {questions[pair]['records']:>9} "
                     f"{nov['seen']:>7} {nov['novel']:>7} {100 * nov['seen'] / max(total, 1):>6.1f}% {drop:>8}")
    return lines
