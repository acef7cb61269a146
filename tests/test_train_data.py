"""Tokenization, packing/padding, loss masks, mixtures and dataset errors."""
import json
import re
import shutil

import pytest

from cadmus.tokenization import AlphabetError, load_tokenizer
from cadmus.train import data


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer()


@pytest.fixture(scope="module")
def dsdir(tiny_data):
    return tiny_data  # the builder's tiny data (tests/conftest.py)


def test_samples_are_prompt_target_eos(tok, dsdir):
    ds = data.load_dataset_dict(dsdir)
    t = data.tokenize(ds["train"], tok, {"completion": 1.0})
    row = ds["train"][0]
    assert tok.decode(t[0]["input_ids"][:-1]) == row["completion_prompt"] + row["completion_target"]
    assert t[0]["input_ids"][-1] == tok.eos_token_id and t[0]["n_prompt"] == len(row["completion_prompt"])


def test_padding_with_target_only_loss(tok, dsdir):
    ds = data.load_dataset_dict(dsdir)
    t = data.tokenize(ds["train"], tok, {"completion": 1.0})
    width = data.longest_sample(t)
    blocks = data.to_blocks(t, width, packing=False, target_only=True, pad_id=tok.pad_token_id)
    b, row = blocks[0], ds["train"][0]
    learned = [int(x) for x in b["labels"] if x != data.IGNORE_INDEX]
    assert tok.decode(learned[:-1]) == row["completion_target"] and learned[-1] == tok.eos_token_id
    n_real = int(b["attention_mask"].sum())
    assert (b["input_ids"][n_real:] == tok.pad_token_id).all()
    lengths = [len(x) for x in t["input_ids"]]
    assert data.non_pad_share(blocks) == pytest.approx(sum(lengths) / (width * len(lengths)))


def test_packing_fills_every_position(tok, dsdir):
    ds = data.load_dataset_dict(dsdir)
    t = data.tokenize(ds["train"], tok, {"completion": 1.0, "execution": 1.0})
    blocks = data.to_blocks(t, 128, packing=True, target_only=False, pad_id=tok.pad_token_id)
    cols = blocks[:]
    assert cols["input_ids"].shape[1] == 128 and data.non_pad_share(blocks) == 1.0
    assert (cols["labels"] == cols["input_ids"]).all()  # full loss: labels are the inputs
    stream = [int(x) for x in cols["input_ids"].flatten()]
    assert stream == [x for ids in t["input_ids"] for x in ids][:len(stream)]


def test_mixture_weights_are_deterministic_copies(tok, dsdir):
    ds = data.load_dataset_dict(dsdir)["train"]
    one = data.tokenize(ds, tok, {"completion": 1.0})
    mix = data.tokenize(ds, tok, {"completion": 2.0, "execution": 0.5}, seed=3)
    again = data.tokenize(ds, tok, {"completion": 2.0, "execution": 0.5}, seed=3)
    assert 2 * len(one) < len(mix) < 3 * len(one)
    assert mix["input_ids"] == again["input_ids"]


def test_empty_views_are_skipped(tok, dsdir):
    ds = data.load_dataset_dict(dsdir)["train"].map(lambda r: {"synthesis_prompt": "", "synthesis_target": ""})
    assert len(data.tokenize(ds, tok, {"synthesis": 1.0})) == 0


def test_foreign_character_in_data_is_an_error(tok, dsdir):
    ds = data.load_dataset_dict(dsdir)["train"].select(range(4))
    bad = ds.map(lambda r, i: {"completion_prompt": r["completion_prompt"] + ("\u00b5" if i == 2 else "")},
                 with_indices=True)
    with pytest.raises(AlphabetError, match="'\u00b5'.*position") as info:
        data.tokenize(bad, tok, {"completion": 1.0})
    assert ds[2]["id"] in str(info.value)


def test_dataset_errors(tmp_path, dsdir):
    with pytest.raises(data.DatasetError, match="does not exist"):
        data.load_dataset_dict(tmp_path / "nope")
    garbled = tmp_path / "garbled"
    garbled.mkdir()
    (garbled / "dataset_dict.json").write_text("{not json")
    with pytest.raises(data.DatasetError, match="cannot be read"):
        data.load_dataset_dict(garbled)
    with pytest.raises(data.DatasetError, match="no dataset_path"):
        data.load_dataset_dict("")
    from datasets import load_from_disk

    partial = tmp_path / "partial"
    load_from_disk(str(dsdir)).remove_columns("completion_target").save_to_disk(str(partial))
    with pytest.raises(data.DatasetError, match="completion_target"):
        data.load_dataset_dict(partial)


def test_content_hash_ignores_map_caches(tok, tiny_data, tmp_path):
    path = tmp_path / "d"
    shutil.copytree(tiny_data, path, ignore=shutil.ignore_patterns("cache-*"))
    before = data.content_hash(path)
    data.tokenize(data.load_dataset_dict(path)["train"], tok, {"completion": 1.0})  # writes a cache file
    assert list((path / "train").glob("cache-*.arrow"))
    assert data.content_hash(path) == before and len(before) == 64
    state = json.loads((path / "train" / "state.json").read_text())
    assert state["_data_files"]


def test_completion_prompts(dsdir):
    ds = data.load_dataset_dict(dsdir)
    pairs = data.completion_prompts(ds["valid"], 5)
    assert len(pairs) == 5 and all(re.search(r"\nassert [a-p] \Z", p) and re.fullmatch(r"-?[0-9]+", t) for p, t in pairs)


