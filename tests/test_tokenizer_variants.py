"""The tokenizer variants (char, number, bpe): round trips, AutoTokenizer, number tokens, the
prompt/target cut, ``cadmus tokenizer build`` and training with a chosen tokenizer."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadmus import tokenization as tk
from cadmus.data import handwritten

LO, HI = -300, 300  # a small range keeps the number tokenizer quick to build


@pytest.fixture(scope="module")
def dsdir(tiny_data):
    return str(tiny_data)  # the builder's tiny data (tests/conftest.py)


@pytest.fixture(scope="module")
def folders(tmp_path_factory, dsdir):
    """Each kind built and saved, then loaded back with AutoTokenizer (as training does)."""
    root = tmp_path_factory.mktemp("tok")
    built = {"char": tk.build_tokenizer(), "number": tk.number_tokenizer(LO, HI),
             "bpe": tk.bpe_tokenizer(tk.dataset_texts(dsdir), vocab_size=300)}
    for kind, tok in built.items():
        tk.save(tok, root / kind)
    return {kind: root / kind for kind in built}


@pytest.fixture(scope="module")
def toks(folders):
    return {kind: tk.load_tokenizer(path) for kind, path in folders.items()}


def programs() -> list:
    """Real DSL texts: the hand-written references and the families' programs and views."""
    from cadmus.families import Draws, Params, registry

    texts = [json.loads(line)["reference"] for line in handwritten.TASKS_FILE.read_text().splitlines()]
    for name, fam in registry().items():
        for t in fam.generate(Draws(1), Params(numbers=(-5000, 5000)), 4, 2):
            texts += [t.program, t.true_program]
    return texts


@pytest.mark.parametrize("kind", tk.KINDS)
def test_round_trip_of_dsl_programs(toks, kind):
    tok = toks[kind]
    texts = programs()
    ids = tok(texts, add_special_tokens=False, split_special_tokens=True)["input_ids"]
    assert [tok.decode(i) for i in ids] == texts
    assert all(tok.unk_token_id not in i for i in ids)


@pytest.mark.parametrize("kind", tk.KINDS)
@settings(max_examples=150, deadline=None)
@given(s=st.text(alphabet=tk.ALPHABET, max_size=120))
def test_round_trip_over_the_alphabet(toks, kind, s):
    assert toks[kind].decode(tk.encode(toks[kind], s)) == s


@pytest.mark.parametrize("kind", tk.KINDS)
def test_auto_tokenizer_loads_each_folder_offline(folders, kind, monkeypatch):
    from transformers import AutoTokenizer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tok = AutoTokenizer.from_pretrained(str(folders[kind]), trust_remote_code=False)
    assert (tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2)
    text = "mov a -17\nassert a -17"
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text
    expected = {"char": 99, "number": 99 + (HI - LO + 1) - 10, "bpe": 300}[kind]
    assert len(tok) == expected


def test_number_tokens_are_single_tokens(toks):
    tok = toks["number"]
    values = list(range(LO, HI + 1))
    ids = tok([f"mov a {v}" for v in values], add_special_tokens=False)["input_ids"]
    pieces = [tok.convert_ids_to_tokens(i) for i in ids]
    assert all(p == ["m", "o", "v", " ", "a", " ", str(v)] for p, v in zip(pieces, values))
    assert len({i[-1] for i in ids}) == len(values)  # one id per number


@pytest.mark.parametrize("text, pieces", [
    (f"mov a {HI + 1}", list(str(HI + 1))),  # outside the range: digits
    (f"mov a {LO - 1}", list(str(LO - 1))),
    ("jmp L12", ["L", "1", "2"]),  # part of a label: digits
    ("mov a 007", ["0", "0", "7"]),  # not a canonical literal
    ("# 3 -> 12,", ["3", " ", "-", ">", " ", "12", ","]),  # numbers in comments too
])
def test_numbers_outside_the_range_fall_back_to_digits(toks, text, pieces):
    got = toks["number"].convert_ids_to_tokens(tk.encode(toks["number"], text))
    assert got[-len(pieces):] == pieces


def test_number_pattern_matches_exactly_its_range():
    import re

    for lo, hi in [(-1000, 1000), (5, 37), (-37, -5), (0, 0), (123, 98765)]:
        whole = re.compile(f"(?:{tk.number_pattern(lo, hi)})\\Z")
        assert all(bool(whole.match(str(v))) == (lo <= v <= hi) for v in range(-20000, 120000, 7)), (lo, hi)
        assert whole.match(str(lo)) and whole.match(str(hi))
    with pytest.raises(ValueError, match="empty"):
        tk.number_pattern(3, 2)


