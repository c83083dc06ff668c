"""LoRA learns to stop: on a base model that has never seen the chat tokens, EOT becomes the likely end of an answer."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from training.engine import chat
from training.engine.config import RunConfig
from training.engine.recipe import Recipe
from training.engine.tiny import build_tiny_model
from training.engine.train import train

DATA = Path(__file__).resolve().parent / "fixtures" / "engine_chats.jsonl"


@pytest.fixture(scope="module")
def base_without_chat_tokens(tmp_path_factory, chats):
    """Like a pretrained model: its tokenizer knows only <s> and </s>, its output layer is its own."""
    folder = tmp_path_factory.mktemp("bare-base")
    build_tiny_model(folder, [turn for turns in chats for turn in turns], chat_tokens=False, tied=False)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert chat.EOT not in tokenizer.get_vocab() and tokenizer.eos_token == "</s>"
    return folder


def _answer_ends(tokenizer, turns):
    """(ids, positions whose next token is the EOT closing an assistant turn)."""
    ids, trained = chat.encode(tokenizer, turns)
    eot = chat.eot_id(tokenizer)
    return ids, [i - 1 for i, (token, is_trained) in enumerate(zip(ids, trained)) if token == eot and is_trained]


def test_loras_own_learning_rate_is_not_limas_and_is_10_to_20_times_it():
    recipe = Recipe()
    assert 10 * recipe.learning_rate <= recipe.lora_learning_rate <= 20 * recipe.learning_rate


def test_after_a_short_lora_run_eot_is_the_most_likely_token_at_the_end_of_most_answers(base_without_chat_tokens, chats, tmp_path):
    # given a LoRA run at LoRA's own rate (a little higher: the base is random, not pretrained)
    recipe = {"epochs": 6, "batch_size": 8, "micro_batch_size": 8, "lora": True, "lora_learning_rate": 1e-2, "save_from_epoch": 6, "residual_dropout": 0.0}
    events = []
    train(RunConfig(str(base_without_chat_tokens), str(DATA), str(tmp_path / "out"), recipe), emit=lambda event, **f: events.append({"event": event, **f}))
    folder = tmp_path / "out" / "checkpoint-epoch-06"
    # when the merged checkpoint (a normal model) predicts the token after each answer's last word
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    eot = chat.eot_id(tokenizer)
    hits = total = 0
    with torch.no_grad():
        for turns in chats:
            ids, ends = _answer_ends(tokenizer, turns)
            predicted = model(torch.tensor([ids])).logits[0].argmax(-1)  # (seq,)
            hits += sum(int(predicted[i]) == eot for i in ends)
            total += len(ends)
    # then EOT is the most likely next token at most of them
    assert total >= 24 and hits / total > 0.5, f"EOT predicted at {hits} of {total} answer ends"
    # the merged folder is a plain model, and the output row of EOT was trained (the layer is untied)
    base = load_file(base_without_chat_tokens / "model.safetensors")
    merged = load_file(folder / "model.safetensors")
    assert set(merged) == set(base) and merged["lm_head.weight"].shape[0] == len(tokenizer)
    old_rows = base["lm_head.weight"].shape[0]
    assert not torch.equal(merged["lm_head.weight"][eot], base["lm_head.weight"][AutoTokenizer.from_pretrained(base_without_chat_tokens).eos_token_id])
    torch.testing.assert_close(merged["lm_head.weight"][:old_rows], base["lm_head.weight"])  # the base's own rows stay frozen
    assert json.loads((folder / "config.json").read_text())["vocab_size"] == len(tokenizer)
