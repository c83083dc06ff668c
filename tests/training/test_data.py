"""Training data: the loss mask, trimming that never trains an EOT at a cut, padding, mix-preserving steps, packing."""

import json
import random
from collections import Counter

import pytest
import torch

from training.engine import chat
from training.engine.data import (
    IGNORE_INDEX,
    Conversation,
    DataError,
    collate,
    collate_packed,
    encode_dataset,
    encode_example,
    epoch_batches,
    micro_batches,
    packed_micro_batches,
    padding_share,
    read_conversations,
    read_rows,
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


def test_a_cut_response_keeps_its_tokens_trained_but_gets_no_eot(tokenizer):
    long_answer = " ".join(["Tea is a drink made from leaves."] * 40)
    example = encode_example(tokenizer, ["What is tea?", long_answer], max_length=32)
    assert len(example) == 32 and example.trimmed and example.cut
    eot = chat.eot_id(tokenizer)
    assert eot not in example.labels  # no EOT is trained at the cut: the model must not learn to stop mid-sentence
    assert example.input_ids.count(eot) == 1  # the user turn's EOT only
    assert example.labels[-1] == example.input_ids[-1] != eot  # the last kept word is still trained
    full = encode_example(tokenizer, ["What is tea?", long_answer], max_length=4096)
    assert example.input_ids == full.input_ids[:32] and example.labels == full.labels[:32]
    assert tokenizer.decode(example.input_ids).startswith("<|user|>What is tea?<|eot|><|assistant|>Tea is a drink")


def test_overlong_drop_leaves_out_an_example_whose_response_would_be_cut(tokenizer):
    long_answer = " ".join(["Tea is a drink made from leaves."] * 40)
    assert encode_example(tokenizer, ["What is tea?", long_answer], max_length=32, overlong="drop") is None
    # losing whole trailing exchanges is no cut: every kept response still ends on its own EOT
    first_exchange = len(chat.encode(tokenizer, TURNS[:2])[0])
    kept = encode_example(tokenizer, TURNS, max_length=first_exchange + 3, overlong="drop")
    assert kept.trimmed and not kept.cut and kept.labels[-1] == chat.eot_id(tokenizer)


def test_the_dataset_report_counts_trimmed_cut_and_dropped_examples_per_source(tokenizer):
    long_answer = " ".join(["Tea is a drink made from leaves."] * 40)
    rows = [
        Conversation(["What is tea?", long_answer], "wikihow"),
        Conversation(["What is tea?", long_answer], "wikihow"),
        Conversation(TURNS, "dialogue"),  # trimmed to its first exchange: not cut
        Conversation(TURNS[:2], "stackexchange"),
    ]
    first_exchange = len(chat.encode(tokenizer, TURNS[:2])[0])
    cut = encode_dataset(tokenizer, rows, max_length=max(32, first_exchange + 3)).report()
    assert cut["examples_by_source"] == {"dialogue": 1, "stackexchange": 1, "wikihow": 2}
    assert (cut["trimmed"], cut["trimmed_by_source"]) == (3, {"dialogue": 1, "wikihow": 2})
    assert (cut["cut"], cut["cut_by_source"]) == (2, {"wikihow": 2})
    assert (cut["dropped"], cut["dropped_by_source"]) == (0, {})
    dropped = encode_dataset(tokenizer, rows, max_length=max(32, first_exchange + 3), overlong="drop").report()
    assert dropped["examples_by_source"] == {"dialogue": 1, "stackexchange": 1}
    assert (dropped["dropped"], dropped["dropped_by_source"]) == (2, {"wikihow": 2})
    assert dropped["cut"] == 0


def test_the_source_token_share_is_each_sources_share_of_trained_tokens(tokenizer):
    rows = [Conversation(TURNS[:2], "a"), Conversation(TURNS[:2], "a"), Conversation(TURNS, "b")]
    dataset = encode_dataset(tokenizer, rows, max_length=2048)
    a, b = (trained_tokens([e for e in dataset.examples if e.source == s]) for s in "ab")
    share = dataset.report()["source_token_share"]
    assert share == pytest.approx({"a": a / (a + b), "b": b / (a + b)}, abs=1e-6)


def test_rows_without_a_source_are_counted_as_unknown(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"conversations": ["Hi", "Hello"], "source": "handwritten"}) + "\n" + json.dumps({"conversations": ["Hi", "Hello"]}) + "\n")
    assert [row.source for row in read_rows(path)] == ["handwritten", "unknown"]
    assert read_conversations(path) == [["Hi", "Hello"], ["Hi", "Hello"]]


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


