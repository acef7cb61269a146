"""`cadmus inspect`: roles and lines of program text, VM state per line, and the written rows
held against the model itself (embeddings, LM head) and the VM."""
import json

import numpy as np
import pytest

from cadmus.instruments.annotate import char_map, line_states, parse_lines, writer_lines
from cadmus.instruments.inspect import InspectError, collect_items, load_inspection


# ---------------------------------------------------------------- fixtures (data_dir, model_dir: conftest.py)

@pytest.fixture(scope="session")
def inspection(tmp_path_factory, model_dir, data_dir):
    """`cadmus inspect` over three splits, with attention stored."""
    from cadmus.cli import main

    out = tmp_path_factory.mktemp("inspect") / "run"
    assert main(["inspect", str(model_dir), "--data", str(data_dir), "--split", "train,test,ood_numbers",
                 "--limit", "4", "--out", str(out), "--attentions", "--device", "cpu", "--batch-size", "3"]) == 0
    return out


# ---------------------------------------------------------------- text annotations

def test_roles_registers_and_access_of_every_character():
    text = "mov b 7\nL0:\nadd c b -2  # note\ninc c\njnz c L0\nassert c "  # ends inside its line, like a prompt
    cm = char_map(text)

    def at(s, nth=0):  # the span under the nth occurrence of s
        i = -1
        for _ in range(nth + 1):
            i = text.index(s, i + 1)
        line, span = cm.locate(i, i + len(s))
        return line.index, span and (span.role, span.register, span.access)

    assert at("mov") == (0, ("opcode", "", ""))
    assert at("b") == (0, ("register", "b", "write"))
    assert at("7") == (0, ("literal", "", ""))
    assert at("L0:") == (1, ("label", "", ""))
    assert at("b", 1) == (2, ("register", "b", "read"))
    assert at("-2") == (2, ("literal", "", ""))
    assert at("note") == (2, None)  # a comment is no DSL token
    assert at("c", 2) == (3, ("register", "c", "read+write"))  # inc reads and writes
    assert at("L0", 1) == (4, ("label", "", ""))
    assert at("c", 4) == (5, ("register", "c", "read"))
    assert at("\n") == (0, None)  # a newline belongs to the line it ends
    assert [(ln.mnemonic, ln.pc) for ln in parse_lines(text)] == [
        ("mov", 0), ("", None), ("add", 1), ("inc", 2), ("jnz", 3), ("assert", 4)]


def test_writer_lines_follow_text_order():
    lines = parse_lines("mov a 1\nmov b 2\nadd a a b\nmul c a b\nassert c 6")
    assert writer_lines(lines) == {(2, "a"): 0, (2, "b"): 1, (3, "a"): 2, (3, "b"): 1, (4, "c"): 3}


def test_line_states_straight_line_loop_and_skipped_branch():
    straight = "mov a 5\nmov b 7\nmul c a b\nsub c c 1\nassert c 34"
    st = line_states(straight)
    assert st.status == "OK" and st.executions == [1, 1, 1, 1, 1]
    assert st.after[2][2] == 35 and st.before[3][2] == 35 and st.after[3][2] == 34  # c = 5 * 7, then - 1
    assert st.before[0].tolist() == [0] * 16

    loop = "mov a 0\nmov i 3\nL0:\nadd a a i\ndec i\njnz i L0\nassert a 6"
    st = line_states(loop)
    assert st.executions == [1, 1, 0, 3, 3, 3, 1]
    assert st.after[2] is None  # a label has no state
    assert st.after[3][0] == 6 and st.before[3][0] == 5  # last pass: a = 5 + 1

    branch = "mov a 9\njgt a 5 L0\nmov a 0\nL0:\nassert a 9"
    st = line_states(branch)
    assert st.executions[2] == 0 and st.after[2] is None and st.before[2] is None  # never ran: null
    # a prompt with more lines than its program (the execution view's comments): null states
    st = line_states("in a\nout a", (4,), n_lines=4)
    assert st.after[0][0] == 4 and st.after[2] is None and st.after[3] is None


# ---------------------------------------------------------------- the written inspection

def test_rows_rebuild_the_prompts_and_carry_vm_state(inspection, data_dir):
    from cadmus.data import load_dataset_dir

    dd, meta = load_inspection(inspection)
    data = load_dataset_dir(data_dir)
    assert set(dd) == {"train", "test", "ood_numbers"} and meta["n_layer"] == 2
    for split in dd:
        rows = dd[split].remove_columns(["hidden", "attention"]).to_list()
        by_prompt = {}
        for r in rows:
            by_prompt.setdefault(r["prompt"], []).append(r)
        assert len(by_prompt) == meta["prompts"][split] == 4
        for toks in by_prompt.values():
            rec = data[split][toks[0]["record_index"]]
            assert "".join(t["token"] for t in toks) == rec["completion_prompt"]
            assert [t["position"] for t in toks] == list(range(len(toks)))
            assert [t["is_last"] for t in toks] == [False] * (len(toks) - 1) + [True]
            assert toks[0]["answer"] == int(rec["completion_target"])
            lines = rec["completion_prompt"].split("\n")
            for t in toks:
                assert t["line_text"] == lines[t["line"]]
                words = t["line_text"].split()
                # independent oracle: `mov r LITERAL` writes LITERAL to r
                if t["access"] == "write" and words[0] == "mov" and words[2].lstrip("-").isdigit():
                    assert t["value"] == int(words[2])
                    assert t["registers"]["abcdefghijklmnop".index(words[1])] == t["value"]
                if t["line_text"].endswith(":") or not t["line_text"].strip():  # label definition, blank
                    assert t["registers"] is None
                if t["registers"] is not None:
                    assert len(t["registers"]) == 16 and t["executed"] >= 1


