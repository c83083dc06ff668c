"""LIMA's rules, one function each: a rejection reason or None."""
import pytest

from curation.sources.filters import (
    ANSWER_TEXT_RULES,
    MAX_ANSWER_CHARS,
    MIN_ANSWER_CHARS,
    MIN_ANSWER_SCORE,
    check_answer,
    check_first_person,
    check_length,
    check_not_empty,
    check_references,
    check_score,
    first_failure,
)

GOOD = ("Water just off the boil extracts the oils without scorching the grounds. " * 20).strip()


def test_the_constants_are_limas():
    assert (MIN_ANSWER_SCORE, MIN_ANSWER_CHARS, MAX_ANSWER_CHARS) == (10, 1200, 4096)
    assert MIN_ANSWER_CHARS <= len(GOOD) <= MAX_ANSWER_CHARS


@pytest.mark.parametrize("score, reason", [
    (10, None), (11, None), (9, "answer_score_below_10"), (-3, "answer_score_below_10"),
    (None, "answer_score_below_10"),
])
def test_an_answer_needs_a_score_of_ten(score, reason):
    assert check_score(score) == reason


def test_the_score_threshold_names_itself_in_the_reason():
    assert check_score(4, minimum=5) == "answer_score_below_5" and check_score(5, minimum=5) is None


@pytest.mark.parametrize("length, reason", [
    (1199, "answer_too_short"), (1200, None), (4096, None), (4097, "answer_too_long"),
])
def test_an_answer_is_1200_to_4096_characters_long(length, reason):
    assert check_length("x" * length) == reason


def test_length_is_measured_without_surrounding_whitespace():
    assert check_length("\n\n" + "x" * 1199 + "   ") == "answer_too_short"


def test_an_empty_answer_is_rejected():
    assert check_not_empty("  \n") == "empty_answer" and check_not_empty("A") is None


def test_first_person_prose_is_rejected_but_not_i_in_code():
    assert check_first_person("I would grind finer. " + GOOD) == "first_person"
    assert check_first_person("My grinder is old. " + GOOD) == "first_person"
    assert check_first_person(GOOD + "\n\n```\nfor I in range(3):\n    print(I)\n```") is None


def test_references_to_other_answers_are_rejected():
    assert check_references("As mentioned, grind finer. " + GOOD) == "refers_to_other_answers"
    assert check_references(GOOD + " The accepted answer says so too.") == "refers_to_other_answers"
    assert check_references(GOOD + " See Stack Exchange for more.") == "refers_to_other_answers"
    assert check_references(GOOD) is None
    assert check_references(GOOD + " Ask the barista.", phrases=("barista",)) == "refers_to_other_answers"


def test_check_answer_reports_the_first_rule_that_fails_cheapest_first():
    too_short_and_first_person = "I think so."

    assert check_answer(GOOD, 12) is None
    assert check_answer(GOOD, 3) == "answer_score_below_10"
    assert check_answer(too_short_and_first_person, 12) == "answer_too_short"
    assert check_answer("I think so. " + GOOD, 12) == "first_person"
    assert check_answer("", 50) == "empty_answer"


def test_sources_without_votes_skip_the_score_rule():
    assert check_answer(GOOD, None, min_score=None) is None
    assert check_answer(GOOD, None) == "answer_score_below_10"


def test_the_length_window_can_be_changed():
    assert check_answer("Short but fine.", 12, min_chars=5, max_chars=100) is None
    assert check_answer(GOOD, 12, max_chars=100) == "answer_too_long"


def test_first_failure_runs_any_rules_in_order():
    assert first_failure(GOOD, ANSWER_TEXT_RULES) is None
    assert first_failure("x", (check_first_person, check_not_empty)) is None
    assert first_failure("I", (check_first_person, check_length)) == "first_person"
