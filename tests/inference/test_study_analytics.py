"""Study analytics on the pages: several runs with pairs drawn per prompt, the Bradley–Terry ranking and its
tie rule for the checkpoint choice, the length-controlled win rate, the prompts a ±5-point interval needs,
judge-free checks, and agreement of rating studies."""
import itertools
import re
from collections import Counter

import pytest

from inference.models import Generation, Study
from inference.studies import StudyError, create_study, next_item, record_label
from tests.inference.builders import make_run, make_training_run, make_version
from tests.inference.test_studies import label_as

pytestmark = pytest.mark.django_db


def runs_of(n_runs, n_prompts, lengths=None):
    keys = [str(k) for k in range(1, n_prompts + 1)]
    return [make_run(f"run-{r}", {k: " ".join(["word"] * (lengths or [5] * n_runs)[r]) for k in keys})
            for r in range(n_runs)]


def pair_of(item):
    return frozenset((item.left.run_id, item.right.run_id))


# --- Several runs -------------------------------------------------------------------------------------------


def test_pairs_drawn_per_prompt_are_spread_evenly_over_every_pair_and_both_sides():
    runs = runs_of(4, 60)

    study = create_study(name="six pairs", runs=runs, pairing=Study.Pairing.SAMPLED, pairs_per_prompt=2, seed=4)

    items = list(study.items.select_related("left", "right"))
    assert len(items) == 120
    per_prompt = Counter(i.prompt_key for i in items)
    assert set(per_prompt.values()) == {2}
    assert all(len({pair_of(i) for i in items if i.prompt_key == key}) == 2 for key in per_prompt)  # never twice
    per_pair = Counter(pair_of(i) for i in items)
    assert set(per_pair) == {frozenset((a.pk, b.pk)) for a, b in itertools.combinations(runs, 2)}
    assert max(per_pair.values()) - min(per_pair.values()) <= 2  # 120 items over 6 pairs: about 20 each
    per_run = Counter(run for i in items for run in (i.left.run_id, i.right.run_id))
    assert max(per_run.values()) - min(per_run.values()) <= 4
    lefts = Counter(i.left.run_id for i in items)
    assert all(10 < lefts[run.pk] < 50 for run in runs)  # sides drawn, not fixed by the run order
    # the same seed gives the same study
    again = create_study(name="again", runs=runs, pairing=Study.Pairing.SAMPLED, pairs_per_prompt=2, seed=4)
    assert [(i.prompt_key, i.left_id, i.right_id) for i in again.items.order_by("position")] == \
        [(i.prompt_key, i.left_id, i.right_id) for i in study.items.order_by("position")]


def test_an_unknown_pairing_or_no_pair_per_prompt_is_refused_and_nothing_is_made():
    runs = runs_of(3, 2)
    with pytest.raises(StudyError, match="Unknown pairing 'some'"):
        create_study(name="x", runs=runs, pairing="some")
    with pytest.raises(StudyError, match="Pairs per prompt"):
        create_study(name="x", runs=runs, pairing=Study.Pairing.SAMPLED, pairs_per_prompt=0)
    assert not Study.objects.exists()


def test_the_new_study_form_makes_a_study_of_several_checkpoints_with_drawn_pairs(client_of, alice):
    runs = runs_of(5, 8)
    answer = client_of(alice).post("/studies/new/", {
        "name": "Five epochs", "kind": "pairwise", "first_run": runs[0].pk, "other_runs": [r.pk for r in runs[1:]],
        "pairing": "sampled", "pairs_per_prompt": 3, "overlap": 1, "seed": 0,
    })
    study = Study.objects.get()
    assert answer.status_code == 302 and study.pairing == "sampled" and study.pairs_per_prompt == 3
    assert study.items.count() == 24


