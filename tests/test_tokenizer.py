"""The character-level tokenizer: committed folder, round trip, alphabet, errors."""
import filecmp
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cadmus
from cadmus import tokenization as tk
from cadmus.isa import REG_NAMES


@pytest.fixture(scope="module")
def tok():
    return tk.load_tokenizer()


def test_committed_folder_matches_a_fresh_build(tmp_path):
    written = tk.save_tokenizer(tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in tk.TOKENIZER_DIR.iterdir())
    for p in written:
        assert filecmp.cmp(p, tk.TOKENIZER_DIR / p.name, shallow=False), f"{p.name} is stale: run `cadmus tokenizer build`"


def test_auto_tokenizer_loads_offline_without_remote_code(monkeypatch):
    from transformers import AutoTokenizer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t = AutoTokenizer.from_pretrained(str(tk.TOKENIZER_DIR), trust_remote_code=False)
    assert len(t) == len(tk.SPECIAL_TOKENS) + len(tk.ALPHABET) == 99
    assert (t.pad_token, t.eos_token, t.unk_token) == (tk.PAD_TOKEN, tk.EOS_TOKEN, tk.UNK_TOKEN)
    assert t.pad_token_id == 0 and t.eos_token_id == 1


def test_one_token_per_character(tok):
    text = "mov a 17\nassert d  126"
    ids = tk.encode(tok, text)
    assert len(ids) == len(text)
    assert tok.convert_ids_to_tokens(ids) == list(text)


def test_decode_inserts_no_spaces(tok):
    ids = tk.encode(tok, "ab")
    assert tok.decode(ids) == "ab"
    assert tok.decode(tk.encode(tok, "x . , ! ?")) == "x . , ! ?"  # no clean-up of spaces either


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=tk.ALPHABET, max_size=200))
def test_round_trip_over_the_alphabet(tok, s):
    assert tok.decode(tk.encode(tok, s)) == s


def test_special_token_spellings_stay_characters(tok):
    ids = tk.encode(tok, tk.EOS_TOKEN)
    assert len(ids) == len(tk.EOS_TOKEN) and tok.eos_token_id not in ids


def test_isa_characters_are_in_the_alphabet():
    used = set(REG_NAMES) | set("0123456789-:# \n")
    for insn in cadmus.isa.INSTRUCTIONS:
        used |= set(insn.mnemonic)
    assert used <= set(tk.ALPHABET), sorted(used - set(tk.ALPHABET))


def test_foreign_character_names_itself_and_its_position():
    with pytest.raises(tk.AlphabetError) as info:
        tk.check_text("mov a 1\nmov b \u00e9", where="row 'x7'")
    err = info.value
    assert (err.char, err.position) == ("\u00e9", 14)
    assert "'\u00e9'" in str(err) and "position 14" in str(err) and "line 2" in str(err) and "row 'x7'" in str(err)
    with pytest.raises(tk.AlphabetError, match="U\\+0009"):
        tk.check_text("a\tb")


def test_build_command_writes_the_same_files(tmp_path):
    out = subprocess.run([sys.executable, "-m", "cadmus.cli", "tokenizer", "build", "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert filecmp.cmp(tmp_path / "tokenizer.json", tk.TOKENIZER_DIR / "tokenizer.json", shallow=False)


def test_tokenizer_help():
    out = subprocess.run([sys.executable, "-m", "cadmus.cli", "tokenizer", "build", "--help"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "--out" in out.stdout
