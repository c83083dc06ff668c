"""Blind studies: sides drawn and recorded, items handed out with overlap, labels, results against
hand-computed numbers, downloads, and the checkpoint chosen from a study."""
import csv
import io
import re

import pytest

from core import stats
from inference.models import Claim, Judgment, Rating, Study, StudyItem
from inference.studies import StudyError, create_study, next_item, record_label
from tests.inference.builders import make_run, make_training_run, make_version

pytestmark = pytest.mark.django_db

SECRET_A, SECRET_B = "Zebrafish-65B-secret", "Quokka-7B-secret"


def two_runs(n=40, pk_a=987001, pk_b=987002):
    keys = [str(k) for k in range(1, n + 1)]
    a = make_run(SECRET_A, {k: f"Answer {k} from the first model." for k in keys}, pk=pk_a)
    b = make_run(SECRET_B, {k: f"Answer {k} from the second model." for k in keys}, pk=pk_b)
    return a, b


def sides(study):
    return [(i.prompt_key, i.left.run_id, i.right.run_id) for i in study.items.select_related("left", "right")]


# --- Creating a study -----------------------------------------------------------------------------------


def test_each_item_shows_both_runs_answers_to_one_prompt_in_a_recorded_random_order():
    a, b = two_runs()
    study = create_study(name="s", runs=[a, b], seed=3)

    items = list(study.items.select_related("left", "right"))
    assert len(items) == 40
    assert [i.position for i in items] == list(range(1, 41))
    for item in items:
        assert {item.left.run_id, item.right.run_id} == {a.pk, b.pk}
        assert item.left.prompt_key == item.right.prompt_key == item.prompt_key
    first_on_left = sum(item.left.run_id == a.pk for item in items)
    assert 5 < first_on_left < 35  # both orders occur: the side is drawn per item
    assert [i.prompt_key for i in items] != sorted((i.prompt_key for i in items), key=int)  # and the order is shuffled


def test_the_same_seed_gives_the_same_sides_and_order_and_another_seed_does_not():
    a, b = two_runs()
    first = create_study(name="one", runs=[a, b], seed=11)
    again = create_study(name="two", runs=[a, b], seed=11)
    other = create_study(name="three", runs=[a, b], seed=12)

    assert sides(first) == sides(again)
    assert sides(first) != sides(other)


def test_pairing_compares_the_first_run_with_each_other_or_every_pair():
    keys = {"1": "x", "2": "y"}
    runs = [make_run(f"m{i}", keys) for i in range(3)]

    first = create_study(name="f", runs=runs, pairing=Study.Pairing.FIRST)
    every = create_study(name="a", runs=runs, pairing=Study.Pairing.ALL)

    pair_of = lambda item: frozenset((item.left.run_id, item.right.run_id))  # noqa: E731
    assert {pair_of(i) for i in first.items.all()} == {frozenset((runs[0].pk, runs[1].pk)),
                                                        frozenset((runs[0].pk, runs[2].pk))}
    assert first.items.count() == 4
    assert every.items.count() == 6


def test_a_rating_study_draws_its_sample_and_shows_one_response_per_item():
    a, b = two_runs(n=30)
    study = create_study(name="r", runs=[a, b], kind="rating", sample_size=10, seed=1)

    assert study.items.count() == 20  # 10 prompts × 2 runs
    assert study.items.filter(right__isnull=True).count() == 20
    assert len(set(study.items.values_list("prompt_key", flat=True))) == 10


def test_it_refuses_runs_without_a_shared_prompt_or_not_finished():
    a = make_run("a", {"1": "x"})
    b = make_run("b", {"2": "y"})
    with pytest.raises(StudyError, match="share no prompt"):
        create_study(name="s", runs=[a, b])
    b.status = "running"
    b.save()
    with pytest.raises(StudyError, match="has not succeeded"):
        create_study(name="s", runs=[a, b])
    assert not Study.objects.exists()


# --- Handing out items ----------------------------------------------------------------------------------


