"""``cadmus probe``: linear probes on every layer's hidden states of an inspection folder.

A probe for a target is fitted on one split's rows (``--train-split``) layer by layer and
scored on the other splits, so the table answers questions such as "at which layer does the
answer become linearly decodable, and does that hold on ood_numbers?".

Targets (rows: the tokens of the inspection that carry one):

* ``value`` (regression, R^2): a register operand's value as its line reads or writes it;
* ``last_digit``, ``sign``, ``magnitude`` (classification, accuracy): of that value, with
  magnitude = the number of decimal digits of |value| (``6+`` above five);
* ``answer`` (regression, R^2): the prompt's answer, at its last token (where the model must
  produce the answer's first token);
* ``opcode`` (classification, accuracy): the line's mnemonic, at the tokens of its operands.

Probes are closed-form ridge regression (numpy) for regression targets and L2-regularised
multinomial logistic regression (full-batch L-BFGS in torch) for classification targets.
Features are standardised with the training rows' statistics. The regularisation strength is
chosen on a held-out fifth of the training prompts, then the probe is refitted on all of
them. Classes absent from the training split can never be predicted: on an OOD split
that is part of what the score measures.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

RIDGE_GRID = (1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4)  # on standardised features
LOGISTIC_GRID = (1e-4, 1e-3, 1e-2)  # L2 weight on the mean cross-entropy
DEFAULT_THRESHOLD = 0.9
SMALL_PROBLEM = 1_000_000  # feature-matrix entries below which a logistic fit uses one thread


class ProbeError(ValueError):
    """Bad arguments or an inspection that cannot be probed (the message says which)."""


# ---------------------------------------------------------------- targets

def _digits(v: int) -> str:
    n = len(str(abs(int(v))))
    return str(n) if n <= 5 else "6+"


@dataclass(frozen=True)
class Target:
    name: str
    kind: str  # "regression" or "classification"
    columns: tuple  # the inspection columns it reads
    rows: Callable  # column dict, row i -> whether the row carries the target
    label: Callable  # column dict, row i -> the label


def _reg(c, i):
    return c["role"][i] == "register" and c["value"][i] is not None


def _last(c, i):
    return c["is_last"][i] and c["answer"][i] is not None


TARGETS = {t.name: t for t in (
    Target("value", "regression", ("role", "value"), _reg, lambda c, i: float(c["value"][i])),
    Target("last_digit", "classification", ("role", "value"), _reg, lambda c, i: str(abs(c["value"][i]) % 10)),
    Target("sign", "classification", ("role", "value"), _reg, lambda c, i: str(int(np.sign(c["value"][i])))),
    Target("magnitude", "classification", ("role", "value"), _reg, lambda c, i: _digits(c["value"][i])),
    Target("answer", "regression", ("is_last", "answer"), _last, lambda c, i: float(c["answer"][i])),
    # what the model emits first (a digit or "-") and the units digit, at the prompt's last token
    Target("answer_first", "classification", ("is_last", "answer"), _last, lambda c, i: str(c["answer"][i])[0]),
    Target("answer_last_digit", "classification", ("is_last", "answer"), _last,
           lambda c, i: str(abs(c["answer"][i]) % 10)),
    Target("opcode", "classification", ("slot", "opcode"),
           lambda c, i: c["slot"][i] >= 1 and c["opcode"][i] != "", lambda c, i: c["opcode"][i]),
)}
METRIC = {"regression": "R^2", "classification": "accuracy"}


@dataclass
class Rows:
    """One split's rows for a target: features per layer, labels, prompt numbers."""

    hidden: np.ndarray  # (rows, layers, n_embd) float32
    labels: list
    prompts: np.ndarray


def select_rows(ds, target: Target, families: Optional[Sequence[str]] = None,
                max_rows: Optional[int] = None, seed: int = 0) -> Rows:
    """The rows of ``ds`` (one inspection split) that carry ``target``."""
    names = sorted({*target.columns, "prompt", "family"})
    cols = {k: list(ds[k]) for k in names}
    keep = [i for i in range(len(ds)) if target.rows(cols, i) and (not families or cols["family"][i] in families)]
    if max_rows is not None and len(keep) > max_rows:
        keep = sorted(np.random.default_rng(seed).choice(keep, max_rows, replace=False).tolist())
    if not keep:
        return Rows(np.zeros((0, 0, 0), np.float32), [], np.zeros(0, np.int64))
    hidden = np.asarray(ds.select(keep).with_format("numpy", columns=["hidden"])[:]["hidden"], np.float32)
    return Rows(hidden, [target.label(cols, i) for i in keep], np.asarray([cols["prompt"][i] for i in keep]))


