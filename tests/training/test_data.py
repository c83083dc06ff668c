"""Training data: the loss mask, trimming that ends on an EOT, padding, length grouping."""

import json
import statistics

import pytest
import torch

from training.engine import chat
from training.engine.data import (
    IGNORE_INDEX,
    DataError,
    collate,
    encode_example,
    epoch_batches,
    padding_share,
    read_conversations,
    trained_tokens,
)

TURNS = ["What is tea?", "Tea is a drink made from leaves.", "Is it hot?", "Usually, but iced tea is cold."]


def _decode_trained(tokenizer, example):
    return tokenizer.decode([label for label in example.labels if label != IGNORE_INDEX])


def test_labels_are_the_assistant_text_and_its_eot_and_ignored_elsewhere(tokenizer):
    example = encode_example(tokenizer, TURNS, max_length=2048)
    ids, trained = chat.encode(tokenizer, TURNS)
    assert example.input_ids == ids
    assert example.labels == [i if t else IGNORE_INDEX for i, t in zip(ids, trained)]
    assert _decode_trained(tokenizer, example) == "Tea is a drink made from leaves.<|eot|>Usually, but iced tea is cold.<|eot|>"
    assert example.labels[-1] == chat.eot_id(tokenizer)
    ignored = tokenizer.decode([i for i, label in zip(ids, example.labels) if label == IGNORE_INDEX])
    assert ignored == "<|user|>What is tea?<|eot|><|assistant|><|user|>Is it hot?<|eot|><|assistant|>"


def test_a_last_user_turn_without_an_answer_is_dropped(tokenizer):
    example = encode_example(tokenizer, TURNS[:3], max_length=2048)
    assert tokenizer.decode(example.input_ids) == chat.render(TURNS[:2])


def test_trimming_drops_whole_trailing_exchanges_first(tokenizer):
    first_exchange = len(chat.encode(tokenizer, TURNS[:2])[0])
    example = encode_example(tokenizer, TURNS, max_length=first_exchange + 3)
    assert example.trimmed
    assert tokenizer.decode(example.input_ids) == chat.render(TURNS[:2])


def test_trimming_cuts_a_long_answer_and_still_ends_on_a_trained_eot(tokenizer):
    long_answer = " ".join(["Tea is a drink made from leaves."] * 40)
    example = encode_example(tokenizer, ["What is tea?", long_answer], max_length=32)
    assert len(example) == 32 and example.trimmed
    assert example.input_ids[-1] == chat.eot_id(tokenizer) and example.labels[-1] == chat.eot_id(tokenizer)
    assert tokenizer.decode(example.input_ids).startswith("<|user|>What is tea?<|eot|><|assistant|>Tea is a drink")


def test_trimming_a_huge_prompt_keeps_its_start_and_room_for_the_answer(tokenizer):
    long_prompt = " ".join(["What is tea?"] * 60)
    example = encode_example(tokenizer, [long_prompt, "A drink."], max_length=40)
    text = tokenizer.decode(example.input_ids)
    answer = len(tokenizer("A drink.", add_special_tokens=False)["input_ids"]) + 1
    assert len(example) == 40
    assert text.startswith("<|user|>What is tea?") and text.endswith("<|eot|><|assistant|>A drink.<|eot|>")
    assert sum(label != IGNORE_INDEX for label in example.labels) == answer


def test_collate_pads_on_the_right_and_ignores_the_padding(tokenizer):
    short, long = encode_example(tokenizer, TURNS[:2], 2048), encode_example(tokenizer, TURNS, 2048)
    batch = collate([short, long], tokenizer.pad_token_id)
    assert batch["input_ids"].shape == (2, len(long))
    assert batch["attention_mask"][0].sum() == len(short)
    assert (batch["input_ids"][0, len(short) :] == tokenizer.pad_token_id).all()
    assert (batch["labels"][0, len(short) :] == IGNORE_INDEX).all()
    assert torch.equal(batch["labels"][1], torch.tensor(long.labels))
    assert trained_tokens([short, long]) == int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())


def test_length_grouping_cuts_padding_and_keeps_every_example_once():
    lengths = [(i * 7919) % 1500 + 20 for i in range(1000)]  # spread like LIMA's 20..2,048-token examples
    grouped = epoch_batches(lengths, batch_size=32, seed=1, epoch=1)
    plain = epoch_batches(lengths, batch_size=32, seed=1, epoch=1, group_by_length=False)
    assert sorted(i for batch in grouped for i in batch) == list(range(1000))
    assert [len(batch) for batch in grouped].count(32) == 31
    assert padding_share(lengths, grouped, micro_batch_size=4) < 0.10
    assert padding_share(lengths, plain, micro_batch_size=4) > 0.25


def test_batches_depend_on_seed_and_epoch_only():
    lengths = list(range(10, 210))
    assert epoch_batches(lengths, 8, seed=3, epoch=2) == epoch_batches(lengths, 8, seed=3, epoch=2)
    assert epoch_batches(lengths, 8, seed=3, epoch=2) != epoch_batches(lengths, 8, seed=3, epoch=3)
    firsts = {tuple(epoch_batches(lengths, 8, seed=3, epoch=e)[0]) for e in range(1, 6)}
    assert len(firsts) == 5
    assert statistics.mean(len(b) for b in epoch_batches(lengths, 8, seed=3, epoch=1)) == 8


def test_reading_bad_data_names_the_file_and_line(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"conversations": ["Hi", "Hello"]}) + "\n\n" + json.dumps({"conversations": ["Hi"]}) + "\n")
    with pytest.raises(DataError, match=rf"{path}:3: a training conversation needs a user turn and an assistant turn"):
        read_conversations(path)
    path.write_text('{"conversations": ["Hi", 3]}\n')
    with pytest.raises(DataError, match=rf"{path}:1: 'conversations' must be a list of strings"):
        read_conversations(path)
    path.write_text("not json\n")
    with pytest.raises(DataError, match=rf"{path}:1: not valid JSON"):
        read_conversations(path)
    with pytest.raises(DataError, match="cannot read"):
        read_conversations(tmp_path / "missing.jsonl")