def test_no_item_gets_more_labels_than_the_overlap(alice, bob, roles):
    from tests.conftest import _make_user

    carol = _make_user("carol", roles["annotator"])
    a, b = two_runs(n=3)
    study = create_study(name="s", runs=[a, b], overlap=2)

    for user in (bob, alice):
        while (item := next_item(study, user)) is not None:
            record_label(item, user, "A")

    assert next_item(study, carol) is None
    assert all(item.judgments.count() == 2 for item in study.items.all())


def test_a_claimed_item_is_not_handed_to_another_annotator(alice, bob):
    a, b = two_runs(n=2)
    study = create_study(name="s", runs=[a, b], overlap=1)

    bobs = next_item(study, bob)
    alices = next_item(study, alice)

    assert bobs.position == 1 and alices.position == 2
    assert next_item(study, bob) == bobs  # still his until he labels it
    assert Claim.objects.filter(item=bobs, annotator=bob).exists()


def test_changing_a_label_keeps_one_label_per_annotator(bob):
    a, b = two_runs(n=1)
    study = create_study(name="s", runs=[a, b])
    item = next_item(study, bob)

    record_label(item, bob, "A")
    record_label(item, bob, "tie")

    assert list(Judgment.objects.values_list("label", flat=True)) == ["tie"]
    assert not Claim.objects.exists()


def test_a_closed_study_hands_out_nothing_and_takes_no_label(bob):
    a, b = two_runs(n=1)
    study = create_study(name="s", runs=[a, b])
    item = next_item(study, bob)
    study.is_open = False
    study.save()

    assert next_item(study, bob) is None
    with pytest.raises(StudyError, match="closed"):
        record_label(item, bob, "A")


# --- The labelling page ---------------------------------------------------------------------------------


def test_the_labelling_page_never_names_the_models_or_their_ids(client_of, bob):
    a, b = two_runs(n=5)
    study = create_study(name="Blind test", runs=[a, b])
    client = client_of(bob)

    pages = [client.get(f"/studies/{study.pk}/annotate/")]
    item = StudyItem.objects.get(study=study, position=1)
    pages.append(client.post(f"/studies/{study.pk}/items/1/", {"label": "A"}, HTTP_HX_REQUEST="true"))
    pages.append(client.get(f"/studies/{study.pk}/items/1/"))
    pages.append(client.get(f"/studies/{study.pk}/"))
    pages.append(client.get("/studies/"))

    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        for secret in (SECRET_A, SECRET_B, "Zebrafish", "Quokka", "Blind test"):
            assert secret not in html
        for number in (a.pk, b.pk, item.left_id, item.right_id):
            assert not re.search(rf"\b{number}\b", html), number
    assert "Answer" in pages[0].content.decode()  # the responses themselves are there


def test_the_page_shows_a_as_the_recorded_left_response(client_of, bob):
    a, b = two_runs(n=4)
    study = create_study(name="s", runs=[a, b], seed=5)
    html = client_of(bob).get(f"/studies/{study.pk}/annotate/").content.decode()
    item = StudyItem.objects.get(study=study, position=1)

    a_at, b_at = html.index("Response A"), html.index("Response B")
    assert a_at < html.index(item.left.response) < b_at < html.index(item.right.response)


def test_labelling_through_the_page_moves_to_the_next_item(client_of, bob):
    a, b = two_runs(n=3)
    study = create_study(name="s", runs=[a, b])
    client = client_of(bob)
    client.get(f"/studies/{study.pk}/annotate/")

    answer = client.post(f"/studies/{study.pk}/items/1/", {"label": "B"}, HTTP_HX_REQUEST="true")

    assert answer["HX-Push-Url"] == f"/studies/{study.pk}/items/2/"
    assert 'data-position="2"' in answer.content.decode()
    assert Judgment.objects.get(annotator=bob).label == "B"
    back = client.get(f"/studies/{study.pk}/items/2/step/?direction=previous", HTTP_HX_REQUEST="true")
    assert 'data-position="1"' in back.content.decode() and "is-current" in back.content.decode()


