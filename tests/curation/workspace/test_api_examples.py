"""/api/examples/: CRUD with nested turns, filters, cursor pagination, optimistic locking, reviews, revisions."""
import pytest

from core.people.keys import digest
from core.people.models import ApiToken
from curation.datasets.versions import freeze_version
from curation.models import Example, Revision, Source
from curation.services import create_example, get_or_create_source

pytestmark = pytest.mark.django_db

TURNS = [{"role": "user", "text": "What is a roux?"}, {"role": "assistant", "text": "Flour cooked in fat."}]


@pytest.fixture
def api(client_of, bob):
    return client_of(bob)


def test_a_token_from_the_token_endpoint_opens_the_api(client, bob):
    issued = client.post("/api/auth/token/", {"username": "bob", "password": "correct horse battery staple"})
    assert issued.status_code == 200
    token = issued.json()["token"]
    assert ApiToken.objects.get(user=bob).key_hash == digest(token)
    listed = client.get("/api/examples/", HTTP_AUTHORIZATION=f"Token {token}")
    assert listed.status_code == 200


def test_creating_an_example_goes_through_the_services_and_leaves_a_revision(api, bob):
    created = api.post("/api/examples/", {"turns": TURNS, "domain": "cooking", "split": "train", "tags": ["food"]},
                       content_type="application/json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["turns"] == TURNS and body["version"] == 1 and body["status"] == "candidate"
    assert body["source"] == Source.objects.get(kind="manual").pk
    revision = Revision.objects.get(example_id=body["id"])
    assert revision.author == bob and revision.turns == ["What is a roux?", "Flour cooked in fat."]


def test_a_broken_conversation_is_refused_naming_the_turns(api):
    refused = api.post("/api/examples/", {"turns": [{"role": "assistant", "text": "Hi"}]},
                       content_type="application/json")
    assert refused.status_code == 400
    assert "turns" in refused.json() and "user" in str(refused.json()["turns"])
    assert Example.objects.count() == 0


def test_the_list_filters_by_status_source_domain_split_and_search(api):
    wikihow = get_or_create_source(Source.Kind.WIKIHOW, "wikiHow")
    a = create_example(turns=["How to knit a scarf?", "Loop."], source=wikihow, domain="Hobbies", status="approved")
    b = create_example(turns=["How to sew?", "Stitch."], source=wikihow, domain="Hobbies", split="dev")
    c = create_example(turns=["Capital of Peru?", "Lima, by the sea."], domain="Geography", split="test")

    def ids(query):
        response = api.get(f"/api/examples/?{query}")
        assert response.status_code == 200, response.content
        return sorted(row["id"] for row in response.json()["results"])

    assert ids("status=approved") == [a.pk]
    assert ids("source=wikihow") == [a.pk, b.pk]
    assert ids(f"source={wikihow.pk}&split=dev") == [b.pk]
    assert ids("domain=Geography") == [c.pk]
    assert ids("search=BY THE SEA") == [c.pk]
    assert ids("search=scarf") == [a.pk]
    assert api.get("/api/examples/?split=validation").status_code == 400


def test_the_list_pages_with_a_cursor_without_repeating_or_skipping(api):
    made = {create_example(turns=[f"Q{i}?", f"A{i}."]).pk for i in range(5)}
    seen, url = [], "/api/examples/?page_size=2"
    while url:
        page = api.get(url).json()
        assert len(page["results"]) <= 2
        assert "cursor=" in (page["next"] or "cursor=")
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(made) and len(seen) == 5
    assert seen == sorted(seen, reverse=True)


def test_an_edit_with_the_current_version_applies_and_bumps_it(api):
    example = create_example(turns=["Old?", "Old."])
    edited = api.put(f"/api/examples/{example.pk}/", {"turns": TURNS, "version": 1, "split": "train"},
                     content_type="application/json")
    assert edited.status_code == 200, edited.content
    assert edited.json()["version"] == 2 and edited.json()["turns"] == TURNS
    assert example.revisions.count() == 2


def test_it_refuses_a_stale_put_with_409_and_the_current_version(api, alice):
    example = create_example(turns=["Old?", "Old."])
    api.patch(f"/api/examples/{example.pk}/", {"version": 1, "domain": "first"}, content_type="application/json")

    stale = api.put(f"/api/examples/{example.pk}/", {"turns": TURNS, "version": 1}, content_type="application/json")

    assert stale.status_code == 409
    body = stale.json()
    assert body["current_version"] == 2
    assert body["current"]["domain"] == "first" and body["current"]["turns"][0]["text"] == "Old?"
    example.refresh_from_db()
    assert example.version == 2 and example.conversation == ["Old?", "Old."]


def test_it_refuses_a_stale_patch_and_an_edit_without_a_version(api):
    example = create_example(turns=["Old?", "Old."])
    api.patch(f"/api/examples/{example.pk}/", {"version": 1, "tags": ["x"]}, content_type="application/json")
    assert api.patch(f"/api/examples/{example.pk}/", {"version": 1, "tags": ["y"]},
                     content_type="application/json").status_code == 409
    missing = api.patch(f"/api/examples/{example.pk}/", {"tags": ["y"]}, content_type="application/json")
    assert missing.status_code == 400 and "version" in missing.json()


def test_an_admin_deletes_a_loose_example_but_not_one_in_a_frozen_version(client_of, alice):
    admin = client_of(alice)
    loose = create_example(turns=["Loose?", "Yes."])
    frozen = create_example(turns=["Frozen?", "Yes."], status="approved")
    freeze_version("v1")
    assert admin.delete(f"/api/examples/{loose.pk}/").status_code == 204
    kept = admin.delete(f"/api/examples/{frozen.pk}/")
    assert kept.status_code == 409 and "frozen" in kept.json()["detail"]
    assert Example.objects.filter(pk=frozen.pk).exists()


def test_a_review_through_the_api_moves_the_status_and_is_listed(api, bob):
    example = create_example(turns=["Q?", "A."])
    reviewed = api.post(f"/api/examples/{example.pk}/reviews/", {"decision": "approve", "split": "train", "version": 1},
                        content_type="application/json")
    assert reviewed.status_code == 201, reviewed.content
    assert reviewed.json()["reviewer"] == "bob" and reviewed.json()["revision"] == 2
    example.refresh_from_db()
    assert (example.status, example.split) == ("approved", "train")
    listed = api.get(f"/api/examples/{example.pk}/reviews/").json()
    assert [(row["decision"], row["reviewer"]) for row in listed] == [("approve", "bob")]


def test_a_review_of_a_stale_version_gets_409_and_a_rejection_needs_a_reason(api):
    example = create_example(turns=["Q?", "A."])
    api.patch(f"/api/examples/{example.pk}/", {"version": 1, "domain": "x"}, content_type="application/json")
    stale = api.post(f"/api/examples/{example.pk}/reviews/", {"decision": "approve", "version": 1},
                     content_type="application/json")
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    no_reason = api.post(f"/api/examples/{example.pk}/reviews/", {"decision": "reject"}, content_type="application/json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()


def test_revisions_are_listed_newest_first_with_their_content(api, alice):
    example = create_example(turns=["Q?", "A."], author=alice)
    api.patch(f"/api/examples/{example.pk}/", {"version": 1, "turns": TURNS}, content_type="application/json")
    history = api.get(f"/api/examples/{example.pk}/revisions/").json()
    assert [(r["number"], r["author"]) for r in history] == [(2, "bob"), (1, "alice")]
    assert history[0]["turns"] == ["What is a roux?", "Flour cooked in fat."]


def test_an_impossible_source_id_is_a_clear_400_not_a_crash(api):
    refused = api.get(f"/api/examples/?source={10**25}")
    assert refused.status_code == 400 and "source" in refused.json()
