"""A version's manifest says how many train examples the engine would trim and cut at the recipe's default
max_length, per source, when DATASET_TOKENIZER names a tokenizer (and says nothing without one)."""
import html

import pytest

from curation.datasets.versions import freeze_version
from curation.services import create_example, get_or_create_source

pytestmark = pytest.mark.django_db

LONG = " ".join(["word"] * 2100)  # 2,100 tokens for a whitespace word tokenizer: over LIMA's 2,048
# Other long answers of known words, so that no two examples are near-duplicates (the freeze refuses those).
LONG_B = " ".join(["how", "to"] * 1050)
LONG_C = " ".join(["to"] * 2100)


@pytest.fixture
def word_tokenizer(settings, tmp_path):
    """A word-level tokenizer.json, as any Hugging Face tokenizer is saved (no chat tokens: the engine adds them)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0, "word": 1, "how": 2, "to": 3, "knit": 4}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    settings.DATASET_TOKENIZER = str(tmp_path / "tokenizer.json")
    return tmp_path / "tokenizer.json"


def make_examples():
    wikihow = get_or_create_source("jsonl", "LIMA train.jsonl")
    manual = get_or_create_source("manual", "Hand-written")
    rows = [
        (wikihow, ["How to knit?", LONG], "train"),  # the only exchange is too long: its answer is cut
        (manual, ["How to knit socks?", "Loop.", "And then?", LONG_B], "train"),  # the long last exchange goes whole
        (manual, ["How to knit a hat?", "Loop the yarn."], "train"),
        (manual, ["Knitting for beginners?", LONG_C], "dev"),  # not trained on: not counted
    ]
    return [create_example(turns=turns, source=source, split=split, status="approved",
                           metadata={"source": "wikihow"} if source.kind == "jsonl" else {})
            for source, turns, split in rows]


def test_the_manifest_counts_what_the_engine_would_trim_and_cut_per_source(word_tokenizer, client_of, alice):
    # given
    make_examples()
    # when
    version = freeze_version("counted").version
    # then
    overlong = version.manifest["overlong"]
    assert overlong == {
        "max_length": 2048, "split": "train", "method": "tokenizer: tokenizer.json, the engine's chat format",
        "examples": 3, "trimmed": 2, "cut": 1, "trimmed_by_source": {"manual": 1, "wikihow": 1},
        "cut_by_source": {"wikihow": 1},
    }
    sources = {row["source"]: row for row in version.manifest["sources"]}
    assert (sources["wikihow"]["trimmed"], sources["wikihow"]["cut"]) == (1, 1)
    assert (sources["manual"]["trimmed"], sources["manual"]["cut"]) == (1, 0)
    # the same counts as the engine's own report on the same conversations
    from transformers import PreTrainedTokenizerFast

    from training.engine.chat import add_chat_tokens
    from training.engine.data import Conversation, encode_dataset

    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(word_tokenizer))
    add_chat_tokens(tokenizer)
    rows = [Conversation(["How to knit?", LONG], "wikihow"),
            Conversation(["How to knit socks?", "Loop.", "And then?", LONG_B], "manual"),
            Conversation(["How to knit a hat?", "Loop the yarn."], "manual")]
    report = encode_dataset(tokenizer, rows, 2048).report()
    assert (report["trimmed_by_source"], report["cut_by_source"]) == (overlong["trimmed_by_source"], overlong["cut_by_source"])
    # and the version's page says it
    page = html.unescape(client_of(alice).get(f"/datasets/{version.pk}/").content.decode())
    assert "Trimmed at 2,048" in page and "2 of 3 would be trimmed, 1 with an answer cut mid-way" in page


def test_without_a_tokenizer_the_manifest_does_not_guess(settings, client_of, alice):
    settings.DATASET_TOKENIZER = ""
    make_examples()
    version = freeze_version("estimated").version
    assert "overlong" not in version.manifest and "cut" not in version.manifest["sources"][0]
    assert "Answer cut" not in client_of(alice).get(f"/datasets/{version.pk}/").content.decode()
