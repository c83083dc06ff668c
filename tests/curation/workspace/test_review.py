"""/review/ through HTTP: one claimed item at a time, decisions, split, filters, steps, stale decisions."""
import pytest
from django.contrib.auth import get_user_model

from core.roles import ANNOTATOR
from curation.models import Example, Review, Source
from curation.services import create_example, edit_example, get_or_create_source, review_example

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def dana(roles):
    user = get_user_model().objects.create_user(username="dana", password="x")
    user.groups.add(roles[ANNOTATOR])
    return user


@pytest.fixture
def three(bob):
    return [create_example(turns=[f"Question {n}?", f"Answer {n}."], author=bob) for n in range(3)]


def title(response):
    return response.content.decode().split('<h1 class="item-title">', 1)[1].split("</h1>", 1)[0]


def test_the_queue_shows_the_first_candidate_and_claims_it(client_of, bob, three):
    response = client_of(bob).get("/review/")
    assert title(response) == f"Example #{three[0].pk}"
    assert Example.objects.get(pk=three[0].pk).claimed_by == bob


def test_two_reviewers_see_different_items(client_of, bob, dana, three):
    assert title(client_of(bob).get("/review/")) == f"Example #{three[0].pk}"
    assert title(client_of(dana).get("/review/")) == f"Example #{three[1].pk}"
    # A reload keeps each on their own item.
    assert title(client_of(bob).get("/review/")) == f"Example #{three[0].pk}"


def test_the_item_shows_its_attribution_and_rendered_markdown(client_of, bob):
    source = get_or_create_source(Source.Kind.STACKEXCHANGE, "cooking.stackexchange.com")
    create_example(source=source, external_id="cooking/1", turns=["Eggs?", "Boil them **nine** minutes."],
                   metadata={"url": "https://cooking.stackexchange.com/q/1", "author": "Julia", "score": 42,
                             "licence": "CC BY-SA 4.0"})
    html = client_of(bob).get("/review/").content.decode()
    assert "<strong>nine</strong>" in html
    assert 'href="https://cooking.stackexchange.com/q/1"' in html
    assert "Julia" in html and "CC BY-SA 4.0" in html and ">42<" in html


def test_approving_records_a_review_and_moves_to_the_next_item(client_of, bob, three):
    client = client_of(bob)
    client.get("/review/")
    response = client.post(f"/review/{three[0].pk}/decide/", {"decision": "approve", "version": 1}, **HX)
    first = Example.objects.get(pk=three[0].pk)
    assert first.status == "approved"
    assert first.claimed_by is None
    assert Review.objects.get(example=first).reviewer == bob
    assert title(response) == f"Example #{three[1].pk}"
    assert f"Approved #{three[0].pk}." in response.content.decode()
    assert response["HX-Push-Url"] == f"/review/{three[1].pk}/?status=candidate"


def test_a_rejection_needs_a_reason(client_of, bob, three):
    client = client_of(bob)
    response = client.post(f"/review/{three[0].pk}/decide/", {"decision": "reject", "version": 1}, **HX)
    assert response.status_code == 422
    assert "Pick a reason for the rejection." in response.content.decode()
    assert Example.objects.get(pk=three[0].pk).status == "candidate"

    client.post(f"/review/{three[0].pk}/decide/", {"decision": "reject", "reason": "duplicate", "version": 1}, **HX)
    review = Review.objects.get()
    assert (review.decision, review.reason, review.example.status) == ("reject", "duplicate", "rejected")


def test_other_as_a_reason_needs_a_comment(client_of, bob, three):
    response = client_of(bob).post(f"/review/{three[0].pk}/decide/",
                                   {"decision": "reject", "reason": "other", "version": 1}, **HX)
    assert response.status_code == 422
    assert Review.objects.count() == 0


def test_needs_edit_keeps_a_candidate_and_does_not_come_straight_back(client_of, bob, three):
    client = client_of(bob)
    response = client.post(f"/review/{three[2].pk}/decide/", {"decision": "needs_edit", "version": 1}, **HX)
    assert Example.objects.get(pk=three[2].pk).status == "candidate"
    assert title(response) == f"Example #{three[0].pk}"  # past the end: back to the top, not the same item


def test_deciding_on_an_item_someone_else_holds_is_refused(client_of, bob, dana, three):
    client_of(dana).get("/review/")
    response = client_of(bob).post(f"/review/{three[0].pk}/decide/", {"decision": "approve", "version": 1}, **HX)
    assert response.status_code == 409
    assert "dana</strong> is reviewing this item" in response.content.decode()
    assert Review.objects.count() == 0


