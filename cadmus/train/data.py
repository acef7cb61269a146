"""From a saved DatasetDict to fixed-length training blocks.

Each chosen view of a row becomes one sample: ``prompt + target + EOS``, tokenized with
``datasets.map`` (cached next to the dataset). Samples are then either packed into full
blocks (one token stream cut every ``block_size`` tokens) or padded one per block with an
attention mask. With ``target_only_loss`` the prompt tokens are labelled -100.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from ..provenance import dataset_hash as content_hash  # noqa: F401  (the dataset card's hash; trainer records it)
from ..schema import SPLITS, VIEWS
from ..tokenization import check_text

OPTIONAL_VIEWS = ("trace",)  # datasets built before it lack its columns; needed only when weighted
COLUMNS = ("id", "family", "variant", "program", "description") + tuple(
    f"{view}_{part}" for view in VIEWS if view not in OPTIONAL_VIEWS for part in ("prompt", "target")
)
IGNORE_INDEX = -100  # label value the loss skips (PyTorch / transformers convention)


class DatasetError(ValueError):
    """The dataset folder is missing, unreadable or does not follow the column contract."""


def load_dataset_dict(path):
    """Load a DatasetDict from ``path``, with a clear error for anything off-contract."""
    from datasets import DatasetDict, load_from_disk

    path = Path(path) if path else None
    hint = "build one with `cadmus data build RECIPE --out DIR`"
    if path is None or not str(path):
        raise DatasetError(f"no dataset_path given ({hint})")
    if not path.exists():
        raise DatasetError(f"dataset {path} does not exist ({hint})")
    try:
        ds = load_from_disk(str(path))
    except Exception as err:  # datasets raises several types for a damaged folder
        raise DatasetError(f"dataset {path} cannot be read as a saved DatasetDict: {err}") from err
    if not isinstance(ds, DatasetDict):
        raise DatasetError(f"dataset {path} is a single split; expected a DatasetDict with {', '.join(SPLITS)}")
    missing = [s for s in ("train", "valid") if s not in ds]
    if missing:
        raise DatasetError(f"dataset {path} lacks split(s) {', '.join(missing)}")
    for name in ("train", "valid"):
        absent = [c for c in COLUMNS if c not in ds[name].column_names]
        if absent:
            raise DatasetError(f"dataset {path}, split {name}: missing column(s) {', '.join(absent)}")
    return ds


def filter_families(ds, families):
    if not families:
        return ds
    wanted = set(families)
    return ds.filter(lambda fam: fam in wanted, input_columns="family")


def _copies(weight: float, key: str) -> int:
    """How many times a row's view enters the mixture: floor(w), plus one with prob frac(w),
    decided by a hash of the key so the choice is deterministic and needs no RNG state."""
    whole = int(weight)
    u = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") / 2**64
    return whole + (u < weight - whole)


def _tokenize_batch(batch, tokenizer, weights, seed):
    texts, n_prompt = [], []
    for i, row_id in enumerate(batch["id"]):
        for view, weight in weights.items():
            prompt, target = batch[f"{view}_prompt"][i], batch[f"{view}_target"][i]
            if not prompt and not target:
                continue  # e.g. no synthesis view for the `random` family
            copies = _copies(weight, f"{seed}:{view}:{row_id}")
            if copies:
                check_text(prompt + target, where=f"row {row_id!r}, {view} view")
            texts += [prompt + target] * copies
            n_prompt += [len(prompt)] * copies
    # one tokenizer call per batch; a char-level tokenizer gives one token per character
    enc = tokenizer(texts, add_special_tokens=False, split_special_tokens=True)["input_ids"] if texts else []
    if any(len(e) != len(t) for e, t in zip(enc, texts)):  # a number or BPE tokenizer: count prompt tokens
        n_prompt = _prompt_tokens(tokenizer, texts, n_prompt, enc)
    eos = tokenizer.eos_token_id
    return {"input_ids": [e + [eos] for e in enc], "n_prompt": n_prompt}


def _prompt_tokens(tokenizer, texts, n_chars, enc) -> list:
    """Tokens of each text's prompt part (its first ``n_chars`` characters). The prompt's tokens
    must begin the text's: the Cadmus tokenizers never let a token span whitespace and every
    prompt ends in whitespace; a tokenizer that merges across the cut would train on a prompt
    the model never sees at evaluation."""
    prompts = tokenizer([t[:n] for t, n in zip(texts, n_chars)], add_special_tokens=False,
                        split_special_tokens=True)["input_ids"]
    for text, n, p, e in zip(texts, n_chars, prompts, enc):
        if e[:len(p)] != p:
            raise DatasetError(f"the tokenizer merges across the prompt/target boundary of {text[:n][-40:]!r} + "
                               f"{text[n:][:20]!r}; use a tokenizer whose tokens never span whitespace")
    return [len(p) for p in prompts]


def tokenize(ds, tokenizer, weights: dict, seed: int = 0, num_proc=None):
    """One row per (row, view, copy): ``input_ids`` (ending in EOS) and ``n_prompt``."""
    if not weights:
        raise ValueError("no view selected: set completion_weight, synthesis_weight, execution_weight or "
                         "trace_weight > 0")
    for view in weights:
        check_view(ds, view)
    return ds.map(
        _tokenize_batch,
        batched=True,
        remove_columns=ds.column_names,
        fn_kwargs=dict(tokenizer=tokenizer, weights=weights, seed=seed),
        num_proc=num_proc,
        desc="tokenize",
    )


def check_view(ds, view: str) -> None:
    """A weighted view must exist in ``ds`` and, for the optional trace view, be rendered in some
    row: a dataset built without ``trace_view: true`` has empty trace columns, which would train on
    nothing without a word."""
    if f"{view}_prompt" not in ds.column_names:
        raise DatasetError(f"{view}_weight > 0 but the dataset has no {view}_prompt column; rebuild it with "
                           f"`cadmus data build` (and trace_view: true for the trace view)")
    if view in OPTIONAL_VIEWS and len(ds):
        import pyarrow.compute as pc

        if pc.max(pc.utf8_length(ds.data.table.column(f"{view}_prompt"))).as_py() == 0:
            raise DatasetError(f"{view}_weight > 0 but every {view}_prompt is empty: build the dataset with "
                               f"`{view}_view: true` in its data recipe")


def _labels(ids, n_prompt, target_only):
    return [IGNORE_INDEX] * n_prompt + ids[n_prompt:] if target_only else list(ids)


def _pack_batch(batch, block_size, target_only):
    stream, labels = [], []
    for ids, n in zip(batch["input_ids"], batch["n_prompt"]):
        stream += ids
        labels += _labels(ids, n, target_only)
    n_blocks = len(stream) // block_size  # the tail shorter than a block is dropped
    cut = lambda xs: [xs[i * block_size:(i + 1) * block_size] for i in range(n_blocks)]  # noqa: E731
    # no attention mask: every position is real, and the model can take its causal fast path
    return {"input_ids": cut(stream), "labels": cut(labels)}


def _pad_batch(batch, block_size, target_only, pad_id):
    out = {"input_ids": [], "labels": [], "attention_mask": []}
    for ids, n in zip(batch["input_ids"], batch["n_prompt"]):
        fill = block_size - len(ids)
        out["input_ids"].append(ids + [pad_id] * fill)
        out["labels"].append(_labels(ids, n, target_only) + [IGNORE_INDEX] * fill)
        out["attention_mask"].append([1] * len(ids) + [0] * fill)
    return out


def to_blocks(tokenized, block_size: int, packing: bool, target_only: bool, pad_id: int, num_proc=None):
    """Fixed-length ``input_ids`` / ``labels`` / ``attention_mask`` rows (torch format)."""
    if packing:
        fn, kw, desc = _pack_batch, dict(block_size=block_size, target_only=target_only), "pack"
    else:
        fn, kw, desc = _pad_batch, dict(block_size=block_size, target_only=target_only, pad_id=pad_id), "pad"
    blocks = tokenized.map(
        fn, batched=True, batch_size=1000, remove_columns=tokenized.column_names, fn_kwargs=kw,
        num_proc=num_proc, desc=desc,
    )
    return blocks.with_format("torch")


def trim_padding(batch: dict) -> dict:
    """Cut a batch of right-padded rows to its longest row. Exact: the cut columns are padding
    that no real position attends to (causal attention) and whose labels are ignored; it saves
    the compute a fixed block width would spend on them."""
    mask = batch.get("attention_mask")
    if mask is None:  # packed blocks hold no padding
        return batch
    width = int(mask.sum(dim=1).max())
    if width == mask.shape[1]:
        return batch
    return {k: v[:, :width] for k, v in batch.items()}


def longest_sample(tokenized) -> int:
    """Longest ``input_ids`` row, read off the Arrow list offsets (no Python lists: 200k rows
    took 10 s that way)."""
    import pyarrow.compute as pc

    if len(tokenized) == 0:
        return 0
    column = tokenized.with_format("arrow")[:]["input_ids"]
    return int(pc.max(pc.list_value_length(column)).as_py())


def longest_eval_sample(ds, tokenizer, chunk: int = 256) -> tuple:
    """``(tokens, where)``: the longest ``prompt + target + EOS`` over every view of every split of
    ``ds`` (the whole dataset: families filters and view weights do not apply), tokenized.

    Sizing the position table to it means no zero-shot eval prompt of this dataset, whatever its
    split and suite, is cut for lack of positions (the rows past the training lengths stay
    untrained: that is what ood_length asks about). The ``input`` suite's prompt and answer are
    the execution view's parts in another order, so the three views cover every suite; repair
    feedback, few-shot examples and preambles make longer prompts, counted ``TOO_LONG`` as
    foreign data is.

    Exact without tokenizing every row: a token covers at least one character of this ASCII
    text, so texts are tokenized longest first (by characters, ranked in Arrow) until the next
    one has fewer characters than the longest token count found. One chunk for the
    character-level tokenizer; more for one that merges digits."""
    import numpy as np
    import pyarrow.compute as pc

    best = (0, "")
    for split, table in ds.items():
        if len(table) == 0:
            continue
        cols = table.with_format("arrow")[:]
        for view in VIEWS:
            prompt, target = f"{view}_prompt", f"{view}_target"
            if prompt not in cols.column_names or target not in cols.column_names:
                continue
            chars = pc.add(pc.utf8_length(cols[prompt]), pc.utf8_length(cols[target])).to_numpy()
            order = np.argsort(-chars, kind="stable")
            for start in range(0, len(order), chunk):
                rows = order[start:start + chunk]
                if chars[rows[0]] + 1 <= best[0]:
                    break  # no text left can be longer in tokens than it is in characters
                texts = [p + t for p, t in zip(cols[prompt].take(rows).to_pylist(), cols[target].take(rows).to_pylist())]
                lengths = [len(ids) + 1 for ids in tokenizer(texts, add_special_tokens=False,
                                                             split_special_tokens=True)["input_ids"]]
                k = int(np.argmax(lengths))
                if lengths[k] > best[0]:
                    row = cols["id"][int(rows[k])].as_py() if "id" in cols.column_names else int(rows[k])
                    best = (lengths[k], f"split {split}, {view} view, row {row!r}")
    return best


def non_pad_share(blocks) -> float:
    """Share of real (non-pad) tokens among all block positions."""
    if "attention_mask" not in blocks.column_names:
        return 1.0 if len(blocks) else 0.0  # packed blocks hold no padding
    import pyarrow.compute as pc

    if len(blocks) == 0:
        return 0.0
    mask = blocks.with_format("arrow")[:]["attention_mask"]
    return pc.sum(pc.list_flatten(mask)).as_py() / pc.sum(pc.list_value_length(mask)).as_py()


def completion_prompts(valid, n: int) -> list:
    """Up to ``n`` (prompt, target) pairs from the valid completion view, in dataset order."""
    out = []
    for prompt, target in zip(valid["completion_prompt"], valid["completion_target"]):
        if prompt:
            out.append((prompt, target))
            if len(out) == n:
                break
    return out
