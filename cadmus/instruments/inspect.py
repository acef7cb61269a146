"""``cadmus inspect``: a model's hidden states (and attention) per prompt token, next to what the
token is and what the VM held at its line.

One row per prompt token, one ``datasets`` split per data split inspected (columns: see
:func:`token_features`). ``hidden[k]`` is the model's ``hidden_states[k]`` as transformers
returns it: ``k = 0`` the embeddings (token + position), ``k = 1..n_layer`` each block's
output, the last one after the final layer norm (what the LM head reads).

The VM state of a token is that of its line: the registers before and after the line's last
execution (:func:`cadmus.instruments.annotate.line_states`), null for labels, comments, blank
lines and lines that never ran.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from ..eval.prompts import record_prompt
from ..isa import REG_NAMES
from .annotate import CharMap, char_map, line_states

SUITES = ("completion", "execution")  # the suites whose prompts are a program the VM can trace
META_FILE = "inspect.json"


class InspectError(ValueError):
    """Bad arguments or inputs for an inspection (the message says which)."""


@dataclass(frozen=True)
class Item:
    """One prompt: the model reads ``prompt``; the VM runs ``program`` on ``inputs``."""

    split: str
    index: int  # the record's row in its data split
    record: dict
    prompt: str
    program: str
    inputs: tuple
    answer: Optional[int]  # the prompt's answer when it is one integer


def _single_int(text: str) -> Optional[int]:
    parts = text.split()
    try:
        return int(parts[0]) if len(parts) == 1 else None
    except ValueError:
        return None


def make_item(split: str, index: int, record: dict, suite: str) -> Optional[Item]:
    """The :class:`Item` of a record for ``suite`` (None when the suite skips the record)."""
    if suite not in SUITES:
        raise InspectError(f"suite {suite!r} cannot be inspected; choose from {', '.join(SUITES)} "
                           "(their prompts are programs whose lines the VM traces)")
    pair = record_prompt(suite, record)
    if pair is None:
        return None
    if suite == "completion":  # the true program is self-contained: inputs are loaded by mov/store
        program, inputs = record["true_program"], ()
    else:
        program, inputs = record["program"], tuple(record["tests"][0]["input"])
    return Item(split, index, record, pair[0], program, inputs, _single_int(pair[1]))


def collect_items(dd, splits: Sequence[str], suite: str, limit: Optional[int],
                  families: Optional[Sequence[str]] = None) -> list:
    """The first ``limit`` prompts of each split, in split order (of ``families`` only, if given)."""
    items = []
    for split in splits:
        if split not in dd:
            raise InspectError(f"split {split!r} is not in the dataset (it has {', '.join(dd)})")
        n = 0
        for index, record in enumerate(dd[split]):
            if limit is not None and n >= limit:
                break
            if families and record["family"] not in families:
                continue
            item = make_item(split, index, record, suite)
            if item is not None:
                items.append(item)
                n += 1
    return items


# ---------------------------------------------------------------- per token annotations

@dataclass
class Tokens:
    """A prompt's model tokens and their annotations (one list entry per token)."""

    ids: list
    offsets: list
    columns: dict  # column name -> list, see token_features()
    chars: CharMap


def encode(tokenizer, text: str) -> tuple:
    """(ids, character offsets) exactly as the evaluator encodes a prompt (no special tokens)."""
    if not getattr(tokenizer, "is_fast", False):
        raise InspectError("inspect needs a fast tokenizer (it maps tokens to characters with offsets)")
    enc = tokenizer(text, add_special_tokens=False, split_special_tokens=True, return_offsets_mapping=True)
    return list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]


def _value(span, before, after) -> Optional[int]:
    """What a register operand held: the value the line wrote to it (destination) or read
    from it (source)."""
    if span is None or not span.register:
        return None
    state = after if "write" in span.access else before
    return None if state is None else int(state[REG_NAMES.index(span.register)])


