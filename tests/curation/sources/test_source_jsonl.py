import json
from pathlib import Path

import pytest
import zstandard

from curation.sources.jsonl import detect_format, iter_records
from curation.sources.records import SourceFormatError
from tests.samples import SHARED_DATA

FIXTURES = Path(__file__).parents[1] / "fixtures" / "jsonl"
LIMA_DATA = SHARED_DATA / "lima"
LIMA_TEST = LIMA_DATA / "test.jsonl"
LIMA_FASTCHAT = LIMA_DATA / "train_1k_fastchat.json"
PREAMBLE = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request. ### Instruction: "
)


def records_of(name, **options):
    return list(iter_records(FIXTURES / name, **options))


# --- Formats -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("lima.jsonl", "lima"),
        ("openai.jsonl", "openai"),
        ("sharegpt.jsonl", "sharegpt"),
        ("alpaca.jsonl", "alpaca"),
        ("fastchat_array.json", "sharegpt"),
    ],
)
def test_the_format_is_detected_from_the_first_row(name, expected):
    assert {r.metadata["format"] for r in records_of(name)} == {expected}


def test_detect_format_says_none_for_a_row_of_no_known_format():
    assert detect_format({"text": "pretraining"}) is None
    assert detect_format({"conversations": []}) is None


def test_lima_rows_keep_their_turns_and_source():
    records = records_of("lima.jsonl")

    assert records[0].turns == [
        "How do I boil an egg?",
        "Put the egg in boiling water for nine minutes.",
    ]
    assert records[0].domain == "stackexchange"
    assert records[0].metadata["source"] == "stackexchange"
    assert records[1].turns == [
        "Write a haiku about rain.",
        "Soft rain on the roof",
        "Now one about snow.",
        "White hush on the hills",
    ]
    assert records[1].accepted and records[1].split == "unassigned"


def test_a_one_turn_lima_row_is_a_prompt_only_test_record():
    joke = records_of("lima.jsonl")[2]

    assert joke.turns == ["Tell me a joke about cats."]
    assert joke.split == "test" and joke.accepted
    assert joke.location == "lima.jsonl line 4"  # the blank line 3 still counts


def test_content_problems_become_rejected_records():
    lima = records_of("lima.jsonl")
    openai = records_of("openai.jsonl")
    sharegpt = records_of("sharegpt.jsonl")

    assert lima[3].reject_reason == "ends_with_user_turn"
    assert lima[4].reject_reason == "duplicate_row"  # the same conversation as line 1
    assert lima[4].external_id == lima[0].external_id
    assert [r.reject_reason for r in openai] == [
        None,
        None,
        "roles_not_alternating",  # the assistant speaks first
        "unsupported_role",  # a tool message
        "empty_turn",
    ]
    assert [r.reject_reason for r in sharegpt] == [None, None, "roles_not_alternating"]


def test_openai_system_messages_go_to_metadata_by_default():
    chat = records_of("openai.jsonl")[0]

    assert chat.turns == ["Name a prime number.", "Seven."]
    assert chat.metadata["system"] == "You are a helpful assistant."
    assert chat.external_id == "chat-1"


def test_a_system_message_can_be_prepended_or_dropped():
    prepended = records_of("openai.jsonl", system_prompt="prepend")[0]
    dropped = records_of("sharegpt.jsonl", system_prompt="drop")[1]

    assert prepended.turns[0] == "You are a helpful assistant.\n\nName a prime number."
    assert "system" not in prepended.metadata
    assert dropped.turns == ["Capital of France?", "Paris."] and "system" not in dropped.metadata


def test_openai_multi_part_content_is_joined():
    assert records_of("openai.jsonl")[1].turns == ["Two plus two?", "Four."]


def test_sharegpt_roles_map_to_user_and_assistant():
    first, with_system = records_of("sharegpt.jsonl")[:2]

    assert first.turns == ["Hi, what is 2+2?", "4", "And 3+3?", "6"]
    assert with_system.metadata["system"] == "Be brief." and with_system.accepted


def test_alpaca_input_follows_the_instruction_after_a_blank_line():
    translate, colours = records_of("alpaca.jsonl")

    assert translate.turns == ["Translate to French.\n\nGood morning", "Bonjour"]
    assert colours.turns == ["Give three colours.", "Red, green and blue."]


def test_the_alpaca_preamble_is_stripped_by_default_and_kept_on_request():
    stripped = records_of("fastchat_array.json")
    kept = records_of("fastchat_array.json", strip_alpaca_preamble=False)

    assert [r.turns[0] for r in stripped] == [
        "Can brain cells move?",
        "Summarise the text.\n\nCats sleep a lot.",
        "A prompt without any preamble.",
    ]
    assert kept[0].turns[0].startswith("Below is an instruction that describes a task.")
    assert [r.turns[1] for r in kept] == [r.turns[1] for r in stripped]


def test_external_ids_come_from_the_id_field_else_a_stable_content_hash():
    array = records_of("fastchat_array.json")
    alpaca_once, alpaca_again = records_of("alpaca.jsonl"), records_of("alpaca.jsonl")

    assert [r.external_id for r in array] == ["identity_0", "identity_1", "identity_2"]
    assert array[0].location == "fastchat_array.json item 0"
    assert array[0].metadata["score"] == 0.0
    assert [r.external_id for r in alpaca_once] == [r.external_id for r in alpaca_again]
    assert len({r.external_id for r in alpaca_once}) == 2
    # The hash is of the row as written, so the preamble option does not change it.
    assert [r.external_id for r in records_of("lima.jsonl")] == [
        r.external_id for r in records_of("lima.jsonl", strip_alpaca_preamble=False)
    ]