def test_bpe_learns_merges_that_never_span_whitespace(toks):
    tok = toks["bpe"]
    vocab = tok.get_vocab()
    assert all(ch in vocab for ch in tk.ALPHABET)  # every character has a token: no <|unk|>
    merged = [t for t in vocab if len(t) > 1 and t not in tk.SPECIAL_TOKENS]
    assert merged and not any(any(c.isspace() for c in t) for t in merged)
    assert tok.convert_ids_to_tokens(tk.encode(tok, "assert c ")) == ["assert", " ", "c", " "]


def test_bpe_reads_only_the_chosen_split(dsdir):
    from datasets import load_from_disk

    train = load_from_disk(dsdir)["train"]
    texts = list(tk.dataset_texts(dsdir, "train"))
    views = [c[:-len("_prompt")] for c in train.column_names if c.endswith("_prompt")]
    assert len(texts) == sum(1 for r in train for v in views if r[f"{v}_prompt"] or r[f"{v}_target"])
    assert set(texts) >= {train[0]["completion_prompt"] + train[0]["completion_target"]}


@pytest.mark.parametrize("kind", tk.KINDS)
def test_prompt_tokens_begin_the_full_texts_tokens(toks, kind, dsdir):
    """What the model is trained on starts with exactly the tokens it is prompted with."""
    from datasets import load_from_disk

    tok = toks[kind]
    rows = load_from_disk(dsdir)["valid"]
    for view in ("completion", "synthesis", "execution"):
        pairs = [(q, t) for q, t in zip(rows[f"{view}_prompt"], rows[f"{view}_target"]) if q]  # `random`: no synthesis
        prompts, targets = [q for q, _ in pairs], [t for _, t in pairs]
        p = tok(prompts, add_special_tokens=False)["input_ids"]
        full = tok([a + b for a, b in zip(prompts, targets)], add_special_tokens=False)["input_ids"]
        assert all(f[:len(q)] == q and len(f) > len(q) for f, q in zip(full, p)), view


def test_training_batches_count_prompt_tokens(toks):
    from cadmus.train.data import _tokenize_batch

    batch = {"id": ["r"], "completion_prompt": ["mov a 250\nassert a "], "completion_target": ["250"]}
    out = _tokenize_batch(batch, toks["number"], {"completion": 1.0}, 0)
    prompt_ids = tk.encode(toks["number"], "mov a 250\nassert a ")
    assert out["n_prompt"] == [len(prompt_ids)] == [17]  # "250" is one token
    assert out["input_ids"][0] == prompt_ids + tk.encode(toks["number"], "250") + [toks["number"].eos_token_id]
    char = _tokenize_batch(batch, toks["char"], {"completion": 1.0}, 0)
    assert char["n_prompt"] == [len("mov a 250\nassert a ")]


def test_cli_builds_each_kind(tmp_path, dsdir, capsys):
    from cadmus.cli import main as cli

    main = lambda args: cli(["tokenizer", "build", *args])  # noqa: E731
    assert main(["--kind", "number", "--number-range", "-5", "5", "--out", str(tmp_path / "n")]) == 0
    assert len(tk.load_tokenizer(tmp_path / "n")) == 99 + 5  # -5..-1 (0..5 are characters already)
    assert main(["--kind", "bpe", "--data", dsdir, "--vocab-size", "200", "--out", str(tmp_path / "b")]) == 0
    assert len(tk.load_tokenizer(tmp_path / "b")) == 200
    assert main(["--kind", "bpe", "--out", str(tmp_path / "x")]) == 2
    assert "give --data DIR" in capsys.readouterr().err
    assert main(["--kind", "number", "--number-range", "5", "-5", "--out", str(tmp_path / "y")]) == 2
    assert main(["--kind", "bpe", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "z")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_a_recipe_trains_with_a_chosen_tokenizer_and_the_model_keeps_it(folders, dsdir, tmp_path):
    from cadmus.train import config, train

    out = tmp_path / "run"
    args = config.parse(None, ["--preset", "tiny", "--n_layer", "1", "--n_embd", "32", "--n_head", "2",
                               "--per_device_batch_size", "8", "--max_steps", "3", "--save_steps", "0",
                               "--accuracy_samples", "0", "--max_eval_samples", "16", "--progress_bar", "false",
                               "--target_only_loss", "true", "--tokenizer_path", str(folders["number"]),
                               "--dataset_path", dsdir, "--output_dir", str(out)])
    train(*args)
    assert (out / "tokenizer.json").read_text() == (folders["number"] / "tokenizer.json").read_text()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["vocab_size"] >= len(tk.load_tokenizer(folders["number"]))