def annotate_tokens(item: Item, tokenizer) -> Tokens:
    ids, offsets = encode(tokenizer, item.prompt)
    chars = char_map(item.prompt)
    states = line_states(item.program, item.inputs, n_lines=len(chars.lines))
    cols = {k: [] for k in ("token", "char_start", "char_end", "line", "line_text", "role", "slot", "register",
                            "access", "opcode", "executed", "registers_before", "registers", "value")}
    for start, end in offsets:
        line, span = chars.locate(start, end)
        before, after = states.before[line.index], states.after[line.index]
        cols["token"].append(item.prompt[start:end])
        cols["char_start"].append(start)
        cols["char_end"].append(end)
        cols["line"].append(line.index)
        cols["line_text"].append(item.prompt[line.start:line.end])
        cols["role"].append(span.role if span else "other")
        cols["slot"].append(span.slot if span else -1)
        cols["register"].append(span.register if span else "")
        cols["access"].append(span.access if span else "")
        cols["opcode"].append(line.mnemonic)
        cols["executed"].append(states.executions[line.index])
        cols["registers_before"].append(None if before is None else before.tolist())
        cols["registers"].append(None if after is None else after.tolist())
        cols["value"].append(_value(span, before, after))
    return Tokens(ids, offsets, cols, chars)


# ---------------------------------------------------------------- the model

@dataclass
class Activation:
    """One prompt through the model."""

    item: Item
    tokens: Tokens
    hidden: np.ndarray  # (tokens, n_layer + 1, n_embd) float32
    attentions: Optional[np.ndarray]  # (n_layer, n_head, tokens, tokens) float32
    predicted: list  # the model's most likely next token id after each position


def returns_attention(model) -> bool:
    """Whether the model's attention code returns its weights (eager does, sdpa/flash do not)."""
    return getattr(model.config, "_attn_implementation", "eager") == "eager"


