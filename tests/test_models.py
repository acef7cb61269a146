"""GPT-2 presets: parameter counts, overrides, save/load equivalence."""
import pytest
import torch

from cadmus import models


@pytest.mark.parametrize("preset, lo, hi", [
    ("tiny", 0.8e6, 1.3e6), ("small", 9e6, 12e6), ("base", 80e6, 90e6), ("cadmus-280m", 265e6, 295e6),
])
def test_preset_parameter_counts(preset, lo, hi):
    n = models.preset_parameter_count(preset)
    assert lo <= n <= hi, f"{preset}: {n:,}"


def test_count_matches_transformers_and_embeddings_are_tied():
    model = models.build_model(models.make_config("tiny", 99, 64))
    assert models.count_parameters(model) == model.num_parameters()
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()


def test_overrides_and_context_length():
    cfg = models.make_config("small", 99, 80, n_layer=1, n_embd=32, n_head=2, eos_token_id=1, pad_token_id=0)
    assert (cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.n_positions, cfg.vocab_size) == (1, 32, 2, 80, 99)
    assert cfg.eos_token_id == cfg.bos_token_id == 1 and cfg.pad_token_id == 0


def test_bad_presets_are_errors():
    with pytest.raises(ValueError, match="unknown model preset"):
        models.make_config("huge", 99, 64)
    with pytest.raises(ValueError, match="multiple of n_head"):
        models.make_config("tiny", 99, 64, n_embd=30, n_head=4)


def test_saved_model_reloads_to_identical_logits(tmp_path):
    torch.manual_seed(0)
    model = models.build_model(models.make_config("tiny", 99, 32, n_layer=1, n_embd=32, n_head=2)).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    again = models.load_model(tmp_path).eval()
    x = torch.randint(0, 99, (2, 16))
    with torch.no_grad():
        assert torch.equal(model(x).logits, again(x).logits)


def test_presets_table_lists_every_preset():
    table = models.describe_presets()
    assert all(name in table for name in models.PRESETS)


def test_fused_gelu_is_gpt2s_gelu():
    """The presets use the fused tanh GELU: the same function as GPT-2's `gelu_new`."""
    from transformers.activations import ACT2FN

    config = models.make_config("tiny", 99, 64)
    assert config.activation_function == "gelu_pytorch_tanh"
    x = torch.linspace(-6, 6, 1001)
    assert torch.allclose(ACT2FN[config.activation_function](x), ACT2FN["gelu_new"](x), atol=1e-6)
