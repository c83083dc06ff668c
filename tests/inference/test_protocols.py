"""Evaluation protocols are plug-ins: a protocol registered from this module alone (no other edit anywhere) is
offered on the new-study form and the API, labelled on the blind page and reported on the results page and in
the downloads. And the registry refuses what would break a page."""
import csv
import io

import pytest
from django.core.exceptions import ValidationError
from django.template import engines
from rest_framework.test import APIClient

from inference import protocols
from inference.models import Judgment, Study
from inference.protocols import Label, Protocol
from inference.studies import StudyError, create_study, next_item, record_label
from tests.inference.builders import make_run

pytestmark = pytest.mark.django_db

template = engines["django"].from_string


class BestOfTwo(Protocol):
    """Forced choice: two responses, A or B, no tie; a run's score is the share of its items it won."""

    kind = "best-of-two"
    title = "Forced choice: A or B, no tie"
    name = "forced choice"
    heading = "forced choice"
    blind_name = "blind forced choice"
    label_model = Judgment
    labels = (Label("A", "Left wins", key="1", alt="a"), Label("B", "Right wins", key="2", alt="b"))
    responses_per_item = 2
    item_template = template(
        '<div class="forced">{% for html in responses_html %}<article class="card">'
        '<h2>Option {{ forloop.counter }}</h2>{{ html }}</article>{% endfor %}</div>'
    )
    results_template = template(
        '<section class="card"><h2>Forced-choice wins</h2>'
        '{% for row in results.wins %}<p data-wins>{{ row.name }}: {{ row.won }} of {{ row.n }}</p>{% endfor %}'
        '</section>'
    )
    ranking_note = "share of its items won"
    columns = ["item", "annotator", "label", "winner"]

    def check_runs(self, runs):
        return None if len(runs) == 2 else "A forced choice compares exactly two runs."

    def build_items(self, keys, runs, generations, pairing, rng):
        first, second = runs
        return [(key, generations[first.pk][key], generations[second.pk][key]) for key in keys]

    def results(self, study, runs, n_resamples):
        scores = self.scores(study)
        wins = [{"name": run.name, "won": int(sum(scores.get(str(run.pk), []))),
                 "n": len(scores.get(str(run.pk), []))} for run in runs]
        return {"wins": wins, "agreement": {"mean": None, "pairs": []}}

    def scores(self, study):
        scores = {}
        for left, right, label in self.labels_of(study).values_list("item__left__run_id", "item__right__run_id",
                                                                     "label"):
            scores.setdefault(str(left), []).append(1.0 if label == "A" else 0.0)
            scores.setdefault(str(right), []).append(0.0 if label == "A" else 1.0)
        return scores

    def label_rows(self, study, runs):
        for row in super().label_rows(study, runs):
            winner = row["left_model"] if row["label"] == "A" else row["right_model"]
            yield {"item": row["item"], "annotator": row["annotator"], "label": row["label"], "winner": winner}


@pytest.fixture
def best_of_two(monkeypatch):
    from inference.protocols import base

    monkeypatch.setattr(base, "REGISTRY", {protocol.kind: protocol for protocol in protocols.all_protocols()})
    return protocols.register(BestOfTwo())


def runs(n=3):
    keys = {str(k): f"Prompt {k}?" for k in range(1, n + 1)}
    return (make_run("Heron-secret", {k: f"heron answers {k}" for k in keys}, prompts=keys),
            make_run("Egret-secret", {k: f"egret answers {k}" for k in keys}, prompts=keys))


