"""`cadmus inspect --heads`: pattern targets, and detection of heads wired to attend as specified
in an otherwise random tiny GPT-2 (nothing tells the scorer which heads they are)."""
import json
import random

import numpy as np
import pytest

from cadmus.instruments import heads
from cadmus.instruments.inspect import annotate_tokens, make_item, run_model


REGS = "abcdefghijklmnop"


def arith_record(i: int, rng: random.Random) -> dict:
    """A straight-line program: inputs loaded by mov, then ops on earlier registers, then assert."""
    from cadmus.data.views import render_views

    regs = rng.sample(REGS, 5)
    values, lines = {}, []
    for r in regs[:2]:
        values[r] = rng.randint(0, 99)
        lines.append(f"mov {r} {values[r]}")
    for dest in regs[2:]:
        op = rng.choice(["add", "sub", "mul"])
        x, y = rng.sample(sorted(values), 2)
        values[dest] = {"add": values[x] + values[y], "sub": values[x] - values[y], "mul": values[x] * values[y]}[op]
        lines.append(f"{op} {dest} {x} {y}")
    lines.append(f"assert {regs[-1]} {values[regs[-1]]}")
    rec = {"id": f"hand-{i}", "family": "arith", "variant": "hand", "difficulty": {"level": 1, "size": 3},
           "description": "", "program": "\n".join(lines), "true_program": "\n".join(lines),
           "tests": [{"input": [], "output": []}], "challenge_tests": []}
    rec.update(render_views(rec))
    return rec


def oracle_lookup(text: str) -> dict:
    """query char -> the char positions of the nearest earlier line whose destination is the
    register read there; written from the program's shape, independently of the scorer."""
    out, starts, pos = {}, [], 0
    lines = text.split("\n")
    for line in lines:
        starts.append(pos)
        pos += len(line) + 1
    for i, line in enumerate(lines):
        words = line.split(" ")
        first_source = 1 if words[0] == "assert" else 2
        col = len(words[0]) + 1
        for k, w in enumerate(words[1:], start=1):
            if k >= first_source and w in REGS and w:
                writer = max(j for j in range(i) if lines[j].split(" ")[1] == w)
                out[starts[i] + col] = range(starts[writer], starts[writer] + len(lines[writer]))
            col += len(w) + 1
    return out


def constructed(n: int, query_keys: dict) -> np.ndarray:
    """A causal attention matrix: each query spreads evenly over its keys, or attends to itself."""
    att = np.eye(n)
    for q, keys in query_keys.items():
        att[q] = 0.0
        att[q, list(keys)] = 1.0 / len(keys)
    return att


def wire_head(model, layer: int, head: int, patterns: dict) -> None:
    """Make head ``head`` of ``layer`` use the attention ``patterns[input ids]``: the module's own
    weights are replaced for that head and its output recomputed from them."""
    import torch

    attn = model.transformer.h[layer].attn
    original = attn.forward

    def forward(hidden_states, *args, **kwargs):
        _, weights = original(hidden_states, *args, **kwargs)
        ids = CURRENT["ids"]
        weights = weights.clone()
        for b, row in enumerate(ids):
            n = len(row)
            weights[b, head, :n, :n] = torch.as_tensor(patterns[tuple(row)], dtype=weights.dtype)
        _, _, v = attn.c_attn(hidden_states).split(attn.split_size, dim=2)
        v = v.view(*v.shape[:-1], -1, attn.head_dim).transpose(1, 2)
        out = (weights @ v).transpose(1, 2).reshape(*hidden_states.shape[:-1], -1)
        return attn.c_proj(out), weights

    attn.forward = forward


CURRENT = {}  # the unpadded input ids of the batch being run


@pytest.fixture(scope="module")
def wired():
    """A random 2-layer, 2-head GPT-2 whose L1H0 is a look-up head, L1H1 the same look-up one
    token later and L0H1 a previous-token head; L0H0 is left random."""
    import torch

    from cadmus.models import build_model, make_config
    from cadmus.tokenization import load_tokenizer

    tok = load_tokenizer()
    torch.manual_seed(1)
    model = build_model(make_config("tiny", len(tok), 256, n_layer=2, n_head=2, n_embd=32,
                                    pad_token_id=tok.pad_token_id))
    model.set_attn_implementation("eager")
    rng = random.Random(3)
    items = [make_item("test", i, arith_record(i, rng), "completion") for i in range(12)]
    lookup_att, next_att, prev_att = {}, {}, {}
    for it in items:
        ids = tuple(tok(it.prompt, add_special_tokens=False)["input_ids"])
        assert len(ids) == len(it.prompt)  # one token per character: char positions are token positions
        lookup_att[ids] = constructed(len(ids), oracle_lookup(it.prompt))
        next_att[ids] = constructed(len(ids), {q + 1: keys for q, keys in oracle_lookup(it.prompt).items()
                                               if q + 1 < len(ids)})
        prev_att[ids] = constructed(len(ids), {q: [q - 1] for q in range(1, len(ids))})
    wire_head(model, 1, 0, lookup_att)
    wire_head(model, 1, 1, next_att)
    wire_head(model, 0, 1, prev_att)
    # the wired forward reads the batch's ids from here (set by a pre-hook on the whole model)
    model.register_forward_pre_hook(lambda m, args, kwargs: CURRENT.update(ids=[
        [t for t, keep in zip(row, mask) if keep] for row, mask in zip(kwargs["input_ids"].tolist(),
                                                                         kwargs["attention_mask"].tolist())]),
        with_kwargs=True)
    return model, tok, items


