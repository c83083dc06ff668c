"""Dev/test prompts found in train: exact repeats and 13-gram overlaps (pure, no database)."""
from curation.datasets.contamination import NGRAM, OverlapFinder, find_overlaps, ngrams, words

LONG_PROMPT = (
    "Explain how the immune system learns to recognise a virus after a vaccine, "
    "and why a booster dose is sometimes needed months later."
)


def test_words_ignore_case_punctuation_and_spacing():
    assert words("Hello,  WORLD!\nIt's   *here*.") == ["hello", "world", "it", "s", "here"]


def test_ngrams_are_runs_of_consecutive_words():
    tokens = [str(i) for i in range(15)]
    grams = ngrams(tokens)
    assert len(grams) == 15 - NGRAM + 1
    assert tuple(str(i) for i in range(NGRAM)) in grams


def test_it_flags_a_test_prompt_repeated_exactly_in_train_despite_case_and_punctuation():
    overlaps = find_overlaps(
        [("t1", "test", "Why do cats purr?")],
        [("a", ["why do cats PURR", "Contentment, mostly."]), ("b", ["Why do dogs bark?", "To talk."])],
    )
    assert [(o.eval_key, o.train_key, o.kind) for o in overlaps] == [("t1", "a", "exact")]


def test_it_flags_a_prompt_quoted_inside_a_train_response_by_a_shared_13_gram():
    quoted = "As someone once asked: " + LONG_PROMPT.lower() + " The answer is memory cells."
    overlaps = find_overlaps([("d1", "dev", LONG_PROMPT)], [("x", ["Tell me about vaccines.", quoted])])
    assert len(overlaps) == 1
    overlap = overlaps[0]
    assert (overlap.eval_key, overlap.eval_split, overlap.train_key, overlap.kind) == ("d1", "dev", "x", "near")
    assert overlap.shared_ngrams == overlap.prompt_ngrams == len(ngrams(words(LONG_PROMPT)))
    assert overlap.ratio == 1.0
    assert len(overlap.snippet.split()) == NGRAM and overlap.snippet in " ".join(words(LONG_PROMPT))


def test_twelve_shared_words_in_a_row_are_not_an_overlap():
    twelve = " ".join(words(LONG_PROMPT)[:12])
    overlaps = find_overlaps([("d1", "dev", LONG_PROMPT)], [("x", ["Something else entirely.", twelve + " and more"])])
    assert overlaps == []


def test_a_short_prompt_is_only_checked_for_exact_repeats():
    overlaps = find_overlaps(
        [("t1", "test", "How do I cook rice?")],
        [("x", ["Dinner ideas?", "You may wonder how do I cook rice? Rinse it first."])],
    )
    assert overlaps == []


def test_exact_pairs_come_first_then_larger_shares():
    half = " ".join(words(LONG_PROMPT)[:14])
    finder = OverlapFinder([("d1", "dev", LONG_PROMPT), ("t2", "test", "Name three primary colours.")])
    finder.scan("partial", ["Unrelated prompt", half])
    finder.scan("full", ["Unrelated prompt", LONG_PROMPT])
    finder.scan("same", ["name three primary colours", "Red, yellow, blue."])
    kinds = [(o.eval_key, o.train_key, o.kind) for o in finder.overlaps()]
    assert kinds == [("t2", "same", "exact"), ("d1", "full", "near"), ("d1", "partial", "near")]


def test_nothing_to_look_for_without_evaluation_prompts():
    finder = OverlapFinder([])
    assert not finder.active
    finder.scan("x", [LONG_PROMPT, LONG_PROMPT])
    assert finder.overlaps() == []
