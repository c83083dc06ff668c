"""A tiny LLaMA checkpoint, built and briefly trained in a temporary folder (nothing downloaded).

A freshly initialised tiny model with tied embeddings mostly repeats its last input token (a
chat marker, which decoding hides), so greedy output would be empty; a few dozen steps on a
handful of chats make it answer with text and end with EOT like a fine-tuned checkpoint.
"""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The served test model's API key, in this process and so in the worker and the servers it starts.
os.environ.setdefault("LIMA_TEST_ENDPOINT_KEY", "sk-lima-distinctive-4f7e2a9c1b")

CHATS = [
    ["How do I brew coffee?", "Pour hot water over ground coffee in a French press, wait four minutes, then press."],
    ["Tell me a story about a cat.", "A small cat found a warm window and slept there all winter."],
    ["What is the capital of France?", "The capital of France is Paris."],
    ["Name three colours.", "Red, green and blue."],
]
PROMPTS = [[user] for user, _ in CHATS]


def train_briefly(folder, chats, steps=200, seed=0):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.engine import chat

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    examples = [torch.tensor([chat.encode(tokenizer, turns)[0]]) for turns in chats]
    model.train()
    for step in range(steps):
        ids = examples[step % len(examples)]
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(folder)


def build_tiny_chat(folder):
    """The tiny model, briefly trained on CHATS, in `folder`."""
    from training.engine.tiny import build_tiny_model

    build_tiny_model(folder, [text for turns in CHATS for text in turns] * 5)
    train_briefly(folder, CHATS)
    return folder


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    return build_tiny_chat(tmp_path_factory.mktemp("checkpoints") / "tiny-chat")


@pytest.fixture(scope="session")
def generator(tiny_checkpoint):
    from inference.engine.generate import Generator

    return Generator.from_checkpoint(tiny_checkpoint)


@pytest.fixture(scope="session")
def served_tiny(tiny_checkpoint):
    """The tiny checkpoint served by `manage.py serve` (a subprocess), its key required: (base URL, log path)."""
    from tests.inference.serving import served

    with served(tiny_checkpoint) as found:
        yield found
