"""Head ablation (``cadmus inspect --ablate``): which heads the model's answers depend on.

Each attention head in turn has its output zeroed (its slice of the input to the layer's output
projection, ``attn.c_proj``), and the prompts are scored again: the share whose reference answer
the model still predicts token by token (teacher-forced exact match: every answer token is the
model's argmax given the prompt and the answer's earlier tokens). A head's *drop* is the unablated
score minus its ablated one. Attention patterns say where a head looks; the drop says whether the
answers need it. Heads whose drop is at least ``threshold`` are *needed*.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..eval.prompts import record_prompt
from .heads import head_name
from .inspect import InspectError, Item, encode

DEFAULT_THRESHOLD = 0.1  # a head whose loss costs a tenth of the answers


def answer_rows(items: Sequence[Item], tokenizer, suite: str, max_len: Optional[int] = None) -> list:
    """(prompt ids + answer ids, prompt length) per item, encoded as the evaluator encodes them;
    rows longer than ``max_len`` (the model's positions) are left out."""
    rows = []
    for item in items:
        prompt, answer = record_prompt(suite, item.record)
        ids, _ = encode(tokenizer, prompt)
        answer_ids, _ = encode(tokenizer, answer)
        if answer_ids and (max_len is None or len(ids) + len(answer_ids) <= max_len):
            rows.append((ids + answer_ids, len(ids)))
    return rows


def _projections(model) -> list:
    blocks = getattr(getattr(model, "transformer", None), "h", None)
    if blocks is None or not all(hasattr(getattr(b, "attn", None), "c_proj") for b in blocks):
        raise InspectError("--ablate needs a GPT-2 model (transformer.h[i].attn.c_proj)")
    return [b.attn.c_proj for b in blocks]


@contextmanager
def zeroed_head(model, layer: Optional[int], head: Optional[int]):
    """Within the block, head ``head`` of ``layer`` contributes nothing (``layer=None``: no ablation)."""
    if layer is None:
        yield
        return
    size = model.config.n_embd // model.config.n_head

    def pre(module, args):
        x = args[0].clone()
        x[..., head * size:(head + 1) * size] = 0
        return (x,) + tuple(args[1:])

    handle = _projections(model)[layer].register_forward_pre_hook(pre)
    try:
        yield
    finally:
        handle.remove()


def exact_match(model, rows: list, pad_id: int, batch_size: int = 64, device: str = "cpu") -> float:
    """Share of rows whose every answer token is the model's argmax (teacher forcing)."""
    import torch

    if not rows:
        return float("nan")
    hits = 0
    for start in range(0, len(rows), batch_size):
        batch = rows[start:start + batch_size]
        width = max(len(ids) for ids, _ in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, (row, _) in enumerate(batch):  # right padding: positions stay those of an unpadded prompt
            ids[i, :len(row)] = torch.tensor(row)
            mask[i, :len(row)] = 1
        with torch.no_grad():
            pred = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.argmax(-1).cpu()
        for i, (row, n_prompt) in enumerate(batch):
            answer = torch.tensor(row[n_prompt:])
            hits += bool((pred[i, n_prompt - 1:len(row) - 1] == answer).all())
    return hits / len(rows)


def ablate_heads(model, rows: list, pad_id: int, batch_size: int = 64, device: str = "cpu",
                 progress: bool = False) -> dict:
    """The unablated exact match of ``rows`` (:func:`answer_rows`) and, per head, the exact match
    with that head zeroed."""
    if not rows:
        raise InspectError("no prompt with a reference answer to score")
    cfg = model.config
    model.eval()
    base = exact_match(model, rows, pad_id, batch_size, device)
    scores = np.zeros((cfg.n_layer, cfg.n_head))
    pairs = [(layer, h) for layer in range(cfg.n_layer) for h in range(cfg.n_head)]
    if progress:
        from tqdm.auto import tqdm

        pairs = tqdm(pairs, desc="ablating heads", unit="head")
    for layer, h in pairs:
        with zeroed_head(model, layer, h):
            scores[layer, h] = exact_match(model, rows, pad_id, batch_size, device)
    return {"prompts": len(rows), "base": base, "ablated": scores}


def report(result: dict, threshold: float = DEFAULT_THRESHOLD, detected: Optional[dict] = None) -> dict:
    """JSON report: per head the ablated score and its drop; the needed heads, biggest drop first;
    with ``detected`` (pattern -> head labels from ``--heads``), each detected head's drop."""
    ablated, base = result["ablated"], result["base"]
    n_head = ablated.shape[1]
    drops = {head_name(*divmod(k, n_head)): round(float(base - ablated.flat[k]), 4) for k in range(ablated.size)}
    needed = [h for h, d in sorted(drops.items(), key=lambda x: -x[1]) if d >= threshold]
    rep = {"prompts": result["prompts"], "base": round(float(base), 4), "threshold": threshold,
           "ablated": {head_name(*divmod(k, n_head)): round(float(ablated.flat[k]), 4) for k in range(ablated.size)},
           "drop": drops, "needed": needed}
    if detected is not None:
        rep["detected_heads"] = {pattern: [{"head": label, "drop": drops[label.split(" ")[0]],
                                            "needed": label.split(" ")[0] in needed} for label in labels]
                                 for pattern, labels in detected.items() if labels}
    return rep


def markdown(rep: dict) -> str:
    lines = [f"Teacher-forced exact match of the reference answer over {rep['prompts']} prompts: "
             f"{rep['base']:.3f} with every head; a head is needed when zeroing it costs >= {rep['threshold']}.",
             "", "| head | exact match, head zeroed | drop |", "|---|---:|---:|"]
    for head, drop in sorted(rep["drop"].items(), key=lambda x: -x[1]):
        mark = " *" if head in rep["needed"] else ""
        lines.append(f"| {head} | {rep['ablated'][head]:.3f} | {drop:+.3f}{mark} |")
    lines += ["", f"- needed heads: {', '.join(rep['needed']) or 'none'}"]
    for pattern, found in rep.get("detected_heads", {}).items():
        cells = ", ".join(f"{d['head']} {d['drop']:+.3f}{' (needed)' if d['needed'] else ''}" for d in found)
        lines.append(f"- {pattern} heads (from --heads) and their drop: {cells}")
    return "\n".join(lines) + "\n"


def plot(rep: dict, n_layer: int, n_head: int, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.array([[rep["drop"][head_name(layer, h)] for h in range(n_head)] for layer in range(n_layer)])
    fig, ax = plt.subplots(figsize=(max(4, 0.5 * n_head + 2), 0.6 * n_layer + 1.5))
    im = ax.imshow(grid, cmap="magma_r", vmin=0, vmax=max(rep["base"], 1e-9), aspect="auto")
    ax.set_xticks(range(n_head), [f"H{h}" for h in range(n_head)], fontsize=7)
    ax.set_yticks(range(n_layer), [f"L{layer}" for layer in range(n_layer)])
    for (layer, h), v in np.ndenumerate(grid):
        ax.text(h, layer, f"{v:.2f}", ha="center", va="center", fontsize=6,
                color="white" if v > 0.5 * rep["base"] else "black")
    ax.set_title(f"exact-match drop when the head is zeroed (base {rep['base']:.3f}, {rep['prompts']} prompts)",
                 fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.05)
    fig.tight_layout()
    fig.savefig(str(path), dpi=120)
    plt.close(fig)


def write(result: dict, out, n_layer: int, n_head: int, threshold: float = DEFAULT_THRESHOLD,
          detected: Optional[dict] = None) -> dict:
    """ablation.json, ablation.md and ablation.png in ``out``; returns the report."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rep = report(result, threshold, detected)
    (out / "ablation.json").write_text(json.dumps(rep, indent=2) + "\n")
    (out / "ablation.md").write_text(markdown(rep))
    plot(rep, n_layer, n_head, out / "ablation.png")
    return rep