def test_several_runs_are_ranked_by_bradley_terry_with_intervals(client_of, alice):
    # given four runs where each beats the next on every prompt
    runs = runs_of(4, 12)
    study = create_study(name="ladder", runs=runs, pairing=Study.Pairing.ALL)
    order = {run.pk: i for i, run in enumerate(runs)}
    while (item := next_item(study, alice)) is not None:
        better = min(item.left.run_id, item.right.run_id, key=order.get)
        record_label(item, alice, "A" if item.left.run_id == better else "B")

    data = client_of(alice).get(f"/studies/{study.pk}/results.json").json()

    ranking = data["ranking"]
    assert [row["name"] for row in ranking] == ["run-0", "run-1", "run-2", "run-3"]
    assert all(row["low"] <= row["rating"] <= row["high"] for row in ranking)
    assert ranking[0]["rating"] > ranking[1]["rating"] > ranking[2]["rating"] > ranking[3]["rating"]
    assert data["ranking_clear"] is True and data["ranking_method"]["name"] == "Bradley–Terry"
    html = client_of(alice).get(f"/studies/{study.pk}/").content.decode()
    assert 'data-ranking="clear"' in html and "run-0 leads" in html


# --- The checkpoint choice ----------------------------------------------------------------------------------


def checkpoint_study(tmp_path, outcomes):
    version = make_version(dev=[[f"Question {i}?", "x"] for i in range(len(outcomes))])
    training = make_training_run(version, tmp_path, epochs=(3, 4))
    three, four = training.checkpoints.order_by("epoch")
    keys = {str(i.example_id): "x" for i in version.items.filter(split="dev")}
    run_3 = make_run("epoch 3", keys, checkpoint=three, version=version, kind="model")
    run_4 = make_run("epoch 4", keys, checkpoint=four, version=version, kind="model")
    return create_study(name="Which epoch", runs=[run_3, run_4]), run_3


def choose_buttons(html):
    return re.findall(r'<button class="btn btn-small( btn-primary)?" type="submit">Choose epoch (\d)</button>', html)


def test_a_fifty_fifty_tie_highlights_no_checkpoint(client_of, alice, tmp_path):
    study, run_3 = checkpoint_study(tmp_path, ["win", "loss"] * 5)
    for item, outcome in zip(study.items.select_related("left", "right").order_by("position"), ["win", "loss"] * 5):
        next_item(study, alice)
        label_as(alice, item, run_3, outcome)

    html = client_of(alice).get(f"/studies/{study.pk}/").content.decode()

    buttons = choose_buttons(html)
    assert sorted(epoch for _, epoch in buttons) == ["3", "4"]
    assert all(primary == "" for primary, _ in buttons)  # neither is the primary action
    assert 'data-ranking="tie"' in html and "No clear winner yet" in html


def test_a_clear_winner_is_the_highlighted_choice(client_of, alice, tmp_path):
    study, run_3 = checkpoint_study(tmp_path, ["win"] * 8)
    while (item := next_item(study, alice)) is not None:
        label_as(alice, item, run_3, "win")

    buttons = choose_buttons(client_of(alice).get(f"/studies/{study.pk}/").content.decode())

    assert buttons[0] == (" btn-primary", "3") and buttons[1] == ("", "4")


# --- Length control, sample size, checks ----------------------------------------------------------------------


def test_the_page_shows_raw_and_length_controlled_win_rates_and_the_prompts_needed(client_of, alice):
    # given a long-winded model that wins exactly where its answer is longer
    keys = [str(k) for k in range(1, 41)]
    long = make_run("Verbose", {k: "word " * (200 if int(k) % 4 else 20) for k in keys})
    short = make_run("Terse", {k: "word " * 60 for k in keys})
    study = create_study(name="lengths", runs=[long, short])
    while (item := next_item(study, alice)) is not None:
        verbose_is_longer = int(item.prompt_key) % 4 != 0
        label_as(alice, item, long, "win" if verbose_is_longer else "loss")

    data = client_of(alice).get(f"/studies/{study.pk}/results.json").json()
    html = client_of(alice).get(f"/studies/{study.pk}/").content.decode()

    pair = data["pairs"][0]
    assert pair["length_control"]["raw"] == 75.0
    assert pair["length_control"]["prefers_longer"] is True
    assert pair["length_control"]["controlled"] < 65  # most of the 75 % was length
    assert pair["prompts_needed"] == 289  # 1.96² · 0.75 · 0.25 / 0.05²
    assert "data-lc-win-rate" in html and "about 289 prompts give ±5 points" in html
    lengths = {row["name"]: row for row in data["lengths"]}
    assert lengths["Terse"]["median"] == 75 and lengths["Terse"]["n"] == 40  # 300 characters ≈ 75 tokens
    assert sum(b["count"] for b in lengths["Verbose"]["histogram"]) == 40
    assert html.count('aria-label="Response lengths of ') == 2


