"""The judge's pure parts: its prompt, reading its answers, one verdict from two orders, the cache key."""
import pytest

from inference.judging import verdicts
from inference.judging.verdicts import combine


@pytest.mark.parametrize("text, label", [
    ("Response A", "A"),
    ("response b\nIt is more complete.", "B"),
    ("**Response A** is better because it answers the question.", "A"),
    ("Answer: Response B", "B"),
    ("Neither\nBoth are equally good.", "tie"),
    ('"Neither" - they are about the same', "tie"),
    ("I think the second one, Response B, is better.", "B"),  # the only option it names
    ("Response A is better than Response B.", "A"),  # its first line opens with one
    ("Both Response A and Response B have merits.", None),  # names two, opens with neither
    ("", None),
    ("a cat sat on the mat mat mat", None),
    ("Responses are great", None),
])
def test_pairwise_answers_are_read_or_left_unparseable(text, label):
    assert verdicts.parse_pairwise(text) == label


@pytest.mark.parametrize("text, label", [
    ("Excellent\nA thorough answer.", "Excellent"), ("Rating: Pass", "Pass"), ("fail", "Fail"),
    ("It would pass, not excellent.", None), ("Passable", None),
])
def test_ratings_are_read_or_left_unparseable(text, label):
    assert verdicts.parse_rating(text) == label


def test_a_verdict_counts_only_when_both_orders_agree():
    assert combine("A", "B") == verdicts.Combined("A", False, 0)  # A first, then the same response shown as B
    assert combine("B", "A") == verdicts.Combined("B", False, 0)
    assert combine("tie", "tie") == verdicts.Combined("tie", False, 0)
    assert combine("A", "A") == verdicts.Combined("tie", True, 0)  # always the first shown: position, not quality
    assert combine("A", "tie") == verdicts.Combined("tie", True, 0)
    assert combine(None, "B") == verdicts.Combined(None, False, 1)
    assert combine(None, None) == verdicts.Combined(None, False, 2)


def test_the_prompt_shows_both_responses_and_leaves_braces_in_them_alone():
    text = verdicts.render(verdicts.PAIRWISE_TEMPLATE, ["Write code"], "def f(): return {1: 2}", "uses {response_b}")

    assert "[Prompt]\nWrite code\n[End of prompt]" in text
    assert "[Response A]\ndef f(): return {1: 2}\n" in text and "[Response B]\nuses {response_b}\n" in text
    assert "significantly better" in text  # LIMA's question


def test_a_multi_turn_prompt_is_shown_with_its_roles():
    text = verdicts.render(verdicts.RATING_TEMPLATE, ["Hi", "Hello!", "Tell a joke"], "Why did…")
    assert "[User]\nHi\n\n[Assistant]\nHello!\n\n[User]\nTell a joke" in text and "[Response]\nWhy did…" in text


def test_a_template_without_its_placeholders_is_refused_by_name():
    verdicts.check_template(verdicts.PAIRWISE_TEMPLATE, "pairwise")
    verdicts.check_template(verdicts.RATING_TEMPLATE, "rating")
    with pytest.raises(verdicts.TemplateError, match=r"\{response_b\} missing"):
        verdicts.check_template("Compare {conversation} {response_a}", "pairwise")


def test_the_cache_key_changes_with_every_part_and_only_with_them():
    base = ("judge-1", "T", ["p"], "a", "b", "AB")
    key = verdicts.cache_key(*base)
    assert verdicts.cache_key(*base) == key and len(key) == 64
    for i, changed in enumerate(["judge-2", "T2", ["q"], "a2", "b2", "BA"]):
        assert verdicts.cache_key(*base[:i], changed, *base[i + 1:]) != key
