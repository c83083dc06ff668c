"""Training data: conversations -> token ids with a loss mask -> random steps -> micro-batches.

Labels are the input ids on trained tokens (assistant text and its EOT, see chat.py) and -100
everywhere else, the ignore index of torch's cross-entropy.

Trimming (LIMA: "texts longer than 2048 tokens are trimmed"):
1. drop whole trailing exchanges (user + assistant turns) while the rest is too long: what is left
   still ends on a real EOT;
2. if the first exchange alone is too long, cut its assistant response at max_length. The cut
   response keeps its tokens trained but gets NO EOT: an EOT there would teach the model to stop
   mid-sentence. With overlong="drop" such an example is left out instead;
3. if even the prompt leaves no room, keep the prompt's beginning (ended by its EOT and the
   assistant marker) and at least min(response, max_length // 4) response tokens (an EOT only if the
   whole response fits).
A trailing user turn with no answer trains nothing and is dropped.

Batches keep the data's mix: each epoch the examples are shuffled (seeded by seed + epoch) and cut
into optimizer steps, so every step is a random sample of the data and each source is weighed by its
share of trained tokens. Length grouping only orders a step's examples into micro-batches (or packs
them) to cut padding: the sum of per-token losses over a step, and so its gradient, does not change.
"""

import hashlib
import math
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from training.engine import chat
from training.engine.jsonl_rows import iter_json_objects

IGNORE_INDEX = -100
UNKNOWN_SOURCE = "unknown"  # rows without a "source"


class DataError(ValueError):
    pass


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]
    trimmed: bool = False  # shortened to max_length (whole exchanges dropped, or a response cut)
    source: str = UNKNOWN_SOURCE
    cut: bool = False  # a response was cut mid-way: its last trained token is text, not EOT

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass(frozen=True)
class Conversation:
    turns: list[str]
    source: str = UNKNOWN_SOURCE


def read_rows(path) -> list[Conversation]:
    """The conversations of a JSONL file of {"conversations": [user, assistant, ...], "source": ...} rows (LIMA's format)."""
    path = Path(path)
    rows = []
    for where, _, row in iter_json_objects(path, DataError):
        turns = row.get("conversations")
        if not isinstance(turns, list) or not all(isinstance(turn, str) for turn in turns):
            raise DataError(f"{where}: 'conversations' must be a list of strings (user, assistant, ...)")
        if len(turns) < 2:
            raise DataError(f"{where}: a training conversation needs a user turn and an assistant turn")
        source = row.get("source")
        rows.append(Conversation(turns, str(source) if source else UNKNOWN_SOURCE))
    if not rows:
        raise DataError(f"{path}: no conversations")
    return rows


