"""The dashboard: composition against LIMA's targets, length histograms, activity, reviewer agreement."""
from datetime import date, datetime
from datetime import timezone as tz

import pytest
from django.contrib.auth import get_user_model

from core.roles import ANNOTATOR
from curation.models import CompositionTarget, Source
from curation.services import create_example, get_or_create_source, review_example
from curation.workspace import figures as dashboard


def test_examples_fall_into_limas_source_groups():
    assert dashboard.bucket_of("stackexchange", "math.stackexchange.com") == "se_stem"
    assert dashboard.bucket_of("stackexchange", "cooking.stackexchange.com") == "se_other"
    assert dashboard.bucket_of("stackexchange", "", {"site": "physics"}) == "se_stem"
    assert dashboard.bucket_of("reddit", "WritingPrompts") == "writingprompts"
    assert dashboard.bucket_of("reddit", "r/AskReddit") == "askreddit"
    assert dashboard.bucket_of("wikihow", "Home and Garden") == "wikihow"
    assert dashboard.bucket_of("natural_instructions", "task001") == "ni"
    assert dashboard.bucket_of("manual") == "hand_written"
    assert dashboard.bucket_of("jsonl") == "other"


def test_limas_targets_add_up_to_the_papers_splits():
    totals = {split: sum(n for (s, _), n in dashboard.LIMA_TARGETS.items() if s == split) for split in dashboard.SPLITS}
    assert totals == {"train": 1000, "dev": 50, "test": 300}


def test_composition_counts_each_status_next_to_its_target():
    result = dashboard.composition(
        [("wikihow", "approved", "train", 150), ("wikihow", "candidate", "train", 70),
         ("wikihow", "rejected", "train", 5), ("hand_written", "approved", "dev", 50),
         ("jsonl_thing", "candidate", "unassigned", 3)],
        {("train", "wikihow"): 200, ("dev", "hand_written"): 50},
    )
    rows = {row.bucket: row for row in result.rows}
    wikihow = rows["wikihow"].cells["train"]
    assert (wikihow.approved, wikihow.candidate, wikihow.rejected, wikihow.target) == (150, 70, 5, 200)
    assert (wikihow.percent, wikihow.done) == (75, False)
    assert rows["hand_written"].cells["dev"].done
    assert rows["jsonl_thing"].cells["unassigned"].candidate == 3
    assert [row.bucket for row in result.rows] == ["wikihow", "hand_written", "jsonl_thing"]
    assert (result.totals["train"].approved, result.totals["train"].target) == (150, 200)


def test_the_histogram_puts_each_length_in_its_doubling_bin():
    bins = dashboard.histogram([0, 15, 16, 600, 5000])
    counts = {b.label: b.count for b in bins}
    assert counts["0–15"] == 2 and counts["16–31"] == 1 and counts["512–1,023"] == 1 and counts["2,048+"] == 1
    assert sum(b.count for b in bins) == 5


def test_length_summaries_compare_with_limas_averages():
    [summary] = dashboard.length_summaries([("wikihow", 10, 1000), ("wikihow", 20, None)])
    assert (summary.n, summary.prompt_mean, summary.response_mean) == (2, 15, 1000)
    assert (summary.lima_prompt_mean, summary.lima_response_mean) == (12, 1811)


def test_reviews_per_day_cover_the_window_busiest_first():
    today = date(2026, 11, 20)
    activity = dashboard.reviews_per_day(
        [("bob", date(2026, 11, 20)), ("bob", date(2026, 11, 20)), ("dana", date(2026, 11, 19)),
         ("bob", date(2026, 11, 1))],
        today, days=3,
    )
    assert activity.days == [date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)]
    assert [(row.reviewer, row.counts) for row in activity.rows] == [("bob", [0, 0, 2]), ("dana", [0, 1, 0])]
    assert activity.max_count == 2


def test_agreement_is_limas_tie_discounted_accuracy_with_needs_edit_as_the_tie():
    t = datetime(2026, 11, 20, tzinfo=tz.utc)
    rows = [
        (1, "bob", "approve", t), (1, "dana", "approve", t),        # same: 1
        (2, "bob", "approve", t), (2, "dana", "needs_edit", t),     # one tie: 0.5
        (3, "bob", "approve", t), (3, "dana", "reject", t),         # opposite: 0
        (4, "bob", "reject", t),                                    # reviewed once: not counted
    ]
    result = dashboard.review_agreement(rows)
    assert result.items == 3
    assert result.mean == pytest.approx(0.5)
    [pair] = result.pairs
    assert (pair.annotator_1, pair.annotator_2, pair.n_items) == ("bob", "dana", 3)


def test_agreement_counts_each_reviewers_latest_decision():
    early, late = datetime(2026, 11, 1, tzinfo=tz.utc), datetime(2026, 11, 2, tzinfo=tz.utc)
    rows = [(1, "bob", "reject", early), (1, "bob", "approve", late), (1, "dana", "approve", early)]
    assert dashboard.review_agreement(rows).mean == 1.0


@pytest.mark.django_db
def test_the_page_shows_counts_targets_lengths_and_agreement(client_of, alice, bob, roles):
    dana = get_user_model().objects.create_user(username="dana", password="x")
    dana.groups.add(roles[ANNOTATOR])
    math = get_or_create_source(Source.Kind.STACKEXCHANGE, "math.stackexchange.com")
    first = create_example(source=math, turns=["What is 2+2?", "Four. " * 100], domain="math.stackexchange.com",
                           status="approved", split="train")
    second = create_example(turns=["Q?", "A."], author=bob)
    review_example(second, reviewer=bob, decision="approve")
    second.refresh_from_db()
    review_example(second, reviewer=dana, decision="needs_edit")

    html = client_of(bob).get("/dashboard/").content.decode()
    assert "Stack Exchange · STEM" in html
    assert "<strong>1</strong><span class=\"muted\"> / 200</span>" in html
    assert "<svg class=\"chart\"" in html and "LIMA 523" in html
    assert "bob &amp; dana" in html and "50%" in html
    assert first.pk and "Reviews per annotator" in html


@pytest.mark.django_db
def test_an_admin_edits_the_targets(client_of, alice):
    response = client_of(alice).post("/dashboard/targets/", {"target__train__wikihow": "250", "target__dev__hand_written": "0"})
    assert response.status_code == 302
    assert CompositionTarget.objects.get(split="train", bucket="wikihow").target == 250
    targets = dashboard.load_targets()
    assert targets[("train", "wikihow")] == 250
    assert ("dev", "hand_written") not in targets  # 0: no target
    assert CompositionTarget.objects.get(split="train", bucket="wikihow").updated_by == alice


@pytest.mark.django_db
def test_bad_targets_change_nothing(client_of, alice):
    client_of(alice).post("/dashboard/targets/", {"target__train__wikihow": "-5"})
    assert CompositionTarget.objects.count() == 0
