"""Quality signals per revision: length percentile within a source and domain, style warnings, and IFD on the
tiny model (trained a few steps on question-answer pairs, so that a prompt helps predict its own answer)."""
import numpy as np
import pytest
import torch

from curation.models import Example, StyleCheck
from curation.services import create_example, edit_example, get_or_create_source
from curation.signals.ifd import ifd_scores, load_scorer
from curation.signals.jobs import start_run
from curation.signals.models import Score
from curation.signals.scores import annotate_scores, scores_for

pytestmark = pytest.mark.django_db

PAIRS = [
    ("What colour is the sky on a clear day?", "The sky is blue on a clear day because air scatters blue light the most."),
    ("How many legs does a spider have?", "A spider has eight legs, two more than an insect."),
    ("What do bees make?", "Bees make honey from the nectar of flowers and store it in wax combs."),
    ("Which planet is closest to the sun?", "Mercury is the planet closest to the sun, and it has no moons."),
]


@pytest.fixture(scope="module")
def trained_tiny_model(tmp_path_factory):
    """The tests' tiny LLaMA, trained 60 steps on PAIRS (half a second): it has seen each answer after its
    question only."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.engine.tiny import build_tiny_model

    torch.manual_seed(0)
    path = build_tiny_model(tmp_path_factory.mktemp("ifd-model"), [p + "\n\n" + a for p, a in PAIRS])
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    rows = [torch.tensor([tokenizer(p + "\n\n" + a, add_special_tokens=False)["input_ids"]]) for p, a in PAIRS]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(60):
        for ids in rows:
            model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(path)
    return path


def test_ifd_ranks_an_answer_to_its_own_prompt_below_an_unrelated_one(trained_tiny_model):
    scorer = load_scorer(str(trained_tiny_model))

    own = ifd_scores(scorer, PAIRS)
    # The same answers, each under another question: the model knows them, but the prompt no longer helps.
    unrelated = ifd_scores(scorer, [(PAIRS[i][0], PAIRS[(i + 1) % len(PAIRS)][1]) for i in range(len(PAIRS))])

    assert (own < unrelated).all(), (own, unrelated)
    assert (own < 1).all()


def test_ifd_of_a_batch_equals_ifd_one_by_one(trained_tiny_model):
    scorer = load_scorer(str(trained_tiny_model))
    pairs = [*PAIRS, ("Why?", "Because the answer is long enough to need padding in a batch of short ones " * 3)]

    batched = ifd_scores(scorer, pairs, batch_size=8)
    alone = np.array([ifd_scores(scorer, [pair])[0] for pair in pairs])

    np.testing.assert_allclose(batched, alone, rtol=1e-4)


def test_an_ifd_run_scores_the_examples_with_an_answer(settings, trained_tiny_model):
    settings.SIGNALS_IFD_MODEL = str(trained_tiny_model)
    source = get_or_create_source("jsonl", "quiz")
    matched = create_example(turns=list(PAIRS[0]), source=source)
    mismatched = create_example(turns=[PAIRS[1][0], PAIRS[2][1]], source=source)
    prompt_only = create_example(turns=["A prompt with no answer yet"], source=source)

    run = start_run("ifd", run_async=False)

    assert run.status == run.Status.SUCCEEDED, run.error
    found = scores_for("ifd")
    assert set(found) == {matched.pk, mismatched.pk}
    assert found[matched.pk] < found[mismatched.pk]
    assert Score.objects.get(example=matched, signal="ifd").computed_by == str(trained_tiny_model)
    assert prompt_only.pk not in found


def test_length_percentiles_rank_each_answer_within_its_source_and_domain():
    wikihow = get_or_create_source("wikihow", "wikiHow")
    stack = get_or_create_source("stackexchange", "cooking.stackexchange.com")
    # wikiHow's answers are all longer than Stack Exchange's: across sources its shortest would rank above them.
    long_ones = [create_example(turns=[f"How to {i}?", "Step. " * (300 + 50 * i)], source=wikihow, domain="howto")
                 for i in range(4)]
    short_ones = [create_example(turns=[f"Why {i}?", "Because. " * (5 + i)], source=stack, domain="cooking")
                  for i in range(4)]
    other_domain = create_example(turns=["Why physics?", "Because. " * 2], source=stack, domain="physics")

    start_run("length_percentile", run_async=False)

    found = scores_for("length_percentile")
    for group in (long_ones, short_ones):
        values = [found[e.pk] for e in group]
        assert values == sorted(values) and values == [12.5, 37.5, 62.5, 87.5]  # mid-ranks among four
    assert found[other_domain.pk] == 50.0  # alone in its domain


def test_a_style_run_counts_warnings_and_fills_the_tables_style_check():
    source = get_or_create_source("jsonl", "chat")
    clean = create_example(turns=["How do I boil an egg?", "Put the egg in boiling water for seven minutes, then "
                                  "cool it in cold water so that the shell comes off easily."], source=source)
    chatty = create_example(turns=["How do I boil an egg?", "As an AI language model I think you boil it. See "
                                   "https://example.com. I hope this helps!"], source=source)

    start_run("style", run_async=False)

    found = scores_for("style")
    assert found[chatty.pk] > found[clean.pk]
    assert StyleCheck.objects.get(example=chatty).warnings == found[chatty.pk]


def test_a_score_of_older_text_reads_as_missing(alice):
    source = get_or_create_source("jsonl", "chat")
    example = create_example(turns=["Q?", "An answer."], source=source)
    start_run("style", run_async=False)

    edit_example(example, expected_version=example.version, author=alice, turns=["Q?", "Another answer."])

    assert example.pk not in scores_for("style")
    annotated = annotate_scores(Example.objects.filter(pk=example.pk)).get()
    assert annotated.style_score is None and annotated.length_percentile_score is None
    assert start_run("style", run_async=False).total == 1