def test_a_stale_decision_shows_the_newer_version_instead(client_of, bob, dana, three):
    client = client_of(bob)
    client.get("/review/")
    edit_example(three[0], expected_version=1, author=dana, turns=["Question 0?", "A better answer, by Dana."])
    response = client.post(f"/review/{three[0].pk}/decide/", {"decision": "approve", "version": 1}, **HX)
    html = response.content.decode()
    assert response.status_code == 409
    assert "you had r1, it is now r2" in html
    assert "A better answer, by Dana." in html
    assert Example.objects.get(pk=three[0].pk).status == "candidate"
    assert Review.objects.count() == 0


def test_setting_the_split_is_a_new_revision(client_of, bob, three):
    response = client_of(bob).post(f"/review/{three[0].pk}/split/", {"split": "test", "version": 1}, **HX)
    example = Example.objects.get(pk=three[0].pk)
    assert (example.split, example.version) == ("test", 2)
    assert example.revisions.get(number=2).note == "split: test"
    assert "Split set to test." in response.content.decode()


def test_next_and_previous_step_through_the_queue(client_of, bob, three):
    client = client_of(bob)
    assert title(client.get(f"/review/step/?after={three[0].pk}", **HX)) == f"Example #{three[1].pk}"
    assert title(client.get(f"/review/step/?before={three[1].pk}", **HX)) == f"Example #{three[0].pk}"
    at_the_end = client.get(f"/review/step/?after={three[2].pk}", **HX)
    assert title(at_the_end) == f"Example #{three[2].pk}"
    assert "That was the last item of the queue." in at_the_end.content.decode()


def test_filters_narrow_the_queue(client_of, bob):
    wikihow = get_or_create_source(Source.Kind.WIKIHOW, "wikiHow")
    plain = create_example(turns=["Q?", "A."], author=bob, domain="cooking")
    from_wikihow = create_example(source=wikihow, turns=["How to fold a shirt?", "Fold it."], domain="Home")
    multi = create_example(turns=["Q1", "A1", "Q2", "A2"], split="dev")
    approved = create_example(turns=["Q?", "Done."], status="approved")
    client = client_of(bob)
    assert title(client.get(f"/review/?source={wikihow.pk}")) == f"Example #{from_wikihow.pk}"
    assert title(client.get("/review/?domain=cooking")) == f"Example #{plain.pk}"
    assert title(client.get("/review/?split=dev")) == f"Example #{multi.pk}"
    assert title(client.get("/review/?flag=multi_turn")) == f"Example #{multi.pk}"
    assert title(client.get("/review/?status=approved")) == f"Example #{approved.pk}"
    empty = client.get("/review/?status=rejected").content.decode()
    assert "Nothing left to review here" in empty


def test_the_warnings_flag_finds_responses_off_lima_style(client_of, bob):
    good = ("Learning to touch type is mostly a matter of slow, accurate practice. " * 20).strip()
    create_example(turns=["How do I learn to touch type?", good], author=bob)
    chatty = create_example(turns=["How do I learn to type?", "As an AI, I think you should practise."])
    assert title(client_of(bob).get("/review/?flag=has_warnings")) == f"Example #{chatty.pk}"


def test_the_second_opinion_flag_offers_items_another_reviewer_decided(client_of, bob, dana, three):
    review_example(three[1], reviewer=dana, decision="needs_edit")
    assert title(client_of(bob).get("/review/?flag=second_opinion")) == f"Example #{three[1].pk}"
    assert "Nothing left" in client_of(dana).get("/review/?flag=second_opinion").content.decode()


def test_an_htmx_request_gets_the_panel_alone(client_of, bob, three):
    html = client_of(bob).get(f"/review/{three[1].pk}/", **HX).content.decode()
    assert html.lstrip().startswith('<section id="review-panel"')
    assert "<html" not in html


def test_the_review_page_sanitises_hostile_markdown(client_of, bob):
    create_example(turns=["Hi <script>alert(1)</script>", "Sure. <img src=x onerror=alert(2)> [a](javascript:alert(3))"],
                   metadata={"url": "javascript:alert(4)"})
    html = client_of(bob).get("/review/").content.decode()
    assert "<script>alert" not in html
    assert "onerror=" not in html.replace("&lt;img src=x onerror=alert(2)&gt;", "")
    assert 'href="javascript:' not in html


def test_a_plain_form_post_is_redirected_to_the_next_item(client_of, bob, three):
    response = client_of(bob).post(f"/review/{three[0].pk}/decide/?status=candidate",
                                   {"decision": "approve", "version": 1}, follow=True)
    assert response.redirect_chain == [(f"/review/{three[1].pk}/?status=candidate", 302)]
    assert f"Approved #{three[0].pk}." in response.content.decode()