def test_detection_finds_exactly_the_wired_heads(wired):
    model, tok, items = wired
    scores = heads.HeadScores(2, 2)
    for act in run_model(model, tok, items, batch_size=4, attentions=True):
        scores.add(act.tokens, act.attentions)
    s = scores.scores()
    assert s["lookup"][1, 0] == pytest.approx(1.0, abs=1e-5)
    assert s["previous_token"][0, 1] == pytest.approx(1.0, abs=1e-5)
    assert s["lookup_next"][1, 1] == pytest.approx(1.0, abs=1e-5)
    assert scores.detected() == {"lookup": ["L1H0"], "lookup_next": ["L1H1"], "previous_token": ["L0H1"],
                                 "same_register": [], "answer_source": []}
    # the random head sits near what uniform attention scores
    uniform = scores.uniform_scores()
    for name in heads.PATTERNS:
        assert s[name][0, 0] == pytest.approx(uniform[name], rel=0.25)


def test_wired_lookup_head_moved_one_line_up_is_not_detected(wired):
    """The same run with the look-up head pointed at the line *before* the writer: mass on the
    pattern's keys collapses, so detection cannot be reading anything but the pattern."""
    model, tok, items = wired
    shifted = heads.HeadScores(2, 2)
    for act in run_model(model, tok, items, batch_size=4, attentions=True):
        att = act.attentions.copy()
        n = att.shape[-1]
        text = act.item.prompt
        starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        moved = {}
        for q, keys in oracle_lookup(text).items():
            line = max(k for k, s in enumerate(starts) if s <= keys.start)
            if line >= 1:
                moved[q] = range(starts[line - 1], starts[line] - 1)
        att[1, 0] = constructed(n, moved)
        shifted.add(act.tokens, att)
    assert "L1H0" not in shifted.detected()["lookup"]


def test_pattern_targets_on_a_known_prompt(model_dir):  # noqa: F811
    from cadmus.tokenization import load_tokenizer

    tok = load_tokenizer(model_dir)
    text = "mov a 5\nmov b 2\nadd c a b\nassert c "
    rec = {"id": "x", "family": "arith", "variant": "v", "difficulty": {"level": 1}, "true_program": text + "7",
           "completion_prompt": text, "completion_target": "7", "program": text + "7",
           "tests": [{"input": [], "output": [7]}]}
    tokens = annotate_tokens(make_item("test", 0, rec, "completion"), tok)
    target, q = heads.lookup(tokens)
    a_read, b_read, c_read = text.index("a b"), text.index("b\nassert"), text.rindex("c")
    assert np.flatnonzero(q).tolist() == [a_read, b_read, c_read]
    assert np.flatnonzero(target[a_read]).tolist() == list(range(0, 7))  # "mov a 5", newline excluded
    assert np.flatnonzero(target[b_read]).tolist() == list(range(8, 15))
    assert np.flatnonzero(target[c_read]).tolist() == list(range(16, 25))
    target_next, q_next = heads.lookup_next(tokens)
    assert np.flatnonzero(q_next).tolist() == [a_read + 1, b_read + 1, c_read + 1]
    assert (target_next[c_read + 1] == target[c_read]).all()
    target, q = heads.same_register(tokens)
    assert np.flatnonzero(target[c_read]).tolist() == [text.index("c")]
    assert not q[text.index("a")]  # a first mention has no previous one
    target, q = heads.previous_token(tokens)
    assert not q[0] and target[5, 4] and target.sum() == len(text) - 1


def test_cli_writes_head_tables_and_heatmap(model_dir, data_dir, tmp_path, capsys):  # noqa: F811
    from cadmus.cli import main

    out = tmp_path / "h"
    assert main(["inspect", str(model_dir), "--data", str(data_dir), "--split", "test", "--limit", "3",
                 "--out", str(out), "--heads", "--device", "cpu"]) == 0
    rep = json.loads((out / "heads.json").read_text())
    assert sorted(rep["heads"]) == ["L0H0", "L0H1", "L1H0", "L1H1"] and rep["prompts"] == 3
    assert rep["detected"] == {"lookup": [], "lookup_next": [], "previous_token": [], "same_register": [],
                               "answer_source": []}
    assert rep["queries"]["previous_token"] > rep["queries"]["lookup"] > 0
    assert (out / "heads.png").stat().st_size > 10_000
    md = (out / "heads.md").read_text()
    assert "| L1H1 |" in md and "| uniform |" in md
    from cadmus.instruments.inspect import load_inspection

    dd, _ = load_inspection(out)
    assert "attention" not in dd["test"].column_names  # --heads alone does not store attention


