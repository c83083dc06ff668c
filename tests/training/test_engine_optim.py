"""LIMA's optimizer and schedule: AdamW (0.9, 0.95), decay 0.1, 1e-5 -> 1e-6 linearly, no warmup."""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from training.engine.optim import build_optimizer, build_scheduler, learning_rate_at
from training.engine.recipe import Recipe, from_overrides


def _lrs(total_steps: int, recipe: Recipe) -> list[float]:
    model = torch.nn.Linear(2, 2)
    optimizer = build_optimizer(model, recipe)
    scheduler = build_scheduler(optimizer, total_steps, recipe)
    seen = []
    for _ in range(total_steps):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return seen


def test_the_first_step_uses_the_initial_rate_and_the_last_the_final_one():
    lrs = _lrs(480, Recipe())  # LIMA: 1,030 examples / 32 a batch, 15 epochs is about 480 steps
    assert lrs[0] == pytest.approx(1e-5)
    assert lrs[-1] == pytest.approx(1e-6)
    assert lrs[1] < lrs[0]  # no warmup: it decays from the very first step
    steps = [a - b for a, b in zip(lrs, lrs[1:])]
    assert max(steps) == pytest.approx(min(steps))  # linear


def test_warmup_when_asked_climbs_then_decays_to_the_final_rate():
    recipe = from_overrides({"warmup_steps": 4})
    assert [learning_rate_at(i, 20, recipe) for i in range(4)] == pytest.approx([2.5e-6, 5e-6, 7.5e-6, 1e-5])
    assert learning_rate_at(19, 20, recipe) == pytest.approx(1e-6)


def test_adamw_has_limas_betas_and_weight_decay_except_on_norms():
    model = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32))
    optimizer = build_optimizer(model, Recipe())
    assert isinstance(optimizer, torch.optim.AdamW)
    decayed, not_decayed = optimizer.param_groups
    assert decayed["betas"] == (0.9, 0.95) and decayed["weight_decay"] == 0.1
    assert not_decayed["weight_decay"] == 0.0
    norms = {id(p) for name, p in model.named_parameters() if "norm" in name}
    assert {id(p) for p in not_decayed["params"]} == norms
    assert sum(p.numel() for group in optimizer.param_groups for p in group["params"]) == sum(p.numel() for p in model.parameters())


def test_adamw_is_fused_on_cuda_only_and_fused_steps_match_the_plain_ones():
    model = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32))
    assert not build_optimizer(model, Recipe(), torch.device("cpu")).defaults["fused"]
    assert build_optimizer(model, Recipe(), torch.device("cuda")).defaults["fused"]  # built on CPU tensors; the flag is what CUDA runs use
    # the fused kernel (it exists for CPU too) computes LIMA's AdamW step like the loop-over-tensors one
    torch.manual_seed(0)
    plain = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32))
    fused = LlamaForCausalLM(plain.config)
    fused.load_state_dict(plain.state_dict())
    optimizers = [build_optimizer(plain, Recipe()), build_optimizer(fused, Recipe(), torch.device("cuda"))]
    ids = torch.randint(0, 50, (2, 12))
    for _ in range(3):
        for model, optimizer in zip((plain, fused), optimizers):
            model(input_ids=ids, labels=ids).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    torch.testing.assert_close(fused.state_dict(), plain.state_dict())


def test_lora_runs_follow_limas_schedule_from_their_own_rate():
    recipe = from_overrides({"lora": True})
    assert learning_rate_at(0, 10, recipe) == pytest.approx(2e-4)
    assert learning_rate_at(9, 10, recipe) == pytest.approx(2e-5)  # LIMA's ratio: 1e-6 / 1e-5
    assert _lrs(10, recipe)[0] == pytest.approx(2e-4)
