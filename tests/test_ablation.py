"""`cadmus inspect --ablate`: zeroing one head, teacher-forced exact match, and the report, checked
against a second implementation (the head's rows of the output projection's weight set to zero)."""
import json

import numpy as np
import pytest

from cadmus.data.io import load_dataset_dir
from cadmus.instruments import ablation
from cadmus.instruments.inspect import collect_items, load_for_inspection


@pytest.fixture(scope="module")
def loaded(model_dir, data_dir):
    """The untrained tiny model with its heads' outputs scaled up, so that each head moves the argmax."""
    import torch

    model, tok = load_for_inspection(model_dir)
    with torch.no_grad():
        for block in model.transformer.h:
            block.attn.c_proj.weight.mul_(50)
    items = collect_items(load_dataset_dir(data_dir), ["test", "train"], "completion", 6)
    return model.eval(), tok, items


def logits(model, rows, pad_id):
    import torch

    width = max(len(r) for r, _ in rows)
    ids = torch.full((len(rows), width), pad_id)
    mask = torch.zeros_like(ids)
    for i, (r, _) in enumerate(rows):
        ids[i, :len(r)], mask[i, :len(r)] = torch.tensor(r), 1
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask).logits


def greedy_rows(model, rows, pad_id):
    """The rows with their answers replaced by the model's own teacher-forced argmax: exact match 1."""
    out = []
    for r, n in rows:
        answer = list(r[n:])
        for t in range(len(answer)):  # each answer token is the argmax given the ones before it
            row = r[:n] + answer[:t]
            answer[t] = int(logits(model, [(row, n)], pad_id)[0, len(row) - 1].argmax())
        out.append((r[:n] + answer, n))
    return out


def test_zeroing_a_head_equals_zeroing_its_rows_of_the_output_projection(loaded):
    import copy

    import torch

    model, tok, items = loaded
    rows = ablation.answer_rows(items, tok, "completion")
    size = model.config.n_embd // model.config.n_head
    for layer, head in ((0, 1), (1, 0)):
        with ablation.zeroed_head(model, layer, head):
            hooked = logits(model, rows, tok.pad_token_id)
        other = copy.deepcopy(model)
        with torch.no_grad():
            other.transformer.h[layer].attn.c_proj.weight[head * size:(head + 1) * size] = 0
        assert torch.allclose(hooked, logits(other, rows, tok.pad_token_id), atol=1e-5)
        assert not torch.allclose(hooked, logits(model, rows, tok.pad_token_id), atol=1e-4)  # the hook is gone


def test_exact_match_counts_rows_whose_every_answer_token_is_the_argmax(loaded):
    model, tok, items = loaded
    rows = greedy_rows(model, ablation.answer_rows(items, tok, "completion"), tok.pad_token_id)
    assert ablation.exact_match(model, rows, tok.pad_token_id, batch_size=4) == 1.0
    broken = [(r[:-1] + [(r[-1] + 1) % len(tok)], n) for r, n in rows[::2]] + rows[1::2]  # last token wrong
    assert ablation.exact_match(model, broken, tok.pad_token_id, batch_size=5) == pytest.approx(
        len(rows[1::2]) / len(rows))


def test_ablate_heads_scores_every_head_and_the_report_names_the_needed_ones(loaded):
    import copy

    import torch

    model, tok, items = loaded
    rows = greedy_rows(model, ablation.answer_rows(items, tok, "completion"), tok.pad_token_id)
    result = ablation.ablate_heads(model, rows, tok.pad_token_id, batch_size=5)
    assert result["base"] == 1.0 and result["ablated"].min() < 1.0  # some head changes an argmax
    size = model.config.n_embd // model.config.n_head
    for layer in range(model.config.n_layer):
        for head in range(model.config.n_head):  # a second implementation of each ablated score
            other = copy.deepcopy(model)
            with torch.no_grad():
                other.transformer.h[layer].attn.c_proj.weight[head * size:(head + 1) * size] = 0
            assert result["ablated"][layer, head] == ablation.exact_match(other, rows, tok.pad_token_id)
    assert result["prompts"] == len(rows)
    fake = {"prompts": 10, "base": 0.9, "ablated": np.array([[0.9, 0.2], [0.85, 0.79]])}
    rep = ablation.report(fake, threshold=0.1, detected={"lookup": ["L0H1 (assert)", "L1H0"], "same_register": []})
    assert rep["needed"] == ["L0H1", "L1H1"] and rep["drop"]["L0H1"] == pytest.approx(0.7)
    assert rep["detected_heads"] == {"lookup": [{"head": "L0H1 (assert)", "drop": 0.7, "needed": True},
                                                {"head": "L1H0", "drop": 0.05, "needed": False}]}
    assert "- lookup heads (from --heads) and their drop: L0H1 (assert) +0.700 (needed), L1H0 +0.050" in (
        ablation.markdown(rep))


def test_cli_writes_the_ablation_table_beside_the_head_scores(model_dir, data_dir, tmp_path):
    from cadmus.cli import main

    out = tmp_path / "a"
    assert main(["inspect", str(model_dir), "--data", str(data_dir), "--split", "test", "--limit", "4",
                 "--out", str(out), "--heads", "--ablate", "--device", "cpu"]) == 0
    rep = json.loads((out / "ablation.json").read_text())
    assert sorted(rep["ablated"]) == ["L0H0", "L0H1", "L1H0", "L1H1"] and rep["prompts"] == 4
    assert all(rep["drop"][h] == pytest.approx(rep["base"] - rep["ablated"][h], abs=1e-3) for h in rep["drop"])
    assert "detected_heads" in rep and (out / "ablation.png").stat().st_size > 5_000
    assert main(["inspect", str(model_dir), "--data", str(data_dir), "--split", "test", "--limit", "2",
                 "--out", str(tmp_path / "b"), "--ablate", "--device", "cpu"]) == 0
    assert "detected_heads" not in json.loads((tmp_path / "b" / "ablation.json").read_text())