def _tokens(model_dir, text: str, answer: str):
    from cadmus.tokenization import load_tokenizer

    rec = {"id": "x", "family": "copy", "variant": "v", "difficulty": {"level": 1}, "true_program": text + answer,
           "completion_prompt": text, "completion_target": answer, "program": text + answer,
           "tests": [{"input": [], "output": [int(answer)]}]}
    return annotate_tokens(make_item("test", 0, rec, "completion"), load_tokenizer(model_dir))


def test_answer_source_follows_the_data_flow_back_to_its_literals(model_dir):  # noqa: F811
    text = "mov a 5\nmov b 2\nmov d 9\nadd c a b\nmov e c\nassert e "
    target, q = heads.answer_source(_tokens(model_dir, text, "7"))
    assert np.flatnonzero(q).tolist() == [len(text) - 1]  # the last token, where the answer is predicted
    assert np.flatnonzero(target[-1]).tolist() == [text.index("5"), text.index("2")]  # not the 9 of d


def test_answer_source_separates_a_look_up_from_attending_to_every_literal(model_dir):  # noqa: F811
    """Head 0 attends from the answer position to the copied literal only, head 1 to every
    literal alike: only head 0 is a look-up."""
    text = "mov o 41\nmov b 49\nmov c 7\nmov i o\nassert i "
    tokens = _tokens(model_dir, text, "41")
    n = len(tokens.ids)
    literals = [text.index("41"), text.index("41") + 1, text.index("49"), text.index("49") + 1, text.index("7")]
    att = np.tile(np.eye(n), (1, 2, 1, 1))
    att[0, :, n - 1] = 0.0
    att[0, 0, n - 1, literals[:2]] = 0.5
    att[0, 1, n - 1, literals] = 0.2
    scores = heads.HeadScores(1, 2)
    scores.add(tokens, att)
    assert scores.scores()["answer_source"][0].tolist() == pytest.approx([1.0, 0.4])
    assert scores.detected()["answer_source"] == ["L0H0"]
    assert scores.detected(ratio=1 / scores.uniform_scores()["answer_source"] + 0.01)["answer_source"] == []


def test_a_head_split_between_the_source_and_one_distractor_is_not_detected(model_dir):  # noqa: F811
    text = "mov o 41\nmov b 49\nmov i o\nassert i "
    tokens = _tokens(model_dir, text, "41")
    n = len(tokens.ids)
    att = np.tile(np.eye(n), (1, 1, 1, 1))
    att[0, 0, n - 1] = 0.0
    att[0, 0, n - 1, [text.index("41"), text.index("41") + 1, text.index("49"), text.index("49") + 1]] = 0.25
    scores = heads.HeadScores(1, 1)
    scores.add(tokens, att)
    assert scores.scores()["answer_source"][0, 0] == pytest.approx(0.5)
    assert scores.detected()["answer_source"] == []


def test_a_head_that_looks_up_only_where_an_assert_reads_is_found_in_its_line_group(model_dir):  # noqa: F811
    """Head 0 looks the register up from the assert line only, head 1 from the mov line only: each
    scores 0.5 over all look-up queries (not detected there), 1.0 within its own line group."""
    text = "mov o 41\nmov b 49\nmov i o\nassert i "
    tokens = _tokens(model_dir, text, "41")
    target, q = heads.lookup(tokens)
    at_assert, at_mov = len(text) - 2, text.index("mov i o") + 6  # the read `i` and the read `o`
    assert np.flatnonzero(q).tolist() == [at_mov, at_assert]
    n = len(tokens.ids)
    att = np.tile(np.eye(n), (1, 2, 1, 1))
    for head, query in ((0, at_assert), (1, at_mov)):
        att[0, head, query] = target[query] / target[query].sum()
    scores = heads.HeadScores(1, 2)
    for _ in range(heads.MIN_GROUP_QUERIES):
        scores.add(tokens, att)
    assert scores.scores()["lookup"][0].tolist() == pytest.approx([0.5, 0.5])
    assert scores.detected()["lookup"] == []
    assert scores.detected_by_line()["lookup"] == ["L0H0 (assert)", "L0H1 (mov)"]
    assert scores.detected_by_line(min_queries=heads.MIN_GROUP_QUERIES + 1)["lookup"] == []
    rep = heads.report(scores)
    assert {(g["pattern"], g["line"]) for g in rep["line_groups"]} >= {("lookup", "assert"), ("lookup", "mov")}
    assert "- lookup within a line group: L0H0 (assert), L0H1 (mov)" in heads.markdown(rep)
