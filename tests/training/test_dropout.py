"""Residual dropout: 0 at the bottom layer, the top value at the last, only in train mode."""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from training.engine.dropout import add_residual_dropout, decoder_layers, layer_rates


def _model(layers: int) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=50, hidden_size=32, num_hidden_layers=layers, num_attention_heads=4, intermediate_size=64)
    return LlamaForCausalLM(config)


def test_rates_rise_linearly_from_zero_to_the_top():
    assert layer_rates(4, 0.3) == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert layer_rates(1, 0.3) == [0.3]


def test_the_top_layers_outputs_are_dropped_at_its_rate_in_train_mode():
    model = _model(layers=4)
    assert add_residual_dropout(model, 0.3) == pytest.approx([0.0, 0.1, 0.2, 0.3])
    top, bottom = decoder_layers(model)[-1], decoder_layers(model)[0]
    x = torch.randn(8, 256, 32)  # (batch, seq, hidden)
    model.train()
    torch.manual_seed(1)
    dropped = top.mlp(x)
    with torch.no_grad():
        plain = top.mlp.down_proj(top.mlp.act_fn(top.mlp.gate_proj(x)) * top.mlp.up_proj(x))
    zeros = (dropped == 0).float().mean().item()
    assert zeros == pytest.approx(0.3, abs=0.01)
    kept = dropped != 0
    torch.testing.assert_close(dropped[kept], plain[kept] / 0.7)  # inverted dropout scales what it keeps
    # the bottom layer's rate is 0: its outputs are the plain ones, even in train mode
    torch.testing.assert_close(bottom.mlp(x), bottom.mlp(x))
    assert (bottom.mlp(x) != 0).all()


def test_the_attention_output_is_dropped_too():
    model = _model(layers=2)
    add_residual_dropout(model, 0.5)
    ids = torch.randint(0, 50, (2, 64))
    captured = []
    top = decoder_layers(model)[-1]
    # a hook registered after ours sees what the decoder layer adds to the residual stream
    top.self_attn.register_forward_hook(lambda module, inputs, output: captured.append(output[0]))
    model.train()
    model(ids)
    assert (captured[-1] == 0).float().mean().item() == pytest.approx(0.5, abs=0.05)
    model.eval()
    model(ids)
    assert (captured[-1] == 0).float().mean().item() == 0


def test_the_model_is_untouched_in_eval_mode_and_noisy_in_train_mode():
    reference, model = _model(layers=3), _model(layers=3)
    add_residual_dropout(model, 0.3)
    ids = torch.randint(0, 50, (2, 16))
    model.eval()
    reference.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, reference(ids).logits)
        model.train()
        first, second = model(ids).logits, model(ids).logits
    assert not torch.allclose(first, second)


def test_a_model_without_llama_layers_is_refused():
    with pytest.raises(ValueError, match="LLaMA-family decoder layers"):
        add_residual_dropout(torch.nn.Sequential(torch.nn.Linear(2, 2)), 0.3)
