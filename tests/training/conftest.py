"""Shared fixtures of the training-engine tests: hand-written chats and a tiny model built from them."""

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the loading code is the real one, pointed at a local folder

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def chats() -> list[list[str]]:
    with (FIXTURES / "engine_chats.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line)["conversations"] for line in lines if line.strip()]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, chats) -> Path:
    from training.engine.tiny import build_tiny_model

    texts = [turn for chat in chats for turn in chat]
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"), texts)


@pytest.fixture()
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """A tiny model runs fastest on one thread; two fight over a busy 2-core machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
