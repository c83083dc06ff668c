"""/examples/<id>/ through HTTP: revisions, diffs between any two, edits with optimistic locking, revert."""
import pytest
from django.contrib.auth import get_user_model

from core.roles import ANNOTATOR
from curation.models import Example
from curation.services import create_example, edit_example, review_example

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def dana(roles):
    user = get_user_model().objects.create_user(username="dana", password="x")
    user.groups.add(roles[ANNOTATOR])
    return user


@pytest.fixture
def example(bob):
    return create_example(turns=["How long to boil an egg?", "Boil it for nine minutes.\nThen cool it."],
                          author=bob, domain="cooking")


def test_the_page_lists_every_revision_with_its_author(client_of, bob, dana, example):
    edit_example(example, expected_version=1, author=dana, turns=["How long to boil an egg?", "Seven minutes."])
    html = client_of(bob).get(f"/examples/{example.pk}/").content.decode()
    assert html.count('class="timeline-item') == 2
    assert "dana" in html and "edited" in html and "created" in html
    assert "Revert to r1" in html and "Revert to r2" not in html


def test_the_diff_marks_the_words_that_changed(client_of, bob, example):
    edit_example(example, expected_version=1, author=bob, turns=["How long to boil an egg?",
                                                                 "Boil it for ten minutes.\nThen cool it."])
    html = client_of(bob).get(f"/examples/{example.pk}/diff/?a=1&b=2").content.decode()
    assert "<del>nine</del>" in html
    assert "<ins>ten</ins>" in html
    assert "unchanged" in html  # the prompt did not change


def test_the_diff_between_any_two_revisions_includes_other_fields(client_of, bob, example):
    edit_example(example, expected_version=1, author=bob, split="dev")
    edit_example(example, expected_version=2, author=bob, turns=["How long to boil an egg?", "Ten minutes."])
    html = client_of(bob).get(f"/examples/{example.pk}/diff/?a=1&b=3").content.decode()
    assert "<del>unassigned</del> → <ins>dev</ins>" in html
    assert "<ins>Ten</ins> minutes." in html


def test_an_edit_makes_a_new_revision(client_of, bob, example):
    response = client_of(bob).post(f"/examples/{example.pk}/edit/", {
        "turn": ["How long to boil an egg?", "Nine minutes, then iced water."], "version": 1,
        "domain": "food", "tags": "eggs",
    })
    example.refresh_from_db()
    assert response.status_code == 302
    assert (example.version, example.domain, example.tags) == (2, "food", ["eggs"])
    assert example.conversation[1] == "Nine minutes, then iced water."
    assert example.revisions.get(number=2).author == bob


def test_a_stale_edit_is_refused_with_the_newer_version_and_the_users_text_kept(client_of, bob, dana, example):
    edit_example(example, expected_version=1, author=dana, turns=["How long to boil an egg?", "Dana's answer."])
    response = client_of(bob).post(f"/examples/{example.pk}/edit/", {
        "turn": ["How long to boil an egg?", "Bob's answer."], "version": 1, "domain": "cooking", "tags": "",
    }, **HX)
    html = response.content.decode()
    assert response.status_code == 409
    assert "Someone else saved this example first" in html
    assert "<strong>dana</strong> saved r2" in html
    theirs = html.split('class="conflict-theirs"', 1)[1].split('class="conflict-mine"', 1)[0]
    assert "Dana's answer." in theirs  # their version, shown
    assert ">Bob&#x27;s answer.</textarea>" in html  # the user's text, kept in the form
    assert 'name="version" value="2"' in html  # saving again is a decision made knowing r2
    example.refresh_from_db()
    assert (example.version, example.conversation[1]) == (2, "Dana's answer.")


def test_an_edit_from_the_review_queue_answers_with_the_review_panel(client_of, bob, example):
    response = client_of(bob).post(f"/examples/{example.pk}/edit/?context=review&status=candidate", {
        "turn": ["How long to boil an egg?", "Eight minutes."], "version": 1,
    }, **HX)
    assert response["HX-Retarget"] == "#review-panel"
    assert f"Saved r2 of #{example.pk}." in response.content.decode()


def test_an_invalid_edit_comes_back_with_the_text(client_of, bob, example):
    response = client_of(bob).post(f"/examples/{example.pk}/edit/", {"turn": ["Still here", "  "], "version": 1}, **HX)
    assert response.status_code == 422
    html = response.content.decode()
    assert "Turn 2 is empty" in html and ">Still here</textarea>" in html


def test_revert_brings_back_an_old_revision_as_a_new_one(client_of, bob, example):
    edit_example(example, expected_version=1, author=bob, turns=["How long to boil an egg?", "Wrong."])
    client = client_of(bob)
    response = client.post(f"/examples/{example.pk}/revert/", {"number": 1, "version": 2}, follow=True)
    example.refresh_from_db()
    assert example.version == 3
    assert example.conversation[1] == "Boil it for nine minutes.\nThen cool it."
    assert example.revisions.get(number=3).note == "reverted to r1"
    assert "Reverted to r1" in response.content.decode()


def test_a_stale_revert_changes_nothing_and_says_why(client_of, bob, dana, example):
    edit_example(example, expected_version=1, author=dana, turns=["How long to boil an egg?", "Dana's."])
    response = client_of(bob).post(f"/examples/{example.pk}/revert/", {"number": 1, "version": 1}, follow=True)
    example.refresh_from_db()
    assert example.version == 2
    assert "Not reverted: the example changed meanwhile" in response.content.decode()


def test_the_page_shows_the_reviews(client_of, bob, dana, example):
    review_example(example, reviewer=dana, decision="reject", reason="low_quality", comment="Too short.")
    html = client_of(bob).get(f"/examples/{example.pk}/").content.decode()
    assert "low_quality: Too short." in html
    assert "badge-reject" in html


def test_an_unknown_example_is_404(client_of, bob):
    assert client_of(bob).get("/examples/999/").status_code == 404
    assert Example.objects.count() == 0