def test_a_zstd_compressed_jsonl_file_reads_the_same(tmp_path):
    path = tmp_path / "lima.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress((FIXTURES / "lima.jsonl").read_bytes()))

    assert [(r.external_id, r.turns, r.reject_reason) for r in iter_records(path)] == [
        (r.external_id, r.turns, r.reject_reason) for r in records_of("lima.jsonl")
    ]


def test_crlf_line_endings_and_a_bom_are_handled(tmp_path):
    path = tmp_path / "windows.jsonl"
    text = (FIXTURES / "alpaca.jsonl").read_text().replace("\n", "\r\n")
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())

    assert [r.turns for r in iter_records(path)] == [r.turns for r in records_of("alpaca.jsonl")]


def test_a_format_can_be_forced_and_options_are_checked():
    with pytest.raises(
        SourceFormatError,
        match=r"lima\.jsonl, line 1: this row is lima, but the file is read as alpaca \(as asked\)",
    ):
        records_of("lima.jsonl", source_format="alpaca")
    with pytest.raises(ValueError):
        records_of("lima.jsonl", system_prompt="shout")
    with pytest.raises(ValueError):
        records_of("lima.jsonl", split="validation")


def test_an_empty_conversation_is_rejected(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text('{"conversations": ["a", "b"]}\n{"conversations": [], "source": "x"}\n')

    assert [r.reject_reason for r in iter_records(path)] == [None, "empty_conversation"]


# --- Malformed files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, message",
    [
        ("broken.jsonl", r"broken\.jsonl, line 2: invalid JSON at column \d+"),
        (
            "mixed.jsonl",
            r"mixed\.jsonl, line 2: this row is openai, but the file is read as lima \(from its first row\)",
        ),
        ("unknown.jsonl", r"unknown\.jsonl, line 1: unknown conversation format.*keys found: text"),
        ("unknown_role.jsonl", r"unknown_role\.jsonl, line 1: turn 0: unknown role 'narrator'"),
    ],
)
def test_a_malformed_file_names_the_file_and_the_line(name, message):
    with pytest.raises(SourceFormatError, match=message):
        records_of(name)


def test_a_row_that_is_not_an_object_is_an_error(tmp_path):
    path = tmp_path / "strings.jsonl"
    path.write_text('"just a string"\n')

    with pytest.raises(SourceFormatError, match=r"strings\.jsonl, line 1: expected a JSON object"):
        list(iter_records(path))


def test_a_turn_that_is_not_text_is_an_error(tmp_path):
    path = tmp_path / "numbers.jsonl"
    path.write_text('{"conversations": ["fine", "fine"]}\n{"conversations": ["fine", 42]}\n')

    with pytest.raises(SourceFormatError, match=r"numbers\.jsonl, line 2"):
        list(iter_records(path))


def test_a_broken_json_array_names_the_line_and_column(tmp_path):
    path = tmp_path / "broken_array.json"
    path.write_text(
        '[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "c", "output": }\n]\n'
    )

    with pytest.raises(
        SourceFormatError, match=r"broken_array\.json, line 3 column \d+: invalid JSON"
    ):
        list(iter_records(path))


# --- The real LIMA files in ../shared/data ---------------------------------------------------------


def needs(path):
    if not path.exists():
        pytest.skip(f"{path} is absent")


def test_the_real_lima_test_split_gives_300_prompt_only_records():
    needs(LIMA_TEST)
    rows = [
        json.loads(line)
        for line in LIMA_TEST.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]

    records = list(iter_records(LIMA_TEST))

    assert len(records) == len(rows) == 300
    assert all(r.accepted and r.split == "test" for r in records)
    assert [r.turns for r in records] == [row["conversations"] for row in rows]
    assert len({r.external_id for r in records}) == len({row["conversations"][0] for row in rows})
    assert records[-1].location == f"test.jsonl line {len(rows)}"


def test_the_real_fastchat_file_gives_1000_pairs_without_the_preamble():
    needs(LIMA_FASTCHAT)
    rows = json.loads(LIMA_FASTCHAT.read_text(encoding="utf-8"))

    records = list(iter_records(LIMA_FASTCHAT))

    assert len(records) == len(rows) == 1000
    assert all(r.accepted and r.split == "unassigned" for r in records)
    assert [r.external_id for r in records] == [row["id"] for row in rows]
    for record, row in zip(records, rows):
        prompt, response = (turn["value"] for turn in row["conversations"])
        assert prompt.startswith(PREAMBLE)
        assert record.turns == [prompt[len(PREAMBLE) :].strip(), response]
    # By position, 600-799 are the wikiHow examples: "How to ...?" once the preamble is gone.
    assert all(r.turns[0].startswith("How to ") for r in records[600:800])


def test_the_real_fastchat_file_can_keep_its_preamble():
    needs(LIMA_FASTCHAT)
    rows = json.loads(LIMA_FASTCHAT.read_text(encoding="utf-8"))

    records = list(iter_records(LIMA_FASTCHAT, strip_alpaca_preamble=False))

    assert [r.turns[0] for r in records] == [row["conversations"][0]["value"] for row in rows]
