"""Attention heads scored on named patterns (``cadmus inspect --heads``).

A pattern names, for some query tokens of a prompt, the key tokens a head doing that job
would attend to:

* ``lookup``: from a register a line reads (a source operand) to the tokens of the nearest
  earlier line that writes that register: where its value was set;
* ``lookup_next``: the same look-up from the token right after the read register;
* ``previous_token``: from every token but the first to the token before it;
* ``same_register``: from a register token to the previous mention of the same register;
* ``answer_source``: from the prompt's last token, where the answer is predicted, to the literals
  the asserted value is computed from (followed back through the lines that wrote each register
  it reads): the look-up a model that never attends from the operand tokens does at the answer.

A head's score on a pattern is its attention mass on the pattern's keys, averaged over the
pattern's queries in every prompt; ``uniform`` is what attention spread evenly over the
visible tokens would score. A head is *detected* for a pattern when its score is at least
``threshold`` and at least ``ratio`` times the uniform score: nothing is told where to look.

The same scores are also kept per *reading line*: the queries grouped by the mnemonic of the line
they sit on (``assert``, ``mov``, ``add``, ...). A trained model may look a register up with one
head where an ``assert`` reads it and with others inside arithmetic lines; averaged over all
queries such a head sits near uniform, while within its group it stands out. A head detected in a
group of at least ``MIN_GROUP_QUERIES`` queries is listed as e.g. ``L0H15 (assert)``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from .annotate import writer_lines

DEFAULT_THRESHOLD = 0.6  # well over half: a head split evenly between the right line and one other scores 0.5
DEFAULT_RATIO = 2.0  # and twice what uniform attention would put there
MIN_GROUP_QUERIES = 20  # fewer queries in a line group and its score is noise


def lookup(tokens) -> tuple:
    cols, n = tokens.columns, len(tokens.ids)
    lines = tokens.chars.lines
    writers = writer_lines(lines)
    line, start = np.asarray(cols["line"]), np.asarray(cols["char_start"])
    target, queries = np.zeros((n, n), bool), np.zeros(n, bool)
    for q in range(n):
        if cols["role"][q] != "register" or "read" not in cols["access"][q]:
            continue
        w = writers.get((cols["line"][q], cols["register"][q]))
        if w is None:
            continue
        keys = (line == w) & (start < lines[w].end)  # the writing line's tokens, its newline excluded
        keys[q:] = False
        if keys.any():
            target[q], queries[q] = keys, True
    return target, queries


def lookup_next(tokens) -> tuple:
    """The look-up one token later: from the token that follows the read register (a causal
    model may fetch the value once the register's name is complete, e.g. at the space of
    ``assert d ``, where the answer is predicted) to the same writing line."""
    target, queries = lookup(tokens)
    n = len(queries)
    shifted_t, shifted_q = np.zeros_like(target), np.zeros_like(queries)
    shifted_t[1:], shifted_q[1:] = target[:-1], queries[:-1]
    return shifted_t, shifted_q & (np.arange(n) >= 1)


def previous_token(tokens) -> tuple:
    n = len(tokens.ids)
    target = np.eye(n, k=-1, dtype=bool)
    queries = np.arange(n) >= 1
    return target, queries


def same_register(tokens) -> tuple:
    cols, n = tokens.columns, len(tokens.ids)
    target, queries = np.zeros((n, n), bool), np.zeros(n, bool)
    last = {}
    for q in range(n):
        if cols["role"][q] != "register":
            continue
        reg = cols["register"][q]
        if reg in last:
            target[q, last[reg]], queries[q] = True, True
        last[reg] = q
    return target, queries


def answer_source(tokens) -> tuple:
    cols, n = tokens.columns, len(tokens.ids)
    lines = tokens.chars.lines
    writers = writer_lines(lines)
    target, queries = np.zeros((n, n), bool), np.zeros(n, bool)
    if n == 0:
        return target, queries
    sources, todo = set(), [cols["line"][n - 1]]
    while todo:  # the data flow into the last line, back to the lines that load literals
        line = todo.pop()
        for reg in lines[line].reads:
            w = writers.get((line, reg))
            if w is not None and w not in sources:
                sources.add(w)
                todo.append(w)
    keys = np.array([cols["role"][k] == "literal" and cols["line"][k] in sources for k in range(n)])
    if keys.any():
        target[n - 1], queries[n - 1] = keys, True
    return target, queries


PATTERNS: dict = {"lookup": lookup, "lookup_next": lookup_next, "previous_token": previous_token,
                  "same_register": same_register, "answer_source": answer_source}


@dataclass
class Example:
    """One prompt kept whole for the heatmap."""

    tokens: list
    attentions: np.ndarray  # (layer, head, query, key)
    targets: dict  # pattern -> (target matrix, query mask)


@dataclass
class HeadScores:
    """Running sums of attention mass per pattern and head over the prompts seen."""

    n_layer: int
    n_head: int
    patterns: dict = field(default_factory=lambda: dict(PATTERNS))
    example_index: int = 0  # which prompt (in the order seen) to keep for the heatmap
    mass: dict = field(default_factory=dict)
    uniform: dict = field(default_factory=dict)
    queries: dict = field(default_factory=dict)
    by_line: dict = field(default_factory=dict)  # (pattern, mnemonic) -> [mass, uniform, queries]
    prompts: int = 0
    example: Optional[Example] = None

    def __post_init__(self):
        for name in self.patterns:
            self.mass[name] = np.zeros((self.n_layer, self.n_head))
            self.uniform[name] = 0.0
            self.queries[name] = 0

    def add(self, tokens, attentions: np.ndarray) -> None:
        """Score one prompt: ``attentions`` is (layer, head, query, key) over its tokens."""
        n = attentions.shape[-1]
        visible = np.arange(1, n + 1)  # keys a causal query sees
        targets = {}
        for name, pattern in self.patterns.items():
            target, q = pattern(tokens)
            targets[name] = (target, q)
            if not q.any():
                continue
            on_target = (attentions[:, :, q, :] * target[q][None, None]).sum(-1)  # (layer, head, queries)
            uniform = target[q].sum(-1) / visible[q]
            self.mass[name] += on_target.sum(-1)
            self.uniform[name] += float(uniform.sum())
            self.queries[name] += int(q.sum())
            mnemonics = np.asarray([op or "-" for op in tokens.columns["opcode"]], dtype=object)[q]
            for mnemonic in sorted(set(mnemonics)):
                sel = mnemonics == mnemonic
                acc = self.by_line.setdefault((name, mnemonic), [np.zeros((self.n_layer, self.n_head)), 0.0, 0])
                acc[0] += on_target[:, :, sel].sum(-1)
                acc[1] += float(uniform[sel].sum())
                acc[2] += int(sel.sum())
        if self.prompts == self.example_index:
            self.example = Example(list(tokens.columns["token"]), attentions.copy(), targets)
        self.prompts += 1

    def scores(self) -> dict:
        """pattern -> (layer, head) mean attention mass on the pattern's keys (NaN: no query)."""
        return {name: self.mass[name] / self.queries[name] if self.queries[name] else
                np.full((self.n_layer, self.n_head), np.nan) for name in self.patterns}

    def uniform_scores(self) -> dict:
        return {name: self.uniform[name] / self.queries[name] if self.queries[name] else float("nan")
                for name in self.patterns}

    def detected(self, threshold: float = DEFAULT_THRESHOLD, ratio: float = DEFAULT_RATIO) -> dict:
        """pattern -> heads (``L{layer}H{head}``, best first) that do the pattern's job."""
        out, uniform = {}, self.uniform_scores()
        for name, s in self.scores().items():
            ok = (s >= threshold) & (s >= ratio * uniform[name])
            order = sorted(zip(*np.nonzero(ok)), key=lambda lh: -s[lh])
            out[name] = [head_name(int(layer), int(h)) for layer, h in order]
        return out


    def line_groups(self, min_queries: int = MIN_GROUP_QUERIES) -> dict:
        """(pattern, mnemonic) -> (scores (layer, head), uniform, queries), for the groups of at
        least ``min_queries`` queries."""
        return {key: (mass / n, uniform / n, n) for key, (mass, uniform, n) in sorted(self.by_line.items())
                if n >= min_queries}

    def detected_by_line(self, threshold: float = DEFAULT_THRESHOLD, ratio: float = DEFAULT_RATIO,
                         min_queries: int = MIN_GROUP_QUERIES) -> dict:
        """pattern -> heads detected within one reading-line group, ``L0H15 (assert)``, best first."""
        out = {name: [] for name in self.patterns}
        for (name, mnemonic), (s, uniform, _) in self.line_groups(min_queries).items():
            ok = (s >= threshold) & (s >= ratio * uniform)
            out[name] += [(float(s[lh]), f"{head_name(int(lh[0]), int(lh[1]))} ({mnemonic})")
                          for lh in zip(*np.nonzero(ok))]
        return {name: [label for _, label in sorted(found, key=lambda x: -x[0])] for name, found in out.items()}