# ---------------------------------------------------------------- probes

@dataclass
class Standardizer:
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> "Standardizer":
        x = x.astype(np.float64)
        std = x.std(0)
        return cls(x.mean(0), np.where(std > 1e-8, std, 1.0))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float64) - self.mean) / self.scale


def r2(y: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination against the mean of ``y`` itself (1 perfect, 0 the mean)."""
    ss = float(((y - y.mean()) ** 2).sum())
    return float("nan") if ss == 0 else 1.0 - float(((y - pred) ** 2).sum()) / ss


def ridge_path(x: np.ndarray, y: np.ndarray, lambdas: Sequence[float]) -> list:
    """Ridge weights (with intercept) for every lambda from one eigendecomposition of x'x:
    (x'x + lambda I)^-1 x'y = V diag(1 / (s + lambda)) V' x'y on centred data."""
    xm, ym = x.mean(0), y.mean(0)
    xc, yc = x - xm, y - ym
    s, v = np.linalg.eigh(xc.T @ xc)
    proj = v.T @ (xc.T @ yc)
    out = []
    for lam in lambdas:
        w = v @ (proj / (np.maximum(s, 0) + lam)[:, None])
        out.append((w, ym - xm @ w))
    return out


@dataclass
class RidgeProbe:
    w: np.ndarray
    b: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (x @ self.w + self.b)[:, 0]


def fit_logistic(x: np.ndarray, y: np.ndarray, n_classes: int, l2: float, max_iter: int = 100):
    """Multinomial logistic regression by full-batch L-BFGS: (weights, bias)."""
    import torch

    xt, yt = torch.as_tensor(x), torch.as_tensor(y, dtype=torch.long)
    w = torch.zeros((x.shape[1], n_classes), dtype=xt.dtype, requires_grad=True)
    b = torch.zeros(n_classes, dtype=xt.dtype, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ w + b, yt) + l2 * (w ** 2).sum()
        loss.backward()
        return loss

    threads = torch.get_num_threads()
    # small problems run 20x faster on one thread (measured: 400 x 33 rows, 8 classes, 2 cores)
    if x.size < SMALL_PROBLEM:
        torch.set_num_threads(1)
    try:
        opt.step(closure)
    finally:
        torch.set_num_threads(threads)
    return w.detach().numpy(), b.detach().numpy()


@dataclass
class LogisticProbe:
    w: np.ndarray
    b: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (x @ self.w + self.b).argmax(1)


def _holdout(prompts: np.ndarray, seed: int = 0) -> np.ndarray:
    """A mask of the rows of a fifth of the prompts (all rows of a prompt stay together)."""
    unique = np.unique(prompts)
    if len(unique) < 5:
        return np.zeros(len(prompts), bool)
    held = np.random.default_rng(seed).choice(unique, max(1, len(unique) // 5), replace=False)
    return np.isin(prompts, held)


def fit_probe(kind: str, x: np.ndarray, y: np.ndarray, prompts: np.ndarray, n_classes: int = 0):
    """The probe for standardised features ``x``, its strength chosen on held-out prompts:
    (probe, chosen strength)."""
    held = _holdout(prompts)
    if kind == "regression":
        grid = RIDGE_GRID
        if held.any():
            fits = ridge_path(x[~held], y[~held, None], grid)
            lam = grid[int(np.nanargmax([r2(y[held], RidgeProbe(*f).predict(x[held])) for f in fits]))]
        else:
            lam = 1.0
        return RidgeProbe(*ridge_path(x, y[:, None], [lam])[0]), lam
    grid = LOGISTIC_GRID
    if held.any():
        accs = [(LogisticProbe(*fit_logistic(x[~held], y[~held], n_classes, l2)).predict(x[held]) == y[held]).mean()
                for l2 in grid]
        l2 = grid[int(np.argmax(accs))]
    else:
        l2 = grid[1]
    return LogisticProbe(*fit_logistic(x, y, n_classes, l2)), l2


def score(kind: str, probe, x: np.ndarray, y: np.ndarray) -> float:
    pred = probe.predict(x)
    return r2(y, pred) if kind == "regression" else float((pred == y).mean())


# ---------------------------------------------------------------- a target over layers and splits

SCALES = ("linear", "slog")


def _encode(kind: str, labels: list, classes: list, scale: str = "linear") -> np.ndarray:
    if kind == "regression":
        y = np.asarray(labels, np.float64)
        # slog: sign(v) log10(1 + |v|), for values spanning many orders of magnitude (factorial,
        # wrapped int64 arithmetic), where a few huge values would dominate a linear R^2
        return np.sign(y) * np.log10(1 + np.abs(y)) if scale == "slog" else y
    index = {c: i for i, c in enumerate(classes)}
    return np.asarray([index.get(c, -1) for c in labels], np.int64)  # -1: unseen in training, never right


def _baseline(kind: str, train_y: np.ndarray, y: np.ndarray) -> float:
    """The score of a constant guess: the training mean (R^2) or majority class (accuracy)."""
    if not len(y):
        return float("nan")
    if kind == "regression":
        return r2(y, np.full(len(y), train_y.mean()))
    return float((y == np.bincount(train_y).argmax()).mean())


def probe_target(target: Target, train: Rows, evals: dict, scale: str = "linear") -> list:
    """Result rows {target, metric, layer, split, score, baseline, n, strength} per layer and
    split (the training split scored on its own rows, in-sample). ``scale`` applies to
    regression targets (see :data:`SCALES`)."""
    if len(train.labels) < 2:
        raise ProbeError(f"target {target.name}: {len(train.labels)} training rows; inspect more prompts")
    kind = target.kind
    classes = sorted(set(train.labels)) if kind == "classification" else []
    y_train = _encode(kind, train.labels, classes, scale)
    splits = {"(train)": (train, y_train)}
    splits.update({name: (rows, _encode(kind, rows.labels, classes, scale)) for name, rows in evals.items()})
    out = []
    for layer in range(train.hidden.shape[1]):
        std = Standardizer.fit(train.hidden[:, layer])
        probe, strength = fit_probe(kind, std(train.hidden[:, layer]), y_train, train.prompts, len(classes))
        for name, (rows, y) in splits.items():
            s = score(kind, probe, std(rows.hidden[:, layer]), y) if len(y) else float("nan")
            out.append({"target": target.name, "metric": METRIC[kind], "layer": layer, "split": name,
                        "score": _round(s), "baseline": _round(_baseline(kind, y_train, y)), "n": int(len(y)),
                        "strength": strength})
    return out


def _round(x: float) -> Optional[float]:
    return None if x != x else round(float(x), 4)


def first_layer(results: list, target: str, split: str, threshold: float) -> Optional[int]:
    """The first layer at which ``target`` scores at least ``threshold`` on ``split``."""
    for r in sorted((r for r in results if r["target"] == target and r["split"] == split), key=lambda r: r["layer"]):
        if r["score"] is not None and r["score"] >= threshold:
            return r["layer"]
    return None


def verdicts(results: list, threshold: float) -> list:
    """One sentence per target and evaluation split: where it becomes decodable, if anywhere."""
    lines = []
    for target in dict.fromkeys(r["target"] for r in results):
        rows = [r for r in results if r["target"] == target]
        metric = rows[0]["metric"]
        for split in dict.fromkeys(r["split"] for r in rows if r["split"] != "(train)"):
            layer = first_layer(results, target, split, threshold)
            best = max((r for r in rows if r["split"] == split and r["score"] is not None),
                       key=lambda r: r["score"], default=None)
            if layer is not None:
                lines.append(f"{target}: linearly decodable on {split} from layer {layer} "
                             f"({metric} >= {threshold}; best {best['score']:.3f} at layer {best['layer']})")
            elif best is not None:
                lines.append(f"{target}: not linearly decodable on {split} at any layer "
                             f"(best {metric} {best['score']:.3f} at layer {best['layer']} < {threshold})")
            else:
                lines.append(f"{target}: no rows on {split}")
    return lines


# ---------------------------------------------------------------- reports

def markdown(results: list, threshold: float, meta: dict) -> str:
    out = [f"# Linear probes on {meta.get('source', 'an inspection')}", "",
           f"Probes fitted on split `{meta['train_split']}` ({', '.join(meta.get('families') or []) or 'all families'}), "
           f"layer 0 = embeddings; `(train)` is in-sample; regression targets on a {meta.get('scale', 'linear')} "
           f"scale. Threshold {threshold}.", ""]
    out += [f"- {line}" for line in verdicts(results, threshold)]
    for target in dict.fromkeys(r["target"] for r in results):
        rows = [r for r in results if r["target"] == target]
        splits = list(dict.fromkeys(r["split"] for r in rows))
        layers = sorted({r["layer"] for r in rows})
        by = {(r["layer"], r["split"]): r for r in rows}
        out += ["", f"## {target} ({rows[0]['metric']})", "",
                "| layer | " + " | ".join(f"{s} (n={by[(0, s)]['n']})" for s in splits) + " |",
                "|---:|" + "---:|" * len(splits)]
        for layer in layers:
            out.append(f"| {layer} | " + " | ".join(_fmt(by[(layer, s)]["score"]) for s in splits) + " |")
        out.append("| constant | " + " | ".join(_fmt(by[(0, s)]["baseline"]) for s in splits) + " |")
    return "\n".join(out) + "\n"


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def plot(results: list, path, threshold: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = list(dict.fromkeys(r["target"] for r in results))
    cols = min(3, len(targets))
    rows_n = -(-len(targets) // cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(5 * cols, 4 * rows_n), squeeze=False)
    for ax in axes.flat[len(targets):]:
        ax.axis("off")
    for ax, target in zip(axes.flat, targets):
        rows = [r for r in results if r["target"] == target]
        for split in dict.fromkeys(r["split"] for r in rows):
            pts = sorted((r["layer"], r["score"]) for r in rows if r["split"] == split and r["score"] is not None)
            if pts:
                ax.plot(*zip(*pts), marker="o", linestyle="--" if split == "(train)" else "-", label=split)
        ax.axhline(threshold, color="grey", linestyle=":", linewidth=1)
        ax.set_title(f"{target} ({rows[0]['metric']})")
        ax.set_xlabel("layer (0 = embeddings)")
        # a probe that extrapolates badly can score R^2 far below 0: the axis stops at -1
        low = min([0.0, *(r["score"] for r in rows if r["score"] is not None)])
        ax.set_ylim(max(-1.0, low) - 0.02, 1.02)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(str(path), dpi=120)
    plt.close(fig)


def run_probes(dd, targets: Sequence[str], train_split: str, eval_splits: Sequence[str],
               families: Optional[Sequence[str]] = None, max_rows: Optional[int] = None,
               scale: str = "linear") -> list:
    """Every target's results over layers and splits of an inspection ``DatasetDict``."""
    if scale not in SCALES:
        raise ProbeError(f"unknown scale {scale!r}; choose from {', '.join(SCALES)}")
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise ProbeError(f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    missing = [s for s in (train_split, *eval_splits) if s not in dd]
    if missing:
        raise ProbeError(f"split(s) {', '.join(missing)} not in the inspection (it has {', '.join(dd)}); "
                         "inspect them with `cadmus inspect ... --split`")
    results = []
    for name in targets:
        target = TARGETS[name]
        train = select_rows(dd[train_split], target, families, max_rows)
        evals = {s: select_rows(dd[s], target, families, max_rows) for s in eval_splits}
        results += probe_target(target, train, evals, scale)
    return results


def write(results: list, out, threshold: float, meta: dict) -> None:
    """probe.json, probe.md and probe.png in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    doc = {**meta, "threshold": threshold, "verdicts": verdicts(results, threshold), "results": results}
    (out / "probe.json").write_text(json.dumps(doc, indent=2) + "\n")
    (out / "probe.md").write_text(markdown(results, threshold, meta))
    plot(results, out / "probe.png", threshold)
