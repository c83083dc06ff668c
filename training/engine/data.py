"""Training data: conversations -> token ids with a loss mask -> length-grouped, padded batches.

Labels are the input ids on trained tokens (assistant text and its EOT, see chat.py) and -100
everywhere else, the ignore index of torch's cross-entropy.

Trimming (LIMA: "texts longer than 2048 tokens are trimmed"), chosen so that a trimmed example
still ends cleanly on an assistant's EOT:
1. drop whole trailing exchanges (user + assistant turns) while the rest is too long;
2. if the first exchange alone is too long, cut its assistant response and end it with EOT;
3. if even the prompt leaves no room, keep the prompt's beginning (ended by its EOT and the
   assistant marker) and at least min(response, max_length // 4) response tokens.
A trailing user turn with no answer trains nothing and is dropped.
"""

import hashlib
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from training.engine import chat
from training.engine.jsonl_rows import iter_json_objects

IGNORE_INDEX = -100


class DataError(ValueError):
    pass


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]
    trimmed: bool = False

    def __len__(self) -> int:
        return len(self.input_ids)


def read_conversations(path) -> list[list[str]]:
    """The conversations of a JSONL file of {"conversations": [user, assistant, ...]} rows (LIMA's format)."""
    path = Path(path)
    conversations = []
    for where, _, row in iter_json_objects(path, DataError):
        turns = row.get("conversations")
        if not isinstance(turns, list) or not all(isinstance(turn, str) for turn in turns):
            raise DataError(f"{where}: 'conversations' must be a list of strings (user, assistant, ...)")
        if len(turns) < 2:
            raise DataError(f"{where}: a training conversation needs a user turn and an assistant turn")
        conversations.append(turns)
    if not conversations:
        raise DataError(f"{path}: no conversations")
    return conversations


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def trim(ids: np.ndarray, trained: np.ndarray, max_length: int, eot: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut an encoded conversation to max_length tokens so that it ends on an assistant's EOT."""
    if len(ids) <= max_length:
        return ids, trained
    # Exchanges end right after each run of trained tokens (an assistant's text and its EOT).
    run_ends = np.flatnonzero(trained & ~np.append(trained[1:], False)) + 1
    fitting = run_ends[run_ends <= max_length]
    if len(fitting):
        end = fitting[-1]
        return ids[:end], trained[:end]
    response_start = int(np.argmax(trained))  # first assistant token; its marker is just before
    response_length = int(run_ends[0]) - response_start  # text and EOT
    keep = min(response_length, max_length // 4)
    if max_length - response_start >= keep:
        ids, trained = ids[:max_length].copy(), trained[:max_length].copy()
    else:
        # The prompt is too long: keep its start, then its EOT and the assistant marker.
        prompt_kept = max_length - keep - 2
        if prompt_kept < 2:
            raise DataError(f"max_length {max_length} leaves no room for a prompt")
        head = np.arange(prompt_kept)
        tail = np.arange(response_start - 2, response_start + keep)
        picked = np.concatenate([head, tail])
        ids, trained = ids[picked], trained[picked]
    ids[-1], trained[-1] = eot, True
    return ids, trained


def encode_example(tokenizer, turns: list[str], max_length: int) -> Example:
    if len(turns) % 2 == 1:
        turns = turns[:-1]  # a last user turn with no answer trains nothing
    ids, trained = chat.encode(tokenizer, turns)
    ids, trained = np.asarray(ids, dtype=np.int64), np.asarray(trained, dtype=bool)
    trimmed = len(ids) > max_length
    ids, trained = trim(ids, trained, max_length, chat.eot_id(tokenizer))
    labels = np.where(trained, ids, IGNORE_INDEX)
    return Example(ids.tolist(), labels.tolist(), trimmed)


def encode_examples(tokenizer, conversations: list[list[str]], max_length: int) -> list[Example]:
    return [encode_example(tokenizer, turns, max_length) for turns in conversations]


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad to the longest example: input_ids, labels (-100 on padding), attention_mask."""
    longest = max(len(example) for example in examples)
    input_ids = torch.full((len(examples), longest), pad_id, dtype=torch.long)  # (batch, seq)
    labels = torch.full((len(examples), longest), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), longest), dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example)
        input_ids[row, :n] = torch.tensor(example.input_ids)
        labels[row, :n] = torch.tensor(example.labels)
        attention_mask[row, :n] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}


def trained_tokens(examples: list[Example]) -> int:
    """Tokens whose next token is predicted with a label (the first label is never predicted)."""
    return sum(int(np.count_nonzero(np.asarray(example.labels[1:]) != IGNORE_INDEX)) for example in examples)


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    return math.ceil(n_examples / batch_size)


def epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int, group_by_length: bool = True, mega_batches: int = 8) -> list[list[int]]:
    """The optimizer-step batches of one epoch, as lists of example indices, longest first within a batch.

    Seeded by (seed, epoch), so a resumed run sees the same order. With grouping, the shuffled
    examples are cut into chunks of `mega_batches` batches, each chunk is sorted by length and cut
    into batches, and the batches are shuffled: examples of similar length share a batch (and its
    micro-batches) while the data order still changes every epoch. Without grouping, batches are
    the shuffled order as is (the usual random sampler).
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if not group_by_length:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    chunk = batch_size * mega_batches
    batches = []
    for start in range(0, len(order), chunk):
        grouped = sorted(order[start : start + chunk], key=lambda i: -lengths[i])
        batches += [grouped[i : i + batch_size] for i in range(0, len(grouped), batch_size)]
    rng.shuffle(batches)
    return batches


def micro_batches(batch: list[int], micro_batch_size: int) -> list[list[int]]:
    return [batch[i : i + micro_batch_size] for i in range(0, len(batch), micro_batch_size)]


def padding_share(lengths: list[int], batches: list[list[int]], micro_batch_size: int) -> float:
    """Share of pad tokens in the padded micro-batches of `batches`."""
    padded = real = 0
    for batch in batches:
        for micro in micro_batches(batch, micro_batch_size):
            sizes = [lengths[i] for i in micro]
            padded += max(sizes) * len(sizes)
            real += sum(sizes)
    return (padded - real) / padded if padded else 0.0