def head_name(layer: int, head: int) -> str:
    return f"L{layer}H{head}"


def report(scores: HeadScores, threshold: float = DEFAULT_THRESHOLD, ratio: float = DEFAULT_RATIO) -> dict:
    """The JSON report: per head and pattern the score, the uniform baseline, the detections."""
    s, uniform = scores.scores(), scores.uniform_scores()
    heads = {}
    for layer in range(scores.n_layer):
        for h in range(scores.n_head):
            heads[head_name(layer, h)] = {name: _num(s[name][layer, h]) for name in scores.patterns}
    groups = [{"pattern": name, "line": mnemonic, "queries": n, "uniform": _num(u),
               "best": [[head_name(*divmod(int(k), scores.n_head)), _num(s_g.flat[k])]
                        for k in np.argsort(-np.nan_to_num(s_g, nan=-1), axis=None)[:3]]}
              for (name, mnemonic), (s_g, u, n) in scores.line_groups().items()]
    return {"prompts": scores.prompts, "queries": dict(scores.queries),
            "uniform": {k: _num(v) for k, v in uniform.items()}, "threshold": threshold, "ratio": ratio,
            "detected": scores.detected(threshold, ratio), "heads": heads,
            "min_group_queries": MIN_GROUP_QUERIES, "line_groups": groups,
            "detected_by_line": scores.detected_by_line(threshold, ratio)}