def read_conversations(path) -> list[list[str]]:
    return [row.turns for row in read_rows(path)]


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def trim(ids: np.ndarray, trained: np.ndarray, max_length: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Cut an encoded conversation to max_length tokens; also says whether a response was cut (no EOT at its end)."""
    if len(ids) <= max_length:
        return ids, trained, False
    # Exchanges end right after each run of trained tokens (an assistant's text and its EOT).
    run_ends = np.flatnonzero(trained & ~np.append(trained[1:], False)) + 1
    fitting = run_ends[run_ends <= max_length]
    if len(fitting):
        end = fitting[-1]
        return ids[:end], trained[:end], False
    response_start = int(np.argmax(trained))  # first assistant token; its marker is just before
    response_length = int(run_ends[0]) - response_start  # text and EOT
    keep = min(response_length, max_length // 4)
    if max_length - response_start >= keep:
        picked = np.arange(max_length)
    else:
        # The prompt is too long: keep its start, then its EOT and the assistant marker.
        prompt_kept = max_length - keep - 2
        if prompt_kept < 2:
            raise DataError(f"max_length {max_length} leaves no room for a prompt")
        picked = np.concatenate([np.arange(prompt_kept), np.arange(response_start - 2, response_start + keep)])
    cut = picked[-1] != run_ends[0] - 1  # the kept part ends before the response's own EOT
    return ids[picked], trained[picked], cut


def encode_example(tokenizer, turns: list[str], max_length: int, overlong: str = "cut", source: str = UNKNOWN_SOURCE) -> Example | None:
    """The example as trained, or None when overlong="drop" and its response would be cut."""
    if len(turns) % 2 == 1:
        turns = turns[:-1]  # a last user turn with no answer trains nothing
    ids, trained = chat.encode(tokenizer, turns)
    ids, trained = np.asarray(ids, dtype=np.int64), np.asarray(trained, dtype=bool)
    trimmed = len(ids) > max_length
    ids, trained, cut = trim(ids, trained, max_length)
    if cut and overlong == "drop":
        return None
    labels = np.where(trained, ids, IGNORE_INDEX)
    return Example(ids.tolist(), labels.tolist(), trimmed, source, cut)


@dataclass
class Dataset:
    examples: list[Example]  # the ones trained on
    dropped: list[Example | Conversation]  # left out (overlong="drop")

    def report(self) -> dict:
        """Per source: examples kept, trimmed, with a cut response, dropped; and its share of trained tokens."""
        def count(items, keep=lambda item: True):
            return dict(sorted(Counter(item.source for item in items if keep(item)).items()))

        tokens = Counter()
        for example in self.examples:
            tokens[example.source] += trained_tokens([example])
        total = sum(tokens.values()) or 1
        return {
            "examples_by_source": count(self.examples),
            "trimmed": sum(e.trimmed for e in self.examples),
            "trimmed_by_source": count(self.examples, lambda e: e.trimmed),
            "cut": sum(e.cut for e in self.examples),
            "cut_by_source": count(self.examples, lambda e: e.cut),
            "dropped": len(self.dropped),
            "dropped_by_source": count(self.dropped),
            "source_token_share": {source: round(n / total, 6) for source, n in sorted(tokens.items())},
        }


def encode_dataset(tokenizer, rows: list[Conversation], max_length: int, overlong: str = "cut") -> Dataset:
    examples, dropped = [], []
    for row in rows:
        example = encode_example(tokenizer, row.turns, max_length, overlong, row.source)
        if example is None:
            dropped.append(row)
        else:
            examples.append(example)
    if not examples:
        raise DataError(f"every example is longer than max_length {max_length} and overlong is 'drop'")
    return Dataset(examples, dropped)


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


def collate_packed(examples: list[Example]) -> dict[str, torch.Tensor]:
    """One row, no padding: the examples end to end, positions restarting at 0 for each.

    No attention_mask: transformers reads the restarts in position_ids as separate sequences
    (flash-attention varlen on GPU, a block-diagonal causal mask with sdpa/eager) when the forward
    has no KV cache (use_cache=False, as loss.py calls it). The first token of
    an example is never a target (a BOS or the user marker), so no loss crosses a boundary; its label
    is set to -100 anyway.
    """
    input_ids = torch.tensor([i for example in examples for i in example.input_ids]).unsqueeze(0)  # (1, total)
    labels = torch.tensor([label for example in examples for label in [IGNORE_INDEX, *example.labels[1:]]]).unsqueeze(0)
    position_ids = torch.cat([torch.arange(len(example)) for example in examples]).unsqueeze(0)
    return {"input_ids": input_ids, "labels": labels, "position_ids": position_ids}


def trained_tokens(examples: list[Example]) -> int:
    """Tokens whose next token is predicted with a label (the first label is never predicted)."""
    return sum(int(np.count_nonzero(np.asarray(example.labels[1:]) != IGNORE_INDEX)) for example in examples)


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    return math.ceil(n_examples / batch_size)


def epoch_batches(n_examples: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The optimizer steps of one epoch, as lists of example indices: a fresh random permutation cut in order.

    Seeded by (seed, epoch), so a resumed run sees the same steps. Every step is a random sample of
    the data, so each source weighs in with its share of trained tokens; the last step may be smaller.
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(n_examples))
    rng.shuffle(order)
    return [order[i : i + batch_size] for i in range(0, n_examples, batch_size)]


def micro_batches(batch: list[int], micro_batch_size: int, lengths: list[int] | None = None) -> list[list[int]]:
    """A step's examples in forward passes of micro_batch_size; longest first when `lengths` is given
    (length grouping inside the step: neighbours share a micro-batch and little padding)."""
    if lengths is not None:
        batch = sorted(batch, key=lambda i: (-lengths[i], i))
    return [batch[i : i + micro_batch_size] for i in range(0, len(batch), micro_batch_size)]


def packed_micro_batches(batch: list[int], lengths: list[int], token_budget: int) -> list[list[int]]:
    """A step's examples packed into forward passes of at most token_budget tokens (first fit, longest first).

    The budget is what an unpacked micro-batch may hold (micro_batch_size x max_length), so packing
    never needs more memory than padding would.
    """
    bins: list[list[int]] = []
    room: list[int] = []
    for index in sorted(batch, key=lambda i: (-lengths[i], i)):
        for b, free in enumerate(room):
            if lengths[index] <= free:
                bins[b].append(index)
                room[b] -= lengths[index]
                break
        else:
            bins.append([index])
            room.append(token_budget - lengths[index])
    return bins


def padding_share(lengths: list[int], passes: list[list[int]], packed: bool = False) -> float:
    """Share of pad tokens in the given forward passes (micro-batches of example indices)."""
    padded = real = 0
    for micro in passes:
        sizes = [lengths[i] for i in micro]
        padded += sum(sizes) if packed else max(sizes) * len(sizes)
        real += sum(sizes)
    return (padded - real) / padded if padded else 0.0
