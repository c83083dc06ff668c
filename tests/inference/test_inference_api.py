"""/api/generation-runs/ and /api/studies/: who may do what, results with LIMA's agreement formula, labelling
through the API without learning which model is which."""
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from inference.models import GenerationRun, Judgment, Study
from inference.studies import create_study, next_item, record_label
from tests.inference.builders import make_run, make_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    def as_user(user=None):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return as_user


def two_runs(n=4):
    keys = [str(k) for k in range(1, n + 1)]
    return (make_run("Walrus-secret", {k: f"first {k}" for k in keys}),
            make_run("Narwhal-secret", {k: f"second {k}" for k in keys}))


def test_the_permission_matrix(api, alice, bob, charlie, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    a, b = two_runs()
    study = create_study(name="s", runs=[a, b])
    run_body = {"model_path": str(tmp_path), "prompts": [{"id": "p1", "conversations": ["Hi?"]}]}
    study_body = {"name": "new", "runs": [a.pk, b.pk]}
    run_reads = ["/api/generation-runs/", f"/api/generation-runs/{a.pk}/", f"/api/generation-runs/{a.pk}/generations/"]
    study_reads = ["/api/studies/", f"/api/studies/{study.pk}/"]

    for url in run_reads + study_reads:
        assert api().get(url).status_code == 401, url
        assert api(charlie).get(url).status_code == 403, url
        assert api(alice).get(url).status_code == 200, url
    for url in study_reads:
        assert api(bob).get(url).status_code == 200, url
    for url in run_reads:
        # Annotators judge blind: the runs would tell them which model wrote which response.
        assert api(bob).get(url).status_code == 403, url
    for user, expected in ((None, 401), (charlie, 403), (bob, 403)):
        assert api(user).post("/api/generation-runs/", run_body, format="json").status_code == expected
        assert api(user).post("/api/studies/", study_body, format="json").status_code == expected
        assert api(user).post(f"/api/generation-runs/{a.pk}/cancel/").status_code == expected
    assert api(None).post(f"/api/studies/{study.pk}/labels/", {"position": 1, "label": "A"}).status_code == 401
    assert api(charlie).post(f"/api/studies/{study.pk}/labels/", {"position": 1, "label": "A"}).status_code == 403
    assert not GenerationRun.objects.exclude(pk__in=[a.pk, b.pk]).exists() and Study.objects.count() == 1

    assert api(alice).post("/api/generation-runs/", run_body, format="json").status_code == 201
    assert api(alice).post("/api/studies/", study_body, format="json").status_code == 201
    item = next_item(study, bob)
    assert api(bob).post(f"/api/studies/{study.pk}/labels/", {"position": item.position, "label": "A"},
                         format="json").status_code == 201


def test_a_generation_run_keeps_the_decoding_it_was_given(api, alice, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    version = make_version()
    body = {"model_path": str(tmp_path), "dataset_version": version.pk, "split": "test", "seed": 9, "batch_size": 2,
            "decoding": {"temperature": 1.1, "top_p": 0.75, "max_new_tokens": 100}}

    answer = api(alice).post("/api/generation-runs/", body, format="json")

    assert answer.status_code == 201, answer.json()
    run = GenerationRun.objects.get(pk=answer.json()["id"])
    assert run.decoding == {"top_p": 0.75, "temperature": 1.1, "repetition_penalty": 1.2, "max_new_tokens": 100,
                            "min_new_tokens": 0, "do_sample": True}
    assert answer.json()["decoding"] == run.decoding
    assert (run.status, run.total, run.created_by) == ("queued", 2, alice)
    bad = api(alice).post("/api/generation-runs/", {**body, "decoding": {"top_p": 1.5}}, format="json")
    assert bad.status_code == 400 and "top_p" in json.dumps(bad.json())


def test_external_responses_are_imported_through_the_api(api, alice, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    version = make_version()
    lines = "".join(json.dumps({"id": i.example_id, "response": "Sure."}) + "\n" for i in version.items.filter(split="dev"))
    upload = SimpleUploadedFile("claude.jsonl", lines.encode())

    answer = api(alice).post("/api/generation-runs/import/",
                             {"responses": upload, "name": "Claude", "dataset_version": version.pk}, format="multipart")

    assert answer.status_code == 201, answer.json()
    assert answer.json()["kind"] == "external" and answer.json()["total"] == 3


def test_the_results_api_computes_lima_agreement(api, alice, bob):
    # given two annotators on the same four items
    a, b = two_runs(n=4)
    study = create_study(name="Agreement", runs=[a, b], overlap=2, seed=1)
    bobs = ["A", "A", "A", "tie"]
    alices = ["A", "tie", "B", "tie"]  # same, one tie, opposite, same
    for user, labels in ((bob, bobs), (alice, alices)):
        for label in labels:
            record_label(next_item(study, user), user, label)

    # when
    answer = api(alice).get(f"/api/studies/{study.pk}/results/")

    # then: (1 + 0.5 + 0 + 1) / 4, LIMA's tie-discounted accuracy
    assert answer.status_code == 200
    agreement = answer.json()["agreement"]
    assert agreement["mean"] == 0.625
    assert agreement["pairs"] == [{"annotator_1": "alice", "annotator_2": "bob", "n_items": 4, "accuracy": 0.625}]
    pair = answer.json()["pairs"][0]
    assert (pair["model_name"], pair["other_name"], pair["n_items"], pair["n_labels"]) == \
        ("Walrus-secret", "Narwhal-secret", 4, 8)


def test_the_results_api_computes_rating_agreement_with_cohen_s_kappa(api, client_of, alice, bob):
    # given two annotators rating the same four responses (two runs × two prompts)
    a, b = two_runs(n=2)
    study = create_study(name="Ratings", runs=[a, b], kind="rating", overlap=2, seed=1)
    wanted = {bob: ["Fail", "Pass", "Excellent", "Pass"], alice: ["Fail", "Pass", "Pass", "Pass"]}
    for user, labels in wanted.items():
        for label in labels:
            record_label(next_item(study, user), user, label)

    # when
    answer = api(alice).get(f"/api/studies/{study.pk}/results/")

    # then: 3 of 4 the same; chance agreement (1·1 + 2·3 + 1·0) / 16 = 7/16, kappa (12/16 - 7/16) / (9/16) = 5/9
    agreement = answer.json()["agreement"]
    assert (agreement["mean"], agreement["kappa"]) == (0.75, 0.5556)
    # weighted (linear): observed ½ / 4 (one Pass against Excellent); expected from the marginals 5/16 -> 1 − 2/5
    assert agreement["pairs"] == [{"annotator_1": "alice", "annotator_2": "bob", "n_items": 4, "accuracy": 0.75,
                                   "kappa": 0.5556, "weighted_kappa": 0.6}]
    assert agreement["weighted_kappa"] == 0.6 and agreement["fleiss"]["raters"] == 2
    assert [r["name"] for r in answer.json()["ratings"]] == ["Walrus-secret", "Narwhal-secret"]
    page = client_of(alice).get(f"/studies/{study.pk}/").content.decode()
    assert "Cohen's kappa" in page and "kappa 0.56" in page


def test_an_annotator_gets_results_only_after_labelling(api, bob):
    a, b = two_runs(n=2)
    study = create_study(name="s", runs=[a, b])

    assert api(bob).get(f"/api/studies/{study.pk}/results/").status_code == 403
    for _ in range(2):
        record_label(next_item(study, bob), bob, "B")
    answer = api(bob).get(f"/api/studies/{study.pk}/results/")
    assert answer.status_code == 200
    assert sum(p["n_labels"] for p in answer.json()["pairs"]) == 2


def test_labelling_through_the_api_is_blind(api, bob):
    a, b = two_runs(n=2)
    study = create_study(name="s", runs=[a, b], seed=4)
    client = api(bob)

    first = client.get(f"/api/studies/{study.pk}/next/")

    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"position", "prompt", "responses", "labels"}
    assert "secret" not in json.dumps(body)
    item = study.items.get(position=body["position"])
    assert body["responses"] == [item.left.response, item.right.response]
    assert client.post(f"/api/studies/{study.pk}/labels/", {"position": body["position"], "label": "Excellent"},
                       format="json").status_code == 400
    assert client.post(f"/api/studies/{study.pk}/labels/", {"position": body["position"], "label": "tie"},
                       format="json").status_code == 201
    second = client.get(f"/api/studies/{study.pk}/next/").json()
    client.post(f"/api/studies/{study.pk}/labels/", {"position": second["position"], "label": "A"}, format="json")
    assert client.get(f"/api/studies/{study.pk}/next/").status_code == 204
    assert Judgment.objects.filter(annotator=bob).count() == 2


def test_a_study_created_through_the_api_keeps_the_run_order(api, alice):
    a, b = two_runs(n=3)
    answer = api(alice).post("/api/studies/", {"name": "order", "runs": [b.pk, a.pk], "overlap": 3}, format="json")

    assert answer.status_code == 201
    assert answer.json()["runs"] == [b.pk, a.pk] and answer.json()["items"] == 3
    refused = api(alice).post("/api/studies/", {"name": "one", "runs": [a.pk]}, format="json")
    assert refused.status_code == 400 and "at least two" in refused.json()["detail"]