def test_hidden_states_are_the_models_own(inspection, model_dir):
    """hidden[0] is token + position embedding; the LM head on hidden[-1] predicts `predicted`."""
    import torch

    from cadmus.models import load_model
    from cadmus.tokenization import load_tokenizer

    dd, _ = load_inspection(inspection)
    model, tok = load_model(model_dir), load_tokenizer(model_dir)
    rows = dd["test"].select(range(0, 60, 7)).with_format("numpy")
    hidden = np.asarray(rows["hidden"])
    assert hidden.dtype == np.float32 and hidden.shape[1:] == (3, 32)
    ids, pos = torch.as_tensor(np.asarray(rows["token_id"])), torch.as_tensor(np.asarray(rows["position"]))
    with torch.no_grad():
        emb = (model.transformer.wte(ids) + model.transformer.wpe(pos)).numpy()
        top = model.lm_head(torch.as_tensor(hidden[:, -1])).argmax(-1).tolist()
    np.testing.assert_allclose(hidden[:, 0], emb, atol=1e-5)
    assert [tok.decode([t]) for t in top] == list(rows["predicted"])


def test_attention_rows_are_distributions_over_earlier_tokens(inspection):
    dd, _ = load_inspection(inspection)
    rows = dd["ood_numbers"].select(range(0, 40, 9))
    for att, pos in zip(rows["attention"], rows["position"]):
        att = np.asarray(att)
        assert att.shape == (pos + 1, 2, 2)
        np.testing.assert_allclose(att.sum(0), 1.0, atol=1e-5)


def test_bad_split_and_suite_are_named(data_dir, model_dir, tmp_path, capsys):
    from cadmus.cli import main
    from cadmus.data import load_dataset_dir

    dd = load_dataset_dir(data_dir)
    with pytest.raises(InspectError, match="split 'nope' is not in the dataset"):
        collect_items(dd, ["nope"], "completion", 2)
    with pytest.raises(InspectError, match="suite 'synthesis' cannot be inspected"):
        collect_items(dd, ["test"], "synthesis", 2)
    assert main(["inspect", str(tmp_path), "--data", str(data_dir), "--out", str(tmp_path / "o")]) == 2
    assert "not a model folder" in capsys.readouterr().err


def test_execution_prompts_and_too_long_prompts(data_dir, tmp_path):
    """Execution prompts: the program's lines carry state, the trailing comments do not;
    prompts longer than the position table are skipped, not truncated."""
    import torch

    from cadmus.data import load_dataset_dir
    from cadmus.instruments.inspect import build_splits, run_model
    from cadmus.models import build_model, make_config
    from cadmus.tokenization import load_tokenizer

    tok = load_tokenizer()
    torch.manual_seed(0)
    model = build_model(make_config("tiny", len(tok), 128, n_layer=1, n_head=2, n_embd=16,
                                    pad_token_id=tok.pad_token_id))
    items = collect_items(load_dataset_dir(data_dir), ["test"], "execution", 6)
    skipped = []
    splits = build_splits(run_model(model, tok, items, skipped=skipped), model, tok, tmp_path)
    n_kept = len(set(splits["test"]["prompt"])) if "test" in splits else 0
    assert n_kept + len(skipped) == 6 and all(len(it.prompt) > 128 for it in skipped)
    assert skipped and n_kept  # the tiny data has both kinds
    rows = splits["test"].remove_columns(["hidden"]).to_list()
    comments = [r for r in rows if r["line_text"].startswith("# ")]
    assert comments and all(r["registers"] is None and r["executed"] == 0 for r in comments)


@pytest.mark.parametrize("command", ["inspect", "probe"])
def test_help(command, capsys):
    from cadmus.cli import main

    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: cadmus {command}" in out and "--out" in out


def test_meta_names_the_hidden_state_convention(inspection):
    meta = json.loads((inspection / "inspect.json").read_text())
    assert meta["suite"] == "completion" and "ln_f" in meta["hidden"] and meta["skipped_too_long"] == []


def test_multi_character_tokens_take_the_role_they_cover():
    """With the number tokenizer a literal is one token; offsets keep every token on its text."""
    from cadmus.instruments.inspect import annotate_tokens, make_item
    from cadmus.tokenization import number_tokenizer

    text = "mov b 46\nadd c b 7\nassert c "
    rec = {"id": "x", "family": "arith", "variant": "v", "difficulty": {"level": 1}, "true_program": text + "53",
           "completion_prompt": text, "completion_target": "53", "program": text + "53",
           "tests": [{"input": [], "output": [53]}]}
    t = annotate_tokens(make_item("test", 0, rec, "completion"), number_tokenizer())
    cols = t.columns
    assert "".join(cols["token"]) == text and len(t.ids) < len(text)
    i = cols["token"].index("46")
    assert (cols["role"][i], cols["line"][i], cols["char_start"][i]) == ("literal", 0, 6)
    j = cols["char_start"].index(text.index("b 7"))
    assert (cols["role"][j], cols["access"][j], cols["value"][j]) == ("register", "read", 46)
    assert cols["value"][cols["char_start"].index(text.index("c b"))] == 53  # the destination: the value written
