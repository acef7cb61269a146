"""Contamination audit of a built dataset (MBPP's question, answered by construction and measured).

Per view (completion, synthesis, execution) and per pair of splits:

* **exact duplicates**: distinct full texts (prompt + target) that occur in both splits, and
  how many records of the later split carry one. Any such duplicate fails the audit.
* **n-gram overlap**: for a sample of each held-out split's records, the share of the
  record's whitespace-token n-grams that also occur in (a sample of) train; reported as the
  mean share and the share of records whose every n-gram occurs in train. Programs of one
  family share most of their n-grams by design; this measures it.

Separately, **shared programs**: held-out records whose bare ``program`` text equals a train
record's (expected within a family whose program does not depend on constants: the same
program with other inputs), per split and family. Reported, never a failure.
"""
from __future__ import annotations

import hashlib
from collections import Counter

from .recipe import SPLITS
from .views import VIEWS


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _view_texts(ds, view: str) -> list:
    table = ds.data.table
    prompts = table.column(f"{view}_prompt").to_pylist()
    targets = table.column(f"{view}_target").to_pylist()
    return [p + t for p, t in zip(prompts, targets)]


def _spread(n: int, k: int) -> list:
    """``k`` evenly spaced indices of ``range(n)`` (all when k >= n): a deterministic sample."""
    if k >= n:
        return list(range(n))
    return [i * n // k for i in range(k)]


def _ngrams(text: str, n: int) -> set:
    toks = text.split()
    return {" ".join(toks[i:i + n]) for i in range(len(toks) - n + 1)} or ({" ".join(toks)} if toks else set())


def exact_duplicates(dd, splits) -> dict:
    """view -> {"A|B": {"texts": distinct shared texts, "records": records of B with one}}."""
    out = {}
    for view in VIEWS:
        digests = {s: [_digest(t) for t in _view_texts(dd[s], view) if t] for s in splits}
        sets = {s: set(d) for s, d in digests.items()}
        pairs = {}
        for i, a in enumerate(splits):
            for b in splits[i + 1:]:
                shared = sets[a] & sets[b]
                pairs[f"{a}|{b}"] = {"texts": len(shared), "records": sum(d in shared for d in digests[b])}
        out[view] = pairs
    return out


def ngram_overlap(dd, splits, n: int, sample: int, train_sample: int) -> dict:
    """view -> split -> {"mean": mean share of n-grams seen in train, "all_seen": share of records}."""
    out = {}
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


def shared_programs(dd, splits) -> dict:
    """split -> {"records": n, "total": len, "by_family": {family: n}} for held-out records
    whose bare program text also appears in train."""
    train = set(dd["train"].data.table.column("program").to_pylist())
    out = {}
    for s in splits:
        if s == "train":
            continue
        table = dd[s].data.table
        programs = table.column("program").to_pylist()
        families = table.column("family").to_pylist()
        hits = Counter(f for p, f in zip(programs, families) if p in train)
        out[s] = {"records": sum(hits.values()), "total": len(programs), "by_family": dict(sorted(hits.items()))}
    return out


def audit(dd, n: int = 8, sample: int = 1000, train_sample: int = 20000) -> dict:
    """The audit report (plain data, JSON-ready); ``report["ok"]`` is False on any exact duplicate."""
    splits = [s for s in SPLITS if s in dd]
    dups = exact_duplicates(dd, splits)
    ok = all(p["texts"] == 0 for pairs in dups.values() for p in pairs.values())
    return {"ok": ok, "exact_duplicates": dups,
            "ngram_overlap": {"n": n, "sample": sample, "train_sample": train_sample,
                              "by_view": ngram_overlap(dd, splits, n, sample, train_sample)},
            "shared_programs": shared_programs(dd, splits)}


def format_audit(report: dict) -> str:
    """A plain-text summary (markdown-friendly) of :func:`audit`'s report."""
    lines = [f"audit: {'PASS' if report['ok'] else 'FAIL'} (exact cross-split duplicate views: "
             f"{sum(p['texts'] for v in report['exact_duplicates'].values() for p in v.values())})", ""]
    lines.append("exact duplicates (distinct shared view texts / records of the second split), nonzero pairs only:")
    nonzero = [(v, pair, c) for v, pairs in report["exact_duplicates"].items() for pair, c in pairs.items() if c["texts"]]
    lines += [f"  {v:<10} {pair:<24} {c['texts']} / {c['records']}" for v, pair, c in nonzero] or ["  none"]
    ng = report["ngram_overlap"]
    lines += ["", f"{ng['n']}-gram overlap with train (sample {ng['sample']} per split, train sample {ng['train_sample']}):",
              f"  {'view':<10} {'split':<12} {'mean':>6} {'all_seen':>9}"]
    for view, per_split in ng["by_view"].items():
        for s, r in per_split.items():
            lines.append(f"  {view:<10} {s:<12} {r['mean']:>6.3f} {r['all_seen']:>9.3f}")
    lines += ["", "held-out records whose bare program text also appears in train:"]
    for s, r in report["shared_programs"].items():
        fams = ", ".join(f"{f} {c}" for f, c in sorted(r["by_family"].items(), key=lambda x: -x[1])[:6])
        lines.append(f"  {s:<12} {r['records']:>7} / {r['total']:<7} {fams}")
    return "\n".join(lines)