def test_trim_padding_cuts_to_the_longest_row_and_keeps_the_loss():
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from cadmus.train.data import IGNORE_INDEX, trim_padding

    ids = torch.tensor([[5, 6, 7, 0, 0, 0], [5, 6, 0, 0, 0, 0]])
    mask = (ids != 0).long()
    labels = torch.where(mask.bool(), ids, torch.full_like(ids, IGNORE_INDEX))
    batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    cut = trim_padding(batch)
    assert cut["input_ids"].shape == (2, 3) and cut["labels"].tolist() == [[5, 6, 7], [5, 6, IGNORE_INDEX]]
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=10, n_positions=8, n_layer=1, n_head=1, n_embd=8)).eval()
    with torch.no_grad():
        assert torch.allclose(model(**batch).loss, model(**cut).loss, atol=1e-6)
    packed = {"input_ids": ids, "labels": labels}
    assert trim_padding(packed) is packed


def test_group_by_length_sampler_is_a_resumable_permutation_of_similar_length_batches():
    import random

    from cadmus.train.trainer import EpochSampler

    lengths = [random.Random(i).choice([40, 45, 130]) for i in range(1000)]
    sampler = EpochSampler(1000, seed=3, lengths=lengths, batch_size=16)
    sampler.set_epoch(2)
    order = list(sampler)
    assert sorted(order) == list(range(1000)) and order == list(sampler)  # same epoch, same order
    batches = [order[i:i + 16] for i in range(0, 992, 16)]
    mixed = sum(1 for b in batches if len({lengths[i] == 130 for i in b}) > 1)
    assert mixed <= 2 * (1000 // (16 * EpochSampler.GROUP_WINDOW) + 1)  # only at window borders
    sampler.set_epoch(3)
    assert list(sampler) != order
    plain = EpochSampler(1000, seed=3)
    plain.set_epoch(2)
    plain_batches = [list(plain)[i:i + 16] for i in range(0, 992, 16)]
    assert sum(1 for b in plain_batches if len({lengths[i] == 130 for i in b}) > 1) > len(plain_batches) // 2


def _with_long_ood_row(tiny_data, tmp_path, extra_lines: int):
    """The tiny dataset with one ood_length row whose execution view is ``extra_lines`` lines longer."""
    from datasets import load_from_disk

    ds = load_from_disk(str(tiny_data))
    longer = "mov d 1\n" * extra_lines
    ds["ood_length"] = ds["ood_length"].map(
        lambda r, i: {"execution_prompt": (longer if i == 3 else "") + r["execution_prompt"]}, with_indices=True)
    path = tmp_path / "long"
    ds.save_to_disk(str(path))
    return path, ds["ood_length"][3]


def test_position_table_fits_the_longest_sample_of_any_split(tok, tiny_data, tmp_path):
    from accelerate import Accelerator

    from cadmus.eval.prompts import build_prompts
    from cadmus.train import config
    from cadmus.train.trainer import prepare_data

    path, long_row = _with_long_ood_row(tiny_data, tmp_path, 100)  # longer than any view of the data
    longest, where = data.longest_eval_sample(data.load_dataset_dict(path), tok)
    assert longest == len(long_row["execution_prompt"]) + len(long_row["execution_target"]) + 1
    assert "ood_length" in where and "execution" in where and long_row["id"] in where
    # training sees completion rows only: its blocks stay short, the position table does not
    margs, dargs, targs = config.parse(None, ["--dataset_path", str(path), "--accuracy_samples", "4"])
    prep = prepare_data(Accelerator(cpu=True), margs, dargs, targs, tok)
    assert prep.context_length < longest <= prep.n_positions < longest + 8 and prep.n_positions % 8 == 0
    ds = data.load_dataset_dict(path)
    for split in ds:
        for suite in ("completion", "synthesis", "execution"):
            for p in build_prompts(ds[split], split, suite):
                assert len(tok(p.text + p.reference)["input_ids"]) < prep.n_positions, (split, suite, p.id)


def test_explicit_position_table(tok):
    from cadmus.train.trainer import RecipeError, resolve_positions

    assert resolve_positions(None, 64, (70, "x")) == 72
    assert resolve_positions(None, 64, (20, "x")) == 64  # never below the training blocks
    assert resolve_positions(96, 64, (70, "x")) == 96
    with pytest.raises(RecipeError, match="n_positions=32 is below context_length=64"):
        resolve_positions(32, 64, (70, "x"))


def test_longest_eval_sample_is_exact_for_a_tokenizer_that_merges_digits():
    import re

    from datasets import Dataset, DatasetDict

    class DigitRuns:  # one token per run of digits, one per other character
        def __call__(self, texts, **kw):
            texts = [texts] if isinstance(texts, str) else texts
            return {"input_ids": [[0] * len(re.findall(r"[0-9]+|[^0-9]", t)) for t in texts]}

    def row(i, prompt):
        return {"id": f"r{i}", **{f"{v}_{p}": "" for v in ("completion", "synthesis", "execution")
                                  for p in ("prompt", "target")}, "execution_prompt": prompt}

    rows = [row(0, "9" * 50), row(1, "a b c d e f g h"), row(2, "7" * 40 + " x")]
    ds = DatasetDict({"test": Dataset.from_list(rows)})
    # by characters r0 is longest (50), by tokens r1 (15 + EOS); chunks of one row force the search on
    assert data.longest_eval_sample(ds, DigitRuns(), chunk=1) == (16, "split test, execution view, row 'r1'")