def run_model(model, tokenizer, items: Sequence[Item], *, batch_size: int = 8, attentions: bool = False,
              device="cpu", skipped: Optional[list] = None) -> Iterator[Activation]:
    """Forward every prompt (right-padded batches, so positions are those the model trained on).

    Prompts that do not fit the model's position table are left out and appended to
    ``skipped``. With ``attentions`` the model must use eager attention (see
    :func:`load_for_inspection`)."""
    import torch

    if attentions and not returns_attention(model):
        raise InspectError(f"the model's attention implementation ({model.config._attn_implementation}) returns no "
                           "weights: load it with attn_implementation='eager'")
    limit = model.config.n_positions
    annotated = []
    for item in items:
        tokens = annotate_tokens(item, tokenizer)
        if 0 < len(tokens.ids) <= limit:
            annotated.append((item, tokens))
        elif skipped is not None:
            skipped.append(item)
    model.eval()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for b in range(0, len(annotated), batch_size):
        chunk = annotated[b:b + batch_size]
        width = max(len(t.ids) for _, t in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for r, (_, t) in enumerate(chunk):
            ids[r, :len(t.ids)] = torch.tensor(t.ids)
            mask[r, :len(t.ids)] = 1
        with torch.no_grad():
            out = model(input_ids=ids.to(device), attention_mask=mask.to(device), output_hidden_states=True,
                        output_attentions=attentions)
        hidden = torch.stack(out.hidden_states, dim=2).float().cpu().numpy()
        att = torch.stack(out.attentions, dim=1).float().cpu().numpy() if attentions else None
        predicted = out.logits.argmax(-1).cpu().numpy()
        for r, (item, t) in enumerate(chunk):
            n = len(t.ids)
            yield Activation(item, t, hidden[r, :n], None if att is None else att[r, :, :, :n, :n],
                             predicted[r, :n].tolist())


# ---------------------------------------------------------------- the dataset

def token_features(n_states: int, n_embd: int, n_layer: int = 0, n_head: int = 0, attentions: bool = False):
    """The columns of an inspection split (one row per prompt token)."""
    from datasets import Array2D, Array3D, Features, List, Value

    cols = {
        "split": Value("string"), "record_id": Value("string"), "record_index": Value("int64"),
        "prompt": Value("int64"),  # the prompt's number in this split of the inspection
        "family": Value("string"), "variant": Value("string"), "level": Value("int64"),
        "position": Value("int64"), "token_id": Value("int64"), "token": Value("string"),
        "char_start": Value("int64"), "char_end": Value("int64"),
        "line": Value("int64"), "line_text": Value("string"),
        "role": Value("string"),  # opcode, register, literal, label, other
        "slot": Value("int64"),  # 0 mnemonic or label, 1.. operand number, -1 other
        "register": Value("string"), "access": Value("string"),  # read, write, read+write
        "opcode": Value("string"),  # the line's mnemonic ("" if the line is no instruction)
        "executed": Value("int64"),  # how many times the line ran
        "registers_before": List(Value("int64")), "registers": List(Value("int64")),  # a..p, null: not run
        "value": Value("int64"),  # a register operand's value as read (source) or written (destination)
        "answer": Value("int64"),  # the prompt's answer (null unless one integer)
        "is_last": Value("bool"),  # the prompt's last token: where the answer is predicted
        "predicted": Value("string"),  # the model's most likely next token
        "hidden": Array2D((n_states, n_embd), "float32"),
    }
    if attentions:  # attention[key, layer, head]: weight of this token on each earlier key
        cols["attention"] = Array3D((None, n_layer, n_head), "float32")
    return Features(cols)


def activation_columns(act: Activation, prompt_number: int, tokenizer, attentions: bool) -> dict:
    """The rows of one prompt, column by column."""
    rec, n = act.item.record, len(act.tokens.ids)
    cols = dict(act.tokens.columns)
    cols.update(
        split=[act.item.split] * n, record_id=[rec["id"]] * n, record_index=[act.item.index] * n,
        prompt=[prompt_number] * n, family=[rec["family"]] * n, variant=[rec["variant"]] * n,
        level=[rec["difficulty"]["level"]] * n, position=list(range(n)), token_id=list(act.tokens.ids),
        answer=[act.item.answer] * n, is_last=[i == n - 1 for i in range(n)],
        predicted=[tokenizer.decode([t]) for t in act.predicted], hidden=list(act.hidden),
    )
    if attentions:  # (layer, head, query, key) -> per query: (key, layer, head) over its keys
        cols["attention"] = [act.attentions[:, :, q, :q + 1].transpose(2, 0, 1) for q in range(n)]
    return cols


def build_splits(activations, model, tokenizer, scratch, attentions: bool = False, on_activation=None) -> dict:
    """``{split: datasets.Dataset}`` of the activations, written prompt by prompt to Arrow files
    in the folder ``scratch`` (memory stays at one batch however many prompts are inspected;
    keep ``scratch`` until the splits are saved). ``on_activation(act)`` sees each activation
    (the head scorer reads attention there without storing it)."""
    from datasets import Dataset
    from datasets.arrow_writer import ArrowWriter

    cfg = model.config
    features = token_features(cfg.n_layer + 1, cfg.n_embd, cfg.n_layer, cfg.n_head, attentions)
    writers, counts = {}, {}
    try:
        for act in activations:
            if on_activation is not None:
                on_activation(act)
            split = act.item.split
            if split not in writers:
                writers[split] = ArrowWriter(features=features, path=str(Path(scratch) / f"{split}.arrow"))
            number = counts.get(split, 0)
            counts[split] = number + 1
            cols = activation_columns(act, number, tokenizer, attentions)
            writers[split].write_batch({k: cols[k] for k in features})
    finally:
        for writer in writers.values():
            writer.finalize()
            writer.close()
    return {split: Dataset.from_file(str(Path(scratch) / f"{split}.arrow")) for split in writers}


def load_for_inspection(path, device="cpu"):
    """(model, tokenizer) of a trained model folder, with eager attention (the only kind that
    returns attention weights) and the tokenizer saved with it (else the committed one)."""
    from ..models import load_model
    from ..tokenization import load_tokenizer

    path = Path(path)
    if not (path / "config.json").is_file():
        raise InspectError(f"{path}: not a model folder (no config.json); train one with `cadmus train`")
    model = load_model(path)
    model.set_attn_implementation("eager")
    tokenizer = load_tokenizer(path if (path / "tokenizer.json").is_file() else None)
    return model.to(device), tokenizer


def write_inspection(out, splits: dict, meta: dict) -> None:
    """Save the splits as a ``datasets.DatasetDict`` folder plus ``inspect.json``."""
    from datasets import DatasetDict

    out = Path(out)
    DatasetDict(splits).save_to_disk(str(out))
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")


def load_inspection(path):
    """(DatasetDict, metadata) of an inspection folder written by ``cadmus inspect``."""
    from datasets import load_from_disk

    path = Path(path)
    if not (path / META_FILE).is_file():
        raise InspectError(f"{path}: not an inspection folder (no {META_FILE}); write one with `cadmus inspect`")
    return load_from_disk(str(path)), json.loads((path / META_FILE).read_text())