def _num(x) -> Optional[float]:
    return None if np.isnan(x) else round(float(x), 4)


def markdown(rep: dict) -> str:
    names = list(rep["uniform"])
    head = "| head | " + " | ".join(names) + " |"
    lines = [f"Attention mass on each pattern's keys, mean over {rep['prompts']} prompts "
             f"(queries: {', '.join(f'{k} {v}' for k, v in rep['queries'].items())}).",
             f"Detected: score >= {rep['threshold']} and >= {rep['ratio']} x uniform (marked *).", "",
             head, "|---|" + "---:|" * len(names)]
    for hname, row in rep["heads"].items():
        cells = [_cell(row[n], hname in rep["detected"][n]) for n in names]
        lines.append(f"| {hname} | " + " | ".join(cells) + " |")
    lines.append("| uniform | " + " | ".join(_cell(rep["uniform"][n], False) for n in names) + " |")
    lines += [""] + [f"- {n}: {', '.join(rep['detected'][n]) or 'no head'}" for n in names]
    if rep.get("line_groups"):
        lines += ["", f"By reading line (queries grouped by their line's mnemonic; groups of at least "
                      f"{rep['min_group_queries']} queries):", "",
                  "| pattern | line | queries | uniform | best heads |", "|---|---|---:|---:|---|"]
        for g in rep["line_groups"]:
            best = ", ".join(f"{h} {v:.3f}" for h, v in g["best"] if v is not None)
            lines.append(f"| {g['pattern']} | {g['line']} | {g['queries']} | {_cell(g['uniform'], False)} | {best} |")
        lines += [""] + [f"- {n} within a line group: {', '.join(rep['detected_by_line'][n]) or 'no head'}"
                         for n in names]
    return "\n".join(lines) + "\n"


def _cell(x, mark: bool) -> str:
    return "-" if x is None else f"{x:.3f}" + (" *" if mark else "")


def _label(tok: str) -> str:
    return {"\n": "\\n", " ": "_"}.get(tok, tok)


def plot(scores: HeadScores, path) -> None:
    """Left: heads x patterns scores. Then, for each pattern, its best head's attention on the
    kept prompt, the pattern's keys marked with dots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = scores.scores()
    names = list(scores.patterns)
    table = np.stack([s[n].reshape(-1) for n in names], axis=1)  # (heads, patterns)
    ex = scores.example
    panels = 1 + (len(names) if ex is not None else 0)
    cols = min(2, panels)
    rows = -(-panels // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(7 * cols, 6.5 * rows), squeeze=False)
    for ax in axes.flat[panels:]:
        ax.axis("off")
    ax = axes.flat[0]
    im = ax.imshow(np.nan_to_num(table), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(table.shape[0]), [head_name(*divmod(i, scores.n_head)) for i in range(table.shape[0])])
    for (i, j), v in np.ndenumerate(table):
        if not np.isnan(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.6 else "black")
    ax.set_title("mean attention on pattern keys")
    fig.colorbar(im, ax=ax, fraction=0.05)
    if ex is not None:
        labels = [_label(t) for t in ex.tokens]
        every = max(1, len(labels) // 60)  # keep tick labels legible on long prompts
        ticks = list(range(0, len(labels), every))
        for ax, name in zip(axes.flat[1:], names):
            best = np.unravel_index(np.nanargmax(np.nan_to_num(s[name], nan=-1)), s[name].shape)
            ax.imshow(ex.attentions[best], vmin=0, vmax=1, cmap="Greys")
            target, q = ex.targets[name]
            ys, xs = np.nonzero(target & q[:, None])
            ax.scatter(xs, ys, s=4, c="red", marker="o", alpha=0.6)
            ax.set_title(f"{name}: best head {head_name(*map(int, best))} (score {s[name][best]:.2f}); "
                         "red: pattern keys", fontsize=9)
            ax.set_xticks(ticks, [labels[i] for i in ticks], fontsize=5)
            ax.set_yticks(ticks, [labels[i] for i in ticks], fontsize=5)
            ax.set_xlabel("key")
            ax.set_ylabel("query")
    fig.tight_layout()
    fig.savefig(str(path), dpi=120)
    plt.close(fig)


def write(scores: HeadScores, out, threshold: float = DEFAULT_THRESHOLD, ratio: float = DEFAULT_RATIO) -> dict:
    """heads.json, heads.md and heads.png in ``out``; returns the report."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rep = report(scores, threshold, ratio)
    (out / "heads.json").write_text(json.dumps(rep, indent=2) + "\n")
    (out / "heads.md").write_text(markdown(rep))
    plot(scores, out / "heads.png")
    return rep