def test_checks_count_answers_stopped_and_cut_on_the_run_page_and_the_study_page(client_of, alice):
    runs = runs_of(2, 4)
    reasons = ["stop", "stop", "stop", "length"]
    for g, reason in zip(Generation.objects.filter(run=runs[0]).order_by("position"), reasons):
        g.finish_reason, g.completion_tokens = reason, 10 if reason == "stop" else 64
        g.save()
    study = create_study(name="checks", runs=runs)
    while (item := next_item(study, alice)) is not None:
        record_label(item, alice, "tie")

    page = client_of(alice).get(f"/generations/{runs[0].pk}/").content.decode()
    imported = client_of(alice).get(f"/generations/{runs[1].pk}/").content.decode()
    data = client_of(alice).get(f"/studies/{study.pk}/results.json").json()

    assert re.search(r'data-check="stopped">75.0%', page) and re.search(r'data-check="cut">25.0%', page)
    assert "24 of the model" in page  # mean of its own tokens: (10·3 + 64) / 4 = 23.5
    assert 'data-check="stopped"><span class="muted">not recorded' in imported
    checks = {row["name"]: row["checks"] for row in data["lengths"]}
    assert checks["run-0"]["stopped"] == 75.0 and checks["run-1"]["stopped"] is None


# --- Rating agreement ---------------------------------------------------------------------------------------


def test_a_rating_study_shows_exact_agreement_and_weighted_and_fleiss_kappa(client_of, alice, bob):
    runs = runs_of(1, 6)
    study = create_study(name="rated", runs=runs[:1], kind="rating", overlap=3)
    wanted = {
        alice: ["Fail", "Pass", "Excellent", "Pass", "Fail", "Excellent"],
        bob: ["Fail", "Excellent", "Excellent", "Fail", "Fail", "Excellent"],
    }
    for user, labels in wanted.items():
        for item in study.items.order_by("position"):
            next_item(study, user)
            record_label(item, user, labels[item.position - 1])

    data = client_of(alice).get(f"/studies/{study.pk}/results.json").json()
    html = client_of(alice).get(f"/studies/{study.pk}/").content.decode()

    agreement = data["agreement"]
    assert agreement["mean"] == pytest.approx(4 / 6, abs=1e-4)
    # linear weights: observed disagreement (½ + ½)/6, expected from the marginals (alice F⅓ P⅓ E⅓, bob F½ E½):
    # ⅓·½·1 (F,E) + ⅓·½·½ (P,F) + ⅓·½·½ (P,E) + ⅓·½·1 (E,F) = ½  ->  1 − (1/6)/(1/2) = ⅔
    assert agreement["weighted_kappa"] == pytest.approx(2 / 3, abs=1e-4)
    # Fleiss: items agree 4 of 6; label shares F 5/12, P 2/12, E 5/12 -> chance 54/144; (⅔ − ⅜) / (1 − ⅜) = 7/15
    assert agreement["fleiss"] == {"kappa": pytest.approx(7 / 15, abs=1e-4), "n_items": 6, "raters": 2}
    assert "data-weighted-kappa" in html and "data-fleiss-kappa" in html and "Weighted kappa" in html
