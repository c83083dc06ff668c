"""Instruction-following difficulty (IFD) with a small causal LM. No Django.

Li et al. 2024, "From Quantity to Quality: Boosting LLM Performance with Self-Guided Data Selection" (Cherry LLM):
IFD(Q, A) = L(A | Q) / L(A), the mean cross-entropy of the answer's tokens given the question over that of the
answer alone. Below 1 the question helps the model predict the answer; near or above 1 it does not (the answer
is unrelated to it). Superfiltering (Li et al. 2024, "Superfiltering: Weak-to-Strong Data Filtering") shows a
GPT-2-sized model ranks IFD much as a 7B one does, so a small model (SmolLM2-135M) is enough.

Batched: a batch of (prompt + answer) rows and one of answers alone, two forward passes, per-row means from a
mask; no loop over tokens.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_PROMPT_TOKENS = 256  # Cherry LLM cuts at 512 tokens in all; the answer gets the larger share
MAX_ANSWER_TOKENS = 256


@dataclass
class Scorer:
    model: object
    tokenizer: object
    device: str
    name: str


def load_scorer(path: str) -> Scorer:
    import os

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype).to(device).eval()
    from pathlib import Path

    return Scorer(model, tokenizer, device, Path(path).resolve().name)


def _ids(tokenizer, text, limit):
    return tokenizer(text, add_special_tokens=False)["input_ids"][:limit]


def _mean_losses(scorer, rows, answer_starts):
    """Per row, the mean cross-entropy of its tokens from answer_starts[i] on (each token predicted from the
    ones before it)."""
    import torch

    pad = scorer.tokenizer.pad_token_id
    pad = pad if pad is not None else 0
    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):  # one copy a row, not a token
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    ids, mask = ids.to(scorer.device), mask.to(scorer.device)
    with torch.no_grad():
        logits = scorer.model(input_ids=ids, attention_mask=mask).logits  # (batch, seq, vocab)
    logits = logits[:, :-1].float()
    targets = ids[:, 1:]
    losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # (batch, seq-1)
    positions = torch.arange(1, width, device=scorer.device).unsqueeze(0)  # position of each target token
    starts = torch.tensor(answer_starts, device=scorer.device).unsqueeze(1)
    counted = (positions >= starts) & mask[:, 1:].bool()
    return ((losses * counted).sum(1) / counted.sum(1).clamp(min=1)).cpu().numpy()


def ifd_scores(scorer: Scorer, pairs: list[tuple[str, str]], batch_size: int = 16) -> np.ndarray:
    """IFD of each (prompt, answer); NaN where the answer is empty."""
    tokenizer = scorer.tokenizer
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    out = np.full(len(pairs), np.nan)
    encoded = []
    for prompt, answer in pairs:
        answer_ids = _ids(tokenizer, answer, MAX_ANSWER_TOKENS)
        prompt_ids = _ids(tokenizer, prompt + "\n\n", MAX_PROMPT_TOKENS)
        encoded.append((bos + prompt_ids, answer_ids))
    order = sorted(range(len(pairs)), key=lambda i: len(encoded[i][0]) + len(encoded[i][1]))
    scorable = [i for i in order if encoded[i][1]]
    for start in range(0, len(scorable), batch_size):
        batch = scorable[start:start + batch_size]
        # The answer alone starts after a BOS or, without one, is scored from its second token on; the
        # conditioned row scores exactly the same tokens, so the two means are over the same answer tokens.
        alone_prefix = bos if bos else []
        alone = [alone_prefix + encoded[i][1] for i in batch]
        alone_starts = [len(alone_prefix) if bos else 1 for _ in batch]
        conditioned = [encoded[i][0] + encoded[i][1] for i in batch]
        conditioned_starts = [len(encoded[i][0]) + (0 if bos else 1) for i in batch]
        given = _mean_losses(scorer, conditioned, conditioned_starts)
        without = _mean_losses(scorer, alone, alone_starts)
        out[batch] = given / np.maximum(without, 1e-6)
    return out