def test_every_step_is_a_random_sample_so_each_source_keeps_its_share():
    # LIMA-like: wikiHow's answers are 3x longer than the others'; sorting examples into steps by
    # length would give its long examples steps of their own, weighed like any other step.
    rng = random.Random(0)
    sources = ["wikihow"] * 200 + ["stackexchange"] * 400 + ["handwritten"] * 200
    lengths = [rng.randint(1200, 2048) if s == "wikihow" else rng.randint(100, 700) for s in sources]
    token_share = {s: sum(n for n, t in zip(lengths, sources) if t == s) / sum(lengths) for s in set(sources)}
    gradient_share = Counter()
    for epoch in range(1, 6):
        steps = epoch_batches(len(lengths), batch_size=32, seed=1, epoch=epoch)
        assert sorted(i for step in steps for i in step) == list(range(len(lengths)))  # every example once
        for step in steps:  # each step's loss is its tokens' mean: a token weighs 1 / (its step's tokens)
            total = sum(lengths[i] for i in step)
            for i in step:
                gradient_share[sources[i]] += lengths[i] / total / len(steps) / 5
    assert gradient_share["wikihow"] == pytest.approx(token_share["wikihow"], abs=0.03)
    assert gradient_share["handwritten"] == pytest.approx(token_share["handwritten"], abs=0.03)


def test_steps_depend_on_seed_and_epoch_only_and_change_every_epoch():
    assert epoch_batches(200, 8, seed=3, epoch=2) == epoch_batches(200, 8, seed=3, epoch=2)
    assert epoch_batches(200, 8, seed=3, epoch=2) != epoch_batches(200, 8, seed=3, epoch=3)
    assert epoch_batches(200, 8, seed=3, epoch=2) != epoch_batches(200, 8, seed=4, epoch=2)
    # even a set smaller than LIMA's (below 512 examples) gets new steps every epoch
    assert len({tuple(map(frozenset, epoch_batches(40, 8, seed=3, epoch=e))) for e in range(1, 6)}) == 5
    assert [len(step) for step in epoch_batches(20, 8, seed=3, epoch=1)] == [8, 8, 4]


def test_length_grouping_only_reorders_a_step_into_micro_batches_and_cuts_padding():
    rng = random.Random(2)
    lengths = [rng.randint(20, 2048) for _ in range(1000)]
    steps = epoch_batches(len(lengths), 64, seed=1, epoch=1)
    grouped = [micro_batches(step, 8, lengths) for step in steps]
    plain = [micro_batches(step, 8) for step in steps]
    for step, micro in zip(steps, grouped):
        assert sorted(i for m in micro for i in m) == sorted(step)  # the same examples in the step
        assert [lengths[m[0]] for m in micro] == sorted((lengths[m[0]] for m in micro), reverse=True)
    grouped_share = padding_share(lengths, [m for micro in grouped for m in micro])
    plain_share = padding_share(lengths, [m for micro in plain for m in micro])
    assert grouped_share < 0.15 < 0.3 < plain_share


def test_packing_fills_passes_up_to_the_token_budget_without_padding():
    rng = random.Random(3)
    lengths = [rng.randint(20, 2048) for _ in range(64)]
    passes = packed_micro_batches(list(range(64)), lengths, token_budget=8 * 2048)
    assert sorted(i for p in passes for i in p) == list(range(64))
    assert all(sum(lengths[i] for i in p) <= 8 * 2048 for p in passes)
    assert len(passes) == -(-sum(lengths) // (8 * 2048))  # as few passes as the tokens need here
    assert padding_share(lengths, passes, packed=True) == 0.0


def test_a_packed_row_restarts_positions_per_example_and_trains_the_same_tokens(tokenizer):
    examples = [encode_example(tokenizer, TURNS, 2048), encode_example(tokenizer, TURNS[:2], 2048)]
    packed = collate_packed(examples)
    n = [len(e) for e in examples]
    assert packed["input_ids"].shape == (1, sum(n)) and "attention_mask" not in packed
    assert packed["position_ids"][0].tolist() == list(range(n[0])) + list(range(n[1]))
    assert packed["input_ids"][0].tolist() == examples[0].input_ids + examples[1].input_ids
    assert int((packed["labels"][:, 1:] != IGNORE_INDEX).sum()) == trained_tokens(examples)


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
