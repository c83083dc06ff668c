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
    first_person_words,
    judge_answer,
    reference_phrases,
    rule_languages,
    title_not_self_contained,
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


# --- First person, sentence by sentence --------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Where I is the moment of inertia, the torque is I times the angular acceleration.",
    "Let I be the identity matrix; then AI = A.",
    "The current I flows through the resistor.",
    "The identity matrix I commutes with everything.",
    "By Ohm's law the current I $= V/R$ is small.",
    "Part I covers the basics and World War I the rest.",
    "The pronoun *I* is always written in capitals.",
    "> I think not, said the critic.\n\nThe critic was wrong.",
    'The Latin verb means "I loved" here.',
])
def test_i_as_a_symbol_a_numeral_a_quotation_or_a_word_named_is_not_first_person(text):
    assert first_person_words(text) == []


@pytest.mark.parametrize("text, words", [
    ("I think the matrix is singular.", ["I"]),
    ("Am I the only one who grinds finer?", ["I"]),
    ("Where I live the water is hard.", ["I"]),
    ("In my experience it works, trust me.", ["my", "me"]),
])
def test_the_authors_own_voice_is_first_person(text, words):
    assert first_person_words(text) == words


def test_a_french_answer_is_read_with_the_french_list_and_says_so():
    text = "Je pense que la réponse est oui. J'ai testé avec mon moulin, et le café est meilleur pour moi."

    verdict = judge_answer(text, None, min_score=None, min_chars=10)

    assert verdict.reason == "first_person"
    assert verdict.detail["language"] == "fr"
    assert verdict.detail["rule_hits"]["lists"] == ["fr"]
    assert verdict.detail["rule_hits"]["found"] == ["Je", "J'", "mon", "moi"]
    assert verdict.detail["rule_hits"]["sentence"] == "Je pense que la réponse est oui."


def test_french_words_named_in_quotes_are_not_first_person():
    text = "Le pronom « je » s'élide devant une voyelle : on écrit « j'ai » et non « je ai » dans la phrase."

    assert first_person_words(text) == []
    assert rule_languages(text) == ("fr", ("fr",))


def test_an_english_answer_quoting_french_is_read_with_the_english_list():
    text = "In French the phrase « je pense » is common, and the speaker is the subject of the sentence here."

    assert rule_languages(text)[1] == ("en",) and first_person_words(text) == []


# --- References ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, phrases", [
    ("The op-amp gain is set by the feedback resistor.", []),
    ("The op amp saturates near the rails.", []),
    ("The OP asked about the gain, not the bandwidth.", ["The OP"]),
    ("OP's circuit lacks a feedback resistor.", ["OP's"]),
    ("As mentioned in the comments, the gain drops.", ["As mentioned", "in the comments"]),
    ("Comme mentionné dans l'autre réponse, le gain baisse.", ["Comme mentionné", "autre réponse"]),
])
def test_references_to_the_asker_and_other_answers(text, phrases):
    assert reference_phrases(text) == phrases


def test_an_answer_about_stack_exchange_itself_is_no_reference():
    text = "Stack Exchange publishes a data dump of every site each quarter, as 7z archives."

    assert reference_phrases(text) == ["Stack Exchange"]
    assert reference_phrases(text, topic="Where can I download the Stack Exchange data dump?") == []
    assert reference_phrases(text, site_is_topic=True) == []  # a meta site is about the sites
    assert reference_phrases("As mentioned, Stack Exchange does.", site_is_topic=True) == ["As mentioned"]


# --- Self-contained titles ---------------------------------------------------------------------------

@pytest.mark.parametrize("title, body, why", [
    ("What does this code do?", "", {"reason": "refers_to_the_body", "found": "this"}),
    ("Why is the following loop slow?", "", {"reason": "refers_to_the_body", "found": "the following"}),
    ("Error in the code below", "", {"reason": "refers_to_the_body", "found": "the code below"}),
    ("Que veut dire cette expression ?", "", {"reason": "refers_to_the_body", "found": "cette"}),
    ("Difference between espresso and ristretto", "What is the difference? Both are short.",
     {"reason": "question_in_body"}),
    ("Difference between espresso and ristretto", "Both are short.", None),
    ("How long does ground coffee keep?", "It goes stale. Why?", None),
    ("Is this year's harvest late?", "", None),
])
def test_a_title_that_cannot_stand_alone_says_why(title, body, why):
    assert title_not_self_contained(title, body) == why