def test_an_annotator_cannot_open_an_item_that_is_not_theirs(client_of, alice, bob):
    a, b = two_runs(n=2)
    study = create_study(name="s", runs=[a, b])
    next_item(study, alice)  # item 1 is Alice's

    assert client_of(bob).get(f"/studies/{study.pk}/items/1/").status_code == 403
    refused = client_of(bob).post(f"/studies/{study.pk}/items/1/", {"label": "A"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 422
    assert "has all the labels it needs" in refused.content.decode()
    assert 'data-position="2"' in refused.content.decode()  # he is given the item that is his
    assert not Judgment.objects.exists()


def test_pages_need_a_role(client, client_of, charlie):
    a, b = two_runs(n=1)
    study = create_study(name="s", runs=[a, b])
    for url in ("/studies/", f"/studies/{study.pk}/", f"/studies/{study.pk}/annotate/", "/studies/new/"):
        assert client.get(url).status_code == 302  # to the login page
        assert client_of(charlie).get(url).status_code == 403


def test_only_admins_create_studies(client_of, alice, bob):
    a, b = two_runs(n=2)
    form = {"name": "Mine", "kind": "pairwise", "first_run": a.pk, "other_runs": [b.pk], "pairing": "first",
            "overlap": 2, "seed": 4}

    assert client_of(bob).post("/studies/new/", form).status_code == 403
    answer = client_of(alice).post("/studies/new/", form)

    study = Study.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/studies/{study.pk}/"
    assert [sr.run_id for sr in study.study_runs.order_by("position")] == [a.pk, b.pk]
    assert study.overlap == 2 and study.items.count() == 2


# --- Results --------------------------------------------------------------------------------------------


def label_as(user, item, first_run, outcome):
    """Record the label that gives `outcome` (win/tie/loss) to `first_run`, whatever side it was shown on."""
    if outcome == "tie":
        label = "tie"
    else:
        first_on_left = item.left.run_id == first_run.pk
        label = "A" if (outcome == "win") == first_on_left else "B"
    record_label(item, user, label)


def test_the_results_page_shows_hand_computed_percentages(client_of, alice):
    # given three items: the first model wins two and ties one
    a, b = two_runs(n=3)
    study = create_study(name="Three items", runs=[a, b], seed=2)
    items = list(study.items.select_related("left", "right"))
    assert {i.left.run_id == a.pk for i in items} == {True, False}  # both sides occur
    for item, outcome in zip(items, ["win", "win", "tie"]):
        next_item(study, alice)
        label_as(alice, item, a, outcome)

    # when
    html = client_of(alice).get(f"/studies/{study.pk}/").content.decode()

    # then: 2/3 wins, 1/3 ties, no loss
    assert "66.7%" in html and "33.3%" in html and "0.0%" in html
    assert SECRET_A in html and SECRET_B in html  # results name the models
    assert '<svg class="stacked-bars"' in html
    assert f'href="/generations/{a.pk}/"' in html


def test_a_rating_study_reports_shares_per_run(client_of, alice):
    a, b = two_runs(n=2)
    study = create_study(name="r", runs=[a, b], kind="rating")
    wanted = {a.pk: ["Excellent", "Pass"], b.pk: ["Fail", "Fail"]}
    while (item := next_item(study, alice)) is not None:
        record_label(item, alice, wanted[item.left.run_id].pop())

    html = client_of(alice).get(f"/studies/{study.pk}/").content.decode()
    assert Rating.objects.count() == 4
    assert "50.0%" in html and "100.0%" in html
    assert "Fail / Pass / Excellent" in html


def test_an_annotator_sees_results_only_when_nothing_is_left_for_them(client_of, bob):
    a, b = two_runs(n=2)
    study = create_study(name="s", runs=[a, b])
    client = client_of(bob)

    before = client.get(f"/studies/{study.pk}/").content.decode()
    assert "results open once" in before.lower() and SECRET_A not in before
    assert client.get(f"/studies/{study.pk}/results.csv").status_code == 403

    while (item := next_item(study, bob)) is not None:
        record_label(item, bob, "tie")
    after = client.get(f"/studies/{study.pk}/").content.decode()
    assert SECRET_A in after and "100.0%" in after


def test_the_csv_has_one_row_per_label_with_its_lineage(client_of, alice, bob):
    a, b = two_runs(n=2)
    study = create_study(name="s", runs=[a, b], overlap=2)
    for user in (alice, bob):
        while (item := next_item(study, user)) is not None:
            label_as(user, item, a, "win" if user == alice else "loss")

    answer = client_of(alice).get(f"/studies/{study.pk}/results.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode())))

    assert len(rows) == 4
    assert {r["outcome_for_first_run"] for r in rows if r["annotator"] == "alice"} == {"win"}
    assert {r["outcome_for_first_run"] for r in rows if r["annotator"] == "bob"} == {"loss"}
    for row in rows:
        item = StudyItem.objects.get(study=study, position=int(row["item"]))
        assert int(row["left_generation"]) == item.left_id and int(row["right_generation"]) == item.right_id
        assert row["first_run"] == str(a.pk)
    data = client_of(alice).get(f"/studies/{study.pk}/results.json").json()
    assert data["pairs"][0]["win"]["percent"] == 50.0
    assert data["agreement"]["mean"] == 0.0  # one said win where the other said loss, on every item
    assert len(data["labels"]) == 4


def test_results_match_the_statistics_module(alice):
    from inference.results import compute_results

    a, b = two_runs(n=6)
    study = create_study(name="s", runs=[a, b], seed=9)
    outcomes = ["win", "loss", "tie", "win", "win", "loss"]
    for item, outcome in zip(study.items.select_related("left", "right"), outcomes):
        next_item(study, alice)
        label_as(alice, item, a, outcome)

    found = compute_results(study, n_resamples=500)
    expected = stats.win_tie_loss(
        [stats.Comparison(i, 0, "a", "b", {"win": "A", "loss": "B", "tie": "tie"}[o]) for i, o in enumerate(outcomes)],
        "a", "b", n_resamples=500,
    )
    pair = found["pairs"][0]
    assert pair["win"]["percent"] == pytest.approx(50.0)
    assert pair["loss"]["percent"] == pytest.approx(100 / 3, abs=0.01)
    assert (pair["win"]["low"], pair["win"]["high"]) == (round(expected.win.low, 2), round(expected.win.high, 2))


# --- Checkpoint selection -------------------------------------------------------------------------------


def test_the_admin_marks_the_winning_checkpoint_on_its_training_run(client_of, alice, tmp_path):
    version = make_version()
    training = make_training_run(version, tmp_path, epochs=(5, 6))
    five, six = training.checkpoints.order_by("epoch")
    keys = {str(i.example_id): "x" for i in version.items.filter(split="dev")}
    run_5 = make_run("epoch 5", keys, checkpoint=five, version=version, kind="model")
    run_6 = make_run("epoch 6", keys, checkpoint=six, version=version, kind="model")
    study = create_study(name="Which epoch", runs=[run_5, run_6])
    while (item := next_item(study, alice)) is not None:
        label_as(alice, item, run_6, "win")
    client = client_of(alice)

    html = client.get(f"/studies/{study.pk}/").content.decode()
    assert "Choose epoch 6" in html
    assert f'href="/training/{training.pk}/"' in html and f'href="/datasets/{version.pk}/"' in html
    answer = client.post(f"/studies/{study.pk}/choose/", {"checkpoint": six.pk})

    assert answer.status_code == 302
    training.refresh_from_db()
    assert training.chosen_checkpoint == six
    after = client.get(f"/studies/{study.pk}/").content.decode()
    assert "chosen</span>" in after and "Choose epoch 6" not in after


def test_an_annotator_cannot_choose_a_checkpoint(client_of, bob, tmp_path):
    version = make_version()
    training = make_training_run(version, tmp_path, epochs=(5,))
    keys = {str(i.example_id): "x" for i in version.items.filter(split="dev")}
    run = make_run("epoch 5", keys, checkpoint=training.checkpoints.get(), version=version, kind="model")
    other = make_run("other", keys, version=version)
    study = create_study(name="s", runs=[run, other])

    answer = client_of(bob).post(f"/studies/{study.pk}/choose/", {"checkpoint": training.checkpoints.get().pk})

    assert answer.status_code == 403
    training.refresh_from_db()
    assert training.chosen_checkpoint is None