def test_a_protocol_registered_from_a_test_module_works_end_to_end(best_of_two, client_of, alice, bob):
    heron, egret = runs()
    admin = client_of(alice)

    # given the admin creates a study of the new kind on the new-study form
    assert "Forced choice: A or B, no tie" in admin.get("/studies/new/").content.decode()
    answer = admin.post("/studies/new/", {"name": "Birds", "kind": "best-of-two", "first_run": heron.pk,
                                          "other_runs": [egret.pk], "pairing": "first", "overlap": 1, "seed": 0})
    study = Study.objects.get()
    assert answer.status_code == 302 and study.kind == "best-of-two" and study.protocol is best_of_two
    assert study.items.count() == 3

    # when the annotator labels every item on the blind page, with the protocol's buttons and shortcuts
    client = client_of(bob)
    page = client.get(f"/studies/{study.pk}/annotate/").content.decode()
    assert "blind forced choice" in page and "Option 1" in page and "Option 2" in page
    assert 'data-key="1" data-alt-key="a"' in page and "Left wins <kbd>1</kbd>" in page
    assert "<td>Right wins</td>" in page  # the shortcut help
    assert "Heron-secret" not in page and "Neither is significantly better" not in page
    refused = client.post(f"/studies/{study.pk}/items/1/", {"label": "tie"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 422 and "choose one of A, B" in refused.content.decode()
    for position in (1, 2, 3):
        answer = client.post(f"/studies/{study.pk}/items/{position}/", {"label": "A" if position < 3 else "B"},
                             HTTP_HX_REQUEST="true")
        assert answer.status_code == 200
    assert Judgment.objects.filter(annotator=bob).count() == 3

    # then the results page shows the protocol's block and the ranking by its points
    html = admin.get(f"/studies/{study.pk}/").content.decode()
    assert "forced choice" in html and "Forced-choice wins" in html
    assert "Heron-secret: 2 of 3" in html and "Egret-secret: 1 of 3" in html
    assert "share of its items won" in html and "67%" in html
    # and the downloads use its rows
    csv_answer = admin.get(f"/studies/{study.pk}/results.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(csv_answer.streaming_content).decode())))
    assert [r["winner"] for r in rows] == ["Heron-secret", "Heron-secret", "Egret-secret"]
    data = admin.get(f"/studies/{study.pk}/results.json").json()
    assert data["wins"][0] == {"name": "Heron-secret", "won": 2, "n": 3}
    assert [r["name"] for r in data["ranking"]] == ["Heron-secret", "Egret-secret"]


def test_the_api_creates_and_labels_a_study_of_a_registered_protocol(best_of_two, alice, bob):
    heron, egret = runs(n=2)
    api = APIClient()
    api.force_authenticate(alice)

    refused = api.post("/api/studies/", {"name": "three", "kind": "best-of-two", "runs": [heron.pk]}, format="json")
    created = api.post("/api/studies/", {"name": "x", "kind": "best-of-two", "runs": [heron.pk, egret.pk]},
                       format="json")

    assert refused.status_code == 400 and "exactly two runs" in refused.json()["detail"]
    assert created.status_code == 201 and created.json()["kind"] == "best-of-two"
    api.force_authenticate(bob)
    item = api.get(f"/api/studies/{created.json()['id']}/next/").json()
    assert item["labels"] == ["A", "B"] and len(item["responses"]) == 2
    labelled = api.post(f"/api/studies/{created.json()['id']}/labels/", {"position": item["position"], "label": "B"},
                        format="json")
    assert labelled.status_code == 201


def test_a_kind_without_a_protocol_is_refused(alice):
    heron, egret = runs(n=1)

    with pytest.raises(StudyError, match="No evaluation protocol of kind 'best-of-two'"):
        create_study(name="s", runs=[heron, egret], kind="best-of-two")
    study = Study(name="s", kind="best-of-two")
    with pytest.raises(ValidationError, match="not a valid choice"):
        study.full_clean()
    api = APIClient()
    api.force_authenticate(alice)
    assert api.post("/api/studies/", {"name": "x", "kind": "best-of-two", "runs": [heron.pk, egret.pk]},
                    format="json").status_code == 400
    assert not Study.objects.exists()


def test_the_built_in_protocols_are_registered_by_kind():
    assert [kind for kind, _ in protocols.choices()] == ["pairwise", "rating"]
    assert protocols.get("pairwise").label_model is Judgment
    assert protocols.get("rating").responses_per_item == 1
    for protocol in protocols.all_protocols():  # what the buttons post is what the label model's choices allow
        assert protocol.label_values == protocol.label_model.Label.values


def test_the_registry_refuses_a_second_protocol_of_a_kind_and_clashing_shortcuts(best_of_two):
    with pytest.raises(ValueError, match="registered already"):
        protocols.register(BestOfTwo())

    class Clashing(BestOfTwo):
        kind = "clashing"
        labels = (Label("A", "Left", key="1"), Label("B", "Right", key="j"))

    with pytest.raises(ValueError, match="shortcuts must differ"):
        protocols.register(Clashing())


def test_a_label_of_another_protocol_is_refused_and_changes_nothing(bob):
    heron, egret = runs(n=1)
    study = create_study(name="s", runs=[heron, egret], kind="rating")

    with pytest.raises(StudyError, match="choose one of Fail, Pass, Excellent"):
        record_label(next_item(study, bob), bob, "A")
    assert not study.protocol.labels_of(study).exists()
